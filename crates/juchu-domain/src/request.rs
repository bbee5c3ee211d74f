//! Subscription change requests (申請, seed 004): the form field scheme, what a
//! request keeps, in which order its answers are shown, the forms a shop designs
//! (フォーム管理) and the 解約抑止 offers a form may make.
//!
//! The scheme, as the seed states it:
//! - `col_1` 申請種別, `col_2` 休止期間, `col_3` サイクル変更期間, `col_4` 商品
//!   (required), `col_5` 満足度 — fixed uses, kept for every type;
//! - `col_6` … `col_50` — common questions, kept for every type;
//! - `cancell_col_N` / `pause_col_N` / `cycle_col_N` (N = 6 … 50) — asked only for
//!   解約 / 休止 / サイクル変更 and kept only for that type;
//! - a name given twice keeps the later value (a form may set `col_1` from
//!   several questions; the last answer wins).

use crate::FieldErrors;
use serde::{Deserialize, Serialize};

/// Longest answer kept (a free-text question).
pub const MAX_ANSWER_CHARS: usize = 2_000;
/// Most fields one request may carry: 50 common + 3 × 45 typed.
pub const MAX_FIELDS: usize = 185;

/// Which group a field name belongs to.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum FieldGroup {
    /// `col_N`, asked of everyone.
    Common,
    /// `cancell_col_N` (the seed's spelling).
    Cancel,
    /// `pause_col_N`.
    Pause,
    /// `cycle_col_N`.
    Cycle,
}

impl FieldGroup {
    fn prefix(self) -> &'static str {
        match self {
            FieldGroup::Common => "col_",
            FieldGroup::Cancel => "cancell_col_",
            FieldGroup::Pause => "pause_col_",
            FieldGroup::Cycle => "cycle_col_",
        }
    }
    /// The 申請種別 a typed group is asked for.
    pub fn request_type(self) -> Option<&'static str> {
        match self {
            FieldGroup::Common => None,
            FieldGroup::Cancel => Some(CANCEL),
            FieldGroup::Pause => Some(PAUSE),
            FieldGroup::Cycle => Some(CYCLE_CHANGE),
        }
    }
}

/// A valid field name of the scheme.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct FieldName {
    pub group: FieldGroup,
    pub number: u8,
}

pub const TYPE_FIELD: FieldName = FieldName {
    group: FieldGroup::Common,
    number: 1,
};
pub const PAUSE_PERIOD_FIELD: FieldName = FieldName {
    group: FieldGroup::Common,
    number: 2,
};
pub const CYCLE_PERIOD_FIELD: FieldName = FieldName {
    group: FieldGroup::Common,
    number: 3,
};
pub const PRODUCT_FIELD: FieldName = FieldName {
    group: FieldGroup::Common,
    number: 4,
};

pub const CANCEL: &str = "解約";
pub const PAUSE: &str = "休止";
pub const SKIP: &str = "スキップ";
pub const CYCLE_CHANGE: &str = "サイクル変更";
/// The type a request gets when the customer accepted a 解約抑止 offer that is
/// not itself a subscription operation (a discount).
pub const RETENTION: &str = "解約抑止";

impl FieldName {
    /// `col_1`…`col_50`, and `cancell_col_N` / `pause_col_N` / `cycle_col_N`
    /// for N = 6…50. Anything else (`cancell_col_3`, `col_51`, `col_07`) is
    /// not a field of the scheme.
    pub fn parse(raw: &str) -> Option<FieldName> {
        let (group, digits) = [
            FieldGroup::Cancel,
            FieldGroup::Pause,
            FieldGroup::Cycle,
            FieldGroup::Common,
        ]
        .into_iter()
        .find_map(|g| raw.strip_prefix(g.prefix()).map(|d| (g, d)))?;
        if digits.is_empty()
            || digits.starts_with('0')
            || !digits.bytes().all(|b| b.is_ascii_digit())
        {
            return None;
        }
        let number: u8 = digits.parse().ok()?;
        let lowest = if group == FieldGroup::Common { 1 } else { 6 };
        (lowest..=50)
            .contains(&number)
            .then_some(FieldName { group, number })
    }

    pub fn name(&self) -> String {
        format!("{}{}", self.group.prefix(), self.number)
    }

