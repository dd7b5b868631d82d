//! HanNet, as the authors build it: `FC(in->w)+abs`, optional extra `FC(w->w)+abs`, then
//! `depth` x `[Han(w)+abs]`, optional extra `FC(w->w)+abs`, then `FC(w->out)`.

use crate::spec::{LayerSpec, ModelSpec};

/// The shape of a HanNet.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct HanNetConfig {
    /// Input features.
    pub input: usize,
    /// Hidden width.
    pub width: usize,
    /// Number of Han-layers.
    pub depth: usize,
    /// Outputs (classes).
    pub output: usize,
    /// Extra `FC(w->w)+abs` layers after the input layer.
    pub extra_fc_in: usize,
    /// Extra `FC(w->w)+abs` layers before the output layer.
    pub extra_fc_out: usize,
}

/// `HanNet(in, width, depth, out)`: `FC(in->w)+abs`, `depth` x `[Han(w)+abs]`, `FC(w->out)`.
pub fn hannet(input: usize, width: usize, depth: usize, output: usize) -> ModelSpec {
    HanNetConfig { input, width, depth, output, extra_fc_in: 0, extra_fc_out: 0 }.spec()
}

/// The authors' checkerboard HanNet: FC(2->30)+abs, FC(30->30)+abs, 17 x [Han(30)+abs],
/// FC(30->30)+abs, FC(30->2): 3,032 parameters.
pub fn hannet_checkerboard() -> ModelSpec {
    HanNetConfig { input: 2, width: 30, depth: 17, output: 2, extra_fc_in: 1, extra_fc_out: 1 }.spec()
}

impl HanNetConfig {
    /// The layer list.
    pub fn spec(&self) -> ModelSpec {
        let w = self.width;
        let fc = |i, o| LayerSpec::Linear { in_features: i, out_features: o, bias: true };
        let mut layers = vec![fc(self.input, w), LayerSpec::Abs];
        for _ in 0..self.extra_fc_in {
            layers.extend([fc(w, w), LayerSpec::Abs]);
        }
        for _ in 0..self.depth {
            layers.extend([LayerSpec::Han { dim: w, bias: true }, LayerSpec::Abs]);
        }
        for _ in 0..self.extra_fc_out {
            layers.extend([fc(w, w), LayerSpec::Abs]);
        }
        layers.push(fc(w, self.output));
        ModelSpec::new("hannet", vec![self.input], layers)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn checkerboard_variant_has_the_papers_3032_parameters() {
        let spec = hannet_checkerboard();
        assert_eq!(spec.param_counts().total, 3032);
        assert_eq!(spec.validate().expect("fits"), vec![2]);
        assert_eq!(spec.layers.iter().filter(|l| matches!(l.spec, LayerSpec::Han { .. })).count(), 17);
    }
}
