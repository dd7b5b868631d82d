//! The zoo: every bundled model loads and reproduces its card; loading fails cleanly on bad
//! names, bad inputs and damaged files; a saved model loads back with the same outputs.
#![allow(clippy::unwrap_used)]

mod zoo_support;

use std::path::Path;

use candle_core::{Device, Module, Tensor};
use han_models::arch::{self, HanConvConfig};
use han_models::card::Preprocessing;
use han_models::zoo::{self, Classifier, ZooError};
use zoo_support::{values, write_card, write_model};

/// Rows per candle forward pass, as the trainer evaluates when it writes the card.
use han_models::train::eval::EVAL_BATCH;

fn argmax(row: &[f32]) -> usize {
    // The first maximum, as the trainer's `argmax_rows`.
    row.iter().enumerate().fold((0, f32::NEG_INFINITY), |(bi, bv), (i, &v)| if v > bv { (i, v) } else { (bi, bv) }).0
}

/// Whether the two largest values of `row` are within `eps` (a tie at float precision).
fn near_tie(row: &[f32], eps: f32) -> bool {
    let mut v = row.to_vec();
    v.sort_by(|a, b| b.total_cmp(a));
    v.len() > 1 && v[0] - v[1] <= eps
}

#[test]
fn every_bundled_model_loads_and_reproduces_its_card() {
    let names = zoo::list();
    eprintln!("zoo models in {}: {names:?}", zoo::bundled_dir().display());
    for name in &names {
        let card = zoo::card(name).unwrap_or_else(|e| panic!("{name}: {e}"));
        let model = zoo::load(name).unwrap_or_else(|e| panic!("{name}: {e}"));
        assert_eq!(model.name(), name);
        assert_eq!(model.card(), &card);
        assert_eq!(model.classes(), card.head.classes);
        assert_eq!(model.labels().len(), card.head.classes);
        assert_eq!(model.input_len(), card.input.shape.iter().product::<usize>());

        let data = han_models::data::load(&card.dataset.name).unwrap_or_else(|e| {
            panic!("{name}: dataset `{}`: {e} (run scripts/test.sh, which fetches the datasets)", card.dataset.name)
        });
        let test = &data.test;
        assert_eq!(test.features, model.input_len(), "{name}: dataset features vs card input");
        assert_eq!(test.len(), card.metrics.test_total, "{name}: test split size vs card");

        // The candle path, batched as the trainer evaluates: exactly the card's numbers.
        let c = model.classes();
        let mut candle = Vec::with_capacity(test.len() * c);
        for rows in test.x.chunks(EVAL_BATCH * test.features) {
            candle.extend(model.logits_candle(rows).unwrap_or_else(|e| panic!("{name}: {e}")));
        }
        let fast = model.logits(&test.x).unwrap_or_else(|e| panic!("{name}: {e}"));
        assert_eq!(fast.len(), test.len() * c, "{name}: output shape");
        assert!(fast.iter().all(|v| v.is_finite()), "{name}: non-finite output");

        let correct =
            |logits: &[f32]| logits.chunks_exact(c).zip(&test.y).filter(|(r, y)| argmax(r) == **y as usize).count();
        assert_eq!(
            (correct(&candle), test.len()),
            (card.metrics.test_correct, card.metrics.test_total),
            "{name}: test accuracy (candle path) differs from the card"
        );
        // The fast path predicts the same class on every sample, except at exact ties.
        let mut differ = 0;
        for (i, (a, b)) in fast.chunks_exact(c).zip(candle.chunks_exact(c)).enumerate() {
            if argmax(a) != argmax(b) {
                assert!(near_tie(b, 1e-4), "{name}: sample {i}: fast {a:?} vs candle {b:?}");
                differ += 1;
            }
        }
        eprintln!("{name}: {}/{} correct, fast path differs on {differ} ties", correct(&fast), test.len());

        // Probabilities and predictions have the card's shape.
        let one = test.row(0);
        let p = model.probabilities(one).unwrap();
        assert_eq!(p.len(), c);
        assert!((p.iter().sum::<f32>() - 1.0).abs() < 1e-5);
        let top = model.classify(one, 3).unwrap();
        assert_eq!(top.len(), 3.min(c));
        assert_eq!(top[0].index, argmax(&fast[..c]));
        assert_eq!(top[0].label, card.head.labels[top[0].index]);
    }
}

