//! Cyclical schedules: OneCycleLR (Smith & Topin 2018) and CyclicLR (Smith 2017), both able to
//! cycle momentum (SGD, RMSprop) or β1 (Adam family) inversely to the learning rate.

use super::{SavedSchedule, Schedule, check_base_lr, cos, need, powi, refuse};
use crate::error::Error;
use crate::persist::{Reader, Writer};
use core::f64::consts::PI;

/// How a one-cycle phase interpolates.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AnnealStrategy {
    /// end + (start − end)(1 + cos πp)/2.
    Cos,
    /// start + p(end − start).
    Linear,
}

impl AnnealStrategy {
    fn interpolate(self, start: f64, end: f64, p: f64) -> f64 {
        match self {
            AnnealStrategy::Cos => end + (start - end) / 2.0 * (cos(PI * p) + 1.0),
            AnnealStrategy::Linear => (end - start) * p + start,
        }
    }
}

/// One phase of the one-cycle schedule: (end step, start lr, end lr, start momentum, end momentum).
type Phase = (f64, f64, f64, f64, f64);

/// `OneCycleLR`: from η_init = max_lr/div_factor up to max_lr, then down to
/// η_min = η_init/final_div_factor (two phases), or up, back to η_init, then down to η_min
/// (`three_phase`). Phase ends, PyTorch's off-by-one convention: pct·N − 1 and N − 1
/// (three phases: pct·N − 1, 2·pct·N − 2, N − 1), where N = total_steps; steps past N − 1 are
/// refused by PyTorch and held at the final value here. Momentum runs the other way between
/// max_momentum and base_momentum when `cycle_momentum`.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct OneCycleLr {
    initial_lr: f64,
    max_lr: f64,
    min_lr: f64,
    total_steps: u64,
    pct_start: f64,
    anneal: AnnealStrategy,
    three_phase: bool,
    momentum: Option<(f64, f64)>,
    div_factor: f64,
    final_div_factor: f64,
}

impl OneCycleLr {
    /// PyTorch's arguments (defaults: pct_start 0.3, cos, cycle_momentum with base 0.85 and max
    /// 0.95, div_factor 25, final_div_factor 1e4, two phases). `momentum` = (base, max) or `None`.
    #[allow(clippy::too_many_arguments)]
    pub fn new(
        max_lr: f64,
        total_steps: u64,
        pct_start: f64,
        anneal: AnnealStrategy,
        momentum: Option<(f64, f64)>,
        div_factor: f64,
        final_div_factor: f64,
        three_phase: bool,
    ) -> Result<Self, Error> {
        if total_steps == 0 {
            return Err(refuse("Expected positive integer total_steps, but got 0"));
        }
        if !(0.0..=1.0).contains(&pct_start) {
            return Err(Error::InvalidHyperparameter { name: "pct_start", value: pct_start });
        }
        need(max_lr.is_finite() && max_lr >= 0.0, "max_lr", max_lr)?;
        need(div_factor.is_finite() && div_factor != 0.0, "div_factor", div_factor)?;
        need(final_div_factor.is_finite() && final_div_factor != 0.0, "final_div_factor", final_div_factor)?;
        check_momentum(momentum)?;
        let initial_lr = max_lr / div_factor;
        Ok(OneCycleLr {
            initial_lr,
            max_lr,
            min_lr: initial_lr / final_div_factor,
            total_steps,
            pct_start,
            anneal,
            three_phase,
            momentum,
            div_factor,
            final_div_factor,
        })
    }

