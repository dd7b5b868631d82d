//! KServe V2 / Open Inference Protocol (REST): server and model metadata, readiness, the
//! repository index, and inference with the classification and binary tensor data extensions.
//!
//! Every model has one input `input` (`[-1, ...input shape]`) and two outputs, `logits` and
//! `probabilities` (`[-1, classes]`, FP32), in version `"1"`.

use axum::Json;
use axum::body::{Body, Bytes};
use axum::extract::State;
use axum::http::{HeaderValue, header};
use axum::response::{IntoResponse, Response};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use crate::error::{ApiError, ErrorBody, ErrorKind};
use crate::extract::{INFERENCE_HEADER, KserveBody, OptionalJsonBody, Params};
use crate::model::{ModelInfo, top_k};
use crate::ops::Timed;
use crate::queue::Inference;
use crate::state::AppState;
use crate::tensor::{Datatype, Numbers};

/// The one model version.
pub const VERSION: &str = "1";
/// The name of every model's input tensor.
pub const INPUT: &str = "input";
/// The output tensors.
pub const OUTPUTS: [&str; 2] = ["logits", "probabilities"];

/// Server metadata.
#[derive(Debug, Serialize, Deserialize, ToSchema)]
pub struct ServerMetadata {
    /// `han-server`.
    pub name: String,
    /// The server version.
    pub version: String,
    /// Supported protocol extensions.
    pub extensions: Vec<String>,
}

/// A tensor's name, datatype and shape (`-1` is the batch dimension).
#[derive(Debug, Serialize, Deserialize, ToSchema)]
pub struct TensorMetadata {
    /// Tensor name.
    pub name: String,
    /// Element type, `FP32`.
    pub datatype: String,
    /// Shape; `-1` marks the batch dimension.
    pub shape: Vec<i64>,
}

/// Model metadata.
#[derive(Debug, Serialize, Deserialize, ToSchema)]
pub struct ModelMetadata {
    /// Model name.
    pub name: String,
    /// Available versions (`["1"]`).
    pub versions: Vec<String>,
    /// `han`.
    pub platform: String,
    /// The input tensor.
    pub inputs: Vec<TensorMetadata>,
    /// The output tensors.
    pub outputs: Vec<TensorMetadata>,
}

/// Model readiness.
#[derive(Debug, Serialize, Deserialize, ToSchema)]
pub struct ModelReady {
    /// Model name.
    pub name: String,
    /// True: a served model is always ready.
    pub ready: bool,
}

/// Optional repository index request body.
#[derive(Debug, Default, Deserialize, ToSchema)]
pub struct IndexRequest {
    /// Only list ready models (all served models are ready).
    #[serde(default)]
    pub ready: Option<bool>,
}

/// One entry of the repository index.
#[derive(Debug, Serialize, Deserialize, ToSchema)]
pub struct IndexEntry {
    /// Model name.
    pub name: String,
    /// Version (`"1"`).
    pub version: String,
    /// `READY`.
    pub state: String,
    /// Empty when ready.
    pub reason: String,
}

/// Parameters of an input tensor.
#[derive(Clone, Debug, Default, Deserialize, ToSchema)]
pub struct InputParameters {
    /// Binary tensor data extension: the tensor's bytes follow the JSON part.
    #[serde(default)]
    pub binary_data_size: Option<u64>,
}

/// An input tensor.
#[derive(Debug, Deserialize, ToSchema)]
pub struct InferInputTensor {
    /// Must be `input`.
    pub name: String,
    /// `[n, ...input shape]`, `[n, input_len]`, or one sample's `input shape` / `[input_len]`.
    pub shape: Vec<u64>,
    /// `FP32` (also `FP16`, `BF16`, `FP64`, `INT8`..`INT64`, `UINT8`..`UINT64`, converted to FP32).
    pub datatype: String,
    /// Tensor parameters.
    #[serde(default)]
    pub parameters: Option<InputParameters>,
    /// Values, row-major, flat or nested (absent with binary data).
    #[serde(default)]
    #[schema(value_type = Option<Vec<f64>>)]
    pub data: Option<Numbers>,
}

/// Parameters of a requested output.
#[derive(Clone, Debug, Default, Deserialize, ToSchema)]
pub struct OutputParameters {
    /// Classification extension: return the top `k` classes as `"score:index:label"` strings.
    #[serde(default)]
    pub classification: Option<u64>,
    /// Binary tensor data extension: return the output as bytes after the JSON part.
    #[serde(default)]
    pub binary_data: Option<bool>,
}

