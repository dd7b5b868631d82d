//! The KServe V2 routes through `app(state)`, without a socket: metadata, readiness, the
//! repository index and inference (JSON and binary tensors, classification) with values equal
//! to the zoo's `Classifier`, bit for bit.
#![allow(clippy::unwrap_used)]

mod common;

use axum::body::Body;
use axum::http::Request;
use common::*;
use han_server::Settings;
use serde_json::{Value, json};

#[tokio::test]
async fn server_and_model_metadata() {
    let dir = models_dir();
    let state = state_for(dir.path(), Settings::default());
    let r = get(&state, "/v2").await;
    assert_eq!(r.status, 200);
    let v = r.json();
    assert_eq!(v["name"], "han-server");
    assert!(v["extensions"].as_array().unwrap().contains(&json!("classification")));

    for uri in [format!("/v2/models/{DIGITS}"), format!("/v2/models/{DIGITS}/versions/1")] {
        let r = get(&state, &uri).await;
        assert_eq!(r.status, 200, "{uri}");
        let m = r.json();
        assert_eq!(m["name"], DIGITS);
        assert_eq!(m["versions"], json!(["1"]));
        assert_eq!(m["inputs"], json!([{"name": "input", "datatype": "FP32", "shape": [-1, 28, 28]}]));
        assert_eq!(
            m["outputs"],
            json!([{"name": "logits", "datatype": "FP32", "shape": [-1, 10]}, {"name": "probabilities", "datatype": "FP32", "shape": [-1, 10]}])
        );
    }
    get(&state, &format!("/v2/models/{DIGITS}/versions/2")).await.assert_error(404, "version_not_found");
}

#[tokio::test]
async fn health_readiness_and_repository_index() {
    let dir = models_dir();
    let state = state_for(dir.path(), Settings::default());
    assert_eq!(get(&state, "/v2/health/live").await.status, 200);
    assert_eq!(get(&state, "/v2/health/ready").await.json(), json!({"ready": true}));
    let r = get(&state, &format!("/v2/models/{CHECKER}/ready")).await;
    assert_eq!(r.json(), json!({"name": CHECKER, "ready": true}));
    assert_eq!(get(&state, &format!("/v2/models/{CHECKER}/versions/1/ready")).await.status, 200);
    get(&state, &format!("/v2/models/{CHECKER}/versions/7/ready")).await.assert_error(404, "version_not_found");

    let empty = send(&state, Request::post("/v2/repository/index").body(Body::empty()).unwrap()).await;
    let with_body = post_json(&state, "/v2/repository/index", &json!({"ready": true})).await;
    for r in [empty, with_body] {
        assert_eq!(r.status, 200);
        assert_eq!(
            r.json(),
            json!([
                {"name": CHECKER, "version": "1", "state": "READY", "reason": ""},
                {"name": DIGITS, "version": "1", "state": "READY", "reason": ""}
            ])
        );
    }
}

fn output<'a>(v: &'a Value, name: &str) -> &'a Value {
    v["outputs"]
        .as_array()
        .unwrap()
        .iter()
        .find(|o| o["name"] == name)
        .unwrap_or_else(|| panic!("no output {name} in {v}"))
}

fn f32_data(v: &Value) -> Vec<f32> {
    serde_json::from_value(v["data"].clone()).unwrap()
}

#[tokio::test]
async fn infer_matches_the_classifier_bitwise_for_every_accepted_layout() {
    let dir = models_dir();
    let state = state_for(dir.path(), Settings::default());
    let c = classifier(dir.path(), DIGITS);
    // Whole numbers 0..255, so the same request is valid as FP32, FP64 and UINT8.
    let x: Vec<f32> = values(3 * 784, 4, 0.0, 256.0).into_iter().map(f32::floor).collect();
    let want = c.run(&x).unwrap();
    let nested: Vec<Vec<Vec<f32>>> = x.chunks(784).map(|s| s.chunks(28).map(|r| r.to_vec()).collect()).collect();
    let cases = [
        json!({"id": "a-1", "inputs": [{"name": "input", "shape": [3, 28, 28], "datatype": "FP32", "data": x}]}),
        json!({"id": "a-1", "inputs": [{"name": "input", "shape": [3, 28, 28], "datatype": "FP32", "data": nested}]}),
        json!({"id": "a-1", "inputs": [{"name": "input", "shape": [3, 784], "datatype": "FP64", "data": x}]}),
        json!({"id": "a-1", "inputs": [{"name": "input", "shape": [3, 28, 28], "datatype": "UINT8", "data": x}]}),
    ];
    for (i, body) in cases.iter().enumerate() {
        for uri in [format!("/v2/models/{DIGITS}/infer"), format!("/v2/models/{DIGITS}/versions/1/infer")] {
            let r = post_json(&state, &uri, body).await;
            assert_eq!(r.status, 200, "case {i}: {}", String::from_utf8_lossy(&r.body));
            let v = r.json();
            assert_eq!(v["model_name"], DIGITS);
            assert_eq!(v["model_version"], "1");
            assert_eq!(v["id"], "a-1");
            assert_eq!(output(&v, "logits")["shape"], json!([3, 10]));
            assert_eq!(output(&v, "logits")["datatype"], "FP32");
            assert_eq!(f32_data(output(&v, "logits")), want.logits, "case {i}");
            assert_eq!(f32_data(output(&v, "probabilities")), want.probabilities, "case {i}");
        }
    }
    // One sample without the batch dimension.
    let one = &x[..784];
    for shape in [json!([28, 28]), json!([784])] {
        let r = post_json(
            &state,
            &format!("/v2/models/{DIGITS}/infer"),
            &json!({"inputs": [{"name": "input", "shape": shape, "datatype": "FP32", "data": one}]}),
        )
        .await;
        assert_eq!(r.status, 200);
        assert_eq!(f32_data(output(&r.json(), "probabilities")), c.run(one).unwrap().probabilities);
    }
}

