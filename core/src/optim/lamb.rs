//! LAMB, layer-wise adaptive moments (`optax.lamb`; You et al. 2020), per tensor.
//!
//! ```text
//! m ← (1 − β1)·g + β1·m;   v ← (1 − β2)·g² + β2·v
//! u ← (m / (1 − β1^t)) / (√(v / (1 − β2^t) + ε_root) + ε)
//! u ← u + λθ                       (where the decay mask is on)
//! r ← ‖θ‖ / ‖u‖, or 1 when either norm is 0      (the trust ratio, per tensor)
//! θ ← θ − γ·r·u
//! ```
//! Source: optax `alias.py::lamb` = `scale_by_adam` → `add_decayed_weights` →
//! `scale_by_trust_ratio` → `scale_by_learning_rate` (`optax/_src/transform.py`).
//!
//! The trust ratio is a ratio of norms over the whole tensor, so LAMB is defined per tensor: use
//! a [`crate::group::Grouped`] optimizer over a layout (each tensor of the layout is one optax
//! leaf). Built flat, the whole buffer is one tensor.
//!
//! State per parameter: 2 values (m, v). The kernel sums the norms in lane-blocked order, the
//! reference sequentially; they agree within the summation-order bound tested in
//! `tests/kernel_matches_reference.rs`.
//!
//! Differs elsewhere: the paper clips ‖θ‖ with φ and leaves the bias correction out; PyTorch has
//! no LAMB; optax's `eps_root` sits inside the square root.

use super::{Optim, UpdateRule};
use crate::error::{Error, check_ge, check_range_open};
use crate::power::BetaPowers;
use crate::real::{Real, pow_step};

/// Hyperparameters of LAMB, with optax's names (`learning_rate` → `lr`, `b1, b2` → `betas`) and
/// defaults.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct LambConfig {
    /// Learning rate γ (optax has no default; 1e-3 here).
    pub lr: f64,
    /// (β1, β2) (default (0.9, 0.999)).
    pub betas: (f64, f64),
    /// ε added to the denominator (default 1e-6).
    pub eps: f64,
    /// ε added inside the square root (default 0).
    pub eps_root: f64,
    /// λ of the decayed weights added to the update (default 0).
    pub weight_decay: f64,
    /// optax's `mask` for the weight decay: false leaves this group's tensors undecayed
    /// (default true).
    pub mask: bool,
}

crate::fields!(LambConfig { lr, betas, eps, eps_root, weight_decay, mask });

impl Default for LambConfig {
    fn default() -> Self {
        LambConfig { lr: 1e-3, betas: (0.9, 0.999), eps: 1e-6, eps_root: 0.0, weight_decay: 0.0, mask: true }
    }
}

crate::persist_fields!(LambConfig { lr: f64, betas.0: f64, betas.1: f64, eps: f64, eps_root: f64, weight_decay: f64, mask: bool });

/// LAMB over a caller-provided buffer (2 × n values).
pub type LambView<'a, F> = Optim<LambConfig, F, &'a mut [F]>;

/// Per-step scalars of LAMB.
struct Step<F> {
    b1: F,
    one_minus_b1: F,
    b2: F,
    one_minus_b2: F,
    bc1: F,
    bc2: F,
    eps: F,
    eps_root: F,
    wd: Option<F>,
}

impl LambConfig {
    fn scalars<F: Real>(&self, powers: &mut BetaPowers, t: u64) -> Step<F> {
        let c = F::from_f64;
        let (b1, b2) = self.betas;
        Step {
            b1: c(b1),
            one_minus_b1: c(1.0 - b1),
            b2: c(b2),
            one_minus_b2: c(1.0 - b2),
            bc1: c(1.0 - powers.b1.at(b1, t)),
            bc2: c(1.0 - powers.b2.at(b2, t)),
            eps: c(self.eps),
            eps_root: c(self.eps_root),
            wd: self.mask.then(|| c(self.weight_decay)),
        }
    }
}

