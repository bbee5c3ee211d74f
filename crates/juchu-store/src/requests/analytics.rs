//! 申請の分析 (the seed's 確認場所 ⑤–⑪) and the automation's usage (the seed's
//! 「RPA課金件数」): counts and ratios by product, operator, type, period,
//! status and customer; per-answer breakdowns; and what ECAI does not show —
//! whether a pause, skip or 解約抑止 kept the customer, and the revenue it kept.
//!
//! Every table is one GROUP BY over the requests' own columns (product,
//! period, operator, status are columns, not JSON), so the filters' indexes
//! serve them.

use std::collections::HashMap;

use crate::StoreError;
use crate::db::{Arg, Store, get_i64, get_opt_i64, get_str};
use crate::requests::{RequestQuery, day_after, day_start};
use juchu_domain::request::{CYCLE_CHANGE, Offer, PAUSE, RequestStatus};

/// One line of a table: 「件数(比率)」.
#[derive(Debug, Clone, PartialEq)]
pub struct CountRow {
    pub label: String,
    pub count: i64,
    /// Of the table's total, 0–100.
    pub ratio: f64,
}

/// One table of counts.
#[derive(Debug, Clone, PartialEq)]
pub struct CountTable {
    /// Stable key (`by_product`, …) for the API and the CSV file name.
    pub key: String,
    pub title: String,
    pub rows: Vec<CountRow>,
    pub total: i64,
}

impl CountTable {
    fn new(key: &str, title: &str, mut rows: Vec<(String, i64)>) -> CountTable {
        rows.sort_by(|a, b| b.1.cmp(&a.1).then_with(|| a.0.cmp(&b.0)));
        let total: i64 = rows.iter().map(|r| r.1).sum();
        CountTable {
            key: key.into(),
            title: title.into(),
            rows: rows
                .into_iter()
                .map(|(label, count)| CountRow {
                    ratio: if total == 0 {
                        0.0
                    } else {
                        (count as f64) * 100.0 / (total as f64)
                    },
                    label,
                    count,
                })
                .collect(),
            total,
        }
    }
}

/// Whether pauses, skips and 解約抑止 kept customers, by one key.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct OutcomeRow {
    pub label: String,
    /// Completed requests that could keep the customer.
    pub requests: i64,
    /// … whose subscription made an order after the request.
    pub next_order_created: i64,
    /// … and that order (or a later one) was paid.
    pub next_order_paid: i64,
    /// … whose subscription is cancelled with fewer than N orders after it.
    pub cancelled_within: i64,
    /// Paid order totals after the request (yen, tax included).
    pub retained_revenue: i64,
}

/// The outcomes tables.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Outcomes {
    /// N of 「N回以内の解約」.
    pub cycles: i64,
    pub by_product: Vec<OutcomeRow>,
    pub by_operator: Vec<OutcomeRow>,
    pub by_offer: Vec<OutcomeRow>,
}

/// Everything the analytics page shows.
#[derive(Debug, Clone, PartialEq)]
pub struct Analytics {
    pub tables: Vec<CountTable>,
    /// Per-answer breakdown of `question` (col_5 by default).
    pub answers: CountTable,
    pub outcomes: Outcomes,
}

/// One automatic processing, as the usage CSV lists it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct UsageRow {
    pub request_id: i64,
    pub received_at: String,
    pub completed_at: String,
    pub customer_id: i64,
    pub subscription_id: Option<i64>,
    pub request_type: String,
    pub product: String,
    pub status: RequestStatus,
    pub rule: String,
    pub reason: String,
}

impl UsageRow {
    /// The seed's 「RPA結果内容」.
    pub fn result_text(&self) -> String {
        match self.status {
            RequestStatus::Completed => format!("{}処理が正常に終了しました。", self.request_type),
            RequestStatus::Refused => format!("対応不可: {}", self.reason),
            _ => format!("エラー: {}", self.reason),
        }
    }
}

/// The usage of a period: every automatic processing and the counts.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Usage {
    pub rows: Vec<UsageRow>,
    pub completed: i64,
    pub refused: i64,
    pub errors: i64,
}

