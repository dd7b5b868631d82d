//! Whole requests through the router (`han_server::app`, no socket) with a real bundled model:
//! fuzzed method, route, model name, content type and body. No panic, no 500, and every error
//! is the JSON error body.
#![no_main]

use std::sync::{Arc, OnceLock};

use axum::body::Body;
use axum::http::Request;
use han_server::model::Model;
use han_server::{AppState, Settings};
use libfuzzer_sys::fuzz_target;
use tower::ServiceExt;

struct Env {
    rt: tokio::runtime::Runtime,
    state: AppState,
    name: String,
}

fn env() -> &'static Env {
    static ENV: OnceLock<Env> = OnceLock::new();
    ENV.get_or_init(|| {
        let rt = tokio::runtime::Builder::new_current_thread().enable_all().build().expect("runtime");
        let dir = han_models::zoo::bundled_dir().join("hannet-digits");
        let model = han_models::zoo::Classifier::from_dir(&dir).expect("the bundled hannet-digits model");
        let name = model.name().to_string();
        let settings = Settings { max_body_bytes: 1 << 20, ..Settings::default() };
        let state = rt.block_on(async { AppState::with_models(settings, vec![Arc::new(model) as Arc<dyn Model>]) }).expect("state");
        Env { rt, state, name }
    })
}

fuzz_target!(|data: &[u8]| {
    if data.len() < 2 {
        return;
    }
    let env = env();
    let (sel, body) = (data[0], &data[1..]);
    let name = if sel & 0x80 == 0 { env.name.clone() } else { "no-such-model".to_string() };
    let (method, uri) = match sel & 0x7 {
        0 | 1 => ("POST", format!("/v1/models/{name}/predict")),
        2 | 3 => ("POST", format!("/v2/models/{name}/infer")),
        4 => ("POST", format!("/v2/models/{name}/versions/1/infer")),
        5 => ("POST", "/v2/repository/index".to_string()),
        6 => ("GET", format!("/v2/models/{name}")),
        _ => ("PUT", format!("/v1/models/{name}/predict")),
    };
    let ct = match (sel >> 3) & 0x3 {
        0 => Some("application/json"),
        1 => None,
        2 => Some("application/octet-stream"),
        _ => Some("text/plain"),
    };
    let mut req = Request::builder().method(method).uri(uri);
    if let Some(ct) = ct {
        req = req.header("content-type", ct);
    }
    if sel & 0x40 != 0 && body.len() >= 2 {
        // The binary tensor data extension: the JSON part's length.
        let n = u16::from_le_bytes([body[0], body[1]]);
        req = req.header("inference-header-content-length", n.to_string());
    }
    let req = req.body(Body::from(body.to_vec())).expect("request");
    let resp = env.rt.block_on(async { han_server::app(env.state.clone()).oneshot(req).await }).expect("infallible");
    let status = resp.status();
    assert!(!status.is_server_error(), "status {status}");
    if status.is_client_error() {
        let bytes = env.rt.block_on(axum::body::to_bytes(resp.into_body(), usize::MAX)).expect("body");
        let v: serde_json::Value = serde_json::from_slice(&bytes).expect("an error body is JSON");
        assert!(v["error_type"].is_string() && v["error"].is_string(), "{v}");
    }
});
