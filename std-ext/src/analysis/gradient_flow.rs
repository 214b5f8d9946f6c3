//! Gradient flow through a deep MLP: the 2-norm of each layer's gradient (its weights and bias)
//! at every training step, and the ratio of the largest to the smallest. The analysis warns when
//! the ratio exceeds 100: the layers then learn at very different speeds (vanishing or exploding
//! gradients), which is what sigmoid activations do to a deep stack and ReLU with He
//! initialization largely avoids.

use super::net::{Net, Setup};
use super::output::Output;
use crate::model::{Activation, Loss};
use crate::plot::{Chart, Series, Style};
use crate::registry;
use crate::row;
use crate::train::Split;
use descent_core::NonFinitePolicy;
use serde::Serialize;
use serde_json::{Map, Value};

/// The warning threshold for the max/min ratio of layer gradient norms.
pub const WARN_RATIO: f64 = 100.0;

/// The deep MLP of this analysis.
pub const DEEP: [usize; 6] = [784, 256, 128, 64, 32, 10];

/// The gradient norms of one run.
#[derive(Debug, Clone, Serialize)]
pub struct Flow {
    /// Activation of the hidden layers.
    pub activation: &'static str,
    /// Layer widths.
    pub sizes: Vec<usize>,
    /// `norms[step][layer]`.
    pub norms: Vec<Vec<f64>>,
    /// max/min over layers, per step.
    pub ratios: Vec<f64>,
    /// The mean ratio over all steps.
    pub mean_ratio: f64,
    /// Mean of each layer's norm over all steps.
    pub mean_norms: Vec<f64>,
    /// Whether the mean ratio exceeds [`WARN_RATIO`].
    pub warning: bool,
    /// Training loss per step.
    pub loss: Vec<f64>,
}

/// Trains `sizes` with `activation` for `steps` mini-batch steps and records each layer's
/// gradient norm before every step.
pub fn measure(
    data: Split<'_>,
    setup: &Setup,
    activation: Activation,
    optimizer: &Map<String, Value>,
    steps: usize,
    mut progress: impl FnMut(usize),
) -> Result<Flow, String> {
    let mut net = Net::from_setup(data, setup, activation, Loss::CrossEntropy)?;
    let seed = setup.seed;
    let n = net.params.len();
    let mut opt =
        registry::build::<f32>(optimizer, &[n], n, NonFinitePolicy::Error).map_err(|e| e.to_string())?;
    let layers = net.model.layers().to_vec();
    let mut flow = Flow {
        activation: activation.name(),
        sizes: setup.sizes.clone(),
        norms: Vec::new(),
        ratios: Vec::new(),
        mean_ratio: 0.0,
        mean_norms: vec![0.0; layers.len()],
        warning: false,
        loss: Vec::new(),
    };
    let mut epoch = 0;
    for step in 0..steps {
        let k = step % net.batches();
        if k == 0 {
            epoch += 1;
            net.shuffle(seed, epoch);
        }
        flow.loss.push(net.batch_gradient(k));
        let norms: Vec<f64> = layers
            .iter()
            .map(|l| {
                let sq = |r: &std::ops::Range<usize>| {
                    net.grad[r.clone()].iter().map(|g| f64::from(*g).powi(2)).sum::<f64>()
                };
                (sq(&l.w) + sq(&l.b)).sqrt()
            })
            .collect();
        let (lo, hi) = norms.iter().fold((f64::INFINITY, 0.0f64), |(a, b), &x| (a.min(x), b.max(x)));
        flow.ratios.push(hi / lo);
        flow.norms.push(norms);
        opt.step(&mut net.params, &net.grad).map_err(|e| format!("step {step}: {e}"))?;
        progress(step);
    }
    let s = flow.norms.len().max(1) as f64;
    for norms in &flow.norms {
        flow.mean_norms.iter_mut().zip(norms).for_each(|(m, x)| *m += x / s);
    }
    flow.mean_ratio = flow.ratios.iter().sum::<f64>() / s;
    flow.warning = flow.mean_ratio > WARN_RATIO;
    Ok(flow)
}

