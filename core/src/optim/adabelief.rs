//! AdaBelief, Adam scaled by the belief in the gradient (`optax.adabelief`; Zhuang et al. 2020).
//!
//! ```text
//! m ← (1 − β1)·g + β1·m
//! s ← (1 − β2)·(g − m)² + β2·s + ε_root
//! m̂ ← m / (1 − β1^t),   or with nesterov  β1·m / (1 − β1^(t+1)) + (1 − β1)·g / (1 − β1^t)
//! θ ← θ − γ · m̂ / (√(s / (1 − β2^t)) + ε)
//! ```
//! Source: optax `alias.py::adabelief` = `scale_by_belief` → `scale_by_learning_rate`
//! (`optax/_src/transform.py`); Zhuang et al. 2020, "AdaBelief Optimizer: Adapting Stepsizes by
//! the Belief in Observed Gradients", Algorithm 2.
//!
//! State per parameter: 2 values (m, s).
//!
//! Differs elsewhere: the paper's defaults are ε = 1e-8 and ε_root = 0 (optax: 1e-16 and 1e-16);
//! ε_root is added to s itself, so it is kept in the state and accumulates. The authors' PyTorch
//! package adds decoupled decay and rectification, which optax has not.

use super::{Optim, UpdateRule};
use crate::error::{Error, check_ge, check_range_open};
use crate::real::{Real, pow_step};

/// Hyperparameters of AdaBelief, with optax's names (`learning_rate` → `lr`, `b1, b2` → `betas`)
/// and defaults.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct AdabeliefConfig {
    /// Learning rate γ (optax has no default; 1e-3 here, the paper's).
    pub lr: f64,
    /// (β1, β2) (default (0.9, 0.999)).
    pub betas: (f64, f64),
    /// ε added to the denominator (default 1e-16).
    pub eps: f64,
    /// ε_root added to the second moment s each step (default 1e-16).
    pub eps_root: f64,
    /// Nesterov momentum (default false).
    pub nesterov: bool,
}

crate::fields!(AdabeliefConfig { lr, betas, eps, eps_root, nesterov });

impl Default for AdabeliefConfig {
    fn default() -> Self {
        AdabeliefConfig { lr: 1e-3, betas: (0.9, 0.999), eps: 1e-16, eps_root: 1e-16, nesterov: false }
    }
}

crate::persist_fields!(AdabeliefConfig { lr: f64, betas.0: f64, betas.1: f64, eps: f64, eps_root: f64, nesterov: bool });

/// AdaBelief owning its state for `N` parameters (2 × N values).
pub type Adabelief<F, const N: usize> = Optim<AdabeliefConfig, F, [[F; N]; 2]>;
/// AdaBelief over a caller-provided buffer (2 × n values).
pub type AdabeliefView<'a, F> = Optim<AdabeliefConfig, F, &'a mut [F]>;

/// Per-step scalars of AdaBelief, computed once in `f64` and rounded.
struct Step<F> {
    b1: F,
    one_minus_b1: F,
    b2: F,
    one_minus_b2: F,
    eps_root: F,
    bc1: F,
    /// 1 − β1^(t+1), for Nesterov's look-ahead (`None` without nesterov).
    bc1_next: Option<F>,
    bc2: F,
    eps: F,
    neg_lr: F,
}

impl AdabeliefConfig {
    fn scalars<F: Real>(&self, t: u64) -> Step<F> {
        let c = F::from_f64;
        let (b1, b2) = self.betas;
        Step {
            b1: c(b1),
            one_minus_b1: c(1.0 - b1),
            b2: c(b2),
            one_minus_b2: c(1.0 - b2),
            eps_root: c(self.eps_root),
            bc1: c(1.0 - pow_step(b1, t)),
            bc1_next: self.nesterov.then(|| c(1.0 - pow_step(b1, t.saturating_add(1)))),
            bc2: c(1.0 - pow_step(b2, t)),
            eps: c(self.eps),
            neg_lr: c(-self.lr),
        }
    }
}

impl<F: Real> Step<F> {
    #[inline(always)]
    fn apply(&self, p: &mut F, g: F, m: &mut F, s: &mut F) {
        *m = self.one_minus_b1 * g + self.b1 * *m;
        let e = g - *m;
        *s = self.one_minus_b2 * (e * e) + self.b2 * *s + self.eps_root;
        let m_hat = match self.bc1_next {
            Some(next) => self.b1 * (*m / next) + self.one_minus_b1 * (g / self.bc1),
            None => *m / self.bc1,
        };
        let u = m_hat / ((*s / self.bc2).sqrt() + self.eps);
        *p = *p + self.neg_lr * u;
    }
}

impl UpdateRule for AdabeliefConfig {
    type Scalars = ();
    const NAME: &'static str = "adabelief";
    const ID: u8 = 18;

    fn validate(&self) -> Result<(), Error> {
        check_ge("lr", self.lr, 0.0)?;
        check_ge("eps", self.eps, 0.0)?;
        check_ge("eps_root", self.eps_root, 0.0)?;
        check_range_open("betas[0]", self.betas.0, 0.0, 1.0)?;
        check_range_open("betas[1]", self.betas.1, 0.0, 1.0)
    }
    fn state_len(&self, n: usize) -> usize {
        2 * n
    }
    lr_and_betas_momentum!();

    elementwise_kernel!(2, zip2; m, v);

    fn reference<F: Real>(&self, _: &mut (), t: u64, p: &mut [F], g: &[F], state: &mut [F], _: &mut [F]) {
        let n = p.len().min(g.len());
        if state.len() < 2 * n {
            return;
        }
        let c = F::from_f64;
        let (b1, b2) = self.betas;
        let (mu, nu) = state.split_at_mut(n);
        for i in 0..n {
            mu[i] = c(1.0 - b1) * g[i] + c(b1) * mu[i];
            let prediction_error = g[i] - mu[i];
            nu[i] = c(1.0 - b2) * (prediction_error * prediction_error) + c(b2) * nu[i];
            nu[i] = nu[i] + c(self.eps_root);
            let mu_hat = if self.nesterov {
                let corrected_mu = mu[i] / c(1.0 - pow_step(b1, t.saturating_add(1)));
                let corrected_g = g[i] / c(1.0 - pow_step(b1, t));
                c(b1) * corrected_mu + c(1.0 - b1) * corrected_g
            } else {
                mu[i] / c(1.0 - pow_step(b1, t))
            };
            let nu_hat = nu[i] / c(1.0 - pow_step(b2, t));
            p[i] = p[i] + c(-self.lr) * (mu_hat / (nu_hat.sqrt() + c(self.eps)));
        }
    }
}
