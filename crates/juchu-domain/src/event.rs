//! Typed events derived from a change of an order. Automation rules (自動化設定)
//! trigger on these; they are also written to the order's event log.

use crate::masters::Masters;
use crate::order::Order;
use crate::status::{PaymentStatus, ShipmentStatus, ShippingListState};
use serde::{Deserialize, Serialize};

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum OrderEvent {
    /// 受注作成
    Created,
    /// 対応状況が X になった
    HandlingStatusBecame { name: String },
    /// 決済状況が X になった
    PaymentStatusBecame { status: PaymentStatus },
    /// 支払方法が X になった
    PaymentMethodBecame { name: String },
    /// 配送業者が X になった
    CarrierBecame { name: String },
    /// 配送伝票番号が登録された: set for the first time (the order had none).
    TrackingNumberSet { tracking_number: String },
    /// 配送伝票番号が変更された: a number replaced by another (a correction).
    /// Kept apart so a corrected number does not send 発送のお知らせ again.
    TrackingNumberChanged { tracking_number: String },
    /// 発送状況が X になった: the order's, which on a split order is every
    /// package's (発送済: all packages shipped).
    ShipmentStatusBecame { status: ShipmentStatus },
    /// 出荷（一つの荷物）の発送状況が X になった: one package of a split or
    /// multi-parcel order.
    PackageStatusBecame {
        shipment: u32,
        status: ShipmentStatus,
    },
    /// 発送完了日が登録された
    ShippedAtSet { date: String },
    /// 配送完了日が登録された
    DeliveredAtSet { date: String },
    /// 出荷リストが出力済になった
    ShippingListExported,
    /// 定期受注のステータスが X になった: raised on the subscription's latest
    /// order when an operator, the API or a job changes the subscription.
    SubscriptionStatusBecame {
        status: crate::status::SubscriptionStatus,
    },
}

impl OrderEvent {
    /// Japanese description, for 履歴 and the automation UI.
    pub fn describe(&self) -> String {
        match self {
            OrderEvent::Created => "受注作成".into(),
            OrderEvent::HandlingStatusBecame { name } => format!("対応状況が「{name}」になった"),
            OrderEvent::PaymentStatusBecame { status } => {
                format!("決済状況が「{}」になった", status.label())
            }
            OrderEvent::PaymentMethodBecame { name } => format!("支払方法が「{name}」になった"),
            OrderEvent::CarrierBecame { name } => format!("配送業者が「{name}」になった"),
            OrderEvent::TrackingNumberSet { .. } => "配送伝票番号が登録された".into(),
            OrderEvent::TrackingNumberChanged { .. } => "配送伝票番号が変更された".into(),
            OrderEvent::ShipmentStatusBecame { status } => {
                format!("発送状況が「{}」になった", status.label())
            }
            OrderEvent::PackageStatusBecame { shipment, status } => {
                format!("出荷{shipment}の発送状況が「{}」になった", status.label())
            }
            OrderEvent::ShippedAtSet { .. } => "発送完了日が登録された".into(),
            OrderEvent::DeliveredAtSet { .. } => "配送完了日が登録された".into(),
            OrderEvent::ShippingListExported => "出荷リストが出力済になった".into(),
            OrderEvent::SubscriptionStatusBecame { status } => {
                format!("定期受注のステータスが「{}」になった", status.label())
            }
        }
    }

    pub fn kind(&self) -> &'static str {
        match self {
            OrderEvent::Created => "created",
            OrderEvent::HandlingStatusBecame { .. } => "handling_status_became",
            OrderEvent::PaymentStatusBecame { .. } => "payment_status_became",
            OrderEvent::PaymentMethodBecame { .. } => "payment_method_became",
            OrderEvent::CarrierBecame { .. } => "carrier_became",
            OrderEvent::TrackingNumberSet { .. } => "tracking_number_set",
            OrderEvent::TrackingNumberChanged { .. } => "tracking_number_changed",
            OrderEvent::ShipmentStatusBecame { .. } => "shipment_status_became",
            OrderEvent::PackageStatusBecame { .. } => "package_status_became",
            OrderEvent::ShippedAtSet { .. } => "shipped_at_set",
            OrderEvent::DeliveredAtSet { .. } => "delivered_at_set",
            OrderEvent::ShippingListExported => "shipping_list_exported",
            OrderEvent::SubscriptionStatusBecame { .. } => "subscription_status_became",
        }
    }
}

