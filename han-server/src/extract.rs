//! Extractors whose rejections are [`ApiError`]s, so that every failure has the one JSON error
//! body: JSON bodies (content type checked, size limited by `DefaultBodyLimit`), path
//! parameters, and KServe infer bodies (JSON, or JSON plus binary tensors).

use axum::body::Bytes;
use axum::extract::{FromRequest, FromRequestParts, Path, Request};
use axum::http::{HeaderMap, header, request::Parts};
use serde::de::DeserializeOwned;

use crate::error::{ApiError, ErrorKind, json_error};

/// A JSON request body. `Content-Type` must be absent or JSON (`application/json`,
/// `application/*+json`), else 415; syntax errors are 400, schema mismatches 422, bodies over
/// the limit 413.
#[derive(Debug)]
pub struct JsonBody<T>(pub T);

/// Whether a content type is JSON; `None` (absent) counts as JSON.
fn is_json(ct: &str) -> bool {
    let essence = ct.split(';').next().unwrap_or("").trim().to_ascii_lowercase();
    essence == "application/json" || (essence.starts_with("application/") && essence.ends_with("+json"))
}

fn content_type(h: &HeaderMap) -> Result<Option<&str>, ApiError> {
    match h.get(header::CONTENT_TYPE) {
        None => Ok(None),
        Some(v) => v
            .to_str()
            .map(Some)
            .map_err(|_| ApiError::new(ErrorKind::UnsupportedMediaType, "the Content-Type header is not valid text")),
    }
}

/// Every request body is a JSON object; serde's derived structs would also take an array of
/// the fields in order (`[[0.1, 0.2]]` as a prediction request), which the schema forbids
/// (found by schemathesis).
fn parse_object<T: DeserializeOwned>(bytes: &[u8]) -> Result<T, ApiError> {
    if bytes.iter().find(|b| !b.is_ascii_whitespace()) == Some(&b'[') {
        return Err(ApiError::new(ErrorKind::InvalidRequest, "the request body must be a JSON object, not an array"));
    }
    serde_json::from_slice(bytes).map_err(|e| json_error(&e))
}

fn unsupported(ct: &str) -> ApiError {
    let shown: String = ct.chars().take(64).collect();
    ApiError::new(
        ErrorKind::UnsupportedMediaType,
        format!("Content-Type {shown:?} is not accepted; send application/json"),
    )
}

/// Refuses a content type that is present and not JSON (an absent one is read as JSON).
fn require_json(h: &HeaderMap) -> Result<(), ApiError> {
    match content_type(h)? {
        Some(ct) if !is_json(ct) => Err(unsupported(ct)),
        _ => Ok(()),
    }
}

impl<T: DeserializeOwned, S: Send + Sync> FromRequest<S> for JsonBody<T> {
    type Rejection = ApiError;

    async fn from_request(req: Request, state: &S) -> Result<Self, ApiError> {
        require_json(req.headers())?;
        let bytes = Bytes::from_request(req, state).await?;
        parse_object(&bytes).map(JsonBody)
    }
}

/// An optional JSON body: an empty body (no bytes) is `None`, anything else as [`JsonBody`].
#[derive(Debug)]
pub struct OptionalJsonBody<T>(pub Option<T>);

impl<T: DeserializeOwned, S: Send + Sync> FromRequest<S> for OptionalJsonBody<T> {
    type Rejection = ApiError;

    async fn from_request(req: Request, state: &S) -> Result<Self, ApiError> {
        require_json(req.headers())?;
        let bytes = Bytes::from_request(req, state).await?;
        // Only a body with no bytes is absent: whitespace alone is not JSON (RFC 8259), and
        // schemathesis flagged accepting it as a schema violation.
        if bytes.is_empty() {
            return Ok(Self(None));
        }
        parse_object(&bytes).map(|v| Self(Some(v)))
    }
}

/// Path parameters; a rejection (e.g. bad percent-encoding) becomes a 400 JSON error.
#[derive(Debug)]
pub struct Params<T>(pub T);

impl<T: DeserializeOwned + Send, S: Send + Sync> FromRequestParts<S> for Params<T> {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<Self, ApiError> {
        Ok(Params(Path::<T>::from_request_parts(parts, state).await?.0))
    }
}

/// A KServe infer body: the JSON header and, with the binary tensor data extension (header
/// `Inference-Header-Content-Length`), the binary tensors that follow it.
#[derive(Debug)]
pub struct KserveBody<T> {
    /// The JSON part.
    pub json: T,
    /// The bytes after the JSON part (empty without the extension).
    pub binary: Bytes,
}

/// The header of the KServe binary tensor data extension.
pub const INFERENCE_HEADER: &str = "inference-header-content-length";

impl<T: DeserializeOwned, S: Send + Sync> FromRequest<S> for KserveBody<T> {
    type Rejection = ApiError;

    async fn from_request(req: Request, state: &S) -> Result<Self, ApiError> {
        let split = match req.headers().get(INFERENCE_HEADER) {
            None => None,
            Some(v) => Some(v.to_str().ok().and_then(|s| s.trim().parse::<usize>().ok()).ok_or_else(|| {
                ApiError::new(ErrorKind::BadRequest, "Inference-Header-Content-Length must be a non-negative integer")
            })?),
        };
        if let Some(ct) = content_type(req.headers())? {
            let octets = ct.split(';').next().unwrap_or("").trim().eq_ignore_ascii_case("application/octet-stream");
            if !(is_json(ct) || (octets && split.is_some())) {
                return Err(unsupported(ct));
            }
        }
        let bytes = Bytes::from_request(req, state).await?;
        let n = split.unwrap_or(bytes.len());
        if n > bytes.len() {
            return Err(ApiError::new(
                ErrorKind::BadRequest,
                format!("Inference-Header-Content-Length is {n} but the body has only {} bytes", bytes.len()),
            ));
        }
        let json = parse_object(&bytes[..n])?;
        Ok(Self { json, binary: bytes.slice(n..) })
    }
}

#[cfg(test)]
mod tests {
    use super::is_json;

    #[test]
    fn json_content_types() {
        assert!(is_json("application/json"));
        assert!(is_json("Application/JSON; charset=utf-8"));
        assert!(is_json("application/problem+json"));
        assert!(!is_json("text/plain"));
        assert!(!is_json("application/x-www-form-urlencoded"));
    }
}
