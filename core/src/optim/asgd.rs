//! Averaged SGD (`torch.optim.ASGD`).
//!
//! ```text
//! g ← −g if maximize;  g ← g + λ_wd·θ
//! θ ← θ(1 − λη_t) − η_t·g
//! ā ← ā + μ_t(θ − ā)   (ā ← θ while μ_t = 1)
//! η_{t+1} = γ / (1 + λγt)^α;  μ_{t+1} = 1 / max(1, t − t0)      (η_1 = γ, μ_1 = 1)
//! ```
//! Source: `torch/optim/asgd.py::_single_tensor_asgd`; Polyak & Juditsky 1992, Bottou 2012.
//! The averaged parameters ā are kept in the state (read them with [`Asgd::state`]).
//!
//! State per parameter: 1 value (ā); two scalars (η, μ).

use super::ops::{add_alpha, directed};
use super::{Optim, UpdateRule};
use crate::error::{Error, check_ge};
use crate::real::{Real, powf64};

/// Hyperparameters of ASGD, with PyTorch's names and defaults.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct AsgdConfig {
    /// Learning rate γ (default 1e-2).
    pub lr: f64,
    /// Decay term λ (default 1e-4).
    pub lambd: f64,
    /// Power α of the η schedule (default 0.75).
    pub alpha: f64,
    /// Step at which averaging starts (default 1e6).
    pub t0: f64,
    /// L2 penalty (default 0).
    pub weight_decay: f64,
    /// Maximize instead of minimize (default false).
    pub maximize: bool,
}

crate::fields!(AsgdConfig { lr, lambd, alpha, t0, weight_decay, maximize });

impl Default for AsgdConfig {
    fn default() -> Self {
        AsgdConfig { lr: 1e-2, lambd: 1e-4, alpha: 0.75, t0: 1e6, weight_decay: 0.0, maximize: false }
    }
}

crate::persist_fields!(AsgdConfig {
    lr: f64,
    lambd: f64,
    alpha: f64,
    t0: f64,
    weight_decay: f64,
    maximize: bool
});

/// Scalar state of ASGD.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct AsgdScalars {
    /// η for the next step (`None` before the first step: η_1 = γ at that step).
    pub eta: Option<f64>,
    /// μ for the next step (starts at 1).
    pub mu: f64,
}

impl Default for AsgdScalars {
    fn default() -> Self {
        AsgdScalars { eta: None, mu: 1.0 }
    }
}

impl crate::persist::Persist for AsgdScalars {
    fn write(&self, w: &mut crate::persist::Writer<'_>) -> Result<(), Error> {
        w.bool(self.eta.is_some())?;
        w.f64(self.eta.unwrap_or(0.0))?;
        w.f64(self.mu)
    }
    fn read(r: &mut crate::persist::Reader<'_>) -> Result<Self, Error> {
        let has = r.bool()?;
        let eta = r.f64()?;
        Ok(AsgdScalars { eta: has.then_some(eta), mu: r.f64()? })
    }
}

/// ASGD owning its state for `N` parameters (N values: the average).
pub type Asgd<F, const N: usize> = Optim<AsgdConfig, F, [[F; N]; 1]>;
/// ASGD over a caller-provided buffer (n values).
pub type AsgdView<'a, F> = Optim<AsgdConfig, F, &'a mut [F]>;

impl AsgdConfig {
    /// (η_t, decay factor 1 − λη_t, μ_t) for this step, and the scalars after it.
    fn coefficients(&self, sc: &AsgdScalars, t: u64) -> (f64, f64, f64, AsgdScalars) {
        let eta = sc.eta.unwrap_or(self.lr);
        let tf = t as f64;
        let next = AsgdScalars {
            eta: Some(self.lr / powf64(1.0 + self.lambd * self.lr * tf, self.alpha)),
            mu: 1.0 / f64::max(1.0, tf - self.t0),
        };
        (eta, 1.0 - self.lambd * eta, sc.mu, next)
    }
}

impl UpdateRule for AsgdConfig {
    type Scalars = AsgdScalars;
    const NAME: &'static str = "asgd";
    const ID: u8 = 10;
    const NARROW_LANES: bool = true;

    fn validate(&self) -> Result<(), Error> {
        check_ge("lr", self.lr, 0.0)?;
        check_ge("lambd", self.lambd, 0.0)?;
        check_ge("alpha", self.alpha, 0.0)?;
        check_ge("weight_decay", self.weight_decay, 0.0)
    }
    fn state_len(&self, n: usize) -> usize {
        n
    }
    fn lr(&self) -> f64 {
        self.lr
    }
    fn put_lr(&mut self, lr: f64) {
        self.lr = lr;
    }

    #[inline(always)]
    fn kernel<F: Real, const L: usize>(
        &self,
        sc: &mut AsgdScalars,
        t: u64,
        p: &mut [F],
        g: &[F],
        state: &mut [F],
        _: &mut [F],
    ) {
        let c = F::from_f64;
        let (eta, decay, mu, next) = self.coefficients(sc, t);
        let (max, wd, decay, neg_eta, mu_f, copy) =
            (self.maximize, c(self.weight_decay), c(decay), c(-eta), c(mu), mu == 1.0);
        let [ax] = streams!(state, p.len(); 1);
        crate::lanes::zip1::<F, L>(p, g, ax, |p, g, ax| {
            let mut g = directed(g, max);
            if wd != F::ZERO {
                g = add_alpha(g, wd, *p);
            }
            *p = *p * decay;
            *p = add_alpha(*p, neg_eta, g);
            *ax = if copy { *p } else { *ax + (*p - *ax) * mu_f };
        });
        *sc = next;
    }

    fn reference<F: Real>(
        &self,
        sc: &mut AsgdScalars,
        t: u64,
        p: &mut [F],
        g: &[F],
        state: &mut [F],
        _: &mut [F],
    ) {
        let c = F::from_f64;
        let eta = sc.eta.unwrap_or(self.lr);
        for i in 0..p.len().min(g.len()).min(state.len()) {
            let mut grad = if self.maximize { -g[i] } else { g[i] };
            if self.weight_decay != 0.0 {
                grad = grad + c(self.weight_decay) * p[i];
            }
            p[i] = p[i] * c(1.0 - self.lambd * eta);
            p[i] = p[i] + c(-eta) * grad;
            if sc.mu != 1.0 {
                state[i] = state[i] + (p[i] - state[i]) * c(sc.mu);
            } else {
                state[i] = p[i];
            }
        }
        let step = t as f64;
        sc.eta = Some(self.lr / libm::pow(1.0 + self.lambd * self.lr * step, self.alpha));
        sc.mu = 1.0 / f64::max(1.0, step - self.t0);
    }
}
