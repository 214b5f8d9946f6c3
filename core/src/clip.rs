//! Gradient clipping with `torch.nn.utils.clip_grad_*` semantics, over several gradient slices at
//! once (one global norm), plus two adaptive clippers PyTorch does not have: percentile clipping
//! (AutoClip-style) and unit-wise AGC (Brock et al. 2021). Over a [`Layout`], clipping also works
//! per tensor ([`clip_by_block_rms`], optax; [`clip_norm_per_tensor`], Keras's `clipnorm`) and per
//! parameter group ([`clip_grad_norm_per_group`]).
//!
//! # Summation order and its error bound
//!
//! Norms are sums over up to millions of values, so their order matters. The lane-chunked path
//! ([`total_norm`]) sums squares (or absolute values) in `L` lane-blocked partial sums per slice
//! ([`crate::lanes::sum_sq`]), adds the lanes in order, and combines the slices in order; the
//! scalar path ([`total_norm_reference`]) sums sequentially. For n values and unit roundoff u
//! (2⁻²⁴ for f32, 2⁻⁵³ for f64), recursive summation of non-negative terms has relative error at
//! most (k − 1)·u for k terms; each square adds u. So
//!
//! - sequential: |S − Σx²| ≤ n·u·Σx²;  lane-blocked: ≤ (⌈n/L⌉ + L + s)·u·Σx² (s slices);
//! - the 2-norm √S has half that relative error plus u for the square root.
//!
//! [`norm_error_bound`] returns that bound; the tests check both paths against a compensated f64
//! sum and against each other within it.

use crate::error::Error;
use crate::lanes;
use crate::layout::{Layout, Tensor};
use crate::real::Real;

/// PyTorch's `clip_grad_norm_` adds 1e-6 to the total norm before dividing (`torch/nn/utils/clip_grad.py`).
pub const PYTORCH_CLIP_EPS: f64 = 1e-6;

/// Which p-norm: PyTorch's `norm_type` 1, 2 or `inf`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum NormType {
    /// Σ|x|.
    L1,
    /// √Σx².
    L2,
    /// max |x|.
    Inf,
}

impl NormType {
    /// From PyTorch's `norm_type` value (1.0, 2.0 or ∞); other values are refused.
    pub fn from_f64(p: f64) -> Result<Self, Error> {
        if p == 1.0 {
            Ok(NormType::L1)
        } else if p == 2.0 {
            Ok(NormType::L2)
        } else if p == f64::INFINITY {
            Ok(NormType::Inf)
        } else {
            Err(Error::InvalidHyperparameter { name: "norm_type", value: p })
        }
    }
}

#[inline(always)]
fn sum_abs<F: Real, const L: usize>(x: &[F]) -> F {
    let (chunks, tail) = x.as_chunks::<L>();
    let mut acc = [F::ZERO; L];
    for ch in chunks {
        for (a, &v) in acc.iter_mut().zip(ch) {
            *a = *a + v.abs_();
        }
    }
    for (a, &t) in acc.iter_mut().zip(tail) {
        *a = *a + t.abs_();
    }
    lanes::combine(&acc)
}

#[inline(always)]
fn max_abs<F: Real, const L: usize>(x: &[F]) -> F {
    let (chunks, tail) = x.as_chunks::<L>();
    let mut acc = [F::ZERO; L];
    for ch in chunks {
        for (a, &v) in acc.iter_mut().zip(ch) {
            *a = a.max_nan(v.abs_());
        }
    }
    for (a, &t) in acc.iter_mut().zip(tail) {
        *a = a.max_nan(t.abs_());
    }
    acc.iter().fold(F::ZERO, |m, &a| m.max_nan(a))
}

/// The global norm of several gradient slices, lane-chunked (`L` lanes). PyTorch computes each
/// slice's norm, then the norm of those norms; for p = 1, 2, ∞ that equals the norm of all values
/// together, which is what is summed here (one pass, fixed order).
pub fn total_norm_lanes<F: Real, S: AsRef<[F]>, const L: usize>(grads: &[S], norm: NormType) -> F {
    let slices = grads.iter().map(AsRef::as_ref);
    match norm {
        NormType::L2 => slices.fold(F::ZERO, |s, g| s + lanes::sum_sq::<F, L>(g)).sqrt(),
        NormType::L1 => slices.fold(F::ZERO, |s, g| s + sum_abs::<F, L>(g)),
        NormType::Inf => slices.fold(F::ZERO, |m, g| m.max_nan(max_abs::<F, L>(g))),
    }
}

