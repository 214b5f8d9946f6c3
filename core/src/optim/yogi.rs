//! Yogi, Adam with an additive second-moment update (`optax.yogi`; Zaheer et al. 2018).
//!
//! ```text
//! m ← (1 − β1)·g + β1·m                       (m₀ = 1e-6)
//! v ← v − (1 − β2)·sign(v − g²)·g²            (v₀ = 1e-6; sign(0) = 0)
//! θ ← θ − γ · (m / (1 − β1^t)) / (√(v / (1 − β2^t)) + ε)
//! ```
//! Source: optax `alias.py::yogi` = `scale_by_yogi(b1, b2, eps)` → `scale_by_learning_rate`
//! (`optax/_src/transform.py`: `eps_root = 0`, `initial_accumulator_value = 1e-6`); Zaheer et al.
//! 2018, "Adaptive Methods for Nonconvex Optimization", Algorithm 2.
//!
//! State per parameter: 2 values (m, v), both starting at 1e-6 as optax's.
//!
//! Differs elsewhere: the paper starts both moments at 0 and applies no bias correction; optax
//! corrects both as Adam does. Adam moves v towards g² by a fraction of the gap; Yogi moves it by
//! a fraction of g² in the gap's direction, so v grows slowly when gradients jump.

use super::{Optim, UpdateRule};
use crate::error::{Error, check_ge, check_range_open};
use crate::real::{Real, pow_step};

/// Hyperparameters of Yogi, with optax's names (`learning_rate` → `lr`, `b1, b2` → `betas`) and
/// defaults.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct YogiConfig {
    /// Learning rate γ (optax has no default; 1e-2 here, the paper's suggestion).
    pub lr: f64,
    /// (β1, β2) (default (0.9, 0.999)).
    pub betas: (f64, f64),
    /// ε added to the denominator (default 1e-3, optax's and the paper's).
    pub eps: f64,
}

crate::fields!(YogiConfig { lr, betas, eps });

impl Default for YogiConfig {
    fn default() -> Self {
        YogiConfig { lr: 1e-2, betas: (0.9, 0.999), eps: 1e-3 }
    }
}

crate::persist_fields!(YogiConfig { lr: f64, betas.0: f64, betas.1: f64, eps: f64 });

/// Both moments' starting value (optax's `initial_accumulator_value`).
pub const INITIAL_ACCUMULATOR_VALUE: f64 = 1e-6;

/// Yogi owning its state for `N` parameters (2 × N values).
pub type Yogi<F, const N: usize> = Optim<YogiConfig, F, [[F; N]; 2]>;
/// Yogi over a caller-provided buffer (2 × n values).
pub type YogiView<'a, F> = Optim<YogiConfig, F, &'a mut [F]>;

/// Per-step scalars of Yogi, computed once in `f64` and rounded.
struct Step<F> {
    b1: F,
    one_minus_b1: F,
    one_minus_b2: F,
    bc1: F,
    bc2: F,
    eps: F,
    neg_lr: F,
}

impl YogiConfig {
    fn scalars<F: Real>(&self, t: u64) -> Step<F> {
        let c = F::from_f64;
        let (b1, b2) = self.betas;
        Step {
            b1: c(b1),
            one_minus_b1: c(1.0 - b1),
            one_minus_b2: c(1.0 - b2),
            bc1: c(1.0 - pow_step(b1, t)),
            bc2: c(1.0 - pow_step(b2, t)),
            eps: c(self.eps),
            neg_lr: c(-self.lr),
        }
    }
}

impl<F: Real> Step<F> {
    #[inline(always)]
    fn apply(&self, p: &mut F, g: F, m: &mut F, v: &mut F) {
        *m = self.one_minus_b1 * g + self.b1 * *m;
        let g2 = g * g;
        *v = *v - self.one_minus_b2 * (*v - g2).sign0() * g2;
        let u = (*m / self.bc1) / ((*v / self.bc2).sqrt() + self.eps);
        *p = *p + self.neg_lr * u;
    }
}

impl UpdateRule for YogiConfig {
    type Scalars = ();
    const NAME: &'static str = "yogi";
    const ID: u8 = 17;

    fn validate(&self) -> Result<(), Error> {
        check_ge("lr", self.lr, 0.0)?;
        check_ge("eps", self.eps, 0.0)?;
        check_range_open("betas[0]", self.betas.0, 0.0, 1.0)?;
        check_range_open("betas[1]", self.betas.1, 0.0, 1.0)
    }
    fn state_len(&self, n: usize) -> usize {
        2 * n
    }
    fn init_state<F: Real>(&self, state: &mut [F]) {
        state.fill(F::from_f64(INITIAL_ACCUMULATOR_VALUE));
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
            let g_sq = g[i] * g[i];
            nu[i] = nu[i] - c(1.0 - b2) * (nu[i] - g_sq).sign0() * g_sq;
            let mu_hat = mu[i] / c(1.0 - pow_step(b1, t));
            let nu_hat = nu[i] / c(1.0 - pow_step(b2, t));
            let update = mu_hat / (nu_hat.sqrt() + c(self.eps));
            p[i] = p[i] + c(-self.lr) * update;
        }
    }
}
