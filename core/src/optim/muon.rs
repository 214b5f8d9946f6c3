//! Muon, momentum orthogonalized by Newton–Schulz (`torch.optim.Muon`, PyTorch 2.9+), for matrices.
//!
//! ```text
//! B ← lerp(B, G, 1 − μ)                       momentum buffer
//! U ← lerp(G, B, μ) if nesterov else B
//! X ← bf16(U) (transposed when rows > cols, so X is k × m with k ≤ m);  X ← X / max(‖X‖_F, ε)
//! repeat ns_steps times:  A ← X·Xᵀ;  B' ← b·A + c·A·A;  X ← a·X + B'·X     (each result in bf16)
//! θ ← θ(1 − γλ);  θ ← θ − γ·adjust(rows, cols)·X (transposed back; lerps and this add fused, as
//! PyTorch's CPU kernels)
//! adjust: original √max(1, rows/cols) · match_rms_adamw 0.2·√max(rows, cols) · spectral_unclamped √(rows/cols)
//! ```
//! Source: `torch/optim/_muon.py` (`_single_tensor_muon`, `_zeropower_via_newtonschulz`,
//! `_adjust_lr`); K. Jordan, "Muon: An optimizer for hidden layers in neural networks" (2024);
//! Liu et al., "Muon is Scalable for LLM Training" (2025) for `match_rms_adamw`.
//!
//! PyTorch runs the Newton–Schulz iteration in bfloat16: each matrix product accumulates in f32
//! and is rounded to bf16, as is each elementwise result. descent does the same — every
//! operation in f32 arithmetic, rounded to bf16 — so it agrees with PyTorch far inside the
//! conformance tolerance (an f32 iteration would not). The products accumulate each element in
//! a fixed order (l = 0, 1, …), in the kernel (vectorized across a row) and in the reference
//! alike, so the two give the same bits.
//!
//! State per parameter: 1 value (the momentum buffer). Scratch per step: [`scratch_len`] values
//! for an R × C matrix (2·R·C + 2·min(R, C)²), from the caller's buffer, not saved.
//!
//! Muon is for 2-D tensors; use a [`crate::group::Grouped`] optimizer over a layout, with Muon for
//! the hidden matrices and AdamW for the rest ([`super::pair`]), as PyTorch's documentation
//! advises. Built flat, its configuration carries the matrix's shape ([`MuonConfig::with_shape`]).

use super::{Optim, UpdateRule};
use crate::error::{Error, check_ge};
use crate::layout::Shape;
use crate::persist::{Persist, Reader, Writer};
use crate::real::Real;
use half::bf16;

/// How the learning rate is scaled for an R × C matrix (`adjust_lr_fn`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum AdjustLr {
    /// √max(1, R/C): Keller Jordan's original (PyTorch's default, `None` or `"original"`).
    #[default]
    Original,
    /// 0.2·√max(R, C): matches AdamW's update RMS (Moonshot), so AdamW's lr and decay carry over.
    MatchRmsAdamw,
    /// √(R/C): Bernstein's spectral condition, unclamped.
    SpectralUnclamped,
}

impl crate::optim::fields::FieldValue for AdjustLr {
    fn field(&mut self) -> crate::optim::fields::Field<'_> {
        crate::optim::fields::Field::Choice(self)
    }
}

impl crate::optim::fields::Choice for AdjustLr {
    fn names(&self) -> &'static [&'static str] {
        &["original", "match_rms_adamw", "spectral_unclamped"]
    }
    fn index(&self) -> usize {
        *self as usize
    }
    fn set_index(&mut self, index: usize) {
        *self = match index {
            0 => AdjustLr::Original,
            1 => AdjustLr::MatchRmsAdamw,
            2 => AdjustLr::SpectralUnclamped,
            _ => *self,
        }
    }
    fn what(&self) -> &'static str {
        "Adjust learning rate function"
    }
}

