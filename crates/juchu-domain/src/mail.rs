//! Mail templates (メールテンプレート): shop-editable subject and body with order
//! data inserted. Rendering is strict: an unknown variable is an error at save
//! time, never an empty gap in a mail to a customer.

use crate::masters::Masters;
use crate::order::Order;
use minijinja::{Environment, UndefinedBehavior};
use serde::Serialize;

/// A template as the shop edits it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct MailTemplate {
    /// Stable code used by rules (`shipped`).
    pub code: String,
    /// Japanese name shown in the UI (発送完了メール).
    pub name: String,
    pub subject: String,
    pub body: String,
}

/// The defaults every shop starts with.
pub fn default_templates() -> Vec<MailTemplate> {
    let t = |code: &str, name: &str, subject: &str, body: &str| MailTemplate {
        code: code.into(),
        name: name.into(),
        subject: subject.into(),
        body: body.into(),
    };
    vec![
        t(
            "order_received",
            "注文受付メール",
            "【ご注文ありがとうございます】ご注文番号 {{ order_number }}",
            "{{ customer_name }} 様\n\nご注文ありがとうございます。\nご注文番号: {{ order_number }}\n{% for i in items %}{{ i.name }} × {{ i.quantity }}  {{ i.amount }}円\n{% endfor %}合計: {{ total }}円\n",
        ),
        t(
            "shipped",
            "発送完了メール",
            "【発送のお知らせ】ご注文番号 {{ order_number }}",
            "{{ customer_name }} 様\n\nご注文の商品を発送しました。\n配送業者: {{ carrier }}\n配送伝票番号: {{ tracking_number }}\n{% if tracking_url %}配送状況: {{ tracking_url }}\n{% endif %}",
        ),
        t(
            "cancelled",
            "注文キャンセル完了メール",
            "【ご注文キャンセルのお知らせ】ご注文番号 {{ order_number }}",
            "{{ customer_name }} 様\n\nご注文番号 {{ order_number }} のキャンセルが完了しました。\n",
        ),
        t(
            "returned",
            "返品確認メール",
            "【返品の確認】ご注文番号 {{ order_number }}",
            "{{ customer_name }} 様\n\nご注文番号 {{ order_number }} の商品が返品されました。お心当たりがない場合はご連絡ください。\n",
        ),
    ]
}

#[derive(Debug, Clone, Serialize)]
struct Line {
    name: String,
    quantity: i64,
    amount: i64,
}

/// The variables a template may use.
#[derive(Debug, Clone, Serialize)]
pub struct MailContext {
    order_number: String,
    customer_name: String,
    total: i64,
    payment_method: String,
    carrier: String,
    tracking_number: String,
    tracking_url: String,
    scheduled_delivery_date: String,
    items: Vec<Line>,
}

/// The names templates can use, for the editor's help text.
pub const VARIABLES: &[&str] = &[
    "order_number",
    "customer_name",
    "total",
    "payment_method",
    "carrier",
    "tracking_number",
    "tracking_url",
    "scheduled_delivery_date",
    "items (name, quantity, amount)",
];

impl MailContext {
    pub fn of(o: &Order, m: &Masters) -> Self {
        let carrier = o.carrier_id.and_then(|id| m.carrier(id));
        MailContext {
            order_number: o.order_number.clone(),
            customer_name: o.billing.full_name(),
            total: o.totals.total,
            payment_method: o
                .payment_method_id
                .and_then(|id| m.payment_method(id))
                .map(|p| p.name.clone())
                .unwrap_or_default(),
            carrier: carrier.map(|c| c.name.clone()).unwrap_or_default(),
            tracking_number: o.tracking_number.clone().unwrap_or_default(),
            tracking_url: carrier
                .zip(o.tracking_number.as_deref())
                .and_then(|(c, t)| c.tracking_url(t))
                .unwrap_or_default(),
            scheduled_delivery_date: o
                .scheduled_delivery_date
                .map(|d| d.to_string())
                .unwrap_or_default(),
            items: o
                .items
                .iter()
                .map(|i| Line {
                    name: i.product_name.clone(),
                    quantity: i.quantity,
                    amount: i.unit_price * i.quantity,
                })
                .collect(),
        }
    }
}

/// A context with sample values, to check a template when it is saved.
pub fn sample_context() -> MailContext {
    MailContext {
        order_number: "1001".into(),
        customer_name: "山田 花子".into(),
        total: 3_980,
        payment_method: "クレジットカード".into(),
        carrier: "ヤマト運輸".into(),
        tracking_number: "1234-5678-9012".into(),
        tracking_url: "https://example.jp/track?no=123456789012".into(),
        scheduled_delivery_date: "2026-12-01".into(),
        items: vec![Line {
            name: "有機緑茶 100g".into(),
            quantity: 2,
            amount: 2_160,
        }],
    }
}

/// Renders subject and body; an unknown variable or a syntax error is an error
/// naming the part.
pub fn render(t: &MailTemplate, ctx: &MailContext) -> Result<(String, String), String> {
    let mut env = Environment::new();
    env.set_undefined_behavior(UndefinedBehavior::Strict);
    let one = |part: &str, src: &str| env.render_str(src, ctx).map_err(|e| format!("{part}: {e}"));
    Ok((
        one("件名", &t.subject)?.trim().to_string(),
        one("本文", &t.body)?,
    ))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::order::tests::{masters, order_with, products};

    #[test]
    fn defaults_render_with_order_data() {
        let (m, p) = (masters(), products());
        let mut o = order_with(&m, &p, &[("TEA-01", 2, None)]);
        o.order_number = "1001".into();
        o.tracking_number = Some("1234-5678".into());
        let ctx = MailContext::of(&o, &m);
        for t in default_templates() {
            let (subject, body) = render(&t, &ctx).unwrap();
            assert!(subject.contains("1001"), "{}", t.code);
            assert!(body.contains("様"));
        }
        let shipped = default_templates().remove(1);
        let (_, body) = render(&shipped, &ctx).unwrap();
        assert!(body.contains("1234-5678"));
    }

    #[test]
    fn unknown_variables_are_errors() {
        let (m, p) = (masters(), products());
        let ctx = MailContext::of(&order_with(&m, &p, &[("TEA-01", 1, None)]), &m);
        let t = MailTemplate {
            code: "x".into(),
            name: "x".into(),
            subject: "{{ order_numbr }}".into(),
            body: "ok".into(),
        };
        let e = render(&t, &ctx).unwrap_err();
        assert!(e.starts_with("件名"), "{e}");
        let bad = MailTemplate {
            body: "{% if %}".into(),
            subject: "ok".into(),
            ..t
        };
        assert!(render(&bad, &ctx).unwrap_err().starts_with("本文"));
    }
}
