//! The optimizers: one module per family, each a configuration (PyTorch's hyperparameter names and
//! defaults, validated), an update rule (a scalar reference written from the formula and a
//! lane-chunked kernel), and state held by the one generic [`Optim`] struct.
//!
//! [`Optim`] does everything the optimizers share: length checks, the non-finite gradient policy,
//! the step count, learning-rate changes, saving and restoring. An optimizer only supplies its
//! [`UpdateRule`].

use core::marker::PhantomData;

use crate::error::Error;
use crate::layout::Shape;
use crate::persist::{self, Header, Kind, Persist, Reader, Writer};
use crate::real::{LaneKernel, Real};

/// Splits `state` into `K` streams of `n` values, or returns from the calling rule (the generic
/// [`Optim`] always passes exactly [`UpdateRule::state_len`] values, so this cannot fail there).
macro_rules! streams {
    ($state:expr, $n:expr; $k:literal) => {
        match $crate::lanes::split_state::<_, $k>($state, $n) {
            Some(s) => s,
            None => return,
        }
    };
}

/// The lane kernel of an elementwise rule whose per-step scalars come from `self.scalars::<F>(t)`
/// and whose per-element update is their `apply(p, g, streams…)`: `K` state streams named
/// `$s…`, zipped by `crate::lanes::$zip`. Expanded inside `impl UpdateRule for …`.
macro_rules! elementwise_kernel {
    ($k:literal, $zip:ident; $($s:ident),+) => {
        #[inline(always)]
        fn kernel<F: Real, const L: usize>(
            &self,
            _: &mut (),
            t: u64,
            p: &mut [F],
            g: &[F],
            state: &mut [F],
            _: &mut [F],
        ) {
            let step = self.scalars::<F>(t);
            let [$($s),+] = streams!(state, p.len(); $k);
            crate::lanes::$zip::<F, L>(p, g, $($s,)+ |p, g, $($s),+| step.apply(p, g, $($s),+));
        }
    };
}

/// The [`UpdateRule`] methods of a configuration with fields `lr` and `betas` whose cyclable
/// momentum is `betas.0` (the Adam family of optax's rules): `lr`, `put_lr`, `momentum`,
/// `put_momentum`. Expanded inside `impl UpdateRule for …`.
macro_rules! lr_and_betas_momentum {
    () => {
        fn lr(&self) -> f64 {
            self.lr
        }
        fn put_lr(&mut self, lr: f64) {
            self.lr = lr;
        }
        fn momentum(&self) -> Option<f64> {
            Some(self.betas.0)
        }
        fn put_momentum(&mut self, m: f64) -> bool {
            self.betas.0 = m;
            true
        }
    };
}

pub mod adabelief;
pub mod adadelta;
pub mod adafactor;
pub mod adagrad;
pub mod adam;
pub mod adamax;
pub mod adan;
pub mod ademamix;
pub mod adopt;
pub mod asgd;
pub mod averaged;
pub mod dadapt_adamw;
pub mod distance;
pub mod fields;
pub mod group;
pub mod lamb;
pub mod lars;
pub mod lion;
pub mod lookahead;
pub mod muon;
pub mod nadam;
pub mod novograd;
pub mod ops;
pub mod pair;
pub mod prodigy;
pub mod radam;
pub mod registry;
pub mod rmsprop;
pub mod rprop;
pub mod sam;
pub mod schedule_free;
pub mod sgd;
pub mod sm3;
pub mod sophia;
pub mod sparse_adam;
pub mod yogi;

/// What to do when a gradient holds NaN or ±∞. Chosen at construction.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum NonFinitePolicy {
    /// Apply the update anyway, as PyTorch does (NaN spreads into parameters and state).
    #[default]
    Propagate,
    /// Leave parameters, state and step count untouched and report [`StepOutcome::Skipped`].
    SkipStep,
    /// Leave everything untouched and return [`Error::NonFinite`].
    Error,
}

impl NonFinitePolicy {
    pub(crate) fn to_u8(self) -> u8 {
        match self {
            NonFinitePolicy::Propagate => 0,
            NonFinitePolicy::SkipStep => 1,
            NonFinitePolicy::Error => 2,
        }
    }
    pub(crate) fn from_u8(v: u8) -> Result<Self, Error> {
        match v {
            0 => Ok(NonFinitePolicy::Propagate),
            1 => Ok(NonFinitePolicy::SkipStep),
            2 => Ok(NonFinitePolicy::Error),
            _ => Err(Error::CorruptState { reason: "invalid non-finite policy" }),
        }
    }
}

/// What a successful [`Optimizer::step`] did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum StepOutcome {
    /// The parameters were updated.
    Stepped,
    /// A gradient was not finite and the policy is [`NonFinitePolicy::SkipStep`]: nothing changed.
    Skipped {
        /// Index of the first non-finite gradient.
        index: usize,
    },
}

/// The checks every step starts with: lengths, then the non-finite policy. `Ok(Some(_))` means
/// "skip this step".
pub(crate) fn check_inputs<F: Real>(
    len: usize,
    policy: NonFinitePolicy,
    params: &[F],
    grads: &[F],
) -> Result<Option<StepOutcome>, Error> {
    if params.len() != len {
        return Err(Error::LengthMismatch { what: "params", expected: len, found: params.len() });
    }
    if grads.len() != len {
        return Err(Error::LengthMismatch { what: "grads", expected: len, found: grads.len() });
    }
    if policy == NonFinitePolicy::Propagate {
        return Ok(None);
    }
    match grads.iter().position(|g| !g.is_finite()) {
        None => Ok(None),
        Some(index) if policy == NonFinitePolicy::SkipStep => Ok(Some(StepOutcome::Skipped { index })),
        Some(index) => Err(Error::NonFinite { what: "grads", index }),
    }
}