    /// (end step, lr at start, lr at end, momentum at start, momentum at end) per phase.
    fn phases(&self) -> ([Phase; 3], usize) {
        let n = self.total_steps as f64;
        let (base_m, max_m) = self.momentum.unwrap_or((0.0, 0.0));
        if self.three_phase {
            (
                [
                    (self.pct_start * n - 1.0, self.initial_lr, self.max_lr, max_m, base_m),
                    (2.0 * self.pct_start * n - 2.0, self.max_lr, self.initial_lr, base_m, max_m),
                    (n - 1.0, self.initial_lr, self.min_lr, max_m, max_m),
                ],
                3,
            )
        } else {
            (
                [
                    (self.pct_start * n - 1.0, self.initial_lr, self.max_lr, max_m, base_m),
                    (n - 1.0, self.max_lr, self.min_lr, base_m, max_m),
                    (0.0, 0.0, 0.0, 0.0, 0.0),
                ],
                2,
            )
        }
    }

    fn at(&self, t: u64) -> (f64, f64) {
        let t = t.min(self.total_steps - 1) as f64;
        let (phases, count) = self.phases();
        let mut start = 0.0;
        for (i, &(end, lr0, lr1, m0, m1)) in phases.iter().take(count).enumerate() {
            if t <= end || i == count - 1 {
                let p = (t - start) / (end - start);
                return (self.anneal.interpolate(lr0, lr1, p), self.anneal.interpolate(m0, m1, p));
            }
            start = end;
        }
        (self.min_lr, 0.0)
    }
}

impl Schedule for OneCycleLr {
    fn lr_at(&self, t: u64) -> f64 {
        self.at(t).0
    }
    fn momentum_at(&self, t: u64) -> Option<f64> {
        self.momentum.map(|_| self.at(t).1)
    }
}

impl SavedSchedule for OneCycleLr {
    const TAG: u8 = 6;
    fn write_fields(&self, w: &mut Writer<'_>) -> Result<(), Error> {
        w.f64(self.max_lr)?;
        w.u64(self.total_steps)?;
        w.f64(self.pct_start)?;
        w.bool(self.anneal == AnnealStrategy::Linear)?;
        write_momentum(w, self.momentum)?;
        w.f64(self.div_factor)?;
        w.f64(self.final_div_factor)?;
        w.bool(self.three_phase)
    }
    fn read_fields(r: &mut Reader<'_>) -> Result<Self, Error> {
        let (max_lr, total_steps, pct_start) = (r.f64()?, r.u64()?, r.f64()?);
        let anneal = if r.bool()? { AnnealStrategy::Linear } else { AnnealStrategy::Cos };
        let momentum = read_momentum(r)?;
        let (div, final_div, three) = (r.f64()?, r.f64()?, r.bool()?);
        OneCycleLr::new(max_lr, total_steps, pct_start, anneal, momentum, div, final_div, three)
    }
}

/// Cycled momenta (base, max) must be finite (PyTorch leaves them to the optimizer, which refuses
/// a NaN momentum when it is set).
fn check_momentum(m: Option<(f64, f64)>) -> Result<(), Error> {
    if let Some((base, max)) = m {
        need(base.is_finite(), "base_momentum", base)?;
        need(max.is_finite(), "max_momentum", max)?;
    }
    Ok(())
}

fn write_momentum(w: &mut Writer<'_>, m: Option<(f64, f64)>) -> Result<(), Error> {
    w.bool(m.is_some())?;
    let (base, max) = m.unwrap_or((0.0, 0.0));
    w.f64(base)?;
    w.f64(max)
}

fn read_momentum(r: &mut Reader<'_>) -> Result<Option<(f64, f64)>, Error> {
    let (some, base, max) = (r.bool()?, r.f64()?, r.f64()?);
    Ok(some.then_some((base, max)))
}

/// CyclicLR's amplitude policy.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum CyclicMode {
    /// Constant amplitude.
    Triangular,
    /// Amplitude halved every cycle.
    Triangular2,
    /// Amplitude scaled by γ^t (per step).
    ExpRange(f64),
}

/// `CyclicLR`: a triangle between base_lr and max_lr, up over step_size_up steps and down over
/// step_size_down. With L = up + down, cycle = ⌊1 + t/L⌋, x = 1 + t/L − cycle, r = up/L:
/// scale = x/r if x ≤ r else (x − 1)/(r − 1); η = base + (max − base)·scale·f, with f = 1,
/// 2^−(cycle−1) or γ^t by mode. Momentum, when cycled, goes from max_momentum down to
/// base_momentum and back.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct CyclicLr {
    base_lr: f64,
    max_lr: f64,
    up: f64,
    total: f64,
    mode: CyclicMode,
    momentum: Option<(f64, f64)>,
    step_size_up: u64,
    step_size_down: Option<u64>,
}

