//! 定期受注管理: the subscription list, the detail page with its operations, and
//! the settings the daily run uses.

use crate::AppState;
use crate::auth::StaffSession;
use crate::query::subscription_query;
use crate::views::{Nav, error_page, render, store_error_page, yen};
use askama::Template;
use axum::Form;
use axum::Router;
use axum::extract::{Path, Query, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Redirect, Response};
use axum::routing::get;
use juchu_domain::access::Permission;
use juchu_domain::calendar::{CreationBasis, Cycle, PauseFrom, ShippingCalendar, WhenEarlier};
use juchu_domain::status::SubscriptionStatus;
use juchu_domain::subscription::{SubscriptionCommand, SubscriptionPatch};
use juchu_store::StoreError;
use juchu_store::SubscriptionSettings;
use std::collections::HashMap;

pub fn routes() -> Router<AppState> {
    Router::new()
        .route("/subscriptions", get(list))
        .route("/subscriptions/{id}", get(detail).post(operate))
        .route(
            "/settings/subscriptions",
            get(settings_page).post(settings_save),
        )
}

pub struct Row {
    pub id: i64,
    pub status: &'static str,
    pub name: String,
    pub products: String,
    pub cycle: String,
    pub next_delivery: String,
    pub next_ship: String,
    pub count: i64,
    pub needs_attention: bool,
}

#[derive(Template)]
#[template(path = "subscriptions/subscriptions.html")]
struct ListPage {
    nav: Nav,
    f: HashMap<String, String>,
    errors: Vec<String>,
    rows: Vec<Row>,
    total: i64,
    page: i64,
    pages: i64,
    prev_url: String,
    next_url: String,
    statuses: Vec<&'static str>,
}

impl ListPage {
    fn v(&self, k: &str) -> &str {
        self.f.get(k).map(String::as_str).unwrap_or("")
    }
}

async fn list(
    State(st): State<AppState>,
    session: StaffSession,
    Query(params): Query<HashMap<String, String>>,
) -> Response {
    let mut errors = Vec::new();
    let (mut rows, mut total, mut page, mut pages) = (Vec::new(), 0, 1, 1);
    match subscription_query(&params) {
        Err(e) => errors.extend(
            e.0.into_iter()
                .map(|e| format!("{}: {}", e.field, e.message)),
        ),
        Ok(q) => match st.store.search_subscriptions(&q).await {
            Err(StoreError::Invalid(e)) => errors.extend(
                e.0.into_iter()
                    .map(|e| format!("{}: {}", e.field, e.message)),
            ),
            Err(e) => return store_error_page(e),
            Ok(p) => {
                total = p.total;
                page = p.page;
                pages = ((p.total + p.per_page - 1) / p.per_page).max(1);
                rows = p
                    .subscriptions
                    .iter()
                    .map(|s| Row {
                        id: s.id,
                        status: s.status.label(),
                        name: s.billing.full_name(),
                        products: s
                            .items
                            .iter()
                            .filter(|i| !i.is_bundled_item)
                            .map(|i| format!("{}×{}", i.product_name, i.quantity))
                            .collect::<Vec<_>>()
                            .join("、"),
                        cycle: s.cycle.label(),
                        next_delivery: s.schedule.next_delivery.to_string(),
                        next_ship: s.schedule.next_ship.to_string(),
                        count: s.count,
                        needs_attention: s.needs_attention,
                    })
                    .collect();
            }
        },
    }
    let t = ListPage {
        nav: Nav::of(&session),
        prev_url: crate::views::page_url_for("/subscriptions", &params, page - 1),
        next_url: crate::views::page_url_for("/subscriptions", &params, page + 1),
        f: params,
        errors,
        rows,
        total,
        page,
        pages,
        statuses: SubscriptionStatus::ALL.iter().map(|s| s.label()).collect(),
    };
    render(StatusCode::OK, &t)
}

