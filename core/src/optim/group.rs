//! Parameter groups: one optimizer over the tensors of a [`Layout`], each group with its own
//! hyperparameters, like PyTorch's `param_groups` (and optax's `multi_transform` when the groups
//! run different rules, see [`super::pair`]).
//!
//! ```text
//! for each tensor i of the layout, in order, whose group g is not frozen:
//!     t_i ← t_i + 1                      (step counts are per tensor, as in PyTorch)
//!     rule(config_g for tensor i's shape) over params[i], grads[i], state[i]
//! ```
//!
//! One state buffer holds every tensor's state, tensor after tensor (each tensor's streams
//! together), then the scratch the largest tensor needs (Muon's Newton–Schulz matrices). A tensor
//! whose group is frozen when the optimizer is built gets no state: a frozen backbone costs no
//! optimizer memory. With one tensor in one group this is the flat optimizer [`super::Optim`],
//! bit for bit (`tests/groups.rs` checks it). A rule whose step size comes from sums over every
//! parameter ([`UpdateRule::WHOLE_SET`]: Prodigy, D-Adaptation) is refused over more than one
//! tensor ([`WHOLE_SET_REFUSED`]): it is one flat optimizer over the whole set.
//!
//! ```
//! use descent_core::adam::AdamConfig;
//! use descent_core::group::{Group, GroupedArrays};
//! use descent_core::layout::{Layout, Tensor};
//! use descent_core::Optimizer;
//!
//! // A 2×3 weight with decay, its bias without (AdamW's usual groups).
//! let layout = Layout::new([Tensor::new(0, &[2, 3], 0), Tensor::new(6, &[3], 1)], 9, 2)?;
//! let decay = AdamConfig { lr: 0.1, ..AdamConfig::adamw() };
//! let groups = [Group::new(decay), Group::new(AdamConfig { weight_decay: 0.0, ..decay })];
//! // 2 tensors, 2 groups, 2 × 9 state values (m and v), all in arrays.
//! let mut opt = GroupedArrays::<AdamConfig, f32, 2, 2, 18>::owned(layout, groups)?;
//! let mut x = [1.0f32; 9];
//! opt.step(&mut x, &[0.5; 9])?;
//! assert!(x[0] < x[6]); // the same gradient, but the weight also decayed
//! opt.set_group_lr(1, 0.01)?;
//! assert_eq!((opt.group_lr(0)?, opt.group_lr(1)?), (0.1, 0.01));
//! # Ok::<(), descent_core::Error>(())
//! ```

use core::marker::PhantomData;
use core::ops::Range;

use super::{
    Compute, NonFinitePolicy, Optimizer, Production, Reference, StateBuffer, StepOutcome, UpdateRule,
    state_and_scratch, state_fits,
};
use crate::error::Error;
use crate::layout::{Layout, Tensor};
use crate::persist::{self, Header, Persist, Writer};
use crate::real::Real;

/// Persistence kind of a grouped optimizer (the rule's id follows in the body).
pub const KIND: u8 = crate::persist::Kind::Grouped.byte();

/// Why a grouped optimizer refuses a [`UpdateRule::WHOLE_SET`] rule over more than one tensor.
pub const WHOLE_SET_REFUSED: &str = "this rule estimates one step size from every parameter \
     (optax's sums over the whole tree), so it cannot step tensors one by one: build one flat \
     optimizer over all the parameters";

/// One parameter group: the rule's configuration for its tensors (every hyperparameter may
/// differ from the other groups'), and whether it is frozen (its parameters and state are left
/// alone, as PyTorch leaves parameters without gradients).
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Group<R> {
    /// The hyperparameters of this group.
    pub config: R,
    /// Frozen: neither its parameters nor its state change, its step counts do not advance.
    pub frozen: bool,
}

impl<R> Group<R> {
    /// A group that trains with `config`.
    pub const fn new(config: R) -> Self {
        Group { config, frozen: false }
    }
    /// A frozen group (its tensors get no state when the optimizer is built).
    pub const fn frozen(config: R) -> Self {
        Group { config, frozen: true }
    }
}

