//! The fused CPU kernel of the Han-layer.
//!
//! One pass over each row: the dot product `u . x`, then reflect, add the bias and take the
//! absolute value in a single sweep that writes the output. No intermediate buffers.
//!
//! The functions here work on plain slices so that they can be used both by the candle
//! custom op behind [`crate::HanLayer`] and by whole-network evaluators that keep their
//! activations in reusable buffers (see `han-models`' fast inference path).
//!
//! On `x86_64` the row loops are compiled twice, for the SSE2 baseline and for AVX2, and the
//! CPU picks one at run time. The summation order is fixed by the code (32 lane accumulators,
//! then a pairwise reduction), not by the vector width, so both give the same bits, and so do
//! the serial, parallel, row-by-row and in-place entry points.

use core::mem::MaybeUninit;

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

/// Defines `$name` to run `$portable` (an `#[inline(always)]` function with the same
/// signature) compiled for AVX2 when the CPU has it, for the target's baseline (SSE2 on
/// `x86_64`) otherwise. The instructions differ, not the operations: Rust never fuses a
/// multiply and an add on its own, and the summation order is fixed by the code, so both
/// variants give the same bits.
///
/// There is no AVX-512 variant: the loops are bound by loads and stores, where 512-bit
/// registers gain little over AVX2's three loads a cycle, and on some Xeons they lower the
/// clock of the whole core.
macro_rules! multiversioned {
    (
        $(#[$meta:meta])*
        $vis:vis fn $name:ident<$($g:ident: $bound:path),+>($($arg:ident: $ty:ty),* $(,)?)
            $(-> $ret:ty)? = $portable:ident;
    ) => {
        $(#[$meta])*
        #[inline]
        $vis fn $name<$($g: $bound),+>($($arg: $ty),*) $(-> $ret)? {
            #[cfg(target_arch = "x86_64")]
            {
                #[target_feature(enable = "avx2")]
                fn avx2<$($g: $bound),+>($($arg: $ty),*) $(-> $ret)? {
                    $portable($($arg),*)
                }
                if std::arch::is_x86_feature_detected!("avx2") {
                    // SAFETY: the CPU supports AVX2, the only requirement of `avx2`.
                    return unsafe { avx2($($arg),*) };
                }
            }
            $portable($($arg),*)
        }
    };
}

/// Number of independent accumulators in [`dot`]. A running sum is a chain of dependent
/// additions (about 4 cycles each), so a single accumulator register would leave the adder
/// mostly idle; 32 lanes are 4 AVX registers of `f32` (8 SSE registers), enough for the loads,
/// not the additions, to set the pace. The lane count fixes the summation order, so results
/// are the same bits whichever instruction set runs them.
const LANES: usize = 32;

/// Pairwise sum of the lane accumulators (a fixed order, hence deterministic).
#[inline(always)]
fn reduce<T: Float>(mut acc: [T; LANES]) -> T {
    let mut n = LANES;
    while n > 1 {
        n /= 2;
        for l in 0..n {
            acc[l] = acc[l] + acc[l + n];
        }
    }
    acc[0]
}

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
    reduce(acc) + tail
}

/// `(x . u, u . u)` in one pass over both slices, each bit for bit equal to [`dot`]: the
/// second sum rides along the first at no extra memory traffic.
#[inline(always)]
pub fn dot_and_norm2<T: Float>(x: &[T], u: &[T]) -> (T, T) {
    debug_assert_eq!(x.len(), u.len());
    let n = x.len().min(u.len());
    let (x, u) = (&x[..n], &u[..n]);
    let mut xu = [T::ZERO; LANES];
    let mut uu = [T::ZERO; LANES];
    let mut cx = x.chunks_exact(LANES);
    let mut cu = u.chunks_exact(LANES);
    for (xa, ua) in (&mut cx).zip(&mut cu) {
        for l in 0..LANES {
            xu[l] = xu[l] + xa[l] * ua[l];
            uu[l] = uu[l] + ua[l] * ua[l];
        }
    }
    let (mut txu, mut tuu) = (T::ZERO, T::ZERO);
    for (&a, &b) in cx.remainder().iter().zip(cu.remainder()) {
        txu = txu + a * b;
        tuu = tuu + b * b;
    }
    (reduce(xu) + txu, reduce(uu) + tuu)
}

/// The reflection scale `2 / (u . u)`.
///
/// Returns `None` when `u . u` is zero or not finite: such a `u` defines no reflection.
pub fn reflection_scale<T: Float>(u: &[T]) -> Option<T> {
    scale_from_norm2(dot(u, u))
}

/// `2 / uu`, or `None` when `uu` is zero or not finite.
#[inline]
fn scale_from_norm2<T: Float>(uu: T) -> Option<T> {
    let uu = uu.to_f64();
    if uu > 0.0 && uu.is_finite() { Some(T::from_f64(2.0 / uu)) } else { None }
}

/// A place a kernel writes one output element to: an initialised element, or uninitialised
/// memory (so that a fresh output buffer needs no zeroing first).
pub(crate) trait Slot<T>: Send {
    /// Stores `v`.
    fn put(&mut self, v: T);
}

impl<T: Float> Slot<T> for T {
    #[inline(always)]
    fn put(&mut self, v: T) {
        *self = v;
    }
}

impl<T: Float> Slot<T> for MaybeUninit<T> {
    #[inline(always)]
    fn put(&mut self, v: T) {
        self.write(v);
    }
}

/// The sweep of one row once `c = scale (u . x)` is known: `out = |x - c u + b|`.
#[inline(always)]
fn sweep<T: Float, S: Slot<T>>(x: &[T], u: &[T], bias: Option<&[T]>, c: T, out: &mut [S]) {
    let d = u.len();
    let (x, out) = (&x[..d], &mut out[..d]);
    match bias {
        Some(b) => {
            let b = &b[..d];
            for (((o, &x), &u), &b) in out.iter_mut().zip(x).zip(u).zip(b) {
                o.put((x - c * u + b).abs());
            }
        }
        None => {
            for ((o, &x), &u) in out.iter_mut().zip(x).zip(u) {
                o.put((x - c * u).abs());
            }
        }
    }
}

/// One row of the Han-layer: `out = | x - scale (u . x) u + bias |`.
///
/// `scale` is `2 / (u . u)` ([`reflection_scale`]). All slices have the layer's width.
/// With `bias = None` the bias term is zero.
#[inline]
pub fn han_row<T: Float>(x: &[T], u: &[T], bias: Option<&[T]>, scale: T, out: &mut [T]) {
    let d = u.len();
    rows_serial(&x[..d], u, bias, scale, &mut out[..d]);
}

multiversioned! {
    /// One row of the Han-layer in place: `x <- | x - scale (u . x) u + bias |`.
    pub fn han_row_inplace<T: Float>(x: &mut [T], u: &[T], bias: Option<&[T]>, scale: T)
        = row_inplace_portable;
}

#[inline(always)]
fn row_inplace_portable<T: Float>(x: &mut [T], u: &[T], bias: Option<&[T]>, scale: T) {
    let d = u.len();
    let x = &mut x[..d];
    let c = dot(x, u) * scale;
    match bias {
        Some(b) => {
            for ((x, &u), &b) in x.iter_mut().zip(u).zip(&b[..d]) {
                *x = (*x - c * u + b).abs();
            }
        }
        None => {
            for (x, &u) in x.iter_mut().zip(u) {
                *x = (*x - c * u).abs();
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
    rows_maybe_parallel(x, u, bias, scale, out);
}

/// [`han_rows`] on the calling thread only.
pub fn han_rows_serial<T: Float>(x: &[T], u: &[T], bias: Option<&[T]>, scale: T, out: &mut [T]) {
    rows_serial(x, u, bias, scale, out);
}

multiversioned! {
    /// [`rows_serial_portable`] for the CPU it runs on.
    fn rows_serial<T: Float, S: Slot<T>>(
        x: &[T],
        u: &[T],
        bias: Option<&[T]>,
        scale: T,
        out: &mut [S],
    ) = rows_serial_portable;
}

#[inline(always)]
fn rows_serial_portable<T: Float, S: Slot<T>>(x: &[T], u: &[T], bias: Option<&[T]>, scale: T, out: &mut [S]) {
    let d = u.len();
    if d == 0 {
        return;
    }
    for (xr, or) in x.chunks_exact(d).zip(out.chunks_exact_mut(d)) {
        let c = dot(xr, u) * scale;
        sweep(xr, u, bias, c, or);
    }
}

fn rows_maybe_parallel<T: Float, S: Slot<T>>(x: &[T], u: &[T], bias: Option<&[T]>, scale: T, out: &mut [S]) {
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
            .for_each(|(o, xi)| rows_serial(xi, u, bias, scale, o));
    } else {
        rows_serial(x, u, bias, scale, out);
    }
}

/// The Han-layer over a row-major `[rows, d]` matrix into a new vector, for the fused op.
///
/// Computes `u . u` together with the first row's dot product (one pass instead of two at
/// batch 1) and writes the output without zeroing it first. `None` when `u . u` is zero or not
/// finite, or when `x` is not a whole number of non-empty rows.
pub(crate) fn han_rows_to_vec<T: Float>(x: &[T], u: &[T], bias: Option<&[T]>) -> Option<Vec<T>> {
    let d = u.len();
    if d == 0 || x.is_empty() || !x.len().is_multiple_of(d) || bias.is_some_and(|b| b.len() != d) {
        return None;
    }
    let mut out: Vec<T> = Vec::with_capacity(x.len());
    let spare = &mut out.spare_capacity_mut()[..x.len()];
    let (first, rest) = spare.split_at_mut(d);
    let scale = first_row(&x[..d], u, bias, first)?;
    rows_maybe_parallel(&x[d..], u, bias, scale, rest);
    // SAFETY: `first_row` returned `Some`, so it wrote the first `d` elements, and
    // `rows_maybe_parallel` wrote the other `x.len() - d` (every element of every chunk:
    // `rest.len()` is a multiple of `d`), all within the capacity reserved above.
    unsafe { out.set_len(x.len()) };
    Some(out)
}

multiversioned! {
    /// The first row of [`han_rows_to_vec`]: `u . u` rides along `x . u`. Writes the row and
    /// returns the scale `2 / (u . u)`, or writes nothing and returns `None` when there is none.
    fn first_row<T: Float>(x: &[T], u: &[T], bias: Option<&[T]>, out: &mut [MaybeUninit<T>])
        -> Option<T> = first_row_portable;
}

#[inline(always)]
fn first_row_portable<T: Float>(x: &[T], u: &[T], bias: Option<&[T]>, out: &mut [MaybeUninit<T>]) -> Option<T> {
    let (xu, uu) = dot_and_norm2(x, u);
    let scale = scale_from_norm2(uu)?;
    sweep(x, u, bias, xu * scale, out);
    Some(scale)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn dot_matches_naive_sum_for_all_tail_lengths() {
        for n in 0..100usize {
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

    /// Deterministic test data without an RNG dependency.
    fn wave(n: usize, f: f64) -> Vec<f64> {
        (0..n).map(|i| ((i as f64 + 1.0) * f).sin()).collect()
    }

    fn all_entry_points_agree<T: Float>(conv: impl Fn(&[f64]) -> Vec<T>) {
        for d in [1usize, 2, 7, 31, 32, 33, 64, 100, 257] {
            let rows = 3;
            let (x, u, b) = (conv(&wave(rows * d, 0.77)), conv(&wave(d, 1.31)), conv(&wave(d, 0.05)));
            let s = reflection_scale(&u).expect("u is non-zero");
            let mut serial = vec![T::ZERO; x.len()];
            han_rows_serial(&x, &u, Some(&b), s, &mut serial);
            // The fused op's entry point: u . u computed along the first row.
            let fused = han_rows_to_vec(&x, &u, Some(&b)).expect("valid input");
            assert_eq!(fused, serial, "d = {d}");
            // Row by row, out of place and in place.
            for r in 0..rows {
                let row = r * d..(r + 1) * d;
                let mut one = vec![T::ZERO; d];
                han_row(&x[row.clone()], &u, Some(&b), s, &mut one);
                assert_eq!(one, serial[row.clone()], "d = {d}, row {r}");
                let mut inplace = x[row.clone()].to_vec();
                han_row_inplace(&mut inplace, &u, Some(&b), s);
                assert_eq!(inplace, serial[row], "d = {d}, row {r} in place");
            }
            // The portable code gives the same bits as whichever variant ran above.
            let mut portable = vec![T::ZERO; x.len()];
            rows_serial_portable(&x, &u, Some(&b), s, &mut portable);
            assert_eq!(portable, serial, "d = {d}: portable and dispatched kernels differ");
            let (xu, uu) = dot_and_norm2(&x[..d], &u);
            assert_eq!((xu, uu), (dot(&x[..d], &u), dot(&u, &u)));
        }
    }

    #[test]
    fn entry_points_and_instruction_sets_agree_bitwise() {
        all_entry_points_agree::<f32>(|v| v.iter().map(|&x| x as f32).collect());
        all_entry_points_agree::<f64>(|v| v.to_vec());
    }

    #[test]
    fn to_vec_rejects_what_has_no_answer() {
        let u = [1.0f32, 2.0];
        assert_eq!(han_rows_to_vec(&[1.0f32, 2.0], &[0.0, 0.0], None), None);
        assert_eq!(han_rows_to_vec(&[1.0f32, 2.0, 3.0], &u, None), None);
        assert_eq!(han_rows_to_vec(&[], &u, None), None);
        assert_eq!(han_rows_to_vec(&[1.0f32, 2.0], &u, Some(&[1.0])), None);
        assert_eq!(han_rows_to_vec::<f32>(&[], &[], None), None);
    }
}
