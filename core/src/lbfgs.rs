//! L-BFGS (`torch.optim.LBFGS`): limited-memory BFGS with the two-loop recursion, optionally with
//! PyTorch's strong-Wolfe line search (cubic interpolation, bracketing and zoom), or with a
//! backtracking Armijo line search (not in PyTorch; Nocedal & Wright, Algorithm 3.1).
//!
//! ```text
//! d₁ = −g;  later  d = −H·g  by the two-loop recursion over the last M pairs
//!   (s = t·d, y = g_new − g, kept when yᵀs > 1e-10), H₀ = (yᵀs / yᵀy)·I
//! step t: first iteration min(1, 1/‖g‖₁)·lr, then lr; a line search may change it
//! stop: ‖g‖_∞ ≤ tolerance_grad, gᵀd > −tolerance_change, ‖t·d‖_∞ ≤ tolerance_change,
//!       |f − f_prev| < tolerance_change, max_iter iterations or max_eval evaluations per step
//! ```
//! Source: `torch/optim/lbfgs.py` (`LBFGS.step`, `_strong_wolfe`, `_cubic_interpolate`); Nocedal
//! & Wright, *Numerical Optimization*, Algorithms 7.4 (two-loop) and 3.5–3.6 (strong Wolfe).
//!
//! The objective is a closure `f(x, g) -> loss` that writes the gradient at `x` into `g`.
//! State: 2·M·n values of history plus 7·n of work space, where M is the history length (a const
//! generic for the owned form).

use crate::error::Error;
use crate::real::Real;

/// Line search.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum LineSearch {
    /// A fixed step (PyTorch's `line_search_fn=None`).
    None,
    /// PyTorch's `line_search_fn="strong_wolfe"` (c1 = 1e-4, c2 = 0.9).
    StrongWolfe,
    /// Backtracking until f(x + t·d) ≤ f(x) + c1·t·gᵀd, halving t (c1 = 1e-4).
    Armijo,
}

/// Hyperparameters, with PyTorch's names and defaults.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct LbfgsConfig {
    /// Learning rate (default 1).
    pub lr: f64,
    /// Iterations per `step` (default 20).
    pub max_iter: usize,
    /// Function evaluations per `step` (default max_iter·5/4).
    pub max_eval: Option<usize>,
    /// Stop when ‖g‖_∞ ≤ this (default 1e-7).
    pub tolerance_grad: f64,
    /// Stop on changes smaller than this (default 1e-9).
    pub tolerance_change: f64,
    /// Line search (default none).
    pub line_search: LineSearch,
}

impl Default for LbfgsConfig {
    fn default() -> Self {
        LbfgsConfig {
            lr: 1.0,
            max_iter: 20,
            max_eval: None,
            tolerance_grad: 1e-7,
            tolerance_change: 1e-9,
            line_search: LineSearch::None,
        }
    }
}

/// What one [`Lbfgs::step`] did.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct LbfgsReport {
    /// The loss at the start of the step (what PyTorch's `step` returns).
    pub loss: f64,
    /// Iterations taken in this step.
    pub iterations: usize,
    /// Objective evaluations in this step.
    pub evaluations: usize,
}

/// The strong-Wolfe search's own `tolerance_change`: PyTorch's `LBFGS.step` never passes the
/// optimizer's `tolerance_change` on to `_strong_wolfe`, whose default is 1e-9.
const WOLFE_TOLERANCE_CHANGE: f64 = 1e-9;

const WORK: usize = 7;
// Work vector slots.
const D: usize = 0;
const G: usize = 1;
const G_PREV: usize = 2;
const G_NEW: usize = 3;
const XT: usize = 4;
const BR_A: usize = 5;
const BR_B: usize = 6;

/// L-BFGS over `n` parameters with history length `M`, state in storage `B`.
#[derive(Debug, Clone)]
pub struct Lbfgs<F: Real, B: AsMut<[F]> + AsRef<[F]>, const M: usize> {
    config: LbfgsConfig,
    buf: B,
    n: usize,
    ro: [f64; M],
    al: [f64; M],
    /// Number of stored pairs and the ring position of the oldest.
    count: usize,
    head: usize,
    h_diag: f64,
    t: f64,
    n_iter: u64,
    func_evals: u64,
    _f: core::marker::PhantomData<F>,
}

/// The number of values of state L-BFGS needs for `n` parameters and history `m`.
pub const fn lbfgs_state_len(n: usize, m: usize) -> usize {
    // Saturating: a size that does not fit in memory is refused by `Lbfgs::new` as too small.
    m.saturating_mul(2).saturating_add(WORK).saturating_mul(n)
}

