#!/usr/bin/env python3
"""Conformance cases for Sophia-G, from a PyTorch reference written after the authors' code.

Sophia-G (Liu et al. 2023) is neither in torch.optim nor in optax (optax.contrib.sophia is
Sophia-H after levanter: another estimator, bias correction and clipping rule). The reference
below is the authors' `SophiaG` (github.com/Liuhong99/Sophia, sophia.py: `__init__`'s checks and
messages, `_single_tensor_sophiag`), one tensor operation for one tensor operation, with one
change that makes the Hessian estimate an input: `update_hessian(estimates)` folds a given
estimate ĥ into h (h.mul_(β2).add_(ĥ, alpha=1 − β2)) where the authors fold p.grad⊙p.grad of a
sampled-label backward pass, and the step divides by rho·h + eps with the batch size already in ĥ
(the paper's ĥ = B·ĝ⊙ĝ; the authors' `bs` = 1) and eps a keyword (their hard-coded 1e-15).

Spec keys: the optimizer {"name": "sophia", "lr", "betas", "rho", "eps", "weight_decay",
"update_period"} and "hessians": one entry per step, null where none is given, else one flat
estimate per tensor, folded in before that step's update (see
tests/data/conformance/README.md). `update_period` is only the caller's schedule; the
generator gives estimates at the steps it names (after steps k, 2k, …, as the authors'
training script does, and for some cases also before the first step).

Usage (`pip install torch`):

  sophia_trace.py random OUTDIR SEED COUNT     random cases, f32 and f64 alternately, plus refusals
  sophia_trace.py expect SPEC.json [...]       write NAME.expected.json beside each spec
"""
import json, math, os, random, sys, warnings
warnings.filterwarnings("ignore", message="Failed to initialize NumPy")
import torch


class SophiaG(torch.optim.Optimizer):
    """The authors' SophiaG with the Hessian estimate as an input (see the module's docstring)."""

    def __init__(self, params, lr=1e-4, betas=(0.965, 0.99), rho=0.04, eps=1e-15, weight_decay=1e-1):
        if not 0.0 <= lr:
            raise ValueError("Invalid learning rate: {}".format(lr))
        if not 0.0 <= betas[0] < 1.0:
            raise ValueError("Invalid beta parameter at index 0: {}".format(betas[0]))
        if not 0.0 <= betas[1] < 1.0:
            raise ValueError("Invalid beta parameter at index 1: {}".format(betas[1]))
        if not 0.0 <= rho:
            raise ValueError("Invalid rho parameter at index 1: {}".format(rho))
        if not 0.0 <= eps:
            raise ValueError("Invalid epsilon value: {}".format(eps))
        if not 0.0 <= weight_decay:
            raise ValueError("Invalid weight_decay value: {}".format(weight_decay))
        super().__init__(params, dict(lr=lr, betas=betas, rho=rho, eps=eps, weight_decay=weight_decay))

    def _state(self, p):
        state = self.state[p]
        if len(state) == 0:
            state["step"] = torch.tensor(0.0)
            state["exp_avg"] = torch.zeros_like(p, memory_format=torch.preserve_format)
            state["hessian"] = torch.zeros_like(p, memory_format=torch.preserve_format)
        return state

    @torch.no_grad()
    def update_hessian(self, estimates):
        """h ← β2·h + (1 − β2)·ĥ, one estimate per parameter tensor, in order."""
        i = 0
        for group in self.param_groups:
            _, beta2 = group["betas"]
            for p in group["params"]:
                self._state(p)["hessian"].mul_(beta2).add_(estimates[i], alpha=1 - beta2)
                i += 1

    @torch.no_grad()
    def step(self):
        for group in self.param_groups:
            beta1, _ = group["betas"]
            lr, rho, eps, wd = group["lr"], group["rho"], group["eps"], group["weight_decay"]
            for param in group["params"]:
                if param.grad is None:
                    continue
                state = self._state(param)
                grad, exp_avg, hess = param.grad, state["exp_avg"], state["hessian"]
                state["step"] += 1
                # Perform stepweight decay
                param.mul_(1 - lr * wd)
                # Decay the first and second moment running average coefficient
                exp_avg.mul_(beta1).add_(grad, alpha=1 - beta1)
                ratio = (exp_avg.abs() / (rho * hess + eps)).clamp(None, 1)
                param.addcmul_(exp_avg.sign(), ratio, value=-lr)


KEYS = ("lr", "betas", "rho", "eps", "weight_decay")


