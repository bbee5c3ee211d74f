//! マイページ's pages: 注文履歴 (with the shop's messages and replies) and
//! 定期便 (with the terms kept from checkout and the next six deliveries).

use super::CustomerAuth;
use crate::AppState;
use crate::page::render;
use crate::views::yen;
use askama::Template;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Redirect, Response};
use axum::routing::{get, post};
use axum::{Form, Router};
use juchu_domain::mypage::{MessageAuthor, SubscriptionTerms, customer_label};
use juchu_domain::order::Order;
use juchu_domain::status::TaxRate;
use juchu_domain::subscription::Subscription;
use juchu_store::StoreError;
use juchu_store::messages::OrderMessage;
use std::collections::HashMap;

pub fn routes() -> Router<AppState> {
    Router::new()
        .route("/mypage", get(|| async { Redirect::to("/mypage/orders") }))
        .route("/mypage/orders", get(orders))
        .route("/mypage/orders/{number}", get(order))
        .route("/mypage/orders/{number}/messages", post(reply))
        .route("/mypage/subscriptions", get(subscriptions))
        .route("/mypage/subscriptions/{id}", get(subscription))
}

/// The shop's name for the pages' header.
pub(crate) async fn shop_name(st: &AppState) -> String {
    st.store
        .shop_settings()
        .await
        .map(|s| s.name)
        .unwrap_or_default()
}

#[derive(Template)]
#[template(path = "mypage/notice.html")]
pub(crate) struct Notice<'a> {
    pub shop_name: &'a str,
    pub title: &'a str,
    pub message: &'a str,
}

impl Notice<'_> {
    pub fn page(shop_name: &str, status: StatusCode, title: &str, message: &str) -> Response {
        render(
            status,
            &Notice {
                shop_name,
                title,
                message,
            },
        )
    }
}

/// A customer-facing error page: "not found" says nothing about whose it is.
pub(crate) fn customer_error(e: StoreError) -> Response {
    match e {
        StoreError::NotFound(what) => Notice::page(
            "",
            StatusCode::NOT_FOUND,
            &format!("{what}が見つかりません"),
            "URL をお確かめください。マイページのメニューから開き直すこともできます。",
        ),
        other => {
            tracing::error!(error = %other, "mypage store error");
            Notice::page(
                "",
                StatusCode::INTERNAL_SERVER_ERROR,
                "エラーが発生しました",
                "お手数ですが、しばらくしてからもう一度お試しください。",
            )
        }
    }
}

/// Who is signed in, for the header.
pub(crate) struct Me {
    pub shop_name: String,
    pub name: String,
    pub csrf: String,
}

async fn me(st: &AppState, auth: &CustomerAuth) -> Me {
    Me {
        shop_name: shop_name(st).await,
        name: auth.0.customer.name.clone(),
        csrf: auth.0.csrf_token.clone(),
    }
}

struct OrderRow {
    number: String,
    ordered_at: String,
    status: String,
    total: String,
    summary: String,
    unread: bool,
}

#[derive(Template)]
#[template(path = "mypage/orders.html")]
struct OrdersPage {
    me: Me,
    orders: Vec<OrderRow>,
}

async fn status_label(st: &AppState, order: &Order) -> Result<String, StoreError> {
    let masters = st.store.masters().await?;
    let labels = st.store.customer_status_labels().await?;
    Ok(masters
        .handling_status(order.handling_status_id)
        .map(|s| customer_label(s, labels.get(&s.id).map(String::as_str)))
        .unwrap_or_else(|| "ご注文受付".into()))
}

