//! Pages for people: `GET /` serves the demo page (draw a digit, click the checkerboard).
//!
//! Its assets are embedded in the binary (no CDN; works offline), and it talks to the server
//! only through the public JSON API (`/v1/models`, `/v1/models/{name}/predict`), so it is
//! also an example client.

use axum::Router;
use axum::http::header;
use axum::response::{Html, IntoResponse};
use axum::routing::get;

use crate::state::AppState;

const INDEX_HTML: &str = include_str!("../assets/index.html");
const APP_JS: &str = include_str!("../assets/app.js");
const STYLE_CSS: &str = include_str!("../assets/style.css");

/// The routes of this module, merged into [`crate::app`] outside the API key.
pub fn routes() -> Router<AppState> {
    Router::new().route("/", get(index)).route("/assets/app.js", get(app_js)).route("/assets/style.css", get(style_css))
}

async fn index() -> Html<&'static str> {
    Html(INDEX_HTML)
}

async fn app_js() -> impl IntoResponse {
    ([(header::CONTENT_TYPE, "text/javascript; charset=utf-8")], APP_JS)
}

async fn style_css() -> impl IntoResponse {
    ([(header::CONTENT_TYPE, "text/css; charset=utf-8")], STYLE_CSS)
}
