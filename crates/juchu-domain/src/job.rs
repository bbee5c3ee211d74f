//! 一括処理 as jobs: what kinds there are, their parameters and how they are
//! checked, the job's states, and the texts of its notifications. The store
//! runs them; everything here is pure.

use crate::FieldErrors;
use crate::order::Order;
use crate::patch::OrderPatch;
use crate::status::{PaymentStatus, SubscriptionStatus};
use crate::subscription::{Subscription, SubscriptionCommand, SubscriptionPatch};
use crate::text::check_len;
use serde::{Deserialize, Deserializer, Serialize};

/// What a job does.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum JobKind {
    BulkUpdate,
    CsvExport,
    PdfExport,
    Dunning,
    BulkMail,
    PaymentChange,
    /// ブラックリスト: check existing orders against the blacklist as it is now.
    BlacklistRescan,
    /// 出荷実績インポート: a shipment file applied row by row.
    ShipmentImport,
    /// 入金消込: a payments file applied row by row.
    PaymentImport,
    /// 送り状データ出力: the carrier's label-printing file.
    CarrierExport,
}

impl JobKind {
    pub const ALL: [JobKind; 10] = [
        JobKind::BulkUpdate,
        JobKind::CsvExport,
        JobKind::PdfExport,
        JobKind::Dunning,
        JobKind::BulkMail,
        JobKind::PaymentChange,
        JobKind::BlacklistRescan,
        JobKind::ShipmentImport,
        JobKind::PaymentImport,
        JobKind::CarrierExport,
    ];

    pub fn code(self) -> &'static str {
        match self {
            JobKind::BulkUpdate => "bulk_update",
            JobKind::CsvExport => "csv_export",
            JobKind::PdfExport => "pdf_export",
            JobKind::Dunning => "dunning",
            JobKind::BulkMail => "bulk_mail",
            JobKind::PaymentChange => "payment_change",
            JobKind::BlacklistRescan => "blacklist_rescan",
            JobKind::ShipmentImport => "shipment_import",
            JobKind::PaymentImport => "payment_import",
            JobKind::CarrierExport => "carrier_export",
        }
    }

    pub fn parse(code: &str) -> Option<JobKind> {
        JobKind::ALL.into_iter().find(|k| k.code() == code)
    }

    /// The name the admin UI and the notifications use (the seed's).
    pub fn label(self) -> &'static str {
        match self {
            JobKind::BulkUpdate => "一括更新",
            JobKind::CsvExport => "CSV一括出力",
            JobKind::PdfExport => "PDF一括出力",
            JobKind::Dunning => "一括督促",
            JobKind::BulkMail => "メール一括通知",
            JobKind::PaymentChange => "決済状況一括変更",
            JobKind::BlacklistRescan => "ブラックリスト再チェック",
            JobKind::ShipmentImport => "出荷実績インポート",
            JobKind::PaymentImport => "入金消込",
            JobKind::CarrierExport => "送り状データ出力",
        }
    }
}

/// Where a job is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum JobStatus {
    Queued,
    Running,
    /// Ran to the end — which says nothing about how many orders succeeded.
    Completed,
    /// Could not run to the end (a broken export file, a lost format).
    Failed,
    Cancelled,
}

impl JobStatus {
    pub fn code(self) -> &'static str {
        match self {
            JobStatus::Queued => "queued",
            JobStatus::Running => "running",
            JobStatus::Completed => "completed",
            JobStatus::Failed => "failed",
            JobStatus::Cancelled => "cancelled",
        }
    }
    pub fn parse(code: &str) -> Option<JobStatus> {
        [
            JobStatus::Queued,
            JobStatus::Running,
            JobStatus::Completed,
            JobStatus::Failed,
            JobStatus::Cancelled,
        ]
        .into_iter()
        .find(|s| s.code() == code)
    }
    pub fn label(self) -> &'static str {
        match self {
            JobStatus::Queued => "待機中",
            JobStatus::Running => "実行中",
            JobStatus::Completed => "完了",
            JobStatus::Failed => "失敗",
            JobStatus::Cancelled => "キャンセル",
        }
    }
    pub fn is_finished(self) -> bool {
        matches!(
            self,
            JobStatus::Completed | JobStatus::Failed | JobStatus::Cancelled
        )
    }
}

/// 「受注 メール一括通知 を登録しました。」
pub fn registered_notice(kind: JobKind) -> String {
    format!("受注 {} を登録しました。", kind.label())
}

/// 「受注 メール一括通知 を完了しました。」 (or failed, or cancelled).
pub fn finished_notice(kind: JobKind, status: JobStatus) -> String {
    match status {
        JobStatus::Failed => format!("受注 {} に失敗しました。", kind.label()),
        JobStatus::Cancelled => format!("受注 {} をキャンセルしました。", kind.label()),
        _ => format!("受注 {} を完了しました。", kind.label()),
    }
}

