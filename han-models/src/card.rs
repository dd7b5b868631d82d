//! The model card (`config.json` in each zoo folder): what a model is, how to feed it, how
//! well it does and exactly how it was made.

use serde::{Deserialize, Serialize};

use crate::spec::{ModelSpec, ParamCounts};

/// How raw inputs become model inputs: `x' = (x * scale - mean) / std`, element-wise, with
/// `mean` and `std` either one value (broadcast) or one value per feature.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Preprocessing {
    /// Multiplier applied first (e.g. `1/255` for 8-bit pixels).
    pub scale: f32,
    /// Subtracted after scaling (one value, or one per feature).
    pub mean: Vec<f32>,
    /// Divisor applied last (one value, or one per feature); never zero.
    pub std: Vec<f32>,
}

impl Default for Preprocessing {
    fn default() -> Self {
        Self { scale: 1.0, mean: vec![0.0], std: vec![1.0] }
    }
}

impl Preprocessing {
    /// Applies the transform in place to rows of `features` values.
    pub fn apply(&self, x: &mut [f32], features: usize) {
        if features == 0 {
            return;
        }
        let pick = |v: &[f32], j: usize| if v.len() == 1 { v[0] } else { v.get(j).copied().unwrap_or(0.0) };
        for row in x.chunks_exact_mut(features) {
            for (j, v) in row.iter_mut().enumerate() {
                let s = pick(&self.std, j);
                *v = (*v * self.scale - pick(&self.mean, j)) / if s == 0.0 { 1.0 } else { s };
            }
        }
    }

    /// Checks that `mean` and `std` have 1 or `features` entries and that no std is zero.
    pub fn validate(&self, features: usize) -> Result<(), String> {
        for (what, v) in [("mean", &self.mean), ("std", &self.std)] {
            if v.len() != 1 && v.len() != features {
                return Err(format!("preprocessing {what} has {} values; expected 1 or {features}", v.len()));
            }
            if v.iter().any(|x| !x.is_finite()) {
                return Err(format!("preprocessing {what} has a non-finite value"));
            }
        }
        if self.std.contains(&0.0) || !self.scale.is_finite() {
            return Err("preprocessing std must be non-zero and scale finite".into());
        }
        Ok(())
    }
}

/// What a model takes.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct InputSpec {
    /// Per-sample shape of the raw input, e.g. `[28, 28]` or `[2]`.
    pub shape: Vec<usize>,
    /// Element type of the raw input (`float32`).
    pub dtype: String,
    /// Raw value range and meaning, e.g. "pixel intensities 0..255, row-major, white digit on black".
    pub description: String,
    /// The exact preprocessing from raw values to model inputs.
    pub preprocessing: Preprocessing,
}

/// What a model returns.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct HeadSpec {
    /// Number of classes.
    pub classes: usize,
    /// Class names, in output order.
    pub labels: Vec<String>,
    /// How outputs become probabilities (`softmax`).
    pub activation: String,
}

/// Test-set results.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Metrics {
    /// `test_correct / test_total`.
    pub test_accuracy: f64,
    /// Correct predictions on the test split.
    pub test_correct: usize,
    /// Size of the test split.
    pub test_total: usize,
    /// Accuracy on the validation split (used for model selection).
    pub val_accuracy: Option<f64>,
    /// Accuracy on the training split (without the validation part).
    pub train_accuracy: Option<f64>,
}

/// How the weights were trained.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct TrainingRecipe {
    /// `sgd` (with momentum) or `adamw`.
    pub optimizer: String,
    /// Initial learning rate.
    pub lr: f64,
    /// SGD momentum (0 for AdamW).
    pub momentum: f64,
    /// Weight decay.
    pub weight_decay: f64,
    /// Epochs at which the learning rate is multiplied by `gamma`.
    pub milestones: Vec<usize>,
    /// Learning-rate factor at each milestone.
    pub gamma: f64,
    /// Epochs trained.
    pub epochs: usize,
    /// Mini-batch size.
    pub batch_size: usize,
    /// Loss (`cross_entropy` or `mse`).
    pub loss: String,
    /// Seed of every random choice (init, shuffling, validation split).
    pub seed: u64,
    /// Fraction of the training data held out for validation.
    pub val_fraction: f64,
    /// How the saved epoch was chosen, e.g. "best validation accuracy".
    pub selection: String,
    /// The epoch whose weights were saved (1-based).
    pub selected_epoch: usize,
    /// Wall-clock training time in seconds, and where.
    pub train_seconds: f64,
}