/// A requested output.
#[derive(Debug, Deserialize, ToSchema)]
pub struct RequestedOutput {
    /// `logits` or `probabilities`.
    pub name: String,
    /// Output parameters.
    #[serde(default)]
    pub parameters: Option<OutputParameters>,
}

/// Request-level parameters.
#[derive(Clone, Debug, Default, Deserialize, ToSchema)]
pub struct RequestParameters {
    /// Return every output in binary form (binary tensor data extension).
    #[serde(default)]
    pub binary_data_output: Option<bool>,
}

/// An inference request.
#[derive(Debug, Deserialize, ToSchema)]
pub struct InferRequest {
    /// Echoed in the response.
    #[serde(default)]
    pub id: Option<String>,
    /// Request parameters.
    #[serde(default)]
    pub parameters: Option<RequestParameters>,
    /// Exactly one input tensor, `input`.
    pub inputs: Vec<InferInputTensor>,
    /// Outputs to return (default: `logits` and `probabilities`).
    #[serde(default)]
    pub outputs: Option<Vec<RequestedOutput>>,
}

/// Output tensor data: numbers, or strings for classification outputs.
#[derive(Debug, Serialize, Deserialize, ToSchema)]
#[serde(untagged)]
pub enum OutputData {
    /// FP32 values, row-major.
    Fp32(Vec<f32>),
    /// BYTES values (`"score:index:label"`).
    Bytes(Vec<String>),
}

/// Output tensor parameters (binary tensor data extension).
#[derive(Debug, Serialize, Deserialize, ToSchema)]
pub struct OutputTensorParameters {
    /// Bytes of this tensor after the JSON part.
    pub binary_data_size: usize,
}

/// An output tensor.
#[derive(Debug, Serialize, Deserialize, ToSchema)]
pub struct InferOutputTensor {
    /// `logits` or `probabilities`.
    pub name: String,
    /// `[n, classes]`, or `[n, k]` for classification.
    pub shape: Vec<usize>,
    /// `FP32`, or `BYTES` for classification.
    pub datatype: String,
    /// Present with binary data.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub parameters: Option<OutputTensorParameters>,
    /// Values (absent with binary data).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub data: Option<OutputData>,
}

/// An inference response.
#[derive(Debug, Serialize, Deserialize, ToSchema)]
pub struct InferResponse {
    /// Model name.
    pub model_name: String,
    /// `"1"`.
    pub model_version: String,
    /// The request's `id`, if it had one.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub id: Option<String>,
    /// The requested outputs.
    pub outputs: Vec<InferOutputTensor>,
}

#[derive(Debug)]
struct OutputSpec {
    logits: bool,
    classification: Option<usize>,
    binary: bool,
}

/// A checked request: the samples and what to return.
#[derive(Debug)]
pub struct Decoded {
    id: Option<String>,
    /// Samples.
    pub rows: usize,
    /// Raw input values, row-major.
    pub input: Vec<f32>,
    outputs: Vec<OutputSpec>,
}

fn invalid(kind: ErrorKind, msg: String) -> ApiError {
    ApiError::new(kind, msg)
}

/// The batch size a shape implies: `[n, ...input shape]`, `[n, input_len]`, or one sample as
/// `input shape` or `[input_len]`.
fn rows_for_shape(shape: &[u64], info: &ModelInfo) -> Result<usize, ApiError> {
    let s: Vec<usize> = shape.iter().map(|&d| usize::try_from(d).unwrap_or(usize::MAX)).collect();
    if s.len() == info.input_shape.len() + 1 && s[1..] == info.input_shape[..] {
        return Ok(s[0]);
    }
    if s.len() == 2 && s[1] == info.input_len {
        return Ok(s[0]);
    }
    if s == info.input_shape || s == [info.input_len] {
        return Ok(1);
    }
    let want: Vec<String> = info.input_shape.iter().map(|d| d.to_string()).collect();
    Err(invalid(
        ErrorKind::InvalidShape,
        format!(
            "shape {shape:?} does not fit model {}: send [n, {}] (or [n, {}])",
            info.name,
            want.join(", "),
            info.input_len
        ),
    ))
}