impl AdjustLr {
    /// The name PyTorch uses (`"original"`, `"match_rms_adamw"`, `"spectral_unclamped"`).
    pub fn name(self) -> &'static str {
        match self {
            AdjustLr::Original => "original",
            AdjustLr::MatchRmsAdamw => "match_rms_adamw",
            AdjustLr::SpectralUnclamped => "spectral_unclamped",
        }
    }
    /// The ratio for a `rows × cols` matrix.
    pub fn ratio(self, rows: usize, cols: usize) -> f64 {
        let (a, b) = (rows as f64, cols as f64);
        match self {
            AdjustLr::Original => libm::sqrt(f64::max(1.0, a / b)),
            AdjustLr::MatchRmsAdamw => 0.2 * libm::sqrt(f64::max(a, b)),
            AdjustLr::SpectralUnclamped => libm::sqrt(a / b),
        }
    }
}

/// Hyperparameters of Muon, with PyTorch's names and defaults, plus the matrix's shape.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct MuonConfig {
    /// Learning rate γ (default 1e-3).
    pub lr: f64,
    /// Decoupled weight decay λ: θ ← θ(1 − γλ) (default 0.1).
    pub weight_decay: f64,
    /// Momentum μ (default 0.95).
    pub momentum: f64,
    /// Nesterov momentum (default true).
    pub nesterov: bool,
    /// (a, b, c) of the Newton–Schulz polynomial a·x + b·x³ + c·x⁵ (default (3.4445, −4.7750,
    /// 2.0315)).
    pub ns_coefficients: (f64, f64, f64),
    /// ε: the Frobenius norm is clamped to at least ε before dividing (default 1e-7).
    pub eps: f64,
    /// Newton–Schulz iterations (default 5; fewer than 100).
    pub ns_steps: u32,
    /// The learning-rate adjustment (default [`AdjustLr::Original`]).
    pub adjust_lr_fn: AdjustLr,
    /// The matrix's shape (set per tensor by a grouped optimizer; unshaped by default).
    pub shape: Shape,
}

crate::fields!(MuonConfig {
    lr,
    weight_decay,
    momentum,
    nesterov,
    ns_coefficients,
    eps,
    ns_steps,
    adjust_lr_fn
});

impl Default for MuonConfig {
    fn default() -> Self {
        MuonConfig {
            lr: 1e-3,
            weight_decay: 0.1,
            momentum: 0.95,
            nesterov: true,
            ns_coefficients: (3.4445, -4.7750, 2.0315),
            eps: 1e-7,
            ns_steps: 5,
            adjust_lr_fn: AdjustLr::Original,
            shape: Shape::default(),
        }
    }
}

impl MuonConfig {
    /// This configuration for a matrix of `rows × cols`.
    pub fn with_shape(self, rows: usize, cols: usize) -> Self {
        let mut s = Shape::default();
        s.set_raw(2, [rows, cols].into_iter());
        MuonConfig { shape: s, ..self }
    }
}

/// Scratch values one Muon step over a `rows × cols` matrix needs: two k × m matrices and two
/// k × k ones, k = min(rows, cols), m = max(rows, cols).
pub const fn scratch_len(rows: usize, cols: usize) -> usize {
    let k = if rows < cols { rows } else { cols };
    rows.saturating_mul(cols).saturating_mul(2).saturating_add(k.saturating_mul(k).saturating_mul(2))
}

impl Persist for MuonConfig {
    fn write(&self, w: &mut Writer<'_>) -> Result<(), Error> {
        for v in [self.lr, self.weight_decay, self.momentum] {
            w.f64(v)?;
        }
        w.bool(self.nesterov)?;
        let (a, b, c) = self.ns_coefficients;
        for v in [a, b, c, self.eps] {
            w.f64(v)?;
        }
        w.u64(u64::from(self.ns_steps))?;
        w.u8(self.adjust_lr_fn as u8)?;
        self.shape.write(w)
    }
    fn read(r: &mut Reader<'_>) -> Result<Self, Error> {
        let (lr, weight_decay, momentum) = (r.f64()?, r.f64()?, r.f64()?);
        let nesterov = r.bool()?;
        let ns_coefficients = (r.f64()?, r.f64()?, r.f64()?);
        let eps = r.f64()?;
        let ns_steps =
            u32::try_from(r.u64()?).map_err(|_| Error::CorruptState { reason: "muon ns_steps" })?;
        let adjust_lr_fn = match r.u8()? {
            0 => AdjustLr::Original,
            1 => AdjustLr::MatchRmsAdamw,
            2 => AdjustLr::SpectralUnclamped,
            _ => return Err(Error::CorruptState { reason: "muon adjust_lr_fn" }),
        };
        let shape = Shape::read(r)?;
        Ok(MuonConfig {
            lr,
            weight_decay,
            momentum,
            nesterov,
            ns_coefficients,
            eps,
            ns_steps,
            adjust_lr_fn,
            shape,
        })
    }
}

