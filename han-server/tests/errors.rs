//! Every error status of the table, through `app(state)` without a socket: each answer has the
//! JSON body `{"error", "error_type"}` and the documented status.
#![allow(clippy::unwrap_used)]

mod common;

use std::sync::Arc;
use std::time::Duration;

use axum::body::Body;
use axum::http::Request;
use common::*;
use han_server::model::Model;
use han_server::queue::BatchPolicy;
use han_server::{AppState, Settings};
use serde_json::json;

fn predict(name: &str) -> String {
    format!("/v1/models/{name}/predict")
}

fn infer(name: &str) -> String {
    format!("/v2/models/{name}/infer")
}

#[tokio::test]
async fn malformed_json_is_400() {
    let dir = models_dir();
    let state = state_for(dir.path(), Settings::default());
    for body in ["{", "{\"input\": [1, 2", "", "not json", "{\"input\": [1,,2]}"] {
        post_raw(&state, &predict(CHECKER), "application/json", body).await.assert_error(400, "malformed_json");
        post_raw(&state, &infer(CHECKER), "application/json", body).await.assert_error(400, "malformed_json");
    }
    let deep = "[".repeat(10_000) + &"]".repeat(10_000);
    post_raw(&state, &predict(CHECKER), "application/json", format!("{{\"input\": {deep}}}"))
        .await
        .assert_error(400, "malformed_json");
}

#[tokio::test]
async fn bad_path_encoding_and_bad_binary_header_are_400() {
    let dir = models_dir();
    let state = state_for(dir.path(), Settings::default());
    post_json(&state, "/v1/models/%FF%FE/predict", &json!({"input": [0, 0]})).await.assert_error(400, "bad_request");
    let req =
        Request::post(infer(CHECKER)).header("inference-header-content-length", "x").body(Body::from("{}")).unwrap();
    send(&state, req).await.assert_error(400, "bad_request");
    let req =
        Request::post(infer(CHECKER)).header("inference-header-content-length", "999").body(Body::from("{}")).unwrap();
    send(&state, req).await.assert_error(400, "bad_request");
}

#[tokio::test]
async fn api_key_guards_model_routes_but_not_health_metrics_or_docs() {
    let dir = models_dir();
    let state = state_for(dir.path(), Settings { api_key: Some("s3cret".into()), ..Settings::default() });
    let body = json!({"input": [0.5, -0.5]}).to_string();
    let call = |auth: Option<&'static str>| {
        let mut b = Request::post(predict(CHECKER)).header("content-type", "application/json");
        if let Some(a) = auth {
            b = b.header("authorization", a);
        }
        b.body(Body::from(body.clone())).unwrap()
    };
    let r = send(&state, call(None)).await;
    r.assert_error(401, "unauthorized");
    assert_eq!(r.headers["www-authenticate"], "Bearer");
    send(&state, call(Some("Bearer wrong"))).await.assert_error(401, "unauthorized");
    send(&state, call(Some("Basic s3cret"))).await.assert_error(401, "unauthorized");
    assert_eq!(send(&state, call(Some("Bearer s3cret"))).await.status, 200);
    get(&state, "/v1/models").await.assert_error(401, "unauthorized");
    for open in ["/v2/health/live", "/v2/health/ready", "/metrics", "/openapi.json", "/docs", "/v2"] {
        assert_eq!(get(&state, open).await.status, 200, "{open}");
    }
}

