//! # han-models: datasets, architectures, training and the zoo
//!
//! Built on [`han_core`], the Han-layer of Yu & Zhang, *"A Lightweight and Gradient-Stable
//! Neural Layer"*, Neural Networks 175 (2024), [arXiv:2106.04088](https://arxiv.org/abs/2106.04088).
//!
//! - [`spec`]: a model is data, a JSON layer list ([`spec::ModelSpec`]);
//!   [`sequential::Sequential`] builds it on candle from a `VarBuilder`.
//! - [`arch`]: the architectures of the paper and the zoo (HanNet, FcNet, HanConvNet).
//! - [`data`]: real datasets with checksums and a fetch command.
//! - [`card`]: the model card of every zoo entry.

pub mod arch;
pub mod card;
pub mod data;
pub mod fast;
pub mod import;
pub mod init;
pub mod sequential;
pub mod spec;
pub mod train;
pub mod zoo;
