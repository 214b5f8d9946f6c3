//! What D-Adaptation ([`super::dadapt_adamw`]) and Prodigy ([`super::prodigy`]) share: the
//! learning-rate-free AdamW skeleton whose step size `d` estimates the distance to the solution
//! `D = ‖θ0 − θ*‖` from sums over every parameter (optax's tree sums).
//!
//! ```text
//! dlr ← d·γ·√(1 − β2^t) / (1 − β1^t)         (γ the lr, a multiplier: 1 by default)
//! pass 1 over every parameter: the moments, and two sums (a numerator and ‖s‖₁)
//! d ← max(d, numerator / ‖s‖₁)               (never decreases; NaN spreads, as jnp.maximum)
//! pass 2 over every parameter: θ ← θ − λ·dlr·θ − (the Adam step)
//! ```
//!
//! The sums run over every parameter the optimizer updates, so these rules are
//! [`UpdateRule::WHOLE_SET`](super::UpdateRule::WHOLE_SET): one flat optimizer over the whole
//! parameter set (optax's pytree), never one estimate per tensor.
//!
//! With every gradient zero, `‖s‖₁ = 0` and the estimate is `0/0`: `d` and then the parameters
//! become NaN, as optax's do (`tests/equivalences.rs` checks it).
//!
//! **Summation order.** Each sum is kept in [`SUM_LANES`] partial sums, element `i` into partial
//! `i mod 8`, combined as `((s0 + s1) + (s2 + s3)) + ((s4 + s5) + (s6 + s7))`, in the parameters'
//! precision. The order depends on nothing else, so the lane kernel at every lane width and the
//! scalar reference give the same bits (`tests/kernel_matches_reference.rs` checks it bitwise). optax
//! sums with XLA's reductions (`jnp.vdot`, `jnp.sum`), whose order differs: the results agree
//! within the conformance tolerances, not bit for bit.

use crate::Error;
use crate::persist::{Persist, Reader, Writer};
use crate::real::{Real, pow_step};

/// Number of partial sums of every reduction, whatever the lane width.
pub const SUM_LANES: usize = 8;

/// Scalar state of D-Adaptation and Prodigy, kept in `f64` but holding values of the parameters'
/// float type (rounded each step, as optax keeps them in the parameters' dtype).
#[derive(Debug, Clone, Copy, PartialEq, Default)]
pub struct DistanceScalars {
    /// `d` (optax's `estim_lr`), the estimate of the distance to the solution; before the first
    /// step it is the configuration's `estim_lr0`.
    pub estim_lr: f64,
    /// The weighted numerator of the estimate (optax's `numerator_weighted`).
    pub numerator_weighted: f64,
}

impl Persist for DistanceScalars {
    fn write(&self, w: &mut Writer<'_>) -> Result<(), Error> {
        w.f64(self.estim_lr)?;
        w.f64(self.numerator_weighted)
    }
    fn read(r: &mut Reader<'_>) -> Result<Self, Error> {
        Ok(DistanceScalars { estim_lr: r.f64()?, numerator_weighted: r.f64()? })
    }
}

impl DistanceScalars {
    /// `d` and the weighted numerator at the start of step `t`, in `F`: optax's `init` values
    /// (`estim_lr0` rounded to `F`, and 0) at the first step.
    #[inline]
    pub(crate) fn start<F: Real>(&self, t: u64, estim_lr0: f64) -> (F, F) {
        if t <= 1 {
            (F::from_f64(estim_lr0), F::ZERO)
        } else {
            (F::from_f64(self.estim_lr), F::from_f64(self.numerator_weighted))
        }
    }

    /// Keeps the new estimate and numerator.
    #[inline]
    pub(crate) fn keep<F: Real>(&mut self, estim_lr: F, numerator_weighted: F) {
        self.estim_lr = estim_lr.as_f64();
        self.numerator_weighted = numerator_weighted.as_f64();
    }
}

