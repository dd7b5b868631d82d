//! Operations: health and metrics handlers, and the middleware around every request (request
//! id, logging, metrics) and around model routes (API key, concurrency permits, time limit).

use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use axum::Json;
use axum::extract::{FromRequestParts, MatchedPath, RawPathParams, Request, State};
use axum::http::{HeaderName, HeaderValue, header};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use serde::Serialize;
use tracing::Instrument;
use utoipa::ToSchema;

use crate::error::{ApiError, ErrorBody, ErrorKind};
use crate::queue::Inference;
use crate::state::AppState;

/// `x-request-id`: echoed when the client sends a sane one, generated otherwise.
pub const REQUEST_ID: HeaderName = HeaderName::from_static("x-request-id");
/// Time the request waited in its model queue, in microseconds.
pub const QUEUE_TIME: HeaderName = HeaderName::from_static("x-queue-time-us");
/// Time of the model run the request was part of, in microseconds.
pub const INFERENCE_TIME: HeaderName = HeaderName::from_static("x-inference-time-us");
/// Samples in the model run the request was part of.
pub const BATCH_SIZE: HeaderName = HeaderName::from_static("x-batch-size");

/// Liveness answer.
#[derive(Debug, Serialize, serde::Deserialize, ToSchema)]
pub struct Live {
    /// Always true: the process answers.
    pub live: bool,
}

/// Readiness answer.
#[derive(Debug, Serialize, serde::Deserialize, ToSchema)]
pub struct Ready {
    /// True when every model is loaded and warmed and no shutdown is under way.
    pub ready: bool,
}

/// Server liveness (KServe V2).
#[utoipa::path(get, path = "/v2/health/live", tag = "Health", responses((status = 200, description = "The server process answers", body = Live)))]
pub async fn live() -> Json<Live> {
    Json(Live { live: true })
}

/// Server readiness (KServe V2): 200 once every model is loaded and warmed, 503 while loading
/// or shutting down.
#[utoipa::path(get, path = "/v2/health/ready", tag = "Health", responses(
    (status = 200, description = "Ready", body = Ready),
    (status = 503, description = "Loading or shutting down", body = ErrorBody)))]
pub async fn ready(State(state): State<AppState>) -> Result<Json<Ready>, ApiError> {
    state.check_ready()?;
    Ok(Json(Ready { ready: true }))
}

/// Prometheus metrics (text exposition format).
#[utoipa::path(get, path = "/metrics", tag = "Operations", responses((status = 200, description = "Prometheus text format", body = String, content_type = "text/plain")))]
pub async fn metrics(State(state): State<AppState>) -> impl IntoResponse {
    ([(header::CONTENT_TYPE, "text/plain; version=0.0.4; charset=utf-8")], state.metrics().render())
}

/// 404 for routes that do not exist.
pub async fn not_found(req: Request) -> ApiError {
    let path: String = req.uri().path().chars().take(128).collect();
    ApiError::new(ErrorKind::NotFound, format!("no route {path:?}; see /docs for the API"))
}

/// 405 for routes that exist under another method.
pub async fn method_not_allowed(req: Request) -> ApiError {
    ApiError::new(
        ErrorKind::MethodNotAllowed,
        format!("method {} is not allowed here; see /docs for the API", req.method()),
    )
}

/// A response with the queue time, inference time and batch size headers of an [`Inference`].
#[derive(Debug)]
pub struct Timed<T> {
    queue: Duration,
    inference: Duration,
    batch: usize,
    body: T,
}

impl<T> Timed<T> {
    /// `body`, timed as `inference` was.
    pub fn new(inference: &Inference, body: T) -> Self {
        Self { queue: inference.queue_time, inference: inference.inference_time, batch: inference.batch_size, body }
    }
}

impl<T: IntoResponse> IntoResponse for Timed<T> {
    fn into_response(self) -> Response {
        let mut resp = self.body.into_response();
        let h = resp.headers_mut();
        h.insert(QUEUE_TIME, HeaderValue::from(self.queue.as_micros() as u64));
        h.insert(INFERENCE_TIME, HeaderValue::from(self.inference.as_micros() as u64));
        h.insert(BATCH_SIZE, HeaderValue::from(self.batch));
        resp
    }
}

fn valid_request_id(v: &HeaderValue) -> bool {
    let b = v.as_bytes();
    !b.is_empty() && b.len() <= 128 && b.iter().all(|c| c.is_ascii_alphanumeric() || b"-_.:/+=".contains(c))
}

