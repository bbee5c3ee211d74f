//! 自動受注作成: the daily run that creates subscriptions' child orders through
//! the order pipeline, and 「今すぐ次回の受注を作成」.

use crate::StoreError;
use crate::db::{Backend, Store, Tx, write_rows};
use crate::history::Actor;
use crate::history::HistoryRow;
use crate::history::subscription_history_rows as history_rows;
use crate::orders::BuiltOrders;
use crate::settings::{calendar_from, settings_map};
use crate::subscriptions::{
    PartRun, RunOptions, RunReport, advance_rows, attach_sub_children, existing_deliveries,
    load_subscription, mark_run, select_sql, sub_from_row,
};
use jiff::ToSpan;
use jiff::civil::Date;
use juchu_domain::FieldErrors;
use juchu_domain::calendar::CreationBasis;
use juchu_domain::masters::Masters;
use juchu_domain::order::{Order, OrderContext, build_order};
use juchu_domain::payment::GatewayKind;
use juchu_domain::subscription::{
    Subscription, SubscriptionCommand, SubscriptionContext, SubscriptionReasons, advance_changes,
    apply_command, attention, check_manual_creation, child_order,
};

/// Whether the subscription's orders are paid by card (authorised with its token).
fn paid_by_card(sub: &Subscription, m: &Masters) -> bool {
    sub.payment_method_id
        .and_then(|id| m.payment_method(id))
        .and_then(|p| GatewayKind::for_method_code(&p.code))
        == Some(GatewayKind::Card)
}

impl Store {
    /// 「今すぐ次回の受注を作成」: the next child order now (only when 有効).
    /// With `expected_version`, a second click or a retry based on the same page
    /// is refused (409) instead of creating the delivery after next.
    pub async fn create_subscription_order_now(
        &self,
        id: i64,
        expected_version: Option<i64>,
        actor: &Actor,
    ) -> Result<Order, StoreError> {
        let mut tx = self.begin().await?;
        let sub = load_subscription(&mut tx, id, self.lock_suffix()).await?;
        if let Some(v) = expected_version
            && v != sub.version
        {
            return Err(StoreError::Conflict {
                field: Some("version".into()),
                message: format!(
                    "定期受注 #{id} は他の操作で更新されています（送信されたバージョン {v}、現在 {}）。再読み込みしてから作成してください",
                    sub.version
                ),
            });
        }
        check_manual_creation(&sub)?;
        let mut report = RunReport::default();
        // The manual order counts as today's: the daily run does not add another
        // one for this subscription today.
        let today = self.clock.today();
        let created = self
            .create_children(&mut tx, vec![sub], Some(today), actor, &mut report)
            .await?;
        if let Some((_, msg)) = report.failed.first() {
            return Err(FieldErrors::single("subscription", "cannot_create", msg.clone()).into());
        }
        tx.commit().await?;
        created
            .into_iter()
            .next()
            .ok_or_else(|| StoreError::Other("no order was created".into()))
    }

    /// 自動受注作成 as of `today`: one child order for every 有効 subscription whose
    /// creation date has come, at most one per subscription per run. Chunks of
    /// subscriptions are committed one by one; the run can be stopped and re-run
    /// at any point: a (subscription, delivery date) pair never gets two orders, and
    /// subscriptions this date's run already served are not served again.
    pub async fn run_subscriptions(
        &self,
        today: Date,
        opts: &RunOptions,
    ) -> Result<RunReport, StoreError> {
        let settings = self.subscription_settings().await?;
        let cutoff = today
            .checked_add(settings.days_before.days())
            .map_err(|e| StoreError::Other(format!("date out of range: {e}")))?;
        let column = match settings.basis {
            CreationBasis::Delivery => "next_delivery_date",
            CreationBasis::Ship => "next_ship_date",
        };
        // PostgreSQL: the due set is split over several connections by id, each
        // part in its own chunks and transactions (the rows are locked while their
        // chunk is written). SQLite has one writer: one part.
        let parts = match (self.backend, opts.stop_after_chunks) {
            (Backend::Postgres, None) => opts.workers.max(1),
            _ => 1,
        };
        let mut tasks = Vec::with_capacity(parts);
        for part in 0..parts {
            let store = self.clone();
            let run = PartRun {
                today,
                cutoff,
                column,
                flagged_creates: settings.flagged_creates,
                chunk_size: opts
                    .chunk_size
                    .unwrap_or_else(|| crate::subscriptions::default_run_chunk(self.backend))
                    .max(1),
                stop_after_chunks: opts.stop_after_chunks,
                part: (part as i64, parts as i64),
            };
            tasks.push(tokio::spawn(async move { store.run_part(run).await }));
        }
        let mut report = RunReport {
            date: Some(today),
            complete: true,
            ..Default::default()
        };
        let mut first_error = None;
        for t in tasks {
            match t.await {
                Ok(Ok(r)) => {
                    report.created += r.created;
                    report.skipped_flagged += r.skipped_flagged;
                    report.failed.extend(r.failed);
                    report.chunks += r.chunks;
                    report.complete &= r.complete;
                }
                Ok(Err(e)) => {
                    first_error.get_or_insert(e);
                }
                Err(e) => {
                    first_error.get_or_insert(StoreError::Other(format!(
                        "subscription run task failed: {e}"
                    )));
                }
            }
        }
        match first_error {
            // Parts that finished are committed; a re-run completes the rest.
            Some(e) => Err(e),
            None => Ok(report),
        }
    }

