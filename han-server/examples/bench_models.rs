//! Writes stand-in model folders (random weights, consistent cards) with the architectures of
//! the zoo's `hannet-checkerboard` (the paper's 3,032-parameter HanNet) and `hannet-mnist`
//! (HanNet 784 -> 64, 8 Han-layers, 10 classes), for benchmarking when the trained weights are
//! not there yet. Only the names given are written.
//!
//! `cargo run --release -p han-server --example bench_models -- OUT_DIR [NAME...]`

#[path = "../tests/common/fixtures.rs"]
mod fixtures;

use han_models::card::Preprocessing;

fn main() {
    let mut args = std::env::args().skip(1);
    let Some(out) = args.next() else {
        eprintln!("usage: bench_models OUT_DIR [hannet-checkerboard] [hannet-mnist]");
        std::process::exit(2);
    };
    let out = std::path::PathBuf::from(out);
    let mut names: Vec<String> = args.collect();
    if names.is_empty() {
        names = vec!["hannet-checkerboard".into(), "hannet-mnist".into()];
    }
    for name in names {
        match name.as_str() {
            "hannet-checkerboard" => {
                fixtures::write_model(
                    &out,
                    &name,
                    &han_models::arch::hannet_checkerboard(),
                    vec![2],
                    Preprocessing::default(),
                );
            }
            "hannet-mnist" => {
                let p = Preprocessing { scale: 1.0 / 255.0, mean: vec![0.1307], std: vec![0.3081] };
                fixtures::write_model(&out, &name, &han_models::arch::hannet(784, 64, 8, 10), vec![28, 28], p);
            }
            other => {
                eprintln!("unknown stand-in {other}");
                std::process::exit(2);
            }
        }
        println!("wrote {}", out.join(&name).display());
    }
}
