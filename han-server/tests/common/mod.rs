//! Test support: model folders written into temp dirs (random weights, consistent cards), the
//! router driven without a socket, a tiny HTTP/1.1 client, and the real binary on a loopback
//! port. Nothing here depends on which zoo models are bundled.
#![allow(dead_code, clippy::unwrap_used, clippy::expect_used)]

pub mod fixtures;
pub mod http;

pub use fixtures::write_model;

use std::path::Path;
use std::sync::Arc;
use std::time::Duration;

use axum::body::{Body, Bytes};
use axum::http::{HeaderMap, Request, StatusCode};
use han_models::card::{Card, Preprocessing};
use han_models::zoo::Classifier;
use han_server::model::{Model, ModelError, Scores};
use han_server::{AppState, Settings};
use tower::ServiceExt;

/// A 2-input model with the paper's checkerboard HanNet architecture.
pub const CHECKER: &str = "tiny-checkerboard";
/// A 28x28-input, 10-class HanNet with MNIST preprocessing.
pub const DIGITS: &str = "tiny-digits";

/// A temp dir holding [`CHECKER`] and [`DIGITS`].
pub fn models_dir() -> tempfile::TempDir {
    let dir = tempfile::tempdir().unwrap();
    write_model(dir.path(), CHECKER, &han_models::arch::hannet_checkerboard(), vec![2], Preprocessing::default());
    let mnist = Preprocessing { scale: 1.0 / 255.0, mean: vec![0.1307], std: vec![0.3081] };
    write_model(dir.path(), DIGITS, &han_models::arch::hannet(784, 32, 3, 10), vec![28, 28], mnist);
    dir
}

/// The classifiers in `dir`, by name order.
pub fn classifiers(dir: &Path) -> Vec<Classifier> {
    let (ok, bad) = han_models::zoo::load_all(dir);
    assert!(bad.is_empty(), "fixtures failed to load: {bad:?}");
    ok
}

/// One classifier of `dir`.
pub fn classifier(dir: &Path, name: &str) -> Classifier {
    Classifier::from_dir(dir.join(name)).unwrap()
}

/// A ready state serving every model of `dir`.
pub fn state_for(dir: &Path, settings: Settings) -> AppState {
    let models: Vec<Arc<dyn Model>> = classifiers(dir).into_iter().map(|c| Arc::new(c) as Arc<dyn Model>).collect();
    AppState::with_models(settings, models).unwrap()
}

/// A model that wraps another and sleeps before each run, or panics.
pub struct Wrapped {
    pub inner: Classifier,
    pub sleep: Duration,
    pub panic: bool,
}

impl Model for Wrapped {
    fn card(&self) -> &Card {
        self.inner.card()
    }
    fn run(&self, inputs: &[f32]) -> Result<Scores, ModelError> {
        // The warm-up run (one zero sample) goes through; later runs misbehave.
        if inputs.iter().all(|v| *v == 0.0) {
            return Model::run(&self.inner, inputs);
        }
        std::thread::sleep(self.sleep);
        if self.panic {
            panic!("forced panic in a test model");
        }
        Model::run(&self.inner, inputs)
    }
}

/// A response read to the end.
#[derive(Debug)]
pub struct Resp {
    pub status: StatusCode,
    pub headers: HeaderMap,
    pub body: Bytes,
}

impl Resp {
    pub fn json(&self) -> serde_json::Value {
        serde_json::from_slice(&self.body)
            .unwrap_or_else(|e| panic!("not JSON ({e}): {}", String::from_utf8_lossy(&self.body)))
    }

    /// Asserts an error response: status, JSON body with `error` and this `error_type`.
    pub fn assert_error(&self, status: u16, error_type: &str) {
        assert_eq!(self.status.as_u16(), status, "body: {}", String::from_utf8_lossy(&self.body));
        let v = self.json();
        assert_eq!(v["error_type"], error_type, "body: {v}");
        assert!(v["error"].as_str().is_some_and(|s| !s.is_empty()), "body: {v}");
    }
}

/// Sends `req` through `app(state)` without a socket.
pub async fn send(state: &AppState, req: Request<Body>) -> Resp {
    let resp = han_server::app(state.clone()).oneshot(req).await.unwrap();
    let status = resp.status();
    let headers = resp.headers().clone();
    let body = axum::body::to_bytes(resp.into_body(), usize::MAX).await.unwrap();
    Resp { status, headers, body }
}

pub async fn get(state: &AppState, uri: &str) -> Resp {
    send(state, Request::get(uri).body(Body::empty()).unwrap()).await
}

pub async fn post_json(state: &AppState, uri: &str, body: &serde_json::Value) -> Resp {
    post_raw(state, uri, "application/json", body.to_string()).await
}

pub async fn post_raw(state: &AppState, uri: &str, content_type: &str, body: impl Into<Body>) -> Resp {
    send(state, Request::post(uri).header("content-type", content_type).body(body.into()).unwrap()).await
}

/// Deterministic pseudo-random values in `[lo, hi)`.
pub fn values(n: usize, seed: u64, lo: f32, hi: f32) -> Vec<f32> {
    let mut s = seed.wrapping_mul(6364136223846793005).wrapping_add(1442695040888963407);
    (0..n)
        .map(|_| {
            s = s.wrapping_mul(6364136223846793005).wrapping_add(1442695040888963407);
            lo + (hi - lo) * ((s >> 40) as f32 / (1u64 << 24) as f32)
        })
        .collect()
}

/// `f32`s of a JSON array.
pub fn f32s(v: &serde_json::Value) -> Vec<f32> {
    v.as_array().unwrap().iter().map(|x| x.as_f64().unwrap() as f32).collect()
}
