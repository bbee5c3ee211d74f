//! ホーム: today's orders and sales, what needs someone, running jobs,
//! subscriptions about to ship, and a 30-day chart drawn on the server as SVG
//! (no front-end build, no script).

use crate::AppState;
use crate::auth::StaffSession;
use crate::views::{Nav, render, store_error_page, yen};
use askama::Template;
use axum::Router;
use axum::extract::State;
use axum::http::StatusCode;
use axum::response::Response;
use axum::routing::get;
use juchu_store::dashboard::{ActionCount, DayTotal};

pub fn routes() -> Router<AppState> {
    Router::new().route("/", get(home))
}

#[derive(Template)]
#[template(path = "dashboard/home.html")]
struct Home {
    nav: Nav,
    today: String,
    today_orders: i64,
    today_sales: String,
    actions: Vec<ActionCount>,
    jobs: Vec<(i64, String, String, i64, i64)>,
    due: Vec<(String, i64)>,
    chart: String,
    month_orders: i64,
    month_sales: String,
}

/// The 30-day chart: bars for orders (left scale), a line for sales (right
/// scale), a label every 5 days. Only numbers and dates go in, so the markup
/// needs no escaping.
pub fn chart_svg(days: &[DayTotal]) -> String {
    const W: f64 = 900.0;
    const H: f64 = 240.0;
    const LEFT: f64 = 44.0;
    const RIGHT: f64 = 70.0;
    const TOP: f64 = 14.0;
    const BOTTOM: f64 = 28.0;
    let plot_w = W - LEFT - RIGHT;
    let plot_h = H - TOP - BOTTOM;
    let max_orders = days.iter().map(|d| d.orders).max().unwrap_or(0).max(1) as f64;
    let max_sales = days.iter().map(|d| d.sales).max().unwrap_or(0).max(1) as f64;
    let n = days.len().max(1) as f64;
    let step = plot_w / n;
    let mut s = format!(
        r##"<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 {W} {H}" width="100%" role="img" aria-label="直近30日の受注件数と売上" id="chart"><rect x="0" y="0" width="{W}" height="{H}" fill="#fff"/>"##
    );
    for i in 0..=4 {
        let y = TOP + plot_h * (i as f64) / 4.0;
        let orders = max_orders * (4 - i) as f64 / 4.0;
        let sales = max_sales * (4 - i) as f64 / 4.0;
        s.push_str(&format!(
            r##"<line x1="{LEFT}" y1="{y:.1}" x2="{:.1}" y2="{y:.1}" stroke="#e3e6ea"/><text x="{:.1}" y="{:.1}" font-size="10" text-anchor="end" fill="#337ab7">{:.0}</text><text x="{:.1}" y="{:.1}" font-size="10" fill="#d35400">{}</text>"##,
            W - RIGHT,
            LEFT - 4.0,
            y + 3.0,
            orders,
            W - RIGHT + 4.0,
            y + 3.0,
            yen(sales.round() as i64)
        ));
    }
    let mut line = String::new();
    for (i, d) in days.iter().enumerate() {
        let x = LEFT + step * i as f64;
        let bh = plot_h * d.orders as f64 / max_orders;
        s.push_str(&format!(
            r##"<rect x="{:.1}" y="{:.1}" width="{:.1}" height="{bh:.1}" fill="#9cc3e6"><title>{} 受注 {}件 売上 {}</title></rect>"##,
            x + step * 0.15,
            TOP + plot_h - bh,
            step * 0.7,
            d.day,
            d.orders,
            yen(d.sales)
        ));
        let sy = TOP + plot_h - plot_h * d.sales as f64 / max_sales;
        line.push_str(&format!("{:.1},{sy:.1} ", x + step / 2.0));
        if i % 5 == 0 || i + 1 == days.len() {
            s.push_str(&format!(
                r##"<text x="{:.1}" y="{:.1}" font-size="10" text-anchor="middle" fill="#555">{}/{}</text>"##,
                x + step / 2.0,
                H - 10.0,
                d.day.month(),
                d.day.day()
            ));
        }
    }
    s.push_str(&format!(
        r##"<polyline points="{}" fill="none" stroke="#d35400" stroke-width="2"/>"##,
        line.trim_end()
    ));
    s.push_str(r##"<text x="44" y="10" font-size="10" fill="#337ab7">受注件数（棒）</text><text x="830" y="10" font-size="10" text-anchor="end" fill="#d35400">売上（線）</text></svg>"##);
    s
}

async fn home(State(st): State<AppState>, session: StaffSession) -> Response {
    let today = st.store.clock.today();
    let mut d = match st.store.dashboard(today).await {
        Ok(d) => d,
        Err(e) => return store_error_page(e),
    };
    match st.store.unread_replies(1).await {
        Ok((_, n)) => d.actions.push(juchu_store::dashboard::ActionCount {
            label: "お客様からの未読メッセージ".into(),
            count: n,
            link: "/orders?unread_messages=1".into(),
        }),
        Err(e) => return store_error_page(e),
    }
    let t = Home {
        nav: Nav::of(&session),
        today: format!("{}年{}月{}日", today.year(), today.month(), today.day()),
        today_orders: d.today_orders,
        today_sales: yen(d.today_sales),
        chart: chart_svg(&d.days),
        month_orders: d.days.iter().map(|x| x.orders).sum(),
        month_sales: yen(d.days.iter().map(|x| x.sales).sum()),
        actions: d.actions,
        jobs: d.running_jobs,
        due: d
            .subscriptions_due
            .into_iter()
            .map(|(day, n)| (format!("{}/{}", day.month(), day.day()), n))
            .collect(),
    };
    render(StatusCode::OK, &t)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_chart_draws_one_bar_per_day_and_a_sales_line() {
        let start: jiff::civil::Date = "2026-11-07".parse().unwrap();
        let days: Vec<DayTotal> = (0..30)
            .map(|i| DayTotal {
                day: start.checked_add(jiff::Span::new().days(i)).unwrap(),
                orders: i,
                sales: i * 1000,
            })
            .collect();
        let svg = chart_svg(&days);
        assert!(svg.starts_with("<svg") && svg.ends_with("</svg>"));
        assert_eq!(svg.matches("<rect x=").count(), 31, "background + 30 bars");
        assert!(svg.contains("2026-12-06 受注 29件 売上 ¥29,000"));
        assert!(svg.contains("<polyline"));
        // An empty month still draws (no division by zero).
        let empty: Vec<DayTotal> = days
            .iter()
            .map(|d| DayTotal {
                orders: 0,
                sales: 0,
                ..d.clone()
            })
            .collect();
        assert!(!chart_svg(&empty).contains("NaN"));
    }
}
