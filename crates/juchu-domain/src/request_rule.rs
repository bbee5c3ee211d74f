//! 申請の自動処理 (the seed's RPA設定, native): rules per form and product, the
//! decision a rule makes about one request, the periods customers write
//! (「30日」「2ヶ月」「1か月」), and the message sent after a success.
//!
//! Everything here is pure: the store loads the request, the subscription and
//! the rules, asks [`decide`], and carries the decision out through the
//! subscription pipeline in the request's transaction.

use std::collections::HashMap;

use jiff::civil::Date;
use serde::{Deserialize, Serialize};

use crate::FieldErrors;
use crate::calendar::{Cycle, PauseFrom, WhenEarlier};
use crate::request::{CANCEL, CYCLE_CHANGE, PAUSE, SKIP};
use crate::status::SubscriptionStatus;
use crate::subscription::{Subscription, SubscriptionCommand, SubscriptionPatch};
use crate::text::check_len;

/// What a rule does: one type per rule (the seed: 休止 and スキップ are set up
/// one rule each).
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub enum RuleType {
    #[serde(rename = "休止")]
    Pause,
    #[serde(rename = "スキップ")]
    Skip,
    #[serde(rename = "解約")]
    Cancel,
    #[serde(rename = "サイクル変更")]
    CycleChange,
}

impl RuleType {
    pub const ALL: &'static [RuleType] = &[
        RuleType::Pause,
        RuleType::Skip,
        RuleType::Cancel,
        RuleType::CycleChange,
    ];

    /// The 申請種別 it handles, exactly as the form sends it.
    pub fn label(self) -> &'static str {
        match self {
            RuleType::Pause => PAUSE,
            RuleType::Skip => SKIP,
            RuleType::Cancel => CANCEL,
            RuleType::CycleChange => CYCLE_CHANGE,
        }
    }

    pub fn code(self) -> &'static str {
        match self {
            RuleType::Pause => "pause",
            RuleType::Skip => "skip",
            RuleType::Cancel => "cancel",
            RuleType::CycleChange => "cycle_change",
        }
    }

    /// Only the exact 申請種別 values are automated: 「お届け日変更」, 「休止したい」
    /// or a stray space go to a person (the seed: 「休止」「スキップ」以外のテキスト
    /// には自動処理がされない). The stored code is accepted too.
    pub fn for_request_type(request_type: &str) -> Option<RuleType> {
        RuleType::ALL
            .iter()
            .copied()
            .find(|t| t.label() == request_type || t.code() == request_type)
    }
}

/// Tags added and removed (on refusal, on success).
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TagChange {
    #[serde(default)]
    pub add: Vec<String>,
    #[serde(default)]
    pub remove: Vec<String>,
}

impl TagChange {
    pub fn is_empty(&self) -> bool {
        self.add.is_empty() && self.remove.is_empty()
    }

    /// 「追加: A、B / 削除: C」 for the rule list.
    pub fn describe(&self) -> String {
        let mut parts = Vec::new();
        if !self.add.is_empty() {
            parts.push(format!("追加: {}", self.add.join("、")));
        }
        if !self.remove.is_empty() {
            parts.push(format!("削除: {}", self.remove.join("、")));
        }
        parts.join(" / ")
    }

    /// The tags after the change, in their order, each once.
    pub fn apply(&self, tags: &[String]) -> Vec<String> {
        let mut out: Vec<String> = tags
            .iter()
            .filter(|t| !self.remove.contains(t))
            .cloned()
            .collect();
        for t in &self.add {
            if !out.contains(t) {
                out.push(t.clone());
            }
        }
        out
    }
}

/// 不可条件: when a rule refuses a request (status 対応不可, with the reason).
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RefusalConditions {
    /// 定期回数 (deliveries so far) below this refuses.
    #[serde(default)]
    pub min_count: Option<i64>,
    /// The subscription's status must be one of these (empty: any).
    #[serde(default)]
    #[cfg_attr(feature = "openapi", schema(value_type = Vec<String>, example = json!(["active"])))]
    pub allowed_statuses: Vec<SubscriptionStatus>,
    /// The latest order's 対応状況 (by name: the shop's own ones too) in this
    /// list refuses — e.g. 発送準備中, already being packed.
    #[serde(default)]
    pub refused_order_statuses: Vec<String>,
    /// Fewer than this many days until the next ship date refuses.
    #[serde(default)]
    pub min_days_to_ship: Option<i64>,
}

/// How the message after a success reaches the customer.
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum MessageChannel {
    /// No message.
    #[default]
    None,
    Mail,
    /// LINE (1:1トーク) when the customer linked a LINE account, mail otherwise.
    Line,
}

impl MessageChannel {
    pub fn label(self) -> &'static str {
        match self {
            MessageChannel::None => "送信しない",
            MessageChannel::Mail => "メール",
            MessageChannel::Line => "LINE（未連携はメール）",
        }
    }
}

