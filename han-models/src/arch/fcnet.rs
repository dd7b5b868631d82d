//! FcNet: a ReLU multilayer perceptron baseline.

use crate::spec::{LayerSpec, ModelSpec};

/// `FC(in->h1)+relu, FC(h1->h2)+relu, ..., FC(hk->out)`.
pub fn fcnet(input: usize, hidden: &[usize], output: usize) -> ModelSpec {
    let mut layers = Vec::new();
    let mut prev = input;
    for &h in hidden {
        layers.extend([LayerSpec::Linear { in_features: prev, out_features: h, bias: true }, LayerSpec::Relu]);
        prev = h;
    }
    layers.push(LayerSpec::Linear { in_features: prev, out_features: output, bias: true });
    ModelSpec::new("fcnet", vec![input], layers)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn authors_checkerboard_mlp_has_51002_parameters() {
        assert_eq!(fcnet(2, &[100; 6], 2).param_counts().total, 51_002);
    }
}
