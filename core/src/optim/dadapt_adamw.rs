//! D-Adaptation AdamW, learning-rate-free AdamW (`optax.contrib.dadapt_adamw`; Defazio &
//! Mishchenko 2023): the step size `d` is a lower bound on the distance to the solution
//! `D = ‖θ0 − θ*‖`, grown from every parameter's gradients.
//!
//! ```text
//! dlr ← d·γ·√(1 − β2^t) / (1 − β1^t);   β̂ ← √β2
//! for every parameter:
//!     (numerator term) g·s / (√v + ε)                  (s and v before this step)
//!     m ← β1·m + (1 − β1)·dlr·g;   v ← β2·v + (1 − β2)·g²
//!     s ← β̂·s + (1 − β̂)·dlr·g
//! r ← β̂·r + (1 − β̂)·dlr·Σ g·s/(√v + ε)        (sums over every parameter)
//! d ← max(d, r / ((1 − β̂)·Σ|s|))
//! θ ← θ − λ·dlr·θ − m / (√v + ε)               (m already carries dlr)
//! ```
//! `d` starts at `d0` (`estim_lr0`), `r` at 0, the moments at 0; `γ` (`lr`, default 1) multiplies
//! the estimated step, as a schedule would.
//!
//! Source: optax 0.2.8 `optax/contrib/_dadapt_adamw.py::dadapt_adamw`, step for step and in the
//! same precision (optax keeps `d` and `r` in the parameters' dtype; the bias correction is a
//! Python float). Paper: Defazio & Mishchenko 2023, "Learning-Rate-Free Learning by
//! D-Adaptation" (ICML), its Adam variant: D is measured in the ℓ∞ norm, whose dual norm ‖s‖₁
//! divides the weighted sum `r`, so that `d = r / ‖s‖₁` is a lower bound on D and never overshoots.
//!
//! The sums run over every parameter: D-Adaptation is [`UpdateRule::WHOLE_SET`], one flat
//! optimizer over the whole parameter set (optax's pytree), not one estimate per tensor. They are
//! summed in a fixed order ([`super::distance`]), so kernel and reference agree bit for bit.
//!
//! State per parameter: 3 values (m, v, s). Scalars: `d` and `r` ([`DistanceScalars`]).
//!
//! Differs elsewhere: the authors' PyTorch `dadaptation.DAdaptAdam` estimates `d` per parameter
//! group, has `d_coef`, `growth_rate`, `decouple` (off by default: L2 decay there) and
//! `use_bias_correction` (off by default, where optax always corrects).

use super::distance::{DistanceScalars, FixedSum, check_common, dlr, sqrt_beta};
use super::{Optim, UpdateRule};
use crate::error::Error;
use crate::real::Real;

/// Hyperparameters of D-Adaptation AdamW, with optax's names (`learning_rate` → `lr`) and
/// defaults.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct DadaptAdamwConfig {
    /// γ, a multiplier of the estimated step size (default 1; a schedule treats 1 as its base).
    pub lr: f64,
    /// (β1, β2) of the underlying AdamW (default (0.9, 0.999)); the estimate decays by √β2.
    pub betas: (f64, f64),
    /// ε of the underlying AdamW (default 1e-8).
    pub eps: f64,
    /// d0, the initial (under-)estimate of the step size (default 1e-6).
    pub estim_lr0: f64,
    /// λ of AdamW's decoupled weight decay, scaled by `dlr` (default 0).
    pub weight_decay: f64,
}

crate::fields!(DadaptAdamwConfig { lr, betas, eps, estim_lr0, weight_decay });

impl Default for DadaptAdamwConfig {
    fn default() -> Self {
        DadaptAdamwConfig { lr: 1.0, betas: (0.9, 0.999), eps: 1e-8, estim_lr0: 1e-6, weight_decay: 0.0 }
    }
}

crate::persist_fields!(DadaptAdamwConfig {
    lr: f64, betas.0: f64, betas.1: f64, eps: f64, estim_lr0: f64, weight_decay: f64
});

/// D-Adaptation AdamW owning its state for `N` parameters (3 × N values).
pub type DadaptAdamw<F, const N: usize> = Optim<DadaptAdamwConfig, F, [[F; N]; 3]>;
/// D-Adaptation AdamW over a caller-provided buffer (3 × n values).
pub type DadaptAdamwView<'a, F> = Optim<DadaptAdamwConfig, F, &'a mut [F]>;

/// The values of one step, rounded to `F` once.
struct Step<F> {
    d: F,
    r: F,
    dlr: F,
    b1: F,
    /// (1 − β1)·dlr.
    m_scale: F,
    b2: F,
    one_minus_b2: F,
    sb2: F,
    one_minus_sb2: F,
    /// (1 − √β2)·dlr.
    s_scale: F,
    eps: F,
    neg_wd_dlr: F,
}