/// [`total_norm_lanes`] with the production lane width.
pub fn total_norm<F: Real, S: AsRef<[F]>>(grads: &[S], norm: NormType) -> F {
    struct K<'a, S>(&'a [S], NormType);
    impl<F: Real, S: AsRef<[F]>> crate::real::LaneKernel<F> for K<'_, S> {
        type Output = F;
        fn run<const L: usize>(self) -> F {
            total_norm_lanes::<F, S, L>(self.0, self.1)
        }
    }
    F::with_lanes(K(grads, norm))
}

/// The global norm summed sequentially, element by element: the scalar reference.
pub fn total_norm_reference<F: Real, S: AsRef<[F]>>(grads: &[S], norm: NormType) -> F {
    let mut acc = F::ZERO;
    for g in grads {
        for &x in g.as_ref() {
            acc = match norm {
                NormType::L2 => acc + x * x,
                NormType::L1 => acc + x.abs_(),
                NormType::Inf => acc.max_nan(x.abs_()),
            };
        }
    }
    if norm == NormType::L2 { acc.sqrt() } else { acc }
}

/// The bound on |computed − exact| / exact for a norm of `n` values in `slices` slices summed with
/// `lanes` lanes (`lanes = 1`: sequential). See the module docs.
pub fn norm_error_bound<F: Real>(n: usize, slices: usize, lanes: usize, norm: NormType) -> f64 {
    let u = F::EPSILON.as_f64() / 2.0;
    let terms = if lanes <= 1 { n } else { n.div_ceil(lanes) + lanes } + slices;
    match norm {
        NormType::Inf => 0.0,
        NormType::L1 => terms as f64 * u,
        NormType::L2 => (terms as f64 + 1.0) * u / 2.0 + u,
    }
}

fn check_max(name: &'static str, value: f64) -> Result<(), Error> {
    if value >= 0.0 { Ok(()) } else { Err(Error::InvalidHyperparameter { name, value }) }
}

/// `torch.nn.utils.clip_grad_value_`: clamps every gradient value into [−clip_value, clip_value]
/// (NaN stays NaN, as `torch.clamp`). Refuses a negative or NaN `clip_value`.
pub fn clip_grad_value<F: Real>(grads: &mut [&mut [F]], clip_value: f64) -> Result<(), Error> {
    check_max("clip_value", clip_value)?;
    let (hi, lo) = (F::from_f64(clip_value), F::from_f64(-clip_value));
    for g in grads.iter_mut() {
        for x in g.iter_mut() {
            if *x > hi {
                *x = hi;
            } else if *x < lo {
                *x = lo;
            }
        }
    }
    Ok(())
}

/// Multiplies every gradient by `coef` (lane-chunked, elementwise: same bits as a scalar loop).
pub fn scale<F: Real>(grads: &mut [&mut [F]], coef: F) {
    for g in grads.iter_mut() {
        for x in g.iter_mut() {
            *x = *x * coef;
        }
    }
}

/// `torch.nn.utils.clip_grad_norm_`: computes the global `norm` of all `grads`, and multiplies
/// them by min(1, max_norm / (total + 1e-6)) — always, as PyTorch does (the factor is exactly 1
/// below the threshold, so nothing changes there). Returns the total norm.
///
/// With `error_if_nonfinite`, a NaN or infinite total norm is refused with [`Error::NonFinite`]
/// and nothing is modified (PyTorch raises a `RuntimeError`); otherwise the gradients are scaled by
/// the non-finite factor, as PyTorch does.
pub fn clip_grad_norm<F: Real>(
    grads: &mut [&mut [F]],
    max_norm: f64,
    norm: NormType,
    error_if_nonfinite: bool,
) -> Result<F, Error> {
    check_max("max_norm", max_norm)?;
    let total: F = total_norm(grads, norm);
    if error_if_nonfinite && !total.is_finite() {
        return Err(Error::NonFinite { what: "total norm", index: 0 });
    }
    let coef = F::from_f64(max_norm) / (total + F::from_f64(PYTORCH_CLIP_EPS));
    let coef = if coef > F::ONE { F::ONE } else { coef };
    scale(grads, coef);
    Ok(total)
}

/// What an adaptive clipper did.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct ClipReport {
    /// The total norm before clipping.
    pub total_norm: f64,
    /// The threshold in force (`None` while the history is too short).
    pub threshold: Option<f64>,
    /// Whether the gradients were scaled down.
    pub clipped: bool,
}