impl InferRequest {
    /// Checks the request against the model and decodes its input (`binary` holds the bytes
    /// after the JSON part, for the binary tensor data extension).
    pub fn decode(self, info: &ModelInfo, binary: &[u8]) -> Result<Decoded, ApiError> {
        let [input] = <[InferInputTensor; 1]>::try_from(self.inputs).map_err(|v| {
            invalid(
                ErrorKind::InvalidRequest,
                format!("{} inputs given; model {} takes exactly one, named {INPUT:?}", v.len(), info.name),
            )
        })?;
        if input.name != INPUT {
            let shown: String = input.name.chars().take(64).collect();
            return Err(invalid(
                ErrorKind::InvalidRequest,
                format!("unknown input {shown:?}; the input is named {INPUT:?}"),
            ));
        }
        let datatype = Datatype::parse(&input.datatype)?;
        let rows = rows_for_shape(&input.shape, info)?;
        let count = input.shape.iter().try_fold(1u64, |a, &d| a.checked_mul(d)).ok_or_else(|| {
            invalid(ErrorKind::InvalidShape, format!("shape {:?} has too many elements", input.shape))
        })?;
        let size = input.parameters.as_ref().and_then(|p| p.binary_data_size);
        let values = match (size, input.data) {
            (Some(_), Some(_)) => {
                return Err(invalid(ErrorKind::InvalidRequest, "input has both data and binary_data_size".into()));
            }
            (None, None) => return Err(invalid(ErrorKind::InvalidRequest, "input has no data".into())),
            (Some(n), None) => {
                if n != binary.len() as u64 {
                    return Err(invalid(
                        ErrorKind::InvalidRequest,
                        format!("binary_data_size is {n} but {} bytes follow the JSON header", binary.len()),
                    ));
                }
                if n != count.saturating_mul(datatype.size() as u64) {
                    return Err(invalid(
                        ErrorKind::InvalidShape,
                        format!("{n} bytes of binary data for shape {:?} of {}", input.shape, input.datatype),
                    ));
                }
                datatype.from_le_bytes(binary)?
            }
            (None, Some(Numbers(v))) => {
                if !binary.is_empty() {
                    return Err(invalid(
                        ErrorKind::InvalidRequest,
                        "binary data follows the JSON header but no input declares binary_data_size".into(),
                    ));
                }
                if v.len() as u64 != count {
                    return Err(invalid(
                        ErrorKind::InvalidShape,
                        format!("shape {:?} needs {count} values; data has {}", input.shape, v.len()),
                    ));
                }
                datatype.to_f32(&v)?
            }
        };
        let all_binary = self.parameters.and_then(|p| p.binary_data_output).unwrap_or(false);
        let outputs = match self.outputs {
            None => OUTPUTS
                .iter()
                .map(|n| OutputSpec { logits: *n == "logits", classification: None, binary: all_binary })
                .collect(),
            Some(list) if list.is_empty() => {
                return Err(invalid(ErrorKind::InvalidRequest, "outputs is empty; omit it to get every output".into()));
            }
            Some(list) => list.into_iter().map(|o| output_spec(o, info, all_binary)).collect::<Result<_, _>>()?,
        };
        Ok(Decoded { id: self.id, rows, input: values, outputs })
    }
}

fn output_spec(o: RequestedOutput, info: &ModelInfo, all_binary: bool) -> Result<OutputSpec, ApiError> {
    if !OUTPUTS.contains(&o.name.as_str()) {
        let shown: String = o.name.chars().take(64).collect();
        return Err(invalid(ErrorKind::InvalidRequest, format!("unknown output {shown:?}; outputs are {OUTPUTS:?}")));
    }
    let p = o.parameters.unwrap_or_default();
    let classification = match p.classification {
        None => None,
        Some(k) if k >= 1 && k <= info.classes as u64 => Some(k as usize),
        Some(k) => {
            return Err(invalid(
                ErrorKind::InvalidRequest,
                format!("classification {k} must be between 1 and {} (the classes)", info.classes),
            ));
        }
    };
    Ok(OutputSpec { logits: o.name == "logits", classification, binary: p.binary_data.unwrap_or(all_binary) })
}

/// A KServe response: JSON, or JSON followed by binary tensors.
#[derive(Debug)]
pub enum InferReply {
    /// Plain JSON.
    Json(InferResponse),
    /// JSON header of `usize` bytes, then the binary tensors.
    Binary(usize, Vec<u8>),
}

impl IntoResponse for InferReply {
    fn into_response(self) -> Response {
        match self {
            Self::Json(r) => Json(r).into_response(),
            Self::Binary(n, bytes) => {
                let mut resp = Response::new(Body::from(Bytes::from(bytes)));
                let h = resp.headers_mut();
                h.insert(header::CONTENT_TYPE, HeaderValue::from_static("application/octet-stream"));
                h.insert(INFERENCE_HEADER, HeaderValue::from(n));
                resp
            }
        }
    }
}