fn dot<F: Real>(a: &[F], b: &[F]) -> f64 {
    a.iter().zip(b).fold(0.0, |s, (x, y)| s + x.as_f64() * y.as_f64())
}

/// History slot `slot` of `n` values (in bounds: the history holds M·n; `get` spares the compiler
/// proving it).
fn history<F>(h: &[F], slot: usize, n: usize) -> &[F] {
    h.get(slot * n..(slot + 1) * n).unwrap_or(&[])
}

fn max_abs<F: Real>(a: &[F]) -> f64 {
    a.iter().fold(0.0, |m, x| m.max(x.as_f64().abs()))
}

impl<F: Real, B: AsMut<[F]> + AsRef<[F]>, const M: usize> Lbfgs<F, B, M> {
    /// L-BFGS for `n` parameters over `buf` (at least [`lbfgs_state_len`]`(n, M)` values).
    pub fn new(config: LbfgsConfig, n: usize, mut buf: B) -> Result<Self, Error> {
        if !(config.lr >= 0.0) {
            return Err(Error::InvalidHyperparameter { name: "lr", value: config.lr });
        }
        if M == 0 {
            return Err(Error::InvalidHyperparameter { name: "history_size", value: 0.0 });
        }
        if config.max_iter == 0 {
            return Err(Error::InvalidHyperparameter { name: "max_iter", value: 0.0 });
        }
        let needed = lbfgs_state_len(n, M);
        let available = buf.as_mut().len();
        if available < needed {
            return Err(Error::BufferTooSmall { what: "L-BFGS state", needed, available });
        }
        Ok(Lbfgs {
            config,
            buf,
            n,
            ro: [0.0; M],
            al: [0.0; M],
            count: 0,
            head: 0,
            h_diag: 1.0,
            t: 0.0,
            n_iter: 0,
            func_evals: 0,
            _f: core::marker::PhantomData,
        })
    }

    /// Total iterations over all steps.
    pub fn iterations(&self) -> u64 {
        self.n_iter
    }

    /// Total objective evaluations over all steps.
    pub fn evaluations(&self) -> u64 {
        self.func_evals
    }

    fn max_eval(&self) -> usize {
        self.config.max_eval.unwrap_or(self.config.max_iter.saturating_mul(5) / 4)
    }

