//! HTTP edge of juchu: the JSON API (`/api/v1`, OpenAPI at `/api/openapi.json`),
//! the Japanese admin UI (the API reference at `/api/docs`), and `/healthz`,
//! `/readyz`, `/metrics`.
//!
//! One folder per business area (`dashboard/` (ホーム), `orders/`, `customers/`, `masters/`,
//! `subscriptions/`, `automation/`, `mail/`, `blacklist/`, `payments/`, `shipments/`,
//! `documents/`, `jobs/`, `staff/`, `requests/` (申請), `webhooks/`), each with `api.rs`
//! and/or `ui.rs`; the customer's pages (`mypage/`, with their own session
//! that no staff route accepts); the routes of every area are put together
//! here, once.
//!
//! Floors (a module imports only from its own floor or below; no circles):
//! 1. `error` (the API's error type), `page` (rendering, the error page), `dto`,
//!    `query` — shapes and parameters shared by the API and the UI; `assets`
//!    (security headers, the script and the favicon).
//! 2. `auth` (sessions, tokens, roles), then `views` (navigation, refusing a
//!    post), `job_files`.
//! 3. The areas and `login`. A UI module never imports an `api` module; an area
//!    uses another only to link to it (an order's page offers the job kinds).
//! 4. `openapi`; `request_checks` (NUL characters anywhere, content types by
//!    the OpenAPI document), and this file's router.

mod assets;
pub mod auth;
pub mod automation;
pub mod blacklist;
pub mod customers;
pub mod dashboard;
pub mod documents;
pub mod dto;
pub mod error;
mod job_files;
pub mod jobs;
mod login;
pub mod mail;
pub mod masters;
pub mod metrics;
pub mod mypage;
pub mod openapi;
pub mod orders;
mod page;
pub mod payments;
pub mod query;
mod request_checks;
pub mod requests;
pub mod shipments;
pub mod staff;
pub mod stock;
pub mod subscriptions;
mod views;
pub mod webhooks;

use axum::Router;
use axum::extract::State;
use axum::http::StatusCode;
use axum::routing::get;
use juchu_store::Store;
use std::net::SocketAddr;
use tokio::net::TcpListener;
use utoipa::OpenApi;
use utoipa_axum::{router::OpenApiRouter, routes};

/// Shared by every handler; cheap to clone.
#[derive(Clone)]
pub struct AppState {
    pub store: Store,
    /// Cookies carry `Secure`: juchu is reached over HTTPS (`JUCHU_PUBLIC_URL`).
    pub secure_cookies: bool,
    /// Verifies LIFF forms' LINE ID tokens (LINE, or its sandbox).
    pub line: std::sync::Arc<dyn juchu_store::requests::links::LineLogin>,
    /// Checks a webhook endpoint's address before it is saved (SSRF).
    pub webhook_guard: std::sync::Arc<dyn juchu_store::webhooks::UrlGuard>,
    /// Request counts and latencies for `/metrics`.
    pub metrics: std::sync::Arc<metrics::HttpMetrics>,
    /// `/readyz` also needs a worker's recent heartbeat.
    pub require_workers: bool,
}

/// The guard when none is set: every endpoint URL is refused, so nothing is
/// ever sent to an address nobody checked.
struct NoUrlGuard;

impl juchu_store::webhooks::UrlGuard for NoUrlGuard {
    fn check<'a>(&'a self, _: &'a str) -> juchu_store::webhooks::CheckFuture<'a> {
        Box::pin(async {
            Err("この環境では Webhook の送信先を確認できません".to_string())
        })
    }
}

/// What answers LINE ID tokens when no LINE channel is set up: nothing can
/// be verified, so LIFF requests get 503 and nothing is stored.
struct NoLine;

