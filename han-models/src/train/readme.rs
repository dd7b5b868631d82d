//! The generated model card (`README.md` of a zoo folder), rendered from `config.json`.

use std::fmt::Write;

use crate::card::Card;
use crate::spec::LayerSpec;

fn pct(x: f64) -> String {
    format!("{:.2} %", 100.0 * x)
}

fn list(v: &[f32]) -> String {
    if v.len() == 1 { format!("{}", v[0]) } else { format!("{} per-feature values", v.len()) }
}

/// A compact description of the layer list, e.g. `linear(2->30), abs, 17 x [han(30), abs], ...`.
pub fn summarize_layers(layers: &[LayerSpec]) -> String {
    let d: Vec<String> = layers.iter().map(LayerSpec::describe).collect();
    let mut out: Vec<String> = Vec::new();
    let mut i = 0;
    while i < d.len() {
        // Collapse runs of a repeated pair (han, abs).
        if i + 1 < d.len() {
            let mut k = 1;
            // Only a pair led by a layer with parameters (han, linear, conv) is a block.
            let leads = layers[i].param_count() > 0;
            while leads && i + 2 * k + 1 < d.len() && d[i + 2 * k] == d[i] && d[i + 2 * k + 1] == d[i + 1] {
                k += 1;
            }
            if k > 1 {
                out.push(format!("{k} x [{}, {}]", d[i], d[i + 1]));
                i += 2 * k;
                continue;
            }
        }
        out.push(d[i].clone());
        i += 1;
    }
    out.join(", ")
}

/// Renders the README of a zoo folder from its card.
pub fn render_readme(card: &Card) -> String {
    let mut s = String::new();
    let m = &card.metrics;
    let t = &card.training;
    let p = &card.params;
    let pre = &card.input.preprocessing;
    let layers: Vec<LayerSpec> = card.architecture.layers.iter().map(|l| l.spec.clone()).collect();
    let _ = writeln!(s, "# {}\n", card.name);
    let _ = writeln!(s, "{}\n", card.description);
    let _ = writeln!(s, "Generated from `config.json` (the model card); do not edit by hand.\n");
    let _ = writeln!(s, "| | |\n|---|---|");
    let _ = writeln!(s, "| Task | {} |", card.task);
    let _ = writeln!(s, "| Architecture | `{}` ({}) |", card.architecture.family, summarize_layers(&layers));
    let _ = writeln!(
        s,
        "| Parameters | {} total: {} Han, {} fully connected, {} convolutional |",
        p.total, p.han, p.fc, p.conv
    );
    let _ = writeln!(s, "| Test accuracy | **{}** ({} / {}) |", pct(m.test_accuracy), m.test_correct, m.test_total);
    if let Some(v) = m.val_accuracy {
        let _ = writeln!(
            s,
            "| Validation accuracy | {} ({} samples, used for model selection) |",
            pct(v),
            card.dataset.val
        );
    }
    if let Some(v) = m.train_accuracy {
        let _ = writeln!(s, "| Training accuracy | {} ({} samples) |", pct(v), card.dataset.train);
    }
    let _ =
        writeln!(s, "| Dataset | {} ({}; licence: {}) |", card.dataset.name, card.dataset.source, card.dataset.licence);
    let _ =
        writeln!(s, "| Weights | `{}` ({}), sha256 `{}` |", card.weights.file, card.weights.dtype, card.weights.sha256);
    let _ = writeln!(s, "| Paper | {} |\n", card.provenance.paper);

    let _ = writeln!(s, "## Input\n");
    let _ = writeln!(
        s,
        "- Shape `{:?}` ({} values a sample), dtype `{}`: {}",
        card.input.shape,
        card.input_len(),
        card.input.dtype,
        card.input.description
    );
    let _ = writeln!(
        s,
        "- Preprocessing (applied by the classifier to raw inputs): `x' = (x * {} - mean) / std` with mean {} and std {}.",
        pre.scale,
        list(&pre.mean),
        list(&pre.std)
    );
    let _ = writeln!(s, "\n## Output\n");
    let _ = writeln!(
        s,
        "{} classes, probabilities by `{}` of the outputs: {}.\n",
        card.head.classes,
        card.head.activation,
        card.head.labels.iter().enumerate().map(|(i, l)| format!("{i} = `{l}`")).collect::<Vec<_>>().join(", ")
    );

    let _ = writeln!(s, "## Usage\n");
    let example: Vec<String> = (0..card.input_len().min(4)).map(|_| "0.0".to_string()).collect();
    let input = if card.input_len() <= 4 {
        format!("[{}]", example.join(", "))
    } else {
        format!("[0.0f32; {}]", card.input_len())
    };
    let _ = writeln!(s, "```rust");
    let _ = writeln!(s, "let model = han_models::zoo::load(\"{}\")?;", card.name);
    let _ = writeln!(s, "let top = model.classify(&{input}, 1)?; // one raw sample, as described above");
    let _ = writeln!(s, "println!(\"{{}} ({{:.3}})\", top[0].label, top[0].score);");
    let _ = writeln!(s, "```\n");
    let _ = writeln!(s, "Evaluate it on its test split: `han-zoo eval {}`.\n", card.name);

    let _ = writeln!(s, "## Training\n");
    let _ = writeln!(s, "```sh\n{}\n```\n", card.provenance.command);
    let schedule = if t.milestones.is_empty() {
        "constant".to_string()
    } else {
        format!("x {} at epochs {:?}", t.gamma, t.milestones)
    };
    let _ = writeln!(
        s,
        "{} (lr {}, {}weight decay {}), learning rate {schedule}, {} epochs, batch {}, {} loss, seed {}; \
         {} % of the training split held out for validation; selection: {}; saved epoch {}; {:.1} s of training.\n",
        t.optimizer,
        t.lr,
        if t.optimizer == "sgd" { format!("momentum {}, ", t.momentum) } else { String::new() },
        t.weight_decay,
        t.epochs,
        t.batch_size,
        t.loss,
        t.seed,
        (t.val_fraction * 100.0).round(),
        t.selection,
        t.selected_epoch,
        t.train_seconds
    );
    let _ = writeln!(
        s,
        "`metrics.csv` holds the per-epoch numbers and `curves.png` plots them{}.",
        if card.input_len() == 2 { "; `decision_map.png` shows the learned decision regions" } else { "" }
    );
    let _ = writeln!(s, "\nhan {}.", card.provenance.han_version);
    s
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::arch;

    #[test]
    fn repeated_blocks_are_collapsed() {
        let spec = arch::hannet_checkerboard();
        let layers: Vec<LayerSpec> = spec.layers.iter().map(|l| l.spec.clone()).collect();
        assert_eq!(
            summarize_layers(&layers),
            "linear(2->30), abs, linear(30->30), abs, 17 x [han(30), abs], linear(30->30), abs, linear(30->2)"
        );
    }
}
