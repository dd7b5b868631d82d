//! The training loop.

use std::collections::HashMap;
use std::io::IsTerminal;
use std::path::Path;
use std::time::Instant;

use candle_core::{DType, Device, Module, Tensor, Var};
use candle_nn::VarMap;
use indicatif::{ProgressBar, ProgressDrawTarget, ProgressStyle};
use rand::SeedableRng;
use rand::seq::SliceRandom;
use rand_chacha::ChaCha8Rng;
use sha2::{Digest, Sha256};

use super::eval::{self, Evaluation};
use super::loss::LossKind;
use super::metrics::{self, EpochMetrics};
use super::optim::{Optimizer, OptimizerConfig};
use super::schedule::MultiStep;
use super::{PAPER, Progress, TrainConfig, TrainError, TrainReport, plot, readme};
use crate::card::{Card, DatasetInfo, HeadSpec, InputSpec, Metrics, Provenance, TrainingRecipe, WeightsInfo};
use crate::data::{Dataset, Split};
use crate::init::{InitScheme, seeded_varbuilder_with};
use crate::sequential::Sequential;
use crate::spec::ModelSpec;

fn io(path: &Path) -> impl FnOnce(std::io::Error) -> TrainError + '_ {
    move |source| TrainError::Io { path: path.to_path_buf(), source }
}

fn check(cfg: &TrainConfig, data: &Dataset) -> Result<usize, TrainError> {
    let bad = |s: String| Err(TrainError::Config(s));
    let out = cfg.spec.validate().map_err(|e| TrainError::Config(e.to_string()))?;
    let classes = data.labels.len();
    if out != [classes] {
        return bad(format!("the architecture outputs {out:?} but dataset `{}` has {classes} classes", data.name));
    }
    if cfg.spec.input_len() != data.train.features {
        return bad(format!(
            "the architecture takes {} inputs (shape {:?}) but dataset `{}` has {} features a sample",
            cfg.spec.input_len(),
            cfg.spec.input_shape,
            data.name,
            data.train.features
        ));
    }
    if cfg.epochs == 0 || cfg.batch_size == 0 {
        return bad("epochs and batch size must be at least 1".into());
    }
    let positive = |v: f64| v.is_finite() && v > 0.0;
    if !positive(cfg.lr) || !positive(cfg.gamma) {
        return bad(format!("lr ({}) and gamma ({}) must be finite and > 0", cfg.lr, cfg.gamma));
    }
    let momentum_ok = (0.0..1.0).contains(&cfg.momentum);
    let decay_ok = cfg.weight_decay.is_finite() && cfg.weight_decay >= 0.0;
    if !momentum_ok || !decay_ok {
        return bad(format!(
            "momentum ({}) must be in [0, 1) and weight decay ({}) >= 0",
            cfg.momentum, cfg.weight_decay
        ));
    }
    if !(0.0..0.9).contains(&cfg.val_fraction) {
        return bad(format!("validation fraction {} must be in [0, 0.9)", cfg.val_fraction));
    }
    if data.train.is_empty() || data.test.is_empty() {
        return bad(format!("dataset `{}` has an empty train or test split", data.name));
    }
    if let Some(y) = data.train.y.iter().chain(&data.test.y).find(|&&y| y as usize >= classes) {
        return bad(format!("dataset `{}` has label {y} but only {classes} classes", data.name));
    }
    data.preprocessing.validate(data.train.features).map_err(TrainError::Config)?;
    if cfg.name.is_empty()
        || !cfg.name.chars().all(|c| c.is_ascii_alphanumeric() || "-_.".contains(c))
        || cfg.name.starts_with('.')
    {
        return bad(format!(
            "model name `{}` must be ASCII letters, digits, '-', '_' or '.', not starting with '.'",
            cfg.name
        ));
    }
    Ok(classes)
}

fn use_bar(p: Progress) -> bool {
    match p {
        Progress::Bar => true,
        Progress::Auto => {
            let ci = std::env::var("CI").is_ok_and(|v| !v.is_empty() && v != "0" && v != "false");
            std::io::stderr().is_terminal() && !ci
        }
        Progress::Lines | Progress::Quiet => false,
    }
}