/// Refuses a configuration whose state (`needed` values) does not fit a buffer of `available`.
pub(crate) fn state_fits(needed: usize, available: usize) -> Result<(), Error> {
    if needed > available {
        return Err(Error::BufferTooSmall { what: "optimizer state", needed, available });
    }
    Ok(())
}

/// Checks a Hessian estimate for [`Optimizer::update_hessian`]: `len` values, each finite and
/// ≥ 0. Refuses with [`Error::Unsupported`] a rule that keeps no Hessian average; otherwise
/// returns the index of its stream.
pub(crate) fn check_hessian_estimate<R: UpdateRule, F: Real>(
    rule: &R,
    len: usize,
    estimate: &[F],
) -> Result<usize, Error> {
    let Some(stream) = rule.hessian_stream() else {
        return Err(Error::Unsupported {
            what: "update_hessian: this optimizer keeps no Hessian estimate (sophia does)",
        });
    };
    if estimate.len() != len {
        return Err(Error::LengthMismatch { what: "hessian estimate", expected: len, found: estimate.len() });
    }
    if let Some(index) = estimate.iter().position(|e| !e.is_finite()) {
        return Err(Error::NonFinite { what: "hessian estimate", index });
    }
    if let Some(e) = estimate.iter().find(|&&e| e < F::ZERO) {
        return Err(Error::InvalidHyperparameter { name: "hessian estimate", value: e.as_f64() });
    }
    Ok(stream)
}

/// Opens saved optimizer state (see [`Reader::open`]) and refuses, in this order, another
/// optimizer (`kind`), another float width (`float_bytes`; `None` where the caller checks its own
/// format field instead) and another parameter count (`len`).
pub(crate) fn open_saved(
    bytes: &[u8],
    kind: u8,
    float_bytes: Option<u8>,
    len: usize,
) -> Result<(Header, Reader<'_>), Error> {
    let (h, r) = Reader::open(bytes)?;
    let mismatch = |field, expected: u64, found: u64| Error::StateMismatch { field, expected, found };
    if h.kind != kind {
        return Err(mismatch("optimizer", u64::from(kind), u64::from(h.kind)));
    }
    if let Some(width) = float_bytes
        && h.float_bytes != width
    {
        return Err(mismatch("float width", u64::from(width), u64::from(h.float_bytes)));
    }
    if h.n != len as u64 {
        return Err(mismatch("parameter count", len as u64, h.n));
    }
    Ok((h, r))
}

/// Reads a saved configuration and checks it as construction does: its hyperparameters, and that
/// it can update `len` parameters.
pub(crate) fn read_config<R: UpdateRule>(r: &mut Reader<'_>, len: usize) -> Result<R, Error> {
    let config = R::read(r)?;
    config.validate()?;
    config.check_len(len)?;
    Ok(config)
}

/// The [`Optimizer`] methods that every optimizer over an [`UpdateRule`] answers alike ([`Optim`],
/// [`crate::half_state::HalfOptim`], [`crate::quant_state::QuantOptim`]): all but `step` and
/// `restore`. Expanded inside `impl Optimizer<_> for …`; uses the fields `config`, `len` and
/// `steps`, and the methods `fits(&self, &R) -> Result<(), Error>` (does a configuration's state
/// fit the buffers) and `write_all(&self, &mut Writer) -> Result<(), Error>` (header and body of
/// the saved state).
macro_rules! rule_optimizer_methods {
    () => {
        fn name(&self) -> &'static str {
            $crate::optim::UpdateRule::name(&self.config)
        }

        fn lr(&self) -> f64 {
            $crate::optim::UpdateRule::lr(&self.config)
        }

        fn set_lr(&mut self, lr: f64) -> Result<(), $crate::Error> {
            let mut c = self.config.clone();
            $crate::optim::UpdateRule::put_lr(&mut c, lr);
            $crate::optim::UpdateRule::validate(&c)?;
            self.config = c;
            Ok(())
        }

        fn momentum(&self) -> Option<f64> {
            $crate::optim::UpdateRule::momentum(&self.config)
        }

        fn set_momentum(&mut self, momentum: f64) -> Result<(), $crate::Error> {
            let mut c = self.config.clone();
            if !$crate::optim::UpdateRule::put_momentum(&mut c, momentum) {
                return Err($crate::Error::Unsupported { what: "this optimizer has no momentum to set" });
            }
            $crate::optim::UpdateRule::validate(&c)?;
            self.fits(&c)?;
            self.config = c;
            Ok(())
        }

        fn steps(&self) -> u64 {
            self.steps
        }

        fn len(&self) -> usize {
            self.len
        }

        fn state_len(&self) -> usize {
            $crate::optim::UpdateRule::state_len(&self.config, self.len)
        }

        fn saved_len(&self) -> usize {
            $crate::persist::saved_len(|w| self.write_all(w))
        }

        fn save(&self, out: &mut [u8]) -> Result<usize, $crate::Error> {
            let needed = self.saved_len();
            if out.len() < needed {
                return Err($crate::Error::BufferTooSmall {
                    what: "saved state",
                    needed,
                    available: out.len(),
                });
            }
            $crate::persist::save(out, |w| self.write_all(w))
        }
    };
}
pub(crate) use rule_optimizer_methods;

