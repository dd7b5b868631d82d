//! Inference benchmark of the authors' checkerboard HanNet (20 layers, width 30, 3,032
//! parameters): the fast path ([`FastNet`]) and the candle [`Sequential`], at batch 1 and on
//! the whole test set (4,921 points). Prints one JSON line per measurement; `bench/infer/run.sh`
//! runs it beside PyTorch and writes the table into BENCHMARKS.md.
//!
//! ```text
//! cargo run --release -p han-models --example bench_infer [-- REFERENCE_DIR [SECONDS_EACH] [--only NAME]]
//! ```
//!
//! Method: each measurement repeats a timed run of `iters` calls (`iters` chosen so that one
//! run takes about 2 ms) for about `SECONDS_EACH` seconds, and reports the median run. Batch 1
//! cycles through the test points, one point a call, through the public entry points
//! (`FastNet::forward` into a reused output vector; for candle a tensor built from the slice,
//! `forward`, and the result copied out).

use std::path::PathBuf;
use std::time::{Duration, Instant};

use anyhow::{Context, Result};
use candle_core::{DType, Device, Module, Tensor};
use candle_nn::VarBuilder;
use han_models::fast::FastNet;
use han_models::sequential::Sequential;
use han_models::spec::ModelSpec;

/// CPU time of the calling thread in nanoseconds (Linux: `/proc/thread-self/schedstat`), which
/// leaves out the time the thread waited for a core on a busy machine.
fn thread_cpu_ns() -> Option<u64> {
    std::fs::read_to_string("/proc/thread-self/schedstat").ok()?.split_whitespace().next()?.parse().ok()
}

/// Seconds per call of `f`: the median over timed runs of wall-clock time (calls batched so
/// that a run lasts about 2 ms), and the calling thread's CPU time over all runs divided by
/// the calls (the kernel updates it only every few milliseconds, so a total, not a median).
struct Timing {
    wall: f64,
    cpu: Option<f64>,
}

fn measure(seconds: f64, mut f: impl FnMut()) -> Timing {
    // Warm-up and calibration.
    let start = Instant::now();
    let mut calls = 0u64;
    while start.elapsed() < Duration::from_millis(200) || calls < 3 {
        f();
        calls += 1;
    }
    let per_call = start.elapsed().as_secs_f64() / calls as f64;
    let iters = ((2e-3 / per_call).ceil() as u64).max(1);
    let mut wall = Vec::new();
    let (start, cpu0) = (Instant::now(), thread_cpu_ns());
    while start.elapsed().as_secs_f64() < seconds || wall.len() < 5 {
        let t = Instant::now();
        for _ in 0..iters {
            f();
        }
        wall.push(t.elapsed().as_secs_f64() / iters as f64);
    }
    let total_calls = (wall.len() as u64 * iters) as f64;
    let cpu = match (cpu0, thread_cpu_ns()) {
        (Some(c0), Some(c1)) => Some(c1.saturating_sub(c0) as f64 * 1e-9 / total_calls),
        _ => None,
    };
    wall.sort_by(f64::total_cmp);
    Timing { wall: wall[wall.len() / 2], cpu }
}

fn report(implementation: &str, batch: usize, threads: usize, t: Timing) {
    // The calling thread's CPU time only means something when it did all the work.
    let cpu = if threads == 1 { t.cpu } else { None };
    let line = serde_json::json!({
        "impl": implementation,
        "batch": batch,
        "threads": threads,
        "us_per_call": t.wall * 1e6,
        "us_per_sample": t.wall * 1e6 / batch as f64,
        "samples_per_s": batch as f64 / t.wall,
        "cpu_us_per_call": cpu.map(|c| c * 1e6),
        "cpu_us_per_sample": cpu.map(|c| c * 1e6 / batch as f64),
    });
    println!("{line}");
}

