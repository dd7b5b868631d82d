//! JSON -> internal request: the friendly API's `PredictRequest::decode`, KServe's
//! `InferRequest::decode` (with binary tensor data after the JSON part), and the datatype
//! decoders, against a 2-input and a 28x28-input model. Any input may be refused; none may
//! panic, and whatever is accepted must be consistent (rows x input length values, finite).
#![no_main]

use han_server::kserve::InferRequest;
use han_server::model::ModelInfo;
use han_server::tensor::Datatype;
use han_server::v1::PredictRequest;
use libfuzzer_sys::fuzz_target;

fn models() -> [ModelInfo; 2] {
    let info = |name: &str, shape: Vec<usize>, classes: usize| ModelInfo {
        name: name.into(),
        input_len: shape.iter().product(),
        input_shape: shape,
        classes,
        labels: (0..classes).map(|i| format!("c{i}")).collect(),
    };
    [info("two", vec![2], 2), info("digits", vec![28, 28], 10)]
}

fuzz_target!(|data: &[u8]| {
    let Some((&sel, rest)) = data.split_first() else { return };
    let info = &models()[usize::from(sel & 1)];
    match (sel >> 1) % 3 {
        0 => {
            if let Ok(req) = serde_json::from_slice::<PredictRequest>(rest)
                && let Ok((x, rows, k)) = req.decode(info)
            {
                assert_eq!(x.len(), rows * info.input_len);
                assert!(x.iter().all(|v| v.is_finite()));
                assert!(k >= 1 && k <= info.classes);
            }
        }
        1 => {
            // The first two bytes split the rest into a JSON part and binary tensor data.
            if rest.len() < 2 {
                return;
            }
            let split = usize::from(u16::from_le_bytes([rest[0], rest[1]])).min(rest.len() - 2);
            let (json, binary) = rest[2..].split_at(split);
            if let Ok(req) = serde_json::from_slice::<InferRequest>(json)
                && let Ok(d) = req.decode(info, binary)
            {
                assert_eq!(d.input.len(), d.rows * info.input_len);
                assert!(d.input.iter().all(|v| v.is_finite()));
            }
        }
        _ => {
            let names = ["FP16", "BF16", "FP32", "FP64", "INT8", "INT16", "INT32", "INT64", "UINT8", "UINT16", "UINT32", "UINT64"];
            let dt = Datatype::parse(names[usize::from(sel >> 3) % names.len()]).expect("known datatype");
            if let Ok(v) = dt.from_le_bytes(rest) {
                assert_eq!(v.len(), rest.len() / dt.size());
                assert!(v.iter().all(|x| x.is_finite()));
            }
        }
    }
});
