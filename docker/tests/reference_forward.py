"""An independent forward pass of a zoo model folder, in pure Python (no numpy, no candle).

docker/test-image.sh checks the container's answers against it: the server reads the same
`config.json` (the card) and `model.safetensors`, but computes with candle and han-core's
fused kernel; this file computes from the definitions in the card's documentation:

    preprocessing  x' = (x * scale - mean) / std      (mean/std: one value or one per feature)
    linear         y = W x + b                        (tensors <prefix>.weight [out, in], .bias)
    han            y = | x - 2 (u.x / u.u) u + b |    (tensors <prefix>.u [dim] or .vector, .bias)
    abs, relu      element-wise; flatten, reshape: no-ops on a flat sample
    head           softmax

with <prefix> = the layer's `name`, else `layers.<index>`. Models with other layers
(convolutions, pooling) are not covered: `forward` returns None for them.
"""

from __future__ import annotations

import json
import math
import struct
from pathlib import Path

SUPPORTED = {"linear", "han", "abs", "relu", "flatten", "reshape"}


def read_safetensors(path: Path) -> dict[str, list[float]]:
    """Flat float lists of every F32 tensor in a .safetensors file (the format: an 8-byte
    little-endian header length, a JSON header of dtype/shape/offsets, then raw data)."""
    raw = path.read_bytes()
    (n,) = struct.unpack("<Q", raw[:8])
    header = json.loads(raw[8 : 8 + n])
    data = raw[8 + n :]
    out = {}
    for name, info in header.items():
        if name == "__metadata__":
            continue
        if info["dtype"] != "F32":
            raise ValueError(f"{name}: dtype {info['dtype']} not handled")
        start, end = info["data_offsets"]
        out[name] = list(struct.unpack(f"<{(end - start) // 4}f", data[start:end]))
    return out


class Reference:
    def __init__(self, folder: Path):
        self.card = json.loads((folder / "config.json").read_text())
        weights = self.card.get("weights", {}).get("file", "model.safetensors")
        self.layers = self.card["architecture"]["layers"]
        self.supported = all(layer["type"] in SUPPORTED for layer in self.layers)
        self.tensors = read_safetensors(folder / weights) if self.supported else {}

    def preprocess(self, x: list[float]) -> list[float]:
        p = self.card["input"]["preprocessing"]
        pick = lambda v, j: v[0] if len(v) == 1 else v[j]  # noqa: E731
        return [(v * p["scale"] - pick(p["mean"], j)) / pick(p["std"], j) for j, v in enumerate(x)]

    def forward(self, x: list[float]) -> list[float] | None:
        """Class probabilities for one raw sample, or None if the model has other layers."""
        if not self.supported:
            return None
        x = self.preprocess(x)
        for i, layer in enumerate(self.layers):
            prefix = layer.get("name") or f"layers.{i}"
            kind = layer["type"]
            if kind == "linear":
                w = self.tensors[f"{prefix}.weight"]
                n_in, n_out = layer["in_features"], layer["out_features"]
                b = self.tensors.get(f"{prefix}.bias", [0.0] * n_out) if layer.get("bias", True) else [0.0] * n_out
                x = [math.fsum(w[o * n_in + k] * x[k] for k in range(n_in)) + b[o] for o in range(n_out)]
            elif kind == "han":
                u = self.tensors.get(f"{prefix}.u") or self.tensors[f"{prefix}.vector"]
                b = self.tensors[f"{prefix}.bias"] if layer.get("bias", True) else [0.0] * len(u)
                c = 2 * math.fsum(a * v for a, v in zip(u, x)) / math.fsum(a * a for a in u)
                x = [abs(v - c * a + bb) for v, a, bb in zip(x, u, b)]
            elif kind == "abs":
                x = [abs(v) for v in x]
            elif kind == "relu":
                x = [max(v, 0.0) for v in x]
        top = max(x)
        exps = [math.exp(v - top) for v in x]
        total = math.fsum(exps)
        return [e / total for e in exps]
