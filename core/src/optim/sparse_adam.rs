//! SparseAdam (`torch.optim.SparseAdam`): Adam's lazy form for a 2-D table (an embedding) whose
//! gradient touches a few rows. Only the rows the gradient names move, and only their moments
//! decay; every other row, and its m and v, is left exactly as it was.
//!
//! For each row r the gradient names (duplicates summed first: PyTorch's `coalesce()`), with
//! g its summed row (negated with `maximize`), elementwise:
//!
//! ```text
//! m_r ← m_r + (1 − β1)·(g − m_r)
//! v_r ← v_r + (1 − β2)·(g² − v_r)
//! θ_r ← θ_r − (γ·√(1 − β2^t) / (1 − β1^t)) · m_r / (√v_r + ε)
//! ```
//!
//! t is the optimizer's step count, incremented at every step whether or not a row is touched
//! (PyTorch's `state["step"]` per parameter tensor, also incremented for an empty gradient), so
//! the bias corrections of a row seen for the first time at step 100 are those of step 100.
//! Source: PyTorch 2.x `torch/optim/sparse_adam.py` and `torch/optim/_functional.py::sparse_adam`,
//! whose operations (and their rounding: `old + (1 − β)·(new − old)`, the step size in `f64`, ε
//! added after the square root) this follows.
//!
//! Differs from dense Adam ([`crate::adam`]): dense Adam decays every moment at every step, so a
//! row without gradient still moves (its m decays towards 0 but is not 0 for many steps);
//! SparseAdam moves only the rows in the gradient, and a row's moments are "frozen in time"
//! between the steps that touch it. There is no weight decay and no amsgrad.
//!
//! Duplicated indices are summed in the order they appear, without heap and without scratch: in
//! O(k) index comparisons when the indices are sorted (non-decreasing, as a coalesced PyTorch
//! gradient's are), in O(k²) comparisons otherwise (each index compared with those before it;
//! cheap next to the row updates for the tens to hundreds of rows a batch touches). The result is
//! the same bits either way.
//!
//! State: m and v for the whole table (2 × rows × cols values), in an owned array
//! ([`SparseAdam`]) or a buffer the caller provides ([`SparseAdamView`]). Saved as kind
//! [`Kind::SparseAdam`] (`0x64`).

use core::marker::PhantomData;

use super::{NonFinitePolicy, Optimizer, StateBuffer, StepOutcome, state_fits};
use crate::error::{Error, check_range_open};
use crate::persist::{self, Header, Kind, Persist, Writer};
use crate::real::{LaneKernel, Real, pow_step};

/// Hyperparameters of SparseAdam, with PyTorch's names and defaults.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct SparseAdamConfig {
    /// Learning rate γ > 0 (default 1e-3; PyTorch refuses 0).
    pub lr: f64,
    /// (β1, β2), each in [0, 1) (default (0.9, 0.999)).
    pub betas: (f64, f64),
    /// ε > 0 added to √v (default 1e-8; PyTorch refuses 0).
    pub eps: f64,
    /// Maximize the objective (the gradient is negated).
    pub maximize: bool,
}

crate::fields!(SparseAdamConfig { lr, betas, eps, maximize });

impl Default for SparseAdamConfig {
    fn default() -> Self {
        SparseAdamConfig { lr: 1e-3, betas: (0.9, 0.999), eps: 1e-8, maximize: false }
    }
}

crate::persist_fields!(SparseAdamConfig { lr: f64, betas.0: f64, betas.1: f64, eps: f64, maximize: bool });

impl SparseAdamConfig {
    /// The name of `descent replay` (`"sparse_adam"`).
    pub const NAME: &'static str = "sparse_adam";

    /// Checks the hyperparameters as `torch.optim.SparseAdam` does, with its messages:
    /// 0 < lr, 0 < eps, 0 ≤ β < 1 (NaN refused everywhere, and an infinite lr or eps too).
    pub fn validate(&self) -> Result<(), Error> {
        check_gt("lr", self.lr)?;
        check_gt("eps", self.eps)?;
        check_range_open("betas[0]", self.betas.0, 0.0, 1.0)?;
        check_range_open("betas[1]", self.betas.1, 0.0, 1.0)
    }
}

/// 0 < value < ∞ (NaN fails).
fn check_gt(name: &'static str, value: f64) -> Result<(), Error> {
    if value > 0.0 && value < f64::INFINITY {
        Ok(())
    } else {
        Err(Error::InvalidHyperparameter { name, value })
    }
}

