//! `juchu bench`: each operation next to the raw SQL doing the same work, measured
//! in the same run on the same data. Figures are printed, never asserted.

use crate::demo;
use clap::Args;
use juchu_domain::order::{ItemInput, NewOrder};
use juchu_store::bench_support::RawEncoder;
use juchu_store::orders::NewOrderRequest;
use juchu_store::{Actor, Arg, Backend, OrderQuery, Store, StoreConfig};
use rand::SeedableRng;
use rand::rngs::SmallRng;
use std::time::{Duration, Instant};

mod load;

#[derive(Args, Clone)]
pub struct BenchArgs {
    /// Orders to generate before measuring (default: 1,000,000 on PostgreSQL, 100,000 on SQLite).
    #[arg(long)]
    orders: Option<usize>,
    /// Orders created one per transaction for each intake measurement.
    #[arg(long, default_value_t = 1000)]
    intake: usize,
    /// Searches per filter.
    #[arg(long, default_value_t = 60)]
    searches: usize,
    /// Subscriptions due in the daily-run measurement (default: 200,000 on
    /// PostgreSQL, 50,000 on SQLite; 0 skips it).
    #[arg(long)]
    subscriptions: Option<usize>,
    /// Only the subscription run (on a small order base), for a quick measurement.
    #[arg(long)]
    only_subscriptions: bool,
    /// Only automation, mail and payments (on a small order base).
    #[arg(long)]
    only_automation: bool,
    /// Only the blacklist screening (on a small order base).
    #[arg(long)]
    only_blacklist: bool,
    /// Only 出荷: `--shipment-rows` new orders; the B2クラウド carrier file of
    /// every unshipped order next to `COPY` of its columns → CP932; then a
    /// CP932 出荷実績インポート file of their numbers previewed and applied,
    /// next to raw UPDATEs with 履歴.
    #[arg(long)]
    only_shipments: bool,
    /// Rows of the shipment-import measurement.
    #[arg(long, default_value_t = 10_000)]
    shipment_rows: usize,
    /// Blacklisted customers in the screening measurement.
    #[arg(long, default_value_t = 100_000)]
    blacklisted: usize,
    /// Mails delivered in the mail-outbox measurement.
    #[arg(long, default_value_t = 10_000)]
    mails: usize,
    /// Card authorisations in the payment-outbox measurement.
    #[arg(long, default_value_t = 2_000)]
    payments: usize,
    /// Recurring authorisations to execute after the subscription run (default:
    /// every child order it created).
    #[arg(long)]
    recurring_payments: Option<usize>,
    /// Only the jobs (一括処理): CSV export, bulk update, two workers — on
    /// `--orders` orders (default as for the full run).
    #[arg(long)]
    only_jobs: bool,
    /// Only the order desk: 受注一覧 with its sum, sort and partial matches,
    /// 在庫 and ホーム — on `--orders` orders.
    #[arg(long)]
    only_desk: bool,
    /// Only 申請: `--requests` 休止 / スキップ requests processed by the
    /// automation next to raw UPDATEs with 履歴, then the analytics over
    /// `--analytics-requests` requests next to their raw GROUP BYs.
    #[arg(long)]
    only_requests: bool,
    /// Requests in the automation measurement.
    #[arg(long, default_value_t = 10_000)]
    requests: usize,
    /// Requests in the analytics measurement (default: 1,000,000 on
    /// PostgreSQL, 200,000 on SQLite).
    #[arg(long)]
    analytics_requests: Option<i64>,
    /// Orders in the bulk-update measurement.
    #[arg(long, default_value_t = 100_000)]
    bulk: usize,
    /// Orders in the one-worker / two-worker measurement.
    #[arg(long, default_value_t = 20_000)]
    worker_orders: usize,
    /// Only 受注一覧 under load: `--load-connections` API clients at once on
    /// `GET /api/v1/orders?per_page=50&handling_status=完了` for
    /// `--load-seconds`, next to the same queries in raw SQL at the same
    /// concurrency — on `--orders` orders (default 100,000 here).
    #[arg(long)]
    only_load: bool,
    /// Concurrent clients in the load measurement.
    #[arg(long, default_value_t = 200)]
    load_connections: usize,
    /// Measured seconds of the load measurement (after a 3 s warm-up).
    #[arg(long, default_value_t = 20)]
    load_seconds: u64,
    /// Keep the benchmark database afterwards (its location is printed).
    #[arg(long)]
    keep: bool,
    /// Run on the PostgreSQL database of `--database-url` as it is (one kept
    /// with `--keep`, say) instead of a fresh one, and load demo data only
    /// when it holds no orders. For repeating a measurement without waiting
    /// for the million-order load again.
    #[arg(long)]
    reuse: bool,
}

fn rate(n: usize, d: Duration) -> f64 {
    n as f64 / d.as_secs_f64().max(1e-9)
}

fn pct(sorted: &[Duration], p: f64) -> f64 {
    if sorted.is_empty() {
        return 0.0;
    }
    let idx = ((sorted.len() as f64 - 1.0) * p).round() as usize;
    sorted[idx].as_secs_f64() * 1000.0
}

struct Report {
    lines: Vec<String>,
}

impl Report {
    fn header(&mut self, s: &str) {
        println!("\n{s}");
        self.lines.push(format!("\n{s}"));
    }
    fn line(&mut self, s: String) {
        println!("{s}");
        self.lines.push(s);
    }
}

/// The store of `--reuse`: the PostgreSQL database as given, never dropped.
async fn reused_store(
    database_url: &Option<String>,
    pool: u32,
) -> Result<(Store, Box<dyn FnOnce() + Send>, String, Option<String>), String> {
    let Some(url) = database_url
        .as_deref()
        .filter(|u| u.starts_with("postgres"))
    else {
        return Err("--reuse needs a PostgreSQL --database-url (JUCHU_DATABASE_URL)".into());
    };
    let store = Store::connect(&StoreConfig {
        database_url: Some(url.to_string()),
        data_dir: ".".into(),
        create_data_dir: false,
        max_connections: pool,
    })
    .await
    .map_err(|e| e.to_string())?;
    let name = store
        .current_database_name()
        .await
        .map_err(|e| e.to_string())?;
    // The bench writes orders and runs jobs: never on a shop's database.
    if !name.starts_with("juchu_bench_") {
        store.close().await;
        return Err(format!(
            "--reuse runs only on a database the bench made (juchu_bench_…, kept with --keep), not on {name}"
        ));
    }
    Ok((
        store,
        Box::new(|| {}),
        format!("PostgreSQL database {name} (reused)"),
        Some(url.to_string()),
    ))
}

async fn fresh_store(
    database_url: &Option<String>,
    pool: u32,
) -> Result<(Store, Box<dyn FnOnce() + Send>, String, Option<String>), String> {
    match database_url.as_deref() {
        Some(u) if u.starts_with("postgres") => {
            let base = u
                .rsplit_once('/')
                .map(|(b, _)| b.to_string())
                .unwrap_or_else(|| u.to_string());
            let name = format!(
                "juchu_bench_{}",
                &juchu_store::staff::random_token("")[..10]
            );
            juchu_store::create_pg_database(u, &name)
                .await
                .map_err(|e| format!("cannot create the bench database on PostgreSQL: {e}"))?;
            let url = format!("{base}/{name}");
            let store = Store::connect(&StoreConfig {
                database_url: Some(url.clone()),
                data_dir: ".".into(),
                create_data_dir: false,
                max_connections: pool,
            })
            .await
            .map_err(|e| e.to_string())?;
            let admin_url = u.to_string();
            let shown_name = name.clone();
            let cleanup =
                Box::new(move || juchu_store::drop_pg_database_blocking(&admin_url, &name));
            // Name the database, never the URL: it may carry a password.
            let host = base.rsplit_once('@').map(|(_, h)| h).unwrap_or_else(|| {
                base.trim_start_matches("postgresql://")
                    .trim_start_matches("postgres://")
            });
            Ok((
                store,
                cleanup,
                format!("PostgreSQL database {shown_name} on {host}"),
                Some(url),
            ))
        }
        _ => {
            let dir = std::env::temp_dir().join(format!(
                "juchu-bench-{}",
                &juchu_store::staff::random_token("")[..10]
            ));
            std::fs::create_dir_all(&dir).map_err(|e| e.to_string())?;
            let store = Store::connect(&StoreConfig {
                database_url: None,
                data_dir: dir.clone(),
                create_data_dir: false,
                max_connections: pool,
            })
            .await
            .map_err(|e| e.to_string())?;
            let shown = format!("SQLite file {}/juchu.db", dir.display());
            let cleanup = Box::new(move || {
                let _ = std::fs::remove_dir_all(&dir);
            });
            Ok((store, cleanup, shown, None))
        }
    }
}

/// A product that is not a subscription product: intake is measured on plain
/// orders (the raw baseline writes no subscriptions); subscriptions have their own
/// section.
fn one_off_product(i: usize) -> &'static str {
    let plain: Vec<&'static str> = demo::PRODUCTS
        .iter()
        .map(|p| p.0)
        .filter(|c| !c.starts_with("SUP"))
        .collect();
    plain[i % plain.len()]
}

fn sample_order(rng: &mut SmallRng, customer_id: Option<i64>, i: usize) -> NewOrder {
    NewOrder {
        customer_id,
        billing: demo::random_address(rng, 5_000_000 + i),
        items: (0..2)
            .map(|k| ItemInput {
                product_code: one_off_product(i + k * 3).into(),
                quantity: 1 + (i % 3) as i64,
                unit_price: None,
            })
            .collect(),
        payment_method: Some("credit_card".into()),
        carrier: Some("yamato".into()),
        ..Default::default()
    }
}

/// Runs the benchmarks on a fresh database (or the one of `--reuse`) with a
/// pool of `pool` connections, as `juchu serve` would have.
pub async fn run(database_url: &Option<String>, pool: u32, args: &BenchArgs) -> Result<(), String> {
    let (store, cleanup, location, pg_url) = if args.reuse {
        reused_store(database_url, pool).await?
    } else {
        fresh_store(database_url, pool).await?
    };
    let result = run_in(&store, args, &location, pg_url.as_deref(), pool).await;
    store.close().await;
    if args.keep {
        println!("\nkept: {location}");
    } else {
        cleanup();
    }
    result
}