/// Writes `gradient_flow_<activation>.svg` (each layer's gradient norm against the step),
/// `gradient_flow_ratio.svg` (the max/min ratio of every run, the warning threshold dashed),
/// `gradient_flow.csv` and `gradient_flow.json`.
pub fn write_gradient_flow(out: &mut Output, flows: &[Flow]) -> Result<(), String> {
    let mut rows = Vec::new();
    for f in flows {
        for (s, norms) in f.norms.iter().enumerate() {
            for (l, v) in norms.iter().enumerate() {
                rows.push(row![f.activation, s, l + 1, *v, f.ratios[s]]);
            }
        }
        let chart = (0..f.mean_norms.len()).fold(
            Chart::new(
                &format!("Layer gradient norms, {} MLP {:?}", f.activation, f.sizes),
                "step",
                "‖∇ layer‖₂",
            )
            .log(false, true),
            |c, l| {
                c.curve(
                    Series {
                        name: format!("layer {}", l + 1),
                        points: f.norms.iter().enumerate().map(|(s, n)| (s as f64, n[l])).collect(),
                    },
                    Style::Line,
                )
            },
        );
        out.svg(&format!("gradient_flow_{}.svg", f.activation), |p| chart.write(p))?;
    }
    let steps = flows.iter().map(|f| f.ratios.len()).max().unwrap_or(0) as f64;
    let mut chart = flows.iter().fold(
        Chart::new("Largest / smallest layer gradient norm", "step", "ratio").log(false, true),
        |c, f| {
            c.curve(
                Series {
                    name: f.activation.into(),
                    points: f.ratios.iter().enumerate().map(|(s, r)| (s as f64, *r)).collect(),
                },
                Style::Line,
            )
        },
    );
    chart = chart.curve(
        Series {
            name: format!("warning threshold {WARN_RATIO}"),
            points: vec![(0.0, WARN_RATIO), (steps, WARN_RATIO)],
        },
        Style::Dashed,
    );
    out.svg("gradient_flow_ratio.svg", |p| chart.write(p))?;
    out.csv("gradient_flow.csv", &["activation", "step", "layer", "norm", "ratio"], &rows)?;
    out.json("gradient_flow.json", &flows)?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sigmoid_stacks_starve_their_first_layers_relu_with_he_does_not() {
        let n = 256;
        let x: Vec<f32> = (0..n * 16).map(|i| ((i * 29 % 97) as f32 / 48.0) - 1.0).collect();
        let y: Vec<u8> = (0..n).map(|i| (i % 4) as u8).collect();
        let data = Split { x: &x, y: &y, values: &[], n };
        let setup = Setup { sizes: vec![16, 32, 32, 32, 32, 4], batch: 64, seed: 1, threads: 2 };
        let opt = crate::named::parse("optimizer", "sgd:lr=0.01").unwrap();
        let relu = measure(data, &setup, Activation::Relu, &opt, 8, |_| {}).unwrap();
        let sigmoid = measure(data, &setup, Activation::Sigmoid, &opt, 8, |_| {}).unwrap();
        // Each sigmoid layer scales the backward signal by at most σ' ≤ 1/4 (times the weights):
        // the first layer's gradient is orders of magnitude below the last one's.
        assert!(sigmoid.mean_ratio > WARN_RATIO && sigmoid.warning, "sigmoid ratio {}", sigmoid.mean_ratio);
        assert!(sigmoid.mean_norms[0] < sigmoid.mean_norms[4] / 100.0);
        assert!(relu.mean_ratio < 20.0 && !relu.warning, "relu ratio {}", relu.mean_ratio);
        assert_eq!(relu.norms.len(), 8);
        assert_eq!(relu.norms[0].len(), 5);
    }
}
