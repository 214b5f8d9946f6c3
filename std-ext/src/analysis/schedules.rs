//! Every learning-rate schedule's curve, computed through the same path training uses: the
//! schedule is built from its PyTorch-style spec and drives a real optimizer, whose lr (and
//! momentum) is read after every step.

use super::output::Output;
use crate::plot::{Chart, Series, Style};
use crate::registry;
use crate::row;
use crate::schedule_spec;
use descent_core::NonFinitePolicy;
use serde::Serialize;

/// The schedules shown, as (label, spec) for an optimizer with base lr 0.1 over 100 steps.
pub const SHOWN: [(&str, &str); 13] = [
    ("step_lr", r#"{"name": "step_lr", "step_size": 30, "gamma": 0.5}"#),
    ("multi_step_lr", r#"{"name": "multi_step_lr", "milestones": [20, 50, 80], "gamma": 0.5}"#),
    ("exponential_lr", r#"{"name": "exponential_lr", "gamma": 0.97}"#),
    ("cosine_annealing_lr", r#"{"name": "cosine_annealing_lr", "T_max": 100, "eta_min": 0.005}"#),
    (
        "cosine_annealing_warm_restarts",
        r#"{"name": "cosine_annealing_warm_restarts", "T_0": 10, "T_mult": 2}"#,
    ),
    ("one_cycle_lr", r#"{"name": "one_cycle_lr", "max_lr": 0.1, "total_steps": 100}"#),
    (
        "one_cycle_lr three_phase linear",
        r#"{"name": "one_cycle_lr", "max_lr": 0.1, "total_steps": 100, "three_phase": true, "anneal_strategy": "linear"}"#,
    ),
    (
        "cyclic_lr triangular2",
        r#"{"name": "cyclic_lr", "base_lr": 0.01, "max_lr": 0.1, "step_size_up": 10, "mode": "triangular2"}"#,
    ),
    ("linear_lr", r#"{"name": "linear_lr", "start_factor": 0.1, "total_iters": 40}"#),
    ("constant_lr", r#"{"name": "constant_lr", "factor": 0.5, "total_iters": 25}"#),
    ("polynomial_lr", r#"{"name": "polynomial_lr", "total_iters": 100, "power": 2.0}"#),
    ("warmup_cosine", r#"{"name": "warmup_cosine", "warmup_steps": 10, "total_steps": 100}"#),
    (
        "sequential_lr (linear warmup, cosine)",
        r#"{"name": "sequential_lr", "milestones": [10], "schedulers": [{"name": "linear_lr", "start_factor": 0.01, "total_iters": 10}, {"name": "cosine_annealing_lr", "T_max": 90}]}"#,
    ),
];

/// One schedule's curve.
#[derive(Debug, Clone, Serialize)]
pub struct Curve {
    /// Label.
    pub label: String,
    /// lr used at steps 0, 1, …
    pub lr: Vec<f64>,
    /// momentum (SGD's) used at each step.
    pub momentum: Vec<f64>,
}

/// The lr and momentum an SGD optimizer (lr `base_lr`, momentum 0.9) gets from the schedule
/// `spec` at steps 0 … steps − 1. `metric(t)` feeds reduce-on-plateau.
pub fn curve(spec: &str, base_lr: f64, steps: usize, metric: impl Fn(usize) -> f64) -> Result<Curve, String> {
    let map = crate::named::parse("schedule", spec)?;
    let kwargs = crate::named::parse("optimizer", &format!("sgd:lr={base_lr},momentum=0.9"))?;
    let mut opt =
        registry::build::<f64>(&kwargs, &[1], 1, NonFinitePolicy::Propagate).map_err(|e| e.to_string())?;
    let mut s = schedule_spec::build(&map, &[base_lr], true).map_err(|e| e.to_string())?;
    s.start(&mut *opt).map_err(|e| e.to_string())?;
    let mut c = Curve { label: String::new(), lr: Vec::new(), momentum: Vec::new() };
    for t in 0..steps {
        c.lr.push(opt.lr());
        c.momentum.push(opt.momentum().unwrap_or(f64::NAN));
        s.advance(&mut *opt, Some(metric(t))).map_err(|e| e.to_string())?;
    }
    Ok(c)
}

/// A loss that improves for 30 steps, then stalls: reduce-on-plateau's demonstration input.
pub fn plateauing_loss(t: usize) -> f64 {
    1.0 / (1.0 + t.min(30) as f64)
}

/// Writes `lr_curves.svg` (every schedule of [`SHOWN`] over 100 steps, base lr 0.1, in three
/// panels' worth of files: decays, cycles, warmups), `plateau.svg` (reduce-on-plateau against a
/// stalling loss), `momentum_curves.svg` (one-cycle and cyclic momentum) and `schedules.csv`.
pub fn write_schedules(out: &mut Output) -> Result<Vec<Curve>, String> {
    let steps = 100;
    let mut curves = Vec::new();
    for (label, spec) in SHOWN {
        let mut c = curve(spec, 0.1, steps, plateauing_loss)?;
        c.label = label.to_string();
        curves.push(c);
    }
    let plateau = r#"{"name": "reduce_lr_on_plateau", "patience": 5, "factor": 0.5, "cooldown": 3}"#;
    let mut p = curve(plateau, 0.1, steps, plateauing_loss)?;
    p.label = "reduce_lr_on_plateau (patience 5, cooldown 3)".into();
    let series = |c: &Curve, f: &dyn Fn(&Curve) -> &Vec<f64>| Series {
        name: c.label.clone(),
        points: f(c).iter().enumerate().map(|(t, v)| (t as f64, *v)).collect(),
    };
    let groups: [(&str, &str, &[&str]); 3] = [
        (
            "lr_curves.svg",
            "Decaying schedules (base lr 0.1)",
            &[
                "step_lr",
                "multi_step_lr",
                "exponential_lr",
                "cosine_annealing_lr",
                "polynomial_lr",
                "constant_lr",
            ],
        ),
        (
            "cyclic_curves.svg",
            "Cyclic schedules",
            &[
                "cosine_annealing_warm_restarts",
                "one_cycle_lr",
                "one_cycle_lr three_phase linear",
                "cyclic_lr triangular2",
            ],
        ),
        (
            "warmup_curves.svg",
            "Warmup schedules",
            &["linear_lr", "warmup_cosine", "sequential_lr (linear warmup, cosine)"],
        ),
    ];
    for (file, title, labels) in groups {
        let chart = curves
            .iter()
            .filter(|c| labels.contains(&c.label.as_str()))
            .fold(Chart::new(title, "step", "learning rate"), |ch, c| {
                ch.curve(series(c, &|c| &c.lr), Style::Line)
            });
        out.svg(file, |path| chart.write(path))?;
    }
    let loss: Vec<(f64, f64)> =
        (0..steps).map(|t| (t as f64, 0.1 * plateauing_loss(t) / plateauing_loss(0))).collect();
    let chart =
        Chart::new("reduce_lr_on_plateau against a loss that stalls at step 30", "step", "learning rate")
            .curve(series(&p, &|c| &c.lr), Style::Line)
            .curve(Series { name: "loss (scaled)".into(), points: loss }, Style::Dashed);
    out.svg("plateau.svg", |path| chart.write(path))?;
    let chart =
        curves.iter().filter(|c| c.label.starts_with("one_cycle") || c.label.starts_with("cyclic")).fold(
            Chart::new("Cycled momentum (base 0.85/0.8, max 0.95/0.9)", "step", "momentum"),
            |ch, c| ch.curve(series(c, &|c| &c.momentum), Style::Line),
        );
    out.svg("momentum_curves.svg", |path| chart.write(path))?;
    curves.push(p);
    let rows: Vec<_> = curves
        .iter()
        .flat_map(|c| (0..steps).map(move |t| row![c.label.as_str(), t, c.lr[t], c.momentum[t]]))
        .collect();
    out.csv("schedules.csv", &["schedule", "step", "lr", "momentum"], &rows)?;
    Ok(curves)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn curves_follow_the_closed_forms() {
        let c = curve(SHOWN[0].1, 0.1, 100, plateauing_loss).unwrap();
        // step_lr: 0.1 · 0.5^⌊t/30⌋.
        for (t, lr) in c.lr.iter().enumerate() {
            assert!((lr - 0.1 * 0.5f64.powi((t / 30) as i32)).abs() < 1e-15, "t {t}");
        }
        let c = curve(SHOWN[3].1, 0.1, 100, plateauing_loss).unwrap();
        // cosine: η_min + (η₀ − η_min)(1 + cos(πt/T))/2, within the recursive form's tolerance.
        for (t, lr) in c.lr.iter().enumerate() {
            let want = 0.005 + 0.095 * (1.0 + (std::f64::consts::PI * t as f64 / 100.0).cos()) / 2.0;
            assert!((lr - want).abs() < 1e-12, "t {t}: {lr} vs {want}");
        }
    }

    #[test]
    fn plateau_cuts_after_patience_plus_one_bad_steps_then_cools_down() {
        let spec = r#"{"name": "reduce_lr_on_plateau", "patience": 5, "factor": 0.5, "cooldown": 3}"#;
        let c = curve(spec, 0.1, 60, plateauing_loss).unwrap();
        // The loss last improves at t = 30; t = 31 … 36 are six bad steps (patience + 1), so the
        // lr used from step 37 on is halved. Steps 37–39 are the cooldown (bad steps not
        // counted); 40 … 45 are the next six bad steps, so the next cut applies from step 46.
        assert_eq!(c.lr[36], 0.1);
        assert_eq!(c.lr[37], 0.05);
        let next = c.lr.iter().position(|&l| l == 0.025).unwrap();
        assert_eq!(next, 37 + 3 + 6);
    }

    #[test]
    fn one_cycle_cycles_momentum_inversely_to_the_lr() {
        let c = curve(SHOWN[5].1, 0.1, 100, plateauing_loss).unwrap();
        let peak = c.lr.iter().enumerate().max_by(|a, b| a.1.total_cmp(b.1)).unwrap().0;
        let trough = c.momentum.iter().enumerate().min_by(|a, b| a.1.total_cmp(b.1)).unwrap().0;
        assert_eq!(peak, trough);
        assert!((c.momentum[0] - 0.95).abs() < 1e-12 && (c.momentum[peak] - 0.85).abs() < 1e-12);
    }
}
