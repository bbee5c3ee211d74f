//! 履歴: one row per changed field of an order or a subscription, with who
//! ([`Actor`]), what (field, before, after), when and why.

use crate::db::{Arg, Rows};
pub use juchu_domain::actor::Actor;
use serde::Serialize;

/// One row of 履歴, for an order (`order_history`) or a subscription
/// (`subscription_history`).
pub(crate) struct HistoryRow {
    /// The order's or the subscription's id.
    pub owner_id: i64,
    pub actor_kind: &'static str,
    pub actor_id: Option<i64>,
    pub actor_name: String,
    pub field: String,
    pub before: String,
    pub after: String,
    pub reason: String,
}

impl HistoryRow {
    /// A row written by `actor`.
    pub fn by(
        actor: &Actor,
        owner_id: i64,
        field: impl Into<String>,
        before: impl Into<String>,
        after: impl Into<String>,
        reason: impl Into<String>,
    ) -> Self {
        HistoryRow {
            owner_id,
            actor_kind: actor.kind(),
            actor_id: actor.id(),
            actor_name: actor.name().to_string(),
            field: field.into(),
            before: before.into(),
            after: after.into(),
            reason: reason.into(),
        }
    }
}

/// An order's 履歴 rows (`order_history`).
pub(crate) fn order_history_rows(rows: &[HistoryRow], at: &str) -> Rows {
    history_rows_into("order_history", "order_id", rows, at)
}

/// A subscription's 履歴 rows (`subscription_history`).
pub(crate) fn subscription_history_rows(rows: &[HistoryRow], at: &str) -> Rows {
    history_rows_into("subscription_history", "subscription_id", rows, at)
}

/// 履歴 rows for `table`, whose owner column is `owner_column`.
fn history_rows_into(
    table: &'static str,
    owner_column: &str,
    rows: &[HistoryRow],
    at: &str,
) -> Rows {
    let mut out = Rows::new(
        table,
        &[
            owner_column,
            "at",
            "actor_kind",
            "actor_id",
            "actor_name",
            "field",
            "before_value",
            "after_value",
            "reason",
        ],
    );
    for h in rows {
        out.args.push(Arg::from(h.owner_id));
        out.args.push(at.into());
        out.args.push(h.actor_kind.into());
        out.args.push(h.actor_id.into());
        out.args.push(h.actor_name.clone().into());
        out.args.push(h.field.clone().into());
        out.args.push(h.before.clone().into());
        out.args.push(h.after.clone().into());
        out.args.push(h.reason.clone().into());
    }
    out
}

/// One 履歴 row as read back.
/// One row of 履歴.
#[derive(Debug, Clone, Serialize)]
pub struct HistoryEntry {
    pub id: i64,
    pub at: String,
    pub actor_kind: String,
    pub actor_name: String,
    pub field: String,
    pub field_label: String,
    pub before: String,
    pub after: String,
    pub reason: String,
}