/// A sparse gradient of a `rows × cols` table: the rows it touches and their values.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct SparseGrad<'a, F> {
    /// Row indices, each below the table's row count; may repeat (repeats are summed) and need
    /// not be sorted (sorted is faster, see the module's documentation).
    pub indices: &'a [usize],
    /// The rows' gradients, row-major: `indices.len() × cols` values, row i for `indices[i]`.
    pub values: &'a [F],
}

/// SparseAdam over state storage `B` (2 × rows × cols values: m, then v).
#[derive(Debug, Clone)]
pub struct SparseAdamOptim<F: Real, B: StateBuffer<F>> {
    config: SparseAdamConfig,
    state: B,
    rows: usize,
    cols: usize,
    steps: u64,
    policy: NonFinitePolicy,
    _float: PhantomData<F>,
}

/// SparseAdam owning its state for a table of at most `N` values (2 × N values).
pub type SparseAdam<F, const N: usize> = SparseAdamOptim<F, [[F; N]; 2]>;
/// SparseAdam over a caller-provided buffer (at least 2 × rows × cols values).
pub type SparseAdamView<'a, F> = SparseAdamOptim<F, &'a mut [F]>;

impl<F: Real, const N: usize> SparseAdamOptim<F, [[F; N]; 2]> {
    /// SparseAdam for a `rows × cols` table (rows × cols ≤ N) that owns its state.
    pub fn new(config: SparseAdamConfig, rows: usize, cols: usize) -> Result<Self, Error> {
        Self::from_storage(config, [[F::ZERO; N]; 2], rows, cols, NonFinitePolicy::default())
    }
}

impl<'a, F: Real> SparseAdamOptim<F, &'a mut [F]> {
    /// SparseAdam for a `rows × cols` table whose state lives in `buffer` (at least
    /// 2 × rows × cols values; initialised here).
    pub fn with_buffer(
        config: SparseAdamConfig,
        rows: usize,
        cols: usize,
        buffer: &'a mut [F],
    ) -> Result<Self, Error> {
        Self::from_storage(config, buffer, rows, cols, NonFinitePolicy::default())
    }
}

/// The per-step scalars, computed once in `f64` (as PyTorch's Python floats) and rounded to `F`.
#[derive(Clone, Copy)]
struct Step<F> {
    one_minus_b1: F,
    one_minus_b2: F,
    eps: F,
    neg_step_size: F,
    maximize: bool,
}

impl SparseAdamConfig {
    fn scalars<F: Real>(&self, t: u64) -> Step<F> {
        let (b1, b2) = self.betas;
        let bias_correction1 = 1.0 - pow_step(b1, t);
        let bias_correction2 = 1.0 - pow_step(b2, t);
        let step_size = self.lr * libm::sqrt(bias_correction2) / bias_correction1;
        Step {
            one_minus_b1: F::from_f64(1.0 - b1),
            one_minus_b2: F::from_f64(1.0 - b2),
            eps: F::from_f64(self.eps),
            neg_step_size: F::from_f64(-step_size),
            maximize: self.maximize,
        }
    }
}

impl<F: Real> Step<F> {
    /// One element of a touched row, `g` its coalesced (and, with maximize, negated) gradient.
    #[inline(always)]
    fn apply(&self, p: &mut F, g: F, m: &mut F, v: &mut F) {
        let m_old = *m;
        let d1 = (g - m_old) * self.one_minus_b1;
        *m = m_old + d1;
        let d2 = (g * g - *v) * self.one_minus_b2;
        *v = *v + d2;
        let denom = v.sqrt() + self.eps;
        *p = *p + self.neg_step_size * (*m / denom);
    }
    #[inline(always)]
    fn sign(&self, g: F) -> F {
        if self.maximize { -g } else { g }
    }
}

/// How the touched rows are found: the positions of `indices` that first name a row, and for
/// each the later positions naming the same row.
#[derive(Clone, Copy)]
struct Rows<'a> {
    indices: &'a [usize],
    sorted: bool,
}

