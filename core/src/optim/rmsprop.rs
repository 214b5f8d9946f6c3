//! RMSprop, plain or centered, with optional momentum (`torch.optim.RMSprop`).
//!
//! ```text
//! g ← −g if maximize;  g ← g + λθ
//! v ← αv + (1 − α)g²
//! centered: ḡ ← lerp(ḡ, g, 1 − α);  d ← √(v − ḡ²) + ε      else d ← √v + ε   (ε outside √)
//! momentum μ > 0: b ← μb + g/d;  θ ← θ − γb               else θ ← θ − γ·g/d
//! ```
//! Source: `torch/optim/rmsprop.py::_single_tensor_rmsprop`; Hinton's lecture 6e, Graves 2013
//! (centered).
//!
//! State per parameter: 1 value (v), +1 if centered (ḡ), +1 with momentum (b).
//!
//! Differs elsewhere: optax puts ε inside the square root by default (`eps_in_sqrt=True`) and keeps
//! lr-scaled updates in its momentum buffer, like Keras (ρ = 0.9, ε = 1e-7 inside √); dfdx starts
//! v at 1; burn defaults to momentum 0.9 and ε 1e-5.

use super::ops::{Lerp, add_alpha, addcdiv, addcmul, directed};
use super::{Optim, UpdateRule};
use crate::error::{Error, check_ge};
use crate::real::Real;

/// Hyperparameters of RMSprop, with PyTorch's names and defaults.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct RmspropConfig {
    /// Learning rate γ (default 1e-2).
    pub lr: f64,
    /// Smoothing constant α (default 0.99).
    pub alpha: f64,
    /// ε added to the root (default 1e-8).
    pub eps: f64,
    /// L2 penalty λ (default 0).
    pub weight_decay: f64,
    /// Momentum μ (default 0).
    pub momentum: f64,
    /// Normalize by the estimated variance instead of the second moment (default false).
    pub centered: bool,
    /// Maximize instead of minimize (default false).
    pub maximize: bool,
}

crate::fields!(RmspropConfig { lr, alpha, eps, weight_decay, momentum, centered, maximize });

impl Default for RmspropConfig {
    fn default() -> Self {
        RmspropConfig {
            lr: 1e-2,
            alpha: 0.99,
            eps: 1e-8,
            weight_decay: 0.0,
            momentum: 0.0,
            centered: false,
            maximize: false,
        }
    }
}

crate::persist_fields!(RmspropConfig {
    lr: f64,
    alpha: f64,
    eps: f64,
    weight_decay: f64,
    momentum: f64,
    centered: bool,
    maximize: bool
});

/// RMSprop (not centered, no momentum) owning its state for `N` parameters (N values).
pub type Rmsprop<F, const N: usize> = Optim<RmspropConfig, F, [[F; N]; 1]>;
/// RMSprop with room for centering and momentum (3 × N values).
pub type RmspropFull<F, const N: usize> = Optim<RmspropConfig, F, [[F; N]; 3]>;
/// RMSprop over a caller-provided buffer (n, 2n or 3n values).
pub type RmspropView<'a, F> = Optim<RmspropConfig, F, &'a mut [F]>;

struct Step<F> {
    maximize: bool,
    wd: F,
    alpha: F,
    one_minus_alpha: F,
    avg: Lerp<F>,
    eps: F,
    momentum: F,
    neg_lr: F,
}

impl<F: Real> Step<F> {
    /// Returns (g, d): the effective gradient and the denominator; updates v (and ḡ).
    #[inline(always)]
    fn denom(&self, p: F, g: F, v: &mut F, gavg: Option<&mut F>) -> (F, F) {
        let mut g = directed(g, self.maximize);
        if self.wd != F::ZERO {
            g = add_alpha(g, self.wd, p);
        }
        *v = addcmul(*v * self.alpha, self.one_minus_alpha, g, g);
        let avg = match gavg {
            Some(ga) => {
                *ga = self.avg.apply(*ga, g);
                addcmul(*v, -F::ONE, *ga, *ga).sqrt()
            }
            None => v.sqrt(),
        };
        (g, avg + self.eps)
    }
    #[inline(always)]
    fn finish(&self, p: &mut F, g: F, d: F, buf: Option<&mut F>) {
        match buf {
            Some(b) => {
                *b = addcdiv(*b * self.momentum, F::ONE, g, d);
                *p = add_alpha(*p, self.neg_lr, *b);
            }
            None => *p = addcdiv(*p, self.neg_lr, g, d),
        }
    }
}

