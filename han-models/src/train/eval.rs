//! Evaluation helpers shared by training, `han-zoo eval` and import: preprocessing a split,
//! batched forward passes, accuracy and loss.

use std::collections::HashMap;

use candle_core::{DType, Device, Module, Result, Tensor};
use candle_nn::{VarBuilder, VarMap};

use super::loss::LossKind;
use crate::card::Preprocessing;
use crate::data::Split;
use crate::sequential::Sequential;
use crate::spec::ModelSpec;

/// Rows per forward pass when evaluating.
pub const EVAL_BATCH: usize = 4096;

/// A copy of `split` with `pre` applied to its features.
pub fn preprocess(split: &Split, pre: &Preprocessing) -> Split {
    let mut out = split.clone();
    pre.apply(&mut out.x, out.features);
    out
}

/// Accuracy (and optionally loss) of a model on a split.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Evaluation {
    /// Mean loss (NaN when no loss was asked for).
    pub loss: f64,
    /// Correct predictions (argmax of the outputs).
    pub correct: usize,
    /// Samples.
    pub total: usize,
}

impl Evaluation {
    /// `correct / total` (NaN for an empty split).
    pub fn accuracy(&self) -> f64 {
        if self.total == 0 { f64::NAN } else { self.correct as f64 / self.total as f64 }
    }
}

/// Runs `model` over `x` (`features` values a row) in batches of [`EVAL_BATCH`] and hands
/// each batch's outputs `[rows, classes]` to `f` with the index of its first row.
pub fn for_each_batch(
    model: &dyn Module,
    x: &[f32],
    features: usize,
    dev: &Device,
    mut f: impl FnMut(usize, &Tensor) -> Result<()>,
) -> Result<()> {
    let rows = x.len().checked_div(features).unwrap_or(0);
    let mut start = 0;
    while start < rows {
        let end = (start + EVAL_BATCH).min(rows);
        let xb = Tensor::from_slice(&x[start * features..end * features], (end - start, features), dev)?;
        let out = model.forward(&xb)?;
        f(start, &out)?;
        start = end;
    }
    Ok(())
}

/// Index of the largest value of each row (the first one on ties).
pub fn argmax_rows(out: &Tensor) -> Result<Vec<u32>> {
    let v = out.to_dtype(DType::F32)?.to_vec2::<f32>()?;
    Ok(v.iter()
        .map(|r| {
            r.iter()
                .enumerate()
                .fold((0u32, f32::NEG_INFINITY), |(bi, bv), (i, &x)| if x > bv { (i as u32, x) } else { (bi, bv) })
                .0
        })
        .collect())
}

/// Accuracy and (if `loss` is given) mean loss of `model` on an already preprocessed split.
pub fn evaluate(model: &dyn Module, split: &Split, loss: Option<LossKind>, dev: &Device) -> Result<Evaluation> {
    let mut correct = 0;
    let mut loss_sum = 0.0;
    for_each_batch(model, &split.x, split.features, dev, |start, out| {
        let n = out.dim(0)?;
        let y = &split.y[start..start + n];
        correct += argmax_rows(out)?.iter().zip(y).filter(|(p, t)| p == t).count();
        if let Some(l) = loss {
            let yt = Tensor::from_slice(y, n, dev)?;
            loss_sum += l.compute(out, &yt)?.to_dtype(DType::F64)?.to_scalar::<f64>()? * n as f64;
        }
        Ok(())
    })?;
    let total = split.len();
    let loss = if loss.is_some() && total > 0 { loss_sum / total as f64 } else { f64::NAN };
    Ok(Evaluation { loss, correct, total })
}

/// Softmax probabilities of `model` for raw-but-preprocessed rows.
pub fn predict_proba(model: &dyn Module, x: &[f32], features: usize, dev: &Device) -> Result<Vec<Vec<f32>>> {
    let mut out = Vec::with_capacity(x.len() / features.max(1));
    for_each_batch(model, x, features, dev, |_, o| {
        out.extend(candle_nn::ops::softmax(o, 1)?.to_vec2::<f32>()?);
        Ok(())
    })?;
    Ok(out)
}

/// The current variables of `varmap` as plain tensors (no gradient tracking; they share
/// storage with the variables, so use them before the next optimiser step).
pub fn detached(varmap: &VarMap) -> Result<HashMap<String, Tensor>> {
    let data = varmap.data().lock().map_err(|_| candle_core::Error::Msg("VarMap lock poisoned".into()))?;
    Ok(data.iter().map(|(k, v)| (k.clone(), v.as_tensor().detach())).collect())
}

/// An inference copy of the model: runs the fused Han kernels and records no graph.
pub fn inference_model(spec: &ModelSpec, tensors: HashMap<String, Tensor>, dev: &Device) -> Result<Sequential> {
    Sequential::new(spec, VarBuilder::from_tensors(tensors, DType::F32, dev))
}
