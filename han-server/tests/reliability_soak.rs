//! Reliability: load and soak on loopback, and an overload burst. Ignored by a plain
//! `cargo test` (they take time and a quiet machine); `scripts/reliability.sh` runs them with
//! `--ignored`, 30 s in quick mode and 10 minutes in full mode. See RELIABILITY.md.
//!
//! Environment: `HAN_SOAK_SECS` (measured period, default 30), `HAN_SOAK_WARMUP_SECS`
//! (default 10), `HAN_SOAK_CONNECTIONS` (default 64), `HAN_SOAK_MAX_RSS_GROWTH_PERCENT`
//! (default 5), `HAN_RELIABILITY_OUT` (a folder for the figures as JSON).
#![allow(clippy::unwrap_used)]

mod common;
mod reliability_common;

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use common::http::{Server, get, post_json};
use common::*;
use reliability_common::{Conn, Outcome, quantile, rss_kib};
use serde_json::json;

fn env_u64(name: &str, default: u64) -> u64 {
    std::env::var(name).ok().and_then(|v| v.parse().ok()).unwrap_or(default)
}

fn write_figures(file: &str, v: &serde_json::Value) {
    if let Ok(dir) = std::env::var("HAN_RELIABILITY_OUT") {
        std::fs::create_dir_all(&dir).unwrap();
        std::fs::write(std::path::Path::new(&dir).join(file), serde_json::to_string_pretty(v).unwrap()).unwrap();
    }
}

/// Per-client results: latencies (µs) of 200s, and counts of everything else.
#[derive(Default)]
struct Tally {
    lat_us: Vec<u32>,
    ok: u64,
    status_4xx: u64,
    status_5xx: u64,
    conn_errors: u64,
}

#[test]
#[ignore = "soak: run by scripts/reliability.sh (cargo test -- --ignored)"]
fn soak_64_connections_zero_5xx_and_flat_memory() {
    let secs = env_u64("HAN_SOAK_SECS", 30);
    let warmup = env_u64("HAN_SOAK_WARMUP_SECS", 10);
    let conns = env_u64("HAN_SOAK_CONNECTIONS", 64);
    let dir = models_dir();
    let server = Server::start(dir.path(), &[]);
    let addr = server.addr;
    let pid = server.child.id();
    let rss_start = rss_kib(pid);
    let measuring = Arc::new(AtomicBool::new(false));
    let stop = Arc::new(AtomicBool::new(false));
    let clients: Vec<_> = (0..conns)
        .map(|i| {
            let (measuring, stop) = (measuring.clone(), stop.clone());
            std::thread::spawn(move || {
                // Half the clients ask the 2-input model, half the 784-input one (16 KiB bodies).
                let (path, body) = if i % 2 == 0 {
                    (format!("/v1/models/{CHECKER}/predict"), json!({"input": values(2, i, -1.0, 1.0)}).to_string())
                } else {
                    (
                        format!("/v1/models/{DIGITS}/predict"),
                        json!({"input": values(784, i, 0.0, 255.0), "top_k": 3}).to_string(),
                    )
                };
                let mut c = Conn::new(addr);
                let mut t = Tally::default();
                while !stop.load(Ordering::Relaxed) {
                    let start = Instant::now();
                    let o = c.post(&path, body.as_bytes());
                    let us = start.elapsed().as_micros().min(u32::MAX as u128) as u32;
                    if !measuring.load(Ordering::Relaxed) {
                        continue;
                    }
                    match o {
                        Outcome::Status(200, _) => {
                            t.ok += 1;
                            t.lat_us.push(us);
                        }
                        Outcome::Status(s, _) if s >= 500 => t.status_5xx += 1,
                        Outcome::Status(_, _) => t.status_4xx += 1,
                        _ => t.conn_errors += 1,
                    }
                }
                t
            })
        })
        .collect();
    std::thread::sleep(Duration::from_secs(warmup));
    let rss_warm = rss_kib(pid);
    measuring.store(true, Ordering::Relaxed);
    let t0 = Instant::now();
    let mut rss_peak = rss_warm;
    let mut samples = Vec::new();
    while t0.elapsed() < Duration::from_secs(secs) {
        std::thread::sleep(Duration::from_secs(1));
        let r = rss_kib(pid);
        rss_peak = rss_peak.max(r);
        samples.push(r);
    }
    measuring.store(false, Ordering::Relaxed);
    let elapsed = t0.elapsed().as_secs_f64();
    stop.store(true, Ordering::Relaxed);
    let mut all = Tally::default();
    for c in clients {
        let t = c.join().unwrap();
        all.ok += t.ok;
        all.status_4xx += t.status_4xx;
        all.status_5xx += t.status_5xx;
        all.conn_errors += t.conn_errors;
        all.lat_us.extend(t.lat_us);
    }
    let rss_end = rss_kib(pid);
    all.lat_us.sort_unstable();
    // RSS saws up and down by ~15 % as the metrics histograms fill and drain (upkeep every
    // 5 s) and the allocator recycles: compare the peak of the first third of the measured
    // period with the peak of the last third, not two single readings.
    let w = (samples.len() / 3).max(1);
    let first_peak = samples.iter().take(w).copied().max().unwrap_or(rss_warm);
    let last_peak = samples.iter().rev().take(w).copied().max().unwrap_or(rss_end);
    let growth = (last_peak as f64 - first_peak as f64) / first_peak as f64 * 100.0;
    let figures = json!({
        "connections": conns, "seconds": elapsed, "warmup_seconds": warmup,
        "requests_ok": all.ok, "status_4xx": all.status_4xx, "status_5xx": all.status_5xx, "connection_errors": all.conn_errors,
        "req_per_s": all.ok as f64 / elapsed,
        "latency_us": {"p50": quantile(&all.lat_us, 0.5), "p90": quantile(&all.lat_us, 0.9), "p99": quantile(&all.lat_us, 0.99),
                        "p999": quantile(&all.lat_us, 0.999), "max": all.lat_us.last().copied().unwrap_or(0)},
        "rss_kib": {"start": rss_start, "after_warmup": rss_warm, "peak": rss_peak, "end": rss_end,
                    "first_third_peak": first_peak, "last_third_peak": last_peak, "growth_percent": growth, "every_second": samples},
    });
    eprintln!("soak: {}", serde_json::to_string_pretty(&figures).unwrap());
    write_figures("soak.json", &figures);
    assert!(all.ok > 0);
    assert_eq!(all.status_5xx, 0, "5xx responses under load");
    assert_eq!(all.status_4xx + all.conn_errors, 0, "non-200 answers or connection errors under load");
    // 5 % over a long run; a 30 s quick run is still warming up against a ±15 % sawtooth, so
    // quick mode (scripts/reliability.sh) passes a looser bound that still catches a real leak.
    let max_growth = std::env::var("HAN_SOAK_MAX_RSS_GROWTH_PERCENT").ok().and_then(|v| v.parse().ok()).unwrap_or(5.0);
    assert!(
        growth < max_growth,
        "resident memory grew {growth:.2} % (peak {first_peak} -> {last_peak} KiB; limit {max_growth} %)"
    );
    assert_eq!(get(addr, "/v2/health/ready").status, 200);
    let log = server.log();
    assert!(!log.contains("panicked"), "{log}");
}

