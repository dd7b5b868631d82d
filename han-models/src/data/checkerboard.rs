//! The paper's stylized problem: a 12 x 12 checkerboard on an 81 x 81 grid of [-1, 1]^2.
//!
//! Grid values are `float32(linspace(-1, 1, 81))` (in f64: `-1 + i * 2/80`, the last one 1).
//! Points are indexed `(i, j)`, `x1 = grid[i]`, `x2 = grid[j]`, in row-major order. The board
//! covers the central 72 x 72 points, indices 4..=75 on both axes, in cells of 6 x 6 points;
//! the label is the parity of the cell, `((i - 4) / 6 + (j - 4) / 6) % 2`, so the cell at the
//! corner (-0.9, -0.9) is 0. The border (indices 0..=3 and 76..=80) is 0. The parity was read
//! off the authors' published split, which agrees with it at all 6,561 points (see
//! `tests/data.rs`).

use std::path::Path;

use super::{DataError, Dataset, Split, seeded_split};
use crate::card::Preprocessing;

/// Points per axis.
pub const GRID: usize = 81;
/// First grid index of the board on each axis.
pub const BOARD_START: usize = 4;
/// Points per cell side.
pub const CELL: usize = 6;
/// Cells per board side.
pub const CELLS: usize = 12;
/// Training points: 25 % of 6,561, rounded down, as the authors' split.
pub const TRAIN_SIZE: usize = 1_640;
/// Test points: the other 4,921.
pub const TEST_SIZE: usize = GRID * GRID - TRAIN_SIZE;
/// Seed of the generated train/test split (a ChaCha8 permutation of the 6,561 points; the
/// first 1,640 train, the rest test, each in grid order).
pub const SPLIT_SEED: u64 = 42;

/// The grid values on one axis: `float32(numpy.linspace(-1, 1, 81))`.
pub fn grid() -> [f32; GRID] {
    let step = 2.0 / (GRID - 1) as f64;
    let mut g = [0f32; GRID];
    for (i, v) in g.iter_mut().enumerate() {
        *v = (i as f64 * step - 1.0) as f32;
    }
    g[GRID - 1] = 1.0;
    g
}

/// The label of grid point `(i, j)`.
pub fn label(i: usize, j: usize) -> u32 {
    let board = BOARD_START..BOARD_START + CELL * CELLS;
    if board.contains(&i) && board.contains(&j) {
        (((i - BOARD_START) / CELL + (j - BOARD_START) / CELL) % 2) as u32
    } else {
        0
    }
}

/// Every grid point and its label, row-major.
pub fn all_points() -> Split {
    let g = grid();
    let mut x = Vec::with_capacity(GRID * GRID * 2);
    let mut y = Vec::with_capacity(GRID * GRID);
    for i in 0..GRID {
        for j in 0..GRID {
            x.extend_from_slice(&[g[i], g[j]]);
            y.push(label(i, j));
        }
    }
    Split { x, y, features: 2 }
}

fn dataset(train: Split, test: Split, source: &str) -> Dataset {
    Dataset {
        name: "checkerboard".into(),
        input_shape: vec![2],
        labels: vec!["0".into(), "1".into()],
        train,
        test,
        // Coordinates already lie in [-1, 1]: identity, as the authors feed them.
        preprocessing: Preprocessing::default(),
        input_description: "a point (x1, x2) of the 81 x 81 grid on [-1, 1]^2".into(),
        source: source.into(),
        licence: "generated in code (no third-party data); the problem is Yu & Zhang's, arXiv 2106.04088".into(),
    }
}

/// The checkerboard with the seeded 25 % / 75 % split ([`SPLIT_SEED`]): 1,640 / 4,921 points.
pub fn generate() -> Dataset {
    let all = all_points();
    let (train, test) = seeded_split(all.len(), TRAIN_SIZE, SPLIT_SEED);
    dataset(
        all.subset(&train),
        all.subset(&test),
        "generated in code: 12 x 12 checkerboard on the 81 x 81 grid of [-1, 1]^2 (Yu & Zhang, arXiv 2106.04088)",
    )
}

/// Parses an authors' CSV (`x1,x2,label`, float32 printed to 9 significant digits).
fn read_csv(path: &Path) -> Result<Split, DataError> {
    let err = |reason: String| DataError::Reference { file: path.to_path_buf(), reason };
    let text = std::fs::read_to_string(path).map_err(|e| err(format!("cannot read: {e}")))?;
    let mut lines = text.lines().enumerate();
    match lines.next() {
        Some((_, h)) if h.trim() == "x1,x2,label" => {}
        other => return Err(err(format!("header is {:?}, expected \"x1,x2,label\"", other.map(|(_, h)| h)))),
    }
    let (mut x, mut y) = (Vec::new(), Vec::new());
    for (n, line) in lines {
        if line.trim().is_empty() {
            continue;
        }
        let f: Vec<&str> = line.trim().split(',').collect();
        let bad = || err(format!("line {}: {line:?} is not `x1,x2,label`", n + 1));
        if f.len() != 3 {
            return Err(bad());
        }
        let x1: f32 = f[0].parse().map_err(|_| bad())?;
        let x2: f32 = f[1].parse().map_err(|_| bad())?;
        let l: f32 = f[2].parse().map_err(|_| bad())?;
        if l != 0.0 && l != 1.0 {
            return Err(err(format!("line {}: label {l} is not 0 or 1", n + 1)));
        }
        x.extend_from_slice(&[x1, x2]);
        y.push(l as u32);
    }
    Ok(Split { x, y, features: 2 })
}

/// The authors' own split, read from `dir/trainset.csv` and `dir/testset.csv` (normally
/// `../shared/reference/checkerboard` from the workspace root): 1,640 / 4,921 points.
pub fn checkerboard_reference_split(dir: &Path) -> Result<Dataset, DataError> {
    let train = read_csv(&dir.join("trainset.csv"))?;
    let test = read_csv(&dir.join("testset.csv"))?;
    Ok(dataset(train, test, "the authors' published split (trainset.csv / testset.csv of Yu & Zhang's code)"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn grid_ends_and_step() {
        let g = grid();
        assert_eq!((g[0], g[40], g[80]), (-1.0, 0.0, 1.0));
        assert_eq!(g[1], -0.975f32);
    }

    #[test]
    fn board_layout() {
        // Border is 0 on every side; the 12 x 12 board alternates.
        for k in 0..GRID {
            for b in [0, 3, 76, 80] {
                assert_eq!(label(b, k), 0);
                assert_eq!(label(k, b), 0);
            }
        }
        assert_eq!(label(4, 4), 0);
        assert_eq!(label(4, 10), 1);
        assert_eq!(label(10, 10), 0);
        assert_eq!(label(75, 4), 1);
        let ones: u32 = all_points().y.iter().sum();
        assert_eq!(ones, 72 * 72 / 2);
    }
}
