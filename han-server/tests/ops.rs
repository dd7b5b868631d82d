//! Operations through `app(state)`: metrics, request ids, timing headers, OpenAPI, the docs
//! page and the index page.
#![allow(clippy::unwrap_used)]

mod common;

use axum::body::Body;
use axum::http::Request;
use common::*;
use han_server::Settings;
use serde_json::json;

#[tokio::test]
async fn metrics_count_requests_by_model_and_status_and_record_latencies() {
    let dir = models_dir();
    let state = state_for(dir.path(), Settings::default());
    for _ in 0..3 {
        assert_eq!(
            post_json(&state, &format!("/v1/models/{CHECKER}/predict"), &json!({"input": [0.3, 0.4]})).await.status,
            200
        );
    }
    post_json(&state, "/v1/models/secret-probe/predict", &json!({"input": [0, 0]}))
        .await
        .assert_error(404, "model_not_found");
    let r = get(&state, "/metrics").await;
    assert_eq!(r.status, 200);
    assert!(r.headers["content-type"].to_str().unwrap().starts_with("text/plain"));
    let text = String::from_utf8(r.body.to_vec()).unwrap();
    let line = text
        .lines()
        .find(|l| {
            l.starts_with("han_requests_total{")
                && l.contains(&format!("model=\"{CHECKER}\""))
                && l.contains("status=\"200\"")
                && l.contains("/predict")
        })
        .unwrap_or_else(|| panic!("no request counter in\n{text}"));
    let n: f64 = line.rsplit(' ').next().unwrap().parse().unwrap();
    assert!(n >= 3.0, "{line}");
    assert!(text.contains("model=\"(unknown)\""), "unknown names are one label");
    assert!(!text.contains("secret-probe"), "client-chosen names never become labels");
    for m in [
        "han_request_duration_seconds_bucket",
        "han_queue_duration_seconds_bucket",
        "han_inference_duration_seconds_bucket",
        "han_batch_size_bucket",
        "han_queue_depth",
        "han_models_loaded",
    ] {
        assert!(text.contains(m), "{m} missing from\n{text}");
    }
}

#[tokio::test]
async fn request_ids_are_propagated_or_generated() {
    let dir = models_dir();
    let state = state_for(dir.path(), Settings::default());
    let req = Request::get("/v2/health/live").header("x-request-id", "abc-123").body(Body::empty()).unwrap();
    assert_eq!(send(&state, req).await.headers["x-request-id"], "abc-123");
    let a = get(&state, "/v2/health/live").await.headers["x-request-id"].clone();
    let b = get(&state, "/nope").await.headers["x-request-id"].clone();
    assert_ne!(a, b);
    // A header with spaces or too long is replaced, not echoed.
    let req = Request::get("/v2/health/live").header("x-request-id", "a b").body(Body::empty()).unwrap();
    assert_ne!(send(&state, req).await.headers["x-request-id"], "a b");
}

#[tokio::test]
async fn openapi_docs_and_index_pages() {
    let dir = models_dir();
    let state = state_for(dir.path(), Settings::default());
    let r = get(&state, "/openapi.json").await;
    assert_eq!(r.status, 200);
    let doc = r.json();
    assert!(doc["openapi"].as_str().unwrap().starts_with("3."));
    let paths = doc["paths"].as_object().unwrap();
    for p in [
        "/v1/models",
        "/v1/models/{name}",
        "/v1/models/{name}/predict",
        "/v2",
        "/v2/models/{name}",
        "/v2/models/{name}/versions/{version}",
        "/v2/models/{name}/ready",
        "/v2/models/{name}/infer",
        "/v2/models/{name}/versions/{version}/infer",
        "/v2/repository/index",
        "/v2/health/live",
        "/v2/health/ready",
        "/metrics",
    ] {
        assert!(paths.contains_key(p), "{p} missing from the OpenAPI document");
    }
    assert!(doc["components"]["schemas"]["InferRequest"].is_object());
    assert!(doc["components"]["schemas"]["PredictRequest"].is_object());

    let r = get(&state, "/docs").await;
    assert_eq!(r.status, 200);
    let html = String::from_utf8(r.body.to_vec()).unwrap();
    assert!(html.contains("openapi.json"));
    assert!(!html.contains("http://") && !html.contains("https://"), "the docs page must work offline");

    let r = get(&state, "/").await;
    assert_eq!(r.status, 200);
    let html = String::from_utf8(r.body.to_vec()).unwrap();
    assert!(html.contains("assets/app.js") && html.contains("assets/style.css"));
    assert!(!html.contains("http://") && !html.contains("https://"), "the demo page must work offline");
    let r = get(&state, "/assets/app.js").await;
    assert_eq!(r.status, 200);
    assert!(String::from_utf8(r.body.to_vec()).unwrap().contains("v1/models"));
}