fn new_request_id() -> HeaderValue {
    static SEED: std::sync::OnceLock<u64> = std::sync::OnceLock::new();
    static COUNTER: AtomicU64 = AtomicU64::new(0);
    let seed = *SEED.get_or_init(|| {
        let t = SystemTime::now().duration_since(UNIX_EPOCH).map_or(0, |d| d.as_nanos() as u64);
        t ^ (u64::from(std::process::id()) << 32)
    });
    let n = COUNTER.fetch_add(1, Ordering::Relaxed);
    HeaderValue::from_str(&format!("{seed:016x}-{n:08x}")).unwrap_or(HeaderValue::from_static("-"))
}

/// The outermost middleware: request id (in the response header and the log span), one log
/// line per request (`debug`; 5xx at `warn`), and the request counter and latency histogram.
pub async fn request_context(State(state): State<AppState>, req: Request, next: Next) -> Response {
    let start = Instant::now();
    let id = req.headers().get(&REQUEST_ID).filter(|v| valid_request_id(v)).cloned().unwrap_or_else(new_request_id);
    let route = req.extensions().get::<MatchedPath>().map_or("unmatched", |m| m.as_str()).to_string();
    let (mut parts, body) = req.into_parts();
    let model = match RawPathParams::from_request_parts(&mut parts, &()).await {
        Ok(p) => match p.iter().find(|(k, _)| *k == "name") {
            Some((_, v)) if state.has_model(v) => v.to_string(),
            Some(_) => "(unknown)".to_string(),
            None => String::new(),
        },
        Err(_) => String::new(),
    };
    let method = parts.method.clone();
    let req = Request::from_parts(parts, body);
    let span = tracing::debug_span!("request", id = %id.to_str().unwrap_or("-"), %method, %route, model = %model);
    let mut resp = next.run(req).instrument(span.clone()).await;
    let elapsed = start.elapsed();
    let status = resp.status();
    metrics::counter!("han_requests_total", "model" => model.clone(), "route" => route.clone(), "status" => status.as_str().to_string()).increment(1);
    metrics::histogram!("han_request_duration_seconds", "model" => model, "route" => route)
        .record(elapsed.as_secs_f64());
    span.in_scope(|| {
        if status.is_server_error() {
            tracing::warn!(status = status.as_u16(), elapsed_us = elapsed.as_micros() as u64, "request failed");
        } else {
            tracing::debug!(status = status.as_u16(), elapsed_us = elapsed.as_micros() as u64, "request");
        }
    });
    resp.headers_mut().insert(REQUEST_ID, id);
    resp
}

/// Constant-time comparison of the presented and the configured key.
fn key_matches(presented: &[u8], key: &[u8]) -> bool {
    presented.len() == key.len() && presented.iter().zip(key).fold(0u8, |acc, (a, b)| acc | (a ^ b)) == 0
}

fn authorized(req: &Request, key: &str) -> bool {
    let Some(value) = req.headers().get(header::AUTHORIZATION).and_then(|v| v.to_str().ok()) else {
        return false;
    };
    let mut it = value.trim().splitn(2, ' ');
    let scheme = it.next().unwrap_or("");
    let token = it.next().unwrap_or("").trim();
    scheme.eq_ignore_ascii_case("bearer") && key_matches(token.as_bytes(), key.as_bytes())
}

/// Around model routes: the API key (401), a concurrency permit taken at once or 429, and the
/// request time limit (504; dropping the request also drops its place in the queue).
pub async fn guard(State(state): State<AppState>, req: Request, next: Next) -> Response {
    if let Some(key) = &state.settings().api_key
        && !authorized(&req, key)
    {
        return ApiError::new(ErrorKind::Unauthorized, "missing or wrong API key; send Authorization: Bearer <key>")
            .into_response();
    }
    let Ok(permit) = state.permits().clone().try_acquire_owned() else {
        return ApiError::new(
            ErrorKind::TooManyRequests,
            format!("more than {} concurrent requests; retry later", state.settings().max_concurrent_requests),
        )
        .into_response();
    };
    let in_flight = metrics::gauge!("han_requests_in_flight");
    in_flight.increment(1.0);
    let limit = state.settings().request_timeout;
    let resp = match tokio::time::timeout(limit, next.run(req)).await {
        Ok(resp) => resp,
        Err(_) => ApiError::new(ErrorKind::Timeout, format!("the request took longer than {} ms", limit.as_millis()))
            .into_response(),
    };
    in_flight.decrement(1.0);
    drop(permit);
    resp
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn request_ids_are_checked_and_generated_unique() {
        assert!(valid_request_id(&HeaderValue::from_static("abc-123")));
        assert!(!valid_request_id(&HeaderValue::from_static("a b")));
        assert!(!valid_request_id(&HeaderValue::from_str(&"x".repeat(200)).expect("ascii")));
        assert_ne!(new_request_id(), new_request_id());
    }

    #[test]
    fn keys_compare_exactly() {
        assert!(key_matches(b"secret", b"secret"));
        assert!(!key_matches(b"secreT", b"secret"));
        assert!(!key_matches(b"secret1", b"secret"));
    }
}
