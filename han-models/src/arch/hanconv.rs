//! HanConvNet: a small convolutional stem for 28x28 images with a Han head.
//!
//! `reshape [1,28,28]`, `conv(1->c1, 3x3, pad 1)+relu`, `maxpool 2`, `conv(c1->c2, 3x3, pad 1)+relu`,
//! `maxpool 2`, `flatten`, `FC(c2*7*7 -> w)+abs`, `depth` x `[Han(w)+abs]`, `FC(w -> classes)`.

use crate::spec::{LayerSpec, ModelSpec};

/// The shape of a HanConvNet.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct HanConvConfig {
    /// Channels of the first convolution.
    pub c1: usize,
    /// Channels of the second convolution.
    pub c2: usize,
    /// Width of the Han head.
    pub width: usize,
    /// Number of Han-layers in the head.
    pub depth: usize,
    /// Classes.
    pub output: usize,
}

/// The layer list of a HanConvNet for 28x28 single-channel images.
pub fn hanconv(cfg: HanConvConfig) -> ModelSpec {
    let HanConvConfig { c1, c2, width, depth, output } = cfg;
    let mut layers = vec![
        LayerSpec::Reshape { shape: vec![1, 28, 28] },
        LayerSpec::Conv2d { in_channels: 1, out_channels: c1, kernel_size: 3, stride: 1, padding: 1 },
        LayerSpec::Relu,
        LayerSpec::MaxPool2d { kernel_size: 2 },
        LayerSpec::Conv2d { in_channels: c1, out_channels: c2, kernel_size: 3, stride: 1, padding: 1 },
        LayerSpec::Relu,
        LayerSpec::MaxPool2d { kernel_size: 2 },
        LayerSpec::Flatten,
        LayerSpec::Linear { in_features: c2 * 7 * 7, out_features: width, bias: true },
        LayerSpec::Abs,
    ];
    for _ in 0..depth {
        layers.extend([LayerSpec::Han { dim: width, bias: true }, LayerSpec::Abs]);
    }
    layers.push(LayerSpec::Linear { in_features: width, out_features: output, bias: true });
    ModelSpec::new("hanconv", vec![784], layers)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fits_28x28_images() {
        let spec = hanconv(HanConvConfig { c1: 8, c2: 16, width: 32, depth: 4, output: 10 });
        assert_eq!(spec.validate().expect("fits"), vec![10]);
        assert_eq!(spec.param_counts().han, 4 * 64);
    }
}
