//! Single-thread benchmark of the Han-layer against `candle_nn::Linear` and two floors.
//!
//! ```text
//! cargo bench -p han-core --bench han
//! ```
//!
//! For each width `d` in {64, 256, 1024, 4096} and batch in {1, 64, 256}, on `f32`:
//!
//! - `fused`: [`HanLayer::forward_fused`] on a tensor (what `Module::forward` runs for
//!   inference), allocation of the output tensor included;
//! - `composed`: [`HanLayer::forward_composed`], the differentiable candle-op path;
//! - `linear`: `candle_nn::Linear` `d -> d` with bias;
//! - `kernel`: the slice kernel [`kernel::han_rows_serial`] into a preallocated buffer, so
//!   that the tensor overhead of `fused` is visible;
//! - `floor_loop`: the simplest single-pass loop, written naively here: a plain dot product,
//!   then `y[i] = |x[i] - c u[i] + b[i]|`, into a preallocated buffer;
//! - `floor_memcpy`: a copy of the output's bytes (preallocated);
//! - `candle_abs`: one elementwise candle op (`x.abs()`) on the same tensor: what any
//!   tensor-level call costs at least (dispatch, locks, output allocation).
//!
//! `RAYON_NUM_THREADS=1` is set before candle or rayon start, so every variant runs on one
//! thread. At the end the medians are printed as the Markdown table of `BENCHMARKS.md`.
//!
//! The clock is the CPU time of the process (Linux `CLOCK_PROCESS_CPUTIME_ID`), not wall
//! time: the benchmark machine is shared with other builds, and time spent descheduled is not
//! the code's. Everything runs on one thread, so on a quiet machine the two clocks agree.
//! `HAN_BENCH_CLOCK=wall` selects wall time instead.

use std::hint::black_box;
use std::path::PathBuf;
use std::time::Duration;

use candle_core::{Device, Module, Tensor};
use criterion::measurement::{Measurement, ValueFormatter, WallTime};
use criterion::{Criterion, SamplingMode, Throughput};
use han_core::{HanLayer, kernel};
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;

const DIMS: [usize; 4] = [64, 256, 1024, 4096];
const BATCHES: [usize; 3] = [1, 64, 256];
const VARIANTS: [&str; 7] = ["fused", "composed", "linear", "kernel", "floor_loop", "floor_memcpy", "candle_abs"];

fn random(rng: &mut ChaCha8Rng, n: usize, bound: f32) -> Vec<f32> {
    (0..n).map(|_| rng.random_range(-bound..bound)).collect()
}

/// The naive single-pass floor: a plain dot product, then one sweep.
fn floor_loop(x: &[f32], u: &[f32], b: &[f32], scale: f32, out: &mut [f32]) {
    let d = u.len();
    for (xr, yr) in x.chunks_exact(d).zip(out.chunks_exact_mut(d)) {
        let mut dot = 0.0f32;
        for i in 0..d {
            dot += xr[i] * u[i];
        }
        let c = scale * dot;
        for i in 0..d {
            yr[i] = (xr[i] - c * u[i] + b[i]).abs();
        }
    }
}