fn type_label(
    request_type: &str,
    offer: &str,
    retention_tags: &HashMap<i64, String>,
    form: Option<i64>,
) -> String {
    if offer.is_empty() {
        return request_type.to_string();
    }
    // 解約抑止 is shown by the tag the form gives it (the seed), or by its name.
    form.and_then(|f| retention_tags.get(&f))
        .filter(|t| !t.is_empty())
        .cloned()
        .unwrap_or_else(|| {
            format!(
                "{}（{}）",
                juchu_domain::request::RETENTION,
                Offer::parse(offer).map(|o| o.label()).unwrap_or(offer)
            )
        })
}

/// The tables of the analytics, in the order the page shows them.
pub const TABLE_KEYS: &[&str] = &[
    "by_product",
    "by_operator",
    "by_type",
    "by_pause_period",
    "by_cycle_period",
    "by_status",
    "by_customer",
];

impl Store {
    async fn count_by(
        &self,
        q: &RequestQuery,
        column: &str,
        extra: Option<(&str, Arg)>,
    ) -> Result<Vec<(String, i64)>, StoreError> {
        let (mut filter, mut args) = q.filter(true);
        if let Some((clause, arg)) = extra {
            args.push(arg);
            let c = clause.replace("$?", &format!("${}", args.len()));
            filter = if filter.is_empty() {
                format!(" WHERE {c}")
            } else {
                format!("{filter} AND {c}")
            };
        }
        let rows = crate::db::query_with(
            format!("SELECT {column} AS k, COUNT(*) AS n FROM requests{filter} GROUP BY {column}"),
            args,
        )
        .fetch_all(&self.pool)
        .await?;
        rows.iter()
            .map(|r| Ok((get_str(r, "k").unwrap_or_default(), get_i64(r, "n")?)))
            .collect()
    }

    /// The analytics of the requests `q` selects (its status filter applies
    /// too; `before_id` and `limit` do not). `question`: the answer broken
    /// down; `cycles`: N of 「N回以内の解約」.
    pub async fn request_analytics(
        &self,
        q: &RequestQuery,
        question: &str,
        cycles: i64,
    ) -> Result<Analytics, StoreError> {
        let q = RequestQuery {
            before_id: None,
            ..q.clone()
        };
        let mut tables = Vec::new();
        for key in TABLE_KEYS {
            tables.push(self.request_table(&q, key).await?);
        }
        let answers = self.answer_breakdown(&q, question).await?;
        let outcomes = self.request_outcomes(&q, cycles).await?;
        Ok(Analytics {
            tables,
            answers,
            outcomes,
        })
    }