#[test]
fn unknown_names_list_the_valid_ones_and_never_reach_outside_the_zoo() {
    let valid = zoo::list();
    for name in ["no-such-model", "../weights", "/etc/passwd", "hannet-mnist/../x", "a\0b", "", ".", ".."] {
        match zoo::load(name) {
            Err(ZooError::UnknownModel { name: n, valid: v }) => {
                assert_eq!(n, name);
                assert_eq!(v, valid);
            }
            other => panic!("{name:?}: expected UnknownModel, got {other:?}"),
        }
        assert!(matches!(zoo::card(name), Err(ZooError::UnknownModel { .. })), "{name:?}");
    }
    let msg = zoo::load("no-such-model").err().unwrap().to_string();
    assert!(msg.contains("unknown model `no-such-model`"), "{msg}");
    for v in &valid {
        assert!(msg.contains(v.as_str()), "{msg} should list {v}");
    }
}

fn mnist_like_pre() -> Preprocessing {
    Preprocessing { scale: 1.0 / 255.0, mean: vec![0.1307], std: vec![0.3081] }
}

#[test]
fn round_trip_save_load_gives_the_same_outputs_with_the_cards_preprocessing() {
    let tmp = tempfile::tempdir().unwrap();
    let pre = mnist_like_pre();
    let cases = [
        ("hannet", arch::hannet(784, 16, 3, 10)),
        ("fcnet", arch::fcnet(784, &[20, 12], 10)),
        ("hanconv", arch::hanconv(HanConvConfig { c1: 2, c2: 3, width: 8, depth: 2, output: 10 })),
    ];
    for (name, spec) in cases {
        let w = write_model(tmp.path(), name, &spec, pre.clone());
        let raw = values(5 * 784, 7, 0.0, 255.0);
        // Preprocess by the card's formula, independently of `Preprocessing::apply`.
        let x: Vec<f32> = raw.iter().map(|v| (v / 255.0 - 0.1307) / 0.3081).collect();
        let before = w.net.forward(&Tensor::from_slice(&x, (5, 784), &Device::Cpu).unwrap()).unwrap();
        let before = before.flatten_all().unwrap().to_vec1::<f32>().unwrap();

        let model = Classifier::from_dir(&w.dir).unwrap();
        assert_eq!(model.card(), &w.card);
        let candle = model.logits_candle(&raw).unwrap();
        for (a, b) in candle.iter().zip(&before) {
            assert!((a - b).abs() <= 1e-5 * (1.0 + b.abs()), "{name}: candle after load {a} vs before {b}");
        }
        let fast = model.logits(&raw).unwrap();
        assert_eq!(fast.len(), 5 * 10);
        for (a, b) in fast.iter().zip(&before) {
            assert!((a - b).abs() <= 1e-5 * (1.0 + b.abs()), "{name}: fast {a} vs before save {b}");
        }
        let out = model.run(&raw).unwrap();
        assert_eq!((out.n, out.classes), (5, 10));
        assert_eq!(out.logits, fast);
        assert_eq!(out.probabilities, model.probabilities(&raw).unwrap());
        let preds = model.predict(&raw, 100).unwrap();
        assert_eq!(preds.len(), 5);
        for (row, p) in preds.iter().zip(out.probabilities.chunks_exact(10)) {
            assert_eq!(row.len(), 10, "top_k is clamped to the class count");
            assert!(row.windows(2).all(|w| w[0].score >= w[1].score));
            assert_eq!(row[0].index, argmax(p));
            assert_eq!(row[0].label, format!("class-{}", row[0].index));
        }
        assert_eq!(model.predict(&raw, 0).unwrap()[0].len(), 1, "top_k 0 is clamped to 1");
    }
}