    /// Display order: by number, the common field before the typed ones of
    /// the same number (col_6, pause_col_6, col_7 …).
    fn order_key(&self) -> (u8, FieldGroup) {
        (self.number, self.group)
    }

    /// What the seed uses col_1…col_5 for.
    pub fn fixed_label(&self) -> Option<&'static str> {
        if self.group != FieldGroup::Common {
            return None;
        }
        Some(match self.number {
            1 => "申請種別",
            2 => "休止期間",
            3 => "サイクル変更期間",
            4 => "商品",
            5 => "満足度",
            _ => return None,
        })
    }
}

/// Which typed group a 申請種別 keeps (exact match, as the seed's automation).
pub fn group_of_type(request_type: &str) -> Option<FieldGroup> {
    match request_type {
        CANCEL => Some(FieldGroup::Cancel),
        PAUSE => Some(FieldGroup::Pause),
        CYCLE_CHANGE => Some(FieldGroup::Cycle),
        _ => None,
    }
}

/// One kept answer.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct Answer {
    pub name: String,
    pub value: String,
}

/// What a request keeps of what was sent: its type (col_1) and its answers in
/// display order.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Submission {
    pub request_type: String,
    pub answers: Vec<Answer>,
}

impl Submission {
    pub fn value(&self, name: &str) -> Option<&str> {
        self.answers
            .iter()
            .find(|a| a.name == name)
            .map(|a| a.value.as_str())
    }
}

/// Reads the fields as sent (in the order sent; a repeated name keeps the
/// later value) into what the request keeps. Refused, naming each field:
/// a name outside the scheme, an answer of another type's questions, an answer
/// over [`MAX_ANSWER_CHARS`], more than [`MAX_FIELDS`] fields, no 商品 (col_4).
/// An empty answer to another type's question is dropped, not refused: a form
/// posts its hidden sections empty.
pub fn read_fields(fields: &[(String, String)]) -> Result<Submission, FieldErrors> {
    let mut e = FieldErrors::default();
    if fields.len() > MAX_FIELDS {
        e.add(
            "fields",
            "too_many",
            format!(
                "項目が多すぎます（{}項目。{MAX_FIELDS}項目まで）",
                fields.len()
            ),
        );
        return Err(e);
    }
    let mut latest: Vec<(FieldName, String)> = Vec::new();
    for (raw, value) in fields {
        let Some(name) = FieldName::parse(raw.trim()) else {
            e.add(
                raw.clone(),
                "unknown_field",
                format!(
                    "「{raw}」という項目はありません（使える項目: col_1〜col_50、cancell_col_6〜50、pause_col_6〜50、cycle_col_6〜50）"
                ),
            );
            continue;
        };
        let n = value.chars().count();
        if n > MAX_ANSWER_CHARS {
            e.add(
                name.name(),
                "too_long",
                format!("{MAX_ANSWER_CHARS}文字以内で入力してください（{n}文字）"),
            );
            continue;
        }
        let value = value.trim().to_string();
        match latest.iter_mut().find(|(f, _)| *f == name) {
            Some(slot) => slot.1 = value,
            None => latest.push((name, value)),
        }
    }
    let request_type = latest
        .iter()
        .find(|(f, _)| *f == TYPE_FIELD)
        .map(|(_, v)| v.clone())
        .unwrap_or_default();
    let kept_group = group_of_type(&request_type);
    let mut kept: Vec<(FieldName, String)> = Vec::new();
    for (name, value) in latest {
        if name.group != FieldGroup::Common && Some(name.group) != kept_group {
            if !value.is_empty() {
                let asked_for = name.group.request_type().unwrap_or_default();
                let sent = if request_type.is_empty() {
                    "申請種別なし".to_string()
                } else {
                    format!("申請種別「{request_type}」")
                };
                e.add(
                    name.name(),
                    "other_type_field",
                    format!(
                        "{} は「{asked_for}」の項目です（{sent}の申請には使えません）",
                        name.name()
                    ),
                );
            }
            continue;
        }
        kept.push((name, value));
    }
    if !kept
        .iter()
        .any(|(f, v)| *f == PRODUCT_FIELD && !v.is_empty())
    {
        e.add(
            PRODUCT_FIELD.name(),
            "required",
            "商品（col_4）は必須です。申請する定期の商品を指定してください",
        );
    }
    e.into_result()?;
    kept.sort_by_key(|(f, _)| f.order_key());
    Ok(Submission {
        request_type,
        answers: kept
            .into_iter()
            .map(|(f, v)| Answer {
                name: f.name(),
                value: v,
            })
            .collect(),
    })
}

