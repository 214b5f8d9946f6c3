//! Adadelta (`torch.optim.Adadelta`).
//!
//! ```text
//! g ← −g if maximize;  g ← g + λθ
//! v ← ρv + (1 − ρ)g²
//! Δ ← √(u + ε) / √(v + ε) · g
//! u ← ρu + (1 − ρ)Δ²
//! θ ← θ − γΔ
//! ```
//! Source: `torch/optim/adadelta.py::_single_tensor_adadelta`; Zeiler 2012.
//!
//! State per parameter: 2 values (v, u).

use super::ops::{add_alpha, addcmul, directed};
use super::{Optim, UpdateRule};
use crate::error::{Error, check_ge};
use crate::real::Real;

/// Hyperparameters of Adadelta, with PyTorch's names and defaults.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct AdadeltaConfig {
    /// Learning rate γ, a scale on Δ (default 1.0).
    pub lr: f64,
    /// ρ, the decay of both running averages (default 0.9).
    pub rho: f64,
    /// ε inside both square roots (default 1e-6).
    pub eps: f64,
    /// L2 penalty λ (default 0).
    pub weight_decay: f64,
    /// Maximize instead of minimize (default false).
    pub maximize: bool,
}

crate::fields!(AdadeltaConfig { lr, rho, eps, weight_decay, maximize });

impl Default for AdadeltaConfig {
    fn default() -> Self {
        AdadeltaConfig { lr: 1.0, rho: 0.9, eps: 1e-6, weight_decay: 0.0, maximize: false }
    }
}

crate::persist_fields!(AdadeltaConfig { lr: f64, rho: f64, eps: f64, weight_decay: f64, maximize: bool });

/// Adadelta owning its state for `N` parameters (2 × N values).
pub type Adadelta<F, const N: usize> = Optim<AdadeltaConfig, F, [[F; N]; 2]>;
/// Adadelta over a caller-provided buffer (2 × n values).
pub type AdadeltaView<'a, F> = Optim<AdadeltaConfig, F, &'a mut [F]>;

impl UpdateRule for AdadeltaConfig {
    type Scalars = ();
    const NAME: &'static str = "adadelta";
    const ID: u8 = 9;

    fn validate(&self) -> Result<(), Error> {
        check_ge("lr", self.lr, 0.0)?;
        if !(self.rho >= 0.0 && self.rho <= 1.0) {
            return Err(Error::InvalidHyperparameter { name: "rho", value: self.rho });
        }
        check_ge("eps", self.eps, 0.0)?;
        check_ge("weight_decay", self.weight_decay, 0.0)
    }
    fn state_len(&self, n: usize) -> usize {
        2 * n
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
        _: &mut (),
        _t: u64,
        p: &mut [F],
        g: &[F],
        state: &mut [F],
        _: &mut [F],
    ) {
        let c = F::from_f64;
        let (max, wd, rho, one_minus_rho, eps, neg_lr) =
            (self.maximize, c(self.weight_decay), c(self.rho), c(1.0 - self.rho), c(self.eps), c(-self.lr));
        let [v, u] = streams!(state, p.len(); 2);
        crate::lanes::zip2::<F, L>(p, g, v, u, |p, g, v, u| {
            let mut g = directed(g, max);
            if wd != F::ZERO {
                g = add_alpha(g, wd, *p);
            }
            *v = addcmul(*v * rho, one_minus_rho, g, g);
            let std = (*v + eps).sqrt();
            let delta = (*u + eps).sqrt() / std * g;
            *u = addcmul(*u * rho, one_minus_rho, delta, delta);
            *p = add_alpha(*p, neg_lr, delta);
        });
    }

    fn reference<F: Real>(&self, _: &mut (), _t: u64, p: &mut [F], g: &[F], state: &mut [F], _: &mut [F]) {
        let c = F::from_f64;
        let n = p.len().min(g.len());
        if state.len() < 2 * n {
            return;
        }
        let (square_avg, acc_delta) = state.split_at_mut(n);
        for i in 0..n {
            let mut grad = if self.maximize { -g[i] } else { g[i] };
            if self.weight_decay != 0.0 {
                grad = grad + c(self.weight_decay) * p[i];
            }
            square_avg[i] = square_avg[i] * c(self.rho) + c(1.0 - self.rho) * grad * grad;
            let std = (square_avg[i] + c(self.eps)).sqrt();
            let delta = (acc_delta[i] + c(self.eps)).sqrt() / std * grad;
            acc_delta[i] = acc_delta[i] * c(self.rho) + c(1.0 - self.rho) * delta * delta;
            p[i] = p[i] + c(-self.lr) * delta;
        }
    }
}