impl<'a> Rows<'a> {
    fn new(indices: &'a [usize]) -> Self {
        Rows { indices, sorted: indices.windows(2).all(|w| w.first() <= w.get(1)) }
    }
    /// Whether position `i` is the first to name its row.
    #[inline]
    fn first(&self, i: usize, r: usize) -> bool {
        if self.sorted {
            i == 0 || self.indices.get(i - 1) != Some(&r)
        } else {
            !self.indices.get(..i).unwrap_or(&[]).contains(&r)
        }
    }
    /// The positions after `i` naming row `r`, in order.
    #[inline]
    fn repeats(&self, i: usize, r: usize) -> impl Iterator<Item = usize> + Clone + 'a {
        let indices = self.indices;
        let sorted = self.sorted;
        let from = i.saturating_add(1);
        let rest = indices.get(from..).unwrap_or(&[]);
        let rest = if sorted {
            // Duplicates are the run that follows.
            let run = rest.iter().position(|&x| x != r).unwrap_or(rest.len());
            rest.get(..run).unwrap_or(&[])
        } else {
            rest
        };
        rest.iter().enumerate().filter(move |&(_, &x)| x == r).map(move |(j, _)| from + j)
    }
}

impl<F: Real, B: StateBuffer<F>> SparseAdamOptim<F, B> {
    /// SparseAdam for a `rows × cols` table over any state storage (at least 2 × rows × cols
    /// values; initialised to zeros), with a non-finite gradient policy. Refuses invalid
    /// hyperparameters, a table whose size overflows, and a buffer too small.
    pub fn from_storage(
        config: SparseAdamConfig,
        mut state: B,
        rows: usize,
        cols: usize,
        policy: NonFinitePolicy,
    ) -> Result<Self, Error> {
        config.validate()?;
        // 2 × rows × cols, refused if it overflows (no buffer can hold it).
        let needed = rows.checked_mul(cols).and_then(|n| n.checked_mul(2)).unwrap_or(usize::MAX);
        state_fits(needed, state.values().len())?;
        if needed == usize::MAX {
            return Err(Error::BufferTooSmall {
                what: "optimizer state",
                needed,
                available: state.values().len(),
            });
        }
        if let Some(buf) = state.values_mut().get_mut(..needed) {
            buf.fill(F::ZERO);
        }
        Ok(SparseAdamOptim { config, state, rows, cols, steps: 0, policy, _float: PhantomData })
    }

    /// The hyperparameters.
    pub fn config(&self) -> &SparseAdamConfig {
        &self.config
    }
    /// Replaces the hyperparameters (validated), keeping the state.
    pub fn set_config(&mut self, config: SparseAdamConfig) -> Result<(), Error> {
        config.validate()?;
        self.config = config;
        Ok(())
    }
    /// Rows of the table.
    pub fn rows(&self) -> usize {
        self.rows
    }
    /// Columns of the table.
    pub fn cols(&self) -> usize {
        self.cols
    }
    /// The non-finite gradient policy.
    pub fn policy(&self) -> NonFinitePolicy {
        self.policy
    }
    /// The first moments m (rows × cols, row-major).
    pub fn exp_avg(&self) -> &[F] {
        let n = self.rows * self.cols;
        self.state.values().get(..n).unwrap_or(&[])
    }
    /// The second moments v (rows × cols, row-major).
    pub fn exp_avg_sq(&self) -> &[F] {
        let n = self.rows * self.cols;
        self.state.values().get(n..2 * n).unwrap_or(&[])
    }

    /// One step: the rows of `grad` (duplicates summed) move, nothing else does; the step count
    /// advances even when `grad` names no row (as PyTorch's). Refuses, changing nothing: `params`
    /// of another length than rows × cols, `values` of another length than indices × cols, an
    /// index past the last row ([`Error::IndexOutOfRange`]) and, under [`NonFinitePolicy::Error`],
    /// a non-finite value; under [`NonFinitePolicy::SkipStep`] such a step changes nothing and is
    /// not counted.
    #[inline]
    pub fn step(&mut self, params: &mut [F], grad: SparseGrad<'_, F>) -> Result<StepOutcome, Error> {
        let (rows, config) = match self.check(params, &grad)? {
            Ok(c) => c,
            Err(skipped) => return Ok(skipped),
        };
        let t = self.steps.saturating_add(1);
        let cols = self.cols;
        let (m, v) = self.moments()?;
        F::with_lanes(Kernel { step: config.scalars::<F>(t), rows, cols, params, grad, m, v });
        self.steps = t;
        Ok(StepOutcome::Stepped)
    }

