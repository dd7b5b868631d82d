//! The one error type of the server, the one table from error kind to HTTP status, and the
//! one [`IntoResponse`]: every failure, from a handler, an extractor or a middleware, becomes
//! `{"error": "...", "error_type": "..."}` with the status from [`ErrorKind::status`].

use axum::Json;
use axum::extract::rejection::{BytesRejection, PathRejection};
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use serde::Serialize;
use utoipa::ToSchema;

/// What went wrong, as a client can act on it. The table in [`ErrorKind::status`] is the
/// only place that decides status codes.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ErrorKind {
    /// The body is not JSON (syntax error, truncated, nested too deeply).
    MalformedJson,
    /// Something else about the request line or headers is unusable.
    BadRequest,
    /// An API key is configured and the request lacks it or has another.
    Unauthorized,
    /// No such route.
    NotFound,
    /// No model of that name is loaded.
    ModelNotFound,
    /// The model exists but not in that version.
    VersionNotFound,
    /// The route exists but not for this method.
    MethodNotAllowed,
    /// The body exceeds `--max-body-bytes`.
    PayloadTooLarge,
    /// The `Content-Type` is neither JSON nor (for KServe binary requests) octet-stream.
    UnsupportedMediaType,
    /// Valid JSON that does not match the request schema (missing or unknown field, wrong type,
    /// bad `top_k`, unknown output name).
    InvalidRequest,
    /// The tensor shape does not fit the model or disagrees with the data length; empty batch.
    InvalidShape,
    /// A datatype the model cannot take, or values that do not fit the declared datatype.
    InvalidDatatype,
    /// NaN or infinite values (also finite numbers too large for FP32).
    InvalidValue,
    /// More samples than `--max-batch-size`.
    BatchTooLarge,
    /// More concurrent requests than `--max-concurrent-requests`.
    TooManyRequests,
    /// A bug or a failed model run; the details go to the log only.
    Internal,
    /// Models are still loading or warming up.
    NotReady,
    /// The server received SIGTERM or Ctrl-C and takes no new work.
    ShuttingDown,
    /// The request took longer than `--request-timeout-ms`.
    Timeout,
}

impl ErrorKind {
    /// Every kind, for tests and documentation.
    pub const ALL: [ErrorKind; 19] = [
        Self::MalformedJson,
        Self::BadRequest,
        Self::Unauthorized,
        Self::NotFound,
        Self::ModelNotFound,
        Self::VersionNotFound,
        Self::MethodNotAllowed,
        Self::PayloadTooLarge,
        Self::UnsupportedMediaType,
        Self::InvalidRequest,
        Self::InvalidShape,
        Self::InvalidDatatype,
        Self::InvalidValue,
        Self::BatchTooLarge,
        Self::TooManyRequests,
        Self::Internal,
        Self::NotReady,
        Self::ShuttingDown,
        Self::Timeout,
    ];

    /// The table: error kind -> (HTTP status, `error_type`).
    pub const fn table(self) -> (StatusCode, &'static str) {
        match self {
            Self::MalformedJson => (StatusCode::BAD_REQUEST, "malformed_json"),
            Self::BadRequest => (StatusCode::BAD_REQUEST, "bad_request"),
            Self::Unauthorized => (StatusCode::UNAUTHORIZED, "unauthorized"),
            Self::NotFound => (StatusCode::NOT_FOUND, "not_found"),
            Self::ModelNotFound => (StatusCode::NOT_FOUND, "model_not_found"),
            Self::VersionNotFound => (StatusCode::NOT_FOUND, "version_not_found"),
            Self::MethodNotAllowed => (StatusCode::METHOD_NOT_ALLOWED, "method_not_allowed"),
            Self::PayloadTooLarge => (StatusCode::PAYLOAD_TOO_LARGE, "payload_too_large"),
            Self::UnsupportedMediaType => (StatusCode::UNSUPPORTED_MEDIA_TYPE, "unsupported_media_type"),
            Self::InvalidRequest => (StatusCode::UNPROCESSABLE_ENTITY, "invalid_request"),
            Self::InvalidShape => (StatusCode::UNPROCESSABLE_ENTITY, "invalid_shape"),
            Self::InvalidDatatype => (StatusCode::UNPROCESSABLE_ENTITY, "invalid_datatype"),
            Self::InvalidValue => (StatusCode::UNPROCESSABLE_ENTITY, "invalid_value"),
            Self::BatchTooLarge => (StatusCode::UNPROCESSABLE_ENTITY, "batch_too_large"),
            Self::TooManyRequests => (StatusCode::TOO_MANY_REQUESTS, "too_many_requests"),
            Self::Internal => (StatusCode::INTERNAL_SERVER_ERROR, "internal"),
            Self::NotReady => (StatusCode::SERVICE_UNAVAILABLE, "not_ready"),
            Self::ShuttingDown => (StatusCode::SERVICE_UNAVAILABLE, "shutting_down"),
            Self::Timeout => (StatusCode::GATEWAY_TIMEOUT, "timeout"),
        }
    }

    /// The HTTP status of this kind.
    pub const fn status(self) -> StatusCode {
        self.table().0
    }

