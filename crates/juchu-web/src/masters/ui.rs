//! Master pages (対応状況管理, 支払方法, 配送業者, 商品, 受注ラベル) and 顧客: a list
//! and a creation form each, from one template.

use crate::AppState;
use crate::auth::StaffSession;
use crate::views::{Nav, error_page, render, store_error_page, yen};
use askama::Template;
use axum::Form;
use axum::Router;
use axum::extract::{Path, Query, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Redirect, Response};
use axum::routing::get;
use juchu_domain::access::Permission;
use juchu_domain::customer::{Address, CustomerInput, PREFECTURES};
use juchu_store::StoreError;
use juchu_store::customers::CustomerQuery;
use juchu_store::masters::{
    CarrierInput, HandlingStatusInput, LabelInput, PaymentMethodInput, ProductInput,
};
use std::collections::HashMap;

pub fn routes() -> Router<AppState> {
    Router::new()
        .route("/masters/{kind}", get(master_list).post(master_create))
        .route("/customers", get(customers_list).post(customer_create))
        .route("/customers/{id}", get(customer_detail))
        .route(
            "/customers/{id}/blacklist",
            axum::routing::post(customer_blacklist),
        )
}

/// A submitted form's values and the errors by field name, shown again on failure.
type Submitted<'a> = (&'a HashMap<String, String>, HashMap<String, String>);

pub struct FieldDef {
    pub name: &'static str,
    pub label: &'static str,
    /// text / color / checkbox / select / postal (郵便番号 with 住所を入力)
    pub kind: &'static str,
    pub options: Vec<String>,
    pub value: String,
    pub error: String,
}

fn field(name: &'static str, label: &'static str, kind: &'static str) -> FieldDef {
    FieldDef {
        name,
        label,
        kind,
        options: vec![],
        value: String::new(),
        error: String::new(),
    }
}

pub struct MasterRow {
    pub cells: Vec<String>,
    pub link: String,
    pub color: String,
}

/// One of a customer's requests: (受付番号, 受付日時, 申請種別, 対応状況).
type RequestLine = (i64, String, String, String);

/// Signed up, the latest requests, the linked LINE user id, and LINE pushes
/// (time, status, text).
type CustomerMypage = (
    bool,
    Vec<RequestLine>,
    String,
    Vec<(String, String, String)>,
);

#[derive(Template)]
#[template(path = "masters/master.html")]
struct MasterPage {
    nav: Nav,
    title: &'static str,
    action: String,
    csrf: String,
    can_edit: bool,
    flash: String,
    form_error: String,
    columns: Vec<&'static str>,
    rows: Vec<MasterRow>,
    total: i64,
    fields: Vec<FieldDef>,
    search_action: &'static str,
    search_name: String,
    search_phone: String,
    search_email: String,
    search_blacklisted: bool,
    /// The row being edited (the form then saves it instead of creating one).
    editing_id: String,
    /// On a customer's page: (blacklisted, reason, the ブラックリスト理由 master)
    /// for the ブラックリスト form.
    blacklist: Option<(bool, String, Vec<String>)>,
    /// On a customer's page: whether they signed up to マイページ, their
    /// requests (申請), the LINE link and pushes.
    mypage: Option<CustomerMypage>,
}

struct Kind {
    title: &'static str,
    columns: Vec<&'static str>,
    fields: Vec<FieldDef>,
}