/// `dlr` of step `t`: `d·γ·bc` with optax's bias correction `bc = √(1 − β2^t) / (1 − β1^t)`,
/// which optax computes in `f64` (a weakly typed Python scalar) and rounds to the parameters'
/// type where it multiplies; `d·γ` is rounded first (`estim_lr * sched * bc`).
#[inline]
pub(crate) fn dlr<F: Real>(d: F, lr: f64, betas: (f64, f64), t: u64) -> F {
    let (b1, b2) = betas;
    let bc = <f64 as Real>::sqrt(1.0 - pow_step(b2, t)) / (1.0 - pow_step(b1, t));
    d * F::from_f64(lr) * F::from_f64(bc)
}

/// `√β` in `f64` (Python's `beta ** 0.5`).
#[inline]
pub(crate) fn sqrt_beta(beta: f64) -> f64 {
    <f64 as Real>::sqrt(beta)
}

/// A sum in [`SUM_LANES`] partial sums (see the module documentation for the order).
#[derive(Debug, Clone, Copy)]
pub(crate) struct FixedSum<F> {
    acc: [F; SUM_LANES],
    /// The partial the next value goes to (`i mod 8` for the `i`-th value added).
    next: usize,
}

impl<F: Real> FixedSum<F> {
    pub(crate) fn new() -> Self {
        FixedSum { acc: [F::ZERO; SUM_LANES], next: 0 }
    }

    /// Adds the next value (the `i`-th call adds into partial `i mod 8`).
    #[inline(always)]
    pub(crate) fn push(&mut self, x: F) {
        if let Some(a) = self.acc.get_mut(self.next) {
            *a = *a + x;
        }
        self.next = if self.next + 1 == SUM_LANES { 0 } else { self.next + 1 };
    }

    /// Adds `x` into partial `i mod 8` (the reference's form of [`FixedSum::push`]).
    #[inline(always)]
    pub(crate) fn add_at(&mut self, i: usize, x: F) {
        if let Some(a) = self.acc.get_mut(i % SUM_LANES) {
            *a = *a + x;
        }
    }

    /// The total: `((s0 + s1) + (s2 + s3)) + ((s4 + s5) + (s6 + s7))`.
    #[inline(always)]
    pub(crate) fn total(&self) -> F {
        let [a, b, c, d, e, f, g, h] = self.acc;
        ((a + b) + (c + d)) + ((e + f) + (g + h))
    }
}

/// The checks both rules share, with optax's names: `lr`, `betas`, `eps`, `estim_lr0` (positive
/// and finite: the sums divide by it), `weight_decay`.
pub(crate) fn check_common(
    lr: f64,
    betas: (f64, f64),
    eps: f64,
    estim_lr0: f64,
    weight_decay: f64,
) -> Result<(), Error> {
    use crate::error::{check_ge, check_range_open};
    check_ge("lr", lr, 0.0)?;
    check_range_open("betas[0]", betas.0, 0.0, 1.0)?;
    check_range_open("betas[1]", betas.1, 0.0, 1.0)?;
    check_ge("eps", eps, 0.0)?;
    if !(estim_lr0 > 0.0 && estim_lr0.is_finite()) {
        return Err(Error::InvalidHyperparameter { name: "estim_lr0", value: estim_lr0 });
    }
    check_ge("weight_decay", weight_decay, 0.0)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn push_and_add_at_sum_in_the_same_order() {
        let xs: [f32; 21] =
            core::array::from_fn(|i| 1.0 / (i as f32 + 1.0) * if i % 3 == 0 { -1e3 } else { 1.0 });
        let (mut a, mut b) = (FixedSum::new(), FixedSum::new());
        for (i, &x) in xs.iter().enumerate() {
            a.push(x);
            b.add_at(i, x);
        }
        assert_eq!(a.total().to_bits(), b.total().to_bits());
    }

    #[test]
    fn the_first_step_starts_from_estim_lr0() {
        let s = DistanceScalars { estim_lr: 5.0, numerator_weighted: 2.0 };
        assert_eq!(s.start::<f32>(1, 1e-6), (1e-6f32, 0.0));
        assert_eq!(s.start::<f64>(2, 1e-6), (5.0, 2.0));
    }
}
