//! 受注一覧 and one order's page in the admin UI.

use crate::views::*;

use crate::AppState;
use crate::auth::StaffSession;
use crate::dto::OrderJson;
use askama::Template;
use axum::Form;
use axum::Router;
use axum::extract::{Path, Query, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Redirect, Response};
use axum::routing::get;
use juchu_domain::FieldErrors;
use juchu_domain::access::Permission;
use juchu_domain::order::ItemInput;
use juchu_domain::patch::OrderPatch;
use juchu_domain::status::{PaymentStatus, ShipmentStatus, ShippingListState};
use juchu_store::{OrderQuery, StoreError};
use std::collections::HashMap;

pub fn routes() -> Router<AppState> {
    Router::new()
        .route("/orders", get(orders_list))
        .route(
            "/orders/saved-searches",
            axum::routing::post(saved_search_create),
        )
        .route(
            "/orders/saved-searches/{id}/delete",
            axum::routing::post(saved_search_delete),
        )
        .route("/orders/{number}", get(order_detail).post(order_update))
        .route(
            "/orders/{number}/items",
            axum::routing::post(order_items_update),
        )
        .route(
            "/orders/{number}/payment",
            axum::routing::post(order_payment_request),
        )
        .route(
            "/orders/{number}/memo",
            axum::routing::post(order_memo_update),
        )
        .route(
            "/orders/{number}/addresses",
            axum::routing::post(order_addresses_update),
        )
        .route(
            "/orders/{number}/shipments/split",
            axum::routing::post(shipment_split),
        )
        .route(
            "/orders/{number}/shipments/{package}",
            axum::routing::post(shipment_update),
        )
        .route(
            "/orders/{number}/shipments/{package}/merge",
            axum::routing::post(shipment_merge),
        )
}

/// The options of the order forms' selects, shared by the list and detail pages.
struct Choices {
    statuses: Vec<String>,
    payment_statuses: Vec<String>,
    shipment_statuses: Vec<String>,
    shipping_list_states: Vec<String>,
    payment_methods: Vec<String>,
    carriers: Vec<String>,
    labels: Vec<String>,
}

impl Choices {
    fn of(m: &juchu_domain::masters::Masters) -> Choices {
        let names = |v: &[&str]| v.iter().map(|s| s.to_string()).collect();
        Choices {
            statuses: m.handling_statuses.iter().map(|s| s.name.clone()).collect(),
            payment_statuses: names(
                &PaymentStatus::ALL
                    .iter()
                    .map(|s| s.label())
                    .collect::<Vec<_>>(),
            ),
            shipment_statuses: names(
                &ShipmentStatus::ALL
                    .iter()
                    .map(|s| s.label())
                    .collect::<Vec<_>>(),
            ),
            shipping_list_states: names(
                &ShippingListState::ALL
                    .iter()
                    .map(|s| s.label())
                    .collect::<Vec<_>>(),
            ),
            payment_methods: m.payment_methods.iter().map(|x| x.name.clone()).collect(),
            carriers: m.carriers.iter().map(|x| x.name.clone()).collect(),
            labels: m.labels.iter().map(|x| x.name.clone()).collect(),
        }
    }
}

// ---------------------------------------------------------------- order list

struct Row {
    /// A customer message (マイページ) staff have not opened.
    unread_reply: bool,
    number: String,
    ordered_at: String,
    name: String,
    status: String,
    status_color: String,
    payment_status: String,
    payment_method: String,
    shipment_status: String,
    labels: Vec<(String, String)>,
    total: String,
    needs_attention: bool,
    delivery_date: String,
    carrier: String,
    tracking_number: String,
    phone: String,
    company: String,
    memo: String,
}

/// The columns 受注一覧 can show: (key, header, shown by default).
pub const LIST_COLUMNS: [(&str, &str, bool); 14] = [
    ("ordered_at", "受注日時", true),
    ("name", "請求者", true),
    ("company", "会社名", false),
    ("phone", "電話番号", false),
    ("status", "対応状況", true),
    ("payment_status", "決済状況", true),
    ("payment_method", "支払方法", true),
    ("shipment_status", "発送状況", true),
    ("delivery_date", "お届け日", false),
    ("carrier", "配送業者", false),
    ("tracking_number", "伝票番号", false),
    ("labels", "受注ラベル", true),
    ("memo", "受注メモ", false),
    ("total", "合計", true),
];

#[derive(Default)]
struct Filters {
    order_number: String,
    ordered_from: String,
    ordered_to: String,
    handling_status: String,
    payment_status: String,
    shipment_status: String,
    payment_method: String,
    carrier: String,
    name: String,
    kana: String,
    name_part: String,
    phone: String,
    phone_tail: String,
    email: String,
    product_code: String,
    label: String,
    tracking_number: String,
    shipping_list_state: String,
    needs_attention: String,
    per_page: String,
}

#[derive(Template)]
#[template(path = "orders/orders.html")]
struct OrdersPage {
    nav: Nav,
    f: Filters,
    errors: Vec<String>,
    rows: Vec<Row>,
    total_label: String,
    page: i64,
    pages: i64,
    prev_url: String,
    next_url: String,
    c: Choices,
    /// The search's filters, carried to the bulk form (「検索結果すべて」).
    filter_pairs: Vec<(String, String)>,
    kinds: Vec<(&'static str, &'static str)>,
    /// 合計 of every match.
    sum_label: String,
    /// (key, header, shown) of every column.
    columns: Vec<(&'static str, &'static str, bool)>,
    /// (header, link that sorts by it, arrow) per sortable column key.
    sort_links: HashMap<&'static str, (String, &'static str)>,
    saved: Vec<juchu_store::saved_searches::SavedSearch>,
    /// This list's query string, to save.
    current_query: String,
    csrf: String,
    flash: String,
}

