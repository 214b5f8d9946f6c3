//! RAdam, rectified Adam (`torch.optim.RAdam`).
//!
//! ```text
//! g ← −g if maximize;  g ← g + λθ (L2)  or  θ ← θ(1 − γλ) (decoupled_weight_decay)
//! m ← lerp(m, g, 1 − β1);  v ← β2·v + (1 − β2)g²;  m̂ = m/(1 − β1^t)
//! ρ∞ = 2/(1 − β2) − 1;  ρ_t = ρ∞ − 2tβ2^t/(1 − β2^t)
//! if ρ_t > 5:  r = √((ρ_t−4)(ρ_t−2)ρ∞ / ((ρ∞−4)(ρ∞−2)ρ_t));  θ ← θ − m̂·γ·(√(1−β2^t)/(√v + ε))·r
//! else:        θ ← θ − m̂·γ
//! ```
//! Source: `torch/optim/radam.py::_single_tensor_radam`; Liu et al. 2020.
//!
//! State per parameter: 2 values (m, v).
//!
//! Differs elsewhere: optax rectifies when ρ_t ≥ 5 and puts ε on the corrected √v̂; the paper's
//! algorithm uses ρ_t > 4.

use super::ops::{Lerp, add_alpha, addcmul, directed};
use super::{Optim, UpdateRule};
use crate::error::{Error, check_ge, check_range_open};
use crate::power::BetaPowers;
use crate::real::{Real, pow_step};

/// PyTorch's rectification threshold: rectify when ρ_t > 5.
pub const PYTORCH_RHO_THRESHOLD: f64 = 5.0;

/// Hyperparameters of RAdam, with PyTorch's names and defaults.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct RadamConfig {
    /// Learning rate γ (default 1e-3).
    pub lr: f64,
    /// (β1, β2) (default (0.9, 0.999)).
    pub betas: (f64, f64),
    /// ε (default 1e-8).
    pub eps: f64,
    /// λ (default 0).
    pub weight_decay: f64,
    /// Decoupled weight decay as in AdamW (default false).
    pub decoupled_weight_decay: bool,
    /// Maximize instead of minimize (default false).
    pub maximize: bool,
}

crate::fields!(RadamConfig { lr, betas, eps, weight_decay, decoupled_weight_decay, maximize });

impl Default for RadamConfig {
    fn default() -> Self {
        RadamConfig {
            lr: 1e-3,
            betas: (0.9, 0.999),
            eps: 1e-8,
            weight_decay: 0.0,
            decoupled_weight_decay: false,
            maximize: false,
        }
    }
}

crate::persist_fields!(RadamConfig { lr: f64, betas.0: f64, betas.1: f64, eps: f64, weight_decay: f64, decoupled_weight_decay: bool, maximize: bool });

/// RAdam owning its state for `N` parameters (2 × N values).
pub type Radam<F, const N: usize> = Optim<RadamConfig, F, [[F; N]; 2]>;
/// RAdam over a caller-provided buffer (2 × n values).
pub type RadamView<'a, F> = Optim<RadamConfig, F, &'a mut [F]>;

/// (1 − β1^t, 1 − β2^t, the rectification r if ρ_t > 5).
fn coefficients(c: &RadamConfig, powers: &mut BetaPowers, t: u64) -> (f64, f64, Option<f64>) {
    let (b1, b2) = c.betas;
    let bc1 = 1.0 - powers.b1.at(b1, t);
    let b2t = powers.b2.at(b2, t);
    let bc2 = 1.0 - b2t;
    let rho_inf = 2.0 / (1.0 - b2) - 1.0;
    let rho_t = rho_inf - 2.0 * t as f64 * b2t / bc2;
    let rect = (rho_t > PYTORCH_RHO_THRESHOLD).then(|| {
        libm::sqrt((rho_t - 4.0) * (rho_t - 2.0) * rho_inf / ((rho_inf - 4.0) * (rho_inf - 2.0) * rho_t))
    });
    (bc1, bc2, rect)
}

impl UpdateRule for RadamConfig {
    type Scalars = BetaPowers;
    const NAME: &'static str = "radam";
    const ID: u8 = 8;

