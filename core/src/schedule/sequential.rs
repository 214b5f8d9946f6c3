//! `SequentialLR`: schedules joined at milestones, as a state machine like PyTorch's.
//!
//! ```text
//! step():  t ← t + 1;  i = number of milestones ≤ t
//!          entering segment i (t = milestoneᵢ₋₁) → it starts at its step 0
//!          otherwise                            → segment i advances one step
//! lr(t) = segmentᵢ(t − milestoneᵢ₋₁)
//! ```
//! Source: `torch/optim/lr_scheduler.py::SequentialLR.step` (PyTorch calls `step(0)` on the
//! segment it enters; optax's `join_schedules` passes count − boundary likewise). Only the
//! segment in force is stepped.
//!
//! A segment is a closed form ([`AnySchedule`], whose value depends on t alone) or a
//! [`ReduceLrOnPlateau`], fed the metric given to [`Sequential::step`] on every step inside its
//! segment except the one entering it (that metric belongs to a step taken under the previous
//! segment). PyTorch refuses `ReduceLROnPlateau` inside `SequentialLR`, because its `step()`
//! takes no metric (pytorch/pytorch#68978); descent forwards the metric instead, the direction
//! proposed there. A nested `SequentialLR` is the same as one whose milestones are merged, so
//! segments are not themselves sequential.
//!
//! State: t (PyTorch's `last_epoch`) and the plateau segments' state. [`Sequential::save`] writes
//! it with the configuration (kind 0x82); a run restored from it continues bit-identically.

use super::{AnySchedule, ReduceLrOnPlateau, SavedSchedule, Schedule, apply_values};
use crate::error::Error;
use crate::optim::Optimizer;
use crate::persist::{self, Header, Reader, Writer};
use crate::real::Real;

/// One segment of a [`Sequential`] schedule.
#[derive(Debug, Clone, PartialEq)]
#[allow(clippy::large_enum_variant)] // no heap to box MultiStepLr's milestones into
pub enum Segment {
    /// A closed form of the step count within the segment.
    Closed(AnySchedule),
    /// A plateau scheduler, fed one metric per step within the segment.
    Plateau(ReduceLrOnPlateau),
}

impl From<AnySchedule> for Segment {
    fn from(s: AnySchedule) -> Self {
        Segment::Closed(s)
    }
}

impl From<ReduceLrOnPlateau> for Segment {
    fn from(p: ReduceLrOnPlateau) -> Self {
        Segment::Plateau(p)
    }
}

impl Segment {
    fn lr_at(&self, local: u64) -> f64 {
        match self {
            Segment::Closed(s) => s.lr_at(local),
            Segment::Plateau(p) => p.lr(),
        }
    }
    fn momentum_at(&self, local: u64) -> Option<f64> {
        match self {
            Segment::Closed(s) => s.momentum_at(local),
            Segment::Plateau(_) => None,
        }
    }
    fn write(&self, w: &mut Writer<'_>) -> Result<(), Error> {
        match self {
            Segment::Closed(s) => s.write_config(w),
            Segment::Plateau(p) => p.write_config(w),
        }
    }
    fn read(r: &mut Reader<'_>) -> Result<Self, Error> {
        match r.u8()? {
            ReduceLrOnPlateau::TAG => Ok(Segment::Plateau(ReduceLrOnPlateau::read_fields(r)?)),
            tag => Ok(Segment::Closed(AnySchedule::read_tagged(tag, r)?)),
        }
    }
}

/// Up to `K` segments joined at `K − 1` milestones, with the step count t in force.
#[derive(Debug, Clone, PartialEq)]
pub struct Sequential<const K: usize> {
    children: heapless::Vec<Segment, K>,
    milestones: heapless::Vec<u64, K>,
    t: u64,
}

/// Persistence kind of a saved [`Sequential`].
const KIND: u8 = persist::Kind::Sequential.byte();

impl<const K: usize> Sequential<K> {
    /// Joins closed-form `children` (at least one) at `milestones` (one fewer, non-decreasing),
    /// at step 0.
    pub fn new(children: &[AnySchedule], milestones: &[u64]) -> Result<Self, Error> {
        let mut c = heapless::Vec::new();
        for ch in children {
            c.push(Segment::Closed(ch.clone())).map_err(|_| too_many())?;
        }
        Self::build(c, milestones)
    }

    /// Joins `segments` (closed forms or plateau schedulers) at `milestones`, at step 0.
    pub fn with_segments(segments: &[Segment], milestones: &[u64]) -> Result<Self, Error> {
        let mut c = heapless::Vec::new();
        c.extend_from_slice(segments).map_err(|_| too_many())?;
        Self::build(c, milestones)
    }

    fn build(children: heapless::Vec<Segment, K>, milestones: &[u64]) -> Result<Self, Error> {
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
        let mut m = heapless::Vec::new();
        m.extend_from_slice(milestones).map_err(|_| Error::InvalidCombination {
            message: "more milestones than the Sequential capacity K",
        })?;
        Ok(Sequential { children, milestones: m, t: 0 })
    }

    /// The segments.
    pub fn segments(&self) -> &[Segment] {
        &self.children
    }

    /// True when every segment is a closed form, so that [`Schedule::lr_at`] answers for any t.
    pub fn is_closed_form(&self) -> bool {
        self.children.iter().all(|c| matches!(c, Segment::Closed(_)))
    }

    /// The step whose values are in force (PyTorch's `last_epoch`).
    pub fn t(&self) -> u64 {
        self.t
    }