/// Where a request came in.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Channel {
    /// マイページ's form.
    Mypage,
    /// A signed link in a mail or a LINE message.
    Link,
    /// The intake API (staff or a program).
    Api,
    /// An external form tool's webhook.
    Webhook,
    /// A LIFF app in LINE.
    Line,
}

impl Channel {
    pub const ALL: &'static [Channel] = &[
        Channel::Mypage,
        Channel::Link,
        Channel::Api,
        Channel::Webhook,
        Channel::Line,
    ];
    pub fn code(self) -> &'static str {
        match self {
            Channel::Mypage => "mypage",
            Channel::Link => "link",
            Channel::Api => "api",
            Channel::Webhook => "webhook",
            Channel::Line => "line",
        }
    }
    pub fn label(self) -> &'static str {
        match self {
            Channel::Mypage => "マイページ",
            Channel::Link => "リンク（メール・LINE）",
            Channel::Api => "API",
            Channel::Webhook => "外部フォーム",
            Channel::Line => "LINE",
        }
    }
    pub fn parse(s: &str) -> Option<Channel> {
        Channel::ALL.iter().copied().find(|c| c.code() == s.trim())
    }
}

/// Where a request stands in the 受信BOX.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum RequestStatus {
    /// 未対応: just arrived.
    Open,
    /// 対応中.
    InProgress,
    /// 対応完了.
    Completed,
    /// 対応不可 (with the reason).
    Refused,
    /// エラー (with the reason).
    Error,
    /// 条件未設定: no rule for its form.
    NoRule,
}

impl RequestStatus {
    pub const ALL: &'static [RequestStatus] = &[
        RequestStatus::Open,
        RequestStatus::InProgress,
        RequestStatus::Completed,
        RequestStatus::Refused,
        RequestStatus::Error,
        RequestStatus::NoRule,
    ];
    pub fn code(self) -> &'static str {
        match self {
            RequestStatus::Open => "open",
            RequestStatus::InProgress => "in_progress",
            RequestStatus::Completed => "completed",
            RequestStatus::Refused => "refused",
            RequestStatus::Error => "error",
            RequestStatus::NoRule => "no_rule",
        }
    }
    pub fn label(self) -> &'static str {
        match self {
            RequestStatus::Open => "未対応",
            RequestStatus::InProgress => "対応中",
            RequestStatus::Completed => "対応完了",
            RequestStatus::Refused => "対応不可",
            RequestStatus::Error => "エラー",
            RequestStatus::NoRule => "条件未設定",
        }
    }
    /// The code or the Japanese label.
    pub fn parse(s: &str) -> Option<RequestStatus> {
        let s = s.trim();
        RequestStatus::ALL
            .iter()
            .copied()
            .find(|v| v.code() == s || v.label() == s)
    }
}

/// How a question is answered.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum QuestionKind {
    /// One of the choices.
    Choice,
    Text,
    /// A whole number.
    Number,
}

impl QuestionKind {
    pub fn label(self) -> &'static str {
        match self {
            QuestionKind::Choice => "選択",
            QuestionKind::Text => "テキスト",
            QuestionKind::Number => "数値",
        }
    }
    pub fn parse(s: &str) -> Option<QuestionKind> {
        match s.trim() {
            "choice" | "選択" => Some(QuestionKind::Choice),
            "text" | "テキスト" => Some(QuestionKind::Text),
            "number" | "数値" => Some(QuestionKind::Number),
            _ => None,
        }
    }
}

/// One question of a form: the field it answers, in the form's order.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct Question {
    /// `col_N` / `cancell_col_N` / `pause_col_N` / `cycle_col_N`.
    pub field: String,
    pub label: String,
    #[cfg_attr(feature = "openapi", schema(value_type = String, example = "choice"))]
    pub kind: QuestionKind,
    #[serde(default)]
    pub choices: Vec<String>,
    #[serde(default)]
    pub required: bool,
}

