//! Shared by the tests of reduced-precision optimizer state (`tests/half_state.rs`,
//! `tests/quant_state.rs`): the hyperparameter draws, quadratic problems and trajectories whose
//! drift from f32 state they bound, and the MNIST run that measures the cost in accuracy.

use descent::adam::AdamConfig;
use descent::adamax::AdamaxConfig;
use descent::half_state::Rounding;
use descent::nadam::NadamConfig;
use descent::radam::RadamConfig;
use descent::sgd::SgdConfig;
use descent::std_ext::data::mnist::{Mnist, default_dir};
use descent::std_ext::model::{Activation, Init, Loss, Mlp, Targets};
use descent::{Optim, Optimizer, UpdateRule};
use proptest::prelude::*;

/// The optimizers whose drift is bounded: the Adam family and momentum SGD (every rule 8-bit
/// state supports).
pub const DRIFT_BOUNDED: [&str; 6] = ["sgd", "adam", "adamw", "adamax", "nadam", "radam"];
/// Steps per trajectory.
pub const STEPS: usize = 100;

/// Every optimizer of [`DRIFT_BOUNDED`] with each rounding: to nearest, and stochastic from `seed`.
pub fn cases(seed: u64) -> impl Iterator<Item = (&'static str, Rounding)> {
    DRIFT_BOUNDED
        .into_iter()
        .flat_map(move |name| [(name, Rounding::Nearest), (name, Rounding::Stochastic(seed))])
}

/// One draw of hyperparameters; each test maps it onto the optimizers' configurations.
#[derive(Debug, Clone)]
pub struct Hyper {
    pub lr: f64,
    pub betas: (f64, f64),
    pub eps: f64,
    pub weight_decay: f64,
    pub momentum: f64,
    /// 0 where `nesterov` (PyTorch refuses Nesterov momentum with dampening).
    pub dampening: f64,
    pub nesterov: bool,
    pub amsgrad: bool,
    pub maximize: bool,
    pub decoupled: bool,
    pub momentum_decay: f64,
}

impl Hyper {
    /// This draw as a configuration of `name`, one of [`DRIFT_BOUNDED`].
    pub fn config(&self, name: &str) -> DriftConfig {
        let Hyper { lr, betas, eps, weight_decay, maximize, decoupled, .. } = self.clone();
        match name {
            // Maximizing a quadratic with momentum SGD diverges exponentially; not a state question.
            "sgd" => DriftConfig::Sgd(SgdConfig {
                lr,
                momentum: self.momentum,
                dampening: self.dampening,
                weight_decay,
                nesterov: self.nesterov,
                maximize: false,
            }),
            "adam" | "adamw" => DriftConfig::Adam(AdamConfig {
                lr,
                betas,
                eps,
                weight_decay,
                amsgrad: self.amsgrad,
                maximize,
                decoupled_weight_decay: name == "adamw",
            }),
            "adamax" => DriftConfig::Adamax(AdamaxConfig { lr, betas, eps, weight_decay, maximize }),
            "nadam" => DriftConfig::Nadam(NadamConfig {
                lr,
                betas,
                eps,
                weight_decay,
                momentum_decay: self.momentum_decay,
                decoupled_weight_decay: decoupled,
                maximize,
            }),
            "radam" => DriftConfig::Radam(RadamConfig {
                lr,
                betas,
                eps,
                weight_decay,
                decoupled_weight_decay: decoupled,
                maximize,
            }),
            other => panic!("no drift bound for {other}"),
        }
    }
}

/// A configuration of one of the rules of [`DRIFT_BOUNDED`].
#[derive(Debug, Clone, Copy)]
pub enum DriftConfig {
    Sgd(SgdConfig),
    Adam(AdamConfig),
    Adamax(AdamaxConfig),
    Nadam(NadamConfig),
    Radam(RadamConfig),
}

