//! The inference queue: batches form under concurrency, a batch answer equals the single
//! answers bit for bit (through the API), and requests whose client has gone are skipped.
#![allow(clippy::unwrap_used)]

mod common;

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use common::*;
use han_models::card::Card;
use han_server::Settings;
use han_server::model::{Model, ModelError, Scores};
use han_server::queue::{BatchPolicy, InferenceHandle};
use serde_json::json;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn concurrent_requests_are_batched_and_equal_single_requests_bitwise() {
    let dir = models_dir();
    let batched = state_for(
        dir.path(),
        Settings {
            batch: BatchPolicy { max_batch_size: 64, max_delay: Duration::from_millis(30) },
            ..Settings::default()
        },
    );
    let single = state_for(
        dir.path(),
        Settings { batch: BatchPolicy { max_batch_size: 1, max_delay: Duration::ZERO }, ..Settings::default() },
    );
    let samples: Vec<Vec<f32>> = (0..24).map(|i| values(784, 100 + i, 0.0, 255.0)).collect();
    let uri = format!("/v2/models/{DIGITS}/infer");
    let body = |x: &Vec<f32>| json!({"inputs": [{"name": "input", "shape": [1, 784], "datatype": "FP32", "data": x}]});

    let tasks: Vec<_> = samples
        .iter()
        .map(|x| {
            let (state, uri, b) = (batched.clone(), uri.clone(), body(x));
            tokio::spawn(async move { post_json(&state, &uri, &b).await })
        })
        .collect();
    let mut biggest = 0;
    let mut together = Vec::new();
    for t in tasks {
        let r = t.await.unwrap();
        assert_eq!(r.status, 200);
        biggest = biggest.max(r.headers["x-batch-size"].to_str().unwrap().parse::<usize>().unwrap());
        together.push(r.json()["outputs"].clone());
    }
    assert!(biggest > 1, "no batch formed");
    for (x, got) in samples.iter().zip(&together) {
        let alone = post_json(&single, &uri, &body(x)).await;
        assert_eq!(alone.headers["x-batch-size"], "1");
        let a: Vec<Vec<f32>> = alone.json()["outputs"]
            .as_array()
            .unwrap()
            .iter()
            .map(|o| serde_json::from_value(o["data"].clone()).unwrap())
            .collect();
        let b: Vec<Vec<f32>> =
            got.as_array().unwrap().iter().map(|o| serde_json::from_value(o["data"].clone()).unwrap()).collect();
        assert_eq!(a, b, "batched and single answers differ");
    }
    // One request carrying all samples equals them too.
    let all: Vec<f32> = samples.concat();
    let r = post_json(
        &batched,
        &uri,
        &json!({"inputs": [{"name": "input", "shape": [24, 784], "datatype": "FP32", "data": all}]}),
    )
    .await;
    let logits: Vec<f32> = serde_json::from_value(r.json()["outputs"][0]["data"].clone()).unwrap();
    let per: Vec<f32> =
        together.iter().flat_map(|o| serde_json::from_value::<Vec<f32>>(o[0]["data"].clone()).unwrap()).collect();
    assert_eq!(logits, per);
}

/// Counts the samples it runs; the first run blocks until released.
struct Gate {
    card: Card,
    runs: AtomicUsize,
    samples: AtomicUsize,
    inner: han_models::zoo::Classifier,
}

impl Model for Gate {
    fn card(&self) -> &Card {
        &self.card
    }
    fn run(&self, inputs: &[f32]) -> Result<Scores, ModelError> {
        if self.runs.fetch_add(1, Ordering::SeqCst) == 0 {
            std::thread::sleep(Duration::from_millis(300));
        }
        self.samples.fetch_add(inputs.len() / self.card.input_len(), Ordering::SeqCst);
        Model::run(&self.inner, inputs)
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn requests_whose_client_has_gone_are_skipped() {
    let dir = models_dir();
    let inner = classifier(dir.path(), CHECKER);
    let gate =
        Arc::new(Gate { card: inner.card().clone(), runs: AtomicUsize::new(0), samples: AtomicUsize::new(0), inner });
    let handle =
        InferenceHandle::spawn(gate.clone(), BatchPolicy { max_batch_size: 64, max_delay: Duration::ZERO }).unwrap();
    // The first request occupies the model for 300 ms.
    let first = {
        let h = handle.clone();
        tokio::spawn(async move { h.infer(vec![0.1, 0.2], 1).await })
    };
    tokio::time::sleep(Duration::from_millis(50)).await;
    // Three samples whose clients give up while queued, then one that waits.
    let gone = {
        let h = handle.clone();
        tokio::spawn(async move { h.infer(vec![0.3, 0.4, 0.5, 0.6, 0.7, 0.8], 3).await })
    };
    tokio::time::sleep(Duration::from_millis(20)).await;
    gone.abort();
    let kept = handle.infer(vec![0.9, -0.9], 1).await.unwrap();
    assert_eq!(kept.rows, 1);
    assert!(first.await.unwrap().is_ok());
    assert_eq!(gate.samples.load(Ordering::SeqCst), 2, "the abandoned request was run");
}