impl juchu_store::requests::links::LineLogin for NoLine {
    fn verify_id_token<'a>(&'a self, _: &'a str) -> juchu_store::requests::links::LineFuture<'a> {
        Box::pin(async {
            Err(juchu_store::requests::links::LineVerifyError::Unavailable(
                "no LINE channel is configured".into(),
            ))
        })
    }
}

impl AppState {
    pub fn new(store: Store) -> Self {
        AppState {
            store,
            secure_cookies: false,
            line: std::sync::Arc::new(NoLine),
            webhook_guard: std::sync::Arc::new(NoUrlGuard),
            metrics: std::sync::Arc::new(metrics::HttpMetrics::new()),
            require_workers: false,
        }
    }
    /// `/readyz` answers 503 until a worker loop has reported (`juchu serve`
    /// runs them in its own process).
    pub fn with_required_workers(mut self, on: bool) -> Self {
        self.require_workers = on;
        self
    }
    /// Webhook endpoint URLs are checked by `guard`.
    pub fn with_webhook_guard(
        mut self,
        guard: std::sync::Arc<dyn juchu_store::webhooks::UrlGuard>,
    ) -> Self {
        self.webhook_guard = guard;
        self
    }
    /// LIFF ID tokens are verified by `line`.
    pub fn with_line(
        mut self,
        line: std::sync::Arc<dyn juchu_store::requests::links::LineLogin>,
    ) -> Self {
        self.line = line;
        self
    }
    /// The address users reach juchu at (`JUCHU_PUBLIC_URL`); `https://…`
    /// makes every cookie `Secure`.
    pub fn with_public_url(mut self, url: Option<&str>) -> Self {
        self.secure_cookies =
            url.is_some_and(|u| u.trim().to_ascii_lowercase().starts_with("https://"));
        self
    }
}

async fn healthz(State(st): State<AppState>) -> (StatusCode, &'static str) {
    if st.store.ping().await {
        (StatusCode::OK, "ok")
    } else {
        (StatusCode::SERVICE_UNAVAILABLE, "store unreachable")
    }
}