impl OrdersPage {
    fn show(&self, key: &str) -> bool {
        self.columns.iter().any(|(k, _, on)| *k == key && *on)
    }
    /// A column header: a link that sorts by it when it can.
    fn sort_link(&self, key: &str) -> String {
        self.sort_links
            .get(key)
            .map(|(l, _)| l.clone())
            .unwrap_or_default()
    }
    fn arrow(&self, key: &str) -> &'static str {
        self.sort_links.get(key).map(|(_, a)| *a).unwrap_or("")
    }
}

fn page_url(params: &HashMap<String, String>, page: i64) -> String {
    page_url_for("/orders", params, page)
}

async fn orders_list(
    State(st): State<AppState>,
    session: StaffSession,
    Query(params): Query<HashMap<String, String>>,
) -> Response {
    let masters = match st.store.masters().await {
        Ok(m) => m,
        Err(e) => return store_error_page(e),
    };
    let g = |k: &str| params.get(k).cloned().unwrap_or_default();
    let f = Filters {
        order_number: g("order_number"),
        ordered_from: g("ordered_from"),
        ordered_to: g("ordered_to"),
        handling_status: g("handling_status"),
        payment_status: g("payment_status"),
        shipment_status: g("shipment_status"),
        payment_method: g("payment_method"),
        carrier: g("carrier"),
        name: g("name"),
        kana: g("kana"),
        name_part: g("name_part"),
        phone: g("phone"),
        phone_tail: g("phone_tail"),
        email: g("email"),
        product_code: g("product_code"),
        label: g("label"),
        tracking_number: g("tracking_number"),
        shipping_list_state: g("shipping_list_state"),
        needs_attention: g("needs_attention"),
        per_page: g("per_page"),
    };
    // Columns: `col_<key>=1` for each chosen; none chosen: the defaults.
    let chosen: Vec<&str> = LIST_COLUMNS
        .iter()
        .filter(|(k, _, _)| params.contains_key(&format!("col_{k}")))
        .map(|(k, _, _)| *k)
        .collect();
    let columns: Vec<(&'static str, &'static str, bool)> = LIST_COLUMNS
        .iter()
        .map(|(k, h, default)| {
            (
                *k,
                *h,
                if chosen.is_empty() {
                    *default
                } else {
                    chosen.contains(k)
                },
            )
        })
        .collect();
    let current_sort = params.get("sort").cloned().unwrap_or_default();
    let sort_links = [
        ("ordered_at", "ordered_at"),
        ("number", "order_number"),
        ("total", "total"),
        ("delivery_date", "scheduled_delivery_date"),
        ("name", "billing_kana"),
        ("status", "handling_status"),
        ("carrier", "carrier"),
        ("tracking_number", "tracking_number"),
    ]
    .into_iter()
    .map(|(col, code)| {
        // Newest first is the default; a click on the sorted column turns it.
        let (next, arrow) = if current_sort == code {
            (format!("-{code}"), " ▲")
        } else if current_sort == format!("-{code}")
            || (current_sort.is_empty() && code == "ordered_at")
        {
            (code.to_string(), " ▼")
        } else {
            (format!("-{code}"), "")
        };
        let mut p = params.clone();
        p.insert("sort".into(), next);
        (col, (page_url(&p, 1), arrow))
    })
    .collect();
    let (saved, current_query) = match st.store.saved_searches().await {
        Ok(s) => {
            let mut p: Vec<(&String, &String)> = params
                .iter()
                .filter(|(k, v)| !matches!(k.as_str(), "page" | "saved") && !v.is_empty())
                .collect();
            p.sort();
            let q = p
                .iter()
                .map(|(k, v)| format!("{}={}", urlencode(k), urlencode(v)))
                .collect::<Vec<_>>()
                .join("&");
            (s, q)
        }
        Err(e) => return store_error_page(e),
    };
    let mut sum_label = String::new();
    let mut errors = Vec::new();
    let mut rows = Vec::new();
    let (mut total_label, mut page, mut pages) = ("0件".to_string(), 1, 1);
    let list_params: HashMap<String, String> = params
        .iter()
        .filter(|(k, _)| !k.starts_with("col_"))
        .map(|(k, v)| (k.clone(), v.clone()))
        .collect();
    // The list shows the sum of every match (the API does not ask for it).
    let query = crate::query::order_query(&list_params, false).map(|q| OrderQuery {
        with_sum: true,
        ..q
    });
    match query {
        Err(e) => errors.extend(
            e.0.into_iter()
                .map(|e| format!("{}: {}", label_of(&e.field), e.message)),
        ),
        Ok(q) => match st.store.search_orders_with(&q, &masters).await {
            Err(StoreError::Invalid(e)) => errors.extend(
                e.0.into_iter()
                    .map(|e| format!("{}: {}", label_of(&e.field), e.message)),
            ),
            Err(e) => return store_error_page(e),
            Ok(p) => {
                total_label = if p.total_is_exact {
                    format!("{}件", p.total)
                } else {
                    format!("{}件以上", yen(p.total).trim_start_matches('¥'))
                };
                page = p.page;
                pages = p.pages();
                if let Some(sum) = p.sum_total {
                    sum_label = format!("合計金額 {}", yen(sum));
                }
                let ids: Vec<i64> = p.orders.iter().map(|o| o.id).collect();
                let unread = match st
                    .store
                    .orders_with_unread(&ids, juchu_domain::mypage::MessageAuthor::Customer)
                    .await
                {
                    Ok(u) => u,
                    Err(e) => return store_error_page(e),
                };
                rows = p
                    .orders
                    .iter()
                    .map(|o| {
                        let s = masters.handling_status(o.handling_status_id);
                        Row {
                            number: o.order_number.clone(),
                            ordered_at: juchu_domain::time::display_ts(o.ordered_at),
                            name: o.billing.full_name(),
                            status: s.map(|s| s.name.clone()).unwrap_or_default(),
                            status_color: s
                                .map(|s| s.color.clone())
                                .unwrap_or_else(|| "#999".into()),
                            payment_status: o.payment_status.label().into(),
                            payment_method: o
                                .payment_method_id
                                .and_then(|id| masters.payment_method(id))
                                .map(|m| m.name.clone())
                                .unwrap_or_default(),
                            shipment_status: o.shipment_status.label().into(),
                            labels: o
                                .label_ids
                                .iter()
                                .filter_map(|id| masters.label(*id))
                                .map(|l| (l.name.clone(), l.color.clone()))
                                .collect(),
                            total: yen(o.totals.total),
                            needs_attention: o.needs_attention,
                            unread_reply: unread.contains(&o.id),
                            delivery_date: o
                                .scheduled_delivery_date
                                .map(|d| d.to_string())
                                .unwrap_or_default(),
                            carrier: o
                                .carrier_id
                                .and_then(|id| masters.carrier(id))
                                .map(|c| c.name.clone())
                                .unwrap_or_default(),
                            tracking_number: o.tracking_number.clone().unwrap_or_default(),
                            phone: o.billing.phone.clone(),
                            company: o.billing.company_name.clone(),
                            memo: o.memo.chars().take(30).collect(),
                        }
                    })
                    .collect();
            }
        },
    }
    let t = OrdersPage {
        nav: Nav::of(&session),
        f,
        errors,
        rows,
        total_label,
        page,
        pages,
        prev_url: page_url(&params, page - 1),
        next_url: page_url(&params, page + 1),
        c: Choices::of(&masters),
        filter_pairs: {
            let mut p: Vec<(String, String)> = params
                .iter()
                .filter(|(k, v)| {
                    !v.is_empty()
                        && !matches!(k.as_str(), "page" | "per_page" | "sort")
                        && !k.starts_with("col_")
                        && k.as_str() != "saved"
                })
                .map(|(k, v)| (k.clone(), v.clone()))
                .collect();
            p.sort();
            p
        },
        kinds: crate::jobs::ui::offered_kinds(),
        sum_label,
        columns,
        sort_links,
        saved,
        current_query,
        csrf: session.0.csrf_token.clone(),
        flash: match params.get("saved").map(String::as_str) {
            Some("1") => "検索条件を保存しました。".into(),
            Some("0") => "保存した検索条件を削除しました。".into(),
            _ => String::new(),
        },
    };
    render(StatusCode::OK, &t)
}