fn kind(k: &str) -> Option<Kind> {
    Some(match k {
        "handling-statuses" => Kind {
            title: "対応状況管理",
            columns: vec!["名称", "表示順", "色", "初期値"],
            fields: vec![
                field("name", "名称", "text"),
                field("position", "表示順", "text"),
                field("color", "色", "color"),
                field("is_default", "新規受注の初期値にする", "checkbox"),
            ],
        },
        "payment-methods" => Kind {
            title: "支払方法",
            columns: vec!["名称", "コード", "手数料"],
            fields: vec![
                field("name", "名称", "text"),
                field("code", "コード", "text"),
                field("fee", "手数料（円・税込）", "text"),
            ],
        },
        "carriers" => Kind {
            title: "配送業者",
            columns: vec!["名称", "コード", "送料", "追跡URL"],
            fields: vec![
                field("name", "名称", "text"),
                field("code", "コード", "text"),
                field("shipping_fee", "送料（円・税込）", "text"),
                field(
                    "tracking_url_template",
                    "追跡URL（{tracking_number} が伝票番号に置き換わります）",
                    "text",
                ),
            ],
        },
        "products" => Kind {
            title: "商品",
            columns: vec![
                "商品コード",
                "商品名",
                "単価（税込）",
                "税率",
                "商品別送料",
                "商品別決済手数料",
                "同梱物",
                "定期",
            ],
            fields: vec![
                field("code", "商品コード", "text"),
                field("name", "商品名", "text"),
                field("unit_price", "単価（円・税込）", "text"),
                FieldDef {
                    options: vec!["10".into(), "8".into()],
                    value: "10".into(),
                    ..field("tax_rate", "税率（%）", "select")
                },
                field("shipping_fee", "商品別送料（空欄=配送業者の送料）", "text"),
                field(
                    "payment_fee",
                    "商品別決済手数料（空欄=支払方法の手数料）",
                    "text",
                ),
                field("is_bundled_item", "同梱物", "checkbox"),
                field("is_subscription", "定期商品", "checkbox"),
            ],
        },
        "labels" => Kind {
            title: "受注ラベル",
            columns: vec!["名称", "色"],
            fields: vec![field("name", "名称", "text"), field("color", "色", "color")],
        },
        _ => return None,
    })
}

async fn rows_of(st: &AppState, k: &str) -> Result<(Vec<MasterRow>, i64), StoreError> {
    let m = st.store.masters().await?;
    let row = |cells: Vec<String>, id: i64| MasterRow {
        cells,
        link: format!("/masters/{k}?edit={id}"),
        color: String::new(),
    };
    let rows: Vec<MasterRow> = match k {
        "handling-statuses" => m
            .handling_statuses
            .iter()
            .map(|s| MasterRow {
                cells: vec![
                    s.name.clone(),
                    s.position.to_string(),
                    s.color.clone(),
                    if s.is_default {
                        "○".into()
                    } else {
                        String::new()
                    },
                ],
                link: format!("/masters/{k}?edit={}", s.id),
                color: s.color.clone(),
            })
            .collect(),
        "payment-methods" => m
            .payment_methods
            .iter()
            .map(|p| row(vec![p.name.clone(), p.code.clone(), yen(p.fee)], p.id))
            .collect(),
        "carriers" => m
            .carriers
            .iter()
            .map(|c| {
                row(
                    vec![
                        c.name.clone(),
                        c.code.clone(),
                        yen(c.shipping_fee),
                        c.tracking_url_template.clone(),
                    ],
                    c.id,
                )
            })
            .collect(),
        "labels" => m
            .labels
            .iter()
            .map(|l| MasterRow {
                cells: vec![l.name.clone(), l.color.clone()],
                link: format!("/masters/{k}?edit={}", l.id),
                color: l.color.clone(),
            })
            .collect(),
        "products" => {
            let (ps, total) = st.store.list_products(500, 0).await?;
            let rows = ps
                .iter()
                .map(|p| {
                    row(
                        vec![
                            p.code.clone(),
                            p.name.clone(),
                            yen(p.unit_price),
                            format!("{}%", p.tax_rate.percent()),
                            p.shipping_fee.map(yen).unwrap_or_default(),
                            p.payment_fee.map(yen).unwrap_or_default(),
                            if p.is_bundled_item {
                                "○".into()
                            } else {
                                String::new()
                            },
                            if p.is_subscription {
                                "○".into()
                            } else {
                                String::new()
                            },
                        ],
                        p.id,
                    )
                })
                .collect();
            return Ok((rows, total));
        }
        _ => vec![],
    };
    let n = rows.len() as i64;
    Ok((rows, n))
}