/// Every API route with its OpenAPI operation, registered once: the path
/// and method come from the handler's `#[utoipa::path]`, and the same list
/// makes the document ([`openapi::openapi`]).
pub fn api_routes() -> OpenApiRouter<AppState> {
    OpenApiRouter::with_openapi(openapi::ApiDoc::openapi())
        .routes(routes!(orders::api::list_orders, orders::api::create_order))
        .routes(routes!(orders::api::get_order, orders::api::patch_order))
        .routes(routes!(orders::api::order_history))
        .routes(routes!(
            customers::api::list_customers,
            customers::api::create_customer
        ))
        .routes(routes!(
            customers::api::get_customer,
            customers::api::patch_customer
        ))
        .routes(routes!(
            masters::api::list_products,
            masters::api::create_product
        ))
        .routes(routes!(
            masters::api::get_product,
            masters::api::put_product
        ))
        .routes(routes!(
            masters::api::list_handling_statuses,
            masters::api::create_handling_status
        ))
        .routes(routes!(masters::api::put_handling_status))
        .routes(routes!(
            masters::api::list_payment_methods,
            masters::api::create_payment_method
        ))
        .routes(routes!(masters::api::put_payment_method))
        .routes(routes!(
            masters::api::list_carriers,
            masters::api::create_carrier
        ))
        .routes(routes!(masters::api::put_carrier))
        .routes(routes!(
            masters::api::list_labels,
            masters::api::create_label
        ))
        .routes(routes!(masters::api::put_label))
        .routes(routes!(
            staff::api::list_api_tokens,
            staff::api::create_api_token
        ))
        .routes(routes!(staff::api::revoke_api_token))
        .routes(routes!(staff::api::list_staff, staff::api::create_staff))
        .routes(routes!(staff::api::patch_staff))
        .routes(routes!(staff::api::reset_staff_password))
        .routes(routes!(stock::api::list_stock))
        .routes(routes!(stock::api::put_stock))
        .routes(routes!(subscriptions::api::list_subscriptions))
        .routes(routes!(
            subscriptions::api::get_subscription,
            subscriptions::api::patch_subscription
        ))
        .routes(routes!(subscriptions::api::skip))
        .routes(routes!(subscriptions::api::pause))
        .routes(routes!(subscriptions::api::recalculate))
        .routes(routes!(subscriptions::api::replace_payment_token))
        .routes(routes!(
            subscriptions::api::subscription_orders,
            subscriptions::api::create_order_now
        ))
        .routes(routes!(subscriptions::api::subscription_history))
        .routes(routes!(subscriptions::api::reasons))
        .routes(routes!(
            automation::api::list_rules,
            automation::api::create_rule
        ))
        .routes(routes!(automation::api::dry_run))
        .routes(routes!(mail::api::list_templates))
        .routes(routes!(mail::api::put_template))
        .routes(routes!(mail::api::order_mails))
        .routes(routes!(mail::api::preview))
        .routes(routes!(blacklist::api::rescan))
        .routes(routes!(jobs::api::list_jobs, jobs::api::create_job))
        .routes(routes!(jobs::api::get_job))
        .routes(routes!(jobs::api::cancel_job))
        .routes(routes!(jobs::api::job_items))
        .routes(routes!(jobs::api::job_result))
        .routes(routes!(
            jobs::api::list_csv_formats,
            jobs::api::create_csv_format
        ))
        .routes(routes!(jobs::api::csv_columns))
        .routes(routes!(jobs::api::import_csv_format))
        .routes(routes!(
            jobs::api::put_csv_format,
            jobs::api::delete_csv_format
        ))
        .routes(routes!(
            documents::api::list_document_formats,
            documents::api::create_document_format
        ))
        .routes(routes!(
            documents::api::put_document_format,
            documents::api::delete_document_format
        ))
        .routes(routes!(
            blacklist::api::list_reasons,
            blacklist::api::create_reason
        ))
        .routes(routes!(blacklist::api::delete_reason))
        .routes(routes!(
            blacklist::api::list_conditions,
            blacklist::api::create_condition
        ))
        .routes(routes!(
            blacklist::api::put_condition,
            blacklist::api::delete_condition
        ))
        .routes(routes!(
            mail::api::put_shop_logo,
            mail::api::get_shop_logo,
            mail::api::delete_shop_logo
        ))
        .routes(routes!(
            mail::api::get_shop_settings,
            mail::api::put_shop_settings
        ))
        .routes(routes!(
            payments::api::list_payment_requests,
            payments::api::request_payment
        ))
        .routes(routes!(payments::api::payment_notification))
        // A day's shipment or payment file can be tens of megabytes.
        .merge(
            OpenApiRouter::new()
                .routes(routes!(shipments::api::shipment_import))
                .routes(routes!(shipments::api::payment_import))
                .layer(axum::extract::DefaultBodyLimit::max(
                    job_files::MAX_UPLOAD_BYTES,
                )),
        )
        .routes(routes!(
            shipments::api::list_import_formats,
            shipments::api::create_import_format
        ))
        .routes(routes!(
            shipments::api::update_import_format,
            shipments::api::delete_import_format
        ))
        .routes(routes!(
            shipments::api::get_shipping_settings,
            shipments::api::put_shipping_settings
        ))
        .routes(routes!(automation::api::load_presets))
        .routes(routes!(
            automation::api::put_rule,
            automation::api::delete_rule
        ))
        .routes(routes!(
            requests::api::list_requests,
            requests::api::create_request
        ))
        .routes(routes!(
            requests::api::get_request,
            requests::handling_api::patch_request
        ))
        .routes(routes!(requests::handling_api::rerun_request))
        .routes(routes!(requests::handling_api::apply_request))
        .routes(routes!(
            requests::handling_api::list_request_rules,
            requests::handling_api::create_request_rule
        ))
        .routes(routes!(
            requests::handling_api::put_request_rule,
            requests::handling_api::delete_request_rule
        ))
        .routes(routes!(requests::handling_api::copy_request_rule))
        .routes(routes!(requests::handling_api::dry_run_request_rule))
        .routes(routes!(requests::handling_api::get_request_automation))
        .routes(routes!(requests::handling_api::start_request_automation))
        .routes(routes!(requests::handling_api::stop_request_automation))
        .routes(routes!(
            requests::handling_api::list_request_tags,
            requests::handling_api::add_request_tag
        ))
        .routes(routes!(requests::handling_api::request_usage_csv))
        .routes(routes!(requests::handling_api::request_analytics))
        .routes(routes!(requests::api::request_webhook))
        .routes(routes!(requests::api::liff_request))
        .routes(routes!(
            requests::api::list_request_forms,
            requests::api::create_request_form
        ))
        .routes(routes!(requests::api::put_request_form))
        .routes(routes!(requests::api::copy_request_form))
        .routes(routes!(requests::api::create_request_link))
        .routes(routes!(requests::api::customer_request_file))
        .routes(routes!(
            webhooks::api::list_endpoints,
            webhooks::api::create_endpoint
        ))
        .routes(routes!(
            webhooks::api::get_endpoint,
            webhooks::api::put_endpoint,
            webhooks::api::delete_endpoint
        ))
        .routes(routes!(webhooks::api::list_deliveries))
        .routes(routes!(webhooks::api::replay))
        .routes(routes!(webhooks::api::test_delivery))
        .routes(routes!(webhooks::api::list_events))
        .routes(routes!(requests::api::invite_customer))
        .routes(routes!(requests::api::invite_all_customers))
        .routes(routes!(
            requests::api::list_messages,
            requests::api::post_message
        ))
}

