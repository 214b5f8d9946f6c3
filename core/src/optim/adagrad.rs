//! Adagrad (`torch.optim.Adagrad`).
//!
//! ```text
//! g ← −g if maximize;  g ← g + λθ
//! γ̃ ← γ / (1 + (t − 1)·lr_decay)
//! s ← s + g²                      (s₀ = initial_accumulator_value)
//! θ ← θ − γ̃ · g / (√s + ε)        (ε outside the square root)
//! ```
//! Source: `torch/optim/adagrad.py::_single_tensor_adagrad`; Duchi, Hazan & Singer 2011.
//!
//! State per parameter: 1 value (the sum of squares s).
//!
//! Differs elsewhere: optax and Keras start s at 0.1 and put ε = 1e-7 inside the square root;
//! neither has lr_decay.

use super::ops::{add_alpha, addcdiv, addcmul, directed};
use super::{Optim, UpdateRule};
use crate::error::{Error, check_ge};
use crate::real::Real;

/// Hyperparameters of Adagrad, with PyTorch's names and defaults.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct AdagradConfig {
    /// Learning rate γ (default 1e-2).
    pub lr: f64,
    /// Learning-rate decay per step (default 0).
    pub lr_decay: f64,
    /// L2 penalty λ (default 0).
    pub weight_decay: f64,
    /// Initial value of the sum of squares (default 0).
    pub initial_accumulator_value: f64,
    /// ε added to √s (default 1e-10).
    pub eps: f64,
    /// Maximize instead of minimize (default false).
    pub maximize: bool,
}

crate::fields!(AdagradConfig { lr, lr_decay, weight_decay, initial_accumulator_value, eps, maximize });

impl Default for AdagradConfig {
    fn default() -> Self {
        AdagradConfig {
            lr: 1e-2,
            lr_decay: 0.0,
            weight_decay: 0.0,
            initial_accumulator_value: 0.0,
            eps: 1e-10,
            maximize: false,
        }
    }
}

crate::persist_fields!(AdagradConfig {
    lr: f64,
    lr_decay: f64,
    weight_decay: f64,
    initial_accumulator_value: f64,
    eps: f64,
    maximize: bool
});

/// Adagrad owning its state for `N` parameters (N values).
pub type Adagrad<F, const N: usize> = Optim<AdagradConfig, F, [[F; N]; 1]>;
/// Adagrad over a caller-provided buffer (n values).
pub type AdagradView<'a, F> = Optim<AdagradConfig, F, &'a mut [F]>;

impl UpdateRule for AdagradConfig {
    type Scalars = ();
    const NAME: &'static str = "adagrad";
    const ID: u8 = 4;

    fn validate(&self) -> Result<(), Error> {
        check_ge("lr", self.lr, 0.0)?;
        check_ge("lr_decay", self.lr_decay, 0.0)?;
        check_ge("weight_decay", self.weight_decay, 0.0)?;
        check_ge("initial_accumulator_value", self.initial_accumulator_value, 0.0)?;
        check_ge("eps", self.eps, 0.0)
    }
    fn state_len(&self, n: usize) -> usize {
        n
    }
    fn init_state<F: Real>(&self, state: &mut [F]) {
        state.fill(F::from_f64(self.initial_accumulator_value));
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
        let clr = self.lr / (1.0 + (t - 1) as f64 * self.lr_decay);
        let (neg_clr, wd, eps, max) =
            (F::from_f64(-clr), F::from_f64(self.weight_decay), F::from_f64(self.eps), self.maximize);
        let [s] = streams!(state, p.len(); 1);
        crate::lanes::zip1::<F, L>(p, g, s, |p, g, s| {
            let mut g = directed(g, max);
            if wd != F::ZERO {
                g = add_alpha(g, wd, *p);
            }
            *s = addcmul(*s, F::ONE, g, g);
            let std = s.sqrt() + eps;
            *p = addcdiv(*p, neg_clr, g, std);
        });
    }

    fn reference<F: Real>(&self, _: &mut (), t: u64, p: &mut [F], g: &[F], state: &mut [F], _: &mut [F]) {
        let c = F::from_f64;
        let clr = self.lr / (1.0 + (t - 1) as f64 * self.lr_decay);
        for i in 0..p.len().min(g.len()).min(state.len()) {
            let mut grad = if self.maximize { -g[i] } else { g[i] };
            if self.weight_decay != 0.0 {
                grad = grad + c(self.weight_decay) * p[i];
            }
            state[i] = state[i] + F::ONE * grad * grad;
            let std = state[i].sqrt() + c(self.eps);
            p[i] = p[i] + c(-clr) * (grad / std);
        }
    }
}
