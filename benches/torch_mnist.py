#!/usr/bin/env python3
"""PyTorch's version of `descent train`'s main job, for side-by-side timing and accuracy.

The same job: an MLP 784-128-10 with ReLU, softmax cross-entropy, Adam (lr 1e-3), batch 128,
5 epochs, the training set reshuffled every epoch, pixels normalized as (x/255 - 0.1307)/0.3081,
on the MNIST-format directory given (default: the bundled data/mnist-10k). Per epoch it reports
the training time (the batches only, not the evaluation, as `descent train` does) and the test
accuracy after the epoch; at the end the mean ± standard deviation over the seeds.

With --descent BIN it also runs `BIN train` with the same settings and seeds, alternating the
two runs seed by seed (so load from other processes hits both alike), and prints both side by
side with the ratio of the median epoch times.

    python3 benches/torch_mnist.py --threads 1 --seeds 0,1,2,3,4 \
        --descent target/release/descent
    python3 benches/torch_mnist.py --data /usr/share/datasets/fashion-mnist --epochs 3

Needs `pip install torch` (no numpy). Initialization: --init torch (default) keeps nn.Linear's
own, U(±1/sqrt(fan_in)) for weights and biases, and runs descent with --init torch, the same
distribution; --init he uses He-normal weights and zero biases on both sides (descent's default).
The random streams differ between the two libraries, so accuracy is compared as mean ± spread
over several seeds.
"""

import argparse
import gzip
import json
import os
import statistics
import subprocess
import tempfile
import time
import warnings

warnings.filterwarnings("ignore", message="Failed to initialize NumPy")
import torch  # noqa: E402
import torch.nn.functional as F  # noqa: E402

HERE = os.path.dirname(os.path.abspath(__file__))
DEFAULT_DATA = os.path.join(HERE, "..", "data", "mnist-10k")
MEAN, STD = 0.1307, 0.3081


def read_idx(directory, stem):
    """An IDX file (raw or .gz) as a uint8 tensor of its dimensions."""
    path = os.path.join(directory, stem)
    if not os.path.exists(path):
        path += ".gz"
    with open(path, "rb") as f:
        raw = f.read()
    if raw[:2] == b"\x1f\x8b":
        raw = gzip.decompress(raw)
    ndim = raw[3]
    dims = [int.from_bytes(raw[4 + 4 * i : 8 + 4 * i], "big") for i in range(ndim)]
    data = torch.frombuffer(bytearray(raw[4 + 4 * ndim :]), dtype=torch.uint8)
    return data.reshape(dims)


def load(directory):
    def split(prefix):
        x = read_idx(directory, f"{prefix}-images-idx3-ubyte")
        y = read_idx(directory, f"{prefix}-labels-idx1-ubyte").long()
        x = (x.reshape(x.shape[0], -1).float() / 255.0 - MEAN) / STD
        return x, y

    return split("train"), split("t10k")


def train_torch(data, seed, args):
    (x, y), (tx, ty) = data
    torch.manual_seed(seed)
    model = torch.nn.Sequential(
        torch.nn.Linear(x.shape[1], args.hidden), torch.nn.ReLU(), torch.nn.Linear(args.hidden, 10)
    )
    if args.init == "he":
        for layer in (model[0], model[2]):
            torch.nn.init.kaiming_normal_(layer.weight, nonlinearity="relu")
            torch.nn.init.zeros_(layer.bias)
    opt = torch.optim.Adam(model.parameters(), lr=args.lr)
    gen = torch.Generator().manual_seed(seed)
    epochs = []
    for epoch in range(1, args.epochs + 1):
        t0 = time.perf_counter()
        order = torch.randperm(x.shape[0], generator=gen)
        for start in range(0, x.shape[0], args.batch_size):
            idx = order[start : start + args.batch_size]
            loss = F.cross_entropy(model(x[idx]), y[idx])
            opt.zero_grad(set_to_none=True)
            loss.backward()
            opt.step()
        seconds = time.perf_counter() - t0
        with torch.no_grad():
            acc = 100.0 * (model(tx).argmax(1) == ty).float().mean().item()
        epochs.append({"epoch": epoch, "seconds": seconds, "test_accuracy": acc})
    return epochs