/// Trains `cfg.spec` on `data` and writes the zoo folder `cfg.out_dir`.
///
/// The weights of the epoch with the best validation accuracy (ties: lower validation loss,
/// then the earlier epoch) are saved; without a validation split, the last epoch's. The test
/// split is evaluated once, at the end, on the saved file.
pub fn train(cfg: &TrainConfig, data: &Dataset) -> Result<TrainReport, TrainError> {
    let classes = check(cfg, data)?;
    let dev = Device::Cpu;
    let features = data.train.features;
    std::fs::create_dir_all(&cfg.out_dir).map_err(io(&cfg.out_dir))?;

    // Data: split, then preprocess once.
    let (train_raw, val_raw) = data.train.split_validation(cfg.val_fraction, cfg.seed);
    let train = eval::preprocess(&train_raw, &data.preprocessing);
    let val = eval::preprocess(&val_raw, &data.preprocessing);
    let test = eval::preprocess(&data.test, &data.preprocessing);

    // Model and optimiser.
    let mut trainer = Trainer::new(
        &cfg.spec,
        cfg.seed,
        cfg.init,
        OptimizerConfig::new(cfg.optimizer, cfg.lr, cfg.momentum, cfg.weight_decay),
        cfg.loss,
    )?;
    let schedule = MultiStep { base_lr: cfg.lr, milestones: cfg.milestones.clone(), gamma: cfg.gamma };

    let n = train.len();
    let steps = n.div_ceil(cfg.batch_size);
    let bar = if use_bar(cfg.progress) {
        let pb = ProgressBar::with_draw_target(Some((cfg.epochs * steps) as u64), ProgressDrawTarget::stderr());
        let style = ProgressStyle::with_template(
            "{prefix} [{bar:30.cyan/blue}] {percent:>3}% {msg} [{elapsed_precise} < {eta_precise}]",
        )
        .unwrap_or_else(|_| ProgressStyle::default_bar())
        .progress_chars("=> ");
        pb.set_style(style);
        pb.set_prefix(cfg.name.clone());
        Some(pb)
    } else {
        None
    };
    let lines = matches!(cfg.progress, Progress::Lines) || (cfg.progress == Progress::Auto && bar.is_none());

    let mut rng = ChaCha8Rng::seed_from_u64(cfg.seed ^ 0x5348_5546_464c_4521);
    let mut order: Vec<usize> = (0..n).collect();
    let mut xb = Vec::with_capacity(cfg.batch_size * features);
    let mut yb = Vec::with_capacity(cfg.batch_size);
    let mut rows: Vec<EpochMetrics> = Vec::with_capacity(cfg.epochs);
    let mut best: Option<(f64, f64, usize, HashMap<String, Tensor>)> = None;
    let started = Instant::now();

    for epoch in 0..cfg.epochs {
        let lr = schedule.lr_at(epoch);
        trainer.set_lr(lr);
        order.shuffle(&mut rng);
        let (mut loss_sum, mut correct) = (0.0f64, 0usize);
        for (step, batch) in order.chunks(cfg.batch_size).enumerate() {
            xb.clear();
            yb.clear();
            for &i in batch {
                xb.extend_from_slice(train.row(i));
                yb.push(train.y[i]);
            }
            let bs = batch.len();
            let (l, batch_correct) = trainer.step(&xb, &yb)?;
            if !l.is_finite() {
                return Err(TrainError::Config(format!(
                    "the loss became {l} at epoch {} step {}; lower the learning rate (now {lr})",
                    epoch + 1,
                    step + 1
                )));
            }
            loss_sum += l * bs as f64;
            correct += batch_correct;
            if let Some(pb) = &bar {
                pb.inc(1);
                if step % 8 == 0 {
                    let done = (step + 1) * cfg.batch_size;
                    pb.set_message(format!(
                        "epoch {}/{} loss {:.4} acc {:.4}",
                        epoch + 1,
                        cfg.epochs,
                        loss_sum / done.min(n) as f64,
                        correct as f64 / done.min(n) as f64
                    ));
                }
            }
        }

        let snapshot = eval::detached(trainer.varmap())?;
        let (val_loss, val_acc) = if val.is_empty() {
            (f64::NAN, f64::NAN)
        } else {
            let m = eval::inference_model(&cfg.spec, snapshot.clone(), &dev)?;
            let e = eval::evaluate(&m, &val, Some(cfg.loss), &dev)?;
            (e.loss, e.accuracy())
        };
        let row = EpochMetrics {
            epoch: epoch + 1,
            lr,
            train_loss: loss_sum / n as f64,
            train_acc: correct as f64 / n as f64,
            val_loss,
            val_acc,
            seconds: started.elapsed().as_secs_f64(),
        };
        let better = match &best {
            None => true,
            Some(_) if val.is_empty() => true,
            Some((acc, loss, _, _)) => val_acc > *acc || (val_acc == *acc && val_loss < *loss),
        };
        if better {
            let copy = snapshot
                .iter()
                .map(|(k, t)| Ok((k.clone(), t.copy()?)))
                .collect::<candle_core::Result<HashMap<_, _>>>()?;
            best = Some((val_acc, val_loss, epoch + 1, copy));
        }
        let line = format!(
            "epoch {}/{} lr {:.3e} loss {:.4} acc {:.4} val_loss {:.4} val_acc {:.4}{}",
            row.epoch,
            cfg.epochs,
            lr,
            row.train_loss,
            row.train_acc,
            row.val_loss,
            row.val_acc,
            if better && !val.is_empty() { " *" } else { "" }
        );
        if let Some(pb) = &bar {
            pb.set_message(format!(
                "epoch {}/{} loss {:.4} acc {:.4} val {:.4} best {:.4}",
                row.epoch,
                cfg.epochs,
                row.train_loss,
                row.train_acc,
                row.val_acc,
                best.as_ref().map_or(f64::NAN, |b| b.0)
            ));
        } else if lines {
            eprintln!("{}: {line}", cfg.name);
        }
        tracing::debug!(model = %cfg.name, "{line}");
        rows.push(row);
    }
    let train_seconds = started.elapsed().as_secs_f64();
    if let Some(pb) = &bar {
        pb.finish_and_clear();
    }
    let Some((best_val_acc, _, best_epoch, best_tensors)) = best else {
        return Err(TrainError::Config("no epoch was trained".into()));
    };

    // Save, then measure the saved file.
    let weights = cfg.out_dir.join("model.safetensors");
    candle_core::safetensors::save(&best_tensors, &weights)?;
    let bytes = std::fs::read(&weights).map_err(io(&weights))?;
    let sha256 = hex::encode(Sha256::digest(&bytes));
    let saved = Sequential::new(&cfg.spec, candle_nn::VarBuilder::from_buffered_safetensors(bytes, DType::F32, &dev)?)?;
    let test_eval = eval::evaluate(&saved, &test, None, &dev)?;
    let train_eval = eval::evaluate(&saved, &train, None, &dev)?;

    let card = build_card(
        cfg,
        data,
        classes,
        &train,
        &val,
        test_eval,
        train_eval,
        best_val_acc,
        best_epoch,
        train_seconds,
        sha256,
    );
    card.check().map_err(|e| TrainError::Config(e.to_string()))?;

    let write = |name: &str, s: &str| {
        let p = cfg.out_dir.join(name);
        std::fs::write(&p, s).map_err(io(&p))
    };
    write("config.json", &(card.to_json() + "\n"))?;
    write("README.md", &readme::render_readme(&card))?;
    let csv = cfg.out_dir.join("metrics.csv");
    metrics::write_csv(&csv, &rows).map_err(io(&csv))?;
    if cfg.plots {
        let title = format!("{}: test {}/{}", cfg.name, test_eval.correct, test_eval.total);
        if let Err(e) = plot::curves(&cfg.out_dir.join("curves.png"), &title, &rows) {
            tracing::warn!("could not draw curves.png: {e}");
        }
        if features == 2
            && let Err(e) = draw_decision_map(cfg, data, &saved, &title)
        {
            tracing::warn!("could not draw decision_map.png: {e}");
        }
    }
    if lines || bar.is_some() {
        eprintln!(
            "{}: selected epoch {best_epoch} (val acc {best_val_acc:.4}); test {}/{} = {:.4}; {:.1} s; wrote {}",
            cfg.name,
            test_eval.correct,
            test_eval.total,
            test_eval.accuracy(),
            train_seconds,
            cfg.out_dir.display()
        );
    }
    Ok(TrainReport { card, epochs: rows, out_dir: cfg.out_dir.clone(), train_seconds })
}

