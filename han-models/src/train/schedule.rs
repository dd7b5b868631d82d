//! Multi-step learning-rate schedule (`torch.optim.lr_scheduler.MultiStepLR`).

/// The learning rate is multiplied by `gamma` at each milestone epoch.
#[derive(Clone, Debug, PartialEq)]
pub struct MultiStep {
    /// Initial learning rate.
    pub base_lr: f64,
    /// 0-based epochs from which the next factor applies (sorted or not).
    pub milestones: Vec<usize>,
    /// Factor applied at each milestone.
    pub gamma: f64,
}

impl MultiStep {
    /// The learning rate of 0-based `epoch`: `base_lr * gamma^(milestones <= epoch)`, as
    /// PyTorch's `MultiStepLR` stepped once per epoch (milestone 30 lowers the rate from the
    /// 31st epoch on).
    pub fn lr_at(&self, epoch: usize) -> f64 {
        let passed = self.milestones.iter().filter(|&&m| m <= epoch).count();
        self.base_lr * self.gamma.powi(passed as i32)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn decays_at_each_milestone() {
        let s = MultiStep { base_lr: 0.1, milestones: vec![60, 30], gamma: 0.1 };
        assert_eq!(s.lr_at(0), 0.1);
        assert_eq!(s.lr_at(29), 0.1);
        assert!((s.lr_at(30) - 0.01).abs() < 1e-15);
        assert!((s.lr_at(59) - 0.01).abs() < 1e-15);
        assert!((s.lr_at(60) - 0.001).abs() < 1e-15);
        assert_eq!(MultiStep { base_lr: 0.5, milestones: vec![], gamma: 0.1 }.lr_at(1000), 0.5);
    }
}
