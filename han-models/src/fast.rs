//! The fast inference path: a whole network on plain `f32` buffers.
//!
//! [`FastNet`] is compiled once from a built [`Sequential`] (so it reads exactly the tensors
//! that candle reads, whatever their names) and then evaluates the network without candle:
//!
//! - **Han-layers** run the fused kernel of [`han_core::kernel`] (one pass a row, the same
//!   bits as the candle path's Han-layers); the `abs` that follows a Han-layer in the spec is
//!   dropped, since the layer's output is already non-negative.
//! - **Linear layers** run a register-tiled kernel (4 rows x 16 outputs of accumulators, the
//!   weights stored transposed and padded to 16 columns) with the following `abs`/`relu`
//!   fused into the store.
//! - **Convolutions** are direct shift-and-accumulate loops (contiguous inner loops over an
//!   output row), **max pooling** a direct loop; reshape and flatten cost nothing.
//! - Activations live in two ping-pong scratch buffers per thread, sized for a block of rows
//!   (about 16 KiB each), so no buffer is allocated per layer or per call after the first, and
//!   a block of rows stays in L1 through the whole network. Large batches are split into blocks
//!   over the rayon pool.
//! - On x86-64 CPUs with AVX2 and FMA (detected at run time) the kernels are compiled a second
//!   time for those instructions, with fused multiply-adds.
//!
//! The results equal the candle path up to float rounding (the summation order differs):
//! `tests/fast.rs` checks 1e-5 on random models of every family, on every zoo model and on the
//! authors' reference network.
//!
//! ```
//! use candle_core::{DType, Device, Module, Tensor};
//! use candle_nn::{VarBuilder, VarMap};
//! use han_models::{arch, fast::FastNet, sequential::Sequential};
//!
//! let varmap = VarMap::new();
//! let vb = VarBuilder::from_varmap(&varmap, DType::F32, &Device::Cpu);
//! let net = Sequential::new(&arch::hannet(4, 8, 3, 2), vb)?;
//! let fast = FastNet::from_sequential(&net)?;
//! let x = [0.5f32, -1.0, 2.0, 0.25, 1.0, 1.0, -3.0, 0.0]; // two samples of 4 features
//! let mut y = Vec::new();
//! fast.forward(&x, 2, &mut y);
//! let reference = net.forward(&Tensor::from_slice(&x, (2, 4), &Device::Cpu)?)?;
//! for (a, b) in y.iter().zip(reference.flatten_all()?.to_vec1::<f32>()?) {
//!     assert!((a - b).abs() < 1e-5);
//! }
//! # Ok::<(), candle_core::Error>(())
//! ```

use std::cell::RefCell;

use candle_core::{DType, Result, Tensor, bail};
use candle_nn::VarBuilder;
use rayon::prelude::*;

use crate::sequential::{Layer, Sequential};
use crate::spec::{LayerSpec, ModelSpec};

/// Output columns of the linear micro-kernel (two AVX registers).
const NR: usize = 16;
/// Rows of the linear micro-kernel.
const MR: usize = 4;
/// Target size of one scratch buffer, in floats (16 KiB: both buffers stay in L1).
const BLOCK_ELEMS: usize = 4096;
/// Most rows in one block.
const MAX_BLOCK_ROWS: usize = 128;
/// Multiply-adds in a call below which the batch stays on the calling thread (about 50 us).
const PAR_MIN_WORK: usize = 1 << 20;

/// An element-wise activation fused into the layer before it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Act {
    None,
    Abs,
    Relu,
}

impl Act {
    #[inline(always)]
    fn apply(self, v: f32) -> f32 {
        match self {
            Self::None => v,
            Self::Abs => v.abs(),
            // Matches candle's relu (`max(v, 0)`).
            Self::Relu => v.max(0.0),
        }
    }

    /// Whether outputs are never negative.
    fn non_negative(self) -> bool {
        self != Self::None
    }
}

