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

--configs runs other optimizer configurations, each the same on both sides (the
hyperparameters are fixed per configuration, in CONFIGS below; --lr applies to `adam` only):

    adam             torch.optim.Adam(lr)                      --optimizer adam --lr LR
    adamw            AdamW(lr 1e-3, weight_decay 0.05) on every tensor, biases included
    adamw-nobias     the same, biases in a second group with weight_decay 0   (--no-decay-bias)
    muon             torch.optim.Muon(lr 0.02; weight_decay 0.1, momentum 0.95, nesterov, 5
                     Newton-Schulz steps in bf16) for the hidden weight matrix, AdamW(lr 1e-3,
                     weight_decay 0.01) for the biases and the output layer  (--optimizer muon)
    lamb             optax.lamb(lr 1e-2, weight_decay 0.01), written out below (PyTorch has no
                     LAMB): Adam's moments with bias correction, + decay, times the per-tensor
                     trust ratio ||p|| / ||u||
    adafactor        torch.optim.Adafactor(lr 1e-2), every weight matrix factored
    yogi, adabelief, adopt, ademamix, adan, novograd, sm3, schedule_free_sgd,
    schedule_free_adamw, prodigy, dadapt_adamw
                     optax's (optax.contrib's) own update at optax's defaults and the lr in
                     CONFIGS (optax's default where it has one, else the paper's), driving the
                     PyTorch model through OptaxOptimizer (needs `pip install jax optax`); the
                     schedule-free pair is evaluated at optax.contrib.schedule_free_eval_params.
                     descent runs `train --optimizer NAME --lr LR`. Compare accuracies only: the
                     epoch time includes handing tensors to JAX and back.

--data takes several directories, comma-separated ("bundled" is data/mnist-10k), and --table
prints one markdown row per data set and configuration:

    python3 benches/torch_mnist.py --seeds 0,1,2 --epochs 3 --val-fraction 0 \
        --configs adamw,adamw-nobias,muon,lamb,adafactor \
        --data bundled,/usr/share/datasets/fashion-mnist --descent target/release/descent --table

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


class OptaxLamb(torch.optim.Optimizer):
    """optax.lamb (PyTorch has none), per tensor as optax treats each leaf:
    m <- b1 m + (1 - b1) g;  v <- b2 v + (1 - b2) g^2
    u <- (m / (1 - b1^t)) / (sqrt(v / (1 - b2^t) + eps_root) + eps) + weight_decay * p
    r <- ||p|| / ||u||, or 1 where either norm is 0;  p <- p - lr * r * u
    (optax: scale_by_adam -> add_decayed_weights -> scale_by_trust_ratio -> scale_by_learning_rate,
    defaults b1 0.9, b2 0.999, eps 1e-6, eps_root 0, weight_decay 0)."""

    def __init__(self, params, lr, betas=(0.9, 0.999), eps=1e-6, eps_root=0.0, weight_decay=0.0):
        super().__init__(params, dict(lr=lr, betas=betas, eps=eps, eps_root=eps_root, weight_decay=weight_decay))

    @torch.no_grad()
    def step(self):
        for group in self.param_groups:
            b1, b2 = group["betas"]
            for p in group["params"]:
                if p.grad is None:
                    continue
                st = self.state[p]
                if not st:
                    st["t"], st["m"], st["v"] = 0, torch.zeros_like(p), torch.zeros_like(p)
                st["t"] += 1
                t, m, v, g = st["t"], st["m"], st["v"], p.grad
                m.mul_(b1).add_(g, alpha=1 - b1)
                v.mul_(b2).addcmul_(g, g, value=1 - b2)
                u = (m / (1 - b1**t)) / ((v / (1 - b2**t) + group["eps_root"]).sqrt() + group["eps"])
                if group["weight_decay"]:
                    u.add_(p, alpha=group["weight_decay"])
                pn, un = p.norm(), u.norm()
                ratio = torch.where((pn == 0) | (un == 0), torch.ones_like(pn), pn / un)
                p.add_(u * ratio, alpha=-group["lr"])