impl<F: Real> Step<F> {
    /// Updates m and v; returns the update before the trust ratio.
    #[inline(always)]
    fn moments(&self, p: F, g: F, m: &mut F, v: &mut F) -> F {
        *m = self.one_minus_b1 * g + self.b1 * *m;
        *v = self.one_minus_b2 * (g * g) + self.b2 * *v;
        self.update(p, *m, *v)
    }
    /// The update from the new moments.
    #[inline(always)]
    fn update(&self, p: F, m: F, v: F) -> F {
        let u = (m / self.bc1) / ((v / self.bc2 + self.eps_root).sqrt() + self.eps);
        match self.wd {
            Some(wd) => u + wd * p,
            None => u,
        }
    }
}

/// optax's `scale_by_trust_ratio` from the squared norms, in the parameters' precision: r =
/// tc·‖θ‖ / (‖u‖ + ε), or 1 when either norm is 0.
#[inline]
pub(crate) fn trust_ratio<F: Real>(param_sq: F, update_sq: F, tc: f64, eps: f64) -> F {
    let (pn, un) = (param_sq.sqrt(), update_sq.sqrt());
    if pn == F::ZERO || un == F::ZERO { F::ONE } else { F::from_f64(tc) * pn / (un + F::from_f64(eps)) }
}

impl UpdateRule for LambConfig {
    type Scalars = BetaPowers;
    const NAME: &'static str = "lamb";
    const ID: u8 = 15;
    const ELEMENTWISE: bool = false;

    fn validate(&self) -> Result<(), Error> {
        check_ge("lr", self.lr, 0.0)?;
        check_ge("eps", self.eps, 0.0)?;
        check_ge("eps_root", self.eps_root, 0.0)?;
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

    fn kernel<F: Real, const L: usize>(
        &self,
        powers: &mut BetaPowers,
        t: u64,
        p: &mut [F],
        g: &[F],
        state: &mut [F],
        _: &mut [F],
    ) {
        let n = p.len();
        let s = self.scalars::<F>(powers, t);
        let [m, v] = streams!(state, n; 2);
        // Pass 1: the moments, and ‖u‖² in lane-blocked partial sums.
        let mut acc = [F::ZERO; L];
        let mut lane = 0usize;
        for ((&pi, &gi), (mi, vi)) in p.iter().zip(g).zip(m.iter_mut().zip(v.iter_mut())) {
            let u = s.moments(pi, gi, mi, vi);
            if let Some(a) = acc.get_mut(lane) {
                *a = *a + u * u;
            }
            lane = if lane + 1 == L { 0 } else { lane + 1 };
        }
        let update_sq = crate::lanes::combine(&acc);
        let param_sq = crate::lanes::sum_sq::<F, L>(p);
        let (ratio, neg_lr) = (trust_ratio(param_sq, update_sq, 1.0, 0.0), F::from_f64(-self.lr));
        // Pass 2: the update again from the new moments (the same bits), scaled.
        crate::lanes::zip2::<F, L>(p, g, m, v, |p, _, m, v| {
            let u = s.update(*p, *m, *v);
            *p = *p + u * ratio * neg_lr;
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
        let n = p.len().min(g.len());
        if state.len() < 2 * n {
            return;
        }
        let c = F::from_f64;
        let (b1, b2) = self.betas;
        let (m, v) = state.split_at_mut(n);
        let u = |i: usize, m: &mut [F], v: &mut [F], p: &[F], update: bool| {
            if update {
                m[i] = c(1.0 - b1) * g[i] + c(b1) * m[i];
                v[i] = c(1.0 - b2) * (g[i] * g[i]) + c(b2) * v[i];
            }
            let mu_hat = m[i] / c(1.0 - pow_step(b1, t));
            let nu_hat = v[i] / c(1.0 - pow_step(b2, t));
            let x = mu_hat / ((nu_hat + c(self.eps_root)).sqrt() + c(self.eps));
            if self.mask { x + c(self.weight_decay) * p[i] } else { x }
        };
        let (mut update_sq, mut param_sq) = (F::ZERO, F::ZERO);
        for i in 0..n {
            let x = u(i, m, v, p, true);
            update_sq = update_sq + x * x;
            param_sq = param_sq + p[i] * p[i];
        }
        let ratio = trust_ratio(param_sq, update_sq, 1.0, 0.0);
        for i in 0..n {
            let x = u(i, m, v, p, false);
            p[i] = p[i] + x * ratio * c(-self.lr);
        }
    }
}