#[tokio::test]
async fn unknown_routes_models_and_versions_are_404() {
    let dir = models_dir();
    let state = state_for(dir.path(), Settings::default());
    get(&state, "/nope").await.assert_error(404, "not_found");
    let r = post_json(&state, &predict("no-such-model"), &json!({"input": [0, 0]})).await;
    r.assert_error(404, "model_not_found");
    let msg = r.json()["error"].as_str().unwrap().to_string();
    assert!(msg.contains(CHECKER) && msg.contains(DIGITS), "{msg}");
    for name in ["..", "..%2F..%2Fetc%2Fpasswd", "%2e%2e", "a%00b", &"x".repeat(5000)] {
        get(&state, &format!("/v1/models/{name}")).await.assert_error(404, "model_not_found");
        get(&state, &format!("/v2/models/{name}")).await.assert_error(404, "model_not_found");
    }
    get(&state, &format!("/v2/models/{CHECKER}/versions/2")).await.assert_error(404, "version_not_found");
    let body = json!({"inputs": [{"name": "input", "shape": [2], "datatype": "FP32", "data": [0, 0]}]});
    post_json(&state, &format!("/v2/models/{CHECKER}/versions/0/infer"), &body)
        .await
        .assert_error(404, "version_not_found");
}

#[tokio::test]
async fn wrong_method_is_405() {
    let dir = models_dir();
    let state = state_for(dir.path(), Settings::default());
    get(&state, &predict(CHECKER)).await.assert_error(405, "method_not_allowed");
    post_json(&state, "/v2/health/ready", &json!({})).await.assert_error(405, "method_not_allowed");
    send(&state, Request::delete("/v1/models").body(Body::empty()).unwrap())
        .await
        .assert_error(405, "method_not_allowed");
}

#[tokio::test]
async fn body_over_the_limit_is_413() {
    let dir = models_dir();
    let state = state_for(dir.path(), Settings { max_body_bytes: 1024, ..Settings::default() });
    let big = json!({"inputs": vec![[0.25f32, 0.5]; 200]});
    post_json(&state, &predict(CHECKER), &big).await.assert_error(413, "payload_too_large");
    let big = json!({"inputs": [{"name": "input", "shape": [200, 2], "datatype": "FP32", "data": vec![0.25f32; 400]}]});
    post_json(&state, &infer(CHECKER), &big).await.assert_error(413, "payload_too_large");
}

#[tokio::test]
async fn wrong_content_type_is_415() {
    let dir = models_dir();
    let state = state_for(dir.path(), Settings::default());
    let body = json!({"input": [0, 0]}).to_string();
    for ct in ["text/plain", "application/x-www-form-urlencoded", "application/octet-stream"] {
        post_raw(&state, &predict(CHECKER), ct, body.clone()).await.assert_error(415, "unsupported_media_type");
    }
    post_raw(&state, &infer(CHECKER), "text/plain", body.clone()).await.assert_error(415, "unsupported_media_type");
    // No content type at all is read as JSON.
    let r = send(&state, Request::post(predict(CHECKER)).body(Body::from(body)).unwrap()).await;
    assert_eq!(r.status, 200);
}

