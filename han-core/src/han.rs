//! The Han-layer: `y = | x - 2 (u . x / u . u) u + b |`.

use candle_core::backend::BackendStorage;
use candle_core::{CpuStorage, CustomOp2, CustomOp3, D, DType, Device, Layout, Module, Result, Shape, Tensor, bail};
use candle_nn::VarBuilder;

use crate::init;
use crate::kernel::{self, Float};

/// A Householder-absolute layer of width `d`: `y = | H x + b |` with
/// `H = I - 2 u u^T / (u^T u)`.
///
/// `H` is a Householder reflection: symmetric, orthogonal and its own inverse. The layer
/// holds `2 d` parameters (`d` without bias) and costs `O(d)` per row.
///
/// [`Module::forward`] runs the fused CPU kernel (one pass a row, no intermediate tensors)
/// whenever no gradient can be needed (no input or parameter tracks an op and the tensors
/// live on the CPU in `f32` or `f64`) and the composed candle ops otherwise, so training
/// through autograd and fast inference use the same layer.
///
/// ```
/// use candle_core::{Device, Module, Tensor};
/// use han_core::HanLayer;
///
/// let dev = Device::Cpu;
/// // u = (0, 1): the reflection flips the second coordinate.
/// let layer = HanLayer::new(
///     Tensor::new(&[0f32, 1.], &dev)?,
///     Some(Tensor::new(&[0.5f32, 0.], &dev)?),
/// )?;
/// let y = layer.forward(&Tensor::new(&[[-2f32, 3.]], &dev)?)?;
/// assert_eq!(y.to_vec2::<f32>()?, [[1.5, 3.0]]);
/// # Ok::<(), candle_core::Error>(())
/// ```
#[derive(Clone, Debug)]
pub struct HanLayer {
    u: Tensor,
    bias: Option<Tensor>,
    dim: usize,
}

/// Number of parameters of a Han-layer of width `dim`: `2 dim` with a bias, `dim` without.
pub const fn param_count(dim: usize, bias: bool) -> usize {
    if bias { 2 * dim } else { dim }
}

impl HanLayer {
    /// A layer from its Householder vector `u` (shape `[d]`) and optional bias (shape `[d]`).
    ///
    /// `u` need not be normalised (only its direction matters). Errors (never panics) when
    /// `u` is not a non-empty vector, when the bias shape or dtype differs from `u`'s, when the
    /// dtype is not a float, or when `u` is zero or not finite.
    pub fn new(u: Tensor, bias: Option<Tensor>) -> Result<Self> {
        let dim = match u.dims() {
            [d] => *d,
            dims => bail!("han: u must be a vector of shape [d], got shape {dims:?}"),
        };
        if dim == 0 {
            bail!("han: u is empty (d = 0); a Han-layer needs d >= 1");
        }
        if !u.dtype().is_float() {
            bail!("han: u must be a float tensor, got dtype {:?}", u.dtype());
        }
        if let Some(b) = &bias {
            if b.dims() != [dim] {
                bail!("han: bias must have shape [{dim}] like u, got shape {:?}", b.dims());
            }
            if b.dtype() != u.dtype() {
                bail!("han: bias dtype {:?} differs from u dtype {:?}", b.dtype(), u.dtype());
            }
            if !b.device().same_device(u.device()) {
                bail!("han: bias and u are on different devices");
            }
        }
        // In u's own dtype, as both forward paths compute it: a u whose squared norm
        // overflows (or underflows to zero) in that dtype would define no reflection there.
        let uu = u.sqr()?.sum_all()?.to_dtype(DType::F64)?.to_scalar::<f64>()?;
        if !(uu > 0.0 && uu.is_finite()) {
            bail!(
                "han: u . u = {uu} in {:?}; u must be non-zero and finite to define a \
                 reflection (only its direction matters: rescale it)",
                u.dtype()
            );
        }
        Ok(Self { u, bias, dim })
    }

    /// The layer width `d`.
    pub fn dim(&self) -> usize {
        self.dim
    }

    /// The Householder vector `u`, shape `[d]` (not normalised).
    pub fn u(&self) -> &Tensor {
        &self.u
    }

    /// The bias, shape `[d]`, if any.
    pub fn bias(&self) -> Option<&Tensor> {
        self.bias.as_ref()
    }

    /// Number of parameters: `2 d`, or `d` without bias.
    pub fn num_params(&self) -> usize {
        param_count(self.dim, self.bias.is_some())
    }

    fn check_input(&self, x: &Tensor) -> Result<()> {
        let dims = x.dims();
        match dims.last() {
            None => bail!("han: input is a scalar; expected shape [..., {}]", self.dim),
            Some(&d) if d != self.dim => {
                bail!("han: input last dimension {d} does not match layer width {} (input shape {dims:?})", self.dim)
            }
            _ => {}
        }
        if x.elem_count() == 0 {
            bail!("han: input of shape {dims:?} is empty; expected at least one row of width {}", self.dim);
        }
        if x.dtype() != self.u.dtype() {
            bail!("han: input dtype {:?} differs from the layer's {:?}", x.dtype(), self.u.dtype());
        }
        Ok(())
    }

