//! 自動化設定: event → action rules, planned purely and deterministically.
//!
//! This is the place where rules run inside the change pipeline. The full rule
//! vocabulary (conditions, mail, payment processes, presets) arrives with the
//! automation issue; what exists now is the engine's shape and its guarantees:
//! rules are considered in position order, a rule fires at most once per
//! originating change, and a chain of rule-caused changes stops at [`MAX_CHAIN`].

use crate::event::{OrderEvent, derive_events};
use crate::order::{Order, OrderContext};
use crate::patch::{FieldChange, OrderPatch, apply_patch, diff};
use jiff::civil::Date;
use serde::{Deserialize, Serialize};

/// How many rounds of rule-caused changes one originating change may cause.
pub const MAX_CHAIN: usize = 8;

/// What a rule listens for.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum Trigger {
    /// Any event of this kind (e.g. `tracking_number_set`).
    EventKind { event: String },
    /// This exact event (e.g. payment status became 与信審査エラー).
    Exact { event: OrderEvent },
}

impl Trigger {
    pub fn matches(&self, e: &OrderEvent) -> bool {
        match self {
            Trigger::EventKind { event } => e.kind() == event,
            Trigger::Exact { event } => event == e,
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum Action {
    /// 対応状況を X に変更
    SetHandlingStatus { name: String },
    /// 受注ラベル X を付ける
    AddLabel { name: String },
    /// 受注ラベル X を外す
    RemoveLabel { name: String },
    /// 定期受注のステータスを変更: the order's subscription becomes 停止 /
    /// キャンセル (with a reason from the reason master) or 有効. Applied by the
    /// store in the same transaction; the order itself does not change.
    SetSubscriptionStatus {
        status: crate::status::SubscriptionStatus,
        #[serde(default)]
        reason: String,
    },
    /// メールを送信: the template (by code) rendered with the order, queued in
    /// the same transaction and delivered by the worker.
    SendMail { template: String },
    /// 決済処理を実行: queue the payment process (再オーソリ処理, 売上処理, 取消処理)
    /// in the same transaction; the worker asks the provider and its answer comes
    /// back through the pipeline (so rules fire on the new 決済状況).
    RunPaymentProcess {
        process: crate::payment::PaymentProcess,
    },
}

/// A condition the order must meet for the rule to fire (all must hold).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case", deny_unknown_fields)]
pub enum Condition {
    /// 支払方法 is this one (name or code).
    PaymentMethod { name: String },
    /// 配送業者 is this one (name or code).
    Carrier { name: String },
    /// The order has this 受注ラベル.
    Label { name: String },
    /// 要対応受注 or not.
    NeedsAttention { value: bool },
    /// A flag of the order's customer (an order without a customer has none set).
    CustomerFlag { flag: CustomerFlag, value: bool },
}

/// Flags of a customer that rules can test.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum CustomerFlag {
    /// メール設定: 送信しない.
    MailOptOut,
}

impl CustomerFlag {
    pub const ALL: &'static [CustomerFlag] = &[CustomerFlag::MailOptOut];
    pub fn label(self) -> &'static str {
        match self {
            CustomerFlag::MailOptOut => "メール送信しない顧客",
        }
    }
}

/// What is known of the order's customer when rules are planned.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct CustomerFacts {
    pub mail_opt_out: bool,
}

impl CustomerFacts {
    pub fn has(&self, flag: CustomerFlag) -> bool {
        match flag {
            CustomerFlag::MailOptOut => self.mail_opt_out,
        }
    }
}

impl Condition {
    pub fn holds(&self, o: &Order, m: &crate::masters::Masters, customer: &CustomerFacts) -> bool {
        match self {
            Condition::CustomerFlag { flag, value } => customer.has(*flag) == *value,
            Condition::PaymentMethod { name } => {
                m.payment_method_by_key(name).map(|p| p.id) == o.payment_method_id
                    && o.payment_method_id.is_some()
            }
            Condition::Carrier { name } => {
                m.carrier_by_key(name).map(|c| c.id) == o.carrier_id && o.carrier_id.is_some()
            }
            Condition::Label { name } => m
                .label_by_name(name)
                .is_some_and(|l| o.label_ids.contains(&l.id)),
            Condition::NeedsAttention { value } => o.needs_attention == *value,
        }
    }

    pub fn describe(&self) -> String {
        match self {
            Condition::PaymentMethod { name } => format!("支払方法が「{name}」"),
            Condition::Carrier { name } => format!("配送業者が「{name}」"),
            Condition::Label { name } => format!("受注ラベル「{name}」あり"),
            Condition::NeedsAttention { value: true } => "要対応受注".into(),
            Condition::NeedsAttention { value: false } => "要対応受注でない".into(),
            Condition::CustomerFlag { flag, value: true } => flag.label().to_string(),
            Condition::CustomerFlag { flag, value: false } => format!("{}でない", flag.label()),
        }
    }

