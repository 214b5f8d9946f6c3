//! Sharpness: the largest eigenvalue λ_max of the Hessian of the training loss, by power
//! iteration on Hessian-vector products.
//!
//! H·v is the directional derivative of the gradient, computed by central differences
//! H·v ≈ (∇L(θ + εv) − ∇L(θ − εv)) / 2ε with ‖v‖ = 1 and ε = 1e-2: the truncation error is
//! O(ε²·‖∇³L‖), the rounding error of the f32 gradients about 1e-7·‖∇L‖/ε, both far below λ_max
//! for the MLPs here. The loss is the full loss over a fixed subset (not a mini-batch), so the
//! operator is the same at every iteration.
//!
//! Power iteration finds the eigenvalue of largest magnitude; at a trained point (a minimum, up to
//! small negative curvature) that is λ_max. Gradient descent with learning rate η is stable on a
//! quadratic only while λ_max < 2/η, and training with SGD is known to drive λ_max up to about
//! that edge (Cohen et al. 2021, "Edge of Stability").

use super::net::{Net, Setup};
use super::output::Output;
use crate::model::{Activation, Loss};
use crate::plot::{Chart, Series, Style};
use crate::registry;
use crate::row;
use crate::train::Split;
use descent_core::NonFinitePolicy;
use rand::SeedableRng;
use rand_chacha::ChaCha8Rng;
use rand_distr::{Distribution, StandardNormal};
use serde::Serialize;
use serde_json::{Map, Value};

/// Step of the finite-difference Hessian-vector product.
pub const HVP_EPS: f64 = 1e-2;

/// The eigenvalue of largest magnitude of the symmetric operator `hvp` (n × n), by power
/// iteration from a seeded random start: at most `iters` iterations, stopping when the Rayleigh
/// quotient changes by less than `tol` (relative). Returns (λ, v, iterations).
pub fn top_eigenvalue(
    n: usize,
    mut hvp: impl FnMut(&[f64], &mut [f64]),
    iters: usize,
    tol: f64,
    seed: u64,
) -> (f64, Vec<f64>, usize) {
    let mut rng = ChaCha8Rng::seed_from_u64(seed);
    let mut v: Vec<f64> = (0..n).map(|_| StandardNormal.sample(&mut rng)).collect();
    let normalize = |v: &mut [f64]| {
        let s = v.iter().map(|x| x * x).sum::<f64>().sqrt();
        if s > 0.0 {
            v.iter_mut().for_each(|x| *x /= s);
        }
    };
    normalize(&mut v);
    let mut hv = vec![0.0; n];
    let mut lambda = 0.0;
    for k in 1..=iters {
        hvp(&v, &mut hv);
        let rq: f64 = v.iter().zip(&hv).map(|(a, b)| a * b).sum();
        std::mem::swap(&mut v, &mut hv);
        normalize(&mut v);
        let done = (rq - lambda).abs() <= tol * rq.abs();
        lambda = rq;
        if done {
            return (lambda, v, k);
        }
    }
    (lambda, v, iters)
}

/// H·v of the mean loss over the first `n_eval` examples at `params`, by central differences.
pub fn hvp(net: &mut Net<'_>, params: &[f32], n_eval: usize, v: &[f64], out: &mut [f64]) {
    let shifted =
        |s: f64| -> Vec<f32> { params.iter().zip(v).map(|(p, d)| (f64::from(*p) + s * d) as f32).collect() };
    let (plus, minus) = (shifted(HVP_EPS), shifted(-HVP_EPS));
    net.gradient_at(&plus, n_eval);
    out.iter_mut().zip(&net.grad).for_each(|(o, g)| *o = f64::from(*g));
    net.gradient_at(&minus, n_eval);
    out.iter_mut().zip(&net.grad).for_each(|(o, g)| *o = (*o - f64::from(*g)) / (2.0 * HVP_EPS));
}

/// λ_max of the loss over the first `n_eval` examples at the net's current parameters.
pub fn sharpness(net: &mut Net<'_>, n_eval: usize, iters: usize, seed: u64) -> f64 {
    let p = net.params.clone();
    let n = p.len();
    top_eigenvalue(n, |v, out| hvp(net, &p, n_eval, v, out), iters, 1e-3, seed).0
}

/// One configuration's sharpness after every epoch.
#[derive(Debug, Clone, Serialize)]
pub struct Track {
    /// Label.
    pub label: String,
    /// The optimizer's learning rate (for the 2/lr line).
    pub lr: f64,
    /// Whether the optimizer is plain or momentum SGD (for which 2/lr is the stability edge;
    /// for heavy ball with momentum β it is 2(1 + β)/lr).
    pub edge: Option<f64>,
    /// (epoch, λ_max, train loss of the epoch's last batch); epoch 0 is the initialization.
    pub points: Vec<(usize, f64, f64)>,
}

