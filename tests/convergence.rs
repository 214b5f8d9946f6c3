//! Every optimizer brings a well-conditioned quadratic to its minimum within a documented number
//! of steps (the table below; also in the book's reference chapter).
//!
//! f(x) = ½ Σ aᵢ(xᵢ − cᵢ)², aᵢ ∈ [1, 2] (condition number 2), 16 parameters starting 1–3 away
//! from the minimum. "Reached" means max |xᵢ − cᵢ| ≤ tolerance.

mod common;

use common::{ALL, AnyConfig, shaped};
use descent::{Optim, Optimizer, UpdateRule};

const N: usize = 16;

/// (optimizer, learning rate, steps allowed, tolerance); measured steps in the book's reference
/// chapter, the budget is about 1.5× that. Lion moves by ±γ per step, so it ends in a band of
/// width ~γ; ASGD's λ decay term shifts its fixed point by ~λc/a; AdamW's decay shifts it by
/// ~λc/a too. SGD runs with momentum 0.5, Lion without decay, Adadelta with γ = 50 (its steps
/// start at √ε ≈ 1e-3). Muon runs on a 4 × 4 matrix without decay; LAMB and LARS take steps of
/// a fixed length (γ‖θ‖, γη‖θ‖: their trust ratios), so they end in a band of that width; so does
/// NovoGrad, whose steps are γ·g/‖g‖ summed by its undamped momentum (about 10γ long). Prodigy
/// and D-Adaptation run at their default lr 1 (a multiplier of the step size they estimate,
/// starting from d0 = 1e-6: measured 153 and 144 steps). Sophia is fed the exact Hessian diagonal
/// a every 10 steps and runs without decay (it shifts the minimum).
/// Every optimizer is measured where it is to be evaluated (`eval_params`): the parameters, or
/// schedule-free SGD's and AdamW's average x (measured: 133 and 231 steps).
pub const BUDGET: [(&str, f64, usize, f64); 28] = [
    ("sgd", 0.3, 60, 1e-6),
    ("adam", 0.1, 250, 1e-3),
    ("adamw", 0.1, 400, 1e-2),
    ("adagrad", 0.5, 150, 1e-3),
    ("rmsprop", 0.01, 600, 1e-2),
    ("adamax", 0.1, 250, 1e-3),
    ("nadam", 0.1, 200, 1e-3),
    ("radam", 0.1, 350, 1e-3),
    ("adadelta", 50.0, 100, 1e-2),
    ("asgd", 0.3, 40, 1e-3),
    ("rprop", 0.1, 60, 1e-3),
    ("adafactor", 0.5, 30, 1e-2),
    ("lion", 0.01, 450, 2e-2),
    ("muon", 0.05, 520, 2e-2),
    ("lamb", 0.01, 200, 2e-2),
    ("lars", 5.0, 120, 2e-2),
    ("yogi", 0.1, 220, 1e-3),
    ("adabelief", 0.1, 200, 1e-3),
    ("adopt", 0.1, 250, 1e-3),
    ("ademamix", 0.1, 150, 1e-3),
    ("adan", 0.1, 720, 1e-3),
    ("novograd", 0.01, 200, 2e-2),
    ("sm3", 0.5, 210, 1e-3),
    ("prodigy", 1.0, 230, 1e-3),
    ("dadapt_adamw", 1.0, 220, 1e-3),
    ("schedule_free_sgd", 0.5, 200, 1e-3),
    ("schedule_free_adamw", 0.1, 350, 1e-3),
    ("sophia", 0.02, 500, 1e-3),
];

fn steps_to_reach<R: UpdateRule>(cfg: R, budget: usize, tol: f64) -> Option<usize> {
    let a: Vec<f64> = (0..N).map(|i| 1.0 + i as f64 / (N - 1) as f64).collect();
    let c: Vec<f64> = (0..N).map(|i| (i as f64 * 0.7).sin() * 2.0).collect();
    let mut x: Vec<f64> =
        c.iter().enumerate().map(|(i, ci)| ci + if i % 2 == 0 { 1.0 } else { -3.0 }).collect();
    let cfg_takes_hessians = cfg.hessian_stream().is_some();
    let mut s = vec![0.0; cfg.buffer_len(N)];
    let mut opt = Optim::with_buffer(cfg, N, &mut s).unwrap();
    for t in 1..=budget {
        // Sophia's Hessian estimate: the function's own diagonal a, every 10 steps from the first.
        if cfg_takes_hessians && (t - 1) % 10 == 0 {
            opt.update_hessian(&a).unwrap();
        }
        let g: Vec<f64> = x.iter().zip(&a).zip(&c).map(|((xi, ai), ci)| ai * (xi - ci)).collect();
        opt.step(&mut x, &g).unwrap();
        // Where the optimizer is to be evaluated: the parameters, or schedule-free's average.
        let mut e = vec![0.0; N];
        opt.eval_params(&x, &mut e).unwrap();
        if e.iter().zip(&c).all(|(xi, ci)| (xi - ci).abs() <= tol) {
            return Some(t);
        }
    }
    None
}

#[test]
fn every_optimizer_reaches_the_minimum_within_its_budget() {
    assert_eq!(BUDGET.map(|b| b.0), ALL);
    let mut report = Vec::new();
    for (name, lr, budget, tol) in BUDGET {
        let cfg = shaped(AnyConfig::default_for(name, N), N, 0).with_lr(lr);
        let cfg = match cfg {
            AnyConfig::Sgd(c) => AnyConfig::Sgd(descent::sgd::SgdConfig { momentum: 0.5, ..c }),
            AnyConfig::Lion(c) => AnyConfig::Lion(descent::lion::LionConfig { weight_decay: 0.0, ..c }),
            AnyConfig::Muon(c) => AnyConfig::Muon(descent::muon::MuonConfig { weight_decay: 0.0, ..c }),
            AnyConfig::Sophia(c) => {
                AnyConfig::Sophia(descent::sophia::SophiaConfig { weight_decay: 0.0, ..c })
            }
            other => other,
        };
        let reached = with_config!(cfg, |c| steps_to_reach(c, budget, tol));
        report.push(format!("{name}: {reached:?} of {budget}"));
        assert!(reached.is_some(), "{name} did not reach tolerance {tol} within {budget} steps");
    }
    println!("{}", report.join("\n"));
}
