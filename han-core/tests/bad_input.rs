//! Bad input is an error, never a panic, and the error names what is wrong; NaN input behaves
//! as documented in the crate docs (the row holding a NaN becomes all NaN, other rows are
//! untouched), in both paths.

mod common;

use candle_core::{DType, Device, Module, Result, Tensor};
use common::*;
use han_core::HanLayer;

fn layer(d: usize) -> Result<HanLayer> {
    let mut rng = rng(d as u64);
    HanLayer::new(t64(&normal(&mut rng, d), &[d])?, Some(t64(&uniform(&mut rng, d, -1.0, 1.0), &[d])?))
}

/// Every path of the layer, so that each check covers all of them.
fn all_paths(l: &HanLayer, x: &Tensor) -> [(&'static str, Result<Tensor>); 4] {
    [
        ("forward", l.forward(x)),
        ("forward_fused", l.forward_fused(x)),
        ("forward_composed", l.forward_composed(x)),
        ("reflect", l.reflect(x)),
    ]
}

fn assert_err_contains(r: Result<impl std::fmt::Debug>, needle: &str, what: &str) {
    match r {
        Ok(v) => panic!("{what}: expected an error containing {needle:?}, got Ok({v:?})"),
        Err(e) => assert!(e.to_string().contains(needle), "{what}: error {e} lacks {needle:?}"),
    }
}

#[test]
fn wrong_last_dimension_is_an_error() -> Result<()> {
    let l = layer(5)?;
    for shape in [vec![4], vec![2, 4], vec![2, 6], vec![5, 2], vec![1, 5, 1]] {
        let x = Tensor::ones(shape.as_slice(), DType::F64, &Device::Cpu)?;
        for (what, r) in all_paths(&l, &x) {
            assert_err_contains(r, "does not match layer width 5", what);
        }
    }
    Ok(())
}

#[test]
fn empty_and_scalar_inputs_are_errors() -> Result<()> {
    let l = layer(5)?;
    for shape in [vec![0, 5], vec![3, 0, 5], vec![0]] {
        let x = Tensor::zeros(shape.as_slice(), DType::F64, &Device::Cpu)?;
        for (what, r) in all_paths(&l, &x) {
            assert!(r.is_err(), "{what} accepted an empty input of shape {shape:?}");
        }
    }
    let scalar = Tensor::new(1.0f64, &Device::Cpu)?;
    for (what, r) in all_paths(&l, &scalar) {
        assert_err_contains(r, "scalar", what);
    }
    Ok(())
}

#[test]
fn dtype_mismatch_is_an_error() -> Result<()> {
    let l = layer(5)?;
    for dtype in [DType::F32, DType::U32, DType::F16] {
        let x = Tensor::ones((2, 5), dtype, &Device::Cpu)?;
        for (what, r) in all_paths(&l, &x) {
            assert_err_contains(r, "dtype", what);
        }
    }
    Ok(())
}

#[test]
fn bad_parameters_are_errors() -> Result<()> {
    let v = |x: &[f64]| t64(x, &[x.len()]);
    // u = 0 defines no reflection; neither does a non-finite u.
    assert_err_contains(HanLayer::new(v(&[0.0; 4])?, None), "non-zero", "u = 0");
    assert_err_contains(HanLayer::new(v(&[0.0; 4])?, Some(v(&[1.0; 4])?)), "non-zero", "u = 0");
    assert!(HanLayer::new(v(&[1.0, f64::INFINITY])?, None).is_err());
    assert!(HanLayer::new(v(&[1.0, f64::NAN])?, None).is_err());
    // A finite u whose u . u overflows (or underflows to zero) in its dtype defines no
    // reflection in that dtype (the composed path would silently compute H = I): rejected.
    for tiny_or_big in [3e20f32, 1e-25] {
        let u = Tensor::new(&[tiny_or_big, tiny_or_big], &Device::Cpu)?;
        assert_err_contains(HanLayer::new(u, None), "rescale", "u . u out of f32 range");
    }
    // Empty u, u not a vector, integer u.
    assert_err_contains(HanLayer::new(v(&[])?, None), "empty", "empty u");
    assert_err_contains(HanLayer::new(Tensor::ones((2, 3), DType::F64, &Device::Cpu)?, None), "[2, 3]", "2-D u");
    assert_err_contains(HanLayer::new(Tensor::new(&[1u32, 2], &Device::Cpu)?, None), "dtype", "integer u");
    assert!(HanLayer::new(Tensor::new(1.0f64, &Device::Cpu)?, None).is_err());
    // Mismatched bias: length, rank, dtype.
    let u = v(&[1.0, 2.0, 3.0])?;
    assert_err_contains(HanLayer::new(u.clone(), Some(v(&[1.0, 2.0])?)), "bias must have shape [3]", "short bias");
    assert_err_contains(HanLayer::new(u.clone(), Some(v(&[1.0; 4])?)), "[4]", "long bias");
    assert_err_contains(
        HanLayer::new(u.clone(), Some(Tensor::ones((1, 3), DType::F64, &Device::Cpu)?)),
        "[1, 3]",
        "2-D bias",
    );
    assert_err_contains(
        HanLayer::new(u.clone(), Some(Tensor::ones(3, DType::F32, &Device::Cpu)?)),
        "dtype",
        "f32 bias",
    );
    assert_err_contains(HanLayer::new(u, Some(v(&[])?)), "bias", "empty bias");
    Ok(())
}

#[test]
fn nan_row_becomes_all_nan_and_other_rows_are_untouched() -> Result<()> {
    let d = 9;
    let l = layer(d)?;
    let mut x = normal(&mut rng(99), 4 * d);
    let clean = t64(&x, &[4, d])?;
    x[d + 3] = f64::NAN; // row 1
    let dirty = t64(&x, &[4, d])?;
    for (what, clean_y, dirty_y) in [
        ("fused", l.forward_fused(&clean)?, l.forward_fused(&dirty)?),
        ("composed", l.forward_composed(&clean)?, l.forward_composed(&dirty)?),
    ] {
        let (c, y) = (flat(&clean_y)?, flat(&dirty_y)?);
        assert!(y[d..2 * d].iter().all(|v| v.is_nan()), "{what}: row 1 is {:?}", &y[d..2 * d]);
        for r in [0, 2, 3] {
            let row = r * d..(r + 1) * d;
            assert_eq!(y[row.clone()], c[row], "{what}: row {r} changed");
        }
    }
    // f32, 3-D input, through forward: the same.
    let l32 = HanLayer::new(l.u().to_dtype(DType::F32)?, None)?;
    let mut x32: Vec<f32> = x.iter().map(|&v| v as f32).collect();
    x32[d + 3] = 1.0;
    x32[2 * d] = f32::NAN; // row 2
    let y = l32.forward(&Tensor::from_vec(x32, (2, 2, d), &Device::Cpu)?)?;
    let y = flat(&y)?;
    assert!(y[2 * d..3 * d].iter().all(|v| v.is_nan()));
    assert!(y[..2 * d].iter().chain(&y[3 * d..]).all(|v| v.is_finite()));
    Ok(())
}

#[test]
fn infinite_input_gives_a_non_finite_row_and_leaves_others_alone() -> Result<()> {
    let d = 6;
    let l = layer(d)?;
    let mut x = normal(&mut rng(98), 3 * d);
    x[d] = f64::INFINITY;
    let xt = t64(&x, &[3, d])?;
    for (what, y) in [("fused", l.forward_fused(&xt)?), ("composed", l.forward_composed(&xt)?)] {
        let y = flat(&y)?;
        assert!(y[d..2 * d].iter().all(|v| !v.is_finite()), "{what}: row 1 is {:?}", &y[d..2 * d]);
        assert!(y[..d].iter().chain(&y[2 * d..]).all(|v| v.is_finite()), "{what}");
    }
    Ok(())
}