async fn run_in(
    store: &Store,
    args: &BenchArgs,
    location: &str,
    pg_url: Option<&str>,
    pool: u32,
) -> Result<(), String> {
    let e = |e: juchu_store::StoreError| e.to_string();
    store.migrate().await.map_err(e)?;
    let pg = store.backend == Backend::Postgres;
    let n = args.orders.unwrap_or(if args.only_load {
        100_000
    } else if pg {
        1_000_000
    } else {
        100_000
    });
    let mut r = Report { lines: vec![] };
    if args.only_subscriptions
        || args.only_automation
        || args.only_blacklist
        || args.only_shipments
        || args.only_requests
    {
        println!(
            "juchu bench on {location}: 1000 demo orders, {} intake orders per measurement",
            args.intake
        );
    } else {
        println!(
            "juchu bench on {location}: {n} orders, {} intake orders per measurement, {} searches per filter",
            args.intake, args.searches
        );
    }

    if args.only_subscriptions {
        demo::generate(store, 1000, 7, false).await.map_err(e)?;
        return subscription_section(store, args, &mut r).await;
    }
    if args.only_automation {
        demo::generate(store, 1000, 7, false).await.map_err(e)?;
        return automation_section(store, args, &mut r).await;
    }
    if args.only_blacklist {
        demo::generate(store, 1000, 7, false).await.map_err(e)?;
        return blacklist_section(store, args, &mut r).await;
    }
    if args.only_requests {
        demo::generate(store, 1000, 7, false).await.map_err(e)?;
        return requests_section(store, args, &mut r).await;
    }
    if args.only_shipments {
        demo::generate(store, 1000, 7, false).await.map_err(e)?;
        return shipment_import_section(store, args, &mut r, pg_url).await;
    }
    let existing = if args.reuse {
        store.bench_order_count().await.map_err(e)?
    } else {
        0
    };
    if existing > 0 {
        r.header(&format!(
            "## data: {existing} orders already in the database"
        ));
    } else {
        r.header("## data load (demo generator, through the pipeline, 500 orders per transaction)");
        let t = Instant::now();
        demo::generate(store, n, 7, true).await.map_err(e)?;
        let d = t.elapsed();
        r.line(format!(
            "generated {n} orders in {:.1} s = {:.0} orders/s",
            d.as_secs_f64(),
            rate(n, d)
        ));
        store.analyze().await.map_err(e)?;
    }
    if args.only_jobs {
        return jobs_section(store, args, &mut r, pg_url).await;
    }
    if args.only_load {
        return load::load_section(
            store,
            args.load_connections,
            args.load_seconds,
            pool,
            &mut r,
        )
        .await;
    }
    if args.only_desk {
        desk_section(store, &mut r).await?;
        return mypage_section(store, &mut r).await;
    }

    // ---- intake: one order per transaction
    r.header("## order intake, one order per transaction (orders/s, median of 3 interleaved rounds; goal ≥ 80% of raw orders+items on PostgreSQL)");
    r.line(format!(
        "{:<28} {:>8} {:>16} {:>7} {:>22} {:>7}",
        "operation", "juchu", "raw orders+items", "ratio", "raw + 履歴 + event rows", "ratio"
    ));
    let mut rng = SmallRng::seed_from_u64(11);
    let actor = Actor::system("bench");
    let template = store
        .create_orders(vec![sample_order(&mut rng, None, 0)], &actor)
        .await
        .map_err(e)?
        .remove(0);
    // Three rounds of (pipeline, raw, raw with bookkeeping), interleaved so
    // that table growth and the machine's other load fall on every side
    // alike; each side's median rate is reported.
    const ROUNDS: usize = 3;
    for writers in [1usize, 2] {
        let per = (args.intake / writers / ROUNDS).max(1);
        let mut sides: [Vec<f64>; 3] = [vec![], vec![], vec![]];
        for round in 0..ROUNDS {
            // pipeline
            let t = Instant::now();
            let mut tasks = Vec::new();
            for w in 0..writers {
                let store = store.clone();
                let actor = actor.clone();
                tasks.push(tokio::spawn(async move {
                    let mut rng = SmallRng::seed_from_u64((100 + round * 10 + w) as u64);
                    for i in 0..per {
                        let req = NewOrderRequest {
                            order: sample_order(&mut rng, None, i),
                            billing_given: true,
                            new_customer: None,
                            card_token: None,
                        };
                        store.create_order(req, &actor, None).await?;
                    }
                    Ok::<_, juchu_store::StoreError>(())
                }));
            }
            for t in tasks {
                t.await.map_err(|x| x.to_string())?.map_err(e)?;
            }
            sides[0].push(rate(per * writers, t.elapsed()));
            // raw: the order and its items; then the same with the 履歴 and
            // event rows the pipeline also writes (the same rows, without the
            // pipeline's work).
            for bookkeeping in [false, true] {
                let t = Instant::now();
                let mut tasks = Vec::new();
                for w in 0..writers {
                    let store = store.clone();
                    let mut o = template.clone();
                    tasks.push(tokio::spawn(async move {
                        for i in 0..per {
                            o.order_number = format!("RAW-{bookkeeping}-{writers}-{round}-{w}-{i}");
                            store.bench_raw_insert(&o, bookkeeping).await?;
                        }
                        Ok::<_, juchu_store::StoreError>(())
                    }));
                }
                for t in tasks {
                    t.await.map_err(|x| x.to_string())?.map_err(e)?;
                }
                sides[1 + bookkeeping as usize].push(rate(per * writers, t.elapsed()));
            }
        }
        let [ours, raw, raw_kept] = sides.map(|mut v| {
            v.sort_by(|a, b| a.total_cmp(b));
            v[v.len() / 2]
        });
        r.line(format!(
            "{:<28} {:>8.0} {:>16.0} {:>6.0}% {:>22.0} {:>6.0}%",
            format!("intake, {writers} writer(s)"),
            ours,
            raw,
            ours / raw * 100.0,
            raw_kept,
            ours / raw_kept * 100.0
        ));
    }

    // ---- HTTP
    r.header("## order creation over HTTP (POST /api/v1/orders, one per request)");
    let app = juchu_web::Application::bind("127.0.0.1:0", juchu_web::AppState::new(store.clone()))
        .await
        .map_err(|x| x.to_string())?;
    let base = format!("http://{}", app.local_addr());
    let server = tokio::spawn(app.run());
    let (token, _) = store
        .create_api_token("bench", juchu_domain::access::Role::Owner)
        .await
        .map_err(e)?;
    juchu_adapters::install_tls_provider();
    let client = reqwest::Client::new();
    let http_n = (args.intake / 2).max(10);
    let t = Instant::now();
    for i in 0..http_n {
        let o = sample_order(&mut rng, None, i);
        let a = &o.billing;
        let body = serde_json::json!({
            "billing": {"family_name": a.family_name, "given_name": a.given_name, "family_kana": a.family_kana, "given_kana": a.given_kana,
                "postal_code": a.postal_code, "prefecture": a.prefecture, "address1": a.address1, "phone": a.phone, "email": a.email},
            "items": o.items.iter().map(|i| serde_json::json!({"product_code": i.product_code, "quantity": i.quantity})).collect::<Vec<_>>(),
            "payment_method": "credit_card", "carrier": "yamato"
        });
        let resp = client
            .post(format!("{base}/api/v1/orders"))
            .bearer_auth(&token)
            .header("Idempotency-Key", format!("bench-{i}"))
            .json(&body)
            .send()
            .await
            .map_err(|x| x.to_string())?;
        if !resp.status().is_success() {
            return Err(format!(
                "HTTP create failed: {} {}",
                resp.status(),
                resp.text().await.unwrap_or_default()
            ));
        }
    }
    r.line(format!(
        "{:<40} {:>12.0} orders/s (sequential client, same machine)",
        "POST /api/v1/orders",
        rate(http_n, t.elapsed())
    ));

    // ---- search
    r.header("## search: API over HTTP vs raw SQL (count + 50 newest + their items), milliseconds");
    r.line(format!(
        "{:<28} {:>9} {:>9} {:>9} {:>9} {:>10}",
        "filter", "api p50", "api p95", "raw p50", "raw p95", "p95 goal"
    ));
    let samples = store.bench_samples(args.searches as i64).await.map_err(e)?;
    let masters = store.masters().await.map_err(e)?;
    let status_id = masters
        .handling_status_by_name("完了")
        .map(|s| s.id)
        .unwrap_or(1);
    let kanas = [
        "サト",
        "スズ",
        "タカハシ",
        "ヤマダ",
        "イト",
        "ワタナベ",
        "コバヤシ",
        "ナカ",
    ];
    let today = store.clock.today();
    type Case = (String, Vec<(String, String)>, String, Vec<Arg>);
    let mut cases: Vec<(&str, Vec<Case>)> = vec![];
    let mut mk = |name: &'static str, f: &mut dyn FnMut(usize) -> Option<Case>| {
        let v: Vec<Case> = (0..args.searches).filter_map(&mut *f).collect();
        cases.push((name, v));
    };
    mk("status + date range", &mut |i| {
        let from = today
            .checked_sub(jiff::Span::new().days(30 + (i as i64 * 7) % 600))
            .ok()?;
        let to = from.checked_add(jiff::Span::new().days(30)).ok()?;
        let f = juchu_domain::time::format_ts(juchu_domain::time::japan_day_start(from));
        let t =
            juchu_domain::time::format_ts(juchu_domain::time::japan_day_start(to.tomorrow().ok()?));
        Some((
            "status+date".into(),
            vec![
                ("handling_status".into(), "完了".into()),
                ("ordered_from".into(), from.to_string()),
                ("ordered_to".into(), to.to_string()),
            ],
            "handling_status_id = $1 AND ordered_at >= $2 AND ordered_at < $3".into(),
            vec![status_id.into(), f.into(), t.into()],
        ))
    });
    mk("phone", &mut |i| {
        let (phone, _) = samples.get(i % samples.len().max(1))?.clone();
        Some((
            "phone".into(),
            vec![("phone".into(), phone.clone())],
            "billing_phone_key = $1".into(),
            vec![juchu_domain::normalize::phone_key(&phone).into()],
        ))
    });
    let trackings: Vec<String> = samples.iter().filter_map(|s| s.1.clone()).collect();
    mk("tracking number", &mut |i| {
        let t = trackings.get(i % trackings.len().max(1))?.clone();
        Some((
            "tracking".into(),
            vec![("tracking_number".into(), t.clone())],
            "tracking_key = $1".into(),
            vec![juchu_domain::normalize::tracking_key(&t).into()],
        ))
    });
    mk("kana name prefix", &mut |i| {
        let k = kanas[i % kanas.len()].to_string();
        let (sql, a): (String, Vec<Arg>) = if pg {
            (
                "billing_kana_key LIKE $1".into(),
                vec![format!("{k}%").into()],
            )
        } else {
            (
                "billing_kana_key >= $1 AND billing_kana_key < $2".into(),
                vec![k.clone().into(), format!("{k}\u{10FFFF}").into()],
            )
        };
        Some(("kana".into(), vec![("kana".into(), k)], sql, a))
    });
    mk("product", &mut |i| {
        let code = demo::PRODUCTS[i % demo::PRODUCTS.len()].0.to_string();
        Some((
            "product".into(),
            vec![("product_code".into(), code.clone())],
            "EXISTS (SELECT 1 FROM order_items i WHERE i.order_id = orders.id AND i.product_code = $1)".into(),
            vec![code.into()],
        ))
    });
    for (name, list) in cases {
        let mut api = Vec::new();
        let mut raw = Vec::new();
        // Warm both paths once so the first sample does not pay for cold caches.
        if let Some((_, q, w, a)) = list.first() {
            let _ = client
                .get(format!("{base}/api/v1/orders"))
                .bearer_auth(&token)
                .query(q)
                .send()
                .await;
            let _ = store.bench_raw_search(w, a.clone()).await;
        }
        for (_, q, w, a) in &list {
            let t = Instant::now();
            let resp = client
                .get(format!("{base}/api/v1/orders"))
                .bearer_auth(&token)
                .query(q)
                .send()
                .await
                .map_err(|x| x.to_string())?;
            let status = resp.status();
            let _ = resp.bytes().await;
            if !status.is_success() {
                return Err(format!("search {name} failed: {status}"));
            }
            api.push(t.elapsed());
            let t = Instant::now();
            store.bench_raw_search(w, a.clone()).await.map_err(e)?;
            raw.push(t.elapsed());
        }
        api.sort();
        raw.sort();
        let goal = 2.0 * pct(&raw, 0.95) + 5.0;
        let ok = if pct(&api, 0.95) <= goal {
            "met"
        } else {
            "MISSED"
        };
        r.line(format!(
            "{:<28} {:>9.2} {:>9.2} {:>9.2} {:>9.2} {:>6.1} {ok}",
            name,
            pct(&api, 0.5),
            pct(&api, 0.95),
            pct(&raw, 0.5),
            pct(&raw, 0.95),
            goal
        ));
    }
    // The same OrderQuery the list page uses, in-process (no HTTP), for reference.
    let t = Instant::now();
    for _ in 0..10 {
        store
            .search_orders(&OrderQuery {
                per_page: 50,
                ..Default::default()
            })
            .await
            .map_err(e)?;
    }
    r.line(format!(
        "{:<28} {:>9.2} ms (in-process, unfiltered list page incl. total count)",
        "unfiltered first page",
        t.elapsed().as_secs_f64() * 100.0
    ));
    server.abort();
    load::load_section(
        store,
        args.load_connections,
        args.load_seconds,
        pool,
        &mut r,
    )
    .await?;
    automation_section(store, args, &mut r).await?;
    blacklist_section(store, args, &mut r).await?;
    subscription_section(store, args, &mut r).await?;
    jobs_section(store, args, &mut r, pg_url).await?;
    if let Ok(status) = std::fs::read_to_string("/proc/self/status") {
        let pick = |k: &str| {
            status
                .lines()
                .find(|l| l.starts_with(k))
                .map(|l| l.split_whitespace().nth(1).unwrap_or("?").to_string())
                .unwrap_or_default()
        };
        r.line(format!(
            "\nbench process memory: VmRSS {} kB, peak VmHWM {} kB (includes data generation)",
            pick("VmRSS:"),
            pick("VmHWM:")
        ));
    }
    Ok(())
}

