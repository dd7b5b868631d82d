//! Losses: cross-entropy on logits, and mean squared error against one-hot targets.

use candle_core::{DType, Result, Tensor};
use serde::{Deserialize, Serialize};

/// Which loss.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize, clap::ValueEnum)]
pub enum LossKind {
    /// Softmax cross-entropy on the outputs (`torch.nn.CrossEntropyLoss`).
    #[value(name = "ce", alias = "cross-entropy")]
    #[serde(rename = "cross_entropy")]
    CrossEntropy,
    /// Mean squared error between the outputs and one-hot targets, averaged over all
    /// elements (`torch.nn.MSELoss`), as the authors trained their HanNets.
    #[value(name = "mse")]
    #[serde(rename = "mse")]
    Mse,
}

impl LossKind {
    /// The name on cards (`cross_entropy`, `mse`).
    pub fn as_str(&self) -> &'static str {
        match self {
            Self::CrossEntropy => "cross_entropy",
            Self::Mse => "mse",
        }
    }

    /// The mean loss of a batch: `out` `[n, classes]`, `y` `[n]` (u32 class indices).
    pub fn compute(&self, out: &Tensor, y: &Tensor) -> Result<Tensor> {
        match self {
            Self::CrossEntropy => candle_nn::loss::cross_entropy(out, y),
            Self::Mse => {
                let classes = out.dim(1)?;
                let target = one_hot(y, classes)?;
                candle_nn::loss::mse(out, &target)
            }
        }
    }
}

/// `[n]` u32 class indices to `[n, classes]` f32 one-hot rows.
pub fn one_hot(y: &Tensor, classes: usize) -> Result<Tensor> {
    let idx = y.to_vec1::<u32>()?;
    let mut v = vec![0f32; idx.len() * classes];
    for (i, &c) in idx.iter().enumerate() {
        if (c as usize) < classes {
            v[i * classes + c as usize] = 1.0;
        } else {
            candle_core::bail!("label {c} out of range for {classes} classes");
        }
    }
    Tensor::from_vec(v, (idx.len(), classes), y.device())?.to_dtype(DType::F32)
}

#[cfg(test)]
mod tests {
    use super::*;
    use candle_core::Device;

    #[test]
    fn losses_by_hand() -> Result<()> {
        let dev = Device::Cpu;
        let out = Tensor::new(&[[0f32, 0.0], [1.0, 3.0]], &dev)?;
        let y = Tensor::new(&[1u32, 0], &dev)?;
        // CE: row 0 ln 2; row 1 -log(e / (e + e^3)) = ln(1 + e^2).
        let ce = LossKind::CrossEntropy.compute(&out, &y)?.to_scalar::<f32>()?;
        let want = (2f32.ln() + (1.0 + 2f32.exp()).ln()) / 2.0;
        assert!((ce - want).abs() < 1e-5, "{ce} {want}");
        // MSE: row 0 (0-0)^2 + (0-1)^2 = 1; row 1 (1-1)^2 + (3-0)^2 = 9; mean over 4 = 2.5.
        assert_eq!(LossKind::Mse.compute(&out, &y)?.to_scalar::<f32>()?, 2.5);
        assert!(one_hot(&Tensor::new(&[2u32], &dev)?, 2).is_err());
        Ok(())
    }
}
