#!/usr/bin/env python3
"""Conformance cases from PyTorch, for descent or for your own optimizer implementation.

Each case is a pair of files: NAME.spec.json (the input of `descent replay`) and NAME.expected.json
(PyTorch's result: the lr used at each step and the parameters after each step, or PyTorch's error
message for a configuration it refuses). The format is described in
tests/data/conformance/README.md.

Usage (needs `pip install torch`):

  torch_trace.py expect SPEC.json [SPEC.json ...]
      Run your own specs through PyTorch and write NAME.expected.json beside each.
  torch_trace.py random OUTDIR SEED COUNT [--optimizers sgd,adam,...] [--dtype f32|f64] [--plain]
      Random cases (seeded). --plain: no scheduler and no clipping.
  torch_trace.py groups OUTDIR SEED COUNT [--optimizers adamw,muon,...]
      Random cases with parameter groups (per-group overrides, schedulers and clipping over all
      groups, ChainedScheduler) and torch.optim.Muon: the generator of descent's torch-groups/.
  torch_trace.py averaged OUTDIR SEED COUNT [--swalr]
      Random cases of torch.optim.swa_utils.AveragedModel around an optimizer:
      {"name": "swa" | "ema", "decay": β (ema), "inner": {optimizer}}, updated after every step;
      the expected result adds "averaged", the averaged parameters after every step.
  torch_trace.py sparse OUTDIR SEED COUNT [--dtype f32|f64]
      Random cases of torch.optim.SparseAdam: tables (2-D tensors, or 1-D as one column) with
      sparse gradients given as "sparse_grads" (per step, per tensor {"indices": [...],
      "values": [[row], ...]} or null for no gradient), with repeated indices (PyTorch sums them),
      unsorted indices, empty gradients and rows never touched; a few invalid configurations.
  torch_trace.py make OUTDIR NAME --optimizer JSON --shapes 8x4,8 [--param-groups JSON]
                 [--scheduler JSON] [--clip JSON] [--steps N] [--dtype f32|f64] [--seed S]
      One case for your own configuration: random initial parameters and gradients of the given
      shapes, your optimizer, groups, scheduler and clipping; writes NAME.spec.json and
      NAME.expected.json in OUTDIR.

A spec may hold "param_groups": [{"params": [tensor indices], <per-group keys>}, ...] (PyTorch's
per-group options; the expected result then adds "lrs", every group's lr at every step), the
optimizer "muon" (torch.optim.Muon: 2-D tensors, f32, compared at rtol 1e-3 / atol 1e-4 because
PyTorch runs Newton-Schulz in bfloat16), and the scheduler
{"name": "chained_scheduler", "schedulers": [...]} (torch.optim.lr_scheduler.ChainedScheduler).

Then compare: `descent replay NAME.spec.json` prints the same JSON as NAME.expected.json, within
rtol 1e-9 / atol 1e-12 (f64) or rtol 1e-5 / atol 1e-6 (f32).

The generator of descent's bundled PyTorch cases, tests/data/conformance/torch*/ (PyTorch 2.15,
foreach=False; Muon has no foreach variant).
"""
import argparse, json, math, os, random, sys, warnings
warnings.filterwarnings("ignore", message="Failed to initialize NumPy")
import torch

rng = random.Random(0)
OPTIMIZERS = None  # restricts make_case's choice when set
DTYPE = None
PLAIN = False
SEED = 0

def r(lo, hi):
    return rng.uniform(lo, hi)

def logu(lo, hi):
    return math.exp(rng.uniform(math.log(lo), math.log(hi)))