/// Adaptive percentile clipping (AutoClip, Seetharaman et al. 2020): each call records the total
/// 2-norm, and once at least `min_history` norms are recorded, clips to the `percentile`-th
/// percentile (linear interpolation, as `numpy.percentile`) of the last `W` norms. `W` is a
/// compile-time capacity.
///
/// Besides the window in arrival order, the clipper keeps the same norms sorted, updated in
/// O(W) per call (one removal, one insertion), so [`PercentileClipper::threshold`] reads the
/// percentile in O(1) without copying or sorting the window. State: 2·W `f64` values.
#[derive(Debug, Clone)]
pub struct PercentileClipper<const W: usize> {
    /// The last `len` norms in a ring, the next to be written (when full: the oldest) at `next`.
    window: [f64; W],
    next: usize,
    len: usize,
    /// The values of `window`, sorted by `f64::total_cmp` (the first `len` entries).
    sorted: [f64; W],
    percentile: f64,
    min_history: usize,
}

impl<const W: usize> PercentileClipper<W> {
    /// A clipper at `percentile` ∈ [0, 100], engaging after `min_history` ∈ [1, W] norms.
    pub fn new(percentile: f64, min_history: usize) -> Result<Self, Error> {
        if !(0.0..=100.0).contains(&percentile) {
            return Err(Error::InvalidHyperparameter { name: "percentile", value: percentile });
        }
        if min_history == 0 || min_history > W {
            return Err(Error::InvalidHyperparameter { name: "min_history", value: min_history as f64 });
        }
        Ok(PercentileClipper { window: [0.0; W], next: 0, len: 0, sorted: [0.0; W], percentile, min_history })
    }

    /// The recorded norms in ascending order.
    fn sorted(&self) -> &[f64] {
        self.sorted.get(..self.len).unwrap_or(&[])
    }

    /// The current threshold, if the history is long enough.
    pub fn threshold(&self) -> Option<f64> {
        let sorted = self.sorted();
        let k = sorted.len();
        if k < self.min_history {
            return None;
        }
        let rank = self.percentile / 100.0 * (k - 1) as f64;
        let lo = rank as usize;
        let hi = (lo + 1).min(k - 1);
        let (a, b) = (*sorted.get(lo)?, *sorted.get(hi)?);
        Some(a + (b - a) * (rank - lo as f64))
    }

    /// Appends `norm` to the window (evicting the oldest when full), keeping `sorted` in order.
    fn record(&mut self, norm: f64) {
        let mut len = self.len;
        if len == W
            && let Some(&oldest) = self.window.get(self.next)
            && let Ok(i) = self.sorted().binary_search_by(|x| x.total_cmp(&oldest))
            && let Some(tail) = self.sorted.get_mut(i..len)
            && !tail.is_empty()
        {
            // Move the evicted value past the end.
            tail.rotate_left(1);
            len -= 1;
        }
        let at = self.sorted.get(..len).unwrap_or(&[]).partition_point(|x| x.total_cmp(&norm).is_lt());
        if let Some(slot) = self.sorted.get_mut(len) {
            *slot = norm;
        }
        if let Some(tail) = self.sorted.get_mut(at..=len)
            && !tail.is_empty()
        {
            tail.rotate_right(1);
        }
        if let Some(slot) = self.window.get_mut(self.next) {
            *slot = norm;
        }
        self.next = if self.next + 1 >= W { 0 } else { self.next + 1 };
        self.len = (self.len + 1).min(W);
    }

    /// Records the total 2-norm of `grads` and clips them to the threshold if it is exceeded.
    /// A non-finite norm is refused (and not recorded); nothing is modified then.
    pub fn clip<F: Real>(&mut self, grads: &mut [&mut [F]]) -> Result<ClipReport, Error> {
        let total = total_norm::<F, _>(grads, NormType::L2).as_f64();
        if !total.is_finite() {
            return Err(Error::NonFinite { what: "total norm", index: 0 });
        }
        self.record(total);
        let threshold = self.threshold();
        let clipped = match threshold {
            Some(t) if total > t => {
                scale(grads, F::from_f64(t / (total + PYTORCH_CLIP_EPS)));
                true
            }
            _ => false,
        };
        Ok(ClipReport { total_norm: total, threshold, clipped })
    }
}

