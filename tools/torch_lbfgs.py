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

# The analysis' rotated quadratic: eigenvalues 1 … 1000 (geometric), rotated by the Householder
# reflection of u = (1, …, 10), minimum at (1, …, 1); start 1 − 2 + 0.5·sin(1.3 i).
lam = torch.tensor([1000.0 ** (i / 9) for i in range(10)])
u = torch.tensor([float(i + 1) for i in range(10)])
Q = torch.eye(10) - 2 * torch.outer(u, u) / (u @ u)
R = Q @ torch.diag(lam) @ Q.T
def rotated(x):
    d = x - 1.0
    return 0.5 * d @ (R @ d)

cases = []
for fname, f, x0 in [("rosenbrock", rosenbrock, [-1.5, 2.0]), ("quadratic", quadratic, [0.0] * 10)]:
    for ls in [None, "strong_wolfe"]:
        for hist in [3, 10]:
            # tolerance_change 0 too: PyTorch's strong-Wolfe search keeps its own 1e-9 regardless.
            for lr, tol in ([(1.0, 1e-9), (1.0, 0.0)] if ls else [(1e-3, 1e-9), (5e-3, 1e-9)]):
                x = torch.tensor(x0, requires_grad=True)
                opt = torch.optim.LBFGS([x], lr=lr, history_size=hist, max_iter=20, line_search_fn=ls,
                                        tolerance_change=tol)
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
                cases.append({"function": fname, "x0": x0, "lr": lr, "tolerance_change": tol, "history_size": hist,
                              "line_search_fn": ls, "steps": steps})
# Long runs to full precision with tolerance_change 0: the line search's own tolerance (1e-9,
# never passed on by LBFGS.step) is what ends its zoom once the bracket collapses.
rot0 = [1.0 - 2.0 + 0.5 * math.sin(i * 1.3) for i in range(10)]
for fname, f, x0 in [("rosenbrock", rosenbrock, [-1.5, 2.0]), ("quadratic", quadratic, [0.0] * 10),
                     ("rotated", rotated, rot0)]:
    x = torch.tensor(x0, requires_grad=True)
    opt = torch.optim.LBFGS([x], lr=1.0, history_size=10, max_iter=500, max_eval=2000, tolerance_grad=0.0,
                            tolerance_change=0.0, line_search_fn="strong_wolfe")
    def closure():
        opt.zero_grad()
        l = f(x)
        l.backward()
        return l
    loss = float(opt.step(closure))
    steps = [{"loss": loss, "x": x.detach().tolist(), "func_evals": opt.state[x]["func_evals"],
              "n_iter": opt.state[x]["n_iter"]}]
    cases.append({"function": fname, "x0": x0, "lr": 1.0, "tolerance_change": 0.0, "tolerance_grad": 0.0,
                  "max_iter": 500, "max_eval": 2000, "history_size": 10, "line_search_fn": "strong_wolfe",
                  "steps": steps})
json.dump(cases, open(sys.argv[1], "w"), indent=1)
print("wrote", len(cases), "cases")
