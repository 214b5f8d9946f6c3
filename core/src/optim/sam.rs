//! Sharpness-aware minimization (Foret et al. 2021, "Sharpness-Aware Minimization for Efficiently
//! Improving Generalization"), as `optax.contrib.sam` runs it with the paper's adversary
//! (`optax.chain(optax.contrib.normalize(), optax.sgd(rho))`, transparent mode): the gradient is
//! taken at a point pushed uphill, ε = ρ·g/‖g‖, and the outer optimizer steps from the original
//! point with that gradient:
//!
//! θ̃ = θ + ρ·∇f(θ)/‖∇f(θ)‖,  θ ← outer step from θ with ∇f(θ̃).
//!
//! Two gradients per update, and the second must be taken at θ̃: [`Sam::perturb`] moves the
//! parameters to θ̃ and hands back a [`Perturbed`] token that [`Sam::finish`] consumes with the
//! gradient taken there, restoring θ before the outer step. The token cannot be made, copied or
//! reused, so the calls cannot be skipped, repeated or swapped. Through the [`Optimizer`] trait
//! (as `descent replay` drives it, like optax), calls alternate: `sync_period − 1` adversarial
//! ascents, then the outer step. θ is kept in a buffer the caller owns: no heap.

use core::marker::PhantomData;

use super::{Optimizer, StateBuffer, StepOutcome};
use crate::error::{Error, check_range_open};
use crate::persist::{self, Header, Kind, Writer};
use crate::real::Real;

/// SAM's hyperparameters.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct SamConfig {
    /// ρ, the radius of the adversarial step.
    pub rho: f64,
    /// Calls per update through [`Optimizer::step`]: `sync_period − 1` ascents, then the outer
    /// step (optax's default 2: the paper's one ascent).
    pub sync_period: u64,
}

impl Default for SamConfig {
    fn default() -> Self {
        SamConfig { rho: 0.05, sync_period: 2 }
    }
}

impl SamConfig {
    /// Checks the hyperparameters (optax's message for the period).
    pub fn validate(&self) -> Result<(), Error> {
        if self.sync_period < 1 {
            return Err(Error::InvalidHyperparameter { name: "sync_period", value: self.sync_period as f64 });
        }
        // Finite and ≥ 0 (NaN and ∞ refused).
        check_range_open("rho", self.rho, 0.0, f64::INFINITY)
    }
}

/// Proof that [`Sam::perturb`] moved the parameters to θ̃: [`Sam::finish`] takes it back.
#[derive(Debug)]
#[must_use = "take the gradient at the perturbed parameters and pass it to Sam::finish"]
pub struct Perturbed(());

/// The outer optimizer `O` with sharpness-aware gradients; θ kept in `B`.
#[derive(Debug, Clone)]
pub struct Sam<O, F, B> {
    outer: O,
    theta: B,
    config: SamConfig,
    since_sync: u64,
    _float: PhantomData<F>,
}

impl<O: Optimizer<F>, F: Real, B: StateBuffer<F>> Sam<O, F, B> {
    /// SAM around `outer`, θ kept in `theta` (at least `outer.len()` values).
    pub fn new(outer: O, config: SamConfig, theta: B) -> Result<Self, Error> {
        config.validate()?;
        let (needed, available) = (outer.len(), theta.values().len());
        if available < needed {
            return Err(Error::BufferTooSmall { what: "SAM's saved parameters", needed, available });
        }
        Ok(Sam { outer, theta, config, since_sync: 0, _float: PhantomData })
    }

    /// The outer optimizer.
    pub fn outer(&self) -> &O {
        &self.outer
    }
    /// Calls since the last outer step (0 to `sync_period − 1`).
    pub fn steps_since_sync(&self) -> u64 {
        self.since_sync
    }

    fn check(&self, params: &[F], grads: &[F]) -> Result<(), Error> {
        let n = self.outer.len();
        for (what, len) in [("params", params.len()), ("grads", grads.len())] {
            if len != n {
                return Err(Error::LengthMismatch { what, expected: n, found: len });
            }
        }
        Ok(())
    }

    /// θ ← θ + ρ·g/‖g‖ (optax's normalize, then sgd(ρ) negated), remembering θ at the first ascent.
    fn ascend(&mut self, params: &mut [F], grads: &[F]) {
        if self.since_sync == 0 {
            let theta = self.theta.values_mut();
            theta.iter_mut().zip(params.iter()).for_each(|(t, &p)| *t = p);
        }
        let norm = grads.iter().fold(F::ZERO, |s, &g| s + g * g).sqrt();
        let rho = F::from_f64(self.config.rho);
        for (p, &g) in params.iter_mut().zip(grads) {
            *p = *p + rho * (g / norm);
        }
        self.since_sync += 1;
    }

