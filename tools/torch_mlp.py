#!/usr/bin/env python3
"""Trains a PyTorch MLP on the host and saves it as safetensors, for `descent export --from`.

  torch_mlp.py HOST_DIR OUT.safetensors [--hidden 32] [--epochs 20] [--seed 0]

HOST_DIR is an MNIST-format directory (14x14 digits without any 9: what
tools/finetune-device/make_data.py writes for the host). The model is
nn.Sequential(Linear(196, H), ReLU(), Linear(H, 10)), trained with torch.optim.Adam (lr 1e-3,
batch 64) on inputs normalized as `descent train` does, (x/255 - 0.1307)/0.3081. The file holds
the state_dict ("0.weight" [H, 196], "0.bias", "2.weight" [10, H], "2.bias", float32) and the
metadata {"activation": "relu"}; `descent export --from OUT.safetensors --out model.blob` turns
it into the model blob a device reads.

tools/finetune-device/data/torch-model.safetensors was made with
  python3 tools/finetune-device/make_data.py /tmp/host /tmp/device
  python3 tools/torch_mlp.py /tmp/host tools/finetune-device/data/torch-model.safetensors
(PyTorch 2.15 on x86-64, one thread; `pip install torch safetensors`).
"""
import argparse
import gzip
import os
import struct

import torch
from safetensors.torch import save_file


def read_idx(path):
    with gzip.open(path, "rb") as f:
        data = f.read()
    magic = struct.unpack(">I", data[:4])[0]
    dims = struct.unpack(">" + "I" * (magic & 0xFF), data[4 : 4 + 4 * (magic & 0xFF)])
    return torch.frombuffer(bytearray(data[4 + 4 * len(dims) :]), dtype=torch.uint8).reshape(dims)


def load(host, split):
    x = read_idx(os.path.join(host, f"{split}-images-idx3-ubyte.gz")).float()
    y = read_idx(os.path.join(host, f"{split}-labels-idx1-ubyte.gz")).long()
    return ((x.reshape(len(x), -1) / 255.0 - 0.1307) / 0.3081), y


def main():
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("host")
    p.add_argument("out")
    p.add_argument("--hidden", type=int, default=32)
    p.add_argument("--epochs", type=int, default=20)
    p.add_argument("--seed", type=int, default=0)
    a = p.parse_args()
    torch.manual_seed(a.seed)
    torch.set_num_threads(1)
    (x, y), (tx, ty) = load(a.host, "train"), load(a.host, "t10k")
    model = torch.nn.Sequential(torch.nn.Linear(x.shape[1], a.hidden), torch.nn.ReLU(), torch.nn.Linear(a.hidden, 10))
    opt = torch.optim.Adam(model.parameters(), lr=1e-3)
    for epoch in range(a.epochs):
        perm = torch.randperm(len(x))
        for i in range(0, len(x), 64):
            idx = perm[i : i + 64]
            opt.zero_grad()
            torch.nn.functional.cross_entropy(model(x[idx]), y[idx]).backward()
            opt.step()
    with torch.no_grad():
        acc = (model(tx).argmax(1) == ty).float().mean().item()
    print(f"test accuracy (no 9s) {100 * acc:.2f}% after {a.epochs} epochs")
    state = {k: v.detach().contiguous() for k, v in model.state_dict().items()}
    save_file(state, a.out, metadata={"activation": "relu"})


if __name__ == "__main__":
    main()
