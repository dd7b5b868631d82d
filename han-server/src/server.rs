//! The router ([`app`]) and the process around it ([`run`]): bind, load and warm the models in
//! the background, serve, and drain on SIGTERM or Ctrl-C.

use std::collections::BTreeMap;
use std::future::IntoFuture;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use anyhow::{Context, bail};
use axum::Router;
use axum::extract::DefaultBodyLimit;
use axum::middleware;
use axum::routing::{get, post};
use tokio::net::TcpListener;

use crate::config::{Config, ModelsMode};
use crate::model::Model;
use crate::state::{AppState, Settings};
use crate::{docs, kserve, ops, pages, v1};

/// The whole HTTP API on `state`. Model routes (`/v1/*`, `/v2/models/*`, `/v2/repository/*`)
/// sit behind the API key, the concurrency limit and the time limit; health, metrics, server
/// metadata, docs and pages do not.
pub fn app(state: AppState) -> Router {
    let api = Router::new()
        .route("/v1/models", get(v1::list_models))
        .route("/v1/models/{name}", get(v1::get_model))
        .route("/v1/models/{name}/predict", post(v1::predict))
        .route("/v2/models/{name}", get(kserve::model_metadata))
        .route("/v2/models/{name}/ready", get(kserve::model_ready))
        .route("/v2/models/{name}/infer", post(kserve::infer))
        .route("/v2/models/{name}/versions/{version}", get(kserve::model_version_metadata))
        .route("/v2/models/{name}/versions/{version}/ready", get(kserve::model_version_ready))
        .route("/v2/models/{name}/versions/{version}/infer", post(kserve::infer_version))
        .route("/v2/repository/index", post(kserve::repository_index))
        .route_layer(middleware::from_fn_with_state(state.clone(), ops::guard));
    let open = Router::new()
        .route("/v2", get(kserve::server_metadata))
        .route("/v2/health/live", get(ops::live))
        .route("/v2/health/ready", get(ops::ready))
        .route("/metrics", get(ops::metrics))
        .merge(docs::routes())
        .merge(pages::routes());
    Router::new()
        .merge(api)
        .merge(open)
        .fallback(ops::not_found)
        .method_not_allowed_fallback(ops::method_not_allowed)
        .layer(DefaultBodyLimit::max(state.settings().max_body_bytes))
        .layer(middleware::from_fn_with_state(state.clone(), ops::request_context))
        .with_state(state)
}

/// The model folders to scan, in order (later folders win on a name clash).
pub fn model_dirs(config: &Config) -> anyhow::Result<Vec<PathBuf>> {
    let mut dirs = Vec::new();
    match config.models_mode {
        ModelsMode::Add => {
            let bundled = han_models::zoo::bundled_dir();
            if bundled.is_dir() {
                dirs.push(bundled);
            } else {
                tracing::warn!(path = %bundled.display(), "the bundled model folder does not exist; pass --models-dir");
            }
        }
        ModelsMode::Replace if config.models_dir.is_none() => bail!("--models-mode replace needs --models-dir"),
        ModelsMode::Replace => {}
    }
    if let Some(dir) = &config.models_dir {
        if !dir.is_dir() {
            bail!("--models-dir {} is not a folder", dir.display());
        }
        dirs.push(dir.clone());
    }
    Ok(dirs)
}

/// Loads every model folder under `dirs`. A folder that fails is logged (path and reason) and
/// skipped; a later folder replaces an earlier model of the same name.
pub fn load_models(dirs: &[PathBuf]) -> Vec<Arc<dyn Model>> {
    let mut by_name: BTreeMap<String, (PathBuf, Arc<dyn Model>)> = BTreeMap::new();
    for dir in dirs {
        let (loaded, failed) = han_models::zoo::load_all(dir);
        for (path, err) in failed {
            tracing::error!(path = %path.display(), reason = %err, "model folder skipped: it failed to load");
        }
        for classifier in loaded {
            let name = han_models::zoo::Classifier::name(&classifier).to_string();
            if let Some((old, _)) = by_name.get(&name) {
                tracing::warn!(model = %name, replaced = %old.display(), by = %dir.display(), "model replaced by a later folder");
            }
            by_name.insert(name, (dir.clone(), Arc::new(classifier)));
        }
    }
    by_name.into_values().map(|(_, m)| m).collect()
}

