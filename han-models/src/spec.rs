//! The data-driven model description: a sequential list of layers, serialised as JSON.
//!
//! Every model in this crate, and every zoo card, is a [`ModelSpec`]. Tensor names follow
//! the layer's position like a PyTorch `nn.Sequential` state_dict: `layers.{i}.weight`
//! (`[out, in]`), `layers.{i}.bias`, `layers.{i}.u`; a layer may carry an explicit `name` to
//! read tensors stored under another prefix (PyTorch imports keep their names as they are).

use serde::{Deserialize, Serialize};

/// One layer of a sequential model.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum LayerSpec {
    /// Fully connected `y = x W^T + b`; tensors `weight` `[out, in]` and `bias` `[out]`.
    Linear {
        /// Input width.
        in_features: usize,
        /// Output width.
        out_features: usize,
        /// Whether the layer has a bias (default true).
        #[serde(default = "yes")]
        bias: bool,
    },
    /// Han-layer `|H x + b|` of width `dim`; tensors `u` `[dim]` (or `vector` `[dim, 1]`, the
    /// authors' naming) and `bias` `[dim]`.
    Han {
        /// Width (square layer).
        dim: usize,
        /// Whether the layer has a bias (default true).
        #[serde(default = "yes")]
        bias: bool,
    },
    /// Element-wise absolute value.
    Abs,
    /// Element-wise `max(x, 0)`.
    Relu,
    /// 2-D convolution over `[C, H, W]` samples; tensors `weight` `[out, in, k, k]`, `bias` `[out]`.
    Conv2d {
        /// Input channels.
        in_channels: usize,
        /// Output channels.
        out_channels: usize,
        /// Square kernel size.
        kernel_size: usize,
        /// Stride (default 1).
        #[serde(default = "one")]
        stride: usize,
        /// Zero padding on each side (default 0).
        #[serde(default)]
        padding: usize,
    },
    /// 2-D max pooling with a square window; stride equals the window.
    MaxPool2d {
        /// Window (and stride).
        kernel_size: usize,
    },
    /// Flattens each sample to a vector.
    Flatten,
    /// Reshapes each sample (the batch dimension is kept), e.g. `[784]` to `[1, 28, 28]`.
    Reshape {
        /// The per-sample shape.
        shape: Vec<usize>,
    },
}

fn yes() -> bool {
    true
}
fn one() -> usize {
    1
}

/// A layer and, optionally, the tensor-name prefix it reads (default `layers.{index}`).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Layer {
    /// Tensor-name prefix, e.g. `feature.4`; `None` means `layers.{index}`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
    /// What the layer computes.
    #[serde(flatten)]
    pub spec: LayerSpec,
}

impl From<LayerSpec> for Layer {
    fn from(spec: LayerSpec) -> Self {
        Self { name: None, spec }
    }
}

/// A sequential model: the per-sample input shape and the layer list.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct ModelSpec {
    /// Architecture family, e.g. `hannet`, `fcnet`, `hanconv` (informative).
    pub family: String,
    /// Per-sample input shape, e.g. `[2]` or `[784]`.
    pub input_shape: Vec<usize>,
    /// The layers, applied in order.
    pub layers: Vec<Layer>,
}

/// Parameter counts of a model, by kind.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct ParamCounts {
    /// All parameters.
    pub total: usize,
    /// Parameters of Han-layers.
    pub han: usize,
    /// Parameters of fully connected layers.
    pub fc: usize,
    /// Parameters of convolutions.
    pub conv: usize,
}

/// A model description that does not fit together.
#[derive(Debug, thiserror::Error)]
pub enum SpecError {
    /// A layer receives a shape it cannot take.
    #[error("layer {index} ({layer}) cannot take input of shape {input:?}: {why}")]
    Shape {
        /// Position in the layer list.
        index: usize,
        /// The layer, printed.
        layer: String,
        /// The per-sample shape it receives.
        input: Vec<usize>,
        /// What is wrong.
        why: String,
    },
    /// The list is empty, or a size is zero.
    #[error("invalid model spec: {0}")]
    Invalid(String),
}