/// 自動受注作成 over many due subscriptions, next to `INSERT … SELECT` of the same
/// orders and items plus the same subscription `UPDATE` in one statement each.
/// `k` parent orders of SUP-COLLAGEN-30 every 30 days from `first`, with
/// their subscriptions, 500 per transaction through the pipeline.
async fn subscribers(
    store: &Store,
    k: usize,
    first: jiff::civil::Date,
    seed: u64,
    address_from: usize,
) -> Result<Vec<juchu_domain::order::Order>, String> {
    let e = |e: juchu_store::StoreError| e.to_string();
    let actor = Actor::system("bench");
    let mut rng = SmallRng::seed_from_u64(seed);
    let mut orders = Vec::with_capacity(k);
    let mut made = 0;
    while made < k {
        let m = 500.min(k - made);
        let batch: Vec<NewOrder> = (0..m)
            .map(|i| NewOrder {
                billing: demo::random_address(&mut rng, address_from + made + i),
                items: vec![ItemInput {
                    product_code: "SUP-COLLAGEN-30".into(),
                    quantity: 1,
                    unit_price: Some(1980),
                }],
                payment_method: Some("credit_card".into()),
                carrier: Some("yamato".into()),
                scheduled_delivery_date: Some(first.to_string()),
                subscription_cycle: Some(juchu_domain::calendar::Cycle::Days { every: 30 }),
                ..Default::default()
            })
            .collect();
        orders.extend(store.create_orders(batch, &actor).await.map_err(e)?);
        made += m;
    }
    Ok(orders)
}

async fn subscription_section(
    store: &Store,
    args: &BenchArgs,
    r: &mut Report,
) -> Result<(), String> {
    let e = |e: juchu_store::StoreError| e.to_string();
    let pg = store.backend == Backend::Postgres;
    let k = args
        .subscriptions
        .unwrap_or(if pg { 200_000 } else { 50_000 });
    if k == 0 {
        return Ok(());
    }
    r.header(&format!(
        "## daily subscription run (自動受注作成) over {k} due subscriptions"
    ));
    let today = store.clock.today();
    let first = today
        .checked_sub(jiff::Span::new().days(25))
        .map_err(|x| x.to_string())?;
    let t = Instant::now();
    subscribers(store, k, first, 23, 7_000_000).await?;
    r.line(format!(
        "created {k} parent orders with their subscriptions in {:.1} s = {:.0} /s (500 per transaction)",
        t.elapsed().as_secs_f64(),
        rate(k, t.elapsed())
    ));
    store
        .bench_set_card_tokens(juchu_adapters::payment_sandbox::test_cards::OK)
        .await
        .map_err(e)?;
    store.analyze().await.map_err(e)?;
    let settings = store.subscription_settings().await.map_err(e)?;
    let cutoff = today
        .checked_add(jiff::Span::new().days(settings.days_before))
        .map_err(|x| x.to_string())?;
    let mark = store
        .bench_mark_before_raw_subscription_run()
        .await
        .map_err(e)?;
    let t = Instant::now();
    let raw_n = store
        .bench_raw_subscription_run(today, cutoff)
        .await
        .map_err(e)?;
    let raw = t.elapsed();
    store
        .bench_undo_raw_subscription_run(&mark)
        .await
        .map_err(e)?;
    store.analyze().await.map_err(e)?;
    let t = Instant::now();
    let report = store
        .run_subscriptions(today, &Default::default())
        .await
        .map_err(e)?;
    let ours = t.elapsed();
    r.line(format!(
        "{:<40} {:>10} {:>10} {:>12}",
        "", "orders", "seconds", "orders/s"
    ));
    r.line(format!(
        "{:<40} {:>10} {:>10.1} {:>12.0}",
        "juchu run (pipeline, 履歴, events, 与信 queued)",
        report.created,
        ours.as_secs_f64(),
        rate(report.created, ours)
    ));
    r.line(format!(
        "{:<40} {:>10} {:>10.1} {:>12.0}",
        "raw INSERT…SELECT (+ outbox, 与信) + UPDATE",
        raw_n,
        raw.as_secs_f64(),
        rate(raw_n as usize, raw)
    ));
    let ratio = ours.as_secs_f64() / raw.as_secs_f64().max(1e-9);
    let limit = if pg { 2.0 } else { 3.0 };
    let goal = format!(
        "goal ≤ {limit}×: {}",
        if ratio <= limit { "met" } else { "MISSED" }
    );
    r.line(format!(
        "ratio {ratio:.2}× the baseline's time ({goal}); {} failed, {} flagged skipped",
        report.failed.len(),
        report.skipped_flagged
    ));

    // ---- the recurring authorisations the run queued
    let n = args
        .recurring_payments
        .unwrap_or(report.created)
        .min(report.created);
    if n == 0 {
        return Ok(());
    }
    r.header(&format!(
        "## recurring card authorisations: {n} child orders, outbox → sandbox → pipeline"
    ));
    let gateway = juchu_adapters::SandboxGateway::new(store, Duration::ZERO);
    let t = Instant::now();
    let mut done = 0;
    while done < n {
        let run = store
            .process_payments(&gateway, 500.min(n - done))
            .await
            .map_err(e)?;
        if run.done + run.declined == 0 {
            return Err(format!("payment processing stalled after {done}: {run:?}"));
        }
        done += run.done + run.declined;
    }
    let ours = t.elapsed();
    let ids = store.bench_child_order_ids().await.map_err(e)?;
    let ids = &ids[..n.min(ids.len())];
    let t = Instant::now();
    store.bench_raw_payment_status(ids).await.map_err(e)?;
    let raw = t.elapsed();
    r.line(format!(
        "{:<44} {:>8.0} orders/s   raw UPDATE + 履歴 INSERT per order: {:.0} orders/s ({:.0}%)",
        format!("{done} authorisations executed"),
        rate(done, ours),
        rate(ids.len(), raw),
        rate(done, ours) / rate(ids.len(), raw).max(1e-9) * 100.0
    ));
    Ok(())
}

