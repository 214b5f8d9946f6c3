#!/usr/bin/env python3
"""Data for the fine-tuning example, from the bundled MNIST subset (data/mnist-10k), standard
library only.

Every image is average-pooled 2×2 to 14×14 (a small device camera), rounded to a byte.

  make_data.py HOST_DIR DEVICE_DIR

HOST_DIR gets an MNIST-format directory for `descent train --data`: the training and test splits
without the digit 9, so the host model never sees that class (the held-out class).
DEVICE_DIR gets the raw bytes the device embeds (`n × 196` pixels, then `n` labels, one file each):
  finetune-images.u8 / finetune-labels.u8: the first FINETUNE_NINES nines of the training split
      and the first FINETUNE_PER_CLASS images of every other digit (so the device does not forget
      them), interleaved;
  test-images.u8 / test-labels.u8: the first TEST images of the held-out test split, every digit.

The digits are MNIST's (CC BY-SA 3.0; provenance in data/mnist-10k/README.md). generate.sh runs this
and then trains and exports the host model.
"""
import gzip
import os
import struct
import sys

HELD_OUT = 9
FINETUNE_NINES = 40
FINETUNE_PER_CLASS = 30
TEST = 600
SRC = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "..", "data", "mnist-10k")


def read_idx(name):
    with gzip.open(os.path.join(SRC, name + ".gz"), "rb") as f:
        data = f.read()
    magic, = struct.unpack(">I", data[:4])
    dims = struct.unpack(">" + "I" * (magic & 0xFF), data[4:4 + 4 * (magic & 0xFF)])
    return dims, data[4 + 4 * len(dims):]


def pooled(name):
    (n, rows, cols), raw = read_idx(name)
    out = []
    for k in range(n):
        img = raw[k * rows * cols:(k + 1) * rows * cols]
        small = bytearray()
        for r in range(0, rows, 2):
            for c in range(0, cols, 2):
                s = img[r * cols + c] + img[r * cols + c + 1] + img[(r + 1) * cols + c] + img[(r + 1) * cols + c + 1]
                small.append((s + 2) // 4)
        out.append(bytes(small))
    return out


def labels(name):
    _, raw = read_idx(name)
    return list(raw)


def write_idx(path, images, labs):
    with open(os.path.join(path, images[0]), "wb") as f:
        f.write(gzip.compress(struct.pack(">IIII", 0x803, len(images[1]), 14, 14) + b"".join(images[1]), mtime=0))
    with open(os.path.join(path, labs[0]), "wb") as f:
        f.write(gzip.compress(struct.pack(">II", 0x801, len(labs[1])) + bytes(labs[1]), mtime=0))


def main():
    host, device = sys.argv[1], sys.argv[2]
    os.makedirs(host, exist_ok=True)
    os.makedirs(device, exist_ok=True)
    tr_x, tr_y = pooled("train-images-idx3-ubyte"), labels("train-labels-idx1-ubyte")
    te_x, te_y = pooled("t10k-images-idx3-ubyte"), labels("t10k-labels-idx1-ubyte")
    for split, xs, ys in (("train", tr_x, tr_y), ("t10k", te_x, te_y)):
        keep = [i for i, y in enumerate(ys) if y != HELD_OUT]
        write_idx(host, (split + "-images-idx3-ubyte.gz", [xs[i] for i in keep]),
                  (split + "-labels-idx1-ubyte.gz", [ys[i] for i in keep]))
    # Fine-tuning set: per class, the first examples of the training split, then interleaved
    # round-robin so every batch sees several classes.
    per_class = {d: [i for i, y in enumerate(tr_y) if y == d] for d in range(10)}
    want = {d: FINETUNE_NINES if d == HELD_OUT else FINETUNE_PER_CLASS for d in range(10)}
    queues = {d: per_class[d][:want[d]] for d in range(10)}
    order = []
    while any(queues.values()):
        for d in range(10):
            if queues[d]:
                order.append(queues[d].pop(0))
    for name, idx, xs, ys in (("finetune", order, tr_x, tr_y), ("test", range(TEST), te_x, te_y)):
        with open(os.path.join(device, name + "-images.u8"), "wb") as f:
            f.write(b"".join(xs[i] for i in idx))
        with open(os.path.join(device, name + "-labels.u8"), "wb") as f:
            f.write(bytes(ys[i] for i in idx))


if __name__ == "__main__":
    main()