fn bench<M: Measurement>(c: &mut Criterion<M>) -> candle_core::Result<()> {
    let dev = Device::Cpu;
    let mut rng = ChaCha8Rng::seed_from_u64(0);
    for &d in &DIMS {
        let u = random(&mut rng, d, 1.0);
        let b = random(&mut rng, d, 1.0 / (d as f32).sqrt());
        let layer = HanLayer::new(Tensor::new(u.as_slice(), &dev)?, Some(Tensor::new(b.as_slice(), &dev)?))?;
        let w = Tensor::from_vec(random(&mut rng, d * d, 1.0 / (d as f32).sqrt()), (d, d), &dev)?;
        let linear = candle_nn::Linear::new(w, Some(Tensor::new(b.as_slice(), &dev)?));
        let scale = kernel::reflection_scale(&u).expect("u is non-zero");
        for &batch in &BATCHES {
            let xs = random(&mut rng, batch * d, 1.0);
            let x = Tensor::from_vec(xs.clone(), (batch, d), &dev)?;
            let mut out = vec![0.0f32; batch * d];
            let mut g = c.benchmark_group(format!("d{d}_b{batch}"));
            g.sampling_mode(SamplingMode::Flat);
            g.bench_function("fused", |bch| bch.iter(|| layer.forward_fused(black_box(&x)).expect("fused")));
            g.bench_function("composed", |bch| bch.iter(|| layer.forward_composed(black_box(&x)).expect("composed")));
            g.bench_function("linear", |bch| bch.iter(|| linear.forward(black_box(&x)).expect("linear")));
            g.bench_function("kernel", |bch| {
                bch.iter(|| kernel::han_rows_serial(black_box(&xs), &u, Some(&b), scale, &mut out))
            });
            g.bench_function("floor_loop", |bch| {
                bch.iter(|| floor_loop(black_box(&xs), &u, &b, black_box(scale), &mut out))
            });
            g.bench_function("floor_memcpy", |bch| bch.iter(|| out.copy_from_slice(black_box(&xs))));
            g.bench_function("candle_abs", |bch| bch.iter(|| black_box(&x).abs().expect("abs")));
            g.finish();
            black_box(&out);
        }
    }
    Ok(())
}

/// The median (ns) criterion stored for one benchmark, read from its `estimates.json`.
fn median_ns(dir: &std::path::Path, group: &str, name: &str) -> Option<f64> {
    let text = std::fs::read_to_string(dir.join(group).join(name).join("new/estimates.json")).ok()?;
    let rest = &text[text.find("\"median\"")?..];
    let rest = &rest[rest.find("\"point_estimate\":")? + "\"point_estimate\":".len()..];
    rest[..rest.find([',', '}'])?].trim().parse().ok()
}

fn fmt_time(ns: f64) -> String {
    if ns < 1e3 {
        format!("{ns:.0} ns")
    } else if ns < 1e6 {
        format!("{:.2} us", ns / 1e3)
    } else {
        format!("{:.2} ms", ns / 1e6)
    }
}

fn print_table(dir: &std::path::Path) {
    let medians = |d: usize, batch: usize| -> Vec<Option<f64>> {
        let group = format!("d{d}_b{batch}");
        VARIANTS.iter().map(|v| median_ns(dir, &group, v)).collect()
    };
    let cell = |m: &[Option<f64>], i: usize| m[i].map_or("-".to_string(), fmt_time);
    let ratio = |m: &[Option<f64>], a: usize, b: usize| match (m[a], m[b]) {
        (Some(a), Some(b)) => format!("{:.2}", a / b),
        _ => "-".to_string(),
    };
    println!("\nMedians:\n");
    println!("| d | batch | fused | kernel | floor loop | memcpy | candle abs | composed | Linear |");
    println!("|---:|---:|---:|---:|---:|---:|---:|---:|---:|");
    for &d in &DIMS {
        for &batch in &BATCHES {
            let m = medians(d, batch);
            let c: Vec<String> = [0, 3, 4, 5, 6, 1, 2].iter().map(|&i| cell(&m, i)).collect();
            println!("| {d} | {batch} | {} |", c.join(" | "));
        }
    }
    println!("\nRatios of medians:\n");
    println!(
        "| d | batch | fused / floor loop | kernel / floor loop | fused / kernel | composed / fused | Linear / fused |"
    );
    println!("|---:|---:|---:|---:|---:|---:|---:|");
    for &d in &DIMS {
        for &batch in &BATCHES {
            let m = medians(d, batch);
            let r: Vec<String> =
                [(0, 4), (3, 4), (0, 3), (1, 0), (2, 0)].iter().map(|&(a, b)| ratio(&m, a, b)).collect();
            println!("| {d} | {batch} | {} |", r.join(" | "));
        }
    }
}

/// CPU time of the whole process, in nanoseconds (all threads: work handed to a helper thread
/// still counts).
#[derive(Debug, Clone, Copy)]
struct ProcessCpuTime;

