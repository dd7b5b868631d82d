//! Pictures of a training run: the learning curves and, for 2-D inputs, the decision map.
//!
//! Text (titles, tick labels, legends) needs a TrueType font; DejaVu Sans is looked up in the
//! usual system places (or `$HAN_FONT`). Without a font the pictures are drawn without text,
//! never an error.

use std::path::{Path, PathBuf};
use std::sync::OnceLock;

use plotters::prelude::*;

use super::metrics::EpochMetrics;

const FONT_CANDIDATES: &[&str] = &[
    "/usr/share/fonts/truetype/dejavu/DejaVuSans.ttf",
    "/usr/share/fonts/dejavu/DejaVuSans.ttf",
    "/usr/share/fonts/TTF/DejaVuSans.ttf",
    "/usr/share/fonts/truetype/liberation/LiberationSans-Regular.ttf",
    "/Library/Fonts/Arial.ttf",
    "C:\\Windows\\Fonts\\arial.ttf",
];

/// Registers a system font with plotters once; returns whether text can be drawn.
pub fn font_available() -> bool {
    static FONT: OnceLock<bool> = OnceLock::new();
    *FONT.get_or_init(|| {
        let env = std::env::var_os("HAN_FONT").map(PathBuf::from);
        let candidates: Vec<PathBuf> = match env {
            // An explicit choice (even a missing file) wins: it lets tests draw without text.
            Some(p) => vec![p],
            None => FONT_CANDIDATES.iter().map(PathBuf::from).collect(),
        };
        for p in candidates {
            if let Ok(bytes) = std::fs::read(&p) {
                let bytes: &'static [u8] = Box::leak(bytes.into_boxed_slice());
                if plotters::style::register_font("sans-serif", FontStyle::Normal, bytes).is_ok() {
                    return true;
                }
            }
        }
        false
    })
}

type PlotResult = Result<(), Box<dyn std::error::Error + Send + Sync>>;

/// Maps a batch of raw 2-D points (row-major) to per-class probabilities.
pub type PredictFn<'a> = dyn Fn(&[f32]) -> Result<Vec<Vec<f32>>, Box<dyn std::error::Error + Send + Sync>> + 'a;

fn boxed<E: std::error::Error + Send + Sync + 'static>(e: E) -> Box<dyn std::error::Error + Send + Sync> {
    Box::new(e)
}

// 1-pixel lines: plotters joins thick polylines with mitres, which spike at the sharp turns
// of noisy per-epoch curves.
const TRAIN: RGBColor = RGBColor(31, 119, 180);
const VAL: RGBColor = RGBColor(255, 127, 14);

/// Draws `curves.png`: loss (left, log scale) and accuracy (right) per epoch, training and
/// validation.
pub fn curves(path: &Path, title: &str, rows: &[EpochMetrics]) -> PlotResult {
    if rows.is_empty() {
        return Ok(());
    }
    let text = font_available();
    let root = BitMapBackend::new(path, (1100, 450)).into_drawing_area();
    root.fill(&WHITE).map_err(boxed)?;
    let root = if text { root.titled(title, ("sans-serif", 22)).map_err(boxed)? } else { root };
    let panels = root.split_evenly((1, 2));
    let n = rows.len() as f64;
    // Loss on a log10 axis (drawn as a linear axis of log10 values: ticks stay readable
    // whatever the range).
    let finite = |v: f64| v.is_finite() && v > 0.0;
    let losses: Vec<f64> =
        rows.iter().flat_map(|r| [r.train_loss, r.val_loss]).filter(|&v| finite(v)).map(f64::log10).collect();
    let (lo, hi) = losses.iter().fold((f64::MAX, f64::MIN), |(l, h), &v| (l.min(v), h.max(v)));
    let (lo, hi) =
        if losses.is_empty() { (-3.0, 0.0) } else { (lo - 0.05 * (hi - lo + 0.1), hi + 0.05 * (hi - lo + 0.1)) };
    let xs = |r: &EpochMetrics| r.epoch as f64;

    // Loss.
    {
        let mut b = ChartBuilder::on(&panels[0]);
        b.margin(12);
        if text {
            b.caption("loss (log10)", ("sans-serif", 18)).x_label_area_size(35).y_label_area_size(60);
        }
        let mut chart = b.build_cartesian_2d(0.5..n + 0.5, lo..hi).map_err(boxed)?;
        let mut mesh = chart.configure_mesh();
        if text {
            mesh.x_desc("epoch").x_label_formatter(&|x| format!("{x:.0}"));
        } else {
            mesh.x_labels(0).y_labels(0);
        }
        mesh.draw().map_err(boxed)?;
        let s = chart
            .draw_series(LineSeries::new(
                rows.iter().filter(|r| finite(r.train_loss)).map(|r| (xs(r), r.train_loss.log10())),
                TRAIN.stroke_width(1),
            ))
            .map_err(boxed)?;
        if text {
            s.label("train").legend(|(x, y)| PathElement::new(vec![(x, y), (x + 20, y)], TRAIN.stroke_width(1)));
        }
        let s = chart
            .draw_series(LineSeries::new(
                rows.iter().filter(|r| finite(r.val_loss)).map(|r| (xs(r), r.val_loss.log10())),
                VAL.stroke_width(1),
            ))
            .map_err(boxed)?;
        if text {
            s.label("validation").legend(|(x, y)| PathElement::new(vec![(x, y), (x + 20, y)], VAL.stroke_width(1)));
            chart
                .configure_series_labels()
                .background_style(WHITE.mix(0.8))
                .border_style(BLACK)
                .draw()
                .map_err(boxed)?;
        }
    }
    // Accuracy.
    {
        let accs: Vec<f64> = rows.iter().flat_map(|r| [r.train_acc, r.val_acc]).filter(|v| v.is_finite()).collect();
        let amin = accs.iter().copied().fold(1.0f64, f64::min);
        let lo = (amin - 0.02).clamp(0.0, 0.98);
        let mut b = ChartBuilder::on(&panels[1]);
        b.margin(12);
        if text {
            b.caption("accuracy", ("sans-serif", 18)).x_label_area_size(35).y_label_area_size(60);
        }
        let mut chart = b.build_cartesian_2d(0.5..n + 0.5, lo..1.0f64).map_err(boxed)?;
        let mut mesh = chart.configure_mesh();
        if text {
            mesh.x_desc("epoch").x_label_formatter(&|x| format!("{x:.0}"));
        } else {
            mesh.x_labels(0).y_labels(0);
        }
        mesh.draw().map_err(boxed)?;
        let s = chart
            .draw_series(LineSeries::new(
                rows.iter().filter(|r| r.train_acc.is_finite()).map(|r| (xs(r), r.train_acc)),
                TRAIN.stroke_width(1),
            ))
            .map_err(boxed)?;
        if text {
            s.label("train").legend(|(x, y)| PathElement::new(vec![(x, y), (x + 20, y)], TRAIN.stroke_width(1)));
        }
        let s = chart
            .draw_series(LineSeries::new(
                rows.iter().filter(|r| r.val_acc.is_finite()).map(|r| (xs(r), r.val_acc)),
                VAL.stroke_width(1),
            ))
            .map_err(boxed)?;
        if text {
            s.label("validation").legend(|(x, y)| PathElement::new(vec![(x, y), (x + 20, y)], VAL.stroke_width(1)));
            chart
                .configure_series_labels()
                .position(SeriesLabelPosition::LowerRight)
                .background_style(WHITE.mix(0.8))
                .border_style(BLACK)
                .draw()
                .map_err(boxed)?;
        }
    }
    root.present().map_err(boxed)?;
    Ok(())
}