/// 出荷実績インポート of `--shipment-rows` rows (a CP932 file as Excel writes
/// it): preview, then the run through the pipeline, next to raw per-row
/// UPDATEs of the same fields with their 履歴 rows in one transaction.
async fn shipment_import_section(
    store: &Store,
    args: &BenchArgs,
    r: &mut Report,
    pg_url: Option<&str>,
) -> Result<(), String> {
    let e = |e: juchu_store::StoreError| e.to_string();
    let k = args.shipment_rows;
    r.header(&format!(
        "## 出荷実績インポート: {k} rows (CP932), preview and run"
    ));
    let actor = Actor::system("bench");
    let mut rng = SmallRng::seed_from_u64(41);
    let mut numbers = Vec::with_capacity(k);
    let mut ids = Vec::with_capacity(k);
    for chunk in (0..k).collect::<Vec<_>>().chunks(500) {
        let orders: Vec<NewOrder> = chunk
            .iter()
            .map(|i| sample_order(&mut rng, None, *i))
            .collect();
        for o in store.create_orders(orders, &actor).await.map_err(e)? {
            numbers.push(o.order_number);
            ids.push(o.id);
        }
    }
    carrier_export_section(store, r, pg_url).await?;
    let mut text = String::from("受注番号,配送伝票番号\r\n");
    let mut trackings = Vec::with_capacity(k);
    for (i, n) in numbers.iter().enumerate() {
        let body = 30_000_000_000u64 + i as u64;
        let t = format!("{body}{}", body % 7);
        text.push_str(&format!("{n},{t}\r\n"));
        trackings.push(t);
    }
    let (file, _, _) = encoding_rs::SHIFT_JIS.encode(&text);
    let layout = store.import_layout("standard").await.map_err(e)?;
    let t = Instant::now();
    let preview = store
        .preview_shipment_import(
            &file,
            juchu_domain::shipment_import::FileEncoding::Detect,
            &layout,
        )
        .await
        .map_err(e)?;
    let preview_time = t.elapsed();
    let t = Instant::now();
    let done = store
        .run_shipment_import(
            &file,
            juchu_domain::shipment_import::FileEncoding::Detect,
            &layout,
            &actor,
        )
        .await
        .map_err(e)?;
    let run_time = t.elapsed();
    let changed = done.iter().filter(|x| x.outcome == "変更").count();
    let t = Instant::now();
    store
        .bench_raw_shipment_updates(&ids, &trackings)
        .await
        .map_err(e)?;
    let raw = t.elapsed();
    r.line(format!(
        "{:<44} {:>8.1} s {:>10.0} rows/s",
        format!("preview ({} rows)", preview.len()),
        preview_time.as_secs_f64(),
        rate(preview.len(), preview_time)
    ));
    r.line(format!(
        "{:<44} {:>8.1} s {:>10.0} rows/s",
        format!("run through the pipeline ({changed} changed)"),
        run_time.as_secs_f64(),
        rate(done.len(), run_time)
    ));
    r.line(format!(
        "{:<44} {:>8.1} s {:>10.0} rows/s",
        "raw UPDATE + 履歴 INSERT per row",
        raw.as_secs_f64(),
        rate(ids.len(), raw)
    ));
    r.line(format!(
        "ratio (preview + run) / raw: {:.1}× (goal ≤ 2×)",
        (preview_time + run_time).as_secs_f64() / raw.as_secs_f64().max(1e-9)
    ));
    Ok(())
}

/// 送り状データ出力 (B2クラウド) of every order not yet shipped, against `COPY`
/// of what its lines are made from → CP932.
async fn carrier_export_section(
    store: &Store,
    r: &mut Report,
    pg_url: Option<&str>,
) -> Result<(), String> {
    use juchu_domain::job::JobKind;
    use juchu_store::jobs::{NewJob, Selection};
    let e = |e: juchu_store::StoreError| e.to_string();
    store
        .save_shipping_settings(&juchu_domain::carrier_file::ShippingSettings {
            sender_phone: "03-0000-0000".into(),
            sender_postal_code: "150-0001".into(),
            sender_address1: "東京都渋谷区神宮前1-2-3".into(),
            yamato_customer_code: "012345678901".into(),
            yamato_freight_number: "01".into(),
            ..Default::default()
        })
        .await
        .map_err(e)?;
    r.header("## 送り状データ出力 (B2クラウド, 95 columns, CP932) of every order not yet shipped");
    let t = Instant::now();
    let job = store
        .register_job(
            NewJob {
                kind: JobKind::CarrierExport,
                selection: Some(Selection::Query(Box::default())),
                params: serde_json::json!({"carrier_format": "yamato_b2"}),
            },
            &Actor::system("bench"),
        )
        .await
        .map_err(e)?;
    let registered = t.elapsed();
    drain_jobs(store, 1).await?;
    let ours = t.elapsed();
    let job = store.job(job.id).await.map_err(e)?;
    let mut bytes = 0usize;
    let mut part = 0;
    while let Some(p) = store.job_file_part(job.id, part).await.map_err(e)? {
        bytes += p.len();
        part += 1;
    }
    let t = Instant::now();
    let raw_bytes = store.bench_raw_carrier_cp932(pg_url).await.map_err(e)?;
    let raw = t.elapsed();
    let ratio = ours.as_secs_f64() / raw.as_secs_f64().max(1e-9);
    r.line(format!(
        "juchu job: {} orders, {:.1} MB in {:.1} s (of which freezing the selection {:.1} s); status {}",
        job.total,
        bytes as f64 / 1e6,
        ours.as_secs_f64(),
        registered.as_secs_f64(),
        job.status.label()
    ));
    r.line(format!(
        "raw {}: {:.1} MB in {:.1} s",
        if pg_url.is_some() {
            "COPY (the line's columns) TO STDOUT → CP932"
        } else {
            "SELECT (the line's columns) → CSV → CP932"
        },
        raw_bytes as f64 / 1e6,
        raw.as_secs_f64()
    ));
    r.line(format!(
        "ratio {ratio:.2}× (goal ≤ 2×: {})",
        if ratio <= 2.0 { "met" } else { "MISSED" }
    ));
    Ok(())
}

/// Intake one order per transaction with `rules` in place (the rules are the
/// store's; this only measures).
async fn intake_rate(store: &Store, n: usize, seed: u64) -> Result<f64, String> {
    let actor = Actor::system("bench");
    let mut rng = SmallRng::seed_from_u64(seed);
    let t = Instant::now();
    for i in 0..n {
        let req = NewOrderRequest {
            order: sample_order(&mut rng, None, i),
            billing_given: true,
            new_customer: None,
            card_token: None,
        };
        store
            .create_order(req, &actor, None)
            .await
            .map_err(|e| e.to_string())?;
    }
    Ok(rate(n, t.elapsed()))
}

/// A minimal SMTP server on loopback that accepts every mail (RFC 5321 command
/// and reply sequence, `DATA` read to the lone dot). mailin-embedded, which the
/// tests use, answers in several small writes: with Nagle's algorithm and
/// delayed ACKs that costs ~40 ms per mail and would measure the sink, not us.
/// lettre (the client) does not set TCP_NODELAY either and writes a message in
/// several pieces, so the sink acknowledges every read at once (TCP_QUICKACK);
/// a real relay on another host acknowledges on its own timing.
async fn smtp_sink() -> Result<u16, String> {
    use tokio::io::{AsyncBufReadExt, AsyncWriteExt, BufReader};
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .map_err(|x| x.to_string())?;
    let port = listener.local_addr().map_err(|x| x.to_string())?.port();
    tokio::spawn(async move {
        while let Ok((socket, _)) = listener.accept().await {
            tokio::spawn(async move {
                let _ = socket.set_nodelay(true);
                let mut lines = BufReader::new(socket);
                let quickack = |s: &tokio::net::TcpStream| {
                    let _ = socket2::SockRef::from(s).set_tcp_quickack(true);
                };
                if lines
                    .get_mut()
                    .write_all(b"220 bench ESMTP\r\n")
                    .await
                    .is_err()
                {
                    return;
                }
                let mut line = String::new();
                let mut in_data = false;
                loop {
                    line.clear();
                    match lines.read_line(&mut line).await {
                        Ok(0) | Err(_) => return,
                        Ok(_) => quickack(lines.get_ref()),
                    }
                    let reply: &[u8] = if in_data {
                        if line != ".\r\n" {
                            continue;
                        }
                        in_data = false;
                        b"250 OK queued\r\n"
                    } else {
                        let cmd = line.get(..4).unwrap_or("").to_ascii_uppercase();
                        match cmd.as_str() {
                            "EHLO" => b"250-bench\r\n250 8BITMIME\r\n",
                            "DATA" => {
                                in_data = true;
                                b"354 go ahead\r\n"
                            }
                            "QUIT" => {
                                let _ = lines.get_mut().write_all(b"221 bye\r\n").await;
                                return;
                            }
                            _ => b"250 OK\r\n",
                        }
                    };
                    if lines.get_mut().write_all(reply).await.is_err() {
                        return;
                    }
                }
            });
        }
    });
    Ok(port)
}

