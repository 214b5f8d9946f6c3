//! Lookahead (Zhang et al. 2019, "Lookahead Optimizer: k steps forward, 1 step back"), as
//! `optax.lookahead` defines it: any inner optimizer moves the fast parameters θ; every `k` steps
//! (`sync_period`) the slow parameters φ move a fraction α (`slow_step_size`) of the way to them
//! and the fast parameters restart from there:
//!
//! φ ← φ + α·(θ − φ),  θ ← φ
//!
//! written, as optax writes it, with d = θ − φ after the inner step: φ ← φ + α·d and
//! θ ← θ − (1 − α)·d. With `reset_state` the inner optimizer starts afresh after each
//! synchronization ([`Optimizer::reset`]). Gradients are taken at the fast parameters (the ones
//! [`Optimizer::step`] updates); the slow ones ([`Lookahead::slow`]) are for evaluation.
//!
//! The slow parameters live in a buffer the caller owns or a const array: no heap.

use core::marker::PhantomData;

use super::{Optimizer, StateBuffer, StepOutcome};
use crate::error::{Error, check_range_open};
use crate::persist::{self, Header, Kind, Writer};
use crate::real::Real;

/// Lookahead's hyperparameters, with optax's names.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct LookaheadConfig {
    /// Inner steps between synchronizations, k ≥ 1.
    pub sync_period: u64,
    /// α, the fraction of the way the slow parameters move at a synchronization.
    pub slow_step_size: f64,
    /// Whether the inner optimizer restarts (state and step count) after each synchronization.
    pub reset_state: bool,
}

impl LookaheadConfig {
    /// Checks the hyperparameters (optax's message for the period).
    pub fn validate(&self) -> Result<(), Error> {
        if self.sync_period < 1 {
            return Err(Error::InvalidHyperparameter { name: "sync_period", value: self.sync_period as f64 });
        }
        // Finite and ≥ 0 (NaN and ∞ refused).
        check_range_open("slow_step_size", self.slow_step_size, 0.0, f64::INFINITY)
    }
}

/// An inner optimizer `O` wrapped in Lookahead, the slow parameters in `B`.
#[derive(Debug, Clone)]
pub struct Lookahead<O, F, B> {
    inner: O,
    slow: B,
    config: LookaheadConfig,
    since_sync: u64,
    _float: PhantomData<F>,
}

impl<O: Optimizer<F>, F: Real, B: StateBuffer<F>> Lookahead<O, F, B> {
    /// Lookahead around `inner`, the slow parameters in `slow` (at least `inner.len()` values,
    /// set to `params`: optax's `LookaheadParams.init_synced`). Refuses invalid hyperparameters,
    /// a `params` of another length, a buffer too small, and `reset_state` with an inner
    /// optimizer that cannot reset.
    pub fn new(inner: O, config: LookaheadConfig, mut slow: B, params: &[F]) -> Result<Self, Error> {
        config.validate()?;
        let n = inner.len();
        if params.len() != n {
            return Err(Error::LengthMismatch { what: "params", expected: n, found: params.len() });
        }
        let available = slow.values().len();
        let dst = slow.values_mut().get_mut(..n).ok_or(Error::BufferTooSmall {
            what: "slow parameters",
            needed: n,
            available,
        })?;
        dst.iter_mut().zip(params).for_each(|(d, &p)| *d = p);
        let mut inner = inner;
        if config.reset_state {
            // A fresh optimizer resets to itself: this only asks whether it can.
            inner.reset()?;
        }
        Ok(Lookahead { inner, slow, config, since_sync: 0, _float: PhantomData })
    }

    /// The slow parameters φ (what to evaluate; optax's `params.slow`).
    pub fn slow(&self) -> &[F] {
        self.slow.values().get(..self.inner.len()).unwrap_or(&[])
    }
    /// The inner optimizer.
    pub fn inner(&self) -> &O {
        &self.inner
    }
    /// The hyperparameters.
    pub fn config(&self) -> LookaheadConfig {
        self.config
    }
    /// Inner steps since the last synchronization (0 to k − 1).
    pub fn steps_since_sync(&self) -> u64 {
        self.since_sync
    }

    fn write(&self, w: &mut Writer<'_>) -> Result<(), Error> {
        let n = self.inner.len();
        w.header(&Header {
            kind: Kind::Lookahead.byte(),
            float_bytes: F::BYTES as u8,
            n: n as u64,
            steps: self.since_sync,
        })?;
        w.u64(self.config.sync_period)?;
        w.f64(self.config.slow_step_size)?;
        w.bool(self.config.reset_state)?;
        w.floats(self.slow())?;
        let inner_len = self.inner.saved_len();
        w.u64(inner_len as u64)?;
        Ok(())
    }
}

impl<O: Optimizer<F>, F: Real, B: StateBuffer<F>> Optimizer<F> for Lookahead<O, F, B> {
    super::forward_to_inner!(inner);

    fn name(&self) -> &'static str {
        "lookahead"
    }

    /// One inner step at the fast parameters `params`, then, every k-th step, the
    /// synchronization. A step the inner optimizer skips (non-finite policy) does not count.
    fn step(&mut self, params: &mut [F], grads: &[F]) -> Result<StepOutcome, Error> {
        let outcome = self.inner.step(params, grads)?;
        if let StepOutcome::Skipped { .. } = outcome {
            return Ok(outcome);
        }
        if self.since_sync + 1 >= self.config.sync_period {
            let alpha = F::from_f64(self.config.slow_step_size);
            let keep = F::from_f64(1.0 - self.config.slow_step_size);
            let n = self.inner.len();
            for (theta, phi) in params.iter_mut().zip(self.slow.values_mut().iter_mut().take(n)) {
                let d = *theta - *phi;
                *phi = *phi + alpha * d;
                *theta = *theta - keep * d;
            }
            if self.config.reset_state {
                self.inner.reset()?;
            }
            self.since_sync = 0;
        } else {
            self.since_sync += 1;
        }
        Ok(outcome)
    }
    fn saved_len(&self) -> usize {
        persist::saved_len(|w| self.write(w)) + self.inner.saved_len()
    }
    /// Saves the hyperparameters, the steps since the last synchronization and the slow
    /// parameters (kind [`Kind::Lookahead`]), then the inner optimizer's saved bytes, whole.
    fn save(&self, out: &mut [u8]) -> Result<usize, Error> {
        super::save_nested(out, |w| self.write(w), &self.inner)
    }
    fn restore(&mut self, bytes: &[u8]) -> Result<(), Error> {
        let n = self.inner.len();
        let (h, mut r) = super::open_saved(bytes, Kind::Lookahead.byte(), Some(F::BYTES as u8), n)?;
        let config =
            LookaheadConfig { sync_period: r.u64()?, slow_step_size: r.f64()?, reset_state: r.bool()? };
        config.validate()?;
        if h.steps >= config.sync_period {
            return Err(Error::CorruptState { reason: "lookahead steps since sync" });
        }
        let raw = r.floats::<F>(n)?;
        let inner_bytes = super::nested(&mut r)?;
        let since = h.steps;
        // The inner optimizer restores all or nothing; then nothing else can fail.
        self.inner.restore(inner_bytes)?;
        if let Some(dst) = self.slow.values_mut().get_mut(..n) {
            persist::copy_floats(raw, dst);
        }
        self.config = config;
        self.since_sync = since;
        Ok(())
    }
    fn reset(&mut self) -> Result<(), Error> {
        self.inner.reset()?;
        self.since_sync = 0;
        Ok(())
    }
}
