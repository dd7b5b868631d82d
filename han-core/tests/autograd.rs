//! Autograd through the layer: the gradients of `u` and of the bias equal central finite
//! differences of the loss, in `f64`.

mod common;

use candle_core::{DType, Device, Module, Result, Tensor, Var};
use candle_nn::{VarBuilder, VarMap};
use common::*;
use han_core::HanLayer;

const ROWS: usize = 6;

/// `loss(u, b) = sum(|H_u x + b| * c)`, evaluated with constant tensors (the fused path).
fn loss(u: &[f64], b: &[f64], x: &Tensor, c: &Tensor) -> Result<f64> {
    let d = u.len();
    let l = HanLayer::new(t64(u, &[d])?, Some(t64(b, &[d])?))?;
    (l.forward(x)? * c)?.sum_all()?.to_scalar::<f64>()
}

/// Central differences of `loss` with respect to each entry of `u`, then of `b`.
fn fd_grads(u: &[f64], b: &[f64], x: &Tensor, c: &Tensor) -> Result<(Vec<f64>, Vec<f64>)> {
    const H: f64 = 1e-6;
    let mut gu = vec![0.0; u.len()];
    let mut gb = vec![0.0; b.len()];
    for i in 0..u.len() {
        let (mut up, mut um) = (u.to_vec(), u.to_vec());
        up[i] += H;
        um[i] -= H;
        gu[i] = (loss(&up, b, x, c)? - loss(&um, b, x, c)?) / (2.0 * H);
        let (mut bp, mut bm) = (b.to_vec(), b.to_vec());
        bp[i] += H;
        bm[i] -= H;
        gb[i] = (loss(u, &bp, x, c)? - loss(u, &bm, x, c)?) / (2.0 * H);
    }
    Ok((gu, gb))
}

fn check(d: usize, seed: u64) -> Result<()> {
    let mut rng = rng(seed);
    let u = normal(&mut rng, d);
    let b = uniform(&mut rng, d, -0.5, 0.5);
    let x = normal(&mut rng, ROWS * d);
    let c = normal(&mut rng, ROWS * d);
    // Finite differences are only meaningful away from the kinks of the abs.
    let z: Vec<f64> = dense_reflect(&householder(&u), d, &x)
        .chunks(d)
        .flat_map(|r| r.iter().zip(&b).map(|(v, b)| v + b).collect::<Vec<_>>())
        .collect();
    let kink = z.iter().fold(f64::INFINITY, |m, v| m.min(v.abs()));
    assert!(kink > 1e-4, "seed {seed}: a pre-activation is {kink:e} from a kink; pick another seed");

    let (xt, ct) = (t64(&x, &[ROWS, d])?, t64(&c, &[ROWS, d])?);
    let uv = Var::from_tensor(&t64(&u, &[d])?)?;
    let bv = Var::from_tensor(&t64(&b, &[d])?)?;
    let layer = HanLayer::new(uv.as_tensor().clone(), Some(bv.as_tensor().clone()))?;
    assert!(!layer.uses_fused(&xt), "variables must take the differentiable path");
    let grads = (layer.forward(&xt)? * &ct)?.sum_all()?.backward()?;
    let gu = flat(grads.get(uv.as_tensor()).expect("gradient of u"))?;
    let gb = flat(grads.get(bv.as_tensor()).expect("gradient of bias"))?;

    let (fu, fb) = fd_grads(&u, &b, &xt, &ct)?;
    // Only the direction of u matters, so the gradient of u is orthogonal to u (and zero for
    // d = 1, where H = -1 whatever u is): checked on the autograd gradient.
    let along_u: f64 = gu.iter().zip(&u).map(|(g, u)| g * u).sum();
    assert!(along_u.abs() < 1e-12 * norm(&gu).max(1.0) * norm(&u), "d = {d}: u . grad_u = {along_u:e}");
    if d == 1 {
        assert!(gu[0].abs() < 1e-12 && fu[0].abs() < 1e-8, "d = 1: grad_u = {gu:?}, fd {fu:?}");
        assert!(rel_err(&gb, &fb) < 1e-6);
        return Ok(());
    }
    assert!(rel_err(&gu, &fu) < 1e-6, "d = {d}: u gradient off by {:e} relative", rel_err(&gu, &fu));
    assert!(rel_err(&gb, &fb) < 1e-6, "d = {d}: bias gradient off by {:e} relative", rel_err(&gb, &fb));
    for (i, (a, f)) in gu.iter().zip(&fu).chain(gb.iter().zip(&fb)).enumerate() {
        assert!((a - f).abs() <= 1e-6 * f.abs().max(1e-2), "d = {d}, entry {i}: autograd {a}, fd {f}");
    }
    // The bias gradient has a closed form: sum over rows of c * sign(z).
    let want_b: Vec<f64> = (0..d).map(|i| (0..ROWS).map(|r| c[r * d + i] * z[r * d + i].signum()).sum()).collect();
    assert!(max_abs_diff(&gb, &want_b) < 1e-12);
    Ok(())
}

#[test]
fn gradients_of_u_and_bias_match_finite_differences() -> Result<()> {
    for (d, seed) in [(1, 1), (2, 2), (7, 3), (33, 4)] {
        check(d, seed)?;
    }
    Ok(())
}

#[test]
fn builder_variables_receive_gradients_and_a_step_lowers_the_loss() -> Result<()> {
    use candle_nn::Optimizer;
    let d = 8;
    let varmap = VarMap::new();
    let vb = VarBuilder::from_varmap(&varmap, DType::F64, &Device::Cpu);
    let layer = han_core::han(d, vb.pp("han"))?;
    let mut rng = rng(5);
    let x = t64(&normal(&mut rng, 32 * d), &[32, d])?;
    let target = t64(&uniform(&mut rng, 32 * d, 0.0, 1.0), &[32, d])?;
    let mse = |l: &HanLayer| -> Result<Tensor> { (l.forward(&x)? - &target)?.sqr()?.mean_all() };
    let before = mse(&layer)?.to_scalar::<f64>()?;
    let grads = mse(&layer)?.backward()?;
    let data = varmap.data().lock().expect("varmap lock").clone();
    for name in ["han.u", "han.bias"] {
        let g = grads.get(data[name].as_tensor()).expect("gradient");
        assert!(g.sqr()?.sum_all()?.to_scalar::<f64>()? > 0.0, "{name} has a zero gradient");
    }
    let mut sgd = candle_nn::SGD::new(varmap.all_vars(), 0.01)?;
    sgd.step(&grads)?;
    let after = mse(&layer)?.to_scalar::<f64>()?;
    assert!(after < before, "an SGD step did not lower the loss: {before} -> {after}");
    Ok(())
}