    /// The `error_type` string of this kind.
    pub const fn error_type(self) -> &'static str {
        self.table().1
    }
}

/// The server's error: a kind (which fixes the status) and a message for the client (for
/// [`ErrorKind::Internal`], a message for the log only).
#[derive(Clone, Debug, thiserror::Error)]
#[error("{message}")]
pub struct ApiError {
    /// What went wrong.
    pub kind: ErrorKind,
    /// What to tell the client (or, for internal errors, the log).
    pub message: String,
}

/// The JSON body of every error response.
#[derive(Debug, Serialize, serde::Deserialize, ToSchema)]
pub struct ErrorBody {
    /// What went wrong and, where possible, what to do instead.
    pub error: String,
    /// A stable machine-readable kind, e.g. `model_not_found`, `invalid_shape`.
    pub error_type: String,
}

impl ApiError {
    /// An error of `kind` with `message`.
    pub fn new(kind: ErrorKind, message: impl Into<String>) -> Self {
        Self { kind, message: message.into() }
    }

    /// An internal error; `detail` goes to the log, never to the client.
    pub fn internal(detail: impl Into<String>) -> Self {
        Self::new(ErrorKind::Internal, detail)
    }

    /// 404 for a model name that is not loaded, listing the valid names.
    pub fn model_not_found(name: &str, valid: impl IntoIterator<Item = impl AsRef<str>>) -> Self {
        let valid: Vec<String> = valid.into_iter().map(|s| s.as_ref().to_string()).collect();
        let shown: String = name.chars().take(64).collect::<String>().escape_debug().to_string();
        let more = if name.chars().count() > 64 { "..." } else { "" };
        Self::new(
            ErrorKind::ModelNotFound,
            format!(
                "unknown model \"{shown}{more}\"; valid names: {}",
                if valid.is_empty() { "(none loaded)".into() } else { valid.join(", ") }
            ),
        )
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let (status, error_type) = self.kind.table();
        let error = if self.kind == ErrorKind::Internal {
            tracing::error!(error = %self.message, "internal error");
            "internal server error; the details are in the server log".to_string()
        } else {
            self.message
        };
        let mut resp = (status, Json(ErrorBody { error, error_type: error_type.into() })).into_response();
        let headers = resp.headers_mut();
        match self.kind {
            ErrorKind::Unauthorized => {
                headers.insert(header::WWW_AUTHENTICATE, HeaderValue::from_static("Bearer"));
            }
            ErrorKind::TooManyRequests | ErrorKind::NotReady => {
                headers.insert(header::RETRY_AFTER, HeaderValue::from_static("1"));
            }
            _ => {}
        }
        resp.extensions_mut().insert(self.kind);
        resp
    }
}

impl From<BytesRejection> for ApiError {
    fn from(r: BytesRejection) -> Self {
        match r.status() {
            StatusCode::PAYLOAD_TOO_LARGE => Self::new(
                ErrorKind::PayloadTooLarge,
                "request body too large; send fewer samples per request or raise --max-body-bytes",
            ),
            s if s.is_server_error() => Self::internal(r.body_text()),
            _ => Self::new(ErrorKind::BadRequest, format!("could not read the request body: {}", r.body_text())),
        }
    }
}

impl From<PathRejection> for ApiError {
    fn from(r: PathRejection) -> Self {
        if r.status().is_server_error() {
            Self::internal(r.body_text())
        } else {
            Self::new(ErrorKind::BadRequest, format!("invalid path: {}", r.body_text()))
        }
    }
}

/// Classifies a `serde_json` error: syntax and truncation are malformed JSON (400), the rest is
/// JSON that does not match the schema (422).
pub fn json_error(e: &serde_json::Error) -> ApiError {
    use serde_json::error::Category;
    match e.classify() {
        Category::Syntax | Category::Eof => ApiError::new(ErrorKind::MalformedJson, format!("malformed JSON: {e}")),
        Category::Data => ApiError::new(ErrorKind::InvalidRequest, format!("invalid request: {e}")),
        Category::Io => ApiError::new(ErrorKind::BadRequest, format!("could not read the request body: {e}")),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn error_types_are_unique_and_statuses_are_errors() {
        let mut seen = std::collections::HashSet::new();
        for k in ErrorKind::ALL {
            let (s, t) = k.table();
            assert!(s.is_client_error() || s.is_server_error(), "{k:?}");
            assert!(seen.insert(t), "duplicate error_type {t}");
        }
    }

    #[test]
    fn json_errors_split_into_syntax_and_schema() {
        let syntax = serde_json::from_str::<Vec<f32>>("[1,").expect_err("truncated");
        assert_eq!(json_error(&syntax).kind, ErrorKind::MalformedJson);
        let schema = serde_json::from_str::<Vec<f32>>("[\"a\"]").expect_err("string");
        assert_eq!(json_error(&schema).kind, ErrorKind::InvalidRequest);
    }

    #[test]
    fn unknown_model_message_lists_valid_names_and_truncates_long_input() {
        let e = ApiError::model_not_found(&"x".repeat(1000), ["a", "b"]);
        assert!(e.message.contains("valid names: a, b"));
        assert!(e.message.len() < 200);
    }
}