/// The object-safe interface every optimizer offers, modelled on `torch.optim.Optimizer`.
///
/// `std` code can hold a `Box<dyn Optimizer<f32>>` picked by name; embedded code uses the concrete
/// types directly.
pub trait Optimizer<F: Real> {
    /// The PyTorch-style snake_case name (`"adam"`, `"sgd"`, …).
    fn name(&self) -> &'static str;
    /// One update of `params` from `grads`. Both must have [`Optimizer::len`] elements; on any
    /// error nothing is modified.
    fn step(&mut self, params: &mut [F], grads: &[F]) -> Result<StepOutcome, Error>;
    /// The current learning rate.
    fn lr(&self) -> f64;
    /// Changes the learning rate (validated as at construction).
    fn set_lr(&mut self, lr: f64) -> Result<(), Error>;
    /// The momentum a schedule may cycle: SGD's and RMSprop's `momentum`, the Adam family's
    /// `betas[0]`; `None` where there is none.
    fn momentum(&self) -> Option<f64>;
    /// Changes that momentum (validated; refused where there is none or where the state has no
    /// room for a momentum buffer).
    fn set_momentum(&mut self, momentum: f64) -> Result<(), Error>;
    /// Steps taken so far (skipped steps not counted).
    fn steps(&self) -> u64;
    /// Number of parameters.
    fn len(&self) -> usize;
    /// True when the optimizer updates no parameter.
    fn is_empty(&self) -> bool {
        self.len() == 0
    }
    /// Number of state values the current configuration uses.
    fn state_len(&self) -> usize;
    /// Bytes [`Optimizer::save`] writes.
    fn saved_len(&self) -> usize;
    /// Saves hyperparameters, step count and state into `out` (see [`crate::persist`]); returns
    /// the number of bytes written.
    fn save(&self, out: &mut [u8]) -> Result<usize, Error>;
    /// Restores what [`Optimizer::save`] wrote. Refuses truncated, corrupt or mismatched bytes
    /// and then changes nothing.
    fn restore(&mut self, bytes: &[u8]) -> Result<(), Error>;
    /// Back to the state of a new optimizer with the same configuration: state as initialised,
    /// step count 0 (optax's `init` again, as `lookahead(reset_state=True)` does). Optimizers
    /// that cannot refuse with [`Error::Unsupported`] and change nothing.
    fn reset(&mut self) -> Result<(), Error> {
        Err(Error::Unsupported { what: "reset" })
    }
    /// Whether the parameters to evaluate at differ from the ones [`Optimizer::step`] updates
    /// (schedule-free: see [`Optimizer::eval_params`]).
    fn has_eval_params(&self) -> bool {
        false
    }
    /// Writes into `out` the parameters to evaluate the model at (validation, test, export) from
    /// the parameters `params` this optimizer steps: for schedule-free SGD and AdamW the average
    /// x (`optax.contrib.schedule_free_eval_params`), for every other optimizer `params` itself.
    /// Training continues from `params`, not from `out`. Both have [`Optimizer::len`] elements.
    fn eval_params(&self, params: &[F], out: &mut [F]) -> Result<(), Error> {
        check_eval_lens(self.len(), params, out)?;
        out.copy_from_slice(params);
        Ok(())
    }
    /// Folds a diagonal Hessian estimate (one value per parameter) into the optimizer's
    /// average of them: Sophia's h ← β2·h + (1 − β2)·ĥ ([`sophia`]). Refuses an estimate of
    /// the wrong length, or with an entry that is not finite or is negative, and then changes
    /// nothing; optimizers that keep no such average refuse with [`Error::Unsupported`].
    fn update_hessian(&mut self, _estimate: &[F]) -> Result<(), Error> {
        Err(Error::Unsupported {
            what: "update_hessian: this optimizer keeps no Hessian estimate (sophia does)",
        })
    }
    /// Number of parameter groups ([`group::Grouped`]; 1 for the flat optimizers).
    fn groups(&self) -> usize {
        1
    }
    /// Group `g`'s learning rate.
    fn group_lr(&self, g: usize) -> Result<f64, Error> {
        only_group(g)?;
        Ok(self.lr())
    }
    /// Sets group `g`'s learning rate (validated as at construction).
    fn set_group_lr(&mut self, g: usize, lr: f64) -> Result<(), Error> {
        only_group(g)?;
        self.set_lr(lr)
    }
    /// Group `g`'s cyclable momentum (see [`Optimizer::momentum`]).
    fn group_momentum(&self, g: usize) -> Result<Option<f64>, Error> {
        only_group(g)?;
        Ok(self.momentum())
    }
    /// Sets group `g`'s cyclable momentum (see [`Optimizer::set_momentum`]).
    fn set_group_momentum(&mut self, g: usize, momentum: f64) -> Result<(), Error> {
        only_group(g)?;
        self.set_momentum(momentum)
    }
}

/// An optimizer held by mutable reference is one (a wrapper such as
/// [`lookahead::Lookahead`] can wrap a `&mut dyn Optimizer<F>`).
impl<F: Real, O: Optimizer<F> + ?Sized> Optimizer<F> for &mut O {
    fn name(&self) -> &'static str {
        (**self).name()
    }
    fn step(&mut self, params: &mut [F], grads: &[F]) -> Result<StepOutcome, Error> {
        (**self).step(params, grads)
    }
    fn lr(&self) -> f64 {
        (**self).lr()
    }
    fn set_lr(&mut self, lr: f64) -> Result<(), Error> {
        (**self).set_lr(lr)
    }
    fn momentum(&self) -> Option<f64> {
        (**self).momentum()
    }
    fn set_momentum(&mut self, momentum: f64) -> Result<(), Error> {
        (**self).set_momentum(momentum)
    }
    fn steps(&self) -> u64 {
        (**self).steps()
    }
    fn len(&self) -> usize {
        (**self).len()
    }
    fn state_len(&self) -> usize {
        (**self).state_len()
    }
    fn saved_len(&self) -> usize {
        (**self).saved_len()
    }
    fn save(&self, out: &mut [u8]) -> Result<usize, Error> {
        (**self).save(out)
    }
    fn restore(&mut self, bytes: &[u8]) -> Result<(), Error> {
        (**self).restore(bytes)
    }
    fn reset(&mut self) -> Result<(), Error> {
        (**self).reset()
    }
    fn has_eval_params(&self) -> bool {
        (**self).has_eval_params()
    }
    fn eval_params(&self, params: &[F], out: &mut [F]) -> Result<(), Error> {
        (**self).eval_params(params, out)
    }
    fn update_hessian(&mut self, estimate: &[F]) -> Result<(), Error> {
        (**self).update_hessian(estimate)
    }
    fn groups(&self) -> usize {
        (**self).groups()
    }
    fn group_lr(&self, g: usize) -> Result<f64, Error> {
        (**self).group_lr(g)
    }
    fn set_group_lr(&mut self, g: usize, lr: f64) -> Result<(), Error> {
        (**self).set_group_lr(g, lr)
    }
    fn group_momentum(&self, g: usize) -> Result<Option<f64>, Error> {
        (**self).group_momentum(g)
    }
    fn set_group_momentum(&mut self, g: usize, momentum: f64) -> Result<(), Error> {
        (**self).set_group_momentum(g, momentum)
    }
}