/// The form values of one existing master row, for its edit form.
async fn values_of(
    st: &AppState,
    k: &str,
    id: i64,
) -> Result<Option<HashMap<String, String>>, StoreError> {
    let m = st.store.masters().await?;
    let pairs: Option<Vec<(&str, String)>> = match k {
        "handling-statuses" => m.handling_status(id).map(|s| {
            vec![
                ("name", s.name.clone()),
                ("position", s.position.to_string()),
                ("color", s.color.clone()),
                ("is_default", s.is_default.to_string()),
            ]
        }),
        "payment-methods" => m.payment_method(id).map(|p| {
            vec![
                ("name", p.name.clone()),
                ("code", p.code.clone()),
                ("fee", p.fee.to_string()),
            ]
        }),
        "carriers" => m.carrier(id).map(|c| {
            vec![
                ("name", c.name.clone()),
                ("code", c.code.clone()),
                ("shipping_fee", c.shipping_fee.to_string()),
                ("tracking_url_template", c.tracking_url_template.clone()),
            ]
        }),
        "labels" => m
            .label(id)
            .map(|l| vec![("name", l.name.clone()), ("color", l.color.clone())]),
        "products" => st.store.product_by_id(id).await?.map(|p| {
            vec![
                ("code", p.code.clone()),
                ("name", p.name.clone()),
                ("unit_price", p.unit_price.to_string()),
                ("tax_rate", p.tax_rate.percent().to_string()),
                (
                    "shipping_fee",
                    p.shipping_fee.map(|v| v.to_string()).unwrap_or_default(),
                ),
                (
                    "payment_fee",
                    p.payment_fee.map(|v| v.to_string()).unwrap_or_default(),
                ),
                ("is_bundled_item", p.is_bundled_item.to_string()),
                ("is_subscription", p.is_subscription.to_string()),
            ]
        }),
        _ => None,
    };
    Ok(pairs.map(|v| {
        let mut map: HashMap<String, String> =
            v.into_iter().map(|(k, v)| (k.to_string(), v)).collect();
        map.insert("id".into(), id.to_string());
        map
    }))
}

async fn master_page(
    st: &AppState,
    session: &StaffSession,
    k: &str,
    flash: String,
    form_error: String,
    submitted: Option<Submitted<'_>>,
    status: StatusCode,
) -> Response {
    let Some(mut def) = kind(k) else {
        return error_page(StatusCode::NOT_FOUND, "ページが見つかりません");
    };
    let (rows, total) = match rows_of(st, k).await {
        Ok(r) => r,
        Err(e) => return store_error_page(e),
    };
    let mut editing_id = String::new();
    if let Some((values, errors)) = submitted {
        editing_id = values.get("id").cloned().unwrap_or_default();
        for fd in &mut def.fields {
            if let Some(v) = values.get(fd.name) {
                fd.value = v.clone();
            }
            fd.error = errors.get(fd.name).cloned().unwrap_or_default();
        }
    }
    let t = MasterPage {
        nav: Nav::of(session),
        title: def.title,
        action: format!("/masters/{k}"),
        csrf: session.0.csrf_token.clone(),
        can_edit: session.role().allows(Permission::WriteMasters),
        flash,
        form_error,
        columns: def.columns,
        rows,
        total,
        fields: def.fields,
        search_action: "",
        search_name: String::new(),
        search_phone: String::new(),
        search_email: String::new(),
        search_blacklisted: false,
        editing_id,
        blacklist: None,
        mypage: None,
    };
    render(status, &t)
}

async fn master_list(
    State(st): State<AppState>,
    session: StaffSession,
    Path(k): Path<String>,
    Query(q): Query<HashMap<String, String>>,
) -> Response {
    let flash = if q.contains_key("created") {
        "登録しました。".to_string()
    } else if q.contains_key("saved") {
        "保存しました。".to_string()
    } else {
        String::new()
    };
    let editing = match q.get("edit").and_then(|v| v.parse::<i64>().ok()) {
        Some(id) => match values_of(&st, &k, id).await {
            Ok(Some(v)) => Some(v),
            Ok(None) => return error_page(StatusCode::NOT_FOUND, "見つかりません"),
            Err(e) => return store_error_page(e),
        },
        None => None,
    };
    master_page(
        &st,
        &session,
        &k,
        flash,
        String::new(),
        editing.as_ref().map(|v| (v, HashMap::new())),
        StatusCode::OK,
    )
    .await
}

fn parse_money(
    f: &HashMap<String, String>,
    k: &str,
    errors: &mut HashMap<String, String>,
) -> Option<i64> {
    let v = f
        .get(k)
        .map(|s| s.trim().replace([',', '¥', '円'], ""))
        .filter(|s| !s.is_empty())?;
    match v.parse::<i64>() {
        Ok(n) => Some(n),
        Err(_) => {
            errors.insert(k.to_string(), "整数（円）で入力してください".into());
            None
        }
    }
}

