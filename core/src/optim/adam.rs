//! Adam, AdamW and AMSGrad (`torch.optim.Adam`, `torch.optim.AdamW`).
//!
//! ```text
//! g ← −g if maximize;  g ← g + λθ (L2)   or   θ ← θ(1 − γλ) (decoupled, AdamW)
//! m ← lerp(m, g, 1 − β1)            v ← β2·v + (1 − β2)·g²
//! v_max ← max(v_max, v)  (amsgrad: the raw second moment, as PyTorch 2.x)
//! θ ← θ − (γ / (1 − β1^t)) · m / (√v(or v_max) / √(1 − β2^t) + ε)
//! ```
//! Source: `torch/optim/adam.py::_single_tensor_adam` (PyTorch 2.x); Kingma & Ba 2015 (Adam),
//! Loshchilov & Hutter 2019 (AdamW), Reddi et al. 2018 (AMSGrad).
//!
//! State per parameter: 2 values (m, v), 3 with amsgrad (v_max).
//!
//! Differs elsewhere: Keras and TF put ε̂ on the uncorrected √v (ε̂ = ε√(1−β2^t) gives PyTorch's
//! form); optax's AMSGrad takes the max of the bias-corrected v̂; burn's default ε is 1e-5.

use super::ops::{Lerp, add_alpha, addcdiv, addcmul, directed};
use super::{BlockStep, Codec, Optim, UpdateRule, fused2_loop};
use crate::error::{Error, check_ge, check_range_open};
use crate::power::BetaPowers;
use crate::real::{Real, pow_step};

/// Hyperparameters of Adam and AdamW, with PyTorch's names and defaults.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct AdamConfig {
    /// Learning rate γ (default 1e-3).
    pub lr: f64,
    /// (β1, β2), the decay rates of the moment estimates (default (0.9, 0.999)).
    pub betas: (f64, f64),
    /// ε added to the denominator (default 1e-8).
    pub eps: f64,
    /// λ (default 0 for Adam, 1e-2 for AdamW).
    pub weight_decay: f64,
    /// Keep the running maximum of the second moment (AMSGrad; default false).
    pub amsgrad: bool,
    /// Maximize instead of minimize (default false).
    pub maximize: bool,
    /// Decoupled weight decay θ ← θ(1 − γλ) (AdamW) instead of L2 (default false).
    pub decoupled_weight_decay: bool,
}

crate::fields!(AdamConfig { lr, betas, eps, weight_decay, amsgrad, maximize, decoupled_weight_decay });

impl Default for AdamConfig {
    fn default() -> Self {
        AdamConfig {
            lr: 1e-3,
            betas: (0.9, 0.999),
            eps: 1e-8,
            weight_decay: 0.0,
            amsgrad: false,
            maximize: false,
            decoupled_weight_decay: false,
        }
    }
}

impl AdamConfig {
    /// `torch.optim.AdamW`'s defaults: decoupled weight decay 1e-2.
    pub fn adamw() -> Self {
        AdamConfig { weight_decay: 1e-2, decoupled_weight_decay: true, ..Self::default() }
    }
}

crate::persist_fields!(AdamConfig { lr: f64, betas.0: f64, betas.1: f64, eps: f64, weight_decay: f64, amsgrad: bool, maximize: bool, decoupled_weight_decay: bool });

/// Adam owning its state for `N` parameters (2 × N values).
pub type Adam<F, const N: usize> = Optim<AdamConfig, F, [[F; N]; 2]>;
/// Adam with `amsgrad = true` owning its state for `N` parameters (3 × N values).
pub type AdamAmsgrad<F, const N: usize> = Optim<AdamConfig, F, [[F; N]; 3]>;
/// Adam over a state buffer the caller provides (2 × n values, 3 × n with amsgrad).
pub type AdamView<'a, F> = Optim<AdamConfig, F, &'a mut [F]>;

/// Per-step scalars of Adam, computed once in `f64` and rounded.
struct Step<F> {
    gsign: bool,
    wd: F,
    decay: Option<F>,
    m: Lerp<F>,
    b2: F,
    one_minus_b2: F,
    bc2_sqrt: F,
    eps: F,
    neg_step_size: F,
}

