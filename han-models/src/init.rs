//! Deterministic, order-independent initialisation.
//!
//! candle's `VarMap` draws fresh tensors from the device RNG, which cannot be seeded on the
//! CPU (`Device::Cpu.set_seed` fails in candle 0.11). [`SeededInit`] is a
//! [`SimpleBackend`] over a `VarMap` that creates every missing tensor from its
//! [`Init`] hint with a ChaCha RNG seeded from `(seed, tensor name)`: the same seed gives the
//! same weights bit for bit, whatever order the model asks for its tensors in.
//!
//! ```
//! use candle_core::{DType, Device};
//! use candle_nn::VarMap;
//! use han_models::{arch, init::seeded_varbuilder, sequential::Sequential};
//!
//! let spec = arch::hannet(2, 8, 3, 2);
//! let (a, b) = (VarMap::new(), VarMap::new());
//! Sequential::new(&spec, seeded_varbuilder(7, &a, DType::F32, &Device::Cpu))?;
//! Sequential::new(&spec, seeded_varbuilder(7, &b, DType::F32, &Device::Cpu))?;
//! let get = |m: &VarMap, n: &str| m.data().lock().unwrap()[n].as_tensor().to_vec1::<f32>();
//! assert_eq!(get(&a, "layers.2.u")?, get(&b, "layers.2.u")?);
//! # Ok::<(), candle_core::Error>(())
//! ```

use candle_core::{DType, Device, Result, Shape, Tensor, Var, bail};
use candle_nn::init::{FanInOut, NormalOrUniform};
use candle_nn::var_builder::SimpleBackend;
use candle_nn::{Init, VarBuilder, VarMap};
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;
use rand_distr::StandardNormal;
use sha2::{Digest, Sha256};

/// How fresh tensors are drawn.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, serde::Serialize, serde::Deserialize, clap::ValueEnum)]
#[serde(rename_all = "lowercase")]
pub enum InitScheme {
    /// The hint each layer asks for (PyTorch's defaults: `U(-1/sqrt(in), 1/sqrt(in))` for
    /// linear layers, Kaiming for convolutions, a standard normal `u` for Han-layers).
    #[default]
    Default,
    /// The authors' `--initial orth`: weights of linear and convolutional layers (`*.weight`,
    /// rank >= 2) drawn orthogonal as `torch.nn.init.orthogonal_` (gain 1), Han vectors `u`
    /// drawn as unit vectors (uniform direction); biases keep their hints.
    Orthogonal,
}

/// A `VarMap` backend whose fresh tensors are drawn from `(seed, name)`.
#[derive(Clone)]
pub struct SeededInit {
    varmap: VarMap,
    seed: u64,
    scheme: InitScheme,
}

impl std::fmt::Debug for SeededInit {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SeededInit").field("seed", &self.seed).finish_non_exhaustive()
    }
}

impl SeededInit {
    /// A backend that stores its variables in `varmap`.
    pub fn new(seed: u64, varmap: &VarMap) -> Self {
        Self { varmap: varmap.clone(), seed, scheme: InitScheme::Default }
    }

    /// A backend with another [`InitScheme`].
    pub fn with_scheme(mut self, scheme: InitScheme) -> Self {
        self.scheme = scheme;
        self
    }
}

/// The RNG of one tensor: ChaCha8 keyed by `sha256(seed || name)`.
pub fn tensor_rng(seed: u64, name: &str) -> ChaCha8Rng {
    let mut h = Sha256::new();
    h.update(b"han-init\0");
    h.update(seed.to_le_bytes());
    h.update(name.as_bytes());
    ChaCha8Rng::from_seed(h.finalize().into())
}

/// Draws a tensor of `shape` from the hint `init` with `rng` (values in f64, then cast).
pub fn sample(init: Init, shape: &Shape, rng: &mut ChaCha8Rng, dtype: DType, dev: &Device) -> Result<Tensor> {
    let n = shape.elem_count();
    let uniform = |rng: &mut ChaCha8Rng, lo: f64, up: f64| -> Vec<f64> {
        (0..n).map(|_| lo + (up - lo) * rng.random::<f64>()).collect()
    };
    let normal = |rng: &mut ChaCha8Rng, mean: f64, std: f64| -> Vec<f64> {
        (0..n).map(|_| mean + std * rng.sample::<f64, _>(StandardNormal)).collect()
    };
    let values = match init {
        Init::Const(c) => vec![c; n],
        Init::Uniform { lo, up } => uniform(rng, lo, up),
        Init::Randn { mean, stdev } => normal(rng, mean, stdev),
        Init::Kaiming { dist, fan, non_linearity } => {
            let fan = fan_for_shape(fan, shape);
            let std = non_linearity.gain() / (fan.max(1) as f64).sqrt();
            match dist {
                NormalOrUniform::Uniform => {
                    let bound = 3f64.sqrt() * std;
                    uniform(rng, -bound, bound)
                }
                NormalOrUniform::Normal => normal(rng, 0.0, std),
            }
        }
    };
    Tensor::from_vec(values, shape.clone(), dev)?.to_dtype(dtype)
}