#[cfg(target_os = "linux")]
fn process_cpu_ns() -> u64 {
    #[repr(C)]
    struct Timespec {
        tv_sec: i64,
        tv_nsec: i64,
    }
    unsafe extern "C" {
        fn clock_gettime(clock: i32, tp: *mut Timespec) -> i32;
    }
    const CLOCK_PROCESS_CPUTIME_ID: i32 = 2;
    let mut ts = Timespec { tv_sec: 0, tv_nsec: 0 };
    // SAFETY: `ts` is a valid, writable `struct timespec` (two 64-bit fields on 64-bit Linux).
    let rc = unsafe { clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &mut ts) };
    assert_eq!(rc, 0, "clock_gettime(CLOCK_PROCESS_CPUTIME_ID) failed");
    ts.tv_sec as u64 * 1_000_000_000 + ts.tv_nsec as u64
}

/// Elsewhere there is no portable process CPU clock: wall time since the first call.
#[cfg(not(target_os = "linux"))]
fn process_cpu_ns() -> u64 {
    static EPOCH: std::sync::OnceLock<std::time::Instant> = std::sync::OnceLock::new();
    EPOCH.get_or_init(std::time::Instant::now).elapsed().as_nanos() as u64
}

impl Measurement for ProcessCpuTime {
    type Intermediate = u64;
    type Value = u64;
    fn start(&self) -> u64 {
        process_cpu_ns()
    }
    fn end(&self, start: u64) -> u64 {
        process_cpu_ns().saturating_sub(start)
    }
    fn add(&self, a: &u64, b: &u64) -> u64 {
        a + b
    }
    fn zero(&self) -> u64 {
        0
    }
    fn to_f64(&self, v: &u64) -> f64 {
        *v as f64
    }
    fn formatter(&self) -> &dyn ValueFormatter {
        &Nanoseconds
    }
}

/// Formats nanosecond values as criterion's wall-time formatter does.
struct Nanoseconds;

impl ValueFormatter for Nanoseconds {
    fn scale_values(&self, typical: f64, values: &mut [f64]) -> &'static str {
        let (factor, unit) = match typical {
            t if t < 1e3 => (1.0, "ns"),
            t if t < 1e6 => (1e-3, "us"),
            t if t < 1e9 => (1e-6, "ms"),
            _ => (1e-9, "s"),
        };
        values.iter_mut().for_each(|v| *v *= factor);
        unit
    }
    fn scale_throughputs(&self, typical: f64, t: &Throughput, values: &mut [f64]) -> &'static str {
        let per_iter = match *t {
            Throughput::Bytes(n) | Throughput::BytesDecimal(n) | Throughput::Elements(n) => n as f64,
        };
        values.iter_mut().for_each(|v| *v = per_iter * 1e9 / *v);
        let _ = typical;
        "/s"
    }
    fn scale_for_machines(&self, _values: &mut [f64]) -> &'static str {
        "ns"
    }
}

fn configure<M: Measurement>(c: Criterion<M>, out_dir: &std::path::Path) -> Criterion<M> {
    c.warm_up_time(Duration::from_millis(300))
        .measurement_time(Duration::from_secs(1))
        .sample_size(20)
        .output_directory(out_dir)
        .configure_from_args()
}

fn run<M: Measurement>(mut c: Criterion<M>, out_dir: &std::path::Path) {
    if let Err(e) = bench(&mut c) {
        eprintln!("benchmark setup failed: {e}");
        std::process::exit(1);
    }
    c.final_summary();
    print_table(out_dir);
}

fn main() {
    // SAFETY: no other thread exists yet; candle and rayon read this variable later.
    unsafe { std::env::set_var("RAYON_NUM_THREADS", "1") };
    // target/<profile>/deps/<bench binary> -> target/criterion
    let out_dir = std::env::current_exe()
        .ok()
        .and_then(|exe| exe.ancestors().nth(3).map(|t| t.join("criterion")))
        .unwrap_or_else(|| PathBuf::from("target/criterion"));
    let wall = std::env::var("HAN_BENCH_CLOCK").is_ok_and(|v| v == "wall");
    if wall || !cfg!(target_os = "linux") {
        println!("clock: wall time");
        run(configure(Criterion::default().with_measurement(WallTime), &out_dir), &out_dir);
    } else {
        println!("clock: process CPU time");
        run(configure(Criterion::default().with_measurement(ProcessCpuTime), &out_dir), &out_dir);
    }
}
