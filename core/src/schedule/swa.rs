//! `torch.optim.swa_utils.SWALR`: anneals each group's learning rate from where it is to `swa_lr`
//! over `anneal_epochs` steps of the scheduler, then holds it, for the stochastic weight averaging
//! phase ([`crate::optim::averaged`]).

use super::{SavedSchedule, Schedule, check_base_lr, need};
use crate::error::Error;
use crate::persist::{Reader, Writer};

/// How [`Swalr`] moves from the initial lr to `swa_lr`: α(τ) over τ ∈ [0, 1].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Anneal {
    /// α(τ) = (1 − cos πτ)/2 (PyTorch's default, `"cos"`).
    Cos,
    /// α(τ) = τ (`"linear"`).
    Linear,
}

impl Anneal {
    /// α(τ).
    pub fn alpha(self, tau: f64) -> f64 {
        match self {
            Anneal::Cos => (1.0 - libm::cos(core::f64::consts::PI * tau)) / 2.0,
            Anneal::Linear => tau,
        }
    }
}

/// η_t = α(τ_t)·η_swa + (1 − α(τ_t))·η₀, τ_t = min(1, t/T) for T = `anneal_epochs` (with T = 0,
/// η_swa from the start): PyTorch's `SWALR` from the lr η₀ its group had when it was created.
/// PyTorch computes each step's lr from the previous one (recovering η₀ by inverting the last
/// step); written from η₀, the values agree to rounding.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Swalr {
    base_lr: f64,
    swa_lr: f64,
    anneal_epochs: u64,
    anneal: Anneal,
}

impl Swalr {
    /// From `base_lr` (the group's lr now) to `swa_lr` over `anneal_epochs` steps.
    pub fn new(base_lr: f64, swa_lr: f64, anneal_epochs: u64, anneal: Anneal) -> Result<Self, Error> {
        check_base_lr(base_lr)?;
        need(swa_lr.is_finite() && swa_lr >= 0.0, "swa_lr", swa_lr)?;
        Ok(Swalr { base_lr, swa_lr, anneal_epochs, anneal })
    }
}

impl Schedule for Swalr {
    fn lr_at(&self, t: u64) -> f64 {
        let tau = if self.anneal_epochs == 0 { 1.0 } else { (t as f64 / self.anneal_epochs as f64).min(1.0) };
        let alpha = self.anneal.alpha(tau);
        if alpha == 1.0 {
            return self.swa_lr;
        }
        self.swa_lr * alpha + self.base_lr * (1.0 - alpha)
    }
}

impl SavedSchedule for Swalr {
    const TAG: u8 = 15;
    fn write_fields(&self, w: &mut Writer<'_>) -> Result<(), Error> {
        w.f64(self.base_lr)?;
        w.f64(self.swa_lr)?;
        w.u64(self.anneal_epochs)?;
        w.u8(match self.anneal {
            Anneal::Cos => 0,
            Anneal::Linear => 1,
        })
    }
    fn read_fields(r: &mut Reader<'_>) -> Result<Self, Error> {
        let (base_lr, swa_lr, anneal_epochs) = (r.f64()?, r.f64()?, r.u64()?);
        let anneal = match r.u8()? {
            0 => Anneal::Cos,
            1 => Anneal::Linear,
            _ => return Err(Error::CorruptState { reason: "SWALR anneal strategy" }),
        };
        Swalr::new(base_lr, swa_lr, anneal_epochs, anneal)
    }
}