    /// One table of the analytics by its key ([`TABLE_KEYS`]).
    pub async fn request_table(
        &self,
        q: &RequestQuery,
        key: &str,
    ) -> Result<CountTable, StoreError> {
        let q = RequestQuery {
            before_id: None,
            ..q.clone()
        };
        Ok(match key {
            "by_product" => {
                let by_product = self.count_by(&q, "product", None).await?;
                CountTable::new(
                    "by_product",
                    "商品別",
                    by_product
                        .into_iter()
                        .map(|(k, n)| {
                            (
                                if k.is_empty() {
                                    "（商品なし）".into()
                                } else {
                                    k
                                },
                                n,
                            )
                        })
                        .collect(),
                )
            }
            "by_operator" => {
                let staff: HashMap<i64, String> = self
                    .list_staff()
                    .await?
                    .into_iter()
                    .map(|s| (s.id, s.name))
                    .collect();
                let by_operator = self
                    .count_by(&q, "COALESCE(CAST(operator_id AS TEXT), '')", None)
                    .await?;
                CountTable::new(
                    "by_operator",
                    "担当オペレーター別",
                    by_operator
                        .into_iter()
                        .map(|(k, n)| {
                            let label = k
                                .parse::<i64>()
                                .ok()
                                .map(|id| {
                                    staff
                                        .get(&id)
                                        .cloned()
                                        .unwrap_or_else(|| format!("スタッフ {id}"))
                                })
                                .unwrap_or_else(|| "（未割当）".into());
                            (label, n)
                        })
                        .collect(),
                )
            }
            "by_type" => {
                // Type, with 解約抑止 by its tag: grouped by type, offer and form.
                let retention: HashMap<i64, String> = self
                    .request_forms()
                    .await?
                    .into_iter()
                    .map(|f| (f.id, f.retention_tag.trim().to_string()))
                    .collect();
                let (filter, args) = q.filter(true);
                let rows = crate::db::query_with(
                    format!("SELECT request_type, offer, form_id, COUNT(*) AS n FROM requests{filter} GROUP BY request_type, offer, form_id"),
                    args,
                )
                .fetch_all(&self.pool)
                .await?;
                let mut by_type: HashMap<String, i64> = HashMap::new();
                for r in &rows {
                    let label = type_label(
                        &get_str(r, "request_type")?,
                        &get_str(r, "offer")?,
                        &retention,
                        get_opt_i64(r, "form_id")?,
                    );
                    *by_type.entry(label).or_default() += get_i64(r, "n")?;
                }
                CountTable::new("by_type", "申請種別", by_type.into_iter().collect())
            }
            "by_pause_period" => {
                let pause = self
                    .count_by(&q, "period", Some(("request_type = $?", PAUSE.into())))
                    .await?;
                CountTable::new("by_pause_period", "休止期間別", pause)
            }
            "by_cycle_period" => {
                let cycle = self
                    .count_by(
                        &q,
                        "period",
                        Some(("request_type = $?", CYCLE_CHANGE.into())),
                    )
                    .await?;
                CountTable::new("by_cycle_period", "サイクル変更期間別", cycle)
            }
            "by_status" => {
                let status = self.count_by(&q, "status", None).await?;
                CountTable::new(
                    "by_status",
                    "対応ステータス別",
                    status
                        .into_iter()
                        .map(|(k, n)| {
                            (
                                RequestStatus::parse(&k)
                                    .map(|s| s.label().to_string())
                                    .unwrap_or(k),
                                n,
                            )
                        })
                        .collect(),
                )
            }
            "by_customer" => self.by_customer(&q).await?,
            other => return Err(StoreError::Other(format!("no analytics table {other:?}"))),
        })
    }

    /// ⑪ per customer: the 50 customers with most requests, with what they asked.
    async fn by_customer(&self, q: &RequestQuery) -> Result<CountTable, StoreError> {
        let (filter, args) = q.filter_as(true, "r.");
        let rows = crate::db::query_with(
            format!(
                "SELECT r.customer_id, MAX(c.family_name) AS family_name, MAX(c.given_name) AS given_name, COUNT(*) AS n \
                 FROM requests r JOIN customers c ON c.id = r.customer_id{} \
                 GROUP BY r.customer_id ORDER BY COUNT(*) DESC, r.customer_id LIMIT 50",
                filter
            ),
            args,
        )
        .fetch_all(&self.pool)
        .await?;
        let mut ids = Vec::new();
        let mut names = Vec::new();
        for r in &rows {
            let id = get_i64(r, "customer_id")?;
            ids.push(id);
            names.push((
                id,
                format!(
                    "{} {}",
                    get_str(r, "family_name")?,
                    get_str(r, "given_name")?
                ),
                get_i64(r, "n")?,
            ));
        }
        // What each asked: types with counts.
        let mut asked: HashMap<i64, Vec<String>> = HashMap::new();
        if !ids.is_empty() {
            let (filter, mut args) = q.filter(true);
            let first = args.len() + 1;
            args.extend(ids.iter().map(|i| Arg::from(*i)));
            let clause = format!("customer_id IN ({})", crate::db::in_list(ids.len(), first));
            let filter = if filter.is_empty() {
                format!(" WHERE {clause}")
            } else {
                format!("{filter} AND {clause}")
            };
            let rows = crate::db::query_with(
                format!("SELECT customer_id, request_type, COUNT(*) AS n FROM requests{filter} GROUP BY customer_id, request_type ORDER BY customer_id, request_type"),
                args,
            )
            .fetch_all(&self.pool)
            .await?;
            for r in &rows {
                asked
                    .entry(get_i64(r, "customer_id")?)
                    .or_default()
                    .push(format!(
                        "{} {}",
                        get_str(r, "request_type")?,
                        get_i64(r, "n")?
                    ));
            }
        }
        Ok(CountTable::new(
            "by_customer",
            "ユーザー別",
            names
                .into_iter()
                .map(|(id, name, n)| {
                    (
                        format!(
                            "#{id} {}（{}）",
                            name.trim(),
                            asked.get(&id).map(|a| a.join("・")).unwrap_or_default()
                        ),
                        n,
                    )
                })
                .collect(),
        ))
    }

