//! Prodigy, learning-rate-free AdamW (`optax.contrib.prodigy`; Mishchenko & Defazio 2023): the
//! step size `d` estimates the distance to the solution `D = ‖θ0 − θ*‖` from every parameter.
//!
//! ```text
//! dlr ← d·γ·√(1 − β2^t) / (1 − β1^t)
//! for every parameter (θ0 the parameters before the first step):
//!     δ ← d·g
//!     m ← β1·m + (1 − β1)·δ;   v ← β2·v + (1 − β2)·δ²
//!     s ← β3·s + dlr·δ / d0        (safeguard_warmup: d·δ / d0)
//! r ← β3·r + (d / d0)·dlr·Σ g·(θ0 − θ)       (sums over every parameter)
//! d ← max(d, c·r / Σ|s|)
//! θ ← θ − λ·dlr·θ − dlr·m / (√v + d·ε)        (with the new d)
//! ```
//! `d` starts at `d0` (`estim_lr0`), `r` at 0, the moments at 0; β3 is √β2 unless given; `c` is
//! `estim_lr_coef`; `γ` (`lr`, default 1) multiplies the estimated step, as a schedule would.
//!
//! Source: optax 0.2.8 `optax/contrib/_prodigy.py::prodigy`, step for step and in the same
//! precision (optax keeps `d` and `r` in the parameters' dtype; the bias correction is a Python
//! float). Paper: Mishchenko & Defazio 2023, "Prodigy: An Expeditiously Adaptive Parameter-Free
//! Learner", its Adam variant: the gradients are weighted by the estimate `d_k` of their step,
//! which puts more weight on recent steps and lets `d` grow faster than D-Adaptation's
//! ([`super::dadapt_adamw`]).
//!
//! The sums run over every parameter: Prodigy is [`UpdateRule::WHOLE_SET`], one flat optimizer
//! over the whole parameter set (optax's pytree), not one estimate per tensor. They are summed in
//! a fixed order ([`super::distance`]), so kernel and reference agree bit for bit.
//!
//! State per parameter: 4 values (m, v, s, θ0); θ0 is taken from the parameters at the first step
//! (optax's `init(params)`). Scalars: `d` and `r` ([`DistanceScalars`]).
//!
//! Differs elsewhere: the authors' PyTorch `prodigyopt` estimates `d` per parameter group (here one
//! set: build one optimizer per set instead), has `d_coef`, `growth_rate`, `use_bias_correction`
//! (off by default, where optax always corrects) and decouples weight decay by `dlr` alike.

use super::distance::{DistanceScalars, FixedSum, check_common, dlr, sqrt_beta};
use super::{Optim, UpdateRule};
use crate::error::{Error, check_ge, check_range_open};
use crate::persist::{Persist, Reader, Writer};
use crate::real::Real;

/// Hyperparameters of Prodigy, with optax's names (`learning_rate` → `lr`) and defaults.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct ProdigyConfig {
    /// γ, a multiplier of the estimated step size (default 1; a schedule treats 1 as its base).
    pub lr: f64,
    /// (β1, β2) of the underlying AdamW (default (0.9, 0.999)).
    pub betas: (f64, f64),
    /// β3, the decay of the estimate's sums; `None` (the default) is √β2.
    pub beta3: Option<f64>,
    /// ε of the underlying AdamW, scaled by `d` (default 1e-8).
    pub eps: f64,
    /// d0, the initial (under-)estimate of the step size (default 1e-6).
    pub estim_lr0: f64,
    /// c, the estimate's multiplier (default 1).
    pub estim_lr_coef: f64,
    /// λ of AdamW's decoupled weight decay, scaled by `dlr` (default 0).
    pub weight_decay: f64,
    /// Leave γ out of the sum of gradients, against a warm-up's small γ (default false).
    pub safeguard_warmup: bool,
}

crate::fields!(ProdigyConfig {
    lr,
    betas,
    beta3,
    eps,
    estim_lr0,
    estim_lr_coef,
    weight_decay,
    safeguard_warmup
});

impl Default for ProdigyConfig {
    fn default() -> Self {
        ProdigyConfig {
            lr: 1.0,
            betas: (0.9, 0.999),
            beta3: None,
            eps: 1e-8,
            estim_lr0: 1e-6,
            estim_lr_coef: 1.0,
            weight_decay: 0.0,
            safeguard_warmup: false,
        }
    }
}

