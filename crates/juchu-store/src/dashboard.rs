//! ホーム: what a shop looks at first each morning — today's orders and sales,
//! the counts that need someone, running jobs, subscriptions about to ship,
//! and 30 days of orders and sales. Counts only, each one indexed query.

use crate::StoreError;
use crate::db::{Store, get_i64, get_opt_str, get_str};
use jiff::civil::Date;

/// One day of the chart (Japan time).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DayTotal {
    pub day: Date,
    pub orders: i64,
    pub sales: i64,
}

/// A count that needs someone, with the order list filter that shows it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ActionCount {
    pub label: String,
    pub count: i64,
    /// Query string of 受注一覧 (or the page) that lists them.
    pub link: String,
}

#[derive(Debug, Clone, Default)]
pub struct Dashboard {
    pub today_orders: i64,
    pub today_sales: i64,
    pub actions: Vec<ActionCount>,
    /// (kind label, status label, done, total) of jobs not finished.
    pub running_jobs: Vec<(i64, String, String, i64, i64)>,
    /// (ship date, subscriptions due) for the next days.
    pub subscriptions_due: Vec<(Date, i64)>,
    pub days: Vec<DayTotal>,
}

impl Store {
    /// The dashboard as of `today` (Japan time): the chart ends with today.
    pub async fn dashboard(&self, today: Date) -> Result<Dashboard, StoreError> {
        let mut conn = self.pool.acquire().await?;
        let start = today
            .checked_sub(jiff::Span::new().days(29))
            .map_err(|e| StoreError::Other(e.to_string()))?;
        let from = juchu_domain::time::format_ts(juchu_domain::time::japan_day_start(start));
        // One pass over 30 days of orders; days are cut in Japan time here,
        // not in SQL, so both stores agree.
        let rows = sqlx::query(
            "SELECT ordered_at, total, handling_status_id FROM orders WHERE ordered_at >= $1",
        )
        .bind(from)
        .fetch_all(&mut *conn)
        .await?;
        let masters = crate::masters::load_masters(&mut conn).await?;
        let cancelled: Vec<i64> = masters
            .handling_statuses
            .iter()
            .filter(|h| h.name == "キャンセル")
            .map(|h| h.id)
            .collect();
        let mut days: Vec<DayTotal> = (0..30)
            .filter_map(|i| start.checked_add(jiff::Span::new().days(i)).ok())
            .map(|day| DayTotal {
                day,
                orders: 0,
                sales: 0,
            })
            .collect();
        for r in &rows {
            let Some(at) = juchu_domain::time::parse_ts(&get_str(r, "ordered_at")?) else {
                continue;
            };
            let day = juchu_domain::time::japan_date(at);
            if let Some(d) = days.iter_mut().find(|d| d.day == day) {
                d.orders += 1;
                if !cancelled.contains(&get_i64(r, "handling_status_id")?) {
                    d.sales += get_i64(r, "total")?;
                }
            }
        }
        let (today_orders, today_sales) =
            days.last().map(|d| (d.orders, d.sales)).unwrap_or_default();

        // Every count is over values juchu itself wrote (ids, codes): no
        // user input reaches this SQL.
        let count = async |conn: &mut sqlx::AnyConnection, sql: &str| -> Result<i64, StoreError> {
            let q = sqlx::query(sqlx::AssertSqlSafe(sql.to_string()));
            Ok(get_i64(&q.fetch_one(&mut *conn).await?, "n")?)
        };
        let mut actions = vec![ActionCount {
            label: "要対応受注".into(),
            count: count(
                &mut conn,
                "SELECT COUNT(*) AS n FROM orders WHERE needs_attention = 1",
            )
            .await?,
            link: "/orders?needs_attention=true".into(),
        }];
        actions.push(ActionCount {
            label: "欠品".into(),
            count: self.short_order_count().await?,
            link: "/orders?stock_shortage=true".into(),
        });
        for name in ["新規受付", "保留", "決済NG"] {
            if let Some(h) = masters.handling_statuses.iter().find(|h| h.name == name) {
                actions.push(ActionCount {
                    label: name.into(),
                    count: count(
                        &mut conn,
                        &format!(
                            "SELECT COUNT(*) AS n FROM orders WHERE handling_status_id = {}",
                            h.id
                        ),
                    )
                    .await?,
                    link: format!("/orders?handling_status={name}"),
                });
            }
        }
        let open_statuses: Vec<i64> = masters
            .handling_statuses
            .iter()
            .filter(|h| {
                !matches!(
                    h.name.as_str(),
                    "キャンセル" | "返品" | "完了" | "発送完了" | "配送完了"
                )
            })
            .map(|h| h.id)
            .collect();
        let ids = open_statuses
            .iter()
            .map(i64::to_string)
            .collect::<Vec<_>>()
            .join(", ");
        if !ids.is_empty() {
            actions.push(ActionCount {
                label: "出荷リスト未出力".into(),
                count: count(
                    &mut conn,
                    &format!("SELECT COUNT(*) AS n FROM orders WHERE shipping_list_state = 'not_exported' AND shipment_status = 'not_shipped' AND handling_status_id IN ({ids})")).await?,
                link: "/orders?shipping_list_state=未出力&shipment_status=未発送".into(),
            });
        }
        actions.push(ActionCount {
            label: "送信失敗メール".into(),
            count: count(
                &mut conn,
                "SELECT COUNT(*) AS n FROM mail_outbox WHERE status = 'failed'",
            )
            .await?,
            link: String::new(),
        });
        actions.push(ActionCount {
            label: "失敗した決済処理".into(),
            count: count(
                &mut conn,
                "SELECT COUNT(*) AS n FROM payment_requests WHERE status = 'failed'",
            )
            .await?,
            link: String::new(),
        });

        // The newest jobs, as ジョブ管理 reads them; the unfinished ones shown.
        let mut running_jobs = Vec::new();
        for j in self.jobs(50).await? {
            if j.status.is_finished() {
                continue;
            }
            running_jobs.push((
                j.id,
                j.kind.label().to_string(),
                j.status.label().to_string(),
                j.done,
                j.total,
            ));
        }

        let until = today
            .checked_add(jiff::Span::new().days(6))
            .map_err(|e| StoreError::Other(e.to_string()))?;
        let due = sqlx::query("SELECT next_ship_date, COUNT(*) AS n FROM subscriptions WHERE status = 'active' AND next_ship_date >= $1 AND next_ship_date <= $2 GROUP BY next_ship_date ORDER BY next_ship_date")
            .bind(today.to_string())
            .bind(until.to_string())
            .fetch_all(&mut *conn)
            .await?;
        let mut subscriptions_due = Vec::new();
        for r in &due {
            if let Some(d) = get_opt_str(r, "next_ship_date")?.and_then(|d| d.parse().ok()) {
                subscriptions_due.push((d, get_i64(r, "n")?));
            }
        }
        Ok(Dashboard {
            today_orders,
            today_sales,
            actions,
            running_jobs,
            subscriptions_due,
            days,
        })
    }
}
