//! Sophia-G, a clipped diagonal second-order step (Liu, Li, Hall, Liang & Ma 2023, "Sophia: A
//! Scalable Stochastic Second-order Optimizer for Language Model Pre-training", Algorithm 3;
//! the authors' `SophiaG` in github.com/Liuhong99/Sophia, `sophia.py`).
//!
//! ```text
//! every step:
//!   θ ← θ·(1 − γλ)                                  decoupled weight decay, before the update
//!   m ← β1·m + (1 − β1)·g
//!   θ ← θ − γ·sign(m)·min(|m| / (ρ·h + ε), 1)      sign(0) = 0
//! when a Hessian estimate ĥ is given (every k = update_period steps, Optimizer::update_hessian):
//!   h ← β2·h + (1 − β2)·ĥ
//! ```
//! State per parameter: 2 values (m, h), both starting at 0. No bias correction.
//!
//! The estimate ĥ is the caller's: Sophia-G's Gauss–Newton–Bartlett estimator is B·ĝ⊙ĝ, where ĝ
//! is the gradient of the loss on the minibatch (B examples) with labels sampled from the
//! model's own predicted distribution (descent-std computes it for its MLP). Feed it with
//! [`Optimizer::update_hessian`](super::Optimizer::update_hessian): it checks the length and
//! that every entry is finite and ≥ 0 (a negative entry would turn the step around), and changes
//! nothing when refusing. [`Optimizer::step`](super::Optimizer::step) alone always works and
//! uses h as the last estimate left it: before any estimate h = 0 and every step is
//! γ·sign(m) (clipped at 1), a sign-momentum step.
//!
//! Names and defaults are the authors' `SophiaG(lr=1e-4, betas=(0.965, 0.99), rho=0.04,
//! weight_decay=1e-1)` with its hard-coded ε = 1e-15 as `eps`, and the reference training
//! script's `hess_interval = 10` as `update_period` (the caller's schedule: the rule itself
//! does not count). The authors' step takes a batch size `bs` and divides by ρ·bs·h + ε with
//! h the average of ĝ⊙ĝ; here B is in the estimate (the paper's ĥ = B·ĝ⊙ĝ), so ρ is the paper's
//! γ and the authors' `rho` alike.
//!
//! Differs elsewhere: `optax.contrib.sophia` (optax 0.2.8) is Sophia-H after levanter: a
//! Hutchinson estimate computed inside the transformation from an objective function, a
//! bias-corrected m, m̂ / max(γ·h, ε) clipped at `clip_threshold`, the estimate taken after the
//! step at counts 0, k, 2k, …, and weight decay added to the update (`add_decayed_weights`)
//! rather than applied to θ first. Those are a different algorithm's choices; this file is
//! Sophia-G as its authors wrote it.

use super::{Optim, UpdateRule};
use crate::error::{Error, check_ge, check_range_open};
use crate::persist::{Persist, Reader, Writer};
use crate::real::Real;

/// Hyperparameters of Sophia-G, with the authors' names and defaults (`SophiaG` in
/// github.com/Liuhong99/Sophia).
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct SophiaConfig {
    /// Learning rate γ (default 1e-4).
    pub lr: f64,
    /// (β1, β2): decay of the momentum m and of the Hessian average h (default (0.965, 0.99)).
    pub betas: (f64, f64),
    /// ρ, the scale of h against |m| (default 0.04; the paper's γ).
    pub rho: f64,
    /// ε added to ρ·h (default 1e-15, the authors' constant).
    pub eps: f64,
    /// Decoupled weight decay λ: θ ← θ(1 − γλ) before each step (default 0.1).
    pub weight_decay: f64,
    /// k: steps between Hessian estimates (default 10). The rule does not count; the caller
    /// (`descent train`) feeds an estimate every k steps.
    pub update_period: u32,
}

crate::fields!(SophiaConfig { lr, betas, rho, eps, weight_decay, update_period });

impl Default for SophiaConfig {
    fn default() -> Self {
        SophiaConfig {
            lr: 1e-4,
            betas: (0.965, 0.99),
            rho: 0.04,
            eps: 1e-15,
            weight_decay: 0.1,
            update_period: 10,
        }
    }
}