/// 保存: the list's current query under a name (the same name replaces it).
async fn saved_search_create(
    State(st): State<AppState>,
    session: StaffSession,
    Form(f): Form<HashMap<String, String>>,
) -> Response {
    if let Some(refused) = refuse_post(&session, Permission::Read, &f) {
        return refused;
    }
    let query = f.get("query").cloned().unwrap_or_default();
    match st
        .store
        .save_search(
            f.get("name").map(String::as_str).unwrap_or(""),
            &query,
            &session.0.staff.name,
        )
        .await
    {
        Ok(_) => {
            let sep = if query.is_empty() { "" } else { "&" };
            Redirect::to(&format!("/orders?{query}{sep}saved=1")).into_response()
        }
        Err(StoreError::Invalid(e)) => error_page(StatusCode::UNPROCESSABLE_ENTITY, &e.messages()),
        Err(e) => store_error_page(e),
    }
}

async fn saved_search_delete(
    State(st): State<AppState>,
    session: StaffSession,
    Path(id): Path<i64>,
    Form(f): Form<HashMap<String, String>>,
) -> Response {
    if let Some(refused) = refuse_post(&session, Permission::Read, &f) {
        return refused;
    }
    match st.store.delete_saved_search(id).await {
        Ok(()) => Redirect::to("/orders?saved=0").into_response(),
        Err(e) => store_error_page(e),
    }
}

fn label_of(field: &str) -> String {
    crate::query::ORDER_FILTERS
        .iter()
        .find(|(n, _)| *n == field)
        .map(|(_, l)| l.to_string())
        .unwrap_or_else(|| field.to_string())
}

// ---------------------------------------------------------------- order detail