/// The [`Optimizer`] methods a wrapper (Lookahead, SAM) hands to the optimizer in its field
/// `$inner`: learning rate, momentum, step count, length and the groups.
macro_rules! forward_to_inner {
    ($inner:ident) => {
        fn lr(&self) -> f64 {
            self.$inner.lr()
        }
        fn set_lr(&mut self, lr: f64) -> Result<(), Error> {
            self.$inner.set_lr(lr)
        }
        fn momentum(&self) -> Option<f64> {
            self.$inner.momentum()
        }
        fn set_momentum(&mut self, momentum: f64) -> Result<(), Error> {
            self.$inner.set_momentum(momentum)
        }
        fn update_hessian(&mut self, estimate: &[F]) -> Result<(), Error> {
            self.$inner.update_hessian(estimate)
        }
        fn steps(&self) -> u64 {
            self.$inner.steps()
        }
        fn len(&self) -> usize {
            self.$inner.len()
        }
        fn state_len(&self) -> usize {
            self.$inner.state_len() + self.$inner.len()
        }
        fn has_eval_params(&self) -> bool {
            self.$inner.has_eval_params()
        }
        fn eval_params(&self, params: &[F], out: &mut [F]) -> Result<(), Error> {
            self.$inner.eval_params(params, out)
        }
        fn groups(&self) -> usize {
            self.$inner.groups()
        }
        fn group_lr(&self, g: usize) -> Result<f64, Error> {
            self.$inner.group_lr(g)
        }
        fn set_group_lr(&mut self, g: usize, lr: f64) -> Result<(), Error> {
            self.$inner.set_group_lr(g, lr)
        }
        fn group_momentum(&self, g: usize) -> Result<Option<f64>, Error> {
            self.$inner.group_momentum(g)
        }
        fn set_group_momentum(&mut self, g: usize, momentum: f64) -> Result<(), Error> {
            self.$inner.set_group_momentum(g, momentum)
        }
    };
}
pub(crate) use forward_to_inner;

/// Saves a wrapper: its header and fields (`write`, which ends with the inner optimizer's saved
/// length), then the inner optimizer's saved bytes, whole, then the checksum of it all.
pub(crate) fn save_nested<F: Real>(
    out: &mut [u8],
    write: impl FnOnce(&mut Writer<'_>) -> Result<(), Error>,
    inner: &dyn Optimizer<F>,
) -> Result<usize, Error> {
    let mut w = Writer::new(out);
    write(&mut w)?;
    let needed = w.position() + inner.saved_len() + persist::TRAILER_LEN;
    let available = w.capacity();
    if available < needed {
        return Err(Error::BufferTooSmall { what: "saved state", needed, available });
    }
    let written = inner.save(w.rest())?;
    w.skip(written)?;
    w.finish()
}

/// Reads the inner optimizer's saved bytes that [`save_nested`] put after a wrapper's fields (its
/// length, then the bytes), and checks nothing follows them.
pub(crate) fn nested<'a>(r: &mut Reader<'a>) -> Result<&'a [u8], Error> {
    let len = usize::try_from(r.u64()?).map_err(|_| Error::CorruptState { reason: "truncated" })?;
    let inner = r.take_bytes(len)?;
    r.finish()?;
    Ok(inner)
}

/// Refuses any group but 0 for an optimizer with one group.
fn only_group(g: usize) -> Result<(), Error> {
    if g == 0 { Ok(()) } else { Err(Error::NoSuchGroup { group: g, groups: 1 }) }
}

/// Where a rule that evaluates elsewhere than it steps (schedule-free) evaluates: x = (y −
/// (1 − β1)·z)/β1 from the parameters y it steps and its state stream number `stream` (z), as
/// `optax.contrib.schedule_free_eval_params` computes it (1 − β1 in the float type).
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct EvalPoint {
    /// The state stream holding z (0-based, in the rule's state order).
    pub stream: usize,
    /// β1 of the interpolation.
    pub b1: f64,
}

impl EvalPoint {
    /// x from one parameter y and its z.
    #[inline(always)]
    pub fn at<F: Real>(&self, y: F, z: F) -> F {
        let b1 = F::from_f64(self.b1);
        (y - (F::ONE - b1) * z) / b1
    }
}

/// Checks the lengths of [`Optimizer::eval_params`]' slices against `len`.
pub(crate) fn check_eval_lens<F>(len: usize, params: &[F], out: &[F]) -> Result<(), Error> {
    if params.len() != len {
        return Err(Error::LengthMismatch { what: "params", expected: len, found: params.len() });
    }
    if out.len() != len {
        return Err(Error::LengthMismatch { what: "eval params", expected: len, found: out.len() });
    }
    Ok(())
}

