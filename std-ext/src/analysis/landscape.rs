//! Loss landscapes around trained parameters θ*.
//!
//! - The 1-D interpolation L((1 − α)·θ₀ + α·θ*) from the initial θ₀ (α = 0) to the trained θ*
//!   (α = 1), a little beyond both (Goodfellow et al. 2015).
//! - A 2-D slice L(θ* + a·δ + b·η) along two random directions made filter-normalized (Li et al.
//!   2018, "Visualizing the Loss Landscape of Neural Nets", §4): δ and η are drawn from N(0, 1),
//!   then for every neuron (the weights into one unit: column j of a layer's W) the direction's
//!   entries are rescaled to the norm of θ*'s entries for that neuron, and bias entries are set
//!   to zero. This makes slices of differently scaled networks comparable; it shows one random
//!   2-D cut of a space with hundreds of thousands of dimensions, not the landscape itself.

use super::net::Net;
use super::output::Output;
use crate::model::Mlp;
use crate::plot::{Chart, Contour, Grid, Series, Style};
use crate::row;
use crate::train::Split;
use rand::SeedableRng;
use rand_chacha::ChaCha8Rng;
use rand_distr::{Distribution, StandardNormal};
use serde::Serialize;

/// A random direction in parameter space, filter-normalized to `params` (see the module docs).
pub fn filter_normalized_direction(model: &Mlp, params: &[f32], seed: u64) -> Vec<f32> {
    let mut rng = ChaCha8Rng::seed_from_u64(seed);
    let mut d: Vec<f32> = (0..params.len()).map(|_| StandardNormal.sample(&mut rng)).collect();
    for l in model.layers() {
        // W is `outputs × inputs` row-major: neuron j's weights are W[j][i] for every i.
        for j in 0..l.outputs {
            let idx = |i: usize| l.w.start + j * l.inputs + i;
            let norm = |v: &[f32]| (0..l.inputs).map(|i| f64::from(v[idx(i)]).powi(2)).sum::<f64>().sqrt();
            let (pn, dn) = (norm(params), norm(&d));
            let scale = if dn > 0.0 { (pn / dn) as f32 } else { 0.0 };
            (0..l.inputs).for_each(|i| d[idx(i)] *= scale);
        }
        d[l.b.clone()].iter_mut().for_each(|v| *v = 0.0);
    }
    d
}

/// The landscape around θ*.
#[derive(Debug, Clone, Serialize)]
pub struct Landscape {
    /// (α, train loss, test loss) along the line from θ₀ to θ*.
    pub line: Vec<(f64, f64, f64)>,
    /// The 2-D slice: `side × side` train losses, rows of b, columns of a, over [−span, span]².
    pub slice: Vec<f64>,
    /// Points per side of the slice.
    pub side: usize,
    /// Half-width of the slice in units of the directions.
    pub span: f64,
}

/// Computes the interpolation (`line` points evenly over α ∈ [−0.25, 1.25]; 61 puts points on
/// α = 0 and α = 1) and the slice (`side × side`) with losses on the first `n_eval` examples of
/// each split.
#[allow(clippy::too_many_arguments)]
pub fn explore(
    net: &mut Net<'_>,
    initial: &[f32],
    train: Split<'_>,
    test: Split<'_>,
    n_eval: usize,
    line: usize,
    side: usize,
    span: f64,
    seed: u64,
    mut progress: impl FnMut(usize),
) -> Landscape {
    let trained = net.params.clone();
    let mut p = trained.clone();
    let mut out = Landscape { line: Vec::new(), slice: Vec::new(), side, span };
    for k in 0..line {
        let a = -0.25 + 1.5 * k as f64 / (line.max(2) - 1) as f64;
        p.iter_mut()
            .zip(initial.iter().zip(&trained))
            .for_each(|(p, (i, t))| *p = ((1.0 - a) * f64::from(*i) + a * f64::from(*t)) as f32);
        out.line.push((a, net.loss_at(&p, train, n_eval), net.loss_at(&p, test, n_eval)));
        progress(k);
    }
    let d1 = filter_normalized_direction(&net.model, &trained, seed);
    let d2 = filter_normalized_direction(&net.model, &trained, seed.wrapping_add(1));
    let coord = |i: usize| -span + 2.0 * span * i as f64 / (side.max(2) - 1) as f64;
    for j in 0..side {
        for i in 0..side {
            let (a, b) = (coord(i), coord(j));
            p.iter_mut().zip(&trained).zip(d1.iter().zip(&d2)).for_each(|((p, t), (x, y))| {
                *p = (f64::from(*t) + a * f64::from(*x) + b * f64::from(*y)) as f32
            });
            out.slice.push(net.loss_at(&p, train, n_eval));
            progress(line + j * side + i);
        }
    }
    out
}

