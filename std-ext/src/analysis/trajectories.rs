//! Optimizer paths over the 2-D test functions (trajectory plots), the 1-D learning-rate
//! demonstration on x², and gradient descent against momentum in the ravine x² + 10y².

use super::functions::{Line, Objective, Surface};
use super::output::Output;
use super::runner::{Path, descend, kwargs};
use crate::plot::{Chart, Contour, Series, Style};
use crate::row;
use serde::Serialize;
use serde_json::{Map, Value};

/// A labelled optimizer configuration.
#[derive(Debug, Clone, PartialEq)]
pub struct Run {
    /// Legend label.
    pub label: String,
    /// Keyword arguments for [`crate::registry::build`].
    pub kwargs: Map<String, Value>,
}

impl Run {
    /// A run from a spec such as `sgd:lr=0.1,momentum=0.9`, labelled `label`.
    pub fn new(label: &str, spec: &str) -> Result<Run, String> {
        Ok(Run { label: label.into(), kwargs: kwargs(spec)? })
    }
    /// A run labelled with its own spec.
    pub fn from_spec(spec: &str) -> Result<Run, String> {
        Run::new(spec, spec)
    }
}

/// Six optimizers with learning rates that suit `surface` (chosen so that each
/// converges or, on the saddle and the multimodal surface, shows its characteristic behaviour),
/// and the number of steps to show.
pub fn default_runs(surface: Surface) -> (Vec<Run>, usize) {
    // (sgd, momentum/nesterov, rmsprop, adagrad, adam) learning rates, and steps.
    let (sgd, mom, rms, ada, adam, steps) = match surface {
        Surface::Quadratic | Surface::RotatedQuadratic => (0.18, 0.05, 0.1, 1.0, 0.3, 100),
        Surface::Ravine => (0.09, 0.02, 0.1, 1.0, 0.3, 100),
        Surface::Ravine3 => (0.3, 0.05, 0.1, 1.0, 0.3, 100),
        Surface::Rosenbrock => (5e-4, 2e-4, 0.01, 0.5, 0.05, 3000),
        Surface::Multimodal => (0.1, 0.05, 0.05, 0.5, 0.1, 200),
        Surface::Saddle => (0.05, 0.02, 0.02, 0.2, 0.05, 60),
        Surface::Himmelblau => (0.01, 0.005, 0.05, 0.5, 0.1, 300),
    };
    let run = |label: &str, name: &str, lr: f64, extra: &[(&str, Value)]| {
        let mut kwargs = Map::new();
        kwargs.insert("name".into(), name.into());
        kwargs.insert("lr".into(), lr.into());
        kwargs.extend(extra.iter().map(|(k, v)| ((*k).to_string(), v.clone())));
        Run { label: format!("{label} (lr {lr})"), kwargs }
    };
    let heavy = [("momentum", Value::from(0.9))];
    let nesterov = [("momentum", Value::from(0.9)), ("nesterov", Value::from(true))];
    let runs = vec![
        run("sgd", "sgd", sgd, &[]),
        run("momentum", "sgd", mom, &heavy),
        run("nesterov", "sgd", mom, &nesterov),
        run("rmsprop", "rmsprop", rms, &[]),
        run("adagrad", "adagrad", ada, &[]),
        run("adam", "adam", adam, &[]),
    ];
    (runs, steps)
}

/// One run's outcome on one function.
#[derive(Debug, Clone, Serialize)]
pub struct Outcome {
    /// The function.
    pub function: String,
    /// The run's label.
    pub optimizer: String,
    /// Steps taken.
    pub steps: usize,
    /// Where it ended.
    pub end: Vec<f64>,
    /// f there.
    pub value: f64,
    /// Distance to the known minimizer, where there is one.
    pub distance: Option<f64>,
    /// Whether it diverged.
    pub diverged: bool,
}

/// Runs every `run` on `f` from its start for `steps` steps.
pub fn run_all(f: &dyn Objective, runs: &[Run], steps: usize) -> Result<Vec<(Run, Path)>, String> {
    runs.iter()
        .map(|r| {
            descend(f, &r.kwargs, &f.start(), steps)
                .map(|p| (r.clone(), p))
                .map_err(|e| format!("{}: {e}", r.label))
        })
        .collect()
}