async fn api_not_found() -> error::ApiError {
    error::ApiError::new(
        StatusCode::NOT_FOUND,
        "not_found",
        "そのAPIはありません",
        None,
    )
}

pub fn router(state: AppState) -> Router {
    use axum::routing::{get as g, post as p};
    Router::new()
        .route("/healthz", get(healthz))
        .route("/readyz", get(metrics::readyz))
        .route("/metrics", get(metrics::metrics))
        .route("/api/openapi.json", get(openapi::openapi_json))
        .merge(
            api_routes()
                .split_for_parts()
                .0
                .route_layer(axum::middleware::from_fn(
                    request_checks::check_content_type,
                ))
                .layer(axum::middleware::from_fn(error::json_errors)),
        )
        // Any other path under the API answers in JSON, not with a page.
        .route("/api/v1/{*rest}", axum::routing::any(api_not_found))
        .merge(dashboard::ui::routes())
        .merge(orders::ui::routes())
        .merge(orders::desk::routes())
        .merge(orders::entry::routes())
        .merge(masters::ui::routes())
        .merge(subscriptions::ui::routes())
        .merge(automation::ui::routes())
        .merge(mail::ui::routes())
        .merge(blacklist::ui::routes())
        .merge(jobs::ui::routes())
        .merge(shipments::routes())
        .merge(documents::ui::routes())
        .merge(staff::ui::routes())
        .merge(customers::postal::routes())
        .merge(stock::ui::routes())
        .merge(requests::ui::routes())
        .merge(requests::inbox::routes())
        .merge(requests::automation_ui::routes())
        .merge(requests::analytics_ui::routes())
        .merge(webhooks::ui::routes())
        .merge(mypage::routes())
        .route("/login", g(login::login_page).post(login::login_submit))
        .route("/logout", p(login::logout))
        .merge(assets::routes())
        .layer(axum::middleware::from_fn_with_state(
            state.clone(),
            metrics::track,
        ))
        .with_state(state)
        .layer(axum::middleware::from_fn(request_checks::refuse_nul))
        .layer(axum::middleware::from_fn(assets::security_headers))
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