/// How one item of a job ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ItemOutcome {
    Ok,
    Failed,
    /// Not done on purpose (a customer who opted out of mail).
    Skipped,
}

impl ItemOutcome {
    pub fn code(self) -> &'static str {
        match self {
            ItemOutcome::Ok => "ok",
            ItemOutcome::Failed => "failed",
            ItemOutcome::Skipped => "skipped",
        }
    }
    pub fn label(self) -> &'static str {
        match self {
            ItemOutcome::Ok => "成功",
            ItemOutcome::Failed => "失敗",
            ItemOutcome::Skipped => "対象外",
        }
    }
}

/// `"field": null` (clear) told apart from an absent field (leave alone).
fn present<'de, D, T>(d: D) -> Result<Option<Option<T>>, D::Error>
where
    D: Deserializer<'de>,
    T: Deserialize<'de>,
{
    Option::<T>::deserialize(d).map(Some)
}

/// 上書き / 登録 / 削除 of a text (a memo): replace it, add to it, or clear it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TextEdit {
    pub mode: EditMode,
    #[serde(default)]
    pub value: String,
}

/// 上書き / 登録 / 削除 of labels: replace the set, add to it, take some off,
/// or take all off.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct LabelsEdit {
    pub mode: EditMode,
    #[serde(default)]
    pub values: Vec<String>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum EditMode {
    Overwrite,
    Add,
    Remove,
    Clear,
}

impl TextEdit {
    /// The text after the edit; `Add` starts a new line.
    pub fn apply(&self, current: &str) -> String {
        match self.mode {
            EditMode::Overwrite => self.value.clone(),
            EditMode::Add if current.trim().is_empty() => self.value.clone(),
            EditMode::Add => format!("{current}\n{}", self.value),
            EditMode::Remove | EditMode::Clear => String::new(),
        }
    }
}

impl LabelsEdit {
    /// The label names after the edit, in a stable order.
    pub fn apply(&self, current: &[String]) -> Vec<String> {
        let mut out: Vec<String> = match self.mode {
            EditMode::Overwrite => self.values.clone(),
            EditMode::Add => current.iter().chain(&self.values).cloned().collect(),
            EditMode::Remove => current
                .iter()
                .filter(|l| !self.values.contains(l))
                .cloned()
                .collect(),
            EditMode::Clear => Vec::new(),
        };
        let mut seen = std::collections::HashSet::new();
        out.retain(|l| seen.insert(l.clone()));
        out
    }
}

/// 一括更新: every field the seed lists. An absent field is left alone; a
/// date given as `null` is cleared.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct BulkUpdate {
    #[serde(
        default,
        deserialize_with = "present",
        skip_serializing_if = "Option::is_none"
    )]
    pub payment_method: Option<Option<String>>,
    #[serde(
        default,
        deserialize_with = "present",
        skip_serializing_if = "Option::is_none"
    )]
    pub carrier: Option<Option<String>>,
    #[serde(
        default,
        deserialize_with = "present",
        skip_serializing_if = "Option::is_none"
    )]
    pub scheduled_ship_date: Option<Option<String>>,
    #[serde(
        default,
        deserialize_with = "present",
        skip_serializing_if = "Option::is_none"
    )]
    pub shipped_at: Option<Option<String>>,
    #[serde(
        default,
        deserialize_with = "present",
        skip_serializing_if = "Option::is_none"
    )]
    pub scheduled_delivery_date: Option<Option<String>>,
    #[serde(
        default,
        deserialize_with = "present",
        skip_serializing_if = "Option::is_none"
    )]
    pub delivered_at: Option<Option<String>>,
    #[serde(
        default,
        deserialize_with = "present",
        skip_serializing_if = "Option::is_none"
    )]
    pub paid_at: Option<Option<String>>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub handling_status: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub memo: Option<TextEdit>,
    /// 出荷リスト: 未出力 / 出力済.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub shipping_list_state: Option<String>,
    #[serde(
        default,
        deserialize_with = "present",
        skip_serializing_if = "Option::is_none"
    )]
    pub shipping_list_exported_on: Option<Option<String>>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub needs_attention: Option<bool>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub needs_attention_reason: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub labels: Option<LabelsEdit>,
    /// ブラックリスト(顧客) and its reason (required when `true`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub customer_blacklisted: Option<bool>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub customer_blacklist_reason: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub customer_memo: Option<TextEdit>,
    /// 要対応定期受注 and its reason, on the order's subscription.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub subscription_needs_attention: Option<bool>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub subscription_needs_attention_reason: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub subscription_next_ship_date: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub subscription_next_delivery_date: Option<String>,
    /// With a next date: move the other by the shop's minimum lead days.
    #[serde(default)]
    pub subscription_sync_dates: bool,
    /// ステータス(定期): 有効 / 停止 / キャンセル (停止 and キャンセル need a reason).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub subscription_status: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub subscription_status_reason: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub subscription_memo: Option<TextEdit>,
}