#[derive(Template)]
#[template(path = "orders/order.html")]
struct OrderPage {
    nav: Nav,
    o: OrderJson,
    tab: String,
    csrf: String,
    can_edit: bool,
    flash: String,
    form_error: String,
    errors: HashMap<String, String>,
    /// Values the user submitted (shown again beside their errors).
    values: HashMap<String, String>,
    status_color: String,
    ordered_at: String,
    total: String,
    tax_standard: String,
    tax_reduced: String,
    c: Choices,
    history: Vec<HistoryLine>,
    /// 決済・メール tab: payment requests and queued mails.
    payments: Vec<juchu_store::payments::PaymentRequestInfo>,
    mails: Vec<juchu_store::mail::QueuedMail>,
    /// Whether the payment method has a provider (決済処理 buttons).
    has_gateway: bool,
    /// Why the blacklist screening flagged the order (what matched what).
    attention: Vec<String>,
    /// お届け時間帯 each package's carrier offers (none: a shop's own carrier,
    /// typed freely).
    shipment_slots: Vec<Vec<String>>,
    /// The order is sent in several packages: its own shipping fields are a
    /// summary, edited per package.
    split: bool,
    /// (field, label) of the address forms.
    address_fields: [(&'static str, &'static str); 12],
    prefectures: [&'static str; 47],
    postal_version: &'static str,
    /// (code, name) of every mail template, for メール送信.
    mail_templates: Vec<(String, String)>,
    /// 管理者用スペース: the messages with the customer (メッセージ tab).
    messages: Vec<juchu_store::messages::OrderMessage>,
    /// Customer messages not opened before this page view.
    unread_replies: usize,
    /// Whether a message mails the customer unless unticked.
    message_mail_default: bool,
}

impl OrderPage {
    /// Whether an option is the chosen value (selects).
    fn same(&self, option: &str, chosen: &str) -> bool {
        option == chosen
    }
    /// Yen as everywhere else: `¥3,980`.
    fn y(&self, v: impl std::borrow::Borrow<i64>) -> String {
        yen(*v.borrow())
    }
    /// An address field (`billing.postal_code`): as typed, or as stored.
    fn addr(&self, key: &str) -> String {
        if let Some(v) = self.values.get(key) {
            return v.clone();
        }
        match key.split_once('.') {
            Some(("billing", name)) => address_field(&self.o.billing, name),
            Some(("shipping", name)) => address_field(&self.o.shipping, name),
            _ => String::new(),
        }
    }
    /// 郵便番号 not in the postal data, or not of the 都道府県: a warning, not
    /// an error (business codes and brand-new codes are missing from the data).
    fn postal_warning(&self, prefix: &str) -> String {
        juchu_domain::postal::mismatch(
            &self.addr(&format!("{prefix}postal_code")),
            &self.addr(&format!("{prefix}prefecture")),
        )
        .unwrap_or_default()
    }
    /// The order's お届け時間帯 is not one of its carrier's (an imported order).
    fn slot_unknown(&self) -> bool {
        let slot = self.val("delivery_time_slot");
        !slot.is_empty()
            && self
                .shipment_slots
                .first()
                .is_some_and(|s| !s.contains(&slot))
    }
    fn err(&self, field: &str) -> &str {
        self.errors.get(field).map(String::as_str).unwrap_or("")
    }
    fn item_err(&self, i: impl std::borrow::Borrow<usize>) -> String {
        let i = *i.borrow();
        self.errors
            .iter()
            .filter(|(k, _)| k.starts_with(&format!("items[{i}]")))
            .map(|(_, v)| v.clone())
            .collect::<Vec<_>>()
            .join(" ")
    }
    fn val(&self, field: &str) -> String {
        if let Some(v) = self.values.get(field) {
            return v.clone();
        }
        let o = &self.o;
        match field {
            "tracking_number" => o.tracking_number.clone(),
            "shipping_list_exported_on" => o.shipping_list_exported_on.clone(),
            "scheduled_ship_date" => o.scheduled_ship_date.clone(),
            "scheduled_delivery_date" => o.scheduled_delivery_date.clone(),
            "shipped_at" => o.shipped_at.clone(),
            "delivered_at" => o.delivered_at.clone(),
            "paid_at" => o.paid_at.clone(),
            "delivery_time_slot" => o.delivery_time_slot.clone(),
            "discount" => Some(o.discount.to_string()),
            "points_used" => Some(o.points_used.to_string()),
            _ => None,
        }
        .unwrap_or_default()
    }
}

pub(super) struct Feedback {
    pub flash: String,
    pub form_error: String,
    pub errors: HashMap<String, String>,
    pub values: HashMap<String, String>,
}

pub(super) async fn order_page(
    st: &AppState,
    session: &StaffSession,
    number: &str,
    tab: &str,
    fb: Feedback,
    status: StatusCode,
) -> Response {
    let (order, masters) = match (
        st.store.order_by_number(number).await,
        st.store.masters().await,
    ) {
        (Ok(o), Ok(m)) => (o, m),
        (Err(e), _) | (_, Err(e)) => return store_error_page(e),
    };
    let history = if tab == "history" {
        match st.store.order_history(number).await {
            Ok(h) => history_lines(h),
            Err(e) => return store_error_page(e),
        }
    } else {
        vec![]
    };
    let (payments, mut mails, mail_templates) = if tab == "payment" {
        match (
            st.store.payment_requests(order.id).await,
            st.store.order_mails(order.id).await,
            st.store.mail_templates().await,
        ) {
            (Ok(p), Ok(m), Ok(t)) => (p, m, t.into_iter().map(|t| (t.code, t.name)).collect()),
            (Err(e), ..) | (_, Err(e), _) | (.., Err(e)) => return store_error_page(e),
        }
    } else {
        (vec![], vec![], vec![])
    };
    for m in &mut mails {
        if let Some(t) = juchu_domain::time::parse_ts(&m.created_at) {
            m.created_at = juchu_domain::time::display_ts(t);
        }
    }
    let (mut messages, message_mail_default) = match (
        st.store.order_messages(number).await,
        st.store.message_mail_default().await,
    ) {
        (Ok(m), Ok(d)) => (m, d),
        (Err(e), _) | (_, Err(e)) => return store_error_page(e),
    };
    let unread_replies = messages
        .iter()
        .filter(|m| {
            m.author == juchu_domain::mypage::MessageAuthor::Customer && m.read_at.is_none()
        })
        .count();
    if tab == "messages" && unread_replies > 0 {
        // Opening the tab is reading them.
        if let Err(e) = st
            .store
            .mark_messages_read(number, juchu_domain::mypage::MessageAuthor::Customer)
            .await
        {
            return store_error_page(e);
        }
    }
    for m in &mut messages {
        if let Some(t) = juchu_domain::time::parse_ts(&m.created_at) {
            m.created_at = juchu_domain::time::display_ts(t);
        }
    }
    let has_gateway = juchu_store::payments::gateway_of(&order, &masters).is_some();
    let attention = if order.needs_attention {
        match st.store.order_attention_matches(order.id).await {
            Ok(m) => m
                .into_iter()
                .map(|m| format!("{}: {}", m.reason, m.detail))
                .collect(),
            Err(e) => return store_error_page(e),
        }
    } else {
        vec![]
    };
    let o = OrderJson::new(&order, &masters);
    let shipment_slots = order
        .effective_shipments()
        .iter()
        .map(|s| {
            order
                .shipment_carrier_id(s)
                .and_then(|id| masters.carrier(id))
                .and_then(|c| juchu_domain::tracking::KnownCarrier::for_code(&c.code))
                .map(|k| k.time_slots().iter().map(|s| s.to_string()).collect())
                .unwrap_or_default()
        })
        .collect();
    let t = OrderPage {
        address_fields: ADDRESS_FIELDS,
        prefectures: juchu_domain::customer::PREFECTURES,
        postal_version: juchu_domain::postal::data_version(),
        mail_templates,
        messages,
        unread_replies,
        message_mail_default,
        shipment_slots,
        split: order.shipments.len() > 1,
        payments,
        mails,
        has_gateway,
        attention,
        nav: Nav::of(session),
        status_color: masters
            .handling_status(order.handling_status_id)
            .map(|s| s.color.clone())
            .unwrap_or_default(),
        ordered_at: juchu_domain::time::display_ts(order.ordered_at),
        total: yen(order.totals.total),
        tax_standard: yen(order.totals.tax_standard),
        tax_reduced: yen(order.totals.tax_reduced),
        o,
        tab: tab.to_string(),
        csrf: session.0.csrf_token.clone(),
        can_edit: session.role().allows(Permission::WriteOrders),
        flash: fb.flash,
        form_error: fb.form_error,
        errors: fb.errors,
        values: fb.values,
        c: Choices::of(&masters),
        history,
    };
    render(status, &t)
}

async fn order_detail(
    State(st): State<AppState>,
    session: StaffSession,
    Path(number): Path<String>,
    Query(q): Query<HashMap<String, String>>,
) -> Response {
    let tab = q.get("tab").map(String::as_str).unwrap_or("basic");
    let requested = q
        .get("requested")
        .and_then(|p| juchu_domain::payment::PaymentProcess::parse(p));
    let flash = match (q.get("saved").map(String::as_str), requested) {
        (_, Some(p)) => format!(
            "決済処理「{}」を依頼しました。結果は決済状況と履歴に反映されます。",
            p.label()
        ),
        (Some("1"), _) => "保存しました。".to_string(),
        (Some("mail"), _) => "メールを送信待ちにしました。送信結果は下の一覧に出ます。".to_string(),
        (Some("message"), _) => {
            "メッセージを送りました。お客様はマイページの注文履歴で読めます。".to_string()
        }
        (Some("message_mail"), _) => {
            "メッセージを送り、お知らせメールを送信待ちにしました。".to_string()
        }
        (Some("created"), _) => "受注を登録しました。".to_string(),
        (Some("0"), _) => "変更はありませんでした。".to_string(),
        _ => String::new(),
    };
    order_page(
        &st,
        &session,
        &number,
        tab,
        Feedback {
            flash,
            form_error: String::new(),
            errors: HashMap::new(),
            values: HashMap::new(),
        },
        StatusCode::OK,
    )
    .await
}

/// Applies a patch from a form and answers with a redirect, or the page with
/// the errors next to their fields.
/// A change submitted from one of the order page's forms.
struct Submission<'a> {
    tab: &'a str,
    version: Option<i64>,
    patch: OrderPatch,
    reason: &'a str,
    /// The raw form values, shown again next to errors.
    values: HashMap<String, String>,
    /// For the items form: the form row of each submitted item (rows left empty
    /// or set to 0 are not submitted), so errors land next to the right row.
    item_rows: &'a [usize],
}