impl Persist for SophiaConfig {
    fn write(&self, w: &mut Writer<'_>) -> Result<(), Error> {
        for v in [self.lr, self.betas.0, self.betas.1, self.rho, self.eps, self.weight_decay] {
            w.f64(v)?;
        }
        w.u64(u64::from(self.update_period))
    }
    fn read(r: &mut Reader<'_>) -> Result<Self, Error> {
        let (lr, b1, b2, rho, eps, weight_decay) =
            (r.f64()?, r.f64()?, r.f64()?, r.f64()?, r.f64()?, r.f64()?);
        let update_period =
            u32::try_from(r.u64()?).map_err(|_| Error::CorruptState { reason: "sophia update_period" })?;
        Ok(SophiaConfig { lr, betas: (b1, b2), rho, eps, weight_decay, update_period })
    }
}

/// Sophia owning its state for `N` parameters (2 × N values: m, then h).
pub type Sophia<F, const N: usize> = Optim<SophiaConfig, F, [[F; N]; 2]>;
/// Sophia over a caller-provided buffer (2 × n values).
pub type SophiaView<'a, F> = Optim<SophiaConfig, F, &'a mut [F]>;

/// Per-step scalars of Sophia, computed once in `f64` and rounded.
struct Step<F> {
    decay: F,
    b1: F,
    one_minus_b1: F,
    rho: F,
    eps: F,
    neg_lr: F,
}

impl SophiaConfig {
    fn scalars<F: Real>(&self) -> Step<F> {
        let c = F::from_f64;
        Step {
            decay: c(1.0 - self.lr * self.weight_decay),
            b1: c(self.betas.0),
            one_minus_b1: c(1.0 - self.betas.0),
            rho: c(self.rho),
            eps: c(self.eps),
            neg_lr: c(-self.lr),
        }
    }
}

/// min(x, 1), NaN kept (as `torch.clamp(max=1)`).
#[inline(always)]
fn clip1<F: Real>(x: F) -> F {
    if x > F::ONE { F::ONE } else { x }
}

impl<F: Real> Step<F> {
    #[inline(always)]
    fn apply(&self, p: &mut F, g: F, m: &mut F, h: &mut F) {
        *p = *p * self.decay;
        *m = *m * self.b1 + g * self.one_minus_b1;
        let ratio = clip1(m.abs_() / (self.rho * *h + self.eps));
        *p = *p + self.neg_lr * (m.sign0() * ratio);
    }
}

impl UpdateRule for SophiaConfig {
    type Scalars = ();
    const NAME: &'static str = "sophia";
    const ID: u8 = 28;

    fn validate(&self) -> Result<(), Error> {
        check_ge("lr", self.lr, 0.0)?;
        check_range_open("betas[0]", self.betas.0, 0.0, 1.0)?;
        check_range_open("betas[1]", self.betas.1, 0.0, 1.0)?;
        check_ge("sophia.rho", self.rho, 0.0)?;
        check_ge("eps", self.eps, 0.0)?;
        check_ge("weight_decay", self.weight_decay, 0.0)?;
        if self.update_period == 0 {
            return Err(Error::InvalidHyperparameter { name: "update_period", value: 0.0 });
        }
        Ok(())
    }
    fn state_len(&self, n: usize) -> usize {
        2 * n
    }
    lr_and_betas_momentum!();

    fn hessian_stream(&self) -> Option<usize> {
        Some(1)
    }

    fn average_hessian<F: Real>(&self, h: &mut [F], estimate: &[F]) {
        let c = F::from_f64;
        let (b2, omb2) = (c(self.betas.1), c(1.0 - self.betas.1));
        for (h, &e) in h.iter_mut().zip(estimate) {
            *h = *h * b2 + e * omb2;
        }
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
        let step = self.scalars::<F>();
        let [m, h] = streams!(state, p.len(); 2);
        crate::lanes::zip2::<F, L>(p, g, m, h, |p, g, m, h| step.apply(p, g, m, h));
    }