impl LayerSpec {
    /// Short human-readable description, e.g. `han(30)`.
    pub fn describe(&self) -> String {
        match self {
            Self::Linear { in_features, out_features, .. } => format!("linear({in_features}->{out_features})"),
            Self::Han { dim, .. } => format!("han({dim})"),
            Self::Abs => "abs".into(),
            Self::Relu => "relu".into(),
            Self::Conv2d { in_channels, out_channels, kernel_size, stride, padding } => {
                format!("conv2d({in_channels}->{out_channels}, k{kernel_size}, s{stride}, p{padding})")
            }
            Self::MaxPool2d { kernel_size } => format!("max_pool2d({kernel_size})"),
            Self::Flatten => "flatten".into(),
            Self::Reshape { shape } => format!("reshape({shape:?})"),
        }
    }

    /// Number of parameters of this layer.
    pub fn param_count(&self) -> usize {
        match *self {
            Self::Linear { in_features, out_features, bias } => {
                in_features * out_features + if bias { out_features } else { 0 }
            }
            Self::Han { dim, bias } => han_core::param_count(dim, bias),
            Self::Conv2d { in_channels, out_channels, kernel_size, .. } => {
                out_channels * in_channels * kernel_size * kernel_size + out_channels
            }
            _ => 0,
        }
    }

    /// The per-sample output shape for a per-sample input shape.
    pub fn output_shape(&self, input: &[usize]) -> Result<Vec<usize>, String> {
        let numel: usize = input.iter().product();
        match self {
            Self::Linear { in_features, out_features, .. } => match input {
                [w] if w == in_features => Ok(vec![*out_features]),
                _ => Err(format!("expects a vector of width {in_features}")),
            },
            Self::Han { dim, .. } => match input {
                [w] if w == dim => Ok(vec![*dim]),
                _ => Err(format!("expects a vector of width {dim}")),
            },
            Self::Abs | Self::Relu => Ok(input.to_vec()),
            Self::Conv2d { in_channels, out_channels, kernel_size, stride, padding } => match input {
                [c, h, w]
                    if c == in_channels
                        && h + 2 * padding >= *kernel_size
                        && w + 2 * padding >= *kernel_size
                        && *stride > 0 =>
                {
                    Ok(vec![
                        *out_channels,
                        (h + 2 * padding - kernel_size) / stride + 1,
                        (w + 2 * padding - kernel_size) / stride + 1,
                    ])
                }
                _ => Err(format!("expects [{in_channels}, H, W] with H, W + 2 x padding >= kernel {kernel_size}")),
            },
            Self::MaxPool2d { kernel_size } => match input {
                [c, h, w] if *kernel_size > 0 && h >= kernel_size && w >= kernel_size => {
                    Ok(vec![*c, h / kernel_size, w / kernel_size])
                }
                _ => Err(format!("expects [C, H, W] with H, W >= {kernel_size}")),
            },
            Self::Flatten => Ok(vec![numel]),
            Self::Reshape { shape } => {
                if shape.iter().product::<usize>() == numel {
                    Ok(shape.clone())
                } else {
                    Err(format!(
                        "reshape to {shape:?} needs {} elements, the input has {numel}",
                        shape.iter().product::<usize>()
                    ))
                }
            }
        }
    }
}

impl ModelSpec {
    /// A spec from a family name, the per-sample input shape and the layers (default names).
    pub fn new(family: impl Into<String>, input_shape: Vec<usize>, layers: Vec<LayerSpec>) -> Self {
        Self { family: family.into(), input_shape, layers: layers.into_iter().map(Layer::from).collect() }
    }

    /// The tensor-name prefix of layer `index` (`layers.{index}` unless renamed).
    pub fn prefix(&self, index: usize) -> String {
        match self.layers.get(index).and_then(|l| l.name.clone()) {
            Some(name) => name,
            None => format!("layers.{index}"),
        }
    }