pub struct ItemRow {
    pub code: String,
    pub name: String,
    pub quantity: i64,
    pub prices: String,
    pub range: String,
    pub next_price: String,
    pub bundled: bool,
}

pub struct OrderRow {
    pub number: String,
    pub delivery: String,
    pub status: String,
    pub total: String,
}

#[derive(Template)]
#[template(path = "subscriptions/subscription.html")]
struct DetailPage {
    nav: Nav,
    id: i64,
    version: i64,
    status: &'static str,
    active: bool,
    stop_reason: String,
    cancel_reason: String,
    cycle: Cycle,
    cycle_label: String,
    next_delivery: String,
    next_ship: String,
    previous_delivery: String,
    count: i64,
    customer_id: String,
    billing_name: String,
    shipping: String,
    payment_method: String,
    carrier: String,
    memo: String,
    needs_attention: bool,
    needs_attention_reason: String,
    payment_token_set: bool,
    paid_by_card: bool,
    items: Vec<ItemRow>,
    calendar: Vec<(String, String)>,
    orders: Vec<OrderRow>,
    history: Vec<crate::views::HistoryLine>,
    stop_reasons: Vec<String>,
    cancel_reasons: Vec<String>,
    lead_days: i64,
    can_edit: bool,
    flash: String,
    form_error: String,
    errors: HashMap<String, String>,
    shipping_address: juchu_domain::customer::Address,
    address_fields: [(&'static str, &'static str); 12],
    prefectures: [&'static str; 47],
}

impl DetailPage {
    fn same(&self, option: &str, chosen: &str) -> bool {
        option == chosen
    }
    fn addr(&self, key: &str) -> String {
        key.strip_prefix("shipping.")
            .map(|name| crate::views::address_field(&self.shipping_address, name))
            .unwrap_or_default()
    }
    fn postal_warning(&self) -> String {
        juchu_domain::postal::mismatch(
            &self.shipping_address.postal_code,
            &self.shipping_address.prefecture,
        )
        .unwrap_or_default()
    }
    fn err(&self, k: &str) -> &str {
        self.errors.get(k).map(String::as_str).unwrap_or("")
    }
    fn cycle_kind(&self) -> &'static str {
        match self.cycle {
            Cycle::Days { .. } => "days",
            Cycle::Weeks { .. } => "weeks",
            Cycle::Months { .. } => "months",
            Cycle::MonthWeekday { .. } => "month_weekday",
        }
    }
    fn cycle_every(&self) -> String {
        match self.cycle {
            Cycle::Days { every } => every.to_string(),
            Cycle::Weeks { every, .. }
            | Cycle::Months { every, .. }
            | Cycle::MonthWeekday { every, .. } => every.to_string(),
        }
    }
    fn cycle_day(&self) -> String {
        match self.cycle {
            Cycle::Months { day, .. } => day.to_string(),
            Cycle::Weeks { weekday, .. } | Cycle::MonthWeekday { weekday, .. } => {
                weekday.to_string()
            }
            Cycle::Days { .. } => String::new(),
        }
    }
    fn cycle_week(&self) -> String {
        match self.cycle {
            Cycle::MonthWeekday { week, .. } => week.to_string(),
            _ => String::new(),
        }
    }
}

