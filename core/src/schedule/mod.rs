//! Learning-rate schedules with `torch.optim.lr_scheduler` semantics and argument names.
//!
//! A schedule answers "what learning rate (and momentum, where it cycles) does step t use", with
//! t counting optimizer steps from 0 — PyTorch's `last_epoch` after the scheduler's constructor
//! performed its step 0. The stateless schedules ([`AnySchedule`] and its parts) are O(1) closed
//! forms of t (warm restarts: a loop over at most 64 cycles), so a run can resume at any t;
//! [`Driver`] holds t and applies one to an optimizer.
//!
//! Two schedules keep state beyond t: [`ReduceLrOnPlateau`] (best metric, bad epochs, cooldown,
//! the lr it cut to) and [`Sequential`] (its own t, like PyTorch's `SequentialLR.last_epoch`, and
//! the state of a plateau segment it may hold). They, and [`Driver`] (t and the schedule's
//! configuration), save and restore like the optimizers: versioned little-endian bytes with a
//! CRC-32 checksum ([`crate::persist`]); truncated, corrupt or mismatched bytes are refused and
//! change nothing; a run saved mid-way and restored continues bit-identically.
//!
//! Where PyTorch's `step()` computes recursively (`CosineAnnealingLR`, `LinearLR`,
//! `ExponentialLR`, `PolynomialLR` multiply the previous lr by a ratio) descent uses the closed
//! form PyTorch documents (`_get_closed_form_lr`). The two differ only by rounding: at most a few
//! ulps per step, under 1e-13 relative over the bundled conformance runs (≤ 40 steps), far inside
//! the conformance tolerance (1e-9). The recursive form also multiplies any outside change of the
//! lr into later values; the closed form does not.

mod chained;
mod cosine;
mod cyclic;
mod lambda;
mod piecewise;
mod plateau;
mod sequential;
mod step;
mod swa;

pub use chained::{Chained, MAX_CHAINED};
pub use cosine::{CosineAnnealingLr, CosineAnnealingWarmRestarts, WarmupCosine};
pub use cyclic::{AnnealStrategy, CyclicLr, CyclicMode, OneCycleLr};
pub use lambda::{LambdaLr, MultiplicativeLr};
pub use piecewise::{Interpolate, MAX_BOUNDARIES, PiecewiseInterpolate};
pub use plateau::{PlateauMode, ReduceLrOnPlateau, ThresholdMode};
pub use sequential::{Segment, Sequential};
pub use step::{ConstantLr, ExponentialLr, LinearLr, MAX_MILESTONES, MultiStepLr, PolynomialLr, StepLr};
pub use swa::{Anneal, Swalr};

use crate::error::Error;
use crate::optim::Optimizer;
use crate::persist::{self, Header, Reader, Writer};
use crate::real::Real;

/// A stateless schedule: a closed form of the step count.
pub trait Schedule {
    /// The learning rate step `t` uses (t = 0 is the first optimizer step).
    fn lr_at(&self, t: u64) -> f64;
    /// The momentum (or Adam's β1) step `t` uses, for schedules that cycle it.
    fn momentum_at(&self, _t: u64) -> Option<f64> {
        None
    }
}

/// Any stateless schedule, as one value (so [`Sequential`] can hold several without
/// allocation).
#[derive(Debug, Clone, PartialEq)]
#[allow(clippy::large_enum_variant)] // no heap to box MultiStepLr's milestones into
pub enum AnySchedule {
    /// [`StepLr`].
    Step(StepLr),
    /// [`MultiStepLr`].
    MultiStep(MultiStepLr),
    /// [`ExponentialLr`].
    Exponential(ExponentialLr),
    /// [`CosineAnnealingLr`].
    Cosine(CosineAnnealingLr),
    /// [`CosineAnnealingWarmRestarts`].
    WarmRestarts(CosineAnnealingWarmRestarts),
    /// [`OneCycleLr`].
    OneCycle(OneCycleLr),
    /// [`CyclicLr`].
    Cyclic(CyclicLr),
    /// [`LinearLr`].
    Linear(LinearLr),
    /// [`ConstantLr`].
    Constant(ConstantLr),
    /// [`PolynomialLr`].
    Polynomial(PolynomialLr),
    /// [`WarmupCosine`].
    WarmupCosine(WarmupCosine),
    /// [`Swalr`].
    Swa(Swalr),
    /// [`PiecewiseInterpolate`].
    Piecewise(PiecewiseInterpolate),
}