impl DadaptAdamwConfig {
    fn step<F: Real>(&self, sc: &DistanceScalars, t: u64) -> Step<F> {
        let c = F::from_f64;
        let (d, r) = sc.start::<F>(t, self.estim_lr0);
        let dlr = dlr(d, self.lr, self.betas, t);
        let sb2 = sqrt_beta(self.betas.1);
        Step {
            d,
            r,
            dlr,
            b1: c(self.betas.0),
            m_scale: c(1.0 - self.betas.0) * dlr,
            b2: c(self.betas.1),
            one_minus_b2: c(1.0 - self.betas.1),
            sb2: c(sb2),
            one_minus_sb2: c(1.0 - sb2),
            s_scale: c(1.0 - sb2) * dlr,
            eps: c(self.eps),
            neg_wd_dlr: c(-self.weight_decay) * dlr,
        }
    }
}

impl<F: Real> Step<F> {
    /// One parameter of the first pass: the moments and s; returns its terms of the two sums,
    /// g·s/(√v + ε) (s and v before the step) and |s| (after).
    #[inline(always)]
    fn apply(&self, g: F, m: &mut F, v: &mut F, s: &mut F) -> (F, F) {
        let numerator = g * (*s / (v.sqrt() + self.eps));
        *m = self.b1 * *m + self.m_scale * g;
        *v = self.b2 * *v + self.one_minus_b2 * g * g;
        *s = self.sb2 * *s + self.s_scale * g;
        (numerator, s.abs_())
    }

    /// The new `d` and `r` from the two sums.
    #[inline]
    fn estimate(&self, numerator: F, s_l1: F) -> (F, F) {
        let r = self.sb2 * self.r + self.one_minus_sb2 * self.dlr * numerator;
        (self.d.max_nan(r / (self.one_minus_sb2 * s_l1)), r)
    }

    /// The second pass: `θ ← θ + (−λ·dlr·θ − m / (√v + ε))`.
    #[inline(always)]
    fn update(&self, p: &mut F, m: F, v: F) {
        let u = self.neg_wd_dlr * *p - m / (v.sqrt() + self.eps);
        *p = *p + u;
    }
}

impl UpdateRule for DadaptAdamwConfig {
    type Scalars = DistanceScalars;
    const NAME: &'static str = "dadapt_adamw";
    const ID: u8 = 27;
    const ELEMENTWISE: bool = false;
    const WHOLE_SET: bool = true;

    fn validate(&self) -> Result<(), Error> {
        check_common(self.lr, self.betas, self.eps, self.estim_lr0, self.weight_decay)
    }
    fn state_len(&self, n: usize) -> usize {
        3 * n
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
        let [m, v, s] = streams!(state, p.len(); 3);
        let step = self.step::<F>(sc, t);
        let (mut numerator, mut s_l1) = (FixedSum::new(), FixedSum::new());
        // Pass 1 reads no θ (the lane skeleton hands it out mutably; it is left as it is).
        crate::lanes::zip3::<F, L>(p, g, m, v, s, |_, g, m, v, s| {
            let (a, b) = step.apply(g, m, v, s);
            numerator.push(a);
            s_l1.push(b);
        });
        let (d, r) = step.estimate(numerator.total(), s_l1.total());
        crate::lanes::zip2::<F, L>(p, g, m, v, |p, _, m, v| step.update(p, *m, *v));
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
        if state.len() < 3 * n {
            return;
        }
        let c = F::from_f64;
        let (m, rest) = state.split_at_mut(n);
        let (v, s) = rest.split_at_mut(n);
        let (d, r) = sc.start::<F>(t, self.estim_lr0);
        let dlr = dlr(d, self.lr, self.betas, t);
        let (b1, b2, sb2) = (self.betas.0, self.betas.1, sqrt_beta(self.betas.1));
        let (mut numerator, mut s_l1) = (FixedSum::new(), FixedSum::new());
        for i in 0..n {
            numerator.add_at(i, g[i] * (s[i] / (v[i].sqrt() + c(self.eps))));
            m[i] = c(b1) * m[i] + c(1.0 - b1) * dlr * g[i];
            v[i] = c(b2) * v[i] + c(1.0 - b2) * g[i] * g[i];
            s[i] = c(sb2) * s[i] + c(1.0 - sb2) * dlr * g[i];
            s_l1.add_at(i, s[i].abs_());
        }
        let r = c(sb2) * r + c(1.0 - sb2) * dlr * numerator.total();
        let d = d.max_nan(r / (c(1.0 - sb2) * s_l1.total()));
        for i in 0..n {
            let u = c(-self.weight_decay) * dlr * p[i] - m[i] / (v[i].sqrt() + c(self.eps));
            p[i] = p[i] + u;
        }
        sc.keep(d, r);
    }
}
