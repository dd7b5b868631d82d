//! The training engine and `han-zoo train`: it learns, it is deterministic, it writes a
//! complete zoo folder whose card tells the truth, and bad input is an error.

use std::path::Path;
use std::process::Command;

use candle_core::{DType, Device};
use han_models::card::{Card, Preprocessing};
use han_models::data::{Dataset, Split};
use han_models::train::{self, LossKind, OptimizerKind, Progress, TrainConfig, TrainError, eval};
use han_models::{arch, import};
use sha2::{Digest, Sha256};

/// Two Gaussian-ish blobs on a line, raw coordinates scaled by 10 so the preprocessing
/// (scale 0.1) matters.
fn blobs(n: usize, offset: u32) -> Split {
    let mut x = Vec::new();
    let mut y = Vec::new();
    for i in 0..n as u32 {
        let c = (i + offset) % 2;
        // A deterministic scatter (golden-ratio sequence) around (+-5, 0).
        let a = ((i as f32 * 0.618_034) % 1.0) - 0.5;
        let b = ((i as f32 * 0.414_214) % 1.0) - 0.5;
        x.extend([if c == 1 { 5.0 } else { -5.0 } + 6.0 * a, 8.0 * b]);
        y.push(c);
    }
    Split { x, y, features: 2 }
}

fn blob_dataset() -> Dataset {
    Dataset {
        name: "blobs".into(),
        input_shape: vec![2],
        labels: vec!["left".into(), "right".into()],
        train: blobs(200, 0),
        test: blobs(101, 1),
        preprocessing: Preprocessing { scale: 0.1, mean: vec![0.0], std: vec![1.0] },
        input_description: "a point in [-10, 10]^2".into(),
        source: "tests/train.rs".into(),
        licence: "none".into(),
    }
}

fn tiny_config(out: &Path) -> TrainConfig {
    let mut cfg = TrainConfig::new("tiny-blobs", arch::hannet(2, 6, 3, 2), out);
    cfg.epochs = 15;
    cfg.batch_size = 16;
    cfg.lr = 1e-2;
    cfg.progress = Progress::Quiet;
    cfg.val_fraction = 0.2;
    cfg
}

fn sha256(path: &Path) -> String {
    hex::encode(Sha256::digest(std::fs::read(path).expect("read")))
}

#[test]
fn learns_a_separable_problem_and_writes_a_truthful_zoo_folder() {
    let dir = tempfile::tempdir().expect("tempdir");
    let out = dir.path().join("tiny");
    let data = blob_dataset();
    let report = train::train(&tiny_config(&out), &data).expect("train");
    let card = &report.card;

    for f in ["model.safetensors", "config.json", "README.md", "metrics.csv", "curves.png", "decision_map.png"] {
        assert!(out.join(f).is_file(), "{f} missing");
    }
    // The card on disk is the card returned, and it is consistent.
    let on_disk =
        Card::from_json(&std::fs::read_to_string(out.join("config.json")).expect("card")).expect("valid card");
    assert_eq!(&on_disk, card);
    assert_eq!(card.weights.sha256, sha256(&out.join("model.safetensors")));
    assert_eq!((card.dataset.train, card.dataset.val, card.dataset.test), (160, 40, 101));
    assert_eq!(card.input.preprocessing, data.preprocessing);
    assert_eq!(card.params.total, arch::hannet(2, 6, 3, 2).param_counts().total);

    // Independent re-measurement of the saved file: load it through the import path,
    // preprocess the raw test split by hand, count argmax hits.
    let model = import::load(&card.architecture, &out.join("model.safetensors")).expect("load");
    let mut x = data.test.x.clone();
    for v in &mut x {
        *v *= 0.1;
    }
    let probs = eval::predict_proba(&model, &x, 2, &Device::Cpu).expect("predict");
    let correct = probs.iter().zip(&data.test.y).filter(|(p, y)| (p[1] > p[0]) as u32 == **y).count();
    assert_eq!((card.metrics.test_correct, card.metrics.test_total), (correct, 101));
    assert!(correct >= 95, "a separable problem should be learnt: {correct} / 101");

    // metrics.csv: header + one row per epoch; the selected epoch has the best val accuracy.
    let csv = std::fs::read_to_string(out.join("metrics.csv")).expect("csv");
    let rows: Vec<Vec<f64>> =
        csv.lines().skip(1).map(|l| l.split(',').map(|v| v.parse().expect("number")).collect()).collect();
    assert_eq!(csv.lines().next(), Some("epoch,lr,train_loss,train_acc,val_loss,val_acc,seconds"));
    assert_eq!(rows.len(), 15);
    let best = rows.iter().map(|r| r[5]).fold(f64::MIN, f64::max);
    let selected = &rows[card.training.selected_epoch - 1];
    assert_eq!(selected[5], best);
    assert_eq!(card.metrics.val_accuracy.map(|v| (v * 1e6).round()), Some((best * 1e6).round()));

    // The README is generated from the card.
    let readme = std::fs::read_to_string(out.join("README.md")).expect("readme");
    assert!(readme.contains(&format!("({correct} / 101)")) && readme.contains("han_models::zoo::load(\"tiny-blobs\")"));
}

