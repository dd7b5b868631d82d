//! What the server needs from a model: its card and one batched forward pass. The zoo's
//! [`Classifier`](han_models::zoo::Classifier) implements it; tests may add their own (a slow
//! model, a model that panics) without touching the zoo.

use han_models::card::Card;

/// Logits and probabilities of a batch, each row-major `[n, classes]`.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Scores {
    /// Raw outputs of the last layer.
    pub logits: Vec<f32>,
    /// The head's activation (softmax) applied to the logits.
    pub probabilities: Vec<f32>,
}

/// Why a model run failed.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum ModelError {
    /// The input was rejected by the model (wrong length, non-finite values).
    #[error("invalid input: {0}")]
    Input(String),
    /// The model failed; the details are for the log.
    #[error("model failure: {0}")]
    Model(String),
}

/// A classifier the server can serve.
pub trait Model: Send + Sync + 'static {
    /// The model card (name, input shape, labels, ...).
    fn card(&self) -> &Card;

    /// Runs the model on `inputs`, raw values row-major `[n, input_len]`, `n >= 1`.
    fn run(&self, inputs: &[f32]) -> Result<Scores, ModelError>;
}

/// The facts about a model that request validation needs, taken once from its card.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ModelInfo {
    /// Model name (the key in every route).
    pub name: String,
    /// Per-sample input shape, e.g. `[28, 28]`.
    pub input_shape: Vec<usize>,
    /// Values per sample (product of `input_shape`).
    pub input_len: usize,
    /// Number of classes.
    pub classes: usize,
    /// Class labels in output order.
    pub labels: Vec<String>,
}

impl ModelInfo {
    /// The facts from a card.
    pub fn from_card(card: &Card) -> Self {
        Self {
            name: card.name.clone(),
            input_shape: card.input.shape.clone(),
            input_len: card.input_len(),
            classes: card.head.classes,
            labels: card.head.labels.clone(),
        }
    }
}

impl Model for han_models::zoo::Classifier {
    fn card(&self) -> &Card {
        han_models::zoo::Classifier::card(self)
    }

    fn run(&self, inputs: &[f32]) -> Result<Scores, ModelError> {
        use han_models::zoo::ZooError;
        match han_models::zoo::Classifier::run(self, inputs) {
            Ok(out) => Ok(Scores { logits: out.logits, probabilities: out.probabilities }),
            Err(ZooError::Input(why)) => Err(ModelError::Input(why)),
            Err(e) => Err(ModelError::Model(e.to_string())),
        }
    }
}

/// The `k` largest of `values` as `(index, value)`, largest first; ties go to the lower index.
pub fn top_k(values: &[f32], k: usize) -> Vec<(usize, f32)> {
    let mut idx: Vec<usize> = (0..values.len()).collect();
    idx.sort_by(|&a, &b| values[b].total_cmp(&values[a]).then(a.cmp(&b)));
    idx.truncate(k);
    idx.into_iter().map(|i| (i, values[i])).collect()
}

#[cfg(test)]
mod tests {
    use super::top_k;

    #[test]
    fn top_k_orders_by_value_then_index() {
        assert_eq!(top_k(&[0.1, 0.5, 0.5, 0.2], 3), vec![(1, 0.5), (2, 0.5), (3, 0.2)]);
        assert_eq!(top_k(&[1.0], 5), vec![(0, 1.0)]);
    }
}
