//! The OpenAPI document, generated from the handler and body types with utoipa, and an
//! offline docs page (embedded in the binary, no external URLs) that renders it.

use std::sync::OnceLock;

use axum::Router;
use axum::http::header;
use axum::response::{Html, IntoResponse};
use axum::routing::get;
use utoipa::openapi::security::{HttpAuthScheme, HttpBuilder, SecurityScheme};
use utoipa::{Modify, OpenApi};

use crate::state::AppState;
use crate::{error, kserve, ops, v1};

/// The API description.
#[derive(Debug, OpenApi)]
#[openapi(
    info(
        title = "han-server",
        description = "Serves the han zoo (Han-layer classifiers, Yu & Zhang, arXiv:2106.04088): KServe V2 / Open Inference Protocol under /v2, a friendly JSON API under /v1. Errors are {\"error\", \"error_type\"}. With an API key set, model routes need Authorization: Bearer <key>."
    ),
    paths(
        v1::list_models, v1::get_model, v1::predict,
        kserve::server_metadata, kserve::model_metadata, kserve::model_version_metadata, kserve::model_ready,
        kserve::model_version_ready, kserve::infer, kserve::infer_version, kserve::repository_index,
        ops::live, ops::ready, ops::metrics,
    ),
    components(schemas(error::ErrorBody)),
    tags(
        (name = "json", description = "Friendly JSON API: model cards and top-k predictions."),
        (name = "kserve", description = "KServe V2 / Open Inference Protocol (REST), with the classification and binary tensor data extensions."),
        (name = "health", description = "Liveness and readiness (never need an API key)."),
        (name = "operations", description = "Prometheus metrics (never need an API key)."),
    ),
    modifiers(&BearerAuth)
)]
pub struct ApiDoc;

struct BearerAuth;

impl Modify for BearerAuth {
    fn modify(&self, openapi: &mut utoipa::openapi::OpenApi) {
        if let Some(c) = openapi.components.as_mut() {
            c.add_security_scheme("bearer", SecurityScheme::Http(HttpBuilder::new().scheme(HttpAuthScheme::Bearer).build()));
        }
    }
}

/// The OpenAPI document as JSON (built once).
pub fn openapi_json() -> &'static str {
    static JSON: OnceLock<String> = OnceLock::new();
    JSON.get_or_init(|| {
        let mut doc = ApiDoc::openapi();
        doc.info.version = env!("CARGO_PKG_VERSION").into();
        doc.to_pretty_json().unwrap_or_else(|e| format!("{{\"error\": \"{e}\"}}"))
    })
}

/// The docs page.
pub const DOCS_HTML: &str = include_str!("../assets/docs.html");

async fn openapi() -> impl IntoResponse {
    ([(header::CONTENT_TYPE, "application/json")], openapi_json())
}

async fn docs() -> Html<&'static str> {
    Html(DOCS_HTML)
}

/// `GET /openapi.json` and `GET /docs`.
pub fn routes() -> Router<AppState> {
    Router::new().route("/openapi.json", get(openapi)).route("/docs", get(docs))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_document_lists_every_route_and_the_page_has_no_external_urls() {
        let doc: serde_json::Value = serde_json::from_str(openapi_json()).expect("valid JSON");
        let paths = doc["paths"].as_object().expect("paths");
        for p in ["/v1/models/{name}/predict", "/v2/models/{name}/infer", "/v2/health/ready", "/v2/repository/index"] {
            assert!(paths.contains_key(p), "{p} missing");
        }
        assert!(!DOCS_HTML.contains("http://") && !DOCS_HTML.contains("https://") && !DOCS_HTML.contains("//cdn"));
    }
}