fn main() -> Result<()> {
    let mut args: Vec<String> = std::env::args().skip(1).collect();
    // `--only NAME` runs one measurement: fastnet-1, candle-1, fastnet-batch-serial,
    // fastnet-batch (split over the rayon pool), candle-batch.
    let only = match args.iter().position(|a| a == "--only") {
        Some(i) if i + 1 < args.len() => Some(args.drain(i..i + 2).nth(1).unwrap_or_default()),
        Some(_) => anyhow::bail!("--only needs a measurement name"),
        None => None,
    };
    let run = |name: &str| only.as_deref().is_none_or(|o| o == name);
    let mut args = args.into_iter();
    let dir = PathBuf::from(
        args.next()
            .unwrap_or_else(|| concat!(env!("CARGO_MANIFEST_DIR"), "/../../shared/reference/checkerboard").into()),
    );
    let seconds: f64 =
        args.next().map(|s| s.parse()).transpose().context("SECONDS_EACH must be a number")?.unwrap_or(3.0);

    let spec_path = concat!(env!("CARGO_MANIFEST_DIR"), "/specs/checkerboard-reference.json");
    let spec = ModelSpec::from_json(&std::fs::read_to_string(spec_path).context(spec_path)?)?;
    let weights = dir.join("hannet-reference.safetensors");
    let tensors =
        candle_core::safetensors::load(&weights, &Device::Cpu).with_context(|| weights.display().to_string())?;
    let net = Sequential::new(&spec, VarBuilder::from_tensors(tensors, DType::F32, &Device::Cpu))?;
    let fast = FastNet::from_sequential(&net)?;

    let csv = std::fs::read_to_string(dir.join("testset.csv")).context("testset.csv")?;
    let x: Vec<f32> = csv
        .lines()
        .skip(1)
        .flat_map(|l| l.split(',').take(2).map(|v| v.trim().parse::<f32>()))
        .collect::<Result<_, _>>()
        .context("testset.csv: not numbers")?;
    let n = x.len() / 2;

    // The two paths agree before anything is timed.
    let a = fast.forward_vec(&x, n);
    let b = net.forward(&Tensor::from_slice(&x, (n, 2), &Device::Cpu)?)?.flatten_all()?.to_vec1::<f32>()?;
    let worst = a.iter().zip(&b).map(|(a, b)| (a - b).abs()).fold(0f32, f32::max);
    anyhow::ensure!(worst < 1e-4, "fast and candle paths differ by {worst}");
    eprintln!(
        "{n} test points; fast vs candle: largest difference {worst:e}; rayon threads: {}",
        rayon::current_num_threads()
    );

    let threads = rayon::current_num_threads();
    let mut out = Vec::with_capacity(n * 2);

    // Batch 1.
    if run("fastnet-1") {
        let mut i = 0;
        let t = measure(seconds, || {
            fast.forward(std::hint::black_box(&x[2 * i..2 * i + 2]), 1, &mut out);
            std::hint::black_box(&out);
            i = (i + 1) % n;
        });
        report("fastnet", 1, 1, t);
    }
    if run("candle-1") {
        let mut i = 0;
        let t = measure(seconds, || {
            let xt = Tensor::from_slice(&x[2 * i..2 * i + 2], (1, 2), &Device::Cpu).expect("tensor");
            let y = net.forward(&xt).expect("forward").flatten_all().expect("flatten").to_vec1::<f32>().expect("copy");
            std::hint::black_box(y);
            i = (i + 1) % n;
        });
        report("candle", 1, threads, t);
    }

    // The whole test set.
    if run("fastnet-batch-serial") {
        let t = measure(seconds, || {
            fast.forward_serial(std::hint::black_box(&x), n, &mut out);
            std::hint::black_box(&out);
        });
        report("fastnet", n, 1, t);
    }
    if threads > 1 && run("fastnet-batch") {
        let t = measure(seconds, || {
            fast.forward(std::hint::black_box(&x), n, &mut out);
            std::hint::black_box(&out);
        });
        report("fastnet", n, threads, t);
    }
    if run("candle-batch") {
        let t = measure(seconds, || {
            let xt = Tensor::from_slice(&x, (n, 2), &Device::Cpu).expect("tensor");
            let y = net.forward(&xt).expect("forward").flatten_all().expect("flatten").to_vec1::<f32>().expect("copy");
            std::hint::black_box(y);
        });
        report("candle", n, threads, t);
    }
    Ok(())
}
