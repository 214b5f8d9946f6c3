//! Adan, adaptive Nesterov momentum (`optax.adan`; Xie et al. 2022).
//!
//! ```text
//! d ← g − g_prev   (0 on the first step)
//! m ← (1 − β1)·g + β1·m;   v ← (1 − β2)·d + β2·v;   n ← (1 − β3)·(g + (1 − β2)·d)² + β3·n
//! u ← (m / (1 − β1^t) + (1 − β2)·v / (1 − β2^t)) / (√(n / (1 − β3^t) + ε_root) + ε) + λθ
//! θ ← θ − γ·u;   g_prev ← g
//! ```
//! Source: optax `alias.py::adan` = `scale_by_adan` → `add_decayed_weights` →
//! `scale_by_learning_rate` (`optax/_src/transform.py`); Xie et al. 2022, "Adan: Adaptive Nesterov
//! Momentum Algorithm for Faster Optimizing Deep Models", Algorithm 1.
//!
//! State per parameter: 4 values (m, v, n, the previous gradient).
//!
//! Differs elsewhere: the paper (and the authors' PyTorch code) applies the decay proximally,
//! θ ← (θ − γu) / (1 + γλ); optax adds λθ to the update, as here. optax's β's weight the
//! old value (the paper writes 1 − β).

use super::{Optim, UpdateRule};
use crate::error::{Error, check_ge, check_range_open};
use crate::real::{Real, pow_step};

/// Hyperparameters of Adan, with optax's names (`learning_rate` → `lr`, `b1, b2` → `betas`) and
/// defaults.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct AdanConfig {
    /// Learning rate γ (optax has no default; 1e-3 here).
    pub lr: f64,
    /// (β1, β2): the decays of the gradient's and the gradient difference's averages (default
    /// (0.98, 0.92)).
    pub betas: (f64, f64),
    /// β3, the decay of the squared term's average (default 0.99).
    pub b3: f64,
    /// ε added to the denominator (default 1e-8).
    pub eps: f64,
    /// ε added inside the square root (default 1e-8).
    pub eps_root: f64,
    /// λ of the decayed weights added to the update (default 0).
    pub weight_decay: f64,
}

crate::fields!(AdanConfig { lr, betas, b3, eps, eps_root, weight_decay });

impl Default for AdanConfig {
    fn default() -> Self {
        AdanConfig { lr: 1e-3, betas: (0.98, 0.92), b3: 0.99, eps: 1e-8, eps_root: 1e-8, weight_decay: 0.0 }
    }
}

crate::persist_fields!(AdanConfig {
    lr: f64, betas.0: f64, betas.1: f64, b3: f64, eps: f64, eps_root: f64, weight_decay: f64
});

/// Adan owning its state for `N` parameters (4 × N values).
pub type Adan<F, const N: usize> = Optim<AdanConfig, F, [[F; N]; 4]>;
/// Adan over a caller-provided buffer (4 × n values).
pub type AdanView<'a, F> = Optim<AdanConfig, F, &'a mut [F]>;

/// Per-step scalars of Adan, computed once in `f64` and rounded.
struct Step<F> {
    first: bool,
    b1: F,
    one_minus_b1: F,
    b2: F,
    one_minus_b2: F,
    b3: F,
    one_minus_b3: F,
    bc1: F,
    bc2: F,
    bc3: F,
    eps: F,
    eps_root: F,
    wd: F,
    neg_lr: F,
}

impl AdanConfig {
    fn scalars<F: Real>(&self, t: u64) -> Step<F> {
        let c = F::from_f64;
        let (b1, b2) = self.betas;
        Step {
            first: t <= 1,
            b1: c(b1),
            one_minus_b1: c(1.0 - b1),
            b2: c(b2),
            one_minus_b2: c(1.0 - b2),
            b3: c(self.b3),
            one_minus_b3: c(1.0 - self.b3),
            bc1: c(1.0 - pow_step(b1, t)),
            bc2: c(1.0 - pow_step(b2, t)),
            bc3: c(1.0 - pow_step(self.b3, t)),
            eps: c(self.eps),
            eps_root: c(self.eps_root),
            wd: c(self.weight_decay),
            neg_lr: c(-self.lr),
        }
    }
}

impl<F: Real> Step<F> {
    #[inline(always)]
    fn apply(&self, p: &mut F, g: F, m: &mut F, v: &mut F, n: &mut F, prev: &mut F) {
        let d = if self.first { F::ZERO } else { g - *prev };
        *m = self.one_minus_b1 * g + self.b1 * *m;
        *v = self.one_minus_b2 * d + self.b2 * *v;
        let sq = g + self.one_minus_b2 * d;
        *n = self.one_minus_b3 * (sq * sq) + self.b3 * *n;
        let u = *m / self.bc1 + self.one_minus_b2 * (*v / self.bc2);
        let u = u / ((*n / self.bc3 + self.eps_root).sqrt() + self.eps) + self.wd * *p;
        *p = *p + self.neg_lr * u;
        *prev = g;
    }
}

impl UpdateRule for AdanConfig {
    type Scalars = ();
    const NAME: &'static str = "adan";
    const ID: u8 = 21;

    fn validate(&self) -> Result<(), Error> {
        check_ge("lr", self.lr, 0.0)?;
        check_ge("eps", self.eps, 0.0)?;
        check_ge("eps_root", self.eps_root, 0.0)?;
        check_range_open("betas[0]", self.betas.0, 0.0, 1.0)?;
        check_range_open("betas[1]", self.betas.1, 0.0, 1.0)?;
        check_range_open("b3", self.b3, 0.0, 1.0)?;
        check_ge("weight_decay", self.weight_decay, 0.0)
    }
    fn state_len(&self, n: usize) -> usize {
        4 * n
    }
    lr_and_betas_momentum!();

    elementwise_kernel!(4, zip4; m, v, n, prev);

    fn reference<F: Real>(&self, _: &mut (), t: u64, p: &mut [F], g: &[F], state: &mut [F], _: &mut [F]) {
        let len = p.len().min(g.len());
        if state.len() < 4 * len {
            return;
        }
        let c = F::from_f64;
        let (b1, b2) = self.betas;
        let (m, rest) = state.split_at_mut(len);
        let (v, rest) = rest.split_at_mut(len);
        let (n, prev) = rest.split_at_mut(len);
        for i in 0..len {
            let diff = if t <= 1 { F::ZERO } else { g[i] - prev[i] };
            m[i] = c(1.0 - b1) * g[i] + c(b1) * m[i];
            v[i] = c(1.0 - b2) * diff + c(b2) * v[i];
            let sq = g[i] + c(1.0 - b2) * diff;
            n[i] = c(1.0 - self.b3) * (sq * sq) + c(self.b3) * n[i];
            let m_hat = m[i] / c(1.0 - pow_step(b1, t));
            let v_hat = v[i] / c(1.0 - pow_step(b2, t));
            let n_hat = n[i] / c(1.0 - pow_step(self.b3, t));
            let update = (m_hat + c(1.0 - b2) * v_hat) / ((n_hat + c(self.eps_root)).sqrt() + c(self.eps));
            let update = update + c(self.weight_decay) * p[i];
            p[i] = p[i] + c(-self.lr) * update;
            prev[i] = g[i];
        }
    }
}