    /// [`SparseAdamOptim::step`] with an explicit lane width `L` (for tests and benchmarks).
    #[inline]
    pub fn step_with_lanes<const L: usize>(
        &mut self,
        params: &mut [F],
        grad: SparseGrad<'_, F>,
    ) -> Result<StepOutcome, Error> {
        let (rows, config) = match self.check(params, &grad)? {
            Ok(c) => c,
            Err(skipped) => return Ok(skipped),
        };
        let t = self.steps.saturating_add(1);
        let cols = self.cols;
        let (m, v) = self.moments()?;
        let step = config.scalars::<F>(t);
        Kernel { step, rows, cols, params, grad, m, v }.run::<L>();
        self.steps = t;
        Ok(StepOutcome::Stepped)
    }

    /// One step computed by the scalar reference: PyTorch's operations one element at a time
    /// (negate, coalesce, update). Same checks, same bits as [`SparseAdamOptim::step`] (the
    /// property tests check it).
    pub fn step_reference(
        &mut self,
        params: &mut [F],
        grad: SparseGrad<'_, F>,
    ) -> Result<StepOutcome, Error> {
        let (rows, config) = match self.check(params, &grad)? {
            Ok(c) => c,
            Err(skipped) => return Ok(skipped),
        };
        let t = self.steps.saturating_add(1);
        let cols = self.cols;
        let (m, v) = self.moments()?;
        reference(&config, t, rows, cols, params, grad, m, v);
        self.steps = t;
        Ok(StepOutcome::Stepped)
    }

    /// The checks of a step, in order; `Err(outcome)` inside means "skip this step".
    fn check<'g>(
        &self,
        params: &[F],
        grad: &SparseGrad<'g, F>,
    ) -> Result<Result<(Rows<'g>, SparseAdamConfig), StepOutcome>, Error> {
        let n = self.rows * self.cols;
        if params.len() != n {
            return Err(Error::LengthMismatch { what: "params", expected: n, found: params.len() });
        }
        let k = grad.indices.len();
        let expected = k.saturating_mul(self.cols);
        if grad.values.len() != expected {
            return Err(Error::LengthMismatch { what: "values", expected, found: grad.values.len() });
        }
        if let Some((position, &index)) = grad.indices.iter().enumerate().find(|&(_, &r)| r >= self.rows) {
            return Err(Error::IndexOutOfRange { what: "indices", position, index, len: self.rows });
        }
        if self.policy != NonFinitePolicy::Propagate
            && let Some(index) = grad.values.iter().position(|g| !g.is_finite())
        {
            if self.policy == NonFinitePolicy::SkipStep {
                return Ok(Err(StepOutcome::Skipped { index }));
            }
            return Err(Error::NonFinite { what: "values", index });
        }
        Ok(Ok((Rows::new(grad.indices), self.config)))
    }

    fn moments(&mut self) -> Result<(&mut [F], &mut [F]), Error> {
        let n = self.rows * self.cols;
        let shrank = Error::CorruptState { reason: "state buffer shrank" };
        let state = self.state.values_mut().get_mut(..2 * n).ok_or(shrank)?;
        Ok(state.split_at_mut(n))
    }

    fn write_all(&self, w: &mut Writer<'_>) -> Result<(), Error> {
        w.header(&Header {
            kind: Kind::SparseAdam.byte(),
            float_bytes: F::BYTES as u8,
            n: (self.rows * self.cols) as u64,
            steps: self.steps,
        })?;
        w.u8(self.policy.to_u8())?;
        w.u64(self.rows as u64)?;
        w.u64(self.cols as u64)?;
        self.config.write(w)?;
        w.floats(self.state.values().get(..2 * self.rows * self.cols).unwrap_or(&[]))
    }
}

