//! The architectures of the zoo, each a function that returns a [`ModelSpec`](crate::spec::ModelSpec).

mod fcnet;
mod hanconv;
mod hannet;

pub use fcnet::fcnet;
pub use hanconv::{HanConvConfig, hanconv};
pub use hannet::{HanNetConfig, hannet, hannet_checkerboard};
