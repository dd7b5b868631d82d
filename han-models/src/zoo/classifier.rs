//! [`Classifier`]: a loaded zoo model that takes raw inputs as its card describes them.

use std::collections::HashMap;
use std::path::{Component, Path, PathBuf};

use candle_core::{DType, Device, Module, Tensor};
use candle_nn::VarBuilder;
use serde::Serialize;
use sha2::{Digest, Sha256};

use super::ZooError;
use crate::card::Card;
use crate::fast::FastNet;
use crate::sequential::Sequential;

/// The card's file name inside every model folder.
pub const CARD_FILE: &str = "config.json";

/// One class of a prediction.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct Prediction {
    /// Class name from the card.
    pub label: String,
    /// Class index (output position).
    pub index: usize,
    /// Softmax probability.
    pub score: f32,
}

/// The result of [`Classifier::run`]: logits and probabilities of `n` samples.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct Outputs {
    /// Number of samples.
    pub n: usize,
    /// Outputs per sample.
    pub classes: usize,
    /// `[n, classes]` row-major raw outputs.
    pub logits: Vec<f32>,
    /// `[n, classes]` row-major softmax of each row of `logits`.
    pub probabilities: Vec<f32>,
}

/// A zoo model, loaded and checked, ready to classify raw inputs.
///
/// Cheap to share: put it behind an `Arc`; every method takes `&self` and may run on many
/// threads at once. Inputs are **raw** values as the card's `input.description` says
/// (e.g. pixels 0..255); the card's preprocessing is applied inside.
///
/// ```
/// # fn main() -> Result<(), han_models::zoo::ZooError> {
/// # let Some(name) = han_models::zoo::list().into_iter().next() else { return Ok(()) };
/// let model = han_models::zoo::load(&name)?;
/// let x = vec![0.0f32; model.input_len()];
/// let top = model.classify(&x, 3)?;
/// assert!(top.len() <= 3 && top.windows(2).all(|w| w[0].score >= w[1].score));
/// # Ok(()) }
/// ```
#[derive(Debug)]
pub struct Classifier {
    card: Card,
    dir: PathBuf,
    net: Sequential,
    fast: FastNet,
}

/// Whether `file` is a plain file name (no directory part, no `..`).
fn is_plain_file_name(file: &str) -> bool {
    let mut parts = Path::new(file).components();
    matches!((parts.next(), parts.next()), (Some(Component::Normal(_)), None)) && !file.contains('\0')
}

/// Reads and checks a card file.
pub(crate) fn read_card(path: &Path) -> Result<Card, ZooError> {
    let text = std::fs::read_to_string(path).map_err(|source| ZooError::Io { path: path.to_path_buf(), source })?;
    Card::from_json(&text).map_err(|source| ZooError::Card { path: path.to_path_buf(), source })
}

/// Lowercase hex sha256 of `bytes`.
pub(crate) fn sha256_hex(bytes: &[u8]) -> String {
    hex::encode(Sha256::digest(bytes))
}

impl Classifier {
    /// Loads the model folder `dir`: reads and checks `config.json`, checks the sha256 of the
    /// weights file against the card, validates the safetensors file, builds the candle
    /// network and compiles the fast path.
    ///
    /// The weights are read into memory once (zoo models are small): the bytes that were
    /// hashed are the bytes that are used, and nothing is mmapped that another process could
    /// truncate under us. Every failure is an error, never a panic.
    pub fn from_dir(dir: impl AsRef<Path>) -> Result<Self, ZooError> {
        let dir = dir.as_ref();
        let card_path = dir.join(CARD_FILE);
        let card = read_card(&card_path)?;
        if !is_plain_file_name(&card.weights.file) {
            return Err(ZooError::Card {
                path: card_path,
                source: crate::card::CardError::Inconsistent {
                    name: card.name.clone(),
                    why: format!("weights.file `{}` must be a file name inside the model folder", card.weights.file),
                },
            });
        }
        let path = dir.join(&card.weights.file);
        let bytes = std::fs::read(&path).map_err(|source| ZooError::Io { path: path.clone(), source })?;
        let found = sha256_hex(&bytes);
        if !found.eq_ignore_ascii_case(card.weights.sha256.trim()) {
            return Err(ZooError::Checksum { path, expected: card.weights.sha256.clone(), found });
        }
        let tensors = load_tensors(&bytes, &path)?;
        let weights_err = |e: candle_core::Error| ZooError::Weights { path: path.clone(), why: e.to_string() };
        let vb = VarBuilder::from_tensors(tensors, DType::F32, &Device::Cpu);
        let net = Sequential::new(&card.architecture, vb).map_err(weights_err)?;
        let fast = FastNet::from_sequential(&net).map_err(weights_err)?;
        Ok(Self { card, dir: dir.to_path_buf(), net, fast })
    }