    /// Runs up to `max_iter` iterations from `params`, as PyTorch's `LBFGS.step(closure)`.
    /// `f(x, g)` returns the loss at x and writes its gradient into g.
    pub fn step(
        &mut self,
        params: &mut [F],
        f: &mut dyn FnMut(&[F], &mut [F]) -> f64,
    ) -> Result<LbfgsReport, Error> {
        let n = self.n;
        if params.len() != n {
            return Err(Error::LengthMismatch { what: "params", expected: n, found: params.len() });
        }
        let cfg = self.config;
        let max_eval = self.max_eval();
        let all = self.buf.as_mut();
        let available = all.len();
        let short = Error::BufferTooSmall { what: "L-BFGS state", needed: lbfgs_state_len(n, M), available };
        let (hist, work) = all.split_at_mut_checked(2 * M * n).ok_or(short)?;
        let (s_hist, y_hist) = hist.split_at_mut_checked(M * n).ok_or(short)?;
        let mut w: [&mut [F]; WORK] = {
            let mut rest = work.get_mut(..WORK * n).ok_or(short)?;
            core::array::from_fn(|_| {
                let (a, b) = core::mem::take(&mut rest).split_at_mut_checked(n).unwrap_or_default();
                rest = b;
                a
            })
        };
        let mut loss = f(params, &mut *w[G]);
        let orig_loss = loss;
        let mut current_evals = 1;
        self.func_evals += 1;
        let mut report = LbfgsReport { loss: orig_loss, iterations: 0, evaluations: 1 };
        if max_abs(&*w[G]) <= cfg.tolerance_grad {
            return Ok(report);
        }
        let mut prev_loss;
        let mut n_iter = 0;
        while n_iter < cfg.max_iter {
            n_iter += 1;
            self.n_iter += 1;
            if self.n_iter == 1 {
                let (d, g) = pair(&mut w, D, G);
                for (d, g) in d.iter_mut().zip(g.iter()) {
                    *d = -*g;
                }
                self.count = 0;
                self.head = 0;
                self.h_diag = 1.0;
            } else {
                // y = g − g_prev (into G_NEW as scratch), s = t·d; ys = yᵀs.
                let t = self.t;
                let (ys, yy) = {
                    let mut ys = 0.0;
                    let mut yy = 0.0;
                    for i in 0..n {
                        let y = w[G][i].as_f64() - w[G_PREV][i].as_f64();
                        let s = t * w[D][i].as_f64();
                        ys += y * s;
                        yy += y * y;
                    }
                    (ys, yy)
                };
                if ys > 1e-10 {
                    let slot = if self.count == M {
                        let s = self.head;
                        self.head = (self.head + 1) % M;
                        s
                    } else {
                        let s = (self.head + self.count) % M;
                        self.count += 1;
                        s
                    };
                    let at = slot * n..(slot + 1) * n;
                    if let (Some(ys), Some(ss)) = (y_hist.get_mut(at.clone()), s_hist.get_mut(at)) {
                        let (g, gp, d) = (w[G].iter(), w[G_PREV].iter(), w[D].iter());
                        for ((y, s), ((g, gp), d)) in ys.iter_mut().zip(ss.iter_mut()).zip(g.zip(gp).zip(d)) {
                            *y = F::from_f64(g.as_f64() - gp.as_f64());
                            *s = F::from_f64(t * d.as_f64());
                        }
                    }
                    if let Some(ro) = self.ro.get_mut(slot) {
                        *ro = 1.0 / ys;
                    }
                    self.h_diag = ys / yy;
                }
                // Two-loop recursion: q = −g; newest to oldest, then oldest to newest.
                let (d, g) = pair(&mut w, D, G);
                for (d, g) in d.iter_mut().zip(g.iter()) {
                    *d = -*g;
                }
                for k in (0..self.count).rev() {
                    let slot = (self.head + k) % M;
                    let a = dot(history(s_hist, slot, n), &*w[D]) * self.ro[slot];
                    self.al[slot] = a;
                    for (q, y) in w[D].iter_mut().zip(history(y_hist, slot, n)) {
                        *q = F::from_f64(q.as_f64() - a * y.as_f64());
                    }
                }
                for q in w[D].iter_mut() {
                    *q = F::from_f64(q.as_f64() * self.h_diag);
                }
                for k in 0..self.count {
                    let slot = (self.head + k) % M;
                    let be = dot(history(y_hist, slot, n), &*w[D]) * self.ro[slot];
                    let c = self.al[slot] - be;
                    for (r, s) in w[D].iter_mut().zip(history(s_hist, slot, n)) {
                        *r = F::from_f64(r.as_f64() + c * s.as_f64());
                    }
                }
            }
            let (gp, g) = pair(&mut w, G_PREV, G);
            gp.copy_from_slice(g);
            prev_loss = loss;
            let t0 = if self.n_iter == 1 {
                let l1: f64 = w[G].iter().map(|x| x.as_f64().abs()).sum();
                f64::min(1.0, 1.0 / l1) * cfg.lr
            } else {
                cfg.lr
            };
            self.t = t0;
            let gtd = dot(&*w[G], &*w[D]);
            if gtd > -cfg.tolerance_change {
                break;
            }
            let mut ls_evals = 0;
            let mut opt_cond = false;
            match cfg.line_search {
                LineSearch::StrongWolfe => {
                    let (fl, t, evals) = strong_wolfe(
                        &mut w,
                        params,
                        f,
                        self.t,
                        loss,
                        gtd,
                        WOLFE_TOLERANCE_CHANGE,
                        max_eval.saturating_sub(current_evals),
                    );
                    loss = fl;
                    self.t = t;
                    ls_evals = evals;
                    for (p, d) in params.iter_mut().zip(w[D].iter()) {
                        *p = F::from_f64(p.as_f64() + t * d.as_f64());
                    }
                    opt_cond = max_abs(&*w[G]) <= cfg.tolerance_grad;
                }
                LineSearch::Armijo => {
                    let mut t = self.t;
                    loop {
                        let (xt, d) = pair(&mut w, XT, D);
                        for ((x, p), d) in xt.iter_mut().zip(params.iter()).zip(d.iter()) {
                            *x = F::from_f64(p.as_f64() + t * d.as_f64());
                        }
                        let (xt, gn) = pair(&mut w, XT, G_NEW);
                        let fl = f(xt, gn);
                        ls_evals += 1;
                        if fl <= loss + 1e-4 * t * gtd || current_evals + ls_evals >= max_eval || t < 1e-20 {
                            loss = fl;
                            break;
                        }
                        t *= 0.5;
                    }
                    self.t = t;
                    let (p_new, _) = pair(&mut w, XT, G);
                    params.copy_from_slice(p_new);
                    let (g, gn) = pair(&mut w, G, G_NEW);
                    g.copy_from_slice(gn);
                    opt_cond = max_abs(&*w[G]) <= cfg.tolerance_grad;
                }
                LineSearch::None => {
                    for (p, d) in params.iter_mut().zip(w[D].iter()) {
                        *p = F::from_f64(p.as_f64() + self.t * d.as_f64());
                    }
                    if n_iter != cfg.max_iter {
                        loss = f(params, &mut *w[G]);
                        opt_cond = max_abs(&*w[G]) <= cfg.tolerance_grad;
                        ls_evals = 1;
                    }
                }
            }
            current_evals += ls_evals;
            self.func_evals += ls_evals as u64;
            report.iterations = n_iter;
            report.evaluations = current_evals;
            if n_iter == cfg.max_iter || current_evals >= max_eval || opt_cond {
                break;
            }
            if max_abs(&*w[D]) * self.t.abs() <= cfg.tolerance_change {
                break;
            }
            if (loss - prev_loss).abs() < cfg.tolerance_change {
                break;
            }
        }
        report.iterations = n_iter;
        report.evaluations = current_evals;
        Ok(report)
    }
}