fn outcome(f: &dyn Objective, r: &Run, p: &Path) -> Outcome {
    let end = p.last().to_vec();
    let distance =
        f.minimizer().map(|m| m.iter().zip(&end).map(|(a, b)| (a - b).powi(2)).sum::<f64>().sqrt());
    Outcome {
        function: f.name(),
        optimizer: r.label.clone(),
        steps: p.points.len() - 1,
        end,
        value: p.last_value(),
        distance,
        diverged: p.diverged,
    }
}

/// At most `max` evenly spaced points of a path (first and last kept), so plots stay small.
fn thin(points: Vec<(f64, f64)>, max: usize) -> Vec<(f64, f64)> {
    if points.len() <= max || max < 2 {
        return points;
    }
    let last = points.len() - 1;
    (0..max).map(|i| points[i * last / (max - 1)]).collect()
}

/// The contour map of a surface with its start and (known) minimum marked.
fn surface_map(s: Surface, title: &str, overlays: Vec<Series>) -> Contour {
    let (xr, yr) = s.window();
    let mut map = Contour::of(title, xr, yr, |x, y| s.value(&[x, y]));
    map.log_levels = s.log_levels();
    map.colour_label = "f(x, y)".into();
    map.overlays = overlays;
    let start = s.start();
    map.marks.push(("start".into(), (start[0], start[1])));
    if let Some(m) = s.minimizer() {
        map.marks.push(("minimum".into(), (m[0], m[1])));
    }
    map
}

/// Trajectories on each surface: `<function>.svg` (contour and paths), `trajectories.csv` (every
/// point), `trajectories.json` (where each run ended). `runs` overrides the defaults of
/// [`default_runs`] (with `steps`, when given).
pub fn write_trajectories(
    out: &mut Output,
    surfaces: &[Surface],
    runs: Option<&[Run]>,
    steps: Option<usize>,
) -> Result<Vec<Outcome>, String> {
    let mut rows = Vec::new();
    let mut outcomes = Vec::new();
    for &s in surfaces {
        let (defaults, default_steps) = default_runs(s);
        let runs = runs.unwrap_or(&defaults);
        let steps = steps.unwrap_or(default_steps);
        let results = run_all(&s, runs, steps)?;
        let mut overlays = Vec::new();
        for (r, p) in &results {
            for (k, (x, v)) in p.points.iter().zip(&p.values).enumerate() {
                rows.push(row![s.name(), r.label.as_str(), k, x[0], x[1], *v]);
            }
            overlays.push(Series { name: r.label.clone(), points: thin(p.xy(), 200) });
            outcomes.push(outcome(&s, r, p));
        }
        let title = format!("{} from ({}, {}), {steps} steps", s.name(), s.start()[0], s.start()[1]);
        let map = surface_map(s, &title, overlays);
        out.svg(&format!("{}.svg", s.name()), |path| map.write(path))?;
    }
    out.csv("trajectories.csv", &["function", "optimizer", "step", "x", "y", "f"], &rows)?;
    out.json("trajectories.json", &outcomes)?;
    Ok(outcomes)
}

/// One learning rate of the x² demonstration.
#[derive(Debug, Clone, Serialize)]
pub struct LrDemoRow {
    /// The learning rate.
    pub lr: f64,
    /// The predicted factor per step, |1 − 2·lr| (x_{k+1} = (1 − 2·lr)·x_k).
    pub predicted_factor: f64,
    /// The measured factor, |x_T / x_0|^{1/T}.
    pub measured_factor: f64,
    /// |x_T|.
    pub final_distance: f64,
    /// converges, oscillates (and converges), cycles (between ±x₀ forever), or diverges.
    pub behaviour: &'static str,
}

/// Gradient descent on f(x) = x² from x = 1 for `steps` steps at each learning rate. L = 2, so
/// the iteration x ← (1 − 2·lr)·x converges for 0 < lr < 1 = 2/L (monotonically below 0.5,
/// oscillating above), cycles between ±x₀ at lr = 1 and diverges beyond.
pub fn lr_demo(lrs: &[f64], steps: usize) -> Result<Vec<(LrDemoRow, Path)>, String> {
    lrs.iter()
        .map(|&lr| {
            let p = descend(&Line::Square, &kwargs(&format!("sgd:lr={lr}"))?, &[1.0], steps)
                .map_err(|e| e.to_string())?;
            let t = (p.points.len() - 1) as f64;
            let last = p.last()[0].abs();
            let factor = (1.0f64 - 2.0 * lr).abs();
            let behaviour = if factor > 1.0 {
                "diverges"
            } else if factor == 1.0 {
                "cycles"
            } else if 1.0 - 2.0 * lr < 0.0 {
                "oscillates"
            } else {
                "converges"
            };
            let row = LrDemoRow {
                lr,
                predicted_factor: factor,
                measured_factor: last.powf(1.0 / t),
                final_distance: last,
                behaviour,
            };
            Ok((row, p))
        })
        .collect()
}