macro_rules! each {
    ($s:expr, $x:ident => $e:expr) => {
        match $s {
            AnySchedule::Step($x) => $e,
            AnySchedule::MultiStep($x) => $e,
            AnySchedule::Exponential($x) => $e,
            AnySchedule::Cosine($x) => $e,
            AnySchedule::WarmRestarts($x) => $e,
            AnySchedule::OneCycle($x) => $e,
            AnySchedule::Cyclic($x) => $e,
            AnySchedule::Linear($x) => $e,
            AnySchedule::Constant($x) => $e,
            AnySchedule::Polynomial($x) => $e,
            AnySchedule::WarmupCosine($x) => $e,
            AnySchedule::Swa($x) => $e,
            AnySchedule::Piecewise($x) => $e,
        }
    };
}

impl Schedule for AnySchedule {
    fn lr_at(&self, t: u64) -> f64 {
        each!(self, s => s.lr_at(t))
    }
    fn momentum_at(&self, t: u64) -> Option<f64> {
        each!(self, s => s.momentum_at(t))
    }
}

/// Applies stateless schedules to an optimizer, one per parameter group: [`Driver::start`] sets
/// step 0's values, each [`Driver::step`] (after `optimizer.step()`, as in PyTorch) advances to
/// the next step's.
///
/// Each group follows its own schedule, built from that group's initial learning rate (PyTorch's
/// `base_lrs`; one-cycle and cyclic schedules may also differ per group in `max_lr`, `base_lr`
/// and the momenta they cycle). [`Driver::new`] holds one schedule, for an optimizer with one
/// group; [`Driver::per_group`] holds one per group, in an array, a slice or (in `std` code) a
/// `Vec`.
///
/// The driver's state is the step count t; [`Driver::save`] writes it with the schedules'
/// configurations, so that restoring it beside the optimizer's saved state resumes a run
/// bit-identically (the optimizer's bytes hold the lr and momentum in force; the driver's hold
/// where the schedule stands).
#[derive(Debug, Clone, PartialEq)]
pub struct Driver<S: Schedule, Z: AsRef<[S]> = [S; 1]> {
    schedules: Z,
    t: u64,
    _s: core::marker::PhantomData<S>,
}

impl<S: Schedule> Driver<S> {
    /// A driver at step 0 for an optimizer with one group.
    pub fn new(schedule: S) -> Self {
        Driver { schedules: [schedule], t: 0, _s: core::marker::PhantomData }
    }
    /// A driver resuming at step `t`.
    pub fn at(schedule: S, t: u64) -> Self {
        Driver { schedules: [schedule], t, _s: core::marker::PhantomData }
    }
    /// The schedule.
    pub fn schedule(&self) -> &S {
        let [s] = &self.schedules;
        s
    }
}

impl<S: Schedule, Z: AsRef<[S]>> Driver<S, Z> {
    /// A driver at step 0 with one schedule per parameter group (group g follows `schedules[g]`).
    pub fn per_group(schedules: Z) -> Self {
        Driver { schedules, t: 0, _s: core::marker::PhantomData }
    }
    /// A driver with one schedule per group, resuming at step `t`.
    pub fn per_group_at(schedules: Z, t: u64) -> Self {
        Driver { schedules, t, _s: core::marker::PhantomData }
    }
    /// The schedules, one per group.
    pub fn schedules(&self) -> &[S] {
        self.schedules.as_ref()
    }
    /// The step whose values are in force.
    pub fn t(&self) -> u64 {
        self.t
    }
    /// Sets every group's lr (and momentum) for step `t`. Refuses a schedule count that is not
    /// the optimizer's group count. If a group refuses its values, that group is left as it was
    /// and the groups before it get back the values of step `undo` (what this driver set last).
    fn apply_at<F: Real>(&self, opt: &mut dyn Optimizer<F>, t: u64, undo: u64) -> Result<(), Error> {
        let schedules = self.schedules.as_ref();
        if schedules.len() != opt.groups() {
            return Err(Error::LengthMismatch {
                what: "schedules (one per parameter group)",
                expected: opt.groups(),
                found: schedules.len(),
            });
        }
        for (g, s) in schedules.iter().enumerate() {
            if let Err(e) = apply_group(opt, g, s.lr_at(t), s.momentum_at(t)) {
                for (h, s) in schedules.iter().enumerate().take(g) {
                    let _ = apply_group(opt, h, s.lr_at(undo), s.momentum_at(undo));
                }
                return Err(e);
            }
        }
        Ok(())
    }
    /// Sets the optimizer's lr (and momentum) for the current step, group by group.
    pub fn apply<F: Real>(&self, opt: &mut dyn Optimizer<F>) -> Result<(), Error> {
        self.apply_at(opt, self.t, self.t)
    }
    /// Step 0: apply the first values.
    pub fn start<F: Real>(&mut self, opt: &mut dyn Optimizer<F>) -> Result<(), Error> {
        self.apply(opt)
    }
    /// Advances one step and applies its values. On error (the optimizer refused a value) the
    /// driver does not advance (see [`Driver::apply`] for the optimizer).
    pub fn step<F: Real>(&mut self, opt: &mut dyn Optimizer<F>) -> Result<(), Error> {
        let t = self.t.saturating_add(1);
        self.apply_at(opt, t, self.t)?;
        self.t = t;
        Ok(())
    }
}