/// Two distinct work vectors, mutably (two empty slices for a pair that is not one: callers pass
/// two distinct constants below `WORK`, and `get` spares the compiler proving it).
fn pair<'a, F>(w: &'a mut [&mut [F]; WORK], a: usize, b: usize) -> (&'a mut [F], &'a mut [F]) {
    let (lo, hi, swap) = if a < b { (a, b, false) } else { (b, a, true) };
    let Some((left, right)) = w.split_at_mut_checked(hi) else { return (&mut [], &mut []) };
    let (Some(x), Some(y)) = (left.get_mut(lo), right.first_mut()) else { return (&mut [], &mut []) };
    let (x, y) = (&mut **x, &mut **y);
    if swap { (y, x) } else { (x, y) }
}

/// PyTorch's `_cubic_interpolate`: the minimizer of the cubic through (x1, f1, g1), (x2, f2, g2),
/// clamped to `bounds` (or to [x1, x2]); the midpoint when the cubic has no minimum.
pub fn cubic_interpolate(
    x1: f64,
    f1: f64,
    g1: f64,
    x2: f64,
    f2: f64,
    g2: f64,
    bounds: Option<(f64, f64)>,
) -> f64 {
    let (lo, hi) = bounds.unwrap_or(if x1 <= x2 { (x1, x2) } else { (x2, x1) });
    let d1 = g1 + g2 - 3.0 * (f1 - f2) / (x1 - x2);
    let d2_square = d1 * d1 - g1 * g2;
    if d2_square >= 0.0 {
        let d2 = libm::sqrt(d2_square);
        let min_pos = if x1 <= x2 {
            x2 - (x2 - x1) * ((g2 + d2 - d1) / (g2 - g1 + 2.0 * d2))
        } else {
            x1 - (x1 - x2) * ((g1 + d2 - d1) / (g1 - g2 + 2.0 * d2))
        };
        f64::min(f64::max(min_pos, lo), hi)
    } else {
        (lo + hi) / 2.0
    }
}

/// Evaluates f at x + t·d: returns the loss, gradient in G_NEW, and gᵀd.
fn eval_at<F: Real>(
    w: &mut [&mut [F]; WORK],
    x: &[F],
    f: &mut dyn FnMut(&[F], &mut [F]) -> f64,
    t: f64,
) -> (f64, f64) {
    {
        let (xt, d) = pair(w, XT, D);
        for ((o, p), d) in xt.iter_mut().zip(x).zip(d.iter()) {
            *o = F::from_f64(p.as_f64() + t * d.as_f64());
        }
    }
    let (xt, gn) = pair(w, XT, G_NEW);
    let fl = f(xt, gn);
    let gtd = dot(&*w[G_NEW], &*w[D]);
    (fl, gtd)
}

