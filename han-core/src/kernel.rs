//! The fused CPU kernel of the Han-layer.
//!
//! One pass over each row: the dot product `u . x`, then reflect, add the bias and take the
//! absolute value in a single sweep that writes the output. No intermediate buffers.
//!
//! The functions here work on plain slices so that they can be used both by the candle
//! custom op behind [`crate::HanLayer`] and by whole-network evaluators that keep their
//! activations in reusable buffers (see `han-models`' fast inference path).

/// A floating point element the kernels are written for (`f32` and `f64`).
pub trait Float:
    Copy
    + Send
    + Sync
    + PartialOrd
    + core::fmt::Debug
    + core::ops::Add<Output = Self>
    + core::ops::Sub<Output = Self>
    + core::ops::Mul<Output = Self>
    + core::ops::Div<Output = Self>
    + 'static
{
    /// Zero.
    const ZERO: Self;
    /// Absolute value.
    fn abs(self) -> Self;
    /// Conversion from `f64` (rounding where needed).
    fn from_f64(v: f64) -> Self;
    /// Conversion to `f64` (exact).
    fn to_f64(self) -> f64;
}

impl Float for f32 {
    const ZERO: Self = 0.0;
    #[inline(always)]
    fn abs(self) -> Self {
        f32::abs(self)
    }
    #[inline(always)]
    fn from_f64(v: f64) -> Self {
        v as f32
    }
    #[inline(always)]
    fn to_f64(self) -> f64 {
        self as f64
    }
}

impl Float for f64 {
    const ZERO: Self = 0.0;
    #[inline(always)]
    fn abs(self) -> Self {
        f64::abs(self)
    }
    #[inline(always)]
    fn from_f64(v: f64) -> Self {
        v
    }
    #[inline(always)]
    fn to_f64(self) -> f64 {
        self
    }
}

/// Number of independent accumulators in [`dot`]: enough for the compiler to keep a full
/// SIMD register of partial sums (8 x f32 = AVX, 8 x f64 = two AVX registers).
const LANES: usize = 8;

/// Dot product with `LANES` independent accumulators, so that it vectorises without
/// `-ffast-math` (the summation order is fixed, hence deterministic).
#[inline(always)]
pub fn dot<T: Float>(a: &[T], b: &[T]) -> T {
    debug_assert_eq!(a.len(), b.len());
    let n = a.len().min(b.len());
    let (a, b) = (&a[..n], &b[..n]);
    let mut acc = [T::ZERO; LANES];
    let mut ca = a.chunks_exact(LANES);
    let mut cb = b.chunks_exact(LANES);
    for (xa, xb) in (&mut ca).zip(&mut cb) {
        for l in 0..LANES {
            acc[l] = acc[l] + xa[l] * xb[l];
        }
    }
    let mut tail = T::ZERO;
    for (&x, &y) in ca.remainder().iter().zip(cb.remainder()) {
        tail = tail + x * y;
    }
    // Pairwise reduction of the lanes.
    let s4 = [acc[0] + acc[4], acc[1] + acc[5], acc[2] + acc[6], acc[3] + acc[7]];
    (s4[0] + s4[2]) + (s4[1] + s4[3]) + tail
}

/// The reflection scale `2 / (u . u)`.
///
/// Returns `None` when `u . u` is zero or not finite: such a `u` defines no reflection.
pub fn reflection_scale<T: Float>(u: &[T]) -> Option<T> {
    let uu = dot(u, u).to_f64();
    if uu > 0.0 && uu.is_finite() {
        Some(T::from_f64(2.0 / uu))
    } else {
        None
    }
}

/// One row of the Han-layer: `out = | x - scale (u . x) u + bias |`.
///
/// `scale` is `2 / (u . u)` ([`reflection_scale`]). All slices have the layer's width.
/// With `bias = None` the bias term is zero.
#[inline(always)]
pub fn han_row<T: Float>(x: &[T], u: &[T], bias: Option<&[T]>, scale: T, out: &mut [T]) {
    let d = u.len();
    let (x, out) = (&x[..d], &mut out[..d]);
    let c = dot(x, u) * scale;
    match bias {
        Some(b) => {
            let b = &b[..d];
            for i in 0..d {
                out[i] = (x[i] - c * u[i] + b[i]).abs();
            }
        }
        None => {
            for i in 0..d {
                out[i] = (x[i] - c * u[i]).abs();
            }
        }
    }
}

/// One row of the Han-layer in place: `x <- | x - scale (u . x) u + bias |`.
#[inline(always)]
pub fn han_row_inplace<T: Float>(x: &mut [T], u: &[T], bias: Option<&[T]>, scale: T) {
    let d = u.len();
    let x = &mut x[..d];
    let c = dot(x, u) * scale;
    match bias {
        Some(b) => {
            let b = &b[..d];
            for i in 0..d {
                x[i] = (x[i] - c * u[i] + b[i]).abs();
            }
        }
        None => {
            for i in 0..d {
                x[i] = (x[i] - c * u[i]).abs();
            }
        }
    }
}

