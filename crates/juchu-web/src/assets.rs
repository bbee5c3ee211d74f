//! What every response carries (security headers) and the few files served as
//! they are: the admin UI's script and the favicon.

use axum::Router;
use axum::extract::Request;
use axum::http::{HeaderValue, header};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use axum::routing::get;

const SCRIPT: &str = include_str!("../static/juchu.js");
const FAVICON: &[u8] = include_bytes!("../static/favicon.ico");
/// The API reference's viewer: npm `swagger-ui-dist` vendored (no download at
/// build time; see `static/swagger-ui/VERSION` and its LICENSE).
const SWAGGER_JS: &str = include_str!("../static/swagger-ui/swagger-ui-bundle.js");
const SWAGGER_CSS: &str = include_str!("../static/swagger-ui/swagger-ui.css");
const API_DOCS_JS: &str = include_str!("../static/api-docs.js");
const API_DOCS_PAGE: &str = r#"<!doctype html>
<html lang="ja"><head><meta charset="utf-8"><title>juchu API リファレンス</title>
<link rel="stylesheet" href="/static/swagger-ui/swagger-ui.css">
</head><body><div id="swagger-ui"></div>
<script src="/static/swagger-ui/swagger-ui-bundle.js"></script>
<script src="/static/api-docs.js"></script>
</body></html>"#;

fn static_file(content_type: &'static str, body: &'static str) -> Response {
    (
        [
            (header::CONTENT_TYPE, content_type),
            (header::CACHE_CONTROL, "public, max-age=300"),
        ],
        body,
    )
        .into_response()
}

/// The content security policy the pages satisfy: scripts only from
/// `/static/`, no framing (clickjacking), forms post only here. Inline
/// `style` attributes stay allowed; they carry no code.
pub const CONTENT_SECURITY_POLICY: &str = "default-src 'self'; script-src 'self'; style-src 'self' 'unsafe-inline'; img-src 'self' data:; connect-src 'self'; frame-ancestors 'none'; form-action 'self'; base-uri 'none'; object-src 'none'";

pub fn routes<S: Clone + Send + Sync + 'static>() -> Router<S> {
    Router::new()
        .route(
            "/api/docs",
            get(|| async { axum::response::Html(API_DOCS_PAGE).into_response() }),
        )
        .route(
            "/static/swagger-ui/swagger-ui-bundle.js",
            get(|| async { static_file("text/javascript; charset=utf-8", SWAGGER_JS) }),
        )
        .route(
            "/static/swagger-ui/swagger-ui.css",
            get(|| async { static_file("text/css; charset=utf-8", SWAGGER_CSS) }),
        )
        .route(
            "/static/api-docs.js",
            get(|| async { static_file("text/javascript; charset=utf-8", API_DOCS_JS) }),
        )
        .route(
            "/static/juchu.js",
            get(|| async {
                (
                    [
                        (header::CONTENT_TYPE, "text/javascript; charset=utf-8"),
                        (header::CACHE_CONTROL, "public, max-age=300"),
                    ],
                    SCRIPT,
                )
                    .into_response()
            }),
        )
        .route(
            "/favicon.ico",
            get(|| async {
                (
                    [
                        (header::CONTENT_TYPE, "image/x-icon"),
                        (header::CACHE_CONTROL, "public, max-age=86400"),
                    ],
                    FAVICON,
                )
                    .into_response()
            }),
        )
}

/// Adds the security headers to every response, and `no-store` to everything
/// but the static files: pages and API answers hold a shop's customers' data and
/// must not stay in a shared or back-button cache.
pub async fn security_headers(req: Request, next: Next) -> Response {
    let is_static = {
        let p = req.uri().path();
        p.starts_with("/static/") || p == "/favicon.ico"
    };
    let mut resp = next.run(req).await;
    let h = resp.headers_mut();
    h.insert(
        header::CONTENT_SECURITY_POLICY,
        HeaderValue::from_static(CONTENT_SECURITY_POLICY),
    );
    h.insert(header::X_FRAME_OPTIONS, HeaderValue::from_static("DENY"));
    h.insert(
        header::X_CONTENT_TYPE_OPTIONS,
        HeaderValue::from_static("nosniff"),
    );
    h.insert(
        header::REFERRER_POLICY,
        HeaderValue::from_static("same-origin"),
    );
    if !is_static && !h.contains_key(header::CACHE_CONTROL) {
        h.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    }
    resp
}