/// `y = x W^T + b`, with `W^T` stored `[in, out_padded]`.
#[derive(Clone, Debug)]
struct LinearOp {
    inp: usize,
    out: usize,
    /// `out` rounded up to a multiple of [`NR`].
    outp: usize,
    /// Transposed weights, `[inp, outp]`, zero-padded columns.
    wt: Vec<f32>,
    /// Bias, `[outp]`, zero-padded (zeros when the layer has none).
    bias: Vec<f32>,
    act: Act,
}

#[derive(Clone, Debug)]
struct HanOp {
    u: Vec<f32>,
    bias: Option<Vec<f32>>,
    scale: f32,
}

#[derive(Clone, Debug)]
struct ConvOp {
    cin: usize,
    cout: usize,
    k: usize,
    stride: usize,
    pad: usize,
    h: usize,
    w: usize,
    oh: usize,
    ow: usize,
    /// `[cout, cin, k, k]`.
    weight: Vec<f32>,
    /// `[cout]`.
    bias: Vec<f32>,
    act: Act,
}

#[derive(Clone, Debug)]
struct PoolOp {
    c: usize,
    h: usize,
    w: usize,
    k: usize,
    oh: usize,
    ow: usize,
}

#[derive(Clone, Debug)]
enum Op {
    Linear(LinearOp),
    Han(HanOp),
    Conv(ConvOp),
    Pool(PoolOp),
    /// A stand-alone activation that could not be fused, over `len` values a sample.
    Act(Act, usize),
}

impl Op {
    fn in_len(&self) -> usize {
        match self {
            Self::Linear(l) => l.inp,
            Self::Han(h) => h.u.len(),
            Self::Conv(c) => c.cin * c.h * c.w,
            Self::Pool(p) => p.c * p.h * p.w,
            Self::Act(_, n) => *n,
        }
    }

    fn out_len(&self) -> usize {
        match self {
            Self::Linear(l) => l.out,
            Self::Han(h) => h.u.len(),
            Self::Conv(c) => c.cout * c.oh * c.ow,
            Self::Pool(p) => p.c * p.oh * p.ow,
            Self::Act(_, n) => *n,
        }
    }

    /// Multiply-adds (or comparisons) per sample.
    fn work(&self) -> usize {
        match self {
            Self::Linear(l) => l.inp * l.out,
            Self::Han(h) => 3 * h.u.len(),
            Self::Conv(c) => c.cout * c.cin * c.k * c.k * c.oh * c.ow,
            Self::Pool(p) => p.c * p.h * p.w,
            Self::Act(_, n) => *n,
        }
    }

    /// Whether every output is `>= 0`.
    fn non_negative(&self) -> bool {
        match self {
            Self::Linear(l) => l.act.non_negative(),
            Self::Han(_) => true,
            Self::Conv(c) => c.act.non_negative(),
            Self::Pool(_) => false,
            Self::Act(a, _) => a.non_negative(),
        }
    }

    /// Fuses a following activation into this op; false when it cannot.
    fn fuse(&mut self, act: Act) -> bool {
        match self {
            Self::Linear(LinearOp { act: a, .. }) | Self::Conv(ConvOp { act: a, .. }) | Self::Act(a, _)
                if *a == Act::None =>
            {
                *a = act;
                true
            }
            _ => false,
        }
    }
}

/// A network compiled for fast CPU inference; see the [module documentation](self).
///
/// `Send + Sync`: one instance serves any number of threads.
#[derive(Clone, Debug)]
pub struct FastNet {
    ops: Vec<Op>,
    input_len: usize,
    output_len: usize,
    /// Largest per-sample activation (input included).
    max_len: usize,
    /// Rows evaluated together through the whole network.
    block_rows: usize,
    /// Multiply-adds per sample.
    work: usize,
    fma: bool,
}

fn to_vec(t: &Tensor) -> Result<Vec<f32>> {
    t.to_dtype(DType::F32)?.flatten_all()?.to_vec1::<f32>()
}

fn act_of(spec: &LayerSpec) -> Option<Act> {
    match spec {
        LayerSpec::Abs => Some(Act::Abs),
        LayerSpec::Relu => Some(Act::Relu),
        _ => None,
    }
}