/// The scalar reference: for each touched row, each element's gradient is the sum of its
/// (negated, with maximize) values in the order they appear, then PyTorch's update.
#[allow(clippy::too_many_arguments)]
fn reference<F: Real>(
    config: &SparseAdamConfig,
    t: u64,
    rows: Rows<'_>,
    cols: usize,
    params: &mut [F],
    grad: SparseGrad<'_, F>,
    m: &mut [F],
    v: &mut [F],
) {
    let c = F::from_f64;
    let (b1, b2) = config.betas;
    let bias_correction1 = 1.0 - pow_step(b1, t);
    let bias_correction2 = 1.0 - pow_step(b2, t);
    let step_size = config.lr * libm::sqrt(bias_correction2) / bias_correction1;
    let value = |j: usize, col: usize| {
        let g = grad.values.get(j * cols + col).copied().unwrap_or(F::ZERO);
        if config.maximize { -g } else { g }
    };
    for (i, &r) in grad.indices.iter().enumerate() {
        if !rows.first(i, r) {
            continue;
        }
        for col in 0..cols {
            let mut g = value(i, col);
            for j in rows.repeats(i, r) {
                g = g + value(j, col);
            }
            let at = r * cols + col;
            let (Some(p), Some(mu), Some(nu)) = (params.get_mut(at), m.get_mut(at), v.get_mut(at)) else {
                return;
            };
            let old_exp_avg = *mu;
            let exp_avg_update = (g - old_exp_avg) * c(1.0 - b1);
            *mu = old_exp_avg + exp_avg_update;
            let old_exp_avg_sq = *nu;
            let exp_avg_sq_update = (g * g - old_exp_avg_sq) * c(1.0 - b2);
            *nu = old_exp_avg_sq + exp_avg_sq_update;
            let numer = exp_avg_update + old_exp_avg;
            let denom = (exp_avg_sq_update + old_exp_avg_sq).sqrt() + c(config.eps);
            *p = *p + c(-step_size) * (numer / denom);
        }
    }
}

/// The lane kernel: each touched row in chunks of `L` columns; a chunk's gradient is the first
/// occurrence's values plus its repeats', in order, then the update lane by lane.
struct Kernel<'a, 'g, F> {
    step: Step<F>,
    rows: Rows<'g>,
    cols: usize,
    params: &'a mut [F],
    grad: SparseGrad<'g, F>,
    m: &'a mut [F],
    v: &'a mut [F],
}

impl<F: Real> LaneKernel<F> for Kernel<'_, '_, F> {
    type Output = ();
    #[inline(always)]
    fn run<const L: usize>(self) {
        const { assert!(L > 0, "lane width must be positive") };
        let Kernel { step, rows, cols, params, grad, m, v } = self;
        fn row_of<F>(s: &[F], j: usize, cols: usize) -> Option<&[F]> {
            s.get(j * cols..(j + 1) * cols)
        }
        for (i, &r) in grad.indices.iter().enumerate() {
            if !rows.first(i, r) {
                continue;
            }
            let span = r * cols..(r + 1) * cols;
            let (Some(p), Some(mr), Some(vr), Some(g0)) = (
                params.get_mut(span.clone()),
                m.get_mut(span.clone()),
                v.get_mut(span),
                row_of(grad.values, i, cols),
            ) else {
                return;
            };
            let repeats = rows.repeats(i, r);
            let (pc, pt) = p.as_chunks_mut::<L>();
            let (mc, mt) = mr.as_chunks_mut::<L>();
            let (vc, vt) = vr.as_chunks_mut::<L>();
            let (gc, gt) = g0.as_chunks::<L>();
            if repeats.clone().next().is_none() {
                // The common case: no repeats, the row's values as they are.
                for (((p, m), v), g) in pc.iter_mut().zip(mc.iter_mut()).zip(vc.iter_mut()).zip(gc) {
                    for l in 0..L {
                        step.apply(&mut p[l], step.sign(g[l]), &mut m[l], &mut v[l]);
                    }
                }
                for (((p, m), v), &g) in pt.iter_mut().zip(mt.iter_mut()).zip(vt.iter_mut()).zip(gt) {
                    step.apply(p, step.sign(g), m, v);
                }
                continue;
            }
            for (c, (((p, m), v), g)) in
                pc.iter_mut().zip(mc.iter_mut()).zip(vc.iter_mut()).zip(gc).enumerate()
            {
                let mut sum = *g;
                for j in repeats.clone() {
                    let chunk = row_of(grad.values, j, cols).and_then(|row| row.get(c * L..(c + 1) * L));
                    let Some(gj) = chunk.and_then(|s| <&[F; L]>::try_from(s).ok()) else {
                        return;
                    };
                    for l in 0..L {
                        sum[l] = sum[l] + gj[l];
                    }
                }
                for l in 0..L {
                    step.apply(&mut p[l], step.sign(sum[l]), &mut m[l], &mut v[l]);
                }
            }
            let tail_start = cols - pt.len();
            for (e, (((p, m), v), &g)) in
                pt.iter_mut().zip(mt.iter_mut()).zip(vt.iter_mut()).zip(gt).enumerate()
            {
                let mut sum = g;
                for j in repeats.clone() {
                    sum = sum + grad.values.get(j * cols + tail_start + e).copied().unwrap_or(F::ZERO);
                }
                step.apply(p, step.sign(sum), m, v);
            }
        }
    }
}

