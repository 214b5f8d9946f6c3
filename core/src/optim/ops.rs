//! PyTorch's elementwise tensor primitives, one element at a time, in PyTorch's order of
//! operations (ATen's CPU kernels). Kernels and references both build on these, so a rule reads
//! like PyTorch's `_single_tensor_*` code and the two agree bit for bit.

use crate::real::Real;

/// `torch.lerp(a, b, w)` for a scalar weight: `a + w·(b − a)` if `|w| < 0.5`, else
/// `b − (b − a)·(1 − w)` (ATen `lerp` for floating point, which keeps the result exact at `w = 1`).
#[inline(always)]
pub fn lerp<F: Real>(a: F, b: F, w: F, one_minus_w: F, small_w: bool) -> F {
    if small_w { a + w * (b - a) } else { b - (b - a) * one_minus_w }
}

/// Scalars of a lerp by weight `w` given in `f64`, precomputed once per step.
#[derive(Clone, Copy, Debug)]
pub struct Lerp<F> {
    /// `w`.
    pub w: F,
    /// `1 − w` (computed in `f64`, then rounded, as ATen computes it in the opmath type).
    pub one_minus_w: F,
    /// `|w| < 0.5`.
    pub small: bool,
}

impl<F: Real> Lerp<F> {
    /// Lerp coefficients for weight `w`.
    #[inline]
    pub fn new(w: f64) -> Self {
        Self::of(w, 1.0 - w)
    }
    /// Lerp coefficients for weight `w`, with `1 − w` computed by the caller.
    #[inline]
    pub fn of(w: f64, one_minus_w: f64) -> Self {
        Lerp { w: F::from_f64(w), one_minus_w: F::from_f64(one_minus_w), small: w.abs() < 0.5 }
    }
    /// `torch.lerp(a, b, w)`.
    #[inline(always)]
    pub fn apply(&self, a: F, b: F) -> F {
        lerp(a, b, self.w, self.one_minus_w, self.small)
    }
}

/// `self.addcmul(t1, t2, value)`: `s + value·t1·t2`.
#[inline(always)]
pub fn addcmul<F: Real>(s: F, value: F, t1: F, t2: F) -> F {
    s + value * t1 * t2
}

/// `self.addcdiv(t1, t2, value)`: `s + value·(t1 / t2)`.
#[inline(always)]
pub fn addcdiv<F: Real>(s: F, value: F, t1: F, t2: F) -> F {
    s + value * (t1 / t2)
}

/// `self.add(other, alpha)`: `s + alpha·other`.
#[inline(always)]
pub fn add_alpha<F: Real>(s: F, alpha: F, other: F) -> F {
    s + alpha * other
}

/// The gradient as the rule sees it: negated when maximizing.
#[inline(always)]
pub fn directed<F: Real>(g: F, maximize: bool) -> F {
    if maximize { -g } else { g }
}
