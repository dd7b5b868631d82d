//! The scikit-learn digits (8 x 8 block counts 0..16, 1,797 samples), bundled with the crate
//! as `fixtures/digits.csv.gz` (see `fixtures/README.md`), split 1,437 / 360 with a seed.

use std::io::Read;
use std::path::PathBuf;

use flate2::read::MultiGzDecoder;

use super::tools::Algo;
use super::{DataError, Dataset, Split, seeded_split};
use crate::card::Preprocessing;

/// The fixture, compiled in: `sklearn/datasets/data/digits.csv.gz` of scikit-learn 1.9.1.
pub const FIXTURE: &[u8] = include_bytes!("../../fixtures/digits.csv.gz");
/// sha256 of [`FIXTURE`].
pub const FIXTURE_SHA256: &str = "09f66e6debdee2cd2b5ae59e0d6abbb73fc2b0e0185d2e1957e9ebb51e23aa22";
/// Samples.
pub const SAMPLES: usize = 1_797;
/// Test samples: `ceil(0.2 * 1,797)`, as scikit-learn's `train_test_split(test_size=0.2)`.
pub const TEST_SIZE: usize = 360;
/// Training samples: the other 1,437.
pub const TRAIN_SIZE: usize = SAMPLES - TEST_SIZE;
/// Seed of the split (a ChaCha8 permutation of the 1,797 rows; the first 360 test, the rest
/// train, each in file order).
pub const SPLIT_SEED: u64 = 42;

/// Where the fixture lives in the source tree.
pub fn fixture_path() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("fixtures").join("digits.csv.gz")
}

/// Loads the bundled fixture.
pub fn load() -> Result<Dataset, DataError> {
    load_bytes(FIXTURE)
}

/// Loads digits from the bytes of a `digits.csv.gz`, which must have the sha256 of the
/// fixture; a corrupted or truncated copy is an error.
pub fn load_bytes(gz: &[u8]) -> Result<Dataset, DataError> {
    let file = fixture_path();
    let found = Algo::Sha256.hex(gz);
    if found != FIXTURE_SHA256 {
        return Err(DataError::Checksum {
            dataset: "digits",
            file,
            algo: "sha256",
            expected: FIXTURE_SHA256.into(),
            found,
        });
    }
    let corrupt = |reason: String| DataError::Corrupt { dataset: "digits", file: fixture_path(), reason };
    let mut text = String::new();
    MultiGzDecoder::new(gz).read_to_string(&mut text).map_err(|e| corrupt(format!("cannot decompress: {e}")))?;
    let (mut x, mut y) = (Vec::with_capacity(SAMPLES * 64), Vec::with_capacity(SAMPLES));
    for (n, line) in text.lines().enumerate().filter(|(_, l)| !l.trim().is_empty()) {
        let vals: Vec<f32> = line
            .split(',')
            .map(|v| v.trim().parse::<f32>())
            .collect::<Result<_, _>>()
            .map_err(|e| corrupt(format!("line {}: {e}", n + 1)))?;
        if vals.len() != 65 {
            return Err(corrupt(format!("line {} has {} values, expected 65", n + 1, vals.len())));
        }
        if vals[..64].iter().any(|&v| !(0.0..=16.0).contains(&v) || v.fract() != 0.0) {
            return Err(corrupt(format!("line {}: a pixel is not an integer 0..16", n + 1)));
        }
        let l = vals[64];
        if !(0.0..=9.0).contains(&l) || l.fract() != 0.0 {
            return Err(corrupt(format!("line {}: label {l} is not 0..9", n + 1)));
        }
        x.extend_from_slice(&vals[..64]);
        y.push(l as u32);
    }
    if y.len() != SAMPLES {
        return Err(corrupt(format!("{} samples, expected {SAMPLES}", y.len())));
    }
    let all = Split { x, y, features: 64 };
    let (test, train) = seeded_split(SAMPLES, TEST_SIZE, SPLIT_SEED);
    Ok(Dataset {
        name: "digits".into(),
        input_shape: vec![8, 8],
        labels: (0..10).map(|d| d.to_string()).collect(),
        train: all.subset(&train),
        test: all.subset(&test),
        // Block counts 0..16 to [0, 1]; no centring.
        preprocessing: Preprocessing { scale: 1.0 / 16.0, mean: vec![0.0], std: vec![1.0] },
        input_description: "8 x 8 block counts 0..16 (on-pixels of a 32 x 32 bitmap in each 4 x 4 block), row-major, \
                            ink is high"
            .into(),
        source: "scikit-learn 1.9.1 sklearn/datasets/data/digits.csv.gz (test set of the UCI Optical Recognition \
                 of Handwritten Digits data, Alpaydin & Kaynak 1998)"
            .into(),
        licence: "BSD-3-Clause (as distributed with scikit-learn)".into(),
    })
}
