//! ADOPT, Adam with the second moment taken before the gradient it scales
//! (`optax.contrib.adopt`; Taniguchi et al. 2024).
//!
//! ```text
//! step 1:   v ← g²;  m ← 0                       (θ does not move)
//! step t>1: u ← g / max(√v, ε)                   (v of the previous step)
//!           u ← clip(u, −(t−1)^¼, (t−1)^¼)        (use_clipping)
//!           m ← (1 − β1)·u + β1·m;   v ← (1 − β2)·g² + β2·v
//!           θ ← θ − γ·m,   or with nesterov  θ ← θ − γ·((1 − β1)·u + β1·m)
//! ```
//! Source: optax `contrib/_adopt.py` (`scale_by_adopt` → `scale_by_learning_rate`; the first step
//! runs with β1 = 1, β2 = 0, as optax's `jnp.where(count > 0, …)`); Taniguchi et al. 2024, "ADOPT:
//! Modified Adam Can Converge with Any β2 with the Optimal Rate", Algorithm 2 (clipped).
//!
//! State per parameter: 2 values (m, v).
//!
//! Differs elsewhere: the authors' PyTorch code adds decoupled decay and also skips the first
//! update; optax's clip bound is `clip_value_fn(step)`, here fixed to its default x^¼.

use super::{Optim, UpdateRule};
use crate::error::{Error, check_ge, check_range_open};
use crate::real::{Real, powf64};

/// Hyperparameters of ADOPT, with optax's names (`learning_rate` → `lr`, `b1, b2` → `betas`)
/// and defaults.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct AdoptConfig {
    /// Learning rate γ (optax has no default; 1e-3 here, the paper's).
    pub lr: f64,
    /// (β1, β2) (default (0.9, 0.9999)).
    pub betas: (f64, f64),
    /// ε, the floor of √v (default 1e-6).
    pub eps: f64,
    /// Nesterov momentum (default false).
    pub nesterov: bool,
    /// Clip the normalized gradient to ±(t − 1)^¼ (default true).
    pub use_clipping: bool,
}

crate::fields!(AdoptConfig { lr, betas, eps, nesterov, use_clipping });

impl Default for AdoptConfig {
    fn default() -> Self {
        AdoptConfig { lr: 1e-3, betas: (0.9, 0.9999), eps: 1e-6, nesterov: false, use_clipping: true }
    }
}

crate::persist_fields!(AdoptConfig { lr: f64, betas.0: f64, betas.1: f64, eps: f64, nesterov: bool, use_clipping: bool });

/// ADOPT owning its state for `N` parameters (2 × N values).
pub type Adopt<F, const N: usize> = Optim<AdoptConfig, F, [[F; N]; 2]>;
/// ADOPT over a caller-provided buffer (2 × n values).
pub type AdoptView<'a, F> = Optim<AdoptConfig, F, &'a mut [F]>;

/// `clip(x, lo, hi)` as `jnp.clip` (`min(max(x, lo), hi)`), NaN propagating.
#[inline(always)]
fn clip<F: Real>(x: F, lo: F, hi: F) -> F {
    let y = x.max_nan(lo);
    if y > hi { hi } else { y }
}

/// Per-step scalars of ADOPT, computed once in `f64` and rounded.
struct Step<F> {
    /// β1 of this step (1 on the first step).
    b1: F,
    one_minus_b1: F,
    /// β2 of this step (0 on the first step).
    b2: F,
    one_minus_b2: F,
    eps: F,
    /// The clip bound (t − 1)^¼, when clipping.
    bound: Option<F>,
    nesterov: bool,
    neg_lr: F,
}

impl AdoptConfig {
    /// (β1, β2) of step `t`: optax's first step uses β1 = 1, β2 = 0.
    fn betas_at(&self, t: u64) -> (f64, f64) {
        if t <= 1 { (1.0, 0.0) } else { self.betas }
    }
    fn scalars<F: Real>(&self, t: u64) -> Step<F> {
        let c = F::from_f64;
        let (b1, b2) = self.betas_at(t);
        Step {
            b1: c(b1),
            one_minus_b1: c(1.0 - b1),
            b2: c(b2),
            one_minus_b2: c(1.0 - b2),
            eps: c(self.eps),
            bound: self.use_clipping.then(|| c(powf64(t.saturating_sub(1) as f64, 0.25))),
            nesterov: self.nesterov,
            neg_lr: c(-self.lr),
        }
    }
}

impl<F: Real> Step<F> {
    #[inline(always)]
    fn apply(&self, p: &mut F, g: F, m: &mut F, v: &mut F) {
        let mut u = g / v.sqrt().max_nan(self.eps);
        if let Some(b) = self.bound {
            u = clip(u, -b, b);
        }
        *v = self.one_minus_b2 * (g * g) + self.b2 * *v;
        *m = self.one_minus_b1 * u + self.b1 * *m;
        let step = if self.nesterov { self.one_minus_b1 * u + self.b1 * *m } else { *m };
        *p = *p + self.neg_lr * step;
    }
}

impl UpdateRule for AdoptConfig {
    type Scalars = ();
    const NAME: &'static str = "adopt";
    const ID: u8 = 19;

    fn validate(&self) -> Result<(), Error> {
        check_ge("lr", self.lr, 0.0)?;
        check_ge("eps", self.eps, 0.0)?;
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
        let (b1, b2) = self.betas_at(t);
        let clip_value = powf64(t.saturating_sub(1) as f64, 0.25);
        let (mu, nu) = state.split_at_mut(n);
        for i in 0..n {
            let normalized = g[i] / nu[i].sqrt().max_nan(c(self.eps));
            let mu_update =
                if self.use_clipping { clip(normalized, c(-clip_value), c(clip_value)) } else { normalized };
            nu[i] = c(1.0 - b2) * (g[i] * g[i]) + c(b2) * nu[i];
            mu[i] = c(1.0 - b1) * mu_update + c(b1) * mu[i];
            let update = if self.nesterov { c(1.0 - b1) * mu_update + c(b1) * mu[i] } else { mu[i] };
            p[i] = p[i] + c(-self.lr) * update;
        }
    }
}