async fn detail_page(
    st: &AppState,
    session: &StaffSession,
    id: i64,
    flash: String,
    form_error: String,
    errors: HashMap<String, String>,
    status: StatusCode,
) -> Response {
    let loaded = async {
        let s = st.store.subscription(id).await?;
        let m = st.store.masters().await?;
        let cal = st.store.shipping_calendar().await?;
        let orders = st.store.subscription_orders(id).await?;
        let history = st.store.subscription_history(id).await?;
        let reasons = st.store.subscription_reasons().await?;
        Ok::<_, StoreError>((s, m, cal, orders, history, reasons))
    }
    .await;
    let (s, m, cal, orders, history, reasons) = match loaded {
        Ok(v) => v,
        Err(e) => return store_error_page(e),
    };
    let next = s.count + 1;
    let t = DetailPage {
        nav: Nav::of(session),
        id: s.id,
        version: s.version,
        status: s.status.label(),
        active: s.status == SubscriptionStatus::Active,
        stop_reason: s.stop_reason.clone(),
        cancel_reason: s.cancel_reason.clone(),
        cycle: s.cycle,
        cycle_label: s.cycle.label(),
        next_delivery: s.schedule.next_delivery.to_string(),
        next_ship: s.schedule.next_ship.to_string(),
        previous_delivery: s
            .schedule
            .previous_delivery
            .map(|d| d.to_string())
            .unwrap_or_default(),
        count: s.count,
        customer_id: s.customer_id.map(|c| c.to_string()).unwrap_or_default(),
        billing_name: s.billing.full_name(),
        shipping_address: s.shipping.clone(),
        address_fields: crate::views::ADDRESS_FIELDS,
        prefectures: juchu_domain::customer::PREFECTURES,
        shipping: format!(
            "{} 〒{} {}{} {}",
            s.shipping.full_name(),
            s.shipping.postal_code,
            s.shipping.prefecture,
            s.shipping.address1,
            s.shipping.address2
        ),
        payment_method: s
            .payment_method_id
            .and_then(|id| m.payment_method(id))
            .map(|p| p.name.clone())
            .unwrap_or_default(),
        carrier: s
            .carrier_id
            .and_then(|id| m.carrier(id))
            .map(|c| c.name.clone())
            .unwrap_or_default(),
        memo: s.memo.clone(),
        needs_attention: s.needs_attention,
        needs_attention_reason: s.needs_attention_reason.clone(),
        payment_token_set: s.card_token.is_set(),
        paid_by_card: s
            .payment_method_id
            .and_then(|id| m.payment_method(id))
            .is_some_and(|p| p.code == "credit_card"),
        items: s
            .items
            .iter()
            .map(|i| ItemRow {
                code: i.product_code.clone(),
                name: i.product_name.clone(),
                quantity: i.quantity,
                prices: i
                    .prices
                    .iter()
                    .map(|p| format!("{}回目〜 {}", p.from_count, yen(p.unit_price)))
                    .collect::<Vec<_>>()
                    .join(" / "),
                range: match i.last_count {
                    Some(l) => format!("{}〜{}回目", i.first_count, l),
                    None => format!("{}回目〜", i.first_count),
                },
                next_price: if i.delivers_on(next) {
                    yen(i.price_for(next))
                } else {
                    "（お届けなし）".into()
                },
                bundled: i.is_bundled_item,
            })
            .collect(),
        calendar: s
            .schedule
            .preview(&s.cycle, &cal, 6)
            .into_iter()
            .map(|(d, sh)| (d.to_string(), sh.to_string()))
            .collect(),
        orders: orders
            .iter()
            .map(|o| OrderRow {
                number: o.order_number.clone(),
                delivery: o
                    .subscription_delivery_date
                    .or(o.scheduled_delivery_date)
                    .map(|d| d.to_string())
                    .unwrap_or_default(),
                status: m
                    .handling_status(o.handling_status_id)
                    .map(|h| h.name.clone())
                    .unwrap_or_default(),
                total: yen(o.totals.total),
            })
            .collect(),
        history: crate::views::history_lines(history),
        stop_reasons: reasons.stop,
        cancel_reasons: reasons.cancel,
        lead_days: cal.lead_days,
        can_edit: session.role().allows(Permission::WriteOrders),
        flash,
        form_error,
        errors,
    };
    render(status, &t)
}

