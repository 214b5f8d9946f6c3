#!/usr/bin/env python3
"""Conformance cases from optax, for descent or for your own optimizer implementation.

Usage (needs `pip install jax optax`; made with optax 0.2.8):

  optax_trace.py expect SPEC.json [SPEC.json ...]
      Run your own specs through optax and write NAME.expected.json beside each.

The spec is `descent replay`'s (tests/data/conformance/README.md, section "The optimizer zoo from
optax"): `optimizer.name` is optax's function (`yogi`, `adabelief`, `adan`, `novograd`, `sm3`, `lion`,
`lamb`, `lars`, or optax.contrib's `adopt`, `ademamix`, `schedule_free_sgd`, `schedule_free_adamw`,
`prodigy`, `dadapt_adamw`; or `lookahead` with an `inner` adam or sgd), its other keys optax's keyword
arguments with `learning_rate` -> `lr` and `[b1, b2]` -> `betas`; `null` is None. Every tensor of
`params` is one leaf. No scheduler or clipping. The expected result has `lr` (the given lr at every
step), `params` (what optax.apply_updates returns after each step) and, for lookahead and the
schedule-free pair, `averaged` (the slow parameters / optax.contrib.schedule_free_eval_params).

Then compare: `descent replay NAME.spec.json` prints the same JSON, within rtol 1e-9 / atol 1e-12
(f64) or rtol 1e-5 / atol 1e-6 (f32). More random cases: tools/conformance/gen_optax_zoo.py.
"""
import argparse, json, sys
import jax
jax.config.update("jax_enable_x64", True)
import jax.numpy as jnp, optax, optax.contrib as oc

# optax functions whose b1, b2 are one `betas` tuple argument.
TUPLE_BETAS = ("prodigy", "dadapt_adamw")


def inner_optimizer(spec):
    """lookahead's fast optimizer: optax's adam or sgd (momentum 0 meaning none)."""
    if spec["name"] == "adam":
        b1, b2 = spec.get("betas", [0.9, 0.999])
        return optax.adam(spec["lr"], b1=b1, b2=b2, eps=spec.get("eps", 1e-8))
    if spec["name"] == "sgd":
        return optax.sgd(spec["lr"], momentum=spec.get("momentum") or None, nesterov=spec.get("nesterov", False))
    raise SystemExit(f"lookahead: inner optimizer {spec['name']!r} is not adam or sgd")


def build(opt):
    """The optax optimizer of a spec's `optimizer` object."""
    kw = {k: v for k, v in opt.items() if k != "name"}
    name = opt["name"]
    if name == "lookahead":
        return optax.lookahead(inner_optimizer(kw["inner"]), sync_period=kw["sync_period"],
                               slow_step_size=kw["slow_step_size"], reset_state=kw.get("reset_state", False))
    lr = kw.pop("lr")
    if kw.pop("maximize", False):
        raise SystemExit(f"{name}: optax has no maximize")
    if "betas" in kw:
        b = kw.pop("betas")
        if name in TUPLE_BETAS:
            kw["betas"] = tuple(b)
        else:
            kw["b1"], kw["b2"] = b
    if name == "lamb" and "mask" in kw:
        kw["mask"] = None if kw["mask"] else (lambda p: jax.tree.map(lambda _: False, p))
    fn = getattr(optax, name, None) or getattr(oc, name, None)
    if fn is None:
        raise SystemExit(f"unknown optax optimizer {name!r}")
    return fn(lr, **kw)


def expect(spec):
    """optax's trace of `spec`."""
    name = spec["optimizer"]["name"]
    dt = jnp.float64 if spec["dtype"] == "f64" else jnp.float32
    shapes = [p["shape"] for p in spec["params"]]
    opt = build(spec["optimizer"])
    ps = [jnp.array(p["data"], dtype=dt).reshape(s) for p, s in zip(spec["params"], shapes)]
    if name == "lookahead":
        ps = optax.LookaheadParams.init_synced(ps)
    state = opt.init(ps)
    flat = lambda t: [[float(v) for v in p.reshape(-1)] for p in t]
    traj, avg = [], []
    for g in spec["grads"]:
        gj = [jnp.array(x, dtype=dt).reshape(s) for x, s in zip(g, shapes)]
        upd, state = opt.update(gj, state, ps)
        ps = optax.apply_updates(ps, upd)
        if name == "lookahead":
            traj.append(flat(ps.fast)); avg.append(flat(ps.slow))
        else:
            traj.append(flat(ps))
            if name.startswith("schedule_free"):
                avg.append(flat(oc.schedule_free_eval_params(state, ps)))
    lr = spec["optimizer"].get("lr", spec["optimizer"].get("inner", {}).get("lr"))
    out = {"lr": [lr] * len(spec["grads"]), "params": traj}
    if avg:
        out["averaged"] = avg
    return out


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    sub = ap.add_subparsers(dest="cmd", required=True)
    e = sub.add_parser("expect", help="write NAME.expected.json beside each spec")
    e.add_argument("specs", nargs="+")
    args = ap.parse_args()
    for path in args.specs:
        spec = json.load(open(path))
        out = path.replace(".spec.json", "") + ".expected.json"
        json.dump(expect(spec), open(out, "w"))
        print("wrote", out, file=sys.stderr)


if __name__ == "__main__":
    main()
