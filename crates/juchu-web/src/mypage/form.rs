//! The request form (seed 004's field scheme) as juchu serves it: from
//! マイページ (signed in), or from a signed link in a mail or a LINE message
//! bound to one customer and subscription. A cancellation on a form with
//! 解約抑止 offers shows them first; whatever the customer does there is kept
//! as an intent with its time.

use super::CustomerAuth;
use super::pages::{Notice, customer_error, shop_name};
use crate::AppState;
use crate::page::render;
use askama::Template;
use axum::extract::{Path, Query, State};
use axum::http::StatusCode;
use axum::response::Response;
use axum::routing::get;
use axum::{Form, Router};
use juchu_domain::FieldErrors;
use juchu_domain::request::{
    CANCEL, Channel, FieldName, Offer, QuestionKind, RequestForm, check_against_form,
    group_of_type, read_fields,
};
use juchu_domain::subscription::Subscription;
use juchu_store::Actor;
use juchu_store::requests::NewRequest;
use std::collections::HashMap;

pub fn routes() -> Router<AppState> {
    Router::new()
        .route(
            "/mypage/subscriptions/{id}/request",
            get(mypage_form).post(mypage_submit),
        )
        .route("/r/{link}", get(link_form).post(link_submit))
}

/// Who is asking, about what, through which door.
struct Asker {
    customer_id: i64,
    customer_name: String,
    subscription: Subscription,
    form: RequestForm,
    channel: Channel,
    /// Where the form posts.
    action: String,
    /// The session's token (マイページ); a signed link carries its own proof.
    csrf: String,
    /// マイページ's header, when signed in.
    signed_in: bool,
}

struct QuestionView {
    field: String,
    label: String,
    kind: &'static str,
    choices: Vec<String>,
    required: bool,
    /// The 申請種別 it is asked for ("" everyone).
    only_for: &'static str,
    value: String,
    error: String,
}

#[derive(Template)]
#[template(path = "mypage/request_form.html")]
struct FormPage {
    shop_name: String,
    signed_in: bool,
    csrf: String,
    customer_name: String,
    subscription_id: i64,
    items: String,
    next_delivery: String,
    form_name: String,
    action: String,
    form_token: String,
    questions: Vec<QuestionView>,
    error: String,
}

#[derive(Template)]
#[template(path = "mypage/offers.html")]
struct OffersPage {
    shop_name: String,
    signed_in: bool,
    csrf: String,
    action: String,
    /// Every answer, carried as hidden fields in the order sent.
    fields: Vec<(String, String)>,
    form_token: String,
    offers: Vec<(String, String)>,
    next_delivery: String,
}

fn items_text(s: &Subscription) -> String {
    s.items
        .iter()
        .filter(|i| !i.is_bundled_item)
        .map(|i| i.product_name.clone())
        .collect::<Vec<_>>()
        .join("、")
}

async fn form_page(
    st: &AppState,
    a: &Asker,
    values: &HashMap<String, String>,
    form_token: String,
    errors: &FieldErrors,
    status: StatusCode,
) -> Response {
    let questions = a
        .form
        .questions
        .iter()
        .map(|q| {
            let mut value = values.get(&q.field).cloned().unwrap_or_default();
            if value.is_empty() && q.field == "col_4" && q.kind != QuestionKind::Choice {
                value = items_text(&a.subscription);
            }
            QuestionView {
                field: q.field.clone(),
                label: q.label.clone(),
                kind: match q.kind {
                    QuestionKind::Choice => "choice",
                    QuestionKind::Text => "text",
                    QuestionKind::Number => "number",
                },
                choices: q.choices.clone(),
                required: q.required,
                // 休止期間 and サイクル変更期間 are common fields (kept for
                // every type), but only worth asking for their type.
                only_for: q.asked_for().unwrap_or(match q.field.as_str() {
                    "col_2" => juchu_domain::request::PAUSE,
                    "col_3" => juchu_domain::request::CYCLE_CHANGE,
                    _ => "",
                }),
                value,
                error: errors
                    .for_field(&q.field)
                    .map(|e| e.message.clone())
                    .unwrap_or_default(),
            }
        })
        .collect();
    let page = FormPage {
        shop_name: shop_name(st).await,
        signed_in: a.signed_in,
        csrf: a.csrf.clone(),
        customer_name: a.customer_name.clone(),
        subscription_id: a.subscription.id,
        items: items_text(&a.subscription),
        next_delivery: a.subscription.schedule.next_delivery.to_string(),
        form_name: a.form.name.clone(),
        action: a.action.clone(),
        form_token,
        questions,
        error: if errors.is_empty() {
            String::new()
        } else {
            "入力内容をご確認ください。".into()
        },
    };
    render(status, &page)
}

async fn chosen_form(
    st: &AppState,
    id: Option<i64>,
) -> Result<RequestForm, juchu_store::StoreError> {
    match id {
        Some(id) => st.store.request_form(id).await,
        None => st
            .store
            .request_forms()
            .await?
            .into_iter()
            .next()
            .ok_or(juchu_store::StoreError::NotFound("申請フォーム")),
    }
}