/// Trains the model of `setup` with each optimizer for `epochs` epochs and measures λ_max (on the
/// first `n_eval` examples) after every epoch.
pub fn track(
    data: Split<'_>,
    setup: &Setup,
    runs: &[(String, Map<String, Value>)],
    epochs: usize,
    n_eval: usize,
    mut progress: impl FnMut(usize),
) -> Result<Vec<Track>, String> {
    let seed = setup.seed;
    let mut tracks = Vec::new();
    for (label, kwargs) in runs {
        let mut net = Net::from_setup(data, setup, Activation::Relu, Loss::CrossEntropy)?;
        let n = net.params.len();
        let mut opt =
            registry::build::<f32>(kwargs, &[n], n, NonFinitePolicy::Error).map_err(|e| e.to_string())?;
        let lr = opt.lr();
        let edge = match kwargs.get("name").and_then(Value::as_str) {
            Some("sgd") => Some(2.0 * (1.0 + opt.momentum().unwrap_or(0.0)) / lr),
            _ => None,
        };
        let mut t = Track {
            label: label.clone(),
            lr,
            edge,
            points: vec![(0, sharpness(&mut net, n_eval, 30, seed), f64::NAN)],
        };
        for e in 1..=epochs {
            net.shuffle(seed, e);
            let mut last = f64::NAN;
            for k in 0..net.batches() {
                last = net.batch_gradient(k);
                opt.step(&mut net.params, &net.grad).map_err(|err| format!("{label}, epoch {e}: {err}"))?;
            }
            t.points.push((e, sharpness(&mut net, n_eval, 30, seed), last));
            progress(tracks.len() * epochs + e);
        }
        tracks.push(t);
    }
    Ok(tracks)
}

/// Writes `sharpness.svg` (λ_max per epoch, each SGD run's stability edge dashed in its colour),
/// `sharpness.csv` and `sharpness.json`.
pub fn write_sharpness(out: &mut Output, tracks: &[Track]) -> Result<(), String> {
    let mut chart = Chart::new("Sharpness λ_max of the training loss", "epoch", "λ_max").log(false, true);
    for (c, t) in tracks.iter().enumerate() {
        let pts: Vec<(f64, f64)> = t.points.iter().map(|p| (p.0 as f64, p.1)).collect();
        chart = chart.curve_in(Series { name: t.label.clone(), points: pts }, Style::LinePoints, c);
        if let Some(edge) = t.edge {
            let last = t.points.last().map_or(0, |p| p.0) as f64;
            chart = chart.curve_in(
                Series { name: format!("stability edge {edge:.0}"), points: vec![(0.0, edge), (last, edge)] },
                Style::Dashed,
                c,
            );
        }
    }
    out.svg("sharpness.svg", |p| chart.write(p))?;
    let rows: Vec<_> = tracks
        .iter()
        .flat_map(|t| t.points.iter().map(|p| row![t.label.as_str(), t.lr, p.0, p.1, p.2]))
        .collect();
    out.csv("sharpness.csv", &["run", "lr", "epoch", "lambda_max", "last_batch_loss"], &rows)?;
    out.json("sharpness.json", &tracks)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::analysis::functions::{Objective, Quadratic};

    #[test]
    fn power_iteration_finds_the_top_eigenvalue_of_a_quadratic() {
        let q = Quadratic::conditioned(12, 250.0, true);
        let (l, v, _) = top_eigenvalue(
            12,
            |v, out| {
                for (i, o) in out.iter_mut().enumerate() {
                    *o = (0..12).map(|j| q.a[i * 12 + j] * v[j]).sum();
                }
            },
            2000,
            1e-14,
            1,
        );
        assert!((l - 250.0).abs() < 1e-6 * 250.0, "{l}");
        // v is the top eigenvector: A v = λ v.
        let mut h = vec![0.0; 144];
        q.hessian(&[0.0; 12], &mut h);
        for i in 0..12 {
            let av: f64 = (0..12).map(|j| h[i * 12 + j] * v[j]).sum();
            assert!((av - l * v[i]).abs() < 1e-4, "row {i}");
        }
    }

    #[test]
    fn finite_difference_hessian_products_are_symmetric_and_bound_the_rayleigh_quotients() {
        let n = 120;
        let x: Vec<f32> = (0..n * 5).map(|i| ((i * 41 % 103) as f32 / 51.0) - 1.0).collect();
        let y: Vec<u8> = (0..n).map(|i| (i % 3) as u8).collect();
        let data = Split { x: &x, y: &y, values: &[], n };
        let mut net = Net::new(data, &[5, 10, 3], Activation::Tanh, Loss::CrossEntropy, 7, 40).unwrap();
        let p = net.params.clone();
        let m = p.len();
        let mut rng = ChaCha8Rng::seed_from_u64(3);
        let mut rand_vec = || -> Vec<f64> { (0..m).map(|_| StandardNormal.sample(&mut rng)).collect() };
        let (a, b) = (rand_vec(), rand_vec());
        let (mut ha, mut hb) = (vec![0.0; m], vec![0.0; m]);
        hvp(&mut net, &p, n, &a, &mut ha);
        hvp(&mut net, &p, n, &b, &mut hb);
        let dot = |u: &[f64], v: &[f64]| u.iter().zip(v).map(|(x, y)| x * y).sum::<f64>();
        let (bha, ahb) = (dot(&b, &ha), dot(&a, &hb));
        assert!((bha - ahb).abs() < 1e-2 * (bha.abs() + ahb.abs()) + 1e-4, "bᵀHa {bha} vs aᵀHb {ahb}");
        let top = sharpness(&mut net, n, 200, 11);
        for v in [&a, &b] {
            let mut hv = vec![0.0; m];
            hvp(&mut net, &p, n, v, &mut hv);
            assert!(dot(v, &hv) / dot(v, v) <= top * 1.01, "Rayleigh quotient above λ_max {top}");
        }
        assert!(top > 0.0);
    }
}