/// Muon over a caller-provided buffer: n values of state, then [`scratch_len`] of scratch.
pub type MuonView<'a, F> = Optim<MuonConfig, F, &'a mut [F]>;

/// `torch.lerp(a, b, w)` as PyTorch 2.x's CPU kernel computes it: one fused multiply-add,
/// `a + w·(b − a)` for |w| < 0.5, else `b + (w − 1)·(b − a)`. (The other rules' lerp is the
/// unfused formula, within the conformance tolerance of PyTorch; Muon's bfloat16 rounding turns a
/// last-bit difference into a different bf16 value now and then, so it follows PyTorch exactly.)
#[derive(Clone, Copy)]
struct FusedLerp<F> {
    coeff: F,
    small: bool,
}

impl<F: Real> FusedLerp<F> {
    fn new(w: f64) -> Self {
        let wf = F::from_f64(w);
        let small = w.abs() < 0.5;
        FusedLerp { coeff: if small { wf } else { wf - F::ONE }, small }
    }
    #[inline(always)]
    fn apply(&self, a: F, b: F) -> F {
        self.coeff.fma(b - a, if self.small { a } else { b })
    }
}

/// Rounds to bfloat16 (to nearest, ties to even), kept as an `f32`.
#[inline(always)]
fn bf(x: f32) -> f32 {
    bf16::from_f32(x).to_f32()
}

#[inline(always)]
fn f32_of<F: Real>(x: F) -> f32 {
    x.as_f64() as f32
}

#[inline(always)]
fn of_f32<F: Real>(x: f32) -> F {
    F::from_f64(f64::from(x))
}

/// `out = bf16(alpha·(a·b) + beta·add)` for `a` (r × n), `b` (n × c), all row-major; the product
/// accumulates each element in f32 over l = 0, 1, … in order. `add` is `None` for a plain
/// product. Vectorized across each output row (the order per element stays fixed).
#[inline(always)]
fn gemm<F: Real>(
    out: &mut [F],
    a: &[F],
    b: &[F],
    dims: (usize, usize, usize),
    add: Option<(&[F], f32, f32)>,
) {
    let (r, n, c) = dims;
    for i in 0..r {
        let Some(row) = out.get_mut(i * c..(i + 1) * c) else { return };
        row.fill(F::ZERO);
        for l in 0..n {
            let Some(&ail) = a.get(i * n + l) else { return };
            let ail = f32_of(ail);
            let Some(brow) = b.get(l * c..(l + 1) * c) else { return };
            for (o, &bv) in row.iter_mut().zip(brow) {
                *o = of_f32(f32_of(*o) + ail * f32_of(bv));
            }
        }
        match add {
            Some((addend, beta, alpha)) => {
                let Some(arow) = addend.get(i * c..(i + 1) * c) else { return };
                for (o, &x) in row.iter_mut().zip(arow) {
                    *o = of_f32(bf(beta * f32_of(x) + alpha * f32_of(*o)));
                }
            }
            None => {
                for o in row.iter_mut() {
                    *o = of_f32(bf(f32_of(*o)));
                }
            }
        }
    }
}

/// Writes the transpose of `x` (r × c, row-major) into `out` (c × r).
fn transpose<F: Copy>(out: &mut [F], x: &[F], r: usize, c: usize) {
    for i in 0..r {
        for j in 0..c {
            if let (Some(o), Some(&v)) = (out.get_mut(j * r + i), x.get(i * c + j)) {
                *o = v;
            }
        }
    }
}