async fn orders(State(st): State<AppState>, auth: CustomerAuth) -> Response {
    let list = match st.store.customer_orders(auth.customer_id()).await {
        Ok(l) => l,
        Err(e) => return customer_error(e),
    };
    let (masters, labels) = match (
        st.store.masters().await,
        st.store.customer_status_labels().await,
    ) {
        (Ok(m), Ok(l)) => (m, l),
        (Err(e), _) | (_, Err(e)) => return customer_error(e),
    };
    let ids: Vec<i64> = list.iter().map(|o| o.id).collect();
    let unread = match st.store.orders_with_unread(&ids, MessageAuthor::Shop).await {
        Ok(u) => u,
        Err(e) => return customer_error(e),
    };
    let mut rows = Vec::with_capacity(list.len());
    for o in &list {
        let unread = unread.contains(&o.id);
        let names: Vec<&str> = o
            .items
            .iter()
            .filter(|i| !i.is_bundled_item)
            .map(|i| i.product_name.as_str())
            .collect();
        rows.push(OrderRow {
            number: o.order_number.clone(),
            ordered_at: juchu_domain::time::display_ts(o.ordered_at),
            status: masters
                .handling_status(o.handling_status_id)
                .map(|s| customer_label(s, labels.get(&s.id).map(String::as_str)))
                .unwrap_or_else(|| "ご注文受付".into()),
            total: yen(o.totals.total),
            summary: match names.len() {
                0 => String::new(),
                1 => names[0].to_string(),
                n => format!("{} ほか{}点", names[0], n - 1),
            },
            unread,
        });
    }
    render(
        StatusCode::OK,
        &OrdersPage {
            me: me(&st, &auth).await,
            orders: rows,
        },
    )
}

struct ItemLine {
    name: String,
    reduced: bool,
    quantity: i64,
    unit_price: String,
    amount: String,
}

struct PackageView {
    number: u32,
    carrier: String,
    status: String,
    parcels: Vec<(String, String)>,
}

struct MessageView {
    from_shop: bool,
    at: String,
    body: String,
}

#[derive(Template)]
#[template(path = "mypage/order.html")]
struct OrderDetailPage {
    me: Me,
    number: String,
    ordered_at: String,
    status: String,
    items: Vec<ItemLine>,
    shipping_fee: String,
    payment_fee: String,
    discount: String,
    points_used: i64,
    total: String,
    taxable_standard: String,
    tax_standard: String,
    taxable_reduced: String,
    tax_reduced: String,
    has_reduced: bool,
    payment_method: String,
    delivery_date: String,
    delivery_slot: String,
    shipping_to: String,
    packages: Vec<PackageView>,
    messages: Vec<MessageView>,
    error: String,
    reply: String,
}

fn message_views(list: Vec<OrderMessage>) -> Vec<MessageView> {
    list.into_iter()
        .map(|m| MessageView {
            from_shop: m.author == MessageAuthor::Shop,
            at: juchu_domain::time::parse_ts(&m.created_at)
                .map(juchu_domain::time::display_ts)
                .unwrap_or(m.created_at),
            body: m.body,
        })
        .collect()
}

