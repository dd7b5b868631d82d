//! The fused kernel and the composed candle ops agree, on random shapes: batch 1, 1-D and 3-D
//! inputs, widths that are not a multiple of the SIMD width, strided and offset inputs, in `f32`
//! and `f64`; and `Module::forward` picks the fused path exactly when no gradient is needed.

mod common;

use candle_core::{DType, Module, Result, Tensor, Var};
use common::*;
use han_core::HanLayer;
use rand::Rng;

const DIMS: [usize; 12] = [1, 2, 3, 5, 7, 8, 9, 15, 17, 63, 65, 1000];

/// `|fused - composed| <= tol * (||x_row|| + ||b||)` for every element of every row.
fn assert_agree(l: &HanLayer, x: &Tensor, tol: f64) -> Result<()> {
    let d = l.dim();
    let fused = l.forward_fused(x)?;
    let composed = l.forward_composed(x)?;
    assert_eq!(fused.dims(), x.dims());
    assert_eq!(composed.dims(), x.dims());
    assert_eq!(fused.dtype(), x.dtype());
    let (f, c, xs) = (flat(&fused)?, flat(&composed)?, flat(x)?);
    let bn = l.bias().map(flat).transpose()?.map_or(0.0, |b| norm(&b));
    for (r, ((f, c), xr)) in f.chunks(d).zip(c.chunks(d)).zip(xs.chunks(d)).enumerate() {
        let scale = norm(xr) + bn;
        let err = max_abs_diff(f, c);
        assert!(err <= tol * scale, "shape {:?} {:?}, row {r}: error {err:e} > {tol:e} * {scale}", x.dims(), x.dtype());
    }
    Ok(())
}

fn make(d: usize, dtype: DType, bias: bool, rng: &mut rand_chacha::ChaCha8Rng) -> Result<HanLayer> {
    let u = normal(rng, d);
    let b = uniform(rng, d, -1.0, 1.0);
    let t = |v: &[f64]| {
        if dtype == DType::F32 { t32(v, &[d]) } else { t64(v, &[d]) }
    };
    HanLayer::new(t(&u)?, if bias { Some(t(&b)?) } else { None })
}

fn input(shape: &[usize], dtype: DType, rng: &mut rand_chacha::ChaCha8Rng) -> Result<Tensor> {
    let v = normal(rng, shape.iter().product());
    if dtype == DType::F32 { t32(&v, shape) } else { t64(&v, shape) }
}

#[test]
fn fused_and_composed_agree_on_random_shapes() -> Result<()> {
    let mut rng = rng(42);
    for (dtype, tol) in [(DType::F32, 1e-6), (DType::F64, 1e-6)] {
        for &d in &DIMS {
            for bias in [true, false] {
                let l = make(d, dtype, bias, &mut rng)?;
                let (a, b) = (rng.random_range(1..5), rng.random_range(1..7));
                for shape in [vec![d], vec![1, d], vec![a * b, d], vec![a, b, d], vec![2, a, b, d]] {
                    assert_agree(&l, &input(&shape, dtype, &mut rng)?, tol)?;
                }
            }
        }
    }
    Ok(())
}

#[test]
fn f64_paths_agree_to_rounding() -> Result<()> {
    let mut rng = rng(43);
    for &d in &DIMS {
        let l = make(d, DType::F64, true, &mut rng)?;
        assert_agree(&l, &input(&[3, 4, d], DType::F64, &mut rng)?, 1e-13)?;
    }
    Ok(())
}

#[test]
fn strided_and_offset_inputs() -> Result<()> {
    let mut rng = rng(44);
    for dtype in [DType::F32, DType::F64] {
        let d = 13;
        let l = make(d, dtype, true, &mut rng)?;
        // A transposed (non-contiguous) view, and a contiguous view starting at an offset.
        let xt = input(&[d, 6], dtype, &mut rng)?.t()?;
        assert!(!xt.is_contiguous());
        assert_agree(&l, &xt, 1e-6)?;
        let big = input(&[10, d], dtype, &mut rng)?;
        let mid = big.narrow(0, 3, 4)?;
        assert_agree(&l, &mid, 1e-6)?;
        // The offset view gives exactly the rows the whole tensor gives.
        let whole = l.forward_fused(&big)?.narrow(0, 3, 4)?;
        assert_eq!(flat(&l.forward_fused(&mid)?)?, flat(&whole)?);
    }
    Ok(())
}

#[test]
fn large_batches_that_use_threads_agree() -> Result<()> {
    // Above kernel::PAR_MIN_ELEMS elements the rows are split over the rayon pool.
    let mut rng = rng(45);
    let d = 129;
    let rows = han_core::kernel::PAR_MIN_ELEMS / d + 3;
    let l = make(d, DType::F32, true, &mut rng)?;
    let x = input(&[rows, d], DType::F32, &mut rng)?;
    assert_agree(&l, &x, 1e-6)?;
    // Row by row gives the same bits as the whole batch.
    let whole = l.forward_fused(&x)?;
    for r in [0, rows / 2, rows - 1] {
        let one = l.forward_fused(&x.narrow(0, r, 1)?)?;
        assert_eq!(flat(&one)?, flat(&whole.narrow(0, r, 1)?)?);
    }
    Ok(())
}

#[test]
fn forward_dispatch_follows_gradient_tracking() -> Result<()> {
    let mut rng = rng(46);
    let d = 10;
    let l = make(d, DType::F64, true, &mut rng)?;
    let x = input(&[3, d], DType::F64, &mut rng)?;
    // Constants: forward is the fused path, bit for bit, and records no op.
    assert!(l.uses_fused(&x));
    let y = l.forward(&x)?;
    assert_eq!(flat(&y)?, flat(&l.forward_fused(&x)?)?);
    assert!(!y.track_op());
    // A variable input: the composed path, which autograd can differentiate.
    let xv = Var::from_tensor(&x)?;
    assert!(!l.uses_fused(xv.as_tensor()));
    let y = l.forward(xv.as_tensor())?;
    assert!(y.track_op());
    assert_eq!(flat(&y)?, flat(&l.forward_composed(&x)?)?);
    assert!(y.sum_all()?.backward()?.get(xv.as_tensor()).is_some());
    // A variable parameter: also the composed path.
    let uv = Var::from_tensor(l.u())?;
    let lv = HanLayer::new(uv.as_tensor().clone(), l.bias().cloned())?;
    assert!(!lv.uses_fused(&x));
    // Other dtypes fall back to the composed path (and still compute the layer).
    let l16 = HanLayer::new(l.u().to_dtype(DType::F16)?, None)?;
    let x16 = x.to_dtype(DType::F16)?;
    assert!(!l16.uses_fused(&x16));
    assert_eq!(l16.forward(&x16)?.dtype(), DType::F16);
    assert!(l16.forward_fused(&x16).is_err());
    Ok(())
}