#[test]
fn same_seed_same_weights_other_seed_other_weights() {
    let dir = tempfile::tempdir().expect("tempdir");
    let data = blob_dataset();
    let run = |name: &str, seed: u64, opt: OptimizerKind, loss: LossKind| {
        let mut cfg = tiny_config(&dir.path().join(name));
        cfg.seed = seed;
        cfg.optimizer = opt;
        cfg.loss = loss;
        cfg.milestones = vec![5, 10];
        cfg.epochs = 12;
        cfg.plots = false;
        train::train(&cfg, &data).expect("train");
        std::fs::read(dir.path().join(name).join("model.safetensors")).expect("weights")
    };
    assert_eq!(
        run("a", 3, OptimizerKind::Adamw, LossKind::CrossEntropy),
        run("b", 3, OptimizerKind::Adamw, LossKind::CrossEntropy)
    );
    assert_eq!(run("c", 3, OptimizerKind::Sgd, LossKind::Mse), run("d", 3, OptimizerKind::Sgd, LossKind::Mse));
    assert_ne!(
        run("e", 4, OptimizerKind::Adamw, LossKind::CrossEntropy),
        run("f", 3, OptimizerKind::Adamw, LossKind::CrossEntropy)
    );
}

#[test]
fn configurations_that_do_not_fit_are_errors() {
    let dir = tempfile::tempdir().expect("tempdir");
    let data = blob_dataset();
    let mut cfg = tiny_config(dir.path());
    cfg.spec = arch::hannet(2, 6, 3, 3);
    let e = train::train(&cfg, &data).expect_err("3 outputs for 2 classes");
    assert!(matches!(e, TrainError::Config(_)) && e.to_string().contains("2 classes"), "{e}");
    let mut cfg = tiny_config(dir.path());
    cfg.spec = arch::hannet(3, 6, 3, 2);
    assert!(train::train(&cfg, &data).expect_err("3 inputs").to_string().contains("2 features"));
    for f in [
        |c: &mut TrainConfig| c.epochs = 0,
        |c: &mut TrainConfig| c.lr = f64::NAN,
        |c: &mut TrainConfig| c.val_fraction = 1.0,
        |c: &mut TrainConfig| c.batch_size = 0,
    ] {
        let mut cfg = tiny_config(dir.path());
        f(&mut cfg);
        assert!(matches!(train::train(&cfg, &data), Err(TrainError::Config(_))));
    }
    // A learning rate that blows up is reported, not trained through.
    let mut cfg = tiny_config(dir.path());
    cfg.optimizer = OptimizerKind::Sgd;
    cfg.spec = arch::fcnet(2, &[64, 64], 2);
    cfg.lr = 1e6;
    cfg.loss = LossKind::Mse;
    let e = train::train(&cfg, &data).expect_err("diverges");
    assert!(e.to_string().contains("lower the learning rate"), "{e}");
}

#[test]
fn no_validation_split_keeps_the_last_epoch() {
    let dir = tempfile::tempdir().expect("tempdir");
    let mut cfg = tiny_config(dir.path());
    cfg.val_fraction = 0.0;
    cfg.epochs = 4;
    cfg.plots = false;
    let r = train::train(&cfg, &blob_dataset()).expect("train");
    assert_eq!(r.card.training.selected_epoch, 4);
    assert_eq!(r.card.metrics.val_accuracy, None);
    assert_eq!(r.card.dataset.train, 200);
}

fn han_zoo() -> Command {
    let mut c = Command::new(env!("CARGO_BIN_EXE_han-zoo"));
    c.env("RAYON_NUM_THREADS", "2").env("CI", "true");
    c
}