/// 自動化設定 cost on intake, mail delivery from the outbox to a real SMTP server,
/// and payment requests through the outbox and the sandbox gateway.
async fn automation_section(store: &Store, args: &BenchArgs, r: &mut Report) -> Result<(), String> {
    use juchu_domain::automation::{Action, Condition, Rule, Trigger};
    use juchu_domain::event::OrderEvent;
    let e = |e: juchu_store::StoreError| e.to_string();
    let n = args.intake;

    r.header(
        "## intake with 50 enabled 自動化設定 rules vs none (one order per transaction, orders/s)",
    );
    let none_before = intake_rate(store, n, 201).await?;
    // 50 rules a shop could have: on other events, and on 受注作成 gated by a
    // condition that these orders (ヤマト運輸) do not meet — evaluated, not fired.
    let m = store.masters().await.map_err(e)?;
    let statuses: Vec<String> = m.handling_statuses.iter().map(|s| s.name.clone()).collect();
    let mut ids = Vec::new();
    for i in 0..50 {
        let label = format!("bench-{i:02}");
        store
            .create_label(juchu_store::masters::LabelInput {
                name: label.clone(),
                color: "#888888".into(),
            })
            .await
            .map_err(e)?;
        let trigger = match i % 3 {
            0 => Trigger::Exact {
                event: OrderEvent::HandlingStatusBecame {
                    name: statuses[i % statuses.len()].clone(),
                },
            },
            1 => Trigger::EventKind {
                event: "tracking_number_set".into(),
            },
            _ => Trigger::Exact {
                event: OrderEvent::Created,
            },
        };
        let conditions = if i % 3 == 2 {
            vec![Condition::Carrier {
                name: "佐川急便".into(),
            }]
        } else {
            vec![]
        };
        let rule = store
            .add_automation_rule(&Rule {
                id: 0,
                name: format!("bench rule {i}"),
                position: 0,
                enabled: true,
                trigger,
                conditions,
                action: Action::AddLabel { name: label },
            })
            .await
            .map_err(e)?;
        ids.push(rule.id);
    }
    let quiet = intake_rate(store, n, 202).await?;
    // Two of them fire on every new order (a label each: rows the pipeline writes).
    for id in ids.iter().skip(2).step_by(3).take(2) {
        let mut rule = store
            .automation_rules()
            .await
            .map_err(e)?
            .into_iter()
            .find(|r| r.id == *id)
            .ok_or("bench rule vanished")?;
        rule.conditions.clear();
        store.update_automation_rule(&rule).await.map_err(e)?;
    }
    let firing = intake_rate(store, n, 203).await?;
    for id in &ids {
        store.delete_automation_rule(*id).await.map_err(e)?;
    }
    let none_after = intake_rate(store, n, 204).await?;
    let none = (none_before + none_after) / 2.0;
    r.line(format!(
        "{:<44} {:>8.0}  (before {none_before:.0}, after {none_after:.0})",
        "no rules", none
    ));
    r.line(format!(
        "{:<44} {:>8.0}  {:>5.1}% slower (goal ≤ 20%)",
        "50 rules, none fires on these orders",
        quiet,
        (1.0 - quiet / none) * 100.0
    ));
    r.line(format!(
        "{:<44} {:>8.0}  {:>5.1}% slower (2 label rows + 2 履歴 rows more per order)",
        "50 rules, 2 fire on every new order",
        firing,
        (1.0 - firing / none) * 100.0
    ));

    // ---- mail outbox
    r.header("## mail outbox delivered to an SMTP server on loopback");
    let port = smtp_sink().await?;
    let url = format!("smtp://127.0.0.1:{port}");
    let smtp = juchu_adapters::SmtpConfig::parse(&url, "shop@example.jp")?.sender()?;
    let order = store
        .search_orders(&OrderQuery {
            per_page: 1,
            ..Default::default()
        })
        .await
        .map_err(e)?
        .orders
        .remove(0);
    store
        .bench_queue_mails(order.id, "bench@example.jp", args.mails)
        .await
        .map_err(e)?;
    let t = Instant::now();
    let mut sent = 0;
    while sent < args.mails {
        let d = store.deliver_mail(&smtp, 1000).await.map_err(e)?;
        if d.sent == 0 {
            return Err(format!(
                "mail delivery stalled after {sent} mails: {:?}",
                d.failed.first()
            ));
        }
        sent += d.sent;
    }
    let ours = rate(sent, t.elapsed());
    // Baseline: the same messages straight over the same pooled SMTP transport,
    // no outbox (no claim, no lease, no status rows).
    let transport = lettre::AsyncSmtpTransport::<lettre::Tokio1Executor>::from_url(&url)
        .map_err(|x| x.to_string())?
        .build();
    let t = Instant::now();
    for i in 0..args.mails {
        use lettre::AsyncTransport;
        let m = lettre::Message::builder()
            .from("shop@example.jp".parse().map_err(|_| "from")?)
            .to("bench@example.jp".parse().map_err(|_| "to")?)
            .subject(format!("【ベンチ】ご注文番号 {i} の発送のお知らせ"))
            .header(lettre::message::header::ContentType::TEXT_PLAIN)
            .body(format!(
                "山田 花子 様\n\nご注文の商品を発送しました。\n配送伝票番号: {i:012}\n"
            ))
            .map_err(|x| x.to_string())?;
        transport.send(m).await.map_err(|x| x.to_string())?;
    }
    let raw = rate(args.mails, t.elapsed());
    r.line(format!(
        "{:<44} {:>8.0} mails/s   direct SMTP, no outbox: {raw:.0} mails/s ({:.0}%)",
        format!("{} mails through the outbox", args.mails),
        ours,
        ours / raw * 100.0
    ));

    // ---- payment outbox
    r.header("## payment requests: outbox → sandbox gateway → pipeline (card 仮売上), orders/s");
    let k = args.payments;
    let mut rng = SmallRng::seed_from_u64(300);
    let actor = Actor::system("bench");
    let mut numbers = Vec::with_capacity(k);
    for chunk in (0..k).collect::<Vec<_>>().chunks(500) {
        let orders: Vec<NewOrder> = chunk
            .iter()
            .map(|i| sample_order(&mut rng, None, *i))
            .collect();
        for o in store.create_orders(orders, &actor).await.map_err(e)? {
            numbers.push(o.order_number);
        }
    }
    let t = Instant::now();
    for n in &numbers {
        store
            .request_payment(
                n,
                juchu_domain::payment::PaymentProcess::Authorize,
                Some(juchu_adapters::payment_sandbox::test_cards::OK),
                &actor,
                "",
            )
            .await
            .map_err(e)?;
    }
    let queued = rate(k, t.elapsed());
    let gateway = juchu_adapters::SandboxGateway::new(store, Duration::ZERO);
    let t = Instant::now();
    let mut done = 0;
    while done < k {
        let run = store.process_payments(&gateway, 500).await.map_err(e)?;
        if run.done == 0 {
            return Err(format!("payment processing stalled after {done}: {run:?}"));
        }
        done += run.done;
    }
    let ours = rate(k, t.elapsed());
    let more: Vec<NewOrder> = (0..k)
        .map(|i| sample_order(&mut rng, None, k + i))
        .collect();
    let mut raw_ids = Vec::with_capacity(k);
    for chunk in more.chunks(500) {
        for o in store
            .create_orders(chunk.to_vec(), &actor)
            .await
            .map_err(e)?
        {
            raw_ids.push(o.id);
        }
    }
    let t = Instant::now();
    store.bench_raw_payment_status(&raw_ids).await.map_err(e)?;
    let raw = rate(k, t.elapsed());
    r.line(format!(
        "{:<44} {:>8.0} requests/s",
        "queue 与信処理 (one transaction each)", queued
    ));
    r.line(format!(
        "{:<44} {:>8.0} orders/s   raw UPDATE + 履歴 INSERT per order: {raw:.0} orders/s ({:.0}%)",
        format!("{k} authorisations executed"),
        ours,
        ours / raw * 100.0
    ));
    Ok(())
}

/// Intake with 100,000 blacklisted customers and 50 conditions vs none: screening
/// is two indexed lookups per order, never a scan (goal ≥ 90% of the rate).
async fn blacklist_section(store: &Store, args: &BenchArgs, r: &mut Report) -> Result<(), String> {
    use juchu_domain::blacklist::{BlacklistCondition, Clause, ConditionField, Op};
    let e = |e: juchu_store::StoreError| e.to_string();
    let n = args.intake;
    let k = args.blacklisted;
    r.header(&format!(
        "## intake with {k} blacklisted customers and 50 ブラックリスト条件 vs none (one order per transaction, orders/s)"
    ));
    let none_before = intake_rate(store, n, 401).await?;
    let mut rng = SmallRng::seed_from_u64(402);
    // Other people than the shop's customers: addresses from the demo generator
    // (so postal codes and surnames do meet the orders'), with given names and
    // phone numbers of their own — and every 1,000th one a copy of a customer
    // who will order, so screening also finds real matches.
    const GIVEN: [&str; 20] = [
        "一", "二", "三", "太", "次", "美", "恵", "子", "郎", "吾", "真", "由", "香", "奈", "亮",
        "翔", "結", "陽", "蓮", "葵",
    ];
    let mut order_rng = SmallRng::seed_from_u64(403);
    let upcoming: Vec<_> = (0..n)
        .map(|i| sample_order(&mut order_rng, None, i).billing)
        .collect();
    let addresses: Vec<_> = (0..k)
        .map(|i| {
            if i % 1000 == 0 {
                return upcoming[(i / 1000) % upcoming.len()].clone();
            }
            let mut a = demo::random_address(&mut rng, 9_000_000 + i);
            a.given_name = format!(
                "{}{}{}",
                GIVEN[i % 20],
                GIVEN[(i / 20) % 20],
                GIVEN[(i / 400) % 20]
            );
            a.phone = format!("070-{:04}-{:04}", i / 10_000, i % 10_000);
            a
        })
        .collect();
    let t = Instant::now();
    store
        .bench_insert_blacklisted(&addresses)
        .await
        .map_err(e)?;
    let loaded = t.elapsed();
    for i in 0..50 {
        let clause = match i % 3 {
            0 => Clause {
                field: ConditionField::BillingEmail,
                op: Op::EmailDomain,
                value: format!("resale{i}.example"),
            },
            1 => Clause {
                field: ConditionField::BillingPhone,
                op: Op::Equals,
                value: format!("050-0000-{i:04}"),
            },
            _ => Clause {
                field: ConditionField::BillingAddress,
                op: Op::StartsWith,
                value: format!("沖縄県竹富町{i}"),
            },
        };
        store
            .add_blacklist_condition(&BlacklistCondition {
                id: 0,
                name: format!("bench 条件 {i}"),
                enabled: true,
                clauses: vec![clause],
            })
            .await
            .map_err(e)?;
    }
    store.analyze().await.map_err(e)?;
    let screened = intake_rate(store, n, 403).await?;
    let flagged = store
        .search_orders(&OrderQuery {
            needs_attention: Some(true),
            per_page: 1,
            ..Default::default()
        })
        .await
        .map_err(e)?
        .total;
    r.line(format!(
        "{:<44} {:>8.0}",
        "nothing blacklisted", none_before
    ));
    r.line(format!(
        "{:<44} {:>8.0}  {:>5.1}% of the rate (goal ≥ 90%); {flagged} orders flagged",
        format!("{k} blacklisted + 50 conditions"),
        screened,
        screened / none_before * 100.0
    ));
    r.line(format!(
        "{:<44} {:>8.1} s",
        format!("loading {k} blacklisted customers (bulk INSERT)"),
        loaded.as_secs_f64()
    ));
    Ok(())
}

/// The resident memory of this process now, in kB (Linux).
fn rss_kb() -> u64 {
    std::fs::read_to_string("/proc/self/status")
        .ok()
        .and_then(|s| {
            s.lines()
                .find(|l| l.starts_with("VmRSS:"))
                .and_then(|l| l.split_whitespace().nth(1))
                .and_then(|v| v.parse().ok())
        })
        .unwrap_or(0)
}

/// Samples the resident memory until stopped; returns the highest seen.
struct RssSampler {
    stop: std::sync::Arc<std::sync::atomic::AtomicBool>,
    handle: std::thread::JoinHandle<u64>,
}

