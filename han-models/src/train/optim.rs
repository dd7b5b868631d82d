//! Optimisers with PyTorch semantics, updating parameters on host buffers.
//!
//! candle-nn's `SGD` has no momentum, and its `AdamW` issues about ten tensor ops per
//! parameter per step; for the small models of this crate that overhead dominates. These
//! optimisers read each gradient once, update a host copy of the parameter in one pass and
//! write it back: same arithmetic as `torch.optim.SGD` / `torch.optim.AdamW` (f32).

use candle_core::backprop::GradStore;
use candle_core::{Result, Tensor, Var, bail};
use serde::{Deserialize, Serialize};

/// Which optimiser.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize, clap::ValueEnum)]
#[serde(rename_all = "lowercase")]
pub enum OptimizerKind {
    /// SGD with (heavy-ball) momentum and L2 weight decay, as `torch.optim.SGD`.
    Sgd,
    /// Adam with decoupled weight decay, as `torch.optim.AdamW` (betas 0.9, 0.999, eps 1e-8).
    Adamw,
}

impl OptimizerKind {
    /// The name on cards and in the CLI (`sgd`, `adamw`).
    pub fn as_str(&self) -> &'static str {
        match self {
            Self::Sgd => "sgd",
            Self::Adamw => "adamw",
        }
    }
}

/// Hyper-parameters.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct OptimizerConfig {
    /// Which optimiser.
    pub kind: OptimizerKind,
    /// Learning rate (changed by the schedule through [`Optimizer::set_lr`]).
    pub lr: f64,
    /// SGD momentum (ignored by AdamW).
    pub momentum: f64,
    /// SGD: L2 penalty added to the gradient; AdamW: decoupled decay `p -= lr * wd * p`.
    pub weight_decay: f64,
    /// AdamW betas.
    pub betas: (f64, f64),
    /// AdamW epsilon.
    pub eps: f64,
}

impl OptimizerConfig {
    /// Defaults of PyTorch for everything but `kind`, `lr`, `momentum` and `weight_decay`.
    pub fn new(kind: OptimizerKind, lr: f64, momentum: f64, weight_decay: f64) -> Self {
        Self { kind, lr, momentum, weight_decay, betas: (0.9, 0.999), eps: 1e-8 }
    }
}

struct Slot {
    var: Var,
    value: Vec<f32>,
    m: Vec<f32>,
    v: Vec<f32>,
    started: bool,
}

/// An optimiser over a fixed list of variables (f32, CPU).
pub struct Optimizer {
    cfg: OptimizerConfig,
    slots: Vec<Slot>,
    step: u64,
}

impl std::fmt::Debug for Optimizer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Optimizer")
            .field("cfg", &self.cfg)
            .field("params", &self.slots.len())
            .field("step", &self.step)
            .finish()
    }
}

fn host(t: &Tensor) -> Result<Vec<f32>> {
    t.flatten_all()?.to_dtype(candle_core::DType::F32)?.to_vec1::<f32>()
}

impl Optimizer {
    /// An optimiser for `vars` (in a fixed order: the update is per-parameter, so the order
    /// does not change the result).
    pub fn new(vars: Vec<Var>, cfg: OptimizerConfig) -> Result<Self> {
        if !(cfg.lr.is_finite() && cfg.lr >= 0.0) {
            bail!("learning rate {} must be finite and >= 0", cfg.lr);
        }
        let mut slots = Vec::with_capacity(vars.len());
        for var in vars {
            if var.dtype() != candle_core::DType::F32 {
                bail!("the optimiser handles f32 parameters, got {:?}", var.dtype());
            }
            let value = host(var.as_tensor())?;
            let n = value.len();
            let adam = cfg.kind == OptimizerKind::Adamw;
            slots.push(Slot {
                var,
                value,
                m: vec![0.0; if adam || cfg.momentum != 0.0 { n } else { 0 }],
                v: vec![0.0; if adam { n } else { 0 }],
                started: false,
            });
        }
        Ok(Self { cfg, slots, step: 0 })
    }

    /// The current learning rate.
    pub fn lr(&self) -> f64 {
        self.cfg.lr
    }

    /// Sets the learning rate (the schedule calls this at each epoch).
    pub fn set_lr(&mut self, lr: f64) {
        self.cfg.lr = lr;
    }