    /// Two conditions that can never hold together (another payment method).
    fn excludes(&self, other: &Condition) -> bool {
        match (self, other) {
            (Condition::PaymentMethod { name: a }, Condition::PaymentMethod { name: b })
            | (Condition::Carrier { name: a }, Condition::Carrier { name: b }) => a != b,
            (Condition::NeedsAttention { value: a }, Condition::NeedsAttention { value: b }) => {
                a != b
            }
            (
                Condition::CustomerFlag { flag: f, value: a },
                Condition::CustomerFlag { flag: g, value: b },
            ) => f == g && a != b,
            _ => false,
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Rule {
    pub id: i64,
    pub name: String,
    pub position: i64,
    pub enabled: bool,
    pub trigger: Trigger,
    /// All must hold on the order (none: always).
    #[serde(default)]
    pub conditions: Vec<Condition>,
    pub action: Action,
}

impl Rule {
    /// Whether a condition needs the customer's flags (loaded only then).
    pub fn tests_customer(&self) -> bool {
        self.conditions
            .iter()
            .any(|c| matches!(c, Condition::CustomerFlag { .. }))
    }

    /// Whether both rules could fire on the same order: not when one requires
    /// what the other excludes (支払方法 A vs B).
    fn can_coincide(&self, other: &Rule) -> bool {
        !self
            .conditions
            .iter()
            .any(|a| other.conditions.iter().any(|b| a.excludes(b)))
    }
}

/// One planned firing: which rule, on which event, doing what.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Firing {
    pub rule_id: i64,
    pub rule_name: String,
    pub event: OrderEvent,
    pub action: Action,
}

/// Plans the firings for `events`. `rules` need not be sorted; `fired` holds the ids
/// of rules that already fired for this originating change and is updated.
pub fn plan(
    events: &[OrderEvent],
    rules: &[Rule],
    fired: &mut Vec<i64>,
    order: &Order,
    masters: &crate::masters::Masters,
    customer: &CustomerFacts,
) -> Vec<Firing> {
    let mut ordered: Vec<&Rule> = rules.iter().filter(|r| r.enabled).collect();
    ordered.sort_by_key(|r| (r.position, r.id));
    let mut out = Vec::new();
    for rule in ordered {
        if fired.contains(&rule.id)
            || !rule
                .conditions
                .iter()
                .all(|c| c.holds(order, masters, customer))
        {
            continue;
        }
        if let Some(e) = events.iter().find(|e| rule.trigger.matches(e)) {
            fired.push(rule.id);
            out.push(Firing {
                rule_id: rule.id,
                rule_name: rule.name.clone(),
                event: e.clone(),
                action: rule.action.clone(),
            });
        }
    }
    out
}

impl Action {
    /// Whether the action reaches outside the order (a mail, a payment
    /// request, the subscription): the store carries those out after the
    /// order's own change is written.
    pub fn acts_outside(&self) -> bool {
        matches!(
            self,
            Action::SendMail { .. }
                | Action::SetSubscriptionStatus { .. }
                | Action::RunPaymentProcess { .. }
        )
    }

    /// The change this action makes to `order` (labels are a whole set in a
    /// patch, so adding or removing one starts from the order's labels).
    pub fn to_patch(&self, order: &Order, m: &crate::masters::Masters) -> OrderPatch {
        let names = || -> Vec<String> {
            order
                .label_ids
                .iter()
                .filter_map(|id| m.label(*id).map(|l| l.name.clone()))
                .collect()
        };
        match self {
            Action::SetHandlingStatus { name } => OrderPatch::handling_status(name.clone()),
            Action::AddLabel { name } => {
                let mut labels = names();
                if !labels.contains(name) {
                    labels.push(name.clone());
                }
                OrderPatch {
                    labels: Some(labels),
                    ..Default::default()
                }
            }
            Action::RemoveLabel { name } => OrderPatch {
                labels: Some(names().into_iter().filter(|l| l != name).collect()),
                ..Default::default()
            },
            Action::SetSubscriptionStatus { .. }
            | Action::SendMail { .. }
            | Action::RunPaymentProcess { .. } => OrderPatch::default(),
        }
    }
    pub fn describe(&self) -> String {
        match self {
            Action::SetHandlingStatus { name } => format!("対応状況を「{name}」に変更"),
            Action::AddLabel { name } => format!("受注ラベル「{name}」を付ける"),
            Action::RemoveLabel { name } => format!("受注ラベル「{name}」を外す"),
            Action::SendMail { template } => format!("メール「{template}」を送信"),
            Action::RunPaymentProcess { process } => {
                format!("決済処理「{}」を実行", process.label())
            }
            Action::SetSubscriptionStatus { status, reason } if reason.is_empty() => {
                format!("定期受注のステータスを「{}」に変更", status.label())
            }
            Action::SetSubscriptionStatus { status, reason } => format!(
                "定期受注のステータスを「{}」に変更（理由: {reason}）",
                status.label()
            ),
        }
    }

    /// Whether the two actions would fight over one field: two different
    /// handling statuses, or adding and removing the same label.
    pub fn clashes_with(&self, other: &Action) -> bool {
        match (self, other) {
            (Action::SetHandlingStatus { name: a }, Action::SetHandlingStatus { name: b }) => {
                a != b
            }
            (Action::AddLabel { name: a }, Action::RemoveLabel { name: b })
            | (Action::RemoveLabel { name: a }, Action::AddLabel { name: b }) => a == b,
            (
                Action::SetSubscriptionStatus { status: a, .. },
                Action::SetSubscriptionStatus { status: b, .. },
            ) => a != b,
            (
                Action::RunPaymentProcess { process: a },
                Action::RunPaymentProcess { process: b },
            ) => a != b,
            _ => false,
        }
    }
}

/// What one firing did.
#[derive(Debug, Clone)]
pub struct Step {
    pub firing: Firing,
    /// 1 for rules fired by the originating change, 2 for rules fired by those, …
    pub depth: usize,
    /// Empty when the action changed nothing (e.g. the status already was X).
    pub changes: Vec<FieldChange>,
    pub events: Vec<OrderEvent>,
    /// Set when the action could not be applied (e.g. the status X was deleted).
    pub error: Option<String>,
}

/// The result of running the rules on a change.
#[derive(Debug, Clone)]
pub struct Cascade {
    pub order: Order,
    pub steps: Vec<Step>,
    /// True when rules were still firing after [`MAX_CHAIN`] rounds; the rest was
    /// not applied and this is logged on the order.
    pub limit_reached: bool,
}

/// Runs the rules on the events of a change, applying each action as a further
/// change of `order`, round by round, until nothing fires or the chain limit.
pub fn cascade(
    order: Order,
    events: &[OrderEvent],
    rules: &[Rule],
    ctx: &OrderContext<'_>,
    today: Date,
    customer: &CustomerFacts,
) -> Cascade {
    let mut order = order;
    let mut steps = Vec::new();
    let mut fired = Vec::new();
    let mut current: Vec<OrderEvent> = events.to_vec();
    for depth in 1..=MAX_CHAIN + 1 {
        let firings = plan(&current, rules, &mut fired, &order, ctx.masters, customer);
        if firings.is_empty() {
            return Cascade {
                order,
                steps,
                limit_reached: false,
            };
        }
        if depth > MAX_CHAIN {
            return Cascade {
                order,
                steps,
                limit_reached: true,
            };
        }
        let mut next_events = Vec::new();
        for firing in firings {
            match apply_patch(
                &order,
                &firing.action.to_patch(&order, ctx.masters),
                ctx,
                today,
            ) {
                Ok(next) => {
                    let changes = diff(&order, &next, ctx.masters);
                    let evs = derive_events(Some(&order), &next, ctx.masters);
                    next_events.extend(evs.iter().cloned());
                    order = next;
                    steps.push(Step {
                        firing,
                        depth,
                        changes,
                        events: evs,
                        error: None,
                    });
                }
                Err(e) => steps.push(Step {
                    firing,
                    depth,
                    changes: vec![],
                    events: vec![],
                    error: Some(e.to_string()),
                }),
            }
        }
        current = next_events;
    }
    Cascade {
        order,
        steps,
        limit_reached: true,
    }
}

impl Trigger {
    /// Whether some event could match both triggers.
    pub fn overlaps(&self, other: &Trigger) -> bool {
        match (self, other) {
            (Trigger::EventKind { event: a }, Trigger::EventKind { event: b }) => a == b,
            (Trigger::EventKind { event: k }, Trigger::Exact { event: e })
            | (Trigger::Exact { event: e }, Trigger::EventKind { event: k }) => e.kind() == k,
            (Trigger::Exact { event: a }, Trigger::Exact { event: b }) => a == b,
        }
    }

    pub fn describe(&self) -> String {
        match self {
            Trigger::EventKind { event } => format!("イベント {event}"),
            Trigger::Exact { event } => event.describe(),
        }
    }
}

impl Action {
    /// The event this action causes when it changes something (label changes
    /// cause none).
    pub fn produces(&self) -> Option<OrderEvent> {
        match self {
            Action::SetHandlingStatus { name } => {
                Some(OrderEvent::HandlingStatusBecame { name: name.clone() })
            }
            Action::AddLabel { .. }
            | Action::RemoveLabel { .. }
            | Action::SetSubscriptionStatus { .. }
            | Action::SendMail { .. }
            | Action::RunPaymentProcess { .. } => None,
        }
    }
}

/// The seed's examples (自動化設定機能の活用事例) that our actions can express
/// today, in order: (name, trigger, handling status to set).
pub fn presets() -> Vec<Rule> {
    use crate::status::PaymentStatus::*;
    let pay = |s| Trigger::Exact {
        event: OrderEvent::PaymentStatusBecame { status: s },
    };
    let kind = |k: &str| Trigger::EventKind { event: k.into() };
    let list: Vec<(&str, Trigger, &str)> = vec![
        (
            "出荷リスト出力済で発送準備中",
            Trigger::Exact {
                event: OrderEvent::ShippingListExported,
            },
            "発送準備中",
        ),
        (
            "配送伝票番号の登録で発送完了",
            kind("tracking_number_set"),
            "発送完了",
        ),
        (
            "配送完了日の登録で配送完了",
            kind("delivered_at_set"),
            "配送完了",
        ),
        ("与信審査エラーで決済NG", pay(CreditCheckError), "決済NG"),
        ("仮売上失敗で決済NG", pay(AuthorizationFailed), "決済NG"),
        ("取引登録失敗で決済NG", pay(RegistrationFailed), "決済NG"),
        (
            "与信審査完了で注文確定に戻す",
            pay(CreditCheckApproved),
            "注文確定",
        ),
        ("仮売上完了で注文確定に戻す", pay(Authorized), "注文確定"),
        ("入金待ちで注文確定に戻す", pay(AwaitingPayment), "注文確定"),
    ];
    let stop = |name: &str, trigger: Trigger, reason: &str| Rule {
        id: 0,
        name: name.into(),
        position: 0,
        enabled: true,
        trigger,
        conditions: Vec::new(),
        action: Action::SetSubscriptionStatus {
            status: crate::status::SubscriptionStatus::Stopped,
            reason: reason.into(),
        },
    };
    let mut rules: Vec<Rule> = list
        .into_iter()
        .map(|(name, trigger, status)| Rule {
            id: 0,
            name: name.into(),
            position: 0,
            enabled: true,
            trigger,
            conditions: Vec::new(),
            action: Action::SetHandlingStatus {
                name: status.into(),
            },
        })
        .collect();
    // 定期停止 so that failed payments do not pile up, and after an unannounced
    // return (the seed's examples).
    rules.push(stop(
        "与信審査エラーで定期停止",
        pay(CreditCheckError),
        "支払い不備",
    ));
    rules.push(stop(
        "仮売上失敗で定期停止",
        pay(AuthorizationFailed),
        "支払い不備",
    ));
    rules.push(stop(
        "返品で定期停止",
        Trigger::Exact {
            event: OrderEvent::HandlingStatusBecame {
                name: "返品".into(),
            },
        },
        "その他",
    ));
    let mail = |name: &str, trigger: Trigger, template: &str| Rule {
        id: 0,
        name: name.into(),
        position: 0,
        enabled: true,
        trigger,
        conditions: Vec::new(),
        action: Action::SendMail {
            template: template.into(),
        },
    };
    rules.push(Rule {
        id: 0,
        name: "代金引換への変更で再オーソリ".into(),
        position: 0,
        enabled: true,
        trigger: Trigger::Exact {
            event: OrderEvent::PaymentMethodBecame {
                name: "代金引換".into(),
            },
        },
        conditions: Vec::new(),
        action: Action::RunPaymentProcess {
            process: crate::payment::PaymentProcess::Reauthorize,
        },
    });
    rules.push(mail(
        "受注作成で注文受付メール",
        Trigger::Exact {
            event: OrderEvent::Created,
        },
        "order_received",
    ));
    rules.push(mail(
        "配送伝票番号の登録で発送完了メール",
        kind("tracking_number_set"),
        "shipped",
    ));
    rules.push(mail(
        "取消完了で注文キャンセル完了メール",
        pay(Cancelled),
        "cancelled",
    ));
    rules.push(mail(
        "返品で返品確認メール",
        Trigger::Exact {
            event: OrderEvent::HandlingStatusBecame {
                name: "返品".into(),
            },
        },
        "returned",
    ));
    for (i, r) in rules.iter_mut().enumerate() {
        r.position = i as i64 + 1;
    }
    rules
}

/// Why a set of enabled rules is refused when a rule is saved. The seed warns
/// that many actions on one event clash and never finish; here such a set
/// cannot be saved at all.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Conflict {
    /// Two rules on the same event set different values: which one wins would
    /// depend on their order.
    DifferentValues {
        first: String,
        second: String,
        event: String,
    },
    /// Rules that fire each other in a circle (A → B → A).
    Cycle { names: Vec<String> },
    /// Two enabled rules identical in trigger, conditions and action: the
    /// action would run twice (a customer mailed twice).
    Duplicate { first: String, second: String },
}

impl Conflict {
    pub fn message(&self) -> String {
        match self {
            Conflict::DifferentValues {
                first,
                second,
                event,
            } => format!("「{first}」と「{second}」は同じきっかけ（{event}）で別の値を設定します"),
            Conflict::Duplicate { first, second } => format!(
                "「{first}」と「{second}」はきっかけ・条件・実行内容が同じです（同じ処理が2回実行されます）"
            ),
            Conflict::Cycle { names } => format!(
                "自動化設定が循環しています: {}",
                names
                    .iter()
                    .map(|n| format!("「{n}」"))
                    .collect::<Vec<_>>()
                    .join(" → ")
            ),
        }
    }