/// Events of a change from `before` (None: the order is new) to `after`.
/// "Set" events fire when a value appears or changes to another non-empty value,
/// never when it is cleared; for the tracking number, "set" is the first one and
/// a later different one is "changed".
pub fn derive_events(before: Option<&Order>, after: &Order, m: &Masters) -> Vec<OrderEvent> {
    let Some(b) = before else {
        return vec![OrderEvent::Created];
    };
    let mut events = Vec::new();
    if b.handling_status_id != after.handling_status_id
        && let Some(s) = m.handling_status(after.handling_status_id)
    {
        events.push(OrderEvent::HandlingStatusBecame {
            name: s.name.clone(),
        });
    }
    if b.payment_status != after.payment_status {
        events.push(OrderEvent::PaymentStatusBecame {
            status: after.payment_status,
        });
    }
    if b.payment_method_id != after.payment_method_id
        && let Some(pm) = after.payment_method_id.and_then(|id| m.payment_method(id))
    {
        events.push(OrderEvent::PaymentMethodBecame {
            name: pm.name.clone(),
        });
    }
    if b.carrier_id != after.carrier_id
        && let Some(c) = after.carrier_id.and_then(|id| m.carrier(id))
    {
        events.push(OrderEvent::CarrierBecame {
            name: c.name.clone(),
        });
    }
    if b.tracking_number != after.tracking_number
        && let Some(t) = &after.tracking_number
    {
        let tracking_number = t.clone();
        events.push(if b.tracking_number.is_none() {
            OrderEvent::TrackingNumberSet { tracking_number }
        } else {
            OrderEvent::TrackingNumberChanged { tracking_number }
        });
    }
    if !b.shipments.is_empty() || !after.shipments.is_empty() {
        let before_packages = b.effective_shipments();
        for s in after.effective_shipments() {
            let was = before_packages
                .iter()
                .find(|p| p.number == s.number)
                .map(|p| p.status);
            if was.is_some_and(|w| w != s.status)
                || (was.is_none() && s.status != ShipmentStatus::NotShipped)
            {
                events.push(OrderEvent::PackageStatusBecame {
                    shipment: s.number,
                    status: s.status,
                });
            }
        }
    }
    if b.shipment_status != after.shipment_status {
        events.push(OrderEvent::ShipmentStatusBecame {
            status: after.shipment_status,
        });
    }
    if b.shipped_at != after.shipped_at
        && let Some(d) = after.shipped_at
    {
        events.push(OrderEvent::ShippedAtSet {
            date: d.to_string(),
        });
    }
    if b.delivered_at != after.delivered_at
        && let Some(d) = after.delivered_at
    {
        events.push(OrderEvent::DeliveredAtSet {
            date: d.to_string(),
        });
    }
    if b.shipping_list_state != after.shipping_list_state
        && after.shipping_list_state == ShippingListState::Exported
    {
        events.push(OrderEvent::ShippingListExported);
    }
    events
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::order::tests::{masters, new_order, products};
    use crate::order::{OrderContext, build_order};
    use crate::patch::{OrderPatch, apply_patch};
    use crate::status::RoundingMode;

    #[test]
    fn events_of_a_shipping_change() {
        let (m, p) = (masters(), products());
        let ctx = OrderContext {
            masters: &m,
            products: &p,
            rounding: RoundingMode::Floor,
        };
        let before =
            build_order(new_order(), &ctx, "2026-11-24T00:00:00Z".parse().unwrap()).unwrap();
        assert_eq!(derive_events(None, &before, &m), [OrderEvent::Created]);
        let patch = OrderPatch {
            tracking_number: Some(Some("1234-5678-9013".into())),
            shipment_status: Some("発送済".into()),
            payment_status: Some("売上完了".into()),
            shipping_list_state: Some("出力済".into()),
            delivered_at: Some(Some("2026-11-26".into())),
            ..Default::default()
        };
        let after = apply_patch(&before, &patch, &ctx, "2026-11-25".parse().unwrap()).unwrap();
        let kinds: Vec<_> = derive_events(Some(&before), &after, &m)
            .iter()
            .map(OrderEvent::kind)
            .collect();
        assert_eq!(
            kinds,
            [
                "payment_status_became",
                "tracking_number_set",
                "shipment_status_became",
                "shipped_at_set",
                "delivered_at_set",
                "shipping_list_exported"
            ]
        );
    }

    #[test]
    fn clearing_fires_nothing() {
        let (m, p) = (masters(), products());
        let ctx = OrderContext {
            masters: &m,
            products: &p,
            rounding: RoundingMode::Floor,
        };
        let mut before =
            build_order(new_order(), &ctx, "2026-11-24T00:00:00Z".parse().unwrap()).unwrap();
        before.tracking_number = Some("1".into());
        before.carrier_id = Some(1);
        let after = apply_patch(
            &before,
            &OrderPatch {
                tracking_number: Some(None),
                carrier: Some(None),
                ..Default::default()
            },
            &ctx,
            "2026-11-25".parse().unwrap(),
        )
        .unwrap();
        assert!(derive_events(Some(&before), &after, &m).is_empty());
    }

    #[test]
    fn a_first_number_ships_and_is_set_a_correction_is_changed() {
        let (m, p) = (masters(), products());
        let ctx = OrderContext {
            masters: &m,
            products: &p,
            rounding: RoundingMode::Floor,
        };
        let before =
            build_order(new_order(), &ctx, "2026-11-24T00:00:00Z".parse().unwrap()).unwrap();
        let day: jiff::civil::Date = "2026-11-25".parse().unwrap();
        let number = |n: &str| OrderPatch {
            tracking_number: Some(Some(n.into())),
            ..Default::default()
        };
        // The first number on a 未発送 order: 発送済 today, "set".
        let shipped = apply_patch(&before, &number("1234-5678-9013"), &ctx, day).unwrap();
        assert_eq!(shipped.shipment_status, ShipmentStatus::Shipped);
        assert_eq!(shipped.shipped_at, Some(day));
        let kinds: Vec<_> = derive_events(Some(&before), &shipped, &m)
            .iter()
            .map(OrderEvent::kind)
            .collect();
        assert_eq!(
            kinds,
            [
                "tracking_number_set",
                "shipment_status_became",
                "shipped_at_set"
            ]
        );
        // A corrected number: "changed", never "set" again (no second 発送メール).
        let fixed = apply_patch(&shipped, &number("4444-5555-6661"), &ctx, day).unwrap();
        assert_eq!(
            derive_events(Some(&shipped), &fixed, &m),
            [OrderEvent::TrackingNumberChanged {
                tracking_number: "444455556661".into()
            }]
        );
        // A mistyped number is refused on the field; nothing ships.
        let e = apply_patch(&before, &number("1234-5678-9012"), &ctx, day).unwrap_err();
        assert_eq!(e.0[0].field, "tracking_number");
        // 発送指示 with the number: not shipped yet (a dated delivery).
        let instructed = apply_patch(
            &before,
            &OrderPatch {
                shipment_status: Some("発送指示".into()),
                ..number("1234-5678-9013")
            },
            &ctx,
            day,
        )
        .unwrap();
        assert_eq!(instructed.shipment_status, ShipmentStatus::Instructed);
        assert_eq!(instructed.shipped_at, None);
        // A form that sends the status as it was (未発送) and an empty
        // 発送完了日 still ships it today.
        let from_form = apply_patch(
            &before,
            &OrderPatch {
                shipment_status: Some("未発送".into()),
                shipped_at: Some(None),
                ..number("1234-5678-9013")
            },
            &ctx,
            day,
        )
        .unwrap();
        assert_eq!(from_form.shipment_status, ShipmentStatus::Shipped);
        assert_eq!(from_form.shipped_at, Some(day));
    }

    #[test]
    fn events_serialise_with_a_kind_tag() {
        let e = OrderEvent::PaymentStatusBecame {
            status: PaymentStatus::CreditCheckError,
        };
        let json = serde_json::to_string(&e).unwrap();
        assert_eq!(
            json,
            r#"{"kind":"payment_status_became","status":"credit_check_error"}"#
        );
        assert_eq!(serde_json::from_str::<OrderEvent>(&json).unwrap(), e);
        assert_eq!(e.describe(), "決済状況が「与信審査エラー」になった");
    }
}
