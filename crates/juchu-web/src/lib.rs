//! HTTP edge of juchu: the JSON API (`/api/v1`, OpenAPI at `/api/openapi.json`),
//! the Japanese admin UI, and `/healthz`.

pub mod api;
pub mod auth;
pub mod dto;
pub mod error;
mod job_files;
pub mod openapi;
pub mod query;
pub mod ui;
mod views;

use axum::Router;
use axum::extract::State;
use axum::http::StatusCode;
use axum::routing::get;
use juchu_store::Store;
use std::net::SocketAddr;
use std::sync::Arc;
use tokio::net::TcpListener;

/// Shared by every handler; cheap to clone.
#[derive(Clone)]
pub struct AppState {
    pub store: Store,
    pub login_limiter: Arc<auth::LoginLimiter>,
}

impl AppState {
    pub fn new(store: Store) -> Self {
        AppState {
            store,
            login_limiter: Arc::new(auth::LoginLimiter::default()),
        }
    }
}

async fn healthz(State(st): State<AppState>) -> (StatusCode, &'static str) {
    if st.store.ping().await {
        (StatusCode::OK, "ok")
    } else {
        (StatusCode::SERVICE_UNAVAILABLE, "store unreachable")
    }
}

pub fn router(state: AppState) -> Router {
    use axum::routing::{get as g, post as p};
    let api = Router::new()
        .route("/orders", g(api::list_orders).post(api::create_order))
        .route(
            "/orders/{order_number}",
            g(api::get_order).patch(api::patch_order),
        )
        .route("/orders/{order_number}/history", g(api::order_history))
        .route(
            "/customers",
            g(api::list_customers).post(api::create_customer),
        )
        .route(
            "/customers/{id}",
            g(api::get_customer).patch(api::patch_customer),
        )
        .route("/products", g(api::list_products).post(api::create_product))
        .route(
            "/products/{code}",
            g(api::get_product).put(api::put_product),
        )
        .route(
            "/handling-statuses",
            g(api::list_handling_statuses).post(api::create_handling_status),
        )
        .route(
            "/handling-statuses/{id}",
            axum::routing::put(api::put_handling_status),
        )
        .route(
            "/payment-methods",
            g(api::list_payment_methods).post(api::create_payment_method),
        )
        .route(
            "/payment-methods/{id}",
            axum::routing::put(api::put_payment_method),
        )
        .route("/carriers", g(api::list_carriers).post(api::create_carrier))
        .route("/carriers/{id}", axum::routing::put(api::put_carrier))
        .route("/order-labels", g(api::list_labels).post(api::create_label))
        .route("/order-labels/{id}", axum::routing::put(api::put_label))
        .route("/api-tokens", p(api::create_api_token))
        .route("/subscriptions", g(api::subscriptions::list_subscriptions))
        .route(
            "/subscriptions/{id}",
            g(api::subscriptions::get_subscription).patch(api::subscriptions::patch_subscription),
        )
        .route("/subscriptions/{id}/skip", p(api::subscriptions::skip))
        .route("/subscriptions/{id}/pause", p(api::subscriptions::pause))
        .route(
            "/subscriptions/{id}/recalculate",
            p(api::subscriptions::recalculate),
        )
        .route(
            "/subscriptions/{id}/orders",
            g(api::subscriptions::subscription_orders).post(api::subscriptions::create_order_now),
        )
        .route(
            "/subscriptions/{id}/history",
            g(api::subscriptions::subscription_history),
        )
        .route("/subscription-reasons", g(api::subscriptions::reasons))
        .route(
            "/automation-rules",
            g(api::automation::list_rules).post(api::automation::create_rule),
        )
        .route("/automation-rules/dry-run", p(api::automation::dry_run))
        .route("/mail-templates", g(api::mail::list_templates))
        .route(
            "/mail-templates/{code}",
            axum::routing::put(api::mail::put_template),
        )
        .route("/orders/{order_number}/mails", g(api::mail::order_mails))
        .route("/mail-templates/{code}/preview", p(api::mail::preview))
        .route("/blacklist/rescan", p(api::blacklist::rescan))
        .route("/jobs", g(api::jobs::list_jobs).post(api::jobs::create_job))
        .route("/jobs/{id}", g(api::jobs::get_job))
        .route("/jobs/{id}/cancel", p(api::jobs::cancel_job))
        .route("/jobs/{id}/items", g(api::jobs::job_items))
        .route("/jobs/{id}/result", g(api::jobs::job_result))
        .route(
            "/csv-formats",
            g(api::jobs::list_csv_formats).post(api::jobs::create_csv_format),
        )
        .route("/csv-formats/columns", g(api::jobs::csv_columns))
        .route("/csv-formats/import", p(api::jobs::import_csv_format))
        .route(
            "/csv-formats/{id}",
            axum::routing::put(api::jobs::put_csv_format).delete(api::jobs::delete_csv_format),
        )
        .route(
            "/document-formats",
            g(api::documents::list_document_formats).post(api::documents::create_document_format),
        )
        .route(
            "/document-formats/{id}",
            axum::routing::put(api::documents::put_document_format)
                .delete(api::documents::delete_document_format),
        )
        .route(
            "/blacklist-reasons",
            g(api::blacklist::list_reasons).post(api::blacklist::create_reason),
        )
        .route(
            "/blacklist-reasons/{id}",
            axum::routing::delete(api::blacklist::delete_reason),
        )
        .route(
            "/blacklist-conditions",
            g(api::blacklist::list_conditions).post(api::blacklist::create_condition),
        )
        .route(
            "/blacklist-conditions/{id}",
            axum::routing::put(api::blacklist::put_condition)
                .delete(api::blacklist::delete_condition),
        )
        .route(
            "/shop-settings/logo",
            axum::routing::put(api::mail::put_shop_logo)
                .get(api::mail::get_shop_logo)
                .delete(api::mail::delete_shop_logo),
        )
        .route(
            "/shop-settings",
            g(api::mail::get_shop_settings).put(api::mail::put_shop_settings),
        )
        .route(
            "/orders/{order_number}/payment-requests",
            g(api::payments::list_payment_requests).post(api::payments::request_payment),
        )
        .route(
            "/payment-notifications",
            p(api::payments::payment_notification),
        )
        .route(
            "/automation-rules/presets",
            p(api::automation::load_presets),
        )
        .route(
            "/automation-rules/{id}",
            axum::routing::put(api::automation::put_rule).delete(api::automation::delete_rule),
        )
        .fallback(|| async {
            error::ApiError::new(
                StatusCode::NOT_FOUND,
                "not_found",
                "そのAPIはありません",
                None,
            )
        });
    Router::new()
        .route("/healthz", get(healthz))
        .route("/api/openapi.json", get(openapi::openapi_json))
        .nest("/api/v1", api)
        .merge(ui::routes())
        .route("/login", g(ui::login_page).post(ui::login_submit))
        .route("/logout", p(ui::logout))
        .with_state(state)
}

/// A bound, not yet running server: tests bind port 0 and read [`Application::port`].
pub struct Application {
    listener: TcpListener,
    state: AppState,
}

impl Application {
    pub async fn bind(addr: &str, state: AppState) -> std::io::Result<Application> {
        let listener = TcpListener::bind(addr).await?;
        Ok(Application { listener, state })
    }
    pub fn local_addr(&self) -> SocketAddr {
        self.listener
            .local_addr()
            .unwrap_or_else(|_| SocketAddr::from(([127, 0, 0, 1], 0)))
    }
    pub fn port(&self) -> u16 {
        self.local_addr().port()
    }
    pub async fn run(self) -> std::io::Result<()> {
        // The peer address feeds the per-client login limit.
        axum::serve(
            self.listener,
            router(self.state).into_make_service_with_connect_info::<SocketAddr>(),
        )
        .await
    }
}