impl Question {
    /// The 申請種別 this question is asked for (None: everyone).
    pub fn asked_for(&self) -> Option<&'static str> {
        FieldName::parse(&self.field).and_then(|f| f.group.request_type())
    }
}

/// A 解約抑止 offer shown before a cancellation is sent.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Offer {
    /// スキップ instead: the request becomes a スキップ.
    Skip,
    /// 休止 instead.
    Pause,
    /// サイクル変更 instead.
    CycleChange,
    /// A discount on the next delivery (the form's text says how much).
    Discount,
}

impl Offer {
    pub const ALL: &'static [Offer] = &[
        Offer::Skip,
        Offer::Pause,
        Offer::CycleChange,
        Offer::Discount,
    ];
    pub fn code(self) -> &'static str {
        match self {
            Offer::Skip => "skip",
            Offer::Pause => "pause",
            Offer::CycleChange => "cycle_change",
            Offer::Discount => "discount",
        }
    }
    pub fn label(self) -> &'static str {
        match self {
            Offer::Skip => "次回をスキップする",
            Offer::Pause => "しばらく休止する",
            Offer::CycleChange => "お届けの間隔を変える",
            Offer::Discount => "次回のお届けを割引価格で受け取る",
        }
    }
    pub fn parse(s: &str) -> Option<Offer> {
        Offer::ALL.iter().copied().find(|o| o.code() == s.trim())
    }
    /// The 申請種別 the request takes when the customer accepts this offer.
    pub fn request_type(self) -> &'static str {
        match self {
            Offer::Skip => SKIP,
            Offer::Pause => PAUSE,
            Offer::CycleChange => CYCLE_CHANGE,
            Offer::Discount => RETENTION,
        }
    }
}

/// A form a shop designs (フォーム管理).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct RequestForm {
    pub id: i64,
    pub name: String,
    pub questions: Vec<Question>,
    /// 解約抑止: offers shown before a 解約 is sent (none: sent at once).
    pub offers: Vec<Offer>,
    /// What the discount offer says (e.g. 「次回20%OFF」).
    pub discount_text: String,
    /// The tag a request gets when an offer was accepted (e.g. 「解約抑止」).
    pub retention_tag: String,
}

/// The form every shop starts with: the seed's sample (申請種別, 休止期間,
/// サイクル変更期間, 商品, 満足度, a reason for each type).
pub fn default_form() -> RequestForm {
    let q = |field: &str, label: &str, kind, choices: &[&str], required| Question {
        field: field.into(),
        label: label.into(),
        kind,
        choices: choices.iter().map(|s| s.to_string()).collect(),
        required,
    };
    RequestForm {
        id: 0,
        name: "解約・休止・サイクル変更・スキップ申請フォーム".into(),
        questions: vec![
            q(
                "col_1",
                "ご希望の内容",
                QuestionKind::Choice,
                &[SKIP, PAUSE, CYCLE_CHANGE, CANCEL],
                true,
            ),
            q("col_4", "対象の商品", QuestionKind::Text, &[], true),
            q(
                "col_2",
                "休止期間",
                QuestionKind::Choice,
                &["1ヶ月", "2ヶ月", "3ヶ月"],
                false,
            ),
            q(
                "col_3",
                "サイクル変更期間",
                QuestionKind::Choice,
                &["30日", "45日", "60日"],
                false,
            ),
            q(
                "col_5",
                "商品の満足度",
                QuestionKind::Choice,
                &["満足", "ふつう", "不満"],
                false,
            ),
            q(
                "cancell_col_6",
                "解約の理由",
                QuestionKind::Choice,
                &["商品が余っている", "効果を感じない", "価格", "その他"],
                false,
            ),
            q("pause_col_6", "休止の理由", QuestionKind::Text, &[], false),
            q(
                "col_7",
                "ショップへのご意見",
                QuestionKind::Text,
                &[],
                false,
            ),
        ],
        offers: vec![Offer::Skip, Offer::Pause],
        discount_text: String::new(),
        retention_tag: RETENTION.into(),
    }
}

