//! The customer's side (マイページ): what a customer is told an order's 対応状況
//! means, the subscription terms kept from checkout (特商法 §12の6), and the
//! account mails (invitation, login link, password reset).

use crate::calendar::Cycle;
use crate::masters::HandlingStatus;
use crate::order::Order;
use crate::subscription::Subscription;
use serde::{Deserialize, Serialize};

/// The status a customer reads for a 対応状況 the shop has not labelled:
/// the shop's own words (処理中, 保留, 決済NG) are not for customers.
pub fn default_customer_label(handling_status: &str) -> &'static str {
    match handling_status {
        "発送準備中" => "発送準備中",
        "発送完了" => "発送済み",
        // 完了 is the last step after delivery (seed 003's 取引完了).
        "配送完了" | "完了" => "お届け済み",
        "キャンセル" => "キャンセル",
        "返品" => "返品",
        _ => "ご注文受付",
    }
}

/// The label the customer reads: the shop's, or the default for its name.
pub fn customer_label(status: &HandlingStatus, shop_label: Option<&str>) -> String {
    shop_label
        .map(str::trim)
        .filter(|l| !l.is_empty())
        .map(str::to_string)
        .unwrap_or_else(|| default_customer_label(&status.name).to_string())
}

/// What a new shop's subscriptions tell customers about cancelling.
pub const DEFAULT_CANCELLATION_TERMS: &str = "次回発送予定日の前日までに、マイページの申請フォーム・メール・お電話のいずれかでお申し出ください。回数のお約束はなく、いつでも解約・休止・スキップ・お届け間隔の変更ができます。";

/// The terms shown when the subscription was bought, kept as they were
/// (特商法 §12の6: 分量, 価格, 支払時期, 引渡時期, 解約). Later edits to the
/// subscription never change it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SubscriptionTerms {
    /// When the customer agreed (the parent order's time, Asia/Tokyo).
    pub agreed_at: String,
    /// Each item and quantity per delivery.
    pub items: Vec<TermsItem>,
    /// 初回: what the first delivery cost (the parent order's total).
    pub first_delivery_price: i64,
    /// 2回目以降: items at the later prices plus the first order's shipping
    /// and payment fees, tax included.
    pub later_delivery_price: i64,
    /// 回数: 「定めなし」 or a number.
    pub deliveries: String,
    /// お届けの間隔.
    pub cycle: String,
    pub payment_method: String,
    /// 支払時期.
    pub billing_timing: String,
    /// 解約・変更の方法.
    pub cancellation: String,
    /// Which version of the shop's wording this is.
    pub text_version: String,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct TermsItem {
    pub name: String,
    pub quantity: i64,
    pub first_unit_price: i64,
    pub later_unit_price: i64,
}

/// Version tag of the wording below; change it when the wording changes.
pub const TERMS_TEXT_VERSION: &str = "2026-12";

/// The snapshot taken when `sub` is created from its parent `order`.
pub fn terms_of(
    sub: &Subscription,
    order: &Order,
    payment_method: &str,
    cancellation: &str,
    agreed_at: &str,
) -> SubscriptionTerms {
    let items: Vec<TermsItem> = sub
        .items
        .iter()
        .filter(|i| !i.is_bundled_item)
        .map(|i| TermsItem {
            name: i.product_name.clone(),
            quantity: i.quantity,
            first_unit_price: i.price_for(1),
            later_unit_price: i.price_for(2),
        })
        .collect();
    let later_items: i64 = sub
        .items
        .iter()
        .filter(|i| i.delivers_on(2))
        .map(|i| i.price_for(2).saturating_mul(i.quantity))
        .sum();
    let cancellation = if cancellation.trim().is_empty() {
        DEFAULT_CANCELLATION_TERMS
    } else {
        cancellation.trim()
    };
    SubscriptionTerms {
        agreed_at: agreed_at.to_string(),
        items,
        first_delivery_price: order.totals.total,
        later_delivery_price: later_items + order.totals.shipping_fee + order.totals.payment_fee,
        deliveries: "定めなし（解約のお申し出まで継続）".into(),
        cycle: cycle_label(&sub.cycle),
        payment_method: payment_method.to_string(),
        billing_timing: "各回のご注文の作成時（発送前）にお支払い方法で決済します".into(),
        cancellation: cancellation.to_string(),
        text_version: TERMS_TEXT_VERSION.into(),
    }
}

fn cycle_label(c: &Cycle) -> String {
    c.label()
}

/// Which one-time link a mail carries.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AccountLink {
    /// 招待: sets the first password.
    Invitation,
    /// ログインリンク: signs in once, no password.
    Login,
    /// パスワード再設定.
    PasswordReset,
}

