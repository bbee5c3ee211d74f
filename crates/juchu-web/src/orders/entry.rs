//! 受注登録: an order taken by phone, FAX or mail, entered by staff. The
//! customer is found or typed (and optionally registered), items are added by
//! product code or name, totals recalculate as the form changes, and the order
//! is saved through the same pipeline as the API's (rules, blacklist
//! screening, mails, 与信).

use crate::AppState;
use crate::auth::StaffSession;
use crate::views::{
    ADDRESS_FIELDS, Nav, address_field, address_from_form, forbidden, refuse_post, render,
    store_error_page, urlencode, yen,
};
use askama::Template;
use axum::Form;
use axum::Router;
use axum::extract::{Query, State};
use axum::http::StatusCode;
use axum::response::{Html, IntoResponse, Redirect, Response};
use axum::routing::{get, post};
use juchu_domain::FieldErrors;
use juchu_domain::access::Permission;
use juchu_domain::customer::{Address, CustomerInput};
use juchu_domain::order::{ItemInput, NewOrder, Order};
use juchu_store::StoreError;
use juchu_store::customers::CustomerQuery;
use juchu_store::orders::NewOrderRequest;
use std::collections::HashMap;

/// Item rows on the form (more lines: save, then add on 受注商品).
const ITEM_ROWS: usize = 8;

pub fn routes() -> Router<AppState> {
    Router::new()
        .route("/orders/new", get(entry_page).post(entry_submit))
        .route("/orders/new/quote", post(quote))
}

pub struct QuoteView {
    lines: Vec<(String, String, i64, String)>,
    subtotal: String,
    shipping_fee: String,
    payment_fee: String,
    discount: String,
    points: String,
    total: String,
    tax_standard: String,
    tax_reduced: String,
}

#[derive(Template)]
#[template(path = "orders/entry_totals.html")]
struct Totals {
    totals: Option<QuoteView>,
    note: String,
}

impl Totals {
    fn of(order: Result<Order, String>) -> Totals {
        match order {
            Ok(o) => {
                let t = &o.totals;
                Totals {
                    totals: Some(QuoteView {
                        lines: o
                            .items
                            .iter()
                            .map(|i| {
                                (
                                    i.product_name.clone(),
                                    yen(i.unit_price),
                                    i.quantity,
                                    yen(i.amount()),
                                )
                            })
                            .collect(),
                        subtotal: yen(t.items_standard + t.items_reduced),
                        shipping_fee: yen(t.shipping_fee),
                        payment_fee: yen(t.payment_fee),
                        discount: yen(t.discount),
                        points: t.points_used.to_string(),
                        total: yen(t.total),
                        tax_standard: yen(t.tax_standard),
                        tax_reduced: yen(t.tax_reduced),
                    }),
                    note: String::new(),
                }
            }
            Err(note) => Totals { totals: None, note },
        }
    }
    fn html(&self) -> String {
        self.render().unwrap_or_default()
    }
}

