#!/usr/bin/env python3
"""Export the standard MNIST-1D dataset to plain little-endian files for the Rust loader.

Generates the set offline with the reference package (mnist1d 0.0.2.post1):
`make_dataset(get_dataset_args())` -- 5,000 samples, seed 42, first 4,000 train, last 1,000
test, 40 features, 10 classes -- no download (`get_dataset` would fetch a pickle; we do not).

Writes into OUT_DIR:
  train-x.f32  4,000 x 40 float32, little-endian, row-major
  train-y.u8   4,000 class indices 0..9
  test-x.f32   1,000 x 40 float32
  test-y.u8    1,000 class indices
  SHA256SUMS   `sha256sum -c` format

The values are the package's own (already centred to mean 0 and std 1 over all 5,000 samples),
rounded from float64 to float32. Run by `han-zoo data fetch mnist1d` inside the venv
data/.venv-mnist1d; by hand: `python3 scripts/export_mnist1d.py data/mnist1d`.
"""

import hashlib
import os
import sys

import numpy as np
from mnist1d.data import get_dataset_args, make_dataset

TRAIN, TEST, FEATURES, CLASSES = 4000, 1000, 40, 10


def main() -> int:
    if len(sys.argv) != 2:
        print(f"usage: {sys.argv[0]} OUT_DIR", file=sys.stderr)
        return 2
    out = sys.argv[1]
    os.makedirs(out, exist_ok=True)
    d = make_dataset(get_dataset_args())
    arrays = {
        "train-x.f32": np.ascontiguousarray(d["x"], dtype="<f4"),
        "train-y.u8": np.ascontiguousarray(d["y"], dtype="u1"),
        "test-x.f32": np.ascontiguousarray(d["x_test"], dtype="<f4"),
        "test-y.u8": np.ascontiguousarray(d["y_test"], dtype="u1"),
    }
    expect = {"train-x.f32": (TRAIN, FEATURES), "train-y.u8": (TRAIN,),
              "test-x.f32": (TEST, FEATURES), "test-y.u8": (TEST,)}
    for name, a in arrays.items():
        if a.shape != expect[name]:
            print(f"{name}: shape {a.shape}, expected {expect[name]}", file=sys.stderr)
            return 1
    for y in ("train-y.u8", "test-y.u8"):
        if arrays[y].max() >= CLASSES:
            print(f"{y}: label {arrays[y].max()} out of range", file=sys.stderr)
            return 1
    sums = []
    for name, a in arrays.items():
        data = a.tobytes()
        tmp = os.path.join(out, name + ".tmp")
        with open(tmp, "wb") as f:
            f.write(data)
        os.replace(tmp, os.path.join(out, name))
        sums.append(f"{hashlib.sha256(data).hexdigest()}  {name}\n")
    with open(os.path.join(out, "SHA256SUMS"), "w") as f:
        f.writelines(sums)
    print("".join(sums), end="")
    return 0


if __name__ == "__main__":
    sys.exit(main())