/// One automation rule.
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RequestRule {
    #[serde(default)]
    pub id: i64,
    /// 管理名 (e.g. 「商品A（休止）」).
    pub name: String,
    /// The form whose requests it handles; `None`: every form.
    #[serde(default)]
    pub form_id: Option<i64>,
    /// Product codes or names, exact match; a subscription is covered when every
    /// item that is not 同梱物 is named here.
    pub products: Vec<String>,
    #[serde(rename = "type")]
    pub rule_type: RuleType,
    /// 休止: the date the period is added to.
    #[serde(default = "default_pause_base", with = "pause_base")]
    #[cfg_attr(feature = "openapi", schema(value_type = String, example = "next"))]
    pub pause_base: PauseFrom,
    /// 解約: the cancellation reason written on the subscription.
    #[serde(default)]
    pub cancel_reason: String,
    #[serde(default)]
    pub refusal: RefusalConditions,
    #[serde(default)]
    pub on_refusal: TagChange,
    #[serde(default)]
    pub on_success: TagChange,
    /// A line appended to the subscription's memo on success (variables allowed).
    #[serde(default)]
    pub success_memo: String,
    /// A subscription label (by name) added on success.
    #[serde(default)]
    pub success_label: String,
    #[serde(default)]
    pub message_channel: MessageChannel,
    /// The message after a success; variables in `{{ }}` ([`VARIABLES`]).
    #[serde(default)]
    pub message: String,
    #[serde(default)]
    pub position: i64,
}

fn default_pause_base() -> PauseFrom {
    PauseFrom::Next
}

/// `pause_base` in JSON: `next` | `previous`.
mod pause_base {
    use crate::calendar::PauseFrom;
    use serde::{Deserialize, Deserializer, Serializer};

    pub fn serialize<S: Serializer>(v: &PauseFrom, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(match v {
            PauseFrom::Next => "next",
            PauseFrom::Previous => "previous",
        })
    }

    pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<PauseFrom, D::Error> {
        let s = String::deserialize(d)?;
        match s.as_str() {
            "next" | "次回配送予定日" => Ok(PauseFrom::Next),
            "previous" | "前回配送予定日" => Ok(PauseFrom::Previous),
            other => Err(serde::de::Error::custom(format!(
                "pause_base は next か previous です（{other:?}）"
            ))),
        }
    }
}

/// The variables a message (and the memo line) may use.
pub const VARIABLES: &[(&str, &str)] = &[
    ("次回配送予定日", "the next delivery date after the change"),
    ("次回発送予定日", "the next ship date after the change"),
    ("前回配送予定日", "the previous delivery date"),
    ("継続回数", "定期回数: deliveries so far"),
    ("申請種別", "the request's type"),
    ("定期受注ID", "the subscription's id"),
    ("お名前", "the customer's name"),
];

/// Checks a rule: name, products, type-specific fields, message length, and
/// that tags and labels it names exist (`known_labels`: the subscription
/// labels; `known_statuses`: the 対応状況 names).
pub fn check_rule(
    rule: &RequestRule,
    known_labels: &[String],
    known_statuses: &[String],
) -> Result<(), FieldErrors> {
    let mut e = FieldErrors::default();
    if rule.name.trim().is_empty() {
        e.add("name", "required", "管理名を入力してください");
    }
    check_len(&mut e, "name", &rule.name, 100);
    let products: Vec<&String> = rule
        .products
        .iter()
        .filter(|p| !p.trim().is_empty())
        .collect();
    if products.is_empty() {
        e.add(
            "products",
            "required",
            "商品名・商品コードを1つ以上入力してください",
        );
    }
    if rule.products.len() > 100 {
        e.add("products", "too_many", "商品は100件までです");
    }
    for p in &rule.products {
        check_len(&mut e, "products", p, 200);
    }
    if rule.rule_type == RuleType::Cancel && rule.cancel_reason.trim().is_empty() {
        e.add(
            "cancel_reason",
            "required",
            "解約のルールには解約理由を入力してください",
        );
    }
    check_len(&mut e, "cancel_reason", &rule.cancel_reason, 200);
    if let Some(n) = rule.refusal.min_count
        && !(1..=1000).contains(&n)
    {
        e.add(
            "refusal.min_count",
            "out_of_range",
            "定期回数の条件は1〜1000回で指定してください",
        );
    }
    if let Some(n) = rule.refusal.min_days_to_ship
        && !(1..=365).contains(&n)
    {
        e.add(
            "refusal.min_days_to_ship",
            "out_of_range",
            "次回発送予定日までの日数は1〜365日で指定してください",
        );
    }
    for s in &rule.refusal.refused_order_statuses {
        if !known_statuses.iter().any(|k| k == s) {
            e.add(
                "refusal.refused_order_statuses",
                "unknown_status",
                format!("対応状況「{s}」は登録されていません"),
            );
        }
    }
    let label = rule.success_label.trim();
    if !label.is_empty() && !known_labels.iter().any(|k| k == label) {
        e.add(
            "success_label",
            "unknown_label",
            format!("ラベル「{label}」は登録されていません"),
        );
    }
    for (field, tags) in [
        ("on_refusal", &rule.on_refusal),
        ("on_success", &rule.on_success),
    ] {
        for t in tags.add.iter().chain(&tags.remove) {
            if t.trim().is_empty() || t.chars().count() > 50 || t.contains('\n') {
                e.add(
                    field,
                    "invalid_tag",
                    "タグは1〜50文字で、改行を含めないでください",
                );
            }
        }
    }
    check_len(&mut e, "success_memo", &rule.success_memo, 1000);
    check_len(&mut e, "message", &rule.message, 5000);
    if rule.message_channel != MessageChannel::None && rule.message.trim().is_empty() {
        e.add(
            "message",
            "required",
            "送信するメッセージを入力してください",
        );
    }
    for (field, text) in [
        ("message", &rule.message),
        ("success_memo", &rule.success_memo),
    ] {
        for var in variables_in(text) {
            if !VARIABLES.iter().any(|(v, _)| *v == var) {
                e.add(
                    field,
                    "unknown_variable",
                    format!("変数「{{{{{var}}}}}」は使えません"),
                );
            }
        }
    }
    e.into_result()
}