/// Unit-wise adaptive gradient clipping (AGC; Brock et al. 2021, "High-Performance Large-Scale
/// Image Recognition Without Normalization", §4.1; optax `adaptive_grad_clip`) for one parameter of
/// shape `[rows, cols]` in PyTorch's `[out, in]` layout: each row (an output unit) is a unit. For
/// unit i, with bound bᵢ = λ·max(‖Wᵢ‖, ε): if ‖Gᵢ‖ > bᵢ then Gᵢ ← Gᵢ·bᵢ/max(‖Gᵢ‖, 1e-6). A 1-D
/// vector parameter (a bias) goes through [`clip_agc_vector`].
/// Returns how many units were clipped.
pub fn clip_agc<F: Real>(
    params: &[F],
    grads: &mut [F],
    rows: usize,
    cols: usize,
    clipping: f64,
    eps: f64,
) -> Result<usize, Error> {
    check_max("clipping", clipping)?;
    check_max("eps", eps)?;
    let n = rows.checked_mul(cols).ok_or(Error::LengthMismatch {
        what: "AGC shape",
        expected: usize::MAX,
        found: 0,
    })?;
    if params.len() != n {
        return Err(Error::LengthMismatch { what: "params (AGC shape)", expected: n, found: params.len() });
    }
    if grads.len() != n {
        return Err(Error::LengthMismatch { what: "grads", expected: n, found: grads.len() });
    }
    if cols == 0 {
        return Ok(0);
    }
    let mut clipped = 0;
    for (w, g) in params.chunks_exact(cols).zip(grads.chunks_exact_mut(cols)) {
        let wn = crate::lanes::sum_sq::<F, 8>(w).sqrt().as_f64();
        let gn = crate::lanes::sum_sq::<F, 8>(g).sqrt().as_f64();
        let bound = clipping * f64::max(wn, eps);
        if gn > bound {
            let c = F::from_f64(bound / f64::max(gn, PYTORCH_CLIP_EPS));
            g.iter_mut().for_each(|x| *x = *x * c);
            clipped += 1;
        }
    }
    Ok(clipped)
}

/// AGC for a vector parameter (a bias): every element is its own unit, as optax does.
pub fn clip_agc_vector<F: Real>(
    params: &[F],
    grads: &mut [F],
    clipping: f64,
    eps: f64,
) -> Result<usize, Error> {
    clip_agc(params, grads, params.len(), 1, clipping, eps)
}

// Per tensor and per parameter group.

/// Refuses gradients whose length is not the layout's.
fn check_layout_grads<F, T: AsRef<[Tensor]>>(layout: &Layout<T>, grads: &[F]) -> Result<(), Error> {
    if grads.len() != layout.len() {
        return Err(Error::LengthMismatch { what: "grads", expected: layout.len(), found: grads.len() });
    }
    Ok(())
}

/// The `norm` of group `g`'s gradients (all its tensors together), or of every tensor if `g` is
/// `None`; lane-blocked sums per tensor, tensors combined in layout order.
fn group_norm<F: Real, T: AsRef<[Tensor]>>(
    layout: &Layout<T>,
    grads: &[F],
    g: Option<usize>,
    norm: NormType,
) -> F {
    struct K<'a, F, T: AsRef<[Tensor]>>(&'a Layout<T>, &'a [F], Option<usize>, NormType);
    impl<F: Real, T: AsRef<[Tensor]>> crate::real::LaneKernel<F> for K<'_, F, T> {
        type Output = F;
        fn run<const L: usize>(self) -> F {
            let K(layout, grads, g, norm) = self;
            let slices = layout
                .tensors()
                .iter()
                .filter(|t| g.is_none_or(|g| t.group == g))
                .filter_map(|t| grads.get(t.range()));
            match norm {
                NormType::L2 => slices.fold(F::ZERO, |s, x| s + lanes::sum_sq::<F, L>(x)).sqrt(),
                NormType::L1 => slices.fold(F::ZERO, |s, x| s + sum_abs::<F, L>(x)),
                NormType::Inf => slices.fold(F::ZERO, |m, x| m.max_nan(max_abs::<F, L>(x))),
            }
        }
    }
    F::with_lanes(K(layout, grads, g, norm))
}

