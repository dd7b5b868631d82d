//! A candle model built from a [`ModelSpec`]: the same code trains from a `VarMap` and serves
//! from mmapped safetensors.

use candle_core::{Module, Result, Tensor, bail};
use candle_nn::{Conv2d, Conv2dConfig, Linear, VarBuilder};
use han_core::HanLayer;

use crate::spec::{LayerSpec, ModelSpec};

/// One built layer.
#[derive(Clone, Debug)]
pub enum Layer {
    /// Fully connected.
    Linear(Linear),
    /// Han-layer (without its abs, which is a separate [`Layer::Abs`]).
    Han(HanLayer),
    /// Absolute value.
    Abs,
    /// ReLU.
    Relu,
    /// Convolution.
    Conv2d(Conv2d),
    /// Max pooling (window = stride).
    MaxPool2d(usize),
    /// Flatten each sample.
    Flatten,
    /// Reshape each sample.
    Reshape(Vec<usize>),
}

/// A sequential network built from a [`ModelSpec`].
#[derive(Clone, Debug)]
pub struct Sequential {
    spec: ModelSpec,
    layers: Vec<Layer>,
}

/// Loads a linear layer's tensors with shape checks that name the tensor.
fn linear(in_f: usize, out_f: usize, bias: bool, vb: &VarBuilder<'_>) -> Result<Linear> {
    let bound = 1.0 / (in_f as f64).sqrt();
    let init = candle_nn::Init::Uniform { lo: -bound, up: bound };
    let w = vb.get_with_hints((out_f, in_f), "weight", init)?;
    let b = if bias { Some(vb.get_with_hints(out_f, "bias", init)?) } else { None };
    Ok(Linear::new(w, b))
}

fn han(dim: usize, bias: bool, vb: &VarBuilder<'_>) -> Result<HanLayer> {
    // PyTorch imports of the authors' code store the Householder vector as `vector` [d, 1].
    if !vb.contains_tensor("u") && vb.contains_tensor("vector") {
        let u = vb.get((dim, 1), "vector")?.reshape(dim)?;
        let b = if bias { Some(vb.get(dim, "bias")?) } else { None };
        return HanLayer::new(u, b);
    }
    if bias { han_core::han(dim, vb.clone()) } else { han_core::han_no_bias(dim, vb.clone()) }
}

impl Sequential {
    /// Builds the network, pulling each layer's tensors under [`ModelSpec::prefix`].
    ///
    /// Errors name the tensor with the expected and the found shape when a stored tensor does
    /// not fit, and the layer when the spec does not fit together.
    pub fn new(spec: &ModelSpec, vb: VarBuilder<'_>) -> Result<Self> {
        if let Err(e) = spec.validate() {
            bail!("{e}");
        }
        let mut layers = Vec::with_capacity(spec.layers.len());
        for (i, l) in spec.layers.iter().enumerate() {
            let prefix = spec.prefix(i);
            let vb = vb.pp(&prefix);
            let built = match &l.spec {
                LayerSpec::Linear { in_features, out_features, bias } => {
                    Layer::Linear(linear(*in_features, *out_features, *bias, &vb)?)
                }
                LayerSpec::Han { dim, bias } => Layer::Han(han(*dim, *bias, &vb)?),
                LayerSpec::Abs => Layer::Abs,
                LayerSpec::Relu => Layer::Relu,
                LayerSpec::Conv2d { in_channels, out_channels, kernel_size, stride, padding } => {
                    let cfg = Conv2dConfig { padding: *padding, stride: *stride, ..Default::default() };
                    Layer::Conv2d(candle_nn::conv2d(*in_channels, *out_channels, *kernel_size, cfg, vb)?)
                }
                LayerSpec::MaxPool2d { kernel_size } => Layer::MaxPool2d(*kernel_size),
                LayerSpec::Flatten => Layer::Flatten,
                LayerSpec::Reshape { shape } => Layer::Reshape(shape.clone()),
            };
            layers.push(built);
        }
        Ok(Self { spec: spec.clone(), layers })
    }

    /// The spec this network was built from.
    pub fn spec(&self) -> &ModelSpec {
        &self.spec
    }

    /// The built layers.
    pub fn layers(&self) -> &[Layer] {
        &self.layers
    }
}

impl Module for Sequential {
    /// `x`: `[batch, input_len]` (or `[batch, ...input_shape]`); returns `[batch, outputs]`.
    fn forward(&self, x: &Tensor) -> Result<Tensor> {
        let n = x.dim(0)?;
        let mut x = x.reshape([vec![n], self.spec.input_shape.clone()].concat())?;
        for layer in &self.layers {
            x = match layer {
                Layer::Linear(l) => l.forward(&x)?,
                Layer::Han(h) => h.forward(&x)?,
                Layer::Abs => x.abs()?,
                Layer::Relu => x.relu()?,
                Layer::Conv2d(c) => c.forward(&x)?,
                Layer::MaxPool2d(k) => x.max_pool2d(*k)?,
                Layer::Flatten => x.flatten_from(1)?,
                Layer::Reshape(s) => x.reshape([vec![n], s.clone()].concat())?,
            };
        }
        if x.rank() != 2 {
            x = x.flatten_from(1)?;
        }
        Ok(x)
    }
}
