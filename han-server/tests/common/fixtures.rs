//! Model folders with random weights and a consistent card (right sha256, parameter counts,
//! labels), for tests and for the benchmark's stand-in models. No `CARGO_BIN_EXE` here, so
//! examples can include this file too.
#![allow(dead_code, clippy::unwrap_used)]

use std::path::Path;

use candle_core::{DType, Device};
use candle_nn::{VarBuilder, VarMap};
use han_models::card::{
    Card, DatasetInfo, HeadSpec, InputSpec, Metrics, Preprocessing, Provenance, TrainingRecipe, WeightsInfo,
};
use han_models::sequential::Sequential;
use han_models::spec::ModelSpec;
use sha2::Digest;

/// Writes `root/name/{model.safetensors, config.json}` for `spec` with random weights.
pub fn write_model(root: &Path, name: &str, spec: &ModelSpec, shape: Vec<usize>, preprocessing: Preprocessing) -> Card {
    let varmap = VarMap::new();
    let vb = VarBuilder::from_varmap(&varmap, DType::F32, &Device::Cpu);
    Sequential::new(spec, vb).unwrap();
    let dir = root.join(name);
    std::fs::create_dir_all(&dir).unwrap();
    let weights = dir.join("model.safetensors");
    varmap.save(&weights).unwrap();
    let sha256 = hex::encode(sha2::Sha256::digest(std::fs::read(&weights).unwrap()));
    let classes: usize = spec.validate().unwrap().iter().product();
    let card = Card {
        name: name.into(),
        task: "image-classification".into(),
        description: format!("test model {name}"),
        architecture: spec.clone(),
        params: spec.param_counts(),
        input: InputSpec { shape, dtype: "float32".into(), description: "test values".into(), preprocessing },
        head: HeadSpec {
            classes,
            labels: (0..classes).map(|i| format!("class-{i}")).collect(),
            activation: "softmax".into(),
        },
        metrics: Metrics {
            test_accuracy: 0.5,
            test_correct: 1,
            test_total: 2,
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
    };
    std::fs::write(dir.join("config.json"), card.to_json()).unwrap();
    card
}
