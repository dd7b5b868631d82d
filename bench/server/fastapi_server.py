"""The Python baseline of the server benchmark: what a Python user would write to serve the
same zoo models with FastAPI, uvicorn and PyTorch.

It reads the same model folders (config.json card + model.safetensors), builds the layer
list in PyTorch (Linear, Han = |Householder x + b| split as Han then Abs, Abs, ReLU), applies
the card's preprocessing and answers the same `POST /v1/models/{name}/predict` request with
the same JSON shape as han-server.

    python fastapi_server.py PORT MODEL_DIR [MODEL_DIR...]
"""

import json
import sys
from pathlib import Path
from typing import List, Optional

import torch
import uvicorn
from fastapi import FastAPI, HTTPException
from pydantic import BaseModel
from safetensors.torch import load_file


class Han(torch.nn.Module):
    """y = H x + b with H = I - 2 u u^T / (u^T u); the zoo spec lists the abs separately."""

    def __init__(self, u: torch.Tensor, bias: Optional[torch.Tensor]):
        super().__init__()
        self.u = torch.nn.Parameter(u.reshape(-1), requires_grad=False)
        self.bias = None if bias is None else torch.nn.Parameter(bias, requires_grad=False)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        u = self.u
        y = x - (2.0 / torch.dot(u, u)) * (x @ u).unsqueeze(1) * u
        return y if self.bias is None else y + self.bias


class Abs(torch.nn.Module):
    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return torch.abs(x)


def build(folder: Path):
    card = json.loads((folder / "config.json").read_text())
    tensors = load_file(str(folder / card["weights"]["file"]))
    layers = []
    for i, layer in enumerate(card["architecture"]["layers"]):
        prefix = layer.get("name") or f"layers.{i}"
        kind = layer["type"]
        if kind == "linear":
            lin = torch.nn.Linear(layer["in_features"], layer["out_features"], bias=layer.get("bias", True))
            with torch.no_grad():
                lin.weight.copy_(tensors[f"{prefix}.weight"])
                if lin.bias is not None:
                    lin.bias.copy_(tensors[f"{prefix}.bias"])
            layers.append(lin)
        elif kind == "han":
            u = tensors.get(f"{prefix}.u", tensors.get(f"{prefix}.vector"))
            layers.append(Han(u, tensors.get(f"{prefix}.bias")))
        elif kind == "abs":
            layers.append(Abs())
        elif kind == "relu":
            layers.append(torch.nn.ReLU())
        elif kind == "flatten":
            layers.append(torch.nn.Flatten())
        else:
            raise SystemExit(f"{folder}: layer type {kind} is not in this baseline")
    net = torch.nn.Sequential(*layers).eval()
    return card, net


class PredictRequest(BaseModel):
    input: Optional[List[float]] = None
    inputs: Optional[List[List[float]]] = None
    top_k: Optional[int] = None


MODELS = {}
app = FastAPI()


@app.post("/v1/models/{name}/predict")
def predict(name: str, req: PredictRequest):
    if name not in MODELS:
        raise HTTPException(404, f"unknown model {name}")
    card, net = MODELS[name]
    rows = [req.input] if req.input is not None else req.inputs
    if not rows:
        raise HTTPException(422, "send input or inputs")
    n_in = 1
    for d in card["input"]["shape"]:
        n_in *= d
    if any(len(r) != n_in for r in rows):
        raise HTTPException(422, "wrong input length")
    pre = card["input"]["preprocessing"]
    x = torch.tensor(rows, dtype=torch.float32)
    x = (x * pre["scale"] - torch.tensor(pre["mean"])) / torch.tensor(pre["std"])
    with torch.inference_mode():
        p = torch.softmax(net(x), dim=1)
    k = min(req.top_k or 3, card["head"]["classes"])
    scores, idx = torch.topk(p, k, dim=1)
    labels = card["head"]["labels"]
    return {
        "model": name,
        "predictions": [
            [{"label": labels[i], "index": i, "score": s} for s, i in zip(srow.tolist(), irow.tolist())]
            for srow, irow in zip(scores, idx)
        ],
    }


def main() -> None:
    port = int(sys.argv[1])
    for d in sys.argv[2:]:
        for folder in sorted(Path(d).iterdir()):
            if (folder / "config.json").is_file():
                try:
                    card, net = build(folder)
                except SystemExit as e:
                    print(f"skipped {folder}: {e}", file=sys.stderr)
                    continue
                MODELS[card["name"]] = (card, net)
    print(f"fastapi serving {sorted(MODELS)} on 127.0.0.1:{port}", flush=True)
    uvicorn.run(app, host="127.0.0.1", port=port, log_level="warning")


if __name__ == "__main__":
    main()
