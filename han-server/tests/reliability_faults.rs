//! Reliability: faults against the real binary on a loopback port. Broken model folders are
//! refused at start with a log line naming the folder and the reason while the good models are
//! served; SIGTERM under load drops no in-flight request; slow clients cannot hold the server;
//! a panic inside a model run (cargo feature `fault-injection`) fails only its request.
//! See RELIABILITY.md for the definitions and figures.
#![allow(clippy::unwrap_used)]

mod common;
mod reliability_common;

use std::io::{Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::path::Path;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use common::http::{Server, get, post_json};
use common::*;
use reliability_common::{Conn, Outcome};
use serde_json::json;
use sha2::Digest;

/// Copies model folder `from` to `root/name`, renaming the card, and returns the new folder.
fn copy_model(root: &Path, from: &str, name: &str) -> std::path::PathBuf {
    let src = root.join(from);
    let dst = root.join(name);
    std::fs::create_dir_all(&dst).unwrap();
    for f in ["config.json", "model.safetensors"] {
        std::fs::copy(src.join(f), dst.join(f)).unwrap();
    }
    let mut card: serde_json::Value = serde_json::from_slice(&std::fs::read(dst.join("config.json")).unwrap()).unwrap();
    card["name"] = json!(name);
    std::fs::write(dst.join("config.json"), card.to_string()).unwrap();
    dst
}

/// Writes `bytes` as the weights of `dir` and, if `fix_sha`, records their sha256 on the card.
fn set_weights(dir: &Path, bytes: &[u8], fix_sha: bool) {
    std::fs::write(dir.join("model.safetensors"), bytes).unwrap();
    if fix_sha {
        let mut card: serde_json::Value =
            serde_json::from_slice(&std::fs::read(dir.join("config.json")).unwrap()).unwrap();
        card["weights"]["sha256"] = json!(hex::encode(sha2::Sha256::digest(bytes)));
        std::fs::write(dir.join("config.json"), card.to_string()).unwrap();
    }
}

/// Offset of the tensor data in a safetensors file.
fn data_offset(bytes: &[u8]) -> usize {
    8 + u64::from_le_bytes(bytes[..8].try_into().unwrap()) as usize
}

#[test]
fn broken_model_folders_are_refused_at_start_and_the_others_served() {
    let dir = models_dir();
    let root = dir.path();
    let weights = std::fs::read(root.join(CHECKER).join("model.safetensors")).unwrap();
    let off = data_offset(&weights);
    // (folder, what is wrong, a word the log line must contain)
    let mut broken: Vec<(&str, &str, &str)> = Vec::new();

    let d = copy_model(root, CHECKER, "bad-sha");
    let mut card: serde_json::Value = serde_json::from_slice(&std::fs::read(d.join("config.json")).unwrap()).unwrap();
    card["weights"]["sha256"] = json!("0".repeat(64));
    std::fs::write(d.join("config.json"), card.to_string()).unwrap();
    broken.push(("bad-sha", "card sha256 differs from the file", "sha256"));

    let d = copy_model(root, CHECKER, "flipped-byte");
    let mut w = weights.clone();
    w[off + 3] ^= 0x40;
    set_weights(&d, &w, false);
    broken.push(("flipped-byte", "one bit flipped in the tensor data, card unchanged", "sha256"));

    let d = copy_model(root, CHECKER, "truncated");
    set_weights(&d, &weights[..weights.len() / 2], true);
    broken.push(("truncated", "file cut in half, sha256 updated to match", "weights"));

    let d = copy_model(root, CHECKER, "truncated-header");
    set_weights(&d, &weights[..off - 5], true);
    broken.push(("truncated-header", "file cut inside the JSON header, sha256 updated", "weights"));

    let d = copy_model(root, CHECKER, "huge-header-len");
    let mut w = weights.clone();
    w[..8].copy_from_slice(&u64::MAX.to_le_bytes());
    set_weights(&d, &w, true);
    broken.push(("huge-header-len", "header length field u64::MAX, sha256 updated", "weights"));

    let d = copy_model(root, CHECKER, "empty-weights");
    set_weights(&d, b"", true);
    broken.push(("empty-weights", "empty weights file, sha256 updated", "weights"));

    let d = copy_model(root, CHECKER, "wrong-tensors");
    set_weights(&d, &std::fs::read(root.join(DIGITS).join("model.safetensors")).unwrap(), true);
    broken.push(("wrong-tensors", "another architecture's weights, sha256 updated", "weights"));

    let d = copy_model(root, CHECKER, "nan-weights");
    let mut w = weights.clone();
    w[off..off + 4].copy_from_slice(&f32::NAN.to_le_bytes());
    set_weights(&d, &w, true);
    broken.push(("nan-weights", "a NaN in the tensor data, sha256 updated", "finite"));

    let d = copy_model(root, CHECKER, "missing-weights");
    std::fs::remove_file(d.join("model.safetensors")).unwrap();
    broken.push(("missing-weights", "weights file missing", "model.safetensors"));

    let d = copy_model(root, CHECKER, "bad-card-json");
    std::fs::write(d.join("config.json"), b"{\"name\": \"bad-card-json\", ").unwrap();
    broken.push(("bad-card-json", "config.json truncated", "card"));

    let d = copy_model(root, CHECKER, "escaping-weights-path");
    let mut card: serde_json::Value = serde_json::from_slice(&std::fs::read(d.join("config.json")).unwrap()).unwrap();
    card["weights"]["file"] = json!(format!("../{CHECKER}/model.safetensors"));
    std::fs::write(d.join("config.json"), card.to_string()).unwrap();
    broken.push(("escaping-weights-path", "weights.file points outside the folder", "weights.file"));

    let server = Server::start(root, &[]);
    let r = post_json(server.addr, "/v2/repository/index", &json!({}));
    let names: Vec<String> =
        r.json().as_array().unwrap().iter().map(|e| e["name"].as_str().unwrap().to_string()).collect();
    let log = server.log();
    assert_eq!(names, vec![CHECKER, DIGITS], "log:\n{log}");
    let mut missing = Vec::new();
    for (folder, what, word) in &broken {
        let line =
            log.lines().find(|l| l.contains(&format!("/{folder}")) && (l.contains("skipped") || l.contains("refused")));
        match line {
            Some(l) if l.contains(word) => {
                eprintln!("refused {folder} ({what}): {}", l.chars().take(260).collect::<String>())
            }
            Some(l) => missing.push(format!("{folder} ({what}): log line lacks {word:?}: {l}")),
            None => missing.push(format!("{folder} ({what}): no log line names it")),
        }
    }
    assert!(missing.is_empty(), "{}\nlog:\n{log}", missing.join("\n"));
    let x = values(2, 5, -1.0, 1.0);
    let r = post_json(server.addr, &format!("/v1/models/{CHECKER}/predict"), &json!({"input": x, "top_k": 2}));
    assert_eq!(r.status, 200);
    let want = classifier(root, CHECKER).predict(&x, 2).unwrap();
    assert_eq!(r.json()["predictions"][0][0]["index"].as_u64().unwrap() as usize, want[0][0].index);
}

#[test]
fn sigterm_under_load_drops_no_in_flight_request() {
    let dir = models_dir();
    // Each request waits up to 100 ms in its queue for company, so dozens are in flight when
    // the signal arrives.
    let mut server =
        Server::start(dir.path(), &[("HAN_MAX_QUEUE_DELAY_MS", "100"), ("HAN_SHUTDOWN_GRACE_MS", "10000")]);
    let addr = server.addr;
    let path = format!("/v1/models/{CHECKER}/predict");
    let stop = Arc::new(AtomicBool::new(false));
    // (start, end, outcome) of every request.
    let log: Arc<Mutex<Vec<(Instant, Instant, Outcome)>>> = Arc::new(Mutex::new(Vec::new()));
    let clients: Vec<_> = (0..32)
        .map(|i| {
            let (stop, log, path) = (stop.clone(), log.clone(), path.clone());
            std::thread::spawn(move || {
                let mut c = Conn::new(addr);
                let body = json!({"input": values(2, i, -1.0, 1.0)}).to_string();
                while !stop.load(Ordering::Relaxed) {
                    let t = Instant::now();
                    let o = c.post(&path, body.as_bytes());
                    let refused = matches!(o, Outcome::Refused);
                    log.lock().unwrap().push((t, Instant::now(), o));
                    if refused {
                        break;
                    }
                }
            })
        })
        .collect();
    std::thread::sleep(Duration::from_millis(1500));
    let signal = Instant::now();
    server.terminate();
    let status = server.wait_exit(Duration::from_secs(20));
    stop.store(true, Ordering::Relaxed);
    for c in clients {
        c.join().unwrap();
    }
    assert!(status.success(), "exit {status:?}; log:\n{}", server.log());
    assert!(!server.log().contains("grace period over"), "{}", server.log());
    let log = log.lock().unwrap();
    let (mut in_flight, mut before_ok, mut after_ok, mut after_503, mut refused, mut reset_fresh) = (0, 0, 0, 0, 0, 0);
    let mut failures = Vec::new();
    for (start, end, o) in log.iter() {
        let was_in_flight = *start < signal && *end > signal;
        in_flight += usize::from(was_in_flight);
        match o {
            Outcome::Status(200, _) if *start < signal => before_ok += 1,
            Outcome::Status(200, _) => after_ok += 1,
            Outcome::Status(503, b) if *start >= signal || !was_in_flight => {
                let v: serde_json::Value = serde_json::from_slice(b).unwrap_or_default();
                if v["error_type"] == "shutting_down" {
                    after_503 += 1;
                } else {
                    failures.push(format!("503 without shutting_down: {v}"));
                }
            }
            Outcome::Refused if *start >= signal => refused += 1,
            // A connection accepted by the kernel but not yet by the server when the listener
            // closed: the request never reached the server (see RELIABILITY.md).
            Outcome::ResetFresh if *start >= signal => reset_fresh += 1,
            other => failures.push(format!(
                "in flight {was_in_flight}, started {:?} after the signal: {other:?}",
                start.saturating_duration_since(signal)
            )),
        }
    }
    eprintln!(
        "SIGTERM under load: {} requests; {in_flight} in flight at the signal; 200 before: {before_ok}, 200 after: {after_ok}; \
         503 shutting_down: {after_503}; refused: {refused}; reset on a fresh connection after the signal: {reset_fresh}; failures: {}",
        log.len(),
        failures.len()
    );
    assert!(in_flight >= 16, "only {in_flight} requests were in flight at the signal");
    assert!(failures.is_empty(), "{}", failures.join("\n"));
}

/// A raw connection that sends `head` now and nothing more.
fn silent(addr: SocketAddr, head: &[u8]) -> TcpStream {
    let mut s = TcpStream::connect(addr).unwrap();
    s.write_all(head).unwrap();
    s
}

/// Whether the server closed `s` within `limit` (EOF or reset on read).
fn closed_within(s: &mut TcpStream, limit: Duration) -> (bool, Vec<u8>) {
    s.set_read_timeout(Some(limit)).unwrap();
    let mut buf = Vec::new();
    match s.read_to_end(&mut buf) {
        Ok(_) => (true, buf),
        Err(e) if matches!(e.kind(), std::io::ErrorKind::WouldBlock | std::io::ErrorKind::TimedOut) => (false, buf),
        Err(_) => (true, buf),
    }
}

#[test]
fn slow_clients_cannot_hold_the_server() {
    let dir = models_dir();
    let server = Server::start(dir.path(), &[("HAN_REQUEST_TIMEOUT_MS", "1000")]);
    let addr = server.addr;
    let path = format!("/v1/models/{CHECKER}/predict");

    // 1. A body trickled one byte every 100 ms: cut by the request timeout with a 504.
    let trickler = {
        let path = path.clone();
        std::thread::spawn(move || {
            let mut s = TcpStream::connect(addr).unwrap();
            s.set_read_timeout(Some(Duration::from_secs(10))).unwrap();
            let t = Instant::now();
            let head = format!(
                "POST {path} HTTP/1.1\r\nHost: {addr}\r\nContent-Type: application/json\r\nContent-Length: 1000\r\n\r\n"
            );
            s.write_all(head.as_bytes()).unwrap();
            let mut sent = 0;
            while sent < 1000 && t.elapsed() < Duration::from_secs(5) {
                if s.write_all(b" ").is_err() {
                    break;
                }
                sent += 1;
                std::thread::sleep(Duration::from_millis(100));
                s.set_nonblocking(true).unwrap();
                let mut peek = [0u8; 1];
                let answered = s.peek(&mut peek).is_ok_and(|n| n > 0);
                s.set_nonblocking(false).unwrap();
                if answered {
                    break;
                }
            }
            let mut resp = Vec::new();
            let _ = s.read_to_end(&mut resp);
            (t.elapsed(), String::from_utf8_lossy(&resp).to_string())
        })
    };

    // 2. 200 connections that send nothing, and 50 that stop inside the request headers.
    let mut idle: Vec<TcpStream> = (0..200).map(|_| silent(addr, b"")).collect();
    let partial_head = format!("POST {path} HTTP/1.1\r\nHost: {addr}\r\nContent-Le");
    let mut partial: Vec<TcpStream> = (0..50).map(|_| silent(addr, partial_head.as_bytes())).collect();

    // Meanwhile other clients are served, fast.
    let mut worst = Duration::ZERO;
    for i in 0..50 {
        let t = Instant::now();
        let r = post_json(addr, &path, &json!({"input": values(2, i, -1.0, 1.0)}));
        worst = worst.max(t.elapsed());
        assert_eq!(r.status, 200);
    }
    let (took, resp) = trickler.join().unwrap();
    eprintln!("trickled body answered after {took:?}: {}", resp.lines().next().unwrap_or(""));
    assert!(resp.starts_with("HTTP/1.1 504"), "{resp}");
    assert!(resp.contains("\"timeout\""), "{resp}");
    assert!(took < Duration::from_millis(3000), "the trickler held its request for {took:?}");
    eprintln!("50 requests served beside 250 stalled connections; slowest {worst:?}");
    assert!(worst < Duration::from_secs(2), "slowest normal request {worst:?}");

    // 3. The stalled connections are closed by the server (no byte for the request timeout).
    let (idle_closed, _) = closed_within(&mut idle[0], Duration::from_secs(4));
    let (partial_closed, _) = closed_within(&mut partial[0], Duration::from_secs(4));
    eprintln!(
        "a silent connection closed by the server within 4 s: {idle_closed}; one stalled inside its headers: {partial_closed}"
    );
    assert!(idle_closed, "a connection that sends nothing is held open");
    assert!(partial_closed, "a connection stalled inside its headers is held open");
    drop(idle);
    drop(partial);
    assert_eq!(get(addr, "/v2/health/ready").status, 200);
}

#[cfg(feature = "fault-injection")]
#[test]
fn a_panic_inside_a_model_run_fails_only_that_request() {
    const TRIGGER: f32 = 12345.0;
    let dir = models_dir();
    // Requests wait up to 300 ms for company, so the panicking one shares a batch with others.
    let server = Server::start(dir.path(), &[("HAN_FAULT_PANIC_VALUE", "12345"), ("HAN_MAX_QUEUE_DELAY_MS", "300")]);
    let addr = server.addr;
    let path = format!("/v1/models/{CHECKER}/predict");
    let c = classifier(dir.path(), CHECKER);
    let threads: Vec<_> = (0..9)
        .map(|i| {
            let path = path.clone();
            let x = if i == 4 { vec![TRIGGER, 0.5] } else { values(2, i, -1.0, 1.0) };
            std::thread::spawn(move || (x.clone(), post_json(addr, &path, &json!({"input": x, "top_k": 2}))))
        })
        .collect();
    let mut panicked = 0;
    for t in threads {
        let (x, r) = t.join().unwrap();
        if x[0] == TRIGGER {
            assert_eq!(r.status, 500, "{}", String::from_utf8_lossy(&r.body));
            assert_eq!(r.json()["error_type"], "internal");
            assert!(
                !String::from_utf8_lossy(&r.body).contains("fault injection"),
                "panic details leaked to the client"
            );
            panicked += 1;
        } else {
            assert_eq!(r.status, 200, "{}", String::from_utf8_lossy(&r.body));
            let want = c.predict(&x, 2).unwrap();
            assert_eq!(r.json()["predictions"][0][0]["index"].as_u64().unwrap() as usize, want[0][0].index);
        }
    }
    assert_eq!(panicked, 1);
    let log = server.log();
    assert!(log.contains("panicked"), "{log}");
    // The server keeps serving, again and again.
    for _ in 0..3 {
        let r = post_json(addr, &path, &json!({"input": [TRIGGER, 0.0]}));
        assert_eq!(r.status, 500);
        let r = post_json(addr, &path, &json!({"input": [0.25, -0.5]}));
        assert_eq!(r.status, 200);
    }
    assert_eq!(get(addr, "/v2/health/ready").status, 200);
    assert_eq!(get(addr, "/metrics").status, 200);
}