impl BulkUpdate {
    /// Problems with the parameters themselves (before any order is looked at).
    pub fn validate(&self) -> Result<(), FieldErrors> {
        let mut e = FieldErrors::default();
        let dates = [
            ("scheduled_ship_date", &self.scheduled_ship_date),
            ("shipped_at", &self.shipped_at),
            ("scheduled_delivery_date", &self.scheduled_delivery_date),
            ("delivered_at", &self.delivered_at),
            ("paid_at", &self.paid_at),
            ("shipping_list_exported_on", &self.shipping_list_exported_on),
        ];
        for (field, v) in dates {
            if let Some(Some(d)) = v
                && crate::time::parse_date(d).is_err()
            {
                e.add(
                    format!("params.{field}"),
                    "bad_date",
                    format!("日付「{d}」は YYYY-MM-DD で入力してください"),
                );
            }
        }
        for (field, v) in [
            (
                "subscription_next_ship_date",
                &self.subscription_next_ship_date,
            ),
            (
                "subscription_next_delivery_date",
                &self.subscription_next_delivery_date,
            ),
        ] {
            if let Some(d) = v
                && d.parse::<jiff::civil::Date>().is_err()
            {
                e.add(
                    format!("params.{field}"),
                    "bad_date",
                    format!("日付「{d}」は YYYY-MM-DD で入力してください"),
                );
            }
        }
        if self.subscription_next_ship_date.is_some()
            && self.subscription_next_delivery_date.is_some()
            && self.subscription_sync_dates
        {
            e.add(
                "params.subscription_sync_dates",
                "conflict",
                "次回発送予定日と次回配送予定日の両方を指定するときは同期できません",
            );
        }
        if let Some(m) = &self.memo {
            check_len(
                &mut e,
                "params.memo.value",
                &m.value,
                crate::order::MAX_MEMO,
            );
        }
        if self.customer_blacklisted == Some(true)
            && self
                .customer_blacklist_reason
                .as_deref()
                .is_none_or(|r| r.trim().is_empty())
        {
            e.add(
                "params.customer_blacklist_reason",
                "required",
                "ブラックリストに登録するときは理由を指定してください",
            );
        }
        match self.subscription_status.as_deref() {
            None | Some("有効") => {}
            Some("停止") | Some("キャンセル") => {
                if self
                    .subscription_status_reason
                    .as_deref()
                    .is_none_or(|r| r.trim().is_empty())
                {
                    e.add(
                        "params.subscription_status_reason",
                        "required",
                        "停止・キャンセルにするときは理由を指定してください",
                    );
                }
            }
            Some(other) => e.add(
                "params.subscription_status",
                "unknown",
                format!("ステータス(定期)「{other}」はありません（有効 / 停止 / キャンセル）"),
            ),
        }
        if self == &BulkUpdate::default() {
            e.add("params", "empty", "更新する項目を1つ以上指定してください");
        }
        e.into_result()
    }

    /// Whether anything of the order itself changes (else only the customer
    /// or the subscription does).
    pub fn touches_order(&self) -> bool {
        self.payment_method.is_some()
            || self.carrier.is_some()
            || self.scheduled_ship_date.is_some()
            || self.shipped_at.is_some()
            || self.scheduled_delivery_date.is_some()
            || self.delivered_at.is_some()
            || self.paid_at.is_some()
            || self.handling_status.is_some()
            || self.memo.is_some()
            || self.shipping_list_state.is_some()
            || self.shipping_list_exported_on.is_some()
            || self.needs_attention.is_some()
            || self.needs_attention_reason.is_some()
            || self.labels.is_some()
    }

    pub fn touches_subscription(&self) -> bool {
        self.subscription_needs_attention.is_some()
            || self.subscription_needs_attention_reason.is_some()
            || self.subscription_next_ship_date.is_some()
            || self.subscription_next_delivery_date.is_some()
            || self.subscription_status.is_some()
            || self.subscription_memo.is_some()
    }

    /// The seed's rule: an order in 売上完了 keeps its payment method and
    /// carrier. `Err` is the reason shown for that order.
    pub fn check_order(&self, order: &Order) -> Result<(), String> {
        let captured = order.payment_status == PaymentStatus::Captured;
        if captured && self.payment_method.is_some() {
            return Err("売上完了の受注は支払方法を変更できません".into());
        }
        if captured && self.carrier.is_some() {
            return Err("売上完了の受注は配送業者を変更できません".into());
        }
        Ok(())
    }