/// Writes `lr_demo.svg` (x_k against k for every lr), `lr_demo.csv` and `lr_demo.json`.
pub fn write_lr_demo(out: &mut Output, lrs: &[f64], steps: usize) -> Result<Vec<LrDemoRow>, String> {
    let results = lr_demo(lrs, steps)?;
    let mut rows = Vec::new();
    let mut chart = Chart::new("Gradient descent on f(x) = x² from x = 1", "step k", "x_k");
    for (r, p) in &results {
        let pts: Vec<(f64, f64)> = p.points.iter().enumerate().map(|(k, x)| (k as f64, x[0])).collect();
        rows.extend(pts.iter().map(|&(k, x)| row![r.lr, k, x]));
        chart = chart
            .curve(Series { name: format!("lr {} ({})", r.lr, r.behaviour), points: pts }, Style::LinePoints);
    }
    chart.y_range = Some((-3.0, 3.0));
    out.svg("lr_demo.svg", |p| chart.write(p))?;
    out.csv("lr_demo.csv", &["lr", "step", "x"], &rows)?;
    let table: Vec<LrDemoRow> = results.into_iter().map(|(r, _)| r).collect();
    out.json("lr_demo.json", &table)?;
    Ok(table)
}

/// Gradient descent against heavy-ball momentum in the ravine x² + 10y² (Hessian diag(2, 20), so
/// μ = 2, L = 20, κ = 10). Three runs:
/// - gradient descent at its best rate, lr = 2/(L + μ) = 1/11: the error shrinks by
///   (κ − 1)/(κ + 1) = 9/11 ≈ 0.82 per step, zig-zagging across the steep axis;
/// - momentum with Polyak's optimal lr = 4/(√L + √μ)² and β = ((√κ − 1)/(√κ + 1))²: ≈ 0.52 per step;
/// - the common default, momentum 0.9 at lr 0.01: √0.9 ≈ 0.95 per step, an under-damped spiral.
pub fn write_ravine(out: &mut Output, steps: usize) -> Result<Vec<Outcome>, String> {
    let s = Surface::Ravine;
    let (mu, l) = (2.0f64, 20.0f64);
    let beta = ((l.sqrt() - mu.sqrt()) / (l.sqrt() + mu.sqrt())).powi(2);
    let polyak_lr = 4.0 / (l.sqrt() + mu.sqrt()).powi(2);
    let gd_lr = 2.0 / (l + mu);
    let runs = [
        Run::new(&format!("gradient descent (lr {gd_lr:.4})"), &format!("sgd:lr={gd_lr}"))?,
        Run::new(
            &format!("Polyak momentum {beta:.3} (lr {polyak_lr:.4})"),
            &format!("sgd:lr={polyak_lr},momentum={beta}"),
        )?,
        Run::new("momentum 0.9 (lr 0.01)", "sgd:lr=0.01,momentum=0.9")?,
    ];
    let results = run_all(&s, &runs, steps)?;
    let overlays: Vec<Series> =
        results.iter().map(|(r, p)| Series { name: r.label.clone(), points: p.xy() }).collect();
    let map = surface_map(s, "Gradient descent vs momentum in the ravine x² + 10y²", overlays);
    out.svg("ravine.svg", |p| map.write(p))?;
    let chart = results.iter().fold(
        Chart::new("Loss in the ravine x² + 10y²", "step", "f(x, y)").log(false, true),
        |c, (r, p)| {
            c.curve(
                Series {
                    name: r.label.clone(),
                    points: p.values.iter().enumerate().map(|(k, v)| (k as f64, *v)).collect(),
                },
                Style::Line,
            )
        },
    );
    out.svg("ravine_loss.svg", |p| chart.write(p))?;
    let outcomes: Vec<Outcome> = results.iter().map(|(r, p)| outcome(&s, r, p)).collect();
    out.json("ravine.json", &outcomes)?;
    Ok(outcomes)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lr_demo_measures_the_predicted_factor_and_classifies_it() {
        let rows = lr_demo(&[0.01, 0.1, 0.5, 0.9, 1.0, 1.1], 20).unwrap();
        let kinds: Vec<&str> = rows.iter().map(|(r, _)| r.behaviour).collect();
        assert_eq!(kinds, ["converges", "converges", "converges", "oscillates", "cycles", "diverges"]);
        for (r, _) in &rows {
            if r.lr != 0.5 {
                // lr 0.5 jumps to the minimum in one step (factor 0).
                assert!((r.measured_factor - r.predicted_factor).abs() < 1e-12, "lr {}", r.lr);
            }
        }
        assert!(rows[5].0.final_distance > 30.0); // 1.2^20 ≈ 38
    }

    #[test]
    fn polyak_momentum_beats_gradient_descent_in_the_ravine() {
        let dir = std::env::temp_dir().join(format!("descent-ravine-{}", std::process::id()));
        let mut out = Output::new(&dir).unwrap();
        let o = write_ravine(&mut out, 100).unwrap();
        let d: Vec<f64> = o.iter().map(|o| o.distance.unwrap()).collect();
        // From distance ≈ 4.3: GD shrinks by 9/11 per step, Polyak's momentum by about 0.52
        // (times a factor k from the double root), momentum 0.9 by about √0.9 ≈ 0.95.
        let start = 4.0f64.hypot(1.5);
        assert!(d[0] < start * (9.0f64 / 11.0).powi(100) * 1.01, "gd {}", d[0]);
        assert!(d[1] < 1e-20, "polyak {}", d[1]);
        assert!(d[2] > d[0] && d[2] < start * 0.95f64.powi(100) * 10.0, "momentum 0.9 {}", d[2]);
        assert!(out.written().iter().any(|p| p.ends_with("ravine.svg")));
        std::fs::remove_dir_all(&dir).ok();
    }

    fn outcomes(s: Surface) -> Vec<Outcome> {
        let (runs, steps) = default_runs(s);
        assert_eq!(runs.len(), 6);
        run_all(&s, &runs, steps).unwrap().iter().map(|(r, p)| outcome(&s, r, p)).collect()
    }

    #[test]
    fn default_runs_reach_the_minimum_of_the_quadratics_and_ravines() {
        for s in [Surface::Quadratic, Surface::RotatedQuadratic, Surface::Ravine, Surface::Ravine3] {
            for o in outcomes(s) {
                assert!(
                    !o.diverged && o.distance.unwrap() < 0.02,
                    "{} {}: {:?}",
                    o.function,
                    o.optimizer,
                    o.end
                );
            }
        }
    }

    #[test]
    fn on_rosenbrock_momentum_and_adaptive_methods_reach_the_valley_end_and_sgd_crawls() {
        let o = outcomes(Surface::Rosenbrock);
        let d: Vec<f64> = o.iter().map(|o| o.distance.unwrap()).collect();
        // sgd, momentum, nesterov, rmsprop, adagrad, adam.
        assert!(d[0] > 1.0, "plain SGD is still far along the valley: {}", d[0]);
        for i in [1, 2, 3, 5] {
            assert!(d[i] < 0.12, "{}: {}", o[i].optimizer, d[i]);
        }
        assert!(d[4] < 0.5 && o.iter().all(|o| o.value < 12.5), "every run descends from f = 12.5");
    }

    #[test]
    fn on_the_multimodal_surface_momentum_escapes_the_local_minimum_sgd_stays_in() {
        let o = outcomes(Surface::Multimodal);
        // From (4, −4), plain SGD settles in the local minimum near (1.27, −2.57), f ≈ 0.018;
        // heavy-ball momentum carries through to the global one near (−1.31, 0), f ≈ −0.795.
        assert!((o[0].value - 0.0185).abs() < 1e-3, "sgd: {:?}", o[0].end);
        assert!((o[1].value + 0.7946).abs() < 1e-3, "momentum: {:?}", o[1].end);
    }

    #[test]
    fn every_run_escapes_the_saddle_and_adaptive_methods_fastest() {
        let o = outcomes(Surface::Saddle);
        // Started 1e-3 off the ridge: the unstable direction grows (for SGD by 1 + 2·lr per
        // step), so f goes below 0. Adaptive methods divide the tiny gradient by its own scale
        // and leave the saddle region much faster.
        for o in &o {
            assert!(o.value < -0.05, "{}: f = {}", o.optimizer, o.value);
        }
        for i in [3, 4, 5] {
            assert!(
                o[i].end[1] > 5.0 * o[0].end[1],
                "{} vs sgd: {:?} {:?}",
                o[i].optimizer,
                o[i].end,
                o[0].end
            );
        }
    }
}