impl MuonConfig {
    /// The Newton–Schulz orthogonalization of `x` (k × m, already in bf16 and transposed so that
    /// k ≤ m), in place, with `y`, `a`, `b` as work space.
    fn newton_schulz<F: Real>(&self, x: &mut [F], work: &mut [F], k: usize, m: usize) {
        let (y, rest) = work.split_at_mut((k * m).min(work.len()));
        let (ga, gb) = rest.split_at_mut((k * k).min(rest.len()));
        // ‖X‖_F: accumulated in f32, rounded to bf16, clamped to ε (bf16), then X ← bf16(X / ‖X‖).
        let mut sum = 0.0f32;
        for &v in x.iter() {
            let v = f32_of(v);
            sum += v * v;
        }
        let norm = bf(libm::sqrtf(sum)).max(bf(self.eps as f32));
        for v in x.iter_mut() {
            *v = of_f32(bf(f32_of(*v) / norm));
        }
        let (a, b, c) = self.ns_coefficients;
        let (a, b, c) = (a as f32, b as f32, c as f32);
        for _ in 0..self.ns_steps {
            // A = X·Xᵀ (k × k), through Xᵀ in y.
            transpose(y, x, k, m);
            gemm(ga, x, y, (k, m, k), None);
            // B = b·A + c·A·A.
            gemm(gb, ga, ga, (k, k, k), Some((&*ga, b, c)));
            // X = a·X + B·X, into y, then back.
            gemm(y, gb, x, (k, k, m), Some((&*x, a, 1.0)));
            x.iter_mut().zip(y.iter()).for_each(|(x, &y)| *x = y);
        }
    }

    /// The step over a `rows × cols` tensor: the momentum buffer through `momentum` (the lane
    /// kernel or a plain loop), then Newton–Schulz and the update through `apply`.
    #[allow(clippy::too_many_arguments)]
    fn run<F: Real>(
        &self,
        p: &mut [F],
        g: &[F],
        state: &mut [F],
        scratch: &mut [F],
        momentum: impl FnOnce(&mut [F], &[F], FusedLerp<F>),
        apply: impl FnOnce(&mut [F], &[F], F, F),
    ) {
        let Some((rows, cols)) = self.shape.matrix() else { return };
        let n = rows * cols;
        if p.len() != n || g.len() != n || state.len() < n || scratch.len() < scratch_len(rows, cols) {
            return;
        }
        let Some(buf) = state.get_mut(..n) else { return };
        momentum(buf, g, FusedLerp::new(1.0 - self.momentum));
        let (k, m, transposed) = if rows > cols { (cols, rows, true) } else { (rows, cols, false) };
        let (x, work) = scratch.split_at_mut((k * m).min(scratch.len()));
        let nest = FusedLerp::<F>::new(self.momentum);
        for (e, (&gi, &bi)) in g.iter().zip(buf.iter()).enumerate() {
            let u = if self.nesterov { nest.apply(gi, bi) } else { bi };
            let (Some(i), Some(j)) = (e.checked_div(cols), e.checked_rem(cols)) else { continue };
            let at = if transposed { j * m + i } else { e };
            if let Some(xa) = x.get_mut(at) {
                // Through f32, as PyTorch's BFloat16 conversion (c10 converts a double to float first).
                *xa = of_f32(bf(f32_of(u)));
            }
        }
        self.newton_schulz(x, work, k, m);
        // Back to the parameter's layout.
        let o: &[F] = if transposed {
            let Some(back) = work.get_mut(..n) else { return };
            transpose(back, x, k, m);
            back
        } else {
            x
        };
        let decay = F::from_f64(1.0 - self.lr * self.weight_decay);
        let step = F::from_f64(-(self.lr * self.adjust_lr_fn.ratio(rows, cols)));
        apply(p, o, decay, step);
    }
}

impl UpdateRule for MuonConfig {
    type Scalars = ();
    const NAME: &'static str = "muon";
    const ID: u8 = 14;
    const ELEMENTWISE: bool = false;