/// optax's `clip_by_block_rms(threshold)`: every tensor of the layout (every optax leaf) is scaled
/// by 1 / max(1, RMS(u) / threshold), so that no tensor's RMS exceeds `threshold`. Refuses a
/// negative or NaN threshold and gradients of another length, changing nothing.
pub fn clip_by_block_rms<F: Real, T: AsRef<[Tensor]>>(
    layout: &Layout<T>,
    grads: &mut [F],
    threshold: f64,
) -> Result<(), Error> {
    check_max("threshold", threshold)?;
    check_layout_grads(layout, grads)?;
    let threshold = F::from_f64(threshold);
    for t in layout.tensors() {
        let Some(u) = grads.get_mut(t.range()) else { continue };
        if u.is_empty() {
            continue;
        }
        let rms = (lanes_sum_sq(u) / F::from_f64(u.len() as f64)).sqrt();
        let ratio = rms / threshold;
        let denom = if ratio > F::ONE || ratio.is_nan() { ratio } else { F::ONE };
        for x in u.iter_mut() {
            *x = *x / denom;
        }
    }
    Ok(())
}

/// Keras's per-variable `clipnorm` (`tf.clip_by_norm`): every tensor of the layout is scaled by
/// c / max(‖g‖₂, c), so that no tensor's 2-norm exceeds `clipnorm`. Refuses a negative or NaN
/// `clipnorm` and gradients of another length, changing nothing.
pub fn clip_norm_per_tensor<F: Real, T: AsRef<[Tensor]>>(
    layout: &Layout<T>,
    grads: &mut [F],
    clipnorm: f64,
) -> Result<(), Error> {
    check_max("clipnorm", clipnorm)?;
    check_layout_grads(layout, grads)?;
    let c = F::from_f64(clipnorm);
    for t in layout.tensors() {
        let Some(g) = grads.get_mut(t.range()) else { continue };
        let norm = lanes_sum_sq(g).sqrt();
        let denom = if norm > c || norm.is_nan() { norm } else { c };
        for x in g.iter_mut() {
            *x = *x * c / denom;
        }
    }
    Ok(())
}

/// `clip_grad_norm_` applied to each parameter group on its own: group g's gradients are scaled
/// by min(1, max_norm / (‖group g‖ + 1e-6)), as PyTorch's `clip_grad_norm_(group["params"], …)`
/// called once per group. With `error_if_nonfinite`, a group whose norm is not finite is refused
/// ([`Error::NonFinite`], `index` = the group) before anything is modified. Returns nothing; the
/// norms are those of [`group_norms`].
pub fn clip_grad_norm_per_group<F: Real, T: AsRef<[Tensor]>>(
    layout: &Layout<T>,
    grads: &mut [F],
    max_norm: f64,
    norm: NormType,
    error_if_nonfinite: bool,
) -> Result<(), Error> {
    check_max("max_norm", max_norm)?;
    check_layout_grads(layout, grads)?;
    if error_if_nonfinite
        && let Some(g) = (0..layout.groups()).find(|&g| !group_norm(layout, grads, Some(g), norm).is_finite())
    {
        return Err(Error::NonFinite { what: "group norm", index: g });
    }
    for g in 0..layout.groups() {
        let total = group_norm(layout, grads, Some(g), norm);
        let coef = F::from_f64(max_norm) / (total + F::from_f64(PYTORCH_CLIP_EPS));
        let coef = if coef > F::ONE { F::ONE } else { coef };
        for t in layout.tensors().iter().filter(|t| t.group == g) {
            if let Some(x) = grads.get_mut(t.range()) {
                x.iter_mut().for_each(|v| *v = *v * coef);
            }
        }
    }
    Ok(())
}

/// Writes each group's gradient norm into `out` (one per group; refused if `out` is shorter).
pub fn group_norms<F: Real, T: AsRef<[Tensor]>>(
    layout: &Layout<T>,
    grads: &[F],
    norm: NormType,
    out: &mut [F],
) -> Result<(), Error> {
    check_layout_grads(layout, grads)?;
    let available = out.len();
    let out = out.get_mut(..layout.groups()).ok_or(Error::BufferTooSmall {
        what: "group norms",
        needed: layout.groups(),
        available,
    })?;
    for (g, o) in out.iter_mut().enumerate() {
        *o = group_norm(layout, grads, Some(g), norm);
    }
    Ok(())
}

/// Σx² at the production lane width.
fn lanes_sum_sq<F: Real>(x: &[F]) -> F {
    struct K<'a, F>(&'a [F]);
    impl<F: Real> crate::real::LaneKernel<F> for K<'_, F> {
        type Output = F;
        fn run<const L: usize>(self) -> F {
            lanes::sum_sq::<F, L>(self.0)
        }
    }
    F::with_lanes(K(x))
}