/// What a grouped optimizer keeps per tensor: its step count, the rule's scalars, and where its
/// state lies in the state buffer.
#[derive(Debug, Clone, Copy, Default, PartialEq)]
pub struct Slot<S> {
    steps: u64,
    scalars: S,
    at: usize,
    room: usize,
}

impl<S> Slot<S> {
    /// Steps this tensor has taken.
    pub fn steps(&self) -> u64 {
        self.steps
    }
    /// The rule's scalar state for this tensor.
    pub fn scalars(&self) -> &S {
        &self.scalars
    }
    /// The values of the state buffer reserved for this tensor.
    pub fn state_range(&self) -> Range<usize> {
        self.at..self.at + self.room
    }
}

/// How much state to reserve per tensor when the optimizer is built.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Reserve {
    /// What the groups' configurations need now.
    #[default]
    Exact,
    /// Also room for a momentum buffer, so that a schedule may turn momentum on later (SGD and
    /// RMSprop without momentum; PyTorch creates the buffer lazily, fixed-size state cannot).
    Momentum,
}

/// Layer-wise learning-rate decay (as in fine-tuning BERT and ELECTRA): layer `layer` of `layers`
/// (0 nearest the input) gets base·decay^(layers − 1 − layer): the top layer the base learning
/// rate, each layer below it `decay` times the one above. Give each layer a group with that lr.
///
/// ```
/// use descent_core::group::layer_lr;
/// let lrs: Vec<f64> = (0..3).map(|l| layer_lr(1e-3, 0.5, l, 3)).collect();
/// assert_eq!(lrs, [2.5e-4, 5e-4, 1e-3]);
/// ```
pub fn layer_lr(base: f64, decay: f64, layer: usize, layers: usize) -> f64 {
    let depth = layers.saturating_sub(1).saturating_sub(layer);
    base * crate::real::powf64(decay, depth as f64)
}

/// The state values reserved for a tensor of `n` elements under `config`.
fn room<R: UpdateRule>(config: &R, n: usize, reserve: Reserve) -> usize {
    let now = config.state_len(n);
    let mut with = config.clone();
    if reserve == Reserve::Momentum && with.put_momentum(0.5) { now.max(with.state_len(n)) } else { now }
}

/// An optimizer over the tensors of a layout in parameter groups: rule `R`, floats `F`, tensors
/// `T`, groups `G`, per-tensor slots `S`, state `B`. Each storage is an array (sizes known at
/// compile time), a caller's slice, or in `std` code a `Vec`; see [`GroupedView`].
#[derive(Debug, Clone)]
pub struct Grouped<R, F, T, G, S, B>
where
    R: UpdateRule,
    F: Real,
    T: AsRef<[Tensor]>,
    G: AsRef<[Group<R>]> + AsMut<[Group<R>]>,
    S: AsRef<[Slot<R::Scalars>]> + AsMut<[Slot<R::Scalars>]>,
    B: StateBuffer<F>,
{
    layout: Layout<T>,
    groups: G,
    slots: S,
    state: B,
    /// Where the scratch starts (after every tensor's state) and how long it is.
    scratch: (usize, usize),
    policy: NonFinitePolicy,
    _float: PhantomData<(F, R)>,
}

/// A grouped optimizer over storage the caller provides: the tensors, the groups, one slot per
/// tensor and the state buffer (see [`Grouped::state_len_for`] for its size).
pub type GroupedView<'a, R, F> =
    Grouped<R, F, &'a [Tensor], &'a mut [Group<R>], &'a mut [Slot<<R as UpdateRule>::Scalars>], &'a mut [F]>;

/// A grouped optimizer that owns its storage: `T` tensors, `G` groups, `N` state values.
pub type GroupedArrays<R, F, const T: usize, const G: usize, const N: usize> =
    Grouped<R, F, [Tensor; T], [Group<R>; G], [Slot<<R as UpdateRule>::Scalars>; T], [F; N]>;

impl<R: UpdateRule, F: Real, const T: usize, const G: usize, const N: usize> GroupedArrays<R, F, T, G, N> {
    /// An optimizer owning all its storage (see [`Grouped::new`]; `N` ≥
    /// [`Grouped::state_len_for`]).
    pub fn owned(layout: Layout<[Tensor; T]>, groups: [Group<R>; G]) -> Result<Self, Error> {
        Self::new(layout, groups, core::array::from_fn(|_| Slot::default()), [F::ZERO; N])
    }
}

