//! 自動化設定: the rule list, add / enable / disable / delete, conflicts shown.

use crate::AppState;
use crate::auth::StaffSession;
use crate::views::{Nav, error_page, render, store_error_page};
use askama::Template;
use axum::Form;
use axum::Router;
use axum::extract::{Path, Query, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Redirect, Response};
use axum::routing::{get, post};
use juchu_domain::access::Permission;
use juchu_domain::automation::{Action, Condition, MAX_CHAIN, Rule, Trigger};
use juchu_domain::event::OrderEvent;
use juchu_domain::status::PaymentStatus;
use juchu_store::StoreError;
use std::collections::HashMap;

pub fn routes() -> Router<AppState> {
    Router::new()
        .route("/settings/automation", get(page).post(add))
        .route("/settings/automation/presets", post(presets))
        .route("/settings/automation/{id}", post(change))
}

pub struct RuleRow {
    pub id: i64,
    pub position: i64,
    pub name: String,
    pub trigger: String,
    pub action: String,
    pub conditions: String,
    pub enabled: bool,
    /// A reference that no longer exists, shown in red.
    pub problem: String,
}

#[derive(Template)]
#[template(path = "automation/rules.html")]
struct Page {
    nav: Nav,
    rules: Vec<RuleRow>,
    triggers: Vec<(String, String)>,
    /// (form value, label) of every action the form offers.
    actions: Vec<(String, String)>,
    /// (form value, label) of the conditions the form offers.
    conditions: Vec<(String, String)>,
    condition: String,
    can_edit: bool,
    flash: String,
    form_error: String,
    name: String,
    trigger: String,
    action: String,
    position: String,
    max_chain: usize,
}

/// The events a rule can start from, as (form value, label). The value is the
/// trigger's JSON so the form needs no second vocabulary.
fn trigger_choices(statuses: &[String], payment_methods: &[String]) -> Vec<(String, Trigger)> {
    let mut events = vec![
        OrderEvent::Created,
        OrderEvent::TrackingNumberSet {
            tracking_number: String::new(),
        },
        OrderEvent::TrackingNumberChanged {
            tracking_number: String::new(),
        },
        OrderEvent::ShippedAtSet {
            date: String::new(),
        },
        OrderEvent::DeliveredAtSet {
            date: String::new(),
        },
        OrderEvent::ShippingListExported,
    ];
    let mut out: Vec<Trigger> = events
        .drain(..)
        .map(|e| match e {
            // "Set" events carry their value: match any value by kind.
            OrderEvent::TrackingNumberSet { .. }
            | OrderEvent::TrackingNumberChanged { .. }
            | OrderEvent::ShippedAtSet { .. }
            | OrderEvent::DeliveredAtSet { .. } => Trigger::EventKind {
                event: e.kind().to_string(),
            },
            e => Trigger::Exact { event: e },
        })
        .collect();
    out.extend(PaymentStatus::ALL.iter().map(|s| Trigger::Exact {
        event: OrderEvent::PaymentStatusBecame { status: *s },
    }));
    out.extend(statuses.iter().map(|s| Trigger::Exact {
        event: OrderEvent::HandlingStatusBecame { name: s.clone() },
    }));
    out.extend(payment_methods.iter().map(|p| Trigger::Exact {
        event: OrderEvent::PaymentMethodBecame { name: p.clone() },
    }));
    // 発送状況 of the order: on a split order, every package's (発送済 = all
    // packages shipped); a package's own status is its own event.
    out.extend(
        juchu_domain::status::ShipmentStatus::ALL
            .iter()
            .map(|s| Trigger::Exact {
                event: OrderEvent::ShipmentStatusBecame { status: *s },
            }),
    );
    out.push(Trigger::EventKind {
        event: "package_status_became".into(),
    });
    out.extend(
        juchu_domain::status::SubscriptionStatus::ALL
            .iter()
            .map(|s| Trigger::Exact {
                event: OrderEvent::SubscriptionStatusBecame { status: *s },
            }),
    );
    out.into_iter()
        .map(|t| (serde_json::to_string(&t).unwrap_or_default(), t))
        .collect()
}

