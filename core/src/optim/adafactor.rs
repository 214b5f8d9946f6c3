//! Adafactor with PyTorch 2.5+ semantics (`torch.optim.Adafactor`).
//!
//! ```text
//! g ← −g if maximize
//! β̂2_t = 1 − t^c (c = beta2_decay = −0.8);  ρ_t = min(γ, 1/√t);  α_t = max(ε2, RMS(θ)) · ρ_t
//! θ ← θ(1 − γλ)
//! factored (≥ 2 dims, over the last two, R × C):
//!   r ← lerp(r, mean_c(g²), 1 − β̂2_t);  c ← lerp(c, mean_r(g²), 1 − β̂2_t)
//!   V̂ = r·cᵀ / max(mean(r), ε1)
//! otherwise: v ← lerp(v, g², 1 − β̂2_t);  V̂ = v
//! U = g / √max(V̂, ε1²);  θ ← θ − α_t · U / max(1, RMS(U)/d)
//! ```
//! Source: `torch/optim/_adafactor.py::_single_tensor_adafactor`; Shazeer & Stern 2018.
//! ε1 defaults to the dtype's machine epsilon, ε2 to 1e-3. There is no first moment.
//!
//! State: for a parameter of shape (…, R, C) with B = ∏… leading elements, B·(R + C) values; for
//! vectors (and unshaped parameters), n values.
//!
//! Adafactor is not purely elementwise: RMS(θ), RMS(U) and the row and column means are
//! reductions. The kernel sums in `L` lane-blocked partial sums (see [`crate::lanes::sum_sq`]); the
//! reference sums sequentially; the two agree within the bound tested in
//! `tests/kernel_matches_reference.rs`.
//!
//! Differs elsewhere: optax adds ε = 1e-30 to g² before the means, factors only dimensions ≥ 128,
//! clips the update by block RMS, uses an absolute step size and does not scale decay by γ.

use super::ops::directed;
use super::{Optim, UpdateRule};
use crate::error::{Error, check_ge};
use crate::persist::{Persist, Reader, Writer};
use crate::real::{Real, powf64};
use core::num::NonZeroUsize;

pub use crate::layout::{MAX_DIMS, Shape};

/// Hyperparameters of Adafactor, with PyTorch's names and defaults, plus the parameter's shape.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct AdafactorConfig {
    /// Learning rate γ (default 1e-2).
    pub lr: f64,
    /// c in β̂2_t = 1 − t^c (default −0.8).
    pub beta2_decay: f64,
    /// (ε1, ε2): ε1 = `None` means the dtype's machine epsilon (default (None, 1e-3)).
    pub eps: (Option<f64>, f64),
    /// Clipping threshold d on RMS(U) (default 1.0).
    pub d: f64,
    /// Decoupled weight decay λ (default 0).
    pub weight_decay: f64,
    /// Maximize instead of minimize (default false).
    pub maximize: bool,
    /// The parameter's shape (default: unshaped, a vector of any length).
    pub shape: Shape,
}

crate::fields!(AdafactorConfig { lr, beta2_decay, eps, d, weight_decay, maximize });

impl Default for AdafactorConfig {
    fn default() -> Self {
        AdafactorConfig {
            lr: 1e-2,
            beta2_decay: -0.8,
            eps: (None, 1e-3),
            d: 1.0,
            weight_decay: 0.0,
            maximize: false,
            shape: Shape::default(),
        }
    }
}

impl AdafactorConfig {
    /// The default configuration for a parameter of `shape` (row-major; factored when it has two
    /// or more dimensions). Refuses more than [`MAX_DIMS`] dimensions.
    pub fn for_shape(shape: &[usize]) -> Result<Self, Error> {
        Self::default().with_shape(shape)
    }
    /// This configuration for a parameter of `shape`.
    pub fn with_shape(mut self, shape: &[usize]) -> Result<Self, Error> {
        self.shape = Shape::new(shape)?;
        Ok(self)
    }
    /// (B, R, C) when factored.
    fn factored(&self) -> Option<(usize, usize, usize)> {
        let s = self.shape.dims();
        if s.len() < 2 {
            return None;
        }
        let (lead, last) = s.split_at(s.len() - 2);
        let b = lead.iter().product();
        Some((b, *last.first()?, *last.get(1)?))
    }
    fn eps1<F: Real>(&self) -> f64 {
        self.eps.0.unwrap_or(F::EPSILON.as_f64())
    }
}

