//! Test support: writes model folders (weights, card with the right sha256) into temp dirs,
//! so the zoo tests do not depend on trained weights being present.
#![allow(dead_code, clippy::unwrap_used)]

use std::path::{Path, PathBuf};

use candle_core::{DType, Device};
use candle_nn::{VarBuilder, VarMap};
use han_models::card::{
    Card, DatasetInfo, HeadSpec, InputSpec, Metrics, Preprocessing, Provenance, TrainingRecipe, WeightsInfo,
};
use han_models::sequential::Sequential;
use han_models::spec::ModelSpec;
use sha2::Digest;

/// A freshly initialised model and where it was written.
pub struct Written {
    pub dir: PathBuf,
    pub net: Sequential,
    pub varmap: VarMap,
    pub card: Card,
}

/// A card for `spec` with plain values in every field.
pub fn card_for(name: &str, spec: &ModelSpec, preprocessing: Preprocessing, sha256: String) -> Card {
    let out = spec.validate().unwrap();
    let classes = out.iter().product();
    Card {
        name: name.into(),
        task: "classification".into(),
        description: format!("test model {name}"),
        architecture: spec.clone(),
        params: spec.param_counts(),
        input: InputSpec {
            shape: spec.input_shape.clone(),
            dtype: "float32".into(),
            description: "test values".into(),
            preprocessing,
        },
        head: HeadSpec {
            classes,
            labels: (0..classes).map(|i| format!("class-{i}")).collect(),
            activation: "softmax".into(),
        },
        metrics: Metrics {
            test_accuracy: 0.0,
            test_correct: 0,
            test_total: 0,
            val_accuracy: None,
            train_accuracy: None,
        },
        training: TrainingRecipe {
            optimizer: "none".into(),
            lr: 0.0,
            momentum: 0.0,
            weight_decay: 0.0,
            milestones: vec![],
            gamma: 1.0,
            epochs: 0,
            batch_size: 1,
            loss: "cross_entropy".into(),
            seed: 0,
            val_fraction: 0.0,
            selection: "untrained".into(),
            selected_epoch: 0,
            train_seconds: 0.0,
        },
        dataset: DatasetInfo {
            name: "none".into(),
            source: "none".into(),
            licence: "none".into(),
            train: 0,
            val: 0,
            test: 0,
        },
        weights: WeightsInfo { file: "model.safetensors".into(), sha256, dtype: "float32".into() },
        provenance: Provenance {
            command: "tests".into(),
            paper: "arXiv:2106.04088".into(),
            han_version: "0.1.0".into(),
        },
    }
}

/// Lowercase hex sha256 of a file.
pub fn sha256_file(path: &Path) -> String {
    hex::encode(sha2::Sha256::digest(std::fs::read(path).unwrap()))
}

/// Initialises `spec` with random weights and writes `root/name/{model.safetensors,config.json}`.
pub fn write_model(root: &Path, name: &str, spec: &ModelSpec, preprocessing: Preprocessing) -> Written {
    let varmap = VarMap::new();
    let vb = VarBuilder::from_varmap(&varmap, DType::F32, &Device::Cpu);
    let net = Sequential::new(spec, vb).unwrap();
    let dir = root.join(name);
    std::fs::create_dir_all(&dir).unwrap();
    let weights = dir.join("model.safetensors");
    varmap.save(&weights).unwrap();
    let card = card_for(name, spec, preprocessing, sha256_file(&weights));
    std::fs::write(dir.join("config.json"), card.to_json()).unwrap();
    Written { dir, net, varmap, card }
}

/// Rewrites the card of a folder.
pub fn write_card(dir: &Path, card: &Card) {
    std::fs::write(dir.join("config.json"), card.to_json()).unwrap();
}

/// Deterministic pseudo-random values in `[lo, hi)`.
pub fn values(n: usize, seed: u64, lo: f32, hi: f32) -> Vec<f32> {
    let mut s = seed.wrapping_mul(6364136223846793005).wrapping_add(1442695040888963407);
    (0..n)
        .map(|_| {
            s = s.wrapping_mul(6364136223846793005).wrapping_add(1442695040888963407);
            lo + (hi - lo) * ((s >> 40) as f32 / (1u64 << 24) as f32)
        })
        .collect()
}