/// The form field an error of the pipeline belongs to: `items[2].quantity` of the
/// submitted list is `items[5].quantity` on the page when rows were skipped.
fn form_field(field: &str, item_rows: &[usize]) -> String {
    if let Some(rest) = field.strip_prefix("items[")
        && let Some((k, tail)) = rest.split_once(']')
        && let Ok(k) = k.parse::<usize>()
        && let Some(row) = item_rows.get(k)
    {
        return format!("items[{row}]{tail}");
    }
    field.to_string()
}

async fn submit_patch(
    st: &AppState,
    session: &StaffSession,
    number: &str,
    sub: Submission<'_>,
) -> Response {
    let Submission {
        tab,
        version,
        patch,
        reason,
        values,
        item_rows,
    } = sub;
    // A form without the version it was rendered from would overwrite blindly.
    let Some(version) = version else {
        let fb = Feedback {
            flash: String::new(),
            form_error:
                "フォームのバージョンがありません。画面を再読み込みしてから変更してください。"
                    .into(),
            errors: HashMap::new(),
            values: HashMap::new(),
        };
        return order_page(
            st,
            session,
            number,
            tab,
            fb,
            StatusCode::UNPROCESSABLE_ENTITY,
        )
        .await;
    };
    match st
        .store
        .change_order(number, Some(version), &patch, &session.actor(), reason)
        .await
    {
        Ok(c) => Redirect::to(&format!(
            "/orders/{}?tab={tab}&saved={}",
            urlencode(number),
            if c.changes.is_empty() { 0 } else { 1 }
        ))
        .into_response(),
        Err(StoreError::Invalid(e)) => {
            let errors =
                e.0.iter()
                    .map(|f| (form_field(&f.field, item_rows), f.message.clone()))
                    .collect();
            let fb = Feedback {
                flash: String::new(),
                form_error: "入力内容を確認してください。".into(),
                errors,
                values,
            };
            order_page(
                st,
                session,
                number,
                tab,
                fb,
                StatusCode::UNPROCESSABLE_ENTITY,
            )
            .await
        }
        Err(StoreError::Conflict { message, .. }) => {
            // What the operator typed stays in the form (with the page's new
            // version), so a save after a colleague's change loses nothing.
            let fb = Feedback {
                flash: String::new(),
                form_error: format!(
                    "{message} 入力した内容はそのまま残しています。最新の内容を確かめてから、もう一度保存してください。"
                ),
                errors: HashMap::new(),
                values,
            };
            order_page(st, session, number, tab, fb, StatusCode::CONFLICT).await
        }
        Err(e) => store_error_page(e),
    }
}