    /// The order's part of the update as a pipeline patch, for this order (a
    /// memo or labels added to are added to what it has).
    pub fn order_patch(&self, order: &Order, masters: &crate::masters::Masters) -> OrderPatch {
        let current_labels: Vec<String> = order
            .label_ids
            .iter()
            .filter_map(|id| masters.label(*id))
            .map(|l| l.name.clone())
            .collect();
        OrderPatch {
            handling_status: self.handling_status.clone(),
            payment_method: self.payment_method.clone(),
            carrier: self.carrier.clone(),
            shipping_list_state: self.shipping_list_state.clone(),
            shipping_list_exported_on: self.shipping_list_exported_on.clone(),
            scheduled_ship_date: self.scheduled_ship_date.clone(),
            scheduled_delivery_date: self.scheduled_delivery_date.clone(),
            shipped_at: self.shipped_at.clone(),
            delivered_at: self.delivered_at.clone(),
            paid_at: self.paid_at.clone(),
            memo: self.memo.as_ref().map(|m| m.apply(&order.memo)),
            labels: self.labels.as_ref().map(|l| l.apply(&current_labels)),
            needs_attention: self.needs_attention,
            needs_attention_reason: self.needs_attention_reason.clone(),
            ..OrderPatch::default()
        }
    }

    /// The subscription's part of the update, for that subscription.
    pub fn subscription_commands(&self, sub: &Subscription) -> Vec<SubscriptionCommand> {
        let mut out = Vec::new();
        let patch = SubscriptionPatch {
            next_ship_date: self.subscription_next_ship_date.clone(),
            next_delivery_date: self.subscription_next_delivery_date.clone(),
            sync_dates: self.subscription_sync_dates,
            memo: self.subscription_memo.as_ref().map(|m| m.apply(&sub.memo)),
            needs_attention: self.subscription_needs_attention,
            needs_attention_reason: self.subscription_needs_attention_reason.clone(),
            ..SubscriptionPatch::default()
        };
        if patch != SubscriptionPatch::default() {
            out.push(SubscriptionCommand::Patch(Box::new(patch)));
        }
        let reason = self.subscription_status_reason.clone().unwrap_or_default();
        match self.subscription_status.as_deref() {
            Some("有効") if sub.status != SubscriptionStatus::Active => {
                out.push(SubscriptionCommand::Resume { confirm: true })
            }
            Some("停止") if sub.status != SubscriptionStatus::Stopped => {
                out.push(SubscriptionCommand::Stop { reason })
            }
            Some("キャンセル") if sub.status != SubscriptionStatus::Cancelled => {
                out.push(SubscriptionCommand::Cancel { reason })
            }
            _ => {}
        }
        out
    }

    /// The reminders the UI shows before running (the seed's 注意事項).
    pub fn reminders(&self) -> Vec<&'static str> {
        let mut out = Vec::new();
        match (self.payment_method.is_some(), self.carrier.is_some()) {
            (true, true) => out.push(
                "支払方法と配送業者を同時に変更する場合は「再オーソリ処理」のみを行い、再計算は行わないでください。",
            ),
            (true, false) => out.push(
                "支払方法を変更した場合は必ず「決済状況一括変更：再オーソリ処理」を行ってください。",
            ),
            (false, true) => out.push(
                "配送業者を変更した場合は必ず受注の「受注商品」タブで再計算を行ってください。",
            ),
            (false, false) => {}
        }
        if matches!(
            self.handling_status.as_deref(),
            Some("キャンセル") | Some("返品")
        ) {
            out.push("「キャンセル」または「返品」にする場合は、決済が取り消されていることを確認してください（決済状況一括変更：取消処理）。");
        }
        out
    }
}

/// 一括督促: a memo and an optional payment due date, recorded on each order.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Dunning {
    #[serde(default)]
    pub memo: String,
    #[serde(default)]
    pub due_date: Option<String>,
}

impl Dunning {
    pub fn validate(&self) -> Result<(), FieldErrors> {
        let mut e = FieldErrors::default();
        check_len(&mut e, "params.memo", &self.memo, crate::order::MAX_MEMO);
        if let Some(d) = &self.due_date
            && d.parse::<jiff::civil::Date>().is_err()
        {
            e.add(
                "params.due_date",
                "bad_date",
                format!("支払期限「{d}」は YYYY-MM-DD で入力してください"),
            );
        }
        if self.memo.trim().is_empty() && self.due_date.is_none() {
            e.add(
                "params.memo",
                "required",
                "督促メモか支払期限を入力してください",
            );
        }
        e.into_result()
    }

