//! The one error type of the zoo.

use std::path::PathBuf;

use crate::card::CardError;

/// Why a zoo model could not be found, loaded or run.
///
/// [`ZooError::UnknownModel`] and [`ZooError::Input`] are the caller's mistakes (a server maps
/// them to 4xx); the others are problems with a model folder or the runtime.
#[derive(Debug, thiserror::Error)]
pub enum ZooError {
    /// No model of that name in the zoo directory.
    #[error("unknown model `{name}`; {}", valid_names(valid))]
    UnknownModel {
        /// The name asked for.
        name: String,
        /// The names that exist ([`super::list`]).
        valid: Vec<String>,
    },
    /// A file or folder could not be read.
    #[error("cannot read {}: {source}; a model folder holds config.json (the card) and the weights file it names", path.display())]
    Io {
        /// The file or folder.
        path: PathBuf,
        /// The operating system's reason.
        source: std::io::Error,
    },
    /// The card (`config.json`) is not valid.
    #[error("bad model card {}: {source}", path.display())]
    Card {
        /// The `config.json` file.
        path: PathBuf,
        /// What is wrong with it.
        source: CardError,
    },
    /// The weights file is not a usable safetensors file for the card's architecture.
    #[error("bad weights file {}: {why}; restore it from the repository or retrain with the command on the card", path.display())]
    Weights {
        /// The weights file.
        path: PathBuf,
        /// What is wrong.
        why: String,
    },
    /// The weights file does not hash to the sha256 recorded on the card.
    #[error(
        "weights file {} has sha256 {found} but its card records {expected}: the file is corrupted or was replaced; \
         restore it (e.g. `git checkout -- {}`) or, if you retrained on purpose, write the new hash into config.json",
        path.display(),
        path.display()
    )]
    Checksum {
        /// The weights file.
        path: PathBuf,
        /// The sha256 on the card.
        expected: String,
        /// The sha256 of the file.
        found: String,
    },
    /// The inputs do not fit the model (length, NaN, infinities).
    #[error("invalid input: {0}")]
    Input(String),
    /// The model failed while running (a candle error).
    #[error("model error: {0}")]
    Model(String),
}

impl ZooError {
    /// Whether the caller caused the error (an unknown name or bad inputs), as opposed to a
    /// broken model folder or a runtime failure.
    pub fn is_caller_error(&self) -> bool {
        matches!(self, Self::UnknownModel { .. } | Self::Input(_))
    }
}

fn valid_names(valid: &[String]) -> String {
    if valid.is_empty() {
        format!(
            "the zoo directory {} holds no models: train them with `han-zoo train`, or set HAN_ZOO_DIR to a folder of model folders",
            super::bundled_dir().display()
        )
    } else {
        format!("valid names: {}", valid.join(", "))
    }
}

impl From<candle_core::Error> for ZooError {
    fn from(e: candle_core::Error) -> Self {
        Self::Model(e.to_string())
    }
}