impl RssSampler {
    fn start() -> RssSampler {
        let stop = std::sync::Arc::new(std::sync::atomic::AtomicBool::new(false));
        let flag = stop.clone();
        let handle = std::thread::spawn(move || {
            let mut peak = 0;
            while !flag.load(std::sync::atomic::Ordering::Relaxed) {
                peak = peak.max(rss_kb());
                std::thread::sleep(Duration::from_millis(20));
            }
            peak.max(rss_kb())
        });
        RssSampler { stop, handle }
    }
    fn peak_mb(self) -> f64 {
        self.stop.store(true, std::sync::atomic::Ordering::Relaxed);
        self.handle.join().unwrap_or(0) as f64 / 1024.0
    }
}

/// Runs jobs with `workers` concurrent loops until none has work.
async fn drain_jobs(store: &Store, workers: usize) -> Result<(), String> {
    let mut tasks = Vec::new();
    for _ in 0..workers {
        let store = store.clone();
        tasks.push(tokio::spawn(async move {
            while store.run_next_chunk().await? {}
            Ok::<_, juchu_store::StoreError>(())
        }));
    }
    for t in tasks {
        t.await
            .map_err(|x| x.to_string())?
            .map_err(|e| e.to_string())?;
    }
    Ok(())
}

/// 一括処理: CSV export of every order (one row per item, CP932) against
/// `COPY … TO STDOUT` piped through a CP932 encoder; a bulk status update
/// against raw `UPDATE` + 履歴 `INSERT`; one worker against two.
async fn jobs_section(
    store: &Store,
    args: &BenchArgs,
    r: &mut Report,
    pg_url: Option<&str>,
) -> Result<(), String> {
    use juchu_domain::csv_format::{Column, CsvFormat, Encoding, RowPer, Unmappable};
    use juchu_domain::job::JobKind;
    use juchu_store::jobs::{NewJob, Selection};
    let e = |e: juchu_store::StoreError| e.to_string();
    let actor = Actor::system("bench");
    let columns = [
        "order_number",
        "ordered_at",
        "handling_status",
        "billing_name",
        "billing_postal_code",
        "billing_prefecture",
        "billing_address1",
        "billing_phone",
        "item_product_code",
        "item_product_name",
        "item_quantity",
        "item_unit_price",
        "total",
    ];
    let format = store
        .add_csv_format(&CsvFormat {
            id: 0,
            name: "bench".into(),
            row_per: RowPer::Item,
            encoding: Encoding::Cp932,
            unmappable: Unmappable::Replace,
            columns: columns
                .iter()
                .map(|k| Column {
                    key: k.to_string(),
                    header: String::new(),
                })
                .collect(),
        })
        .await
        .map_err(e)?;
    r.header("## CSV一括出力 of every order, one row per item, CP932 (13 columns)");
    let baseline_rss = rss_kb() as f64 / 1024.0;
    let sampler = RssSampler::start();
    let t = Instant::now();
    let job = store
        .register_job(
            NewJob {
                kind: JobKind::CsvExport,
                selection: Some(Selection::Query(Box::default())),
                params: serde_json::json!({"format_id": format.id}),
            },
            &actor,
        )
        .await
        .map_err(e)?;
    let registered = t.elapsed();
    drain_jobs(store, 1).await?;
    let ours = t.elapsed();
    let peak = sampler.peak_mb();
    let job = store.job(job.id).await.map_err(e)?;
    let mut bytes = 0usize;
    let mut part = 0;
    while let Some(p) = store.job_file_part(job.id, part).await.map_err(e)? {
        bytes += p.len();
        part += 1;
    }
    let t = Instant::now();
    let raw_bytes = store
        .bench_raw_export_cp932(pg_url, RawEncoder::EncodingRs)
        .await
        .map_err(e)?;
    let raw = t.elapsed();
    // The same baseline with the export's own CP932 table (faster than
    // encoding_rs): what is left is the export's overhead over the database.
    let t = Instant::now();
    store
        .bench_raw_export_cp932(pg_url, RawEncoder::Table)
        .await
        .map_err(e)?;
    let raw_table = t.elapsed();
    let ratio = ours.as_secs_f64() / raw.as_secs_f64();
    r.line(format!(
        "juchu job: {} orders, {:.1} MB in {:.1} s (of which freezing the selection {:.1} s); status {}",
        job.total,
        bytes as f64 / 1e6,
        ours.as_secs_f64(),
        registered.as_secs_f64(),
        job.status.label()
    ));
    r.line(format!(
        "raw {}: {:.1} MB in {:.1} s",
        if pg_url.is_some() {
            "COPY (same join) TO STDOUT → CP932"
        } else {
            "SELECT (same join) → CSV → CP932"
        },
        raw_bytes as f64 / 1e6,
        raw.as_secs_f64()
    ));
    r.line(format!(
        "ratio {ratio:.2}× (goal ≤ 1.3×: {}); bench process resident memory during the export: peak {peak:.0} MB (before: {baseline_rss:.0} MB; goal < 300 MB)",
        if ratio <= 1.3 { "met" } else { "MISSED" }
    ));
    r.line(format!(
        "raw with juchu's CP932 table instead of encoding_rs: {:.1} s; ratio {:.2}×",
        raw_table.as_secs_f64(),
        ours.as_secs_f64() / raw_table.as_secs_f64()
    ));

    r.header("## 一括更新 of handling status with 履歴 and automation (orders/s)");
    let n = args.bulk as i64;
    let ours_orders = store.bench_newest_orders(n, 0).await.map_err(e)?;
    let raw_orders = store.bench_newest_orders(n, n).await.map_err(e)?;
    let masters = store.masters().await.map_err(e)?;
    // A status the orders do not have yet (a reused database may hold the
    // last run's): otherwise the pipeline would rightly change nothing.
    let current = match ours_orders.first() {
        Some((_, number)) => {
            store
                .order_by_number(number)
                .await
                .map_err(e)?
                .handling_status_id
        }
        None => 0,
    };
    let target = ["処理中", "保留"]
        .into_iter()
        .filter_map(|name| masters.handling_status_by_name(name))
        .find(|s| s.id != current)
        .ok_or("no 処理中 / 保留 handling status to bench with")?;
    let status_id = target.id;
    let t = Instant::now();
    store
        .register_job(
            NewJob {
                kind: JobKind::BulkUpdate,
                selection: Some(Selection::OrderNumbers(
                    ours_orders.iter().map(|(_, n)| n.clone()).collect(),
                )),
                params: serde_json::json!({"handling_status": target.name}),
            },
            &actor,
        )
        .await
        .map_err(e)?;
    drain_jobs(store, 1).await?;
    let ours = t.elapsed();
    let t = Instant::now();
    store
        .bench_raw_bulk_status(
            &raw_orders.iter().map(|(id, _)| *id).collect::<Vec<_>>(),
            status_id,
        )
        .await
        .map_err(e)?;
    let raw = t.elapsed();
    // Rates, not times: the raw side may get fewer orders on a small base.
    let ratio = rate(raw_orders.len(), raw) / rate(ours_orders.len(), ours).max(1e-9);
    let goal = if store.backend == Backend::Postgres {
        1.5
    } else {
        3.0
    };
    r.line(format!(
        "juchu job (register + run, {} orders per transaction): {} orders in {:.1} s = {:.0} orders/s",
        juchu_store::jobs::orders_per_transaction(JobKind::BulkUpdate),
        ours_orders.len(),
        ours.as_secs_f64(),
        rate(ours_orders.len(), ours)
    ));
    r.line(format!(
        "raw UPDATE + INSERT … SELECT of 履歴, event, outbox (1,000 per transaction): {} orders in {:.1} s = {:.0} orders/s",
        raw_orders.len(),
        raw.as_secs_f64(),
        rate(raw_orders.len(), raw)
    ));
    r.line(format!(
        "ratio {ratio:.2}× (goal ≤ {goal}×: {})",
        if ratio <= goal { "met" } else { "MISSED" }
    ));

    r.header("## PDF一括出力: 請求書 on one core (typst, Japanese font subset embedded)");
    match juchu_docs::DocumentFont::find() {
        Err(why) => r.line(format!("skipped: {why}")),
        Ok(font) => {
            let sample = store.bench_newest_orders(500, 0).await.map_err(e)?;
            let mut docs = Vec::with_capacity(sample.len());
            let issuer = juchu_domain::document::Issuer {
                shop_name: "茶舗やまだ".into(),
                address: "東京都渋谷区神宮前1-2-3".into(),
                phone: "03-0000-0000".into(),
                registration_number: "T1234567890123".into(),
                ..Default::default()
            };
            for (_, number) in &sample {
                let o = store.order_by_number(number).await.map_err(e)?;
                docs.push(juchu_domain::document::document_of(
                    &o,
                    &masters,
                    &juchu_domain::document::DocumentFormat::standard(
                        juchu_domain::document::DocumentKind::Invoice,
                    ),
                    "2026-12-01",
                    &issuer,
                ));
            }
            let n = docs.len();
            let (setup, took, size) = tokio::task::spawn_blocking(move || {
                let t = Instant::now();
                let renderer = juchu_docs::Renderer::new(&font);
                let setup = t.elapsed();
                let t = Instant::now();
                let pdf = renderer.render(&issuer, &docs);
                (setup, t.elapsed(), pdf.map(|p| p.len()))
            })
            .await
            .map_err(|x| x.to_string())?;
            let size = size?;
            let per_s = rate(n, took);
            r.line(format!(
                "{n} invoices in one PDF: {:.2} s = {per_s:.0} invoices/s (goal ≥ 100/s: {}), {:.1} MB = {:.0} KB per invoice; loading the font {:.2} s once per job",
                took.as_secs_f64(),
                if per_s >= 100.0 { "met" } else { "MISSED" },
                size as f64 / 1e6,
                size as f64 / n as f64 / 1e3,
                setup.as_secs_f64()
            ));
        }
    }

    r.header("## one job, one worker vs two workers (一括更新, orders/s)");
    let m = args.worker_orders as i64;
    let mut rates = Vec::new();
    for (round, workers) in [1usize, 2].into_iter().enumerate() {
        let orders = store
            .bench_newest_orders(m, 2 * n + round as i64 * m)
            .await
            .map_err(e)?;
        store
            .register_job(
                NewJob {
                    kind: JobKind::BulkUpdate,
                    selection: Some(Selection::OrderNumbers(
                        orders.iter().map(|(_, n)| n.clone()).collect(),
                    )),
                    params: serde_json::json!({"handling_status": "保留"}),
                },
                &actor,
            )
            .await
            .map_err(e)?;
        let t = Instant::now();
        drain_jobs(store, workers).await?;
        rates.push(rate(orders.len(), t.elapsed()));
    }
    r.line(format!(
        "1 worker {:.0}, 2 workers {:.0} orders/s ({:.2}×){}",
        rates[0],
        rates[1],
        rates[1] / rates[0],
        if store.backend == Backend::Sqlite {
            " — SQLite has one writer: the second worker waits"
        } else {
            ""
        }
    ));
    Ok(())
}