async fn detail(
    State(st): State<AppState>,
    session: StaffSession,
    Path(id): Path<i64>,
    Query(q): Query<HashMap<String, String>>,
) -> Response {
    let flash = match q.get("done").map(String::as_str) {
        Some("created") => "受注を作成しました。".to_string(),
        Some("1") => "保存しました。".to_string(),
        Some("0") => "変更はありませんでした。".to_string(),
        _ => String::new(),
    };
    detail_page(
        &st,
        &session,
        id,
        flash,
        String::new(),
        HashMap::new(),
        StatusCode::OK,
    )
    .await
}

fn int(f: &HashMap<String, String>, k: &str, errors: &mut HashMap<String, String>) -> Option<i64> {
    let v = f.get(k).map(|s| s.trim()).filter(|s| !s.is_empty());
    match v {
        None => {
            errors.insert(k.into(), "入力してください".into());
            None
        }
        Some(v) => match v.parse::<i64>() {
            Ok(n) => Some(n),
            Err(_) => {
                errors.insert(k.into(), "整数で入力してください".into());
                None
            }
        },
    }
}

/// Parses the cycle form: kind + every + (weekday | day).
fn cycle_from_form(
    f: &HashMap<String, String>,
    errors: &mut HashMap<String, String>,
) -> Option<Cycle> {
    let every = int(f, "every", errors)?;
    let small = |v: i64, k: &str, errors: &mut HashMap<String, String>| {
        u8::try_from(v).map_err(|_| {
            errors.insert(k.into(), "範囲外の値です".into());
        })
    };
    match f.get("kind").map(String::as_str) {
        Some("days") => match u16::try_from(every) {
            Ok(every) => Some(Cycle::Days { every }),
            Err(_) => {
                errors.insert("every".into(), "範囲外の値です".into());
                None
            }
        },
        Some("weeks") => {
            let wd = int(f, "day", errors)?;
            Some(Cycle::Weeks {
                every: small(every, "every", errors).ok()?,
                weekday: small(wd, "day", errors).ok()?,
            })
        }
        Some("months") => {
            let day = int(f, "day", errors)?;
            Some(Cycle::Months {
                every: small(every, "every", errors).ok()?,
                day: small(day, "day", errors).ok()?,
            })
        }
        Some("month_weekday") => {
            let wd = int(f, "day", errors)?;
            let week = int(f, "week", errors)?;
            Some(Cycle::MonthWeekday {
                every: small(every, "every", errors).ok()?,
                week: small(week, "week", errors).ok()?,
                weekday: small(wd, "day", errors).ok()?,
            })
        }
        _ => {
            errors.insert("kind".into(), "サイクルの種類を選んでください".into());
            None
        }
    }
}

