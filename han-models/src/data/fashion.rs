//! Fashion-MNIST (Xiao, Rasul & Vollgraf, Zalando Research 2017): the gzipped IDX files of the
//! Debian package `dataset-fashion-mnist`, stored uncompressed in `data/fashion/`.

use std::io::Read;
use std::path::{Path, PathBuf};
use std::process::Command;

use flate2::read::MultiGzDecoder;

use super::idx::{self, IdxSet, TEST_IMAGES, TEST_LABELS, TRAIN_IMAGES, TRAIN_LABELS};
use super::tools::{self, Algo, Scratch};
use super::{DataError, Dataset};
use crate::card::Preprocessing;

/// The Debian package.
pub const PACKAGE: &str = "dataset-fashion-mnist";
/// Where the package installs the gzipped IDX files.
pub const PACKAGE_DIR: &str = "usr/share/datasets/fashion-mnist";

/// md5 of the uncompressed files (the `.gz` files of the package were re-packed, so only the
/// content is checked).
pub(crate) const SET: IdxSet = IdxSet {
    train_images: (TRAIN_IMAGES, "f4a8712d7a061bf5bd6d2ca38dc4d50a"),
    train_labels: (TRAIN_LABELS, "9018921c3c673c538a1fc5bad174d6f9"),
    test_images: (TEST_IMAGES, "8181f5470baa50b63fa0f6fddb340f0a"),
    test_labels: (TEST_LABELS, "15d484375f8d13e6eb1aabb0c3f46965"),
};

/// Class names, in label order.
pub const LABELS: [&str; 10] =
    ["T-shirt/top", "Trouser", "Pullover", "Dress", "Coat", "Sandal", "Shirt", "Sneaker", "Bag", "Ankle boot"];

/// Mean of the 60,000 x 784 training pixels after scaling by 1/255: 0.28604059698880 (float64,
/// numpy, `(x / 255).mean()` over train-images-idx3-ubyte).
pub const MEAN: f32 = 0.286_040_6;
/// Population standard deviation of the same: 0.35302424451492 (`(x / 255).std()`).
pub const STD: f32 = 0.353_024_24;

/// Loads Fashion-MNIST from `dir` (normally `data/fashion`), verifying the md5 of every file.
pub fn load(dir: &Path) -> Result<Dataset, DataError> {
    let (train, test) = idx::load_set("fashion", dir, &SET)?;
    Ok(Dataset {
        name: "fashion".into(),
        input_shape: vec![28, 28],
        labels: LABELS.iter().map(|s| s.to_string()).collect(),
        train,
        test,
        preprocessing: Preprocessing { scale: 1.0 / 255.0, mean: vec![MEAN], std: vec![STD] },
        input_description: "28 x 28 grayscale pixels 0..255, row-major, light article on black".into(),
        source: "Fashion-MNIST (H. Xiao, K. Rasul, R. Vollgraf, Zalando Research 2017), IDX files of the Debian \
                 package dataset-fashion-mnist"
            .into(),
        licence: "MIT (Copyright 2017 Zalando SE)".into(),
    })
}

const APT_HINT: &str = "this needs Debian/Ubuntu's apt-get and dpkg-deb";

/// Fetches into `cache/fashion` unless the files are already there with the right md5.
pub(crate) fn fetch(cache: &Path) -> Result<(Vec<PathBuf>, bool, String), DataError> {
    let dir = cache.join("fashion");
    let files: Vec<PathBuf> = SET.files().iter().map(|(n, _)| dir.join(n)).collect();
    if idx::cached(&dir, &SET) {
        return Ok((files, true, "already in the cache (md5 verified)".into()));
    }
    eprintln!("data fetch: Fashion-MNIST is not in {} (or a checksum differs): fetching", dir.display());
    let scratch = Scratch::new(cache, "fashion")?;
    let download =
        || tools::run(Command::new("apt-get").args(["download", PACKAGE]).current_dir(scratch.path()), APT_HINT);
    let mut action = format!("apt-get download {PACKAGE}");
    if let Err(first) = download() {
        // Package lists are stale or empty on a fresh machine: refresh them once and retry.
        eprintln!("data fetch: apt-get download failed ({first}); refreshing the package lists");
        tools::run(Command::new("apt-get").arg("update"), APT_HINT).map_err(|e| match e {
            DataError::ToolFailed { command, status, stderr_tail } => DataError::ToolFailed {
                command,
                status,
                stderr_tail: format!(
                    "{stderr_tail}\n(`apt-get update` needs root: run `sudo apt-get update` and retry)"
                ),
            },
            other => other,
        })?;
        download()?;
        action = format!("apt-get update; apt-get download {PACKAGE}");
    }
    let deb = std::fs::read_dir(scratch.path())
        .map_err(|source| DataError::Io { path: scratch.path().to_path_buf(), source })?
        .filter_map(|e| e.ok().map(|e| e.path()))
        .find(|p| p.extension().is_some_and(|x| x == "deb"))
        .ok_or_else(|| DataError::ToolFailed {
            command: format!("apt-get download {PACKAGE}"),
            status: "exited 0 but left no .deb".into(),
            stderr_tail: String::new(),
        })?;
    let root = scratch.path().join("root");
    tools::run(Command::new("dpkg-deb").arg("-x").arg(&deb).arg(&root), APT_HINT)?;
    let mut verified = Vec::new();
    for (name, md5) in SET.files() {
        let gz_path = root.join(PACKAGE_DIR).join(format!("{name}.gz"));
        let gz = tools::read(&gz_path)?;
        let mut bytes = Vec::new();
        MultiGzDecoder::new(gz.as_slice()).read_to_end(&mut bytes).map_err(|e| DataError::FetchedChecksum {
            what: format!("{PACKAGE_DIR}/{name}.gz (does not decompress: {e})"),
            algo: "md5",
            expected: md5.into(),
            found: "-".into(),
        })?;
        let found = Algo::Md5.hex(&bytes);
        if found != md5 {
            return Err(DataError::FetchedChecksum {
                what: format!("{PACKAGE_DIR}/{name}"),
                algo: "md5",
                expected: md5.into(),
                found,
            });
        }
        verified.push((name, bytes));
    }
    for (name, bytes) in &verified {
        tools::write_atomic(&dir, name, bytes)?;
    }
    let deb_name = deb.file_name().map(|n| n.to_string_lossy().into_owned()).unwrap_or_default();
    Ok((files, false, format!("{action} ({deb_name}); dpkg-deb -x; 4 IDX files decompressed, md5 verified")))
}