impl AdamConfig {
    fn scalars<F: Real>(&self, powers: &mut BetaPowers, t: u64) -> Step<F> {
        let (b1, b2) = self.betas;
        let bc1 = 1.0 - powers.b1.at(b1, t);
        let bc2 = 1.0 - powers.b2.at(b2, t);
        let (one_minus_b1, b1_again) = powers.b1.complements(b1);
        let (one_minus_b2, _) = powers.b2.complements(b2);
        let decoupled = self.weight_decay != 0.0 && self.decoupled_weight_decay;
        Step {
            gsign: self.maximize,
            wd: F::from_f64(if decoupled { 0.0 } else { self.weight_decay }),
            decay: decoupled.then(|| F::from_f64(1.0 - self.lr * self.weight_decay)),
            m: Lerp::of(one_minus_b1, b1_again),
            b2: F::from_f64(b2),
            one_minus_b2: F::from_f64(one_minus_b2),
            bc2_sqrt: F::from_f64(libm::sqrt(bc2)),
            eps: F::from_f64(self.eps),
            neg_step_size: F::from_f64(-(self.lr / bc1)),
        }
    }
}

impl<F: Real> Step<F> {
    /// [`Step::apply`] without amsgrad, maximize or L2 decay and with β1 > 0.5 (ATen's small-weight
    /// lerp), decoupled decay as a const generic: the same operations in the same order, with no
    /// branch left in the loop.
    #[inline(always)]
    fn apply_plain<const DECOUPLED: bool>(&self, p: &mut F, g: F, m: &mut F, v: &mut F) {
        if DECOUPLED && let Some(d) = self.decay {
            *p = *p * d;
        }
        *m = super::ops::lerp(*m, g, self.m.w, self.m.one_minus_w, true);
        *v = addcmul(*v * self.b2, self.one_minus_b2, g, g);
        let denom = v.sqrt() / self.bc2_sqrt + self.eps;
        *p = addcdiv(*p, self.neg_step_size, *m, denom);
    }

    /// The per-element rule; `vmax` is `None` without amsgrad.
    #[inline(always)]
    fn apply(&self, p: &mut F, g: F, m: &mut F, v: &mut F, vmax: Option<&mut F>) {
        let mut g = directed(g, self.gsign);
        if let Some(d) = self.decay {
            *p = *p * d;
        } else if self.wd != F::ZERO {
            g = add_alpha(g, self.wd, *p);
        }
        *m = self.m.apply(*m, g);
        *v = addcmul(*v * self.b2, self.one_minus_b2, g, g);
        let second = match vmax {
            Some(vm) => {
                *vm = vm.max_nan(*v);
                *vm
            }
            None => *v,
        };
        let denom = second.sqrt() / self.bc2_sqrt + self.eps;
        *p = addcdiv(*p, self.neg_step_size, *m, denom);
    }
}

/// Step `t` of Adam with its scalars computed, ready for blocks of parameters.
struct Prepared<F, const L: usize> {
    s: Step<F>,
    amsgrad: bool,
}

impl<F: Real, const L: usize> BlockStep<F> for Prepared<F, L> {
    #[inline(always)]
    fn block(&mut self, p: &mut [F], g: &[F], state: &mut [F]) {
        let n = p.len();
        let s = &self.s;
        // Staged chunks: measured faster for Adam (see `lanes::zip2_staged`).
        const STAGED: bool = crate::lanes::STAGED_WHERE_MEASURED;
        if self.amsgrad {
            let [m, v, vmax] = streams!(state, n; 3);
            crate::lanes::zip3_as::<F, L, STAGED>(p, g, m, v, vmax, |p, g, m, v, vm| {
                s.apply(p, g, m, v, Some(vm))
            });
        } else {
            let [m, v] = streams!(state, n; 2);
            // Adam's and AdamW's usual settings get a loop without per-element branches (the
            // general rule's loop-invariant branches kept the 262,144-element step 10 % slower).
            match (s.gsign, s.decay, s.wd == F::ZERO, s.m.small) {
                (false, None, true, true) => {
                    crate::lanes::zip2_as::<F, L, STAGED>(p, g, m, v, |p, g, m, v| {
                        s.apply_plain::<false>(p, g, m, v)
                    })
                }
                (false, Some(_), _, true) => {
                    crate::lanes::zip2_as::<F, L, STAGED>(p, g, m, v, |p, g, m, v| {
                        s.apply_plain::<true>(p, g, m, v)
                    })
                }
                _ => {
                    crate::lanes::zip2_as::<F, L, STAGED>(p, g, m, v, |p, g, m, v| s.apply(p, g, m, v, None))
                }
            }
        }
    }