#[test]
#[ignore = "overload: run by scripts/reliability.sh (cargo test -- --ignored)"]
fn an_overload_burst_gets_fast_429s_and_the_server_recovers() {
    const LIMIT: usize = 8;
    const BURST: usize = 128;
    let dir = models_dir();
    // Requests wait up to 800 ms in the queue for company, so the first LIMIT hold every permit.
    let limit = LIMIT.to_string();
    let server =
        Server::start(dir.path(), &[("HAN_MAX_CONCURRENT_REQUESTS", &limit), ("HAN_MAX_QUEUE_DELAY_MS", "800")]);
    let addr = server.addr;
    let path = format!("/v1/models/{CHECKER}/predict");
    let holders: Vec<_> = (0..LIMIT)
        .map(|i| {
            let path = path.clone();
            std::thread::spawn(move || post_json(addr, &path, &json!({"input": values(2, i as u64, -1.0, 1.0)})).status)
        })
        .collect();
    std::thread::sleep(Duration::from_millis(250));
    let go = Arc::new(std::sync::Barrier::new(BURST));
    let results = Arc::new(Mutex::new(Vec::new()));
    let burst: Vec<_> = (0..BURST)
        .map(|i| {
            let (go, results, path) = (go.clone(), results.clone(), path.clone());
            std::thread::spawn(move || {
                let mut c = Conn::new(addr);
                let body = json!({"input": values(2, 1000 + i as u64, -1.0, 1.0)}).to_string();
                go.wait();
                let t = Instant::now();
                let o = c.post(&path, body.as_bytes());
                results.lock().unwrap().push((t.elapsed(), o));
            })
        })
        .collect();
    for b in burst {
        b.join().unwrap();
    }
    let statuses: Vec<u16> = holders.into_iter().map(|h| h.join().unwrap()).collect();
    // Right after the permit holders finish, a normal request succeeds.
    let t = Instant::now();
    let r = post_json(addr, &path, &json!({"input": [0.25, -0.5]}));
    let recovery_latency = t.elapsed();
    let results = results.lock().unwrap();
    let mut lat429: Vec<u32> = Vec::new();
    let (mut ok, mut other) = (0, Vec::new());
    for (took, o) in results.iter() {
        match o {
            Outcome::Status(429, b) => {
                let v: serde_json::Value = serde_json::from_slice(b).unwrap();
                assert_eq!(v["error_type"], "too_many_requests");
                lat429.push(took.as_micros() as u32);
            }
            Outcome::Status(200, _) => ok += 1,
            o => other.push(format!("{o:?}")),
        }
    }
    lat429.sort_unstable();
    let figures = json!({
        "max_concurrent_requests": LIMIT, "burst": BURST, "rejected_429": lat429.len(), "ok_200": ok, "other": other.len(),
        "latency_429_us": {"p50": quantile(&lat429, 0.5), "p99": quantile(&lat429, 0.99), "max": lat429.last().copied().unwrap_or(0)},
        "holders": statuses, "recovery_request_status": r.status, "recovery_request_us": recovery_latency.as_micros() as u64,
    });
    eprintln!("overload: {}", serde_json::to_string_pretty(&figures).unwrap());
    write_figures("overload.json", &figures);
    assert!(other.is_empty(), "{other:?}");
    assert!(lat429.len() >= BURST - 2 * LIMIT, "only {} of {BURST} rejected", lat429.len());
    assert!(quantile(&lat429, 0.99) < 250_000, "p99 of the 429s is {} µs", quantile(&lat429, 0.99));
    assert!(statuses.iter().all(|&s| s == 200), "{statuses:?}");
    assert_eq!(r.status, 200, "no recovery: {}", String::from_utf8_lossy(&r.body));
}