#[test]
fn inputs_of_the_wrong_length_or_not_finite_are_input_errors() {
    let tmp = tempfile::tempdir().unwrap();
    let w = write_model(tmp.path(), "m", &arch::hannet(4, 6, 2, 3), Preprocessing::default());
    let model = Classifier::from_dir(&w.dir).unwrap();
    for len in [0, 3, 5, 9] {
        let e = model.logits(&vec![0.5; len]).unwrap_err();
        assert!(matches!(e, ZooError::Input(_)) && e.is_caller_error(), "{e}");
        assert!(e.to_string().contains("takes 4 values per sample"), "{e}");
    }
    assert!(model.classify(&[0.0; 8], 1).is_err(), "classify takes exactly one sample");
    for bad in [f32::NAN, f32::INFINITY, f32::NEG_INFINITY] {
        let mut x = vec![0.25; 12];
        x[6] = bad;
        for e in
            [model.logits(&x).unwrap_err(), model.predict(&x, 1).unwrap_err(), model.logits_candle(&x).unwrap_err()]
        {
            assert!(matches!(e, ZooError::Input(_)), "{e}");
            assert!(e.to_string().contains("sample 1, position 2"), "{e}");
        }
    }
    // Finite inputs that overflow in preprocessing are refused, not turned into NaN.
    let mut card = w.card.clone();
    card.input.preprocessing = Preprocessing { scale: 1e30, mean: vec![0.0], std: vec![1.0] };
    write_card(&w.dir, &card);
    let model = Classifier::from_dir(&w.dir).unwrap();
    assert!(matches!(model.logits(&[1e10, 0.0, 0.0, 0.0]), Err(ZooError::Input(_))));
}

/// A fresh model folder in `root/name` of a small HanNet.
fn fresh(root: &Path, name: &str) -> std::path::PathBuf {
    write_model(root, name, &arch::hannet(3, 5, 2, 2), Preprocessing::default()).dir
}

#[test]
fn damaged_weights_files_are_errors_never_panics() {
    let tmp = tempfile::tempdir().unwrap();
    let weights = |d: &Path| d.join("model.safetensors");

    // Flipped bytes in the tensor data: the checksum catches it.
    let d = fresh(tmp.path(), "flipped");
    let mut bytes = std::fs::read(weights(&d)).unwrap();
    let last = bytes.len() - 3;
    bytes[last] ^= 0xff;
    std::fs::write(weights(&d), &bytes).unwrap();
    match Classifier::from_dir(&d) {
        Err(ZooError::Checksum { expected, found, .. }) => assert_ne!(expected, found),
        other => panic!("expected a checksum error, got {other:?}"),
    }

    // Damaged files whose card hash was updated to match: the format check catches them.
    type Damage = fn(&mut Vec<u8>);
    let cases: [(&str, Damage); 5] = [
        ("truncated", |b| b.truncate(b.len() - 10)),
        ("header-only", |b| b.truncate(8)),
        ("empty", |b| b.clear()),
        ("huge-header-length", |b| b[..8].copy_from_slice(&u64::MAX.to_le_bytes())),
        ("garbled-header", |b| {
            for v in &mut b[8..40] {
                *v = b'{';
            }
        }),
    ];
    for (name, damage) in cases {
        let d = fresh(tmp.path(), name);
        let mut bytes = std::fs::read(weights(&d)).unwrap();
        damage(&mut bytes);
        std::fs::write(weights(&d), &bytes).unwrap();
        let mut card = card_of(&d);
        card.weights.sha256 = zoo_support::sha256_file(&weights(&d));
        write_card(&d, &card);
        match Classifier::from_dir(&d) {
            Err(ZooError::Weights { why, .. }) => assert!(!why.is_empty()),
            other => panic!("{name}: expected a weights error, got {other:?}"),
        }
    }

    // The right file for another architecture: a weights error naming the tensor.
    let d = fresh(tmp.path(), "other-arch");
    let mut card = card_of(&d);
    card.architecture = arch::hannet(3, 7, 2, 2);
    card.params = card.architecture.param_counts();
    write_card(&d, &card);
    let e = Classifier::from_dir(&d).unwrap_err();
    assert!(matches!(e, ZooError::Weights { .. }) && e.to_string().contains("layers.0.weight"), "{e}");

    // A wrong hash on the card.
    let d = fresh(tmp.path(), "bad-hash");
    let mut card = card_of(&d);
    card.weights.sha256 = "0".repeat(64);
    write_card(&d, &card);
    assert!(matches!(Classifier::from_dir(&d), Err(ZooError::Checksum { .. })));

    // A weights file name that leaves the folder.
    let d = fresh(tmp.path(), "escape");
    let mut card = card_of(&d);
    card.weights.file = "../flipped/model.safetensors".into();
    write_card(&d, &card);
    assert!(matches!(Classifier::from_dir(&d), Err(ZooError::Card { .. })));

    // Missing files and bad cards.
    let d = fresh(tmp.path(), "no-weights");
    std::fs::remove_file(weights(&d)).unwrap();
    assert!(matches!(Classifier::from_dir(&d), Err(ZooError::Io { .. })));
    assert!(matches!(Classifier::from_dir(tmp.path().join("absent")), Err(ZooError::Io { .. })));
    let d = fresh(tmp.path(), "bad-card");
    std::fs::write(d.join("config.json"), "{\"name\": 3}").unwrap();
    assert!(matches!(Classifier::from_dir(&d), Err(ZooError::Card { .. })));
}

