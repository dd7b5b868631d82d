//! Import of sequential Han networks trained elsewhere (PyTorch), from a safetensors
//! state_dict whose tensor names are kept as they are, plus a layer list
//! ([`ModelSpec`] with `name` prefixes) that says which tensors make which layer.
//!
//! Before building anything, [`check`] walks the spec and the file's header and reports the
//! first tensor that is missing (listing the names the file has) or has the wrong shape
//! (naming the tensor, the expected and the found shape). Han-layers accept the authors'
//! `vector` `[d, 1]` or this crate's `u` `[d]`.
//!
//! ```no_run
//! use han_models::{import, spec::ModelSpec};
//!
//! let spec = ModelSpec::from_json(&std::fs::read_to_string("han-models/specs/checkerboard-reference.json")?)?;
//! let model = import::load(&spec, "hannet-reference.safetensors".as_ref())?;
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use candle_core::{DType, Device};
use candle_nn::VarBuilder;

use crate::sequential::Sequential;
use crate::spec::{LayerSpec, ModelSpec, SpecError};

/// Why a file cannot be imported with a spec.
#[derive(Debug, thiserror::Error)]
pub enum ImportError {
    /// The file cannot be read.
    #[error("cannot read {}: {source}", path.display())]
    Io {
        /// The file.
        path: PathBuf,
        /// The operating system's reason.
        source: std::io::Error,
    },
    /// Not a safetensors file (or truncated).
    #[error("{} is not a valid safetensors file: {why}", path.display())]
    Format {
        /// The file.
        path: PathBuf,
        /// The parser's reason.
        why: String,
    },
    /// The layer list does not fit together.
    #[error("invalid layer list: {0}")]
    Spec(#[from] SpecError),
    /// A tensor the spec needs is not in the file.
    #[error(
        "tensor `{tensor}` (layer {layer}, {describe}) is missing from the weights file; the file has: {}; \
         set the layer's \"name\" in the spec to the prefix the file uses",
        available.join(", ")
    )]
    Missing {
        /// The name looked for (for Han-layers, `prefix.u` or `prefix.vector`).
        tensor: String,
        /// Position of the layer in the spec.
        layer: usize,
        /// The layer, e.g. `han(30)`.
        describe: String,
        /// Every tensor name in the file, sorted.
        available: Vec<String>,
    },
    /// A tensor has the wrong shape.
    #[error("tensor `{tensor}` (layer {layer}, {describe}) has shape {found:?} but the spec expects {expected}")]
    Shape {
        /// The tensor.
        tensor: String,
        /// Position of the layer in the spec.
        layer: usize,
        /// The layer.
        describe: String,
        /// The expected shape(s), printed.
        expected: String,
        /// The shape in the file.
        found: Vec<usize>,
    },
    /// A tensor is not a floating-point tensor.
    #[error("tensor `{tensor}` has dtype {dtype}; expected a float tensor (F32, F16, BF16 or F64)")]
    Dtype {
        /// The tensor.
        tensor: String,
        /// Its dtype.
        dtype: String,
    },
    /// candle could not build the network.
    #[error("cannot build the network: {0}")]
    Build(#[from] candle_core::Error),
}

/// The result of a successful [`check`].
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct CheckReport {
    /// Tensors the spec reads, in spec order.
    pub used: Vec<String>,
    /// Tensors in the file that no layer reads (e.g. buffers), sorted.
    pub unused: Vec<String>,
}

/// Name, dtype and shape of every tensor in a safetensors buffer.
pub fn header(bytes: &[u8], path: &Path) -> Result<BTreeMap<String, (safetensors::Dtype, Vec<usize>)>, ImportError> {
    let st = safetensors::SafeTensors::deserialize(bytes)
        .map_err(|e| ImportError::Format { path: path.to_path_buf(), why: e.to_string() })?;
    Ok(st.iter().map(|(n, v)| (n.to_string(), (v.dtype(), v.shape().to_vec()))).collect())
}

