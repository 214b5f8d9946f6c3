//! Piecewise and power schedules: StepLR, MultiStepLR, ExponentialLR, ConstantLR, LinearLR,
//! PolynomialLR (`torch/optim/lr_scheduler.py`, their `_get_closed_form_lr`).

use super::{SavedSchedule, Schedule, check_base_lr, need, powi, refuse};
use crate::error::Error;
use crate::persist::{Reader, Writer};

/// Largest number of milestones [`MultiStepLr`] holds.
pub const MAX_MILESTONES: usize = 32;

/// η_t = η₀·γ^⌊t/step_size⌋ (`StepLR`; γ default 0.1).
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct StepLr {
    base_lr: f64,
    step_size: u64,
    gamma: f64,
}

impl StepLr {
    /// Decays by `gamma` every `step_size ≥ 1` steps.
    pub fn new(base_lr: f64, step_size: u64, gamma: f64) -> Result<Self, Error> {
        need(step_size >= 1, "step_size", step_size as f64)?;
        need(gamma.is_finite(), "gamma", gamma)?;
        check_base_lr(base_lr)?;
        Ok(StepLr { base_lr, step_size, gamma })
    }
}

impl Schedule for StepLr {
    fn lr_at(&self, t: u64) -> f64 {
        // step_size ≥ 1 (checked by `new`); `max(1)` only lets the compiler see there is no
        // division by zero.
        self.base_lr * powi(self.gamma, t / self.step_size.max(1))
    }
}

impl SavedSchedule for StepLr {
    const TAG: u8 = 1;
    fn write_fields(&self, w: &mut Writer<'_>) -> Result<(), Error> {
        w.f64(self.base_lr)?;
        w.u64(self.step_size)?;
        w.f64(self.gamma)
    }
    fn read_fields(r: &mut Reader<'_>) -> Result<Self, Error> {
        StepLr::new(r.f64()?, r.u64()?, r.f64()?)
    }
}

/// η_t = η₀·γ^(number of milestones ≤ t) (`MultiStepLR`; milestones sorted, repeats count twice).
#[derive(Debug, Clone, PartialEq)]
pub struct MultiStepLr {
    base_lr: f64,
    milestones: heapless::Vec<u64, MAX_MILESTONES>,
    gamma: f64,
}

impl MultiStepLr {
    /// Decays by `gamma` at each milestone (at most [`MAX_MILESTONES`]).
    pub fn new(base_lr: f64, milestones: &[u64], gamma: f64) -> Result<Self, Error> {
        need(gamma.is_finite(), "gamma", gamma)?;
        let mut m: heapless::Vec<u64, MAX_MILESTONES> = heapless::Vec::new();
        m.extend_from_slice(milestones).map_err(|_| refuse("MultiStepLR holds at most 32 milestones"))?;
        sort(&mut m);
        check_base_lr(base_lr)?;
        Ok(MultiStepLr { base_lr, milestones: m, gamma })
    }
}

/// Sorts a few milestones in place (insertion sort): the standard library's sort keeps a panic
/// path (for orders that are not total), which descent-core must not have.
fn sort(m: &mut [u64]) {
    for i in 1..m.len() {
        let mut j = i;
        while let (Some(&a), Some(&b)) = (m.get(j.wrapping_sub(1)), m.get(j)) {
            if a <= b {
                break;
            }
            m.swap(j - 1, j);
            j -= 1;
        }
    }
}

impl Schedule for MultiStepLr {
    fn lr_at(&self, t: u64) -> f64 {
        let passed = self.milestones.partition_point(|&m| m <= t);
        self.base_lr * powi(self.gamma, passed as u64)
    }
}

impl SavedSchedule for MultiStepLr {
    const TAG: u8 = 2;
    fn write_fields(&self, w: &mut Writer<'_>) -> Result<(), Error> {
        w.f64(self.base_lr)?;
        w.f64(self.gamma)?;
        w.u64(self.milestones.len() as u64)?;
        self.milestones.iter().try_for_each(|&m| w.u64(m))
    }
    fn read_fields(r: &mut Reader<'_>) -> Result<Self, Error> {
        let (base_lr, gamma, count) = (r.f64()?, r.f64()?, r.u64()?);
        if count > MAX_MILESTONES as u64 {
            return Err(Error::StateMismatch {
                field: "milestones",
                expected: MAX_MILESTONES as u64,
                found: count,
            });
        }
        let mut m = [0u64; MAX_MILESTONES];
        let m = m.get_mut(..count as usize).unwrap_or(&mut []);
        for x in m.iter_mut() {
            *x = r.u64()?;
        }
        MultiStepLr::new(base_lr, m, gamma)
    }
}

/// η_t = η₀·γ^t (`ExponentialLR`).
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct ExponentialLr {
    base_lr: f64,
    gamma: f64,
}

impl ExponentialLr {
    /// Decays by `gamma` every step.
    pub fn new(base_lr: f64, gamma: f64) -> Result<Self, Error> {
        need(gamma.is_finite(), "gamma", gamma)?;
        check_base_lr(base_lr)?;
        Ok(ExponentialLr { base_lr, gamma })
    }
}

impl Schedule for ExponentialLr {
    fn lr_at(&self, t: u64) -> f64 {
        self.base_lr * powi(self.gamma, t)
    }
}

