//! 自動化設定: event → action rules, planned purely and deterministically.
//!
//! This is the place where rules run inside the change pipeline. The full rule
//! vocabulary (conditions, mail, payment processes, presets) arrives with the
//! automation issue; what exists now is the engine's shape and its guarantees:
//! rules are considered in position order, a rule fires at most once per
//! originating change, and a chain of rule-caused changes stops at [`MAX_CHAIN`].

use crate::event::OrderEvent;
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
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Rule {
    pub id: i64,
    pub name: String,
    pub position: i64,
    pub enabled: bool,
    pub trigger: Trigger,
    pub action: Action,
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
pub fn plan(events: &[OrderEvent], rules: &[Rule], fired: &mut Vec<i64>) -> Vec<Firing> {
    let mut ordered: Vec<&Rule> = rules.iter().filter(|r| r.enabled).collect();
    ordered.sort_by_key(|r| (r.position, r.id));
    let mut out = Vec::new();
    for rule in ordered {
        if fired.contains(&rule.id) {
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

#[cfg(test)]
mod tests {
    use super::*;
    use crate::status::PaymentStatus;

    fn rule(id: i64, position: i64, trigger: Trigger, status: &str) -> Rule {
        Rule {
            id,
            name: format!("rule{id}"),
            position,
            enabled: true,
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
        let mut fired = vec![];
        let plan1 = plan(&events, &rules, &mut fired);
        assert_eq!(plan1.iter().map(|f| f.rule_id).collect::<Vec<_>>(), [2, 1]);
        assert!(
            plan(&events, &rules, &mut fired).is_empty(),
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
        assert!(plan(&events, &[r, other], &mut vec![]).is_empty());
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
}