impl Persist for ProdigyConfig {
    fn write(&self, w: &mut Writer<'_>) -> Result<(), Error> {
        w.f64(self.lr)?;
        w.f64(self.betas.0)?;
        w.f64(self.betas.1)?;
        w.bool(self.beta3.is_some())?;
        w.f64(self.beta3.unwrap_or(0.0))?;
        w.f64(self.eps)?;
        w.f64(self.estim_lr0)?;
        w.f64(self.estim_lr_coef)?;
        w.f64(self.weight_decay)?;
        w.bool(self.safeguard_warmup)
    }
    fn read(r: &mut Reader<'_>) -> Result<Self, Error> {
        let (lr, b1, b2) = (r.f64()?, r.f64()?, r.f64()?);
        let has_beta3 = r.bool()?;
        let beta3 = r.f64()?;
        Ok(ProdigyConfig {
            lr,
            betas: (b1, b2),
            beta3: has_beta3.then_some(beta3),
            eps: r.f64()?,
            estim_lr0: r.f64()?,
            estim_lr_coef: r.f64()?,
            weight_decay: r.f64()?,
            safeguard_warmup: r.bool()?,
        })
    }
}

/// Prodigy owning its state for `N` parameters (4 × N values).
pub type Prodigy<F, const N: usize> = Optim<ProdigyConfig, F, [[F; N]; 4]>;
/// Prodigy over a caller-provided buffer (4 × n values).
pub type ProdigyView<'a, F> = Optim<ProdigyConfig, F, &'a mut [F]>;

impl ProdigyConfig {
    /// β3: as given, or √β2 (optax's `beta2**0.5`).
    pub fn beta3(&self) -> f64 {
        self.beta3.unwrap_or_else(|| sqrt_beta(self.betas.1))
    }

    fn pass<F: Real>(&self, sc: &DistanceScalars, t: u64) -> Pass<F> {
        let c = F::from_f64;
        let (d, r) = sc.start::<F>(t, self.estim_lr0);
        let dlr = dlr(d, self.lr, self.betas, t);
        Pass {
            first: t <= 1,
            d,
            r,
            dlr,
            b1: c(self.betas.0),
            one_minus_b1: c(1.0 - self.betas.0),
            b2: c(self.betas.1),
            one_minus_b2: c(1.0 - self.betas.1),
            b3: c(self.beta3()),
            // optax: `dlr * dgk / estim_lr0`, or `estim_lr * dgk / estim_lr0` with the safeguard.
            s_scale: if self.safeguard_warmup { d } else { dlr },
            d0: c(self.estim_lr0),
        }
    }
}

/// The values of one step's first pass, rounded to `F` once.
struct Pass<F> {
    first: bool,
    d: F,
    r: F,
    dlr: F,
    b1: F,
    one_minus_b1: F,
    b2: F,
    one_minus_b2: F,
    b3: F,
    s_scale: F,
    d0: F,
}

impl<F: Real> Pass<F> {
    /// One parameter of the first pass: θ0 at the first step, the moments and s; returns its
    /// terms of the two sums, g·(θ0 − θ) and |s|.
    #[inline(always)]
    fn apply(&self, p: F, g: F, m: &mut F, v: &mut F, s: &mut F, p0: &mut F) -> (F, F) {
        if self.first {
            *p0 = p;
        }
        let numerator = g * (*p0 - p);
        let dg = self.d * g;
        *m = self.b1 * *m + self.one_minus_b1 * dg;
        *v = self.b2 * *v + self.one_minus_b2 * dg * dg;
        *s = self.b3 * *s + self.s_scale * dg / self.d0;
        (numerator, s.abs_())
    }

    /// The new `d` and `r` from the two sums.
    #[inline]
    fn estimate(&self, coef: f64, numerator: F, s_l1: F) -> (F, F) {
        let r = self.b3 * self.r + self.d / self.d0 * self.dlr * numerator;
        let estimate = F::from_f64(coef) * r / s_l1;
        (self.d.max_nan(estimate), r)
    }
}

/// The second pass: `θ ← θ + (−λ·dlr·θ − dlr·m / (√v + d·ε))`, as optax's update then
/// `apply_updates`.
struct Update<F> {
    neg_wd_dlr: F,
    dlr: F,
    d_eps: F,
}