impl AccountLink {
    pub fn code(self) -> &'static str {
        match self {
            AccountLink::Invitation => "invitation",
            AccountLink::Login => "login",
            AccountLink::PasswordReset => "password_reset",
        }
    }
    pub fn parse(s: &str) -> Option<AccountLink> {
        [
            AccountLink::Invitation,
            AccountLink::Login,
            AccountLink::PasswordReset,
        ]
        .into_iter()
        .find(|l| l.code() == s)
    }
    /// How long the link works.
    pub fn valid_hours(self) -> i64 {
        match self {
            AccountLink::Invitation => 7 * 24,
            AccountLink::Login => 1,
            AccountLink::PasswordReset => 1,
        }
    }
    /// The mail's template code in the outbox.
    pub fn mail_code(self) -> &'static str {
        match self {
            AccountLink::Invitation => "mypage_invitation",
            AccountLink::Login => "mypage_login_link",
            AccountLink::PasswordReset => "mypage_password_reset",
        }
    }

    /// Subject and body of the mail carrying `url`.
    pub fn mail(self, shop_name: &str, customer_name: &str, url: &str) -> (String, String) {
        let hours = self.valid_hours();
        let valid = if hours >= 24 {
            format!("{}日間", hours / 24)
        } else {
            format!("{hours}時間")
        };
        match self {
            AccountLink::Invitation => (
                format!("【{shop_name}】マイページのご案内"),
                format!(
                    "{customer_name} 様\n\n{shop_name}のマイページをご用意しました。\n下記のリンクからパスワードを設定すると、ご注文の履歴・配送状況・定期便の内容の確認や、スキップ・休止などのお申し込みができます。\n\n{url}\n\nこのリンクの有効期限は{valid}です。お心当たりのない場合はこのメールを破棄してください。\n\n{shop_name}\n"
                ),
            ),
            AccountLink::Login => (
                format!("【{shop_name}】マイページへのログインリンク"),
                format!(
                    "{customer_name} 様\n\n下記のリンクを開くとマイページにログインできます（1回限り有効）。\n\n{url}\n\nこのリンクの有効期限は{valid}です。お心当たりのない場合はこのメールを破棄してください。\n\n{shop_name}\n"
                ),
            ),
            AccountLink::PasswordReset => (
                format!("【{shop_name}】パスワード再設定のご案内"),
                format!(
                    "{customer_name} 様\n\n下記のリンクから新しいパスワードを設定してください（1回限り有効）。\n\n{url}\n\nこのリンクの有効期限は{valid}です。お心当たりのない場合はこのメールを破棄してください。パスワードは変更されません。\n\n{shop_name}\n"
                ),
            ),
        }
    }
}

/// Who wrote a message on an order (管理者用スペース).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum MessageAuthor {
    Shop,
    Customer,
}

impl MessageAuthor {
    pub fn code(self) -> &'static str {
        match self {
            MessageAuthor::Shop => "shop",
            MessageAuthor::Customer => "customer",
        }
    }
    pub fn parse(s: &str) -> Option<MessageAuthor> {
        match s {
            "shop" => Some(MessageAuthor::Shop),
            "customer" => Some(MessageAuthor::Customer),
            _ => None,
        }
    }
}

/// Longest message on an order.
pub const MAX_MESSAGE_CHARS: usize = 5_000;

/// Checks a message body: not empty, not too long.
pub fn check_message(body: &str) -> Result<(), crate::FieldErrors> {
    let mut e = crate::FieldErrors::default();
    crate::text::check_required(&mut e, "body", body);
    crate::text::check_len(&mut e, "body", body, MAX_MESSAGE_CHARS);
    e.into_result()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn customers_read_their_own_words_for_the_shops_statuses() {
        assert_eq!(default_customer_label("新規受付"), "ご注文受付");
        assert_eq!(default_customer_label("処理中"), "ご注文受付");
        assert_eq!(default_customer_label("決済NG"), "ご注文受付");
        assert_eq!(default_customer_label("発送準備中"), "発送準備中");
        assert_eq!(default_customer_label("発送完了"), "発送済み");
        assert_eq!(default_customer_label("配送完了"), "お届け済み");
        assert_eq!(default_customer_label("キャンセル"), "キャンセル");
        assert_eq!(default_customer_label("完了"), "お届け済み");
        assert_eq!(default_customer_label("返品"), "返品");
        let s = HandlingStatus {
            id: 1,
            name: "保留".into(),
            position: 1,
            color: String::new(),
            is_default: false,
        };
        assert_eq!(customer_label(&s, None), "ご注文受付");
        assert_eq!(customer_label(&s, Some("  ")), "ご注文受付");
        assert_eq!(customer_label(&s, Some("入荷待ち")), "入荷待ち");
    }

    #[test]
    fn account_mails_carry_the_link_and_its_lifetime() {
        let (subject, body) =
            AccountLink::Invitation.mail("茶舗", "山田 花子", "https://x/mypage/welcome/t");
        assert!(subject.contains("茶舗"));
        assert!(body.contains("https://x/mypage/welcome/t"));
        assert!(body.contains("7日間"));
        let (_, body) = AccountLink::Login.mail("茶舗", "山田 花子", "u");
        assert!(body.contains("1時間"));
        for l in [
            AccountLink::Invitation,
            AccountLink::Login,
            AccountLink::PasswordReset,
        ] {
            assert_eq!(AccountLink::parse(l.code()), Some(l));
        }
    }

    #[test]
    fn messages_are_checked() {
        assert!(check_message(" ").is_err());
        assert!(check_message(&"あ".repeat(MAX_MESSAGE_CHARS + 1)).is_err());
        check_message("発送は明日になります").unwrap();
    }
}