    #[inline(always)]
    fn fused2<C: Codec<F>>(
        &mut self,
        p: &mut [F],
        g: &[F],
        m: &mut [C::Stored],
        v: &mut [C::Stored],
    ) -> bool {
        if self.amsgrad {
            return false;
        }
        let s = &self.s;
        // The same three loops as `block`, each element decoded and encoded in the same pass.
        match (s.gsign, s.decay, s.wd == F::ZERO, s.m.small) {
            (false, None, true, true) => {
                fused2_loop::<F, C>(p, g, m, v, |p, g, m, v| s.apply_plain::<false>(p, g, m, v))
            }
            (false, Some(_), _, true) => {
                fused2_loop::<F, C>(p, g, m, v, |p, g, m, v| s.apply_plain::<true>(p, g, m, v))
            }
            _ => fused2_loop::<F, C>(p, g, m, v, |p, g, m, v| s.apply(p, g, m, v, None)),
        }
        true
    }
}

impl UpdateRule for AdamConfig {
    type Scalars = BetaPowers;
    const NAME: &'static str = "adam";
    const ID: u8 = 2;

    fn name(&self) -> &'static str {
        if self.decoupled_weight_decay { "adamw" } else { "adam" }
    }

    fn validate(&self) -> Result<(), Error> {
        check_ge("lr", self.lr, 0.0)?;
        check_ge("eps", self.eps, 0.0)?;
        check_range_open("betas[0]", self.betas.0, 0.0, 1.0)?;
        check_range_open("betas[1]", self.betas.1, 0.0, 1.0)?;
        check_ge("weight_decay", self.weight_decay, 0.0)
    }

    fn state_len(&self, n: usize) -> usize {
        n * if self.amsgrad { 3 } else { 2 }
    }

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

    #[inline(always)]
    fn kernel<F: Real, const L: usize>(
        &self,
        powers: &mut BetaPowers,
        t: u64,
        p: &mut [F],
        g: &[F],
        state: &mut [F],
        _: &mut [F],
    ) {
        self.prepare::<F, L>(powers, t).block(p, g, state);
    }

    #[inline(always)]
    fn prepare<'a, F: Real, const L: usize>(
        &'a self,
        powers: &'a mut BetaPowers,
        t: u64,
    ) -> impl BlockStep<F> + 'a {
        Prepared::<F, L> { s: self.scalars::<F>(powers, t), amsgrad: self.amsgrad }
    }

    fn reference<F: Real>(
        &self,
        _: &mut BetaPowers,
        t: u64,
        p: &mut [F],
        g: &[F],
        state: &mut [F],
        _: &mut [F],
    ) {
        let n = p.len();
        let (beta1, beta2) = self.betas;
        let bias_correction1 = 1.0 - pow_step(beta1, t);
        let bias_correction2 = 1.0 - pow_step(beta2, t);
        let step_size = self.lr / bias_correction1;
        let bias_correction2_sqrt = libm::sqrt(bias_correction2);
        let (m, rest) = state.split_at_mut(n.min(state.len()));
        let (v, vmax) = rest.split_at_mut(n.min(rest.len()));
        let c = F::from_f64;
        let exp_avg_weight = Lerp::<F>::new(1.0 - beta1);
        for i in 0..n.min(g.len()).min(m.len()).min(v.len()) {
            let mut grad = if self.maximize { -g[i] } else { g[i] };
            if self.weight_decay != 0.0 {
                if self.decoupled_weight_decay {
                    p[i] = p[i] * c(1.0 - self.lr * self.weight_decay);
                } else {
                    grad = grad + c(self.weight_decay) * p[i];
                }
            }
            m[i] = exp_avg_weight.apply(m[i], grad);
            v[i] = v[i] * c(beta2) + c(1.0 - beta2) * grad * grad;
            let second = if self.amsgrad {
                vmax[i] = vmax[i].max_nan(v[i]);
                vmax[i]
            } else {
                v[i]
            };
            let denom = second.sqrt() / c(bias_correction2_sqrt) + c(self.eps);
            p[i] = p[i] + c(-step_size) * (m[i] / denom);
        }
    }
}
