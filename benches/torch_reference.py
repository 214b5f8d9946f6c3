#!/usr/bin/env python3
"""PyTorch's optimizer step throughput, measured the way benches/step_throughput.rs measures descent.

One thread (torch.set_num_threads(1)), float32, CPU, the sizes of the Rust bench, one parameter
tensor of n elements with a fixed gradient, and for each size the best of several timed steps
after one warm-up step (at least 5 runs, then more until a time budget: 0.4 s per size, 1.5 s
above one million elements, at most 10,000 runs). Every implementation PyTorch offers is timed:
fused=True (one C++ kernel), foreach=True (multi-tensor ops) and the single-tensor loop
(foreach=False), skipping those an optimizer lacks.

Usage (needs `pip install torch`):

    python3 benches/torch_reference.py                      # Adam, every size and implementation
    python3 benches/torch_reference.py --json out.json      # also write the results as JSON
    python3 benches/torch_reference.py --optimizer sgd --sizes 1024,262144 --impl fused

PyTorch's allocator is asked for 2 MiB pages (THP_MEM_ALLOC_ENABLE=1), as the Rust bench puts its
streams on them; `--pages small` (with DESCENT_BENCH_PAGES=small for the Rust bench) compares on
4 KiB pages instead.

Run it in the same session as `cargo bench --bench step_throughput -- adam`, so that both see the
same machine state, and compare µs per step and ns per element side by side.
"""

import argparse
import json
import math
import os
import platform
import sys
import time

SIZES = [1_024, 16_384, 262_144, 4_194_304, 16_777_216]
IMPLS = ["fused", "foreach", "single"]
# descent name -> torch.optim class name (defaults as in torch.optim, lr 1e-3 where it has one).
OPTIMIZERS = {
    "sgd": "SGD",
    "adam": "Adam",
    "adamw": "AdamW",
    "adagrad": "Adagrad",
    "rmsprop": "RMSprop",
    "adamax": "Adamax",
    "nadam": "NAdam",
    "radam": "RAdam",
    "adadelta": "Adadelta",
    "asgd": "ASGD",
    "rprop": "Rprop",
    "adafactor": "Adafactor",
}
LR = 1e-3


def data(torch, n):
    """The Rust bench's data: p_i = sin(i·1e-3), g_i = cos(i·7e-3)·1e-2, in float32."""
    i = torch.arange(n, dtype=torch.float32)
    return torch.sin(i * 1e-3), torch.cos(i * 7e-3) * 1e-2


def best_of(step, budget_s):
    """Best time in seconds of `step()` after one warm-up call, as step_throughput.rs's best_of."""
    step()
    start = time.perf_counter()
    best = math.inf
    runs = 0
    while runs < 5 or (time.perf_counter() - start < budget_s and runs < 10_000):
        t = time.perf_counter()
        step()
        best = min(best, time.perf_counter() - t)
        runs += 1
    return best


def make_optimizer(torch, name, impl, param):
    cls = getattr(torch.optim, OPTIMIZERS[name])
    kwargs = {"lr": LR}
    if impl == "fused":
        kwargs["fused"] = True
    else:
        kwargs["foreach"] = impl == "foreach"
    return cls([param], **kwargs)


def measure(torch, name, impl, n):
    """µs per step and ns per element of one implementation at size n, or None if unsupported."""
    p, g = data(torch, n)
    param = torch.nn.Parameter(p)
    param.grad = g
    try:
        opt = make_optimizer(torch, name, impl, param)
        opt.step()
    except (RuntimeError, TypeError, ValueError) as e:
        return None, str(e).splitlines()[0]
    budget = 1.5 if n > 1_000_000 else 0.4
    t = best_of(opt.step, budget)
    return {"us_per_step": t * 1e6, "ns_per_element": t * 1e9 / n}, None


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--optimizer", default="adam", choices=sorted(OPTIMIZERS))
    ap.add_argument("--sizes", default=",".join(map(str, SIZES)),
                    help="comma-separated parameter counts (default: the Rust bench's)")
    ap.add_argument("--impl", default=",".join(IMPLS),
                    help="comma-separated subset of fused,foreach,single")
    ap.add_argument("--threads", type=int, default=1, help="torch.set_num_threads (default 1)")
    ap.add_argument("--json", metavar="PATH", help="write the results as JSON ('-' for stdout)")
    ap.add_argument("--pages", default="huge", choices=["huge", "small"],
                    help="huge (default): PyTorch's CPU allocator asks for 2 MiB pages "
                         "(THP_MEM_ALLOC_ENABLE=1), as the Rust bench's arenas do; small: 4 KiB pages")
    a = ap.parse_args()
    if a.pages == "huge":
        # Read by c10's CPU allocator: madvise(MADV_HUGEPAGE) on large allocations. Must be set
        # before torch is imported.
        os.environ["THP_MEM_ALLOC_ENABLE"] = "1"

    import warnings

    warnings.filterwarnings("ignore", message="Failed to initialize NumPy")
    import torch

    torch.set_num_threads(a.threads)
    sizes = [int(s.replace("_", "")) for s in a.sizes.split(",") if s]
    impls = [s for s in a.impl.split(",") if s]
    for s in impls:
        if s not in IMPLS:
            ap.error(f"unknown implementation {s!r} (fused, foreach, single)")

    out = sys.stderr if a.json == "-" else sys.stdout
    print(f"torch {torch.__version__}, {a.optimizer} f32, {torch.get_num_threads()} thread(s), "
          f"{platform.processor() or platform.machine()}; best of runs; {a.pages} pages", file=out)
    print(f"{'n':>10} {'impl':>8} {'µs/step':>12} {'ns/elem':>9}", file=out)
    results = []
    for n in sizes:
        for impl in impls:
            r, why = measure(torch, a.optimizer, impl, n)
            if r is None:
                print(f"{n:>10} {impl:>8}   unsupported: {why}", file=out)
                continue
            print(f"{n:>10} {impl:>8} {r['us_per_step']:>12.3f} {r['ns_per_element']:>9.3f}", file=out)
            results.append({"optimizer": a.optimizer, "impl": impl, "n": n, **r})
    if a.json:
        doc = {
            "torch": torch.__version__,
            "threads": torch.get_num_threads(),
            "pages": a.pages,
            "dtype": "float32",
            "method": "best of timed steps after one warm-up (budget 0.4 s; 1.5 s above 1M elements)",
            "results": results,
        }
        text = json.dumps(doc, indent=1)
        if a.json == "-":
            print(text)
        else:
            with open(a.json, "w") as f:
                f.write(text + "\n")


if __name__ == "__main__":
    main()