def check_lamb():
    """OptaxLamb against optax's own lamb on the bundled conformance cases (f64; tolerances of
    tests/data/conformance/README.md). Returns how many cases agreed; exits on a disagreement."""
    import glob

    root = os.path.join(HERE, "..", "tests", "data", "conformance")
    n = 0
    for path in sorted(glob.glob(os.path.join(root, "optax*", "lamb-*.spec.json"))):
        spec = json.load(open(path))
        expected = json.load(open(path.replace(".spec.json", ".expected.json")))
        dt = torch.float64 if spec["dtype"] == "f64" else torch.float32
        rtol, atol = (1e-9, 1e-12) if spec["dtype"] == "f64" else (1e-5, 1e-6)
        o = spec["optimizer"]
        ps = [torch.tensor(t["data"], dtype=dt).reshape(t["shape"]) for t in spec["params"]]
        opt = OptaxLamb(ps, lr=o["lr"], betas=tuple(o.get("betas", (0.9, 0.999))), eps=o.get("eps", 1e-6),
                        eps_root=o.get("eps_root", 0.0), weight_decay=o.get("weight_decay", 0.0))
        for k, step in enumerate(spec["grads"]):
            for p, g, t in zip(ps, step, spec["params"]):
                p.grad = torch.tensor(g, dtype=dt).reshape(t["shape"])
            opt.step()
            for p, e in zip(ps, expected["params"][k]):
                e = torch.tensor(e, dtype=torch.float64)
                if not ((p.double().reshape(-1) - e).abs() <= atol + rtol * e.abs()).all():
                    raise SystemExit(f"{path}: step {k}: OptaxLamb differs from optax.lamb")
        n += 1
    return n


class OptaxOptimizer(torch.optim.Optimizer):
    """An optax transformation driving a torch model's parameters (for the optimizers PyTorch does
    not have): each step hands the gradients to `tx.update` as a list of leaves, one per tensor,
    in f32 (jitted), and adds the updates (`optax.apply_updates`); epoch times then measure the
    hand-over too, so compare only accuracies for these configurations. `eval_params()` gives the parameters to
    evaluate at: the schedule-free pair's `optax.contrib.schedule_free_eval_params`, else the
    parameters themselves. Needs `pip install jax optax`."""

    def __init__(self, params, tx, schedule_free=False):
        import jax
        import jax.numpy as jnp

        super().__init__(params, {})
        self.jnp, self.tx, self.schedule_free = jnp, tx, schedule_free
        self.update = jax.jit(tx.update)
        self.leaves = [p for g in self.param_groups for p in g["params"]]
        self.opt_state = tx.init(self._jax([p.detach() for p in self.leaves]))

    def _jax(self, tensors):
        return [self.jnp.asarray(t.numpy()) for t in tensors]

    @torch.no_grad()
    def step(self):
        import optax

        params = self._jax([p.detach() for p in self.leaves])
        grads = self._jax([p.grad for p in self.leaves])
        updates, self.opt_state = self.update(grads, self.opt_state, params)
        for p, new in zip(self.leaves, optax.apply_updates(params, updates)):
            p.copy_(torch.from_numpy(__import__("numpy").asarray(new)))

    def eval_params(self):
        if not self.schedule_free:
            return None
        import numpy
        import optax.contrib

        params = self._jax([p.detach() for p in self.leaves])
        x = optax.contrib.schedule_free_eval_params(self.opt_state, params)
        return [torch.from_numpy(numpy.asarray(t)) for t in x]


def optax_config(label, name, lr, **kwargs):
    """A CONFIGS entry running optax's `name` (optax or optax.contrib) with `lr` and `kwargs` on the
    PyTorch model, and `descent train --optimizer name` with the same values (optax's `b1, b2` are
    descent's `betas`)."""

    def make(model, args):
        import optax
        import optax.contrib

        f = getattr(optax, name, None) or getattr(optax.contrib, name)
        return [OptaxOptimizer(model.parameters(), f(lr, **kwargs), schedule_free=name.startswith("schedule_free"))]

    def flags(args):
        extra = {k: v for k, v in kwargs.items() if k not in ("b1", "b2")}
        if "b1" in kwargs and "b2" in kwargs:
            extra["betas"] = [kwargs["b1"], kwargs["b2"]]
        elif "b1" in kwargs:
            extra["b1"] = kwargs["b1"]
        cmd = ["--optimizer", name, "--lr", repr(lr)]
        return cmd + (["--optimizer-args", json.dumps(extra)] if extra else [])

    return (label, make, flags)


def weights_and_biases(model):
    layers = [m for m in model if isinstance(m, torch.nn.Linear)]
    return [l.weight for l in layers], [l.bias for l in layers], layers


def muon_adamw(model):
    """torch.optim.Muon for the hidden weight matrices, AdamW for the biases and the output layer
    (PyTorch's docs' advice, and what `descent train --optimizer muon` does)."""
    weights, biases, _ = weights_and_biases(model)
    hidden, rest = weights[:-1], weights[-1:] + biases
    return [torch.optim.Muon(hidden, lr=0.02), torch.optim.AdamW(rest, lr=1e-3, weight_decay=0.01)]


def adamw_nobias(model):
    weights, biases, _ = weights_and_biases(model)
    return [torch.optim.AdamW([{"params": weights}, {"params": biases, "weight_decay": 0.0}],
                              lr=1e-3, weight_decay=0.05)]