/// Median of `runs` timings of `f`, in milliseconds.
async fn median_ms<F, Fut>(runs: usize, mut f: F) -> Result<f64, String>
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = Result<(), String>>,
{
    let mut t = Vec::with_capacity(runs);
    for _ in 0..runs {
        let s = Instant::now();
        f().await?;
        t.push(s.elapsed().as_secs_f64() * 1000.0);
    }
    t.sort_by(|a, b| a.total_cmp(b));
    Ok(t[t.len() / 2])
}

/// 受注一覧 with `q` next to `raw` (its count and page in plain SQL): the
/// medians of 15 runs, in milliseconds.
async fn list_vs_raw(
    store: &Store,
    masters: &juchu_domain::masters::Masters,
    q: &juchu_store::OrderQuery,
    raw: &[String],
) -> Result<(f64, f64), String> {
    let e = |e: juchu_store::StoreError| e.to_string();
    let ours = median_ms(15, || async {
        store
            .search_orders_with(q, masters)
            .await
            .map(|_| ())
            .map_err(e)
    })
    .await?;
    let raw = median_ms(15, || async {
        for sql in raw {
            store.bench_raw_sql(sql).await.map_err(e)?;
        }
        Ok(())
    })
    .await?;
    Ok((ours, raw))
}

/// The order desk on many orders: 受注一覧 (sum of every match, a sort other
/// than newest first, a partial name match), 在庫 and ホーム, each next to raw
/// SQL doing the same reading.
async fn desk_section(store: &Store, r: &mut Report) -> Result<(), String> {
    let e = |e: juchu_store::StoreError| e.to_string();
    let masters = store.masters().await.map_err(e)?;
    let done = masters
        .handling_status_by_name("完了")
        .map(|s| s.id)
        .unwrap_or(1);
    r.header("## order desk (median of 15 runs, milliseconds)");
    r.line(format!(
        "{:<44} {:>9} {:>9} {:>7}",
        "what", "juchu", "raw SQL", "ratio"
    ));
    let mut row = |name: &str, ours: f64, raw: f64| {
        r.line(format!(
            "{name:<44} {ours:>9.1} {raw:>9.1} {:>6.2}×",
            ours / raw.max(0.001)
        ));
    };
    // 受注一覧: status 完了 (a broad filter), sorted by 合計, with the sum.
    let q = juchu_store::OrderQuery {
        handling_status: Some("完了".into()),
        sort: juchu_store::orders::search::SortKey::Total,
        with_sum: true,
        page: 1,
        per_page: 50,
        ..Default::default()
    };
    let (ours, raw) = list_vs_raw(
        store,
        &masters,
        &q,
        &[
            format!("SELECT COUNT(*) AS n FROM (SELECT 1 FROM orders WHERE handling_status_id = {done} LIMIT 10001) c"),
            format!("SELECT CAST(COALESCE(SUM(total), 0) AS BIGINT) AS s FROM orders WHERE handling_status_id = {done}"),
            format!("SELECT * FROM orders WHERE handling_status_id = {done} ORDER BY total DESC, id DESC LIMIT 50"),
        ],
    )
    .await?;
    row("受注一覧: 完了, sort by 合計, with the sum", ours, raw);
    // A given name alone (部分一致 reads every row).
    let q = juchu_store::OrderQuery {
        name_part: Some("花子".into()),
        page: 1,
        per_page: 50,
        ..Default::default()
    };
    let (ours, raw) = list_vs_raw(
        store,
        &masters,
        &q,
        &[
            "SELECT COUNT(*) AS n FROM (SELECT 1 FROM orders WHERE billing_name_key LIKE '%花子%' OR billing_kana_key LIKE '%花子%' LIMIT 10001) c".into(),
            "SELECT * FROM orders WHERE billing_name_key LIKE '%花子%' OR billing_kana_key LIKE '%花子%' ORDER BY ordered_at DESC, id DESC LIMIT 50".into(),
        ],
    )
    .await?;
    row("受注一覧: 請求者名 部分一致 (花子)", ours, raw);
    // 在庫: every product under stock control.
    let (products, _) = store.list_products(1000, 0).await.map_err(e)?;
    for p in &products {
        store.set_stock(&p.code, Some(500)).await.map_err(e)?;
    }
    let ours = median_ms(15, || async {
        store.stock_levels().await.map(|_| ()).map_err(e)
    })
    .await?;
    let raw = median_ms(15, || async {
        store
            .bench_raw_sql(
                "SELECT i.product_code, CAST(SUM(CASE WHEN o.shipment_status = 'shipped' THEN i.quantity ELSE 0 END) AS BIGINT) AS shipped,                  CAST(SUM(CASE WHEN o.shipment_status <> 'shipped' THEN i.quantity ELSE 0 END) AS BIGINT) AS open                  FROM order_items i JOIN orders o ON o.id = i.order_id GROUP BY i.product_code",
            )
            .await
            .map(|_| ())
            .map_err(e)
    })
    .await?;
    row(
        &format!("在庫: {} products (on hand, 引当, 欠品)", products.len()),
        ours,
        raw,
    );
    // ホーム.
    let today = store.clock.today();
    let ours = median_ms(15, || async {
        store.dashboard(today).await.map(|_| ()).map_err(e)
    })
    .await?;
    let from = juchu_domain::time::format_ts(juchu_domain::time::japan_day_start(
        today
            .checked_sub(jiff::Span::new().days(29))
            .map_err(|x| x.to_string())?,
    ));
    let raw = median_ms(15, || async {
        for sql in [
            format!("SELECT ordered_at, total, handling_status_id FROM orders WHERE ordered_at >= '{from}'"),
            "SELECT COUNT(*) AS n FROM orders WHERE needs_attention = 1".to_string(),
            "SELECT COUNT(*) AS n FROM orders WHERE shipping_list_state = 'not_exported' AND shipment_status = 'not_shipped'".to_string(),
        ] {
            store.bench_raw_sql(&sql).await.map_err(e)?;
        }
        Ok(())
    })
    .await?;
    row("ホーム (counts, 30-day chart; 欠品 included)", ours, raw);
    r.line("raw SQL: the same reading without juchu's rules (欠品's first-come-first-served window is juchu's alone)".to_string());
    Ok(())
}

/// The customer's side on many customers: inviting every customer to
/// マイページ (a link and a mail each), a customer's 注文履歴, customer
/// messages and 受注一覧 of the orders with unread replies — each next to raw
/// SQL doing the same writing or reading.
async fn mypage_section(store: &Store, r: &mut Report) -> Result<(), String> {
    let e = |e: juchu_store::StoreError| e.to_string();
    r.header("## マイページ (milliseconds; reads: median of 15 runs)");
    r.line(format!(
        "{:<44} {:>9} {:>9} {:>7}",
        "what", "juchu", "raw SQL", "ratio"
    ));
    let mut row = |name: &str, ours: f64, raw: f64| {
        r.line(format!(
            "{name:<44} {ours:>9.1} {raw:>9.1} {:>6.2}×",
            ours / raw.max(0.001)
        ));
    };
    store
        .set_public_url("https://shop.example.jp")
        .await
        .map_err(e)?;
    // Invite every customer: ours, then the raw INSERT … SELECT of the same
    // rows (removed again).
    let t = Instant::now();
    let invited = store.invite_all_customers().await.map_err(e)?;
    let ours = t.elapsed().as_secs_f64() * 1000.0;
    let now = "2026-12-06T00:00:00Z";
    let t = Instant::now();
    for sql in [
        format!(
            "INSERT INTO customer_links (token_hash, customer_id, purpose, created_at, expires_at) SELECT 'raw' || CAST(id AS TEXT), id, 'raw', '{now}', '{now}' FROM customers WHERE email <> '' AND mail_opt_out = 0"
        ),
        format!(
            "INSERT INTO mail_outbox (template_code, to_address, subject, body, status, last_error, next_attempt_at, created_at, cc, bcc) SELECT 'raw', email, '【ショップ】マイページのご案内', family_name || ' 様 https://shop.example.jp/mypage/password/' || CAST(id AS TEXT), 'raw', '', '{now}', '{now}', '', '' FROM customers WHERE email <> '' AND mail_opt_out = 0"
        ),
    ] {
        store.bench_raw_sql(&sql).await.map_err(e)?;
    }
    let raw = t.elapsed().as_secs_f64() * 1000.0;
    for sql in [
        "DELETE FROM customer_links WHERE purpose = 'raw'",
        "DELETE FROM mail_outbox WHERE status = 'raw'",
    ] {
        store.bench_raw_sql(sql).await.map_err(e)?;
    }
    row(
        &format!("全顧客を招待 ({} customers, link + mail)", invited.invited),
        ours,
        raw,
    );
    // The customer with the most orders: 注文履歴.
    let rows = store
        .bench_raw_sql_values(
            "SELECT CAST(customer_id AS TEXT) AS v FROM orders WHERE customer_id IS NOT NULL GROUP BY customer_id ORDER BY COUNT(*) DESC, customer_id LIMIT 1",
        )
        .await
        .map_err(e)?;
    let Some(cid) = rows.first().and_then(|v| v.parse::<i64>().ok()) else {
        r.line("(no customer with orders)".into());
        return Ok(());
    };
    let count = store.customer_orders(cid).await.map_err(e)?.len();
    let ours = median_ms(15, || async {
        store.customer_orders(cid).await.map(|_| ()).map_err(e)
    })
    .await?;
    let raw = median_ms(15, || async {
        for sql in [
            format!("SELECT * FROM orders WHERE customer_id = {cid} ORDER BY ordered_at DESC, id DESC LIMIT 500"),
            format!("SELECT * FROM order_items WHERE order_id IN (SELECT id FROM orders WHERE customer_id = {cid})"),
        ] {
            store.bench_raw_sql(&sql).await.map_err(e)?;
        }
        Ok(())
    })
    .await?;
    row(
        &format!("注文履歴 of one customer ({count} orders)"),
        ours,
        raw,
    );
    // 1,000 customer replies, one per order, through the store (履歴 and all) …
    let numbers = store
        .bench_raw_sql_values(
            "SELECT order_number AS v FROM orders WHERE customer_id IS NOT NULL ORDER BY id LIMIT 1000",
        )
        .await
        .map_err(e)?;
    let actor = Actor::Customer {
        id: cid,
        name: "bench".into(),
    };
    let t = Instant::now();
    for n in &numbers {
        store
            .post_order_message(
                n,
                juchu_domain::mypage::MessageAuthor::Customer,
                "置き配でお願いします",
                false,
                &actor,
            )
            .await
            .map_err(e)?;
    }
    let ours = t.elapsed().as_secs_f64() * 1000.0;
    let t = Instant::now();
    for n in &numbers {
        store
            .bench_raw_sql(&format!("INSERT INTO order_messages (order_id, author, staff_name, body, created_at) SELECT id, 'raw', '', '置き配でお願いします', '{now}' FROM orders WHERE order_number = '{n}'"))
            .await
            .map_err(e)?;
    }
    let raw = t.elapsed().as_secs_f64() * 1000.0;
    store
        .bench_raw_sql("DELETE FROM order_messages WHERE author = 'raw'")
        .await
        .map_err(e)?;
    row(
        &format!("お客様のメッセージ ×{} (one at a time)", numbers.len()),
        ours,
        raw,
    );
    // … and 受注一覧 of the orders with unread replies.
    let masters = store.masters().await.map_err(e)?;
    let q = juchu_store::OrderQuery {
        unread_messages: true,
        page: 1,
        per_page: 50,
        ..Default::default()
    };
    let (ours, raw) = list_vs_raw(
        store,
        &masters,
        &q,
        &[
            "SELECT COUNT(*) AS n FROM (SELECT 1 FROM orders WHERE id IN (SELECT m.order_id FROM order_messages m WHERE m.author = 'customer' AND m.read_at IS NULL) LIMIT 10001) c".into(),
            "SELECT * FROM orders WHERE id IN (SELECT m.order_id FROM order_messages m WHERE m.author = 'customer' AND m.read_at IS NULL) ORDER BY ordered_at DESC, id DESC LIMIT 50".into(),
        ],
    )
    .await?;
    row("受注一覧: 未読メッセージ", ours, raw);
    Ok(())
}

