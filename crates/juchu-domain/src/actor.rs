//! Who made a change: written to every 履歴 row of an order or a subscription.

/// The author of a change. A rule or a job keeps its id, so 履歴 can say which
/// one acted, not just "the system".
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Actor {
    Staff {
        id: i64,
        name: String,
    },
    ApiToken {
        id: i64,
        name: String,
    },
    /// The system itself: demo generator, migrations, CLI, the daily run.
    System {
        name: String,
    },
    /// A job (一括処理) carrying out what `name` (who registered it) asked.
    Job {
        id: i64,
        name: String,
    },
    /// An automation rule (自動化設定) acting on an event.
    Rule {
        id: i64,
        name: String,
    },
    /// The customer, on the customer pages (マイページ).
    Customer {
        id: i64,
        name: String,
    },
    /// A customer's request (申請: cancel, pause, skip) carried out.
    Request {
        id: i64,
        name: String,
    },
}

impl Actor {
    pub fn system(name: &str) -> Self {
        Actor::System {
            name: name.to_string(),
        }
    }

    /// The stored kind (`actor_kind` column).
    pub fn kind(&self) -> &'static str {
        match self {
            Actor::Staff { .. } => "staff",
            Actor::ApiToken { .. } => "api_token",
            Actor::System { .. } => "system",
            Actor::Job { .. } => "job",
            Actor::Rule { .. } => "rule",
            Actor::Customer { .. } => "customer",
            Actor::Request { .. } => "request",
        }
    }

    pub fn id(&self) -> Option<i64> {
        match self {
            Actor::Staff { id, .. }
            | Actor::ApiToken { id, .. }
            | Actor::Job { id, .. }
            | Actor::Rule { id, .. }
            | Actor::Customer { id, .. }
            | Actor::Request { id, .. } => Some(*id),
            Actor::System { .. } => None,
        }
    }

    pub fn name(&self) -> &str {
        match self {
            Actor::Staff { name, .. }
            | Actor::ApiToken { name, .. }
            | Actor::System { name }
            | Actor::Job { name, .. }
            | Actor::Rule { name, .. }
            | Actor::Customer { name, .. }
            | Actor::Request { name, .. } => name,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_rule_keeps_its_id_and_kind() {
        let a = Actor::Rule {
            id: 7,
            name: "決済NGで停止".into(),
        };
        assert_eq!(
            (a.kind(), a.id(), a.name()),
            ("rule", Some(7), "決済NGで停止")
        );
        assert_eq!(Actor::system("CLI").id(), None);
    }
}
