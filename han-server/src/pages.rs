//! Pages for people: `GET /`. The demo page (draw a digit, click the checkerboard) mounts
//! here; until then `/` links to the docs and lists the served models.

use axum::Router;
use axum::extract::State;
use axum::response::Html;
use axum::routing::get;

use crate::state::AppState;

/// The routes of this module, merged into [`crate::app`] outside the API key.
pub fn routes() -> Router<AppState> {
    Router::new().route("/", get(index))
}

fn escape(s: &str) -> String {
    s.replace('&', "&amp;").replace('<', "&lt;").replace('>', "&gt;").replace('"', "&quot;")
}

async fn index(State(state): State<AppState>) -> Html<String> {
    let items: String = state
        .models()
        .map(|(name, e)| {
            let m = &e.card.metrics;
            format!(
                "<li><code>{}</code>: {} ({} parameters, test accuracy {}/{})</li>",
                escape(name),
                escape(&e.card.description),
                e.card.params.total,
                m.test_correct,
                m.test_total
            )
        })
        .collect();
    Html(format!(
        "<!doctype html><html lang=\"en\"><head><meta charset=\"utf-8\"><title>han-server</title></head>\
         <body style=\"font-family:system-ui,sans-serif;max-width:48rem;margin:2rem auto\"><h1>han-server</h1>\
         <p>Han-layer classifiers over HTTP. <a href=\"docs\">API docs</a> &middot; <a href=\"openapi.json\">openapi.json</a> &middot; \
         <a href=\"metrics\">metrics</a></p><h2>Models</h2><ul>{items}</ul></body></html>"
    ))
}