impl SavedSchedule for ExponentialLr {
    const TAG: u8 = 3;
    fn write_fields(&self, w: &mut Writer<'_>) -> Result<(), Error> {
        w.f64(self.base_lr)?;
        w.f64(self.gamma)
    }
    fn read_fields(r: &mut Reader<'_>) -> Result<Self, Error> {
        ExponentialLr::new(r.f64()?, r.f64()?)
    }
}

/// η_t = η₀·(f + (1 − f)·[t ≥ T]) (`ConstantLR`; f = 1/3, T = 5 by default).
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct ConstantLr {
    base_lr: f64,
    factor: f64,
    total_iters: u64,
}

impl ConstantLr {
    /// `factor` ∈ [0, 1] until `total_iters`.
    pub fn new(base_lr: f64, factor: f64, total_iters: u64) -> Result<Self, Error> {
        if !(0.0..=1.0).contains(&factor) {
            return Err(refuse("Constant multiplicative factor expected to be between 0 and 1."));
        }
        check_base_lr(base_lr)?;
        Ok(ConstantLr { base_lr, factor, total_iters })
    }
}

impl Schedule for ConstantLr {
    fn lr_at(&self, t: u64) -> f64 {
        let after = if t >= self.total_iters { 1.0 } else { 0.0 };
        self.base_lr * (self.factor + after * (1.0 - self.factor))
    }
}

impl SavedSchedule for ConstantLr {
    const TAG: u8 = 9;
    fn write_fields(&self, w: &mut Writer<'_>) -> Result<(), Error> {
        w.f64(self.base_lr)?;
        w.f64(self.factor)?;
        w.u64(self.total_iters)
    }
    fn read_fields(r: &mut Reader<'_>) -> Result<Self, Error> {
        ConstantLr::new(r.f64()?, r.f64()?, r.u64()?)
    }
}

/// η_t = η₀·(s + (e − s)·min(T, t)/T) (`LinearLR`; s = 1/3, e = 1, T = 5 by default): linear
/// warmup when s < e.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct LinearLr {
    base_lr: f64,
    start_factor: f64,
    end_factor: f64,
    total_iters: u64,
}

impl LinearLr {
    /// From `start_factor` ∈ (0, 1] to `end_factor` ∈ [0, 1] over `total_iters` steps.
    pub fn new(base_lr: f64, start_factor: f64, end_factor: f64, total_iters: u64) -> Result<Self, Error> {
        if !(start_factor > 0.0 && start_factor <= 1.0) {
            return Err(refuse(
                "Starting multiplicative factor expected to be greater than 0 and less or equal to 1.",
            ));
        }
        if !(0.0..=1.0).contains(&end_factor) {
            return Err(refuse("Ending multiplicative factor expected to be between 0 and 1."));
        }
        check_base_lr(base_lr)?;
        Ok(LinearLr { base_lr, start_factor, end_factor, total_iters })
    }
}

impl Schedule for LinearLr {
    fn lr_at(&self, t: u64) -> f64 {
        if self.total_iters == 0 {
            return self.base_lr * self.end_factor;
        }
        let frac = t.min(self.total_iters) as f64 / self.total_iters as f64;
        self.base_lr * (self.start_factor + (self.end_factor - self.start_factor) * frac)
    }
}

impl SavedSchedule for LinearLr {
    const TAG: u8 = 8;
    fn write_fields(&self, w: &mut Writer<'_>) -> Result<(), Error> {
        w.f64(self.base_lr)?;
        w.f64(self.start_factor)?;
        w.f64(self.end_factor)?;
        w.u64(self.total_iters)
    }
    fn read_fields(r: &mut Reader<'_>) -> Result<Self, Error> {
        LinearLr::new(r.f64()?, r.f64()?, r.f64()?, r.u64()?)
    }
}

/// η_t = η₀·(1 − min(T, t)/T)^p (`PolynomialLR`; T = 5, p = 1 by default): reaches 0 at T.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct PolynomialLr {
    base_lr: f64,
    total_iters: u64,
    power: f64,
}

impl PolynomialLr {
    /// Decays to 0 over `total_iters ≥ 1` steps with exponent `power`.
    pub fn new(base_lr: f64, total_iters: u64, power: f64) -> Result<Self, Error> {
        need(total_iters >= 1, "total_iters", total_iters as f64)?;
        need(power.is_finite(), "power", power)?;
        check_base_lr(base_lr)?;
        Ok(PolynomialLr { base_lr, total_iters, power })
    }
}

impl Schedule for PolynomialLr {
    fn lr_at(&self, t: u64) -> f64 {
        let frac = t.min(self.total_iters) as f64 / self.total_iters as f64;
        self.base_lr * crate::real::powf64(1.0 - frac, self.power)
    }
}

impl SavedSchedule for PolynomialLr {
    const TAG: u8 = 10;
    fn write_fields(&self, w: &mut Writer<'_>) -> Result<(), Error> {
        w.f64(self.base_lr)?;
        w.u64(self.total_iters)?;
        w.f64(self.power)
    }
    fn read_fields(r: &mut Reader<'_>) -> Result<Self, Error> {
        PolynomialLr::new(r.f64()?, r.u64()?, r.f64()?)
    }
}