    fn validate(&self) -> Result<(), Error> {
        check_ge("muon.lr", self.lr, 0.0)?;
        check_ge("muon.momentum", self.momentum, 0.0)?;
        check_ge("muon.weight_decay", self.weight_decay, 0.0)?;
        let (a, b, c) = self.ns_coefficients;
        for (name, v) in [("ns_coefficients[0]", a), ("ns_coefficients[1]", b), ("ns_coefficients[2]", c)] {
            if !v.is_finite() {
                return Err(Error::InvalidHyperparameter { name, value: v });
            }
        }
        check_ge("eps", self.eps, 0.0)?;
        if self.ns_steps >= 100 {
            return Err(Error::InvalidCombination {
                message: "Number of steps must be less than 100 for computational efficiency",
            });
        }
        Ok(())
    }
    fn check_len(&self, n: usize) -> Result<(), Error> {
        match self.shape.matrix() {
            Some((r, c)) if r.checked_mul(c) == Some(n) => Ok(()),
            Some((r, c)) => Err(Error::LengthMismatch {
                what: "params (Muon shape)",
                expected: r.saturating_mul(c),
                found: n,
            }),
            None => Err(Error::Unsupported { what: "Muon needs a 2-D shape (MuonConfig::with_shape)" }),
        }
    }
    fn for_tensor(&self, shape: &Shape) -> Self {
        MuonConfig { shape: *shape, ..*self }
    }
    fn check_tensor(&self, shape: &Shape) -> Result<(), &'static str> {
        match shape.matrix() {
            Some(_) => Ok(()),
            None => Err("Muon only supports 2D parameters"),
        }
    }
    fn scratch_len(&self, _n: usize) -> usize {
        self.shape.matrix().map_or(0, |(r, c)| scratch_len(r, c))
    }
    fn state_len(&self, n: usize) -> usize {
        n
    }
    fn lr(&self) -> f64 {
        self.lr
    }
    fn put_lr(&mut self, lr: f64) {
        self.lr = lr;
    }
    fn momentum(&self) -> Option<f64> {
        Some(self.momentum)
    }
    fn put_momentum(&mut self, m: f64) -> bool {
        self.momentum = m;
        true
    }

    fn kernel<F: Real, const L: usize>(
        &self,
        _: &mut (),
        _t: u64,
        p: &mut [F],
        g: &[F],
        state: &mut [F],
        scratch: &mut [F],
    ) {
        self.run(
            p,
            g,
            state,
            scratch,
            |buf, g, w| crate::lanes::zip0::<F, L>(buf, g, |b, g| *b = w.apply(*b, g)),
            |p, o, decay, step| {
                crate::lanes::zip0::<F, L>(p, o, |p, o| {
                    *p = *p * decay;
                    *p = step.fma(o, *p);
                })
            },
        );
    }

    fn reference<F: Real>(
        &self,
        _: &mut (),
        _t: u64,
        p: &mut [F],
        g: &[F],
        state: &mut [F],
        scratch: &mut [F],
    ) {
        self.run(
            p,
            g,
            state,
            scratch,
            |buf, g, w| {
                for (b, &g) in buf.iter_mut().zip(g) {
                    *b = w.apply(*b, g);
                }
            },
            |p, o, decay, step| {
                for x in p.iter_mut() {
                    *x = *x * decay;
                }
                for (x, &o) in p.iter_mut().zip(o) {
                    *x = step.fma(o, *x);
                }
            },
        );
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Newton–Schulz drives the singular values of a full-rank matrix into about [0.5, 1.5]
    /// (PyTorch's docstring): here, XᵀX's diagonal after orthogonalizing a random 4 × 8 matrix.
    #[test]
    fn newton_schulz_orthogonalizes() {
        let c = MuonConfig::default();
        let (k, m) = (4, 8);
        let mut x: [f32; 32] = core::array::from_fn(|i| bf((((i * 7919) % 23) as f32 - 11.0) / 7.0));
        let mut work = [0.0f32; 2 * 32 + 2 * 16];
        work.fill(0.0);
        c.newton_schulz(&mut x, &mut work[..32 + 32], k, m);
        for i in 0..k {
            let row = &x[i * m..(i + 1) * m];
            let norm2: f32 = row.iter().map(|v| v * v).sum();
            assert!((0.25..2.25).contains(&norm2), "row {i}: |row|² = {norm2}");
        }
    }

    #[test]
    fn scratch_len_counts_both_products() {
        assert_eq!(scratch_len(3, 5), 2 * 15 + 2 * 9);
        assert_eq!(scratch_len(5, 3), 2 * 15 + 2 * 9);
        assert_eq!(scratch_len(usize::MAX, 2), usize::MAX);
    }
}
