//! Acceptance: the Python `tritonclient[http]` package, unmodified, against the real binary on
//! a loopback port: health, metadata, repository index, and inference (JSON and binary
//! tensors, classification) whose values equal the Rust `Classifier`'s bit for bit.
//!
//! The test installs what it needs: a virtual environment in `han-server/tests/.venv`
//! (git-ignored) with `tritonclient[http]` and `numpy` from PyPI via pip. Set
//! `HAN_SKIP_PYTHON_TESTS=1` to skip it on a machine without Python.
#![allow(clippy::unwrap_used)]

mod common;

use std::path::{Path, PathBuf};
use std::process::Command;

use common::http::Server;
use common::*;
use serde_json::json;

fn venv() -> PathBuf {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/.venv");
    let python = dir.join("bin/python");
    let marker = dir.join(".han-tritonclient-ok");
    if marker.is_file() {
        return python;
    }
    if !python.is_file() {
        let ok = Command::new("python3")
            .args(["-m", "venv"])
            .arg(&dir)
            .status()
            .expect("python3 is needed (apt-get install python3 python3-venv)");
        assert!(ok.success(), "python3 -m venv failed");
    }
    let ok = Command::new(&python)
        .args(["-m", "pip", "install", "--quiet", "--disable-pip-version-check", "tritonclient[http]", "numpy"])
        .status()
        .unwrap();
    assert!(ok.success(), "pip install tritonclient[http] numpy failed");
    std::fs::write(&marker, "ok\n").unwrap();
    python
}

#[test]
fn tritonclient_reads_metadata_and_infers_correct_values() {
    if std::env::var_os("HAN_SKIP_PYTHON_TESTS").is_some_and(|v| v == "1") {
        eprintln!("skipped: HAN_SKIP_PYTHON_TESTS=1");
        return;
    }
    let python = venv();
    let dir = models_dir();
    let server = Server::start(dir.path(), &[]);
    let c = classifier(dir.path(), DIGITS);
    let n = 3;
    let x = values(n * 784, 42, 0.0, 255.0);
    let out = c.run(&x).unwrap();
    let fixture = dir.path().join("fixture.json");
    let fx = json!({
        "model": DIGITS, "n": n, "input_shape": [28, 28], "classes": 10, "labels": c.labels(),
        "inputs": x, "logits": out.logits, "probabilities": out.probabilities,
    });
    std::fs::write(&fixture, fx.to_string()).unwrap();
    let script = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/kserve_client.py");
    let run = Command::new(&python).arg(&script).arg(server.addr.to_string()).arg(&fixture).output().unwrap();
    let stdout = String::from_utf8_lossy(&run.stdout);
    let stderr = String::from_utf8_lossy(&run.stderr);
    assert!(
        run.status.success(),
        "tritonclient script failed\nstdout:\n{stdout}\nstderr:\n{stderr}\nserver log:\n{}",
        server.log()
    );
    assert!(stdout.contains("tritonclient OK"), "{stdout}");
    eprintln!("{stdout}");
}
