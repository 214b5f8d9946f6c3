#!/usr/bin/env python3
"""Record torch.amp.GradScaler's behaviour for descent's GradScaler tests.

For several configurations, runs steps whose gradients are finite or not (a fixed, seeded
pattern) through scaler.scale(loss).backward(); scaler.step(opt); scaler.update() with SGD, and
records after each step: the scale, whether the optimizer stepped (the parameter changed), and the
unscaled gradient PyTorch saw. Usage: torch_grad_scaler.py OUT.json
"""
import json, random, sys
import torch

def run(cfg, pattern, seed):
    torch.manual_seed(seed)
    p = torch.nn.Parameter(torch.tensor([1.0, -2.0, 0.5], dtype=torch.float32))
    opt = torch.optim.SGD([p], lr=0.1)
    scaler = torch.amp.GradScaler("cpu", init_scale=cfg["init_scale"], growth_factor=cfg["growth_factor"],
                                  backoff_factor=cfg["backoff_factor"], growth_interval=cfg["growth_interval"])
    out = []
    for k, bad in enumerate(pattern):
        opt.zero_grad()
        w = torch.tensor([0.3 + 0.01 * k, -0.2, 0.05], dtype=torch.float32)
        loss = (p * w).sum() * (float("inf") if bad else 1.0)
        scaler.scale(loss).backward()
        before = p.detach().clone()
        scaler.step(opt)
        scaler.update()
        out.append({"bad": bad, "scale": float(scaler.get_scale()), "stepped": bool((p.detach() != before).any()),
                    "params": p.detach().tolist()})
    return out

cases = []
rng = random.Random(11)
for cfg in [dict(init_scale=2.0**16, growth_factor=2.0, backoff_factor=0.5, growth_interval=3),
            dict(init_scale=1024.0, growth_factor=4.0, backoff_factor=0.25, growth_interval=1),
            dict(init_scale=3.0e38, growth_factor=2.0, backoff_factor=0.5, growth_interval=2),
            dict(init_scale=2.0**10, growth_factor=1.5, backoff_factor=0.9, growth_interval=5)]:
    pattern = [rng.random() < 0.25 for _ in range(40)]
    cases.append({"config": cfg, "lr": 0.1, "weights": "w_k = [0.3 + 0.01k, -0.2, 0.05], loss = p.w",
                  "init_params": [1.0, -2.0, 0.5], "steps": run(cfg, pattern, 0)})
json.dump(cases, open(sys.argv[1], "w"), indent=1)
print("wrote", len(cases), "cases")