impl FastNet {
    /// Builds the candle [`Sequential`] from `vb` and compiles it (see [`FastNet::from_sequential`]).
    pub fn new(spec: &ModelSpec, vb: VarBuilder<'_>) -> Result<Self> {
        Self::from_sequential(&Sequential::new(spec, vb)?)
    }

    /// Compiles a built network: copies its tensors to `f32` buffers (linear weights
    /// transposed and padded) and fuses activations into the layers before them.
    ///
    /// Errors when a tensor has an unexpected shape, a Han vector defines no reflection, or a
    /// convolution uses dilation or groups (the spec cannot express them).
    pub fn from_sequential(net: &Sequential) -> Result<Self> {
        let spec = net.spec();
        let mut shape = spec.input_shape.clone();
        let mut ops: Vec<Op> = Vec::new();
        for (index, (layer, ls)) in net.layers().iter().zip(&spec.layers).enumerate() {
            let in_shape = shape.clone();
            shape = match ls.spec.output_shape(&shape) {
                Ok(s) => s,
                Err(why) => bail!("fast: layer {index} ({}): {why}", ls.spec.describe()),
            };
            let numel: usize = shape.iter().product();
            let op = match layer {
                Layer::Linear(l) => {
                    let w = l.weight();
                    let (out, inp) = w.dims2()?;
                    let w = to_vec(w)?;
                    let outp = out.div_ceil(NR) * NR;
                    let mut wt = vec![0f32; inp * outp];
                    for o in 0..out {
                        for i in 0..inp {
                            wt[i * outp + o] = w[o * inp + i];
                        }
                    }
                    let mut bias = vec![0f32; outp];
                    if let Some(b) = l.bias() {
                        let b = to_vec(b)?;
                        if b.len() != out {
                            bail!("fast: layer {index}: bias has {} values, expected {out}", b.len());
                        }
                        bias[..out].copy_from_slice(&b);
                    }
                    Op::Linear(LinearOp { inp, out, outp, wt, bias, act: Act::None })
                }
                Layer::Han(h) => {
                    let u = to_vec(h.u())?;
                    let bias = h.bias().map(to_vec).transpose()?;
                    let Some(scale) = han_core::kernel::reflection_scale(&u) else {
                        bail!("fast: layer {index}: the Han vector u is zero or not finite")
                    };
                    Op::Han(HanOp { u, bias, scale })
                }
                Layer::Conv2d(c) => {
                    let cfg = c.config();
                    if cfg.dilation != 1 || cfg.groups != 1 {
                        bail!(
                            "fast: layer {index}: dilation {} and groups {} are not supported",
                            cfg.dilation,
                            cfg.groups
                        );
                    }
                    let (cout, cin, k, k2) = c.weight().dims4()?;
                    let ([_, h, w], [_, oh, ow]) = (in_shape.as_slice(), shape.as_slice()) else {
                        bail!("fast: layer {index}: convolution shapes {in_shape:?} -> {shape:?}")
                    };
                    if k != k2 {
                        bail!("fast: layer {index}: kernel {k}x{k2} is not square");
                    }
                    let bias = match c.bias() {
                        Some(b) => to_vec(b)?,
                        None => vec![0.0; cout],
                    };
                    Op::Conv(ConvOp {
                        cin,
                        cout,
                        k,
                        stride: cfg.stride,
                        pad: cfg.padding,
                        h: *h,
                        w: *w,
                        oh: *oh,
                        ow: *ow,
                        weight: to_vec(c.weight())?,
                        bias,
                        act: Act::None,
                    })
                }
                Layer::MaxPool2d(k) => {
                    let ([c, h, w], [_, oh, ow]) = (in_shape.as_slice(), shape.as_slice()) else {
                        bail!("fast: layer {index}: pooling shapes {in_shape:?} -> {shape:?}")
                    };
                    Op::Pool(PoolOp { c: *c, h: *h, w: *w, k: *k, oh: *oh, ow: *ow })
                }
                Layer::Abs | Layer::Relu => {
                    let act = act_of(&ls.spec).unwrap_or(Act::None);
                    match ops.last_mut() {
                        // |x| and max(x, 0) are the identity on non-negative values.
                        Some(prev) if prev.non_negative() => continue,
                        Some(prev) => {
                            if prev.fuse(act) {
                                continue;
                            }
                            Op::Act(act, numel)
                        }
                        None => Op::Act(act, numel),
                    }
                }
                Layer::Flatten | Layer::Reshape(_) => continue,
            };
            ops.push(op);
        }
        let input_len = spec.input_len();
        let output_len: usize = shape.iter().product();
        let max_len = ops.iter().map(Op::out_len).chain([input_len]).max().unwrap_or(input_len);
        for pair in ops.windows(2) {
            if pair[0].out_len() != pair[1].in_len() {
                bail!("fast: internal shape mismatch {} -> {}", pair[0].out_len(), pair[1].in_len());
            }
        }
        let mut block_rows = (BLOCK_ELEMS / max_len.max(1)).clamp(1, MAX_BLOCK_ROWS);
        if block_rows >= MR {
            block_rows -= block_rows % MR;
        }
        let work = ops.iter().map(Op::work).sum::<usize>().max(1);
        Ok(Self { ops, input_len, output_len, max_len, block_rows, work, fma: fma_available() })
    }

