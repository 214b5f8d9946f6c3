//! Stochastic gradient descent with momentum, dampening and Nesterov (`torch.optim.SGD`).
//!
//! ```text
//! g ← −g if maximize;  g ← g + λθ
//! b ← g on the first step, then b ← μb + (1 − τ)g        (if μ ≠ 0)
//! d ← g + μb (nesterov)  or  b  (or g if μ = 0)
//! θ ← θ − γd
//! ```
//! Source: `torch/optim/sgd.py::_single_tensor_sgd`; Sutskever et al. 2013 for Nesterov in this form.
//!
//! State per parameter: 0 values without momentum, 1 with (the momentum buffer b).
//!
//! Differs elsewhere: optax's `trace` starts b at 0 (equal to PyTorch when τ = 0); Keras keeps γ
//! inside the buffer (v ← μv − γg), which differs as soon as γ changes; burn defaults to μ = 0.9,
//! τ = 0.1.

use super::ops::{add_alpha, directed};
use super::{Optim, UpdateRule};
use crate::error::{Error, check_ge};
use crate::real::Real;

/// Hyperparameters of SGD, with PyTorch's names and defaults.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct SgdConfig {
    /// Learning rate γ (default 1e-3).
    pub lr: f64,
    /// Momentum μ (default 0).
    pub momentum: f64,
    /// Dampening τ (default 0).
    pub dampening: f64,
    /// L2 penalty λ (default 0).
    pub weight_decay: f64,
    /// Nesterov momentum (default false; needs μ > 0 and τ = 0).
    pub nesterov: bool,
    /// Maximize instead of minimize (default false).
    pub maximize: bool,
}

crate::fields!(SgdConfig { lr, momentum, dampening, weight_decay, nesterov, maximize });

impl Default for SgdConfig {
    fn default() -> Self {
        SgdConfig {
            lr: 1e-3,
            momentum: 0.0,
            dampening: 0.0,
            weight_decay: 0.0,
            nesterov: false,
            maximize: false,
        }
    }
}

crate::persist_fields!(SgdConfig {
    lr: f64,
    momentum: f64,
    dampening: f64,
    weight_decay: f64,
    nesterov: bool,
    maximize: bool
});

/// Scalar state of SGD.
#[derive(Debug, Clone, Copy, Default, PartialEq)]
pub struct SgdScalars {
    /// Whether the momentum buffer holds a value (PyTorch's `momentum_buffer is not None`).
    pub buffer_ready: bool,
}

crate::persist_fields!(SgdScalars { buffer_ready: bool });

/// Plain SGD (no momentum) for `N` parameters: no state at all.
pub type Sgd<F, const N: usize> = Optim<SgdConfig, F, [[F; N]; 0]>;
/// SGD with momentum owning its buffer for `N` parameters (N values).
pub type SgdMomentum<F, const N: usize> = Optim<SgdConfig, F, [[F; N]; 1]>;
/// SGD over a caller-provided buffer (n values with momentum, none without).
pub type SgdView<'a, F> = Optim<SgdConfig, F, &'a mut [F]>;

struct Step<F> {
    maximize: bool,
    wd: F,
    momentum: F,
    one_minus_dampening: F,
    first: bool,
    nesterov: bool,
    neg_lr: F,
}

impl<F: Real> Step<F> {
    #[inline(always)]
    fn grad(&self, p: F, g: F) -> F {
        let g = directed(g, self.maximize);
        if self.wd != F::ZERO { add_alpha(g, self.wd, p) } else { g }
    }
    #[inline(always)]
    fn with_momentum(&self, p: &mut F, g: F, b: &mut F) {
        let g = self.grad(*p, g);
        *b = if self.first { g } else { add_alpha(*b * self.momentum, self.one_minus_dampening, g) };
        let d = if self.nesterov { add_alpha(g, self.momentum, *b) } else { *b };
        *p = add_alpha(*p, self.neg_lr, d);
    }
}

impl UpdateRule for SgdConfig {
    type Scalars = SgdScalars;
    const NAME: &'static str = "sgd";
    const ID: u8 = 1;

    fn validate(&self) -> Result<(), Error> {
        check_ge("lr", self.lr, 0.0)?;
        check_ge("momentum", self.momentum, 0.0)?;
        check_ge("weight_decay", self.weight_decay, 0.0)?;
        if self.nesterov && (self.momentum <= 0.0 || self.dampening != 0.0) {
            return Err(Error::InvalidCombination {
                message: "Nesterov momentum requires a momentum and zero dampening",
            });
        }
        Ok(())
    }

    fn state_len(&self, n: usize) -> usize {
        if self.momentum != 0.0 { n } else { 0 }
    }

    fn lr(&self) -> f64 {
        self.lr
    }
    fn put_lr(&mut self, lr: f64) {
        self.lr = lr;
    }
    fn momentum(&self) -> Option<f64> {
        Some(self.momentum)
    }
    fn put_momentum(&mut self, m: f64) -> bool {
        self.momentum = m;
        true
    }

    #[inline(always)]
    fn kernel<F: Real, const L: usize>(
        &self,
        sc: &mut SgdScalars,
        _t: u64,
        p: &mut [F],
        g: &[F],
        state: &mut [F],
        _: &mut [F],
    ) {
        let s = Step {
            maximize: self.maximize,
            wd: F::from_f64(self.weight_decay),
            momentum: F::from_f64(self.momentum),
            one_minus_dampening: F::from_f64(1.0 - self.dampening),
            first: !sc.buffer_ready,
            nesterov: self.nesterov,
            neg_lr: F::from_f64(-self.lr),
        };
        if self.momentum != 0.0 {
            let [b] = streams!(state, p.len(); 1);
            crate::lanes::zip1::<F, L>(p, g, b, |p, g, b| s.with_momentum(p, g, b));
            sc.buffer_ready = true;
        } else {
            crate::lanes::zip0::<F, L>(p, g, |p, g| *p = add_alpha(*p, s.neg_lr, s.grad(*p, g)));
        }
    }

    fn reference<F: Real>(
        &self,
        sc: &mut SgdScalars,
        _t: u64,
        p: &mut [F],
        g: &[F],
        state: &mut [F],
        _: &mut [F],
    ) {
        let c = F::from_f64;
        let use_momentum = self.momentum != 0.0;
        let n = p.len().min(g.len());
        if use_momentum && state.len() < n {
            return;
        }
        for i in 0..n {
            let mut grad = if self.maximize { -g[i] } else { g[i] };
            if self.weight_decay != 0.0 {
                grad = grad + c(self.weight_decay) * p[i];
            }
            if use_momentum {
                let buf = &mut state[i];
                if sc.buffer_ready {
                    *buf = *buf * c(self.momentum) + c(1.0 - self.dampening) * grad;
                } else {
                    *buf = grad;
                }
                grad = if self.nesterov { grad + c(self.momentum) * *buf } else { *buf };
            }
            p[i] = p[i] + c(-self.lr) * grad;
        }
        if use_momentum {
            sc.buffer_ready = true;
        }
    }
}
