//! `LambdaLR` and `MultiplicativeLR`: schedules given by a function of the step (a closure, or
//! any `Fn(u64) -> f64`).
//!
//! ```text
//! LambdaLR:          lr(t) = η₀ · λ(t)
//! MultiplicativeLR:  lr(0) = η₀,  lr(t) = lr(t − 1) · λ(t) = η₀ · Π_{k=1..t} λ(k)
//! ```
//! Source: `torch/optim/lr_scheduler.py::LambdaLR`, `MultiplicativeLR`. A function cannot be
//! saved, so these schedules have no [`super::SavedSchedule`]: save the driver's t and build the
//! schedule again to resume.

use super::{Schedule, check_base_lr};
use crate::error::Error;
use core::cell::Cell;

/// lr(t) = η₀·λ(t) (`LambdaLR`).
#[derive(Clone)]
pub struct LambdaLr<L: Fn(u64) -> f64> {
    base_lr: f64,
    lambda: L,
}

impl<L: Fn(u64) -> f64> LambdaLr<L> {
    /// `lr(t) = base_lr · lambda(t)`.
    pub fn new(base_lr: f64, lambda: L) -> Result<Self, Error> {
        check_base_lr(base_lr)?;
        Ok(LambdaLr { base_lr, lambda })
    }
}

impl<L: Fn(u64) -> f64> Schedule for LambdaLr<L> {
    fn lr_at(&self, t: u64) -> f64 {
        self.base_lr * (self.lambda)(t)
    }
}

impl<L: Fn(u64) -> f64> core::fmt::Debug for LambdaLr<L> {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.debug_struct("LambdaLr").field("base_lr", &self.base_lr).finish_non_exhaustive()
    }
}

/// lr(t) = lr(t − 1)·λ(t) (`MultiplicativeLR`). The running product is remembered, so stepping
/// forward costs one multiplication; asking for an earlier t recomputes it from the start, with
/// the same multiplications in the same order, so the same bits.
#[derive(Clone)]
pub struct MultiplicativeLr<L: Fn(u64) -> f64> {
    base_lr: f64,
    lambda: L,
    /// (t, lr(t)) of the last call.
    last: Cell<(u64, f64)>,
}

impl<L: Fn(u64) -> f64> MultiplicativeLr<L> {
    /// `lr(t) = lr(t − 1) · lambda(t)` from `lr(0) = base_lr`.
    pub fn new(base_lr: f64, lambda: L) -> Result<Self, Error> {
        check_base_lr(base_lr)?;
        Ok(MultiplicativeLr { base_lr, lambda, last: Cell::new((0, base_lr)) })
    }
}

impl<L: Fn(u64) -> f64> Schedule for MultiplicativeLr<L> {
    fn lr_at(&self, t: u64) -> f64 {
        let (mut k, mut lr) = self.last.get();
        if t < k {
            (k, lr) = (0, self.base_lr);
        }
        while k < t {
            k += 1;
            lr *= (self.lambda)(k);
        }
        self.last.set((k, lr));
        lr
    }
}

impl<L: Fn(u64) -> f64> core::fmt::Debug for MultiplicativeLr<L> {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.debug_struct("MultiplicativeLr").field("base_lr", &self.base_lr).finish_non_exhaustive()
    }
}