/// Runs `$body` with `$c` bound to the concrete configuration inside a [`DriftConfig`].
#[macro_export]
macro_rules! with_drift_config {
    ($any:expr, |$c:ident| $body:expr) => {
        match $any {
            $crate::common::reduced_state::DriftConfig::Sgd($c) => $body,
            $crate::common::reduced_state::DriftConfig::Adam($c) => $body,
            $crate::common::reduced_state::DriftConfig::Adamax($c) => $body,
            $crate::common::reduced_state::DriftConfig::Nadam($c) => $body,
            $crate::common::reduced_state::DriftConfig::Radam($c) => $body,
        }
    };
}

/// lr in [1e-4, 0.05], β1 in [0, 0.99], β2 in [0.9, 0.9999], ε in [1e-10, 1e-4], weight decay in
/// [0, 0.1], every flag; for f16 state (`f16`) β2 ≤ 0.999 and ε ≥ 1e-8.
pub fn hyper(f16: bool) -> impl Strategy<Value = Hyper> {
    let beta2 = if f16 { 0.9..0.999f64 } else { 0.9..0.9999f64 };
    let eps = if f16 { 1e-8..1e-4f64 } else { 1e-10..1e-4f64 };
    (
        (1e-4..0.05f64, prop_oneof![Just(0.9), 0.0..0.99f64], prop_oneof![Just(0.999), beta2]),
        (prop_oneof![Just(1e-8), eps], prop_oneof![Just(0.0), 1e-4..0.1f64]),
        (0.5..0.95f64, prop_oneof![Just(0.0), 0.0..0.5f64], 0.0..0.05f64),
        any::<[bool; 4]>(),
    )
        .prop_map(|((lr, b1, b2), (eps, weight_decay), (momentum, dampening, momentum_decay), flags)| {
            let [nesterov, amsgrad, maximize, decoupled] = flags;
            Hyper {
                lr,
                betas: (b1, b2),
                eps,
                weight_decay,
                momentum,
                dampening: if nesterov { 0.0 } else { dampening },
                nesterov,
                amsgrad,
                maximize,
                decoupled,
                momentum_decay,
            }
        })
}

/// f(x) = ½ Σ aᵢ (xᵢ − cᵢ)², started at x₀.
#[derive(Debug, Clone)]
pub struct Problem {
    pub a: Vec<f32>,
    pub c: Vec<f32>,
    pub x0: Vec<f32>,
}

impl Problem {
    /// `n` parameters with curvatures from 0.5 to 2, minima at 2·sin(0.37·i), started at 0.
    pub fn fixed(n: usize) -> Problem {
        Problem {
            a: (0..n).map(|i| 0.5 + 1.5 * i as f32 / n as f32).collect(),
            c: (0..n).map(|i| (i as f32 * 0.37).sin() * 2.0).collect(),
            x0: vec![0.0; n],
        }
    }

    /// ∇f(x).
    pub fn gradient(&self, x: &[f32]) -> Vec<f32> {
        x.iter().zip(&self.a).zip(&self.c).map(|((x, a), c)| a * (x - c)).collect()
    }

    /// x₀ and the points after each of `steps` steps of `opt`.
    pub fn trajectory(&self, opt: &mut dyn Optimizer<f32>, steps: usize) -> Vec<Vec<f32>> {
        let mut x = self.x0.clone();
        let mut out = vec![x.clone()];
        for _ in 0..steps {
            let g = self.gradient(&x);
            opt.step(&mut x, &g).unwrap();
            out.push(x.clone());
        }
        out
    }

    /// The distance (∞-norm) from the minimum after `steps` steps of `opt`, which is fed the
    /// exact Hessian diagonal `a` as its estimate every `period` steps from the first (Sophia).
    pub fn distance_with_hessians(&self, opt: &mut dyn Optimizer<f32>, steps: usize, period: usize) -> f32 {
        let mut x = self.x0.clone();
        for t in 0..steps {
            if t % period == 0 {
                opt.update_hessian(&self.a).unwrap();
            }
            let g = self.gradient(&x);
            opt.step(&mut x, &g).unwrap();
        }
        max_abs_diff(&x, &self.c)
    }

