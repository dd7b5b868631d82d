//! Shared server state: the loaded models (each behind its inference queue), readiness, the
//! request permits and the settings the handlers and middleware need.

use std::collections::BTreeMap;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, OnceLock};
use std::time::Duration;

use han_models::card::Card;
use metrics_exporter_prometheus::PrometheusHandle;
use tokio::sync::Semaphore;

use crate::config::Config;
use crate::error::{ApiError, ErrorKind};
use crate::model::Model;
use crate::queue::{BatchPolicy, InferenceHandle};

/// The settings of a running server (the parts of [`Config`] that requests see).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Settings {
    /// Batch size and queue delay of every model queue.
    pub batch: BatchPolicy,
    /// Concurrent model-route requests before 429.
    pub max_concurrent_requests: usize,
    /// Largest request body in bytes (413 beyond).
    pub max_body_bytes: usize,
    /// Time limit of one request (504 beyond).
    pub request_timeout: Duration,
    /// Bearer key required on model routes, if any.
    pub api_key: Option<String>,
}

impl Default for Settings {
    fn default() -> Self {
        Self {
            batch: BatchPolicy::default(),
            max_concurrent_requests: 512,
            max_body_bytes: 8 << 20,
            request_timeout: Duration::from_secs(30),
            api_key: None,
        }
    }
}

impl From<&Config> for Settings {
    fn from(c: &Config) -> Self {
        Self {
            batch: BatchPolicy { max_batch_size: c.max_batch_size as usize, max_delay: c.max_queue_delay() },
            max_concurrent_requests: c.max_concurrent_requests as usize,
            max_body_bytes: c.max_body_bytes,
            request_timeout: c.request_timeout(),
            api_key: c.api_key.clone().filter(|k| !k.is_empty()),
        }
    }
}

/// One served model: its card and the handle to its queue.
#[derive(Clone, Debug)]
pub struct ModelEntry {
    /// The model card.
    pub card: Arc<Card>,
    /// The inference queue.
    pub handle: InferenceHandle,
}

/// The state every handler gets; cheap to clone.
#[derive(Clone, Debug)]
pub struct AppState {
    inner: Arc<Shared>,
}

#[derive(Debug)]
struct Shared {
    settings: Settings,
    models: OnceLock<BTreeMap<String, ModelEntry>>,
    ready: AtomicBool,
    shutting_down: AtomicBool,
    permits: Arc<Semaphore>,
    metrics: PrometheusHandle,
}

impl AppState {
    /// A state with no models yet: not ready until [`AppState::install`] runs.
    pub fn new(settings: Settings) -> Self {
        let permits = Arc::new(Semaphore::new(settings.max_concurrent_requests.min(Semaphore::MAX_PERMITS)));
        Self {
            inner: Arc::new(Shared {
                settings,
                models: OnceLock::new(),
                ready: AtomicBool::new(false),
                shutting_down: AtomicBool::new(false),
                permits,
                metrics: crate::metrics::handle(),
            }),
        }
    }

    /// A ready state serving `models` (loaded and warmed here): what tests use.
    pub fn with_models(settings: Settings, models: Vec<Arc<dyn Model>>) -> anyhow::Result<Self> {
        let state = Self::new(settings);
        state.install(models)?;
        Ok(state)
    }

    /// Warms each model (one dummy inference; a model that fails is logged and skipped), starts
    /// its queue, publishes the set and turns readiness on. Later calls are refused.
    pub fn install(&self, models: Vec<Arc<dyn Model>>) -> anyhow::Result<()> {
        let mut map = BTreeMap::new();
        for model in models {
            let card = Arc::new(model.card().clone());
            let zeros = vec![0.0f32; card.input_len()];
            let warm = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| model.run(&zeros)));
            match warm {
                Ok(Ok(_)) => {}
                Ok(Err(e)) => {
                    tracing::error!(model = %card.name, error = %e, "warm-up inference failed; model skipped");
                    continue;
                }
                Err(_) => {
                    tracing::error!(model = %card.name, "warm-up inference panicked; model skipped");
                    continue;
                }
            }
            if map.contains_key(&card.name) {
                tracing::warn!(model = %card.name, "two models share this name; serving the first");
                continue;
            }
            let handle = InferenceHandle::spawn(model, self.inner.settings.batch)?;
            map.insert(card.name.clone(), ModelEntry { card, handle });
        }
        metrics::gauge!("han_models_loaded").set(map.len() as f64);
        self.inner.models.set(map).map_err(|_| anyhow::anyhow!("models are already installed"))?;
        self.inner.ready.store(true, Ordering::SeqCst);
        metrics::gauge!("han_ready").set(1.0);
        Ok(())
    }

    /// The settings.
    pub fn settings(&self) -> &Settings {
        &self.inner.settings
    }

    /// True once the models are loaded and warmed, until shutdown begins.
    pub fn is_ready(&self) -> bool {
        self.inner.ready.load(Ordering::SeqCst) && !self.is_shutting_down()
    }

    /// True after SIGTERM or Ctrl-C.
    pub fn is_shutting_down(&self) -> bool {
        self.inner.shutting_down.load(Ordering::SeqCst)
    }

    /// Turns readiness off and refuses new model requests with 503; in-flight ones finish.
    pub fn begin_shutdown(&self) {
        self.inner.shutting_down.store(true, Ordering::SeqCst);
        metrics::gauge!("han_ready").set(0.0);
    }

    /// 503 unless ready.
    pub fn check_ready(&self) -> Result<(), ApiError> {
        if self.is_shutting_down() {
            Err(ApiError::new(ErrorKind::ShuttingDown, "the server is shutting down; retry on another replica"))
        } else if !self.inner.ready.load(Ordering::SeqCst) {
            Err(ApiError::new(ErrorKind::NotReady, "the models are still loading; retry shortly"))
        } else {
            Ok(())
        }
    }

    /// Every served model, by name (empty before [`AppState::install`]).
    pub fn models(&self) -> impl Iterator<Item = (&String, &ModelEntry)> {
        self.inner.models.get().into_iter().flatten()
    }

    /// Whether `name` is a served model (for metric labels; no readiness check).
    pub fn has_model(&self, name: &str) -> bool {
        self.inner.models.get().is_some_and(|m| m.contains_key(name))
    }

    /// The model called `name`: 503 unless ready, 404 (listing the valid names) if unknown.
    /// Names are only ever looked up in this map, never used as paths.
    pub fn model(&self, name: &str) -> Result<&ModelEntry, ApiError> {
        self.check_ready()?;
        let map = self
            .inner
            .models
            .get()
            .ok_or_else(|| ApiError::new(ErrorKind::NotReady, "the models are still loading"))?;
        map.get(name).ok_or_else(|| ApiError::model_not_found(name, map.keys()))
    }

    /// The request permits (429 when none is free).
    pub fn permits(&self) -> &Arc<Semaphore> {
        &self.inner.permits
    }

    /// The Prometheus handle.
    pub fn metrics(&self) -> &PrometheusHandle {
        &self.inner.metrics
    }
}
