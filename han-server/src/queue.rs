//! The per-model inference queue: requests wait in a channel, one dedicated thread per model
//! takes what is queued (up to `max_batch_size` samples, waiting at most `max_queue_delay` for
//! more), drops requests whose client has gone, runs the model once for the whole batch off
//! the async runtime, and sends each request its own rows back.
//!
//! Handlers see only [`InferenceHandle::infer`]: validation, batching, timing, metrics and
//! panic isolation all live here.

use std::panic::{AssertUnwindSafe, catch_unwind};
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::mpsc;
use std::time::{Duration, Instant};

use tokio::sync::oneshot;

use crate::error::{ApiError, ErrorKind};
use crate::model::{Model, ModelError, ModelInfo, Scores};

/// How the queue forms batches.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct BatchPolicy {
    /// Most samples in one model run (and in one request).
    pub max_batch_size: usize,
    /// Longest wait, counted from the arrival of the oldest queued request, for more requests
    /// to join its batch. Zero takes only what is queued already.
    pub max_delay: Duration,
}

impl Default for BatchPolicy {
    fn default() -> Self {
        Self { max_batch_size: 256, max_delay: Duration::ZERO }
    }
}

/// One request's answer: its rows of the batch output and where the time went.
#[derive(Clone, Debug, PartialEq)]
pub struct Inference {
    /// This request's logits and probabilities, row-major `[rows, classes]`.
    pub scores: Scores,
    /// Samples in this request.
    pub rows: usize,
    /// Classes per sample.
    pub classes: usize,
    /// From enqueue to the start of the model run.
    pub queue_time: Duration,
    /// The model run (of the whole batch this request was part of).
    pub inference_time: Duration,
    /// Samples in that batch.
    pub batch_size: usize,
}

struct Job {
    input: Vec<f32>,
    rows: usize,
    enqueued: Instant,
    reply: oneshot::Sender<Result<Inference, ApiError>>,
}

/// A cheap, cloneable handle to one model's queue. Dropping every handle stops its thread.
#[derive(Clone)]
pub struct InferenceHandle {
    inner: Arc<Inner>,
}

struct Inner {
    info: ModelInfo,
    policy: BatchPolicy,
    tx: mpsc::Sender<Job>,
    depth: Arc<AtomicUsize>,
    depth_gauge: metrics::Gauge,
}

impl std::fmt::Debug for InferenceHandle {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("InferenceHandle")
            .field("model", &self.inner.info.name)
            .field("policy", &self.inner.policy)
            .finish()
    }
}

impl InferenceHandle {
    /// Starts the queue thread for `model`.
    pub fn spawn(model: Arc<dyn Model>, policy: BatchPolicy) -> std::io::Result<Self> {
        let info = ModelInfo::from_card(model.card());
        let (tx, rx) = mpsc::channel();
        let depth = Arc::new(AtomicUsize::new(0));
        let worker = Worker::new(model, policy, rx, depth.clone());
        std::thread::Builder::new()
            .name(format!("han-queue-{}", info.name.chars().take(40).collect::<String>()))
            .spawn(move || worker.run())?;
        let depth_gauge = metrics::gauge!("han_queue_depth", "model" => info.name.clone());
        Ok(Self { inner: Arc::new(Inner { info, policy, tx, depth, depth_gauge }) })
    }

    /// The model's name, shapes and labels.
    pub fn info(&self) -> &ModelInfo {
        &self.inner.info
    }

    /// The batching policy.
    pub fn policy(&self) -> BatchPolicy {
        self.inner.policy
    }

    /// Requests waiting in the queue now.
    pub fn queue_depth(&self) -> usize {
        self.inner.depth.load(Ordering::Relaxed)
    }

    /// Checks a request of `rows` samples (`input`, row-major) against the model and the batch
    /// limit, queues it and waits for its rows of the batch answer.
    pub async fn infer(&self, input: Vec<f32>, rows: usize) -> Result<Inference, ApiError> {
        validate(&self.inner.info, self.inner.policy, &input, rows)?;
        let (reply, rx) = oneshot::channel();
        let job = Job { input, rows, enqueued: Instant::now(), reply };
        let depth = self.inner.depth.fetch_add(1, Ordering::Relaxed) + 1;
        self.inner.depth_gauge.set(depth as f64);
        if self.inner.tx.send(job).is_err() {
            self.inner.depth.fetch_sub(1, Ordering::Relaxed);
            return Err(ApiError::internal(format!("the queue thread of model {} has stopped", self.inner.info.name)));
        }
        rx.await
            .map_err(|_| ApiError::internal(format!("the queue of model {} dropped a request", self.inner.info.name)))?
    }
}

