//! SM3, Adagrad with one accumulator per row and per column (`optax.sm3`; Anil et al. 2019), per
//! tensor.
//!
//! ```text
//! tensor of shape (d₀, …, d_{k−1}), k ≥ 2, one accumulator vector a_j ∈ ℝ^{d_j} per axis:
//!   A[i] ← g[i]² + min_j a_j[i_j]                 (every element i = (i₀, …, i_{k−1}))
//!   a_j[r] ← max over the elements with i_j = r of A[i]
//! vectors (and unshaped tensors):  A ← g² + A
//! u ← g / √(A + ε)  where A > 0, else 0   (ε = 1e-8)
//! μ ← (1 − β)·u + β·μ;   θ ← θ − γ·μ      (β = momentum)
//! ```
//! Source: optax `alias.py::sm3` = `scale_by_sm3(b1 = momentum, b2 = 1, eps = 1e-8)` → `scale(−lr)`
//! (`optax/_src/transform.py`); Anil et al. 2019, "Memory-Efficient Adaptive Optimization",
//! Algorithm SM3-II.
//!
//! State: μ (n values), then the accumulators: d₀ + … + d_{k−1} values for a tensor of rank
//! k ≥ 2 (a 784 × 128 matrix keeps 912 instead of Adagrad's 100,352), n for a vector. Scratch:
//! d₀ + … + d_{k−1} values per step (the new maxima). Use it per tensor, in a
//! [`crate::group::Grouped`] optimizer over a layout (each tensor takes its shape), or give the
//! shape with [`Sm3Config::with_shape`].
//!
//! Differs elsewhere: the paper's momentum is optional (optax's `momentum = 0` gives none);
//! optax refuses rank-0 leaves.

use super::{Optim, UpdateRule};
use crate::error::{Error, check_ge, check_range_open};
use crate::layout::Shape;
use crate::persist::{Persist, Reader, Writer};
use crate::real::Real;

/// The ε of optax's `sm3` (not one of its arguments).
pub const EPS: f64 = 1e-8;

/// Hyperparameters of SM3, with optax's names (`learning_rate` → `lr`) and defaults, plus the
/// parameter's shape.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Sm3Config {
    /// Learning rate γ (optax has no default; 0.1 here).
    pub lr: f64,
    /// β, the decay of the update's average μ (default 0.9; 0 for none).
    pub momentum: f64,
    /// The parameter's shape (default: unshaped, a vector of any length).
    pub shape: Shape,
}

crate::fields!(Sm3Config { lr, momentum });

impl Default for Sm3Config {
    fn default() -> Self {
        Sm3Config { lr: 0.1, momentum: 0.9, shape: Shape::default() }
    }
}

impl Sm3Config {
    /// This configuration for a parameter of `shape` (one accumulator per axis from rank 2 on).
    pub fn with_shape(mut self, shape: &[usize]) -> Result<Self, Error> {
        self.shape = Shape::new(shape)?;
        Ok(self)
    }
    /// The axes' lengths when there is one accumulator per axis (rank ≥ 2).
    fn axes(&self) -> Option<&[usize]> {
        let d = self.shape.dims();
        (d.len() >= 2).then_some(d)
    }
    /// Accumulator values for `n` parameters.
    fn accumulators(&self, n: usize) -> usize {
        self.axes().map_or(n, |d| d.iter().sum())
    }
}

impl Persist for Sm3Config {
    fn write(&self, w: &mut Writer<'_>) -> Result<(), Error> {
        w.f64(self.lr)?;
        w.f64(self.momentum)?;
        self.shape.write(w)
    }
    fn read(r: &mut Reader<'_>) -> Result<Self, Error> {
        Ok(Sm3Config { lr: r.f64()?, momentum: r.f64()?, shape: Shape::read(r)? })
    }
}

/// SM3 over a caller-provided buffer (see the module docs for its size).
pub type Sm3View<'a, F> = Optim<Sm3Config, F, &'a mut [F]>;