/// Checks a form's design, naming the question (1-based) of each problem.
pub fn check_form(form: &RequestForm) -> Result<(), FieldErrors> {
    let mut e = FieldErrors::default();
    crate::text::check_required(&mut e, "name", &form.name);
    crate::text::check_len(&mut e, "name", &form.name, 100);
    crate::text::check_len(&mut e, "discount_text", &form.discount_text, 200);
    crate::text::check_len(&mut e, "retention_tag", &form.retention_tag, 50);
    if form.offers.contains(&Offer::Discount) && form.discount_text.trim().is_empty() {
        e.add(
            "discount_text",
            "required",
            "割引のオファーには、割引の内容（例: 次回20%OFF）を入力してください",
        );
    }
    if form.questions.is_empty() {
        e.add("questions", "required", "質問を1つ以上追加してください");
    }
    let mut seen: Vec<FieldName> = Vec::new();
    for (i, q) in form.questions.iter().enumerate() {
        let at = format!("questions[{}]", i + 1);
        let Some(f) = FieldName::parse(q.field.trim()) else {
            e.add(
                format!("{at}.field"),
                "unknown_field",
                format!(
                    "{}問目: 「{}」は項目名に使えません（col_1〜col_50、cancell_col_6〜50、pause_col_6〜50、cycle_col_6〜50）",
                    i + 1,
                    q.field
                ),
            );
            continue;
        };
        if seen.contains(&f) {
            e.add(
                format!("{at}.field"),
                "duplicate",
                format!(
                    "{}問目: 項目名 {} は他の質問と重複しています",
                    i + 1,
                    f.name()
                ),
            );
        }
        seen.push(f);
        if q.label.trim().is_empty() {
            e.add(
                format!("{at}.label"),
                "required",
                format!("{}問目: 質問文を入力してください", i + 1),
            );
        }
        crate::text::check_len(&mut e, &format!("{at}.label"), &q.label, 200);
        if q.kind == QuestionKind::Choice && q.choices.iter().all(|c| c.trim().is_empty()) {
            e.add(
                format!("{at}.choices"),
                "required",
                format!("{}問目: 選択式の質問には選択肢を入力してください", i + 1),
            );
        }
        if q.choices.len() > 50 {
            e.add(
                format!("{at}.choices"),
                "too_many",
                format!("{}問目: 選択肢は50個までです", i + 1),
            );
        }
    }
    if !seen.contains(&PRODUCT_FIELD) {
        e.add(
            "questions",
            "product_missing",
            "商品（col_4）の質問は必須です。項目名 col_4 の質問を追加してください",
        );
    }
    if !seen.contains(&TYPE_FIELD) {
        e.add(
            "questions",
            "type_missing",
            "申請種別（col_1）の質問を追加してください",
        );
    }
    e.into_result()
}

