//! # han-server: an HTTP inference service for the han zoo
//!
//! Serves the Han-layer classifiers of [`han_models::zoo`] (Yu & Zhang, *"A Lightweight and
//! Gradient-Stable Neural Layer"*, [arXiv:2106.04088](https://arxiv.org/abs/2106.04088)) over
//! HTTP on axum and tokio:
//!
//! - KServe V2 / Open Inference Protocol under `/v2` (tritonclient works unmodified), with
//!   the classification and binary tensor data extensions;
//! - a friendly JSON API under `/v1` (cards and top-k predictions);
//! - `/metrics` (Prometheus), `/openapi.json` and an offline `/docs` page.
//!
//! [`app`] builds the router on an [`AppState`] (tests drive it without a socket); [`run`]
//! is the process: bind, load, serve, drain. Requests reach a model only through its
//! [`queue::InferenceHandle`], which batches, times and isolates the model run.

pub mod config;
pub mod conn;
pub mod docs;
pub mod error;
pub mod extract;
pub mod kserve;
pub mod metrics;
pub mod model;
pub mod ops;
pub mod pages;
pub mod queue;
pub mod server;
pub mod state;
pub mod tensor;
pub mod v1;

pub use config::Config;
pub use error::{ApiError, ErrorKind};
pub use server::{app, run};
pub use state::{AppState, Settings};