/// One model, its variables and its optimiser: the step of [`train`], also used by the
/// training benchmark (`han-zoo bench-train`) so that it measures exactly this code.
///
/// ```
/// use han_models::{arch, init::InitScheme};
/// use han_models::train::{LossKind, OptimizerConfig, OptimizerKind, Trainer};
///
/// let opt = OptimizerConfig::new(OptimizerKind::Adamw, 1e-2, 0.0, 0.0);
/// let mut t = Trainer::new(&arch::hannet(2, 8, 2, 2), 0, InitScheme::Default, opt, LossKind::CrossEntropy)?;
/// let (x, y) = ([0.5f32, -0.5, -0.5, 0.5], [1u32, 0]);
/// let (first, _) = t.step(&x, &y)?;
/// let mut last = first;
/// for _ in 0..50 {
///     last = t.step(&x, &y)?.0;
/// }
/// assert!(last < first);
/// # Ok::<(), han_models::train::TrainError>(())
/// ```
pub struct Trainer {
    model: Sequential,
    varmap: VarMap,
    opt: Optimizer,
    loss: LossKind,
    features: usize,
    dev: Device,
}

impl std::fmt::Debug for Trainer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Trainer")
            .field("spec", self.model.spec())
            .field("opt", &self.opt)
            .field("loss", &self.loss)
            .finish()
    }
}