/// Checks answers given through a form against its questions: required
/// questions answered (those of another type need not be), a choice among
/// the choices, a number that is a number.
pub fn check_against_form(form: &RequestForm, s: &Submission) -> Result<(), FieldErrors> {
    let mut e = FieldErrors::default();
    for q in &form.questions {
        let applies = q.asked_for().is_none_or(|t| t == s.request_type.as_str());
        if !applies {
            continue;
        }
        let value = s.value(q.field.trim()).unwrap_or("");
        if value.is_empty() {
            if q.required {
                e.add(
                    q.field.clone(),
                    "required",
                    format!("「{}」を入力してください", q.label),
                );
            }
            continue;
        }
        match q.kind {
            QuestionKind::Choice if !q.choices.iter().any(|c| c.trim() == value) => e.add(
                q.field.clone(),
                "not_a_choice",
                format!(
                    "「{}」は「{value}」を選べません（選択肢から選んでください）",
                    q.label
                ),
            ),
            QuestionKind::Number if value.parse::<i64>().is_err() => e.add(
                q.field.clone(),
                "not_a_number",
                format!("「{}」は数字で入力してください（「{value}」）", q.label),
            ),
            _ => {}
        }
    }
    e.into_result()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn fields(pairs: &[(&str, &str)]) -> Vec<(String, String)> {
        pairs
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect()
    }

    fn names(s: &Submission) -> Vec<&str> {
        s.answers.iter().map(|a| a.name.as_str()).collect()
    }

    #[test]
    fn field_names_follow_the_scheme() {
        for ok in [
            "col_1",
            "col_5",
            "col_50",
            "cancell_col_6",
            "pause_col_50",
            "cycle_col_17",
        ] {
            assert_eq!(FieldName::parse(ok).map(|f| f.name()), Some(ok.to_string()));
        }
        for bad in [
            "col_0",
            "col_51",
            "col_07",
            "col_",
            "col_1a",
            "cancell_col_1",
            "cancell_col_5",
            "pause_col_3",
            "cycle_col_51",
            "cancel_col_6",
            "COL_1",
            "col_+1",
            "",
            "customer_id",
        ] {
            assert_eq!(FieldName::parse(bad), None, "{bad}");
        }
    }

    #[test]
    fn each_type_keeps_common_and_its_own_fields_in_numeric_order() {
        let sent = fields(&[
            ("col_7", "b"),
            ("pause_col_7", "p7"),
            ("col_1", "休止"),
            ("col_4", "定期A"),
            ("pause_col_6", "p6"),
            ("col_6", "a"),
            ("col_2", "30日"),
            ("col_5", "満足"),
            ("cancell_col_6", ""),
            ("cycle_col_6", ""),
        ]);
        let s = read_fields(&sent).unwrap();
        assert_eq!(s.request_type, "休止");
        assert_eq!(
            names(&s),
            [
                "col_1",
                "col_2",
                "col_4",
                "col_5",
                "col_6",
                "pause_col_6",
                "col_7",
                "pause_col_7"
            ]
        );
        let cancel = read_fields(&fields(&[
            ("col_1", "解約"),
            ("col_4", "定期A"),
            ("cancell_col_7", "x"),
            ("col_7", "y"),
            ("col_6", "z"),
            ("cancell_col_6", "w"),
            ("col_5", "不満"),
        ]))
        .unwrap();
        assert_eq!(
            names(&cancel),
            [
                "col_1",
                "col_4",
                "col_5",
                "col_6",
                "cancell_col_6",
                "col_7",
                "cancell_col_7"
            ]
        );
        let cycle = read_fields(&fields(&[
            ("col_1", "サイクル変更"),
            ("col_3", "45日"),
            ("col_4", "A"),
            ("cycle_col_9", "c"),
        ]))
        .unwrap();
        assert_eq!(names(&cycle), ["col_1", "col_3", "col_4", "cycle_col_9"]);
    }

    #[test]
    fn other_types_keep_the_common_fields_only() {
        let s = read_fields(&fields(&[
            ("col_1", "スキップ"),
            ("col_4", "A"),
            ("pause_col_6", ""),
            ("col_8", "x"),
        ]))
        .unwrap();
        assert_eq!(names(&s), ["col_1", "col_4", "col_8"]);
        let s = read_fields(&fields(&[("col_1", "お届け日変更"), ("col_4", "A")])).unwrap();
        assert_eq!(s.request_type, "お届け日変更");
    }

    #[test]
    fn an_answer_of_another_types_question_is_refused() {
        let e = read_fields(&fields(&[
            ("col_1", "スキップ"),
            ("col_4", "A"),
            ("pause_col_6", "疲れた"),
        ]))
        .unwrap_err();
        let err = e.for_field("pause_col_6").unwrap();
        assert_eq!(err.code, "other_type_field");
        assert!(err.message.contains("休止"), "{}", err.message);
    }

    #[test]
    fn a_name_given_twice_keeps_the_later_value() {
        let s = read_fields(&fields(&[
            ("col_1", "解約"),
            ("col_4", "A"),
            ("col_1", "休止"),
        ]))
        .unwrap();
        assert_eq!(s.request_type, "休止");
        assert_eq!(s.value("col_1"), Some("休止"));
        assert_eq!(names(&s), ["col_1", "col_4"]);
    }

    #[test]
    fn col_4_is_required() {
        for sent in [
            fields(&[("col_1", "休止")]),
            fields(&[("col_1", "休止"), ("col_4", "  ")]),
        ] {
            let e = read_fields(&sent).unwrap_err();
            assert_eq!(e.for_field("col_4").unwrap().code, "required");
        }
    }

    #[test]
    fn unknown_names_and_oversized_answers_are_named() {
        let long = "あ".repeat(MAX_ANSWER_CHARS + 1);
        let e = read_fields(&fields(&[
            ("col_4", "A"),
            ("cancell_col_3", "x"),
            ("col_51", "x"),
            ("col_6", &long),
        ]))
        .unwrap_err();
        assert_eq!(e.for_field("cancell_col_3").unwrap().code, "unknown_field");
        assert_eq!(e.for_field("col_51").unwrap().code, "unknown_field");
        assert_eq!(e.for_field("col_6").unwrap().code, "too_long");
        let many: Vec<(String, String)> = (0..=MAX_FIELDS)
            .map(|i| (format!("col_{}", i % 50 + 1), "x".into()))
            .collect();
        assert_eq!(
            read_fields(&many).unwrap_err().first().unwrap().code,
            "too_many"
        );
    }

    #[test]
    fn answers_exactly_at_the_limit_are_kept() {
        let max = "a".repeat(MAX_ANSWER_CHARS);
        let s = read_fields(&fields(&[("col_4", &max)])).unwrap();
        assert_eq!(s.value("col_4").map(str::len), Some(MAX_ANSWER_CHARS));
    }

    #[test]
    fn the_default_form_is_valid_and_forms_are_checked() {
        check_form(&default_form()).unwrap();
        let mut f = default_form();
        f.questions.retain(|q| q.field != "col_4");
        f.questions.push(Question {
            field: "pause_col_2".into(),
            label: "".into(),
            kind: QuestionKind::Choice,
            choices: vec![],
            required: false,
        });
        f.questions.push(f.questions[0].clone());
        let e = check_form(&f).unwrap_err();
        assert!(e.0.iter().any(|x| x.code == "product_missing"));
        assert!(e.0.iter().any(|x| x.code == "unknown_field"));
        assert!(e.0.iter().any(|x| x.code == "duplicate"));
        f = default_form();
        f.offers.push(Offer::Discount);
        assert_eq!(
            check_form(&f).unwrap_err().first().unwrap().field,
            "discount_text"
        );
    }

    #[test]
    fn answers_are_checked_against_the_forms_questions() {
        let form = default_form();
        let ok = read_fields(&fields(&[
            ("col_1", "休止"),
            ("col_2", "2ヶ月"),
            ("col_4", "定期A"),
            ("cancell_col_6", ""),
        ]))
        .unwrap();
        check_against_form(&form, &ok).unwrap();
        let bad = read_fields(&fields(&[("col_1", "やめたい"), ("col_4", "定期A")])).unwrap();
        let e = check_against_form(&form, &bad).unwrap_err();
        assert_eq!(e.for_field("col_1").unwrap().code, "not_a_choice");
        let missing = read_fields(&fields(&[("col_4", "定期A")])).unwrap();
        assert_eq!(
            check_against_form(&form, &missing)
                .unwrap_err()
                .for_field("col_1")
                .unwrap()
                .code,
            "required"
        );
        let mut numeric = default_form();
        numeric.questions.push(Question {
            field: "col_9".into(),
            label: "ご利用年数".into(),
            kind: QuestionKind::Number,
            choices: vec![],
            required: false,
        });
        let s = read_fields(&fields(&[
            ("col_1", "スキップ"),
            ("col_4", "A"),
            ("col_9", "三"),
        ]))
        .unwrap();
        assert_eq!(
            check_against_form(&numeric, &s)
                .unwrap_err()
                .for_field("col_9")
                .unwrap()
                .code,
            "not_a_number"
        );
    }

    #[test]
    fn offers_name_the_type_they_turn_a_cancellation_into() {
        assert_eq!(Offer::Skip.request_type(), SKIP);
        assert_eq!(Offer::Discount.request_type(), RETENTION);
        for o in Offer::ALL {
            assert_eq!(Offer::parse(o.code()), Some(*o));
        }
        for s in RequestStatus::ALL {
            assert_eq!(RequestStatus::parse(s.label()), Some(*s));
            assert_eq!(RequestStatus::parse(s.code()), Some(*s));
        }
        for c in Channel::ALL {
            assert_eq!(Channel::parse(c.code()), Some(*c));
        }
    }
}