async fn master_create(
    State(st): State<AppState>,
    session: StaffSession,
    Path(k): Path<String>,
    Form(f): Form<HashMap<String, String>>,
) -> Response {
    if let Some(refused) = crate::views::refuse_post(&session, Permission::WriteMasters, &f) {
        return refused;
    }
    let s = |name: &str| f.get(name).cloned().unwrap_or_default();
    let b = |name: &str| f.get(name).is_some_and(|v| v == "true" || v == "on");
    let mut errors = HashMap::new();
    // With an id the form edits that row; without, it registers a new one.
    let id = match f.get("id").map(|v| v.trim()).filter(|v| !v.is_empty()) {
        None => None,
        Some(v) => match v.parse::<i64>() {
            Ok(id) => Some(id),
            Err(_) => return error_page(StatusCode::BAD_REQUEST, "不正なIDです"),
        },
    };
    let result: Result<(), StoreError> = match k.as_str() {
        "handling-statuses" => {
            let position = parse_money(&f, "position", &mut errors);
            if errors.is_empty() {
                let input = HandlingStatusInput {
                    name: s("name"),
                    position,
                    color: s("color"),
                    is_default: b("is_default"),
                };
                match id {
                    Some(id) => st.store.update_handling_status(id, input).await.map(|_| ()),
                    None => st.store.create_handling_status(input).await.map(|_| ()),
                }
            } else {
                Ok(())
            }
        }
        "payment-methods" => {
            let fee = parse_money(&f, "fee", &mut errors).unwrap_or(0);
            if errors.is_empty() {
                let input = PaymentMethodInput {
                    code: s("code"),
                    name: s("name"),
                    fee,
                };
                match id {
                    Some(id) => st.store.update_payment_method(id, input).await.map(|_| ()),
                    None => st.store.create_payment_method(input).await.map(|_| ()),
                }
            } else {
                Ok(())
            }
        }
        "carriers" => {
            let fee = parse_money(&f, "shipping_fee", &mut errors).unwrap_or(0);
            if errors.is_empty() {
                let input = CarrierInput {
                    code: s("code"),
                    name: s("name"),
                    tracking_url_template: s("tracking_url_template"),
                    shipping_fee: fee,
                };
                match id {
                    Some(id) => st.store.update_carrier(id, input).await.map(|_| ()),
                    None => st.store.create_carrier(input).await.map(|_| ()),
                }
            } else {
                Ok(())
            }
        }
        "products" => {
            let price = parse_money(&f, "unit_price", &mut errors);
            let tax = parse_money(&f, "tax_rate", &mut errors).unwrap_or(10);
            let shipping_fee = parse_money(&f, "shipping_fee", &mut errors);
            let payment_fee = parse_money(&f, "payment_fee", &mut errors);
            if price.is_none() && !errors.contains_key("unit_price") {
                errors.insert("unit_price".into(), "入力してください".into());
            }
            if errors.is_empty() {
                let input = ProductInput {
                    code: s("code"),
                    name: s("name"),
                    unit_price: price.unwrap_or(0),
                    tax_rate: tax,
                    shipping_fee,
                    payment_fee,
                    is_bundled_item: b("is_bundled_item"),
                    is_subscription: b("is_subscription"),
                };
                match id {
                    Some(id) => st.store.update_product(id, input).await.map(|_| ()),
                    None => st.store.create_product(input).await.map(|_| ()),
                }
            } else {
                Ok(())
            }
        }
        "labels" => {
            let input = LabelInput {
                name: s("name"),
                color: s("color"),
            };
            match id {
                Some(id) => st.store.update_label(id, input).await.map(|_| ()),
                None => st.store.create_label(input).await.map(|_| ()),
            }
        }
        _ => return error_page(StatusCode::NOT_FOUND, "ページが見つかりません"),
    };
    match result {
        Ok(()) if errors.is_empty() => Redirect::to(&format!(
            "/masters/{k}?{}=1",
            if id.is_some() { "saved" } else { "created" }
        ))
        .into_response(),
        Ok(()) => {
            master_page(
                &st,
                &session,
                &k,
                String::new(),
                "入力内容を確認してください。".into(),
                Some((&f, errors)),
                StatusCode::UNPROCESSABLE_ENTITY,
            )
            .await
        }
        Err(StoreError::Invalid(e)) => {
            let errors = e.0.into_iter().map(|e| (e.field, e.message)).collect();
            master_page(
                &st,
                &session,
                &k,
                String::new(),
                "入力内容を確認してください。".into(),
                Some((&f, errors)),
                StatusCode::UNPROCESSABLE_ENTITY,
            )
            .await
        }
        Err(StoreError::Conflict { field, message }) => {
            let errors = field.map(|f| (f, message.clone())).into_iter().collect();
            master_page(
                &st,
                &session,
                &k,
                String::new(),
                message,
                Some((&f, errors)),
                StatusCode::CONFLICT,
            )
            .await
        }
        Err(e) => store_error_page(e),
    }
}