/// The dense-gradient step PyTorch refuses, in its words.
pub const DENSE_REFUSED: &str = "SparseAdam does not support dense gradients, please consider Adam instead";

impl<F: Real, B: StateBuffer<F>> Optimizer<F> for SparseAdamOptim<F, B> {
    fn name(&self) -> &'static str {
        SparseAdamConfig::NAME
    }
    /// A dense gradient: refused, as PyTorch refuses it ([`DENSE_REFUSED`]); use
    /// [`SparseAdamOptim::step`] with a [`SparseGrad`].
    fn step(&mut self, _params: &mut [F], _grads: &[F]) -> Result<StepOutcome, Error> {
        Err(Error::Unsupported { what: DENSE_REFUSED })
    }
    fn lr(&self) -> f64 {
        self.config.lr
    }
    fn set_lr(&mut self, lr: f64) -> Result<(), Error> {
        self.set_config(SparseAdamConfig { lr, ..self.config })
    }
    fn momentum(&self) -> Option<f64> {
        Some(self.config.betas.0)
    }
    fn set_momentum(&mut self, momentum: f64) -> Result<(), Error> {
        self.set_config(SparseAdamConfig { betas: (momentum, self.config.betas.1), ..self.config })
    }
    fn steps(&self) -> u64 {
        self.steps
    }
    fn len(&self) -> usize {
        self.rows * self.cols
    }
    fn state_len(&self) -> usize {
        2 * self.rows * self.cols
    }
    fn saved_len(&self) -> usize {
        persist::saved_len(|w| self.write_all(w))
    }
    /// Saves (kind [`Kind::SparseAdam`]): the policy, rows and cols, the hyperparameters, then m
    /// and v.
    fn save(&self, out: &mut [u8]) -> Result<usize, Error> {
        let needed = self.saved_len();
        if out.len() < needed {
            return Err(Error::BufferTooSmall { what: "saved state", needed, available: out.len() });
        }
        persist::save(out, |w| self.write_all(w))
    }
    fn restore(&mut self, bytes: &[u8]) -> Result<(), Error> {
        let n = self.rows * self.cols;
        let (h, mut r) = super::open_saved(bytes, Kind::SparseAdam.byte(), Some(F::BYTES as u8), n)?;
        let policy = NonFinitePolicy::from_u8(r.u8()?)?;
        for (field, mine) in [("rows", self.rows), ("cols", self.cols)] {
            let found = r.u64()?;
            if found != mine as u64 {
                return Err(Error::StateMismatch { field, expected: mine as u64, found });
            }
        }
        let config = SparseAdamConfig::read(&mut r)?;
        config.validate()?;
        let raw = r.floats::<F>(2 * n)?;
        r.finish()?;
        if let Some(dst) = self.state.values_mut().get_mut(..2 * n) {
            persist::copy_floats(raw, dst);
        }
        self.config = config;
        self.steps = h.steps;
        self.policy = policy;
        Ok(())
    }
    fn reset(&mut self) -> Result<(), Error> {
        let n = 2 * self.rows * self.cols;
        if let Some(buf) = self.state.values_mut().get_mut(..n) {
            buf.fill(F::ZERO);
        }
        self.steps = 0;
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    extern crate std;
    use super::*;
    use std::vec;
    use std::vec::Vec;

    fn grad<'a>(indices: &'a [usize], values: &'a [f64]) -> SparseGrad<'a, f64> {
        SparseGrad { indices, values }
    }

    #[test]
    fn defaults_and_messages_are_pytorchs() {
        let d = SparseAdamConfig::default();
        assert_eq!((d.lr, d.betas, d.eps, d.maximize), (1e-3, (0.9, 0.999), 1e-8, false));
        let msg = |c: SparseAdamConfig| std::format!("{}", c.validate().unwrap_err());
        assert_eq!(msg(SparseAdamConfig { lr: 0.0, ..d }), "Invalid learning rate: 0.0");
        assert_eq!(msg(SparseAdamConfig { eps: 0.0, ..d }), "Invalid epsilon value: 0.0");
        assert_eq!(
            msg(SparseAdamConfig { betas: (1.0, 0.9), ..d }),
            "Invalid beta parameter at index 0: 1.0"
        );
        assert_eq!(
            msg(SparseAdamConfig { betas: (0.9, -0.1), ..d }),
            "Invalid beta parameter at index 1: -0.1"
        );
        assert!(SparseAdamConfig { lr: f64::NAN, ..d }.validate().is_err());
        assert!(SparseAdamConfig { betas: (0.0, 0.0), ..d }.validate().is_ok());
    }

    /// Untouched rows and their moments do not move; the step count advances anyway, and a row
    /// first touched at step 3 uses step 3's bias corrections.
    #[test]
    fn only_touched_rows_move_and_steps_are_global() {
        let mut o =
            SparseAdam::<f64, 6>::new(SparseAdamConfig { lr: 0.1, ..Default::default() }, 3, 2).unwrap();
        let mut p = [1.0, 2.0, 3.0, 4.0, 5.0, 6.0];
        o.step(&mut p, grad(&[0], &[1.0, -1.0])).unwrap();
        o.step(&mut p, grad(&[], &[])).unwrap();
        assert_eq!(&p[2..], &[3.0, 4.0, 5.0, 6.0]);
        assert_eq!(o.steps(), 2);
        o.step(&mut p, grad(&[2], &[0.5, 0.5])).unwrap();
        assert_eq!(&p[2..4], &[3.0, 4.0]);
        // Row 2 at t = 3: m = 0.1·g, v = 0.001·g², step size lr·√(1 − β2³)/(1 − β1³).
        let t = 3.0;
        let ss = 0.1 * (1.0 - 0.999f64.powf(t)).sqrt() / (1.0 - 0.9f64.powf(t));
        let want = 5.0 - ss * (0.05 / ((0.001f64 * 0.25).sqrt() + 1e-8));
        assert!((p[4] - want).abs() < 1e-12, "{} {want}", p[4]);
    }

    /// Repeated indices are summed first: the same as one occurrence of the summed row.
    #[test]
    fn duplicates_are_coalesced() {
        let c = SparseAdamConfig { lr: 0.05, ..Default::default() };
        let mut a = SparseAdam::<f64, 8>::new(c, 4, 2).unwrap();
        let mut b = SparseAdam::<f64, 8>::new(c, 4, 2).unwrap();
        let mut pa = [0.5; 8];
        let mut pb = [0.5; 8];
        a.step(&mut pa, grad(&[3, 1, 3], &[1.0, 2.0, 0.5, 0.5, 0.25, -4.0])).unwrap();
        b.step(&mut pb, grad(&[1, 3], &[0.5, 0.5, 1.25, -2.0])).unwrap();
        assert_eq!(pa, pb);
        assert_eq!(a.exp_avg_sq(), b.exp_avg_sq());
    }

    #[test]
    fn bad_input_is_refused_and_changes_nothing() {
        let mut o = SparseAdam::<f64, 6>::new(SparseAdamConfig::default(), 3, 2).unwrap();
        let mut p = [1.0; 6];
        let e = o.step(&mut p, grad(&[3], &[1.0, 1.0])).unwrap_err();
        assert_eq!(e, Error::IndexOutOfRange { what: "indices", position: 0, index: 3, len: 3 });
        assert!(matches!(
            o.step(&mut p, grad(&[0], &[1.0])),
            Err(Error::LengthMismatch { what: "values", .. })
        ));
        assert!(matches!(o.step(&mut p[..4], grad(&[0], &[1.0, 1.0])), Err(Error::LengthMismatch { .. })));
        assert_eq!(
            o.step(&mut p, grad(&[0, usize::MAX], &[1.0; 4])).unwrap_err(),
            Error::IndexOutOfRange { what: "indices", position: 1, index: usize::MAX, len: 3 }
        );
        assert_eq!(p, [1.0; 6]);
        assert_eq!(o.steps(), 0);
        assert!(matches!(
            Optimizer::step(&mut o, &mut p, &[0.0; 6]),
            Err(Error::Unsupported { what: DENSE_REFUSED })
        ));
        let mut skip = SparseAdamOptim::from_storage(
            SparseAdamConfig::default(),
            [[0.0f64; 6]; 2],
            3,
            2,
            NonFinitePolicy::SkipStep,
        )
        .unwrap();
        assert_eq!(
            skip.step(&mut p, grad(&[1], &[1.0, f64::NAN])).unwrap(),
            StepOutcome::Skipped { index: 1 }
        );
        assert_eq!((p, skip.steps()), ([1.0; 6], 0));
        assert!(SparseAdam::<f64, 5>::new(SparseAdamConfig::default(), 3, 2).is_err());
        assert!(
            SparseAdamView::<f64>::with_buffer(SparseAdamConfig::default(), usize::MAX, 2, &mut []).is_err()
        );
    }

    fn lcg(seed: &mut u64) -> u64 {
        *seed = seed.wrapping_mul(6364136223846793005).wrapping_add(1442695040888963407);
        *seed >> 33
    }

    /// Kernel at several widths and the reference give the same bits, sorted or not, with repeats,
    /// maximize and non-finite values.
    #[test]
    fn kernel_matches_reference_bit_for_bit() {
        let mut seed = 7u64;
        for case in 0..300 {
            let rows = 1 + (lcg(&mut seed) % 9) as usize;
            let cols = 1 + (lcg(&mut seed) % 21) as usize;
            let k = (lcg(&mut seed) % 12) as usize;
            let mut idx: Vec<usize> = (0..k).map(|_| (lcg(&mut seed) as usize) % rows).collect();
            if case % 3 == 0 {
                idx.sort();
            }
            let val = |s: &mut u64| (lcg(s) % 2001) as f32 / 250.0 - 4.0;
            let values: Vec<f32> = (0..k * cols)
                .map(|i| if case % 17 == 0 && i == 1 { f32::INFINITY } else { val(&mut seed) })
                .collect();
            let config = SparseAdamConfig {
                lr: 0.01 + (case as f64) * 1e-3,
                betas: (0.5 + (case % 5) as f64 * 0.1, 0.99),
                eps: 1e-6,
                maximize: case % 4 == 1,
            };
            let p0: Vec<f32> = (0..rows * cols).map(|_| val(&mut seed)).collect();
            let run = |which: u8| {
                let mut buf = vec![0.0f32; 2 * rows * cols];
                let mut o = SparseAdamView::with_buffer(config, rows, cols, &mut buf).unwrap();
                let mut p = p0.clone();
                for _ in 0..3 {
                    let g = SparseGrad { indices: &idx, values: &values };
                    match which {
                        0 => o.step_reference(&mut p, g),
                        1 => o.step_with_lanes::<1>(&mut p, g),
                        2 => o.step_with_lanes::<4>(&mut p, g),
                        3 => o.step_with_lanes::<8>(&mut p, g),
                        _ => o.step(&mut p, g),
                    }
                    .unwrap();
                }
                let bits = |s: &[f32]| s.iter().map(|x| x.to_bits()).collect::<Vec<_>>();
                (bits(&p), bits(o.exp_avg()), bits(o.exp_avg_sq()))
            };
            let want = run(0);
            for w in 1..5 {
                assert_eq!(run(w), want, "case {case}, kernel {w}");
            }
        }
    }

    #[test]
    fn save_restore_round_trips_and_refuses_other_tables() {
        let c = SparseAdamConfig { lr: 0.02, maximize: true, ..Default::default() };
        let mut a = SparseAdam::<f32, 6>::new(c, 3, 2).unwrap();
        let mut p = [0.25f32; 6];
        a.step(&mut p, SparseGrad { indices: &[2, 0], values: &[1.0, 2.0, 3.0, 4.0] }).unwrap();
        let mut bytes = [0u8; 256];
        let len = a.save(&mut bytes).unwrap();
        assert_eq!(len, a.saved_len());
        assert_eq!(bytes[6], 0x64);
        let mut b = SparseAdam::<f32, 6>::new(SparseAdamConfig::default(), 3, 2).unwrap();
        b.restore(&bytes[..len]).unwrap();
        assert_eq!(
            (b.config(), b.steps(), b.exp_avg(), b.exp_avg_sq()),
            (a.config(), 1, a.exp_avg(), a.exp_avg_sq())
        );
        let mut other = SparseAdam::<f32, 6>::new(SparseAdamConfig::default(), 2, 3).unwrap();
        assert!(matches!(other.restore(&bytes[..len]), Err(Error::StateMismatch { field: "rows", .. })));
        assert_eq!(other.steps(), 0);
        bytes[30] ^= 1;
        assert!(b.restore(&bytes[..len]).is_err());
        let mut q = [0.25f32; 6];
        let mut fresh = SparseAdam::<f32, 6>::new(c, 3, 2).unwrap();
        fresh.step(&mut q, SparseGrad { indices: &[2, 0], values: &[1.0, 2.0, 3.0, 4.0] }).unwrap();
        b.reset().unwrap();
        assert_eq!((b.steps(), b.exp_avg()), (0, &[0.0f32; 6][..]));
    }
}