/// The CLI end to end on the generated checkerboard: determinism of the weights file for a
/// fixed RAYON_NUM_THREADS, pictures without a font, the recorded command, and eval.
#[test]
fn cli_train_twice_gives_identical_weights_and_eval_agrees() {
    let dir = tempfile::tempdir().expect("tempdir");
    let args = |out: &Path| {
        let mut c = han_zoo();
        c.args([
            "train",
            "--arch",
            "hannet-checkerboard",
            "--dataset",
            "checkerboard",
            "--epochs",
            "3",
            "--lr",
            "0.01",
        ])
        .args(["--milestones", "1,2", "--batch-size", "64", "--seed", "7", "--progress", "lines", "--out"])
        .arg(out)
        .env("HAN_FONT", "/nonexistent/font.ttf");
        c
    };
    let (a, b) = (dir.path().join("a"), dir.path().join("b"));
    for out in [&a, &b] {
        let o = args(out).output().expect("run han-zoo");
        let stderr = String::from_utf8_lossy(&o.stderr);
        assert!(o.status.success(), "{stderr}");
        assert_eq!(
            stderr.lines().filter(|l| l.contains("epoch ") && l.contains("val_acc")).count(),
            3,
            "one line per epoch: {stderr}"
        );
    }
    assert_eq!(
        std::fs::read(a.join("model.safetensors")).expect("a"),
        std::fs::read(b.join("model.safetensors")).expect("b")
    );
    assert!(
        a.join("curves.png").is_file() && a.join("decision_map.png").is_file(),
        "pictures are drawn without a font"
    );
    let card = Card::from_json(&std::fs::read_to_string(a.join("config.json")).expect("card")).expect("card");
    assert!(
        card.provenance.command.starts_with("han-zoo train --arch hannet-checkerboard --dataset checkerboard"),
        "{}",
        card.provenance.command
    );
    assert_eq!(card.params.total, 3032);
    assert_eq!((card.dataset.train + card.dataset.val, card.dataset.test), (1640, 4921));

    let o = han_zoo().arg("eval").arg(&a).arg("--json").output().expect("eval");
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    let v: serde_json::Value = serde_json::from_slice(&o.stdout).expect("json");
    assert_eq!(v["test_correct"].as_u64(), Some(card.metrics.test_correct as u64));
    assert_eq!(v["matches_card"], serde_json::Value::Bool(true));

    // A tampered weights file is caught by eval.
    let mut bytes = std::fs::read(a.join("model.safetensors")).expect("read");
    let last = bytes.len() - 1;
    bytes[last] ^= 1;
    std::fs::write(a.join("model.safetensors"), bytes).expect("write");
    let o = han_zoo().arg("eval").arg(&a).output().expect("eval");
    assert!(!o.status.success() && String::from_utf8_lossy(&o.stderr).contains("sha256"));
}

#[test]
fn cli_bad_input_is_a_clear_error_not_a_panic() {
    let cases: &[(&[&str], &str)] = &[
        (&["train", "--arch", "hannet", "--dataset", "checkerboard", "--optimizer", "rmsprop"], "rmsprop"),
        (&["train", "--arch", "resnet", "--dataset", "checkerboard"], "resnet"),
        (&["train", "--arch", "hannet", "--dataset", "nope", "--epochs", "1"], "unknown dataset `nope`"),
        (&["train", "--arch", "hannet", "--dataset", "checkerboard", "--milestones", "a,b"], "milestones"),
        (&["train", "--arch", "hanconv", "--dataset", "checkerboard"], "784"),
        (&["train", "--arch", "hannet", "--dataset", "checkerboard", "--epochs", "0"], "epochs"),
        (&["eval", "/nonexistent/model"], "neither a model folder"),
    ];
    for (args, want) in cases {
        let o = han_zoo().args(*args).env("HAN_ZOO_DIR", "/nonexistent").output().expect("run");
        let stderr = String::from_utf8_lossy(&o.stderr);
        assert!(!o.status.success(), "{args:?} should fail");
        assert!(!stderr.contains("panicked"), "{args:?} panicked: {stderr}");
        assert!(stderr.contains(want), "{args:?}: expected `{want}` in: {stderr}");
    }
    let o = han_zoo().args(["train", "--help"]).output().expect("help");
    let help = String::from_utf8_lossy(&o.stdout);
    for flag in [
        "--arch",
        "--dataset",
        "--width",
        "--depth",
        "--hidden",
        "--epochs",
        "--lr",
        "--optimizer",
        "--momentum",
        "--weight-decay",
        "--milestones",
        "--gamma",
        "--batch-size",
        "--loss",
        "--seed",
        "--val-fraction",
        "--name",
        "--out",
    ] {
        assert!(help.contains(flag), "{flag} undocumented");
    }
}

#[test]
fn seeded_init_does_not_depend_on_the_device_rng() {
    use candle_nn::VarMap;
    let spec = arch::hannet_checkerboard();
    let get = |seed| {
        let vm = VarMap::new();
        han_models::sequential::Sequential::new(
            &spec,
            han_models::init::seeded_varbuilder(seed, &vm, DType::F32, &Device::Cpu),
        )
        .expect("build");
        let d = vm.data().lock().expect("lock");
        let mut names: Vec<_> = d.keys().cloned().collect();
        names.sort();
        names
            .iter()
            .map(|n| d[n].as_tensor().flatten_all().and_then(|t| t.to_vec1::<f32>()).expect("v"))
            .collect::<Vec<_>>()
    };
    assert_eq!(get(11), get(11));
    assert_ne!(get(11), get(12));
}