// ---------------------------------------------------------------- customers

fn customer_fields() -> Vec<FieldDef> {
    vec![
        field("family_name", "姓", "text"),
        field("given_name", "名", "text"),
        field("family_kana", "セイ", "text"),
        field("given_kana", "メイ", "text"),
        field("company_name", "会社名", "text"),
        field("department", "部署", "text"),
        field("postal_code", "郵便番号", "postal"),
        FieldDef {
            options: PREFECTURES.iter().map(|p| p.to_string()).collect(),
            value: "東京都".into(),
            ..field("prefecture", "都道府県", "select")
        },
        field("address1", "住所1（市区町村・番地）", "text"),
        field("address2", "住所2（建物名など）", "text"),
        field("phone", "電話番号", "text"),
        field("email", "メールアドレス", "text"),
        field("mail_opt_out", "メール設定: 送信しない", "checkbox"),
        field("memo", "顧客メモ", "text"),
    ]
}

async fn customers_page(
    st: &AppState,
    session: &StaffSession,
    q: &HashMap<String, String>,
    flash: String,
    form_error: String,
    submitted: Option<Submitted<'_>>,
    status: StatusCode,
) -> Response {
    let cq = CustomerQuery {
        name: q.get("name").cloned(),
        phone: q.get("phone").cloned(),
        email: q.get("email").cloned(),
        blacklisted: q.get("blacklisted").map(|v| v == "true"),
        keyset: Default::default(),
    };
    let page: i64 = q
        .get("page")
        .and_then(|p| p.parse().ok())
        .filter(|p| *p >= 1)
        .unwrap_or(1)
        .min(1_000_000);
    let (list, total) = match st.store.list_customers(&cq, 100, (page - 1) * 100).await {
        Ok(r) => (r.customers, r.total),
        Err(e) => return store_error_page(e),
    };
    let rows = list
        .iter()
        .map(|c| MasterRow {
            cells: vec![
                c.id.to_string(),
                if c.blacklisted {
                    format!("● {}（ブラックリスト）", c.address.full_name())
                } else {
                    c.address.full_name()
                },
                c.address.full_kana(),
                c.address.phone.clone(),
                c.address.email.clone(),
                format!("{}{}", c.address.prefecture, c.address.address1),
                if c.mail_opt_out {
                    "送信しない".into()
                } else {
                    String::new()
                },
            ],
            link: format!("/customers/{}", c.id),
            color: String::new(),
        })
        .collect();
    let mut fields = customer_fields();
    let mut editing_id = String::new();
    if let Some((values, errors)) = submitted {
        editing_id = values.get("id").cloned().unwrap_or_default();
        for fd in &mut fields {
            if let Some(v) = values.get(fd.name) {
                fd.value = v.clone();
            }
            fd.error = errors.get(fd.name).cloned().unwrap_or_default();
        }
    }
    let t = MasterPage {
        nav: Nav::of(session),
        title: "顧客",
        action: "/customers".into(),
        csrf: session.0.csrf_token.clone(),
        can_edit: session.role().allows(Permission::WriteOrders),
        flash,
        form_error,
        columns: vec![
            "顧客ID",
            "氏名",
            "カナ",
            "電話番号",
            "メールアドレス",
            "住所",
            "メール設定",
        ],
        rows,
        total,
        fields,
        search_action: "/customers",
        search_name: q.get("name").cloned().unwrap_or_default(),
        search_phone: q.get("phone").cloned().unwrap_or_default(),
        search_email: q.get("email").cloned().unwrap_or_default(),
        search_blacklisted: cq.blacklisted == Some(true),
        editing_id,
        blacklist: None,
        mypage: None,
    };
    render(status, &t)
}