def opt_config(name):
    wd = rng.choice([0.0, 0.0, logu(1e-4, 0.1)])
    mx = rng.random() < 0.15
    if name == "sgd":
        mom = rng.choice([0.0, r(0.5, 0.99)])
        nest = mom > 0 and rng.random() < 0.5
        damp = 0.0 if nest or rng.random() < 0.6 else r(0.0, 0.5)
        return dict(name=name, lr=logu(1e-3, 0.3), momentum=mom, dampening=damp,
                    weight_decay=wd, nesterov=nest, maximize=mx)
    if name in ("adam", "adamw"):
        return dict(name=name, lr=logu(1e-4, 0.1), betas=[r(0.5, 0.95), rng.choice([0.999, r(0.9, 0.9999)])],
                    eps=rng.choice([1e-8, logu(1e-10, 1e-3)]), weight_decay=wd if name == "adam" else logu(1e-4, 0.2),
                    amsgrad=rng.random() < 0.3, maximize=mx)
    if name == "adagrad":
        return dict(name=name, lr=logu(1e-3, 0.5), lr_decay=rng.choice([0.0, logu(1e-4, 0.1)]), weight_decay=wd,
                    initial_accumulator_value=rng.choice([0.0, r(0.0, 0.5)]), eps=rng.choice([1e-10, logu(1e-10, 1e-4)]), maximize=mx)
    if name == "rmsprop":
        return dict(name=name, lr=logu(1e-4, 0.05), alpha=rng.choice([0.99, r(0.8, 0.999)]), eps=rng.choice([1e-8, logu(1e-8, 1e-3)]),
                    weight_decay=wd, momentum=rng.choice([0.0, r(0.5, 0.95)]), centered=rng.random() < 0.4, maximize=mx)
    if name == "adamax":
        return dict(name=name, lr=logu(1e-4, 0.1), betas=[r(0.5, 0.95), r(0.9, 0.9999)], eps=rng.choice([1e-8, logu(1e-8, 1e-3)]),
                    weight_decay=wd, maximize=mx)
    if name == "nadam":
        return dict(name=name, lr=logu(1e-4, 0.1), betas=[r(0.5, 0.95), r(0.9, 0.9999)], eps=rng.choice([1e-8, logu(1e-8, 1e-3)]),
                    weight_decay=wd, momentum_decay=rng.choice([0.004, logu(1e-3, 0.05)]),
                    decoupled_weight_decay=rng.random() < 0.4, maximize=mx)
    if name == "radam":
        return dict(name=name, lr=logu(1e-4, 0.1), betas=[r(0.5, 0.95), rng.choice([0.999, r(0.9, 0.9999)])],
                    eps=rng.choice([1e-8, logu(1e-8, 1e-3)]), weight_decay=wd,
                    decoupled_weight_decay=rng.random() < 0.4, maximize=mx)
    if name == "adadelta":
        return dict(name=name, lr=rng.choice([1.0, logu(0.05, 2.0)]), rho=r(0.8, 0.99), eps=rng.choice([1e-6, logu(1e-8, 1e-3)]),
                    weight_decay=wd, maximize=mx)
    if name == "asgd":
        return dict(name=name, lr=logu(1e-3, 0.1), lambd=rng.choice([1e-4, logu(1e-5, 1e-2)]), alpha=rng.choice([0.75, r(0.5, 1.0)]),
                    t0=rng.choice([1e6, float(rng.randint(1, 20))]), weight_decay=wd, maximize=mx)
    if name == "rprop":
        return dict(name=name, lr=logu(1e-3, 0.1), etas=[r(0.3, 0.7), r(1.1, 1.5)],
                    step_sizes=[rng.choice([1e-6, logu(1e-6, 1e-3)]), rng.choice([50.0, r(0.5, 10.0)])], maximize=mx)
    if name == "adafactor":
        return dict(name=name, lr=logu(1e-3, 0.05), beta2_decay=rng.choice([-0.8, r(-1.0, -0.5)]),
                    eps=[None, rng.choice([1e-3, logu(1e-4, 1e-2)])], d=rng.choice([1.0, r(1.0, 2.0)]),
                    weight_decay=wd, maximize=mx)
    raise ValueError(name)

def muon_config():
    """A random torch.optim.Muon configuration."""
    return dict(name="muon", lr=logu(1e-3, 0.05), weight_decay=rng.choice([0.1, 0.0, logu(1e-3, 0.2)]),
                momentum=rng.choice([0.95, r(0.5, 0.99)]), nesterov=rng.random() < 0.7,
                ns_steps=rng.choice([5, 5, rng.randint(1, 8)]),
                adjust_lr_fn=rng.choice([None, "original", "match_rms_adamw", "spectral_unclamped"]))

# The classes `random` draws from (muon, 2-D and f32 only, is drawn by `groups`).
CLASSES = dict(sgd=torch.optim.SGD, adam=torch.optim.Adam, adamw=torch.optim.AdamW, adagrad=torch.optim.Adagrad,
               rmsprop=torch.optim.RMSprop, adamax=torch.optim.Adamax, nadam=torch.optim.NAdam,
               radam=torch.optim.RAdam, adadelta=torch.optim.Adadelta, asgd=torch.optim.ASGD,
               rprop=torch.optim.Rprop, adafactor=torch.optim.Adafactor)

ALL_CLASSES = dict(CLASSES, muon=getattr(torch.optim, "Muon", None))  # torch.optim.Muon: PyTorch 2.9+


def tuples(m, skip):
    """A spec's keyword arguments for PyTorch: lists become tuples (betas, etas, ...)."""
    return {k: (tuple(v) if isinstance(v, list) else v) for k, v in m.items() if k not in skip}


