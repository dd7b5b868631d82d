//! Initialisation constants of the Han-layer, as the authors use them.

use candle_nn::Init;

/// `u` is drawn from a standard normal: its direction is then uniform on the sphere, and the
/// layer depends on the direction of `u` only.
pub const U_INIT: Init = Init::Randn { mean: 0.0, stdev: 1.0 };

/// The bias is uniform in `(-1/sqrt(d), 1/sqrt(d))`, as for PyTorch's `nn.Linear` bias.
pub fn bias_init(dim: usize) -> Init {
    let bound = 1.0 / (dim.max(1) as f64).sqrt();
    Init::Uniform { lo: -bound, up: bound }
}
