//! The Jacobian of a Han-layer, and of a stack of them, is orthogonal: `J^T J = I`.
//!
//! Measured two independent ways in `f64`: central finite differences of the forward pass, and
//! candle's autograd (one backward pass over `d` copies of the point, with the identity as
//! cotangent, yields all rows of `J`).

mod common;

use candle_core::{Module, Result, Tensor, Var};
use common::*;
use han_core::HanLayer;

const D: usize = 16;
/// Finite-difference step. The map is piecewise affine, so central differences are exact up to
/// rounding as long as no pre-activation changes sign within the step (checked below).
const H: f64 = 1e-3;

fn stack(seed: u64, depth: usize) -> Result<Vec<HanLayer>> {
    let mut rng = rng(seed);
    let bound = 1.0 / (D as f64).sqrt();
    (0..depth)
        .map(|_| {
            let u = normal(&mut rng, D);
            let b = uniform(&mut rng, D, -bound, bound);
            HanLayer::new(t64(&u, &[D])?, Some(t64(&b, &[D])?))
        })
        .collect()
}

fn run(layers: &[HanLayer], x: &Tensor) -> Result<Tensor> {
    layers.iter().try_fold(x.clone(), |x, l| l.forward(&x))
}

/// The smallest `|H x + b|` entry over all layers at the input `x` (a single row): how far the
/// point is from a kink of any of the abs functions.
fn min_preactivation(layers: &[HanLayer], x: &[f64]) -> Result<f64> {
    let mut x = t64(x, &[1, D])?;
    let mut m = f64::INFINITY;
    for l in layers {
        let z = l.reflect(&x)?.broadcast_add(l.bias().expect("bias"))?;
        m = flat(&z)?.iter().fold(m, |m, v| m.min(v.abs()));
        x = z.abs()?;
    }
    Ok(m)
}

/// A random point whose pre-activations all lie at least `10 H` away from zero, so that finite
/// differences of step `H` (which move every pre-activation by at most `H`, each layer being
/// 1-Lipschitz) never cross a kink.
fn smooth_point(layers: &[HanLayer], seed: u64) -> Result<Vec<f64>> {
    let mut rng = rng(seed);
    for _ in 0..1000 {
        let x = normal(&mut rng, D);
        if min_preactivation(layers, &x)? > 10.0 * H {
            return Ok(x);
        }
    }
    panic!("no point away from the kinks found");
}

/// `J` (row-major `d x d`, `J[i][j] = dy_i / dx_j`) by central differences: one forward pass
/// over the `2 d` perturbed points.
fn jacobian_fd(layers: &[HanLayer], x: &[f64]) -> Result<Vec<f64>> {
    let mut pts = Vec::with_capacity(2 * D * D);
    for j in 0..D {
        for s in [H, -H] {
            let mut p = x.to_vec();
            p[j] += s;
            pts.extend(p);
        }
    }
    let y = flat(&run(layers, &t64(&pts, &[2 * D, D])?)?)?;
    let mut jac = vec![0.0; D * D];
    for j in 0..D {
        let (plus, minus) = (&y[2 * j * D..(2 * j + 1) * D], &y[(2 * j + 1) * D..(2 * j + 2) * D]);
        for i in 0..D {
            jac[i * D + j] = (plus[i] - minus[i]) / (2.0 * H);
        }
    }
    Ok(jac)
}

/// `J` by autograd: `D` copies of `x`, cotangent `I`, so row `k` of the gradient is `e_k^T J`.
fn jacobian_autograd(layers: &[HanLayer], x: &[f64]) -> Result<Vec<f64>> {
    let copies: Vec<f64> = (0..D).flat_map(|_| x.iter().copied()).collect();
    let xv = Var::from_tensor(&t64(&copies, &[D, D])?)?;
    let eye = Tensor::eye(D, candle_core::DType::F64, &candle_core::Device::Cpu)?;
    let loss = (run(layers, xv.as_tensor())? * eye)?.sum_all()?;
    let grads = loss.backward()?;
    flat(grads.get(xv.as_tensor()).expect("gradient of x"))
}

/// `max |(J^T J - I)_{ij}|`.
fn orthogonality_defect(j: &[f64]) -> f64 {
    let mut worst: f64 = 0.0;
    for a in 0..D {
        for b in 0..D {
            let s: f64 = (0..D).map(|k| j[k * D + a] * j[k * D + b]).sum();
            worst = worst.max((s - if a == b { 1.0 } else { 0.0 }).abs());
        }
    }
    worst
}

/// `max |J_ij - I_ij|`: a Jacobian equal to the identity would make the test vacuous.
fn distance_from_identity(j: &[f64]) -> f64 {
    (0..D * D).map(|k| (j[k] - if k % (D + 1) == 0 { 1.0 } else { 0.0 }).abs()).fold(0.0, f64::max)
}

fn check(depth: usize, seed: u64) -> Result<()> {
    let layers = stack(seed, depth)?;
    let x = smooth_point(&layers, seed + 1)?;
    let fd = jacobian_fd(&layers, &x)?;
    let ad = jacobian_autograd(&layers, &x)?;
    assert!(distance_from_identity(&fd) > 0.1, "depth {depth}: J is (nearly) the identity");
    let (dfd, dad) = (orthogonality_defect(&fd), orthogonality_defect(&ad));
    assert!(dfd < 1e-9, "depth {depth}: finite differences give |J^T J - I| = {dfd:e}");
    assert!(dad < 1e-9, "depth {depth}: autograd gives |J^T J - I| = {dad:e}");
    // The two measurements agree with each other.
    let diff = max_abs_diff(&fd, &ad);
    assert!(diff < 1e-9, "depth {depth}: finite differences and autograd differ by {diff:e}");
    Ok(())
}

#[test]
fn one_layer_has_orthogonal_jacobian() -> Result<()> {
    check(1, 11)
}

#[test]
fn fifty_layers_have_orthogonal_jacobian() -> Result<()> {
    check(50, 12)
}

#[test]
fn jacobian_is_sign_pattern_times_householder() -> Result<()> {
    // J = diag(sign(H x + b)) H, with H built explicitly.
    let layers = stack(13, 1)?;
    let x = smooth_point(&layers, 14)?;
    let u = flat(layers[0].u())?;
    let b = flat(layers[0].bias().expect("bias"))?;
    let h = householder(&u);
    let z: Vec<f64> = dense_reflect(&h, D, &x).iter().zip(&b).map(|(v, b)| v + b).collect();
    let want: Vec<f64> = (0..D * D).map(|k| z[k / D].signum() * h[k]).collect();
    let got = jacobian_fd(&layers, &x)?;
    assert!(max_abs_diff(&got, &want) < 1e-9);
    Ok(())
}