#[derive(Template)]
#[template(path = "orders/new.html")]
struct EntryPage {
    nav: Nav,
    form_error: String,
    q: String,
    matches: Vec<(i64, String, String, String)>,
    customer_label: String,
    values: HashMap<String, String>,
    errors: HashMap<String, String>,
    address_fields: [(&'static str, &'static str); 12],
    prefectures: [&'static str; 47],
    products: Vec<(String, String, String)>,
    payment_methods: Vec<String>,
    carriers: Vec<String>,
    /// (carrier, its お届け時間帯) for the carriers juchu knows.
    slots: Vec<(String, Vec<String>)>,
    item_rows: usize,
    totals_html: String,
}

impl EntryPage {
    /// Whether an option is the chosen value (selects).
    fn same(&self, option: &str, chosen: &str) -> bool {
        option == chosen
    }
    fn v(&self, key: impl AsRef<str>) -> String {
        self.values.get(key.as_ref()).cloned().unwrap_or_default()
    }
    fn err(&self, key: impl AsRef<str>) -> String {
        self.errors.get(key.as_ref()).cloned().unwrap_or_default()
    }
    fn item_err(&self, i: impl std::borrow::Borrow<usize>) -> String {
        let prefix = format!("items[{}]", i.borrow());
        self.errors
            .iter()
            .filter(|(k, _)| k.starts_with(&prefix))
            .map(|(_, v)| v.clone())
            .collect::<Vec<_>>()
            .join(" ")
    }
    fn postal_warning(&self, prefix: &str) -> String {
        juchu_domain::postal::mismatch(
            &self.v(format!("{prefix}postal_code")),
            &self.v(format!("{prefix}prefecture")),
        )
        .unwrap_or_default()
    }
}

struct Entered {
    req: NewOrderRequest,
    /// Form row of each submitted item (empty rows are skipped).
    rows: Vec<usize>,
}

/// The request a filled form makes. Item names are resolved to codes here (an
/// operator on the phone hears the name); what is neither is left for the
/// pipeline to refuse with its row.
fn entered(
    f: &HashMap<String, String>,
    products: &[juchu_domain::masters::Product],
    errors: &mut FieldErrors,
) -> Entered {
    let g = |k: &str| f.get(k).map(|s| s.trim().to_string()).unwrap_or_default();
    let mut items = Vec::new();
    let mut rows = Vec::new();
    for i in 0..ITEM_ROWS {
        let code = g(&format!("item_code_{i}"));
        let qty = g(&format!("item_qty_{i}"));
        if code.is_empty() && qty.is_empty() {
            continue;
        }
        let quantity = if qty.is_empty() {
            1
        } else {
            match qty.parse::<i64>() {
                Ok(q) => q,
                Err(_) => {
                    errors.add(
                        format!("items[{i}].quantity"),
                        "invalid_number",
                        format!("{}行目の数量「{qty}」は数値で入力してください", i + 1),
                    );
                    continue;
                }
            }
        };
        let code = products
            .iter()
            .find(|p| p.code == code)
            .or_else(|| products.iter().find(|p| p.name == code))
            .map(|p| p.code.clone())
            .unwrap_or(code);
        rows.push(i);
        items.push(ItemInput {
            product_code: code,
            quantity,
            unit_price: None,
        });
    }
    let number = |k: &str, label: &str, errors: &mut FieldErrors| -> i64 {
        let v = g(k);
        if v.is_empty() {
            return 0;
        }
        v.replace([',', '，'], "").parse().unwrap_or_else(|_| {
            errors.add(
                k,
                "invalid_number",
                format!("{label}「{v}」は数値で入力してください"),
            );
            0
        })
    };
    let discount = number("discount", "値引き", errors);
    let points_used = number("points_used", "利用ポイント", errors);
    let billing = address_from_form(f, "billing.");
    let customer_id = g("customer_id").parse::<i64>().ok();
    let shipping = (g("ship_to") == "other").then(|| address_from_form(f, "shipping."));
    let opt = |k: &str| Some(g(k)).filter(|v| !v.is_empty());
    let new_customer =
        (customer_id.is_none() && g("register_customer") == "true").then(|| CustomerInput {
            address: billing.clone(),
            ..Default::default()
        });
    Entered {
        rows,
        req: NewOrderRequest {
            billing_given: true,
            new_customer,
            card_token: None,
            order: NewOrder {
                customer_id,
                billing,
                shipping,
                items,
                payment_method: opt("payment_method"),
                carrier: opt("carrier"),
                discount,
                points_used,
                scheduled_delivery_date: opt("scheduled_delivery_date"),
                delivery_time_slot: opt("delivery_time_slot"),
                memo: g("memo"),
                ..Default::default()
            },
        },
    }
}

/// Errors of the pipeline named as the form names its fields.
fn form_errors(e: &FieldErrors, rows: &[usize]) -> HashMap<String, String> {
    e.0.iter()
        .map(|x| {
            let field = match x
                .field
                .strip_prefix("items[")
                .and_then(|r| r.split_once(']'))
                .and_then(|(k, tail)| Some((rows.get(k.parse::<usize>().ok()?)?, tail)))
            {
                Some((row, tail)) => format!("items[{row}]{tail}"),
                None => x.field.clone(),
            };
            (field, x.message.clone())
        })
        .collect()
}

/// The carrier's slots must hold the chosen slot (the API keeps whatever an
/// import brings; staff choose from the list).
fn check_slot(
    req: &NewOrderRequest,
    masters: &juchu_domain::masters::Masters,
    errors: &mut FieldErrors,
) {
    let Some(slot) = req.order.delivery_time_slot.as_deref() else {
        return;
    };
    let known = req
        .order
        .carrier
        .as_deref()
        .and_then(|c| masters.carrier_by_key(c))
        .and_then(|c| juchu_domain::tracking::KnownCarrier::for_code(&c.code));
    match (req.order.carrier.as_deref(), known) {
        (None, _) => errors.add(
            "delivery_time_slot",
            "carrier_required",
            "お届け時間帯を指定するときは配送業者を選んでください",
        ),
        (Some(c), Some(k)) if !k.time_slots().contains(&slot) => errors.add(
            "delivery_time_slot",
            "unknown_slot",
            format!("お届け時間帯「{slot}」は{c}の時間帯にありません"),
        ),
        _ => {}
    }
}

struct Shown {
    q: String,
    values: HashMap<String, String>,
    errors: HashMap<String, String>,
    form_error: String,
    totals: Totals,
}

async fn page(st: &AppState, session: &StaffSession, s: Shown, status: StatusCode) -> Response {
    let (masters, products) = match (
        st.store.masters().await,
        st.store.list_products(1000, 0).await,
    ) {
        (Ok(m), Ok((p, _))) => (m, p),
        (Err(e), _) | (_, Err(e)) => return store_error_page(e),
    };
    let mut matches = Vec::new();
    if !s.q.trim().is_empty() {
        let digits = juchu_domain::normalize::phone_key(&s.q);
        let q = if digits.len() >= 10 {
            CustomerQuery {
                phone: Some(s.q.clone()),
                ..Default::default()
            }
        } else {
            CustomerQuery {
                name: Some(s.q.clone()),
                ..Default::default()
            }
        };
        match st.store.list_customers(&q, 20, 0).await {
            Ok(page) => {
                matches = page
                    .customers
                    .into_iter()
                    .map(|c| {
                        let a = &c.address;
                        (
                            c.id,
                            format!("{} {}", a.company_name, a.full_name())
                                .trim()
                                .to_string(),
                            a.phone.clone(),
                            format!("〒{} {}{}", a.postal_code, a.prefecture, a.address1),
                        )
                    })
                    .collect()
            }
            Err(e) => return store_error_page(e),
        }
    }
    let customer_label = match s
        .values
        .get("customer_id")
        .and_then(|v| v.parse::<i64>().ok())
    {
        Some(id) => match st.store.customer(id).await {
            Ok(c) => format!("{}（顧客ID {}）", c.address.full_name(), c.id),
            Err(e) => return store_error_page(e),
        },
        None => String::new(),
    };
    let slots = masters
        .carriers
        .iter()
        .filter_map(|c| {
            juchu_domain::tracking::KnownCarrier::for_code(&c.code).map(|k| {
                (
                    c.name.clone(),
                    k.time_slots().iter().map(|s| s.to_string()).collect(),
                )
            })
        })
        .collect();
    render(
        status,
        &EntryPage {
            nav: Nav::of(session),
            form_error: s.form_error,
            q: s.q,
            matches,
            customer_label,
            values: s.values,
            errors: s.errors,
            address_fields: ADDRESS_FIELDS,
            prefectures: juchu_domain::customer::PREFECTURES,
            products: products
                .iter()
                .map(|p| (p.code.clone(), p.name.clone(), yen(p.unit_price)))
                .collect(),
            payment_methods: masters
                .payment_methods
                .iter()
                .map(|p| p.name.clone())
                .collect(),
            carriers: masters.carriers.iter().map(|c| c.name.clone()).collect(),
            slots,
            item_rows: ITEM_ROWS,
            totals_html: s.totals.html(),
        },
    )
}

async fn entry_page(
    State(st): State<AppState>,
    session: StaffSession,
    Query(q): Query<HashMap<String, String>>,
) -> Response {
    if !session.role().allows(Permission::WriteOrders) {
        return forbidden();
    }
    let mut values = HashMap::new();
    if let Some(id) = q.get("customer_id").and_then(|v| v.parse::<i64>().ok()) {
        match st.store.customer(id).await {
            Ok(c) => {
                values.insert("customer_id".to_string(), id.to_string());
                for (name, _) in ADDRESS_FIELDS {
                    values.insert(format!("billing.{name}"), address_field(&c.address, name));
                }
            }
            Err(e) => return store_error_page(e),
        }
    }
    let shown = Shown {
        q: q.get("q").cloned().unwrap_or_default(),
        values,
        errors: HashMap::new(),
        form_error: String::new(),
        totals: Totals::of(Err("商品を入れると合計が出ます。".into())),
    };
    page(&st, &session, shown, StatusCode::OK).await
}

/// A quote for the form as it stands: the same pricing as saving, nothing saved.
async fn quoted(
    st: &AppState,
    f: &HashMap<String, String>,
) -> Result<(Order, NewOrderRequest, Vec<usize>), (FieldErrors, Vec<usize>)> {
    let products = st
        .store
        .list_products(1000, 0)
        .await
        .map(|(p, _)| p)
        .unwrap_or_default();
    let mut errors = FieldErrors::default();
    let Entered { req, rows } = entered(f, &products, &mut errors);
    if let Ok(m) = st.store.masters().await {
        check_slot(&req, &m, &mut errors);
    }
    if req.order.items.is_empty() && errors.is_empty() {
        errors.add("items", "required", "商品を1つ以上入れてください");
    }
    if !errors.is_empty() {
        return Err((errors, rows));
    }
    match st.store.quote_order(req.order.clone()).await {
        Ok(o) => Ok((o, req, rows)),
        Err(StoreError::Invalid(e)) => Err((e, rows)),
        Err(e) => {
            tracing::error!(error = %e, "quote failed");
            Err((
                FieldErrors::single("form", "internal", "内部エラーが発生しました"),
                rows,
            ))
        }
    }
}

async fn quote(
    State(st): State<AppState>,
    _session: StaffSession,
    Form(f): Form<HashMap<String, String>>,
) -> Response {
    let totals = match quoted(&st, &f).await {
        Ok((o, ..)) => Totals::of(Ok(o)),
        Err((e, _)) => Totals::of(Err(format!("まだ計算できません: {}", e.messages()))),
    };
    Html(totals.html()).into_response()
}

async fn entry_submit(
    State(st): State<AppState>,
    session: StaffSession,
    Form(f): Form<HashMap<String, String>>,
) -> Response {
    if let Some(refused) = refuse_post(&session, Permission::WriteOrders, &f) {
        return refused;
    }
    let again = |errors: HashMap<String, String>, form_error: String, totals: Totals| Shown {
        q: String::new(),
        values: f.clone(),
        errors,
        form_error,
        totals,
    };
    let (order, mut req, rows) = match quoted(&st, &f).await {
        Ok(x) => x,
        Err((e, rows)) => {
            let shown = again(
                form_errors(&e, &rows),
                format!("入力内容を確認してください: {}", e.messages()),
                Totals::of(Err("入力を直すと合計が出ます。".into())),
            );
            return page(&st, &session, shown, StatusCode::UNPROCESSABLE_ENTITY).await;
        }
    };
    if f.get("action").map(String::as_str) == Some("quote") {
        let shown = again(HashMap::new(), String::new(), Totals::of(Ok(order)));
        return page(&st, &session, shown, StatusCode::OK).await;
    }
    // A registered customer's own data is used unless the operator typed other.
    if req.order.customer_id.is_some() && req.order.billing == Address::default() {
        req.billing_given = false;
    }
    match st.store.create_order(req, &session.actor(), None).await {
        Ok(c) => Redirect::to(&format!(
            "/orders/{}?saved=created",
            urlencode(&c.order.order_number)
        ))
        .into_response(),
        Err(StoreError::Invalid(e)) => {
            let shown = again(
                form_errors(&e, &rows),
                format!("登録できません: {}", e.messages()),
                Totals::of(Ok(order)),
            );
            page(&st, &session, shown, StatusCode::UNPROCESSABLE_ENTITY).await
        }
        Err(e) => store_error_page(e),
    }
}