# name: (what it is, PyTorch's optimizers for a model, descent train's flags)
CONFIGS = {
    "adam": ("Adam", lambda model, args: [torch.optim.Adam(model.parameters(), lr=args.lr)],
             lambda args: ["--optimizer", "adam", "--lr", str(args.lr)]),
    "adamw": ("AdamW, decay on biases too",
              lambda model, args: [torch.optim.AdamW(model.parameters(), lr=1e-3, weight_decay=0.05)],
              lambda args: ["--optimizer", "adamw", "--lr", "1e-3", "--weight-decay", "0.05"]),
    "adamw-nobias": ("AdamW, no decay on biases", lambda model, args: adamw_nobias(model),
                     lambda args: ["--optimizer", "adamw", "--lr", "1e-3", "--weight-decay", "0.05",
                                   "--no-decay-bias"]),
    "muon": ("Muon + AdamW", lambda model, args: muon_adamw(model),
             lambda args: ["--optimizer", "muon", "--lr", "0.02"]),
    "lamb": ("LAMB (optax's, written out)",
             lambda model, args: [OptaxLamb(model.parameters(), lr=1e-2, weight_decay=0.01)],
             lambda args: ["--optimizer", "lamb", "--lr", "1e-2", "--weight-decay", "0.01"]),
    "adafactor": ("Adafactor, factored",
                  lambda model, args: [torch.optim.Adafactor(model.parameters(), lr=1e-2)],
                  lambda args: ["--optimizer", "adafactor", "--lr", "1e-2"]),
    # The zoo, each at optax's defaults and the lr its paper or optax's docs recommend (optax has
    # no default lr for most); optax runs the update, PyTorch the network.
    "yogi": optax_config("Yogi (optax)", "yogi", 1e-2),
    "adabelief": optax_config("AdaBelief (optax)", "adabelief", 1e-3),
    "adopt": optax_config("ADOPT (optax.contrib)", "adopt", 1e-3),
    "ademamix": optax_config("AdEMAMix (optax.contrib)", "ademamix", 1e-3),
    "adan": optax_config("Adan (optax)", "adan", 1e-3),
    "novograd": optax_config("NovoGrad (optax)", "novograd", 1e-2),
    "sm3": optax_config("SM3 (optax)", "sm3", 1e-1),
    "schedule_free_sgd": optax_config("Schedule-free SGD (optax.contrib)", "schedule_free_sgd", 1.0),
    "schedule_free_adamw": optax_config("Schedule-free AdamW (optax.contrib)", "schedule_free_adamw", 2.5e-3),
    "prodigy": optax_config("Prodigy (optax.contrib)", "prodigy", 1.0),
    "dadapt_adamw": optax_config("D-Adaptation AdamW (optax.contrib)", "dadapt_adamw", 1.0),

}


def train_torch(data, seed, args, config="adam"):
    (x, y), (tx, ty) = data
    torch.manual_seed(seed)
    model = torch.nn.Sequential(
        torch.nn.Linear(x.shape[1], args.hidden), torch.nn.ReLU(), torch.nn.Linear(args.hidden, 10)
    )
    if args.init == "he":
        for layer in (model[0], model[2]):
            torch.nn.init.kaiming_normal_(layer.weight, nonlinearity="relu")
            torch.nn.init.zeros_(layer.bias)
    opts = CONFIGS[config][1](model, args)
    gen = torch.Generator().manual_seed(seed)
    epochs = []
    for epoch in range(1, args.epochs + 1):
        t0 = time.perf_counter()
        order = torch.randperm(x.shape[0], generator=gen)
        for start in range(0, x.shape[0], args.batch_size):
            idx = order[start : start + args.batch_size]
            loss = F.cross_entropy(model(x[idx]), y[idx])
            for opt in opts:
                opt.zero_grad(set_to_none=True)
            loss.backward()
            for opt in opts:
                opt.step()
        seconds = time.perf_counter() - t0
        with torch.no_grad():
            saved = None
            for opt in opts:
                at = opt.eval_params() if hasattr(opt, "eval_params") else None
                if at is not None:
                    saved = [p.detach().clone() for p in model.parameters()]
                    for p, e in zip(model.parameters(), at):
                        p.copy_(e)
            acc = 100.0 * (model(tx).argmax(1) == ty).float().mean().item()
            if saved is not None:
                for p, s in zip(model.parameters(), saved):
                    p.copy_(s)
        epochs.append({"epoch": epoch, "seconds": seconds, "test_accuracy": acc})
    return epochs