impl Decoded {
    /// The response for `out`, the inference of this request on `info`'s model.
    pub fn respond(self, info: &ModelInfo, out: &Inference) -> InferReply {
        let mut blobs = Vec::new();
        let mut tensors = Vec::with_capacity(self.outputs.len());
        for spec in &self.outputs {
            let name = if spec.logits { "logits" } else { "probabilities" };
            let values = if spec.logits { &out.scores.logits } else { &out.scores.probabilities };
            let (shape, datatype, data) = match spec.classification {
                None => (vec![out.rows, out.classes], "FP32", OutputData::Fp32(values.clone())),
                Some(k) => {
                    let strings = values
                        .chunks_exact(out.classes.max(1))
                        .flat_map(|row| {
                            top_k(row, k)
                                .into_iter()
                                .map(|(i, v)| format!("{v}:{i}:{}", info.labels.get(i).map_or("", String::as_str)))
                        })
                        .collect();
                    (vec![out.rows, k], "BYTES", OutputData::Bytes(strings))
                }
            };
            let (parameters, data) = if spec.binary {
                let before = blobs.len();
                match &data {
                    OutputData::Fp32(v) => v.iter().for_each(|x| blobs.extend_from_slice(&x.to_le_bytes())),
                    OutputData::Bytes(v) => v.iter().for_each(|s| {
                        blobs.extend_from_slice(&(s.len() as u32).to_le_bytes());
                        blobs.extend_from_slice(s.as_bytes());
                    }),
                }
                (Some(OutputTensorParameters { binary_data_size: blobs.len() - before }), None)
            } else {
                (None, Some(data))
            };
            tensors.push(InferOutputTensor { name: name.into(), shape, datatype: datatype.into(), parameters, data });
        }
        let resp = InferResponse {
            model_name: info.name.clone(),
            model_version: VERSION.into(),
            id: self.id,
            outputs: tensors,
        };
        if self.outputs.iter().any(|o| o.binary) {
            let mut bytes = serde_json::to_vec(&resp).unwrap_or_default();
            let n = bytes.len();
            bytes.extend_from_slice(&blobs);
            InferReply::Binary(n, bytes)
        } else {
            InferReply::Json(resp)
        }
    }
}

fn check_version(version: &str, info: &ModelInfo) -> Result<(), ApiError> {
    if version == VERSION {
        return Ok(());
    }
    let shown: String = version.chars().take(32).collect();
    Err(ApiError::new(
        ErrorKind::VersionNotFound,
        format!("model {} has no version {shown:?}; the only version is {VERSION:?}", info.name),
    ))
}

fn metadata(info: &ModelInfo) -> ModelMetadata {
    let batch = |dims: &[usize]| std::iter::once(-1).chain(dims.iter().map(|&d| d as i64)).collect();
    let out = |name: &str| TensorMetadata { name: name.into(), datatype: "FP32".into(), shape: batch(&[info.classes]) };
    ModelMetadata {
        name: info.name.clone(),
        versions: vec![VERSION.into()],
        platform: "han".into(),
        inputs: vec![TensorMetadata { name: INPUT.into(), datatype: "FP32".into(), shape: batch(&info.input_shape) }],
        outputs: OUTPUTS.iter().map(|n| out(n)).collect(),
    }
}

/// Server metadata (KServe V2).
#[utoipa::path(get, path = "/v2", tag = "KServe V2", responses((status = 200, body = ServerMetadata)))]
pub async fn server_metadata() -> Json<ServerMetadata> {
    Json(ServerMetadata {
        name: "han-server".into(),
        version: env!("CARGO_PKG_VERSION").into(),
        extensions: vec!["classification".into(), "binary_tensor_data".into()],
    })
}

/// Model metadata.
#[utoipa::path(get, path = "/v2/models/{name}", tag = "KServe V2", params(("name" = String, Path, description = "Model name")),
    responses((status = 200, body = ModelMetadata), (status = 404, body = ErrorBody), (status = 503, body = ErrorBody)))]
pub async fn model_metadata(
    State(state): State<AppState>,
    Params(name): Params<String>,
) -> Result<Json<ModelMetadata>, ApiError> {
    Ok(Json(metadata(state.model(&name)?.handle.info())))
}

/// Model metadata of one version (only `1` exists).
#[utoipa::path(get, path = "/v2/models/{name}/versions/{version}", tag = "KServe V2",
    params(("name" = String, Path, description = "Model name"), ("version" = String, Path, description = "Model version, `1`")),
    responses((status = 200, body = ModelMetadata), (status = 404, body = ErrorBody)))]