/// `jnp.minimum`: the smaller, NaN propagating.
#[inline(always)]
fn min_nan<F: Real>(a: F, b: F) -> F {
    if a.is_nan() || b.is_nan() {
        a + b
    } else if b < a {
        b
    } else {
        a
    }
}

/// Per-step scalars of SM3.
struct Step<F> {
    b1: F,
    one_minus_b1: F,
    eps: F,
    neg_lr: F,
}

impl<F: Real> Step<F> {
    fn new(c: &Sm3Config) -> Self {
        let f = F::from_f64;
        Step { b1: f(c.momentum), one_minus_b1: f(1.0 - c.momentum), eps: f(EPS), neg_lr: f(-c.lr) }
    }
    /// One element from its new accumulator value `a`.
    #[inline(always)]
    fn apply(&self, p: &mut F, g: F, a: F, mu: &mut F) {
        let inv = if a > F::ZERO { F::ONE / (a + self.eps).sqrt() } else { F::ZERO };
        *mu = self.one_minus_b1 * (g * inv) + self.b1 * *mu;
        *p = *p + self.neg_lr * *mu;
    }
}

/// The index on every leading axis of row `r` (the rows of the leading axes, row-major: the last
/// leading axis varies fastest).
#[inline]
fn row_index(lead: &[usize], mut r: usize) -> [usize; crate::layout::MAX_DIMS] {
    let mut idx = [0usize; crate::layout::MAX_DIMS];
    for (slot, &d) in idx.iter_mut().zip(lead).rev() {
        *slot = r.checked_rem(d).unwrap_or(0);
        r = r.checked_div(d).unwrap_or(0);
    }
    idx
}

/// Row `r`'s accumulators, one per leading axis (axis j's start after the lengths before it),
/// with `visit`.
#[inline]
fn each_row_accumulator(lead: &[usize], r: usize, mut visit: impl FnMut(usize)) {
    let idx = row_index(lead, r);
    let mut start = 0usize;
    for (&i, &d) in idx.iter().zip(lead) {
        visit(start + i);
        start += d;
    }
}

/// The minimum of row `r`'s leading-axis accumulators, folded axis by axis as optax's reduce.
#[inline]
fn row_min<F: Real>(lead: &[usize], acc: &[F], r: usize) -> F {
    let mut m: Option<F> = None;
    each_row_accumulator(lead, r, |k| {
        let v = acc.get(k).copied().unwrap_or(F::ZERO);
        m = Some(m.map_or(v, |prev| min_nan(prev, v)));
    });
    m.unwrap_or(F::ZERO)
}

/// Folds `rmax` into the new maxima of row `r`'s leading-axis accumulators.
#[inline]
fn row_max<F: Real>(lead: &[usize], new: &mut [F], r: usize, rmax: F) {
    each_row_accumulator(lead, r, |k| {
        if let Some(x) = new.get_mut(k) {
            *x = x.max_nan(rmax);
        }
    });
}

impl UpdateRule for Sm3Config {
    type Scalars = ();
    const NAME: &'static str = "sm3";
    const ID: u8 = 23;
    const ELEMENTWISE: bool = false;

