//! Fixed status vocabularies. Handling statuses (対応状況) are shop data and live in
//! the masters module; the ones here are fixed by the domain.

use serde::{Deserialize, Serialize};

macro_rules! labelled_enum {
    ($(#[$meta:meta])* $name:ident { $($(#[$vmeta:meta])* $variant:ident => $code:literal, $label:literal;)+ }) => {
        $(#[$meta])*
        #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
        #[serde(rename_all = "snake_case")]
        pub enum $name { $($(#[$vmeta])* $variant,)+ }

        impl $name {
            pub const ALL: &'static [$name] = &[$($name::$variant,)+];
            /// Stable identifier stored in the database and used by the API.
            pub fn code(self) -> &'static str { match self { $($name::$variant => $code,)+ } }
            /// Japanese label shown in the UI and accepted by the API.
            pub fn label(self) -> &'static str { match self { $($name::$variant => $label,)+ } }
            pub fn from_code(s: &str) -> Option<Self> { match s { $($code => Some($name::$variant),)+ _ => None } }
            /// Accepts the code or the Japanese label.
            pub fn parse(s: &str) -> Option<Self> {
                let s = s.trim();
                Self::from_code(s).or_else(|| Self::ALL.iter().copied().find(|v| v.label() == s))
            }
        }
    };
}

labelled_enum! {
    /// 決済状況: where the payment stands. Which moves are allowed is
    /// [`PaymentStatus::can_become`]; an operator may override with 強制売上 / 強制取消.
    PaymentStatus {
        /// Nothing has happened yet.
        Unpaid => "unpaid", "未決済";
        /// Credit check requested, answer pending (NP後払い).
        CreditCheckPending => "credit_check_pending", "与信審査中";
        CreditCheckApproved => "credit_check_approved", "与信審査完了";
        CreditCheckError => "credit_check_error", "与信審査エラー";
        /// Card authorised (仮売上).
        Authorized => "authorized", "仮売上完了";
        AuthorizationFailed => "authorization_failed", "仮売上失敗";
        /// Deferred-payment registration refused.
        RegistrationFailed => "registration_failed", "取引登録失敗";
        /// Bank transfer / convenience store: waiting for the money.
        AwaitingPayment => "awaiting_payment", "入金待ち";
        Paid => "paid", "入金済み";
        /// Captured (売上).
        Captured => "captured", "売上完了";
        Cancelled => "cancelled", "取消完了";
    }
}

impl PaymentStatus {
    /// Whether 決済状況 may go from `self` to `to` through an ordinary change. The
    /// table follows the providers: a card is authorised (仮売上) and then captured
    /// (売上) or cancelled, a failed authorisation can be retried (再オーソリ);
    /// deferred payment (後払い) is registered, credit-checked, then captured;
    /// bank transfer / convenience store wait for the money (入金待ち → 入金済み);
    /// after 取消完了 only a new registration or authorisation starts again.
    /// Anything else — e.g. 取消完了 → 売上完了 — needs 強制売上 / 強制取消.
    pub fn can_become(self, to: PaymentStatus) -> bool {
        use PaymentStatus::*;
        if self == to {
            return true;
        }
        // 再オーソリ: a new authorisation or registration (possibly with another
        // payment method) may replace any payment that has not been settled.
        let restart = matches!(
            to,
            CreditCheckPending
                | CreditCheckError
                | Authorized
                | AuthorizationFailed
                | RegistrationFailed
                | AwaitingPayment
        );
        match self {
            // The first result of any payment method.
            Unpaid => true,
            Captured => matches!(to, Cancelled),
            Paid => matches!(to, Captured | Cancelled),
            CreditCheckPending => restart || matches!(to, CreditCheckApproved | Cancelled),
            CreditCheckApproved | Authorized => restart || matches!(to, Captured | Cancelled),
            AwaitingPayment => restart || matches!(to, Paid | Cancelled),
            CreditCheckError | AuthorizationFailed | RegistrationFailed => {
                restart || matches!(to, Cancelled)
            }
            Cancelled => restart,
        }
    }
}

labelled_enum! {
    /// 強制売上 / 強制取消: set 決済状況 to 売上完了 / 取消完了 whatever it was,
    /// changing only our record (the provider is not called), and say so in 履歴.
    PaymentOverride {
        ForceCapture => "force_capture", "強制売上";
        ForceCancel => "force_cancel", "強制取消";
    }
}

impl PaymentOverride {
    pub fn target(self) -> PaymentStatus {
        match self {
            PaymentOverride::ForceCapture => PaymentStatus::Captured,
            PaymentOverride::ForceCancel => PaymentStatus::Cancelled,
        }
    }
}

labelled_enum! {
    /// 出荷リスト: whether the order was exported on a shipping list.
    ShippingListState {
        NotExported => "not_exported", "未出力";
        Exported => "exported", "出力済";
    }
}

labelled_enum! {
    /// 発送状況.
    ShipmentStatus {
        NotShipped => "not_shipped", "未発送";
        /// Ship later (e.g. a dated delivery).
        Instructed => "instructed", "発送指示";
        Shipped => "shipped", "発送済";
    }
}

labelled_enum! {
    /// 税率: Japan's standard and reduced consumption tax rates.
    TaxRate {
        Standard => "10", "10%";
        /// 軽減税率 (food, newspapers).
        Reduced => "8", "8%（軽減税率）";
    }
}

impl TaxRate {
    pub fn percent(self) -> i64 {
        match self {
            TaxRate::Standard => 10,
            TaxRate::Reduced => 8,
        }
    }
    pub fn from_percent(p: i64) -> Option<Self> {
        match p {
            10 => Some(TaxRate::Standard),
            8 => Some(TaxRate::Reduced),
            _ => None,
        }
    }
}

labelled_enum! {
    /// 端数処理: how the per-rate consumption tax is rounded.
    RoundingMode {
        Floor => "floor", "切り捨て";
        HalfUp => "half_up", "四捨五入";
        Ceil => "ceil", "切り上げ";
    }
}

labelled_enum! {
    /// ステータス(定期): whether a subscription creates orders.
    SubscriptionStatus {
        /// 有効: orders are created by the daily run and can be created by hand.
        Active => "active", "有効";
        /// 停止: neither automatic nor manual creation.
        Stopped => "stopped", "停止";
        /// キャンセル: no automatic creation.
        Cancelled => "cancelled", "キャンセル";
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parse_accepts_code_and_label() {
        assert_eq!(
            PaymentStatus::parse("captured"),
            Some(PaymentStatus::Captured)
        );
        assert_eq!(
            PaymentStatus::parse("売上完了"),
            Some(PaymentStatus::Captured)
        );
        assert_eq!(PaymentStatus::parse("売上"), None);
        assert_eq!(
            ShipmentStatus::parse("発送済"),
            Some(ShipmentStatus::Shipped)
        );
        for s in PaymentStatus::ALL {
            assert_eq!(PaymentStatus::from_code(s.code()), Some(*s));
        }
    }

    #[test]
    fn payment_transitions() {
        use PaymentStatus::*;
        // Every status can be reached from 未決済, and staying is always allowed.
        for s in PaymentStatus::ALL {
            assert!(Unpaid.can_become(*s));
            assert!(s.can_become(*s));
        }
        assert!(Authorized.can_become(Captured));
        assert!(AuthorizationFailed.can_become(Authorized), "再オーソリ");
        assert!(CreditCheckPending.can_become(CreditCheckApproved));
        assert!(AwaitingPayment.can_become(Paid));
        assert!(Cancelled.can_become(CreditCheckPending), "re-registration");
        assert!(!Cancelled.can_become(Captured));
        assert!(!Captured.can_become(Authorized));
        assert!(!CreditCheckError.can_become(Captured));
        assert!(
            AwaitingPayment.can_become(Authorized),
            "再オーソリ with a card"
        );
        assert!(
            CreditCheckError.can_become(AwaitingPayment),
            "再オーソリ to 代金引換"
        );
        assert!(!Paid.can_become(Authorized), "money arrived: cancel first");
        assert!(!Captured.can_become(AwaitingPayment));
        assert!(
            !CreditCheckError.can_become(CreditCheckApproved),
            "only from 与信審査中"
        );
        assert!(!Captured.can_become(Unpaid));
        // Nothing goes back to 未決済 once a payment result exists.
        for s in PaymentStatus::ALL.iter().filter(|s| **s != Unpaid) {
            assert!(!s.can_become(Unpaid), "{s:?}");
        }
        assert_eq!(PaymentOverride::ForceCapture.target(), Captured);
        assert_eq!(
            PaymentOverride::parse("強制取消"),
            Some(PaymentOverride::ForceCancel)
        );
    }

    #[test]
    fn tax_rates() {
        assert_eq!(TaxRate::from_percent(8), Some(TaxRate::Reduced));
        assert_eq!(TaxRate::from_percent(5), None);
    }
}