/// The evaluation parameters of an optimizer over one rule's state stored as `F`: `out` =
/// `params` where the rule has no [`EvalPoint`] (or has taken no step), else x from `params`
/// and the stream `state` (values loaded by `load`).
pub(crate) fn eval_from_stream<F: Real, S>(
    point: Option<EvalPoint>,
    params: &[F],
    state: &[S],
    len: usize,
    load: impl Fn(&S) -> F,
    out: &mut [F],
) {
    let z = point.and_then(|e| state.get(e.stream.saturating_mul(len)..).map(|z| (e, z)));
    match z {
        Some((e, z)) if z.len() >= len => {
            for ((o, &y), s) in out.iter_mut().zip(params).zip(z) {
                *o = e.at(y, load(s));
            }
        }
        _ => {
            for (o, &y) in out.iter_mut().zip(params) {
                *o = y;
            }
        }
    }
}

/// The part of an optimizer that differs from one algorithm to the next: its hyperparameters
/// (the implementing type is the configuration), its per-step rule, and the scalar state it
/// keeps besides the per-parameter buffers.
pub trait UpdateRule: Clone + core::fmt::Debug + Persist {
    /// Scalar state besides the buffers (NAdam's `mu_product`, ASGD's `eta` and `mu`, …).
    type Scalars: Clone + Copy + core::fmt::Debug + Default + PartialEq + Persist;
    /// Name (as in `torch.optim`, snake_case).
    const NAME: &'static str;
    /// Id in saved state, unique per rule, in [`Kind::RULE_IDS`] (the table of saved kinds:
    /// [`Kind`]).
    const ID: u8;
    /// Whether the rule is purely elementwise (each parameter's update reads only its own state),
    /// so the state can be processed in blocks, e.g. stored in half precision
    /// ([`crate::half_state`]). Adafactor's reductions make it the exception.
    const ELEMENTWISE: bool = true;
    /// Whether run-time-dispatched kernels (descent-std) run this rule at half their usual lane
    /// width, measured faster for it (ASGD). Tuning only: every width gives the same bits.
    const NARROW_LANES: bool = false;
    /// Whether the rule's per-step scalars are sums over every parameter it updates, not over one
    /// tensor (optax's tree sums: D-Adaptation's and Prodigy's estimate of the distance to the
    /// solution). Such a rule is one optimizer over the whole parameter set, a flat [`Optim`]: a
    /// [`group::Grouped`] optimizer refuses it over more than one tensor, where each tensor would
    /// get an estimate of its own.
    const WHOLE_SET: bool = false;

    /// The name of this configuration (AdamW for Adam with decoupled decay, …).
    fn name(&self) -> &'static str {
        Self::NAME
    }
    /// Checks every hyperparameter with PyTorch's rules.
    fn validate(&self) -> Result<(), Error>;
    /// Checks that this configuration can update `n` parameters (Adafactor: `n` = its shape).
    fn check_len(&self, _n: usize) -> Result<(), Error> {
        Ok(())
    }
    /// Number of state values needed for `n` parameters with this configuration.
    fn state_len(&self, n: usize) -> usize;
    /// Fills freshly allocated state (zeros unless the algorithm says otherwise).
    fn init_state<F: Real>(&self, state: &mut [F]) {
        state.fill(F::ZERO);
    }
    /// The learning rate.
    fn lr(&self) -> f64;
    /// Sets the learning rate without validation (the caller validates).
    fn put_lr(&mut self, lr: f64);
    /// The cyclable momentum, if any.
    fn momentum(&self) -> Option<f64> {
        None
    }
    /// Sets the cyclable momentum without validation; `false` if there is none.
    fn put_momentum(&mut self, _m: f64) -> bool {
        false
    }
    /// This configuration for one tensor of a layout ([`crate::layout`]): rules defined per
    /// tensor take its shape (Adafactor factors it, Muon orthogonalizes it); the others are
    /// unchanged.
    fn for_tensor(&self, _shape: &Shape) -> Self {
        self.clone()
    }
    /// Whether this configuration can update a tensor of `shape` (Muon: only matrices); the
    /// reason if not.
    fn check_tensor(&self, _shape: &Shape) -> Result<(), &'static str> {
        Ok(())
    }
    /// Scratch values a step over `n` parameters needs besides the state (Muon's Newton–Schulz
    /// matrices); 0 for most rules. Scratch is not saved.
    fn scratch_len(&self, _n: usize) -> usize {
        0
    }
    /// The state stream that averages Hessian estimates (Sophia's h), if the rule keeps one
    /// ([`Optimizer::update_hessian`]).
    fn hessian_stream(&self) -> Option<usize> {
        None
    }
    /// Folds a checked estimate into that stream, element by element (`h` and `estimate` of the
    /// same length): Sophia's h ← β2·h + (1 − β2)·ĥ. Nothing for other rules.
    fn average_hessian<F: Real>(&self, _h: &mut [F], _estimate: &[F]) {}
    /// Values a flat optimizer's buffer needs for `n` parameters: the state, then the scratch
    /// ([`Optim::with_buffer`]).
    fn buffer_len(&self, n: usize) -> usize {
        self.state_len(n).saturating_add(self.scratch_len(n))
    }
    /// Where to evaluate after `steps` steps, for a rule whose parameters are not the ones to
    /// evaluate at (schedule-free: [`EvalPoint`]); `None` (the default): at the parameters.
    fn eval_point(&self, _steps: u64) -> Option<EvalPoint> {
        None
    }
    /// The lane-chunked kernel: step number `t` (counting from 1) over `params`, `grads` and
    /// `state` (of length [`UpdateRule::state_len`]), with `scratch` (at least
    /// [`UpdateRule::scratch_len`] values, contents unspecified) to work in.
    fn kernel<F: Real, const L: usize>(
        &self,
        scalars: &mut Self::Scalars,
        t: u64,
        params: &mut [F],
        grads: &[F],
        state: &mut [F],
        scratch: &mut [F],
    );
    /// Step `t` prepared for an elementwise rule's parameters in blocks (half and 8-bit state
    /// decode a block of state at a time): the per-step scalars computed once, then
    /// [`BlockStep::block`] per block, each as [`UpdateRule::kernel`] over that block. By default
    /// the kernel per block, each call from the scalars as they were before the step; rules whose
    /// per-step scalars are costly (the Adam family's `f64` bias corrections) compute them here.
    #[inline(always)]
    fn prepare<'a, F: Real, const L: usize>(
        &'a self,
        scalars: &'a mut Self::Scalars,
        t: u64,
    ) -> impl BlockStep<F> + 'a {
        PerBlock::<Self, Lanes<L>> { rule: self, start: *scalars, scalars, t, _compute: PhantomData }
    }
    /// The scalar reference: the same update written straight from the formula, one tensor
    /// operation at a time as PyTorch's single-tensor implementation does.
    fn reference<F: Real>(
        &self,
        scalars: &mut Self::Scalars,
        t: u64,
        params: &mut [F],
        grads: &[F],
        state: &mut [F],
        scratch: &mut [F],
    );
}