impl UpdateRule for RmspropConfig {
    type Scalars = ();
    const NAME: &'static str = "rmsprop";
    const ID: u8 = 5;

    fn validate(&self) -> Result<(), Error> {
        check_ge("lr", self.lr, 0.0)?;
        check_ge("eps", self.eps, 0.0)?;
        check_ge("momentum", self.momentum, 0.0)?;
        check_ge("weight_decay", self.weight_decay, 0.0)?;
        check_ge("alpha", self.alpha, 0.0)
    }
    fn state_len(&self, n: usize) -> usize {
        n * (1 + usize::from(self.centered) + usize::from(self.momentum > 0.0))
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
        _: &mut (),
        _t: u64,
        p: &mut [F],
        g: &[F],
        state: &mut [F],
        _: &mut [F],
    ) {
        let c = F::from_f64;
        let s = Step {
            maximize: self.maximize,
            wd: c(self.weight_decay),
            alpha: c(self.alpha),
            one_minus_alpha: c(1.0 - self.alpha),
            avg: Lerp::new(1.0 - self.alpha),
            eps: c(self.eps),
            momentum: c(self.momentum),
            neg_lr: c(-self.lr),
        };
        let n = p.len();
        match (self.centered, self.momentum > 0.0) {
            (false, false) => {
                let [v] = streams!(state, n; 1);
                crate::lanes::zip1::<F, L>(p, g, v, |p, g, v| {
                    let (g, d) = s.denom(*p, g, v, None);
                    s.finish(p, g, d, None);
                });
            }
            (true, false) => {
                let [v, ga] = streams!(state, n; 2);
                crate::lanes::zip2::<F, L>(p, g, v, ga, |p, g, v, ga| {
                    let (g, d) = s.denom(*p, g, v, Some(ga));
                    s.finish(p, g, d, None);
                });
            }
            (false, true) => {
                let [v, b] = streams!(state, n; 2);
                crate::lanes::zip2::<F, L>(p, g, v, b, |p, g, v, b| {
                    let (g, d) = s.denom(*p, g, v, None);
                    s.finish(p, g, d, Some(b));
                });
            }
            (true, true) => {
                let [v, ga, b] = streams!(state, n; 3);
                crate::lanes::zip3::<F, L>(p, g, v, ga, b, |p, g, v, ga, b| {
                    let (g, d) = s.denom(*p, g, v, Some(ga));
                    s.finish(p, g, d, Some(b));
                });
            }
        }
    }

    fn reference<F: Real>(&self, _: &mut (), _t: u64, p: &mut [F], g: &[F], state: &mut [F], _: &mut [F]) {
        let c = F::from_f64;
        let n = p.len().min(g.len());
        let use_momentum = self.momentum > 0.0;
        // Stream layout: v, then ḡ if centered, then b if momentum.
        let gavg_at = n;
        let buf_at = n * (1 + usize::from(self.centered));
        if state.len() < self.state_len(n) {
            return;
        }
        let weight = Lerp::<F>::new(1.0 - self.alpha);
        for i in 0..n {
            let mut grad = if self.maximize { -g[i] } else { g[i] };
            if self.weight_decay != 0.0 {
                grad = grad + c(self.weight_decay) * p[i];
            }
            state[i] = state[i] * c(self.alpha) + c(1.0 - self.alpha) * grad * grad;
            let avg = if self.centered {
                state[gavg_at + i] = weight.apply(state[gavg_at + i], grad);
                let ga = state[gavg_at + i];
                (state[i] + -F::ONE * ga * ga).sqrt()
            } else {
                state[i].sqrt()
            };
            let avg = avg + c(self.eps);
            if use_momentum {
                state[buf_at + i] = state[buf_at + i] * c(self.momentum) + F::ONE * (grad / avg);
                p[i] = p[i] + c(-self.lr) * state[buf_at + i];
            } else {
                p[i] = p[i] + c(-self.lr) * (grad / avg);
            }
        }
    }
}