fn check_order_write(session: &StaffSession, csrf: &str) -> Option<Response> {
    let mut f = HashMap::new();
    f.insert("csrf".to_string(), csrf.to_string());
    refuse_post(session, Permission::WriteOrders, &f)
}

fn form_version(f: &HashMap<String, String>) -> Option<i64> {
    f.get("version").and_then(|v| v.parse().ok())
}

fn opt(v: Option<&String>) -> Option<Option<String>> {
    v.map(|s| Some(s.trim().to_string()).filter(|s| !s.is_empty()))
}

/// The 基本設定 form. Form fields arrive as a list of pairs because labels repeat.
async fn order_update(
    State(st): State<AppState>,
    session: StaffSession,
    Path(number): Path<String>,
    Form(pairs): Form<Vec<(String, String)>>,
) -> Response {
    let f: HashMap<String, String> = pairs
        .iter()
        .filter(|(k, _)| k != "labels")
        .cloned()
        .collect();
    if let Some(refused) =
        check_order_write(&session, f.get("csrf").map(String::as_str).unwrap_or(""))
    {
        return refused;
    }
    let mut errors = FieldErrors::default();
    let mut int = |k: &str| {
        f.get(k)
            .map(|s| s.trim())
            .filter(|s| !s.is_empty())
            .and_then(|s| {
                s.replace(',', "")
                    .parse::<i64>()
                    .map_err(|_| errors.add(k, "invalid_number", "数値で入力してください"))
                    .ok()
            })
    };
    let discount = int("discount");
    let points_used = int("points_used");
    if !errors.is_empty() {
        let fb = Feedback {
            flash: String::new(),
            form_error: "入力内容を確認してください。".into(),
            errors: errors
                .0
                .iter()
                .map(|e| (e.field.clone(), e.message.clone()))
                .collect(),
            values: f.clone(),
        };
        return order_page(
            &st,
            &session,
            &number,
            "basic",
            fb,
            StatusCode::UNPROCESSABLE_ENTITY,
        )
        .await;
    }
    let forced = f
        .get("payment_override")
        .map(|v| v.trim().to_string())
        .filter(|v| !v.is_empty());
    let patch = OrderPatch {
        handling_status: f.get("handling_status").cloned(),
        // 強制売上 / 強制取消 replaces the status select when chosen.
        payment_status: if forced.is_some() {
            None
        } else {
            f.get("payment_status").cloned()
        },
        payment_override: forced,
        payment_method: opt(f.get("payment_method")),
        carrier: opt(f.get("carrier")),
        tracking_number: opt(f.get("tracking_number")),
        shipment_status: f.get("shipment_status").cloned(),
        shipping_list_state: f.get("shipping_list_state").cloned(),
        shipping_list_exported_on: opt(f.get("shipping_list_exported_on")),
        scheduled_ship_date: opt(f.get("scheduled_ship_date")),
        scheduled_delivery_date: opt(f.get("scheduled_delivery_date")),
        shipped_at: opt(f.get("shipped_at")),
        delivered_at: opt(f.get("delivered_at")),
        paid_at: opt(f.get("paid_at")),
        delivery_time_slot: opt(f.get("delivery_time_slot")),
        needs_attention: f.get("needs_attention").map(|v| v == "true"),
        needs_attention_reason: f.get("needs_attention_reason").cloned(),
        labels: Some(
            pairs
                .iter()
                .filter(|(k, _)| k == "labels")
                .map(|(_, v)| v.clone())
                .collect(),
        ),
        discount,
        points_used,
        ..Default::default()
    };
    let reason = f.get("reason").cloned().unwrap_or_default();
    submit_patch(
        &st,
        &session,
        &number,
        Submission {
            tab: "basic",
            version: form_version(&f),
            patch,
            reason: &reason,
            values: f,
            item_rows: &[],
        },
    )
    .await
}