    /// One update from the gradients of a backward pass. Parameters without a gradient are
    /// left alone (as PyTorch does for `grad is None`).
    pub fn step(&mut self, grads: &GradStore) -> Result<()> {
        self.step += 1;
        let c = self.cfg;
        let (lr, wd, mom) = (c.lr as f32, c.weight_decay as f32, c.momentum as f32);
        let (b1, b2) = (c.betas.0 as f32, c.betas.1 as f32);
        let bc1 = 1.0 - c.betas.0.powi(self.step as i32);
        let bc2 = 1.0 - c.betas.1.powi(self.step as i32);
        let (step_size, bc2_sqrt) = ((c.lr / bc1) as f32, bc2.sqrt() as f32);
        let eps = c.eps as f32;
        for s in &mut self.slots {
            let Some(g) = grads.get(s.var.as_tensor()) else { continue };
            let g = host(g)?;
            if g.len() != s.value.len() {
                bail!("gradient of {} values for a parameter of {}", g.len(), s.value.len());
            }
            match c.kind {
                OptimizerKind::Sgd => {
                    for (i, (p, &gi)) in s.value.iter_mut().zip(&g).enumerate() {
                        let mut d = gi + wd * *p;
                        if mom != 0.0 {
                            let b = &mut s.m[i];
                            *b = if s.started { mom * *b + d } else { d };
                            d = *b;
                        }
                        *p -= lr * d;
                    }
                }
                OptimizerKind::Adamw => {
                    for (((p, &gi), m), v) in s.value.iter_mut().zip(&g).zip(s.m.iter_mut()).zip(s.v.iter_mut()) {
                        *p *= 1.0 - lr * wd;
                        *m = b1 * *m + (1.0 - b1) * gi;
                        *v = b2 * *v + (1.0 - b2) * gi * gi;
                        let denom = v.sqrt() / bc2_sqrt + eps;
                        *p -= step_size * *m / denom;
                    }
                }
            }
            s.started = true;
            let t = Tensor::from_slice(&s.value, s.var.shape(), s.var.device())?;
            s.var.set(&t)?;
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use candle_core::Device;

    fn quad_step(kind: OptimizerKind, momentum: f64, wd: f64, steps: usize) -> Vec<f32> {
        // loss = sum(p^2) / 2, gradient p.
        let var = Var::new(&[1.0f32, -2.0], &Device::Cpu).expect("var");
        let mut opt = Optimizer::new(vec![var.clone()], OptimizerConfig::new(kind, 0.1, momentum, wd)).expect("opt");
        for _ in 0..steps {
            let loss = (var.as_tensor().sqr().expect("sqr").sum_all().expect("sum") * 0.5).expect("half");
            opt.step(&loss.backward().expect("backward")).expect("step");
        }
        var.as_tensor().to_vec1().expect("vec")
    }

    #[test]
    fn sgd_momentum_matches_the_pytorch_recurrence() {
        // By hand: p1 = p0 - 0.1 p0 = 0.9 p0; b1 = p0; g1 = 0.9 p0; b2 = 0.9 p0 + 0.9 p0 = 1.8 p0;
        // p2 = 0.9 p0 - 0.18 p0 = 0.72 p0.
        let p = quad_step(OptimizerKind::Sgd, 0.9, 0.0, 2);
        assert!((p[0] - 0.72).abs() < 1e-6 && (p[1] + 1.44).abs() < 1e-6, "{p:?}");
        // Weight decay 1 doubles the gradient: p1 = p0 - 0.1 * 2 p0 = 0.8 p0.
        let p = quad_step(OptimizerKind::Sgd, 0.0, 1.0, 1);
        assert!((p[0] - 0.8).abs() < 1e-6, "{p:?}");
    }

    #[test]
    fn adamw_first_step_moves_by_lr() {
        // Adam's first step is lr * sign(g) (bias-corrected m / sqrt(v) = g / |g|).
        let p = quad_step(OptimizerKind::Adamw, 0.0, 0.0, 1);
        assert!((p[0] - 0.9).abs() < 1e-6 && (p[1] + 1.9).abs() < 1e-6, "{p:?}");
        // Decoupled decay: p *= 1 - lr * wd before the Adam step.
        let p = quad_step(OptimizerKind::Adamw, 0.0, 0.5, 1);
        assert!((p[0] - (0.95 - 0.1)).abs() < 1e-6, "{p:?}");
    }
}