impl Trainer {
    /// Builds `spec` with seeded weights and an optimiser over all its variables (CPU, f32).
    pub fn new(
        spec: &ModelSpec,
        seed: u64,
        init: InitScheme,
        opt: OptimizerConfig,
        loss: LossKind,
    ) -> Result<Self, TrainError> {
        let dev = Device::Cpu;
        let varmap = VarMap::new();
        let model = Sequential::new(spec, seeded_varbuilder_with(seed, init, &varmap, DType::F32, &dev))?;
        let vars: Vec<Var> = {
            let d = varmap.data().lock().map_err(|_| TrainError::Config("VarMap lock poisoned".into()))?;
            let mut named: Vec<(&String, &Var)> = d.iter().collect();
            named.sort_by(|a, b| a.0.cmp(b.0));
            named.into_iter().map(|(_, v)| v.clone()).collect()
        };
        let opt = Optimizer::new(vars, opt)?;
        Ok(Self { model, varmap, opt, loss, features: spec.input_len(), dev })
    }

    /// Sets the learning rate.
    pub fn set_lr(&mut self, lr: f64) {
        self.opt.set_lr(lr);
    }

    /// The variables (tensor names as in the spec).
    pub fn varmap(&self) -> &VarMap {
        &self.varmap
    }

    /// One optimisation step on a mini-batch of preprocessed rows `x` (`y.len()` rows) with
    /// labels `y`; returns the batch's mean loss and its number of correct predictions
    /// (before the update).
    pub fn step(&mut self, x: &[f32], y: &[u32]) -> Result<(f64, usize), TrainError> {
        let bs = y.len();
        let xt = Tensor::from_slice(x, (bs, self.features), &self.dev)?;
        let yt = Tensor::from_slice(y, bs, &self.dev)?;
        let out = self.model.forward(&xt)?;
        let loss = self.loss.compute(&out, &yt)?;
        let grads = loss.backward()?;
        self.opt.step(&grads)?;
        let l = loss.to_dtype(DType::F64)?.to_scalar::<f64>()?;
        let correct = eval::argmax_rows(&out)?.iter().zip(y).filter(|(p, t)| p == t).count();
        Ok((l, correct))
    }
}