/// The rule's configuration for tensor `i`, checked: it can take the tensor's shape and length.
fn tensor_config<R: UpdateRule>(group: &Group<R>, i: usize, t: &Tensor) -> Result<R, Error> {
    let c = group.config.for_tensor(&t.shape);
    c.check_tensor(&t.shape).map_err(|reason| Error::TensorRefused { tensor: i, reason })?;
    c.check_len(t.len)?;
    Ok(c)
}

impl<R, F, T, G, S, B> Grouped<R, F, T, G, S, B>
where
    R: UpdateRule,
    F: Real,
    T: AsRef<[Tensor]>,
    G: AsRef<[Group<R>]> + AsMut<[Group<R>]>,
    S: AsRef<[Slot<R::Scalars>]> + AsMut<[Slot<R::Scalars>]>,
    B: StateBuffer<F>,
{
    /// An optimizer over `layout` with one group per layout group and one slot per tensor (their
    /// contents are overwritten), state in `state` (at least [`Grouped::state_len_for`] values).
    /// Refuses invalid hyperparameters, a group count or slot count that does not match the
    /// layout, a tensor a group's rule cannot take (naming it), and a buffer that is too small;
    /// nothing is written then.
    pub fn new(layout: Layout<T>, groups: G, slots: S, state: B) -> Result<Self, Error> {
        Self::with_options(layout, groups, slots, state, NonFinitePolicy::default(), Reserve::Exact)
    }

    /// As [`Grouped::new`], with a non-finite gradient policy and a reservation rule.
    pub fn with_options(
        layout: Layout<T>,
        groups: G,
        mut slots: S,
        mut state: B,
        policy: NonFinitePolicy,
        reserve: Reserve,
    ) -> Result<Self, Error> {
        let needed = Self::state_len_for(&layout, groups.as_ref(), reserve)?;
        if slots.as_ref().len() != layout.tensors().len() {
            return Err(Error::LengthMismatch {
                what: "tensor slots",
                expected: layout.tensors().len(),
                found: slots.as_ref().len(),
            });
        }
        state_fits(needed, state.values().len())?;
        // Everything checked: lay the state out and initialise it.
        let mut at = 0usize;
        let mut scratch = 0usize;
        for ((i, t), slot) in layout.tensors().iter().enumerate().zip(slots.as_mut()) {
            let group = groups
                .as_ref()
                .get(t.group)
                .ok_or(Error::NoSuchGroup { group: t.group, groups: groups.as_ref().len() })?;
            let c = tensor_config(group, i, t)?;
            let n = if group.frozen { 0 } else { room(&c, t.len, reserve) };
            *slot = Slot { steps: 0, scalars: R::Scalars::default(), at, room: n };
            if let Some(region) = state.values_mut().get_mut(at..at + c.state_len(t.len).min(n)) {
                c.init_state(region);
            }
            at += n;
            if !group.frozen {
                scratch = scratch.max(c.scratch_len(t.len));
            }
        }
        Ok(Grouped { layout, groups, slots, state, scratch: (at, scratch), policy, _float: PhantomData })
    }

    /// State values an optimizer over `layout` with `groups` needs: every tensor's state (none
    /// for tensors frozen now), then the largest scratch a tensor needs. Checks the groups as
    /// [`Grouped::new`] does.
    pub fn state_len_for<U: AsRef<[Tensor]>>(
        layout: &Layout<U>,
        groups: &[Group<R>],
        reserve: Reserve,
    ) -> Result<usize, Error> {
        if groups.len() != layout.groups() {
            return Err(Error::LengthMismatch {
                what: "groups",
                expected: layout.groups(),
                found: groups.len(),
            });
        }
        if R::WHOLE_SET && layout.tensors().len() > 1 {
            return Err(Error::Unsupported { what: WHOLE_SET_REFUSED });
        }
        for g in groups {
            g.config.validate()?;
        }
        let (mut total, mut scratch) = (0usize, 0usize);
        for (i, t) in layout.tensors().iter().enumerate() {
            let group =
                groups.get(t.group).ok_or(Error::NoSuchGroup { group: t.group, groups: groups.len() })?;
            let c = tensor_config(group, i, t)?;
            if !group.frozen {
                total = total.saturating_add(room(&c, t.len, reserve));
                scratch = scratch.max(c.scratch_len(t.len));
            }
        }
        Ok(total.saturating_add(scratch))
    }

    /// The layout.
    pub fn layout(&self) -> &Layout<T> {
        &self.layout
    }
    /// The groups.
    pub fn groups_ref(&self) -> &[Group<R>] {
        self.groups.as_ref()
    }
    /// The per-tensor slots (step counts, scalars, state ranges).
    pub fn slots(&self) -> &[Slot<R::Scalars>] {
        self.slots.as_ref()
    }
    /// Tensor `i`'s state values (empty for a tensor frozen since construction).
    pub fn tensor_state(&self, i: usize) -> &[F] {
        let Some((slot, t)) = self.slots.as_ref().get(i).zip(self.layout.tensors().get(i)) else {
            return &[];
        };
        let Some(group) = self.groups.as_ref().get(t.group) else { return &[] };
        let used = group.config.for_tensor(&t.shape).state_len(t.len).min(slot.room);
        self.state.values().get(slot.at..slot.at + used).unwrap_or(&[])
    }
    /// The non-finite gradient policy.
    pub fn policy(&self) -> NonFinitePolicy {
        self.policy
    }

    fn group(&self, g: usize) -> Result<&Group<R>, Error> {
        let groups = self.groups.as_ref().len();
        self.groups.as_ref().get(g).ok_or(Error::NoSuchGroup { group: g, groups })
    }

    /// Whether `config` can serve group `g`: valid, every tensor of the group takes it, and its
    /// state fits the room reserved for each (a frozen-at-construction tensor has none).
    fn check_group_config(&self, g: usize, config: &R, frozen: bool) -> Result<(), Error> {
        config.validate()?;
        let candidate = Group { config: config.clone(), frozen };
        for (i, t) in self.layout.group_tensors(g) {
            let c = tensor_config(&candidate, i, t)?;
            let slot = self.slots.as_ref().get(i).ok_or(Error::CorruptState { reason: "missing slot" })?;
            if !frozen {
                if t.len > 0 && slot.room == 0 && c.state_len(t.len) > 0 {
                    return Err(Error::Unsupported {
                        what: "a group frozen when the optimizer was built has no state to train with",
                    });
                }
                state_fits(c.state_len(t.len), slot.room)?;
                state_fits(c.scratch_len(t.len), self.scratch.1)?;
            }
        }
        Ok(())
    }

    /// Group `g`'s configuration.
    pub fn group_config(&self, g: usize) -> Result<&R, Error> {
        Ok(&self.group(g)?.config)
    }
    /// Replaces group `g`'s configuration (any hyperparameter), validated; refused, changing
    /// nothing, if a tensor of the group cannot take it or its state would not fit.
    pub fn set_group_config(&mut self, g: usize, config: R) -> Result<(), Error> {
        let frozen = self.group(g)?.frozen;
        self.check_group_config(g, &config, frozen)?;
        if let Some(group) = self.groups.as_mut().get_mut(g) {
            group.config = config;
        }
        Ok(())
    }
    /// Freezes or unfreezes group `g`. Unfreezing a group that was frozen when the optimizer was
    /// built is refused: it has no state.
    pub fn set_frozen(&mut self, g: usize, frozen: bool) -> Result<(), Error> {
        let config = self.group(g)?.config.clone();
        self.check_group_config(g, &config, frozen)?;
        if let Some(group) = self.groups.as_mut().get_mut(g) {
            group.frozen = frozen;
        }
        Ok(())
    }

    /// Applies `change` to a copy of every group's configuration and keeps the results only if
    /// every group accepts its own.
    fn set_all(&mut self, change: impl Fn(&mut R) -> bool, what: &'static str) -> Result<(), Error> {
        for g in 0..self.groups.as_ref().len() {
            let group = self.group(g)?;
            let mut c = group.config.clone();
            if !change(&mut c) {
                return Err(Error::Unsupported { what });
            }
            self.check_group_config(g, &c, group.frozen)?;
        }
        for group in self.groups.as_mut() {
            change(&mut group.config);
        }
        Ok(())
    }

    fn set_one(
        &mut self,
        g: usize,
        change: impl Fn(&mut R) -> bool,
        what: &'static str,
    ) -> Result<(), Error> {
        let mut c = self.group(g)?.config.clone();
        if !change(&mut c) {
            return Err(Error::Unsupported { what });
        }
        self.set_group_config(g, c)
    }

    /// The one step every entry point takes: checks, then `C` computes each tensor of every
    /// group that is not frozen.
    #[inline(always)]
    fn step_by<C: Compute>(&mut self, params: &mut [F], grads: &[F]) -> Result<StepOutcome, Error> {
        let len = self.layout.len();
        if params.len() != len {
            return Err(Error::LengthMismatch { what: "params", expected: len, found: params.len() });
        }
        if grads.len() != len {
            return Err(Error::LengthMismatch { what: "grads", expected: len, found: grads.len() });
        }
        let groups = self.groups.as_ref();
        if self.policy != NonFinitePolicy::Propagate {
            let trained =
                self.layout.tensors().iter().filter(|t| groups.get(t.group).is_some_and(|g| !g.frozen));
            let bad = trained.filter_map(|t| {
                let r = t.range();
                grads.get(r.clone())?.iter().position(|g| !g.is_finite()).map(|i| r.start + i)
            });
            if let Some(index) = bad.min() {
                return match self.policy {
                    NonFinitePolicy::SkipStep => Ok(StepOutcome::Skipped { index }),
                    _ => Err(Error::NonFinite { what: "grads", index }),
                };
            }
        }
        let (regions, scratch) = state_and_scratch(self.state.values_mut(), self.scratch.0, self.scratch.1)?;
        for (t, slot) in self.layout.tensors().iter().zip(self.slots.as_mut()) {
            let Some(group) = groups.get(t.group).filter(|g| !g.frozen) else { continue };
            let c = group.config.for_tensor(&t.shape);
            let r = t.range();
            let (Some(p), Some(g)) = (params.get_mut(r.clone()), grads.get(r)) else { continue };
            let Some(s) = regions.get_mut(slot.at..slot.at + c.state_len(t.len).min(slot.room)) else {
                continue;
            };
            let step = slot.steps.saturating_add(1);
            C::run(&c, &mut slot.scalars, step, p, g, s, scratch);
            slot.steps = step;
        }
        Ok(StepOutcome::Stepped)
    }

    /// One step computed by the scalar reference instead of the lane kernels (same bits).
    pub fn step_reference(&mut self, params: &mut [F], grads: &[F]) -> Result<StepOutcome, Error> {
        self.step_by::<Reference>(params, grads)
    }

    /// One step with an explicit lane width `L` (see [`super::Optim::step_with_lanes`]).
    #[inline(always)]
    pub fn step_with_lanes<const L: usize>(
        &mut self,
        params: &mut [F],
        grads: &[F],
    ) -> Result<StepOutcome, Error> {
        self.step_by::<super::Lanes<L>>(params, grads)
    }

    fn write_all(&self, w: &mut Writer<'_>) -> Result<(), Error> {
        w.header(&Header {
            kind: KIND,
            float_bytes: F::BYTES as u8,
            n: self.layout.len() as u64,
            steps: self.steps(),
        })?;
        w.u8(R::ID)?;
        w.u8(self.policy.to_u8())?;
        self.layout.write(w)?;
        for g in self.groups.as_ref() {
            w.bool(g.frozen)?;
            g.config.write(w)?;
        }
        for s in self.slots.as_ref() {
            w.u64(s.at as u64)?;
            w.u64(s.room as u64)?;
            w.u64(s.steps)?;
            s.scalars.write(w)?;
        }
        w.floats(self.state.values().get(..self.scratch.0).unwrap_or(&[]))
    }
}