    /// The 履歴 text.
    pub fn describe(&self) -> String {
        match &self.due_date {
            Some(d) if self.memo.trim().is_empty() => format!("支払期限 {d}"),
            Some(d) => format!("{}（支払期限 {d}）", self.memo.trim()),
            None => self.memo.trim().to_string(),
        }
    }
}

/// メール一括通知: a template as it is, or a subject and body (typed, or a
/// template taken and edited). Bodies may use the templates' variables.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct BulkMail {
    #[serde(default)]
    pub template_code: Option<String>,
    #[serde(default)]
    pub subject: Option<String>,
    #[serde(default)]
    pub body: Option<String>,
    #[serde(default)]
    pub cc: Vec<String>,
    #[serde(default)]
    pub bcc: Vec<String>,
}

impl BulkMail {
    pub fn validate(&self) -> Result<(), FieldErrors> {
        let mut e = FieldErrors::default();
        match (&self.template_code, &self.subject, &self.body) {
            (Some(_), None, None) => {}
            (_, Some(s), Some(b)) => {
                if s.trim().is_empty() {
                    e.add("params.subject", "required", "件名を入力してください");
                }
                if b.trim().is_empty() {
                    e.add("params.body", "required", "本文を入力してください");
                }
                check_len(&mut e, "params.subject", s, 200);
                check_len(&mut e, "params.body", b, 20_000);
            }
            _ => e.add(
                "params",
                "required",
                "テンプレート（template_code）か、件名と本文（subject, body）を指定してください",
            ),
        }
        for (field, list) in [("cc", &self.cc), ("bcc", &self.bcc)] {
            for (i, a) in list.iter().enumerate() {
                if crate::text::Email::parse(a).is_err() {
                    e.add(
                        format!("params.{field}[{i}]"),
                        "bad_address",
                        format!("メールアドレス「{a}」が正しくありません"),
                    );
                }
            }
        }
        e.into_result()
    }
}

/// 決済状況一括変更: which process.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum PaymentChangeProcess {
    /// 売上処理
    Capture,
    /// 取消処理
    Cancel,
    /// 再オーソリ処理
    Reauthorize,
    /// 強制売上: our status only.
    ForceCapture,
    /// 強制取消: our status only.
    ForceCancel,
}

impl PaymentChangeProcess {
    pub fn label(self) -> &'static str {
        match self {
            PaymentChangeProcess::Capture => "売上処理",
            PaymentChangeProcess::Cancel => "取消処理",
            PaymentChangeProcess::Reauthorize => "再オーソリ処理",
            PaymentChangeProcess::ForceCapture => "強制売上処理",
            PaymentChangeProcess::ForceCancel => "強制取消処理",
        }
    }
    pub fn cancels(self) -> bool {
        matches!(
            self,
            PaymentChangeProcess::Cancel | PaymentChangeProcess::ForceCancel
        )
    }
}

/// What 取消処理 does to the order's subscription as well.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum SubscriptionOption {
    /// 変更なし
    #[default]
    Leave,
    /// 定期受注を停止にする
    Stop,
    /// 定期受注をキャンセルする
    Cancel,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PaymentChange {
    pub process: PaymentChangeProcess,
    #[serde(default)]
    pub subscription: SubscriptionOption,
    /// 停止理由 / キャンセル理由 (from the master).
    #[serde(default)]
    pub subscription_reason: Option<String>,
    /// 定期受注の定期回数を-1する
    #[serde(default)]
    pub decrement_count: bool,
    /// 定期受注を再計算する
    #[serde(default)]
    pub recalculate: bool,
}

impl PaymentChange {
    pub fn validate(&self) -> Result<(), FieldErrors> {
        let mut e = FieldErrors::default();
        let touches_subscription = self.subscription != SubscriptionOption::Leave
            || self.decrement_count
            || self.recalculate;
        if touches_subscription && !self.process.cancels() {
            e.add(
                "params.subscription",
                "not_allowed",
                "定期受注の変更は取消処理・強制取消処理のときだけ指定できます",
            );
        }
        if self.subscription != SubscriptionOption::Leave
            && self
                .subscription_reason
                .as_deref()
                .is_none_or(|r| r.trim().is_empty())
        {
            e.add(
                "params.subscription_reason",
                "required",
                "停止・キャンセルの理由を指定してください",
            );
        }
        e.into_result()
    }
}

/// CSV一括出力.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CsvExport {
    pub format_id: i64,
    /// `utf8`, `utf8_bom` or `cp932` (Shift_JIS for Excel); the format's own
    /// when absent.
    #[serde(default)]
    pub encoding: Option<crate::csv_format::Encoding>,
    /// 出荷リスト出力用: exported orders become 出力済 with today's date.
    #[serde(default)]
    pub shipping_list: bool,
}

