//! The layer equals its dense definition `|H x + b|`, with the Householder matrix
//! `H = I - 2 u u^T / ||u||^2` built explicitly (see `common::householder`), on random data.

mod common;

use candle_core::{Module, Result};
use common::*;
use han_core::{HanLayer, kernel};

const DIMS: [usize; 5] = [1, 2, 7, 64, 257];
const ROWS: usize = 5;

/// Every element within `tol` times the scale of its row (`||x|| + ||b||`, the largest an
/// output element can be).
fn assert_rows_close(got: &[f64], want: &[f64], x: &[f64], b: Option<&[f64]>, d: usize, tol: f64, what: &str) {
    let bn = b.map_or(0.0, norm);
    for (r, ((g, w), xr)) in got.chunks(d).zip(want.chunks(d)).zip(x.chunks(d)).enumerate() {
        let scale = norm(xr) + bn;
        let err = max_abs_diff(g, w);
        assert!(err <= tol * scale, "{what}: d = {d}, row {r}: max error {err:e} > {tol:e} * {scale}");
    }
}

/// Random `u`, `b` and `ROWS` rows of `x`, the inputs spanning several scales.
fn data(seed: u64, d: usize) -> (Vec<f64>, Vec<f64>, Vec<f64>) {
    let mut rng = rng(seed);
    let u = normal(&mut rng, d);
    let b = uniform(&mut rng, d, -1.0, 1.0);
    let mut x = normal(&mut rng, ROWS * d);
    // Rows of different magnitudes: 1, 10, 0.01, 1000, 1.
    for (r, s) in [1.0, 10.0, 0.01, 1000.0, 1.0].iter().enumerate() {
        x[r * d..(r + 1) * d].iter_mut().for_each(|v| *v *= s);
    }
    (u, b, x)
}

#[test]
fn forward_equals_dense_form_f64() -> Result<()> {
    for (k, &d) in DIMS.iter().enumerate() {
        let (u, b, x) = data(100 + k as u64, d);
        let want = dense_han(&u, Some(&b), &x);
        let layer = HanLayer::new(t64(&u, &[d])?, Some(t64(&b, &[d])?))?;
        let xt = t64(&x, &[ROWS, d])?;
        for (what, y) in [
            ("forward", layer.forward(&xt)?),
            ("forward_fused", layer.forward_fused(&xt)?),
            ("forward_composed", layer.forward_composed(&xt)?),
        ] {
            assert_eq!(y.dims(), [ROWS, d], "{what}");
            assert_rows_close(&flat(&y)?, &want, &x, Some(&b), d, 1e-13, what);
        }
    }
    Ok(())
}

#[test]
fn forward_without_bias_equals_dense_form() -> Result<()> {
    for (k, &d) in DIMS.iter().enumerate() {
        let (u, _, x) = data(200 + k as u64, d);
        let want = dense_han(&u, None, &x);
        let layer = HanLayer::new(t64(&u, &[d])?, None)?;
        let xt = t64(&x, &[ROWS, d])?;
        for (what, y) in [("fused", layer.forward_fused(&xt)?), ("composed", layer.forward_composed(&xt)?)] {
            assert_rows_close(&flat(&y)?, &want, &x, None, d, 1e-13, what);
        }
    }
    Ok(())
}

#[test]
fn forward_equals_dense_form_f32() -> Result<()> {
    for (k, &d) in DIMS.iter().enumerate() {
        let (u, b, x) = data(300 + k as u64, d);
        // The reference sees exactly the f32-rounded inputs.
        let r32 = |v: &[f64]| v.iter().map(|&x| x as f32 as f64).collect::<Vec<f64>>();
        let (u, b, x) = (r32(&u), r32(&b), r32(&x));
        let want = dense_han(&u, Some(&b), &x);
        let layer = HanLayer::new(t32(&u, &[d])?, Some(t32(&b, &[d])?))?;
        let xt = t32(&x, &[ROWS, d])?;
        for (what, y) in [("fused", layer.forward_fused(&xt)?), ("composed", layer.forward_composed(&xt)?)] {
            assert_eq!(y.dtype(), candle_core::DType::F32);
            assert_rows_close(&flat(&y)?, &want, &x, Some(&b), d, 1e-5, what);
        }
    }
    Ok(())
}

#[test]
fn reflect_equals_dense_householder_product() -> Result<()> {
    for (k, &d) in DIMS.iter().enumerate() {
        let (u, _, x) = data(400 + k as u64, d);
        let want = dense_reflect(&householder(&u), d, &x);
        let layer = HanLayer::new(t64(&u, &[d])?, None)?;
        let got = flat(&layer.reflect(&t64(&x, &[ROWS, d])?)?)?;
        assert_rows_close(&got, &want, &x, None, d, 1e-13, "reflect");
    }
    Ok(())
}

#[test]
fn slice_kernels_equal_dense_form() {
    for (k, &d) in DIMS.iter().enumerate() {
        let (u, b, x) = data(500 + k as u64, d);
        let want = dense_han(&u, Some(&b), &x);
        let scale = kernel::reflection_scale(&u).expect("u is non-zero");
        let mut out = vec![f64::NAN; x.len()];
        kernel::han_rows(&x, &u, Some(&b), scale, &mut out);
        assert_rows_close(&out, &want, &x, Some(&b), d, 1e-13, "han_rows");
        kernel::han_rows_serial(&x, &u, Some(&b), scale, &mut out);
        assert_rows_close(&out, &want, &x, Some(&b), d, 1e-13, "han_rows_serial");
        let mut inplace = x.clone();
        for row in inplace.chunks_exact_mut(d) {
            kernel::han_row_inplace(row, &u, Some(&b), scale);
        }
        assert_rows_close(&inplace, &want, &x, Some(&b), d, 1e-13, "han_row_inplace");
    }
}

#[test]
fn width_one_is_negation_then_bias_and_abs() -> Result<()> {
    // With d = 1, H = 1 - 2 = -1 whatever u is: y = |b - x|.
    let layer = HanLayer::new(t64(&[-0.3], &[1])?, Some(t64(&[0.25], &[1])?))?;
    let x = t64(&[2.0, -1.0, 0.25], &[3, 1])?;
    for y in [layer.forward_fused(&x)?, layer.forward_composed(&x)?] {
        assert!(max_abs_diff(&flat(&y)?, &[1.75, 1.25, 0.0]) < 1e-15);
    }
    Ok(())
}

#[test]
fn builder_layer_equals_dense_form_of_its_own_tensors() -> Result<()> {
    use candle_nn::{VarBuilder, VarMap};
    let d = 64;
    let varmap = VarMap::new();
    let vb = VarBuilder::from_varmap(&varmap, candle_core::DType::F64, &candle_core::Device::Cpu);
    let layer = han_core::han(d, vb.pp("blocks.0"))?;
    let u = flat(layer.u())?;
    let b = flat(layer.bias().expect("han() has a bias"))?;
    // The authors' init: the bias lies in (-1/sqrt(d), 1/sqrt(d)).
    assert!(b.iter().all(|v| v.abs() < 1.0 / (d as f64).sqrt()));
    let x = normal(&mut rng(600), ROWS * d);
    let want = dense_han(&u, Some(&b), &x);
    // Variables track ops, so forward takes the composed path; the fused one must agree.
    let xt = t64(&x, &[ROWS, d])?;
    assert_rows_close(&flat(&layer.forward(&xt)?)?, &want, &x, Some(&b), d, 1e-13, "forward");
    assert_rows_close(&flat(&layer.forward_fused(&xt)?)?, &want, &x, Some(&b), d, 1e-13, "fused");
    Ok(())
}
