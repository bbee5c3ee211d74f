//! HTTP edge of juchu: the JSON API (`/api/v1`, OpenAPI at `/api/openapi.json`),
//! the Japanese admin UI, and `/healthz`.
//!
//! One folder per business area (`orders/`, `customers/`, `masters/`,
//! `subscriptions/`, `automation/`, `mail/`, `blacklist/`, `payments/`,
//! `documents/`, `jobs/`, `staff/`), each with `api.rs` and/or `ui.rs`; the
//! routes of every area are put together here, once.
//!
//! Floors (a module imports only from its own floor or below; no circles):
//! 1. `error` (the API's error type), `page` (rendering, the error page), `dto`,
//!    `query` — shapes and parameters shared by the API and the UI.
//! 2. `auth` (sessions, tokens, roles), then `views` (navigation, refusing a
//!    post), `job_files`.
//! 3. The areas and `login`. A UI module never imports an `api` module; an area
//!    uses another only to link to it (an order's page offers the job kinds).
//! 4. `openapi`, and this file's router.

pub mod auth;
pub mod automation;
pub mod blacklist;
pub mod customers;
pub mod documents;
pub mod dto;
pub mod error;
mod job_files;
pub mod jobs;
mod login;
pub mod mail;
pub mod masters;
pub mod openapi;
pub mod orders;
mod page;
pub mod payments;
pub mod query;
pub mod staff;
pub mod subscriptions;
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
        .route(
            "/orders",
            g(orders::api::list_orders).post(orders::api::create_order),
        )
        .route(
            "/orders/{order_number}",
            g(orders::api::get_order).patch(orders::api::patch_order),
        )
        .route(
            "/orders/{order_number}/history",
            g(orders::api::order_history),
        )
        .route(
            "/customers",
            g(customers::api::list_customers).post(customers::api::create_customer),
        )
        .route(
            "/customers/{id}",
            g(customers::api::get_customer).patch(customers::api::patch_customer),
        )
        .route(
            "/products",
            g(masters::api::list_products).post(masters::api::create_product),
        )
        .route(
            "/products/{code}",
            g(masters::api::get_product).put(masters::api::put_product),
        )
        .route(
            "/handling-statuses",
            g(masters::api::list_handling_statuses).post(masters::api::create_handling_status),
        )
        .route(
            "/handling-statuses/{id}",
            axum::routing::put(masters::api::put_handling_status),
        )
        .route(
            "/payment-methods",
            g(masters::api::list_payment_methods).post(masters::api::create_payment_method),
        )
        .route(
            "/payment-methods/{id}",
            axum::routing::put(masters::api::put_payment_method),
        )
        .route(
            "/carriers",
            g(masters::api::list_carriers).post(masters::api::create_carrier),
        )
        .route(
            "/carriers/{id}",
            axum::routing::put(masters::api::put_carrier),
        )
        .route(
            "/order-labels",
            g(masters::api::list_labels).post(masters::api::create_label),
        )
        .route(
            "/order-labels/{id}",
            axum::routing::put(masters::api::put_label),
        )
        .route("/api-tokens", p(staff::api::create_api_token))
        .route("/subscriptions", g(subscriptions::api::list_subscriptions))
        .route(
            "/subscriptions/{id}",
            g(subscriptions::api::get_subscription).patch(subscriptions::api::patch_subscription),
        )
        .route("/subscriptions/{id}/skip", p(subscriptions::api::skip))
        .route("/subscriptions/{id}/pause", p(subscriptions::api::pause))
        .route(
            "/subscriptions/{id}/recalculate",
            p(subscriptions::api::recalculate),
        )
        .route(
            "/subscriptions/{id}/orders",
            g(subscriptions::api::subscription_orders).post(subscriptions::api::create_order_now),
        )
        .route(
            "/subscriptions/{id}/history",
            g(subscriptions::api::subscription_history),
        )
        .route("/subscription-reasons", g(subscriptions::api::reasons))
        .route(
            "/automation-rules",
            g(automation::api::list_rules).post(automation::api::create_rule),
        )
        .route("/automation-rules/dry-run", p(automation::api::dry_run))
        .route("/mail-templates", g(mail::api::list_templates))
        .route(
            "/mail-templates/{code}",
            axum::routing::put(mail::api::put_template),
        )
        .route("/orders/{order_number}/mails", g(mail::api::order_mails))
        .route("/mail-templates/{code}/preview", p(mail::api::preview))
        .route("/blacklist/rescan", p(blacklist::api::rescan))
        .route("/jobs", g(jobs::api::list_jobs).post(jobs::api::create_job))
        .route("/jobs/{id}", g(jobs::api::get_job))
        .route("/jobs/{id}/cancel", p(jobs::api::cancel_job))
        .route("/jobs/{id}/items", g(jobs::api::job_items))
        .route("/jobs/{id}/result", g(jobs::api::job_result))
        .route(
            "/csv-formats",
            g(jobs::api::list_csv_formats).post(jobs::api::create_csv_format),
        )
        .route("/csv-formats/columns", g(jobs::api::csv_columns))
        .route("/csv-formats/import", p(jobs::api::import_csv_format))
        .route(
            "/csv-formats/{id}",
            axum::routing::put(jobs::api::put_csv_format).delete(jobs::api::delete_csv_format),
        )
        .route(
            "/document-formats",
            g(documents::api::list_document_formats).post(documents::api::create_document_format),
        )
        .route(
            "/document-formats/{id}",
            axum::routing::put(documents::api::put_document_format)
                .delete(documents::api::delete_document_format),
        )
        .route(
            "/blacklist-reasons",
            g(blacklist::api::list_reasons).post(blacklist::api::create_reason),
        )
        .route(
            "/blacklist-reasons/{id}",
            axum::routing::delete(blacklist::api::delete_reason),
        )
        .route(
            "/blacklist-conditions",
            g(blacklist::api::list_conditions).post(blacklist::api::create_condition),
        )
        .route(
            "/blacklist-conditions/{id}",
            axum::routing::put(blacklist::api::put_condition)
                .delete(blacklist::api::delete_condition),
        )
        .route(
            "/shop-settings/logo",
            axum::routing::put(mail::api::put_shop_logo)
                .get(mail::api::get_shop_logo)
                .delete(mail::api::delete_shop_logo),
        )
        .route(
            "/shop-settings",
            g(mail::api::get_shop_settings).put(mail::api::put_shop_settings),
        )
        .route(
            "/orders/{order_number}/payment-requests",
            g(payments::api::list_payment_requests).post(payments::api::request_payment),
        )
        .route(
            "/payment-notifications",
            p(payments::api::payment_notification),
        )
        .route(
            "/automation-rules/presets",
            p(automation::api::load_presets),
        )
        .route(
            "/automation-rules/{id}",
            axum::routing::put(automation::api::put_rule).delete(automation::api::delete_rule),
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
        .merge(orders::ui::routes())
        .merge(masters::ui::routes())
        .merge(subscriptions::ui::routes())
        .merge(automation::ui::routes())
        .merge(mail::ui::routes())
        .merge(blacklist::ui::routes())
        .merge(jobs::ui::routes())
        .merge(documents::ui::routes())
        .route("/login", g(login::login_page).post(login::login_submit))
        .route("/logout", p(login::logout))
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
