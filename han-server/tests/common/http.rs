//! A tiny HTTP/1.1 client over `std::net::TcpStream` (one request per connection), and the
//! real `han-server` binary on a loopback port. Only 127.0.0.1 is ever contacted.

use std::collections::HashMap;
use std::io::{BufRead, BufReader, Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

/// A response: status, lower-case headers, body.
#[derive(Debug, Clone)]
pub struct HttpResp {
    pub status: u16,
    pub headers: HashMap<String, String>,
    pub body: Vec<u8>,
}

impl HttpResp {
    pub fn json(&self) -> serde_json::Value {
        serde_json::from_slice(&self.body)
            .unwrap_or_else(|e| panic!("not JSON ({e}): {}", String::from_utf8_lossy(&self.body)))
    }
}

/// Sends one request and reads the whole response (`Connection: close`).
pub fn request(
    addr: SocketAddr,
    method: &str,
    path: &str,
    headers: &[(&str, &str)],
    body: &[u8],
) -> std::io::Result<HttpResp> {
    assert!(addr.ip().is_loopback(), "tests only talk to loopback");
    let mut s = TcpStream::connect_timeout(&addr, Duration::from_secs(5))?;
    s.set_read_timeout(Some(Duration::from_secs(60)))?;
    let mut head =
        format!("{method} {path} HTTP/1.1\r\nHost: {addr}\r\nConnection: close\r\nContent-Length: {}\r\n", body.len());
    for (k, v) in headers {
        head.push_str(&format!("{k}: {v}\r\n"));
    }
    head.push_str("\r\n");
    s.write_all(head.as_bytes())?;
    s.write_all(body)?;
    let mut r = BufReader::new(s);
    let mut line = String::new();
    r.read_line(&mut line)?;
    let status: u16 = line
        .split_whitespace()
        .nth(1)
        .and_then(|c| c.parse().ok())
        .ok_or_else(|| std::io::Error::other(format!("bad status line {line:?}")))?;
    let mut headers = HashMap::new();
    loop {
        line.clear();
        r.read_line(&mut line)?;
        let l = line.trim_end();
        if l.is_empty() {
            break;
        }
        if let Some((k, v)) = l.split_once(':') {
            headers.insert(k.trim().to_ascii_lowercase(), v.trim().to_string());
        }
    }
    let mut body = Vec::new();
    if headers.get("transfer-encoding").is_some_and(|v| v.eq_ignore_ascii_case("chunked")) {
        loop {
            line.clear();
            r.read_line(&mut line)?;
            let n = usize::from_str_radix(line.trim(), 16).map_err(std::io::Error::other)?;
            if n == 0 {
                break;
            }
            let mut chunk = vec![0; n + 2];
            r.read_exact(&mut chunk)?;
            body.extend_from_slice(&chunk[..n]);
        }
    } else if let Some(n) = headers.get("content-length").and_then(|v| v.parse::<usize>().ok()) {
        body.resize(n, 0);
        r.read_exact(&mut body)?;
    } else {
        r.read_to_end(&mut body)?;
    }
    Ok(HttpResp { status, headers, body })
}

pub fn get(addr: SocketAddr, path: &str) -> HttpResp {
    request(addr, "GET", path, &[], b"").unwrap()
}

pub fn post_json(addr: SocketAddr, path: &str, body: &serde_json::Value) -> HttpResp {
    request(addr, "POST", path, &[("Content-Type", "application/json")], body.to_string().as_bytes()).unwrap()
}

/// The real binary, serving on a free loopback port; killed on drop.
pub struct Server {
    pub child: Child,
    pub addr: SocketAddr,
    pub log: Arc<Mutex<String>>,
}

impl Server {
    /// Starts `han-server` serving only `models` (`HAN_MODELS_MODE=replace`) with `env`, and
    /// waits until it is ready.
    pub fn start(models: &Path, env: &[(&str, &str)]) -> Self {
        let models = models.to_str().expect("UTF-8 temp path");
        let mut all = vec![("HAN_MODELS_DIR", models), ("HAN_MODELS_MODE", "replace")];
        all.extend_from_slice(env);
        Self::start_with(&all)
    }

    /// Starts `han-server` on a free loopback port with only `env` (plus `HAN_HOST`,
    /// `HAN_PORT=0`, `RUST_LOG=info`) and waits until it is ready.
    pub fn start_with(env: &[(&str, &str)]) -> Self {
        let mut cmd = Command::new(env!("CARGO_BIN_EXE_han-server"));
        cmd.env("HAN_HOST", "127.0.0.1")
            .env("HAN_PORT", "0")
            .env_remove("HAN_MODELS_DIR")
            .env_remove("HAN_MODELS_MODE")
            .env("RUST_LOG", "info")
            .env_remove("HAN_API_KEY")
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped());
        for (k, v) in env {
            cmd.env(k, v);
        }
        let mut child = cmd.spawn().expect("spawn han-server");
        let log = Arc::new(Mutex::new(String::new()));
        let stderr = child.stderr.take().unwrap();
        let sink = log.clone();
        std::thread::spawn(move || {
            for line in BufReader::new(stderr).lines().map_while(Result::ok) {
                let mut l = sink.lock().unwrap();
                l.push_str(&line);
                l.push('\n');
            }
        });
        let mut out = BufReader::new(child.stdout.take().unwrap());
        let mut line = String::new();
        out.read_line(&mut line).unwrap();
        let addr: SocketAddr = line
            .trim()
            .strip_prefix("han-server listening on http://")
            .unwrap_or_else(|| panic!("unexpected first stdout line {line:?}; log: {}", log.lock().unwrap()))
            .parse()
            .unwrap();
        std::thread::spawn(move || for _ in out.lines() {});
        let server = Self { child, addr, log };
        server.wait_ready(Duration::from_secs(60));
        server
    }

    pub fn wait_ready(&self, limit: Duration) {
        let t = Instant::now();
        while t.elapsed() < limit {
            if request(self.addr, "GET", "/v2/health/ready", &[], b"").is_ok_and(|r| r.status == 200) {
                return;
            }
            std::thread::sleep(Duration::from_millis(20));
        }
        panic!("server not ready after {limit:?}; log:\n{}", self.log());
    }

    pub fn log(&self) -> String {
        self.log.lock().unwrap().clone()
    }

    /// Sends SIGTERM.
    pub fn terminate(&self) {
        let ok = Command::new("kill").args(["-TERM", &self.child.id().to_string()]).status().unwrap().success();
        assert!(ok, "kill -TERM failed");
    }

    /// Waits for exit, at most `limit`.
    pub fn wait_exit(&mut self, limit: Duration) -> std::process::ExitStatus {
        let t = Instant::now();
        loop {
            if let Some(s) = self.child.try_wait().unwrap() {
                return s;
            }
            assert!(t.elapsed() < limit, "server did not exit within {limit:?}; log:\n{}", self.log());
            std::thread::sleep(Duration::from_millis(20));
        }
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        if self.child.try_wait().ok().flatten().is_none() {
            let _ = self.child.kill();
            let _ = self.child.wait();
        }
    }
}