    async fn run_part(&self, run: PartRun) -> Result<RunReport, StoreError> {
        let actor = Actor::system("自動受注作成");
        let mut report = RunReport {
            date: Some(run.today),
            complete: true,
            ..Default::default()
        };
        let mut last_id = 0_i64;
        loop {
            let mut tx = self.begin().await?;
            let sql = format!(
                "{} WHERE status = 'active' AND {} <= $1 AND (last_run_on IS NULL OR last_run_on < $2) AND id > $3 AND id % $5 = $6 ORDER BY id LIMIT $4{}",
                select_sql(),
                run.column,
                self.lock_suffix()
            );
            let rows = sqlx::query(sqlx::AssertSqlSafe(sql))
                .bind(run.cutoff.to_string())
                .bind(run.today.to_string())
                .bind(last_id)
                .bind(run.chunk_size as i64)
                .bind(run.part.1)
                .bind(run.part.0)
                .fetch_all(&mut *tx)
                .await?;
            if rows.is_empty() {
                tx.commit().await?;
                break;
            }
            let mut subs = rows
                .iter()
                .map(sub_from_row)
                .collect::<Result<Vec<_>, _>>()?;
            last_id = subs.iter().map(|s| s.id).max().unwrap_or(last_id);
            attach_sub_children(&mut tx, &mut subs).await?;
            let (due, flagged): (Vec<_>, Vec<_>) = subs
                .into_iter()
                .partition(|s| run.flagged_creates || !s.needs_attention);
            report.skipped_flagged += flagged.len();
            self.create_children(&mut tx, due, Some(run.today), &actor, &mut report)
                .await?;
            tx.commit().await?;
            report.chunks += 1;
            if run.stop_after_chunks.is_some_and(|n| report.chunks >= n) {
                report.complete = false;
                break;
            }
        }
        Ok(report)
    }

