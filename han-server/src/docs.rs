//! The OpenAPI document, generated from the handler and body types with utoipa, and an
//! offline docs page (embedded in the binary, no external URLs) that renders it.

use std::sync::OnceLock;

use axum::Router;
use axum::http::header;
use axum::response::{Html, IntoResponse};
use axum::routing::get;
use utoipa::openapi::security::{HttpAuthScheme, HttpBuilder, SecurityScheme};
use utoipa::{Modify, OpenApi};

use crate::error::ErrorKind;
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
        (name = "JSON API", description = "Friendly JSON API: model cards and top-k predictions."),
        (name = "KServe V2", description = "KServe V2 / Open Inference Protocol (REST), with the classification and binary tensor data extensions."),
        (name = "Health", description = "Liveness and readiness (never need an API key)."),
        (name = "Operations", description = "Prometheus metrics (never need an API key)."),
    ),
    modifiers(&BearerAuth, &ErrorResponses)
)]
pub struct ApiDoc;

struct BearerAuth;

impl Modify for BearerAuth {
    fn modify(&self, openapi: &mut utoipa::openapi::OpenApi) {
        if let Some(c) = openapi.components.as_mut() {
            c.add_security_scheme(
                "bearer",
                SecurityScheme::Http(HttpBuilder::new().scheme(HttpAuthScheme::Bearer).build()),
            );
        }
    }
}

/// Documents, on every model route, each error status the guard, the extractors and the
/// handlers can answer (from the one table, [`ErrorKind::table`]), where the handler's own
/// annotation does not already: schemathesis found undocumented 400s, 401s and 422s.
struct ErrorResponses;

impl Modify for ErrorResponses {
    fn modify(&self, openapi: &mut utoipa::openapi::OpenApi) {
        use std::collections::BTreeMap;
        use utoipa::openapi::{ContentBuilder, Ref, ResponseBuilder};

        use crate::error::ErrorKind as K;
        // Kinds that need a request body to happen.
        let body_only = [
            K::MalformedJson,
            K::PayloadTooLarge,
            K::UnsupportedMediaType,
            K::InvalidRequest,
            K::InvalidShape,
            K::InvalidDatatype,
            K::InvalidValue,
            K::BatchTooLarge,
        ];
        for (path, item) in openapi.paths.paths.iter_mut() {
            if !(path.starts_with("/v1/") || path.starts_with("/v2/models") || path.starts_with("/v2/repository")) {
                continue;
            }
            for (op, has_body) in [(item.get.as_mut(), false), (item.post.as_mut(), true)] {
                let Some(op) = op else { continue };
                let mut by_status: BTreeMap<u16, Vec<&str>> = BTreeMap::new();
                for kind in ErrorKind::ALL {
                    if kind == K::MethodNotAllowed || kind == K::NotFound || (!has_body && body_only.contains(&kind)) {
                        continue;
                    }
                    by_status.entry(kind.status().as_u16()).or_default().push(kind.error_type());
                }
                for (status, types) in by_status {
                    op.responses.responses.entry(status.to_string()).or_insert_with(|| {
                        let content = ContentBuilder::new().schema(Some(Ref::from_schema_name("ErrorBody"))).build();
                        ResponseBuilder::new()
                            .description(format!("error_type: {}", types.join(", ")))
                            .content("application/json", content)
                            .build()
                            .into()
                    });
                }
            }
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
