//! The real `han-server` binary on a free loopback port: a prediction, 429 under a burst,
//! batch-versus-single equality over HTTP, the SIGTERM drain, a broken model folder skipped
//! at start, `--help`, and a configuration error.
#![allow(clippy::unwrap_used)]

mod common;

use std::process::Command;
use std::time::{Duration, Instant};

use common::http::{Server, get, post_json, request};
use common::*;
use serde_json::json;

#[test]
fn predicts_over_http_like_the_classifier() {
    let dir = models_dir();
    let server = Server::start(dir.path(), &[]);
    let c = classifier(dir.path(), DIGITS);
    let x = values(784, 9, 0.0, 255.0);
    let r = post_json(server.addr, &format!("/v1/models/{DIGITS}/predict"), &json!({"input": x, "top_k": 10}));
    assert_eq!(r.status, 200, "{}", String::from_utf8_lossy(&r.body));
    let scores: Vec<f32> = r.json()["predictions"][0]
        .as_array()
        .unwrap()
        .iter()
        .map(|p| serde_json::from_value(p["score"].clone()).unwrap())
        .collect();
    let want: Vec<f32> = c.predict(&x, 10).unwrap()[0].iter().map(|p| p.score).collect();
    assert_eq!(scores, want);
    for h in ["x-request-id", "x-queue-time-us", "x-inference-time-us"] {
        assert!(r.headers.contains_key(h), "{h} missing");
    }
    let r = get(server.addr, "/metrics");
    assert!(String::from_utf8_lossy(&r.body).contains("han_requests_total"));
}

#[test]
fn a_burst_over_the_concurrency_limit_gets_fast_429s() {
    let dir = models_dir();
    // Each request waits up to 600 ms in the queue for company: two of them hold both permits.
    let server = Server::start(dir.path(), &[("HAN_MAX_CONCURRENT_REQUESTS", "2"), ("HAN_MAX_QUEUE_DELAY_MS", "600")]);
    let addr = server.addr;
    let body = json!({"input": [0.25, -0.5]});
    let slow: Vec<_> = (0..2)
        .map(|_| {
            let b = body.clone();
            std::thread::spawn(move || post_json(addr, &format!("/v1/models/{CHECKER}/predict"), &b))
        })
        .collect();
    std::thread::sleep(Duration::from_millis(200));
    let burst: Vec<_> = (0..16)
        .map(|_| {
            let b = body.clone();
            std::thread::spawn(move || {
                let t = Instant::now();
                let r = post_json(addr, &format!("/v1/models/{CHECKER}/predict"), &b);
                (r, t.elapsed())
            })
        })
        .collect();
    let mut rejected = 0;
    for t in burst {
        let (r, took) = t.join().unwrap();
        if r.status == 429 {
            rejected += 1;
            assert_eq!(r.json()["error_type"], "too_many_requests");
            assert!(took < Duration::from_millis(300), "a 429 took {took:?}");
        } else {
            assert_eq!(r.status, 200);
        }
    }
    assert!(rejected >= 12, "only {rejected} of 16 rejected");
    for t in slow {
        assert_eq!(t.join().unwrap().status, 200);
    }
    // Recovered.
    assert_eq!(post_json(addr, &format!("/v1/models/{CHECKER}/predict"), &body).status, 200);
}

#[test]
fn batched_http_answers_equal_single_answers_bitwise() {
    let dir = models_dir();
    let server = Server::start(dir.path(), &[("HAN_MAX_QUEUE_DELAY_MS", "20")]);
    let addr = server.addr;
    let samples: Vec<Vec<f32>> = (0..16).map(|i| values(2, 300 + i, -1.0, 1.0)).collect();
    let uri = format!("/v2/models/{CHECKER}/infer");
    let body =
        |x: &[f32], n: usize| json!({"inputs": [{"name": "input", "shape": [n, 2], "datatype": "FP32", "data": x}]});
    let threads: Vec<_> = samples
        .iter()
        .map(|x| {
            let (b, uri) = (body(x, 1), uri.clone());
            std::thread::spawn(move || post_json(addr, &uri, &b))
        })
        .collect();
    let mut singles: Vec<f32> = Vec::new();
    let mut biggest = 0usize;
    for t in threads {
        let r = t.join().unwrap();
        assert_eq!(r.status, 200);
        biggest = biggest.max(r.headers["x-batch-size"].parse().unwrap());
        singles.extend(serde_json::from_value::<Vec<f32>>(r.json()["outputs"][1]["data"].clone()).unwrap());
    }
    let r = post_json(addr, &uri, &body(&samples.concat(), 16));
    let batch: Vec<f32> = serde_json::from_value(r.json()["outputs"][1]["data"].clone()).unwrap();
    assert_eq!(singles, batch);
    assert_eq!(batch, classifier(dir.path(), CHECKER).probabilities(&samples.concat()).unwrap());
    eprintln!("largest batch formed from single requests: {biggest}");
}