fn variables_in(text: &str) -> Vec<String> {
    let mut out = Vec::new();
    let mut rest = text;
    while let Some(start) = rest.find("{{") {
        let after = &rest[start + 2..];
        match after.find("}}") {
            Some(end) => {
                out.push(after[..end].trim().to_string());
                rest = &after[end + 2..];
            }
            None => break,
        }
    }
    out
}

/// A period as a customer writes it: 「30日」, 「2ヶ月」, 「1か月」, 「3週間」,
/// full-width digits, 「ごと」 or 「毎」 around it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Period {
    Days(i64),
    Weeks(i64),
    Months(i64),
}

impl Period {
    pub fn parse(raw: &str) -> Option<Period> {
        let s: String = crate::normalize::nfkc(raw)
            .chars()
            .filter(|c| !c.is_whitespace())
            .collect();
        let s = s.trim_start_matches('毎');
        let s = s
            .trim_end_matches("ごと")
            .trim_end_matches("毎")
            .trim_end_matches("おき")
            .trim_end_matches("間");
        let digits: String = s.chars().take_while(char::is_ascii_digit).collect();
        let n: i64 = digits.parse().ok()?;
        let unit = &s[digits.len()..];
        let period = match unit {
            "日" => Period::Days(n),
            "週" => Period::Weeks(n),
            "ヶ月" | "ケ月" | "か月" | "カ月" | "ヵ月" | "箇月" | "ヶ月後" | "月" => {
                Period::Months(n)
            }
            _ => return None,
        };
        (n > 0).then_some(period)
    }

    /// The date `self` after `base` (months are calendar months: 01-31 plus one
    /// month is 02-28).
    pub fn after(self, base: Date) -> Option<Date> {
        // try_*: a customer's 「99999999日」 is an error, not a panic.
        let span = match self {
            Period::Days(n) => jiff::Span::new().try_days(n),
            Period::Weeks(n) => jiff::Span::new().try_weeks(n),
            Period::Months(n) => jiff::Span::new().try_months(n),
        }
        .ok()?;
        base.checked_add(span).ok()
    }

    /// How an analytics table names it (「30日」, 「2ヶ月」).
    pub fn label(self) -> String {
        match self {
            Period::Days(n) => format!("{n}日"),
            Period::Weeks(n) => format!("{n}週間"),
            Period::Months(n) => format!("{n}ヶ月"),
        }
    }

    /// The cycle `self` asks for, keeping the day of month / weekday the
    /// subscription already delivers on.
    pub fn as_cycle(self, current: &Cycle, next_delivery: Date) -> Cycle {
        // Out of range saturates, so `Cycle::validate` refuses it with its words.
        let small = |v: i64| u8::try_from(v).unwrap_or(u8::MAX);
        match self {
            Period::Days(d) => Cycle::Days {
                every: u16::try_from(d).unwrap_or(u16::MAX),
            },
            Period::Weeks(w) => Cycle::Weeks {
                every: small(w),
                weekday: match current {
                    Cycle::Weeks { weekday, .. } => *weekday,
                    _ => next_delivery.weekday().to_monday_one_offset() as u8,
                },
            },
            Period::Months(m) => match current {
                Cycle::Months { day, .. } => Cycle::Months {
                    every: small(m),
                    day: *day,
                },
                Cycle::MonthWeekday { week, weekday, .. } => Cycle::MonthWeekday {
                    every: small(m),
                    week: *week,
                    weekday: *weekday,
                },
                _ => Cycle::Months {
                    every: small(m),
                    day: next_delivery.day() as u8,
                },
            },
        }
    }
}

/// What the automation knows about a request's subscription besides the
/// subscription itself.
pub struct SubscriptionFacts<'a> {
    pub subscription: &'a Subscription,
    /// The latest order's 対応状況 name.
    pub latest_order_status: Option<&'a str>,
    pub today: Date,
}

