//! A subscription's change and what it sets off on its orders.

use crate::StoreError;
use crate::db::{Store, Tx, get_str};
use crate::history::Actor;
use crate::orders::ChangeTarget;
use crate::subscriptions::SubscriptionChanged;
use juchu_domain::subscription::{Subscription, SubscriptionCommand};

impl Store {
    /// Applies a command to a subscription: one transaction, version-checked, a
    /// 履歴 row per changed field.
    pub async fn change_subscription(
        &self,
        id: i64,
        expected_version: Option<i64>,
        cmds: &[SubscriptionCommand],
        actor: &Actor,
        reason: &str,
    ) -> Result<SubscriptionChanged, StoreError> {
        let mut tx = self.begin().await?;
        let out = self
            .change_subscription_raising(&mut tx, id, expected_version, cmds, actor, reason)
            .await?;
        tx.commit().await?;
        Ok(out)
    }

    /// The subscription as the commands would leave it (the resulting dates to
    /// show before saving): the whole pipeline runs, validation included, and
    /// its transaction is rolled back.
    pub async fn preview_subscription_change(
        &self,
        id: i64,
        expected_version: Option<i64>,
        cmds: &[SubscriptionCommand],
        actor: &Actor,
    ) -> Result<SubscriptionChanged, StoreError> {
        let mut tx = self.begin().await?;
        let out = self
            .change_subscription_in_tx(&mut tx, id, expected_version, cmds, actor, "")
            .await?;
        tx.rollback().await?;
        Ok(out)
    }

    /// [`Store::change_subscription`] inside the caller's transaction (a job's
    /// chunk): the status event is raised for rules just the same.
    pub(crate) async fn change_subscription_raising_in_tx(
        &self,
        tx: &mut Tx,
        id: i64,
        cmds: &[SubscriptionCommand],
        actor: &Actor,
        reason: &str,
    ) -> Result<SubscriptionChanged, StoreError> {
        self.change_subscription_raising(tx, id, None, cmds, actor, reason)
            .await
    }

    /// The pipeline on a subscription already loaded and locked in `tx` with
    /// an environment loaded once for many (the request automation), and a
    /// new status raised on the latest order as for any change.
    pub(crate) async fn change_loaded_subscription_raising_in_tx(
        &self,
        tx: &mut Tx,
        before: juchu_domain::subscription::Subscription,
        cmds: &[SubscriptionCommand],
        env: &crate::subscriptions::SubscriptionEnv,
        actor: &Actor,
        reason: &str,
    ) -> Result<SubscriptionChanged, StoreError> {
        let out = self
            .change_loaded_subscription_in_tx(tx, before, cmds, env, actor, reason)
            .await?;
        if out.changes.iter().any(|c| c.field == "status") {
            self.raise_subscription_status(tx, &out.subscription, actor)
                .await?;
        }
        Ok(out)
    }

    /// The subscription pipeline, and a new status raised as an event on the
    /// latest order (for an operator's, the API's or a job's change; a rule's
    /// change of the subscription goes through the pipeline alone).
    async fn change_subscription_raising(
        &self,
        tx: &mut Tx,
        id: i64,
        expected_version: Option<i64>,
        cmds: &[SubscriptionCommand],
        actor: &Actor,
        reason: &str,
    ) -> Result<SubscriptionChanged, StoreError> {
        let out = self
            .change_subscription_in_tx(tx, id, expected_version, cmds, actor, reason)
            .await?;
        if out.changes.iter().any(|c| c.field == "status") {
            self.raise_subscription_status(tx, &out.subscription, actor)
                .await?;
        }
        Ok(out)
    }

    /// 自動化設定 on 「定期受注のステータスが X になった」: the event is raised on
    /// the subscription's latest order, in the same transaction.
    async fn raise_subscription_status(
        &self,
        tx: &mut Tx,
        s: &Subscription,
        actor: &Actor,
    ) -> Result<(), StoreError> {
        let latest = sqlx::query(
            "SELECT order_number FROM orders WHERE subscription_id = $1 ORDER BY id DESC LIMIT 1",
        )
        .bind(s.id)
        .fetch_optional(&mut **tx)
        .await?;
        let Some(row) = latest else { return Ok(()) };
        let number = get_str(&row, "order_number")?;
        let event = juchu_domain::event::OrderEvent::SubscriptionStatusBecame { status: s.status };
        let no_change = juchu_domain::patch::OrderPatch::default();
        let events = [event];
        let target = ChangeTarget {
            outside_events: &events,
            ..ChangeTarget::new(&number, &no_change)
        };
        self.change_in_tx(
            tx,
            target,
            actor,
            &format!("定期受注 #{} のステータス変更", s.id),
        )
        .await?;
        Ok(())
    }
}