    /// Values per input sample.
    pub fn input_len(&self) -> usize {
        self.input_len
    }

    /// Values per output sample.
    pub fn output_len(&self) -> usize {
        self.output_len
    }

    /// Multiply-adds per sample (an estimate of the cost).
    pub fn work_per_sample(&self) -> usize {
        self.work
    }

    /// Evaluates `n` samples (`x`: `[n, input_len]` row-major, already preprocessed) into
    /// `out` (resized to `[n, output_len]`). Batches worth more than about 50 us of work are
    /// split over the rayon pool.
    ///
    /// # Panics
    /// When `x.len() != n * input_len` (callers validate; [`crate::zoo::Classifier`] does).
    pub fn forward(&self, x: &[f32], n: usize, out: &mut Vec<f32>) {
        self.forward_with(x, n, out, true);
    }

    /// Like [`FastNet::forward`], on the calling thread only.
    pub fn forward_serial(&self, x: &[f32], n: usize, out: &mut Vec<f32>) {
        self.forward_with(x, n, out, false);
    }

    /// [`FastNet::forward`] into a new vector.
    pub fn forward_vec(&self, x: &[f32], n: usize) -> Vec<f32> {
        let mut out = Vec::new();
        self.forward(x, n, &mut out);
        out
    }

    fn forward_with(&self, x: &[f32], n: usize, out: &mut Vec<f32>, parallel: bool) {
        assert_eq!(x.len(), n * self.input_len, "FastNet::forward: {n} samples need {} values", n * self.input_len);
        out.clear();
        out.resize(n * self.output_len, 0.0);
        if n == 0 {
            return;
        }
        let (il, ol, rows) = (self.input_len, self.output_len, self.block_rows);
        if parallel && n > rows && n.saturating_mul(self.work) >= PAR_MIN_WORK && rayon::current_num_threads() > 1 {
            out.par_chunks_mut(rows * ol).zip(x.par_chunks(rows * il)).for_each(|(o, xi)| {
                with_scratch(|a, b| self.run_block(xi, xi.len() / il, o, a, b));
            });
        } else {
            with_scratch(|a, b| {
                for (o, xi) in out.chunks_mut(rows * ol).zip(x.chunks(rows * il)) {
                    self.run_block(xi, xi.len() / il, o, a, b);
                }
            });
        }
    }

    /// Runs `rows` samples through every layer.
    fn run_block(&self, x: &[f32], rows: usize, out: &mut [f32], a: &mut Vec<f32>, b: &mut Vec<f32>) {
        let need = rows * self.max_len;
        if a.len() < need {
            a.resize(need, 0.0);
        }
        if b.len() < need {
            b.resize(need, 0.0);
        }
        #[cfg(target_arch = "x86_64")]
        if self.fma {
            // SAFETY: `self.fma` is true only when the CPU reports AVX2 and FMA (`fma_available`).
            unsafe { run_block_fma(&self.ops, x, rows, out, a, b) };
            return;
        }
        run_block_impl::<Plain>(&self.ops, x, rows, out, a, b);
    }
}