/// What the automation does with one request.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Decision {
    /// Not a type the automation handles (「お届け日変更」, 解約抑止 …): it stays
    /// 未対応 for a person.
    Manual,
    /// No rule at all for the request's form: 条件未設定, with 再実行.
    NoRule,
    /// Something is wrong (several products and no rule covering all of them,
    /// an unreadable period, no subscription): エラー with the reason.
    Error(String),
    /// A rule's refusal condition holds: 対応不可 with the reason.
    Refuse { rule: i64, reason: String },
    /// Apply these commands to the subscription, then the rule's success effects.
    Apply {
        rule: i64,
        commands: Vec<SubscriptionCommand>,
        /// What the request asked, for 履歴 and analytics (「30日」).
        summary: String,
    },
}

/// Decides what `rules` (every rule; those of other forms are ignored) do with
/// a request of `request_type` with `answer` (by name) about `facts`.
pub fn decide(
    form_id: Option<i64>,
    request_type: &str,
    answer: &dyn Fn(&str) -> Option<String>,
    facts: Option<&SubscriptionFacts<'_>>,
    rules: &[RequestRule],
) -> Decision {
    let Some(rule_type) = RuleType::for_request_type(request_type) else {
        return Decision::Manual;
    };
    let for_form: Vec<&RequestRule> = rules
        .iter()
        .filter(|r| r.form_id.is_none() || r.form_id == form_id)
        .collect();
    if for_form.is_empty() {
        return Decision::NoRule;
    }
    let Some(facts) = facts else {
        return Decision::Error("定期受注が指定されていない申請です".into());
    };
    let sub = facts.subscription;
    let products: Vec<(&str, &str)> = sub
        .items
        .iter()
        .filter(|i| !i.is_bundled_item)
        .map(|i| (i.product_code.as_str(), i.product_name.as_str()))
        .collect();
    if products.is_empty() {
        return Decision::Error("定期受注に商品がありません（同梱物のみ）".into());
    }
    let covers = |r: &RequestRule| {
        products.iter().all(|(code, name)| {
            r.products
                .iter()
                .map(|p| p.trim())
                .any(|p| p == *code || p == *name)
        })
    };
    let Some(rule) = for_form
        .iter()
        .copied()
        .filter(|r| r.rule_type == rule_type)
        .find(|r| covers(r))
    else {
        let names: Vec<String> = products
            .iter()
            .map(|(code, name)| format!("{name}（{code}）"))
            .collect();
        return Decision::Error(if products.len() > 1 {
            format!(
                "複数商品: {} をすべて含む「{}」の条件がありません",
                names.join("、"),
                rule_type.label()
            )
        } else {
            format!(
                "商品 {} の「{}」の条件がありません",
                names.join(""),
                rule_type.label()
            )
        });
    };
    if let Some(reason) = refusal(rule, facts) {
        return Decision::Refuse {
            rule: rule.id,
            reason,
        };
    }
    let period_field = match rule_type {
        RuleType::Pause => "col_2",
        _ => "col_3",
    };
    let raw = answer(period_field).unwrap_or_default();
    match commands_for(rule_type, &raw, rule.pause_base, &rule.cancel_reason, sub) {
        Ok((commands, summary)) => Decision::Apply {
            rule: rule.id,
            commands,
            summary,
        },
        Err(e) => Decision::Error(
            e.0.iter()
                .map(|f| f.message.clone())
                .collect::<Vec<_>>()
                .join(" / "),
        ),
    }
}

/// The subscription commands a 休止 / スキップ / 解約 / サイクル変更 takes, and
/// what it asked in words: the automation's and an operator's manual handling
/// alike. `period` is col_2 (休止) or col_3 (サイクル変更) as written.
pub fn commands_for(
    rule_type: RuleType,
    period: &str,
    pause_base: PauseFrom,
    cancel_reason: &str,
    sub: &Subscription,
) -> Result<(Vec<SubscriptionCommand>, String), FieldErrors> {
    match rule_type {
        RuleType::Skip => Ok((vec![SubscriptionCommand::Skip], SKIP.into())),
        RuleType::Cancel => Ok((
            vec![SubscriptionCommand::Cancel {
                reason: cancel_reason.trim().to_string(),
            }],
            CANCEL.into(),
        )),
        RuleType::Pause => {
            let Some(p) = Period::parse(period) else {
                return Err(FieldErrors::single(
                    "period",
                    "unreadable_period",
                    format!("休止期間（col_2）「{period}」を読み取れません（例: 30日、2ヶ月）"),
                ));
            };
            let base = match pause_base {
                PauseFrom::Next => Some(sub.schedule.next_delivery),
                PauseFrom::Previous => sub.schedule.previous_delivery,
            };
            let Some(base) = base else {
                return Err(FieldErrors::single(
                    "pause_base",
                    "no_previous_delivery",
                    "前回配送予定日がないため、前回配送予定日からの休止はできません",
                ));
            };
            let days = p
                .after(base)
                .and_then(|d| base.until(d).ok())
                .map(|s| i64::from(s.get_days()));
            match days {
                Some(days) if (1..=365).contains(&days) => Ok((
                    vec![SubscriptionCommand::Pause {
                        days,
                        from: pause_base,
                    }],
                    p.label(),
                )),
                _ => Err(FieldErrors::single(
                    "period",
                    "out_of_range",
                    format!("休止期間（col_2）「{period}」は1〜365日の範囲にしてください"),
                )),
            }
        }
        RuleType::CycleChange => {
            let Some(p) = Period::parse(period) else {
                return Err(FieldErrors::single(
                    "period",
                    "unreadable_period",
                    format!(
                        "サイクル変更期間（col_3）「{period}」を読み取れません（例: 2ヶ月、45日）"
                    ),
                ));
            };
            let cycle = p.as_cycle(&sub.cycle, sub.schedule.next_delivery);
            if let Err(e) = cycle.validate() {
                return Err(FieldErrors::single(
                    "period",
                    "out_of_range",
                    format!(
                        "サイクル変更期間（col_3）「{period}」: {}",
                        e.0.first().map(|f| f.message.as_str()).unwrap_or("")
                    ),
                ));
            }
            Ok((
                vec![SubscriptionCommand::Patch(Box::new(SubscriptionPatch {
                    cycle: Some(cycle),
                    // The customer asked for a rhythm, not for an earlier box.
                    when_earlier: WhenEarlier::Keep,
                    ..Default::default()
                }))],
                p.label(),
            ))
        }
    }
}