/// 出荷情報編集: one package's form.
async fn shipment_update(
    State(st): State<AppState>,
    session: StaffSession,
    Path((number, package)): Path<(String, u32)>,
    Form(f): Form<HashMap<String, String>>,
) -> Response {
    if let Some(refused) =
        check_order_write(&session, f.get("csrf").map(String::as_str).unwrap_or(""))
    {
        return refused;
    }
    let tracking_numbers = f.get("tracking_numbers").map(|t| {
        t.lines()
            .map(|l| l.trim().to_string())
            .filter(|l| !l.is_empty())
            .collect()
    });
    let change = juchu_domain::shipment_change::ShipmentsPatch {
        shipments: vec![juchu_domain::shipment_change::ShipmentPatch {
            number: package,
            carrier: f
                .get("carrier")
                .map(|c| Some(c.trim().to_string()).filter(|c| !c.is_empty())),
            status: f.get("status").cloned(),
            tracking_numbers,
            scheduled_ship_date: opt(f.get("scheduled_ship_date")),
            shipped_at: opt(f.get("shipped_at")),
            scheduled_delivery_date: opt(f.get("scheduled_delivery_date")),
            delivery_time_slot: opt(f.get("delivery_time_slot")),
            delivered_at: opt(f.get("delivered_at")),
        }],
        ..Default::default()
    };
    let reason = f.get("reason").cloned().unwrap_or_default();
    submit_shipments(&st, &session, &number, &f, change, &reason).await
}

/// 分納: the quantities to move into a new package (`qty_{line}`).
async fn shipment_split(
    State(st): State<AppState>,
    session: StaffSession,
    Path(number): Path<String>,
    Form(f): Form<HashMap<String, String>>,
) -> Response {
    if let Some(refused) =
        check_order_write(&session, f.get("csrf").map(String::as_str).unwrap_or(""))
    {
        return refused;
    }
    let mut errors = FieldErrors::default();
    let mut items: Vec<juchu_domain::shipment::ShipmentItem> = f
        .iter()
        .filter_map(|(k, v)| Some((k.strip_prefix("qty_")?.parse::<usize>().ok()?, k, v)))
        .filter(|(_, _, v)| !v.trim().is_empty())
        .filter_map(|(line, k, v)| match v.trim().parse::<i64>() {
            Ok(quantity) => Some(juchu_domain::shipment::ShipmentItem { line, quantity }),
            Err(_) => {
                errors.add(
                    k.clone(),
                    "invalid_number",
                    format!("受注明細{}の数量は数値で入力してください", line + 1),
                );
                None
            }
        })
        .collect();
    items.sort_by_key(|i| i.line);
    if !errors.is_empty() {
        let fb = Feedback {
            flash: String::new(),
            form_error: "入力内容を確認してください。".into(),
            errors: errors
                .0
                .iter()
                .map(|e| (e.field.clone(), e.message.clone()))
                .collect(),
            values: HashMap::new(),
        };
        return order_page(
            &st,
            &session,
            &number,
            "shipments",
            fb,
            StatusCode::UNPROCESSABLE_ENTITY,
        )
        .await;
    }
    let change = juchu_domain::shipment_change::ShipmentsPatch {
        split: Some(juchu_domain::shipment_change::SplitShipment {
            from: f.get("from").and_then(|v| v.parse().ok()).unwrap_or(1),
            items,
        }),
        ..Default::default()
    };
    submit_shipments(&st, &session, &number, &f, change, "分納").await
}

/// Puts a package back into the first package not yet shipped.
async fn shipment_merge(
    State(st): State<AppState>,
    session: StaffSession,
    Path((number, package)): Path<(String, u32)>,
    Form(f): Form<HashMap<String, String>>,
) -> Response {
    if let Some(refused) =
        check_order_write(&session, f.get("csrf").map(String::as_str).unwrap_or(""))
    {
        return refused;
    }
    let change = juchu_domain::shipment_change::ShipmentsPatch {
        merge: Some(package),
        ..Default::default()
    };
    submit_shipments(&st, &session, &number, &f, change, "出荷をまとめる").await
}

/// A change of the 出荷 tab's forms, through the order pipeline, back to that tab.
async fn submit_shipments(
    st: &AppState,
    session: &StaffSession,
    number: &str,
    f: &HashMap<String, String>,
    change: juchu_domain::shipment_change::ShipmentsPatch,
    reason: &str,
) -> Response {
    let patch = OrderPatch {
        shipments: change,
        ..Default::default()
    };
    submit_patch(
        st,
        session,
        number,
        Submission {
            tab: "shipments",
            version: form_version(f),
            patch,
            reason,
            values: HashMap::new(),
            item_rows: &[],
        },
    )
    .await
}

/// The 受注商品 form: parallel lists of code / quantity / price; quantity 0 removes a line.
async fn order_items_update(
    State(st): State<AppState>,
    session: StaffSession,
    Path(number): Path<String>,
    Form(pairs): Form<Vec<(String, String)>>,
) -> Response {
    let field = |name: &str| {
        pairs
            .iter()
            .filter(|(k, _)| k == name)
            .map(|(_, v)| v.trim().to_string())
            .collect::<Vec<_>>()
    };
    let csrf = field("csrf").pop().unwrap_or_default();
    if let Some(refused) = check_order_write(&session, &csrf) {
        return refused;
    }
    let (codes, qtys, prices) = (field("code"), field("quantity"), field("price"));
    let mut items = Vec::new();
    let mut rows = Vec::new();
    let mut errors = HashMap::new();
    for (i, code) in codes.iter().enumerate() {
        let q = qtys.get(i).cloned().unwrap_or_default();
        if code.is_empty() && q.is_empty() {
            continue;
        }
        let quantity = match q.parse::<i64>() {
            Ok(0) => continue,
            Ok(n) => n,
            Err(_) => {
                errors.insert(
                    format!("items[{i}].quantity"),
                    "数量は整数で入力してください".to_string(),
                );
                continue;
            }
        };
        let unit_price = match prices.get(i).map(|p| p.replace(',', "")) {
            None => None,
            Some(p) if p.is_empty() => None,
            Some(p) => match p.parse::<i64>() {
                Ok(v) => Some(v),
                Err(_) => {
                    errors.insert(
                        format!("items[{i}].unit_price"),
                        "単価は整数（円）で入力してください".to_string(),
                    );
                    continue;
                }
            },
        };
        rows.push(i);
        items.push(ItemInput {
            product_code: code.clone(),
            quantity,
            unit_price,
        });
    }
    if !errors.is_empty() {
        let fb = Feedback {
            flash: String::new(),
            form_error: "入力内容を確認してください。".into(),
            errors,
            values: HashMap::new(),
        };
        return order_page(
            &st,
            &session,
            &number,
            "items",
            fb,
            StatusCode::UNPROCESSABLE_ENTITY,
        )
        .await;
    }
    let version = field("version").pop().and_then(|v| v.parse().ok());
    let patch = OrderPatch {
        items: Some(items),
        ..Default::default()
    };
    let sub = Submission {
        tab: "items",
        version,
        patch,
        reason: "",
        values: HashMap::new(),
        item_rows: &rows,
    };
    submit_patch(&st, &session, &number, sub).await
}

