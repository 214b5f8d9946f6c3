#!/usr/bin/env python3
"""optax's values of piecewise_interpolate_schedule and join_schedules, for tests/schedules.rs.

Each case: {"scheduler": <descent's scheduler spec>, "lr": init_value, "values": [η_0, …, η_{N-1}]},
the values from optax 0.2.8 in float64. Usage: gen_optax_schedules.py OUT.json SEED COUNT"""
import json, math, random, sys
import jax
jax.config.update("jax_enable_x64", True)
import optax

OUT, SEED, COUNT = sys.argv[1], int(sys.argv[2]), int(sys.argv[3])
rng = random.Random(SEED)
cases = []
for i in range(COUNT):
    lr = math.exp(rng.uniform(math.log(1e-4), math.log(1.0)))
    kind = rng.choice(["linear", "cosine"])
    bounds = sorted(rng.sample(range(0, 40), rng.randint(0, 4)))
    scales = [rng.choice([0.1, 0.5, 2.0, 0.0, rng.uniform(0.0, 3.0)]) for _ in bounds]
    bs = {str(b): s for b, s in zip(bounds, scales)}
    pw = dict(name="piecewise_interpolate_schedule", interpolate_type=kind, boundaries_and_scales=bs)
    opt_pw = optax.piecewise_interpolate_schedule(kind, lr, {b: s for b, s in zip(bounds, scales)})
    if rng.random() < 0.5:
        spec, sched = pw, opt_pw
    else:
        k, gamma = rng.randint(1, 30), rng.uniform(0.8, 0.99)
        spec = dict(name="join_schedules", boundaries=[k],
                    schedulers=[pw, dict(name="exponential_lr", gamma=gamma)])
        sched = optax.join_schedules([opt_pw, optax.exponential_decay(lr, 1, gamma)], [k])
    cases.append(dict(scheduler=spec, lr=lr, values=[float(sched(t)) for t in range(60)]))
json.dump(cases, open(OUT, "w"))
print("wrote", COUNT, "schedule cases to", OUT)
