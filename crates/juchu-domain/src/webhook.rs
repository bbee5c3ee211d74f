//! Outbound webhooks: which events juchu publishes, what they carry, how a
//! failed delivery is retried, and which addresses an endpoint may reach.
//!
//! Events are written to an outbox in the transaction of the change that
//! caused them (the store); workers deliver them (the adapters). Delivery is
//! at least once: a consumer deduplicates by the event's `id`.

use crate::event::OrderEvent;
use crate::order::Order;
use crate::patch::FieldChange;
use crate::status::ShipmentStatus;
use crate::subscription::{Subscription, SubscriptionChange};
use serde_json::{Value, json};
use std::net::IpAddr;

/// Every event type an endpoint can ask for: dotted lower-case names.
pub const EVENT_TYPES: &[(&str, &str)] = &[
    ("order.created", "受注作成"),
    ("order.changed", "受注変更（変更した項目と変更前後の値）"),
    ("order.shipped", "発送済"),
    ("order.delivered", "配送完了"),
    ("order.cancelled", "キャンセル"),
    ("order.payment_status_changed", "決済状況の変更"),
    ("subscription.created", "定期受注作成"),
    ("subscription.changed", "定期受注変更"),
    ("subscription.order_created", "定期受注からの受注作成"),
    ("request.received", "申請の受付"),
    ("request.completed", "申請の対応完了"),
    ("request.refused", "申請の対応不可"),
    ("job.completed", "一括処理の完了"),
];

/// The type of a test delivery (テスト送信); never in the event feed.
pub const TEST_EVENT: &str = "webhook.test";

/// Whether `t` is a type an endpoint may subscribe to (`*` is every type).
pub fn is_known_type(t: &str) -> bool {
    t == "*" || EVENT_TYPES.iter().any(|(name, _)| *name == t)
}

/// Whether an endpoint that asked for `wanted` gets an event of type `t`.
pub fn wants(wanted: &[String], t: &str) -> bool {
    t == TEST_EVENT || wanted.iter().any(|w| w == "*" || w == t)
}

/// One event to publish: its type, the key its deliveries are ordered by
/// (`order:<id>`: the events of one order reach an endpoint in order) and
/// its data.
#[derive(Debug, Clone, PartialEq)]
pub struct Outbound {
    pub event_type: &'static str,
    pub subject: String,
    pub data: Value,
}

/// The order as an event carries it: enough to act on without a second call.
pub fn order_summary(o: &Order, handling_status: &str) -> Value {
    json!({
        "id": o.id,
        "order_number": o.order_number,
        "version": o.version,
        "customer_id": o.customer_id,
        "handling_status": handling_status,
        "payment_status": o.payment_status.code(),
        "shipment_status": o.shipment_status.code(),
        "total": o.totals.total,
        "tracking_number": o.tracking_number,
        "shipped_at": o.shipped_at.map(|d| d.to_string()),
        "delivered_at": o.delivered_at.map(|d| d.to_string()),
        "subscription_id": o.subscription_id,
    })
}

/// The events of a new order.
pub fn order_created(o: &Order, handling_status: &str) -> Vec<Outbound> {
    let mut out = vec![Outbound {
        event_type: "order.created",
        subject: format!("order:{}", o.id),
        data: json!({ "order": order_summary(o, handling_status) }),
    }];
    if let (Some(sub), Some(date)) = (o.subscription_id, o.subscription_delivery_date) {
        out.push(Outbound {
            event_type: "subscription.order_created",
            subject: format!("subscription:{sub}"),
            data: json!({
                "subscription_id": sub,
                "delivery_date": date.to_string(),
                "order": order_summary(o, handling_status),
            }),
        });
    }
    out
}

