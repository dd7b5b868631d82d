"""Acceptance test: the unmodified Python `tritonclient[http]` package against han-server.

Usage: kserve_client.py HOST:PORT FIXTURE.json

The fixture (written by tests/tritonclient.rs) names a model, holds input samples and the
outputs the Rust `Classifier` computes for them in-process. Exits non-zero on any mismatch.
"""

import json
import sys

import numpy as np
import tritonclient.http as httpclient


def main() -> None:
    url, fixture = sys.argv[1], sys.argv[2]
    with open(fixture) as f:
        fx = json.load(f)
    model = fx["model"]
    x = np.asarray(fx["inputs"], dtype=np.float32).reshape([fx["n"]] + fx["input_shape"])
    want_logits = np.asarray(fx["logits"], dtype=np.float32).reshape(fx["n"], fx["classes"])
    want_probs = np.asarray(fx["probabilities"], dtype=np.float32).reshape(fx["n"], fx["classes"])

    client = httpclient.InferenceServerClient(url=url)
    assert client.is_server_live(), "server not live"
    assert client.is_server_ready(), "server not ready"
    assert client.is_model_ready(model), "model not ready"
    assert not client.is_model_ready("no-such-model")

    server = client.get_server_metadata()
    assert server["name"] == "han-server", server
    assert "classification" in server["extensions"], server

    meta = client.get_model_metadata(model)
    assert meta["name"] == model, meta
    assert meta["inputs"] == [{"name": "input", "datatype": "FP32", "shape": [-1] + fx["input_shape"]}], meta
    assert [o["name"] for o in meta["outputs"]] == ["logits", "probabilities"], meta
    assert all(o["shape"] == [-1, fx["classes"]] for o in meta["outputs"]), meta
    assert client.get_model_metadata(model, model_version="1")["name"] == model

    index = client.get_model_repository_index()
    assert {"name": model, "version": "1", "state": "READY", "reason": ""} in index, index

    checked = 0
    for binary_in in (False, True):
        for binary_out in (False, True):
            inp = httpclient.InferInput("input", list(x.shape), "FP32")
            inp.set_data_from_numpy(x, binary_data=binary_in)
            outputs = [
                httpclient.InferRequestedOutput("logits", binary_data=binary_out),
                httpclient.InferRequestedOutput("probabilities", binary_data=binary_out),
            ]
            res = client.infer(model, [inp], outputs=outputs, request_id="req-7")
            np.testing.assert_array_equal(res.as_numpy("logits"), want_logits)
            np.testing.assert_array_equal(res.as_numpy("probabilities"), want_probs)
            assert res.get_response()["id"] == "req-7"
            assert res.get_response()["model_name"] == model
            checked += 1

    # No outputs named: every output comes back (tritonclient then asks for binary data).
    inp = httpclient.InferInput("input", list(x.shape), "FP32")
    inp.set_data_from_numpy(x)
    res = client.infer(model, [inp], model_version="1")
    np.testing.assert_array_equal(res.as_numpy("probabilities"), want_probs)

    # The classification extension: top-3 "score:index:label" strings.
    for binary_out in (False, True):
        out = httpclient.InferRequestedOutput("probabilities", binary_data=binary_out, class_count=3)
        res = client.infer(model, [inp], outputs=[out])
        top = res.as_numpy("probabilities")
        assert top.shape == (fx["n"], 3), top.shape
        for row, probs in zip(top, want_probs):
            order = sorted(range(len(probs)), key=lambda i: (-probs[i], i))[:3]
            for cell, i in zip(row, order):
                s = cell.decode() if isinstance(cell, bytes) else str(cell)
                score, index, label = s.split(":", 2)
                assert int(index) == i, (s, order)
                assert np.float32(score) == probs[i], (s, probs[i])
                assert label == fx["labels"][i], (s, fx["labels"][i])

    # Errors arrive as exceptions carrying the server's message.
    try:
        client.get_model_metadata("no-such-model")
        raise AssertionError("unknown model accepted")
    except httpclient.InferenceServerException as e:
        assert "unknown model" in str(e), e

    print(f"tritonclient OK: {model}, {fx['n']} samples, {checked} JSON/binary layouts, classification, errors")


if __name__ == "__main__":
    main()
