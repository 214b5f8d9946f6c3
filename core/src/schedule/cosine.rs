//! Cosine schedules: CosineAnnealingLR, CosineAnnealingWarmRestarts (SGDR), and linear warmup
//! followed by cosine decay in one closed form.

use super::{SavedSchedule, Schedule, check_base_lr, cos, need, refuse};
use crate::error::Error;
use crate::persist::{Reader, Writer};
use core::f64::consts::PI;

/// η_t = η_min + (η₀ − η_min)(1 + cos(πt/T_max))/2 (`CosineAnnealingLR`). Not clamped: past
/// T_max it climbs back, with period 2·T_max, as PyTorch's does (optax clamps).
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct CosineAnnealingLr {
    base_lr: f64,
    t_max: u64,
    eta_min: f64,
}

impl CosineAnnealingLr {
    /// Anneals from `base_lr` to `eta_min` over `t_max ≥ 1` steps.
    pub fn new(base_lr: f64, t_max: u64, eta_min: f64) -> Result<Self, Error> {
        need(t_max >= 1, "T_max", t_max as f64)?;
        need(eta_min.is_finite(), "eta_min", eta_min)?;
        check_base_lr(base_lr)?;
        Ok(CosineAnnealingLr { base_lr, t_max, eta_min })
    }
}

impl CosineAnnealingLr {
    /// The lr it anneals to.
    pub fn eta_min(&self) -> f64 {
        self.eta_min
    }
}

impl Schedule for CosineAnnealingLr {
    fn lr_at(&self, t: u64) -> f64 {
        self.eta_min + (self.base_lr - self.eta_min) * (1.0 + cos(PI * t as f64 / self.t_max as f64)) / 2.0
    }
}

impl SavedSchedule for CosineAnnealingLr {
    const TAG: u8 = 4;
    fn write_fields(&self, w: &mut Writer<'_>) -> Result<(), Error> {
        w.f64(self.base_lr)?;
        w.u64(self.t_max)?;
        w.f64(self.eta_min)
    }
    fn read_fields(r: &mut Reader<'_>) -> Result<Self, Error> {
        CosineAnnealingLr::new(r.f64()?, r.u64()?, r.f64()?)
    }
}

/// SGDR (`CosineAnnealingWarmRestarts`, Loshchilov & Hutter 2017): cosine over cycles of T_0,
/// T_0·T_mult, T_0·T_mult², … steps, restarting at η₀. Within a cycle of length T_i at position
/// T_cur: η = η_min + (η₀ − η_min)(1 + cos(π·T_cur/T_i))/2. η_min itself is never reached.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct CosineAnnealingWarmRestarts {
    base_lr: f64,
    t_0: u64,
    t_mult: u64,
    eta_min: f64,
}

impl CosineAnnealingWarmRestarts {
    /// Cycles of `t_0 ≥ 1` steps growing by the integer `t_mult ≥ 1`.
    pub fn new(base_lr: f64, t_0: u64, t_mult: u64, eta_min: f64) -> Result<Self, Error> {
        if t_0 == 0 {
            return Err(refuse("Expected positive integer T_0, but got 0"));
        }
        if t_mult == 0 {
            return Err(refuse("Expected integer T_mult >= 1, but got 0"));
        }
        need(eta_min.is_finite(), "eta_min", eta_min)?;
        check_base_lr(base_lr)?;
        Ok(CosineAnnealingWarmRestarts { base_lr, t_0, t_mult, eta_min })
    }

    /// (T_cur, T_i) at step t.
    pub fn position(&self, t: u64) -> (u64, u64) {
        if self.t_mult == 1 {
            // t_0 ≥ 1 (checked by `new`); `max(1)` only lets the compiler see it.
            return (t % self.t_0.max(1), self.t_0);
        }
        let (mut start, mut len) = (0u64, self.t_0);
        // At most 64 cycles before the lengths overflow.
        while t - start >= len {
            start += len;
            match len.checked_mul(self.t_mult) {
                Some(l) => len = l,
                None => return (t - start, u64::MAX),
            }
        }
        (t - start, len)
    }
}

impl CosineAnnealingWarmRestarts {
    /// The lr each cycle anneals to.
    pub fn eta_min(&self) -> f64 {
        self.eta_min
    }
}

impl Schedule for CosineAnnealingWarmRestarts {
    fn lr_at(&self, t: u64) -> f64 {
        let (cur, len) = self.position(t);
        self.eta_min + (self.base_lr - self.eta_min) * (1.0 + cos(PI * cur as f64 / len as f64)) / 2.0
    }
}

impl SavedSchedule for CosineAnnealingWarmRestarts {
    const TAG: u8 = 5;
    fn write_fields(&self, w: &mut Writer<'_>) -> Result<(), Error> {
        w.f64(self.base_lr)?;
        w.u64(self.t_0)?;
        w.u64(self.t_mult)?;
        w.f64(self.eta_min)
    }
    fn read_fields(r: &mut Reader<'_>) -> Result<Self, Error> {
        CosineAnnealingWarmRestarts::new(r.f64()?, r.u64()?, r.u64()?, r.f64()?)
    }
}

/// Warmup then cosine in one closed form: a linear ramp from
/// `warmup_start_factor`·η₀ to η₀ over `warmup_steps`, then cosine from η₀ to η_min over the
/// remaining `total_steps − warmup_steps`, then η_min. Equal to
/// `SequentialLR([LinearLR(s, 1, W), CosineAnnealingLR(T − W, η_min)], [W])` for t < T.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct WarmupCosine {
    base_lr: f64,
    warmup_steps: u64,
    total_steps: u64,
    warmup_start_factor: f64,
    eta_min: f64,
}

impl WarmupCosine {
    /// Warmup over `warmup_steps` < `total_steps`, starting at `warmup_start_factor` ∈ (0, 1].
    pub fn new(
        base_lr: f64,
        warmup_steps: u64,
        total_steps: u64,
        warmup_start_factor: f64,
        eta_min: f64,
    ) -> Result<Self, Error> {
        need(total_steps > warmup_steps, "total_steps", total_steps as f64)?;
        need(
            warmup_start_factor > 0.0 && warmup_start_factor <= 1.0,
            "warmup_start_factor",
            warmup_start_factor,
        )?;
        need(eta_min.is_finite(), "eta_min", eta_min)?;
        check_base_lr(base_lr)?;
        Ok(WarmupCosine { base_lr, warmup_steps, total_steps, warmup_start_factor, eta_min })
    }
}

impl Schedule for WarmupCosine {
    fn lr_at(&self, t: u64) -> f64 {
        let (w, total) = (self.warmup_steps, self.total_steps);
        if t < w {
            let s = self.warmup_start_factor;
            self.base_lr * (s + (1.0 - s) * t as f64 / w as f64)
        } else if t < total {
            let p = (t - w) as f64 / (total - w) as f64;
            self.eta_min + (self.base_lr - self.eta_min) * (1.0 + cos(PI * p)) / 2.0
        } else {
            self.eta_min
        }
    }
}

impl SavedSchedule for WarmupCosine {
    const TAG: u8 = 11;
    fn write_fields(&self, w: &mut Writer<'_>) -> Result<(), Error> {
        w.f64(self.base_lr)?;
        w.u64(self.warmup_steps)?;
        w.u64(self.total_steps)?;
        w.f64(self.warmup_start_factor)?;
        w.f64(self.eta_min)
    }
    fn read_fields(r: &mut Reader<'_>) -> Result<Self, Error> {
        WarmupCosine::new(r.f64()?, r.u64()?, r.u64()?, r.f64()?, r.f64()?)
    }
}