/// 決済処理 from the order page: queued for the worker, the answer arrives in
/// 決済状況 and 履歴.
async fn order_payment_request(
    State(st): State<AppState>,
    session: StaffSession,
    Path(number): Path<String>,
    Form(f): Form<HashMap<String, String>>,
) -> Response {
    if let Some(refused) =
        check_order_write(&session, f.get("csrf").map(String::as_str).unwrap_or(""))
    {
        return refused;
    }
    let g = |k: &str| f.get(k).map(|s| s.trim()).filter(|s| !s.is_empty());
    let process = g("process").and_then(juchu_domain::payment::PaymentProcess::parse);
    let actor = session.actor();
    let refused = |form_error: String| Feedback {
        flash: String::new(),
        form_error,
        errors: HashMap::new(),
        values: HashMap::new(),
    };
    let Some(p) = process else {
        let fb = refused("決済処理を選んでください".into());
        return order_page(
            &st,
            &session,
            &number,
            "payment",
            fb,
            StatusCode::UNPROCESSABLE_ENTITY,
        )
        .await;
    };
    match st
        .store
        .request_payment(
            &number,
            p,
            g("card_token"),
            &actor,
            g("reason").unwrap_or(""),
        )
        .await
    {
        // Redirect after the post, so a reload does not ask the provider again.
        Ok(_) => Redirect::to(&format!(
            "/orders/{}?tab=payment&requested={}",
            urlencode(&number),
            p.code()
        ))
        .into_response(),
        Err(juchu_store::StoreError::Invalid(e)) => {
            order_page(
                &st,
                &session,
                &number,
                "payment",
                refused(e.to_string()),
                StatusCode::UNPROCESSABLE_ENTITY,
            )
            .await
        }
        Err(e) => store_error_page(e),
    }
}

/// 請求先・お届け先の編集: both addresses through the order pipeline (履歴,
/// events, rules), errors next to their fields.
async fn order_addresses_update(
    State(st): State<AppState>,
    session: StaffSession,
    Path(number): Path<String>,
    Form(f): Form<HashMap<String, String>>,
) -> Response {
    if let Some(refused) =
        check_order_write(&session, f.get("csrf").map(String::as_str).unwrap_or(""))
    {
        return refused;
    }
    let patch = OrderPatch {
        billing: Some(address_from_form(&f, "billing.")),
        shipping: Some(address_from_form(&f, "shipping.")),
        ..Default::default()
    };
    let reason = f.get("reason").cloned().unwrap_or_default();
    let sub = Submission {
        tab: "basic",
        version: form_version(&f),
        patch,
        reason: &reason,
        values: f.clone(),
        item_rows: &[],
    };
    submit_patch(&st, &session, &number, sub).await
}

async fn order_memo_update(
    State(st): State<AppState>,
    session: StaffSession,
    Path(number): Path<String>,
    Form(f): Form<HashMap<String, String>>,
) -> Response {
    if let Some(refused) =
        check_order_write(&session, f.get("csrf").map(String::as_str).unwrap_or(""))
    {
        return refused;
    }
    let patch = OrderPatch {
        memo: Some(f.get("memo").cloned().unwrap_or_default()),
        ..Default::default()
    };
    let sub = Submission {
        tab: "memo",
        version: form_version(&f),
        patch,
        reason: "",
        values: HashMap::new(),
        item_rows: &[],
    };
    submit_patch(&st, &session, &number, sub).await
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn yen_formatting() {
        assert_eq!(yen(0), "¥0");
        assert_eq!(yen(1234), "¥1,234");
        assert_eq!(yen(1234567), "¥1,234,567");
        assert_eq!(yen(-500), "-¥500");
    }

    #[test]
    fn item_errors_follow_their_form_rows() {
        // Rows 0 and 2 were submitted; row 1 was set to 0 and dropped.
        assert_eq!(
            form_field("items[1].quantity", &[0, 2]),
            "items[2].quantity"
        );
        assert_eq!(form_field("items[0]", &[0, 2]), "items[0]");
        assert_eq!(form_field("items", &[0, 2]), "items");
        assert_eq!(form_field("discount", &[]), "discount");
        assert_eq!(form_field("items[7].x", &[0]), "items[7].x");
    }

    #[test]
    fn page_urls_keep_filters() {
        let mut p = HashMap::new();
        p.insert("kana".to_string(), "ヤマダ".to_string());
        p.insert("page".to_string(), "3".to_string());
        assert_eq!(
            page_url(&p, 4),
            "/orders?kana=%E3%83%A4%E3%83%9E%E3%83%80&page=4"
        );
    }
}