def train_descent(binary, seed, args):
    with tempfile.TemporaryDirectory() as d:
        hist = os.path.join(d, "h.json")
        cmd = [
            binary, "train", "--quiet", "--seed", str(seed), "--threads", str(args.threads),
            "--epochs", str(args.epochs), "--batch-size", str(args.batch_size),
            "--hidden", str(args.hidden), "--lr", str(args.lr), "--init", args.init, "--history", hist,
        ]
        if args.data:
            cmd += ["--data", args.data]
        subprocess.run(cmd, check=True)
        with open(hist) as f:
            return json.load(f)["epochs"]


def summary(name, runs):
    """Mean ± sd of the final accuracy over seeds; median and mean epoch time over all epochs
    but each run's first (warm-up: allocation, thread pool start, lazy initialization)."""
    final = [r[-1]["test_accuracy"] for r in runs]
    times = [e["seconds"] for r in runs for e in r[1:]] or [e["seconds"] for r in runs for e in r]
    sd = statistics.stdev(final) if len(final) > 1 else 0.0
    return {
        "name": name,
        "accuracy_mean": statistics.mean(final),
        "accuracy_sd": sd,
        "accuracy_min": min(final),
        "accuracy_max": max(final),
        "epoch_seconds_median": statistics.median(times),
        "epoch_seconds_mean": statistics.mean(times),
    }


def main():
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--data", default=None, help="MNIST-format directory (default: data/mnist-10k)")
    p.add_argument("--epochs", type=int, default=5)
    p.add_argument("--batch-size", type=int, default=128)
    p.add_argument("--hidden", type=int, default=128)
    p.add_argument("--lr", type=float, default=1e-3)
    p.add_argument("--threads", type=int, default=1, help="torch.set_num_threads (and descent --threads)")
    p.add_argument("--init", choices=["torch", "he"], default="torch", help="initialization, both sides")
    p.add_argument("--seeds", default="0", help="comma-separated seeds, e.g. 0,1,2,3,4")
    p.add_argument("--descent", metavar="BIN", help="also run BIN train with the same settings")
    p.add_argument("--json", metavar="FILE", help="write every run and the summaries as JSON")
    args = p.parse_args()
    torch.set_num_threads(args.threads)
    torch.set_num_interop_threads(1)
    data = load(args.data or DEFAULT_DATA)
    seeds = [int(s) for s in args.seeds.split(",")]
    print(
        f"torch {torch.__version__}, {args.threads} thread(s), {data[0][0].shape[0]} train / "
        f"{data[1][0].shape[0]} test images, MLP {data[0][0].shape[1]}-{args.hidden}-10 ReLU, "
        f"Adam lr {args.lr}, batch {args.batch_size}, {args.epochs} epochs, init {args.init}"
    )
    runs = {"pytorch": [], "descent": []}
    for seed in seeds:
        runs["pytorch"].append(train_torch(data, seed, args))
        if args.descent:
            runs["descent"].append(train_descent(args.descent, seed, args))
        for name in ("pytorch", "descent"):
            if runs[name] and len(runs[name]) == len(runs["pytorch"]):
                r = runs[name][-1]
                secs = " ".join(f"{e['seconds']:.3f}" for e in r)
                accs = " ".join(f"{e['test_accuracy']:.2f}" for e in r)
                print(f"seed {seed} {name:>8}: epoch s [{secs}]  test acc % [{accs}]")
    rows = [summary(n, r) for n, r in runs.items() if r]
    print(f"\n{'':>8} {'final test acc (mean ± sd, min-max)':>38} {'epoch s (median)':>17} {'(mean)':>8}")
    for s in rows:
        acc = f"{s['accuracy_mean']:.2f} ± {s['accuracy_sd']:.2f} ({s['accuracy_min']:.2f}-{s['accuracy_max']:.2f})"
        print(f"{s['name']:>8} {acc:>38} {s['epoch_seconds_median']:>17.4f} {s['epoch_seconds_mean']:>8.4f}")
    if len(rows) == 2:
        t, d = rows
        print(
            f"descent / pytorch: epoch time {d['epoch_seconds_median'] / t['epoch_seconds_median']:.2f}x, "
            f"accuracy {d['accuracy_mean'] - t['accuracy_mean']:+.2f} pp"
        )
    if args.json:
        with open(args.json, "w") as f:
            json.dump({"args": vars(args), "runs": runs, "summary": rows}, f, indent=1)


if __name__ == "__main__":
    main()
