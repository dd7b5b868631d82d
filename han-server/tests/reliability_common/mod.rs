//! Shared by the `reliability_*` tests: a keep-alive HTTP/1.1 client over `TcpStream` that
//! classifies how each request ended, latency percentiles, and the resident memory of a process.
//! Only loopback addresses are ever contacted.
#![allow(dead_code, clippy::unwrap_used)]

use std::io::{BufRead, BufReader, Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::time::Duration;

/// One keep-alive HTTP/1.1 connection (reconnects when the server says `Connection: close`).
pub struct Conn {
    pub addr: SocketAddr,
    stream: Option<BufReader<TcpStream>>,
}

/// How one request ended.
#[derive(Debug)]
pub enum Outcome {
    /// A complete response with this status and its body.
    Status(u16, Vec<u8>),
    /// `connect` failed: the server was not listening.
    Refused,
    /// The request was written on a fresh connection and the connection then closed or reset
    /// before any response byte.
    ResetFresh,
    /// As above on a reused keep-alive connection.
    ResetReused,
    /// The connection broke after part of a response.
    Broken(#[allow(dead_code)] String),
}

impl Conn {
    pub fn new(addr: SocketAddr) -> Self {
        Self { addr, stream: None }
    }

    pub fn post(&mut self, path: &str, body: &[u8]) -> Outcome {
        let fresh = self.stream.is_none();
        if fresh {
            match TcpStream::connect_timeout(&self.addr, Duration::from_secs(5)) {
                Ok(s) => {
                    s.set_read_timeout(Some(Duration::from_secs(30))).unwrap();
                    s.set_nodelay(true).unwrap();
                    self.stream = Some(BufReader::new(s));
                }
                Err(_) => return Outcome::Refused,
            }
        }
        let r = self.stream.as_mut().unwrap();
        let head = format!(
            "POST {path} HTTP/1.1\r\nHost: {}\r\nContent-Type: application/json\r\nContent-Length: {}\r\n\r\n",
            self.addr,
            body.len()
        );
        let sent = r.get_mut().write_all(head.as_bytes()).and_then(|()| r.get_mut().write_all(body));
        let reset = if fresh { Outcome::ResetFresh } else { Outcome::ResetReused };
        if sent.is_err() {
            self.stream = None;
            return reset;
        }
        let mut line = String::new();
        match r.read_line(&mut line) {
            Ok(0) | Err(_) => {
                self.stream = None;
                return reset;
            }
            Ok(_) => {}
        }
        let Some(status) = line.split_whitespace().nth(1).and_then(|c| c.parse::<u16>().ok()) else {
            self.stream = None;
            return Outcome::Broken(format!("status line {line:?}"));
        };
        let (mut len, mut close) = (0usize, false);
        loop {
            line.clear();
            if r.read_line(&mut line).map_or(true, |n| n == 0) {
                self.stream = None;
                return Outcome::Broken("headers cut".into());
            }
            let l = line.trim_end();
            if l.is_empty() {
                break;
            }
            if let Some((k, v)) = l.split_once(':') {
                if k.eq_ignore_ascii_case("content-length") {
                    len = v.trim().parse().unwrap_or(0);
                } else if k.eq_ignore_ascii_case("connection") && v.trim().eq_ignore_ascii_case("close") {
                    close = true;
                }
            }
        }
        let mut body = vec![0; len];
        if let Err(e) = r.read_exact(&mut body) {
            self.stream = None;
            return Outcome::Broken(format!("body cut: {e}"));
        }
        if close {
            self.stream = None;
        }
        Outcome::Status(status, body)
    }
}

/// The `q` quantile (0..=1) of sorted `v`.
pub fn quantile(sorted: &[u32], q: f64) -> u32 {
    if sorted.is_empty() {
        return 0;
    }
    sorted[((sorted.len() - 1) as f64 * q).round() as usize]
}

/// Resident memory of process `pid` in KiB (`VmRSS` of `/proc/<pid>/status`).
pub fn rss_kib(pid: u32) -> u64 {
    let s = std::fs::read_to_string(format!("/proc/{pid}/status")).unwrap();
    s.lines()
        .find_map(|l| l.strip_prefix("VmRSS:"))
        .and_then(|v| v.trim().trim_end_matches("kB").trim().parse().ok())
        .unwrap()
}