/// Persistence kind of a saved [`Driver`] with one schedule.
const DRIVER_KIND: u8 = crate::persist::Kind::Driver.byte();
/// Persistence kind of a saved [`Driver`] with several (its count follows the header).
const DRIVER_GROUPS_KIND: u8 = crate::persist::Kind::DriverGroups.byte();

impl<S: Schedule + SavedSchedule, Z: AsRef<[S]> + AsMut<[S]>> Driver<S, Z> {
    fn write(&self, w: &mut Writer<'_>) -> Result<(), Error> {
        let schedules = self.schedules.as_ref();
        if let [one] = schedules {
            w.header(&Header { kind: DRIVER_KIND, float_bytes: 0, n: 0, steps: self.t })?;
            return one.write_config(w);
        }
        w.header(&Header {
            kind: DRIVER_GROUPS_KIND,
            float_bytes: 0,
            n: schedules.len() as u64,
            steps: self.t,
        })?;
        schedules.iter().try_for_each(|s| s.write_config(w))
    }
    /// Bytes [`Driver::save`] writes.
    pub fn saved_len(&self) -> usize {
        persist::saved_len(|w| self.write(w))
    }
    /// Saves t and the schedules' configurations (see [`crate::persist`]; kind 0x83 for one
    /// schedule, 0x84 for one per group).
    pub fn save(&self, out: &mut [u8]) -> Result<usize, Error> {
        persist::save(out, |w| self.write(w))
    }
    /// Restores what [`Driver::save`] wrote (schedules and t) into a driver with as many
    /// schedules; refuses anything else, changing nothing.
    pub fn restore(&mut self, bytes: &[u8]) -> Result<(), Error> {
        let count = self.schedules.as_ref().len();
        let kind = if count == 1 { DRIVER_KIND } else { DRIVER_GROUPS_KIND };
        // Read and validate every schedule before replacing any.
        let t = persist::read_kind(bytes, kind, |h, r| {
            if count != 1 && h.n != count as u64 {
                return Err(Error::StateMismatch { field: "schedules", expected: count as u64, found: h.n });
            }
            for _ in 0..count {
                S::read_config(r)?;
            }
            Ok(h.steps)
        })?;
        let (_, mut r) = persist::Reader::open(bytes)?;
        for s in self.schedules.as_mut() {
            *s = S::read_config(&mut r)?;
        }
        self.t = t;
        Ok(())
    }
}

/// Sets group `g`'s `lr` (and `momentum`), or changes nothing and returns the refusal.
pub(crate) fn apply_group<F: Real>(
    opt: &mut dyn Optimizer<F>,
    g: usize,
    lr: f64,
    momentum: Option<f64>,
) -> Result<(), Error> {
    let old = opt.group_lr(g)?;
    opt.set_group_lr(g, lr)?;
    if let Some(m) = momentum
        && let Err(e) = opt.set_group_momentum(g, m)
    {
        // `old` was accepted before, so setting it back cannot fail.
        let _ = opt.set_group_lr(g, old);
        return Err(e);
    }
    Ok(())
}

/// Sets `lr` (and `momentum`) on `opt`, or changes nothing and returns the refusal.
pub(crate) fn apply_values<F: Real>(
    opt: &mut dyn Optimizer<F>,
    lr: f64,
    momentum: Option<f64>,
) -> Result<(), Error> {
    let old = opt.lr();
    opt.set_lr(lr)?;
    if let Some(m) = momentum
        && let Err(e) = opt.set_momentum(m)
    {
        // `old` was accepted before, so setting it back cannot fail.
        let _ = opt.set_lr(old);
        return Err(e);
    }
    Ok(())
}

