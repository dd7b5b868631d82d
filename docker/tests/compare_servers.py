"""Asks two running han-servers the same questions and checks that they answer alike, and
checks the answers against an independent pure-Python forward pass where it can.

Used by docker/test-image.sh: the server in the container against the same binary run on
the host (the reference), so that any difference the image makes (libraries, file layout,
environment, user, read-only root) shows up as a different answer. Standard library only.

    python3 docker/tests/compare_servers.py http://127.0.0.1:18080 http://127.0.0.1:18081 [ZOO_DIR]

For every model both list: the V2 metadata, a V1 predict of two deterministic inputs and a
V2 infer of the same batch must be equal (scores to 1e-6; the two runs are the same
code on the same CPU, so in practice they are bit-equal). With ZOO_DIR (the model folders
the servers serve), the probabilities of models made of linear/Han/abs/ReLU layers must also
match reference_forward.py's (to 1e-5): the answer computed in this process, from the card's
definitions, without candle. Exit status 0 when all agree.
"""

from __future__ import annotations

import json
import math
import sys
import urllib.error
import urllib.request
from pathlib import Path

from reference_forward import Reference


def call(base: str, path: str, body: dict | None = None) -> tuple[int, object]:
    data = None if body is None else json.dumps(body).encode()
    req = urllib.request.Request(base + path, data=data, method="POST" if data else "GET")
    if data:
        req.add_header("Content-Type", "application/json")
    try:
        with urllib.request.urlopen(req, timeout=30) as resp:
            return resp.status, json.loads(resp.read() or b"null")
    except urllib.error.HTTPError as e:
        return e.code, json.loads(e.read() or b"null")


def model_names(base: str) -> list[str]:
    status, body = call(base, "/v1/models")
    assert status == 200, f"{base}/v1/models: {status} {body}"
    items = body["models"] if isinstance(body, dict) and "models" in body else body
    return sorted(m["name"] if isinstance(m, dict) else m for m in items)


def input_shape(meta: dict) -> list[int]:
    (inp,) = meta["inputs"]
    return [d for d in inp["shape"] if d != -1]


def sample(n_features: int, seed: int) -> list[float]:
    # Deterministic, in [0, 1] like normalised pixels, different per sample.
    return [round(0.5 + 0.5 * math.sin(0.37 * i + seed), 6) for i in range(n_features)]


def close(a, b, tol=1e-6) -> bool:
    if isinstance(a, float) or isinstance(b, float):
        return isinstance(a, (int, float)) and isinstance(b, (int, float)) and abs(a - b) <= tol
    if isinstance(a, dict) and isinstance(b, dict):
        return a.keys() == b.keys() and all(close(a[k], b[k], tol) for k in a)
    if isinstance(a, list) and isinstance(b, list):
        return len(a) == len(b) and all(close(x, y, tol) for x, y in zip(a, b))
    return a == b


def main(test: str, ref: str, zoo: Path | None = None) -> int:
    names = model_names(test)
    ref_names = model_names(ref)
    if names != ref_names:
        print(f"FAIL models differ: image {names}, host {ref_names}")
        return 1
    if not names:
        print("FAIL no models served: put model folders in weights/ (or HAN_ZOO_DIR)")
        return 1
    failures = 0
    for name in names:
        s1, meta = call(test, f"/v2/models/{name}")
        s2, ref_meta = call(ref, f"/v2/models/{name}")
        if (s1, s2) != (200, 200) or meta != ref_meta:
            print(f"FAIL {name}: metadata differs: {s1} {meta} / {s2} {ref_meta}")
            failures += 1
            continue
        n = math.prod(input_shape(meta))
        xs = [sample(n, seed) for seed in (1, 2)]

        classes = [d for d in meta["outputs"][0]["shape"] if d != -1][-1]
        v1 = {"inputs": xs, "top_k": min(3, classes)}
        s1, a = call(test, f"/v1/models/{name}/predict", v1)
        s2, b = call(ref, f"/v1/models/{name}/predict", v1)
        if (s1, s2) != (200, 200) or not close(a, b):
            print(f"FAIL {name}: v1 predict differs: {s1} {a} / {s2} {b}")
            failures += 1
            continue

        inp = meta["inputs"][0]
        v2 = {"id": "image-test", "inputs": [{"name": inp["name"], "datatype": inp["datatype"],
                                              "shape": [len(xs), n], "data": [v for x in xs for v in x]}]}
        s1, c = call(test, f"/v2/models/{name}/infer", v2)
        s2, d = call(ref, f"/v2/models/{name}/infer", v2)
        if (s1, s2) != (200, 200) or not close(c, d):
            print(f"FAIL {name}: v2 infer differs: {s1} {c} / {s2} {d}")
            failures += 1
            continue
        checked = "v1 predict and v2 infer equal"
        folder = zoo / name if zoo else None
        if folder and (folder / "config.json").is_file():
            reference = Reference(folder)
            expected = [reference.forward(x) for x in xs]
            if expected[0] is not None:
                (probs,) = [o for o in c["outputs"] if o["name"] == "probabilities"]
                got = [probs["data"][i * len(expected[0]):(i + 1) * len(expected[0])] for i in range(len(xs))]
                worst = max(abs(g - e) for gs, es in zip(got, expected) for g, e in zip(gs, es))
                if worst > 1e-5:
                    print(f"FAIL {name}: probabilities {got} differ from the pure-Python forward {expected} (max |diff| {worst:.2e})")
                    failures += 1
                    continue
                checked += f", = pure-Python forward (max |diff| {worst:.1e})"
        top = a["predictions"][0][0]
        print(f"ok   {name}: input {n} values; {checked}; sample 1 -> {top['label']} ({top['score']:.4f})")
    return 1 if failures else 0


if __name__ == "__main__":
    zoo_dir = Path(sys.argv[3]) if len(sys.argv) > 3 else None
    sys.exit(main(sys.argv[1].rstrip("/"), sys.argv[2].rstrip("/"), zoo_dir))