    fn reference<F: Real>(&self, _: &mut (), _t: u64, p: &mut [F], g: &[F], state: &mut [F], _: &mut [F]) {
        let n = p.len().min(g.len());
        if state.len() < 2 * n {
            return;
        }
        let c = F::from_f64;
        let (exp_avg, hessian) = state.split_at_mut(n);
        for i in 0..n {
            // param.mul_(1 - lr * weight_decay)
            p[i] = p[i] * c(1.0 - self.lr * self.weight_decay);
            // exp_avg.mul_(beta1).add_(grad, alpha=1 - beta1)
            exp_avg[i] = exp_avg[i] * c(self.betas.0) + g[i] * c(1.0 - self.betas.0);
            // ratio = (exp_avg.abs() / (rho * hess + eps)).clamp(None, 1)
            let ratio = clip1(exp_avg[i].abs_() / (c(self.rho) * hessian[i] + c(self.eps)));
            // param.addcmul_(exp_avg.sign(), ratio, value=-lr)
            p[i] = p[i] + c(-self.lr) * (exp_avg[i].sign0() * ratio);
        }
    }
}

#[cfg(test)]
mod tests {
    extern crate std;
    use super::*;
    use crate::Optimizer;
    use std::string::ToString;
    use std::vec::Vec;

    /// One step by hand: decay, momentum, the ratio clipped or not.
    #[test]
    fn one_step_by_hand() {
        let cfg = SophiaConfig { lr: 0.1, weight_decay: 0.5, rho: 1.0, eps: 0.0, ..SophiaConfig::default() };
        let mut opt = Sophia::<f64, 3>::new(cfg).unwrap();
        // h = (1 − β2)·ĥ.
        opt.update_hessian(&[100.0, 1.0, 5.0]).unwrap();
        let mut p = [1.0, 1.0, 1.0];
        opt.step(&mut p, &[2.0, 2.0, 0.0]).unwrap();
        let (m, omb2) = (2.0 * (1.0 - 0.965), 1.0 - 0.99);
        let decayed = 1.0 - 0.1 * 0.5;
        // h = 1: |m| / 1 = 0.07 unclipped; h = 0.01: 7 clipped to 1; m = 0: no move.
        assert!((p[0] - (decayed - 0.1 * m / (100.0 * omb2))).abs() < 1e-15);
        assert!((p[1] - (decayed - 0.1)).abs() < 1e-15);
        assert_eq!(p[2], decayed);
        assert_eq!(opt.state(), &[m, m, 0.0, 100.0 * omb2, omb2, 5.0 * omb2]);
    }

    /// Estimates of the wrong length, non-finite or negative are refused and change nothing.
    #[test]
    fn bad_estimates_are_refused() {
        let mut opt = Sophia::<f32, 2>::new(SophiaConfig::default()).unwrap();
        opt.update_hessian(&[1.0, 2.0]).unwrap();
        let before: Vec<f32> = opt.state().into();
        assert_eq!(
            opt.update_hessian(&[1.0]),
            Err(Error::LengthMismatch { what: "hessian estimate", expected: 2, found: 1 })
        );
        assert_eq!(
            opt.update_hessian(&[1.0, f32::NAN]),
            Err(Error::NonFinite { what: "hessian estimate", index: 1 })
        );
        assert_eq!(
            opt.update_hessian(&[-1.0, 0.0]),
            Err(Error::InvalidHyperparameter { name: "hessian estimate", value: -1.0 })
        );
        assert_eq!(opt.state(), &before[..]);
    }

    /// A rule without a Hessian average refuses an estimate.
    #[test]
    fn other_rules_refuse_an_estimate() {
        let mut adam = crate::adam::Adam::<f32, 2>::new(crate::adam::AdamConfig::default()).unwrap();
        assert!(matches!(adam.update_hessian(&[1.0, 1.0]), Err(Error::Unsupported { .. })));
    }

    #[test]
    fn hyperparameters_are_checked() {
        let bad = |c: SophiaConfig| c.validate().unwrap_err();
        let d = SophiaConfig::default();
        assert_eq!(
            bad(SophiaConfig { rho: -1.0, ..d }).to_string(),
            "Invalid rho parameter at index 1: -1.0"
        );
        assert_eq!(
            bad(SophiaConfig { update_period: 0, ..d }).to_string(),
            "Invalid update_period value: 0.0"
        );
        assert_eq!(
            bad(SophiaConfig { betas: (0.9, 1.0), ..d }).to_string(),
            "Invalid beta parameter at index 1: 1.0"
        );
    }
}
