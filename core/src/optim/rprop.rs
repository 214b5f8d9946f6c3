//! Rprop, resilient backpropagation (`torch.optim.Rprop`).
//!
//! ```text
//! g ← −g if maximize
//! s ← sign(g·g_prev);  η ← η+ if s > 0,  η− if s < 0,  1 if s = 0
//! Δ ← clamp(Δ·η, Δ_min, Δ_max)                     (Δ starts at γ on the first step)
//! g ← 0 where s < 0                                  (and that g is remembered as g_prev)
//! θ ← θ − sign(g)·Δ;  g_prev ← g
//! ```
//! Source: `torch/optim/rprop.py::_single_tensor_rprop`; Riedmiller & Braun 1993. PyTorch's Rprop
//! has no weight decay.
//!
//! State per parameter: 2 values (g_prev, Δ).

use super::ops::directed;
use super::{Optim, UpdateRule};
use crate::error::{Error, check_ge};
use crate::real::Real;

/// Hyperparameters of Rprop, with PyTorch's names and defaults.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct RpropConfig {
    /// Learning rate γ: the initial step size (default 1e-2).
    pub lr: f64,
    /// (η−, η+), the multiplicative decrease and increase (default (0.5, 1.2)).
    pub etas: (f64, f64),
    /// (Δ_min, Δ_max), the allowed step sizes (default (1e-6, 50)).
    pub step_sizes: (f64, f64),
    /// Maximize instead of minimize (default false).
    pub maximize: bool,
}

crate::fields!(RpropConfig { lr, etas, step_sizes, maximize });

impl Default for RpropConfig {
    fn default() -> Self {
        RpropConfig { lr: 1e-2, etas: (0.5, 1.2), step_sizes: (1e-6, 50.0), maximize: false }
    }
}

crate::persist_fields!(RpropConfig { lr: f64, etas.0: f64, etas.1: f64, step_sizes.0: f64, step_sizes.1: f64, maximize: bool });

/// Rprop owning its state for `N` parameters (2 × N values).
pub type Rprop<F, const N: usize> = Optim<RpropConfig, F, [[F; N]; 2]>;
/// Rprop over a caller-provided buffer (2 × n values).
pub type RpropView<'a, F> = Optim<RpropConfig, F, &'a mut [F]>;

/// `clamp(x, lo, hi)` as `torch.clamp`: NaN stays NaN.
#[inline(always)]
fn clamp<F: Real>(x: F, lo: F, hi: F) -> F {
    if x < lo {
        lo
    } else if x > hi {
        hi
    } else {
        x
    }
}

impl UpdateRule for RpropConfig {
    type Scalars = ();
    const NAME: &'static str = "rprop";
    const ID: u8 = 11;

    fn validate(&self) -> Result<(), Error> {
        check_ge("lr", self.lr, 0.0)?;
        let (lo, hi) = self.etas;
        if !(0.0 < lo && lo < 1.0 && 1.0 < hi) {
            return Err(Error::InvalidPair { name: "etas", values: (lo, hi) });
        }
        Ok(())
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
        t: u64,
        p: &mut [F],
        g: &[F],
        state: &mut [F],
        _: &mut [F],
    ) {
        let c = F::from_f64;
        let (max, etaminus, etaplus, lo, hi) =
            (self.maximize, c(self.etas.0), c(self.etas.1), c(self.step_sizes.0), c(self.step_sizes.1));
        let first = t == 1;
        let lr = c(self.lr);
        let [prev, step] = streams!(state, p.len(); 2);
        crate::lanes::zip2::<F, L>(p, g, prev, step, |p, g, prev, step| {
            let mut g = directed(g, max);
            if first {
                *prev = F::ZERO;
                *step = lr;
            }
            let s = (g * *prev).sign0();
            let factor = if s > F::ZERO {
                etaplus
            } else if s < F::ZERO {
                etaminus
            } else if s == F::ZERO {
                F::ONE
            } else {
                s
            };
            *step = clamp(*step * factor, lo, hi);
            if factor == etaminus {
                g = F::ZERO;
            }
            *p = *p + -F::ONE * g.sign0() * *step;
            *prev = g;
        });
    }

    fn reference<F: Real>(&self, _: &mut (), t: u64, p: &mut [F], g: &[F], state: &mut [F], _: &mut [F]) {
        let c = F::from_f64;
        let n = p.len().min(g.len());
        if state.len() < 2 * n {
            return;
        }
        let (prev, step_size) = state.split_at_mut(n);
        if t == 1 {
            prev.fill(F::ZERO);
            step_size.iter_mut().for_each(|s| *s = c(self.lr));
        }
        for i in 0..n {
            let mut grad = if self.maximize { -g[i] } else { g[i] };
            let mut sign = (grad * prev[i]).sign0();
            if sign > F::ZERO {
                sign = c(self.etas.1);
            } else if sign < F::ZERO {
                sign = c(self.etas.0);
            } else if sign == F::ZERO {
                sign = F::ONE;
            }
            step_size[i] = clamp(step_size[i] * sign, c(self.step_sizes.0), c(self.step_sizes.1));
            if sign == c(self.etas.0) {
                grad = F::ZERO;
            }
            p[i] = p[i] + -F::ONE * grad.sign0() * step_size[i];
            prev[i] = grad;
        }
    }
}