/// Resolves on SIGTERM or Ctrl-C.
async fn shutdown_signal() {
    let ctrl_c = async {
        if tokio::signal::ctrl_c().await.is_err() {
            std::future::pending::<()>().await;
        }
    };
    #[cfg(unix)]
    let term = async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut s) => {
                s.recv().await;
            }
            Err(_) => std::future::pending::<()>().await,
        }
    };
    #[cfg(not(unix))]
    let term = std::future::pending::<()>();
    tokio::select! {
        () = ctrl_c => tracing::info!("Ctrl-C received; draining"),
        () = term => tracing::info!("SIGTERM received; draining"),
    }
}

fn spawn_loader(state: AppState, dirs: Vec<PathBuf>) {
    tokio::task::spawn_blocking(move || {
        let t = std::time::Instant::now();
        let models = load_models(&dirs);
        let names: Vec<String> = models.iter().map(|m| m.card().name.clone()).collect();
        match state.install(models) {
            Ok(()) => {
                let served: Vec<&String> = state.models().map(|(n, _)| n).collect();
                if served.is_empty() {
                    tracing::warn!("no models loaded; every model route will answer 404");
                }
                tracing::info!(models = ?served, loaded = names.len(), ms = t.elapsed().as_millis() as u64, "ready");
            }
            Err(e) => tracing::error!(error = %e, "could not install the models"),
        }
    });
}

/// Serves `config` until SIGTERM or Ctrl-C: binds first (printing
/// `han-server listening on http://ADDR` on stdout), loads and warms the models in the
/// background (readiness stays false until then), and on the signal turns readiness off, lets
/// in-flight requests finish within the grace period and returns.
pub async fn run(config: Config) -> anyhow::Result<()> {
    let dirs = model_dirs(&config)?;
    let state = AppState::new(Settings::from(&config));
    let addr = SocketAddr::new(config.host, config.port);
    let listener = TcpListener::bind(addr).await.with_context(|| format!("cannot listen on {addr}"))?;
    let local = listener.local_addr().context("no local address")?;
    println!("han-server listening on http://{local}");
    {
        use std::io::Write;
        let _ = std::io::stdout().flush();
    }
    tracing::info!(address = %local, dirs = ?dirs, "listening; loading models");
    spawn_loader(state.clone(), dirs);

    let upkeep = state.metrics().clone();
    tokio::spawn(async move {
        let mut tick = tokio::time::interval(Duration::from_secs(5));
        loop {
            tick.tick().await;
            upkeep.run_upkeep();
        }
    });

    let (signalled_tx, signalled_rx) = tokio::sync::oneshot::channel::<()>();
    let drain_state = state.clone();
    // Silent or stalled connections close a second after the request timeout (see conn.rs).
    let idle = config.request_timeout() + Duration::from_secs(1);
    let server = axum::serve(crate::conn::IdleTimeoutListener::new(listener, idle), app(state))
        .with_graceful_shutdown(async move {
            shutdown_signal().await;
            drain_state.begin_shutdown();
            let _ = signalled_tx.send(());
        })
        .into_future();
    let grace = config.shutdown_grace();
    let deadline = async move {
        if signalled_rx.await.is_err() {
            std::future::pending::<()>().await;
        }
        tokio::time::sleep(grace).await;
    };
    tokio::select! {
        r = server => r.context("the HTTP server failed")?,
        () = deadline => tracing::warn!(grace_ms = grace.as_millis() as u64, "grace period over; exiting with requests still in flight"),
    }
    tracing::info!("stopped");
    Ok(())
}

/// Whether `path` looks like a model folder (has a `config.json`).
pub fn is_model_folder(path: &Path) -> bool {
    path.join("config.json").is_file()
}