/// Checks that `tensors` (name -> dtype, shape) hold every tensor `spec` needs, with the
/// right shapes.
pub fn check(
    spec: &ModelSpec,
    tensors: &BTreeMap<String, (safetensors::Dtype, Vec<usize>)>,
) -> Result<CheckReport, ImportError> {
    spec.validate()?;
    let available = || tensors.keys().cloned().collect::<Vec<_>>();
    let mut used = Vec::new();
    for (i, l) in spec.layers.iter().enumerate() {
        let prefix = spec.prefix(i);
        let describe = l.spec.describe();
        let need = |suffix: &str, shapes: &[Vec<usize>], used: &mut Vec<String>| -> Result<(), ImportError> {
            let tensor = format!("{prefix}.{suffix}");
            let Some((dtype, shape)) = tensors.get(&tensor) else {
                return Err(ImportError::Missing {
                    tensor,
                    layer: i,
                    describe: describe.clone(),
                    available: available(),
                });
            };
            if !shapes.contains(shape) {
                let expected = shapes.iter().map(|s| format!("{s:?}")).collect::<Vec<_>>().join(" or ");
                return Err(ImportError::Shape {
                    tensor,
                    layer: i,
                    describe: describe.clone(),
                    expected,
                    found: shape.clone(),
                });
            }
            use safetensors::Dtype as D;
            if !matches!(dtype, D::F32 | D::F16 | D::BF16 | D::F64) {
                return Err(ImportError::Dtype { tensor, dtype: format!("{dtype:?}") });
            }
            used.push(tensor);
            Ok(())
        };
        match &l.spec {
            LayerSpec::Linear { in_features, out_features, bias } => {
                need("weight", &[vec![*out_features, *in_features]], &mut used)?;
                if *bias {
                    need("bias", &[vec![*out_features]], &mut used)?;
                }
            }
            LayerSpec::Han { dim, bias } => {
                // The builder reads `u` when present, else the authors' `vector` [d, 1].
                if tensors.contains_key(&format!("{prefix}.u")) {
                    need("u", &[vec![*dim]], &mut used)?;
                } else if tensors.contains_key(&format!("{prefix}.vector")) {
                    need("vector", &[vec![*dim, 1]], &mut used)?;
                } else {
                    return Err(ImportError::Missing {
                        tensor: format!("{prefix}.u` (or `{prefix}.vector"),
                        layer: i,
                        describe,
                        available: available(),
                    });
                }
                if *bias {
                    need("bias", &[vec![*dim]], &mut used)?;
                }
            }
            LayerSpec::Conv2d { in_channels, out_channels, kernel_size, .. } => {
                need("weight", &[vec![*out_channels, *in_channels, *kernel_size, *kernel_size]], &mut used)?;
                need("bias", &[vec![*out_channels]], &mut used)?;
            }
            LayerSpec::Abs
            | LayerSpec::Relu
            | LayerSpec::MaxPool2d { .. }
            | LayerSpec::Flatten
            | LayerSpec::Reshape { .. } => {}
        }
    }
    let unused = tensors.keys().filter(|k| !used.contains(k)).cloned().collect();
    Ok(CheckReport { used, unused })
}

/// Reads a safetensors file and checks it against `spec`; returns the bytes and the report.
pub fn check_file(spec: &ModelSpec, path: &Path) -> Result<(Vec<u8>, CheckReport), ImportError> {
    let bytes = std::fs::read(path).map_err(|source| ImportError::Io { path: path.to_path_buf(), source })?;
    let report = check(spec, &header(&bytes, path)?)?;
    Ok((bytes, report))
}

/// Loads the network `spec` describes from the safetensors file at `path` (f32, CPU), after
/// [`check`]ing names and shapes.
pub fn load(spec: &ModelSpec, path: &Path) -> Result<Sequential, ImportError> {
    let (bytes, _) = check_file(spec, path)?;
    let vb = VarBuilder::from_buffered_safetensors(bytes, DType::F32, &Device::Cpu)?;
    Ok(Sequential::new(spec, vb)?)
}

#[cfg(test)]
mod tests {
    use super::*;
    use safetensors::Dtype::F32;

    fn spec() -> ModelSpec {
        let mut s = crate::arch::hannet(2, 3, 1, 2);
        s.layers[2].name = Some("feature.4".into());
        s
    }

    fn header_of(entries: &[(&str, &[usize])]) -> BTreeMap<String, (safetensors::Dtype, Vec<usize>)> {
        entries.iter().map(|(n, s)| (n.to_string(), (F32, s.to_vec()))).collect()
    }

    #[test]
    fn accepts_u_or_vector_and_reports_unused() {
        let mut h = header_of(&[
            ("layers.0.weight", &[3, 2]),
            ("layers.0.bias", &[3]),
            ("feature.4.vector", &[3, 1]),
            ("feature.4.bias", &[3]),
            ("layers.4.weight", &[2, 3]),
            ("layers.4.bias", &[2]),
            ("extra", &[1]),
        ]);
        let r = check(&spec(), &h).expect("fits");
        assert_eq!(r.unused, ["extra"]);
        assert!(r.used.contains(&"feature.4.vector".to_string()));
        h.remove("feature.4.vector");
        h.insert("feature.4.u".into(), (F32, vec![3]));
        check(&spec(), &h).expect("u fits too");
        h.insert("feature.4.u".into(), (F32, vec![3, 1]));
        let e = check(&spec(), &h).expect_err("u must be [d]").to_string();
        assert!(e.contains("`feature.4.u`") && e.contains("[3, 1]") && e.contains("[3]"), "{e}");
    }
}