impl<F: Real> Update<F> {
    fn new(c: &ProdigyConfig, dlr: F, d: F) -> Self {
        Update { neg_wd_dlr: F::from_f64(-c.weight_decay) * dlr, dlr, d_eps: d * F::from_f64(c.eps) }
    }
    #[inline(always)]
    fn apply(&self, p: &mut F, m: F, v: F) {
        let u = self.neg_wd_dlr * *p - self.dlr * m / (v.sqrt() + self.d_eps);
        *p = *p + u;
    }
}

impl UpdateRule for ProdigyConfig {
    type Scalars = DistanceScalars;
    const NAME: &'static str = "prodigy";
    const ID: u8 = 26;
    const ELEMENTWISE: bool = false;
    const WHOLE_SET: bool = true;

    fn validate(&self) -> Result<(), Error> {
        check_common(self.lr, self.betas, self.eps, self.estim_lr0, self.weight_decay)?;
        if let Some(b3) = self.beta3 {
            check_range_open("beta3", b3, 0.0, 1.0)?;
        }
        check_ge("estim_lr_coef", self.estim_lr_coef, 0.0)
    }
    fn state_len(&self, n: usize) -> usize {
        4 * n
    }
    lr_and_betas_momentum!();

    fn kernel<F: Real, const L: usize>(
        &self,
        sc: &mut DistanceScalars,
        t: u64,
        p: &mut [F],
        g: &[F],
        state: &mut [F],
        _: &mut [F],
    ) {
        let [m, v, s, p0] = streams!(state, p.len(); 4);
        let pass = self.pass::<F>(sc, t);
        let (mut numerator, mut s_l1) = (FixedSum::new(), FixedSum::new());
        // Pass 1 reads θ only (the lane skeleton hands it out mutably; it is left as it is).
        crate::lanes::zip4::<F, L>(p, g, m, v, s, p0, |p, g, m, v, s, p0| {
            let (a, b) = pass.apply(*p, g, m, v, s, p0);
            numerator.push(a);
            s_l1.push(b);
        });
        let (d, r) = pass.estimate(self.estim_lr_coef, numerator.total(), s_l1.total());
        let update = Update::new(self, pass.dlr, d);
        crate::lanes::zip2::<F, L>(p, g, m, v, |p, _, m, v| update.apply(p, *m, *v));
        sc.keep(d, r);
    }

    fn reference<F: Real>(
        &self,
        sc: &mut DistanceScalars,
        t: u64,
        p: &mut [F],
        g: &[F],
        state: &mut [F],
        _: &mut [F],
    ) {
        let n = p.len().min(g.len());
        if state.len() < 4 * n {
            return;
        }
        let c = F::from_f64;
        let (m, rest) = state.split_at_mut(n);
        let (v, rest) = rest.split_at_mut(n);
        let (s, p0) = rest.split_at_mut(n);
        let (d, r) = sc.start::<F>(t, self.estim_lr0);
        let dlr = dlr(d, self.lr, self.betas, t);
        let (b1, b2, b3) = (self.betas.0, self.betas.1, self.beta3());
        let d0 = c(self.estim_lr0);
        let (mut numerator, mut s_l1) = (FixedSum::new(), FixedSum::new());
        for i in 0..n {
            if t <= 1 {
                p0[i] = p[i];
            }
            numerator.add_at(i, g[i] * (p0[i] - p[i]));
            let dg = d * g[i];
            m[i] = c(b1) * m[i] + c(1.0 - b1) * dg;
            v[i] = c(b2) * v[i] + c(1.0 - b2) * dg * dg;
            s[i] =
                if self.safeguard_warmup { c(b3) * s[i] + d * dg / d0 } else { c(b3) * s[i] + dlr * dg / d0 };
            s_l1.add_at(i, s[i].abs_());
        }
        let r = c(b3) * r + d / d0 * dlr * numerator.total();
        let d = d.max_nan(c(self.estim_lr_coef) * r / s_l1.total());
        for i in 0..n {
            let u = c(-self.weight_decay) * dlr * p[i] - dlr * m[i] / (v[i].sqrt() + d * c(self.eps));
            p[i] = p[i] + u;
        }
        sc.keep(d, r);
    }
}
