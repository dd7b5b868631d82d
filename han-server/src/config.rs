//! The server configuration: one struct, built from command-line flags that also read
//! environment variables. Every field's doc comment is its `--help` text.

use std::net::IpAddr;
use std::path::PathBuf;
use std::time::Duration;

use clap::{Parser, ValueEnum};

/// How `--models-dir` combines with the models bundled in the repository's `weights/`.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, ValueEnum)]
pub enum ModelsMode {
    /// Serve the bundled models and those in `--models-dir` (a folder there wins on a name clash).
    #[default]
    Add,
    /// Serve only the models in `--models-dir`.
    Replace,
}

/// Log line format.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, ValueEnum)]
pub enum LogFormat {
    /// Human-readable lines.
    #[default]
    Text,
    /// One JSON object per line.
    Json,
}

/// han-server: serves the han zoo over HTTP (KServe V2 / Open Inference Protocol and a JSON API).
///
/// Every flag can also be set with the environment variable shown. Log verbosity follows
/// `RUST_LOG` (default `info`; `debug` logs every request).
#[derive(Clone, Debug, Parser)]
#[command(name = "han-server", version, about, long_about = None)]
pub struct Config {
    /// Address to listen on. Use 0.0.0.0 (or ::) to accept connections from other machines.
    #[arg(long, env = "HAN_HOST", default_value = "127.0.0.1")]
    pub host: IpAddr,

    /// Port to listen on; 0 picks a free port (the bound address is printed on stdout).
    #[arg(long, env = "HAN_PORT", default_value_t = 8080)]
    pub port: u16,

    /// A folder of model folders (each with `config.json` and the weights file, like `weights/`).
    #[arg(long, env = "HAN_MODELS_DIR")]
    pub models_dir: Option<PathBuf>,

    /// Whether `--models-dir` adds to the bundled models or replaces them.
    #[arg(long, env = "HAN_MODELS_MODE", value_enum, default_value_t = ModelsMode::Add)]
    pub models_mode: ModelsMode,

    /// Largest batch, in samples, that one model run takes; larger requests get 422.
    #[arg(long, env = "HAN_MAX_BATCH_SIZE", default_value_t = 256, value_parser = clap::value_parser!(u32).range(1..=1_000_000))]
    pub max_batch_size: u32,

    /// How long, in milliseconds, the queue waits for more requests to join a batch.
    /// 0 takes only what is already queued (no added latency).
    #[arg(long, env = "HAN_MAX_QUEUE_DELAY_MS", default_value_t = 0)]
    pub max_queue_delay_ms: u64,

    /// Concurrent API requests (model routes) beyond which requests get 429 at once.
    #[arg(long, env = "HAN_MAX_CONCURRENT_REQUESTS", default_value_t = 512, value_parser = clap::value_parser!(u32).range(1..))]
    pub max_concurrent_requests: u32,

    /// Largest accepted request body in bytes; larger bodies get 413.
    #[arg(long, env = "HAN_MAX_BODY_BYTES", default_value_t = 8 * 1024 * 1024)]
    pub max_body_bytes: usize,

    /// Time limit for one request in milliseconds (reading the body included); then 504.
    #[arg(long, env = "HAN_REQUEST_TIMEOUT_MS", default_value_t = 30_000, value_parser = clap::value_parser!(u64).range(1..))]
    pub request_timeout_ms: u64,

    /// After SIGTERM or Ctrl-C, how long in-flight requests may take to finish before exit.
    #[arg(long, env = "HAN_SHUTDOWN_GRACE_MS", default_value_t = 10_000)]
    pub shutdown_grace_ms: u64,

    /// Log format.
    #[arg(long, env = "HAN_LOG_FORMAT", value_enum, default_value_t = LogFormat::Text)]
    pub log_format: LogFormat,

    /// If set, model routes require `Authorization: Bearer <key>`; health, metrics and docs stay open.
    #[arg(long, env = "HAN_API_KEY", hide_env_values = true)]
    pub api_key: Option<String>,

    /// Tokio worker threads for HTTP (default: the number of CPUs).
    #[arg(long, env = "HAN_WORKER_THREADS", value_parser = clap::value_parser!(u32).range(1..=1024))]
    pub worker_threads: Option<u32>,
}

impl Default for Config {
    /// The documented defaults, as `han-server` with no flags would see them (so `HAN_*`
    /// environment variables still apply).
    fn default() -> Self {
        Self::parse_from(["han-server"])
    }
}

impl Config {
    /// The queue delay as a duration.
    pub fn max_queue_delay(&self) -> Duration {
        Duration::from_millis(self.max_queue_delay_ms)
    }

    /// The request time limit as a duration.
    pub fn request_timeout(&self) -> Duration {
        Duration::from_millis(self.request_timeout_ms)
    }

    /// The shutdown grace period as a duration.
    pub fn shutdown_grace(&self) -> Duration {
        Duration::from_millis(self.shutdown_grace_ms)
    }

    /// Tokio worker threads: the flag, else the number of CPUs.
    pub fn worker_threads(&self) -> usize {
        self.worker_threads
            .map(|n| n as usize)
            .unwrap_or_else(|| std::thread::available_parallelism().map_or(2, |n| n.get()))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use clap::CommandFactory;

    #[test]
    fn every_flag_has_help_and_an_env_var() {
        let cmd = Config::command();
        for arg in cmd.get_arguments() {
            let id = arg.get_id().as_str();
            if id == "help" || id == "version" {
                continue;
            }
            assert!(arg.get_help().is_some(), "--{id} lacks a doc comment");
            assert!(arg.get_env().is_some(), "--{id} lacks an environment variable");
        }
    }

    #[test]
    fn defaults_are_the_documented_ones() {
        let c = Config::default();
        assert_eq!(c.port, 8080);
        assert_eq!(c.host.to_string(), "127.0.0.1");
        assert_eq!(c.max_queue_delay_ms, 0);
        assert_eq!(c.models_mode, ModelsMode::Add);
        assert!(c.api_key.is_none());
    }
}