/// A (semi-)orthogonal matrix of `shape` flattened to `[shape[0], rest]`, as
/// `torch.nn.init.orthogonal_` draws it: QR of a Gaussian matrix with the signs of `R`'s
/// diagonal folded into `Q` (Haar-distributed), rows orthonormal when `rows <= cols`, else
/// columns.
pub fn orthogonal(shape: &Shape, rng: &mut ChaCha8Rng, dtype: DType, dev: &Device) -> Result<Tensor> {
    let dims = shape.dims();
    let rows = dims[0];
    let cols: usize = dims[1..].iter().product();
    // Work on the tall orientation n x m (n >= m): orthonormalise its m columns.
    let (n, m) = if rows < cols { (cols, rows) } else { (rows, cols) };
    let mut a: Vec<f64> = (0..n * m).map(|_| rng.sample::<f64, _>(StandardNormal)).collect(); // row-major n x m
    // Modified Gram-Schmidt: r_jj > 0, which is the sign convention above.
    for j in 0..m {
        for k in 0..j {
            let dot: f64 = (0..n).map(|i| a[i * m + j] * a[i * m + k]).sum();
            for i in 0..n {
                a[i * m + j] -= dot * a[i * m + k];
            }
        }
        let norm = (0..n).map(|i| a[i * m + j].powi(2)).sum::<f64>().sqrt();
        if norm == 0.0 {
            bail!("orthogonal init: degenerate Gaussian draw");
        }
        for i in 0..n {
            a[i * m + j] /= norm;
        }
    }
    let q = Tensor::from_vec(a, (n, m), dev)?;
    let q = if rows < cols { q.t()?.contiguous()? } else { q };
    q.reshape(shape.clone())?.to_dtype(dtype)
}

/// Fan-in / fan-out of a weight shape, as candle (and PyTorch) compute it.
fn fan_for_shape(fan: FanInOut, shape: &Shape) -> usize {
    fan.for_shape(shape)
}

impl SimpleBackend for SeededInit {
    fn get(&self, s: Shape, name: &str, h: Init, dtype: DType, dev: &Device) -> Result<Tensor> {
        let mut data = self.varmap.data().lock().map_err(|_| candle_core::Error::Msg("VarMap lock poisoned".into()))?;
        if let Some(var) = data.get(name) {
            if var.shape() != &s {
                bail!("shape mismatch on {name}: asked for {s:?}, the VarMap holds {:?}", var.shape());
            }
            return Ok(var.as_tensor().clone());
        }
        let mut rng = tensor_rng(self.seed, name);
        let leaf = name.rsplit('.').next().unwrap_or(name);
        let t = match self.scheme {
            InitScheme::Orthogonal if leaf == "weight" && s.rank() >= 2 => orthogonal(&s, &mut rng, dtype, dev)?,
            InitScheme::Orthogonal if leaf == "u" || leaf == "vector" => {
                let v = sample(Init::Randn { mean: 0.0, stdev: 1.0 }, &s, &mut rng, DType::F64, dev)?;
                let norm = v.sqr()?.sum_all()?.sqrt()?;
                v.broadcast_div(&norm)?.to_dtype(dtype)?
            }
            _ => sample(h, &s, &mut rng, dtype, dev)?,
        };
        let var = Var::from_tensor(&t)?;
        let out = var.as_tensor().clone();
        data.insert(name.to_string(), var);
        Ok(out)
    }

    fn get_unchecked(&self, name: &str, _dtype: DType, _dev: &Device) -> Result<Tensor> {
        bail!("SeededInit needs a shape to create `{name}`; use `get`, not `get_unchecked`")
    }

    fn contains_tensor(&self, name: &str) -> bool {
        self.varmap.data().lock().is_ok_and(|d| d.contains_key(name))
    }
}

/// A `VarBuilder` that fills `varmap` with tensors drawn from `(seed, name)`.
pub fn seeded_varbuilder<'a>(seed: u64, varmap: &VarMap, dtype: DType, dev: &Device) -> VarBuilder<'a> {
    VarBuilder::from_backend(Box::new(SeededInit::new(seed, varmap)), dtype, dev.clone())
}

/// Like [`seeded_varbuilder`] with an [`InitScheme`].
pub fn seeded_varbuilder_with<'a>(
    seed: u64,
    scheme: InitScheme,
    varmap: &VarMap,
    dtype: DType,
    dev: &Device,
) -> VarBuilder<'a> {
    VarBuilder::from_backend(Box::new(SeededInit::new(seed, varmap).with_scheme(scheme)), dtype, dev.clone())
}

#[cfg(test)]
mod tests {
    use super::*;
    use candle_nn::init::{DEFAULT_KAIMING_NORMAL, DEFAULT_KAIMING_UNIFORM};

    fn draw(seed: u64, names: &[&str], init: Init, shape: (usize, usize)) -> Vec<Vec<f32>> {
        let vm = VarMap::new();
        let vb = seeded_varbuilder(seed, &vm, DType::F32, &Device::Cpu);
        for n in names {
            vb.get_with_hints(shape, n, init).expect("get");
        }
        let data = vm.data().lock().expect("lock");
        let mut sorted: Vec<&str> = names.to_vec();
        sorted.sort_unstable();
        sorted.iter().map(|n| data[*n].as_tensor().flatten_all().and_then(|t| t.to_vec1()).expect("vec")).collect()
    }