/// Every operation of the detail page posts here with `op`.
async fn operate(
    State(st): State<AppState>,
    session: StaffSession,
    Path(id): Path<i64>,
    Form(f): Form<HashMap<String, String>>,
) -> Response {
    if let Some(refused) = crate::views::refuse_post(&session, Permission::WriteOrders, &f) {
        return refused;
    }
    let mut errors = HashMap::new();
    let version = f.get("version").and_then(|v| v.parse::<i64>().ok());
    let s = |k: &str| f.get(k).cloned().unwrap_or_default();
    let op = s("op");
    if op == "create_order" {
        let Some(version) = version else {
            return error_page(
                StatusCode::UNPROCESSABLE_ENTITY,
                "フォームのバージョンがありません。画面を再読み込みしてください。",
            );
        };
        let version = Some(version);
        return match st
            .store
            .create_subscription_order_now(id, version, &session.actor())
            .await
        {
            Ok(_) => Redirect::to(&format!("/subscriptions/{id}?done=created")).into_response(),
            Err(StoreError::Invalid(e)) => {
                let msg = e.messages();
                detail_page(
                    &st,
                    &session,
                    id,
                    String::new(),
                    msg,
                    HashMap::new(),
                    StatusCode::UNPROCESSABLE_ENTITY,
                )
                .await
            }
            Err(StoreError::Conflict { message, .. }) => {
                detail_page(
                    &st,
                    &session,
                    id,
                    String::new(),
                    message,
                    HashMap::new(),
                    StatusCode::CONFLICT,
                )
                .await
            }
            Err(e) => store_error_page(e),
        };
    }
    let cmd = match op.as_str() {
        "skip" => Some(SubscriptionCommand::Skip),
        "pause" => int(&f, "days", &mut errors).map(|days| SubscriptionCommand::Pause {
            days,
            from: if s("from") == "previous" {
                PauseFrom::Previous
            } else {
                PauseFrom::Next
            },
        }),
        "stop" => Some(SubscriptionCommand::Stop {
            reason: s("stop_reason"),
        }),
        "cancel" => Some(SubscriptionCommand::Cancel {
            reason: s("cancel_reason"),
        }),
        "resume" => Some(SubscriptionCommand::Resume {
            confirm: f.contains_key("confirm"),
        }),
        "recalculate" => Some(SubscriptionCommand::Recalculate),
        "card" => Some(SubscriptionCommand::ReplacePaymentToken {
            token: s("card_token").into(),
        }),
        "decrement" => Some(SubscriptionCommand::DecrementCount),
        "cycle" => cycle_from_form(&f, &mut errors).map(|cycle| {
            SubscriptionCommand::Patch(Box::new(SubscriptionPatch {
                cycle: Some(cycle),
                when_earlier: match f.get("when_earlier").map(String::as_str) {
                    Some("earlier") => WhenEarlier::MoveEarlier,
                    Some("keep") => WhenEarlier::Keep,
                    _ => WhenEarlier::Ask,
                },
                ..Default::default()
            }))
        }),
        "dates" => {
            let which = s("which");
            let date = Some(s("date"));
            Some(SubscriptionCommand::Patch(Box::new(SubscriptionPatch {
                next_delivery_date: if which == "ship" { None } else { date.clone() },
                next_ship_date: if which == "ship" { date } else { None },
                sync_dates: f.contains_key("sync"),
                ..Default::default()
            })))
        }
        "shipping" => Some(SubscriptionCommand::Patch(Box::new(SubscriptionPatch {
            shipping: Some(crate::views::address_from_form(&f, "shipping.")),
            ..Default::default()
        }))),
        "memo" => Some(SubscriptionCommand::Patch(Box::new(SubscriptionPatch {
            memo: Some(s("memo")),
            needs_attention: Some(f.contains_key("needs_attention")),
            needs_attention_reason: Some(s("needs_attention_reason")),
            ..Default::default()
        }))),
        _ => return error_page(StatusCode::BAD_REQUEST, "不明な操作です"),
    };
    let Some(cmd) = cmd else {
        return detail_page(
            &st,
            &session,
            id,
            String::new(),
            "入力内容を確認してください。".into(),
            errors,
            StatusCode::UNPROCESSABLE_ENTITY,
        )
        .await;
    };
    let Some(version) = version else {
        return detail_page(
            &st,
            &session,
            id,
            String::new(),
            "フォームのバージョンがありません。画面を再読み込みしてから変更してください。".into(),
            errors,
            StatusCode::UNPROCESSABLE_ENTITY,
        )
        .await;
    };
    // 「変更後の日程を確認」: the resulting dates, nothing saved.
    let preview = f.contains_key("preview");
    let actor = session.actor();
    let result = if preview {
        st.store
            .preview_subscription_change(id, Some(version), &[cmd], &actor)
            .await
    } else {
        st.store
            .change_subscription(id, Some(version), &[cmd], &actor, &s("reason"))
            .await
    };
    match result {
        Ok(c) if preview => {
            let cal = match st.store.shipping_calendar().await {
                Ok(c) => c,
                Err(e) => return store_error_page(e),
            };
            let after = &c.subscription;
            let dates = after
                .schedule
                .preview(&after.cycle, &cal, 6)
                .iter()
                .map(|(d, _)| d.to_string())
                .collect::<Vec<_>>()
                .join("、");
            let flash = format!(
                "変更後（まだ保存していません）: お届けサイクル {} / 次回配送予定日 {} / 次回発送予定日 {} / 以後のお届け {dates}",
                after.cycle.label(),
                after.schedule.next_delivery,
                after.schedule.next_ship,
            );
            detail_page(
                &st,
                &session,
                id,
                flash,
                String::new(),
                errors,
                StatusCode::OK,
            )
            .await
        }
        Ok(c) => Redirect::to(&format!(
            "/subscriptions/{id}?done={}",
            if c.changes.is_empty() { 0 } else { 1 }
        ))
        .into_response(),
        Err(StoreError::Invalid(e)) => {
            let msg = e.messages();
            let errors = e.0.into_iter().map(|e| (e.field, e.message)).collect();
            detail_page(
                &st,
                &session,
                id,
                String::new(),
                msg,
                errors,
                StatusCode::UNPROCESSABLE_ENTITY,
            )
            .await
        }
        Err(StoreError::Conflict { message, .. }) => {
            detail_page(
                &st,
                &session,
                id,
                String::new(),
                message,
                HashMap::new(),
                StatusCode::CONFLICT,
            )
            .await
        }
        Err(e) => store_error_page(e),
    }
}