/// The actions the form offers: every handling status, adding or removing every
/// label. The value is the action's JSON.
fn action_choices(
    statuses: &[String],
    labels: &[String],
    reasons: &juchu_domain::subscription::SubscriptionReasons,
    templates: &[String],
) -> Vec<Action> {
    use juchu_domain::payment::PaymentProcess;
    use juchu_domain::status::SubscriptionStatus;
    let subscription = |status: SubscriptionStatus, reasons: &[String]| {
        reasons
            .iter()
            .map(|r| Action::SetSubscriptionStatus {
                status,
                reason: r.clone(),
            })
            .collect::<Vec<_>>()
    };
    statuses
        .iter()
        .map(|s| Action::SetHandlingStatus { name: s.clone() })
        .chain(labels.iter().map(|l| Action::AddLabel { name: l.clone() }))
        .chain(
            labels
                .iter()
                .map(|l| Action::RemoveLabel { name: l.clone() }),
        )
        .chain(subscription(SubscriptionStatus::Stopped, &reasons.stop))
        .chain(subscription(SubscriptionStatus::Cancelled, &reasons.cancel))
        .chain(std::iter::once(Action::SetSubscriptionStatus {
            status: SubscriptionStatus::Active,
            reason: String::new(),
        }))
        .chain(templates.iter().map(|t| Action::SendMail {
            template: t.clone(),
        }))
        .chain(
            [
                PaymentProcess::Reauthorize,
                PaymentProcess::Capture,
                PaymentProcess::Cancel,
            ]
            .into_iter()
            .map(|process| Action::RunPaymentProcess { process }),
        )
        .collect()
}

/// The conditions the form offers (one per rule in the UI; the API takes several).
fn condition_choices(m: &juchu_domain::masters::Masters) -> Vec<Condition> {
    use juchu_domain::automation::CustomerFlag;
    m.payment_methods
        .iter()
        .map(|p| Condition::PaymentMethod {
            name: p.name.clone(),
        })
        .chain(m.carriers.iter().map(|c| Condition::Carrier {
            name: c.name.clone(),
        }))
        .chain(m.labels.iter().map(|l| Condition::Label {
            name: l.name.clone(),
        }))
        .chain([true, false].map(|value| Condition::NeedsAttention { value }))
        .chain(CustomerFlag::ALL.iter().flat_map(|flag| {
            [true, false].map(|value| Condition::CustomerFlag { flag: *flag, value })
        }))
        .collect()
}

fn describe(t: &Trigger) -> String {
    match t {
        Trigger::EventKind { event } => match event.as_str() {
            "tracking_number_set" => "配送伝票番号が登録された（初回）".into(),
            "tracking_number_changed" => "配送伝票番号が変更された".into(),
            "shipped_at_set" => "発送完了日が登録された".into(),
            "delivered_at_set" => "配送完了日が登録された".into(),
            "package_status_became" => "分納の出荷のどれかの発送状況が変わった".into(),
            other => format!("イベント {other}"),
        },
        Trigger::Exact {
            event: OrderEvent::ShipmentStatusBecame { status },
        } => format!(
            "発送状況が「{}」になった（分納の受注はすべての出荷がそろったとき）",
            status.label()
        ),
        t => t.describe(),
    }
}