fn draw_decision_map(
    cfg: &TrainConfig,
    data: &Dataset,
    model: &Sequential,
    title: &str,
) -> Result<(), Box<dyn std::error::Error + Send + Sync>> {
    let all: Vec<&[f32]> = (0..data.train.len())
        .map(|i| data.train.row(i))
        .chain((0..data.test.len()).map(|i| data.test.row(i)))
        .collect();
    let (mut lo, mut hi) = ([f32::MAX; 2], [f32::MIN; 2]);
    for r in &all {
        for d in 0..2 {
            lo[d] = lo[d].min(r[d]);
            hi[d] = hi[d].max(r[d]);
        }
    }
    let pad = |d: usize| ((hi[d] - lo[d]) * 0.04).max(1e-3);
    let bounds = ([lo[0] - pad(0), hi[0] + pad(0)], [lo[1] - pad(1), hi[1] + pad(1)]);
    let points: Vec<([f32; 2], u32)> =
        (0..data.train.len()).map(|i| ([data.train.row(i)[0], data.train.row(i)[1]], data.train.y[i])).collect();
    let pre = data.preprocessing.clone();
    let predict = move |raw: &[f32]| -> Result<Vec<Vec<f32>>, Box<dyn std::error::Error + Send + Sync>> {
        let mut x = raw.to_vec();
        pre.apply(&mut x, 2);
        Ok(eval::predict_proba(model, &x, 2, &Device::Cpu)?)
    };
    plot::decision_map(&cfg.out_dir.join("decision_map.png"), title, bounds, &points, &predict)
}

#[allow(clippy::too_many_arguments)]
fn build_card(
    cfg: &TrainConfig,
    data: &Dataset,
    classes: usize,
    train: &Split,
    val: &Split,
    test: Evaluation,
    train_eval: Evaluation,
    val_acc: f64,
    best_epoch: usize,
    seconds: f64,
    sha256: String,
) -> Card {
    let params = cfg.spec.param_counts();
    let task = cfg.task.clone().unwrap_or_else(|| {
        if data.input_shape.len() == 2 { "image-classification".into() } else { "classification".into() }
    });
    let description = cfg.description.clone().unwrap_or_else(|| {
        format!(
            "{} ({} parameters: {} in Han-layers, {} fully connected{}) classifying {} into {} classes.",
            cfg.spec.family,
            params.total,
            params.han,
            params.fc,
            if params.conv > 0 { format!(", {} convolutional", params.conv) } else { String::new() },
            data.name,
            classes
        )
    });
    let command =
        cfg.command.clone().unwrap_or_else(|| format!("han_models::train::train (library call, seed {})", cfg.seed));
    Card {
        name: cfg.name.clone(),
        task,
        description,
        architecture: cfg.spec.clone(),
        params,
        input: InputSpec {
            shape: data.input_shape.clone(),
            dtype: "float32".into(),
            description: data.input_description.clone(),
            preprocessing: data.preprocessing.clone(),
        },
        head: HeadSpec { classes, labels: data.labels.clone(), activation: "softmax".into() },
        metrics: Metrics {
            test_accuracy: test.accuracy(),
            test_correct: test.correct,
            test_total: test.total,
            val_accuracy: (!val.is_empty()).then_some(val_acc),
            train_accuracy: Some(train_eval.accuracy()),
        },
        training: TrainingRecipe {
            optimizer: cfg.optimizer.as_str().into(),
            lr: cfg.lr,
            momentum: if cfg.optimizer == super::OptimizerKind::Sgd { cfg.momentum } else { 0.0 },
            weight_decay: cfg.weight_decay,
            milestones: cfg.milestones.clone(),
            gamma: cfg.gamma,
            epochs: cfg.epochs,
            batch_size: cfg.batch_size,
            loss: cfg.loss.as_str().into(),
            seed: cfg.seed,
            val_fraction: cfg.val_fraction,
            selection: if val.is_empty() {
                "last epoch (no validation split)".into()
            } else {
                "best validation accuracy (ties: lower validation loss, then earlier epoch); the test split is used once, for the final number".into()
            },
            selected_epoch: best_epoch,
            train_seconds: (seconds * 10.0).round() / 10.0,
        },
        dataset: DatasetInfo {
            name: data.name.clone(),
            source: data.source.clone(),
            licence: data.licence.clone(),
            train: train.len(),
            val: val.len(),
            test: test.total,
        },
        weights: WeightsInfo { file: "model.safetensors".into(), sha256, dtype: "float32".into() },
        provenance: Provenance { command, paper: PAPER.into(), han_version: env!("CARGO_PKG_VERSION").into() },
    }
}