/// The events of a changed order: `order.changed` with every changed field
/// (before and after, as 履歴 shows them), then the milestones its order
/// events reached.
pub fn order_changed(
    o: &Order,
    handling_status: &str,
    changes: &[FieldChange],
    events: &[OrderEvent],
) -> Vec<Outbound> {
    let subject = format!("order:{}", o.id);
    let summary = order_summary(o, handling_status);
    let mut out = Vec::new();
    if !changes.is_empty() {
        let changes: Vec<Value> = changes
            .iter()
            .map(|c| json!({ "field": c.field, "before": c.before, "after": c.after }))
            .collect();
        out.push(Outbound {
            event_type: "order.changed",
            subject: subject.clone(),
            data: json!({ "order": summary, "changes": changes }),
        });
    }
    let mut milestone = |t: &'static str, extra: Value| {
        if out.iter().any(|e| e.event_type == t) {
            return;
        }
        let mut data = json!({ "order": summary });
        if let (Some(d), Value::Object(x)) = (data.as_object_mut(), extra) {
            d.extend(x);
        }
        out.push(Outbound {
            event_type: t,
            subject: subject.clone(),
            data,
        });
    };
    for e in events {
        match e {
            OrderEvent::ShipmentStatusBecame {
                status: ShipmentStatus::Shipped,
            } => milestone("order.shipped", json!({})),
            OrderEvent::DeliveredAtSet { date } => {
                milestone("order.delivered", json!({ "delivered_at": date }))
            }
            OrderEvent::HandlingStatusBecame { name } if name == "キャンセル" => {
                milestone("order.cancelled", json!({}))
            }
            OrderEvent::PaymentStatusBecame { status } => milestone(
                "order.payment_status_changed",
                json!({ "payment_status": status.code(), "payment_status_label": status.label() }),
            ),
            _ => {}
        }
    }
    out
}

/// The subscription as an event carries it.
pub fn subscription_summary(s: &Subscription) -> Value {
    json!({
        "id": s.id,
        "customer_id": s.customer_id,
        "parent_order_id": s.parent_order_id,
        "status": s.status.code(),
        "count": s.count,
        "previous_delivery_date": s.schedule.previous_delivery.map(|d| d.to_string()),
        "next_delivery_date": s.schedule.next_delivery.to_string(),
        "next_ship_date": s.schedule.next_ship.to_string(),
        "version": s.version,
    })
}

/// `subscription.created` (no changes) or `subscription.changed` (with them).
pub fn subscription_event(s: &Subscription, changes: Option<&[SubscriptionChange]>) -> Outbound {
    let mut data = json!({ "subscription": subscription_summary(s) });
    let event_type = match changes {
        None => "subscription.created",
        Some(changes) => {
            data["changes"] = changes
                .iter()
                .map(|c| json!({ "field": c.field, "before": c.before, "after": c.after }))
                .collect();
            "subscription.changed"
        }
    };
    Outbound {
        event_type,
        subject: format!("subscription:{}", s.id),
        data,
    }
}

/// `request.received`, `request.completed` or `request.refused` of a 申請.
pub fn request_event(event_type: &'static str, request: Value) -> Outbound {
    let id = request
        .get("id")
        .and_then(Value::as_i64)
        .unwrap_or_default();
    Outbound {
        event_type,
        subject: format!("request:{id}"),
        data: json!({ "request": request }),
    }
}

/// Attempts before a delivery is given up (failed): with the default base of
/// 30 s this spans about a day and a half.
pub const MAX_ATTEMPTS: i64 = 12;

/// Seconds to wait after the `attempts`-th failed attempt: `base` doubled per
/// attempt, at most six hours.
pub fn retry_delay(attempts: i64, base_secs: u64) -> u64 {
    let shift = (attempts - 1).clamp(0, 20) as u32;
    base_secs.max(1).saturating_mul(1u64 << shift).min(6 * 3600)
}

/// Whether an address is on the public internet. Loopback, private,
/// link-local (cloud metadata at 169.254.169.254), CGNAT, unique-local,
/// multicast, unspecified and documentation ranges are not: an endpoint there
/// would let a shop's admin reach into the network juchu runs in (SSRF).
pub fn is_public(ip: IpAddr) -> bool {
    match ip {
        IpAddr::V4(v4) => {
            let o = v4.octets();
            !(v4.is_loopback()
                || v4.is_private()
                || v4.is_link_local()
                || v4.is_unspecified()
                || v4.is_broadcast()
                || v4.is_multicast()
                || v4.is_documentation()
                || o[0] == 0
                || (o[0] == 100 && (o[1] & 0xc0) == 64)
                || (o[0] == 192 && o[1] == 0 && o[2] == 0)
                || (o[0] == 198 && (o[1] & 0xfe) == 18)
                || o[0] >= 240)
        }
        IpAddr::V6(v6) => {
            if let Some(v4) = v6.to_ipv4_mapped() {
                return is_public(IpAddr::V4(v4));
            }
            let s = v6.segments();
            !(v6.is_loopback()
                || v6.is_unspecified()
                || v6.is_multicast()
                || (s[0] & 0xfe00) == 0xfc00
                || (s[0] & 0xffc0) == 0xfe80
                || (s[0] == 0x2001 && s[1] == 0x0db8)
                || (s[0] == 0x64 && s[1] == 0xff9b))
        }
    }
}