/// The checks every request passes before it may join a batch.
fn validate(info: &ModelInfo, policy: BatchPolicy, input: &[f32], rows: usize) -> Result<(), ApiError> {
    if rows == 0 {
        return Err(ApiError::new(ErrorKind::InvalidShape, "empty batch: send at least one sample"));
    }
    if rows > policy.max_batch_size {
        return Err(ApiError::new(
            ErrorKind::BatchTooLarge,
            format!("batch of {rows} samples exceeds the limit of {}; split the request", policy.max_batch_size),
        ));
    }
    if input.len() != rows * info.input_len {
        return Err(ApiError::new(
            ErrorKind::InvalidShape,
            format!(
                "{} values for {rows} samples; model {} takes {} values per sample (shape {:?})",
                input.len(),
                info.name,
                info.input_len,
                info.input_shape
            ),
        ));
    }
    if let Some(i) = input.iter().position(|v| !v.is_finite()) {
        return Err(ApiError::new(
            ErrorKind::InvalidValue,
            format!(
                "value {i} (sample {}) is {}; inputs must be finite FP32 numbers",
                i / info.input_len.max(1),
                input[i]
            ),
        ));
    }
    Ok(())
}

/// Test builds only (cargo feature `fault-injection`): with `HAN_FAULT_PANIC_VALUE=<v>` in the
/// environment, a model run whose input contains the value `v` panics, so that tests can check
/// that a panic inside a model run fails only its request. Builds without the feature have no
/// such hook.
#[cfg(feature = "fault-injection")]
mod fault {
    use std::sync::OnceLock;

    pub(super) fn maybe_panic(x: &[f32]) {
        static TRIGGER: OnceLock<Option<f32>> = OnceLock::new();
        let trigger =
            TRIGGER.get_or_init(|| std::env::var("HAN_FAULT_PANIC_VALUE").ok().and_then(|v| v.trim().parse().ok()));
        if let Some(t) = trigger
            && x.contains(t)
        {
            panic!("fault injection: input contains {t}");
        }
    }
}

struct Worker {
    model: Arc<dyn Model>,
    name: String,
    classes: usize,
    input_len: usize,
    policy: BatchPolicy,
    rx: mpsc::Receiver<Job>,
    depth: Arc<AtomicUsize>,
    pending: Option<Job>,
    queue_hist: metrics::Histogram,
    infer_hist: metrics::Histogram,
    batch_hist: metrics::Histogram,
    depth_gauge: metrics::Gauge,
}

impl Worker {
    fn new(model: Arc<dyn Model>, policy: BatchPolicy, rx: mpsc::Receiver<Job>, depth: Arc<AtomicUsize>) -> Self {
        let card = model.card();
        let name = card.name.clone();
        Self {
            classes: card.head.classes,
            input_len: card.input_len(),
            queue_hist: metrics::histogram!("han_queue_duration_seconds", "model" => name.clone()),
            infer_hist: metrics::histogram!("han_inference_duration_seconds", "model" => name.clone()),
            batch_hist: metrics::histogram!("han_batch_size", "model" => name.clone()),
            depth_gauge: metrics::gauge!("han_queue_depth", "model" => name.clone()),
            name,
            model,
            policy,
            rx,
            depth,
            pending: None,
        }
    }

    fn take(&mut self, job: Job) -> Job {
        let d = self.depth.fetch_sub(1, Ordering::Relaxed).saturating_sub(1);
        self.depth_gauge.set(d as f64);
        job
    }

    /// Runs until every handle is dropped.
    fn run(mut self) {
        loop {
            let first = match self.pending.take() {
                Some(job) => job,
                None => match self.rx.recv() {
                    Ok(job) => self.take(job),
                    Err(_) => return,
                },
            };
            let batch = self.collect(first);
            if !batch.is_empty() {
                self.execute(batch);
            }
        }
    }

