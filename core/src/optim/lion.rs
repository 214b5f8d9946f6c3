//! Lion, evolved sign momentum (not in `torch.optim`: follows optax's `lion` and the paper).
//!
//! ```text
//! g ← −g if maximize
//! c ← (1 − β1)g + β1·m
//! θ ← θ − γ(sign(c) + λθ)          sign(0) = 0, as jnp.sign
//! m ← (1 − β2)g + β2·m
//! ```
//! Source: optax `scale_by_lion` + `add_decayed_weights` + `scale_by_learning_rate`
//! (`optax/_src/transform.py`, `alias.py::lion`); Chen et al. 2023, "Symbolic Discovery of
//! Optimization Algorithms", Algorithm 2.
//!
//! State per parameter: 1 value (m).
//!
//! Differs elsewhere: Keras applies decay through its base optimizer (default none). A naive Rust
//! port with `f32::signum` gets sign(0) = 1 and moves parameters whose gradient is exactly zero.

use super::ops::directed;
use super::{Optim, UpdateRule};
use crate::error::{Error, check_ge, check_range_open};
use crate::real::Real;

/// Hyperparameters of Lion, with optax's defaults and PyTorch-style names.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct LionConfig {
    /// Learning rate γ (default 1e-4, the paper's suggestion; optax has no default).
    pub lr: f64,
    /// (β1, β2): interpolation for the update and decay of the momentum (default (0.9, 0.99)).
    pub betas: (f64, f64),
    /// Decoupled weight decay λ, applied as γλθ (default 1e-3, optax's).
    pub weight_decay: f64,
    /// Maximize instead of minimize (default false).
    pub maximize: bool,
}

crate::fields!(LionConfig { lr, betas, weight_decay, maximize });

impl Default for LionConfig {
    fn default() -> Self {
        LionConfig { lr: 1e-4, betas: (0.9, 0.99), weight_decay: 1e-3, maximize: false }
    }
}

crate::persist_fields!(LionConfig { lr: f64, betas.0: f64, betas.1: f64, weight_decay: f64, maximize: bool });

/// Lion owning its state for `N` parameters (N values).
pub type Lion<F, const N: usize> = Optim<LionConfig, F, [[F; N]; 1]>;
/// Lion over a caller-provided buffer (n values).
pub type LionView<'a, F> = Optim<LionConfig, F, &'a mut [F]>;

impl UpdateRule for LionConfig {
    type Scalars = ();
    const NAME: &'static str = "lion";
    const ID: u8 = 13;

    fn validate(&self) -> Result<(), Error> {
        check_ge("lr", self.lr, 0.0)?;
        check_range_open("betas[0]", self.betas.0, 0.0, 1.0)?;
        check_range_open("betas[1]", self.betas.1, 0.0, 1.0)?;
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
    fn momentum(&self) -> Option<f64> {
        Some(self.betas.0)
    }
    fn put_momentum(&mut self, m: f64) -> bool {
        self.betas.0 = m;
        true
    }

    #[inline(always)]
    fn kernel<F: Real, const L: usize>(
        &self,
        _: &mut (),
        _t: u64,
        p: &mut [F],
        g: &[F],
        state: &mut [F],
        _: &mut [F],
    ) {
        let c = F::from_f64;
        let (max, b1, omb1, b2, omb2, wd, neg_lr) = (
            self.maximize,
            c(self.betas.0),
            c(1.0 - self.betas.0),
            c(self.betas.1),
            c(1.0 - self.betas.1),
            c(self.weight_decay),
            c(-self.lr),
        );
        let [m] = streams!(state, p.len(); 1);
        crate::lanes::zip1::<F, L>(p, g, m, |p, g, m| {
            let g = directed(g, max);
            let u = (omb1 * g + b1 * *m).sign0() + wd * *p;
            *p = *p + neg_lr * u;
            *m = omb2 * g + b2 * *m;
        });
    }

    fn reference<F: Real>(&self, _: &mut (), _t: u64, p: &mut [F], g: &[F], state: &mut [F], _: &mut [F]) {
        let c = F::from_f64;
        let (beta1, beta2) = self.betas;
        for i in 0..p.len().min(g.len()).min(state.len()) {
            let grad = if self.maximize { -g[i] } else { g[i] };
            let interpolated = c(1.0 - beta1) * grad + c(beta1) * state[i];
            let update = interpolated.sign0() + c(self.weight_decay) * p[i];
            p[i] = p[i] + c(-self.lr) * update;
            state[i] = c(1.0 - beta2) * grad + c(beta2) * state[i];
        }
    }
}
