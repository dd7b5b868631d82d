"""reference_forward.py on a hand-made model whose answer is worked out by hand here."""

from __future__ import annotations

import json
import math
import struct
import tempfile
import unittest
from pathlib import Path

from reference_forward import Reference, read_safetensors


def write_safetensors(path: Path, tensors: dict[str, tuple[list[int], list[float]]]) -> None:
    header, blobs, offset = {}, [], 0
    for name, (shape, values) in tensors.items():
        blob = struct.pack(f"<{len(values)}f", *values)
        header[name] = {"dtype": "F32", "shape": shape, "data_offsets": [offset, offset + len(blob)]}
        blobs.append(blob)
        offset += len(blob)
    head = json.dumps(header).encode()
    path.write_bytes(struct.pack("<Q", len(head)) + head + b"".join(blobs))


class ReferenceForwardTest(unittest.TestCase):
    def test_linear_han_abs_softmax_by_hand(self):
        with tempfile.TemporaryDirectory() as d:
            folder = Path(d)
            write_safetensors(folder / "model.safetensors", {
                # x' = (x * 2 - 1) / 1 ; linear: identity with bias (0, 1)
                "layers.0.weight": ([2, 2], [1, 0, 0, 1]),
                "layers.0.bias": ([2], [0, 1]),
                # Han with u = (1, 0): reflects the first coordinate; bias (0.5, -10)
                "layers.1.u": ([2], [1, 0]),
                "layers.1.bias": ([2], [0.5, -10]),
                # head under an explicit name
                "head.weight": ([2, 2], [1, 0, 0, 1]),
                "head.bias": ([2], [0, 0]),
            })
            (folder / "config.json").write_text(json.dumps({
                "architecture": {"layers": [
                    {"type": "linear", "in_features": 2, "out_features": 2},
                    {"type": "han", "dim": 2},
                    {"type": "abs"},
                    {"name": "head", "type": "linear", "in_features": 2, "out_features": 2},
                ]},
                "input": {"preprocessing": {"scale": 2.0, "mean": [1.0], "std": [1.0]}},
                "weights": {"file": "model.safetensors"},
            }))
            self.assertEqual(read_safetensors(folder / "model.safetensors")["layers.1.u"], [1.0, 0.0])
            # x = (2, 3) -> x' = (3, 5) -> linear (3, 6) -> Han: (-3 + 0.5, 6 - 10) = (-2.5, -4),
            # abs (2.5, 4) -> head (2.5, 4) -> softmax
            probs = Reference(folder).forward([2.0, 3.0])
            e = [math.exp(2.5 - 4), 1.0]
            self.assertAlmostEqual(probs[0], e[0] / sum(e), places=12)
            self.assertAlmostEqual(probs[1], e[1] / sum(e), places=12)

    def test_other_layers_are_not_covered(self):
        with tempfile.TemporaryDirectory() as d:
            folder = Path(d)
            (folder / "config.json").write_text(json.dumps({
                "architecture": {"layers": [{"type": "conv2d"}]}, "input": {}, "weights": {}}))
            self.assertIsNone(Reference(folder).forward([0.0]))


if __name__ == "__main__":
    unittest.main()