#[test]
fn sigterm_drains_in_flight_requests_then_exits_zero() {
    let dir = models_dir();
    // Requests sit in the queue for up to 1.5 s, so they are in flight when the signal comes.
    let mut server =
        Server::start(dir.path(), &[("HAN_MAX_QUEUE_DELAY_MS", "1500"), ("HAN_SHUTDOWN_GRACE_MS", "10000")]);
    let addr = server.addr;
    let started = Instant::now();
    let threads: Vec<_> = (0..8)
        .map(|i| {
            std::thread::spawn(move || {
                post_json(addr, &format!("/v1/models/{CHECKER}/predict"), &json!({"input": [0.1 * i as f32, 0.5]}))
            })
        })
        .collect();
    std::thread::sleep(Duration::from_millis(300));
    server.terminate();
    for t in threads {
        let r = t.join().unwrap();
        assert_eq!(r.status, 200, "{}", String::from_utf8_lossy(&r.body));
    }
    let status = server.wait_exit(Duration::from_secs(15));
    assert!(status.success(), "exit status {status:?}; log:\n{}", server.log());
    assert!(started.elapsed() >= Duration::from_millis(1400), "the requests were not in flight");
    assert!(server.log().contains("SIGTERM"), "{}", server.log());
    // Nothing listens any more.
    assert!(request(addr, "GET", "/v2/health/live", &[], b"").is_err());
}

#[test]
fn a_broken_model_folder_is_logged_and_skipped() {
    let dir = models_dir();
    let broken = dir.path().join("broken-model");
    std::fs::create_dir_all(&broken).unwrap();
    std::fs::copy(dir.path().join(CHECKER).join("config.json"), broken.join("config.json")).unwrap();
    std::fs::write(broken.join("model.safetensors"), b"not a safetensors file").unwrap();
    let server = Server::start(dir.path(), &[]);
    let r = post_json(server.addr, "/v2/repository/index", &json!({}));
    let names: Vec<String> =
        r.json().as_array().unwrap().iter().map(|e| e["name"].as_str().unwrap().to_string()).collect();
    assert_eq!(names, vec![CHECKER, DIGITS]);
    let log = server.log();
    assert!(log.contains("broken-model") && log.contains("skipped"), "{log}");
}

#[test]
fn zero_configuration_serves_the_bundled_folder_and_logs_json_on_request() {
    let dir = models_dir();
    // The bundled folder is `weights/`, or HAN_ZOO_DIR; no HAN_MODELS_DIR here.
    let zoo = dir.path().to_str().unwrap();
    let server = Server::start_with(&[("HAN_ZOO_DIR", zoo), ("HAN_LOG_FORMAT", "json")]);
    let r = get(server.addr, "/v1/models");
    let names: Vec<String> =
        r.json()["models"].as_array().unwrap().iter().map(|c| c["name"].as_str().unwrap().to_string()).collect();
    assert_eq!(names, vec![CHECKER, DIGITS]);
    let log = server.log();
    let lines: Vec<&str> = log.lines().filter(|l| !l.trim().is_empty()).collect();
    assert!(!lines.is_empty());
    for line in lines {
        let v: serde_json::Value =
            serde_json::from_str(line).unwrap_or_else(|e| panic!("log line is not JSON ({e}): {line}"));
        assert!(v["level"].is_string() && v["fields"].is_object(), "{line}");
    }
}

#[test]
fn help_lists_every_environment_variable() {
    let out = Command::new(env!("CARGO_BIN_EXE_han-server")).arg("--help").output().unwrap();
    assert!(out.status.success());
    let help = String::from_utf8(out.stdout).unwrap();
    for var in [
        "HAN_HOST",
        "HAN_PORT",
        "HAN_MODELS_DIR",
        "HAN_MODELS_MODE",
        "HAN_MAX_BATCH_SIZE",
        "HAN_MAX_QUEUE_DELAY_MS",
        "HAN_MAX_CONCURRENT_REQUESTS",
        "HAN_MAX_BODY_BYTES",
        "HAN_REQUEST_TIMEOUT_MS",
        "HAN_SHUTDOWN_GRACE_MS",
        "HAN_LOG_FORMAT",
        "HAN_API_KEY",
        "HAN_WORKER_THREADS",
    ] {
        assert!(help.contains(var), "{var} missing from --help:\n{help}");
    }
}

#[test]
fn a_configuration_error_exits_non_zero_with_the_reason() {
    let out = Command::new(env!("CARGO_BIN_EXE_han-server"))
        .env("HAN_MODELS_DIR", "/nonexistent/han-models")
        .env("HAN_PORT", "0")
        .output()
        .unwrap();
    assert!(!out.status.success());
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("/nonexistent/han-models") && err.contains("not a folder"), "{err}");
}