/// One step of an elementwise rule over blocks of parameters ([`UpdateRule::prepare`]).
pub trait BlockStep<F> {
    /// Updates one block: `params` and `grads` of the block, `state` its streams one after the
    /// other (as [`UpdateRule::kernel`] takes them for that many parameters).
    fn block(&mut self, params: &mut [F], grads: &[F], state: &mut [F]);
    /// Updates all of `params` in one pass, for a rule with two state streams stored in another
    /// format (`C`): each element's two values decoded, updated as [`BlockStep::block`] would
    /// update them, and encoded back. `false`, and nothing done, where the rule offers no such
    /// pass (the default); the caller then decodes blocks for [`BlockStep::block`].
    fn fused2<C: Codec<F>>(
        &mut self,
        _params: &mut [F],
        _grads: &[F],
        _a: &mut [C::Stored],
        _b: &mut [C::Stored],
    ) -> bool {
        false
    }
}

/// How state values are stored when not as `F` ([`BlockStep::fused2`]).
pub trait Codec<F> {
    /// The stored form of one value.
    type Stored;
    /// Decodes one value.
    fn load(s: &Self::Stored) -> F;
    /// Encodes one value.
    fn store(x: F) -> Self::Stored;
}

/// The loop of a [`BlockStep::fused2`]: `rule` on each parameter, gradient and its two decoded
/// state values.
#[inline(always)]
pub(crate) fn fused2_loop<F: Copy, C: Codec<F>>(
    params: &mut [F],
    grads: &[F],
    a: &mut [C::Stored],
    b: &mut [C::Stored],
    rule: impl Fn(&mut F, F, &mut F, &mut F),
) {
    for (((p, &g), a), b) in params.iter_mut().zip(grads).zip(a.iter_mut()).zip(b.iter_mut()) {
        let (mut x, mut y) = (C::load(a), C::load(b));
        rule(p, g, &mut x, &mut y);
        *a = C::store(x);
        *b = C::store(y);
    }
}

/// The default [`BlockStep`]: `C` computes each block from the scalars as they were before the
/// step; the scalars left are those after the last block.
pub(crate) struct PerBlock<'a, R: UpdateRule, C> {
    pub(crate) rule: &'a R,
    pub(crate) start: R::Scalars,
    pub(crate) scalars: &'a mut R::Scalars,
    pub(crate) t: u64,
    pub(crate) _compute: PhantomData<C>,
}

impl<R: UpdateRule, C: Compute, F: Real> BlockStep<F> for PerBlock<'_, R, C> {
    #[inline(always)]
    fn block(&mut self, params: &mut [F], grads: &[F], state: &mut [F]) {
        let mut sc = self.start;
        C::run(self.rule, &mut sc, self.t, params, grads, state, &mut []);
        *self.scalars = sc;
    }
}

/// Storage for optimizer state: a const-generic array of `K` streams of `N` values (owned, no
/// allocation, size known at compile time) or a slice the caller provides.
pub trait StateBuffer<F> {
    /// All values as one slice.
    fn values(&self) -> &[F];
    /// All values as one mutable slice.
    fn values_mut(&mut self) -> &mut [F];
}

impl<F, const N: usize, const K: usize> StateBuffer<F> for [[F; N]; K] {
    fn values(&self) -> &[F] {
        self.as_flattened()
    }
    fn values_mut(&mut self) -> &mut [F] {
        self.as_flattened_mut()
    }
}

impl<F, const N: usize> StateBuffer<F> for [F; N] {
    fn values(&self) -> &[F] {
        self
    }
    fn values_mut(&mut self) -> &mut [F] {
        self
    }
}

impl<F> StateBuffer<F> for &mut [F] {
    fn values(&self) -> &[F] {
        self
    }
    fn values_mut(&mut self) -> &mut [F] {
        self
    }
}

/// An optimizer: configuration `R`, float type `F`, state storage `B`.
///
/// Use the aliases of each module: e.g. [`adam::Adam<f32, N>`](adam::Adam) owns its moments in
/// `[[f32; N]; 2]`, and [`adam::AdamView`] borrows them from the caller.
#[derive(Debug, Clone)]
pub struct Optim<R: UpdateRule, F: Real, B: StateBuffer<F>> {
    config: R,
    scalars: R::Scalars,
    state: B,
    len: usize,
    steps: u64,
    policy: NonFinitePolicy,
    _float: PhantomData<F>,
}

