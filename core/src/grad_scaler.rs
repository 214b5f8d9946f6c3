//! Dynamic loss scaling for training in reduced precision, with `torch.amp.GradScaler`'s
//! semantics: multiply the loss by a scale so small gradients survive in f16/bf16, divide the
//! gradients by it before the step, skip the step when they overflowed, and adapt the scale.
//!
//! ```text
//! unscale: g ← g · (1/s)  (1/s computed in f64, rounded to f32);  found_inf = any g non-finite
//! step:    skipped if found_inf
//! update:  found_inf → s ← s·backoff, tracker ← 0
//!          else tracker ← tracker + 1; when tracker = growth_interval:
//!               s ← s·growth if that is finite; tracker ← 0
//! ```
//! Source: `torch/amp/grad_scaler.py` and ATen's `_amp_update_scale_` (CPU kernel). The scale is
//! an f32, as PyTorch keeps it; the factors multiply it in f64 and the product is rounded to f32,
//! as ATen's CPU kernel does (float × double). Defaults: init_scale 2¹⁶, growth_factor 2, backoff_factor 0.5,
//! growth_interval 2000.

use crate::error::Error;
use crate::optim::{Optimizer, StepOutcome};
use crate::persist::{self, Header, Writer};
use crate::real::Real;

/// Hyperparameters of the scaler, with PyTorch's names and defaults.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct GradScalerConfig {
    /// The first scale (default 65536).
    pub init_scale: f64,
    /// Factor applied after `growth_interval` steps without overflow (default 2; must be > 1).
    pub growth_factor: f64,
    /// Factor applied after an overflow (default 0.5; must be < 1).
    pub backoff_factor: f64,
    /// Steps without overflow before growing (default 2000; must be ≥ 1).
    pub growth_interval: u32,
}

impl Default for GradScalerConfig {
    fn default() -> Self {
        GradScalerConfig {
            init_scale: 65536.0,
            growth_factor: 2.0,
            backoff_factor: 0.5,
            growth_interval: 2000,
        }
    }
}

/// The loss-scaling state machine.
#[derive(Debug, Clone, PartialEq)]
pub struct GradScaler {
    config: GradScalerConfig,
    scale: f32,
    growth_tracker: u32,
}

/// Persistence id of the scaler.
const KIND: u8 = persist::Kind::GradScaler.byte();

impl GradScaler {
    /// A scaler; refuses growth_factor ≤ 1, backoff_factor ≥ 1 (PyTorch's asserts), a
    /// non-positive or non-finite init_scale, and growth_interval 0.
    pub fn new(config: GradScalerConfig) -> Result<Self, Error> {
        if !(config.growth_factor > 1.0) {
            return Err(Error::InvalidHyperparameter { name: "growth_factor", value: config.growth_factor });
        }
        if !(config.backoff_factor < 1.0 && config.backoff_factor > 0.0) {
            return Err(Error::InvalidHyperparameter {
                name: "backoff_factor",
                value: config.backoff_factor,
            });
        }
        let scale = config.init_scale as f32;
        if !(scale > 0.0 && scale.is_finite()) {
            return Err(Error::InvalidHyperparameter { name: "init_scale", value: config.init_scale });
        }
        if config.growth_interval == 0 {
            return Err(Error::InvalidHyperparameter { name: "growth_interval", value: 0.0 });
        }
        Ok(GradScaler { config, scale, growth_tracker: 0 })
    }

    /// The current scale.
    pub fn scale(&self) -> f32 {
        self.scale
    }

    /// Steps since the last overflow or growth.
    pub fn growth_tracker(&self) -> u32 {
        self.growth_tracker
    }

    /// `loss · scale`: differentiate this instead of the loss.
    pub fn scale_loss(&self, loss: f32) -> f32 {
        loss * self.scale
    }

