//! 申請の分析 (the seed's 確認場所 ⑤–⑪): each table as 「件数(比率)」 with a
//! bar chart drawn on the server as SVG (no front-end build) and a CSV; the
//! per-answer breakdown of any question; outcomes; the usage CSV.

use crate::AppState;
use crate::auth::StaffSession;
use crate::requests::handling_api::{
    AnalyticsQuery, UsageQuery, table_csv, usage_csv, usage_range,
};
use crate::views::*;
use askama::Template;
use axum::Router;
use axum::extract::{Path, Query, State};
use axum::http::StatusCode;
use axum::response::Response;
use axum::routing::get;
use juchu_store::requests::analytics::{CountTable, OutcomeRow};
use std::collections::HashMap;

pub fn routes() -> Router<AppState> {
    Router::new()
        .route("/requests/analytics", get(page))
        .route("/requests/analytics/{file}", get(table_file))
        .route("/requests/usage.csv", get(usage_file))
}

fn escape(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            c => out.push(c),
        }
    }
    out
}

/// A horizontal bar chart of a table's rows (at most 15; the rest summed as
/// 「その他」): label, bar, 「件数(比率)」.
pub(crate) fn bar_chart(t: &CountTable) -> String {
    const MAX_ROWS: usize = 15;
    let mut rows: Vec<(String, i64, f64)> = t
        .rows
        .iter()
        .take(MAX_ROWS)
        .map(|r| (r.label.clone(), r.count, r.ratio))
        .collect();
    if t.rows.len() > MAX_ROWS {
        let rest: i64 = t.rows[MAX_ROWS..].iter().map(|r| r.count).sum();
        let ratio: f64 = t.rows[MAX_ROWS..].iter().map(|r| r.ratio).sum();
        rows.push(("その他".into(), rest, ratio));
    }
    let bar_h = 22;
    let label_w = 220;
    let bar_w = 320;
    let width = label_w + bar_w + 130;
    let height = (rows.len().max(1) * bar_h + 10) as i64;
    let max = rows.iter().map(|r| r.1).max().unwrap_or(0).max(1);
    let mut svg = format!(
        r#"<svg class="chart" xmlns="http://www.w3.org/2000/svg" width="{width}" height="{height}" viewBox="0 0 {width} {height}" role="img" aria-label="{}" font-size="12" font-family="sans-serif">"#,
        escape(&t.title)
    );
    if rows.is_empty() {
        svg.push_str(r##"<text x="4" y="18" fill="#888">データがありません</text>"##);
    }
    for (i, (label, count, ratio)) in rows.iter().enumerate() {
        let y = (i * bar_h) as i64 + 5;
        let w = ((*count as f64) / (max as f64) * bar_w as f64).round() as i64;
        let short: String = if label.chars().count() > 18 {
            format!("{}…", label.chars().take(17).collect::<String>())
        } else {
            label.clone()
        };
        svg.push_str(&format!(
            r##"<g><title>{full}: {count}件 ({ratio:.1}%)</title><text x="{lx}" y="{ty}" text-anchor="end" fill="#333">{short}</text><rect x="{bx}" y="{y}" width="{w}" height="{h}" fill="#337ab7" rx="2"/><text x="{vx}" y="{ty}" fill="#333">{count}({ratio:.1}%)</text></g>"##,
            full = escape(label),
            short = escape(&short),
            lx = label_w - 6,
            ty = y + 14,
            bx = label_w,
            h = bar_h - 6,
            vx = label_w + w + 6,
        ));
    }
    svg.push_str("</svg>");
    svg
}

struct TableView {
    key: String,
    title: String,
    total: i64,
    rows: Vec<(String, i64, String)>,
    chart: String,
    csv: String,
}

fn view(t: &CountTable, qs: &str) -> TableView {
    TableView {
        key: t.key.clone(),
        title: t.title.clone(),
        total: t.total,
        rows: t
            .rows
            .iter()
            .map(|r| {
                (
                    r.label.clone(),
                    r.count,
                    format!("{}({:.1}%)", r.count, r.ratio),
                )
            })
            .collect(),
        chart: bar_chart(t),
        csv: format!("/requests/analytics/{}.csv?{qs}", t.key),
    }
}

struct OutcomeView {
    title: &'static str,
    key: &'static str,
    rows: Vec<OutcomeRow>,
}

#[derive(Template)]
#[template(path = "requests/analytics.html")]
struct AnalyticsPage {
    nav: Nav,
    f: HashMap<String, String>,
    tables: Vec<TableView>,
    answers: TableView,
    questions: Vec<(String, String)>,
    outcomes: Vec<OutcomeView>,
    cycles: i64,
    qs: String,
    errors: Vec<String>,
    usage_from: String,
    usage_to: String,
}

impl AnalyticsPage {
    fn v(&self, k: &str) -> String {
        self.f.get(k).cloned().unwrap_or_default()
    }
    fn yen(&self, v: &i64) -> String {
        yen(*v)
    }
    fn is_question(&self, q: &str) -> bool {
        self.f
            .get("question")
            .map(String::as_str)
            .unwrap_or("col_5")
            == q
    }
}

fn query_of(f: &HashMap<String, String>) -> AnalyticsQuery {
    let g = |k: &str| f.get(k).cloned().filter(|v| !v.trim().is_empty());
    AnalyticsQuery {
        received_from: g("received_from"),
        received_to: g("received_to"),
        completed_from: g("completed_from"),
        completed_to: g("completed_to"),
        product: g("product"),
        question: g("question"),
        cycles: g("cycles").and_then(|c| c.trim().parse().ok()),
    }
}

fn query_string(f: &HashMap<String, String>) -> String {
    let mut pairs: Vec<(&String, &String)> = f.iter().filter(|(_, v)| !v.is_empty()).collect();
    pairs.sort();
    pairs
        .iter()
        .map(|(k, v)| format!("{}={}", urlencode(k), urlencode(v)))
        .collect::<Vec<_>>()
        .join("&")
}

async fn page(
    State(st): State<AppState>,
    session: StaffSession,
    Query(f): Query<HashMap<String, String>>,
) -> Response {
    let q = query_of(&f);
    let qs = query_string(&f);
    let (query, errors) = match q.to_query() {
        Ok(query) => (query, vec![]),
        Err(e) => (
            Default::default(),
            if e.body.errors.is_empty() {
                vec![e.body.message]
            } else {
                e.body.errors.into_iter().map(|x| x.message).collect()
            },
        ),
    };
    let cycles = q.cycles.unwrap_or(3).clamp(1, 24);
    let a = match st
        .store
        .request_analytics(&query, &q.question(), cycles)
        .await
    {
        Ok(a) => a,
        Err(e) => return store_error_page(e),
    };
    // Every question of every form can be broken down: the choice ones first.
    let mut questions: Vec<(String, String)> = vec![("col_5".into(), "col_5 満足度".into())];
    if let Ok(forms) = st.store.request_forms().await {
        for form in forms {
            for question in form.questions {
                if question.field != "col_5" && !questions.iter().any(|(k, _)| *k == question.field)
                {
                    questions.push((
                        question.field.clone(),
                        format!("{} {}", question.field, question.label),
                    ));
                }
            }
        }
    }
    let today = st.store.clock.today();
    render(
        form_status(&errors),
        &AnalyticsPage {
            nav: Nav::of(&session),
            tables: a.tables.iter().map(|t| view(t, &qs)).collect(),
            answers: view(&a.answers, &qs),
            questions,
            outcomes: vec![
                OutcomeView {
                    title: "商品別",
                    key: "outcomes_by_product",
                    rows: a.outcomes.by_product.clone(),
                },
                OutcomeView {
                    title: "担当オペレーター別",
                    key: "outcomes_by_operator",
                    rows: a.outcomes.by_operator.clone(),
                },
                OutcomeView {
                    title: "ご提案・申請種別別",
                    key: "outcomes_by_offer",
                    rows: a.outcomes.by_offer.clone(),
                },
            ],
            cycles,
            qs,
            f,
            errors,
            usage_from: today.first_of_month().to_string(),
            usage_to: today.to_string(),
        },
    )
}

fn outcome_csv(rows: &[OutcomeRow], cycles: i64) -> Vec<u8> {
    use juchu_domain::csv_format::{neutralise, record_line};
    let mut out: Vec<u8> = b"\xef\xbb\xbf".to_vec();
    out.extend(
        record_line(&[
            "区分".into(),
            "申請数".into(),
            "次回受注あり".into(),
            "次回受注の入金あり".into(),
            format!("{cycles}回以内に解約"),
            "継続売上(円)".into(),
        ])
        .into_bytes(),
    );
    for r in rows {
        out.extend(
            record_line(&[
                neutralise(r.label.clone()),
                r.requests.to_string(),
                r.next_order_created.to_string(),
                r.next_order_paid.to_string(),
                r.cancelled_within.to_string(),
                r.retained_revenue.to_string(),
            ])
            .into_bytes(),
        );
    }
    out
}

/// One table as CSV: `/requests/analytics/by_product.csv?…`.
async fn table_file(
    State(st): State<AppState>,
    _session: StaffSession,
    Path(file): Path<String>,
    Query(f): Query<HashMap<String, String>>,
) -> Response {
    let Some(key) = file.strip_suffix(".csv") else {
        return error_page(StatusCode::NOT_FOUND, "そのファイルはありません");
    };
    let q = query_of(&f);
    let query = match q.to_query() {
        Ok(x) => x,
        Err(e) => return error_page(StatusCode::UNPROCESSABLE_ENTITY, &e.body.message),
    };
    let cycles = q.cycles.unwrap_or(3).clamp(1, 24);
    // Only what the file needs (the outcomes read orders; a count table does not).
    let bytes = match key {
        "by_answer" => st
            .store
            .answer_breakdown(&query, &q.question())
            .await
            .map(|t| table_csv(&t)),
        "outcomes_by_product" | "outcomes_by_operator" | "outcomes_by_offer" => {
            st.store.request_outcomes(&query, cycles).await.map(|o| {
                outcome_csv(
                    match key {
                        "outcomes_by_product" => &o.by_product,
                        "outcomes_by_operator" => &o.by_operator,
                        _ => &o.by_offer,
                    },
                    cycles,
                )
            })
        }
        other if juchu_store::requests::analytics::TABLE_KEYS.contains(&other) => st
            .store
            .request_table(&query, other)
            .await
            .map(|t| table_csv(&t)),
        _ => return error_page(StatusCode::NOT_FOUND, "その表はありません"),
    };
    let bytes = match bytes {
        Ok(b) => b,
        Err(e) => return store_error_page(e),
    };
    super::csv_download(bytes, &format!("request-analytics-{key}.csv"))
}

/// 「RPA課金件数」 CSV for staff.
async fn usage_file(
    State(st): State<AppState>,
    _session: StaffSession,
    Query(q): Query<UsageQuery>,
) -> Response {
    let (from, to) = match usage_range(&q) {
        Ok(r) => r,
        Err(e) => {
            return error_page(
                StatusCode::UNPROCESSABLE_ENTITY,
                &e.body
                    .errors
                    .iter()
                    .map(|x| x.message.clone())
                    .collect::<Vec<_>>()
                    .join(" / "),
            );
        }
    };
    match st.store.request_usage(from, to).await {
        Ok(u) => super::csv_download(usage_csv(&u), &format!("request-usage-{from}-{to}.csv")),
        Err(e) => store_error_page(e),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use juchu_store::requests::analytics::CountRow;

    #[test]
    fn the_chart_escapes_labels_and_scales_bars() {
        let t = CountTable {
            key: "by_product".into(),
            title: "商品別".into(),
            rows: vec![
                CountRow {
                    label: "<script>".into(),
                    count: 10,
                    ratio: 66.66,
                },
                CountRow {
                    label: "商品B".into(),
                    count: 5,
                    ratio: 33.33,
                },
            ],
            total: 15,
        };
        let svg = bar_chart(&t);
        assert!(svg.starts_with("<svg"));
        assert!(svg.contains("&lt;script&gt;"));
        assert!(!svg.contains("<script>"));
        assert!(
            svg.contains(r#"width="320""#),
            "the largest bar is full width"
        );
        assert!(
            svg.contains(r#"width="160""#),
            "half the count, half the width"
        );
        assert!(svg.contains("10(66.7%)"));
    }
}
