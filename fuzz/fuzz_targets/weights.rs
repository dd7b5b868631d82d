//! Weights loading: `Classifier::from_dir` on a folder holding the bundled hannet-digits card
//! and fuzzed weights bytes, the card's sha256 set to match them (so the bytes reach the
//! safetensors and tensor checks). No panic; a model that loads and runs gives one probability
//! a class.
#![no_main]

use std::sync::OnceLock;

use han_models::zoo::Classifier;
use libfuzzer_sys::fuzz_target;
use sha2::Digest;

struct Env {
    dir: tempfile::TempDir,
    card: serde_json::Value,
}

fn env() -> &'static Env {
    static ENV: OnceLock<Env> = OnceLock::new();
    ENV.get_or_init(|| {
        let src = han_models::zoo::bundled_dir().join("hannet-digits").join("config.json");
        let card = serde_json::from_slice(&std::fs::read(src).expect("the bundled card")).expect("card JSON");
        Env { dir: tempfile::tempdir().expect("temp dir"), card }
    })
}

fuzz_target!(|data: &[u8]| {
    let env = env();
    let mut card = env.card.clone();
    card["weights"]["sha256"] = serde_json::Value::String(hex::encode(sha2::Sha256::digest(data)));
    let file = card["weights"]["file"].as_str().expect("weights.file").to_string();
    std::fs::write(env.dir.path().join(&file), data).expect("write weights");
    std::fs::write(env.dir.path().join("config.json"), card.to_string()).expect("write card");
    if let Ok(model) = Classifier::from_dir(env.dir.path()) {
        // Finite but huge weights load and may overflow to non-finite outputs; the run then
        // refuses with an error (the server answers 422), which is fine: no panic is the rule.
        let n = model.card().input_len();
        if let Ok(p) = model.probabilities(&vec![0.5; n]) {
            assert_eq!(p.len(), model.card().head.classes);
        }
    }
});