async fn view(
    st: &AppState,
    session: &StaffSession,
    flash: String,
    form_error: String,
    form: &HashMap<String, String>,
    status: StatusCode,
) -> Response {
    let (rules, masters, reasons, templates) = match (
        st.store.automation_rules().await,
        st.store.masters().await,
        st.store.subscription_reasons().await,
        st.store.mail_templates().await,
    ) {
        (Ok(r), Ok(m), Ok(s), Ok(t)) => (r, m, s, t),
        (Err(e), _, _, _) | (_, Err(e), _, _) | (_, _, Err(e), _) | (_, _, _, Err(e)) => {
            return store_error_page(e);
        }
    };
    let template_names: HashMap<String, String> = templates
        .iter()
        .map(|t| (t.code.clone(), t.name.clone()))
        .collect();
    let templates: Vec<String> = templates.into_iter().map(|t| t.code).collect();
    // Mail actions read better with the template's name than its code.
    let action_label = |a: &Action| match a {
        Action::SendMail { template } => format!(
            "メール「{}」を送信",
            template_names.get(template).unwrap_or(template)
        ),
        a => a.describe(),
    };
    let statuses: Vec<String> = masters
        .handling_statuses
        .iter()
        .map(|s| s.name.clone())
        .collect();
    let labels: Vec<String> = masters.labels.iter().map(|l| l.name.clone()).collect();
    let payment_methods: Vec<String> = masters
        .payment_methods
        .iter()
        .map(|p| p.name.clone())
        .collect();
    let problems = match st.store.automation_rule_problems().await {
        Ok(p) => p,
        Err(e) => return store_error_page(e),
    };
    let g = |k: &str| form.get(k).cloned().unwrap_or_default();
    let t = Page {
        nav: Nav::of(session),
        rules: rules
            .iter()
            .map(|r| RuleRow {
                id: r.id,
                position: r.position,
                name: r.name.clone(),
                trigger: describe(&r.trigger),
                action: action_label(&r.action),
                conditions: r
                    .conditions
                    .iter()
                    .map(Condition::describe)
                    .collect::<Vec<_>>()
                    .join("、"),
                enabled: r.enabled,
                problem: problems.get(&r.id).cloned().unwrap_or_default(),
            })
            .collect(),
        conditions: condition_choices(&masters)
            .into_iter()
            .map(|c| (serde_json::to_string(&c).unwrap_or_default(), c.describe()))
            .collect(),
        condition: g("condition"),
        triggers: trigger_choices(&statuses, &payment_methods)
            .into_iter()
            .map(|(v, t)| (v, describe(&t)))
            .collect(),
        actions: action_choices(&statuses, &labels, &reasons, &templates)
            .into_iter()
            .map(|a| {
                (
                    serde_json::to_string(&a).unwrap_or_default(),
                    action_label(&a),
                )
            })
            .collect(),
        can_edit: session.role().allows(Permission::WriteMasters),
        flash,
        form_error,
        name: g("name"),
        trigger: g("trigger"),
        action: g("action"),
        position: g("position"),
        max_chain: MAX_CHAIN,
    };
    render(status, &t)
}

async fn page(
    State(st): State<AppState>,
    session: StaffSession,
    Query(q): Query<HashMap<String, String>>,
) -> Response {
    let flash = match q.get("done").map(String::as_str) {
        Some("added") => "ルールを追加しました。",
        Some("changed") => "保存しました。",
        Some("deleted") => "削除しました。",
        _ => "",
    };
    view(
        &st,
        &session,
        flash.into(),
        String::new(),
        &HashMap::new(),
        StatusCode::OK,
    )
    .await
}

fn guard(session: &StaffSession, f: &HashMap<String, String>) -> Option<Response> {
    crate::views::refuse_post(session, Permission::WriteMasters, f)
}

fn invalid_message(e: &StoreError) -> Option<String> {
    match e {
        StoreError::Invalid(fe) => Some(fe.messages()),
        _ => None,
    }
}