def train_descent(binary, seed, args, config="adam", data_dir=None):
    with tempfile.TemporaryDirectory() as d:
        hist = os.path.join(d, "h.json")
        cmd = [
            binary, "train", "--quiet", "--seed", str(seed), "--threads", str(args.threads),
            "--epochs", str(args.epochs), "--batch-size", str(args.batch_size),
            "--hidden", str(args.hidden), "--init", args.init, "--history", hist,
        ] + CONFIGS[config][2](args)
        if args.val_fraction is not None:
            cmd += ["--val-fraction", str(args.val_fraction)]
        if data_dir:
            cmd += ["--data", data_dir]
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
    p.add_argument("--data", default=None,
                   help="MNIST-format directories, comma-separated; 'bundled' (the default) is data/mnist-10k")
    p.add_argument("--epochs", type=int, default=5)
    p.add_argument("--batch-size", type=int, default=128)
    p.add_argument("--hidden", type=int, default=128)
    p.add_argument("--lr", type=float, default=1e-3, help="Adam's lr (the adam configuration)")
    p.add_argument("--threads", type=int, default=1, help="torch.set_num_threads (and descent --threads)")
    p.add_argument("--init", choices=["torch", "he"], default="torch", help="initialization, both sides")
    p.add_argument("--seeds", default="0", help="comma-separated seeds, e.g. 0,1,2,3,4")
    p.add_argument("--configs", default="adam", help=f"comma-separated, of: {', '.join(CONFIGS)}")
    p.add_argument("--val-fraction", type=float, default=None,
                   help="passed to descent train (0: train on every training example, as PyTorch here does)")
    p.add_argument("--descent", metavar="BIN", help="also run BIN train with the same settings")
    p.add_argument("--table", action="store_true", help="end with a markdown table, one row per data set and config")
    p.add_argument("--json", metavar="FILE", help="write every run and the summaries as JSON")
    p.add_argument("--check-lamb", action="store_true",
                   help="only check this script's LAMB against optax's (the bundled optax lamb cases)")
    args = p.parse_args()
    if args.check_lamb:
        print(f"OptaxLamb agrees with optax.lamb on {check_lamb()} cases")
        return
    torch.set_num_threads(args.threads)
    torch.set_num_interop_threads(1)
    configs = args.configs.split(",")
    for c in configs:
        if c not in CONFIGS:
            p.error(f"unknown configuration {c!r} (of {', '.join(CONFIGS)})")
    seeds = [int(s) for s in args.seeds.split(",")]
    out, table = [], []
    for data_dir in (args.data or "bundled").split(","):
        data_dir = None if data_dir == "bundled" else data_dir
        data = load(data_dir or DEFAULT_DATA)
        for config in configs:
            print(
                f"torch {torch.__version__}, {args.threads} thread(s), {data[0][0].shape[0]} train / "
                f"{data[1][0].shape[0]} test images ({data_dir or 'bundled'}), MLP {data[0][0].shape[1]}-"
                f"{args.hidden}-10 ReLU, {CONFIGS[config][0]} ({config}), batch {args.batch_size}, "
                f"{args.epochs} epochs, init {args.init}"
            )
            runs = {"pytorch": [], "descent": []}
            for seed in seeds:
                runs["pytorch"].append(train_torch(data, seed, args, config))
                if args.descent:
                    runs["descent"].append(train_descent(args.descent, seed, args, config, data_dir))
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
                    f"accuracy {d['accuracy_mean'] - t['accuracy_mean']:+.2f} pp\n"
                )
            table.append((data_dir or "bundled", config, rows))
            out.append({"data": data_dir or "bundled", "config": config, "runs": runs, "summary": rows})
    if args.table:
        print("| data | optimizer | test accuracy, PyTorch | descent | epoch (s), PyTorch | descent | descent / PyTorch |")
        print("|---|---|---|---|---|---|---|")
        for data_dir, config, rows in table:
            name = "bundled" if data_dir == "bundled" else os.path.basename(data_dir.rstrip("/"))
            t = rows[0]
            d = rows[1] if len(rows) == 2 else None
            acc = lambda s: f"{s['accuracy_mean']:.2f} ± {s['accuracy_sd']:.2f} %"  # noqa: E731
            print(
                f"| {name} | {CONFIGS[config][0]} | {acc(t)} | {acc(d) if d else ''} | "
                f"{t['epoch_seconds_median']:.3f} | {d['epoch_seconds_median'] if d else float('nan'):.3f} | "
                f"{d['epoch_seconds_median'] / t['epoch_seconds_median'] if d else float('nan'):.2f}× |"
            )
    if args.json:
        with open(args.json, "w") as f:
            json.dump({"args": vars(args), "results": out}, f, indent=1)


if __name__ == "__main__":
    main()