#[tokio::test]
async fn requests_that_do_not_fit_are_422_with_a_precise_type() {
    let dir = models_dir();
    let state = state_for(
        dir.path(),
        Settings { batch: BatchPolicy { max_batch_size: 4, max_delay: Duration::ZERO }, ..Settings::default() },
    );
    let t = |shape: serde_json::Value, datatype: &str, data: serde_json::Value| json!({"inputs": [{"name": "input", "shape": shape, "datatype": datatype, "data": data}]});
    let cases: Vec<(String, serde_json::Value, &str)> = vec![
        (predict(CHECKER), json!({"input": [0, 0], "extra": 1}), "invalid_request"),
        (predict(CHECKER), json!({"input": [0, 0], "top_k": 0}), "invalid_request"),
        (predict(CHECKER), json!({"input": [0, 0], "top_k": 3}), "invalid_request"),
        (predict(CHECKER), json!({"input": [0, 0], "top_k": -1}), "invalid_request"),
        (predict(CHECKER), json!({"input": [0, 0], "top_k": 1e300}), "invalid_request"),
        (predict(CHECKER), json!({"input": ["a", 0]}), "invalid_request"),
        (predict(CHECKER), json!({"input": [true, 0]}), "invalid_request"),
        (predict(CHECKER), json!({"input": [0, 0], "inputs": [[0, 0]]}), "invalid_request"),
        (predict(CHECKER), json!({}), "invalid_request"),
        (predict(CHECKER), json!([0, 0]), "invalid_request"),
        (predict(CHECKER), json!({"input": [0, 0, 0]}), "invalid_shape"),
        (predict(CHECKER), json!({"inputs": [[0, 0], [0]]}), "invalid_shape"),
        (predict(CHECKER), json!({"inputs": []}), "invalid_shape"),
        (predict(CHECKER), json!({"input": ["NaN", 0]}), "invalid_value"),
        (predict(CHECKER), json!({"input": ["Infinity", 0]}), "invalid_value"),
        (predict(CHECKER), json!({"input": [1e39, 0]}), "invalid_value"),
        (predict(CHECKER), json!({"input": [3e38, 3e38]}), "invalid_value"),
        (predict(CHECKER), json!({"inputs": vec![[0, 0]; 5]}), "batch_too_large"),
        (infer(CHECKER), json!({"inputs": []}), "invalid_request"),
        (
            infer(CHECKER),
            json!({"inputs": [{"name": "x", "shape": [2], "datatype": "FP32", "data": [0, 0]}]}),
            "invalid_request",
        ),
        (infer(CHECKER), json!({"inputs": [{"name": "input", "shape": [2], "datatype": "FP32"}]}), "invalid_request"),
        (
            infer(CHECKER),
            json!({"inputs": [{"name": "input", "shape": [-1, 2], "datatype": "FP32", "data": [0, 0]}]}),
            "invalid_request",
        ),
        (
            infer(CHECKER),
            json!({"inputs": [{"name": "input", "shape": [2], "datatype": "FP32", "data": [0, 0]}], "outputs": [{"name": "scores"}]}),
            "invalid_request",
        ),
        (
            infer(CHECKER),
            json!({"inputs": [{"name": "input", "shape": [2], "datatype": "FP32", "data": [0, 0]}], "outputs": [{"name": "logits", "parameters": {"classification": 0}}]}),
            "invalid_request",
        ),
        (
            infer(CHECKER),
            json!({"inputs": [{"name": "input", "shape": [2], "datatype": "FP32", "data": [0, 0]}], "outputs": [{"name": "logits", "parameters": {"classification": 3}}]}),
            "invalid_request",
        ),
        (infer(CHECKER), t(json!([3]), "FP32", json!([0, 0, 0])), "invalid_shape"),
        (infer(CHECKER), t(json!([1, 2]), "FP32", json!([0, 0, 0])), "invalid_shape"),
        (infer(CHECKER), t(json!([2, 2]), "FP32", json!([0, 0])), "invalid_shape"),
        (infer(CHECKER), t(json!([0, 2]), "FP32", json!([])), "invalid_shape"),
        (infer(CHECKER), t(json!([u64::MAX, u64::MAX, 2]), "FP32", json!([0, 0])), "invalid_shape"),
        (infer(CHECKER), t(json!([2]), "BYTES", json!([0, 0])), "invalid_datatype"),
        (infer(CHECKER), t(json!([2]), "fp32", json!([0, 0])), "invalid_datatype"),
        (infer(CHECKER), t(json!([2]), "UINT8", json!([300, 0])), "invalid_datatype"),
        (infer(CHECKER), t(json!([2]), "INT32", json!([0.5, 0])), "invalid_datatype"),
        (infer(CHECKER), t(json!([2]), "FP32", json!(["NaN", 0])), "invalid_value"),
        (infer(CHECKER), t(json!([2]), "FP64", json!([1e300, 0])), "invalid_value"),
        (infer(CHECKER), t(json!([5, 2]), "FP32", json!(vec![0; 10])), "batch_too_large"),
    ];
    for (uri, body, error_type) in cases {
        let r = post_json(&state, &uri, &body).await;
        assert_eq!(r.status, 422, "{uri} {body}: {}", String::from_utf8_lossy(&r.body));
        assert_eq!(r.json()["error_type"], error_type, "{uri} {body}: {}", r.json());
    }
    // Still serving afterwards.
    assert_eq!(post_json(&state, &predict(CHECKER), &json!({"input": [0.1, 0.2]})).await.status, 200);
}

