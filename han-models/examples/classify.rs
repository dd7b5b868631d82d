//! Loads a zoo model and classifies one test sample of its dataset.
//!
//! ```text
//! cargo run --release -p han-models --example classify [-- NAME [INDEX]]   # hannet-mnist, 0
//! ```

use han_models::{data, zoo};

fn run() -> anyhow::Result<()> {
    let mut args = std::env::args().skip(1);
    let name = args.next().unwrap_or_else(|| "hannet-mnist".into());
    let index: usize = args.next().map(|s| s.parse()).transpose()?.unwrap_or(0);

    let model = zoo::load(&name)?;
    let test = data::load(&model.card().dataset.name)?.test;
    anyhow::ensure!(index < test.len(), "the test split has {} samples", test.len());
    println!("{name}: test sample {index}, true label {}", model.labels()[test.y[index] as usize]);
    for p in model.classify(test.row(index), 3)? {
        println!("  {:<12} {:.6}", p.label, p.score);
    }
    Ok(())
}

fn main() {
    if let Err(e) = run() {
        eprintln!("error: {e:#}");
        std::process::exit(1);
    }
}
