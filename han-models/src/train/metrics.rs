//! Per-epoch metrics and their CSV file.

use std::io::Write;
use std::path::Path;

/// What one epoch measured.
#[derive(Clone, Debug, PartialEq)]
pub struct EpochMetrics {
    /// 1-based epoch.
    pub epoch: usize,
    /// Learning rate used during the epoch.
    pub lr: f64,
    /// Mean training loss over the epoch's mini-batches (weights changing as it goes).
    pub train_loss: f64,
    /// Training accuracy over the epoch's mini-batches.
    pub train_acc: f64,
    /// Validation loss at the end of the epoch (NaN without a validation split).
    pub val_loss: f64,
    /// Validation accuracy at the end of the epoch (NaN without a validation split).
    pub val_acc: f64,
    /// Wall-clock seconds since training started.
    pub seconds: f64,
}

/// The CSV header.
pub const CSV_HEADER: &str = "epoch,lr,train_loss,train_acc,val_loss,val_acc,seconds";

impl EpochMetrics {
    /// One CSV row (no newline).
    pub fn csv_row(&self) -> String {
        format!(
            "{},{},{:.6},{:.6},{:.6},{:.6},{:.3}",
            self.epoch, self.lr, self.train_loss, self.train_acc, self.val_loss, self.val_acc, self.seconds
        )
    }
}

/// Writes `metrics.csv`.
pub fn write_csv(path: &Path, rows: &[EpochMetrics]) -> std::io::Result<()> {
    let mut f = std::io::BufWriter::new(std::fs::File::create(path)?);
    writeln!(f, "{CSV_HEADER}")?;
    for r in rows {
        writeln!(f, "{}", r.csv_row())?;
    }
    f.flush()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rows_have_one_field_per_header_column() {
        let r = EpochMetrics {
            epoch: 3,
            lr: 0.01,
            train_loss: 0.5,
            train_acc: 0.75,
            val_loss: f64::NAN,
            val_acc: f64::NAN,
            seconds: 1.5,
        };
        let row = r.csv_row();
        assert_eq!(row.split(',').count(), CSV_HEADER.split(',').count());
        assert!(row.starts_with("3,0.01,0.500000,0.750000,NaN,NaN,1.500"), "{row}");
    }
}