def make_opt(params, cfg):
    """The optimizer of `cfg` over `params`: a list of tensors, or PyTorch's list of group dicts."""
    kw = tuples(cfg, ("name",))
    if cfg["name"] not in ALL_CLASSES:
        raise ValueError(f"unknown optimizer {cfg['name']!r} ({', '.join(ALL_CLASSES)})")
    if ALL_CLASSES[cfg["name"]] is None:
        sys.exit(f"torch {torch.__version__} has no torch.optim.Muon (PyTorch 2.9 or later has)")
    if cfg["name"] == "muon":  # Muon has no foreach variant
        return ALL_CLASSES["muon"](params, **kw)
    return ALL_CLASSES[cfg["name"]](params, foreach=False, **kw)

SCHED_NAMES = ["step_lr", "multi_step_lr", "exponential_lr", "cosine_annealing_lr", "cosine_annealing_warm_restarts",
               "one_cycle_lr", "cyclic_lr", "linear_lr", "constant_lr", "polynomial_lr", "reduce_lr_on_plateau", "sequential_lr"]

def sched_config(name, steps, lr):
    if name == "step_lr":
        return dict(name=name, step_size=rng.randint(1, 8), gamma=r(0.1, 0.9))
    if name == "multi_step_lr":
        ms = sorted(rng.sample(range(1, steps), 3))
        return dict(name=name, milestones=ms, gamma=r(0.1, 0.9))
    if name == "exponential_lr":
        return dict(name=name, gamma=r(0.8, 0.999))
    if name == "cosine_annealing_lr":
        return dict(name=name, T_max=rng.randint(3, steps + 5), eta_min=rng.choice([0.0, lr * r(0.0, 0.1)]))
    if name == "cosine_annealing_warm_restarts":
        return dict(name=name, T_0=rng.randint(2, 10), T_mult=rng.choice([1, 2, 3]), eta_min=rng.choice([0.0, lr * r(0.0, 0.1)]))
    if name == "one_cycle_lr":
        return dict(name=name, max_lr=lr * r(1.0, 10.0), total_steps=steps + rng.randint(0, 5), pct_start=r(0.1, 0.5),
                    anneal_strategy=rng.choice(["cos", "linear"]), cycle_momentum=rng.random() < 0.5,
                    base_momentum=0.85, max_momentum=0.95, div_factor=r(5, 50), final_div_factor=rng.choice([1e4, r(10, 1000)]),
                    three_phase=rng.random() < 0.3)
    if name == "cyclic_lr":
        return dict(name=name, base_lr=lr * r(0.05, 0.5), max_lr=lr * r(1.0, 5.0), step_size_up=rng.randint(2, 8),
                    step_size_down=rng.choice([None, rng.randint(2, 8)]), mode=rng.choice(["triangular", "triangular2", "exp_range"]),
                    gamma=r(0.8, 0.99), cycle_momentum=False)
    if name == "linear_lr":
        return dict(name=name, start_factor=r(0.01, 0.5), end_factor=rng.choice([1.0, r(0.5, 1.0)]), total_iters=rng.randint(2, steps))
    if name == "constant_lr":
        return dict(name=name, factor=r(0.1, 0.9), total_iters=rng.randint(1, steps))
    if name == "polynomial_lr":
        return dict(name=name, total_iters=rng.randint(2, steps + 3), power=r(0.5, 3.0))
    if name == "reduce_lr_on_plateau":
        return dict(name=name, mode=rng.choice(["min", "max"]), factor=r(0.1, 0.9), patience=rng.randint(0, 4),
                    threshold=rng.choice([1e-4, r(0.0, 0.1)]), threshold_mode=rng.choice(["rel", "abs"]),
                    cooldown=rng.randint(0, 3), min_lr=rng.choice([0.0, lr * 0.01]), eps=1e-8)
    if name == "sequential_lr":
        k = rng.randint(2, max(3, steps // 2))
        first = dict(name="linear_lr", start_factor=r(0.01, 0.3), end_factor=1.0, total_iters=k)
        second = sched_config(rng.choice(["cosine_annealing_lr", "exponential_lr", "step_lr"]), steps, lr)
        return dict(name=name, schedulers=[first, second], milestones=[k])
    raise ValueError(name)

def make_sched(opt, cfg):
    S = torch.optim.lr_scheduler
    kw = {k: v for k, v in cfg.items() if k != "name"}
    n = cfg["name"]
    if n == "sequential_lr":
        subs = [make_sched(opt, c) for c in cfg["schedulers"]]
        return S.SequentialLR(opt, subs, milestones=cfg["milestones"])
    if n == "chained_scheduler":
        return S.ChainedScheduler([make_sched(opt, c) for c in cfg["schedulers"]])
    if n == "swalr":
        from torch.optim.swa_utils import SWALR
        return SWALR(opt, **kw)
    cls = dict(step_lr=S.StepLR, multi_step_lr=S.MultiStepLR, exponential_lr=S.ExponentialLR,
               cosine_annealing_lr=S.CosineAnnealingLR, cosine_annealing_warm_restarts=S.CosineAnnealingWarmRestarts,
               one_cycle_lr=S.OneCycleLR, cyclic_lr=S.CyclicLR, linear_lr=S.LinearLR, constant_lr=S.ConstantLR,
               polynomial_lr=S.PolynomialLR, reduce_lr_on_plateau=S.ReduceLROnPlateau)[n]
    return cls(opt, **kw)

def run(spec):
    dt = torch.float64 if spec["dtype"] == "f64" else torch.float32
    torch.set_default_dtype(dt)
    ps = [torch.tensor(t["data"], dtype=dt).reshape(t["shape"]).requires_grad_(True) for t in spec["params"]]
    groups = spec.get("param_groups")
    ocfg, averaged = spec["optimizer"], None
    if ocfg["name"] in ("swa", "ema"):
        # torch.optim.swa_utils.AveragedModel around the parameters, updated after every step.
        from torch.optim.swa_utils import AveragedModel, get_ema_multi_avg_fn
        module = torch.nn.ParameterList(ps)
        try:
            fn = get_ema_multi_avg_fn(ocfg.get("decay", 0.999)) if ocfg["name"] == "ema" else None
        except ValueError as e:
            return {"error": str(e)}
        averaged = AveragedModel(module, multi_avg_fn=fn)
        ocfg = ocfg["inner"]
    try:
        if groups is None:
            opt = make_opt(ps, ocfg)
        else:
            opt = make_opt([dict(tuples(gr, ("params",)), params=[ps[i] for i in gr["params"]]) for gr in groups],
                           ocfg)
        sched = make_sched(opt, spec["scheduler"]) if spec.get("scheduler") else None
    except (ValueError, TypeError) as e:
        return {"error": str(e)}
    lrs, all_lrs, traj, avg = [], [], [], []
    for k, gstep in enumerate(spec["grads"]):
        for p, g, t in zip(ps, gstep, spec["params"]):
            p.grad = torch.tensor(g, dtype=dt).reshape(t["shape"])
        c = spec.get("clip")
        if c and c["name"] == "clip_grad_norm":
            try:
                torch.nn.utils.clip_grad_norm_(ps, c["max_norm"], norm_type=c.get("norm_type", 2.0),
                                               error_if_nonfinite=c.get("error_if_nonfinite", False),
                                               foreach=False)
            except RuntimeError as e:
                # descent replay reports the step and PyTorch's first sentence, naming the option.
                head = str(e).split(", so it cannot be clipped")[0]
                return {"error": f"step {k}: {head}, so it cannot be clipped (error_if_nonfinite=True)"}
        elif c and c["name"] == "clip_grad_value":
            torch.nn.utils.clip_grad_value_(ps, c["clip_value"], foreach=False)
        lrs.append(float(opt.param_groups[0]["lr"]))
        all_lrs.append([float(gr["lr"]) for gr in opt.param_groups])
        opt.step()
        traj.append([p.detach().reshape(-1).tolist() for p in ps])
        if averaged is not None:
            averaged.update_parameters(module)
            avg.append([p.detach().reshape(-1).tolist() for p in averaged.module.parameters()])
        if sched is not None:
            if spec["scheduler"]["name"] == "reduce_lr_on_plateau":
                sched.step(spec["metrics"][k])
            else:
                sched.step()
    out = {"lr": lrs, "params": traj}
    if groups is not None:
        out["lrs"] = all_lrs
    if averaged is not None:
        out["averaged"] = avg
    return out

def run_sparse(spec):
    """torch.optim.SparseAdam over the spec's tensors, each step's gradient a sparse COO tensor
    over the first dimension (uncoalesced, as given), or None."""
    dt = torch.float64 if spec["dtype"] == "f64" else torch.float32
    torch.set_default_dtype(dt)
    ps = [torch.tensor(t["data"], dtype=dt).reshape(t["shape"]).requires_grad_(True) for t in spec["params"]]
    kw = tuples(spec["optimizer"], ("name",))
    try:
        opt = torch.optim.SparseAdam(ps, **kw)
    except (ValueError, TypeError) as e:
        return {"error": str(e)}
    lrs, traj = [], []
    steps = spec.get("sparse_grads")
    if steps is None:  # dense gradients: PyTorch's step refuses them
        for p, g, t in zip(ps, spec["grads"][0], spec["params"]):
            p.grad = torch.tensor(g, dtype=dt).reshape(t["shape"])
        try:
            opt.step()
        except RuntimeError as e:
            return {"error": str(e)}
        raise AssertionError("SparseAdam took a dense gradient")
    for gstep in steps:
        for p, g, t in zip(ps, gstep, spec["params"]):
            if g is None:
                p.grad = None
                continue
            rest = list(t["shape"][1:])
            idx = torch.tensor([g["indices"]], dtype=torch.int64).reshape(1, len(g["indices"]))
            vals = torch.tensor(g["values"], dtype=dt).reshape([len(g["indices"])] + rest)
            p.grad = torch.sparse_coo_tensor(idx, vals, size=t["shape"], check_invariants=True)
        lrs.append(float(opt.param_groups[0]["lr"]))
        opt.step()
        traj.append([p.detach().reshape(-1).tolist() for p in ps])
    return {"lr": lrs, "params": traj}


def sparse_case(i):
    """A random SparseAdam case: 1-2 tables, some rows never touched, repeats, unsorted indices."""
    dtype = DTYPE or ("f64" if rng.random() < 0.5 else "f32")
    shapes = rng.choice([[[6, 4]], [[10, 3], [5]], [[3, 17]], [[20, 8]], [[7, 1], [4, 5]], [[12, 33]]])
    ocfg = dict(name="sparse_adam", lr=logu(1e-4, 0.1), betas=[rng.choice([0.9, r(0.0, 0.95)]), rng.choice([0.999, r(0.9, 0.9999)])],
                eps=rng.choice([1e-8, logu(1e-10, 1e-3)]), maximize=rng.random() < 0.2)
    spec = dict(name=f"sparse-{SEED}-{i:04d}", dtype=dtype, optimizer=ocfg)
    spec["params"] = [dict(shape=s, data=rand_tensor(math.prod(s), 1.0)) for s in shapes]
    steps = rng.randint(5, 25)
    gscale = rng.choice([1e-3, 0.1, 1.0, 10.0])
    # Rows that never get a gradient: at least one per table.
    touchable = []
    for s in shapes:
        rows = list(range(s[0]))
        never = set(rng.sample(rows, max(1, s[0] // 4))) if s[0] > 1 else set()
        touchable.append([x for x in rows if x not in never] or rows)
    grads = []
    for _ in range(steps):
        step = []
        for s, rows in zip(shapes, touchable):
            u = rng.random()
            if u < 0.08:
                step.append(None)  # no gradient: PyTorch skips the tensor and its step count
                continue
            k = 0 if u < 0.15 else rng.randint(1, min(8, 2 * len(rows)))
            idx = [rng.choice(rows) for _ in range(k)]
            if rng.random() < 0.4 and idx:
                idx += rng.sample(idx, rng.randint(1, len(idx)))  # repeats
            if rng.random() < 0.3:
                idx.sort()
            cols = math.prod(s[1:])
            step.append(dict(indices=idx, values=[[rng.gauss(0.3, gscale) for _ in range(cols)] for _ in idx]))
        grads.append(step)
    spec["sparse_grads"] = grads
    return spec


def bad_sparse_case(i):
    spec = sparse_case(i)
    o = spec["optimizer"]
    choice = rng.choice(["lr0", "lr", "eps", "beta0", "beta1", "dense"])
    if choice == "lr0":
        o["lr"] = 0.0
    elif choice == "lr":
        o["lr"] = -abs(o["lr"])
    elif choice == "eps":
        o["eps"] = 0.0
    elif choice == "beta0":
        o["betas"] = [1.0, o["betas"][1]]
    elif choice == "beta1":
        o["betas"] = [o["betas"][0], -0.5]
    else:
        del spec["sparse_grads"]
        spec["grads"] = [[[rng.gauss(0, 1) for _ in range(math.prod(t["shape"]))] for t in spec["params"]]]
    spec["name"] += "-invalid"
    return spec


def rand_tensor(n, scale):
    return [rng.gauss(0, scale) for _ in range(n)]

def make_case(i):
    oname = rng.choice(OPTIMIZERS or list(CLASSES))
    steps = rng.randint(8, 40)
    dtype = "f64" if rng.random() < 0.7 else "f32"
    if DTYPE:
        dtype = DTYPE
    shapes = rng.choice([[[1]], [[7]], [[3, 5]], [[13], [2, 9]], [[33]], [[8, 8], [8]], [[129]], [[4, 4, 3], [17]]])
    ocfg = opt_config(oname)
    spec = dict(name=f"case-{SEED}-{i:04d}", dtype=dtype, optimizer=ocfg)
    spec["params"] = [dict(shape=s, data=rand_tensor(math.prod(s), 1.0)) for s in shapes]
    gscale = rng.choice([1e-3, 0.1, 1.0, 10.0])
    sparse = rng.random() < 0.2
    spec["grads"] = [[[0.0 if sparse and rng.random() < 0.5 else rng.gauss(0.3, gscale) for _ in range(math.prod(s))]
                      for s in shapes] for _ in range(steps)]
    if not PLAIN and rng.random() < 0.55:
        sname = rng.choice(SCHED_NAMES)
        if sname == "one_cycle_lr" and oname in ("adagrad", "adadelta", "adamax", "asgd", "rprop", "adafactor"):
            sname = "cosine_annealing_lr"
        if sname == "one_cycle_lr" and oname in ("rmsprop", "sgd") and spec["optimizer"].get("momentum", 0) == 0:
            sname = "cosine_annealing_lr"
        spec["scheduler"] = sched_config(sname, steps, ocfg["lr"])
        if sname == "reduce_lr_on_plateau":
            base = r(0.5, 2.0)
            spec["metrics"] = [base * (1 + 0.3 * math.sin(k)) if rng.random() < 0.5 else base for k in range(steps)]
    if not PLAIN and rng.random() < 0.35:
        if rng.random() < 0.7:
            spec["clip"] = dict(name="clip_grad_norm", max_norm=r(0.05, 2.0), norm_type=rng.choice([2.0, 2.0, 1.0, float("inf")]))
        else:
            spec["clip"] = dict(name="clip_grad_value", clip_value=r(0.05, 1.0))
    return spec

def bad_case(i):
    spec = make_case(i)
    o = spec["optimizer"]
    choice = rng.choice(["lr", "eps", "beta", "wd", "nesterov", "momentum"])
    if choice == "lr":
        o["lr"] = -abs(o["lr"])
    elif choice == "eps" and isinstance(o.get("eps"), float):
        o["eps"] = -1e-3
    elif choice == "beta" and "betas" in o:
        o["betas"] = [1.5, o["betas"][1]]
    elif choice == "wd" and "weight_decay" in o:
        o["weight_decay"] = -0.1
    else:
        spec["optimizer"] = dict(name="sgd", lr=0.1, momentum=0.0 if choice == "nesterov" else -0.5,
                                 dampening=0.0, weight_decay=0.0, nesterov=choice == "nesterov", maximize=False)
    spec["name"] += "-invalid"
    return spec

# --- parameter groups, Muon and ChainedScheduler (the torch-groups/ cases) ---

# Keys a group may override (PyTorch lets a group override any; these are the ones drawn).
OVERRIDABLE = {"lr", "weight_decay", "momentum", "betas", "eps", "alpha", "rho", "lr_decay", "dampening",
               "momentum_decay", "lambd", "etas", "step_sizes", "beta2_decay", "d", "nesterov", "amsgrad", "centered"}


def group_overrides(ocfg):
    """A random subset of the optimizer's keys with fresh values, as a per-group dict."""
    fresh = muon_config() if ocfg["name"] == "muon" else opt_config(ocfg["name"])
    keys = [k for k in fresh if k in OVERRIDABLE and k in ocfg]
    o = {}
    for k in rng.sample(keys, min(len(keys), rng.randint(0, 3))):
        o[k] = fresh[k]
    if "weight_decay" in ocfg and rng.random() < 0.5:
        o["weight_decay"] = 0.0  # the usual "no decay on biases" group
    if ocfg["name"] == "sgd":
        # keep PyTorch's nesterov constraint true within the group
        mom = o.get("momentum", ocfg["momentum"]); damp = o.get("dampening", ocfg["dampening"])
        if o.get("nesterov", ocfg["nesterov"]) and (mom <= 0 or damp != 0):
            o["nesterov"] = False
    return o


def groups_case(i, kind, oname=None):
    """A random grouped case; kind "muon" (2-D tensors, f32, one group) or "groups" (any other
    optimizer, tensors split into 1-3 groups with overrides)."""
    steps = rng.randint(6, 25)
    if kind == "muon":
        dtype = "f32"
        shapes = rng.choice([[[4, 6]], [[8, 3], [5, 5]], [[16, 16]], [[3, 12], [12, 3]], [[32, 8]]])
        ocfg = muon_config()
        steps = rng.randint(3, 10)
    else:
        dtype = "f64" if rng.random() < 0.7 else "f32"
        oname = oname or rng.choice(list(CLASSES))
        shapes = rng.choice([[[3, 5], [5]], [[8, 8], [8], [4, 8], [4]], [[13], [2, 9], [9]], [[16, 4], [4]], [[6, 7], [7], [1]]])
        ocfg = opt_config(oname)
    spec = dict(name=f"{kind}-{SEED}-{i:04d}", dtype=dtype, optimizer=ocfg)
    spec["params"] = [dict(shape=s, data=rand_tensor(math.prod(s), 1.0)) for s in shapes]
    idx = list(range(len(shapes)))
    if kind == "muon" or len(idx) == 1 or rng.random() < 0.15:
        parts = [idx]
    else:
        rng.shuffle(idx); cut = rng.randint(1, len(idx) - 1)
        parts = [sorted(idx[:cut]), sorted(idx[cut:])]
        if len(parts[1]) > 1 and rng.random() < 0.4:
            parts = [parts[0], parts[1][:1], parts[1][1:]]
    spec["param_groups"] = [dict(params=p, **group_overrides(ocfg)) for p in parts]
    gscale = rng.choice([1e-3, 0.1, 1.0, 10.0])
    spec["grads"] = [[[rng.gauss(0.3, gscale) for _ in range(math.prod(s))] for s in shapes] for _ in range(steps)]
    oname = ocfg["name"]
    if rng.random() < 0.55:
        names = ["step_lr", "multi_step_lr", "exponential_lr", "cosine_annealing_lr", "linear_lr",
                 "polynomial_lr", "reduce_lr_on_plateau", "sequential_lr", "chained_scheduler"]
        if oname in ("sgd", "adam", "adamw", "rmsprop", "nadam", "radam"):
            names.append("one_cycle_lr")
        sname = rng.choice(names)
        if sname == "chained_scheduler":
            spec["scheduler"] = dict(name=sname, schedulers=[sched_config("exponential_lr", steps, ocfg["lr"]),
                                                             sched_config(rng.choice(["step_lr", "multi_step_lr", "constant_lr"]), steps, ocfg["lr"])])
        else:
            if sname == "one_cycle_lr" and oname in ("rmsprop", "sgd") and any(
                    gr.get("momentum", ocfg.get("momentum", 0)) == 0 for gr in spec["param_groups"]):
                sname = "cosine_annealing_lr"
            spec["scheduler"] = sched_config(sname, steps, ocfg["lr"])
            if sname == "one_cycle_lr" and len(spec["param_groups"]) > 1 and rng.random() < 0.5:
                spec["scheduler"]["max_lr"] = [ocfg["lr"] * r(1.0, 10.0) for _ in spec["param_groups"]]
            if sname == "reduce_lr_on_plateau":
                base = r(0.5, 2.0)
                spec["metrics"] = [base * (1 + 0.3 * math.sin(k)) if rng.random() < 0.5 else base for k in range(steps)]
    if kind != "muon" and rng.random() < 0.3:
        spec["clip"] = dict(name="clip_grad_norm", max_norm=r(0.05, 2.0), norm_type=rng.choice([2.0, 1.0, float("inf")]))
    return spec


def user_case(a):
    """One case of the user's configuration (`make`): random data of the given shapes."""
    rand = random.Random(a.seed)
    shapes = [[int(d) for d in t.split("x")] for t in a.shapes.split(",")]
    spec = dict(name=a.name, dtype=a.dtype, optimizer=json.loads(a.optimizer))
    spec["params"] = [dict(shape=s, data=[rand.gauss(0, 1) for _ in range(math.prod(s))]) for s in shapes]
    if a.param_groups:
        spec["param_groups"] = json.loads(a.param_groups)
    spec["grads"] = [[[rand.gauss(0.3, a.grad_scale) for _ in range(math.prod(s))] for s in shapes]
                     for _ in range(a.steps)]
    if a.scheduler:
        spec["scheduler"] = json.loads(a.scheduler)
        if spec["scheduler"]["name"] == "reduce_lr_on_plateau":
            base = rand.uniform(0.5, 2.0)  # a metric that stalls half the time
            spec["metrics"] = [base * (1 + 0.3 * math.sin(k)) if rand.random() < 0.5 else base for k in range(a.steps)]
    if a.clip:
        spec["clip"] = json.loads(a.clip)
    return spec


def write_case(out, spec):
    exp = run_sparse(spec) if spec["optimizer"]["name"] == "sparse_adam" else run(spec)
    base = os.path.join(out, spec["name"])
    with open(base + ".spec.json", "w") as f:
        json.dump(spec, f)
    with open(base + ".expected.json", "w") as f:
        json.dump(exp, f)


def main(argv=None):
    global rng, OPTIMIZERS, DTYPE, PLAIN, SEED
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    sub = ap.add_subparsers(dest="cmd", required=True)
    e = sub.add_parser("expect", help="write NAME.expected.json for your own specs")
    e.add_argument("specs", nargs="+")
    r = sub.add_parser("random", help="random seeded cases")
    r.add_argument("outdir")
    r.add_argument("seed", type=int)
    r.add_argument("count", type=int)
    r.add_argument("--optimizers", help="comma-separated names to draw from")
    r.add_argument("--dtype", choices=["f32", "f64"])
    r.add_argument("--plain", action="store_true", help="no scheduler, no clipping")
    r.add_argument("--invalid-rate", type=float, default=0.08)
    gp = sub.add_parser("groups", help="random seeded cases with parameter groups, Muon, ChainedScheduler")
    gp.add_argument("outdir")
    gp.add_argument("seed", type=int)
    gp.add_argument("count", type=int)
    gp.add_argument("--optimizers", help="comma-separated names to draw from (muon among them)")
    av = sub.add_parser("averaged", help="random seeded cases of AveragedModel (SWA, EMA)")
    av.add_argument("outdir")
    av.add_argument("seed", type=int)
    av.add_argument("count", type=int)
    av.add_argument("--swalr", action="store_true", help="with torch.optim.swa_utils.SWALR as the scheduler")
    sp = sub.add_parser("sparse", help="random seeded cases of torch.optim.SparseAdam (sparse gradients)")
    sp.add_argument("outdir")
    sp.add_argument("seed", type=int)
    sp.add_argument("count", type=int)
    sp.add_argument("--dtype", choices=["f32", "f64"])
    sp.add_argument("--invalid-rate", type=float, default=0.1)
    m = sub.add_parser("make", help="one case of your own configuration, on random data")
    m.add_argument("outdir")
    m.add_argument("name")
    m.add_argument("--optimizer", required=True, help='JSON, e.g. \'{"name": "adamw", "lr": 1e-3}\'')
    m.add_argument("--shapes", required=True, help="tensor shapes, e.g. 16x8,16,4x16,4")
    m.add_argument("--param-groups", help='JSON, e.g. \'[{"params": [0, 2]}, {"params": [1, 3], "weight_decay": 0}]\'')
    m.add_argument("--scheduler", help="JSON, e.g. '{\"name\": \"step_lr\", \"step_size\": 3}'")
    m.add_argument("--clip", help="JSON, e.g. '{\"name\": \"clip_grad_norm\", \"max_norm\": 1.0}'")
    m.add_argument("--steps", type=int, default=10)
    m.add_argument("--dtype", choices=["f32", "f64"], default="f64")
    m.add_argument("--seed", type=int, default=0, help="of the random parameters and gradients")
    m.add_argument("--grad-scale", type=float, default=1.0, help="gradients are N(0.3, scale²)")
    a = ap.parse_args(argv)
    if a.cmd == "expect":
        for path in a.specs:
            with open(path) as f:
                spec = json.load(f)
            out = path[: -len(".spec.json")] if path.endswith(".spec.json") else os.path.splitext(path)[0]
            with open(out + ".expected.json", "w") as f:
                json.dump(run_sparse(spec) if spec["optimizer"]["name"] == "sparse_adam" else run(spec), f)
        print("wrote", len(a.specs), "expected results")
        return
    if a.cmd == "make":
        os.makedirs(a.outdir, exist_ok=True)
        spec = user_case(a)
        write_case(a.outdir, spec)
        print("wrote", os.path.join(a.outdir, a.name) + ".{spec,expected}.json")
        return
    SEED, rng = a.seed, random.Random(a.seed)
    OPTIMIZERS = a.optimizers.split(",") if getattr(a, "optimizers", None) else None
    os.makedirs(a.outdir, exist_ok=True)
    if a.cmd == "groups":
        n_muon = 0
        for i in range(a.count):
            if OPTIMIZERS:
                oname = rng.choice(OPTIMIZERS)
                kind = "muon" if oname == "muon" else "groups"
            else:
                oname, kind = None, "muon" if rng.random() < 0.2 else "groups"
            spec = groups_case(i, kind, oname)
            n_muon += kind == "muon"
            write_case(a.outdir, spec)
        print("wrote", a.count, "cases (", n_muon, "muon ) to", a.outdir)
        return
    if a.cmd == "sparse":
        DTYPE = a.dtype
        for i in range(a.count):
            spec = bad_sparse_case(i) if rng.random() < a.invalid_rate else sparse_case(i)
            write_case(a.outdir, spec)
        print("wrote", a.count, "cases to", a.outdir)
        return
    if a.cmd == "averaged":
        DTYPE, PLAIN = None, True
        for i in range(a.count):
            spec = make_case(i)
            inner = spec["optimizer"]
            if rng.random() < 0.5:
                spec["optimizer"] = dict(name="swa", inner=inner)
            else:
                spec["optimizer"] = dict(name="ema", decay=rng.choice([0.5, 0.9, 0.8 + 0.199 * rng.random()]), inner=inner)
            spec["name"] = f"{spec['optimizer']['name']}-{SEED}-{i:04d}"
            if a.swalr:
                steps, lr = len(spec["grads"]), inner["lr"]
                spec["scheduler"] = dict(name="swalr", swa_lr=lr * rng.choice([0.1, 0.5, 2.0]),
                                         anneal_epochs=rng.choice([0, 1, rng.randint(2, steps)]),
                                         anneal_strategy=rng.choice(["cos", "linear"]))
            write_case(a.outdir, spec)
        print("wrote", a.count, "cases to", a.outdir)
        return
    DTYPE, PLAIN = a.dtype, a.plain
    for i in range(a.count):
        spec = bad_case(i) if rng.random() < a.invalid_rate else make_case(i)
        write_case(a.outdir, spec)
    print("wrote", a.count, "cases to", a.outdir)


if __name__ == "__main__":
    main()