    /// The reflection `H x = x - 2 (u . x / u . u) u` alone (no bias, no abs), on any
    /// input of shape `[..., d]`, with composed candle ops (differentiable).
    pub fn reflect(&self, x: &Tensor) -> Result<Tensor> {
        self.check_input(x)?;
        let uu = self.u.sqr()?.sum_all()?;
        let xu = x.broadcast_mul(&self.u)?.sum_keepdim(D::Minus1)?;
        let coef = (xu.broadcast_div(&uu)? * 2.0)?;
        x.broadcast_sub(&coef.broadcast_mul(&self.u)?)
    }

    /// `|H x + b|` with composed candle ops: the differentiable path used for training.
    pub fn forward_composed(&self, x: &Tensor) -> Result<Tensor> {
        let y = self.reflect(x)?;
        let y = match &self.bias {
            Some(b) => y.broadcast_add(b)?,
            None => y,
        };
        y.abs()
    }

    /// `|H x + b|` with the fused CPU kernel. Records no gradient. Errors on non-CPU
    /// devices and non-`f32`/`f64` dtypes; [`Module::forward`] picks the path for you.
    pub fn forward_fused(&self, x: &Tensor) -> Result<Tensor> {
        self.check_input(x)?;
        let x = x.contiguous()?;
        match &self.bias {
            Some(b) => x.apply_op3_no_bwd(&self.u, b, &FusedHan),
            None => x.apply_op2_no_bwd(&self.u, &FusedHan),
        }
    }

    /// Whether [`Module::forward`] on `x` takes the fused path.
    pub fn uses_fused(&self, x: &Tensor) -> bool {
        matches!(x.device(), Device::Cpu)
            && matches!(x.dtype(), DType::F32 | DType::F64)
            && !x.track_op()
            && !self.u.track_op()
            && !self.bias.as_ref().is_some_and(Tensor::track_op)
    }
}

impl Module for HanLayer {
    fn forward(&self, x: &Tensor) -> Result<Tensor> {
        if self.uses_fused(x) { self.forward_fused(x) } else { self.forward_composed(x) }
    }
}

/// Builds a Han-layer of width `dim` from a [`VarBuilder`], pulling tensors `u` and `bias`
/// under the builder's prefix.
///
/// Fresh tensors (a `VarMap` builder) are initialised as the authors do: `u` a random
/// direction, uniform on the sphere (a standard normal vector; only its direction matters),
/// and the bias uniform in `(-1/sqrt(d), 1/sqrt(d))`.
///
/// ```
/// use candle_core::{DType, Device, Module, Tensor};
/// use candle_nn::{VarBuilder, VarMap};
///
/// let varmap = VarMap::new();
/// let vb = VarBuilder::from_varmap(&varmap, DType::F32, &Device::Cpu);
/// let layer = han_core::han(16, vb.pp("blocks.0"))?;
/// assert_eq!(layer.num_params(), 32);
/// assert!(varmap.data().lock().unwrap().contains_key("blocks.0.u"));
/// let y = layer.forward(&Tensor::ones((4, 16), DType::F32, &Device::Cpu)?)?;
/// assert_eq!(y.dims(), [4, 16]);
/// # Ok::<(), candle_core::Error>(())
/// ```
pub fn han(dim: usize, vb: VarBuilder<'_>) -> Result<HanLayer> {
    let u = vb.get_with_hints(dim, "u", init::U_INIT)?;
    let bias = vb.get_with_hints(dim, "bias", init::bias_init(dim))?;
    HanLayer::new(u, Some(bias))
}

/// Like [`han`] but without a bias (pulls only `u`).
pub fn han_no_bias(dim: usize, vb: VarBuilder<'_>) -> Result<HanLayer> {
    let u = vb.get_with_hints(dim, "u", init::U_INIT)?;
    HanLayer::new(u, None)
}

/// The fused forward as a candle custom op (inference only).
struct FusedHan;

fn contiguous<'a, T>(data: &'a [T], layout: &Layout, what: &str) -> Result<&'a [T]> {
    match layout.contiguous_offsets() {
        Some((start, end)) => Ok(&data[start..end]),
        None => bail!("han-fused: {what} is not contiguous (shape {:?})", layout.dims()),
    }
}

fn run_fused<T: Float>(
    x: &[T],
    lx: &Layout,
    u: &[T],
    lu: &Layout,
    b: Option<(&[T], &Layout)>,
) -> Result<(Vec<T>, Shape)> {
    let x = contiguous(x, lx, "input")?;
    let u = contiguous(u, lu, "u")?;
    let b = match b {
        Some((b, lb)) => Some(contiguous(b, lb, "bias")?),
        None => None,
    };
    if u.is_empty() || !x.len().is_multiple_of(u.len()) || b.is_some_and(|b| b.len() != u.len()) {
        bail!(
            "han-fused: input {:?}, u {:?} and bias {:?} do not fit together",
            lx.dims(),
            lu.dims(),
            b.map(<[T]>::len)
        );
    }
    match kernel::han_rows_to_vec(x, u, b) {
        Some(out) => Ok((out, lx.shape().clone())),
        None => bail!("han-fused: u . u is zero or not finite; u must define a reflection"),
    }
}

