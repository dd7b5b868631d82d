//! The friendly JSON API: model cards and top-k predictions.

use std::sync::Arc;

use axum::Json;
use axum::extract::State;
use han_models::card::Card;
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use crate::error::{ApiError, ErrorBody, ErrorKind};
use crate::extract::{JsonBody, Params};
use crate::model::{ModelInfo, top_k};
use crate::ops::Timed;
use crate::queue::Inference;
use crate::state::AppState;
use crate::tensor::{Datatype, Numbers};

/// A model card (`weights/<name>/config.json`): name, task, architecture, parameter counts,
/// input shape and preprocessing, labels, test metrics, training recipe, provenance.
#[derive(Debug, ToSchema)]
#[schema(value_type = Object)]
pub struct ModelCard(pub Arc<Card>);

impl Serialize for ModelCard {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        self.0.as_ref().serialize(s)
    }
}

/// Every served model's card.
#[derive(Debug, Serialize, ToSchema)]
pub struct ModelList {
    /// Cards, by name.
    pub models: Vec<ModelCard>,
}

/// A prediction request: one sample as `input`, or several as `inputs`.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct PredictRequest {
    /// One sample: `input_len` raw values, flat or nested (e.g. 28 rows of 28).
    #[serde(default)]
    #[schema(value_type = Option<Vec<f64>>)]
    pub input: Option<Numbers>,
    /// Several samples, each flat or nested.
    #[serde(default)]
    #[schema(value_type = Option<Vec<Vec<f64>>>)]
    pub inputs: Option<Vec<Numbers>>,
    /// Classes to return per sample, 1..=classes (default: 3, or all if fewer).
    #[serde(default)]
    pub top_k: Option<u64>,
}

/// One class of a prediction.
#[derive(Debug, Serialize, Deserialize, ToSchema)]
pub struct Prediction {
    /// Class label.
    pub label: String,
    /// Class index.
    pub index: usize,
    /// Probability.
    pub score: f32,
}

/// Predictions, one list per sample, best first.
#[derive(Debug, Serialize, Deserialize, ToSchema)]
pub struct PredictResponse {
    /// Model name.
    pub model: String,
    /// Per sample, the top-k classes by probability.
    pub predictions: Vec<Vec<Prediction>>,
}

/// Default `top_k`.
pub const DEFAULT_TOP_K: usize = 3;

impl PredictRequest {
    /// Checks the request against the model: `(input, rows, top_k)`.
    pub fn decode(self, info: &ModelInfo) -> Result<(Vec<f32>, usize, usize), ApiError> {
        let k = match self.top_k {
            None => DEFAULT_TOP_K.min(info.classes),
            Some(k) if k >= 1 && k <= info.classes as u64 => k as usize,
            Some(k) => {
                return Err(ApiError::new(
                    ErrorKind::InvalidRequest,
                    format!("top_k {k} must be between 1 and {} (the classes)", info.classes),
                ));
            }
        };
        let samples = match (self.input, self.inputs) {
            (Some(one), None) => vec![one],
            (None, Some(many)) => many,
            _ => {
                return Err(ApiError::new(
                    ErrorKind::InvalidRequest,
                    "send exactly one of \"input\" (one sample) or \"inputs\" (a list of samples)",
                ));
            }
        };
        let mut x = Vec::with_capacity(samples.len() * info.input_len);
        for (i, Numbers(s)) in samples.iter().enumerate() {
            if s.len() != info.input_len {
                return Err(ApiError::new(
                    ErrorKind::InvalidShape,
                    format!(
                        "sample {i} has {} values; model {} takes {} (shape {:?})",
                        s.len(),
                        info.name,
                        info.input_len,
                        info.input_shape
                    ),
                ));
            }
            x.extend(Datatype::parse("FP32")?.to_f32(s)?);
        }
        Ok((x, samples.len(), k))
    }
}

impl PredictResponse {
    /// The top-`k` classes of every sample of `out`.
    pub fn new(info: &ModelInfo, out: &Inference, k: usize) -> Self {
        let row = |p: &[f32]| {
            top_k(p, k)
                .into_iter()
                .map(|(index, score)| Prediction {
                    label: info.labels.get(index).cloned().unwrap_or_default(),
                    index,
                    score,
                })
                .collect()
        };
        Self {
            model: info.name.clone(),
            predictions: out.scores.probabilities.chunks_exact(out.classes.max(1)).map(row).collect(),
        }
    }
}

/// Every served model's card.
#[utoipa::path(get, path = "/v1/models", tag = "JSON API", responses((status = 200, body = ModelList), (status = 503, body = ErrorBody)))]
pub async fn list_models(State(state): State<AppState>) -> Result<Json<ModelList>, ApiError> {
    state.check_ready()?;
    Ok(Json(ModelList { models: state.models().map(|(_, e)| ModelCard(e.card.clone())).collect() }))
}

/// One model's card.
#[utoipa::path(get, path = "/v1/models/{name}", tag = "JSON API", params(("name" = String, Path, description = "Model name")),
    responses((status = 200, body = ModelCard), (status = 404, body = ErrorBody), (status = 503, body = ErrorBody)))]
pub async fn get_model(
    State(state): State<AppState>,
    Params(name): Params<String>,
) -> Result<Json<ModelCard>, ApiError> {
    Ok(Json(ModelCard(state.model(&name)?.card.clone())))
}

/// Top-k predictions for one sample (`input`) or several (`inputs`).
#[utoipa::path(post, path = "/v1/models/{name}/predict", tag = "JSON API", params(("name" = String, Path, description = "Model name")),
    request_body = PredictRequest,
    responses((status = 200, body = PredictResponse, headers(("x-queue-time-us" = u64), ("x-inference-time-us" = u64))),
        (status = 400, body = ErrorBody), (status = 404, body = ErrorBody), (status = 413, body = ErrorBody), (status = 415, body = ErrorBody),
        (status = 422, body = ErrorBody), (status = 429, body = ErrorBody), (status = 503, body = ErrorBody), (status = 504, body = ErrorBody)))]
pub async fn predict(
    State(state): State<AppState>,
    Params(name): Params<String>,
    JsonBody(req): JsonBody<PredictRequest>,
) -> Result<Timed<Json<PredictResponse>>, ApiError> {
    let entry = state.model(&name)?;
    let info = entry.handle.info();
    let (input, rows, k) = req.decode(info)?;
    let out = entry.handle.infer(input, rows).await?;
    Ok(Timed::new(&out, Json(PredictResponse::new(info, &out, k))))
}
