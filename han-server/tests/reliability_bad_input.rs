//! Reliability: a table of bad requests against the real binary on a loopback port. Every row
//! names the expected status and `error_type`; after the table the server is still ready and
//! answers a prediction exactly like the classifier does. See RELIABILITY.md.
#![allow(clippy::unwrap_used)]

mod common;

use std::io::{BufRead, BufReader, Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::time::Duration;

use common::http::{Server, get};
use common::*;
use serde_json::json;

const KEY: &str = "reliability-secret";
const MAX_BODY: usize = 64 * 1024;
const MAX_BATCH: usize = 8;

/// One row: what is sent and what must come back.
struct Case {
    what: &'static str,
    method: &'static str,
    path: String,
    /// Extra header lines (raw bytes, so that invalid header values can be sent too).
    headers: Vec<Vec<u8>>,
    body: Vec<u8>,
    status: u16,
    error_type: &'static str,
}

/// The status, lower-case headers and body of one exchange of raw bytes (`Connection: close`).
fn exchange(addr: SocketAddr, raw: &[u8]) -> std::io::Result<(u16, Vec<u8>)> {
    assert!(addr.ip().is_loopback());
    let mut s = TcpStream::connect_timeout(&addr, Duration::from_secs(5))?;
    s.set_read_timeout(Some(Duration::from_secs(30)))?;
    s.write_all(raw)?;
    let mut r = BufReader::new(s);
    let mut line = String::new();
    r.read_line(&mut line)?;
    let status = line
        .split_whitespace()
        .nth(1)
        .and_then(|c| c.parse().ok())
        .ok_or_else(|| std::io::Error::other(format!("status line {line:?}")))?;
    let mut len = None;
    loop {
        line.clear();
        r.read_line(&mut line)?;
        let l = line.trim_end();
        if l.is_empty() {
            break;
        }
        if let Some((k, v)) = l.split_once(':')
            && k.eq_ignore_ascii_case("content-length")
        {
            len = v.trim().parse::<usize>().ok();
        }
    }
    let mut body = vec![0; len.unwrap_or(0)];
    r.read_exact(&mut body)?;
    Ok((status, body))
}

fn send(addr: SocketAddr, c: &Case) -> (u16, Vec<u8>) {
    let mut raw = format!(
        "{} {} HTTP/1.1\r\nHost: {addr}\r\nConnection: close\r\nContent-Length: {}\r\n",
        c.method,
        c.path,
        c.body.len()
    )
    .into_bytes();
    for h in &c.headers {
        raw.extend_from_slice(h);
        raw.extend_from_slice(b"\r\n");
    }
    raw.extend_from_slice(b"\r\n");
    raw.extend_from_slice(&c.body);
    exchange(addr, &raw).unwrap_or_else(|e| panic!("{}: {e}", c.what))
}

fn auth() -> Vec<u8> {
    format!("Authorization: Bearer {KEY}").into_bytes()
}

fn json_ct() -> Vec<u8> {
    b"Content-Type: application/json".to_vec()
}

/// A POST with the right key and a JSON content type.
fn post(
    what: &'static str,
    path: impl Into<String>,
    body: impl Into<Vec<u8>>,
    status: u16,
    error_type: &'static str,
) -> Case {
    Case {
        what,
        method: "POST",
        path: path.into(),
        headers: vec![auth(), json_ct()],
        body: body.into(),
        status,
        error_type,
    }
}

fn infer(what: &'static str, input: serde_json::Value, status: u16, error_type: &'static str) -> Case {
    post(what, format!("/v2/models/{CHECKER}/infer"), json!({"inputs": [input]}).to_string(), status, error_type)
}

fn predict(what: &'static str, body: impl Into<Vec<u8>>, status: u16, error_type: &'static str) -> Case {
    post(what, format!("/v1/models/{CHECKER}/predict"), body, status, error_type)
}

fn table() -> Vec<Case> {
    let p = format!("/v1/models/{CHECKER}/predict");
    let ok_input = |shape: serde_json::Value, datatype: &str, data: serde_json::Value| json!({"name": "input", "shape": shape, "datatype": datatype, "data": data});
    let deep_array = format!("{{\"input\": {}0.5{}}}", "[".repeat(25_000), "]".repeat(25_000));
    let deep_object = format!(r#"{{"inputs": [], "extra": {}1{}}}"#, "{\"a\":".repeat(8_000), "}".repeat(8_000));
    let long_name = "m".repeat(16 * 1024);
    let mut huge = b"{\"inputs\": [".to_vec();
    while huge.len() < 4 * MAX_BODY {
        huge.extend_from_slice(b"[0.25, 0.5], ");
    }
    huge.extend_from_slice(b"[0.25, 0.5]]}");
    let mut cases = vec![
        // Malformed and truncated JSON: 400 malformed_json.
        predict("truncated JSON", r#"{"input": [0.1, 0.2"#, 400, "malformed_json"),
        predict("unquoted key", r#"{input: [0.1, 0.2]}"#, 400, "malformed_json"),
        predict("not JSON at all", "hello", 400, "malformed_json"),
        predict("trailing garbage", r#"{"input": [0.1, 0.2]} x"#, 400, "malformed_json"),
        predict("empty body", "", 400, "malformed_json"),
        post("whitespace-only body where the body is optional", "/v2/repository/index", " \r\n", 400, "malformed_json"),
        predict("bare NaN token", r#"{"input": [NaN, 0.2]}"#, 400, "malformed_json"),
        predict("bare Infinity token", r#"{"input": [Infinity, 0.2]}"#, 400, "malformed_json"),
        predict("invalid UTF-8 in a string", b"{\"input\": [0.1, 0.2], \"x\xff\": 1}".to_vec(), 400, "malformed_json"),
        predict("deeply nested array (25,000 levels)", deep_array, 400, "malformed_json"),
        // serde_json skips an ignored value without recursing: no limit hit, no stack overflow;
        // the request is then refused for what it lacks.
        post("deeply nested object in an ignored KServe field (8,000 levels)", format!("/v2/models/{CHECKER}/infer"), deep_object, 422, "invalid_request"),
        // Content type.
        Case { what: "text/plain", method: "POST", path: p.clone(), headers: vec![auth(), b"Content-Type: text/plain".to_vec()], body: br#"{"input": [0.1, 0.2]}"#.to_vec(), status: 415, error_type: "unsupported_media_type" },
        Case { what: "form encoded", method: "POST", path: p.clone(), headers: vec![auth(), b"Content-Type: application/x-www-form-urlencoded".to_vec()], body: b"input=1".to_vec(), status: 415, error_type: "unsupported_media_type" },
        Case { what: "octet-stream without the binary header", method: "POST", path: format!("/v2/models/{CHECKER}/infer"), headers: vec![auth(), b"Content-Type: application/octet-stream".to_vec()], body: b"\0\0\0\0".to_vec(), status: 415, error_type: "unsupported_media_type" },
        Case { what: "content type that is not text", method: "POST", path: p.clone(), headers: vec![auth(), b"Content-Type: application/\xffjson".to_vec()], body: br#"{"input": [0.1, 0.2]}"#.to_vec(), status: 415, error_type: "unsupported_media_type" },
        // Size.
        predict("body over --max-body-bytes", huge, 413, "payload_too_large"),
        // Datatypes.
        infer("datatype BYTES", ok_input(json!([1, 2]), "BYTES", json!([0.1, 0.2])), 422, "invalid_datatype"),
        infer("datatype FP8", ok_input(json!([1, 2]), "FP8", json!([0.1, 0.2])), 422, "invalid_datatype"),
        infer("datatype as a number", ok_input(json!([1, 2]), "FP32", json!([0.1, 0.2])).as_object().map(|o| { let mut o = o.clone(); o.insert("datatype".into(), json!(32)); json!(o) }).unwrap(), 422, "invalid_request"),
        infer("INT8 value out of range", ok_input(json!([1, 2]), "INT8", json!([300, 1])), 422, "invalid_datatype"),
        infer("fraction in INT32", ok_input(json!([1, 2]), "INT32", json!([1.5, 1])), 422, "invalid_datatype"),
        // Shapes.
        infer("shape [1, 3] for a 2-input model", ok_input(json!([1, 3]), "FP32", json!([0.1, 0.2, 0.3])), 422, "invalid_shape"),
        infer("shape [2, 2] with 2 values", ok_input(json!([2, 2]), "FP32", json!([0.1, 0.2])), 422, "invalid_shape"),
        infer("shape [1, 2] with 3 values", ok_input(json!([1, 2]), "FP32", json!([0.1, 0.2, 0.3])), 422, "invalid_shape"),
        infer("shape with u64::MAX rows", ok_input(json!([u64::MAX, 2]), "FP32", json!([0.1, 0.2])), 422, "invalid_shape"),
        infer("negative shape entry", ok_input(json!([-1, 2]), "FP32", json!([0.1, 0.2])), 422, "invalid_request"),
        infer("empty KServe batch [0, 2]", ok_input(json!([0, 2]), "FP32", json!([])), 422, "invalid_shape"),
        predict("sample with 3 values", r#"{"input": [0.1, 0.2, 0.3]}"#, 422, "invalid_shape"),
        predict("empty batch", r#"{"inputs": []}"#, 422, "invalid_shape"),
        predict("batch over --max-batch-size", json!({"inputs": vec![[0.1, 0.2]; MAX_BATCH + 1]}).to_string(), 422, "batch_too_large"),
        infer("KServe batch over --max-batch-size", ok_input(json!([MAX_BATCH + 1, 2]), "FP32", json!(vec![0.5; 2 * (MAX_BATCH + 1)])), 422, "batch_too_large"),
        // Values.
        predict("1e39 overflows f32", r#"{"input": [1e39, 0.2]}"#, 422, "invalid_value"),
        predict("-1e39 overflows f32", r#"{"input": [0.1, -1e39]}"#, 422, "invalid_value"),
        predict("1e309 overflows f64 (serde: out of range)", r#"{"input": [1e309, 0.2]}"#, 400, "malformed_json"),
        predict("\"NaN\"", r#"{"input": ["NaN", 0.2]}"#, 422, "invalid_value"),
        predict("\"Infinity\"", r#"{"input": [0.1, "Infinity"]}"#, 422, "invalid_value"),
        infer("KServe \"-Infinity\"", ok_input(json!([1, 2]), "FP32", json!(["-Infinity", 0.2])), 422, "invalid_value"),
        predict("string where a number belongs", r#"{"input": ["abc", 0.2]}"#, 422, "invalid_request"),
        predict("null where a number belongs", r#"{"input": [null, 0.2]}"#, 422, "invalid_request"),
        predict("bool where a number belongs", r#"{"input": [true, 0.2]}"#, 422, "invalid_request"),
        predict("object where a number belongs", r#"{"input": [{"v": 1}, 0.2]}"#, 422, "invalid_request"),
        predict("input is a number, not an array", r#"{"input": 0.5}"#, 422, "invalid_request"),
        // Request schema.
        predict("unknown field", r#"{"input": [0.1, 0.2], "temperature": 1}"#, 422, "invalid_request"),
        predict("both input and inputs", r#"{"input": [0.1, 0.2], "inputs": [[0.1, 0.2]]}"#, 422, "invalid_request"),
        predict("neither input nor inputs", r#"{}"#, 422, "invalid_request"),
        predict("body is a JSON array", r#"[0.1, 0.2]"#, 422, "invalid_request"),
        predict("body is an array of the fields in order", r#"[[0.1, 0.2]]"#, 422, "invalid_request"),
        post("index body is an array", "/v2/repository/index", "[]", 422, "invalid_request"),
        post("KServe body is an array of the fields", format!("/v2/models/{CHECKER}/infer"), r#"[null, null, [{"name": "input", "shape": [1, 2], "datatype": "FP32", "data": [0.1, 0.2]}]]"#, 422, "invalid_request"),
        predict("top_k -1", r#"{"input": [0.1, 0.2], "top_k": -1}"#, 422, "invalid_request"),
        predict("top_k 0", r#"{"input": [0.1, 0.2], "top_k": 0}"#, 422, "invalid_request"),
        predict("top_k above the classes", r#"{"input": [0.1, 0.2], "top_k": 3}"#, 422, "invalid_request"),
        predict("top_k u64::MAX", format!(r#"{{"input": [0.1, 0.2], "top_k": {}}}"#, u64::MAX), 422, "invalid_request"),
        predict("top_k 1e20", r#"{"input": [0.1, 0.2], "top_k": 1e20}"#, 422, "invalid_request"),
        predict("top_k 2^64 (beyond u64)", r#"{"input": [0.1, 0.2], "top_k": 18446744073709551616}"#, 422, "invalid_request"),
        predict("top_k as a string", r#"{"input": [0.1, 0.2], "top_k": "2"}"#, 422, "invalid_request"),
        post("two KServe inputs", format!("/v2/models/{CHECKER}/infer"), json!({"inputs": [ok_input(json!([1, 2]), "FP32", json!([0.1, 0.2])), ok_input(json!([1, 2]), "FP32", json!([0.1, 0.2]))]}).to_string(), 422, "invalid_request"),
        infer("unknown KServe input name", json!({"name": "x", "shape": [1, 2], "datatype": "FP32", "data": [0.1, 0.2]}), 422, "invalid_request"),
        post("unknown KServe output", format!("/v2/models/{CHECKER}/infer"), json!({"inputs": [ok_input(json!([1, 2]), "FP32", json!([0.1, 0.2]))], "outputs": [{"name": "secrets"}]}).to_string(), 422, "invalid_request"),
        post("classification 0", format!("/v2/models/{CHECKER}/infer"), json!({"inputs": [ok_input(json!([1, 2]), "FP32", json!([0.1, 0.2]))], "outputs": [{"name": "probabilities", "parameters": {"classification": 0}}]}).to_string(), 422, "invalid_request"),
        post("classification -5", format!("/v2/models/{CHECKER}/infer"), json!({"inputs": [ok_input(json!([1, 2]), "FP32", json!([0.1, 0.2]))], "outputs": [{"name": "probabilities", "parameters": {"classification": -5}}]}).to_string(), 422, "invalid_request"),
        infer("binary_data_size without binary data", json!({"name": "input", "shape": [1, 2], "datatype": "FP32", "parameters": {"binary_data_size": 8}}), 422, "invalid_request"),
        Case { what: "Inference-Header-Content-Length beyond the body", method: "POST", path: format!("/v2/models/{CHECKER}/infer"), headers: vec![auth(), json_ct(), b"Inference-Header-Content-Length: 100000".to_vec()], body: b"{}".to_vec(), status: 400, error_type: "bad_request" },
        Case { what: "Inference-Header-Content-Length not a number", method: "POST", path: format!("/v2/models/{CHECKER}/infer"), headers: vec![auth(), json_ct(), b"Inference-Header-Content-Length: -3".to_vec()], body: b"{}".to_vec(), status: 400, error_type: "bad_request" },
        // Model names: looked up in a map, never used as paths.
        predict_at("unknown model", "/v1/models/no-such-model/predict", 404, "model_not_found"),
        predict_at("name ..", "/v1/models/../predict", 404, "model_not_found"),
        predict_at("name %2e%2e", "/v1/models/%2e%2e/predict", 404, "model_not_found"),
        predict_at("name ../../etc/passwd encoded", "/v1/models/..%2f..%2fetc%2fpasswd/predict", 404, "model_not_found"),
        predict_at("name with a / splits the route", "/v1/models/a/b/predict", 404, "not_found"),
        predict_at("name NUL (%00)", "/v1/models/%00/predict", 404, "model_not_found"),
        predict_at("name of the model folder with a NUL after it", &format!("/v1/models/{CHECKER}%00/predict"), 404, "model_not_found"),
        predict_at("16 KiB name", &format!("/v1/models/{long_name}/predict"), 404, "model_not_found"),
        predict_at("invalid percent-encoded UTF-8", "/v1/models/%ff%fe/predict", 400, "bad_request"),
        get_at("metadata of ..%2f", "/v2/models/..%2fconfig.json", 404, "model_not_found"),
        // Versions.
        post("unknown version", format!("/v2/models/{CHECKER}/versions/7/infer"), json!({"inputs": [ok_input(json!([1, 2]), "FP32", json!([0.1, 0.2]))]}).to_string(), 404, "version_not_found"),
        get_at("version ..", &format!("/v2/models/{CHECKER}/versions/%2e%2e"), 404, "version_not_found"),
        // Methods and routes.
        get_at("GET on predict", &p, 405, "method_not_allowed"),
        Case { what: "DELETE on model metadata", method: "DELETE", path: format!("/v2/models/{CHECKER}"), headers: vec![auth()], body: vec![], status: 405, error_type: "method_not_allowed" },
        Case { what: "PUT on readiness", method: "PUT", path: "/v2/health/ready".into(), headers: vec![], body: vec![], status: 405, error_type: "method_not_allowed" },
        get_at("unknown route", "/v3/anything", 404, "not_found"),
        // API key.
        Case { what: "missing API key", method: "POST", path: p.clone(), headers: vec![json_ct()], body: br#"{"input": [0.1, 0.2]}"#.to_vec(), status: 401, error_type: "unauthorized" },
        Case { what: "wrong API key", method: "POST", path: p.clone(), headers: vec![json_ct(), b"Authorization: Bearer reliability-secreT".to_vec()], body: br#"{"input": [0.1, 0.2]}"#.to_vec(), status: 401, error_type: "unauthorized" },
        Case { what: "API key as Basic auth", method: "POST", path: p.clone(), headers: vec![json_ct(), format!("Authorization: Basic {KEY}").into_bytes()], body: br#"{"input": [0.1, 0.2]}"#.to_vec(), status: 401, error_type: "unauthorized" },
        Case { what: "API key prefix", method: "GET", path: "/v1/models".into(), headers: vec![b"Authorization: Bearer reliability".to_vec()], body: vec![], status: 401, error_type: "unauthorized" },
    ];
    // The right answer must not depend on earlier rows: a valid request in the middle.
    cases.push(predict("(control) valid request", r#"{"input": [0.1, 0.2]}"#, 200, ""));
    cases
}

fn predict_at(what: &'static str, path: &str, status: u16, error_type: &'static str) -> Case {
    post(what, path, r#"{"input": [0.1, 0.2]}"#, status, error_type)
}

fn get_at(what: &'static str, path: &str, status: u16, error_type: &'static str) -> Case {
    Case { what, method: "GET", path: path.into(), headers: vec![auth()], body: vec![], status, error_type }
}

#[test]
fn bad_inputs_get_their_status_and_error_type_and_the_server_keeps_serving() {
    let dir = models_dir();
    let max_body = MAX_BODY.to_string();
    let max_batch = MAX_BATCH.to_string();
    let server = Server::start(
        dir.path(),
        &[("HAN_API_KEY", KEY), ("HAN_MAX_BODY_BYTES", &max_body), ("HAN_MAX_BATCH_SIZE", &max_batch)],
    );
    let cases = table();
    let mut failures = Vec::new();
    for c in &cases {
        let (status, body) = send(server.addr, c);
        let v: serde_json::Value = serde_json::from_slice(&body).unwrap_or(serde_json::Value::Null);
        let ok = if c.status == 200 {
            status == 200
        } else {
            let msg = v["error"].as_str().unwrap_or("");
            status == c.status && v["error_type"] == c.error_type && !msg.is_empty() && msg.len() < 600
        };
        if !ok {
            let shown: String = String::from_utf8_lossy(&body).chars().take(300).collect();
            failures.push(format!("{}: want {} {}, got {status} {shown}", c.what, c.status, c.error_type));
        }
    }
    eprintln!("bad-input table: {} cases, {} failures", cases.len(), failures.len());
    assert!(failures.is_empty(), "{} of {} cases failed:\n{}", failures.len(), cases.len(), failures.join("\n"));
    assert!(cases.len() >= 30);

    // Still ready, and correct.
    assert_eq!(get(server.addr, "/v2/health/ready").status, 200);
    let x = values(784, 17, 0.0, 255.0);
    let body = json!({"input": x, "top_k": 10}).to_string();
    let (status, resp) = send(
        server.addr,
        &Case {
            what: "final prediction",
            method: "POST",
            path: format!("/v1/models/{DIGITS}/predict"),
            headers: vec![auth(), json_ct()],
            body: body.into_bytes(),
            status: 200,
            error_type: "",
        },
    );
    assert_eq!(status, 200, "{}", String::from_utf8_lossy(&resp));
    let v: serde_json::Value = serde_json::from_slice(&resp).unwrap();
    let got: Vec<(usize, f32)> = v["predictions"][0]
        .as_array()
        .unwrap()
        .iter()
        .map(|p| (p["index"].as_u64().unwrap() as usize, p["score"].as_f64().unwrap() as f32))
        .collect();
    let want: Vec<(usize, f32)> =
        classifier(dir.path(), DIGITS).predict(&x, 10).unwrap()[0].iter().map(|p| (p.index, p.score)).collect();
    assert_eq!(got, want);
    let log = server.log();
    assert!(!log.contains("panicked"), "a panic in the log:\n{log}");
}