impl CustomOp2 for FusedHan {
    fn name(&self) -> &'static str {
        "han-fused"
    }

    fn cpu_fwd(&self, s1: &CpuStorage, l1: &Layout, s2: &CpuStorage, l2: &Layout) -> Result<(CpuStorage, Shape)> {
        match (s1, s2) {
            (CpuStorage::F32(x), CpuStorage::F32(u)) => {
                let (v, s) = run_fused(x, l1, u, l2, None)?;
                Ok((CpuStorage::F32(v), s))
            }
            (CpuStorage::F64(x), CpuStorage::F64(u)) => {
                let (v, s) = run_fused(x, l1, u, l2, None)?;
                Ok((CpuStorage::F64(v), s))
            }
            _ => bail!(
                "han-fused: expected f32 or f64 input and u of the same dtype, got {:?} and {:?}",
                s1.dtype(),
                s2.dtype()
            ),
        }
    }
}

impl CustomOp3 for FusedHan {
    fn name(&self) -> &'static str {
        "han-fused"
    }

    fn cpu_fwd(
        &self,
        s1: &CpuStorage,
        l1: &Layout,
        s2: &CpuStorage,
        l2: &Layout,
        s3: &CpuStorage,
        l3: &Layout,
    ) -> Result<(CpuStorage, Shape)> {
        match (s1, s2, s3) {
            (CpuStorage::F32(x), CpuStorage::F32(u), CpuStorage::F32(b)) => {
                let (v, s) = run_fused(x, l1, u, l2, Some((b, l3)))?;
                Ok((CpuStorage::F32(v), s))
            }
            (CpuStorage::F64(x), CpuStorage::F64(u), CpuStorage::F64(b)) => {
                let (v, s) = run_fused(x, l1, u, l2, Some((b, l3)))?;
                Ok((CpuStorage::F64(v), s))
            }
            _ => bail!(
                "han-fused: expected f32 or f64 input, u and bias of one dtype, got {:?}, {:?}, {:?}",
                s1.dtype(),
                s2.dtype(),
                s3.dtype()
            ),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn t(v: &[f64]) -> Tensor {
        Tensor::new(v, &Device::Cpu).expect("tensor")
    }

    #[test]
    fn new_rejects_bad_parameters() {
        assert!(HanLayer::new(t(&[0.0, 0.0]), None).is_err());
        assert!(HanLayer::new(t(&[]), None).is_err());
        assert!(HanLayer::new(t(&[1.0, f64::NAN]), None).is_err());
        assert!(HanLayer::new(t(&[1.0, 2.0]), Some(t(&[1.0]))).is_err());
        let m = Tensor::ones((2, 2), DType::F64, &Device::Cpu).expect("ones");
        assert!(HanLayer::new(m, None).is_err());
        let ints = Tensor::new(&[1u32, 2], &Device::Cpu).expect("ints");
        assert!(HanLayer::new(ints, None).is_err());
    }

    #[test]
    fn wrong_width_and_empty_input_are_errors() -> Result<()> {
        let l = HanLayer::new(t(&[1.0, 2.0, 3.0]), None)?;
        let msg = l.forward(&Tensor::ones((2, 4), DType::F64, &Device::Cpu)?).err().map(|e| e.to_string());
        assert!(msg.is_some_and(|m| m.contains("does not match layer width 3")));
        assert!(l.forward(&Tensor::zeros((0, 3), DType::F64, &Device::Cpu)?).is_err());
        assert!(l.forward(&Tensor::new(1.0f64, &Device::Cpu)?).is_err());
        assert!(l.forward(&Tensor::ones((2, 3), DType::F32, &Device::Cpu)?).is_err());
        Ok(())
    }

    #[test]
    fn param_counts() -> Result<()> {
        assert_eq!(HanLayer::new(t(&[1.0; 5]), Some(t(&[0.0; 5])))?.num_params(), 10);
        assert_eq!(HanLayer::new(t(&[1.0; 5]), None)?.num_params(), 5);
        assert_eq!(param_count(30, true), 60);
        Ok(())
    }

    #[test]
    fn fused_path_is_taken_for_constants_and_not_for_variables() -> Result<()> {
        let l = HanLayer::new(t(&[1.0, 2.0]), None)?;
        let x = t(&[0.5, -1.0]);
        assert!(l.uses_fused(&x));
        let v = candle_core::Var::from_tensor(&x)?;
        assert!(!l.uses_fused(v.as_tensor()));
        Ok(())
    }
}
