#!/usr/bin/env python3
"""Conformance cases from optax 0.2.8 for SAM: optax.contrib.sam(outer, adv, sync_period, reset_state=True)
with the paper's adversary adv = optax.chain(optax.contrib.normalize(), optax.sgd(rho)), transparent mode
(one call per gradient: sync_period - 1 ascents, then the outer step).

Spec: {"name": "sam", "rho", "sync_period", "inner": {optax's adam (lr, betas, eps) or sgd (lr, momentum,
0 meaning none)}}. Expected: "lr" (the outer lr at every call) and "params" (what optax.apply_updates
returns after every call: the perturbed point after an ascent, the new parameters after an outer step).
Usage: gen_optax_sam.py OUTDIR SEED COUNT   (pip install jax optax)"""
import json, math, os, random, sys
import jax
jax.config.update("jax_enable_x64", True)
import jax.numpy as jnp, optax, optax.contrib as oc

OUT, SEED, COUNT = sys.argv[1], int(sys.argv[2]), int(sys.argv[3])
rng = random.Random(SEED)
os.makedirs(OUT, exist_ok=True)
def logu(lo, hi): return math.exp(rng.uniform(math.log(lo), math.log(hi)))

for i in range(COUNT):
    dtype = "f64" if rng.random() < 0.6 else "f32"
    dt = jnp.float64 if dtype == "f64" else jnp.float32
    shapes = rng.choice([[[3, 5], [5]], [[8, 8], [8]], [[13], [2, 9]], [[33]], [[1]]])
    steps = rng.randint(6, 24)
    gs = rng.choice([1e-3, 0.1, 1.0])
    if rng.random() < 0.5:
        inner = dict(name="adam", lr=logu(1e-4, 0.05), betas=[0.9, 0.999], eps=1e-8)
        outer = optax.adam(inner["lr"], b1=0.9, b2=0.999, eps=1e-8)
    else:
        inner = dict(name="sgd", lr=logu(1e-3, 0.2), momentum=rng.choice([0.0, 0.9]), nesterov=False)
        outer = optax.sgd(inner["lr"], momentum=inner["momentum"] or None)
    rho, k = rng.choice([0.05, logu(1e-3, 0.5)]), rng.choice([2, 2, 3])
    opt = oc.sam(outer, optax.chain(oc.normalize(), optax.sgd(rho)), sync_period=k)
    params = [dict(shape=s, data=[rng.gauss(0, 1) for _ in range(math.prod(s))]) for s in shapes]
    grads = [[[rng.gauss(0.2, gs) for _ in range(math.prod(s))] for s in shapes] for _ in range(steps)]
    spec = dict(name=f"sam-{SEED}-{i:04d}", dtype=dtype, optimizer=dict(name="sam", rho=rho, sync_period=k, inner=inner),
                params=params, grads=grads)
    ps = [jnp.array(p["data"], dtype=dt).reshape(p["shape"]) for p in params]
    state = opt.init(ps)
    traj = []
    for g in grads:
        gj = [jnp.array(x, dtype=dt).reshape(p["shape"]) for x, p in zip(g, params)]
        upd, state = opt.update(gj, state, ps)
        ps = optax.apply_updates(ps, upd)
        traj.append([[float(v) for v in p.reshape(-1)] for p in ps])
    exp = {"lr": [inner["lr"]] * steps, "params": traj}
    json.dump(spec, open(os.path.join(OUT, spec["name"] + ".spec.json"), "w"))
    json.dump(exp, open(os.path.join(OUT, spec["name"] + ".expected.json"), "w"))
print("wrote", COUNT, "SAM cases to", OUT)
