//! Adamax, Adam with the infinity norm (`torch.optim.Adamax`).
//!
//! ```text
//! g ← −g if maximize;  g ← g + λθ
//! m ← lerp(m, g, 1 − β1)
//! u ← max(β2·u, |g| + ε)          (NaN-propagating max, as torch.maximum)
//! θ ← θ − (γ / (1 − β1^t)) · m / u
//! ```
//! Source: `torch/optim/adamax.py::_single_tensor_adamax`; Kingma & Ba 2015, §7.
//!
//! State per parameter: 2 values (m, u).
//!
//! Differs elsewhere: Keras takes max(β2·u, |g|) and adds ε outside the max.

use super::ops::{Lerp, add_alpha, addcdiv, directed};
use super::{Optim, UpdateRule};
use crate::error::{Error, check_ge, check_range_open};
use crate::power::BetaPowers;
use crate::real::{Real, pow_step};

/// Hyperparameters of Adamax, with PyTorch's names and defaults.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct AdamaxConfig {
    /// Learning rate γ (default 2e-3).
    pub lr: f64,
    /// (β1, β2) (default (0.9, 0.999)).
    pub betas: (f64, f64),
    /// ε added to |g| (default 1e-8).
    pub eps: f64,
    /// L2 penalty λ (default 0).
    pub weight_decay: f64,
    /// Maximize instead of minimize (default false).
    pub maximize: bool,
}

crate::fields!(AdamaxConfig { lr, betas, eps, weight_decay, maximize });

impl Default for AdamaxConfig {
    fn default() -> Self {
        AdamaxConfig { lr: 2e-3, betas: (0.9, 0.999), eps: 1e-8, weight_decay: 0.0, maximize: false }
    }
}

crate::persist_fields!(AdamaxConfig { lr: f64, betas.0: f64, betas.1: f64, eps: f64, weight_decay: f64, maximize: bool });

/// Adamax owning its state for `N` parameters (2 × N values).
pub type Adamax<F, const N: usize> = Optim<AdamaxConfig, F, [[F; N]; 2]>;
/// Adamax over a caller-provided buffer (2 × n values).
pub type AdamaxView<'a, F> = Optim<AdamaxConfig, F, &'a mut [F]>;

impl UpdateRule for AdamaxConfig {
    type Scalars = BetaPowers;
    const NAME: &'static str = "adamax";
    const ID: u8 = 6;

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
        let clr = self.lr / (1.0 - powers.b1.at(self.betas.0, t));
        let (max, wd, b2, eps, neg_clr) =
            (self.maximize, c(self.weight_decay), c(self.betas.1), c(self.eps), c(-clr));
        let m_w = Lerp::<F>::new(1.0 - self.betas.0);
        let [m, u] = streams!(state, p.len(); 2);
        crate::lanes::zip2::<F, L>(p, g, m, u, |p, g, m, u| {
            let mut g = directed(g, max);
            if wd != F::ZERO {
                g = add_alpha(g, wd, *p);
            }
            *m = m_w.apply(*m, g);
            *u = (*u * b2).max_nan(g.abs_() + eps);
            *p = addcdiv(*p, neg_clr, *m, *u);
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
        let (exp_avg, exp_inf) = state.split_at_mut(n);
        let bias_correction = 1.0 - pow_step(self.betas.0, t);
        let clr = self.lr / bias_correction;
        let weight = Lerp::<F>::new(1.0 - self.betas.0);
        for i in 0..n {
            let mut grad = if self.maximize { -g[i] } else { g[i] };
            if self.weight_decay != 0.0 {
                grad = grad + c(self.weight_decay) * p[i];
            }
            exp_avg[i] = weight.apply(exp_avg[i], grad);
            exp_inf[i] = (exp_inf[i] * c(self.betas.1)).max_nan(grad.abs_() + c(self.eps));
            p[i] = p[i] + c(-clr) * (exp_avg[i] / exp_inf[i]);
        }
    }
}
