//! The zoo: pretrained Han classifiers, one folder each, loaded by name.
//!
//! A zoo directory holds one folder per model (`weights/<name>/`: `model.safetensors`,
//! `config.json` (the [`Card`]) and a `README.md`). [`list`], [`card`] and [`load`] are the
//! whole API; [`Classifier::from_dir`] loads any folder of the same layout, and [`load_all`]
//! loads a whole directory for a server.
//!
//! The bundled directory is `weights/` at the workspace root, or `$HAN_ZOO_DIR` when set
//! ([`bundled_dir`]). Names are only ever matched against the directory listing, never joined
//! into a path, so no name can reach outside it.
//!
//! ```
//! # fn main() -> Result<(), han_models::zoo::ZooError> {
//! use han_models::zoo;
//!
//! for name in zoo::list() {
//!     let card = zoo::card(&name)?;
//!     println!("{name}: {} classes, test accuracy {}/{}", card.head.classes, card.metrics.test_correct, card.metrics.test_total);
//! }
//! let err = zoo::load("no-such-model").err().map(|e| e.to_string()).unwrap_or_default();
//! assert!(err.contains("unknown model `no-such-model`"));
//! # Ok(()) }
//! ```

mod classifier;
mod error;

use std::path::{Path, PathBuf};

pub use classifier::{CARD_FILE, Classifier, Outputs, Prediction, softmax_rows};
pub use error::ZooError;

use crate::card::{Card, CardError};

/// The directory of bundled models: `$HAN_ZOO_DIR` if set (and non-empty), else `weights/`
/// at the workspace root.
pub fn bundled_dir() -> PathBuf {
    match std::env::var_os("HAN_ZOO_DIR") {
        Some(d) if !d.is_empty() => PathBuf::from(d),
        _ => PathBuf::from(concat!(env!("CARGO_MANIFEST_DIR"), "/../weights")),
    }
}

/// Sorted names of the model folders in `dir`: sub-folders holding a `config.json`, whose
/// names are UTF-8 and do not start with `.`. An unreadable directory lists nothing.
pub fn list_in(dir: &Path) -> Vec<String> {
    let Ok(entries) = std::fs::read_dir(dir) else { return Vec::new() };
    let mut names: Vec<String> = entries
        .filter_map(|e| e.ok())
        .filter(|e| e.path().join(CARD_FILE).is_file())
        .filter_map(|e| e.file_name().into_string().ok())
        .filter(|n| !n.starts_with('.'))
        .collect();
    names.sort();
    names
}

/// Sorted names of the bundled models (the folders of [`bundled_dir`]).
pub fn list() -> Vec<String> {
    list_in(&bundled_dir())
}

/// The folder of the bundled model `name`, if `name` is one of [`list`]'s.
fn resolve(name: &str) -> Result<PathBuf, ZooError> {
    let valid = list();
    if valid.iter().any(|v| v == name) {
        Ok(bundled_dir().join(name))
    } else {
        Err(ZooError::UnknownModel { name: name.to_string(), valid })
    }
}

/// The card of the bundled model `name` (reads only `config.json`).
pub fn card(name: &str) -> Result<Card, ZooError> {
    let path = resolve(name)?.join(CARD_FILE);
    let card = classifier::read_card(&path)?;
    check_folder_name(&card, name, &path)?;
    Ok(card)
}

/// Loads the bundled model `name`, checked against its card.
pub fn load(name: &str) -> Result<Classifier, ZooError> {
    let dir = resolve(name)?;
    let model = Classifier::from_dir(&dir)?;
    check_folder_name(model.card(), name, &dir.join(CARD_FILE))?;
    Ok(model)
}

fn check_folder_name(card: &Card, folder: &str, path: &Path) -> Result<(), ZooError> {
    if card.name == folder {
        return Ok(());
    }
    Err(ZooError::Card {
        path: path.to_path_buf(),
        source: CardError::Inconsistent {
            name: card.name.clone(),
            why: format!("the folder is named `{folder}`; rename the folder or fix the card's name"),
        },
    })
}

/// Loads every model folder of `dir` (every sub-folder not starting with `.`), in name order.
///
/// Returns the models that loaded and, without stopping, the folders that did not with
/// their errors (an unreadable `dir` is reported as one error). Two folders whose cards
/// carry the same name are ambiguous: the second is reported.
pub fn load_all(dir: &Path) -> (Vec<Classifier>, Vec<(PathBuf, ZooError)>) {
    let entries = match std::fs::read_dir(dir) {
        Ok(e) => e,
        Err(source) => {
            return (Vec::new(), vec![(dir.to_path_buf(), ZooError::Io { path: dir.to_path_buf(), source })]);
        }
    };
    let mut folders: Vec<PathBuf> = entries
        .filter_map(|e| e.ok())
        .filter(|e| e.file_type().is_ok_and(|t| t.is_dir() || t.is_symlink()) && e.path().is_dir())
        .filter(|e| !e.file_name().to_string_lossy().starts_with('.'))
        .map(|e| e.path())
        .collect();
    folders.sort();
    let (mut good, mut bad): (Vec<Classifier>, Vec<(PathBuf, ZooError)>) = (Vec::new(), Vec::new());
    for folder in folders {
        match Classifier::from_dir(&folder) {
            Ok(model) if good.iter().any(|m| m.name() == model.name()) => {
                let path = folder.join(CARD_FILE);
                let source = CardError::Inconsistent {
                    name: model.name().to_string(),
                    why: "another folder already holds a model of this name".into(),
                };
                bad.push((folder, ZooError::Card { path, source }));
            }
            Ok(model) => good.push(model),
            Err(e) => bad.push((folder, e)),
        }
    }
    (good, bad)
}