fn fma_available() -> bool {
    #[cfg(target_arch = "x86_64")]
    {
        std::is_x86_feature_detected!("avx2") && std::is_x86_feature_detected!("fma")
    }
    #[cfg(not(target_arch = "x86_64"))]
    {
        false
    }
}

thread_local! {
    static SCRATCH: RefCell<(Vec<f32>, Vec<f32>)> = const { RefCell::new((Vec::new(), Vec::new())) };
}

/// Runs `f` with this thread's two scratch buffers (fresh ones if they are in use).
fn with_scratch<R>(f: impl FnOnce(&mut Vec<f32>, &mut Vec<f32>) -> R) -> R {
    SCRATCH.with(|s| match s.try_borrow_mut() {
        Ok(mut s) => {
            let (a, b) = &mut *s;
            f(a, b)
        }
        Err(_) => f(&mut Vec::new(), &mut Vec::new()),
    })
}

/// `a * b + c`, rounded once ([`Fused`]) or twice ([`Plain`]).
trait Madd {
    fn madd(a: f32, b: f32, c: f32) -> f32;
}

struct Plain;
impl Madd for Plain {
    #[inline(always)]
    fn madd(a: f32, b: f32, c: f32) -> f32 {
        a * b + c
    }
}

#[cfg(target_arch = "x86_64")]
struct Fused;
#[cfg(target_arch = "x86_64")]
impl Madd for Fused {
    #[inline(always)]
    fn madd(a: f32, b: f32, c: f32) -> f32 {
        a.mul_add(b, c)
    }
}

#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx2,fma")]
fn run_block_fma(ops: &[Op], x: &[f32], rows: usize, out: &mut [f32], a: &mut [f32], b: &mut [f32]) {
    run_block_impl::<Fused>(ops, x, rows, out, a, b);
}

/// Where the current activations are.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Loc {
    Input,
    A,
    B,
}

#[inline(always)]
fn run_block_impl<M: Madd>(ops: &[Op], x: &[f32], rows: usize, out: &mut [f32], a: &mut [f32], b: &mut [f32]) {
    let mut loc = Loc::Input;
    for op in ops {
        let (src, dst, next): (&[f32], &mut [f32], Loc) = match loc {
            Loc::Input => (x, &mut *a, Loc::A),
            Loc::A => (&*a, &mut *b, Loc::B),
            Loc::B => (&*b, &mut *a, Loc::A),
        };
        let (src, dst) = (&src[..rows * op.in_len()], &mut dst[..rows * op.out_len()]);
        match op {
            Op::Linear(l) => linear_rows::<M>(l, src, rows, dst),
            Op::Han(h) => han_core::kernel::han_rows_serial(src, &h.u, h.bias.as_deref(), h.scale, dst),
            Op::Conv(c) => {
                let (il, ol) = (c.cin * c.h * c.w, c.cout * c.oh * c.ow);
                for (xs, ys) in src.chunks_exact(il).zip(dst.chunks_exact_mut(ol)) {
                    conv_sample::<M>(c, xs, ys);
                }
            }
            Op::Pool(p) => {
                let (il, ol) = (p.c * p.h * p.w, p.c * p.oh * p.ow);
                for (xs, ys) in src.chunks_exact(il).zip(dst.chunks_exact_mut(ol)) {
                    pool_sample(p, xs, ys);
                }
            }
            Op::Act(act, _) => {
                for (y, &v) in dst.iter_mut().zip(src) {
                    *y = act.apply(v);
                }
            }
        }
        loc = next;
    }
    let result: &[f32] = match loc {
        Loc::Input => x,
        Loc::A => a,
        Loc::B => b,
    };
    out.copy_from_slice(&result[..out.len()]);
}

#[inline(always)]
fn linear_rows<M: Madd>(l: &LinearOp, src: &[f32], rows: usize, dst: &mut [f32]) {
    let mut r = 0;
    while r + MR <= rows {
        linear_tile::<M, MR>(l, &src[r * l.inp..(r + MR) * l.inp], &mut dst[r * l.out..(r + MR) * l.out]);
        r += MR;
    }
    while r < rows {
        linear_tile::<M, 1>(l, &src[r * l.inp..(r + 1) * l.inp], &mut dst[r * l.out..(r + 1) * l.out]);
        r += 1;
    }
}