async fn customers_list(
    State(st): State<AppState>,
    session: StaffSession,
    Query(q): Query<HashMap<String, String>>,
) -> Response {
    let flash = if q.contains_key("created") {
        "顧客を登録しました。".to_string()
    } else {
        String::new()
    };
    customers_page(
        &st,
        &session,
        &q,
        flash,
        String::new(),
        None,
        StatusCode::OK,
    )
    .await
}

async fn customer_create(
    State(st): State<AppState>,
    session: StaffSession,
    Form(f): Form<HashMap<String, String>>,
) -> Response {
    if let Some(refused) = crate::views::refuse_post(&session, Permission::WriteOrders, &f) {
        return refused;
    }
    let s = |name: &str| f.get(name).cloned().unwrap_or_default();
    let id = match f.get("id").map(|v| v.trim()).filter(|v| !v.is_empty()) {
        None => None,
        Some(v) => match v.parse::<i64>() {
            Ok(id) => Some(id),
            Err(_) => return error_page(StatusCode::BAD_REQUEST, "不正なIDです"),
        },
    };
    // Points are not edited on this form: an edit keeps the balance.
    let points = match id {
        Some(id) => match st.store.customer(id).await {
            Ok(c) => c.points,
            Err(e) => return store_error_page(e),
        },
        None => 0,
    };
    let input = CustomerInput {
        address: Address {
            family_name: s("family_name"),
            given_name: s("given_name"),
            family_kana: s("family_kana"),
            given_kana: s("given_kana"),
            company_name: s("company_name"),
            department: s("department"),
            postal_code: s("postal_code"),
            prefecture: s("prefecture"),
            address1: s("address1"),
            address2: s("address2"),
            phone: s("phone"),
            email: s("email"),
        },
        mail_opt_out: f.contains_key("mail_opt_out"),
        points,
        memo: s("memo"),
    };
    let saved = match id {
        Some(id) => st.store.update_customer(id, input).await,
        None => st.store.create_customer(input).await,
    };
    match saved {
        Ok(c) if id.is_some() => {
            Redirect::to(&format!("/customers/{}?saved=1", c.id)).into_response()
        }
        Ok(_) => Redirect::to("/customers?created=1").into_response(),
        Err(StoreError::Invalid(e)) => {
            let errors = e.0.into_iter().map(|e| (e.field, e.message)).collect();
            customers_page(
                &st,
                &session,
                &HashMap::new(),
                String::new(),
                "入力内容を確認してください。".into(),
                Some((&f, errors)),
                StatusCode::UNPROCESSABLE_ENTITY,
            )
            .await
        }
        Err(e) => store_error_page(e),
    }
}

