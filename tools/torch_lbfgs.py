#!/usr/bin/env python3
"""Record torch.optim.LBFGS trajectories (f64) on Rosenbrock and an ill-conditioned quadratic for
descent's L-BFGS tests. Usage: torch_lbfgs.py OUT.json"""
import json, math, sys
import torch
torch.set_default_dtype(torch.float64)

def rosenbrock(x):
    return (1 - x[0]) ** 2 + 100 * (x[1] - x[0] ** 2) ** 2

A = torch.tensor([1.0 + 99.0 * i / 9 for i in range(10)])   # condition number 100
C = torch.tensor([math.sin(0.7 * i) for i in range(10)])
def quadratic(x):
    return 0.5 * (A * (x - C) ** 2).sum()

cases = []
for fname, f, x0 in [("rosenbrock", rosenbrock, [-1.5, 2.0]), ("quadratic", quadratic, [0.0] * 10)]:
    for ls in [None, "strong_wolfe"]:
        for hist in [3, 10]:
            for lr in ([1.0] if ls else [1e-3, 5e-3]):
                x = torch.tensor(x0, requires_grad=True)
                opt = torch.optim.LBFGS([x], lr=lr, history_size=hist, max_iter=20, line_search_fn=ls)
                def closure():
                    opt.zero_grad()
                    l = f(x)
                    l.backward()
                    return l
                steps = []
                for _ in range(6):
                    loss = float(opt.step(closure))
                    steps.append({"loss": loss, "x": x.detach().tolist(),
                                  "func_evals": opt.state[x]["func_evals"], "n_iter": opt.state[x]["n_iter"]})
                cases.append({"function": fname, "x0": x0, "lr": lr, "history_size": hist, "line_search_fn": ls, "steps": steps})
json.dump(cases, open(sys.argv[1], "w"), indent=1)
print("wrote", len(cases), "cases")
