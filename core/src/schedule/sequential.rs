//! `SequentialLR`: schedules joined at milestones. Child i runs from milestone i − 1 and starts
//! at its own step 0 there (PyTorch calls `step(0)` on it; optax's `join_schedules` passes
//! count − boundary likewise), so the lr at step t is childᵢ(t − milestoneᵢ₋₁).

use super::{AnySchedule, Schedule};
use crate::error::Error;

/// Up to `K` schedules joined at `K − 1` milestones.
#[derive(Debug, Clone, PartialEq)]
pub struct Sequential<const K: usize> {
    children: heapless::Vec<AnySchedule, K>,
    milestones: heapless::Vec<u64, K>,
}

impl<const K: usize> Sequential<K> {
    /// Joins `children` (at least one) at `milestones` (one fewer, increasing).
    pub fn new(children: &[AnySchedule], milestones: &[u64]) -> Result<Self, Error> {
        if children.is_empty() {
            return Err(Error::InvalidCombination {
                message: "SequentialLR expects at least one scheduler, but got no scheduler.",
            });
        }
        if milestones.len() + 1 != children.len() {
            return Err(Error::InvalidCombination {
                message: "Sequential Schedulers expects number of schedulers provided to be one more than the number of milestone points",
            });
        }
        if milestones.windows(2).any(|w| w[0] > w[1]) {
            return Err(Error::InvalidCombination { message: "SequentialLR milestones must be increasing" });
        }
        let mut c = heapless::Vec::new();
        for ch in children {
            c.push(ch.clone()).map_err(|_| Error::InvalidCombination {
                message: "more schedules than the Sequential capacity K",
            })?;
        }
        let mut m = heapless::Vec::new();
        m.extend_from_slice(milestones).map_err(|_| Error::InvalidCombination {
            message: "more milestones than the Sequential capacity K",
        })?;
        Ok(Sequential { children: c, milestones: m })
    }

    fn locate(&self, t: u64) -> (Option<&AnySchedule>, u64) {
        let idx = self.milestones.partition_point(|&m| m <= t);
        let start = if idx == 0 { 0 } else { self.milestones.get(idx - 1).copied().unwrap_or(0) };
        (self.children.get(idx), t - start)
    }
}

impl<const K: usize> Schedule for Sequential<K> {
    fn lr_at(&self, t: u64) -> f64 {
        match self.locate(t) {
            (Some(s), local) => s.lr_at(local),
            (None, _) => f64::NAN,
        }
    }
    fn momentum_at(&self, t: u64) -> Option<f64> {
        match self.locate(t) {
            (Some(s), local) => s.momentum_at(local),
            (None, _) => None,
        }
    }
}
