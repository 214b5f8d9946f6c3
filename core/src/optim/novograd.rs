//! NovoGrad, momentum over gradients normalized by a per-tensor second moment (`optax.novograd`;
//! Ginsburg et al. 2019), per tensor.
//!
//! ```text
//! step 1:   ν ← ‖g‖²;                          m ← g / (√(ν + ε_root) + ε) + λθ
//! step t>1: ν ← (1 − β2)·‖g‖² + β2·ν;           m ← β1·m + g / (√(ν + ε_root) + ε) + λθ
//! θ ← θ − γ·m
//! ```
//! Source: optax `alias.py::novograd` = `scale_by_novograd` → `scale_by_learning_rate`
//! (`optax/_src/transform.py`); Ginsburg et al. 2019, "Stochastic Gradient Methods with
//! Layer-wise Adaptive Moments for Training of Deep Networks", Algorithm 1.
//!
//! ν is one value per tensor (the norm is over the whole tensor), so NovoGrad is defined per
//! tensor: use a [`crate::group::Grouped`] optimizer over a layout (each tensor one optax leaf).
//! Built flat, the whole buffer is one tensor. ν lives in the scalars ([`NovogradScalars`]), kept
//! in `f64` but rounded to the parameters' precision each step, so it holds exactly what optax's
//! ν of that dtype holds.
//!
//! State per parameter: 1 value (m), plus ν per tensor. The kernel sums ‖g‖² in lane-blocked
//! order, the reference sequentially; they agree within the summation-order bound tested in
//! `tests/kernel_matches_reference.rs`.
//!
//! Differs elsewhere: the paper's m has no (1 − β1) factor either, but decays λθ inside the
//! normalized gradient alike; NVIDIA's Apex `FusedNovoGrad` averages m with (1 − β1) and starts ν
//! at 0 by default.

use super::{Optim, UpdateRule};
use crate::error::{Error, check_ge, check_range_open};
use crate::real::Real;

/// Hyperparameters of NovoGrad, with optax's names (`learning_rate` → `lr`, `b1, b2` → `betas`)
/// and defaults.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct NovogradConfig {
    /// Learning rate γ (optax has no default; 1e-3 here).
    pub lr: f64,
    /// (β1, β2): the momentum's and ν's decay (default (0.9, 0.25)).
    pub betas: (f64, f64),
    /// ε added to the denominator (default 1e-6).
    pub eps: f64,
    /// ε added inside the square root (default 0).
    pub eps_root: f64,
    /// λ of the decayed weights added to the normalized gradient (default 0).
    pub weight_decay: f64,
}

crate::fields!(NovogradConfig { lr, betas, eps, eps_root, weight_decay });

impl Default for NovogradConfig {
    fn default() -> Self {
        NovogradConfig { lr: 1e-3, betas: (0.9, 0.25), eps: 1e-6, eps_root: 0.0, weight_decay: 0.0 }
    }
}

crate::persist_fields!(NovogradConfig {
    lr: f64, betas.0: f64, betas.1: f64, eps: f64, eps_root: f64, weight_decay: f64
});

/// Scalar state of NovoGrad: the tensor's second moment ν.
#[derive(Debug, Clone, Copy, PartialEq, Default)]
pub struct NovogradScalars {
    /// ν, the average of ‖g‖² (a value of the parameters' float type, widened).
    pub nu: f64,
}

crate::persist_fields!(NovogradScalars { nu: f64 });

/// NovoGrad owning its state for `N` parameters (N values), all one tensor.
pub type Novograd<F, const N: usize> = Optim<NovogradConfig, F, [[F; N]; 1]>;
/// NovoGrad over a caller-provided buffer (n values).
pub type NovogradView<'a, F> = Optim<NovogradConfig, F, &'a mut [F]>;

impl NovogradConfig {
    /// ν after this step from ‖g‖² (`grad_sq`, summed in `F`): optax's
    /// `jnp.linalg.norm(g) ** 2`, so the norm is rounded before it is squared.
    fn next_nu<F: Real>(&self, t: u64, nu: f64, grad_sq: F) -> F {
        let norm = grad_sq.sqrt();
        let fresh = norm * norm;
        if t <= 1 {
            fresh
        } else {
            F::from_f64(1.0 - self.betas.1) * fresh + F::from_f64(self.betas.1) * F::from_f64(nu)
        }
    }
}

/// Per-step scalars of NovoGrad, computed once and rounded.
struct Step<F> {
    /// The first step: m starts from the update itself.
    first: bool,
    b1: F,
    denom: F,
    wd: F,
    neg_lr: F,
}

impl<F: Real> Step<F> {
    #[inline(always)]
    fn apply(&self, p: &mut F, g: F, m: &mut F) {
        let u = g / self.denom + self.wd * *p;
        *m = if self.first { u } else { self.b1 * *m + u };
        *p = *p + self.neg_lr * *m;
    }
}

impl UpdateRule for NovogradConfig {
    type Scalars = NovogradScalars;
    const NAME: &'static str = "novograd";
    const ID: u8 = 22;
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
        n
    }
    lr_and_betas_momentum!();

    fn kernel<F: Real, const L: usize>(
        &self,
        sc: &mut NovogradScalars,
        t: u64,
        p: &mut [F],
        g: &[F],
        state: &mut [F],
        _: &mut [F],
    ) {
        let [m] = streams!(state, p.len(); 1);
        let nu = self.next_nu(t, sc.nu, crate::lanes::sum_sq::<F, L>(g));
        let c = F::from_f64;
        let s = Step {
            first: t <= 1,
            b1: c(self.betas.0),
            denom: (nu + c(self.eps_root)).sqrt() + c(self.eps),
            wd: c(self.weight_decay),
            neg_lr: c(-self.lr),
        };
        crate::lanes::zip1::<F, L>(p, g, m, |p, g, m| s.apply(p, g, m));
        sc.nu = nu.as_f64();
    }

    fn reference<F: Real>(
        &self,
        sc: &mut NovogradScalars,
        t: u64,
        p: &mut [F],
        g: &[F],
        state: &mut [F],
        _: &mut [F],
    ) {
        let n = p.len().min(g.len());
        if state.len() < n {
            return;
        }
        let c = F::from_f64;
        let mut grad_sq = F::ZERO;
        for &x in &g[..n] {
            grad_sq = grad_sq + x * x;
        }
        let nu = self.next_nu(t, sc.nu, grad_sq);
        for i in 0..n {
            let update = g[i] / ((nu + c(self.eps_root)).sqrt() + c(self.eps)) + c(self.weight_decay) * p[i];
            state[i] = if t <= 1 { update } else { c(self.betas.0) * state[i] + update };
            p[i] = p[i] + c(-self.lr) * state[i];
        }
        sc.nu = nu.as_f64();
    }
}