    /// Gathers a batch that starts with `first`; a request that would overflow the batch
    /// waits in `pending` for the next one.
    fn collect(&mut self, first: Job) -> Vec<Job> {
        let deadline = first.enqueued + self.policy.max_delay;
        let mut rows = 0;
        let mut batch = Vec::new();
        let mut next = Some(first);
        loop {
            if let Some(job) = next.take() {
                if job.reply.is_closed() {
                    // The client has gone (disconnect or timeout): skip it.
                } else if rows + job.rows > self.policy.max_batch_size {
                    self.pending = Some(job);
                    break;
                } else {
                    rows += job.rows;
                    batch.push(job);
                }
            }
            if rows >= self.policy.max_batch_size {
                break;
            }
            let now = Instant::now();
            let got = if now >= deadline { self.rx.try_recv().ok() } else { self.rx.recv_timeout(deadline - now).ok() };
            match got {
                Some(job) => next = Some(self.take(job)),
                None => break,
            }
        }
        batch.retain(|j| !j.reply.is_closed());
        batch
    }

    /// One guarded model run: errors and panics become values.
    fn forward(&self, x: &[f32]) -> Result<Scores, ApiError> {
        match catch_unwind(AssertUnwindSafe(|| {
            #[cfg(feature = "fault-injection")]
            fault::maybe_panic(x);
            self.model.run(x)
        })) {
            Ok(Ok(s)) => {
                let want = x.len() / self.input_len.max(1) * self.classes;
                if s.logits.len() != want || s.probabilities.len() != want {
                    return Err(ApiError::internal(format!(
                        "model {} returned {} logits and {} probabilities for {want} expected",
                        self.name,
                        s.logits.len(),
                        s.probabilities.len()
                    )));
                }
                Ok(s)
            }
            Ok(Err(ModelError::Input(why))) => Err(ApiError::new(ErrorKind::InvalidValue, why)),
            Ok(Err(ModelError::Model(why))) => Err(ApiError::internal(format!("model {} failed: {why}", self.name))),
            Err(panic) => {
                let what = panic
                    .downcast_ref::<&str>()
                    .map(|s| s.to_string())
                    .or_else(|| panic.downcast_ref::<String>().cloned())
                    .unwrap_or_else(|| "non-string panic payload".into());
                Err(ApiError::internal(format!("model {} panicked: {what}", self.name)))
            }
        }
    }

    fn execute(&self, batch: Vec<Job>) {
        let start = Instant::now();
        let rows: usize = batch.iter().map(|j| j.rows).sum();
        let result = if batch.len() == 1 {
            self.forward(&batch[0].input)
        } else {
            let mut x = Vec::with_capacity(rows * self.input_len);
            for j in &batch {
                x.extend_from_slice(&j.input);
            }
            self.forward(&x)
        };
        let inference_time = start.elapsed();
        self.batch_hist.record(rows as f64);
        self.infer_hist.record(inference_time.as_secs_f64());
        match result {
            Ok(scores) => {
                let mut offset = 0;
                for job in batch {
                    let n = job.rows * self.classes;
                    let mine = Scores {
                        logits: scores.logits[offset..offset + n].to_vec(),
                        probabilities: scores.probabilities[offset..offset + n].to_vec(),
                    };
                    offset += n;
                    self.reply(job, start, inference_time, rows, Ok(mine));
                }
            }
            Err(e) if batch.len() == 1 => {
                let job = batch.into_iter().next().expect("one job");
                self.reply(job, start, inference_time, rows, Err(e));
            }
            Err(e) => {
                // Do not let one request fail the others: run each alone.
                tracing::warn!(model = %self.name, error = %e.message, requests = batch.len(), "batch failed; retrying its requests one by one");
                for job in batch {
                    let t = Instant::now();
                    let r = self.forward(&job.input);
                    let n = job.rows;
                    self.reply(job, t, t.elapsed(), n, r);
                }
            }
        }
    }

    fn reply(
        &self,
        job: Job,
        start: Instant,
        inference_time: Duration,
        batch_size: usize,
        result: Result<Scores, ApiError>,
    ) {
        let queue_time = start.saturating_duration_since(job.enqueued);
        self.queue_hist.record(queue_time.as_secs_f64());
        let result = result.and_then(|scores| {
            if let Some(i) = scores.logits.iter().chain(&scores.probabilities).position(|v| !v.is_finite()) {
                let sample = (i % scores.logits.len().max(1)) / self.classes.max(1);
                return Err(ApiError::new(
                    ErrorKind::InvalidValue,
                    format!("the model produced non-finite outputs for sample {sample}; the input values are probably far outside the range the model expects"),
                ));
            }
            Ok(Inference { scores, rows: job.rows, classes: self.classes, queue_time, inference_time, batch_size })
        });
        // The client may have gone meanwhile; nothing to do then.
        let _ = job.reply.send(result);
    }
}