async fn mypage_asker(
    st: &AppState,
    auth: &CustomerAuth,
    id: i64,
    form_id: Option<i64>,
) -> Result<Asker, Response> {
    let subscription = st
        .store
        .customer_subscription(auth.customer_id(), id)
        .await
        .map_err(customer_error)?;
    let form = chosen_form(st, form_id).await.map_err(customer_error)?;
    Ok(Asker {
        customer_id: auth.customer_id(),
        customer_name: auth.0.customer.name.clone(),
        action: format!("/mypage/subscriptions/{id}/request?form={}", form.id),
        subscription,
        form,
        channel: Channel::Mypage,
        csrf: auth.0.csrf_token.clone(),
        signed_in: true,
    })
}

async fn link_asker(st: &AppState, link: &str) -> Result<Asker, Response> {
    let shop = shop_name(st).await;
    let claims = match st.store.verify_request_link(link).await {
        Ok(Ok(c)) => c,
        Ok(Err(p)) => {
            return Err(Notice::page(
                &shop,
                StatusCode::FORBIDDEN,
                "このリンクは使えません",
                p.message(),
            ));
        }
        Err(e) => return Err(customer_error(e)),
    };
    let subscription = st
        .store
        .customer_subscription(claims.customer_id, claims.subscription_id)
        .await
        .map_err(customer_error)?;
    let customer = st
        .store
        .customer(claims.customer_id)
        .await
        .map_err(customer_error)?;
    let form = st
        .store
        .request_form(claims.form_id)
        .await
        .map_err(customer_error)?;
    Ok(Asker {
        customer_id: claims.customer_id,
        customer_name: format!(
            "{} {}",
            customer.address.family_name, customer.address.given_name
        ),
        subscription,
        form,
        channel: Channel::Link,
        action: format!("/r/{link}"),
        csrf: String::new(),
        signed_in: false,
    })
}

async fn mypage_form(
    State(st): State<AppState>,
    auth: CustomerAuth,
    Path(id): Path<i64>,
    Query(q): Query<HashMap<String, String>>,
) -> Response {
    let form_id = q.get("form").and_then(|f| f.parse().ok());
    match mypage_asker(&st, &auth, id, form_id).await {
        Ok(a) => new_form(&st, &a).await,
        Err(r) => r,
    }
}

async fn link_form(State(st): State<AppState>, Path(link): Path<String>) -> Response {
    match link_asker(&st, &link).await {
        Ok(a) => new_form(&st, &a).await,
        Err(r) => r,
    }
}

async fn new_form(st: &AppState, a: &Asker) -> Response {
    if a.subscription.status != juchu_domain::status::SubscriptionStatus::Active {
        return Notice::page(
            &shop_name(st).await,
            StatusCode::OK,
            "この定期便はお申し込みを受け付けていません",
            &format!(
                "定期便（{}）は現在「{}」です。ご不明な点はショップにお問い合わせください。",
                a.subscription.id,
                a.subscription.status.label()
            ),
        );
    }
    form_page(
        st,
        a,
        &HashMap::new(),
        juchu_store::staff::random_token("f_"),
        &FieldErrors::default(),
        StatusCode::OK,
    )
    .await
}

async fn mypage_submit(
    State(st): State<AppState>,
    auth: CustomerAuth,
    Path(id): Path<i64>,
    Query(q): Query<HashMap<String, String>>,
    Form(pairs): Form<Vec<(String, String)>>,
) -> Response {
    let sent_csrf = pairs
        .iter()
        .find(|(k, _)| k == "csrf")
        .map(|(_, v)| v.as_str())
        .unwrap_or("");
    if !auth.check_csrf(sent_csrf) {
        return Notice::page(
            &shop_name(&st).await,
            StatusCode::FORBIDDEN,
            "画面の有効期限が切れました",
            "お手数ですが、ページを開き直してからもう一度お送りください。",
        );
    }
    let form_id = q.get("form").and_then(|f| f.parse().ok());
    match mypage_asker(&st, &auth, id, form_id).await {
        Ok(a) => submit(&st, &a, pairs).await,
        Err(r) => r,
    }
}

async fn link_submit(
    State(st): State<AppState>,
    Path(link): Path<String>,
    Form(pairs): Form<Vec<(String, String)>>,
) -> Response {
    match link_asker(&st, &link).await {
        Ok(a) => submit(&st, &a, pairs).await,
        Err(r) => r,
    }
}

/// The form's answers: the scheme's fields only, without the answers to
/// questions of another type than the one chosen (the page asked them only
/// for that type).
fn answers_of(pairs: &[(String, String)]) -> Vec<(String, String)> {
    let chosen = pairs
        .iter()
        .rev()
        .find(|(k, _)| k == "col_1")
        .map(|(_, v)| v.trim().to_string())
        .unwrap_or_default();
    let kept = group_of_type(&chosen);
    pairs
        .iter()
        .filter(|(k, _)| {
            FieldName::parse(k).is_some_and(|f| {
                f.group == juchu_domain::request::FieldGroup::Common || Some(f.group) == kept
            })
        })
        .cloned()
        .collect()
}