    fn validate(&self) -> Result<(), Error> {
        check_ge("lr", self.lr, 0.0)?;
        check_ge("eps", self.eps, 0.0)?;
        check_range_open("betas[0]", self.betas.0, 0.0, 1.0)?;
        check_range_open("betas[1]", self.betas.1, 0.0, 1.0)?;
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
        powers: &mut BetaPowers,
        t: u64,
        p: &mut [F],
        g: &[F],
        state: &mut [F],
        _: &mut [F],
    ) {
        let c = F::from_f64;
        let (bc1, bc2, rect) = coefficients(self, powers, t);
        let decoupled = self.weight_decay != 0.0 && self.decoupled_weight_decay;
        let decay = c(1.0 - self.lr * self.weight_decay);
        let wd = c(if decoupled { 0.0 } else { self.weight_decay });
        let (max, b2, one_minus_b2, bc1, lr, eps) =
            (self.maximize, c(self.betas.1), c(1.0 - self.betas.1), c(bc1), c(self.lr), c(self.eps));
        let (bc2_sqrt, rect_f) = (c(libm::sqrt(bc2)), rect.map(c));
        let m_w = Lerp::<F>::new(1.0 - self.betas.0);
        let [m, v] = streams!(state, p.len(); 2);
        crate::lanes::zip2::<F, L>(p, g, m, v, |p, g, m, v| {
            let mut g = directed(g, max);
            if decoupled {
                *p = *p * decay;
            } else if wd != F::ZERO {
                g = add_alpha(g, wd, *p);
            }
            *m = m_w.apply(*m, g);
            *v = addcmul(*v * b2, one_minus_b2, g, g);
            let corrected = *m / bc1;
            let upd = match rect_f {
                Some(r) => corrected * lr * (bc2_sqrt / (v.sqrt() + eps)) * r,
                None => corrected * lr,
            };
            *p = add_alpha(*p, -F::ONE, upd);
        });
    }

    fn reference<F: Real>(
        &self,
        _: &mut BetaPowers,
        t: u64,
        p: &mut [F],
        g: &[F],
        state: &mut [F],
        _: &mut [F],
    ) {
        let c = F::from_f64;
        let n = p.len().min(g.len());
        if state.len() < 2 * n {
            return;
        }
        let (beta1, beta2) = self.betas;
        let bias_correction1 = 1.0 - pow_step(beta1, t);
        let bias_correction2 = 1.0 - pow_step(beta2, t);
        let rho_inf = 2.0 / (1.0 - beta2) - 1.0;
        let rho_t = rho_inf - 2.0 * t as f64 * pow_step(beta2, t) / bias_correction2;
        let (exp_avg, exp_avg_sq) = state.split_at_mut(n);
        let weight = Lerp::<F>::new(1.0 - beta1);
        for i in 0..n {
            let mut grad = if self.maximize { -g[i] } else { g[i] };
            if self.weight_decay != 0.0 {
                if self.decoupled_weight_decay {
                    p[i] = p[i] * c(1.0 - self.lr * self.weight_decay);
                } else {
                    grad = grad + c(self.weight_decay) * p[i];
                }
            }
            exp_avg[i] = weight.apply(exp_avg[i], grad);
            exp_avg_sq[i] = exp_avg_sq[i] * c(beta2) + c(1.0 - beta2) * grad * grad;
            let bias_corrected_exp_avg = exp_avg[i] / c(bias_correction1);
            let update = if rho_t > 5.0 {
                let rect = libm::sqrt(
                    (rho_t - 4.0) * (rho_t - 2.0) * rho_inf / ((rho_inf - 4.0) * (rho_inf - 2.0) * rho_t),
                );
                let adaptive_lr = c(libm::sqrt(bias_correction2)) / (exp_avg_sq[i].sqrt() + c(self.eps));
                bias_corrected_exp_avg * c(self.lr) * adaptive_lr * c(rect)
            } else {
                bias_corrected_exp_avg * c(self.lr)
            };
            p[i] = p[i] + -F::ONE * update;
        }
    }
}