/// The first refusal condition of `rule` that holds, said as the reason.
fn refusal(rule: &RequestRule, facts: &SubscriptionFacts<'_>) -> Option<String> {
    let sub = facts.subscription;
    let c = &rule.refusal;
    if !c.allowed_statuses.is_empty() && !c.allowed_statuses.contains(&sub.status) {
        return Some(format!(
            "定期受注のステータスが「{}」です（{}のみ対応）",
            sub.status.label(),
            c.allowed_statuses
                .iter()
                .map(|s| s.label())
                .collect::<Vec<_>>()
                .join("・")
        ));
    }
    if let Some(min) = c.min_count
        && sub.count < min
    {
        return Some(format!(
            "定期回数が{}回です（{min}回以上で対応）",
            sub.count
        ));
    }
    if let Some(status) = facts.latest_order_status
        && c.refused_order_statuses.iter().any(|s| s == status)
    {
        return Some(format!("最新の受注の対応状況が「{status}」です"));
    }
    if let Some(min) = c.min_days_to_ship {
        let days = facts
            .today
            .until(sub.schedule.next_ship)
            .map(|s| i64::from(s.get_days()))
            .unwrap_or(0);
        if days < 0 {
            return Some(format!(
                "次回発送予定日（{}）を過ぎています（{min}日以上前に対応）",
                sub.schedule.next_ship
            ));
        }
        if days < min {
            return Some(format!(
                "次回発送予定日（{}）まで{days}日です（{min}日以上前に対応）",
                sub.schedule.next_ship
            ));
        }
    }
    None
}

