//! 事前お知らせ: a mail to the customer N days before each next ship date of a
//! 有効 subscription (off unless the shop sets N), with the date, items, amount
//! and how to skip or change — once per delivery, however often the worker
//! looks.

use crate::StoreError;
use crate::db::{Arg, Store, query_with, write_rows};
use crate::history::{Actor, HistoryRow, subscription_history_rows};
use crate::mail::{Copies, queue_template, template};
use crate::settings::{settings_from, settings_map};
use crate::subscriptions::{attach_sub_children, select_sql, sub_from_row};
use jiff::ToSpan;
use jiff::civil::Date;
use juchu_domain::mail::SUBSCRIPTION_NOTICE;
use juchu_domain::order::{OrderContext, build_order};
use juchu_domain::subscription::child_order;

/// Subscriptions looked at per transaction.
const CHUNK: i64 = 200;

impl Store {
    /// Queues the 事前お知らせ due on `today`: for every 有効 subscription whose
    /// next ship date is at most N days ahead (and not past), one mail per ship
    /// date — the (subscription, ship date) pair is written with the mail, so a
    /// second look finds it sent. Returns how many were queued (or recorded as
    /// not sent, e.g. no mail address).
    pub async fn send_subscription_notices(&self, today: Date) -> Result<usize, StoreError> {
        let mut conn = self.pool.acquire().await?;
        let settings = settings_from(&settings_map(&mut conn).await?);
        drop(conn);
        if settings.notice_days_before == 0 {
            return Ok(0);
        }
        let horizon = today
            .checked_add(i64::from(settings.notice_days_before).days())
            .map_err(|e| StoreError::Other(format!("date out of range: {e}")))?;
        let actor = Actor::system("事前お知らせ");
        let mut sent = 0;
        let mut last_id = 0_i64;
        loop {
            let mut tx = self.begin().await?;
            let sql = format!(
                "{} WHERE status = 'active' AND next_ship_date >= $1 AND next_ship_date <= $2 AND id > $3 \
                 AND NOT EXISTS (SELECT 1 FROM subscription_notices n WHERE n.subscription_id = subscriptions.id AND n.ship_date = subscriptions.next_ship_date) \
                 ORDER BY id LIMIT $4{}",
                select_sql(),
                self.lock_suffix()
            );
            let rows = query_with(
                sql,
                vec![
                    Arg::from(today.to_string()),
                    Arg::from(horizon.to_string()),
                    Arg::from(last_id),
                    Arg::from(CHUNK),
                ],
            )
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
            let Some(t) = template(&mut tx, SUBSCRIPTION_NOTICE).await? else {
                tx.commit().await?;
                return Err(StoreError::Other(format!(
                    "メールテンプレート「{SUBSCRIPTION_NOTICE}」がありません"
                )));
            };
            let codes: Vec<String> = subs
                .iter()
                .flat_map(|s| s.items.iter().map(|i| i.product_code.clone()))
                .collect();
            let (snapshot, products) = self.context(&mut tx, &codes).await?;
            let ctx = OrderContext {
                masters: &snapshot.masters,
                products: &products,
                rounding: snapshot.rounding,
            };
            let now = self.clock.now_text();
            let mut history = Vec::new();
            for sub in &subs {
                // The pair first: a second worker (or look) skips this delivery.
                let claimed = sqlx::query("INSERT INTO subscription_notices (subscription_id, ship_date, created_at) VALUES ($1, $2, $3) ON CONFLICT DO NOTHING")
                    .bind(sub.id)
                    .bind(sub.schedule.next_ship.to_string())
                    .bind(now.clone())
                    .execute(&mut *tx)
                    .await?
                    .rows_affected();
                if claimed != 1 {
                    continue;
                }
                // The delivery as its order will be made (same pricing and
                // fees), listed with the subscription's latest order.
                let latest =
                    sqlx::query("SELECT MAX(id) AS id FROM orders WHERE subscription_id = $1")
                        .bind(sub.id)
                        .fetch_one(&mut *tx)
                        .await?;
                let mut would_be = match build_order(
                    child_order(sub, &snapshot.masters),
                    &ctx,
                    self.clock.now_second(),
                ) {
                    Ok(o) => o,
                    Err(e) => {
                        history.push(HistoryRow::by(
                            &actor,
                            sub.id,
                            "mail",
                            "",
                            format!("事前お知らせを送れません: {}", e.with_fields()),
                            "",
                        ));
                        continue;
                    }
                };
                would_be.id = crate::db::get_opt_i64(&latest, "id")?.unwrap_or(0);
                would_be.subscription_id = Some(sub.id);
                let result = queue_template(
                    &mut tx,
                    &t,
                    &would_be,
                    &snapshot.masters,
                    &Copies::default(),
                    &now,
                )
                .await?;
                sent += 1;
                history.push(HistoryRow::by(
                    &actor,
                    sub.id,
                    "mail",
                    "",
                    match result {
                        Ok(done) => format!(
                            "事前お知らせ（発送予定日 {}）: {done}",
                            sub.schedule.next_ship
                        ),
                        Err(why) => format!("事前お知らせを送りません: {why}"),
                    },
                    "",
                ));
            }
            write_rows(
                &mut tx,
                self.backend,
                vec![subscription_history_rows(&history, &now)],
            )
            .await?;
            tx.commit().await?;
            if (rows.len() as i64) < CHUNK {
                break;
            }
        }
        Ok(sent)
    }
}