impl Persist for AdafactorConfig {
    fn write(&self, w: &mut Writer<'_>) -> Result<(), Error> {
        w.f64(self.lr)?;
        w.f64(self.beta2_decay)?;
        w.bool(self.eps.0.is_some())?;
        w.f64(self.eps.0.unwrap_or(0.0))?;
        w.f64(self.eps.1)?;
        w.f64(self.d)?;
        w.f64(self.weight_decay)?;
        w.bool(self.maximize)?;
        self.shape.write(w)
    }
    fn read(r: &mut Reader<'_>) -> Result<Self, Error> {
        let mut c = AdafactorConfig { lr: r.f64()?, beta2_decay: r.f64()?, ..Default::default() };
        let has_eps1 = r.bool()?;
        let eps1 = r.f64()?;
        c.eps = (has_eps1.then_some(eps1), r.f64()?);
        c.d = r.f64()?;
        c.weight_decay = r.f64()?;
        c.maximize = r.bool()?;
        c.shape = Shape::read(r)?;
        Ok(c)
    }
}

/// Adafactor for an unshaped vector of `N` parameters (N values of state).
pub type Adafactor<F, const N: usize> = Optim<AdafactorConfig, F, [[F; N]; 1]>;
/// Adafactor over a caller-provided buffer (see the module docs for its size).
pub type AdafactorView<'a, F> = Optim<AdafactorConfig, F, &'a mut [F]>;

/// Step coefficients: (1 − β̂2 as the lerp weight, α_t before the RMS factor).
fn step_scalars(c: &AdafactorConfig, t: u64) -> (f64, f64) {
    let tf = t as f64;
    let one_minus_beta2_t = powf64(tf, c.beta2_decay);
    let rho_t = f64::min(c.lr, 1.0 / libm::sqrt(tf));
    (one_minus_beta2_t, rho_t)
}

impl UpdateRule for AdafactorConfig {
    type Scalars = ();
    const NAME: &'static str = "adafactor";
    const ID: u8 = 12;
    const ELEMENTWISE: bool = false;

    fn validate(&self) -> Result<(), Error> {
        check_ge("adafactor.lr", self.lr, 0.0)?;
        if !(self.beta2_decay <= 0.0) {
            return Err(Error::InvalidHyperparameter { name: "beta2_decay", value: self.beta2_decay });
        }
        if let Some(e1) = self.eps.0 {
            check_ge("eps[0]", e1, 0.0)?;
        }
        check_ge("eps[1]", self.eps.1, 0.0)?;
        check_ge("d", self.d, 1.0)?;
        check_ge("adafactor.weight_decay", self.weight_decay, 0.0)
    }
    fn check_len(&self, n: usize) -> Result<(), Error> {
        if self.shape.rank() == 0 {
            return Ok(());
        }
        let numel = self.shape.numel().unwrap_or(usize::MAX);
        if numel == n {
            Ok(())
        } else {
            Err(Error::LengthMismatch { what: "params (Adafactor shape)", expected: numel, found: n })
        }
    }
    fn for_tensor(&self, shape: &Shape) -> Self {
        AdafactorConfig { shape: *shape, ..*self }
    }
    fn state_len(&self, n: usize) -> usize {
        match self.factored() {
            Some((b, r, c)) => b * (r + c),
            None => n,
        }
    }
    fn lr(&self) -> f64 {
        self.lr
    }
    fn put_lr(&mut self, lr: f64) {
        self.lr = lr;
    }