/// `R` rows x all outputs, [`NR`] output columns at a time held in registers.
///
/// Written so that the accumulators are only ever indexed by constants (whole-array copies in
/// and out): LLVM then keeps them in vector registers instead of spilling them to the stack.
#[inline(always)]
fn linear_tile<M: Madd, const R: usize>(l: &LinearOp, src: &[f32], dst: &mut [f32]) {
    let (inp, out, outp) = (l.inp, l.out, l.outp);
    let rows: [&[f32]; R] = std::array::from_fn(|r| &src[r * inp..(r + 1) * inp]);
    for jb in (0..outp).step_by(NR) {
        let b = &l.bias[jb..jb + NR];
        let b: [f32; NR] = std::array::from_fn(|c| b[c]);
        let mut acc = [b; R];
        for (i, wrow) in l.wt.chunks_exact(outp).enumerate() {
            let w = &wrow[jb..jb + NR];
            let w: [f32; NR] = std::array::from_fn(|c| w[c]);
            for r in 0..R {
                let xv = rows[r][i];
                for c in 0..NR {
                    acc[r][c] = M::madd(xv, w[c], acc[r][c]);
                }
            }
        }
        let cols = NR.min(out - jb);
        for (r, a) in acc.into_iter().enumerate() {
            let v: [f32; NR] = std::array::from_fn(|c| l.act.apply(a[c]));
            dst[r * out + jb..r * out + jb + cols].copy_from_slice(&v[..cols]);
        }
    }
}

/// One sample of a convolution: for each weight, a multiply-add of a shifted input row into
/// an output row (contiguous when the stride is 1).
#[inline(always)]
fn conv_sample<M: Madd>(c: &ConvOp, x: &[f32], y: &mut [f32]) {
    let (k, s, p) = (c.k, c.stride, c.pad);
    let plane = c.oh * c.ow;
    for co in 0..c.cout {
        let yp = &mut y[co * plane..(co + 1) * plane];
        yp.fill(c.bias[co]);
        for ci in 0..c.cin {
            let xp = &x[ci * c.h * c.w..(ci + 1) * c.h * c.w];
            for ky in 0..k {
                for kx in 0..k {
                    let wv = c.weight[((co * c.cin + ci) * k + ky) * k + kx];
                    // Output columns whose input column ox * s + kx - p lies in [0, w).
                    let lo = if p > kx { (p - kx).div_ceil(s) } else { 0 };
                    let hi = if c.w + p > kx { ((c.w + p - kx - 1) / s + 1).min(c.ow) } else { 0 };
                    if lo >= hi {
                        continue;
                    }
                    for oy in 0..c.oh {
                        let iy = oy * s + ky;
                        if iy < p || iy - p >= c.h {
                            continue;
                        }
                        let xr = &xp[(iy - p) * c.w..(iy - p + 1) * c.w];
                        let yr = &mut yp[oy * c.ow + lo..oy * c.ow + hi];
                        if s == 1 {
                            let x0 = lo + kx - p;
                            for (yv, &xv) in yr.iter_mut().zip(&xr[x0..x0 + (hi - lo)]) {
                                *yv = M::madd(wv, xv, *yv);
                            }
                        } else {
                            for (j, yv) in yr.iter_mut().enumerate() {
                                *yv = M::madd(wv, xr[(lo + j) * s + kx - p], *yv);
                            }
                        }
                    }
                }
            }
        }
        if c.act != Act::None {
            for v in yp.iter_mut() {
                *v = c.act.apply(*v);
            }
        }
    }
}

