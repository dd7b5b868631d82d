//! `han-server`: serves the han zoo over HTTP. See `han-server --help`.

use std::process::ExitCode;

use clap::Parser;
use han_server::Config;
use han_server::config::LogFormat;
use tracing_subscriber::EnvFilter;

#[global_allocator]
static GLOBAL: mimalloc::MiMalloc = mimalloc::MiMalloc;

/// Threads of one model run (candle's matmuls and the Han kernel read `RAYON_NUM_THREADS`).
/// Requests run in parallel across models and batches; one thread per run serves small
/// models best.
const DEFAULT_INFERENCE_THREADS: &str = "1";

fn init_tracing(format: LogFormat) {
    let filter = EnvFilter::try_from_default_env().unwrap_or_else(|_| EnvFilter::new("info"));
    let ansi = std::io::IsTerminal::is_terminal(&std::io::stderr());
    let builder = tracing_subscriber::fmt().with_env_filter(filter).with_writer(std::io::stderr).with_ansi(ansi);
    match format {
        LogFormat::Text => builder.init(),
        LogFormat::Json => builder.json().init(),
    }
}

fn run(config: Config) -> anyhow::Result<()> {
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(config.worker_threads())
        .thread_name("han-http")
        .enable_all()
        .build()?;
    runtime.block_on(han_server::run(config))
}

fn main() -> ExitCode {
    let config = Config::parse();
    if std::env::var_os("RAYON_NUM_THREADS").is_none() {
        // SAFETY: no other thread exists yet (no runtime, no logger thread, no model loaded),
        // so nothing can read the environment concurrently.
        unsafe { std::env::set_var("RAYON_NUM_THREADS", DEFAULT_INFERENCE_THREADS) };
    }
    init_tracing(config.log_format);
    match run(config) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("han-server: error: {e}");
            for cause in e.chain().skip(1) {
                eprintln!("  caused by: {cause}");
            }
            ExitCode::FAILURE
        }
    }
}
