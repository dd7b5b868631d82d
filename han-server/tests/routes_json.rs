//! The friendly JSON API through `app(state)`, without a socket: cards and predictions equal
//! what the zoo's `Classifier` computes in-process.
#![allow(clippy::unwrap_used)]

mod common;

use common::*;
use han_server::Settings;
use serde_json::json;

#[derive(Debug, PartialEq, serde::Deserialize)]
struct P {
    label: String,
    index: usize,
    score: f32,
}

fn expected(c: &han_models::zoo::Classifier, x: &[f32], k: usize) -> Vec<Vec<P>> {
    c.predict(x, k)
        .unwrap()
        .into_iter()
        .map(|row| row.into_iter().map(|p| P { label: p.label, index: p.index, score: p.score }).collect())
        .collect()
}

fn got(r: &Resp) -> Vec<Vec<P>> {
    serde_json::from_value(r.json()["predictions"].clone()).unwrap()
}

#[tokio::test]
async fn list_and_get_cards() {
    let dir = models_dir();
    let state = state_for(dir.path(), Settings::default());
    let r = get(&state, "/v1/models").await;
    assert_eq!(r.status, 200);
    let names: Vec<String> =
        r.json()["models"].as_array().unwrap().iter().map(|c| c["name"].as_str().unwrap().to_string()).collect();
    assert_eq!(names, vec![CHECKER, DIGITS]);

    let r = get(&state, &format!("/v1/models/{DIGITS}")).await;
    assert_eq!(r.status, 200);
    let card: han_models::card::Card = serde_json::from_slice(&r.body).unwrap();
    assert_eq!(&card, classifier(dir.path(), DIGITS).card());
    assert_eq!(card.input.shape, vec![28, 28]);
}

#[tokio::test]
async fn one_nested_sample_predicts_like_the_classifier() {
    let dir = models_dir();
    let state = state_for(dir.path(), Settings::default());
    let c = classifier(dir.path(), DIGITS);
    let x = values(784, 1, 0.0, 255.0);
    let nested: Vec<Vec<f32>> = x.chunks(28).map(|r| r.to_vec()).collect();
    let r = post_json(&state, &format!("/v1/models/{DIGITS}/predict"), &json!({"input": nested, "top_k": 5})).await;
    assert_eq!(r.status, 200, "{}", String::from_utf8_lossy(&r.body));
    assert_eq!(r.json()["model"], DIGITS);
    assert_eq!(got(&r), expected(&c, &x, 5));
    for h in ["x-queue-time-us", "x-inference-time-us", "x-request-id", "x-batch-size"] {
        assert!(r.headers.contains_key(h), "missing {h}");
    }
    assert!(r.headers["x-inference-time-us"].to_str().unwrap().parse::<u64>().is_ok());
}

#[tokio::test]
async fn several_samples_and_the_default_top_k() {
    let dir = models_dir();
    let state = state_for(dir.path(), Settings::default());
    let c = classifier(dir.path(), CHECKER);
    let x = values(2 * 7, 2, -1.0, 1.0);
    let rows: Vec<Vec<f32>> = x.chunks(2).map(|r| r.to_vec()).collect();
    let r = post_json(&state, &format!("/v1/models/{CHECKER}/predict"), &json!({ "inputs": rows })).await;
    assert_eq!(r.status, 200, "{}", String::from_utf8_lossy(&r.body));
    let p = got(&r);
    assert_eq!(p.len(), 7);
    // Default top_k is 3, capped at the two classes of this model.
    assert!(p.iter().all(|row| row.len() == 2));
    assert_eq!(p, expected(&c, &x, 2));

    let d = classifier(dir.path(), DIGITS);
    let x = values(784, 3, 0.0, 255.0);
    let r = post_json(&state, &format!("/v1/models/{DIGITS}/predict"), &json!({ "input": x })).await;
    assert_eq!(got(&r), expected(&d, &x, 3));
}
