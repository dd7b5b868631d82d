//! # han-core: the Han-layer for candle
//!
//! This crate implements the **Householder-absolute layer** (Han-layer) of
//! Yu & Zhang, *"A Lightweight and Gradient-Stable Neural Layer"*, Neural Networks 175 (2024),
//! [arXiv:2106.04088](https://arxiv.org/abs/2106.04088), on top of
//! [candle](https://github.com/huggingface/candle).
//!
//! A Han-layer of width `d` maps `x` in `R^d` to
//!
//! ```text
//! y = | x - 2 (u . x / u . u) u + b |        (u, b in R^d)
//! ```
//!
//! that is `y = |H x + b|` with the Householder reflection `H = I - 2 u u^T / ||u||^2`.
//! Compared with a fully connected layer (`d^2 + d` parameters, `O(d^2)` work) it has `2 d`
//! parameters and costs `O(d)`. Its Jacobian `diag(sign(Hx + b)) H` is orthogonal almost
//! everywhere, so gradients neither vanish nor explode through any stack of Han-layers, and
//! the layer is 1-Lipschitz. It is square: width changes go through ordinary linear layers,
//! as in the authors' HanNet (`FC(in->w)+abs`, then `Han(w)+abs` blocks, then `FC(w->out)`).
//!
//! - [`HanLayer`] implements [`candle_core::Module`]; build it from tensors with
//!   [`HanLayer::new`] or from a [`candle_nn::VarBuilder`] with [`han`].
//! - [`kernel`] holds the fused single-pass CPU kernel on plain slices, used automatically
//!   for inference and reusable by whole-network evaluators.
//!
//! ```
//! use candle_core::{DType, Device, Module, Tensor};
//! use candle_nn::{VarBuilder, VarMap};
//!
//! let varmap = VarMap::new();
//! let vb = VarBuilder::from_varmap(&varmap, DType::F32, &Device::Cpu);
//! let layer = han_core::han(8, vb.pp("layers.2"))?;
//! let x = Tensor::randn(0f32, 1., (3, 8), &Device::Cpu)?;
//! let y = layer.forward(&x)?;
//! // An orthogonal map followed by a translation and abs: row norms change only through b.
//! assert_eq!(y.dims(), [3, 8]);
//! assert!(y.min_all()?.to_scalar::<f32>()? >= 0.0);
//! # Ok::<(), candle_core::Error>(())
//! ```
//!
//! ## NaN and infinities
//! A NaN anywhere in an input row makes the whole output row NaN (it enters the dot product
//! `u . x`), in both the fused and the composed path. Infinite inputs give NaN or infinite
//! outputs in the same way. Callers that must reject such rows check their inputs first.

#![warn(missing_docs)]

pub mod init;
pub mod kernel;

mod han;

pub use han::{HanLayer, han, han_no_bias, param_count};