    fn kernel<F: Real, const L: usize>(
        &self,
        _: &mut (),
        t: u64,
        p: &mut [F],
        g: &[F],
        state: &mut [F],
        _: &mut [F],
    ) {
        let c = F::from_f64;
        let n = p.len();
        if n == 0 || g.len() != n {
            return;
        }
        let (w, rho_t) = step_scalars(self, t);
        let eps1 = self.eps1::<F>();
        const { assert!(L > 0) };
        let rms_p = libm::sqrt(crate::lanes::sum_sq::<F, L>(p).as_f64()) / libm::sqrt(n as f64);
        let alpha = f64::max(self.eps.1, rms_p) * rho_t;
        let decay = c(1.0 - self.lr * self.weight_decay);
        let use_decay = self.weight_decay != 0.0;
        let (wf, eps1_sq, max) = (super::ops::Lerp::<F>::new(w), c(eps1 * eps1), self.maximize);
        let update_sumsq;
        match self.factored() {
            None => {
                let Some(v) = state.get_mut(..n) else { return };
                let mut acc = [F::ZERO; L];
                let mut lane = 0usize;
                // Pass 1: v ← lerp(v, g², w) and Σ U² in L partial sums.
                for (vi, &gi) in v.iter_mut().zip(g) {
                    let gi = directed(gi, max);
                    *vi = wf.apply(*vi, gi * gi);
                    let u = F::ONE / vi.max(eps1_sq).sqrt() * gi;
                    if let Some(a) = acc.get_mut(lane) {
                        *a = *a + u * u;
                    }
                    lane = if lane + 1 == L { 0 } else { lane + 1 };
                }
                update_sumsq = crate::lanes::combine(&acc);
                let denom =
                    f64::max(1.0, libm::sqrt(update_sumsq.as_f64()) / (libm::sqrt(n as f64) * self.d));
                let coef = c(-alpha / denom);
                crate::lanes::zip1::<F, L>(p, g, v, |p, gi, vi| {
                    let gi = directed(gi, max);
                    let u = F::ONE / vi.max(eps1_sq).sqrt() * gi;
                    let base = if use_decay { *p * decay } else { *p };
                    *p = base + coef * u;
                });
            }
            Some((b, r, cc)) => {
                let (rows, cols) = state.split_at_mut((b * r).min(state.len()));
                // Non-zero chunk sizes, as the compiler sees them: no chunking below can panic.
                let (Some(r), Some(cc)) = (NonZeroUsize::new(r), NonZeroUsize::new(cc)) else { return };
                let Some(rc) = r.checked_mul(cc) else { return };
                if rows.len() != b * r.get() || cols.len() < b * cc.get() || b * rc.get() != n {
                    return;
                }
                let (r, cc, rc) = (r.get(), cc.get(), rc.get());
                // Block bi: its gradients (r rows of cc), row factors and column factors, walked in
                // chunks rather than indexed, so that no bound check is left to panic.
                let mut total = F::ZERO;
                for ((gb, rv), cv) in
                    g.chunks_exact(rc).zip(rows.chunks_exact_mut(r)).zip(cols.chunks_exact_mut(cc))
                {
                    for (rvi, row) in rv.iter_mut().zip(gb.chunks_exact(cc)) {
                        *rvi = wf.apply(*rvi, crate::lanes::sum_sq::<F, L>(row) / c(cc as f64));
                    }
                    for (ci, cvi) in cv.iter_mut().enumerate() {
                        let mut s = F::ZERO;
                        for &x in gb.chunks_exact(cc).filter_map(|row| row.get(ci)) {
                            s = s + x * x;
                        }
                        *cvi = wf.apply(*cvi, s / c(r as f64));
                    }
                    let row_mean = (rv.iter().fold(F::ZERO, |a, &x| a + x) / c(r as f64)).max(c(eps1));
                    for (row, &rvi) in gb.chunks_exact(cc).zip(rv.iter()) {
                        let mut acc = [F::ZERO; L];
                        for (k, (&gi, &cvi)) in row.iter().zip(cv.iter()).enumerate() {
                            let gi = directed(gi, max);
                            let u = F::ONE / (rvi * cvi / row_mean).max(eps1_sq).sqrt() * gi;
                            acc[k % L] = acc[k % L] + u * u;
                        }
                        total = total + crate::lanes::combine(&acc);
                    }
                }
                update_sumsq = total;
                let denom =
                    f64::max(1.0, libm::sqrt(update_sumsq.as_f64()) / (libm::sqrt(n as f64) * self.d));
                let coef = c(-alpha / denom);
                for (((pb, gb), rv), cv) in p
                    .chunks_exact_mut(rc)
                    .zip(g.chunks_exact(rc))
                    .zip(rows.chunks_exact(r))
                    .zip(cols.chunks_exact(cc))
                {
                    let row_mean = (rv.iter().fold(F::ZERO, |a, &x| a + x) / c(r as f64)).max(c(eps1));
                    for ((pr, gr), &rvi) in pb.chunks_exact_mut(cc).zip(gb.chunks_exact(cc)).zip(rv) {
                        for ((pi, &gi), &cvi) in pr.iter_mut().zip(gr).zip(cv) {
                            let gi = directed(gi, max);
                            let u = F::ONE / (rvi * cvi / row_mean).max(eps1_sq).sqrt() * gi;
                            let base = if use_decay { *pi * decay } else { *pi };
                            *pi = base + coef * u;
                        }
                    }
                }
            }
        }
    }