    /// The model card.
    pub fn card(&self) -> &Card {
        &self.card
    }

    /// The model's name (the card's).
    pub fn name(&self) -> &str {
        &self.card.name
    }

    /// The folder the model was loaded from.
    pub fn dir(&self) -> &Path {
        &self.dir
    }

    /// Raw values per sample (the product of the card's input shape).
    pub fn input_len(&self) -> usize {
        self.card.input_len()
    }

    /// Number of classes.
    pub fn classes(&self) -> usize {
        self.card.head.classes
    }

    /// Class names, in output order.
    pub fn labels(&self) -> &[String] {
        &self.card.head.labels
    }

    /// The candle network (for training tools and comparisons).
    pub fn network(&self) -> &Sequential {
        &self.net
    }

    /// The compiled fast path.
    pub fn fast(&self) -> &FastNet {
        &self.fast
    }

    /// Checks raw inputs and returns the preprocessed model inputs and the sample count.
    fn prepare(&self, inputs: &[f32]) -> Result<(Vec<f32>, usize), ZooError> {
        let len = self.input_len();
        if inputs.is_empty() || !inputs.len().is_multiple_of(len) {
            return Err(ZooError::Input(format!(
                "`{}` takes {len} values per sample (shape {:?}, row-major); got {} values, which is not a non-zero multiple of {len}",
                self.name(),
                self.card.input.shape,
                inputs.len()
            )));
        }
        if let Some(i) = inputs.iter().position(|v| !v.is_finite()) {
            return Err(ZooError::Input(format!(
                "sample {}, position {} is {}; inputs must be finite numbers",
                i / len,
                i % len,
                inputs[i]
            )));
        }
        let mut x = inputs.to_vec();
        self.card.input.preprocessing.apply(&mut x, len);
        if let Some(i) = x.iter().position(|v| !v.is_finite()) {
            return Err(ZooError::Input(format!(
                "sample {}, position {}: the value {} overflows after preprocessing; expected {}",
                i / len,
                i % len,
                inputs[i],
                self.card.input.description
            )));
        }
        Ok((x, inputs.len() / len))
    }

    /// Errors when an output is not finite (inputs far outside the card's range).
    fn check_outputs(&self, logits: &[f32]) -> Result<(), ZooError> {
        match logits.iter().position(|v| !v.is_finite()) {
            None => Ok(()),
            Some(i) => Err(ZooError::Input(format!(
                "the output for sample {} is not finite: the input is far outside the expected range ({})",
                i / self.classes(),
                self.card.input.description
            ))),
        }
    }

    /// Raw outputs `[n, classes]` row-major for raw inputs `[n, input_len]` row-major, through
    /// the fast path.
    pub fn logits(&self, inputs: &[f32]) -> Result<Vec<f32>, ZooError> {
        let (x, n) = self.prepare(inputs)?;
        let mut out = Vec::new();
        self.fast.forward(&x, n, &mut out);
        self.check_outputs(&out)?;
        Ok(out)
    }

    /// [`Classifier::logits`] through the candle network instead of the fast path.
    pub fn logits_candle(&self, inputs: &[f32]) -> Result<Vec<f32>, ZooError> {
        let (x, n) = self.prepare(inputs)?;
        let x = Tensor::from_vec(x, (n, self.input_len()), &Device::Cpu)?;
        let out = self.net.forward(&x)?.flatten_all()?.to_vec1::<f32>()?;
        self.check_outputs(&out)?;
        Ok(out)
    }

    /// Per-class probabilities `[n, classes]` row-major (softmax of each row of logits).
    pub fn probabilities(&self, inputs: &[f32]) -> Result<Vec<f32>, ZooError> {
        let mut p = self.logits(inputs)?;
        softmax_rows(&mut p, self.classes());
        Ok(p)
    }

    /// Logits and probabilities in one pass.
    pub fn run(&self, inputs: &[f32]) -> Result<Outputs, ZooError> {
        let logits = self.logits(inputs)?;
        let mut probabilities = logits.clone();
        softmax_rows(&mut probabilities, self.classes());
        Ok(Outputs { n: logits.len() / self.classes(), classes: self.classes(), logits, probabilities })
    }