pub async fn model_version_metadata(
    State(state): State<AppState>,
    Params((name, version)): Params<(String, String)>,
) -> Result<Json<ModelMetadata>, ApiError> {
    let info = state.model(&name)?.handle.info();
    check_version(&version, info)?;
    Ok(Json(metadata(info)))
}

/// Model readiness: 200 when served and the server is ready.
#[utoipa::path(get, path = "/v2/models/{name}/ready", tag = "KServe V2", params(("name" = String, Path, description = "Model name")),
    responses((status = 200, body = ModelReady), (status = 404, body = ErrorBody), (status = 503, body = ErrorBody)))]
pub async fn model_ready(
    State(state): State<AppState>,
    Params(name): Params<String>,
) -> Result<Json<ModelReady>, ApiError> {
    let entry = state.model(&name)?;
    Ok(Json(ModelReady { name: entry.card.name.clone(), ready: true }))
}

/// Readiness of one model version.
#[utoipa::path(get, path = "/v2/models/{name}/versions/{version}/ready", tag = "KServe V2",
    params(("name" = String, Path, description = "Model name"), ("version" = String, Path, description = "Model version, `1`")),
    responses((status = 200, body = ModelReady), (status = 404, body = ErrorBody)))]
pub async fn model_version_ready(
    State(state): State<AppState>,
    Params((name, version)): Params<(String, String)>,
) -> Result<Json<ModelReady>, ApiError> {
    let entry = state.model(&name)?;
    check_version(&version, entry.handle.info())?;
    Ok(Json(ModelReady { name: entry.card.name.clone(), ready: true }))
}

/// The repository index: every served model, `READY`.
#[utoipa::path(post, path = "/v2/repository/index", tag = "KServe V2", request_body(content = Option<IndexRequest>, description = "Optional; may be empty"),
    responses((status = 200, body = Vec<IndexEntry>), (status = 503, body = ErrorBody)))]
pub async fn repository_index(
    State(state): State<AppState>,
    OptionalJsonBody(_req): OptionalJsonBody<IndexRequest>,
) -> Result<Json<Vec<IndexEntry>>, ApiError> {
    state.check_ready()?;
    let entry = |name: &String| IndexEntry {
        name: name.clone(),
        version: VERSION.into(),
        state: "READY".into(),
        reason: String::new(),
    };
    Ok(Json(state.models().map(|(name, _)| entry(name)).collect()))
}

async fn run_infer(
    state: AppState,
    name: &str,
    version: Option<&str>,
    body: KserveBody<InferRequest>,
) -> Result<Response, ApiError> {
    let entry = state.model(name)?;
    let info = entry.handle.info();
    if let Some(v) = version {
        check_version(v, info)?;
    }
    let mut req = body.json.decode(info, &body.binary)?;
    let out = entry.handle.infer(std::mem::take(&mut req.input), req.rows).await?;
    Ok(Timed::new(&out, req.respond(info, &out)).into_response())
}

/// Inference: outputs `logits` and `probabilities` (or those requested, optionally as top-k
/// classification strings or binary data).
#[utoipa::path(post, path = "/v2/models/{name}/infer", tag = "KServe V2", params(("name" = String, Path, description = "Model name")),
    request_body = InferRequest,
    responses((status = 200, body = InferResponse, headers(("x-queue-time-us" = u64), ("x-inference-time-us" = u64))),
        (status = 400, body = ErrorBody), (status = 404, body = ErrorBody), (status = 413, body = ErrorBody), (status = 415, body = ErrorBody),
        (status = 422, body = ErrorBody), (status = 429, body = ErrorBody), (status = 503, body = ErrorBody), (status = 504, body = ErrorBody)))]
pub async fn infer(
    State(state): State<AppState>,
    Params(name): Params<String>,
    body: KserveBody<InferRequest>,
) -> Result<Response, ApiError> {
    run_infer(state, &name, None, body).await
}

/// Inference on one model version (only `1` exists).
#[utoipa::path(post, path = "/v2/models/{name}/versions/{version}/infer", tag = "KServe V2",
    params(("name" = String, Path, description = "Model name"), ("version" = String, Path, description = "Model version, `1`")),
    request_body = InferRequest,
    responses((status = 200, body = InferResponse), (status = 404, body = ErrorBody), (status = 422, body = ErrorBody)))]
pub async fn infer_version(
    State(state): State<AppState>,
    Params((name, version)): Params<(String, String)>,
    body: KserveBody<InferRequest>,
) -> Result<Response, ApiError> {
    run_infer(state, &name, Some(&version), body).await
}