def run(spec):
    dtype = {"f32": torch.float32, "f64": torch.float64}[spec["dtype"]]
    o = spec["optimizer"]
    kw = {k: (tuple(o[k]) if k == "betas" else o[k]) for k in KEYS if k in o}
    ps = [torch.tensor(t["data"], dtype=dtype).reshape(t["shape"]).requires_grad_(True) for t in spec["params"]]
    try:
        opt = SophiaG(ps, **kw)
    except ValueError as e:
        return {"error": str(e)}
    lrs, traj = [], []
    hessians = spec.get("hessians") or [None] * len(spec["grads"])
    for grads, est in zip(spec["grads"], hessians):
        if est is not None:
            opt.update_hessian([torch.tensor(h, dtype=dtype).reshape(p.shape) for h, p in zip(est, ps)])
        for p, g in zip(ps, grads):
            p.grad = torch.tensor(g, dtype=dtype).reshape(p.shape)
        lrs.append(opt.param_groups[0]["lr"])
        opt.step()
        traj.append([p.detach().reshape(-1).tolist() for p in ps])
    return {"lr": lrs, "params": traj}


def random_case(rng, name, dtype):
    def logu(lo, hi):
        return math.exp(rng.uniform(math.log(lo), math.log(hi)))

    shapes = rng.choice([[[3, 4], [4]], [[5]], [[2, 3], [3], [6]], [[7, 2]]])
    steps = rng.randint(12, 30)
    period = rng.choice([1, 2, 3, 5, 10])
    opt = dict(name="sophia", lr=logu(1e-3, 0.1), betas=[rng.uniform(0.8, 0.99), rng.choice([0.99, rng.uniform(0.8, 0.999)])],
               rho=rng.choice([0.04, logu(1e-3, 1.0)]), eps=rng.choice([1e-15, logu(1e-12, 1e-4)]),
               weight_decay=rng.choice([0.1, 0.0, logu(1e-3, 0.5)]), update_period=period)
    # Estimates spanning five decades, so that |m| / (rho·h + eps) falls on both sides of 1 (the
    # clip active and not); some as the GNB estimator makes them (B·g⊙g with a sampled g).
    scale = logu(1.0, 1e4)
    gnb = rng.random() < 0.5
    early = rng.random() < 0.5

    def estimate(n):
        if gnb:
            b = rng.choice([8, 32, 128])
            return [b * rng.gauss(0, math.sqrt(scale / b)) ** 2 for _ in range(n)]
        return [scale * 10 ** rng.uniform(-2.5, 2.5) for _ in range(n)]

    numel = [math.prod(s) for s in shapes]
    params = [dict(shape=s, data=[rng.gauss(0, 1) for _ in range(n)]) for s, n in zip(shapes, numel)]
    grads = [[[rng.gauss(0, 1) * rng.choice([1.0, 0.1]) for _ in range(n)] for n in numel] for _ in range(steps)]
    hessians = [([estimate(n) for n in numel] if (k > 0 and k % period == 0) or (k == 0 and early) else None)
                for k in range(steps)]
    return dict(name=name, dtype=dtype, optimizer=opt, params=params, grads=grads, hessians=hessians)


def write_case(out, spec):
    base = os.path.join(out, spec["name"])
    with open(base + ".spec.json", "w") as f:
        json.dump(spec, f)
    with open(base + ".expected.json", "w") as f:
        json.dump(run(spec), f)


def main(argv):
    if len(argv) >= 2 and argv[1] == "expect":
        for path in argv[2:]:
            with open(path) as f:
                spec = json.load(f)
            with open(path.replace(".spec.json", ".expected.json"), "w") as f:
                json.dump(run(spec), f)
        return
    if len(argv) != 5 or argv[1] != "random":
        sys.exit(__doc__)
    out, seed, count = argv[2], int(argv[3]), int(argv[4])
    os.makedirs(out, exist_ok=True)
    rng = random.Random(seed)
    for i in range(count):
        write_case(out, random_case(rng, f"sophia-{seed}-{i:04d}", ["f32", "f64"][i % 2]))
    # Refusals, with the authors' messages.
    for i, bad in enumerate([dict(rho=-0.1), dict(betas=[0.9, 1.0]), dict(lr=-1e-3), dict(weight_decay=-0.5)]):
        spec = random_case(rng, f"sophia-{seed}-refused-{i}", "f64")
        spec["optimizer"].update(bad)
        write_case(out, spec)


if __name__ == "__main__":
    main(sys.argv)