    fn validate(&self) -> Result<(), Error> {
        check_ge("lr", self.lr, 0.0)?;
        check_range_open("momentum", self.momentum, 0.0, 1.0)
    }
    fn check_len(&self, n: usize) -> Result<(), Error> {
        if self.shape.rank() == 0 {
            return Ok(());
        }
        let numel = self.shape.numel().unwrap_or(usize::MAX);
        if numel == n {
            Ok(())
        } else {
            Err(Error::LengthMismatch { what: "params (SM3 shape)", expected: numel, found: n })
        }
    }
    fn for_tensor(&self, shape: &Shape) -> Self {
        Sm3Config { shape: *shape, ..*self }
    }
    fn state_len(&self, n: usize) -> usize {
        n.saturating_add(self.accumulators(n))
    }
    fn scratch_len(&self, _n: usize) -> usize {
        self.axes().map_or(0, |d| d.iter().sum())
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
        let n = p.len();
        if g.len() != n || state.len() < self.state_len(n) {
            return;
        }
        let s = Step::<F>::new(self);
        let (mu, acc) = state.split_at_mut(n);
        let Some(axes) = self.axes() else {
            crate::lanes::zip2::<F, L>(p, g, mu, acc, |p, g, mu, a| {
                *a = g * g + *a;
                s.apply(p, g, *a, mu);
            });
            return;
        };
        let total: usize = axes.iter().sum();
        let (Some((&cols, lead)), Some(new)) = (axes.split_last(), scratch.get_mut(..total)) else {
            return;
        };
        new.fill(F::ZERO);
        let lead_len = total.saturating_sub(cols);
        let (lead_acc, col_acc) = acc.split_at_mut(lead_len.min(acc.len()));
        let (lead_new, col_new) = new.split_at_mut(lead_len.min(total));
        if cols > 0 {
            let rows = p.chunks_exact_mut(cols).zip(g.chunks_exact(cols)).zip(mu.chunks_exact_mut(cols));
            for (r, ((pr, gr), mr)) in rows.enumerate() {
                let rmin = row_min(lead, lead_acc, r);
                let mut rmax = F::ZERO;
                crate::lanes::zip3::<F, L>(pr, gr, mr, &mut *col_acc, &mut *col_new, |p, g, mu, old, new| {
                    let a = g * g + min_nan(rmin, *old);
                    *new = new.max_nan(a);
                    rmax = rmax.max_nan(a);
                    s.apply(p, g, a, mu);
                });
                row_max(lead, lead_new, r, rmax);
            }
        }
        copy_into(new, acc);
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
        let n = p.len();
        if g.len() != n || state.len() < self.state_len(n) {
            return;
        }
        let c = F::from_f64;
        let (b1, lr) = (self.momentum, self.lr);
        let (mu, acc) = state.split_at_mut(n);
        let update = |p: &mut F, g: F, a: F, mu: &mut F| {
            let inv = if a > F::ZERO { F::ONE / (a + c(EPS)).sqrt() } else { F::ZERO };
            *mu = c(1.0 - b1) * (g * inv) + c(b1) * *mu;
            *p = *p + c(-lr) * *mu;
        };
        let Some(axes) = self.axes() else {
            for i in 0..n {
                acc[i] = g[i] * g[i] + acc[i];
                update(&mut p[i], g[i], acc[i], &mut mu[i]);
            }
            return;
        };
        let total: usize = axes.iter().sum();
        let Some(new) = scratch.get_mut(..total) else { return };
        new.fill(F::ZERO);
        let mut idx = [0usize; crate::layout::MAX_DIMS];
        for i in 0..n {
            // The element's index on every axis, row-major.
            let mut rest = i;
            for (j, &d) in axes.iter().enumerate().rev() {
                idx[j] = rest % d.max(1);
                rest /= d.max(1);
            }
            // A[i] = g² + min_j a_j[i_j], the minimum folded axis by axis as optax's reduce.
            let mut start = 0usize;
            let mut m = F::ZERO;
            for (j, &d) in axes.iter().enumerate() {
                let v = acc[start + idx[j]];
                m = if j == 0 { v } else { min_nan(m, v) };
                start += d;
            }
            let a = g[i] * g[i] + m;
            let mut start = 0usize;
            for (j, &d) in axes.iter().enumerate() {
                new[start + idx[j]] = new[start + idx[j]].max_nan(a);
                start += d;
            }
            update(&mut p[i], g[i], a, &mut mu[i]);
        }
        copy_into(new, acc);
    }
}

/// Copies the new accumulators over the old.
#[inline]
fn copy_into<F: Copy>(new: &[F], acc: &mut [F]) {
    for (a, &x) in acc.iter_mut().zip(new) {
        *a = x;
    }
}
