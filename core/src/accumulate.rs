//! Gradient accumulation over `k` micro-batches: a small state machine that sums (or averages)
//! gradients and tells the caller when to step. The effective gradient is the mean over the `k`
//! micro-batches, as a `k`-times larger batch would give.
//!
//! Two modes, which differ only in rounding:
//! - [`AccumulateMode::SumThenScale`]: a ← a + g for each micro-batch, then a ← a·(1/k) (one
//!   rounding per add, one for the scale; what `loss / k` then `backward()` in PyTorch amounts to);
//! - [`AccumulateMode::RunningMean`]: a ← a + (g − a)/j on the j-th micro-batch (stays in the
//!   gradients' range, no overflow for huge sums).

use crate::error::Error;
use crate::optim::StateBuffer;
use crate::real::Real;
use core::marker::PhantomData;

/// How micro-batch gradients are combined.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum AccumulateMode {
    /// Sum, then multiply by 1/k when the k-th micro-batch arrives.
    #[default]
    SumThenScale,
    /// Running mean a ← a + (g − a)/j.
    RunningMean,
}

/// What [`Accumulator::push`] says.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Accumulated {
    /// More micro-batches are needed before a step.
    Pending {
        /// Micro-batches accumulated so far.
        have: usize,
        /// Micro-batches per step.
        need: usize,
    },
    /// The k-th micro-batch arrived: call [`Accumulator::gradient`], step, and the next push
    /// starts a new accumulation.
    Ready,
}

/// A gradient accumulator for `n` parameters over storage `B` (owned [`Accumulate`] or borrowed
/// [`AccumulateView`]).
#[derive(Debug, Clone)]
pub struct Accumulator<F: Real, B: StateBuffer<F>> {
    buf: B,
    n: usize,
    k: usize,
    have: usize,
    mode: AccumulateMode,
    _f: PhantomData<F>,
}

/// An accumulator owning its buffer for `N` parameters.
pub type Accumulate<F, const N: usize> = Accumulator<F, [[F; N]; 1]>;
/// An accumulator over a caller-provided buffer of `n` values.
pub type AccumulateView<'a, F> = Accumulator<F, &'a mut [F]>;

impl<F: Real, const N: usize> Accumulator<F, [[F; N]; 1]> {
    /// Accumulates over `k ≥ 1` micro-batches.
    pub fn new(k: usize, mode: AccumulateMode) -> Result<Self, Error> {
        Accumulator::from_storage([[F::ZERO; N]; 1], N, k, mode)
    }
}

impl<'a, F: Real> Accumulator<F, &'a mut [F]> {
    /// Accumulates `n` gradients over `k ≥ 1` micro-batches in `buffer` (at least n values).
    pub fn with_buffer(buffer: &'a mut [F], n: usize, k: usize, mode: AccumulateMode) -> Result<Self, Error> {
        Accumulator::from_storage(buffer, n, k, mode)
    }
}

impl<F: Real, B: StateBuffer<F>> Accumulator<F, B> {
    /// An accumulator over any storage of at least `n` values.
    pub fn from_storage(mut buf: B, n: usize, k: usize, mode: AccumulateMode) -> Result<Self, Error> {
        if k == 0 {
            return Err(Error::InvalidHyperparameter { name: "accumulation steps", value: 0.0 });
        }
        let available = buf.values().len();
        buf.values_mut()
            .get_mut(..n)
            .ok_or(Error::BufferTooSmall { what: "accumulator", needed: n, available })?
            .fill(F::ZERO);
        Ok(Accumulator { buf, n, k, have: 0, mode, _f: PhantomData })
    }

    /// Micro-batches per step.
    pub fn k(&self) -> usize {
        self.k
    }

    /// Adds one micro-batch gradient. After `Ready`, the next push starts over.
    pub fn push(&mut self, grads: &[F]) -> Result<Accumulated, Error> {
        if grads.len() != self.n {
            return Err(Error::LengthMismatch { what: "grads", expected: self.n, found: grads.len() });
        }
        if self.have == self.k {
            self.have = 0;
        }
        let j = self.have + 1;
        let first = self.have == 0;
        let acc = self
            .buf
            .values_mut()
            .get_mut(..self.n)
            .ok_or(Error::CorruptState { reason: "accumulator buffer shrank" })?;
        match self.mode {
            AccumulateMode::SumThenScale => {
                for (a, &g) in acc.iter_mut().zip(grads) {
                    *a = if first { g } else { *a + g };
                }
                if j == self.k && self.k > 1 {
                    let inv = F::ONE / F::from_f64(self.k as f64);
                    acc.iter_mut().for_each(|a| *a = *a * inv);
                }
            }
            AccumulateMode::RunningMean => {
                let jf = F::from_f64(j as f64);
                for (a, &g) in acc.iter_mut().zip(grads) {
                    *a = if first { g } else { *a + (g - *a) / jf };
                }
            }
        }
        self.have = j;
        Ok(if j == self.k { Accumulated::Ready } else { Accumulated::Pending { have: j, need: self.k } })
    }

    /// The accumulated mean gradient, once [`Accumulated::Ready`]; `None` before.
    pub fn gradient(&self) -> Option<&[F]> {
        if self.have == self.k { self.buf.values().get(..self.n) } else { None }
    }

    /// Drops a partial accumulation.
    pub fn reset(&mut self) {
        self.have = 0;
    }
}