impl<R, F, T, G, S, B> Optimizer<F> for Grouped<R, F, T, G, S, B>
where
    R: UpdateRule,
    F: Real,
    T: AsRef<[Tensor]>,
    G: AsRef<[Group<R>]> + AsMut<[Group<R>]>,
    S: AsRef<[Slot<R::Scalars>]> + AsMut<[Slot<R::Scalars>]>,
    B: StateBuffer<F>,
{
    /// The first group's configuration's name.
    fn name(&self) -> &'static str {
        self.groups.as_ref().first().map_or(R::NAME, |g| g.config.name())
    }

    #[inline]
    fn step(&mut self, params: &mut [F], grads: &[F]) -> Result<StepOutcome, Error> {
        self.step_by::<Production>(params, grads)
    }

    /// Whether any group's rule evaluates elsewhere than it steps (schedule-free).
    fn has_eval_params(&self) -> bool {
        self.groups.as_ref().iter().any(|g| g.config.eval_point(1).is_some())
    }

    /// Each tensor's evaluation parameters from its own state and step count (a frozen tensor
    /// and a rule without [`super::EvalPoint`]: the parameters themselves).
    fn eval_params(&self, params: &[F], out: &mut [F]) -> Result<(), Error> {
        super::check_eval_lens(self.layout.len(), params, out)?;
        out.copy_from_slice(params);
        let groups = self.groups.as_ref();
        for ((i, t), slot) in self.layout.tensors().iter().enumerate().zip(self.slots.as_ref()) {
            let Some(group) = groups.get(t.group) else { continue };
            let point = group.config.for_tensor(&t.shape).eval_point(slot.steps);
            let r = t.range();
            let (Some(p), Some(o)) = (params.get(r.clone()), out.get_mut(r)) else { continue };
            super::eval_from_stream(point, p, self.tensor_state(i), t.len, |&z| z, o);
        }
        Ok(())
    }

    /// Each tensor of a group that is not frozen folds its part of `estimate` (one value per
    /// parameter of the layout) into its Hessian average, with its group's β2.
    fn update_hessian(&mut self, estimate: &[F]) -> Result<(), Error> {
        let groups = self.groups.as_ref();
        let Some(first) = groups.first() else {
            return Err(Error::Unsupported { what: "update_hessian: no parameter groups" });
        };
        crate::optim::check_hessian_estimate(&first.config, self.layout.len(), estimate)?;
        for (t, slot) in self.layout.tensors().iter().zip(self.slots.as_ref()) {
            let Some(group) = groups.get(t.group).filter(|g| !g.frozen) else { continue };
            let c = group.config.for_tensor(&t.shape);
            let Some(stream) = c.hessian_stream() else { continue };
            let at = slot.at.saturating_add(stream.saturating_mul(t.len));
            let room_end = slot.at.saturating_add(c.state_len(t.len).min(slot.room));
            let end = at.saturating_add(t.len);
            if end > room_end {
                continue;
            }
            let (Some(h), Some(e)) = (self.state.values_mut().get_mut(at..end), estimate.get(t.range()))
            else {
                continue;
            };
            c.average_hessian(h, e);
        }
        Ok(())
    }

    /// Every tensor's state as at construction (its group's configuration now), step counts 0.
    fn reset(&mut self) -> Result<(), Error> {
        // Checked first, so that a refusal changes nothing.
        for (i, t) in self.layout.tensors().iter().enumerate() {
            if let Some(group) = self.groups.as_ref().get(t.group) {
                tensor_config(group, i, t)?;
            }
        }
        let (tensors, groups) = (self.layout.tensors(), self.groups.as_ref());
        for ((i, t), slot) in tensors.iter().enumerate().zip(self.slots.as_mut()) {
            let Some(group) = groups.get(t.group) else { continue };
            let c = tensor_config(group, i, t)?;
            let end = slot.at + c.state_len(t.len).min(slot.room);
            if let Some(region) = self.state.values_mut().get_mut(slot.at..end) {
                c.init_state(region);
            }
            slot.steps = 0;
            slot.scalars = R::Scalars::default();
        }
        Ok(())
    }

    /// The first group's learning rate.
    fn lr(&self) -> f64 {
        self.groups.as_ref().first().map_or(0.0, |g| g.config.lr())
    }

    /// Sets every group's learning rate (use [`Optimizer::set_group_lr`] for one group).
    fn set_lr(&mut self, lr: f64) -> Result<(), Error> {
        self.set_all(
            |c| {
                c.put_lr(lr);
                true
            },
            "",
        )
    }

    /// The first group's momentum.
    fn momentum(&self) -> Option<f64> {
        self.groups.as_ref().first().and_then(|g| g.config.momentum())
    }

    /// Sets every group's momentum.
    fn set_momentum(&mut self, momentum: f64) -> Result<(), Error> {
        self.set_all(|c| c.put_momentum(momentum), "this optimizer has no momentum to set")
    }

    /// The most steps any tensor has taken (step counts are per tensor).
    fn steps(&self) -> u64 {
        self.slots.as_ref().iter().map(|s| s.steps).max().unwrap_or(0)
    }

    fn len(&self) -> usize {
        self.layout.len()
    }

    fn state_len(&self) -> usize {
        (0..self.layout.tensors().len()).map(|i| self.tensor_state(i).len()).sum()
    }

    fn saved_len(&self) -> usize {
        persist::saved_len(|w| self.write_all(w))
    }

    fn save(&self, out: &mut [u8]) -> Result<usize, Error> {
        let needed = self.saved_len();
        if out.len() < needed {
            return Err(Error::BufferTooSmall { what: "saved state", needed, available: out.len() });
        }
        persist::save(out, |w| self.write_all(w))
    }

    /// Restores what [`Optimizer::save`] wrote for the same layout: refuses, changing nothing,
    /// another rule, float width, parameter count, layout (naming the first tensor that differs),
    /// state layout, or configurations the tensors cannot take.
    fn restore(&mut self, bytes: &[u8]) -> Result<(), Error> {
        let (h, mut r) = super::open_saved(bytes, KIND, Some(F::BYTES as u8), self.layout.len())?;
        let id = r.u8()?;
        if id != R::ID {
            return Err(Error::StateMismatch {
                field: "optimizer",
                expected: u64::from(R::ID),
                found: u64::from(id),
            });
        }
        let policy = NonFinitePolicy::from_u8(r.u8()?)?;
        self.layout.check_saved(&mut r)?;
        // Check every group's configuration and every slot against this optimizer's layout of
        // the state before anything is written.
        let groups_at = r.position();
        for g in 0..self.groups.as_ref().len() {
            let frozen = r.bool()?;
            let config = R::read(&mut r)?;
            self.check_group_config(g, &config, frozen)?;
        }
        for slot in self.slots.as_ref() {
            let (at, room) = (r.u64()?, r.u64()?);
            if at != slot.at as u64 || room != slot.room as u64 {
                return Err(Error::StateMismatch {
                    field: "tensor state range",
                    expected: slot.at as u64,
                    found: at,
                });
            }
            r.u64()?;
            R::Scalars::read(&mut r)?;
        }
        let raw = r.floats::<F>(self.scratch.0)?;
        r.finish()?;
        // Commit.
        let mut r = persist::Reader::at(bytes, groups_at);
        for group in self.groups.as_mut() {
            group.frozen = r.bool()?;
            group.config = R::read(&mut r)?;
        }
        for slot in self.slots.as_mut() {
            r.u64()?;
            r.u64()?;
            slot.steps = r.u64()?;
            slot.scalars = R::Scalars::read(&mut r)?;
        }
        if let Some(dst) = self.state.values_mut().get_mut(..self.scratch.0) {
            persist::copy_floats(raw, dst);
        }
        self.policy = policy;
        let _ = h;
        Ok(())
    }

    fn groups(&self) -> usize {
        self.groups.as_ref().len()
    }

    fn group_lr(&self, g: usize) -> Result<f64, Error> {
        Ok(self.group(g)?.config.lr())
    }

    fn set_group_lr(&mut self, g: usize, lr: f64) -> Result<(), Error> {
        self.set_one(
            g,
            |c| {
                c.put_lr(lr);
                true
            },
            "",
        )
    }

    fn group_momentum(&self, g: usize) -> Result<Option<f64>, Error> {
        Ok(self.group(g)?.config.momentum())
    }

    fn set_group_momentum(&mut self, g: usize, momentum: f64) -> Result<(), Error> {
        self.set_one(g, |c| c.put_momentum(momentum), "this optimizer has no momentum to set")
    }
}