/// Milliseconds of `runs` runs of `f`, sorted.
async fn timings_ms<F, Fut>(runs: usize, mut f: F) -> Result<Vec<f64>, String>
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = Result<(), String>>,
{
    let mut t = Vec::with_capacity(runs);
    for _ in 0..runs {
        let s = Instant::now();
        f().await?;
        t.push(s.elapsed().as_secs_f64() * 1000.0);
    }
    t.sort_by(|a, b| a.total_cmp(b));
    Ok(t)
}

fn p(t: &[f64], q: f64) -> f64 {
    t[((t.len() as f64 - 1.0) * q).round() as usize]
}

/// 申請: the automation over `--requests` 休止 / スキップ requests next to
/// raw UPDATEs of the same subscriptions with their 履歴 rows (and the
/// request rows), then every analytics table over `--analytics-requests`
/// requests next to its raw GROUP BY.
async fn requests_section(store: &Store, args: &BenchArgs, r: &mut Report) -> Result<(), String> {
    let e = |e: juchu_store::StoreError| e.to_string();
    let pg = store.backend == Backend::Postgres;
    let k = args.requests;
    r.header(&format!(
        "## request automation: {k} 休止 / スキップ requests (one rule each, RPA設定)"
    ));
    let actor = Actor::system("bench");
    let first = store
        .clock
        .today()
        .checked_add(jiff::Span::new().days(40))
        .map_err(|x| x.to_string())?;
    let t = Instant::now();
    let orders = subscribers(store, k, first, 29, 8_000_000).await?;
    // Requests need a customer: the order's, or the first demo customer.
    let fallback: i64 = store
        .bench_raw_sql_values("SELECT CAST(MIN(id) AS TEXT) AS v FROM customers")
        .await
        .map_err(e)?
        .first()
        .and_then(|v| v.parse().ok())
        .ok_or("no customer to send requests from")?;
    let subs: Vec<(i64, i64)> = orders
        .iter()
        .filter_map(|o| Some((o.customer_id.unwrap_or(fallback), o.subscription_id?)))
        .collect();
    r.line(format!(
        "created {} subscriptions in {:.1} s",
        subs.len(),
        t.elapsed().as_secs_f64()
    ));
    for (name, kind) in [("bench（休止）", "休止"), ("bench（スキップ）", "スキップ")]
    {
        let rule: juchu_domain::request_rule::RequestRule =
            serde_json::from_value(serde_json::json!({
                "name": name, "type": kind, "products": ["SUP-COLLAGEN-30"], "pause_base": "next"
            }))
            .map_err(|x| x.to_string())?;
        store.save_request_rule(&rule).await.map_err(e)?;
    }
    let ids = store
        .bench_insert_requests(&subs, "SUP-COLLAGEN-30")
        .await
        .map_err(e)?;
    store.analyze().await.map_err(e)?;
    let t = Instant::now();
    let raw_n = store.bench_raw_request_apply(&ids).await.map_err(e)?;
    let raw = t.elapsed();
    store
        .set_request_automation(true, &actor)
        .await
        .map_err(e)?;
    let t = Instant::now();
    let report = store.process_requests(k + 10).await.map_err(e)?;
    let ours = t.elapsed();
    r.line(format!(
        "{:<44} {:>9} {:>10} {:>12}",
        "", "requests", "seconds", "requests/s"
    ));
    r.line(format!(
        "{:<44} {:>9} {:>10.2} {:>12.0}",
        "raw SELECT + UPDATEs + 履歴 rows (rolled back)",
        raw_n,
        raw.as_secs_f64(),
        rate(raw_n, raw)
    ));
    r.line(format!(
        "{:<44} {:>9} {:>10.2} {:>12.0}",
        "juchu automation (rules, pipeline, 履歴)",
        report.completed,
        ours.as_secs_f64(),
        rate(report.completed, ours)
    ));
    r.line(format!(
        "ratio juchu / raw: {:.2}× (goal ≤ 3×); errors {}, refused {}",
        ours.as_secs_f64() / raw.as_secs_f64().max(1e-9),
        report.errors,
        report.refused
    ));
    if report.completed != k {
        return Err(format!(
            "the automation completed {} of {k} requests",
            report.completed
        ));
    }

    let n = args
        .analytics_requests
        .unwrap_or(if pg { 1_000_000 } else { 200_000 });
    r.header(&format!(
        "## request analytics over {n} more requests (milliseconds, 20 runs)"
    ));
    let t = Instant::now();
    store.bench_insert_analytics_requests(n).await.map_err(e)?;
    store.analyze().await.map_err(e)?;
    r.line(format!(
        "made {n} requests in {:.1} s",
        t.elapsed().as_secs_f64()
    ));
    let month_from = "2025-06-01"
        .parse()
        .map_err(|x: jiff::Error| x.to_string())?;
    let month_to = "2025-06-30"
        .parse()
        .map_err(|x: jiff::Error| x.to_string())?;
    let raw_sql: &[(&str, &str)] = &[
        (
            "by_product",
            "SELECT product, COUNT(*) AS n FROM requests GROUP BY product",
        ),
        (
            "by_operator",
            "SELECT operator_id, COUNT(*) AS n FROM requests GROUP BY operator_id",
        ),
        (
            "by_type",
            "SELECT request_type, offer, form_id, COUNT(*) AS n FROM requests GROUP BY request_type, offer, form_id",
        ),
        (
            "by_pause_period",
            "SELECT period, COUNT(*) AS n FROM requests WHERE request_type = '休止' GROUP BY period",
        ),
        (
            "by_cycle_period",
            "SELECT period, COUNT(*) AS n FROM requests WHERE request_type = 'サイクル変更' GROUP BY period",
        ),
        (
            "by_status",
            "SELECT status, COUNT(*) AS n FROM requests GROUP BY status",
        ),
        (
            "by_customer",
            "SELECT customer_id, COUNT(*) AS n FROM requests GROUP BY customer_id ORDER BY COUNT(*) DESC LIMIT 50",
        ),
        (
            "by_answer",
            "SELECT a.value, COUNT(*) AS n FROM request_answers a JOIN requests r ON r.id = a.request_id WHERE a.name = 'col_5' GROUP BY a.value",
        ),
    ];
    r.line(format!(
        "{:<18} {:>9} {:>9} {:>9} {:>9} {:>9} {:>12}",
        "table", "p50", "p95", "raw p50", "ratio", "30 days", "30 days p95"
    ));
    for (key, raw) in raw_sql {
        let all = juchu_store::requests::RequestQuery::default();
        let month = juchu_store::requests::RequestQuery {
            received_from: Some(month_from),
            received_to: Some(month_to),
            ..Default::default()
        };
        let run = |q: juchu_store::requests::RequestQuery| async move {
            if *key == "by_answer" {
                store
                    .answer_breakdown(&q, "col_5")
                    .await
                    .map(|_| ())
                    .map_err(e)
            } else {
                store.request_table(&q, key).await.map(|_| ()).map_err(e)
            }
        };
        let ours = timings_ms(20, || run(all.clone())).await?;
        let raw_t = timings_ms(20, || async {
            store.bench_raw_sql(raw).await.map(|_| ()).map_err(e)
        })
        .await?;
        let monthly = timings_ms(20, || run(month.clone())).await?;
        r.line(format!(
            "{:<18} {:>9.1} {:>9.1} {:>9.1} {:>8.2}× {:>9.1} {:>12.1}",
            key,
            p(&ours, 0.5),
            p(&ours, 0.95),
            p(&raw_t, 0.5),
            p(&ours, 0.5) / p(&raw_t, 0.5).max(1e-9),
            p(&monthly, 0.5),
            p(&monthly, 0.95)
        ));
    }
    let outcomes = timings_ms(5, || async {
        store
            .request_outcomes(&Default::default(), 3)
            .await
            .map(|_| ())
            .map_err(e)
    })
    .await?;
    r.line(format!(
        "outcomes (next order, paid, cancelled within 3, revenue): p50 {:.1} ms, max {:.1} ms (5 runs)",
        p(&outcomes, 0.5),
        p(&outcomes, 1.0)
    ));
    Ok(())
}