    /// The `top_k` most probable classes of each sample, most probable first (`top_k` is
    /// clamped to `1..=classes`).
    pub fn predict(&self, inputs: &[f32], top_k: usize) -> Result<Vec<Vec<Prediction>>, ZooError> {
        let out = self.run(inputs)?;
        Ok(self.predictions(&out, top_k))
    }

    /// The `top_k` most probable classes of one sample.
    pub fn classify(&self, input: &[f32], top_k: usize) -> Result<Vec<Prediction>, ZooError> {
        if input.len() != self.input_len() {
            return Err(ZooError::Input(format!(
                "`{}` takes one sample of {} values (shape {:?}); got {} values",
                self.name(),
                self.input_len(),
                self.card.input.shape,
                input.len()
            )));
        }
        Ok(self.predict(input, top_k)?.pop().unwrap_or_default())
    }

    /// The `top_k` predictions of each sample of `outputs` (from [`Classifier::run`]).
    pub fn predictions(&self, outputs: &Outputs, top_k: usize) -> Vec<Vec<Prediction>> {
        let classes = outputs.classes.max(1);
        let k = top_k.clamp(1, classes);
        outputs
            .probabilities
            .chunks_exact(classes)
            .map(|row| {
                let mut idx: Vec<usize> = (0..row.len()).collect();
                idx.sort_by(|&a, &b| row[b].total_cmp(&row[a]).then(a.cmp(&b)));
                idx.truncate(k);
                idx.into_iter()
                    .map(|index| Prediction {
                        label: self.labels().get(index).cloned().unwrap_or_else(|| index.to_string()),
                        index,
                        score: row[index],
                    })
                    .collect()
            })
            .collect()
    }
}

/// Softmax of each row of `classes` values, in place: `exp(x - max) / sum`, so no row
/// overflows.
pub fn softmax_rows(x: &mut [f32], classes: usize) {
    if classes == 0 {
        return;
    }
    for row in x.chunks_exact_mut(classes) {
        let max = row.iter().copied().fold(f32::NEG_INFINITY, f32::max);
        let mut sum = 0.0f32;
        for v in row.iter_mut() {
            *v = (*v - max).exp();
            sum += *v;
        }
        for v in row.iter_mut() {
            *v /= sum;
        }
    }
}

/// Validates a safetensors buffer and loads its tensors on the CPU.
fn load_tensors(bytes: &[u8], path: &Path) -> Result<HashMap<String, Tensor>, ZooError> {
    let bad = |why: String| ZooError::Weights { path: path.to_path_buf(), why };
    let st = safetensors::SafeTensors::deserialize(bytes)
        .map_err(|e| bad(format!("not a valid safetensors file ({e}); it may be truncated or corrupted")))?;
    for (name, view) in st.iter() {
        use safetensors::Dtype;
        if !matches!(view.dtype(), Dtype::F32 | Dtype::F16 | Dtype::BF16 | Dtype::F64) {
            return Err(bad(format!("tensor `{name}` has dtype {:?}; expected a float type", view.dtype())));
        }
    }
    let tensors = candle_core::safetensors::load_buffer(bytes, &Device::Cpu).map_err(|e| bad(e.to_string()))?;
    for (name, t) in &tensors {
        let finite = t
            .to_dtype(DType::F32)
            .and_then(|t| t.flatten_all())
            .and_then(|t| t.to_vec1::<f32>())
            .map(|v| v.iter().all(|x| x.is_finite()))
            .map_err(|e| bad(e.to_string()))?;
        if !finite {
            return Err(bad(format!("tensor `{name}` holds NaN or infinite values")));
        }
    }
    Ok(tensors)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn softmax_is_stable_and_sums_to_one() {
        let mut x = [1000.0f32, 1001.0, 999.0, -5.0, 0.0, 5.0];
        softmax_rows(&mut x, 3);
        let e = [(-1.0f64).exp(), 1.0, (-2.0f64).exp()];
        let s: f64 = e.iter().sum();
        for (got, want) in x[..3].iter().zip(e.iter().map(|v| v / s)) {
            assert!((*got as f64 - want).abs() < 1e-6, "{got} vs {want}");
        }
        assert!((x[3..].iter().sum::<f32>() - 1.0).abs() < 1e-6);
        assert!(x[5] > x[4] && x[4] > x[3]);
    }

    #[test]
    fn weights_file_names_cannot_leave_the_folder() {
        assert!(is_plain_file_name("model.safetensors"));
        for bad in ["../x", "/etc/passwd", "a/b", "", ".", "..", "a\0b"] {
            assert!(!is_plain_file_name(bad), "{bad:?}");
        }
    }
}
