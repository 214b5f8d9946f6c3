//! AdEMAMix, Adam with a second, slow momentum mixed in (`optax.contrib.ademamix`; Pagliardini et
//! al. 2024).
//!
//! ```text
//! m1 ← (1 − β1)·g + β1·m1;   m2 ← (1 − β3)·g + β3·m2;   v ← (1 − β2)·g² + β2·v
//! u ← (m1 / (1 − β1^t) + α·m2) / (√(v / (1 − β2^t) + ε_root) + ε) + λθ
//! θ ← θ − γ·u
//! ```
//! Source: optax `contrib/_ademamix.py` (`scale_by_ademamix` → `add_decayed_weights` →
//! `scale_by_learning_rate`); Pagliardini, Ablin & Grangier 2024, "The AdEMAMix Optimizer:
//! Better, Faster, Older", Algorithm 1 (without the α and β3 warm-up schedulers).
//!
//! State per parameter: 3 values (m1, m2, v).
//!
//! Differs elsewhere: the paper warms α and β3 up over `T_α_β3` steps (optax takes schedules for
//! them; here they are constants, optax's default use); the slow momentum m2 is never
//! bias-corrected, as in the paper.

use super::{Optim, UpdateRule};
use crate::error::{Error, check_ge, check_range_open};
use crate::real::{Real, pow_step};

/// Hyperparameters of AdEMAMix, with optax's names (`learning_rate` → `lr`, `b1, b2` → `betas`)
/// and defaults.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct AdemamixConfig {
    /// Learning rate γ (optax has no default; 1e-3 here).
    pub lr: f64,
    /// (β1, β2): the fast momentum's and the second moment's decay (default (0.9, 0.999)).
    pub betas: (f64, f64),
    /// β3, the slow momentum's decay (default 0.9999).
    pub b3: f64,
    /// α, the weight of the slow momentum (default 5).
    pub alpha: f64,
    /// ε added to the denominator (default 1e-8).
    pub eps: f64,
    /// ε added inside the square root (default 0).
    pub eps_root: f64,
    /// λ of the decayed weights added to the update (default 0).
    pub weight_decay: f64,
}

crate::fields!(AdemamixConfig { lr, betas, b3, alpha, eps, eps_root, weight_decay });

impl Default for AdemamixConfig {
    fn default() -> Self {
        AdemamixConfig {
            lr: 1e-3,
            betas: (0.9, 0.999),
            b3: 0.9999,
            alpha: 5.0,
            eps: 1e-8,
            eps_root: 0.0,
            weight_decay: 0.0,
        }
    }
}

crate::persist_fields!(AdemamixConfig {
    lr: f64, betas.0: f64, betas.1: f64, b3: f64, alpha: f64, eps: f64, eps_root: f64, weight_decay: f64
});

/// AdEMAMix owning its state for `N` parameters (3 × N values).
pub type Ademamix<F, const N: usize> = Optim<AdemamixConfig, F, [[F; N]; 3]>;
/// AdEMAMix over a caller-provided buffer (3 × n values).
pub type AdemamixView<'a, F> = Optim<AdemamixConfig, F, &'a mut [F]>;

/// Per-step scalars of AdEMAMix, computed once in `f64` and rounded.
struct Step<F> {
    b1: F,
    one_minus_b1: F,
    b2: F,
    one_minus_b2: F,
    b3: F,
    one_minus_b3: F,
    alpha: F,
    bc1: F,
    bc2: F,
    eps: F,
    eps_root: F,
    wd: F,
    neg_lr: F,
}

impl AdemamixConfig {
    fn scalars<F: Real>(&self, t: u64) -> Step<F> {
        let c = F::from_f64;
        let (b1, b2) = self.betas;
        Step {
            b1: c(b1),
            one_minus_b1: c(1.0 - b1),
            b2: c(b2),
            one_minus_b2: c(1.0 - b2),
            b3: c(self.b3),
            one_minus_b3: c(1.0 - self.b3),
            alpha: c(self.alpha),
            bc1: c(1.0 - pow_step(b1, t)),
            bc2: c(1.0 - pow_step(b2, t)),
            eps: c(self.eps),
            eps_root: c(self.eps_root),
            wd: c(self.weight_decay),
            neg_lr: c(-self.lr),
        }
    }
}

impl<F: Real> Step<F> {
    #[inline(always)]
    fn apply(&self, p: &mut F, g: F, m1: &mut F, m2: &mut F, v: &mut F) {
        *m1 = self.one_minus_b1 * g + self.b1 * *m1;
        *m2 = self.one_minus_b3 * g + self.b3 * *m2;
        *v = self.one_minus_b2 * (g * g) + self.b2 * *v;
        let num = *m1 / self.bc1 + self.alpha * *m2;
        let u = num / ((*v / self.bc2 + self.eps_root).sqrt() + self.eps) + self.wd * *p;
        *p = *p + self.neg_lr * u;
    }
}

impl UpdateRule for AdemamixConfig {
    type Scalars = ();
    const NAME: &'static str = "ademamix";
    const ID: u8 = 20;

    fn validate(&self) -> Result<(), Error> {
        check_ge("lr", self.lr, 0.0)?;
        check_ge("eps", self.eps, 0.0)?;
        check_ge("eps_root", self.eps_root, 0.0)?;
        check_range_open("betas[0]", self.betas.0, 0.0, 1.0)?;
        check_range_open("betas[1]", self.betas.1, 0.0, 1.0)?;
        check_range_open("b3", self.b3, 0.0, 1.0)?;
        check_ge("alpha", self.alpha, 0.0)?;
        check_ge("weight_decay", self.weight_decay, 0.0)
    }
    fn state_len(&self, n: usize) -> usize {
        3 * n
    }
    lr_and_betas_momentum!();

    elementwise_kernel!(3, zip3; m1, m2, v);

    fn reference<F: Real>(&self, _: &mut (), t: u64, p: &mut [F], g: &[F], state: &mut [F], _: &mut [F]) {
        let n = p.len().min(g.len());
        if state.len() < 3 * n {
            return;
        }
        let c = F::from_f64;
        let (b1, b2) = self.betas;
        let (m1, rest) = state.split_at_mut(n);
        let (m2, nu) = rest.split_at_mut(n);
        for i in 0..n {
            m1[i] = c(1.0 - b1) * g[i] + c(b1) * m1[i];
            m2[i] = c(1.0 - self.b3) * g[i] + c(self.b3) * m2[i];
            nu[i] = c(1.0 - b2) * (g[i] * g[i]) + c(b2) * nu[i];
            let m1_hat = m1[i] / c(1.0 - pow_step(b1, t));
            let nu_hat = nu[i] / c(1.0 - pow_step(b2, t));
            let update =
                (m1_hat + c(self.alpha) * m2[i]) / ((nu_hat + c(self.eps_root)).sqrt() + c(self.eps));
            let update = update + c(self.weight_decay) * p[i];
            p[i] = p[i] + c(-self.lr) * update;
        }
    }
}
