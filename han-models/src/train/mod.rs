//! Training on candle autograd: seeded, deterministic, selected on a validation split.
//!
//! [`train`] takes a [`TrainConfig`] and a [`Dataset`](crate::data::Dataset) and writes a zoo
//! folder: `model.safetensors` (the best-validation weights, tensor names from the spec),
//! `config.json` (the [`Card`], with the test accuracy measured once at
//! the end on the saved file), `README.md` ([`render_readme`]), `metrics.csv`, `curves.png`
//! and, for 2-D inputs, `decision_map.png`. The `han-zoo train` command is a thin layer over
//! it.
//!
//! Determinism: initialisation ([`crate::init`]), the validation split and the mini-batch
//! order all derive from `seed`, and the optimisers update each parameter independently, so
//! the same configuration and seed write the same weights bit for bit on the same machine
//! with the same `RAYON_NUM_THREADS` (candle's matrix products split work over threads).
//!
//! ```no_run
//! use han_models::{arch, data, train};
//!
//! let dataset = data::load("checkerboard")?;
//! let mut cfg = train::TrainConfig::new("hannet-checkerboard", arch::hannet_checkerboard(), "weights/hannet-checkerboard");
//! cfg.optimizer = train::OptimizerKind::Adamw;
//! cfg.lr = 1e-2;
//! cfg.epochs = 600;
//! cfg.milestones = vec![300, 450];
//! let report = train::train(&cfg, &dataset)?;
//! println!("{} / {}", report.card.metrics.test_correct, report.card.metrics.test_total);
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```

mod engine;
pub mod eval;
pub mod loss;
pub mod metrics;
pub mod optim;
pub mod plot;
pub mod readme;
pub mod schedule;

use std::path::PathBuf;

pub use engine::{Trainer, train};
pub use loss::LossKind;
pub use metrics::EpochMetrics;
pub use optim::{Optimizer, OptimizerConfig, OptimizerKind};
pub use readme::render_readme;
pub use schedule::MultiStep;

use crate::card::Card;
use crate::spec::ModelSpec;

/// The paper, as cards cite it.
pub const PAPER: &str =
    "Yu & Zhang, A Lightweight and Gradient-Stable Neural Layer, Neural Networks 175 (2024), arXiv:2106.04088";

/// How training reports progress on stderr.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum Progress {
    /// A progress bar on a terminal; one line per epoch when stderr is not a terminal or
    /// `CI` is set.
    #[default]
    Auto,
    /// Always the progress bar.
    Bar,
    /// One line per epoch.
    Lines,
    /// Nothing.
    Quiet,
}

/// Everything that defines a training run (with the dataset, passed apart).
#[derive(Clone, Debug)]
pub struct TrainConfig {
    /// Model name (the zoo folder name), e.g. `hannet-checkerboard`.
    pub name: String,
    /// The architecture.
    pub spec: ModelSpec,
    /// Optimiser.
    pub optimizer: OptimizerKind,
    /// Initial learning rate.
    pub lr: f64,
    /// SGD momentum (ignored by AdamW).
    pub momentum: f64,
    /// Weight decay (SGD: L2 in the gradient; AdamW: decoupled).
    pub weight_decay: f64,
    /// 0-based epochs at which the learning rate is multiplied by `gamma`.
    pub milestones: Vec<usize>,
    /// Learning-rate factor at each milestone.
    pub gamma: f64,
    /// Number of epochs.
    pub epochs: usize,
    /// Mini-batch size (the last batch of an epoch may be smaller).
    pub batch_size: usize,
    /// Loss.
    pub loss: LossKind,
    /// Seed of the initialisation, the validation split and the batch order.
    pub seed: u64,
    /// How the weights are initialised.
    pub init: crate::init::InitScheme,
    /// Fraction of the training split held out for model selection (0 keeps the last epoch).
    pub val_fraction: f64,
    /// Output folder (created).
    pub out_dir: PathBuf,
    /// The command recorded on the card; `None` records the library call.
    pub command: Option<String>,
    /// Card task, e.g. `image-classification`; `None` derives it from the input shape.
    pub task: Option<String>,
    /// Card description; `None` writes one from the architecture and the dataset.
    pub description: Option<String>,
    /// Progress output.
    pub progress: Progress,
    /// Whether to draw `curves.png` and `decision_map.png`.
    pub plots: bool,
}

impl TrainConfig {
    /// A configuration with the defaults of `han-zoo train`: AdamW, lr 1e-3, no weight
    /// decay, 100 epochs, batch 128, cross-entropy, seed 0, 10 % validation.
    pub fn new(name: impl Into<String>, spec: ModelSpec, out_dir: impl Into<PathBuf>) -> Self {
        Self {
            name: name.into(),
            spec,
            optimizer: OptimizerKind::Adamw,
            lr: 1e-3,
            momentum: 0.9,
            weight_decay: 0.0,
            milestones: Vec::new(),
            gamma: 0.1,
            epochs: 100,
            batch_size: 128,
            loss: LossKind::CrossEntropy,
            seed: 0,
            init: crate::init::InitScheme::Default,
            val_fraction: 0.1,
            out_dir: out_dir.into(),
            command: None,
            task: None,
            description: None,
            progress: Progress::Auto,
            plots: true,
        }
    }
}

/// What a run produced.
#[derive(Clone, Debug)]
pub struct TrainReport {
    /// The card written to `config.json`.
    pub card: Card,
    /// One row per epoch (also in `metrics.csv`).
    pub epochs: Vec<EpochMetrics>,
    /// The folder written.
    pub out_dir: PathBuf,
    /// Wall-clock seconds of the training loop (without the final evaluation and files).
    pub train_seconds: f64,
}

/// Why a run could not start or finish.
#[derive(Debug, thiserror::Error)]
pub enum TrainError {
    /// The configuration does not fit the dataset or itself.
    #[error("invalid training configuration: {0}")]
    Config(String),
    /// A tensor operation failed.
    #[error("tensor error: {0}")]
    Candle(#[from] candle_core::Error),
    /// A file could not be written.
    #[error("cannot write {}: {source}", path.display())]
    Io {
        /// The file.
        path: PathBuf,
        /// The operating system's reason.
        source: std::io::Error,
    },
}

/// Quotes `args` for a POSIX shell where needed and joins them with spaces.
pub fn shell_join<S: AsRef<str>>(args: &[S]) -> String {
    args.iter()
        .map(|a| {
            let a = a.as_ref();
            if !a.is_empty() && a.chars().all(|c| c.is_ascii_alphanumeric() || "-_./=,:@%+".contains(c)) {
                a.to_string()
            } else {
                format!("'{}'", a.replace('\'', "'\\''"))
            }
        })
        .collect::<Vec<_>>()
        .join(" ")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn shell_join_quotes_only_what_needs_it() {
        assert_eq!(
            shell_join(&["han-zoo", "train", "--name", "a b", "--hidden", "256,128", "it's"]),
            "han-zoo train --name 'a b' --hidden 256,128 'it'\\''s'"
        );
    }
}