/// 出荷実績インポート / 入金消込: the file (kept with the job as text) and how
/// to read it. Registered by the import endpoints, not from a selection.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct FileImport {
    /// `standard`, a carrier's format, or `saved:<id>`.
    pub format: String,
    /// The file's name as uploaded (shown in the job list).
    #[serde(default)]
    pub file_name: String,
    /// For shipment files: the columns, as they were when the job was
    /// registered (a mapping edited later does not change a queued job).
    #[serde(default)]
    pub layout: Option<crate::shipment_import::Layout>,
}

/// 送り状データ出力: which carrier's layout.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum CarrierFormat {
    /// ヤマト B2クラウド 外部データ取込 (95 columns).
    YamatoB2,
    /// 佐川 e飛伝Ⅲ 標準_飛脚宅急便_CSV_ヘッダ有り (74 columns).
    SagawaEhiden3,
    /// 日本郵便 ゆうプリR (juchu's layout with its filter file).
    JapanpostYupri,
}

impl CarrierFormat {
    pub const ALL: [CarrierFormat; 3] = [
        CarrierFormat::YamatoB2,
        CarrierFormat::SagawaEhiden3,
        CarrierFormat::JapanpostYupri,
    ];
    pub fn code(self) -> &'static str {
        match self {
            CarrierFormat::YamatoB2 => "yamato_b2",
            CarrierFormat::SagawaEhiden3 => "sagawa_ehiden3",
            CarrierFormat::JapanpostYupri => "japanpost_yupri",
        }
    }
    pub fn label(self) -> &'static str {
        match self {
            CarrierFormat::YamatoB2 => "ヤマト B2クラウド",
            CarrierFormat::SagawaEhiden3 => "佐川 e飛伝Ⅲ",
            CarrierFormat::JapanpostYupri => "日本郵便 ゆうプリR",
        }
    }
    pub fn parse(code: &str) -> Option<CarrierFormat> {
        CarrierFormat::ALL.into_iter().find(|f| f.code() == code)
    }
    /// The carrier master code of the carrier the file is for.
    pub fn carrier_code(self) -> &'static str {
        match self {
            CarrierFormat::YamatoB2 => "yamato",
            CarrierFormat::SagawaEhiden3 => "sagawa",
            CarrierFormat::JapanpostYupri => "japanpost",
        }
    }
}

/// 送り状データ出力's parameters.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CarrierExport {
    pub carrier_format: CarrierFormat,
    /// 出荷リスト出力用: exported orders become 出力済 with today's date.
    #[serde(default)]
    pub shipping_list: bool,
}

/// ブラックリスト再チェック.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct BlacklistRescan {
    pub days: i64,
}

/// A job's parameters, checked for its kind.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum JobParams {
    BulkUpdate(Box<BulkUpdate>),
    CsvExport(CsvExport),
    PdfExport(crate::document::PdfExport),
    Dunning(Dunning),
    BulkMail(BulkMail),
    PaymentChange(PaymentChange),
    BlacklistRescan(BlacklistRescan),
    ShipmentImport(FileImport),
    PaymentImport(FileImport),
    CarrierExport(CarrierExport),
}

/// A parameter error in Japanese, naming the parameter: serde's messages
/// (「missing field `format_id`」) are for programmers, not for a shop.
fn params_error(serde_message: &str) -> FieldErrors {
    let quoted = |prefix: &str| {
        serde_message
            .split(prefix)
            .nth(1)
            .and_then(|s| s.split('`').next())
            .map(str::to_string)
    };
    if let Some(name) = quoted("missing field `") {
        let message = match name.as_str() {
            "format_id" => "CSVフォーマットを選んでください（CSV管理にフォーマットがなければ、先に作るか用意されたものを使ってください）".to_string(),
            "document" => "帳票の種類（納品書・請求書・領収書）を選んでください".to_string(),
            "issue_date" => "発行日を入力してください".to_string(),
            other => format!("パラメータ「{other}」を指定してください"),
        };
        return FieldErrors::single(format!("params.{name}"), "required", message);
    }
    if let Some(name) = quoted("unknown field `") {
        return FieldErrors::single(
            format!("params.{name}"),
            "unknown_param",
            format!("パラメータ「{name}」はこのジョブにはありません"),
        );
    }
    FieldErrors::single(
        "params",
        "bad_params",
        format!("パラメータの形式が正しくありません（{serde_message}）"),
    )
}