    #[test]
    fn same_seed_same_tensors_whatever_the_order() {
        let init = Init::Randn { mean: 0.0, stdev: 1.0 };
        let a = draw(3, &["a.w", "b.w"], init, (4, 5));
        let b = draw(3, &["b.w", "a.w"], init, (4, 5));
        assert_eq!(a, b);
        assert_ne!(a[0], a[1], "different names draw different values");
        assert_ne!(draw(4, &["a.w"], init, (4, 5))[0], a[0], "different seeds differ");
    }

    #[test]
    fn hints_have_the_right_statistics() {
        let n = (200, 250);
        let stats = |v: &[f32]| {
            let m = v.iter().map(|&x| x as f64).sum::<f64>() / v.len() as f64;
            let var = v.iter().map(|&x| (x as f64 - m).powi(2)).sum::<f64>() / v.len() as f64;
            let (lo, hi) = v.iter().fold((f32::MAX, f32::MIN), |(l, h), &x| (l.min(x), h.max(x)));
            (m, var.sqrt(), lo, hi)
        };
        let (m, s, _, _) = stats(&draw(1, &["x"], Init::Randn { mean: 2.0, stdev: 0.5 }, n)[0]);
        assert!((m - 2.0).abs() < 0.01 && (s - 0.5).abs() < 0.01, "{m} {s}");
        let (m, _, lo, hi) = stats(&draw(1, &["x"], Init::Uniform { lo: -0.2, up: 0.6 }, n)[0]);
        assert!((m - 0.2).abs() < 0.01 && lo >= -0.2 && hi <= 0.6 && lo < -0.19 && hi > 0.59);
        assert!(draw(1, &["x"], Init::Const(0.25), n)[0].iter().all(|&x| x == 0.25));
        // Kaiming uniform, fan_in = 250, ReLU gain: bound sqrt(3) * sqrt(2) / sqrt(250).
        let bound = (6.0f64 / 250.0).sqrt();
        let (_, s, lo, hi) = stats(&draw(1, &["x"], DEFAULT_KAIMING_UNIFORM, n)[0]);
        assert!(lo as f64 >= -bound && hi as f64 <= bound && hi as f64 > 0.95 * bound);
        assert!((s - bound / 3f64.sqrt()).abs() < 0.01 * bound);
        let (_, s, _, _) = stats(&draw(1, &["x"], DEFAULT_KAIMING_NORMAL, n)[0]);
        assert!((s - (2.0f64 / 250.0).sqrt()).abs() < 0.01 * s, "{s}");
    }

    #[test]
    fn orthogonal_scheme_draws_orthonormal_rows_or_columns_and_unit_vectors() {
        let vm = VarMap::new();
        let vb = seeded_varbuilder_with(5, InitScheme::Orthogonal, &vm, DType::F64, &Device::Cpu);
        let hint = Init::Uniform { lo: -0.1, up: 0.1 };
        for (shape, name) in [((30, 2), "a.weight"), ((2, 30), "b.weight"), ((30, 30), "c.weight")] {
            let w = vb.get_with_hints(shape, name, hint).expect("get");
            // The smaller Gram matrix is the identity.
            let g = if shape.0 <= shape.1 { w.matmul(&w.t().expect("t")) } else { w.t().expect("t").matmul(&w) }
                .expect("gram");
            let g = g.to_vec2::<f64>().expect("g");
            for (i, row) in g.iter().enumerate() {
                for (j, &v) in row.iter().enumerate() {
                    assert!((v - f64::from(u8::from(i == j))).abs() < 1e-12, "{name} gram[{i}][{j}] = {v}");
                }
            }
        }
        let u = vb.get_with_hints(30, "h.u", Init::Randn { mean: 0.0, stdev: 1.0 }).expect("u");
        let n = u.sqr().and_then(|t| t.sum_all()).and_then(|t| t.to_scalar::<f64>()).expect("norm");
        assert!((n - 1.0).abs() < 1e-12);
        let b = vb.get_with_hints(30, "c.bias", Init::Const(0.5)).expect("bias");
        assert!(b.to_vec1::<f64>().expect("b").iter().all(|&v| v == 0.5), "biases keep their hint");
    }

    #[test]
    fn existing_tensors_are_reused_and_shape_checked() {
        let vm = VarMap::new();
        let vb = seeded_varbuilder(0, &vm, DType::F32, &Device::Cpu);
        let a = vb.get_with_hints(3, "t", Init::Randn { mean: 0.0, stdev: 1.0 }).expect("get");
        let b = vb.get_with_hints(3, "t", Init::Const(9.0)).expect("again");
        assert_eq!(a.to_vec1::<f32>().expect("a"), b.to_vec1::<f32>().expect("b"));
        assert!(vb.get_with_hints(4, "t", Init::Const(0.0)).is_err());
        assert!(vb.contains_tensor("t") && !vb.contains_tensor("u"));
    }
}