async fn submit(st: &AppState, a: &Asker, pairs: Vec<(String, String)>) -> Response {
    let get = |k: &str| {
        pairs
            .iter()
            .rev()
            .find(|(n, _)| n == k)
            .map(|(_, v)| v.clone())
            .unwrap_or_default()
    };
    let form_token = {
        let t = get("form_token");
        if t.is_empty() || t.len() > 100 {
            juchu_store::staff::random_token("f_")
        } else {
            t
        }
    };
    let decision = get("decision");
    let fields = answers_of(&pairs);
    let values: HashMap<String, String> = fields.iter().cloned().collect();
    let checked = read_fields(&fields).and_then(|s| {
        check_against_form(&a.form, &s)?;
        Ok(s)
    });
    let submission = match checked {
        Ok(s) => s,
        Err(e) => {
            return form_page(
                st,
                a,
                &values,
                form_token,
                &e,
                StatusCode::UNPROCESSABLE_ENTITY,
            )
            .await;
        }
    };
    let shop = shop_name(st).await;
    let actor = Actor::Customer {
        id: a.customer_id,
        name: a.customer_name.clone(),
    };
    let mut new = NewRequest {
        customer_id: a.customer_id,
        subscription_id: Some(a.subscription.id),
        form_id: Some(a.form.id),
        channel: Some(a.channel),
        fields: fields.clone(),
        form_token: Some(form_token.clone()),
        offer: None,
    };
    let is_cancel = submission.request_type == CANCEL;
    if is_cancel && !a.form.offers.is_empty() {
        match decision.as_str() {
            "" => {
                let offers: Vec<(String, String)> = a
                    .form
                    .offers
                    .iter()
                    .map(|o| {
                        let label = if *o == Offer::Discount && !a.form.discount_text.is_empty() {
                            format!("{}（{}）", o.label(), a.form.discount_text)
                        } else {
                            o.label().to_string()
                        };
                        (o.code().to_string(), label)
                    })
                    .collect();
                let shown = offers
                    .iter()
                    .map(|(_, l)| l.as_str())
                    .collect::<Vec<_>>()
                    .join(" / ");
                if let Err(e) = st
                    .store
                    .record_intent(
                        a.customer_id,
                        Some(a.subscription.id),
                        "offer_shown",
                        &shown,
                        a.channel,
                    )
                    .await
                {
                    return customer_error(e);
                }
                return render(
                    StatusCode::OK,
                    &OffersPage {
                        shop_name: shop,
                        signed_in: a.signed_in,
                        csrf: a.csrf.clone(),
                        action: a.action.clone(),
                        fields,
                        form_token,
                        offers,
                        next_delivery: a.subscription.schedule.next_delivery.to_string(),
                    },
                );
            }
            "withdraw" => {
                let detail = fields
                    .iter()
                    .map(|(k, v)| format!("{k}={v}"))
                    .collect::<Vec<_>>()
                    .join(" / ");
                if let Err(e) = st
                    .store
                    .record_intent(
                        a.customer_id,
                        Some(a.subscription.id),
                        "withdrawn",
                        &detail,
                        a.channel,
                    )
                    .await
                {
                    return customer_error(e);
                }
                return Notice::page(
                    &shop,
                    StatusCode::OK,
                    "解約のお申し込みを取りやめました",
                    "定期便はこれまでどおり続きます。ご利用ありがとうございます。",
                );
            }
            "cancel" => {}
            other => match other.strip_prefix("offer:").and_then(Offer::parse) {
                Some(o) => new.offer = Some(o),
                None => {
                    return Notice::page(
                        &shop,
                        StatusCode::UNPROCESSABLE_ENTITY,
                        "選択内容を確認できませんでした",
                        "お手数ですが、フォームを開き直してもう一度お送りください。",
                    );
                }
            },
        }
    }
    match st.store.receive_request(&new, &actor).await {
        Ok((r, _)) => {
            let what = if r.request_type.is_empty() {
                "お申し込み".to_string()
            } else {
                format!("「{}」のお申し込み", r.request_type)
            };
            Notice::page(
                &shop,
                StatusCode::OK,
                "お申し込みを受け付けました",
                &format!(
                    "{what}を受け付けました（受付番号 {}）。ショップで確認のうえ対応し、結果をご連絡します。",
                    r.id
                ),
            )
        }
        Err(juchu_store::StoreError::Invalid(e)) => {
            form_page(
                st,
                a,
                &values,
                form_token,
                &e,
                StatusCode::UNPROCESSABLE_ENTITY,
            )
            .await
        }
        Err(e) => customer_error(e),
    }
}