    /// Divides the gradients by the scale and reports whether any is non-finite.
    pub fn unscale<F: Real>(&self, grads: &mut [&mut [F]]) -> bool {
        let inv = F::from_f64(f64::from((1.0f64 / f64::from(self.scale)) as f32));
        let mut found_inf = false;
        for g in grads.iter_mut() {
            for x in g.iter_mut() {
                *x = *x * inv;
                found_inf |= !x.is_finite();
            }
        }
        found_inf
    }

    /// Adapts the scale after a step (see the module docs).
    pub fn update(&mut self, found_inf: bool) {
        if found_inf {
            self.scale = (f64::from(self.scale) * self.config.backoff_factor) as f32;
            self.growth_tracker = 0;
        } else {
            let successful = self.growth_tracker.saturating_add(1);
            if successful == self.config.growth_interval {
                let grown = (f64::from(self.scale) * self.config.growth_factor) as f32;
                if grown.is_finite() {
                    self.scale = grown;
                }
                self.growth_tracker = 0;
            } else {
                self.growth_tracker = successful;
            }
        }
    }

    /// Unscales `grads` (gradients of the scaled loss), steps `opt` unless they overflowed, and
    /// updates the scale: `scaler.step(opt); scaler.update()` in one call. An overflow returns
    /// [`StepOutcome::Skipped`] and leaves the parameters and optimizer untouched.
    pub fn step<F: Real, O: Optimizer<F> + ?Sized>(
        &mut self,
        opt: &mut O,
        params: &mut [F],
        grads: &mut [F],
    ) -> Result<StepOutcome, Error> {
        if grads.len() != params.len() {
            return Err(Error::LengthMismatch { what: "grads", expected: params.len(), found: grads.len() });
        }
        let found_inf = self.unscale(&mut [&mut *grads]);
        let outcome = if found_inf {
            let index = grads.iter().position(|g| !g.is_finite()).unwrap_or(0);
            StepOutcome::Skipped { index }
        } else {
            opt.step(params, grads)?
        };
        self.update(found_inf);
        Ok(outcome)
    }

    /// Bytes [`GradScaler::save`] writes.
    pub fn saved_len(&self) -> usize {
        persist::saved_len(|w| self.write(w))
    }

    fn write(&self, w: &mut Writer<'_>) -> Result<(), Error> {
        w.header(&Header { kind: KIND, float_bytes: 4, n: 0, steps: u64::from(self.growth_tracker) })?;
        w.f64(self.config.init_scale)?;
        w.f64(self.config.growth_factor)?;
        w.f64(self.config.backoff_factor)?;
        w.u64(u64::from(self.config.growth_interval))?;
        w.f64(f64::from(self.scale))
    }

    /// Saves the scaler (versioned bytes with a checksum, see [`crate::persist`]).
    pub fn save(&self, out: &mut [u8]) -> Result<usize, Error> {
        persist::save(out, |w| self.write(w))
    }

    /// Restores what [`GradScaler::save`] wrote; refuses anything else and then changes nothing.
    pub fn restore(&mut self, bytes: &[u8]) -> Result<(), Error> {
        let (config, scale, tracker) = persist::read_kind(bytes, KIND, |h, r| {
            let config = GradScalerConfig {
                init_scale: r.f64()?,
                growth_factor: r.f64()?,
                backoff_factor: r.f64()?,
                growth_interval: u32::try_from(r.u64()?)
                    .map_err(|_| Error::CorruptState { reason: "growth_interval" })?,
            };
            Ok((config, r.f64()? as f32, h.steps))
        })?;
        let mut fresh = GradScaler::new(config)?;
        if !(scale > 0.0 && scale.is_finite()) {
            return Err(Error::CorruptState { reason: "scale" });
        }
        fresh.scale = scale;
        // Always below growth_interval in a running scaler (it resets on reaching it).
        fresh.growth_tracker = u32::try_from(tracker)
            .ok()
            .filter(|&t| t < config.growth_interval)
            .ok_or(Error::CorruptState { reason: "growth tracker" })?;
        *self = fresh;
        Ok(())
    }
}