    /// Index of the segment in force at step `t`, and where it started.
    fn locate(&self, t: u64) -> (usize, u64) {
        let idx = self.milestones.partition_point(|&m| m <= t);
        let start = if idx == 0 { 0 } else { self.milestones.get(idx - 1).copied().unwrap_or(0) };
        (idx, start)
    }

    fn at(&self, t: u64) -> Option<(&Segment, u64)> {
        let (idx, start) = self.locate(t);
        self.children.get(idx).map(|s| (s, t - start))
    }

    /// The learning rate in force (step [`Sequential::t`]).
    pub fn lr(&self) -> f64 {
        self.lr_at(self.t)
    }

    /// The momentum in force, where the segment cycles one.
    pub fn momentum(&self) -> Option<f64> {
        self.momentum_at(self.t)
    }

    /// Advances one step, as `SequentialLR.step()`; `metric` is fed to a plateau segment in force
    /// (and ignored otherwise). Returns the new learning rate. A plateau segment that needs a
    /// metric and gets `None` is refused, and nothing changes.
    pub fn advance(&mut self, metric: Option<f64>) -> Result<f64, Error> {
        let t = self.t.saturating_add(1);
        let (idx, start) = self.locate(t);
        let entering = idx > 0 && start == t;
        if let Some(Segment::Plateau(p)) = self.children.get_mut(idx)
            && !entering
        {
            let m = metric.ok_or(Error::Unsupported {
                what: "a ReduceLROnPlateau segment needs a metric at every step",
            })?;
            p.step(m);
        }
        self.t = t;
        Ok(self.lr())
    }

    /// Sets the optimizer's lr (and momentum) to the values in force. On error the optimizer is
    /// left as it was.
    pub fn apply<F: Real>(&self, opt: &mut dyn Optimizer<F>) -> Result<(), Error> {
        apply_values(opt, self.lr(), self.momentum())
    }

    /// [`Sequential::advance`], then [`Sequential::apply`]; on error neither the schedule nor
    /// the optimizer changes.
    pub fn step<F: Real>(&mut self, opt: &mut dyn Optimizer<F>, metric: Option<f64>) -> Result<(), Error> {
        let mut next = self.clone();
        next.advance(metric)?;
        next.apply(opt)?;
        *self = next;
        Ok(())
    }

    fn write(&self, w: &mut Writer<'_>) -> Result<(), Error> {
        w.header(&Header { kind: KIND, float_bytes: 0, n: self.children.len() as u64, steps: self.t })?;
        self.write_segments(w)
    }

    fn write_segments(&self, w: &mut Writer<'_>) -> Result<(), Error> {
        w.u64(self.children.len() as u64)?;
        self.milestones.iter().try_for_each(|&m| w.u64(m))?;
        self.children.iter().try_for_each(|c| c.write(w))
    }

    fn read_segments(r: &mut Reader<'_>, t: u64) -> Result<Self, Error> {
        let count = r.u64()?;
        if count == 0 || count > K as u64 {
            return Err(Error::StateMismatch { field: "schedules", expected: K as u64, found: count });
        }
        let mut milestones = [0u64; K];
        let milestones = milestones.get_mut(..count as usize - 1).unwrap_or(&mut []);
        for m in milestones.iter_mut() {
            *m = r.u64()?;
        }
        let mut children = heapless::Vec::new();
        for _ in 0..count {
            children.push(Segment::read(r)?).map_err(|_| too_many())?;
        }
        let mut s = Self::build(children, milestones)?;
        s.t = t;
        Ok(s)
    }

    /// Bytes [`Sequential::save`] writes.
    pub fn saved_len(&self) -> usize {
        persist::saved_len(|w| self.write(w))
    }

    /// Saves configuration, t and the plateau segments' state (see [`crate::persist`]).
    pub fn save(&self, out: &mut [u8]) -> Result<usize, Error> {
        persist::save(out, |w| self.write(w))
    }

    /// Restores what [`Sequential::save`] wrote; refuses anything else (also more segments than
    /// `K`), changing nothing.
    pub fn restore(&mut self, bytes: &[u8]) -> Result<(), Error> {
        let (s, n) = persist::read_kind(bytes, KIND, |h, r| Ok((Self::read_segments(r, h.steps)?, h.n)))?;
        if s.children.len() as u64 != n {
            return Err(Error::CorruptState { reason: "segment count disagrees with the header" });
        }
        *self = s;
        Ok(())
    }
}

fn too_many() -> Error {
    Error::InvalidCombination { message: "more schedules than the Sequential capacity K" }
}

/// The closed form of the segments. For a plateau segment (not a function of t) the answer is
/// the plateau's learning rate in force now, whatever t is asked; use [`Sequential::lr`] and
/// [`Sequential::advance`] for such a schedule.
impl<const K: usize> Schedule for Sequential<K> {
    fn lr_at(&self, t: u64) -> f64 {
        self.at(t).map_or(f64::NAN, |(s, local)| s.lr_at(local))
    }
    fn momentum_at(&self, t: u64) -> Option<f64> {
        self.at(t).and_then(|(s, local)| s.momentum_at(local))
    }
}

/// The whole state, t included, so that a [`super::Driver`] (or another sequential's owner) can
/// save it inside its own bytes.
impl<const K: usize> SavedSchedule for Sequential<K> {
    const TAG: u8 = 13;
    fn write_fields(&self, w: &mut Writer<'_>) -> Result<(), Error> {
        w.u64(self.t)?;
        self.write_segments(w)
    }
    fn read_fields(r: &mut Reader<'_>) -> Result<Self, Error> {
        let t = r.u64()?;
        Self::read_segments(r, t)
    }
}