async fn add(
    State(st): State<AppState>,
    session: StaffSession,
    Form(f): Form<HashMap<String, String>>,
) -> Response {
    if let Some(refused) = guard(&session, &f) {
        return refused;
    }
    let bad = |msg: &str| msg.to_string();
    let trigger: Result<Trigger, String> = f
        .get("trigger")
        .ok_or_else(|| bad("きっかけを選んでください"))
        .and_then(|t| serde_json::from_str(t).map_err(|_| bad("きっかけが正しくありません")));
    let position = match f
        .get("position")
        .map(|p| p.trim())
        .filter(|p| !p.is_empty())
    {
        None => Ok(None),
        Some(p) => p
            .parse::<i64>()
            .map(Some)
            .map_err(|_| bad("表示順は整数で入力してください")),
    };
    let action: Result<Action, String> = f
        .get("action")
        .ok_or_else(|| bad("アクションを選んでください"))
        .and_then(|a| serde_json::from_str(a).map_err(|_| bad("アクションが正しくありません")));
    let conditions: Result<Vec<Condition>, String> =
        match f.get("condition").map(String::as_str).unwrap_or("") {
            "" => Ok(Vec::new()),
            c => serde_json::from_str(c)
                .map(|c| vec![c])
                .map_err(|_| bad("条件が正しくありません")),
        };
    let (trigger, position, action, conditions) = match (trigger, position, action, conditions) {
        (Ok(t), Ok(p), Ok(a), Ok(c)) => (t, p, a, c),
        (Err(m), _, _, _) | (_, Err(m), _, _) | (_, _, Err(m), _) | (_, _, _, Err(m)) => {
            return view(
                &st,
                &session,
                String::new(),
                m,
                &f,
                StatusCode::UNPROCESSABLE_ENTITY,
            )
            .await;
        }
    };
    // 0: the store puts it after the last rule.
    let position = position.unwrap_or(0);
    let rule = Rule {
        id: 0,
        name: f.get("name").cloned().unwrap_or_default(),
        position,
        enabled: true,
        conditions,
        trigger,
        action,
    };
    if f.contains_key("dry_run") {
        // Nothing is saved: the result is shown above the form, kept as typed.
        return match st.store.dry_run_rule(&rule, 30).await {
            Ok(r) => {
                let msg = if r.orders == 0 {
                    "ドライラン: 直近30日の受注でこのルールが動いた受注はありません。".to_string()
                } else {
                    format!(
                        "ドライラン: 直近30日の受注のうち{}件でこのルールが動いていました（例: {}）。何も変更していません。",
                        r.orders,
                        r.sample.join("、")
                    )
                };
                view(&st, &session, msg, String::new(), &f, StatusCode::OK).await
            }
            Err(e) => store_error_page(e),
        };
    }
    match st.store.add_automation_rule(&rule).await {
        Ok(_) => Redirect::to("/settings/automation?done=added").into_response(),
        Err(e) => match invalid_message(&e) {
            Some(m) => {
                view(
                    &st,
                    &session,
                    String::new(),
                    m,
                    &f,
                    StatusCode::UNPROCESSABLE_ENTITY,
                )
                .await
            }
            None => store_error_page(e),
        },
    }
}

async fn change(
    State(st): State<AppState>,
    session: StaffSession,
    Path(id): Path<i64>,
    Form(f): Form<HashMap<String, String>>,
) -> Response {
    if let Some(refused) = guard(&session, &f) {
        return refused;
    }
    let result = match f.get("op").map(String::as_str) {
        Some("delete") => st.store.delete_automation_rule(id).await.map(|_| "deleted"),
        Some(op @ ("up" | "down")) => st
            .store
            .move_automation_rule(id, op == "up")
            .await
            .map(|_| "changed"),
        Some("toggle") => {
            let rule = match st.store.automation_rules().await {
                Ok(r) => r.into_iter().find(|r| r.id == id),
                Err(e) => return store_error_page(e),
            };
            let Some(mut rule) = rule else {
                return error_page(StatusCode::NOT_FOUND, "自動化設定が見つかりません");
            };
            rule.enabled = !rule.enabled;
            st.store
                .update_automation_rule(&rule)
                .await
                .map(|_| "changed")
        }
        _ => return error_page(StatusCode::BAD_REQUEST, "不明な操作です"),
    };
    match result {
        Ok(done) => Redirect::to(&format!("/settings/automation?done={done}")).into_response(),
        Err(e) => match invalid_message(&e) {
            Some(m) => {
                view(
                    &st,
                    &session,
                    String::new(),
                    m,
                    &HashMap::new(),
                    StatusCode::UNPROCESSABLE_ENTITY,
                )
                .await
            }
            None => store_error_page(e),
        },
    }
}

async fn presets(
    State(st): State<AppState>,
    session: StaffSession,
    Form(f): Form<HashMap<String, String>>,
) -> Response {
    if let Some(refused) = guard(&session, &f) {
        return refused;
    }
    match st.store.load_automation_presets().await {
        Ok(r) => {
            let mut msg = format!("{}件のルールを追加しました。", r.added.len());
            if !r.statuses_created.is_empty() {
                msg.push_str(&format!(
                    " 対応状況を作成しました: {}。",
                    r.statuses_created.join("、")
                ));
            }
            if !r.skipped.is_empty() {
                msg.push_str(&format!(
                    " 追加しなかったルール: {}",
                    r.skipped
                        .iter()
                        .map(|(n, why)| format!("「{n}」（{why}）"))
                        .collect::<Vec<_>>()
                        .join("、")
                ));
            }
            view(
                &st,
                &session,
                msg,
                String::new(),
                &HashMap::new(),
                StatusCode::OK,
            )
            .await
        }
        Err(e) => store_error_page(e),
    }
}