#[tokio::test]
async fn classification_extension_returns_top_k_strings() {
    let dir = models_dir();
    let state = state_for(dir.path(), Settings::default());
    let c = classifier(dir.path(), DIGITS);
    let x = values(2 * 784, 5, 0.0, 255.0);
    let body = json!({
        "inputs": [{"name": "input", "shape": [2, 784], "datatype": "FP32", "data": x}],
        "outputs": [{"name": "probabilities", "parameters": {"classification": 3}}, {"name": "logits"}]
    });
    let r = post_json(&state, &format!("/v2/models/{DIGITS}/infer"), &body).await;
    assert_eq!(r.status, 200, "{}", String::from_utf8_lossy(&r.body));
    let v = r.json();
    assert!(v.get("id").is_none());
    let p = output(&v, "probabilities");
    assert_eq!(p["datatype"], "BYTES");
    assert_eq!(p["shape"], json!([2, 3]));
    let strings: Vec<String> = serde_json::from_value(p["data"].clone()).unwrap();
    let want: Vec<String> = c
        .predict(&x, 3)
        .unwrap()
        .into_iter()
        .flatten()
        .map(|q| format!("{}:{}:{}", q.score, q.index, q.label))
        .collect();
    assert_eq!(strings, want);
    for s in &strings {
        let parts: Vec<&str> = s.splitn(3, ':').collect();
        assert!(
            parts[0].parse::<f32>().is_ok() && parts[1].parse::<usize>().is_ok() && parts[2].starts_with("class-"),
            "{s}"
        );
    }
    assert_eq!(f32_data(output(&v, "logits")), c.run(&x).unwrap().logits);
}

#[tokio::test]
async fn binary_tensor_data_in_and_out() {
    let dir = models_dir();
    let state = state_for(dir.path(), Settings::default());
    let c = classifier(dir.path(), CHECKER);
    let x = values(2 * 5, 6, -1.0, 1.0);
    let bytes: Vec<u8> = x.iter().flat_map(|v| v.to_le_bytes()).collect();
    let header = json!({
        "inputs": [{"name": "input", "shape": [5, 2], "datatype": "FP32", "parameters": {"binary_data_size": bytes.len()}}],
        "outputs": [{"name": "probabilities", "parameters": {"binary_data": true}}, {"name": "logits", "parameters": {"binary_data": false}}]
    })
    .to_string();
    let mut body = header.clone().into_bytes();
    body.extend_from_slice(&bytes);
    let req = Request::post(format!("/v2/models/{CHECKER}/infer"))
        .header("content-type", "application/octet-stream")
        .header("inference-header-content-length", header.len())
        .body(Body::from(body))
        .unwrap();
    let r = send(&state, req).await;
    assert_eq!(r.status, 200, "{}", String::from_utf8_lossy(&r.body));
    let n: usize = r.headers["inference-header-content-length"].to_str().unwrap().parse().unwrap();
    let v: Value = serde_json::from_slice(&r.body[..n]).unwrap();
    let want = c.run(&x).unwrap();
    let p = output(&v, "probabilities");
    assert_eq!(p["parameters"]["binary_data_size"], 5 * 2 * 4);
    assert!(p.get("data").is_none());
    let probs: Vec<f32> = r.body[n..].chunks_exact(4).map(|b| f32::from_le_bytes(b.try_into().unwrap())).collect();
    assert_eq!(probs, want.probabilities);
    assert_eq!(f32_data(output(&v, "logits")), want.logits);
}