impl<R: UpdateRule, F: Real, const N: usize, const K: usize> Optim<R, F, [[F; N]; K]> {
    /// An optimizer for `N` parameters that owns its state (`K` streams of `N` values). Refuses
    /// invalid hyperparameters, and a configuration that needs more state than `K × N`.
    pub fn new(config: R) -> Result<Self, Error> {
        Self::with_policy(config, NonFinitePolicy::default())
    }
    /// As [`Optim::new`], with a non-finite gradient policy.
    pub fn with_policy(config: R, policy: NonFinitePolicy) -> Result<Self, Error> {
        Optim::from_storage(config, [[F::ZERO; N]; K], N, policy)
    }
}

impl<'a, R: UpdateRule, F: Real> Optim<R, F, &'a mut [F]> {
    /// An optimizer for `n` parameters whose state lives in `buffer` (at least
    /// `config.state_len(n)` values; see each optimizer's state size). The buffer is initialised.
    pub fn with_buffer(config: R, n: usize, buffer: &'a mut [F]) -> Result<Self, Error> {
        Self::with_buffer_and_policy(config, n, buffer, NonFinitePolicy::default())
    }
    /// As [`Optim::with_buffer`], with a non-finite gradient policy.
    pub fn with_buffer_and_policy(
        config: R,
        n: usize,
        buffer: &'a mut [F],
        policy: NonFinitePolicy,
    ) -> Result<Self, Error> {
        Optim::from_storage(config, buffer, n, policy)
    }
}

impl<R: UpdateRule, F: Real, B: StateBuffer<F>> Optim<R, F, B> {
    /// An optimizer for `len` parameters over any state storage (at least
    /// `config.state_len(len) + config.scratch_len(len)` values; the state part is initialised).
    /// `std` code uses this with a heap buffer.
    pub fn from_storage(config: R, mut state: B, len: usize, policy: NonFinitePolicy) -> Result<Self, Error> {
        config.validate()?;
        config.check_len(len)?;
        let needed = config.state_len(len);
        let available = state.values().len();
        state_fits(needed.saturating_add(config.scratch_len(len)), available)?;
        if let Some(buf) = state.values_mut().get_mut(..needed) {
            config.init_state(buf);
        }
        Ok(Optim {
            config,
            scalars: R::Scalars::default(),
            state,
            len,
            steps: 0,
            policy,
            _float: PhantomData,
        })
    }

    /// The configuration (hyperparameters).
    pub fn config(&self) -> &R {
        &self.config
    }
    /// Replaces the configuration, validated, keeping the state. Refused (and nothing changed) if
    /// the new configuration needs more state than the buffer holds.
    pub fn set_config(&mut self, config: R) -> Result<(), Error> {
        config.validate()?;
        config.check_len(self.len)?;
        self.fits(&config)?;
        self.config = config;
        Ok(())
    }
    /// The scalar state (step-dependent values besides the buffers).
    pub fn scalars(&self) -> &R::Scalars {
        &self.scalars
    }
    /// The state values in use.
    pub fn state(&self) -> &[F] {
        let n = self.config.state_len(self.len);
        self.state.values().get(..n).unwrap_or(&[])
    }
    /// The non-finite gradient policy.
    pub fn policy(&self) -> NonFinitePolicy {
        self.policy
    }

    fn fits(&self, config: &R) -> Result<(), Error> {
        // A configuration that uses more streams than before starts the new ones from scratch,
        // as PyTorch creates missing state lazily.
        let needed = config.state_len(self.len).saturating_add(config.scratch_len(self.len));
        state_fits(needed, self.state.values().len())
    }

    /// The one step every entry point takes: checks, then `C` computes over the state in use and
    /// the scratch behind it.
    #[inline(always)]
    fn step_by<C: Compute>(&mut self, params: &mut [F], grads: &[F]) -> Result<StepOutcome, Error> {
        if let Some(outcome) = check_inputs(self.len, self.policy, params, grads)? {
            return Ok(outcome);
        }
        let t = self.steps.saturating_add(1);
        let (state, scratch) = state_and_scratch(
            self.state.values_mut(),
            self.config.state_len(self.len),
            self.config.scratch_len(self.len),
        )?;
        C::run(&self.config, &mut self.scalars, t, params, grads, state, scratch);
        self.steps = t;
        Ok(StepOutcome::Stepped)
    }

    /// One step computed by the scalar reference instead of the lane kernel. Same checks, same
    /// result bit for bit (the property tests prove it); for readers and for checking.
    pub fn step_reference(&mut self, params: &mut [F], grads: &[F]) -> Result<StepOutcome, Error> {
        self.step_by::<Reference>(params, grads)
    }

    /// One step with an explicit lane width `L` (the production width is [`Real::LANES`]); for
    /// tests and benchmarks that compare widths, and for descent-std's run-time dispatch, which
    /// calls it from a function compiled for AVX2 (hence `inline(always)`: only inlined there does
    /// the kernel become AVX2 code).
    #[inline(always)]
    pub fn step_with_lanes<const L: usize>(
        &mut self,
        params: &mut [F],
        grads: &[F],
    ) -> Result<StepOutcome, Error> {
        self.step_by::<Lanes<L>>(params, grads)
    }

    fn write_all(&self, w: &mut Writer<'_>) -> Result<(), Error> {
        w.header(&Header {
            kind: Kind::Rule(R::ID).byte(),
            float_bytes: F::BYTES as u8,
            n: self.len as u64,
            steps: self.steps,
        })?;
        w.u8(self.policy.to_u8())?;
        self.config.write(w)?;
        self.scalars.write(w)?;
        w.floats(self.state())
    }
}