/// One sample of max pooling with window = stride = `k`.
#[inline(always)]
fn pool_sample(p: &PoolOp, x: &[f32], y: &mut [f32]) {
    for ch in 0..p.c {
        let xp = &x[ch * p.h * p.w..(ch + 1) * p.h * p.w];
        for oy in 0..p.oh {
            for ox in 0..p.ow {
                let mut m = f32::NEG_INFINITY;
                for ky in 0..p.k {
                    let row = &xp[(oy * p.k + ky) * p.w + ox * p.k..][..p.k];
                    for &v in row {
                        if v > m || v.is_nan() {
                            m = v;
                        }
                    }
                }
                y[(ch * p.oh + oy) * p.ow + ox] = m;
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn linear(inp: usize, out: usize, act: Act) -> LinearOp {
        let outp = out.div_ceil(NR) * NR;
        let mut wt = vec![0.0; inp * outp];
        let mut bias = vec![0.0; outp];
        for o in 0..out {
            bias[o] = o as f32 * 0.5 - 3.0;
            for i in 0..inp {
                wt[i * outp + o] = ((o * 7 + i * 3) % 11) as f32 - 5.0;
            }
        }
        LinearOp { inp, out, outp, wt, bias, act }
    }

    #[test]
    fn linear_kernel_matches_the_definition_for_all_row_and_column_tails() {
        for (inp, out, rows) in [(1, 1, 1), (3, 17, 5), (30, 30, 9), (7, 33, 4), (5, 2, 3)] {
            let l = linear(inp, out, Act::Relu);
            let x: Vec<f32> = (0..rows * inp).map(|i| (i % 5) as f32 - 2.0).collect();
            let mut y = vec![f32::NAN; rows * out];
            linear_rows::<Plain>(&l, &x, rows, &mut y);
            for r in 0..rows {
                for o in 0..out {
                    let v: f32 = l.bias[o] + (0..inp).map(|i| x[r * inp + i] * l.wt[i * l.outp + o]).sum::<f32>();
                    assert_eq!(y[r * out + o], v.max(0.0), "in {inp} out {out} row {r} col {o}");
                }
            }
        }
    }

    #[test]
    fn conv_with_padding_and_stride_matches_the_definition() {
        for (stride, pad) in [(1, 0), (1, 1), (2, 1), (3, 2)] {
            let (cin, cout, k, h, w) = (2, 3, 3, 7, 6);
            let oh = (h + 2 * pad - k) / stride + 1;
            let ow = (w + 2 * pad - k) / stride + 1;
            let weight: Vec<f32> = (0..cout * cin * k * k).map(|i| ((i * 5) % 7) as f32 - 3.0).collect();
            let c =
                ConvOp { cin, cout, k, stride, pad, h, w, oh, ow, weight, bias: vec![0.5, -1.0, 2.0], act: Act::None };
            let x: Vec<f32> = (0..cin * h * w).map(|i| ((i * 3) % 10) as f32 - 4.5).collect();
            let mut y = vec![f32::NAN; cout * oh * ow];
            conv_sample::<Plain>(&c, &x, &mut y);
            for co in 0..cout {
                for oy in 0..oh {
                    for ox in 0..ow {
                        let mut v = c.bias[co];
                        for ci in 0..cin {
                            for ky in 0..k {
                                for kx in 0..k {
                                    let (iy, ix) = (
                                        (oy * stride + ky) as isize - pad as isize,
                                        (ox * stride + kx) as isize - pad as isize,
                                    );
                                    if iy >= 0 && ix >= 0 && (iy as usize) < h && (ix as usize) < w {
                                        v += c.weight[((co * cin + ci) * k + ky) * k + kx]
                                            * x[(ci * h + iy as usize) * w + ix as usize];
                                    }
                                }
                            }
                        }
                        assert_eq!(y[(co * oh + oy) * ow + ox], v, "stride {stride} pad {pad} at {co},{oy},{ox}");
                    }
                }
            }
        }
    }

    #[test]
    fn pooling_takes_the_window_maximum_and_drops_the_remainder() {
        let p = PoolOp { c: 1, h: 3, w: 5, k: 2, oh: 1, ow: 2 };
        let x = [1.0, 5.0, 2.0, 0.0, 9.0, -1.0, 3.0, 7.0, 4.0, 9.0, 8.0, 8.0, 8.0, 8.0, 8.0];
        let mut y = [0.0; 2];
        pool_sample(&p, &x, &mut y);
        assert_eq!(y, [5.0, 7.0]);
    }
}