async fn customer_detail(
    State(st): State<AppState>,
    session: StaffSession,
    Path(id): Path<String>,
    Query(q): Query<HashMap<String, String>>,
) -> Response {
    let Ok(id) = id.parse::<i64>() else {
        return error_page(StatusCode::NOT_FOUND, "顧客が見つかりません");
    };
    let c = match st.store.customer(id).await {
        Ok(c) => c,
        Err(e) => return store_error_page(e),
    };
    let reasons = match st.store.blacklist_reasons().await {
        Ok(list) => list.into_iter().map(|r| r.name).collect(),
        Err(e) => return store_error_page(e),
    };
    let signed_up = match st.store.customer_signed_up(id).await {
        Ok(s) => s,
        Err(e) => return store_error_page(e),
    };
    let (line_user, line_messages) = match (
        st.store.customer_line_user(id).await,
        st.store.customer_line_messages(id).await,
    ) {
        (Ok(u), Ok(m)) => (
            u.unwrap_or_default(),
            m.into_iter()
                .take(10)
                .map(|x| {
                    (
                        juchu_domain::time::parse_ts(&x.created_at)
                            .map(juchu_domain::time::display_ts)
                            .unwrap_or(x.created_at),
                        match x.status.as_str() {
                            "sent" => "送信済み".to_string(),
                            "failed" => format!("送信失敗: {}", x.last_error),
                            _ if !x.last_error.is_empty() => format!("再送待ち: {}", x.last_error),
                            _ => "送信待ち".to_string(),
                        },
                        x.texts.join(" / "),
                    )
                })
                .collect(),
        ),
        (Err(e), _) | (_, Err(e)) => return store_error_page(e),
    };
    let requests = match st
        .store
        .requests(&juchu_store::requests::RequestQuery {
            customer_id: Some(id),
            limit: 20,
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
        Err(e) => return store_error_page(e),
    };
    let a = &c.address;
    let mut fields = customer_fields();
    for fd in &mut fields {
        fd.value = match fd.name {
            "family_name" => a.family_name.clone(),
            "given_name" => a.given_name.clone(),
            "family_kana" => a.family_kana.clone(),
            "given_kana" => a.given_kana.clone(),
            "company_name" => a.company_name.clone(),
            "department" => a.department.clone(),
            "postal_code" => a.postal_code.clone(),
            "prefecture" => a.prefecture.clone(),
            "address1" => a.address1.clone(),
            "address2" => a.address2.clone(),
            "phone" => a.phone.clone(),
            "email" => a.email.clone(),
            "mail_opt_out" => c.mail_opt_out.to_string(),
            "memo" => c.memo.clone(),
            _ => String::new(),
        };
    }
    let t = MasterPage {
        nav: Nav::of(&session),
        title: "顧客詳細",
        action: "/customers".into(),
        csrf: session.0.csrf_token.clone(),
        can_edit: session.role().allows(Permission::WriteOrders),
        flash: if q.contains_key("saved") {
            "保存しました。".into()
        } else if q.contains_key("invited") {
            "マイページの招待メールを送信待ちにしました。".into()
        } else {
            String::new()
        },
        form_error: String::new(),
        columns: vec!["項目", "内容"],
        rows: [
            ("顧客ID", c.id.to_string()),
            ("氏名", a.full_name()),
            ("カナ", a.full_kana()),
            ("郵便番号", a.postal_code.clone()),
            (
                "住所",
                format!("{}{} {}", a.prefecture, a.address1, a.address2),
            ),
            ("電話番号", a.phone.clone()),
            ("メールアドレス", a.email.clone()),
            (
                "メール設定",
                if c.mail_opt_out {
                    "送信しない".into()
                } else {
                    "送信する".into()
                },
            ),
            ("ポイント", c.points.to_string()),
            ("顧客メモ", c.memo.clone()),
            (
                "ブラックリスト",
                if c.blacklisted {
                    format!("● 登録済み（{}）", c.blacklist_reason)
                } else {
                    "なし".into()
                },
            ),
        ]
        .into_iter()
        .map(|(k, v)| MasterRow {
            cells: vec![k.to_string(), v],
            link: String::new(),
            color: String::new(),
        })
        .chain(std::iter::once(MasterRow {
            cells: vec!["この顧客の受注".into(), "受注一覧で表示".into()],
            link: format!("/orders?customer_id={}", c.id),
            color: String::new(),
        }))
        .collect(),
        total: 1,
        fields,
        search_action: "",
        search_name: String::new(),
        search_phone: String::new(),
        search_email: String::new(),
        search_blacklisted: false,
        editing_id: c.id.to_string(),
        blacklist: Some((c.blacklisted, c.blacklist_reason.clone(), reasons)),
        mypage: Some((signed_up, requests, line_user, line_messages)),
    };
    render(StatusCode::OK, &t)
}

/// ブラックリスト from the customer page: register with a reason, or take off.
async fn customer_blacklist(
    State(st): State<AppState>,
    session: StaffSession,
    Path(id): Path<String>,
    Form(f): Form<HashMap<String, String>>,
) -> Response {
    if let Some(refused) = crate::views::refuse_post(&session, Permission::WriteOrders, &f) {
        return refused;
    }
    let Ok(id) = id.parse::<i64>() else {
        return error_page(StatusCode::NOT_FOUND, "顧客が見つかりません");
    };
    let on = f.get("blacklisted").map(String::as_str) == Some("true");
    let reason = f.get("blacklist_reason").cloned().unwrap_or_default();
    match st
        .store
        .set_blacklisted(id, on, &reason, &session.actor())
        .await
    {
        Ok(_) => Redirect::to(&format!("/customers/{id}?saved=1")).into_response(),
        Err(juchu_store::StoreError::Invalid(e)) => error_page(
            StatusCode::UNPROCESSABLE_ENTITY,
            &format!("ブラックリストを変更できません: {e}"),
        ),
        Err(e) => store_error_page(e),
    }
}