/// Cuts a state buffer into the state in use (`state_len` values) and the scratch behind it.
#[inline(always)]
pub(crate) fn state_and_scratch<F>(
    buf: &mut [F],
    state_len: usize,
    scratch_len: usize,
) -> Result<(&mut [F], &mut [F]), Error> {
    let shrank = Error::CorruptState { reason: "state buffer shrank" };
    let end = state_len.checked_add(scratch_len).ok_or(shrank)?;
    let (state, scratch) = buf.get_mut(..end).ok_or(shrank)?.split_at_mut(state_len);
    Ok((state, scratch))
}

/// How a step computes one tensor's update: the lane kernel at a given width ([`Lanes`]), at the
/// float type's production width ([`Production`]), or the scalar reference ([`Reference`]).
pub trait Compute {
    /// Runs `rule` for step `t` over one tensor.
    fn run<R: UpdateRule, F: Real>(
        rule: &R,
        scalars: &mut R::Scalars,
        t: u64,
        params: &mut [F],
        grads: &[F],
        state: &mut [F],
        scratch: &mut [F],
    );
}

/// The lane kernel at `L` lanes.
#[derive(Debug, Clone, Copy)]
pub struct Lanes<const L: usize>;
/// The lane kernel at the float type's production width ([`Real::LANES`]).
#[derive(Debug, Clone, Copy)]
pub struct Production;
/// The scalar reference.
#[derive(Debug, Clone, Copy)]
pub struct Reference;

impl<const L: usize> Compute for Lanes<L> {
    #[inline(always)]
    fn run<R: UpdateRule, F: Real>(
        rule: &R,
        sc: &mut R::Scalars,
        t: u64,
        p: &mut [F],
        g: &[F],
        s: &mut [F],
        w: &mut [F],
    ) {
        rule.kernel::<F, L>(sc, t, p, g, s, w);
    }
}

impl Compute for Reference {
    #[inline(always)]
    fn run<R: UpdateRule, F: Real>(
        rule: &R,
        sc: &mut R::Scalars,
        t: u64,
        p: &mut [F],
        g: &[F],
        s: &mut [F],
        w: &mut [F],
    ) {
        rule.reference(sc, t, p, g, s, w);
    }
}

impl Compute for Production {
    #[inline(always)]
    fn run<R: UpdateRule, F: Real>(
        config: &R,
        scalars: &mut R::Scalars,
        t: u64,
        params: &mut [F],
        grads: &[F],
        state: &mut [F],
        scratch: &mut [F],
    ) {
        F::with_lanes(KernelCall { config, scalars, t, params, grads, state, scratch });
    }
}

struct KernelCall<'a, R: UpdateRule, F> {
    config: &'a R,
    scalars: &'a mut R::Scalars,
    t: u64,
    params: &'a mut [F],
    grads: &'a [F],
    state: &'a mut [F],
    scratch: &'a mut [F],
}

impl<R: UpdateRule, F: Real> LaneKernel<F> for KernelCall<'_, R, F> {
    type Output = ();
    #[inline(always)]
    fn run<const L: usize>(self) {
        self.config.kernel::<F, L>(self.scalars, self.t, self.params, self.grads, self.state, self.scratch);
    }
}

impl<R: UpdateRule, F: Real, B: StateBuffer<F>> Optimizer<F> for Optim<R, F, B> {
    rule_optimizer_methods!();

    #[inline]
    fn step(&mut self, params: &mut [F], grads: &[F]) -> Result<StepOutcome, Error> {
        self.step_by::<Production>(params, grads)
    }

    fn has_eval_params(&self) -> bool {
        self.config.eval_point(1).is_some()
    }

    fn eval_params(&self, params: &[F], out: &mut [F]) -> Result<(), Error> {
        check_eval_lens(self.len, params, out)?;
        let point = self.config.eval_point(self.steps);
        eval_from_stream(point, params, self.state(), self.len, |&z| z, out);
        Ok(())
    }

    fn update_hessian(&mut self, estimate: &[F]) -> Result<(), Error> {
        let stream = check_hessian_estimate(&self.config, self.len, estimate)?;
        let n = self.len;
        let at = stream.saturating_mul(n);
        let shrank = Error::CorruptState { reason: "state buffer shrank" };
        let h = self.state.values_mut().get_mut(at..at.saturating_add(n)).ok_or(shrank)?;
        self.config.average_hessian(h, estimate);
        Ok(())
    }

    fn reset(&mut self) -> Result<(), Error> {
        let needed = self.config.state_len(self.len);
        if let Some(buf) = self.state.values_mut().get_mut(..needed) {
            self.config.init_state(buf);
        }
        self.scalars = R::Scalars::default();
        self.steps = 0;
        Ok(())
    }

    fn restore(&mut self, bytes: &[u8]) -> Result<(), Error> {
        let (h, mut r) = open_saved(bytes, Kind::Rule(R::ID).byte(), Some(F::BYTES as u8), self.len)?;
        let policy = NonFinitePolicy::from_u8(r.u8()?)?;
        let config = read_config::<R>(&mut r, self.len)?;
        self.fits(&config)?;
        let scalars = R::Scalars::read(&mut r)?;
        let count = config.state_len(self.len);
        let raw = r.floats::<F>(count)?;
        r.finish()?;
        // Everything checked: commit.
        if let Some(dst) = self.state.values_mut().get_mut(..count) {
            persist::copy_floats(raw, dst);
        }
        self.config = config;
        self.scalars = scalars;
        self.steps = h.steps;
        self.policy = policy;
        Ok(())
    }
}