    /// Checks that the layers fit together and returns the per-sample output shape.
    pub fn validate(&self) -> Result<Vec<usize>, SpecError> {
        if self.layers.is_empty() {
            return Err(SpecError::Invalid("the layer list is empty".into()));
        }
        if self.input_shape.is_empty() || self.input_shape.contains(&0) {
            return Err(SpecError::Invalid(format!(
                "input shape {:?} must be non-empty with no zero",
                self.input_shape
            )));
        }
        let mut shape = self.input_shape.clone();
        for (index, layer) in self.layers.iter().enumerate() {
            shape = layer.spec.output_shape(&shape).map_err(|why| SpecError::Shape {
                index,
                layer: layer.spec.describe(),
                input: shape.clone(),
                why,
            })?;
            if shape.contains(&0) {
                return Err(SpecError::Invalid(format!(
                    "layer {index} ({}) produces an empty shape {shape:?}",
                    layer.spec.describe()
                )));
            }
        }
        Ok(shape)
    }

    /// Number of input features per sample.
    pub fn input_len(&self) -> usize {
        self.input_shape.iter().product()
    }

    /// Parameter counts by kind.
    pub fn param_counts(&self) -> ParamCounts {
        let mut c = ParamCounts::default();
        for l in &self.layers {
            let n = l.spec.param_count();
            c.total += n;
            match l.spec {
                LayerSpec::Linear { .. } => c.fc += n,
                LayerSpec::Han { .. } => c.han += n,
                LayerSpec::Conv2d { .. } => c.conv += n,
                _ => {}
            }
        }
        c
    }

    /// The spec as pretty JSON.
    pub fn to_json(&self) -> String {
        serde_json::to_string_pretty(self).unwrap_or_default()
    }

    /// Parses a spec from JSON and validates it.
    pub fn from_json(s: &str) -> Result<Self, SpecError> {
        let spec: Self = serde_json::from_str(s).map_err(|e| SpecError::Invalid(format!("not a model spec: {e}")))?;
        spec.validate()?;
        Ok(spec)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn json_round_trip_keeps_names_and_defaults() {
        let json = r#"{"family":"x","input_shape":[2],"layers":[
            {"type":"linear","in_features":2,"out_features":4,"name":"feature.0"},
            {"type":"abs"},{"type":"han","dim":4},{"type":"linear","in_features":4,"out_features":2,"bias":false}]}"#;
        let spec = ModelSpec::from_json(json).expect("valid");
        assert_eq!(spec.prefix(0), "feature.0");
        assert_eq!(spec.prefix(2), "layers.2");
        assert_eq!(spec.layers[2].spec, LayerSpec::Han { dim: 4, bias: true });
        assert_eq!(spec.param_counts(), ParamCounts { total: 12 + 8 + 8, han: 8, fc: 20, conv: 0 });
        let again = ModelSpec::from_json(&spec.to_json()).expect("round trip");
        assert_eq!(again, spec);
    }

    #[test]
    fn mismatched_widths_are_reported_with_the_layer() {
        let spec = ModelSpec::new("x", vec![3], vec![LayerSpec::Han { dim: 4, bias: true }]);
        let err = spec.validate().err().map(|e| e.to_string()).unwrap_or_default();
        assert!(err.contains("layer 0 (han(4))") && err.contains("[3]"), "{err}");
        assert!(ModelSpec::from_json(r#"{"family":"x","input_shape":[2],"layers":[{"type":"conv9"}]}"#).is_err());
    }

    #[test]
    fn conv_shapes() {
        let spec = ModelSpec::new(
            "c",
            vec![784],
            vec![
                LayerSpec::Reshape { shape: vec![1, 28, 28] },
                LayerSpec::Conv2d { in_channels: 1, out_channels: 8, kernel_size: 3, stride: 1, padding: 1 },
                LayerSpec::MaxPool2d { kernel_size: 2 },
                LayerSpec::Flatten,
            ],
        );
        assert_eq!(spec.validate().expect("fits"), vec![8 * 14 * 14]);
        assert_eq!(spec.param_counts().conv, 8 * 9 + 8);
    }
}