/// PyTorch's `_strong_wolfe` (c1 = 1e-4, c2 = 0.9). On return the accepted gradient is in G.
/// Bracket gradients live in BR_A and BR_B; G_PREV holds the previous trial's gradient.
#[allow(clippy::too_many_arguments)]
fn strong_wolfe<F: Real>(
    w: &mut [&mut [F]; WORK],
    x: &[F],
    f: &mut dyn FnMut(&[F], &mut [F]) -> f64,
    mut t: f64,
    f0: f64,
    gtd0: f64,
    tolerance_change: f64,
    max_ls: usize,
) -> (f64, f64, usize) {
    const C1: f64 = 1e-4;
    const C2: f64 = 0.9;
    let d_norm = max_abs(&*w[D]);
    let (mut f_new, mut gtd_new) = eval_at(w, x, f, t);
    let mut evals = 1;
    // The starting point's gradient is needed as g_prev (t_prev = 0): keep it in G_PREV.
    {
        let (gp, g) = pair(w, G_PREV, G);
        gp.copy_from_slice(g);
    }
    let (mut t_prev, mut f_prev, mut gtd_prev) = (0.0, f0, gtd0);
    let mut done = false;
    let mut ls_iter = 0;
    // Bracket: (t, f, gtd) at positions 0 and 1; gradients in BR_A (0) and BR_B (1).
    let mut br = [(0.0f64, 0.0f64, 0.0f64); 2];
    let mut len = 0usize;
    let copy = |w: &mut [&mut [F]; WORK], dst: usize, src: usize| {
        let (a, b) = pair(w, dst, src);
        a.copy_from_slice(b);
    };
    while ls_iter < max_ls {
        if f_new > f0 + C1 * t * gtd0 || (ls_iter > 1 && f_new >= f_prev) {
            br = [(t_prev, f_prev, gtd_prev), (t, f_new, gtd_new)];
            copy(w, BR_A, G_PREV);
            copy(w, BR_B, G_NEW);
            len = 2;
            break;
        }
        if gtd_new.abs() <= -C2 * gtd0 {
            br[0] = (t, f_new, gtd_new);
            copy(w, BR_A, G_NEW);
            len = 1;
            done = true;
            break;
        }
        if gtd_new >= 0.0 {
            br = [(t_prev, f_prev, gtd_prev), (t, f_new, gtd_new)];
            copy(w, BR_A, G_PREV);
            copy(w, BR_B, G_NEW);
            len = 2;
            break;
        }
        let min_step = t + 0.01 * (t - t_prev);
        let max_step = t * 10.0;
        let tmp = t;
        t = cubic_interpolate(t_prev, f_prev, gtd_prev, t, f_new, gtd_new, Some((min_step, max_step)));
        t_prev = tmp;
        f_prev = f_new;
        copy(w, G_PREV, G_NEW);
        gtd_prev = gtd_new;
        let r = eval_at(w, x, f, t);
        f_new = r.0;
        gtd_new = r.1;
        evals += 1;
        ls_iter += 1;
    }
    if ls_iter == max_ls {
        // No bracket found within the budget: [0, t] (gradient at 0 is the original, in G).
        br = [(0.0, f0, gtd0), (t, f_new, gtd_new)];
        copy(w, BR_A, G);
        copy(w, BR_B, G_NEW);
        len = 2;
    }
    let slot = |i: usize| if i == 0 { BR_A } else { BR_B };
    let (mut low, mut high) = if len < 2 || br[0].1 <= br[1].1 { (0usize, 1usize) } else { (1, 0) };
    let mut insuf_progress = false;
    while !done && ls_iter < max_ls && len == 2 {
        if (br[1].0 - br[0].0).abs() * d_norm < tolerance_change {
            break;
        }
        t = cubic_interpolate(br[0].0, br[0].1, br[0].2, br[1].0, br[1].1, br[1].2, None);
        let bmax = f64::max(br[0].0, br[1].0);
        let bmin = f64::min(br[0].0, br[1].0);
        let eps = 0.1 * (bmax - bmin);
        if f64::min(bmax - t, t - bmin) < eps {
            if insuf_progress || t >= bmax || t <= bmin {
                t = if (t - bmax).abs() < (t - bmin).abs() { bmax - eps } else { bmin + eps };
                insuf_progress = false;
            } else {
                insuf_progress = true;
            }
        } else {
            insuf_progress = false;
        }
        let r = eval_at(w, x, f, t);
        f_new = r.0;
        gtd_new = r.1;
        evals += 1;
        ls_iter += 1;
        if f_new > f0 + C1 * t * gtd0 || f_new >= br[low].1 {
            br[high] = (t, f_new, gtd_new);
            copy(w, slot(high), G_NEW);
            (low, high) = if br[0].1 <= br[1].1 { (0, 1) } else { (1, 0) };
        } else {
            if gtd_new.abs() <= -C2 * gtd0 {
                done = true;
            } else if gtd_new * (br[high].0 - br[low].0) >= 0.0 {
                br[high] = br[low];
                copy(w, slot(high), slot(low));
            }
            br[low] = (t, f_new, gtd_new);
            copy(w, slot(low), G_NEW);
        }
    }
    let (t_acc, f_acc, _) = br[low];
    copy(w, G, slot(low));
    (f_acc, t_acc, evals)
}