fn wrapped(dir: &std::path::Path, name: &str, sleep: Duration, panic: bool) -> Arc<dyn Model> {
    Arc::new(Wrapped { inner: classifier(dir, name), sleep, panic })
}

#[tokio::test]
async fn concurrency_over_the_limit_is_429_at_once() {
    let dir = models_dir();
    let settings = Settings { max_concurrent_requests: 1, ..Settings::default() };
    let state =
        AppState::with_models(settings, vec![wrapped(dir.path(), CHECKER, Duration::from_millis(500), false)]).unwrap();
    let slow = {
        let state = state.clone();
        tokio::spawn(async move { post_json(&state, &predict(CHECKER), &json!({"input": [0.1, 0.2]})).await })
    };
    tokio::time::sleep(Duration::from_millis(100)).await;
    let t = std::time::Instant::now();
    let r = post_json(&state, &predict(CHECKER), &json!({"input": [0.1, 0.2]})).await;
    r.assert_error(429, "too_many_requests");
    assert!(t.elapsed() < Duration::from_millis(200), "429 took {:?}", t.elapsed());
    assert_eq!(r.headers["retry-after"], "1");
    // Health stays open under load.
    assert_eq!(get(&state, "/v2/health/ready").await.status, 200);
    assert_eq!(slow.await.unwrap().status, 200);
    assert_eq!(post_json(&state, &predict(CHECKER), &json!({"input": [0.1, 0.2]})).await.status, 200);
}

#[tokio::test]
async fn a_panicking_model_is_500_without_details_and_the_server_keeps_serving() {
    let dir = models_dir();
    let models = vec![
        wrapped(dir.path(), CHECKER, Duration::ZERO, true),
        Arc::new(classifier(dir.path(), DIGITS)) as Arc<dyn Model>,
    ];
    let state = AppState::with_models(Settings::default(), models).unwrap();
    for _ in 0..3 {
        let r = post_json(&state, &predict(CHECKER), &json!({"input": [0.1, 0.2]})).await;
        r.assert_error(500, "internal");
        assert!(!String::from_utf8_lossy(&r.body).contains("forced panic"));
    }
    let r = post_json(&state, &predict(DIGITS), &json!({"input": vec![0.5; 784]})).await;
    assert_eq!(r.status, 200);
}

#[tokio::test]
async fn not_ready_and_shutting_down_are_503() {
    let state = AppState::new(Settings::default());
    get(&state, "/v2/health/ready").await.assert_error(503, "not_ready");
    post_json(&state, &predict(CHECKER), &json!({"input": [0, 0]})).await.assert_error(503, "not_ready");
    get(&state, "/v1/models").await.assert_error(503, "not_ready");
    assert_eq!(get(&state, "/v2/health/live").await.status, 200);

    let dir = models_dir();
    let state = state_for(dir.path(), Settings::default());
    state.begin_shutdown();
    get(&state, "/v2/health/ready").await.assert_error(503, "shutting_down");
    post_json(&state, &predict(CHECKER), &json!({"input": [0, 0]})).await.assert_error(503, "shutting_down");
    get(&state, &format!("/v2/models/{CHECKER}/ready")).await.assert_error(503, "shutting_down");
    assert_eq!(get(&state, "/v2/health/live").await.status, 200);
}

#[tokio::test]
async fn a_request_over_the_time_limit_is_504() {
    let dir = models_dir();
    let settings = Settings { request_timeout: Duration::from_millis(100), ..Settings::default() };
    let state =
        AppState::with_models(settings, vec![wrapped(dir.path(), CHECKER, Duration::from_millis(400), false)]).unwrap();
    let t = std::time::Instant::now();
    post_json(&state, &predict(CHECKER), &json!({"input": [0.1, 0.2]})).await.assert_error(504, "timeout");
    assert!(t.elapsed() < Duration::from_millis(350));
}
