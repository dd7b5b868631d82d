//! Import of the authors' PyTorch-trained checkerboard HanNet: golden outputs and accuracy
//! from the reference fixtures (an independent implementation's numbers), and errors that
//! name the tensor.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use candle_core::{DType, Device, Module, Tensor};
use candle_nn::VarBuilder;
use han_models::import::{self, ImportError};
use han_models::sequential::Sequential;
use han_models::spec::ModelSpec;

fn reference_dir() -> PathBuf {
    PathBuf::from(concat!(env!("CARGO_MANIFEST_DIR"), "/../../shared/reference/checkerboard"))
}

fn reference_spec() -> ModelSpec {
    let path = concat!(env!("CARGO_MANIFEST_DIR"), "/specs/checkerboard-reference.json");
    ModelSpec::from_json(&std::fs::read_to_string(path).expect("spec file")).expect("valid spec")
}

fn read_csv(path: &Path) -> Vec<Vec<f32>> {
    let text = std::fs::read_to_string(path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    text.lines()
        .skip(1)
        .filter(|l| !l.is_empty())
        .map(|l| l.split(',').map(|v| v.parse().expect("number")).collect())
        .collect()
}

/// Outputs of the reference network on the published test split, at `dtype`.
fn reference_outputs(dtype: DType) -> Vec<Vec<f64>> {
    let path = reference_dir().join("hannet-reference.safetensors");
    let model = if dtype == DType::F32 {
        import::load(&reference_spec(), &path).expect("import")
    } else {
        // Same check, then the same builder on an f64 VarBuilder (the file is converted).
        import::check_file(&reference_spec(), &path).expect("check");
        let vb = VarBuilder::from_buffered_safetensors(std::fs::read(&path).expect("read"), dtype, &Device::Cpu)
            .expect("vb");
        Sequential::new(&reference_spec(), vb).expect("build")
    };
    let test = read_csv(&reference_dir().join("testset.csv"));
    let x: Vec<f32> = test.iter().flat_map(|r| [r[0], r[1]]).collect();
    let x = Tensor::from_vec(x, (test.len(), 2), &Device::Cpu).and_then(|t| t.to_dtype(dtype)).expect("x");
    model.forward(&x).and_then(|o| o.to_dtype(DType::F64)).and_then(|o| o.to_vec2::<f64>()).expect("forward")
}

fn worst_difference(out: &[Vec<f64>], expected: &[Vec<f32>]) -> f64 {
    out.iter()
        .zip(expected)
        .flat_map(|(o, e)| [(o[0] - e[0] as f64).abs(), (o[1] - e[1] as f64).abs()])
        .fold(0.0, f64::max)
}

/// The authors' decision rule: class 1 when the mean of the two outputs exceeds 0.5.
fn correct(out: &[Vec<f64>], test: &[Vec<f32>]) -> usize {
    out.iter().zip(test).filter(|(o, t)| u32::from((o[0] + o[1]) / 2.0 > 0.5) == t[2] as u32).count()
}

#[test]
fn reference_hannet_reproduces_pytorch_outputs_and_4901_of_4921() {
    assert_eq!(reference_spec().param_counts().total, 3032);
    let test = read_csv(&reference_dir().join("testset.csv"));
    let expected = read_csv(&reference_dir().join("expected_test_outputs.csv"));
    assert_eq!((test.len(), expected.len()), (4921, 4921));

    // The layer computed without rounding worth the name (f64) on the imported weights is
    // within 1e-5 of PyTorch's float32 outputs: the import and the maths are the authors'.
    let exact = reference_outputs(DType::F64);
    let worst = worst_difference(&exact, &expected);
    assert!(worst <= 1e-5, "f64: largest difference from PyTorch: {worst}");
    assert_eq!(correct(&exact, &test), 4901);

    // The served float32 path. PyTorch's own float32 outputs are ~1e-5 from the f64 ones
    // (above), so two correct float32 evaluations that sum in different orders through 21
    // layers can differ by up to about twice that; 2e-5 allows exactly that and no more.
    let f32_out = reference_outputs(DType::F32);
    let worst = worst_difference(&f32_out, &expected);
    assert!(worst <= 2e-5, "f32: largest difference from PyTorch: {worst}");
    assert_eq!(correct(&f32_out, &test), 4901);
}

fn header(path: &Path) -> BTreeMap<String, (safetensors::Dtype, Vec<usize>)> {
    import::header(&std::fs::read(path).expect("read"), path).expect("header")
}

#[test]
fn wrong_shape_and_wrong_name_are_errors_naming_the_tensor() {
    let path = reference_dir().join("hannet-reference.safetensors");
    let good = header(&path);
    let report = import::check(&reference_spec(), &good).expect("fits");
    assert!(report.unused.is_empty(), "{:?}", report.unused);
    assert_eq!(report.used.len(), 2 + 2 + 17 * 2 + 2 + 2);

    // Shape: a width of 31 for one Han layer.
    let mut spec = reference_spec();
    spec.layers[10].spec = han_models::spec::LayerSpec::Han { dim: 31, bias: true };
    let e = import::check(&spec, &good).expect_err("wrong width");
    // (the spec itself no longer fits together: that is caught first, naming the layer)
    assert!(e.to_string().contains("layer 10"), "{e}");

    let mut bad = good.clone();
    bad.insert("feature.12.vector".into(), (safetensors::Dtype::F32, vec![29, 1]));
    let e = import::check(&reference_spec(), &bad).expect_err("wrong shape").to_string();
    assert!(e.contains("`feature.12.vector`") && e.contains("[29, 1]") && e.contains("[30, 1]"), "{e}");
    let mut bad = good.clone();
    bad.insert("classifer.weight".into(), (safetensors::Dtype::F32, vec![30, 2]));
    let e = import::check(&reference_spec(), &bad).expect_err("transposed").to_string();
    assert!(e.contains("`classifer.weight`") && e.contains("[30, 2]") && e.contains("[2, 30]"), "{e}");

    // Name: the classifier under the corrected spelling is missing, and the error lists
    // what the file has.
    let mut spec = reference_spec();
    let last = spec.layers.len() - 1;
    spec.layers[last].name = Some("classifier".into());
    let e = import::check(&spec, &good).expect_err("missing");
    assert!(matches!(&e, ImportError::Missing { tensor, .. } if tensor == "classifier.weight"), "{e}");
    let msg = e.to_string();
    assert!(
        msg.contains("`classifier.weight`") && msg.contains("classifer.weight") && msg.contains("feature.4.vector"),
        "{msg}"
    );

    // A Han layer with neither `u` nor `vector`.
    let mut bad = good.clone();
    bad.remove("feature.20.vector");
    let e = import::check(&reference_spec(), &bad).expect_err("no vector").to_string();
    assert!(e.contains("feature.20.u") && e.contains("feature.20.vector"), "{e}");

    // load() runs the same check on a real file.
    let dir = tempfile::tempdir().expect("tempdir");
    let e = import::load(&spec, &path).expect_err("missing").to_string();
    assert!(e.contains("classifier.weight"), "{e}");
    let truncated = dir.path().join("t.safetensors");
    let bytes = std::fs::read(&path).expect("read");
    std::fs::write(&truncated, &bytes[..bytes.len() / 2]).expect("write");
    assert!(matches!(import::load(&reference_spec(), &truncated), Err(ImportError::Format { .. })));
    assert!(matches!(import::load(&reference_spec(), &dir.path().join("absent")), Err(ImportError::Io { .. })));
}

#[test]
fn u_vectors_load_like_vector_columns() {
    // Re-save the reference with `u` [d] instead of `vector` [d, 1]: same outputs.
    let path = reference_dir().join("hannet-reference.safetensors");
    let tensors = candle_core::safetensors::load(&path, &Device::Cpu).expect("load");
    let renamed: std::collections::HashMap<String, Tensor> = tensors
        .into_iter()
        .map(|(k, v)| match k.strip_suffix(".vector") {
            Some(p) => (format!("{p}.u"), v.flatten_all().expect("flatten")),
            None => (k, v),
        })
        .collect();
    let dir = tempfile::tempdir().expect("tempdir");
    let u_path = dir.path().join("u.safetensors");
    candle_core::safetensors::save(&renamed, &u_path).expect("save");
    let a = import::load(&reference_spec(), &path).expect("vector");
    let b = import::load(&reference_spec(), &u_path).expect("u");
    let x = Tensor::new(&[[0.3f32, -0.7], [0.0, 0.95]], &Device::Cpu).expect("x");
    assert_eq!(
        a.forward(&x).and_then(|t| t.to_vec2::<f32>()).expect("a"),
        b.forward(&x).and_then(|t| t.to_vec2::<f32>()).expect("b")
    );
}

#[test]
fn cli_import_writes_a_folder_that_eval_confirms() {
    let dir = tempfile::tempdir().expect("tempdir");
    let out = dir.path().join("hannet-checkerboard-reference");
    let bin = env!("CARGO_BIN_EXE_han-zoo");
    let o = std::process::Command::new(bin)
        .args(["import", "--weights"])
        .arg(reference_dir().join("hannet-reference.safetensors"))
        .arg("--spec")
        .arg(concat!(env!("CARGO_MANIFEST_DIR"), "/specs/checkerboard-reference.json"))
        .args(["--dataset", "checkerboard-reference", "--out"])
        .arg(&out)
        .env("HAN_REFERENCE_DIR", reference_dir())
        .output()
        .expect("run");
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    assert!(String::from_utf8_lossy(&o.stdout).contains("4901 / 4921"));
    assert_eq!(
        std::fs::read(out.join("model.safetensors")).expect("copy"),
        std::fs::read(reference_dir().join("hannet-reference.safetensors")).expect("orig")
    );
    let o = std::process::Command::new(bin)
        .arg("eval")
        .arg(&out)
        .env("HAN_REFERENCE_DIR", reference_dir())
        .output()
        .expect("eval");
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    assert!(String::from_utf8_lossy(&o.stdout).contains("(4901 / 4921)"));
}