    fn reference<F: Real>(&self, _: &mut (), t: u64, p: &mut [F], g: &[F], state: &mut [F], _: &mut [F]) {
        let c = F::from_f64;
        let n = p.len();
        if n == 0 || g.len() != n || state.len() < self.state_len(n) {
            return;
        }
        let step_float = t as f64;
        let one_minus_beta2_t = powf64(step_float, self.beta2_decay);
        let rho_t = f64::min(self.lr, 1.0 / libm::sqrt(step_float));
        let mut norm_sq = F::ZERO;
        for &x in p.iter() {
            norm_sq = norm_sq + x * x;
        }
        let alpha = f64::max(self.eps.1, libm::sqrt(norm_sq.as_f64()) / libm::sqrt(n as f64)) * rho_t;
        if self.weight_decay != 0.0 {
            for x in p.iter_mut() {
                *x = *x * c(1.0 - self.lr * self.weight_decay);
            }
        }
        let eps1 = self.eps1::<F>();
        let weight = super::ops::Lerp::<F>::new(one_minus_beta2_t);
        let grad = |i: usize| if self.maximize { -g[i] } else { g[i] };
        // The variance estimate V̂ at element i, once the state is updated.
        let factored = self.factored();
        if let Some((b, r, cc)) = factored {
            let (row_var, col_var) = state.split_at_mut(b * r);
            for bi in 0..b {
                for ri in 0..r {
                    let mut s = F::ZERO;
                    for ci in 0..cc {
                        let x = grad((bi * r + ri) * cc + ci);
                        s = s + x * x;
                    }
                    row_var[bi * r + ri] = weight.apply(row_var[bi * r + ri], s / c(cc as f64));
                }
                for ci in 0..cc {
                    let mut s = F::ZERO;
                    for ri in 0..r {
                        let x = grad((bi * r + ri) * cc + ci);
                        s = s + x * x;
                    }
                    col_var[bi * cc + ci] = weight.apply(col_var[bi * cc + ci], s / c(r as f64));
                }
            }
        } else {
            for i in 0..n {
                let gi = grad(i);
                state[i] = weight.apply(state[i], gi * gi);
            }
        }
        let state = &*state;
        let var_estimate = |i: usize| -> F {
            match factored {
                Some((b, r, cc)) => {
                    let (bi, ri, ci) = (i / (r * cc), (i / cc) % r, i % cc);
                    let _ = b;
                    let mut mean = F::ZERO;
                    for k in 0..r {
                        mean = mean + state[bi * r + k];
                    }
                    let mean = (mean / c(r as f64)).max(c(eps1));
                    state[bi * r + ri] * state[b * r + bi * cc + ci] / mean
                }
                None => state[i],
            }
        };
        let update = |i: usize| F::ONE / var_estimate(i).max(c(eps1 * eps1)).sqrt() * grad(i);
        let mut update_sq = F::ZERO;
        for i in 0..n {
            let u = update(i);
            update_sq = update_sq + u * u;
        }
        let denom = f64::max(1.0, libm::sqrt(update_sq.as_f64()) / (libm::sqrt(n as f64) * self.d));
        for i in 0..n {
            p[i] = p[i] + c(-alpha / denom) * update(i);
        }
    }
}