/// Fills `{{ 変数 }}` in a message or memo line from the subscription after
/// the change. An unknown variable stays as written (rules are checked on save).
pub fn render(text: &str, sub: &Subscription, request_type: &str, customer_name: &str) -> String {
    let values: HashMap<&str, String> = [
        ("次回配送予定日", sub.schedule.next_delivery.to_string()),
        ("次回発送予定日", sub.schedule.next_ship.to_string()),
        (
            "前回配送予定日",
            sub.schedule
                .previous_delivery
                .map(|d| d.to_string())
                .unwrap_or_default(),
        ),
        ("継続回数", sub.count.to_string()),
        ("申請種別", request_type.to_string()),
        ("定期受注ID", sub.id.to_string()),
        ("お名前", customer_name.to_string()),
    ]
    .into_iter()
    .collect();
    let mut out = String::with_capacity(text.len());
    let mut rest = text;
    while let Some(start) = rest.find("{{") {
        out.push_str(&rest[..start]);
        let after = &rest[start + 2..];
        match after.find("}}") {
            Some(end) => {
                let name = after[..end].trim();
                match values.get(name) {
                    Some(v) => out.push_str(v),
                    None => out.push_str(&rest[start..start + 2 + end + 2]),
                }
                rest = &after[end + 2..];
            }
            None => {
                out.push_str(&rest[start..]);
                rest = "";
            }
        }
    }
    out.push_str(rest);
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::calendar::Schedule;
    use crate::customer::Address;
    use crate::subscription::{CountPrice, SubscriptionItem};
    use jiff::civil::date;

    fn item(code: &str, name: &str, bundled: bool) -> SubscriptionItem {
        SubscriptionItem {
            product_id: None,
            product_code: code.into(),
            product_name: name.into(),
            quantity: 1,
            tax_rate: crate::status::TaxRate::Standard,
            is_bundled_item: bundled,
            prices: vec![CountPrice {
                from_count: 1,
                unit_price: 1000,
            }],
            first_count: 1,
            last_count: None,
        }
    }

    fn sub(items: Vec<SubscriptionItem>) -> Subscription {
        Subscription {
            id: 7,
            customer_id: Some(1),
            parent_order_id: None,
            status: SubscriptionStatus::Active,
            stop_reason: String::new(),
            cancel_reason: String::new(),
            cycle: Cycle::Months { every: 1, day: 26 },
            schedule: Schedule {
                previous_delivery: Some(date(2026, 11, 26)),
                next_delivery: date(2026, 12, 26),
                next_ship: date(2026, 12, 24),
            },
            count: 3,
            payment_method_id: None,
            carrier_id: None,
            billing: Address::default(),
            shipping: Address::default(),
            delivery_time_slot: None,
            items,
            memo: String::new(),
            label_ids: vec![],
            needs_attention: false,
            needs_attention_reason: String::new(),
            card_token: Default::default(),
            version: 1,
        }
    }

    fn rule(id: i64, t: RuleType, products: &[&str]) -> RequestRule {
        RequestRule {
            id,
            name: format!("rule {id}"),
            form_id: None,
            products: products.iter().map(|p| p.to_string()).collect(),
            rule_type: t,
            pause_base: PauseFrom::Next,
            cancel_reason: "お客様都合".into(),
            refusal: RefusalConditions::default(),
            on_refusal: TagChange::default(),
            on_success: TagChange::default(),
            success_memo: String::new(),
            success_label: String::new(),
            message_channel: MessageChannel::None,
            message: String::new(),
            position: 0,
        }
    }

    fn facts(s: &Subscription) -> SubscriptionFacts<'_> {
        SubscriptionFacts {
            subscription: s,
            latest_order_status: Some("新規受付"),
            today: date(2026, 12, 7),
        }
    }

    fn answers(pairs: &[(&str, &str)]) -> impl Fn(&str) -> Option<String> {
        let map: HashMap<String, String> = pairs
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect();
        move |k: &str| map.get(k).cloned()
    }

    #[test]
    fn periods_as_customers_write_them() {
        assert_eq!(Period::parse("30日"), Some(Period::Days(30)));
        assert_eq!(Period::parse("３０日"), Some(Period::Days(30)));
        assert_eq!(Period::parse(" 2ヶ月 "), Some(Period::Months(2)));
        assert_eq!(Period::parse("1か月"), Some(Period::Months(1)));
        assert_eq!(Period::parse("1カ月"), Some(Period::Months(1)));
        assert_eq!(Period::parse("1ヵ月"), Some(Period::Months(1)));
        assert_eq!(Period::parse("3ケ月"), Some(Period::Months(3)));
        assert_eq!(Period::parse("2週間"), Some(Period::Weeks(2)));
        assert_eq!(Period::parse("45日ごと"), Some(Period::Days(45)));
        assert_eq!(Period::parse("毎2ヶ月"), Some(Period::Months(2)));
        assert_eq!(Period::parse("しばらく"), None);
        assert_eq!(Period::parse("0日"), None);
        assert_eq!(Period::parse("日"), None);
        assert_eq!(Period::parse("30"), None);
        assert_eq!(Period::parse("1年"), None);
        assert_eq!(Period::parse(""), None);
        assert_eq!(Period::parse("99999999999999999999日"), None);
    }

    #[test]
    fn months_are_calendar_months() {
        assert_eq!(
            Period::Months(1).after(date(2027, 1, 31)),
            Some(date(2027, 2, 28))
        );
        assert_eq!(
            Period::Months(2).after(date(2026, 12, 26)),
            Some(date(2027, 2, 26))
        );
        assert_eq!(
            Period::Days(30).after(date(2026, 12, 26)),
            Some(date(2027, 1, 25))
        );
        // Far beyond the calendar: none, not a panic.
        assert_eq!(Period::Days(99_999_999).after(date(2026, 12, 26)), None);
        assert_eq!(Period::Weeks(9_999_999).after(date(2026, 12, 26)), None);
        assert_eq!(Period::Months(999_999).after(date(2026, 12, 26)), None);
        assert_eq!(Period::parse("99999999日"), Some(Period::Days(99_999_999)));
    }

    #[test]
    fn only_exact_types_are_automated() {
        assert_eq!(RuleType::for_request_type("休止"), Some(RuleType::Pause));
        assert_eq!(RuleType::for_request_type("スキップ"), Some(RuleType::Skip));
        assert_eq!(RuleType::for_request_type("お届け日変更"), None);
        assert_eq!(RuleType::for_request_type("休止 "), None);
        assert_eq!(RuleType::for_request_type("解約抑止"), None);
        let s = sub(vec![item("A", "商品A", false)]);
        let rules = [rule(1, RuleType::Pause, &["A"])];
        assert_eq!(
            decide(
                None,
                "お届け日変更",
                &answers(&[]),
                Some(&facts(&s)),
                &rules
            ),
            Decision::Manual
        );
    }

    #[test]
    fn no_rule_for_the_form_is_no_rule_and_another_forms_rule_does_not_count() {
        let s = sub(vec![item("A", "商品A", false)]);
        assert_eq!(
            decide(Some(1), "休止", &answers(&[]), Some(&facts(&s)), &[]),
            Decision::NoRule
        );
        let mut r = rule(1, RuleType::Pause, &["A"]);
        r.form_id = Some(2);
        assert_eq!(
            decide(
                Some(1),
                "休止",
                &answers(&[("col_2", "30日")]),
                Some(&facts(&s)),
                &[r.clone()]
            ),
            Decision::NoRule
        );
        // A rule of another type for the same form: the seed shows エラー, not 条件未設定.
        r.form_id = Some(1);
        r.rule_type = RuleType::Skip;
        assert!(matches!(
            decide(Some(1), "休止", &answers(&[]), Some(&facts(&s)), &[r]),
            Decision::Error(m) if m.contains("休止") && m.contains("商品A")
        ));
    }

    #[test]
    fn pause_adds_the_period_to_the_chosen_base() {
        let s = sub(vec![item("A", "商品A", false), item("G", "おまけ", true)]);
        let mut r = rule(1, RuleType::Pause, &["商品A"]);
        let d = decide(
            None,
            "休止",
            &answers(&[("col_2", "2ヶ月")]),
            Some(&facts(&s)),
            std::slice::from_ref(&r),
        );
        // 12-26 + 2 calendar months = 02-26: 62 days.
        assert_eq!(
            d,
            Decision::Apply {
                rule: 1,
                commands: vec![SubscriptionCommand::Pause {
                    days: 62,
                    from: PauseFrom::Next
                }],
                summary: "2ヶ月".into()
            }
        );
        r.pause_base = PauseFrom::Previous;
        let d = decide(
            None,
            "休止",
            &answers(&[("col_2", "30日")]),
            Some(&facts(&s)),
            &[r],
        );
        assert_eq!(
            d,
            Decision::Apply {
                rule: 1,
                commands: vec![SubscriptionCommand::Pause {
                    days: 30,
                    from: PauseFrom::Previous
                }],
                summary: "30日".into()
            }
        );
    }

    #[test]
    fn an_unreadable_period_is_an_error_that_shows_it() {
        let s = sub(vec![item("A", "商品A", false)]);
        let r = rule(1, RuleType::Pause, &["A"]);
        let d = decide(
            None,
            "休止",
            &answers(&[("col_2", "しばらく")]),
            Some(&facts(&s)),
            std::slice::from_ref(&r),
        );
        assert!(matches!(d, Decision::Error(m) if m.contains("しばらく")));
        let d = decide(
            None,
            "休止",
            &answers(&[("col_2", "13ヶ月")]),
            Some(&facts(&s)),
            &[r],
        );
        assert!(matches!(d, Decision::Error(m) if m.contains("1〜365")));
    }

    #[test]
    fn several_products_need_one_rule_covering_all() {
        let s = sub(vec![item("A", "商品A", false), item("B", "商品B", false)]);
        let rules = [
            rule(1, RuleType::Skip, &["A"]),
            rule(2, RuleType::Skip, &["B"]),
        ];
        let d = decide(None, "スキップ", &answers(&[]), Some(&facts(&s)), &rules);
        assert!(
            matches!(d, Decision::Error(m) if m.starts_with("複数商品") && m.contains("商品B"))
        );
        let rules = [rule(3, RuleType::Skip, &["A", "商品B"])];
        assert!(matches!(
            decide(None, "スキップ", &answers(&[]), Some(&facts(&s)), &rules),
            Decision::Apply { rule: 3, .. }
        ));
        // Exact match only.
        let rules = [rule(4, RuleType::Skip, &["a", "商品B "])];
        let single = sub(vec![item("A", "商品A", false)]);
        assert!(matches!(
            decide(
                None,
                "スキップ",
                &answers(&[]),
                Some(&facts(&single)),
                &rules
            ),
            Decision::Error(_)
        ));
    }

    #[test]
    fn refusal_conditions_each_refuse_with_their_reason() {
        let mut s = sub(vec![item("A", "商品A", false)]);
        let mut r = rule(1, RuleType::Skip, &["A"]);
        r.refusal.min_count = Some(4);
        let refuse = |s: &Subscription, r: &RequestRule, latest: Option<&str>| {
            decide(
                None,
                "スキップ",
                &answers(&[]),
                Some(&SubscriptionFacts {
                    subscription: s,
                    latest_order_status: latest,
                    today: date(2026, 12, 7),
                }),
                std::slice::from_ref(r),
            )
        };
        assert!(
            matches!(refuse(&s, &r, None), Decision::Refuse { reason, .. } if reason.contains("定期回数が3回"))
        );
        s.count = 4;
        assert!(matches!(refuse(&s, &r, None), Decision::Apply { .. }));
        r.refusal.refused_order_statuses = vec!["発送準備中".into()];
        assert!(
            matches!(refuse(&s, &r, Some("発送準備中")), Decision::Refuse { reason, .. } if reason.contains("発送準備中"))
        );
        assert!(matches!(
            refuse(&s, &r, Some("新規受付")),
            Decision::Apply { .. }
        ));
        r.refusal.min_days_to_ship = Some(18);
        // 12-07 → 12-24: 17 days.
        assert!(
            matches!(refuse(&s, &r, None), Decision::Refuse { reason, .. } if reason.contains("17日"))
        );
        r.refusal.min_days_to_ship = Some(17);
        assert!(matches!(refuse(&s, &r, None), Decision::Apply { .. }));
        // A ship date already past says so (not 「-3日」).
        let mut late = s.clone();
        late.schedule.next_ship = date(2026, 12, 4);
        late.schedule.next_delivery = date(2026, 12, 6);
        assert!(
            matches!(refuse(&late, &r, None), Decision::Refuse { reason, .. } if reason.contains("過ぎています"))
        );
        r.refusal.allowed_statuses = vec![SubscriptionStatus::Active];
        s.status = SubscriptionStatus::Stopped;
        assert!(
            matches!(refuse(&s, &r, None), Decision::Refuse { reason, .. } if reason.contains("停止"))
        );
    }

    #[test]
    fn cycle_change_keeps_the_anchor_day() {
        let s = sub(vec![item("A", "商品A", false)]);
        let r = rule(1, RuleType::CycleChange, &["A"]);
        let d = decide(
            None,
            "サイクル変更",
            &answers(&[("col_3", "2ヶ月ごと")]),
            Some(&facts(&s)),
            std::slice::from_ref(&r),
        );
        let Decision::Apply { commands, .. } = d else {
            panic!("{d:?}")
        };
        let SubscriptionCommand::Patch(p) = &commands[0] else {
            panic!()
        };
        assert_eq!(p.cycle, Some(Cycle::Months { every: 2, day: 26 }));
        assert_eq!(p.when_earlier, WhenEarlier::Keep);
        let d = decide(
            None,
            "サイクル変更",
            &answers(&[("col_3", "400日")]),
            Some(&facts(&s)),
            &[r],
        );
        assert!(matches!(d, Decision::Error(m) if m.contains("400日")));
    }

    #[test]
    fn cancel_uses_the_rules_reason_and_no_subscription_is_an_error() {
        let s = sub(vec![item("A", "商品A", false)]);
        let r = rule(1, RuleType::Cancel, &["A"]);
        assert_eq!(
            decide(
                None,
                "解約",
                &answers(&[]),
                Some(&facts(&s)),
                std::slice::from_ref(&r)
            ),
            Decision::Apply {
                rule: 1,
                commands: vec![SubscriptionCommand::Cancel {
                    reason: "お客様都合".into()
                }],
                summary: "解約".into()
            }
        );
        assert!(matches!(
            decide(None, "解約", &answers(&[]), None, &[r]),
            Decision::Error(_)
        ));
    }

    #[test]
    fn messages_fill_their_variables() {
        let s = sub(vec![item("A", "商品A", false)]);
        assert_eq!(
            render(
                "{{お名前}}様 次回は{{ 次回配送予定日 }}（発送{{次回発送予定日}}）、{{継続回数}}回目。{{不明}} {{",
                &s,
                "休止",
                "山田 花子"
            ),
            "山田 花子様 次回は2026-12-26（発送2026-12-24）、3回目。{{不明}} {{"
        );
    }

    #[test]
    fn rules_are_checked() {
        let mut r = rule(1, RuleType::Cancel, &[]);
        r.name = " ".into();
        r.cancel_reason = String::new();
        r.message_channel = MessageChannel::Mail;
        r.message = "{{合計}}".into();
        r.success_label = "VIP".into();
        r.refusal.refused_order_statuses = vec!["梱包中".into()];
        let e = check_rule(&r, &[], &["新規受付".into()]).unwrap_err();
        let fields: Vec<&str> = e.0.iter().map(|f| f.field.as_str()).collect();
        for f in [
            "name",
            "products",
            "cancel_reason",
            "message",
            "success_label",
            "refusal.refused_order_statuses",
        ] {
            assert!(fields.contains(&f), "{f} in {fields:?}");
        }
        let ok = rule(1, RuleType::Pause, &["A"]);
        assert!(check_rule(&ok, &[], &[]).is_ok());
    }

    #[test]
    fn rule_json_uses_the_interface_names() {
        let r: RequestRule = serde_json::from_str(
            r#"{"name":"商品A（休止）","type":"休止","products":["A","商品B"],"pause_base":"previous"}"#,
        )
        .unwrap();
        assert_eq!(r.rule_type, RuleType::Pause);
        assert_eq!(r.pause_base, PauseFrom::Previous);
        assert_eq!(r.form_id, None);
        let v = serde_json::to_value(&r).unwrap();
        assert_eq!(v["type"], "休止");
        assert_eq!(v["pause_base"], "previous");
        assert!(
            serde_json::from_str::<RequestRule>(
                r#"{"name":"x","type":"お届け日変更","products":["A"]}"#
            )
            .is_err()
        );
    }

    #[test]
    fn tag_changes_keep_order_and_uniqueness() {
        let c = TagChange {
            add: vec!["休止済".into(), "A".into()],
            remove: vec!["B".into()],
        };
        assert_eq!(
            c.apply(&["A".into(), "B".into(), "C".into()]),
            vec!["A".to_string(), "C".into(), "休止済".into()]
        );
    }
}