impl JobParams {
    /// Parses and validates `params` for `kind`; errors name the parameter
    /// (`params.paid_at`).
    pub fn parse(kind: JobKind, params: &serde_json::Value) -> Result<JobParams, FieldErrors> {
        fn from<T: serde::de::DeserializeOwned>(v: &serde_json::Value) -> Result<T, FieldErrors> {
            let v = if v.is_null() {
                serde_json::Value::Object(Default::default())
            } else {
                v.clone()
            };
            serde_json::from_value(v).map_err(|e| params_error(&e.to_string()))
        }
        let p = match kind {
            JobKind::BulkUpdate => {
                let u: BulkUpdate = from(params)?;
                u.validate()?;
                JobParams::BulkUpdate(Box::new(u))
            }
            JobKind::CsvExport => JobParams::CsvExport(from(params)?),
            JobKind::PdfExport => {
                let p: crate::document::PdfExport = from(params)?;
                p.validate()?;
                JobParams::PdfExport(p)
            }
            JobKind::Dunning => {
                let d: Dunning = from(params)?;
                d.validate()?;
                JobParams::Dunning(d)
            }
            JobKind::BulkMail => {
                let m: BulkMail = from(params)?;
                m.validate()?;
                JobParams::BulkMail(m)
            }
            JobKind::PaymentChange => {
                let p: PaymentChange = from(params)?;
                p.validate()?;
                JobParams::PaymentChange(p)
            }
            JobKind::BlacklistRescan => {
                let r: BlacklistRescan = from(params)?;
                if !(1..=3660).contains(&r.days) {
                    return Err(FieldErrors::single(
                        "params.days",
                        "out_of_range",
                        "日数は1〜3660で指定してください",
                    ));
                }
                JobParams::BlacklistRescan(r)
            }
            JobKind::ShipmentImport => JobParams::ShipmentImport(from(params)?),
            JobKind::PaymentImport => JobParams::PaymentImport(from(params)?),
            JobKind::CarrierExport => JobParams::CarrierExport(from(params)?),
        };
        Ok(p)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn kinds_round_trip_and_have_seed_labels() {
        for k in JobKind::ALL {
            assert_eq!(JobKind::parse(k.code()), Some(k));
            let s = serde_json::to_value(k).unwrap();
            assert_eq!(s, json!(k.code()));
        }
        assert_eq!(
            registered_notice(JobKind::BulkMail),
            "受注 メール一括通知 を登録しました。"
        );
        assert_eq!(
            finished_notice(JobKind::BulkMail, JobStatus::Completed),
            "受注 メール一括通知 を完了しました。"
        );
        assert!(finished_notice(JobKind::BulkMail, JobStatus::Failed).contains("失敗"));
        assert_eq!(JobKind::parse("regex"), None);
    }

    #[test]
    fn bulk_update_tells_null_from_absent_and_checks_its_fields() {
        let p = JobParams::parse(
            JobKind::BulkUpdate,
            &json!({"paid_at": null, "handling_status": "発送済み"}),
        )
        .unwrap();
        let JobParams::BulkUpdate(u) = p else {
            panic!()
        };
        assert_eq!(u.paid_at, Some(None));
        assert_eq!(u.shipped_at, None);
        assert!(u.touches_order());
        assert!(!u.touches_subscription());

        let e = JobParams::parse(JobKind::BulkUpdate, &json!({})).unwrap_err();
        assert_eq!(e.0[0].field, "params");
        let e = JobParams::parse(JobKind::BulkUpdate, &json!({"paid_at": "12/01"})).unwrap_err();
        assert_eq!(e.0[0].field, "params.paid_at");
        let e = JobParams::parse(JobKind::BulkUpdate, &json!({"colour": "red"})).unwrap_err();
        assert!(e.0[0].message.contains("colour"), "{e:?}");
        let e = JobParams::parse(JobKind::BulkUpdate, &json!({"customer_blacklisted": true}))
            .unwrap_err();
        assert_eq!(e.0[0].field, "params.customer_blacklist_reason");
        let e = JobParams::parse(JobKind::BulkUpdate, &json!({"subscription_status": "停止"}))
            .unwrap_err();
        assert_eq!(e.0[0].field, "params.subscription_status_reason");
        let e = JobParams::parse(JobKind::BulkUpdate, &json!({"subscription_status": "休眠"}))
            .unwrap_err();
        assert_eq!(e.0[0].field, "params.subscription_status");
        let e = JobParams::parse(
            JobKind::BulkUpdate,
            &json!({"subscription_next_ship_date": "2026-12-10", "subscription_next_delivery_date": "2026-12-12", "subscription_sync_dates": true}),
        )
        .unwrap_err();
        assert_eq!(e.0[0].field, "params.subscription_sync_dates");
    }

    #[test]
    fn edits_overwrite_add_remove_and_clear() {
        let add = TextEdit {
            mode: EditMode::Add,
            value: "再送".into(),
        };
        assert_eq!(add.apply(""), "再送");
        assert_eq!(add.apply("電話済"), "電話済\n再送");
        let clear = TextEdit {
            mode: EditMode::Clear,
            value: String::new(),
        };
        assert_eq!(clear.apply("電話済"), "");
        let cur = vec!["VIP".to_string(), "要確認".to_string()];
        let l = |mode, values: &[&str]| LabelsEdit {
            mode,
            values: values.iter().map(|s| s.to_string()).collect(),
        };
        assert_eq!(
            l(EditMode::Add, &["VIP", "ギフト"]).apply(&cur),
            vec!["VIP", "要確認", "ギフト"]
        );
        assert_eq!(l(EditMode::Remove, &["VIP"]).apply(&cur), vec!["要確認"]);
        assert_eq!(
            l(EditMode::Overwrite, &["ギフト"]).apply(&cur),
            vec!["ギフト"]
        );
        assert!(l(EditMode::Clear, &[]).apply(&cur).is_empty());
    }

    #[test]
    fn captured_orders_keep_payment_method_and_carrier() {
        let m = crate::order::tests::masters();
        let p = crate::order::tests::products();
        let mut o = crate::order::tests::order_with(&m, &p, &[("CUP-01", 1, None)]);
        let u = BulkUpdate {
            payment_method: Some(Some("代金引換".into())),
            ..BulkUpdate::default()
        };
        assert!(u.check_order(&o).is_ok());
        o.payment_status = PaymentStatus::Captured;
        assert!(u.check_order(&o).unwrap_err().contains("支払方法"));
        let c = BulkUpdate {
            carrier: Some(None),
            ..BulkUpdate::default()
        };
        assert!(c.check_order(&o).unwrap_err().contains("配送業者"));
        let status = BulkUpdate {
            handling_status: Some("発送済み".into()),
            ..BulkUpdate::default()
        };
        assert!(status.check_order(&o).is_ok());
        assert_eq!(u.reminders().len(), 1);
        assert!(c.reminders()[0].contains("再計算"));
    }

    #[test]
    fn dunning_mail_and_payment_params_are_checked() {
        assert!(JobParams::parse(JobKind::Dunning, &json!({"memo": "電話で督促"})).is_ok());
        assert!(JobParams::parse(JobKind::Dunning, &json!({"due_date": "2026-12-20"})).is_ok());
        let e = JobParams::parse(JobKind::Dunning, &json!({})).unwrap_err();
        assert_eq!(e.0[0].field, "params.memo");
        let d = Dunning {
            memo: "再送".into(),
            due_date: Some("2026-12-20".into()),
        };
        assert_eq!(d.describe(), "再送（支払期限 2026-12-20）");

        assert!(JobParams::parse(JobKind::BulkMail, &json!({"template_code": "shipped"})).is_ok());
        let e = JobParams::parse(JobKind::BulkMail, &json!({"subject": "x"})).unwrap_err();
        assert_eq!(e.0[0].field, "params");
        let e = JobParams::parse(
            JobKind::BulkMail,
            &json!({"subject": "お知らせ", "body": "本文", "cc": ["not an address"]}),
        )
        .unwrap_err();
        assert_eq!(e.0[0].field, "params.cc[0]");

        assert!(JobParams::parse(JobKind::PaymentChange, &json!({"process": "capture"})).is_ok());
        let e = JobParams::parse(
            JobKind::PaymentChange,
            &json!({"process": "capture", "decrement_count": true}),
        )
        .unwrap_err();
        assert_eq!(e.0[0].field, "params.subscription");
        let e = JobParams::parse(
            JobKind::PaymentChange,
            &json!({"process": "cancel", "subscription": "stop"}),
        )
        .unwrap_err();
        assert_eq!(e.0[0].field, "params.subscription_reason");
        assert!(JobParams::parse(JobKind::PaymentChange, &json!({"process": "refund"})).is_err());
        assert!(JobParams::parse(JobKind::BlacklistRescan, &json!({"days": 0})).is_err());
    }

    #[test]
    fn missing_and_unknown_params_are_named_in_japanese() {
        let e = JobParams::parse(JobKind::CsvExport, &serde_json::json!({})).unwrap_err();
        assert_eq!(e.0[0].field, "params.format_id");
        assert!(
            e.0[0].message.contains("CSVフォーマットを選んでください"),
            "{e:?}"
        );
        assert!(!e.0[0].message.contains("missing field"));
        let e = JobParams::parse(
            JobKind::CsvExport,
            &serde_json::json!({"format_id": 1, "colour": 2}),
        )
        .unwrap_err();
        assert_eq!(e.0[0].field, "params.colour");
        assert!(e.0[0].message.contains("「colour」"));
    }
}