/// Writes `interpolation.svg`, `slice.svg` (contour map, θ* marked), `interpolation.csv`,
/// `slice.csv` and `landscape.json`.
pub fn write_landscape(out: &mut Output, l: &Landscape, title: &str) -> Result<(), String> {
    let chart = Chart::new(&format!("Loss from θ₀ (α = 0) to θ* (α = 1): {title}"), "α", "loss")
        .log(false, true)
        .curve(
            Series { name: "train".into(), points: l.line.iter().map(|p| (p.0, p.1)).collect() },
            Style::LinePoints,
        )
        .curve(
            Series { name: "test".into(), points: l.line.iter().map(|p| (p.0, p.2)).collect() },
            Style::LinePoints,
        );
    out.svg("interpolation.svg", |p| chart.write(p))?;
    let grid =
        Grid { x: (-l.span, l.span), y: (-l.span, l.span), nx: l.side, ny: l.side, values: l.slice.clone() };
    let mut map = Contour::from_grid("Train loss on a filter-normalized 2-D slice", grid);
    map.labels = ("direction δ".into(), "direction η".into());
    map.log_levels = true;
    map.colour_label = "train loss".into();
    map.marks.push(("θ* (trained)".into(), (0.0, 0.0)));
    out.svg("slice.svg", |p| map.write(p))?;
    out.csv(
        "interpolation.csv",
        &["alpha", "train_loss", "test_loss"],
        &l.line.iter().map(|p| row![p.0, p.1, p.2]).collect::<Vec<_>>(),
    )?;
    let coord = |i: usize| -l.span + 2.0 * l.span * i as f64 / (l.side.max(2) - 1) as f64;
    let rows: Vec<_> =
        (0..l.side * l.side).map(|k| row![coord(k % l.side), coord(k / l.side), l.slice[k]]).collect();
    out.csv("slice.csv", &["a", "b", "train_loss"], &rows)?;
    out.json("landscape.json", l)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::{Activation, Loss};

    #[test]
    fn directions_are_filter_normalized_and_zero_on_biases() {
        let m = Mlp::new(&[5, 4, 3], Activation::Relu).unwrap();
        let mut p = m.init_params(crate::model::Init::He, 2);
        p.iter_mut().enumerate().for_each(|(i, v)| *v += 0.01 * i as f32);
        let d = filter_normalized_direction(&m, &p, 9);
        for l in m.layers() {
            for j in 0..l.outputs {
                let n = |v: &[f32]| {
                    (0..l.inputs)
                        .map(|i| f64::from(v[l.w.start + j * l.inputs + i]).powi(2))
                        .sum::<f64>()
                        .sqrt()
                };
                assert!((n(&d) - n(&p)).abs() < 1e-5 * n(&p), "layer neuron {j}");
            }
            assert!(d[l.b.clone()].iter().all(|v| *v == 0.0));
        }
        assert_ne!(d, filter_normalized_direction(&m, &p, 10));
    }

    #[test]
    fn the_slice_has_its_minimum_near_the_trained_point_and_the_line_its_end_points() {
        let n = 200;
        let x: Vec<f32> = (0..n * 3).map(|i| ((i * 31 % 89) as f32 / 44.0) - 1.0).collect();
        let y: Vec<u8> = (0..n).map(|i| u8::from(x[i * 3] > x[i * 3 + 1])).collect();
        let data = Split { x: &x, y: &y, values: &[], n };
        let mut net = Net::new(data, &[3, 8, 2], Activation::Tanh, Loss::CrossEntropy, 4, 50).unwrap();
        let initial = net.params.clone();
        let mut opt = crate::registry::build::<f32>(
            &crate::named::parse("o", "adam:lr=0.05").unwrap(),
            &[initial.len()],
            initial.len(),
            descent_core::NonFinitePolicy::Error,
        )
        .unwrap();
        for e in 1..=60 {
            net.shuffle(4, e);
            for k in 0..net.batches() {
                net.batch_gradient(k);
                opt.step(&mut net.params, &net.grad).unwrap();
            }
        }
        let l = explore(&mut net, &initial, data, data, n, 7, 9, 1.0, 5, |_| {});
        // α = 0 is θ₀ and α = 1 is θ* (points 1 and 5 of −0.25, 0, 0.25, …, 1.25).
        assert!((l.line[1].0).abs() < 1e-12 && (l.line[5].0 - 1.0).abs() < 1e-12);
        assert!(l.line[5].1 < 0.5 * l.line[1].1, "training lowered the loss: {:?}", l.line);
        let centre = l.slice[4 * 9 + 4];
        assert!((centre - l.line[5].1).abs() < 1e-6, "the slice's centre is θ*");
        let corners = [l.slice[0], l.slice[8], l.slice[72], l.slice[80]];
        assert!(corners.iter().all(|c| *c > centre), "{corners:?} vs {centre}");
    }
}