    /// Whether the conflict involves the rule named `name`.
    pub fn involves(&self, name: &str) -> bool {
        match self {
            Conflict::DifferentValues { first, second, .. }
            | Conflict::Duplicate { first, second } => first == name || second == name,
            Conflict::Cycle { names } => names.iter().any(|n| n == name),
        }
    }
}

/// The conflicts among the enabled rules, in a stable order.
pub fn conflicts(rules: &[Rule]) -> Vec<Conflict> {
    let mut enabled: Vec<&Rule> = rules.iter().filter(|r| r.enabled).collect();
    enabled.sort_by_key(|r| (r.position, r.id));
    let mut out = Vec::new();
    for (i, a) in enabled.iter().enumerate() {
        for b in &enabled[i + 1..] {
            let same_conditions = a.conditions.iter().all(|c| b.conditions.contains(c))
                && b.conditions.iter().all(|c| a.conditions.contains(c));
            if a.trigger == b.trigger && same_conditions && a.action == b.action {
                out.push(Conflict::Duplicate {
                    first: a.name.clone(),
                    second: b.name.clone(),
                });
                continue;
            }
            if a.trigger.overlaps(&b.trigger)
                && a.action.clashes_with(&b.action)
                && a.can_coincide(b)
            {
                out.push(Conflict::DifferentValues {
                    first: a.name.clone(),
                    second: b.name.clone(),
                    event: a.trigger.describe(),
                });
            }
        }
    }
    // Rule a leads to rule b when a's action causes an event b listens for.
    let leads = |a: &Rule, b: &Rule| {
        a.action.produces().is_some_and(|e| b.trigger.matches(&e)) && a.can_coincide(b)
    };
    let n = enabled.len();
    let mut reported: Vec<Vec<usize>> = Vec::new();
    for start in 0..n {
        // Depth-first search for a path back to `start` through rules after it
        // in the list, so that each cycle is found once (from its first rule).
        let mut stack: Vec<(usize, Vec<usize>)> = vec![(start, vec![start])];
        while let Some((at, path)) = stack.pop() {
            for next in 0..n {
                if !leads(enabled[at], enabled[next]) {
                    continue;
                }
                if next == start {
                    let mut cycle = path.clone();
                    cycle.sort_unstable();
                    if !reported.contains(&cycle) {
                        reported.push(cycle);
                        let mut names: Vec<String> =
                            path.iter().map(|k| enabled[*k].name.clone()).collect();
                        names.push(enabled[start].name.clone());
                        out.push(Conflict::Cycle { names });
                    }
                } else if next > start && !path.contains(&next) {
                    let mut p = path.clone();
                    p.push(next);
                    stack.push((next, p));
                }
            }
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::order::build_order;
    use crate::order::tests::{masters, new_order, products};
    use crate::status::{PaymentStatus, RoundingMode};

    fn rule(id: i64, position: i64, trigger: Trigger, status: &str) -> Rule {
        Rule {
            id,
            name: format!("rule{id}"),
            position,
            enabled: true,
            conditions: Vec::new(),
            trigger,
            action: Action::SetHandlingStatus {
                name: status.into(),
            },
        }
    }

    #[test]
    fn rules_fire_in_position_order_once() {
        let rules = vec![
            rule(
                1,
                2,
                Trigger::EventKind {
                    event: "tracking_number_set".into(),
                },
                "発送完了",
            ),
            rule(
                2,
                1,
                Trigger::Exact {
                    event: OrderEvent::PaymentStatusBecame {
                        status: PaymentStatus::CreditCheckError,
                    },
                },
                "決済NG",
            ),
            rule(
                3,
                3,
                Trigger::EventKind {
                    event: "delivered_at_set".into(),
                },
                "配送完了",
            ),
        ];
        let events = vec![
            OrderEvent::TrackingNumberSet {
                tracking_number: "1".into(),
            },
            OrderEvent::PaymentStatusBecame {
                status: PaymentStatus::CreditCheckError,
            },
        ];
        let (m, p) = (masters(), products());
        let ctx = OrderContext {
            masters: &m,
            products: &p,
            rounding: RoundingMode::Floor,
        };
        let o = build_order(new_order(), &ctx, "2026-11-24T00:00:00Z".parse().unwrap()).unwrap();
        let mut fired = vec![];
        let plan1 = plan(
            &events,
            &rules,
            &mut fired,
            &o,
            &m,
            &CustomerFacts::default(),
        );
        assert_eq!(plan1.iter().map(|f| f.rule_id).collect::<Vec<_>>(), [2, 1]);
        assert!(
            plan(
                &events,
                &rules,
                &mut fired,
                &o,
                &m,
                &CustomerFacts::default()
            )
            .is_empty(),
            "a rule never fires twice for one change"
        );
    }

    #[test]
    fn disabled_and_non_matching_rules_do_not_fire() {
        let mut r = rule(
            1,
            1,
            Trigger::EventKind {
                event: "created".into(),
            },
            "新規受付",
        );
        r.enabled = false;
        let other = rule(
            2,
            1,
            Trigger::Exact {
                event: OrderEvent::PaymentStatusBecame {
                    status: PaymentStatus::Captured,
                },
            },
            "完了",
        );
        let events = [
            OrderEvent::Created,
            OrderEvent::PaymentStatusBecame {
                status: PaymentStatus::Cancelled,
            },
        ];
        let (m, p) = (masters(), products());
        let ctx = OrderContext {
            masters: &m,
            products: &p,
            rounding: RoundingMode::Floor,
        };
        let o = build_order(new_order(), &ctx, "2026-11-24T00:00:00Z".parse().unwrap()).unwrap();
        assert!(
            plan(
                &events,
                &[r, other],
                &mut vec![],
                &o,
                &m,
                &CustomerFacts::default()
            )
            .is_empty()
        );
    }

    #[test]
    fn rules_round_trip_as_json() {
        let r = rule(
            1,
            1,
            Trigger::Exact {
                event: OrderEvent::HandlingStatusBecame {
                    name: "返品".into(),
                },
            },
            "完了",
        );
        let s = serde_json::to_string(&r.trigger).unwrap();
        assert_eq!(serde_json::from_str::<Trigger>(&s).unwrap(), r.trigger);
    }

    #[test]
    fn cascade_applies_chains_and_stops_cycles() {
        let (m, p) = (masters(), products());
        let ctx = OrderContext {
            masters: &m,
            products: &p,
            rounding: RoundingMode::Floor,
        };
        let order =
            build_order(new_order(), &ctx, "2026-11-24T00:00:00Z".parse().unwrap()).unwrap();
        let today: Date = "2026-11-24".parse().unwrap();
        let became = |n: &str| Trigger::Exact {
            event: OrderEvent::HandlingStatusBecame { name: n.into() },
        };
        // tracking set -> 発送完了 -> 完了; and a cycle 完了 -> 保留 -> 完了 that must stop.
        let rules = vec![
            rule(
                1,
                1,
                Trigger::EventKind {
                    event: "tracking_number_set".into(),
                },
                "発送完了",
            ),
            rule(2, 2, became("発送完了"), "完了"),
            rule(3, 3, became("完了"), "保留"),
            rule(4, 4, became("保留"), "完了"),
        ];
        let ev = [OrderEvent::TrackingNumberSet {
            tracking_number: "1".into(),
        }];
        let c = cascade(
            order.clone(),
            &ev,
            &rules,
            &ctx,
            today,
            &CustomerFacts::default(),
        );
        let ids: Vec<_> = c
            .steps
            .iter()
            .map(|s| (s.firing.rule_id, s.depth))
            .collect();
        assert_eq!(ids, [(1, 1), (2, 2), (3, 3), (4, 4)]);
        assert!(!c.limit_reached, "each rule fires once, so the cycle ends");
        assert_eq!(
            m.handling_status(c.order.handling_status_id).unwrap().name,
            "完了"
        );

        // An action that fails is recorded, not applied.
        let broken = vec![rule(
            9,
            1,
            Trigger::EventKind {
                event: "tracking_number_set".into(),
            },
            "消えた状況",
        )];
        let c = cascade(order, &ev, &broken, &ctx, today, &CustomerFacts::default());
        assert!(c.steps[0].error.is_some());
    }

    #[test]
    fn chain_limit_is_reported() {
        let (m, p) = (masters(), products());
        let ctx = OrderContext {
            masters: &m,
            products: &p,
            rounding: RoundingMode::Floor,
        };
        let order =
            build_order(new_order(), &ctx, "2026-11-24T00:00:00Z".parse().unwrap()).unwrap();
        let names = [
            "新規受付",
            "処理中",
            "保留",
            "発送準備中",
            "発送完了",
            "配送完了",
            "決済NG",
            "キャンセル",
            "返品",
            "完了",
        ];
        let mut rules = vec![rule(
            100,
            0,
            Trigger::EventKind {
                event: "created".into(),
            },
            names[0],
        )];
        for (i, w) in names.windows(2).enumerate() {
            rules.push(rule(
                i as i64 + 1,
                i as i64 + 1,
                Trigger::Exact {
                    event: OrderEvent::HandlingStatusBecame { name: w[0].into() },
                },
                w[1],
            ));
        }
        let c = cascade(
            order,
            &[OrderEvent::Created],
            &rules,
            &ctx,
            "2026-11-24".parse().unwrap(),
            &CustomerFacts::default(),
        );
        assert!(c.limit_reached);
        assert_eq!(c.steps.len(), MAX_CHAIN);
    }

    #[test]
    fn clashing_rules_and_cycles_are_conflicts() {
        let ev = |s: &str| Trigger::Exact {
            event: OrderEvent::HandlingStatusBecame { name: s.into() },
        };
        let pay = Trigger::Exact {
            event: OrderEvent::PaymentStatusBecame {
                status: PaymentStatus::CreditCheckError,
            },
        };
        // Same event, same value (under other conditions): fine. Different
        // values: a conflict. (Identical rules are a conflict of their own.)
        let ok = [
            rule(1, 1, pay.clone(), "決済NG"),
            Rule {
                conditions: vec![Condition::NeedsAttention { value: true }],
                ..rule(2, 2, pay.clone(), "決済NG")
            },
        ];
        assert!(conflicts(&ok).is_empty());
        let clash = [
            rule(1, 1, pay.clone(), "決済NG"),
            rule(2, 2, pay.clone(), "保留"),
        ];
        let c = conflicts(&clash);
        assert_eq!(c.len(), 1);
        assert!(
            matches!(&c[0], Conflict::DifferentValues { first, second, .. } if first == "rule1" && second == "rule2")
        );
        assert!(c[0].message().contains("別の値"));
        // A kind trigger overlaps the exact events of that kind.
        let kind = Trigger::EventKind {
            event: "payment_status_became".into(),
        };
        assert_eq!(
            conflicts(&[rule(1, 1, kind, "保留"), rule(2, 2, pay, "決済NG")]).len(),
            1
        );
        // A → B → A.
        let cycle = [
            rule(1, 1, ev("処理中"), "保留"),
            rule(2, 2, ev("保留"), "処理中"),
        ];
        let c = conflicts(&cycle);
        assert_eq!(c.len(), 1);
        assert_eq!(
            c[0],
            Conflict::Cycle {
                names: vec!["rule1".into(), "rule2".into(), "rule1".into()]
            }
        );
        assert!(c[0].involves("rule2") && !c[0].involves("rule3"));
        // A chain without a way back is not a cycle; disabled rules do not count.
        let chain = [
            rule(1, 1, ev("処理中"), "保留"),
            rule(2, 2, ev("保留"), "完了"),
        ];
        assert!(conflicts(&chain).is_empty());
        let mut off = cycle.clone();
        off[1].enabled = false;
        assert!(conflicts(&off).is_empty());
        // A three-rule circle is reported once.
        let three = [
            rule(1, 1, ev("A"), "B"),
            rule(2, 2, ev("B"), "C"),
            rule(3, 3, ev("C"), "A"),
        ];
        assert_eq!(conflicts(&three).len(), 1);
    }

    #[test]
    fn presets_do_not_conflict() {
        let p = presets();
        assert_eq!(p.len(), 17);
        assert!(conflicts(&p).is_empty());
    }

    #[test]
    fn an_identical_second_rule_is_a_conflict() {
        let p = presets();
        let mail = p
            .iter()
            .find(|r| r.name == "配送伝票番号の登録で発送完了メール")
            .unwrap()
            .clone();
        let copy = Rule {
            id: 99,
            name: "発送メール（もう一つ）".into(),
            position: 99,
            ..mail.clone()
        };
        let c = conflicts(&[mail.clone(), copy.clone()]);
        assert_eq!(
            c,
            [Conflict::Duplicate {
                first: mail.name.clone(),
                second: copy.name.clone(),
            }]
        );
        assert!(c[0].message().contains("2回"), "{}", c[0].message());
        // Disabled, or on another trigger, it is no duplicate.
        let off = Rule {
            enabled: false,
            ..copy.clone()
        };
        assert!(conflicts(&[mail.clone(), off]).is_empty());
        let on_change = Rule {
            trigger: Trigger::EventKind {
                event: "tracking_number_changed".into(),
            },
            ..copy
        };
        assert!(conflicts(&[mail, on_change]).is_empty());
    }

    #[test]
    fn conditions_gate_rules_and_separate_conflicts() {
        let (m, p) = (masters(), products());
        let ctx = OrderContext {
            masters: &m,
            products: &p,
            rounding: RoundingMode::Floor,
        };
        // new_order() pays 代金引換 with carrier yamato.
        let o = build_order(new_order(), &ctx, "2026-11-24T00:00:00Z".parse().unwrap()).unwrap();
        let trigger = Trigger::EventKind {
            event: "created".into(),
        };
        let mut cod = rule(1, 1, trigger.clone(), "処理中");
        cod.conditions = vec![Condition::PaymentMethod {
            name: "代金引換".into(),
        }];
        let mut card = rule(2, 2, trigger.clone(), "保留");
        card.conditions = vec![Condition::PaymentMethod {
            name: "credit_card".into(),
        }];
        let fired = plan(
            &[OrderEvent::Created],
            &[cod.clone(), card.clone()],
            &mut vec![],
            &o,
            &m,
            &CustomerFacts::default(),
        );
        assert_eq!(fired.iter().map(|f| f.rule_id).collect::<Vec<_>>(), [1]);
        // Customer flags: opted-out customers only, and the flag's two values
        // exclude each other (no conflict).
        let mut quiet = rule(
            4,
            4,
            Trigger::EventKind {
                event: "created".into(),
            },
            "保留",
        );
        quiet.conditions = vec![Condition::CustomerFlag {
            flag: CustomerFlag::MailOptOut,
            value: true,
        }];
        let mut loud = rule(
            5,
            5,
            Trigger::EventKind {
                event: "created".into(),
            },
            "処理中",
        );
        loud.conditions = vec![Condition::CustomerFlag {
            flag: CustomerFlag::MailOptOut,
            value: false,
        }];
        assert!(quiet.tests_customer() && !cod.tests_customer());
        assert!(conflicts(&[quiet.clone(), loud.clone()]).is_empty());
        let opted = CustomerFacts { mail_opt_out: true };
        let ids = |facts: &CustomerFacts| {
            plan(
                &[OrderEvent::Created],
                &[quiet.clone(), loud.clone()],
                &mut vec![],
                &o,
                &m,
                facts,
            )
            .iter()
            .map(|f| f.rule_id)
            .collect::<Vec<_>>()
        };
        assert_eq!(ids(&opted), [4]);
        assert_eq!(ids(&CustomerFacts::default()), [5]);
        assert_eq!(quiet.conditions[0].describe(), "メール送信しない顧客");
        // Different values on one event, but never on the same order: no conflict.
        assert!(conflicts(&[cod.clone(), card]).is_empty());
        let mut any = rule(3, 3, trigger, "保留");
        any.conditions = vec![Condition::NeedsAttention { value: false }];
        assert!(Condition::NeedsAttention { value: false }.holds(
            &o,
            &m,
            &CustomerFacts::default()
        ));
        assert_eq!(
            conflicts(&[cod, any]).len(),
            1,
            "both can hold on one order"
        );
        assert_eq!(
            Condition::Label {
                name: "ギフト".into()
            }
            .describe(),
            "受注ラベル「ギフト」あり"
        );
    }

    #[test]
    fn label_actions() {
        let (m, p) = (masters(), products());
        let ctx = OrderContext {
            masters: &m,
            products: &p,
            rounding: RoundingMode::Floor,
        };
        let o = build_order(new_order(), &ctx, "2026-11-24T00:00:00Z".parse().unwrap()).unwrap();
        let label = m.labels[0].name.clone();
        let add = Action::AddLabel {
            name: label.clone(),
        };
        let day = "2026-11-24".parse().unwrap();
        let patched = apply_patch(&o, &add.to_patch(&o, &m), &ctx, day).unwrap();
        assert_eq!(patched.label_ids, vec![m.labels[0].id]);
        let remove = Action::RemoveLabel { name: label };
        let back = apply_patch(&patched, &remove.to_patch(&patched, &m), &ctx, day).unwrap();
        assert!(back.label_ids.is_empty());
        assert!(add.clashes_with(&remove));
        assert!(!add.clashes_with(&Action::SetHandlingStatus {
            name: "保留".into()
        }));
        // A label rule next to a status rule on one event is no conflict.
        let t = Trigger::EventKind {
            event: "created".into(),
        };
        let mut r1 = rule(1, 1, t.clone(), "保留");
        r1.action = add;
        let r2 = rule(2, 2, t, "処理中");
        assert!(conflicts(&[r1, r2]).is_empty());
    }
}
