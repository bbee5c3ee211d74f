//! `/metrics` (Prometheus text format) and `/readyz`.
//!
//! HTTP requests are counted and timed per route *pattern* (`/api/v1/orders/{id}`,
//! never the concrete path, so the number of series stays bounded); queue
//! depths and workers are read from the database when scraped, so every
//! `juchu serve` reports the same shared queues.

use crate::AppState;
use axum::extract::{MatchedPath, Request, State};
use axum::http::{StatusCode, header};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use prometheus_client::encoding::EncodeLabelSet;
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::gauge::Gauge;
use prometheus_client::metrics::histogram::{Histogram, exponential_buckets};
use prometheus_client::registry::Registry;
use std::time::Instant;

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct RequestLabels {
    method: String,
    route: String,
    status: String,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct RouteLabels {
    method: String,
    route: String,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct QueueLabels {
    queue: String,
}

/// The process's HTTP metrics and the gauges filled at scrape time.
pub struct HttpMetrics {
    registry: Registry,
    requests: Family<RequestLabels, Counter>,
    latency: Family<RouteLabels, Histogram>,
    queues: Family<QueueLabels, Gauge>,
    workers: Gauge,
    database_up: Gauge,
}

impl Default for HttpMetrics {
    fn default() -> Self {
        Self::new()
    }
}

impl HttpMetrics {
    pub fn new() -> Self {
        let mut registry = Registry::with_prefix("juchu");
        let requests = Family::<RequestLabels, Counter>::default();
        let latency = Family::<RouteLabels, Histogram>::new_with_constructor(|| {
            // 1 ms … ~16 s
            Histogram::new(exponential_buckets(0.001, 2.0, 15))
        });
        let queues = Family::<QueueLabels, Gauge>::default();
        let workers = Gauge::default();
        let database_up = Gauge::default();
        registry.register(
            "http_requests",
            "HTTP requests answered, by route pattern and status",
            requests.clone(),
        );
        registry.register(
            "http_request_duration_seconds",
            "Time to answer HTTP requests, by route pattern",
            latency.clone(),
        );
        registry.register(
            "queue_depth",
            "Items waiting: jobs, mail, line, payments, webhooks (and webhooks_failed: given up), requests for the automation",
            queues.clone(),
        );
        registry.register(
            "workers_alive",
            "Worker processes that reported in the last minute",
            workers.clone(),
        );
        registry.register(
            "database_up",
            "1 when the database answered the scrape's queries",
            database_up.clone(),
        );
        HttpMetrics {
            registry,
            requests,
            latency,
            queues,
            workers,
            database_up,
        }
    }

    fn observe(&self, method: &str, route: &str, status: u16, seconds: f64) {
        self.requests
            .get_or_create(&RequestLabels {
                method: method.to_string(),
                route: route.to_string(),
                status: status.to_string(),
            })
            .inc();
        self.latency
            .get_or_create(&RouteLabels {
                method: method.to_string(),
                route: route.to_string(),
            })
            .observe(seconds);
    }
}

/// Counts and times every request (middleware).
pub async fn track(State(st): State<AppState>, req: Request, next: Next) -> Response {
    let started = Instant::now();
    let method = req.method().as_str().to_string();
    let route = req
        .extensions()
        .get::<MatchedPath>()
        .map(|p| p.as_str().to_string())
        .unwrap_or_else(|| "unmatched".into());
    let response = next.run(req).await;
    st.metrics.observe(
        &method,
        &route,
        response.status().as_u16(),
        started.elapsed().as_secs_f64(),
    );
    response
}

/// How recently a worker must have reported to count as alive.
const WORKER_FRESH_SECS: i64 = 60;

fn fresh_since(st: &AppState) -> String {
    juchu_domain::time::format_ts(
        st.store
            .clock
            .now()
            .checked_sub(jiff::SignedDuration::from_secs(WORKER_FRESH_SECS))
            .unwrap_or(jiff::Timestamp::UNIX_EPOCH),
    )
}

/// `/metrics`: Prometheus text exposition.
pub async fn metrics(State(st): State<AppState>) -> Response {
    let m = &st.metrics;
    let depths = match (
        st.store.queue_depths().await,
        st.store.requests_awaiting_automation().await,
    ) {
        (Ok(mut d), Ok(requests)) => {
            d.push(("requests", requests));
            Ok(d)
        }
        (Err(e), _) | (_, Err(e)) => Err(e),
    };
    let workers = st.store.live_workers(&fresh_since(&st)).await;
    m.database_up
        .set(i64::from(depths.is_ok() && workers.is_ok()));
    if let Ok(depths) = depths {
        for (queue, n) in depths {
            m.queues
                .get_or_create(&QueueLabels {
                    queue: queue.to_string(),
                })
                .set(n);
        }
    }
    if let Ok(w) = workers {
        m.workers.set(w.len() as i64);
    }
    let mut body = String::new();
    if let Err(e) = prometheus_client::encoding::text::encode(&mut body, &m.registry) {
        tracing::error!(error = %e, "metrics encoding failed");
        return StatusCode::INTERNAL_SERVER_ERROR.into_response();
    }
    (
        [(
            header::CONTENT_TYPE,
            "application/openmetrics-text; version=1.0.0; charset=utf-8",
        )],
        body,
    )
        .into_response()
}

/// `/readyz`: ready to take traffic when the database answers and (when this
/// process is expected to have workers) a worker reported in the last
/// minute. JSON says which check failed.
pub async fn readyz(State(st): State<AppState>) -> Response {
    let database = st.store.ping().await;
    let workers = if database {
        st.store
            .live_workers(&fresh_since(&st))
            .await
            .unwrap_or_default()
    } else {
        vec![]
    };
    let workers_ok = !st.require_workers || !workers.is_empty();
    let ready = database && workers_ok;
    let body = serde_json::json!({
        "ready": ready,
        "database": if database { "ok" } else { "unreachable" },
        "workers": workers.iter().map(|w| serde_json::json!({
            "worker": w.worker, "loops": w.loops, "seen_at": w.seen_at,
        })).collect::<Vec<_>>(),
        "workers_check": if workers_ok { "ok" } else { "no worker reported in the last minute" },
    });
    (
        if ready {
            StatusCode::OK
        } else {
            StatusCode::SERVICE_UNAVAILABLE
        },
        axum::Json(body),
    )
        .into_response()
}