    /// Counts per answer of `question` (a field name such as col_5).
    pub async fn answer_breakdown(
        &self,
        q: &RequestQuery,
        question: &str,
    ) -> Result<CountTable, StoreError> {
        let (filter, mut args) = q.filter_as(true, "requests.");
        args.push(question.trim().into());
        let n = args.len();
        let on = if filter.is_empty() {
            String::new()
        } else {
            filter.replacen(" WHERE ", " AND ", 1)
        };
        let rows = crate::db::query_with(
            format!(
                "SELECT a.value AS k, COUNT(*) AS n FROM request_answers a JOIN requests ON requests.id = a.request_id \
                 WHERE a.name = ${n}{on} GROUP BY a.value"
            ),
            args,
        )
        .fetch_all(&self.pool)
        .await?;
        let rows: Vec<(String, i64)> = rows
            .iter()
            .map(|r| Ok((get_str(r, "k")?, get_i64(r, "n")?)))
            .collect::<Result<_, StoreError>>()?;
        Ok(CountTable::new(
            "by_answer",
            &format!("回答別（{}）", question.trim()),
            rows,
        ))
    }

    /// Whether completed pauses, skips and 解約抑止 kept the customer: grouped
    /// by product, operator and offer.
    pub async fn request_outcomes(
        &self,
        q: &RequestQuery,
        cycles: i64,
    ) -> Result<Outcomes, StoreError> {
        let cycles = cycles.clamp(1, 24);
        let q = RequestQuery {
            status: Some(RequestStatus::Completed),
            ..q.clone()
        };
        // Status is always set here, so the filter has a WHERE.
        let (filter, mut args) = q.filter_as(true, "r.");
        let scope = format!(
            "{filter} AND r.subscription_id IS NOT NULL AND (r.request_type IN ('{PAUSE}', '{}') OR r.offer <> '')",
            juchu_domain::request::SKIP
        );
        args.push(cycles.into());
        let n = args.len();
        // Per request: orders of its subscription after it (created, paid,
        // paid total), and whether it is cancelled within N of them. One pass
        // over the subscription's orders per request through the
        // (subscription_id, …) index.
        let rows = crate::db::query_with(
            format!(
                "SELECT x.product, x.operator_id, x.offer, x.request_type, COUNT(*) AS n, \
                    CAST(SUM(CASE WHEN x.created > 0 THEN 1 ELSE 0 END) AS BIGINT) AS created, \
                    CAST(SUM(CASE WHEN x.paid > 0 THEN 1 ELSE 0 END) AS BIGINT) AS paid, \
                    CAST(SUM(CASE WHEN x.sub_status = 'cancelled' AND x.created < ${n} THEN 1 ELSE 0 END) AS BIGINT) AS cancelled, \
                    CAST(SUM(x.revenue) AS BIGINT) AS revenue \
                 FROM (SELECT r.product, r.operator_id, r.offer, r.request_type, s.status AS sub_status, \
                    (SELECT COUNT(*) FROM orders o WHERE o.subscription_id = r.subscription_id AND o.ordered_at > r.completed_at) AS created, \
                    (SELECT COUNT(*) FROM orders o WHERE o.subscription_id = r.subscription_id AND o.ordered_at > r.completed_at AND o.paid_at IS NOT NULL) AS paid, \
                    (SELECT CAST(COALESCE(SUM(o.total), 0) AS BIGINT) FROM orders o WHERE o.subscription_id = r.subscription_id AND o.ordered_at > r.completed_at AND o.paid_at IS NOT NULL) AS revenue \
                    FROM requests r JOIN subscriptions s ON s.id = r.subscription_id{}) x \
                 GROUP BY x.product, x.operator_id, x.offer, x.request_type",
                scope
            ),
            args,
        )
        .fetch_all(&self.pool)
        .await?;
        let staff: HashMap<i64, String> = self
            .list_staff()
            .await?
            .into_iter()
            .map(|s| (s.id, s.name))
            .collect();
        let mut product: HashMap<String, OutcomeRow> = HashMap::new();
        let mut operator: HashMap<String, OutcomeRow> = HashMap::new();
        let mut offer: HashMap<String, OutcomeRow> = HashMap::new();
        for r in &rows {
            let add =
                |m: &mut HashMap<String, OutcomeRow>, key: String| -> Result<(), StoreError> {
                    let e = m.entry(key.clone()).or_insert_with(|| OutcomeRow {
                        label: key,
                        ..Default::default()
                    });
                    e.requests += get_i64(r, "n")?;
                    e.next_order_created += get_i64(r, "created")?;
                    e.next_order_paid += get_i64(r, "paid")?;
                    e.cancelled_within += get_i64(r, "cancelled")?;
                    e.retained_revenue += get_i64(r, "revenue")?;
                    Ok(())
                };
            let p = get_str(r, "product")?;
            add(
                &mut product,
                if p.is_empty() {
                    "（商品なし）".into()
                } else {
                    p
                },
            )?;
            let op = get_opt_i64(r, "operator_id")?
                .map(|id| {
                    staff
                        .get(&id)
                        .cloned()
                        .unwrap_or_else(|| format!("スタッフ {id}"))
                })
                .unwrap_or_else(|| "（自動・未割当）".into());
            add(&mut operator, op)?;
            let o = get_str(r, "offer")?;
            let label = match Offer::parse(&o) {
                Some(o) => format!("{}: {}", juchu_domain::request::RETENTION, o.label()),
                None => get_str(r, "request_type")?,
            };
            add(&mut offer, label)?;
        }
        let sorted = |m: HashMap<String, OutcomeRow>| {
            let mut v: Vec<OutcomeRow> = m.into_values().collect();
            v.sort_by(|a, b| {
                b.requests
                    .cmp(&a.requests)
                    .then_with(|| a.label.cmp(&b.label))
            });
            v
        };
        Ok(Outcomes {
            cycles,
            by_product: sorted(product),
            by_operator: sorted(operator),
            by_offer: sorted(offer),
        })
    }