/// Rows per parallel task below which the kernel stays on the calling thread.
///
/// A row of width `d` costs about `3 d` multiply-adds; waking a thread pool costs a few
/// microseconds, so threads only pay for blocks of at least this many elements.
pub const PAR_MIN_ELEMS: usize = 1 << 17;

/// The Han-layer over a row-major `[rows, d]` matrix `x` into `out` (same size).
///
/// Rows are split over the rayon pool only when the matrix holds at least
/// [`PAR_MIN_ELEMS`] elements; smaller inputs run on the calling thread.
pub fn han_rows<T: Float>(x: &[T], u: &[T], bias: Option<&[T]>, scale: T, out: &mut [T]) {
    let d = u.len();
    if d == 0 {
        return;
    }
    debug_assert_eq!(x.len(), out.len());
    debug_assert_eq!(x.len() % d, 0);
    if x.len() >= PAR_MIN_ELEMS && rayon::current_num_threads() > 1 {
        use rayon::prelude::*;
        // Blocks of roughly PAR_MIN_ELEMS / 4 elements, whole rows each.
        let rows_per_block = ((PAR_MIN_ELEMS / 4) / d).max(1);
        out.par_chunks_mut(rows_per_block * d)
            .zip(x.par_chunks(rows_per_block * d))
            .for_each(|(o, xi)| han_rows_serial(xi, u, bias, scale, o));
    } else {
        han_rows_serial(x, u, bias, scale, out);
    }
}

/// [`han_rows`] on the calling thread only.
pub fn han_rows_serial<T: Float>(x: &[T], u: &[T], bias: Option<&[T]>, scale: T, out: &mut [T]) {
    let d = u.len();
    if d == 0 {
        return;
    }
    for (xr, or) in x.chunks_exact(d).zip(out.chunks_exact_mut(d)) {
        han_row(xr, u, bias, scale, or);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn dot_matches_naive_sum_for_all_tail_lengths() {
        for n in 0..40usize {
            let a: Vec<f64> = (0..n).map(|i| (i as f64 * 0.37).sin()).collect();
            let b: Vec<f64> = (0..n).map(|i| (i as f64 * 1.3).cos()).collect();
            let naive: f64 = a.iter().zip(&b).map(|(x, y)| x * y).sum();
            assert!((dot(&a, &b) - naive).abs() <= 1e-12 * (1.0 + naive.abs()), "n = {n}");
        }
    }

    #[test]
    fn reflection_scale_rejects_zero_and_non_finite() {
        assert_eq!(reflection_scale::<f32>(&[0.0, 0.0]), None);
        assert_eq!(reflection_scale::<f32>(&[]), None);
        assert_eq!(reflection_scale::<f64>(&[f64::NAN, 1.0]), None);
        assert_eq!(reflection_scale::<f64>(&[f64::INFINITY]), None);
        assert_eq!(reflection_scale::<f64>(&[3.0, 4.0]), Some(2.0 / 25.0));
    }

    #[test]
    fn row_reflects_onto_minus_u() {
        // x = u is reflected to -u; with no bias the abs gives |u|.
        let u = [1.0f64, -2.0, 2.0];
        let s = reflection_scale(&u).unwrap_or(0.0);
        let mut out = [0.0; 3];
        han_row(&u, &u, None, s, &mut out);
        assert_eq!(out, [1.0, 2.0, 2.0]);
        // x orthogonal to u is unchanged; bias is added before the abs.
        let x = [2.0, 1.0, 0.0];
        han_row(&x, &u, Some(&[-3.0, 0.5, -1.0]), s, &mut out);
        assert_eq!(out, [1.0, 1.5, 1.0]);
    }

    #[test]
    fn parallel_and_serial_agree_bitwise() {
        let d = 300;
        let rows = PAR_MIN_ELEMS / d + 7;
        let x: Vec<f32> = (0..rows * d).map(|i| ((i * 7919) % 1000) as f32 / 500.0 - 1.0).collect();
        let u: Vec<f32> = (0..d).map(|i| (i as f32).cos()).collect();
        let b: Vec<f32> = (0..d).map(|i| (i as f32 * 0.1).sin() * 0.05).collect();
        let s = reflection_scale(&u).unwrap_or(0.0);
        let mut a = vec![0.0; x.len()];
        let mut c = vec![0.0; x.len()];
        han_rows(&x, &u, Some(&b), s, &mut a);
        han_rows_serial(&x, &u, Some(&b), s, &mut c);
        assert_eq!(a, c);
    }
}