fn card_of(dir: &Path) -> han_models::card::Card {
    han_models::card::Card::from_json(&std::fs::read_to_string(dir.join("config.json")).unwrap()).unwrap()
}

#[test]
fn load_all_serves_the_good_folders_and_reports_the_bad() {
    let tmp = tempfile::tempdir().unwrap();
    for name in ["a-good", "c-good"] {
        fresh(tmp.path(), name);
    }
    let bad = fresh(tmp.path(), "b-bad");
    std::fs::write(bad.join("model.safetensors"), b"not safetensors").unwrap();
    std::fs::create_dir(tmp.path().join("d-empty")).unwrap();
    std::fs::create_dir(tmp.path().join(".hidden")).unwrap();
    std::fs::write(tmp.path().join("stray-file.txt"), b"x").unwrap();
    // A copy of a good folder: same card name, reported as a duplicate.
    let dup = tmp.path().join("e-dup");
    std::fs::create_dir(&dup).unwrap();
    for f in ["config.json", "model.safetensors"] {
        std::fs::copy(tmp.path().join("a-good").join(f), dup.join(f)).unwrap();
    }

    let (good, errors) = zoo::load_all(tmp.path());
    assert_eq!(good.iter().map(Classifier::name).collect::<Vec<_>>(), ["a-good", "c-good"]);
    let failed: Vec<_> = errors.iter().map(|(p, _)| p.file_name().unwrap().to_string_lossy().into_owned()).collect();
    assert_eq!(failed, ["b-bad", "d-empty", "e-dup"]);
    assert!(matches!(errors[0].1, ZooError::Checksum { .. }));
    assert!(matches!(errors[1].1, ZooError::Io { .. }));
    assert!(matches!(errors[2].1, ZooError::Card { .. }));
    assert_eq!(zoo::list_in(tmp.path()), ["a-good", "b-bad", "c-good", "e-dup"]);

    let (good, errors) = zoo::load_all(&tmp.path().join("absent"));
    assert!(good.is_empty() && errors.len() == 1);
}

#[test]
fn classifier_is_send_sync_and_shares_across_threads() {
    fn assert_send_sync<T: Send + Sync>() {}
    assert_send_sync::<Classifier>();
    let tmp = tempfile::tempdir().unwrap();
    let model = std::sync::Arc::new(Classifier::from_dir(fresh(tmp.path(), "shared")).unwrap());
    let x = values(3 * 64, 3, -1.0, 1.0);
    let want = model.logits(&x).unwrap();
    let handles: Vec<_> = (0..4)
        .map(|_| {
            let (m, x) = (model.clone(), x.clone());
            std::thread::spawn(move || m.logits(&x).unwrap())
        })
        .collect();
    for h in handles {
        assert_eq!(h.join().unwrap(), want);
    }
}