    /// Builds and writes the next child order of each subscription and advances
    /// it, in the caller's transaction. Subscriptions whose order cannot be built
    /// are reported in `report.failed` and left unchanged.
    async fn create_children(
        &self,
        tx: &mut Tx,
        subs: Vec<Subscription>,
        run_date: Option<Date>,
        actor: &Actor,
        report: &mut RunReport,
    ) -> Result<Vec<Order>, StoreError> {
        if subs.is_empty() {
            return Ok(Vec::new());
        }
        let codes: Vec<String> = subs
            .iter()
            .flat_map(|s| s.items.iter().map(|i| i.product_code.clone()))
            .collect();
        let (snapshot, products) = self.context(tx, &codes).await?;
        let map = settings_map(tx).await?;
        let calendar = calendar_from(tx, &map).await?;
        let reasons = SubscriptionReasons::default();
        let order_ctx = OrderContext {
            masters: &snapshot.masters,
            products: &products,
            rounding: snapshot.rounding,
        };
        let sub_ctx = SubscriptionContext {
            masters: &snapshot.masters,
            calendar: &calendar,
            reasons: &reasons,
            products: &products,
        };
        let now = self.clock.now_second();
        // Overdue (the server was down, or the date was set in the past): the
        // order never promises a delivery before the earliest feasible one; the
        // dates roll forward and the cycle continues from there.
        let day = run_date.unwrap_or_else(|| self.clock.today());
        let settings = crate::settings::settings_from(&map);
        let mut overdue = std::collections::HashMap::new();
        let subs: Vec<Subscription> = subs
            .into_iter()
            .map(|mut sub| {
                if let Some(rolled) = sub.schedule.roll_forward(day, &calendar) {
                    overdue.insert(sub.id, std::mem::replace(&mut sub.schedule, rolled));
                }
                sub
            })
            .collect();
        // A delivery date that already has an order (old data, or a date moved
        // onto an earlier delivery) fails for that subscription alone instead of
        // failing the whole chunk on the unique index, run after run.
        let existing = existing_deliveries(tx, self.backend, &subs).await?;
        let mut built = Vec::with_capacity(subs.len());
        let mut advanced = Vec::with_capacity(subs.len());
        let mut without_card = Vec::new();
        let failed_before = report.failed.len();
        for sub in subs {
            if paid_by_card(&sub, &snapshot.masters) && !sub.card_token.is_set() {
                report
                    .failed
                    .push((sub.id, format!("card_token: {}", attention::NO_CARD_TOKEN)));
                if !sub
                    .needs_attention_reasons()
                    .iter()
                    .any(|r| r == attention::NO_CARD_TOKEN)
                {
                    without_card.push(sub.id);
                }
                continue;
            }
            if existing.contains(&(sub.id, sub.schedule.next_delivery)) {
                report.failed.push((
                    sub.id,
                    format!(
                        "next_delivery_date: 配送予定日 {} の受注は既に作成されています。次回配送予定日を変更してください",
                        sub.schedule.next_delivery
                    ),
                ));
                continue;
            }
            let mut input = child_order(&sub, &snapshot.masters);
            if sub.needs_attention {
                // Orders of a 要対応定期受注 are flagged too (SPEC §3).
                input.needs_attention_reason = Some("要対応定期受注からの受注".into());
            }
            let next = match apply_command(&sub, &SubscriptionCommand::Advance, &sub_ctx) {
                Ok(n) => n,
                Err(e) => {
                    report.failed.push((sub.id, e.with_fields()));
                    continue;
                }
            };
            match build_order(input, &order_ctx, now) {
                Ok(o) => {
                    built.push(o);
                    advanced.push((sub, next));
                }
                Err(e) => report.failed.push((sub.id, e.with_fields())),
            }
        }
        // A card subscription without a token gets no order (it could not be
        // authorised): it is flagged for the shop to ask the customer for a card.
        for id in without_card {
            let flag = SubscriptionCommand::Flag {
                reason: attention::NO_CARD_TOKEN.into(),
            };
            self.change_subscription_in_tx(tx, id, None, &[flag], actor, "")
                .await?;
        }
        // Failed ones are not retried by every tick of the worker: the next date's
        // run tries again (after someone fixed the subscription).
        if let Some(day) = run_date {
            let failed: Vec<i64> = report.failed[failed_before..].iter().map(|f| f.0).collect();
            mark_run(tx, self.backend, &failed, day).await?;
        }
        if built.is_empty() {
            return Ok(Vec::new());
        }
        let at = juchu_domain::time::format_ts(now);
        let mut history = Vec::with_capacity(advanced.len() * 4);
        let mut updates = Vec::with_capacity(advanced.len());
        let mut flag_overdue = Vec::new();
        for (before, after) in &mut advanced {
            after.version = before.version + 1;
            if let Some(was) = overdue.get(&before.id).map(|s| s.next_delivery) {
                history.push(HistoryRow::by(
                    actor,
                    before.id,
                    "next_delivery_date",
                    was.to_string(),
                    before.schedule.next_delivery.to_string(),
                    format!(
                        "{}: 配送予定日 {was} は{day}に作成する受注では間に合わないため、最短のお届け日に繰り下げました",
                        attention::OVERDUE
                    ),
                ));
                if settings.overdue_flags {
                    flag_overdue.push(before.id);
                }
            }
            // One 履歴 row per advance (not one per date field): the run writes
            // hundreds of thousands of them, and the dates follow from the count.
            history.push(HistoryRow::by(
                actor,
                before.id,
                "count",
                before.count.to_string(),
                after.count.to_string(),
                format!(
                    "{}配送分の受注を作成。次回配送予定日 {} → {}、次回発送予定日 {} → {}",
                    before.schedule.next_delivery,
                    before.schedule.next_delivery,
                    after.schedule.next_delivery,
                    before.schedule.next_ship,
                    after.schedule.next_ship
                ),
            ));
            updates.push(after.clone());
        }
        let extra = vec![history_rows(&history, &at)];
        let card_tokens: Vec<Option<String>> = advanced
            .iter()
            .map(|(before, _)| Some(before.card_token.as_str().to_string()))
            .collect();
        let n = built.len();
        let parts = BuiltOrders {
            orders: built,
            cycles: vec![None; n],
            attributes: vec![Vec::new(); n],
            snapshot: &snapshot,
            products: &products,
            now,
            allocated: None,
        };
        let orders = self
            .insert_built(tx, parts, actor, extra, &card_tokens)
            .await
            .map_err(|e| match e {
                StoreError::Conflict { .. } => StoreError::Conflict {
                    field: Some("subscription".into()),
                    message: "この配送予定日の受注は既に作成されています".into(),
                },
                e => e,
            })?;
        advance_rows(tx, self.backend, &updates, run_date, &at).await?;
        // `subscription.changed` for every advance, after the orders'
        // `subscription.order_created`: an integration mirroring subscriptions
        // sees the new count and dates from the one event type it listens to.
        let changed: Vec<_> = advanced
            .iter()
            .map(|(before, after)| {
                let changes = advance_changes(before, after, overdue.get(&before.id));
                juchu_domain::webhook::subscription_event(after, Some(&changes))
            })
            .collect();
        write_rows(
            tx,
            self.backend,
            vec![crate::webhooks::event_rows(&changed, &at)],
        )
        .await?;
        for id in flag_overdue {
            let flag = SubscriptionCommand::Flag {
                reason: attention::OVERDUE.into(),
            };
            self.change_subscription_in_tx(tx, id, None, &[flag], actor, "")
                .await?;
        }
        report.created += orders.len();
        Ok(orders)
    }
}