/// Class colours (tab10).
const PALETTE: [RGBColor; 10] = [
    RGBColor(31, 119, 180),
    RGBColor(255, 127, 14),
    RGBColor(44, 160, 44),
    RGBColor(214, 39, 40),
    RGBColor(148, 103, 189),
    RGBColor(140, 86, 75),
    RGBColor(227, 119, 194),
    RGBColor(127, 127, 127),
    RGBColor(188, 189, 34),
    RGBColor(23, 190, 207),
];

/// Draws `decision_map.png` for a 2-D input: the predicted class over the raw input box
/// `[x0, x1] x [y0, y1]` (pale colours, darker where the model is confident) with the
/// labelled `points` on top (raw coordinates, class).
///
/// `predict` maps a batch of raw 2-D points (row-major) to per-class probabilities.
pub fn decision_map(
    path: &Path,
    title: &str,
    bounds: ([f32; 2], [f32; 2]),
    points: &[([f32; 2], u32)],
    predict: &PredictFn<'_>,
) -> PlotResult {
    const SIZE: u32 = 600;
    let text = font_available();
    let top = if text { 40 } else { 0 };
    let root = BitMapBackend::new(path, (SIZE, SIZE + top)).into_drawing_area();
    root.fill(&WHITE).map_err(boxed)?;
    let ([x0, x1], [y0, y1]) = bounds;
    let (w, h) = (SIZE as usize, SIZE as usize);
    // Pixel centres, top row = largest y.
    let mut grid = Vec::with_capacity(w * h * 2);
    for py in 0..h {
        for px in 0..w {
            let x = x0 + (x1 - x0) * (px as f32 + 0.5) / w as f32;
            let y = y1 - (y1 - y0) * (py as f32 + 0.5) / h as f32;
            grid.extend([x, y]);
        }
    }
    let probs = predict(&grid)?;
    for (i, p) in probs.iter().enumerate() {
        let (k, conf) =
            p.iter().enumerate().fold((0, f32::MIN), |(bk, bv), (k, &v)| if v > bv { (k, v) } else { (bk, bv) });
        let c = PALETTE[k % PALETTE.len()];
        // Mix towards white: confident -> 55 % colour, uncertain -> 15 %.
        let classes = p.len().max(2) as f32;
        let t = ((conf - 1.0 / classes) / (1.0 - 1.0 / classes)).clamp(0.0, 1.0);
        let a = 0.15 + 0.4 * t;
        let mix = |ch: u8| (255.0 * (1.0 - a) + ch as f32 * a) as u8;
        let (px, py) = ((i % w) as i32, (i / w) as i32 + top as i32);
        root.draw_pixel((px, py), &RGBColor(mix(c.0), mix(c.1), mix(c.2))).map_err(boxed)?;
    }
    for &([x, y], label) in points {
        let px = ((x - x0) / (x1 - x0) * w as f32) as i32;
        let py = ((y1 - y) / (y1 - y0) * h as f32) as i32 + top as i32;
        let c = PALETTE[label as usize % PALETTE.len()];
        root.draw(&Circle::new((px, py), 3, c.filled())).map_err(boxed)?;
        root.draw(&Circle::new((px, py), 3, BLACK.mix(0.6).stroke_width(1))).map_err(boxed)?;
    }
    if text {
        root.draw_text(title, &("sans-serif", 20).into_text_style(&root), (10, 10)).map_err(boxed)?;
    }
    root.present().map_err(boxed)?;
    Ok(())
}
