//! LARS, layer-wise adaptive rate scaling (`optax.lars`; You, Gitman & Ginsburg 2017), per tensor.
//!
//! ```text
//! u ← g + λθ                                       (where the decay mask is on)
//! r ← η·‖θ‖ / (‖u‖ + ε), or 1 when either norm is 0    (where the trust-ratio mask is on)
//! u ← −γ·r·u
//! b ← u + μ·b;   θ ← θ + (u + μ·b if nesterov else b)
//! ```
//! Source: optax `alias.py::lars` = `add_decayed_weights` → `masked(scale_by_trust_ratio)` →
//! `scale_by_learning_rate` → `trace` (`optax/_src/transform.py`). η is `trust_coefficient`.
//!
//! As in optax, the momentum trace accumulates updates that are already scaled by the learning
//! rate (the paper scales after the momentum); the trust ratio is per tensor, so LARS is defined
//! over a [`crate::group::Grouped`] optimizer's layout (built flat, the buffer is one tensor).
//!
//! State per parameter: 1 value (the trace). The kernel sums the norms in lane-blocked order, the
//! reference sequentially; they agree within the summation-order bound tested in
//! `tests/kernel_matches_reference.rs`.

use super::lamb::trust_ratio;
use super::{Optim, UpdateRule};
use crate::error::{Error, check_ge};
use crate::real::Real;

/// Hyperparameters of LARS, with optax's names (`learning_rate` → `lr`) and defaults.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct LarsConfig {
    /// Learning rate γ (optax has no default; 1e-1 here).
    pub lr: f64,
    /// λ of the decayed weights added to the gradient (default 0).
    pub weight_decay: f64,
    /// optax's `weight_decay_mask`: false leaves this group's tensors undecayed (default true).
    pub weight_decay_mask: bool,
    /// η, the trust coefficient (default 0.001).
    pub trust_coefficient: f64,
    /// ε added to ‖u‖ (default 0).
    pub eps: f64,
    /// optax's `trust_ratio_mask`: false skips the trust ratio for this group (default true).
    pub trust_ratio_mask: bool,
    /// Momentum μ of the trace (default 0.9).
    pub momentum: f64,
    /// Nesterov momentum (default false).
    pub nesterov: bool,
}

crate::fields!(LarsConfig {
    lr,
    weight_decay,
    weight_decay_mask,
    trust_coefficient,
    eps,
    trust_ratio_mask,
    momentum,
    nesterov
});

impl Default for LarsConfig {
    fn default() -> Self {
        LarsConfig {
            lr: 0.1,
            weight_decay: 0.0,
            weight_decay_mask: true,
            trust_coefficient: 0.001,
            eps: 0.0,
            trust_ratio_mask: true,
            momentum: 0.9,
            nesterov: false,
        }
    }
}

crate::persist_fields!(LarsConfig {
    lr: f64,
    weight_decay: f64,
    weight_decay_mask: bool,
    trust_coefficient: f64,
    eps: f64,
    trust_ratio_mask: bool,
    momentum: f64,
    nesterov: bool
});

/// LARS over a caller-provided buffer (n values).
pub type LarsView<'a, F> = Optim<LarsConfig, F, &'a mut [F]>;

impl LarsConfig {
    /// The decayed gradient u = g + λθ (λ = 0 where the mask is off).
    #[inline(always)]
    fn decayed<F: Real>(&self) -> impl Fn(F, F) -> F + Copy {
        let wd = self.weight_decay_mask.then(|| F::from_f64(self.weight_decay));
        move |p, g| match wd {
            Some(wd) => g + wd * p,
            None => g,
        }
    }
    /// The trust ratio from the squared norms (1 where the mask is off).
    fn ratio<F: Real>(&self, param_sq: F, update_sq: F) -> F {
        if self.trust_ratio_mask {
            trust_ratio(param_sq, update_sq, self.trust_coefficient, self.eps)
        } else {
            F::ONE
        }
    }
}

impl UpdateRule for LarsConfig {
    type Scalars = ();
    const NAME: &'static str = "lars";
    const ID: u8 = 16;
    const ELEMENTWISE: bool = false;

    fn validate(&self) -> Result<(), Error> {
        check_ge("lr", self.lr, 0.0)?;
        check_ge("weight_decay", self.weight_decay, 0.0)?;
        check_ge("trust_coefficient", self.trust_coefficient, 0.0)?;
        check_ge("eps", self.eps, 0.0)?;
        check_ge("momentum", self.momentum, 0.0)
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
        Some(self.momentum)
    }
    fn put_momentum(&mut self, m: f64) -> bool {
        self.momentum = m;
        true
    }

    fn kernel<F: Real, const L: usize>(
        &self,
        _: &mut (),
        _t: u64,
        p: &mut [F],
        g: &[F],
        state: &mut [F],
        _: &mut [F],
    ) {
        let n = p.len();
        let Some(trace) = state.get_mut(..n) else { return };
        if g.len() != n {
            return;
        }
        let decayed = self.decayed::<F>();
        let mut acc = [F::ZERO; L];
        let mut lane = 0usize;
        for (&pi, &gi) in p.iter().zip(g) {
            let u = decayed(pi, gi);
            if let Some(a) = acc.get_mut(lane) {
                *a = *a + u * u;
            }
            lane = if lane + 1 == L { 0 } else { lane + 1 };
        }
        let ratio = self.ratio(crate::lanes::sum_sq::<F, L>(p), crate::lanes::combine(&acc));
        let (neg_lr, mu, nesterov) = (F::from_f64(-self.lr), F::from_f64(self.momentum), self.nesterov);
        crate::lanes::zip1::<F, L>(p, g, trace, |p, g, b| {
            let u = decayed(*p, g) * ratio * neg_lr;
            *b = u + mu * *b;
            *p = *p + if nesterov { u + mu * *b } else { *b };
        });
    }

    fn reference<F: Real>(&self, _: &mut (), _t: u64, p: &mut [F], g: &[F], state: &mut [F], _: &mut [F]) {
        let n = p.len().min(g.len());
        if state.len() < n {
            return;
        }
        let c = F::from_f64;
        let update = |i: usize, p: &[F]| {
            if self.weight_decay_mask { g[i] + c(self.weight_decay) * p[i] } else { g[i] }
        };
        let (mut update_sq, mut param_sq) = (F::ZERO, F::ZERO);
        for i in 0..n {
            let x = update(i, p);
            update_sq = update_sq + x * x;
            param_sq = param_sq + p[i] * p[i];
        }
        let ratio = self.ratio(param_sq, update_sq);
        for i in 0..n {
            let x = update(i, p) * ratio * c(-self.lr);
            state[i] = x + c(self.momentum) * state[i];
            p[i] = p[i] + if self.nesterov { x + c(self.momentum) * state[i] } else { state[i] };
        }
    }
}