/// A delivery's response body is kept up to this many characters in the log.
pub const EXCERPT_CHARS: usize = 1000;

/// The first [`EXCERPT_CHARS`] characters of a response body.
pub fn excerpt(body: &str) -> String {
    body.chars().take(EXCERPT_CHARS).collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::status::PaymentStatus;

    #[test]
    fn retry_doubles_and_caps() {
        assert_eq!(retry_delay(1, 30), 30);
        assert_eq!(retry_delay(2, 30), 60);
        assert_eq!(retry_delay(5, 30), 480);
        assert_eq!(retry_delay(12, 30), 6 * 3600);
        assert_eq!(retry_delay(1000, 30), 6 * 3600);
        assert_eq!(retry_delay(0, 0), 1);
    }

    #[test]
    fn private_addresses_are_not_public() {
        for a in [
            "127.0.0.1",
            "10.1.2.3",
            "172.16.0.1",
            "192.168.1.1",
            "169.254.169.254",
            "100.64.0.1",
            "0.0.0.0",
            "255.255.255.255",
            "224.0.0.1",
            "::1",
            "::",
            "fd00::1",
            "fe80::1",
            "::ffff:127.0.0.1",
            "::ffff:10.0.0.1",
        ] {
            assert!(!is_public(a.parse().unwrap()), "{a}");
        }
        for a in ["8.8.8.8", "203.104.1.1", "2404:6800:4004::200e"] {
            assert!(is_public(a.parse().unwrap()), "{a}");
        }
    }

    #[test]
    fn types_and_wanting() {
        assert!(is_known_type("order.created"));
        assert!(is_known_type("*"));
        assert!(!is_known_type("order.create"));
        let w = vec!["order.shipped".to_string()];
        assert!(wants(&w, "order.shipped"));
        assert!(!wants(&w, "order.created"));
        assert!(wants(&w, TEST_EVENT));
        assert!(wants(&["*".to_string()], "job.completed"));
    }

    fn order() -> Order {
        use crate::order::tests::{masters, new_order, products};
        use crate::order::{OrderContext, build_order};
        let (m, p) = (masters(), products());
        let ctx = OrderContext {
            masters: &m,
            products: &p,
            rounding: crate::status::RoundingMode::Floor,
        };
        let mut o =
            build_order(new_order(), &ctx, "2026-12-01T00:00:00Z".parse().unwrap()).unwrap();
        o.id = 7;
        o.order_number = "A-7".into();
        o
    }

    #[test]
    fn a_change_carries_its_fields_and_milestones() {
        let o = order();
        let changes = vec![FieldChange {
            field: "shipment_status",
            before: "未発送".into(),
            after: "発送済".into(),
        }];
        let events = vec![
            OrderEvent::ShipmentStatusBecame {
                status: ShipmentStatus::Shipped,
            },
            OrderEvent::PaymentStatusBecame {
                status: PaymentStatus::Paid,
            },
            OrderEvent::HandlingStatusBecame {
                name: "キャンセル".into(),
            },
            OrderEvent::DeliveredAtSet {
                date: "2026-12-03".into(),
            },
        ];
        let out = order_changed(&o, "発送完了", &changes, &events);
        let types: Vec<&str> = out.iter().map(|e| e.event_type).collect();
        assert_eq!(
            types,
            [
                "order.changed",
                "order.shipped",
                "order.payment_status_changed",
                "order.cancelled",
                "order.delivered"
            ]
        );
        assert!(out.iter().all(|e| e.subject == "order:7"));
        assert_eq!(out[0].data["changes"][0]["before"], "未発送");
        assert_eq!(out[0].data["changes"][0]["after"], "発送済");
        assert_eq!(out[0].data["order"]["order_number"], "A-7");
        assert_eq!(out[2].data["payment_status"], "paid");
        assert_eq!(out[4].data["delivered_at"], "2026-12-03");
        // Nothing changed and no milestone: no event.
        assert!(order_changed(&o, "x", &[], &[]).is_empty());
    }

    #[test]
    fn a_subscription_order_is_also_the_subscriptions_event() {
        let mut o = order();
        assert_eq!(order_created(&o, "注文確定").len(), 1);
        o.subscription_id = Some(3);
        o.subscription_delivery_date = Some(jiff::civil::date(2026, 12, 10));
        let out = order_created(&o, "注文確定");
        assert_eq!(out[1].event_type, "subscription.order_created");
        assert_eq!(out[1].subject, "subscription:3");
        assert_eq!(out[1].data["delivery_date"], "2026-12-10");
    }
}