    /// 「RPA課金件数」: every automatic processing completed (or refused, or
    /// failed) between two Japan dates, by 対応完了日時.
    pub async fn request_usage(
        &self,
        from: jiff::civil::Date,
        to: jiff::civil::Date,
    ) -> Result<Usage, StoreError> {
        let rows = sqlx::query(
            "SELECT r.id, r.received_at, r.completed_at, r.customer_id, r.subscription_id, r.request_type, r.product, r.status, r.status_reason, COALESCE(x.name, '') AS rule_name \
             FROM requests r LEFT JOIN request_rules x ON x.id = r.rule_id \
             WHERE r.handled_by = 'auto' AND r.completed_at >= $1 AND r.completed_at < $2 ORDER BY r.completed_at, r.id",
        )
        .bind(day_start(from))
        .bind(day_after(to))
        .fetch_all(&self.pool)
        .await?;
        let mut usage = Usage::default();
        for r in &rows {
            let status =
                RequestStatus::parse(&get_str(r, "status")?).unwrap_or(RequestStatus::Error);
            match status {
                RequestStatus::Completed => usage.completed += 1,
                RequestStatus::Refused => usage.refused += 1,
                _ => usage.errors += 1,
            }
            usage.rows.push(UsageRow {
                request_id: get_i64(r, "id")?,
                received_at: get_str(r, "received_at")?,
                completed_at: get_str(r, "completed_at")?,
                customer_id: get_i64(r, "customer_id")?,
                subscription_id: get_opt_i64(r, "subscription_id")?,
                request_type: get_str(r, "request_type")?,
                product: get_str(r, "product")?,
                status,
                rule: get_str(r, "rule_name")?,
                reason: get_str(r, "status_reason")?,
            });
        }
        Ok(usage)
    }
}