    /// Back to θ, then the outer step with `grads` (taken at θ̃). On error the parameters are θ̃
    /// again and nothing else changed.
    fn descend(&mut self, params: &mut [F], grads: &[F]) -> Result<StepOutcome, Error> {
        let theta = self.theta.values_mut();
        params.iter_mut().zip(theta.iter_mut()).for_each(|(p, t)| core::mem::swap(p, t));
        match self.outer.step(params, grads) {
            Ok(outcome) => {
                self.since_sync = 0;
                Ok(outcome)
            }
            Err(e) => {
                let theta = self.theta.values_mut();
                params.iter_mut().zip(theta.iter_mut()).for_each(|(p, t)| core::mem::swap(p, t));
                Err(e)
            }
        }
    }

    /// The first half of a SAM update: `params` (θ) move to θ̃ = θ + ρ·g/‖g‖ for the gradient `grads`
    /// at θ. Take the gradient at θ̃ next and give it to [`Sam::finish`] with the token. Refused
    /// (nothing changed) for wrong lengths, or when an update is already half done.
    pub fn perturb(&mut self, params: &mut [F], grads: &[F]) -> Result<Perturbed, Error> {
        self.check(params, grads)?;
        if self.since_sync != 0 {
            return Err(Error::Unsupported { what: "perturb while an update is half done" });
        }
        self.ascend(params, grads);
        Ok(Perturbed(()))
    }

    /// The second half: `params` (still θ̃) go back to θ and the outer optimizer steps with
    /// `grads`, the gradient taken at θ̃.
    pub fn finish(&mut self, _token: Perturbed, params: &mut [F], grads: &[F]) -> Result<StepOutcome, Error> {
        self.check(params, grads)?;
        self.descend(params, grads)
    }

    fn write(&self, w: &mut Writer<'_>) -> Result<(), Error> {
        let n = self.outer.len();
        let h = Header {
            kind: Kind::Sam.byte(),
            float_bytes: F::BYTES as u8,
            n: n as u64,
            steps: self.since_sync,
        };
        w.header(&h)?;
        w.f64(self.config.rho)?;
        w.u64(self.config.sync_period)?;
        w.floats(self.theta.values().get(..n).unwrap_or(&[]))?;
        w.u64(self.outer.saved_len() as u64)
    }
}

impl<O: Optimizer<F>, F: Real, B: StateBuffer<F>> Optimizer<F> for Sam<O, F, B> {
    super::forward_to_inner!(outer);

    fn name(&self) -> &'static str {
        "sam"
    }
    /// optax's transparent mode: `sync_period − 1` ascents, then the outer step from the θ of
    /// the first ascent with this call's gradient.
    fn step(&mut self, params: &mut [F], grads: &[F]) -> Result<StepOutcome, Error> {
        self.check(params, grads)?;
        if self.since_sync + 1 >= self.config.sync_period {
            if self.since_sync == 0 {
                // sync_period 1: no ascent, the outer step alone.
                return self.outer.step(params, grads);
            }
            return self.descend(params, grads);
        }
        self.ascend(params, grads);
        Ok(StepOutcome::Stepped)
    }
    fn saved_len(&self) -> usize {
        persist::saved_len(|w| self.write(w)) + self.outer.saved_len()
    }
    /// Saves ρ, the period, the calls since the last outer step and θ (kind [`Kind::Sam`]), then
    /// the outer optimizer's saved bytes, whole.
    fn save(&self, out: &mut [u8]) -> Result<usize, Error> {
        super::save_nested(out, |w| self.write(w), &self.outer)
    }
    fn restore(&mut self, bytes: &[u8]) -> Result<(), Error> {
        let n = self.outer.len();
        let (h, mut r) = super::open_saved(bytes, Kind::Sam.byte(), Some(F::BYTES as u8), n)?;
        let config = SamConfig { rho: r.f64()?, sync_period: r.u64()? };
        config.validate()?;
        if h.steps >= config.sync_period {
            return Err(Error::CorruptState { reason: "SAM calls since the outer step" });
        }
        let raw = r.floats::<F>(n)?;
        let outer = super::nested(&mut r)?;
        self.outer.restore(outer)?;
        if let Some(dst) = self.theta.values_mut().get_mut(..n) {
            persist::copy_floats(raw, dst);
        }
        self.config = config;
        self.since_sync = h.steps;
        Ok(())
    }
    fn reset(&mut self) -> Result<(), Error> {
        self.outer.reset()?;
        self.since_sync = 0;
        Ok(())
    }
}