/// The data a model was trained and tested on.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct DatasetInfo {
    /// Dataset name as `han-zoo data fetch` knows it.
    pub name: String,
    /// Where the data comes from.
    pub source: String,
    /// Data licence.
    pub licence: String,
    /// Training samples used (after the validation hold-out).
    pub train: usize,
    /// Validation samples.
    pub val: usize,
    /// Test samples.
    pub test: usize,
}

/// Where the weights are and what they hash to.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct WeightsInfo {
    /// File name inside the model folder.
    pub file: String,
    /// Hex sha256 of that file.
    pub sha256: String,
    /// Element type of the stored tensors.
    pub dtype: String,
}

/// Where a model comes from.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Provenance {
    /// The exact command that trained the weights.
    pub command: String,
    /// The paper the architecture comes from.
    pub paper: String,
    /// han version that trained it.
    pub han_version: String,
}

/// A zoo model card (`config.json`).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Card {
    /// Zoo name, e.g. `hannet-mnist`.
    pub name: String,
    /// Task, e.g. `image-classification`.
    pub task: String,
    /// One-sentence description.
    pub description: String,
    /// The layer list.
    pub architecture: ModelSpec,
    /// Parameter counts (total, Han, FC, conv).
    pub params: ParamCounts,
    /// The raw input and its preprocessing.
    pub input: InputSpec,
    /// Classes and label names.
    pub head: HeadSpec,
    /// Test metrics.
    pub metrics: Metrics,
    /// Training recipe.
    pub training: TrainingRecipe,
    /// Dataset and licence.
    pub dataset: DatasetInfo,
    /// Weights file and hash.
    pub weights: WeightsInfo,
    /// Command, paper, version.
    pub provenance: Provenance,
}

/// A card that cannot be used.
#[derive(Debug, thiserror::Error)]
pub enum CardError {
    /// Not JSON, or not a card.
    #[error("invalid model card: {0}; see weights/*/config.json for the format")]
    Parse(String),
    /// Fields contradict each other.
    #[error("inconsistent model card `{name}`: {why}")]
    Inconsistent {
        /// Card name.
        name: String,
        /// What contradicts what.
        why: String,
    },
}

impl Card {
    /// Parses and checks a card: the spec fits together, the input length matches the spec,
    /// the head matches the spec's output, the preprocessing fits the input.
    pub fn from_json(s: &str) -> Result<Self, CardError> {
        let card: Card = serde_json::from_str(s).map_err(|e| CardError::Parse(e.to_string()))?;
        card.check()?;
        Ok(card)
    }

    /// Number of raw input values per sample.
    pub fn input_len(&self) -> usize {
        self.input.shape.iter().product()
    }

    /// Checks the card's internal consistency.
    pub fn check(&self) -> Result<(), CardError> {
        let bad = |why: String| CardError::Inconsistent { name: self.name.clone(), why };
        let out = self.architecture.validate().map_err(|e| bad(e.to_string()))?;
        if self.input_len() != self.architecture.input_len() {
            return Err(bad(format!(
                "input shape {:?} has {} values but the architecture takes {}",
                self.input.shape,
                self.input_len(),
                self.architecture.input_len()
            )));
        }
        if out != [self.head.classes] || self.head.labels.len() != self.head.classes {
            return Err(bad(format!(
                "the architecture outputs {out:?}, the head declares {} classes and {} labels",
                self.head.classes,
                self.head.labels.len()
            )));
        }
        self.input.preprocessing.validate(self.input_len()).map_err(bad)?;
        if self.params != self.architecture.param_counts() {
            return Err(bad("params do not match the architecture".into()));
        }
        if self.name.is_empty()
            || !self.name.chars().all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_' || c == '.')
            || self.name.starts_with('.')
        {
            return Err(bad(
                "name must be non-empty ASCII letters, digits, '-', '_' or '.', not starting with '.'".into()
            ));
        }
        Ok(())
    }

    /// The card as pretty JSON.
    pub fn to_json(&self) -> String {
        serde_json::to_string_pretty(self).unwrap_or_default()
    }
}