#[derive(Template)]
#[template(path = "subscriptions/settings.html")]
struct SettingsPage {
    nav: Nav,
    s: SubscriptionSettings,
    cal: ShippingCalendar,
    holidays: String,
    weekdays: Vec<(u8, &'static str, bool)>,
    can_edit: bool,
    flash: String,
    form_error: String,
}

const WEEKDAYS: [&str; 7] = ["月", "火", "水", "木", "金", "土", "日"];

async fn settings_view(
    st: &AppState,
    session: &StaffSession,
    flash: String,
    form_error: String,
    status: StatusCode,
) -> Response {
    let (s, cal) = match (
        st.store.subscription_settings().await,
        st.store.shipping_calendar().await,
    ) {
        (Ok(s), Ok(c)) => (s, c),
        (Err(e), _) | (_, Err(e)) => return store_error_page(e),
    };
    let t = SettingsPage {
        nav: Nav::of(session),
        holidays: cal
            .no_ship_dates
            .iter()
            .map(|d| d.to_string())
            .collect::<Vec<_>>()
            .join("\n"),
        weekdays: (1..=7u8)
            .map(|d| {
                (
                    d,
                    WEEKDAYS[d as usize - 1],
                    cal.no_ship_weekdays.contains(&d),
                )
            })
            .collect(),
        s,
        cal,
        can_edit: session.role().allows(Permission::WriteMasters),
        flash,
        form_error,
    };
    render(status, &t)
}

async fn settings_page(
    State(st): State<AppState>,
    session: StaffSession,
    Query(q): Query<HashMap<String, String>>,
) -> Response {
    let flash = if q.contains_key("saved") {
        "保存しました。".to_string()
    } else {
        String::new()
    };
    settings_view(&st, &session, flash, String::new(), StatusCode::OK).await
}

async fn settings_save(
    State(st): State<AppState>,
    session: StaffSession,
    Form(pairs): Form<Vec<(String, String)>>,
) -> Response {
    let f: HashMap<String, String> = pairs.iter().cloned().collect();
    if let Some(refused) = crate::views::refuse_post(&session, Permission::WriteMasters, &f) {
        return refused;
    }
    let mut errors = HashMap::new();
    let days_before = int(&f, "days_before", &mut errors);
    let lead_days = int(&f, "lead_days", &mut errors);
    let months = int(&f, "default_cycle_months", &mut errors);
    let mut bad_dates = Vec::new();
    let mut dates = std::collections::BTreeSet::new();
    for (line_no, line) in f
        .get("holidays")
        .map(String::as_str)
        .unwrap_or("")
        .lines()
        .enumerate()
    {
        let t = line.trim();
        if t.is_empty() {
            continue;
        }
        match juchu_domain::time::parse_date(t) {
            Ok(d) => {
                dates.insert(d);
            }
            Err(_) => bad_dates.push(format!("{}行目「{t}」", line_no + 1)),
        }
    }
    if !bad_dates.is_empty() {
        errors.insert(
            "holidays".into(),
            format!("日付（YYYY-MM-DD）ではありません: {}", bad_dates.join("、")),
        );
    }
    let message = |errors: &HashMap<String, String>| {
        let mut v: Vec<_> = errors.iter().map(|(k, m)| format!("{k}: {m}")).collect();
        v.sort();
        v.join(" / ")
    };
    let (Some(days_before), Some(lead_days), Some(months)) = (days_before, lead_days, months)
    else {
        return settings_view(
            &st,
            &session,
            String::new(),
            message(&errors),
            StatusCode::UNPROCESSABLE_ENTITY,
        )
        .await;
    };
    if !errors.is_empty() {
        return settings_view(
            &st,
            &session,
            String::new(),
            message(&errors),
            StatusCode::UNPROCESSABLE_ENTITY,
        )
        .await;
    }
    // Fields a form of an older page does not send keep their saved value.
    let current = match st.store.subscription_settings().await {
        Ok(c) => c,
        Err(e) => return store_error_page(e),
    };
    let mut bad = HashMap::new();
    let mut number = |key: &str, keep: i64| -> i64 {
        if f.get(key).is_none_or(|v| v.trim().is_empty()) {
            return keep;
        }
        int(&f, key, &mut bad).unwrap_or(-1)
    };
    let reauth_retries = number("reauth_retries", current.reauth_retries.into());
    let reauth_interval = number("reauth_interval_days", current.reauth_interval_days.into());
    let notice_days = number("notice_days_before", current.notice_days_before.into());
    if !bad.is_empty() {
        return settings_view(
            &st,
            &session,
            String::new(),
            message(&bad),
            StatusCode::UNPROCESSABLE_ENTITY,
        )
        .await;
    }
    let settings = SubscriptionSettings {
        reauth_retries: u8::try_from(reauth_retries).unwrap_or(u8::MAX),
        reauth_interval_days: u16::try_from(reauth_interval).unwrap_or(0),
        notice_days_before: u8::try_from(notice_days).unwrap_or(u8::MAX),
        overdue_flags: match f.get("overdue_flags").map(String::as_str) {
            Some("false") => false,
            Some(_) => true,
            None => current.overdue_flags,
        },
        days_before,
        basis: if f.get("basis").map(String::as_str) == Some("ship") {
            CreationBasis::Ship
        } else {
            CreationBasis::Delivery
        },
        default_cycle_months: u8::try_from(months).unwrap_or(0),
        flagged_creates: f.get("flagged_creates").map(String::as_str) != Some("false"),
        blacklist_flags_subscriptions: f.get("blacklist_flags").map(String::as_str)
            != Some("false"),
    };
    let cal = ShippingCalendar {
        lead_days,
        no_ship_weekdays: pairs
            .iter()
            .filter(|(k, _)| k == "no_ship_weekday")
            .filter_map(|(_, v)| v.parse().ok())
            .collect(),
        no_ship_dates: dates,
    };
    match st.store.save_subscription_settings(&settings, &cal).await {
        Ok(()) => Redirect::to("/settings/subscriptions?saved=1").into_response(),
        Err(StoreError::Invalid(e)) => {
            let msg = e.with_fields();
            settings_view(
                &st,
                &session,
                String::new(),
                msg,
                StatusCode::UNPROCESSABLE_ENTITY,
            )
            .await
        }
        Err(e) => store_error_page(e),
    }
}
