//! The order list under load: many API clients at once on one server, next to
//! the same queries in raw SQL from as many tasks on a pool of the same size.

use super::{Report, pct};
use juchu_store::{Arg, Store};
use std::sync::Arc;
use std::time::{Duration, Instant};

/// What one side of the measurement gave: latencies of the requests that
/// started inside the measured window, failures, and the window.
struct Outcome {
    latencies: Vec<Duration>,
    failures: usize,
    first_failure: Option<String>,
    window: Duration,
}

impl Outcome {
    fn line(&mut self, name: &str) -> String {
        self.latencies.sort();
        let rps = self.latencies.len() as f64 / self.window.as_secs_f64().max(1e-9);
        let failed = match &self.first_failure {
            Some(f) => format!(" ({} failed, first: {f})", self.failures),
            None => String::new(),
        };
        format!(
            "{name:<34} {rps:>9.0} {:>9.1} {:>9.1} {:>9.1}{failed}",
            pct(&self.latencies, 0.5),
            pct(&self.latencies, 0.99),
            pct(&self.latencies, 1.0),
        )
    }
}

/// `connections` clients each sending `GET url` with its token, one after the
/// other, for `warmup + seconds`; only requests started after the warm-up count.
/// The clients run on their own thread and runtime so the server keeps the
/// caller's.
fn http_load(
    url: String,
    token: String,
    connections: usize,
    warmup: Duration,
    seconds: Duration,
) -> Result<Outcome, String> {
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .map_err(|e| e.to_string())?;
    runtime.block_on(async move {
        let client = reqwest::Client::builder()
            .pool_max_idle_per_host(connections)
            .build()
            .map_err(|e| e.to_string())?;
        let start = Instant::now();
        let measure_from = start + warmup;
        let until = measure_from + seconds;
        let mut tasks = Vec::with_capacity(connections);
        for _ in 0..connections {
            let client = client.clone();
            let url = url.clone();
            let token = token.clone();
            tasks.push(tokio::spawn(async move {
                let mut latencies = Vec::new();
                let mut failures = 0usize;
                let mut first_failure = None;
                loop {
                    let t = Instant::now();
                    if t >= until {
                        break;
                    }
                    let failure = match client.get(&url).bearer_auth(&token).send().await {
                        Ok(resp) if resp.status().is_success() => {
                            resp.bytes().await.err().map(|e| e.to_string())
                        }
                        Ok(resp) => Some(format!("HTTP {}", resp.status())),
                        Err(e) => Some(e.to_string()),
                    };
                    if t < measure_from {
                        continue;
                    }
                    match failure {
                        None => latencies.push(t.elapsed()),
                        Some(f) => {
                            failures += 1;
                            first_failure.get_or_insert(f);
                        }
                    }
                }
                (latencies, failures, first_failure)
            }));
        }
        let mut out = Outcome {
            latencies: vec![],
            failures: 0,
            first_failure: None,
            window: seconds,
        };
        for t in tasks {
            let (l, f, ff) = t.await.map_err(|e| e.to_string())?;
            out.latencies.extend(l);
            out.failures += f;
            if out.first_failure.is_none() {
                out.first_failure = ff;
            }
        }
        Ok(out)
    })
}

/// The raw side: `connections` tasks running [`Store::bench_raw_search`] (the
/// list's capped count, page, items and labels) on the store's pool.
async fn raw_load(
    store: &Store,
    where_sql: &str,
    args: Vec<Arg>,
    connections: usize,
    warmup: Duration,
    seconds: Duration,
) -> Result<Outcome, String> {
    let start = Instant::now();
    let measure_from = start + warmup;
    let until = measure_from + seconds;
    let where_sql: Arc<str> = where_sql.into();
    let mut tasks = Vec::with_capacity(connections);
    for _ in 0..connections {
        let store = store.clone();
        let where_sql = where_sql.clone();
        let args = args.clone();
        tasks.push(tokio::spawn(async move {
            let mut latencies = Vec::new();
            loop {
                let t = Instant::now();
                if t >= until {
                    break;
                }
                store.bench_raw_search(&where_sql, args.clone()).await?;
                if t >= measure_from {
                    latencies.push(t.elapsed());
                }
            }
            Ok::<_, juchu_store::StoreError>(latencies)
        }));
    }
    let mut latencies = Vec::new();
    for t in tasks {
        latencies.extend(
            t.await
                .map_err(|e| e.to_string())?
                .map_err(|e| e.to_string())?,
        );
    }
    Ok(Outcome {
        latencies,
        failures: 0,
        first_failure: None,
        window: seconds,
    })
}

/// 受注一覧 over the API under `connections` concurrent clients: requests/s
/// and latency, next to the raw queries at the same concurrency.
pub(super) async fn load_section(
    store: &Store,
    connections: usize,
    seconds: u64,
    pool: u32,
    r: &mut Report,
) -> Result<(), String> {
    let e = |e: juchu_store::StoreError| e.to_string();
    let masters = store.masters().await.map_err(e)?;
    let done = masters
        .handling_status_by_name("完了")
        .map(|s| s.id)
        .ok_or("no 対応状況 完了 to filter by")?;
    let matching = store
        .bench_raw_sql(&format!(
            "SELECT id FROM orders WHERE handling_status_id = {done}"
        ))
        .await
        .map_err(e)?;
    r.header(&format!(
        "## 受注一覧 under load: GET /api/v1/orders?per_page=50&handling_status=完了 ({matching} matches), {connections} connections, {seconds} s after a 3 s warm-up, pool of {pool}"
    ));
    r.line(format!(
        "{:<34} {:>9} {:>9} {:>9} {:>9}",
        "side", "req/s", "p50 ms", "p99 ms", "max ms"
    ));
    let app = juchu_web::Application::bind("127.0.0.1:0", juchu_web::AppState::new(store.clone()))
        .await
        .map_err(|x| x.to_string())?;
    let url = format!(
        "http://{}/api/v1/orders?per_page=50&handling_status=%E5%AE%8C%E4%BA%86",
        app.local_addr()
    );
    let server = tokio::spawn(app.run());
    let (token, _) = store
        .create_api_token("bench load", juchu_domain::access::Role::Owner)
        .await
        .map_err(e)?;
    juchu_adapters::install_tls_provider();
    let warmup = Duration::from_secs(3);
    let window = Duration::from_secs(seconds);
    let generator = std::thread::spawn(move || http_load(url, token, connections, warmup, window));
    let mut api = tokio::task::spawn_blocking(move || generator.join())
        .await
        .map_err(|x| x.to_string())?
        .map_err(|_| "the load generator panicked".to_string())??;
    server.abort();
    r.line(api.line("juchu API (HTTP)"));
    let mut raw = raw_load(
        store,
        "handling_status_id = $1",
        vec![done.into()],
        connections,
        warmup,
        window,
    )
    .await?;
    r.line(raw.line("raw SQL (same queries, no HTTP)"));
    Ok(())
}
