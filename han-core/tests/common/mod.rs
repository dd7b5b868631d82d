//! Helpers shared by the integration tests: seeded random data and an independent reference
//! implementation of the Han-layer written with plain `f64` loops.
//!
//! Each test binary uses a subset of these helpers.
#![allow(dead_code)]

use candle_core::{Device, Result, Tensor};
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;

/// A seeded random number generator (candle's own CPU RNG cannot be seeded).
pub fn rng(seed: u64) -> ChaCha8Rng {
    ChaCha8Rng::seed_from_u64(seed)
}

/// `n` standard normal samples (Box-Muller, so that no extra crate is needed).
pub fn normal(rng: &mut ChaCha8Rng, n: usize) -> Vec<f64> {
    (0..n)
        .map(|_| {
            let u1: f64 = 1.0 - rng.random::<f64>(); // in (0, 1]
            let u2: f64 = rng.random::<f64>();
            (-2.0 * u1.ln()).sqrt() * (std::f64::consts::TAU * u2).cos()
        })
        .collect()
}

/// `n` samples uniform in `[lo, hi)`.
pub fn uniform(rng: &mut ChaCha8Rng, n: usize, lo: f64, hi: f64) -> Vec<f64> {
    (0..n).map(|_| rng.random_range(lo..hi)).collect()
}

/// An `f64` tensor of the given shape from a vector.
pub fn t64(v: &[f64], shape: &[usize]) -> Result<Tensor> {
    Tensor::from_vec(v.to_vec(), shape, &Device::Cpu)
}

/// An `f32` tensor of the given shape from `f64` values (rounded).
pub fn t32(v: &[f64], shape: &[usize]) -> Result<Tensor> {
    Tensor::from_vec(v.iter().map(|&x| x as f32).collect::<Vec<f32>>(), shape, &Device::Cpu)
}

/// All elements of a tensor as `f64`, in row-major order.
pub fn flat(t: &Tensor) -> Result<Vec<f64>> {
    t.to_dtype(candle_core::DType::F64)?.flatten_all()?.to_vec1::<f64>()
}

/// The Householder matrix `H = I - 2 u u^T / (u^T u)`, built explicitly, row-major `d x d`.
pub fn householder(u: &[f64]) -> Vec<f64> {
    let d = u.len();
    let uu: f64 = u.iter().map(|v| v * v).sum();
    let mut h = vec![0.0; d * d];
    for i in 0..d {
        for j in 0..d {
            let delta = if i == j { 1.0 } else { 0.0 };
            h[i * d + j] = delta - 2.0 * u[i] * u[j] / uu;
        }
    }
    h
}

/// The dense form `H x` (no bias, no abs) for every row of `x` (row-major `[rows, d]`).
pub fn dense_reflect(h: &[f64], d: usize, x: &[f64]) -> Vec<f64> {
    let mut y = vec![0.0; x.len()];
    for (xr, yr) in x.chunks_exact(d).zip(y.chunks_exact_mut(d)) {
        for i in 0..d {
            let mut s = 0.0;
            for j in 0..d {
                s += h[i * d + j] * xr[j];
            }
            yr[i] = s;
        }
    }
    y
}

/// The dense form `|H x + b|` for every row of `x` (row-major `[rows, d]`).
pub fn dense_han(u: &[f64], b: Option<&[f64]>, x: &[f64]) -> Vec<f64> {
    let d = u.len();
    let mut y = dense_reflect(&householder(u), d, x);
    for yr in y.chunks_exact_mut(d) {
        for i in 0..d {
            yr[i] = (yr[i] + b.map_or(0.0, |b| b[i])).abs();
        }
    }
    y
}

/// Euclidean norm.
pub fn norm(v: &[f64]) -> f64 {
    v.iter().map(|x| x * x).sum::<f64>().sqrt()
}

/// `max_i |a_i - b_i|`.
pub fn max_abs_diff(a: &[f64], b: &[f64]) -> f64 {
    assert_eq!(a.len(), b.len(), "length mismatch");
    a.iter().zip(b).map(|(x, y)| (x - y).abs()).fold(0.0, f64::max)
}

/// `||a - b|| / ||b||` (the relative error of `a` against the reference `b`).
pub fn rel_err(a: &[f64], b: &[f64]) -> f64 {
    assert_eq!(a.len(), b.len(), "length mismatch");
    let diff: Vec<f64> = a.iter().zip(b).map(|(x, y)| x - y).collect();
    norm(&diff) / norm(b).max(f64::MIN_POSITIVE)
}
