//! The Prometheus recorder: installed once per process (tests build many states), with
//! histogram buckets for latencies (seconds) and batch sizes.
//!
//! Metrics: `han_requests_total{model,route,status}`, `han_request_duration_seconds{model,route}`,
//! `han_queue_duration_seconds{model}`, `han_inference_duration_seconds{model}`,
//! `han_batch_size{model}`, `han_queue_depth{model}`, `han_requests_in_flight`,
//! `han_models_loaded`, `han_ready`.

use std::sync::OnceLock;

use metrics_exporter_prometheus::{Matcher, PrometheusBuilder, PrometheusHandle};

/// Latency buckets in seconds: 25 us to 10 s.
pub const LATENCY_BUCKETS: [f64; 18] = [
    25e-6, 50e-6, 100e-6, 250e-6, 500e-6, 1e-3, 2.5e-3, 5e-3, 10e-3, 25e-3, 50e-3, 100e-3, 250e-3, 500e-3, 1.0, 2.5,
    5.0, 10.0,
];

/// Batch-size buckets in samples.
pub const BATCH_BUCKETS: [f64; 12] = [1.0, 2.0, 4.0, 8.0, 16.0, 32.0, 64.0, 128.0, 256.0, 512.0, 1024.0, 4096.0];

/// The process-wide Prometheus handle, installing the recorder on first use. If another
/// recorder was installed first, this handle renders an empty page and metrics go there.
pub fn handle() -> PrometheusHandle {
    static HANDLE: OnceLock<PrometheusHandle> = OnceLock::new();
    HANDLE
        .get_or_init(|| {
            let builder = PrometheusBuilder::new()
                .set_buckets_for_metric(Matcher::Suffix("_seconds".into()), &LATENCY_BUCKETS)
                .and_then(|b| b.set_buckets_for_metric(Matcher::Full("han_batch_size".into()), &BATCH_BUCKETS));
            let recorder = match builder {
                Ok(b) => b.build_recorder(),
                Err(e) => {
                    tracing::warn!(error = %e, "histogram buckets rejected; using summaries");
                    PrometheusBuilder::new().build_recorder()
                }
            };
            let handle = recorder.handle();
            if metrics::set_global_recorder(recorder).is_err() {
                tracing::warn!("a metrics recorder was already installed; /metrics will be empty");
            }
            describe();
            handle
        })
        .clone()
}

fn describe() {
    use metrics::{Unit, describe_counter, describe_gauge, describe_histogram};
    describe_counter!("han_requests_total", "HTTP requests by model, route and status code");
    describe_histogram!(
        "han_request_duration_seconds",
        Unit::Seconds,
        "Time from request to response, by model and route"
    );
    describe_histogram!("han_queue_duration_seconds", Unit::Seconds, "Time a request waited in its model's queue");
    describe_histogram!("han_inference_duration_seconds", Unit::Seconds, "Time of one batched model run");
    describe_histogram!("han_batch_size", "Samples per model run");
    describe_gauge!("han_queue_depth", "Requests waiting in a model's queue");
    describe_gauge!("han_requests_in_flight", "Model-route requests holding a permit");
    describe_gauge!("han_models_loaded", "Models served");
    describe_gauge!("han_ready", "1 when ready, 0 while loading or shutting down");
}