async fn order_page(
    st: &AppState,
    auth: &CustomerAuth,
    number: &str,
    error: String,
    reply: String,
    status: StatusCode,
) -> Response {
    let o = match st.store.customer_order(auth.customer_id(), number).await {
        Ok(o) => o,
        Err(e) => return customer_error(e),
    };
    let masters = match st.store.masters().await {
        Ok(m) => m,
        Err(e) => return customer_error(e),
    };
    let label = match status_label(st, &o).await {
        Ok(l) => l,
        Err(e) => return customer_error(e),
    };
    // Reading the page is reading the shop's messages.
    if let Err(e) = st
        .store
        .mark_messages_read(&o.order_number, MessageAuthor::Shop)
        .await
    {
        return customer_error(e);
    }
    let messages = match st.store.order_messages(&o.order_number).await {
        Ok(m) => message_views(m),
        Err(e) => return customer_error(e),
    };
    let all = o.effective_shipments();
    let split = all.len() > 1;
    let packages = all
        .iter()
        .map(|s| {
            let c = o.shipment_carrier_id(s).and_then(|id| masters.carrier(id));
            PackageView {
                number: s.number,
                carrier: c.map(|c| c.name.clone()).unwrap_or_default(),
                status: if split {
                    s.status.label().to_string()
                } else {
                    o.shipment_status.label().to_string()
                },
                parcels: s
                    .tracking_numbers
                    .iter()
                    .map(|t| {
                        (
                            t.clone(),
                            c.and_then(|c| c.tracking_url(t)).unwrap_or_default(),
                        )
                    })
                    .collect(),
            }
        })
        .collect();
    let t = &o.totals;
    let a = &o.shipping;
    let page = OrderDetailPage {
        me: me(st, auth).await,
        number: o.order_number.clone(),
        ordered_at: juchu_domain::time::display_ts(o.ordered_at),
        status: label,
        items: o
            .items
            .iter()
            .map(|i| ItemLine {
                name: i.product_name.clone(),
                reduced: i.tax_rate == TaxRate::Reduced,
                quantity: i.quantity,
                unit_price: yen(i.unit_price),
                amount: yen(i.amount()),
            })
            .collect(),
        shipping_fee: yen(t.shipping_fee),
        payment_fee: yen(t.payment_fee),
        discount: yen(t.discount),
        points_used: t.points_used,
        total: yen(t.total),
        taxable_standard: yen(t.taxable_standard),
        tax_standard: yen(t.tax_standard),
        taxable_reduced: yen(t.taxable_reduced),
        tax_reduced: yen(t.tax_reduced),
        has_reduced: t.taxable_reduced > 0,
        payment_method: o
            .payment_method_id
            .and_then(|id| masters.payment_method(id))
            .map(|m| m.name.clone())
            .unwrap_or_default(),
        delivery_date: o
            .scheduled_delivery_date
            .map(|d| d.to_string())
            .unwrap_or_default(),
        delivery_slot: o.delivery_time_slot.clone().unwrap_or_default(),
        shipping_to: format!(
            "〒{} {}{}{} {} {} 様",
            a.postal_code, a.prefecture, a.address1, a.address2, a.family_name, a.given_name
        ),
        packages,
        messages,
        error,
        reply,
    };
    render(status, &page)
}

async fn order(
    State(st): State<AppState>,
    auth: CustomerAuth,
    Path(number): Path<String>,
) -> Response {
    order_page(
        &st,
        &auth,
        &number,
        String::new(),
        String::new(),
        StatusCode::OK,
    )
    .await
}

async fn reply(
    State(st): State<AppState>,
    auth: CustomerAuth,
    Path(number): Path<String>,
    Form(f): Form<HashMap<String, String>>,
) -> Response {
    if !auth.check_csrf(f.get("csrf").map(String::as_str).unwrap_or("")) {
        return Notice::page(
            &shop_name(&st).await,
            StatusCode::FORBIDDEN,
            "画面の有効期限が切れました",
            "お手数ですが、ページを開き直してからもう一度お送りください。",
        );
    }
    // Only on the customer's own order (another's is "not found").
    if let Err(e) = st.store.customer_order(auth.customer_id(), &number).await {
        return customer_error(e);
    }
    let body = f.get("body").cloned().unwrap_or_default();
    let actor = juchu_store::Actor::Customer {
        id: auth.customer_id(),
        name: auth.0.customer.name.clone(),
    };
    match st
        .store
        .post_order_message(&number, MessageAuthor::Customer, &body, false, &actor)
        .await
    {
        Ok(_) => Redirect::to(&format!(
            "/mypage/orders/{}?sent=1#messages",
            crate::views::urlencode(&number)
        ))
        .into_response(),
        Err(StoreError::Invalid(e)) => {
            order_page(
                &st,
                &auth,
                &number,
                e.messages(),
                body,
                StatusCode::UNPROCESSABLE_ENTITY,
            )
            .await
        }
        Err(e) => customer_error(e),
    }
}

struct SubscriptionRow {
    id: i64,
    status: String,
    items: String,
    cycle: String,
    next_delivery: String,
}

#[derive(Template)]
#[template(path = "mypage/subscriptions.html")]
struct SubscriptionsPage {
    me: Me,
    subscriptions: Vec<SubscriptionRow>,
}