/// A schedule whose configuration (and state, for the stateful ones) can be written into saved
/// state and read back, validated by the schedule's constructor. Each kind writes its tag first,
/// so bytes of another kind are refused with [`Error::StateMismatch`].
///
/// Tags: 1 step, 2 multi-step, 3 exponential, 4 cosine, 5 warm restarts, 6 one-cycle, 7 cyclic,
/// 8 linear, 9 constant, 10 polynomial, 11 warmup-cosine, 12 plateau, 13 sequential, 14 chained.
pub trait SavedSchedule: Sized {
    /// The tag written before the fields.
    const TAG: u8;
    /// Writes the fields (without the tag).
    fn write_fields(&self, w: &mut Writer<'_>) -> Result<(), Error>;
    /// Reads what [`SavedSchedule::write_fields`] wrote, validated.
    fn read_fields(r: &mut Reader<'_>) -> Result<Self, Error>;
    /// Writes the tag and the fields.
    fn write_config(&self, w: &mut Writer<'_>) -> Result<(), Error> {
        w.u8(Self::TAG)?;
        self.write_fields(w)
    }
    /// Reads the tag (refusing another kind) and the fields.
    fn read_config(r: &mut Reader<'_>) -> Result<Self, Error> {
        let tag = r.u8()?;
        if tag != Self::TAG {
            return Err(Error::StateMismatch {
                field: "schedule",
                expected: u64::from(Self::TAG),
                found: u64::from(tag),
            });
        }
        Self::read_fields(r)
    }
}

impl SavedSchedule for AnySchedule {
    /// Not written: each variant writes its own tag.
    const TAG: u8 = 0;
    fn write_fields(&self, w: &mut Writer<'_>) -> Result<(), Error> {
        each!(self, s => s.write_fields(w))
    }
    fn read_fields(_: &mut Reader<'_>) -> Result<Self, Error> {
        Err(Error::CorruptState { reason: "schedule without a tag" })
    }
    fn write_config(&self, w: &mut Writer<'_>) -> Result<(), Error> {
        each!(self, s => s.write_config(w))
    }
    fn read_config(r: &mut Reader<'_>) -> Result<Self, Error> {
        Self::read_tagged(r.u8()?, r)
    }
}

impl AnySchedule {
    /// Whether its lr is the base lr times a factor of t, so that it chains ([`Chained`]).
    pub fn chainable(&self) -> bool {
        match self {
            AnySchedule::Step(_)
            | AnySchedule::MultiStep(_)
            | AnySchedule::Exponential(_)
            | AnySchedule::Linear(_)
            | AnySchedule::Constant(_)
            | AnySchedule::Polynomial(_) => true,
            AnySchedule::Cosine(c) => c.eta_min() == 0.0,
            AnySchedule::WarmRestarts(c) => c.eta_min() == 0.0,
            AnySchedule::OneCycle(_)
            | AnySchedule::Cyclic(_)
            | AnySchedule::WarmupCosine(_)
            | AnySchedule::Swa(_)
            | AnySchedule::Piecewise(_) => false,
        }
    }

    /// Reads the fields of the schedule whose tag `tag` was just read.
    pub fn read_tagged(tag: u8, r: &mut Reader<'_>) -> Result<Self, Error> {
        Ok(match tag {
            StepLr::TAG => AnySchedule::Step(StepLr::read_fields(r)?),
            MultiStepLr::TAG => AnySchedule::MultiStep(MultiStepLr::read_fields(r)?),
            ExponentialLr::TAG => AnySchedule::Exponential(ExponentialLr::read_fields(r)?),
            CosineAnnealingLr::TAG => AnySchedule::Cosine(CosineAnnealingLr::read_fields(r)?),
            CosineAnnealingWarmRestarts::TAG => {
                AnySchedule::WarmRestarts(CosineAnnealingWarmRestarts::read_fields(r)?)
            }
            OneCycleLr::TAG => AnySchedule::OneCycle(OneCycleLr::read_fields(r)?),
            CyclicLr::TAG => AnySchedule::Cyclic(CyclicLr::read_fields(r)?),
            LinearLr::TAG => AnySchedule::Linear(LinearLr::read_fields(r)?),
            ConstantLr::TAG => AnySchedule::Constant(ConstantLr::read_fields(r)?),
            PolynomialLr::TAG => AnySchedule::Polynomial(PolynomialLr::read_fields(r)?),
            WarmupCosine::TAG => AnySchedule::WarmupCosine(WarmupCosine::read_fields(r)?),
            Swalr::TAG => AnySchedule::Swa(Swalr::read_fields(r)?),
            PiecewiseInterpolate::TAG => AnySchedule::Piecewise(PiecewiseInterpolate::read_fields(r)?),
            _ => return Err(Error::CorruptState { reason: "unknown schedule tag" }),
        })
    }
}

/// `γ^k` for the schedules, with libm (the same value in every build).
#[inline]
pub(crate) fn powi(base: f64, k: u64) -> f64 {
    crate::real::powf64(base, k as f64)
}

/// `cos`, with libm.
#[inline]
pub(crate) fn cos(x: f64) -> f64 {
    libm::cos(x)
}

/// The learning rate a schedule starts from (PyTorch takes it from the optimizer, which refuses
/// a negative or NaN lr): finite and ≥ 0.
pub(crate) fn check_base_lr(base_lr: f64) -> Result<(), Error> {
    need(base_lr.is_finite() && base_lr >= 0.0, "base_lr", base_lr)
}

pub(crate) fn need(cond: bool, name: &'static str, value: f64) -> Result<(), Error> {
    if cond { Ok(()) } else { Err(Error::InvalidHyperparameter { name, value }) }
}

pub(crate) fn refuse(message: &'static str) -> Error {
    Error::InvalidCombination { message }
}