impl CyclicLr {
    /// PyTorch's arguments; `step_size_down` defaults to `step_size_up` (2000); `momentum` =
    /// (base, max) when `cycle_momentum` (PyTorch's defaults 0.8, 0.9).
    pub fn new(
        base_lr: f64,
        max_lr: f64,
        step_size_up: u64,
        step_size_down: Option<u64>,
        mode: CyclicMode,
        momentum: Option<(f64, f64)>,
    ) -> Result<Self, Error> {
        let up = step_size_up as f64;
        let total = up + step_size_down.map_or(up, |d| d as f64);
        need(total > 0.0, "step_size_up", up)?;
        check_base_lr(base_lr)?;
        need(max_lr.is_finite(), "max_lr", max_lr)?;
        if let CyclicMode::ExpRange(gamma) = mode {
            need(gamma.is_finite(), "gamma", gamma)?;
        }
        check_momentum(momentum)?;
        Ok(CyclicLr { base_lr, max_lr, up, total, mode, momentum, step_size_up, step_size_down })
    }

    fn at(&self, t: u64) -> (f64, f64) {
        let tf = t as f64;
        let cycle = libm::floor(1.0 + tf / self.total);
        let x = 1.0 + tf / self.total - cycle;
        let ratio = self.up / self.total;
        let scale = if x <= ratio { x / ratio } else { (x - 1.0) / (ratio - 1.0) };
        let f = match self.mode {
            CyclicMode::Triangular => 1.0,
            CyclicMode::Triangular2 => 1.0 / crate::real::powf64(2.0, cycle - 1.0),
            CyclicMode::ExpRange(g) => powi(g, t),
        };
        let lr = self.base_lr + (self.max_lr - self.base_lr) * scale * f;
        let m = self.momentum.map_or(0.0, |(base, max)| max - (max - base) * scale * f);
        (lr, m)
    }
}

impl Schedule for CyclicLr {
    fn lr_at(&self, t: u64) -> f64 {
        self.at(t).0
    }
    fn momentum_at(&self, t: u64) -> Option<f64> {
        self.momentum.map(|_| self.at(t).1)
    }
}

impl SavedSchedule for CyclicLr {
    const TAG: u8 = 7;
    fn write_fields(&self, w: &mut Writer<'_>) -> Result<(), Error> {
        w.f64(self.base_lr)?;
        w.f64(self.max_lr)?;
        w.u64(self.step_size_up)?;
        w.bool(self.step_size_down.is_some())?;
        w.u64(self.step_size_down.unwrap_or(0))?;
        let (mode, gamma) = match self.mode {
            CyclicMode::Triangular => (0, 0.0),
            CyclicMode::Triangular2 => (1, 0.0),
            CyclicMode::ExpRange(g) => (2, g),
        };
        w.u8(mode)?;
        w.f64(gamma)?;
        write_momentum(w, self.momentum)
    }
    fn read_fields(r: &mut Reader<'_>) -> Result<Self, Error> {
        let (base_lr, max_lr, up, has_down, down) = (r.f64()?, r.f64()?, r.u64()?, r.bool()?, r.u64()?);
        let (mode, gamma) = (r.u8()?, r.f64()?);
        let mode = match mode {
            0 => CyclicMode::Triangular,
            1 => CyclicMode::Triangular2,
            2 => CyclicMode::ExpRange(gamma),
            _ => return Err(Error::CorruptState { reason: "unknown CyclicLR mode" }),
        };
        let momentum = read_momentum(r)?;
        CyclicLr::new(base_lr, max_lr, up, has_down.then_some(down), mode, momentum)
    }
}