fn items_text(s: &Subscription) -> String {
    s.items
        .iter()
        .filter(|i| !i.is_bundled_item)
        .map(|i| format!("{} × {}", i.product_name, i.quantity))
        .collect::<Vec<_>>()
        .join("、")
}

async fn subscriptions(State(st): State<AppState>, auth: CustomerAuth) -> Response {
    let list = match st.store.customer_subscriptions(auth.customer_id()).await {
        Ok(l) => l,
        Err(e) => return customer_error(e),
    };
    let rows = list
        .iter()
        .map(|s| SubscriptionRow {
            id: s.id,
            status: s.status.label().into(),
            items: items_text(s),
            cycle: s.cycle.label(),
            next_delivery: s.schedule.next_delivery.to_string(),
        })
        .collect();
    render(
        StatusCode::OK,
        &SubscriptionsPage {
            me: me(&st, &auth).await,
            subscriptions: rows,
        },
    )
}

struct SubItem {
    name: String,
    quantity: i64,
    next_price: String,
}

#[derive(Template)]
#[template(path = "mypage/subscription.html")]
struct SubscriptionPage {
    me: Me,
    id: i64,
    status: String,
    active: bool,
    items: Vec<SubItem>,
    cycle: String,
    next_delivery: String,
    next_ship: String,
    slot: String,
    count: i64,
    upcoming: Vec<(String, String)>,
    terms: Option<SubscriptionTerms>,
    /// The customer's requests for it: (受付番号, 受付日時, 種別, 状況).
    requests: Vec<(i64, String, String, String)>,
}

impl SubscriptionPage {
    fn y(&self, v: &i64) -> String {
        yen(*v)
    }
}

async fn subscription(
    State(st): State<AppState>,
    auth: CustomerAuth,
    Path(id): Path<i64>,
) -> Response {
    let s = match st.store.customer_subscription(auth.customer_id(), id).await {
        Ok(s) => s,
        Err(e) => return customer_error(e),
    };
    let (cal, terms) = match (
        st.store.shipping_calendar().await,
        st.store.subscription_terms(id).await,
    ) {
        (Ok(c), Ok(t)) => (c, t),
        (Err(e), _) | (_, Err(e)) => return customer_error(e),
    };
    let requests = match st
        .store
        .requests(&juchu_store::requests::RequestQuery {
            customer_id: Some(auth.customer_id()),
            subscription_id: Some(id),
            limit: 50,
            ..Default::default()
        })
        .await
    {
        Ok(list) => list
            .into_iter()
            .map(|r| {
                (
                    r.id,
                    juchu_domain::time::parse_ts(&r.received_at)
                        .map(juchu_domain::time::display_ts)
                        .unwrap_or(r.received_at),
                    r.request_type,
                    r.status.label().to_string(),
                )
            })
            .collect(),
        Err(e) => return customer_error(e),
    };
    let active = s.status == juchu_domain::status::SubscriptionStatus::Active;
    let upcoming = if active {
        s.schedule
            .preview(&s.cycle, &cal, 6)
            .into_iter()
            .map(|(d, ship)| (d.to_string(), ship.to_string()))
            .collect()
    } else {
        vec![]
    };
    let next = s.count + 1;
    let page = SubscriptionPage {
        me: me(&st, &auth).await,
        id: s.id,
        status: s.status.label().into(),
        active,
        items: s
            .items
            .iter()
            .filter(|i| !i.is_bundled_item && i.delivers_on(next))
            .map(|i| SubItem {
                name: i.product_name.clone(),
                quantity: i.quantity,
                next_price: yen(i.price_for(next).saturating_mul(i.quantity)),
            })
            .collect(),
        cycle: s.cycle.label(),
        next_delivery: s.schedule.next_delivery.to_string(),
        next_ship: s.schedule.next_ship.to_string(),
        slot: s.delivery_time_slot.clone().unwrap_or_default(),
        count: s.count,
        upcoming,
        terms,
        requests,
    };
    render(StatusCode::OK, &page)
}