    /// The distance (∞-norm) from the minimum after `steps` steps of `opt`.
    pub fn distance_after(&self, opt: &mut dyn Optimizer<f32>, steps: usize) -> f32 {
        let x = self.trajectory(opt, steps).pop().unwrap();
        max_abs_diff(&x, &self.c)
    }
}

pub fn max_abs_diff(a: &[f32], b: &[f32]) -> f32 {
    a.iter().zip(b).map(|(x, y)| (x - y).abs()).fold(0.0, f32::max)
}

/// (largest distance between the trajectory of `reduced` and that of `cfg` with f32 state, path
/// length of the f32 one), both in the ∞-norm, over [`STEPS`] steps of `p`.
pub fn drift_and_path<R: UpdateRule>(cfg: R, p: &Problem, reduced: &mut dyn Optimizer<f32>) -> (f32, f32) {
    let n = p.a.len();
    let mut s = vec![0.0f32; cfg.state_len(n)];
    let reference = p.trajectory(&mut Optim::with_buffer(cfg, n, &mut s).unwrap(), STEPS);
    let other = p.trajectory(reduced, STEPS);
    let path = reference.windows(2).map(|w| max_abs_diff(&w[1], &w[0])).sum();
    let drift = other.iter().zip(&reference).map(|(o, r)| max_abs_diff(o, r)).fold(0.0, f32::max);
    (drift, path)
}

/// The MNIST run behind the book's accuracy numbers for reduced state: the MLP of
/// `descent train` (784-128-10 ReLU, He init seed 0, batch 128, 5 epochs, the bundled 8,000
/// training digits in file order), test accuracy on the 2,000 held-out digits.
pub struct MnistRun {
    data: Mnist,
    model: Mlp,
}

impl MnistRun {
    /// The bundled data and the model.
    pub fn load() -> MnistRun {
        let data = Mnist::load(&default_dir().unwrap()).unwrap();
        MnistRun { data, model: Mlp::new(&[784, 128, 10], Activation::Relu).unwrap() }
    }

    /// Parameters of the model.
    pub fn num_params(&self) -> usize {
        self.model.num_params()
    }

    /// Test accuracy in % after training with `opt`.
    pub fn accuracy(&self, opt: &mut dyn Optimizer<f32>) -> f64 {
        let (model, data) = (&self.model, &self.data);
        let (n, inp, batch) = (model.num_params(), model.inputs(), 128);
        let mut params = model.init_params(Init::He, 0);
        let (mut ws, mut grad) = (model.workspace(batch), vec![0.0f32; n]);
        for _ in 0..5 {
            for start in (0..data.train.n).step_by(batch) {
                let b = batch.min(data.train.n - start);
                let x = &data.train.images[start * inp..(start + b) * inp];
                let t = Targets::Classes(&data.train.labels[start..start + b]);
                grad.fill(0.0);
                model.loss_and_grad(&params, x, t, b, Loss::CrossEntropy, &mut ws, &mut grad);
                opt.step(&mut params, &grad).unwrap();
            }
        }
        let t = Targets::Classes(&data.test.labels);
        let mut ws = model.workspace(data.test.n);
        let s = model.evaluate(&params, &data.test.images, t, data.test.n, Loss::CrossEntropy, &mut ws);
        100.0 * s.correct as f64 / data.test.n as f64
    }

    /// Test accuracy in % after training with `cfg` and f32 state.
    pub fn accuracy_with_f32_state(&self, cfg: AdamConfig) -> f64 {
        let n = self.num_params();
        let mut s32 = vec![0.0f32; cfg.state_len(n)];
        self.accuracy(&mut Optim::with_buffer(cfg, n, &mut s32).unwrap())
    }
}
