//! NAdam, Adam with Nesterov momentum and PyTorch's momentum schedule (`torch.optim.NAdam`).
//!
//! ```text
//! g ← −g if maximize;  g ← g + λθ (L2)  or  θ ← θ(1 − γλ) (decoupled_weight_decay)
//! μ_t = β1(1 − ½·0.96^(tψ)),  μ_{t+1} = β1(1 − ½·0.96^((t+1)ψ)),  Π_t = Π_{t−1}·μ_t
//! m ← lerp(m, g, 1 − β1);  v ← β2·v + (1 − β2)g²
//! d ← √(v / (1 − β2^t)) + ε
//! θ ← θ − γ(1 − μ_t)/(1 − Π_t) · g/d − γμ_{t+1}/(1 − Π_t·μ_{t+1}) · m/d
//! ```
//! Source: `torch/optim/nadam.py::_single_tensor_nadam`; Dozat 2016. ψ = `momentum_decay`.
//!
//! State per parameter: 2 values (m, v); one scalar Π (`mu_product`).
//!
//! Differs elsewhere: Keras uses 0.96^t with no ψ (μ reaches β1 within ~100 steps rather than
//! ~10⁵); optax's `nadam` is `adam(nesterov=True)` with a constant μ = β1.

use super::ops::{Lerp, add_alpha, addcdiv, addcmul, directed};
use super::{Optim, UpdateRule};
use crate::error::{Error, check_ge, check_range_open};
use crate::power::StepPower;
use crate::real::{Real, pow_step, powf64};

/// Hyperparameters of NAdam, with PyTorch's names and defaults.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct NadamConfig {
    /// Learning rate γ (default 2e-3).
    pub lr: f64,
    /// (β1, β2) (default (0.9, 0.999)).
    pub betas: (f64, f64),
    /// ε (default 1e-8).
    pub eps: f64,
    /// λ (default 0).
    pub weight_decay: f64,
    /// ψ, the momentum schedule's decay (default 4e-3).
    pub momentum_decay: f64,
    /// Decoupled weight decay as in AdamW (default false).
    pub decoupled_weight_decay: bool,
    /// Maximize instead of minimize (default false).
    pub maximize: bool,
}

crate::fields!(NadamConfig {
    lr,
    betas,
    eps,
    weight_decay,
    momentum_decay,
    decoupled_weight_decay,
    maximize
});

impl Default for NadamConfig {
    fn default() -> Self {
        NadamConfig {
            lr: 2e-3,
            betas: (0.9, 0.999),
            eps: 1e-8,
            weight_decay: 0.0,
            momentum_decay: 4e-3,
            decoupled_weight_decay: false,
            maximize: false,
        }
    }
}

crate::persist_fields!(NadamConfig { lr: f64, betas.0: f64, betas.1: f64, eps: f64, weight_decay: f64, momentum_decay: f64, decoupled_weight_decay: bool, maximize: bool });

/// Scalar state of NAdam.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct NadamScalars {
    /// Π_t, the product of the momentum coefficients so far (PyTorch's `mu_product`, starts at 1).
    pub mu_product: f64,
    /// β2^t carried from step to step ([`crate::power`]): a cache, not saved.
    pub b2_power: StepPower,
}

impl Default for NadamScalars {
    fn default() -> Self {
        NadamScalars { mu_product: 1.0, b2_power: StepPower::default() }
    }
}

crate::persist_fields!(NadamScalars { mu_product: f64 });

/// NAdam owning its state for `N` parameters (2 × N values).
pub type Nadam<F, const N: usize> = Optim<NadamConfig, F, [[F; N]; 2]>;
/// NAdam over a caller-provided buffer (2 × n values).
pub type NadamView<'a, F> = Optim<NadamConfig, F, &'a mut [F]>;

/// The step's coefficients (shared by kernel and reference) from β2^t: (μ_t, μ_{t+1}, Π_t,
/// Π_t·μ_{t+1}, 1 − β2^t). (μ's powers of 0.96 have the exponent t·ψ, not an integer: libm's `pow`.)
fn coefficients(c: &NadamConfig, mu_product: f64, t: u64, b2t: f64) -> (f64, f64, f64, f64, f64) {
    let b1 = c.betas.0;
    let tf = t as f64;
    let mu = b1 * (1.0 - 0.5 * powf64(0.96, tf * c.momentum_decay));
    let mu_next = b1 * (1.0 - 0.5 * powf64(0.96, (tf + 1.0) * c.momentum_decay));
    let prod = mu_product * mu;
    (mu, mu_next, prod, prod * mu_next, 1.0 - b2t)
}

impl UpdateRule for NadamConfig {
    type Scalars = NadamScalars;
    const NAME: &'static str = "nadam";
    const ID: u8 = 7;

    fn validate(&self) -> Result<(), Error> {
        check_ge("lr", self.lr, 0.0)?;
        check_ge("eps", self.eps, 0.0)?;
        check_range_open("betas[0]", self.betas.0, 0.0, 1.0)?;
        check_range_open("betas[1]", self.betas.1, 0.0, 1.0)?;
        check_ge("weight_decay", self.weight_decay, 0.0)?;
        check_ge("momentum_decay", self.momentum_decay, 0.0)
    }
    fn state_len(&self, n: usize) -> usize {
        2 * n
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
        sc: &mut NadamScalars,
        t: u64,
        p: &mut [F],
        g: &[F],
        state: &mut [F],
        _: &mut [F],
    ) {
        let c = F::from_f64;
        let b2t = sc.b2_power.at(self.betas.1, t);
        let (mu, mu_next, prod, prod_next, bc2) = coefficients(self, sc.mu_product, t, b2t);
        let decoupled = self.weight_decay != 0.0 && self.decoupled_weight_decay;
        let decay = c(1.0 - self.lr * self.weight_decay);
        let wd = c(if decoupled { 0.0 } else { self.weight_decay });
        let (max, b2, one_minus_b2, bc2, eps) =
            (self.maximize, c(self.betas.1), c(1.0 - self.betas.1), c(bc2), c(self.eps));
        let coef_g = c(-self.lr * (1.0 - mu) / (1.0 - prod));
        let coef_m = c((-self.lr * mu_next) / (1.0 - prod_next));
        let m_w = Lerp::<F>::new(1.0 - self.betas.0);
        let [m, v] = streams!(state, p.len(); 2);
        crate::lanes::zip2::<F, L>(p, g, m, v, |p, g, m, v| {
            let mut g = directed(g, max);
            if decoupled {
                *p = *p * decay;
            } else if wd != F::ZERO {
                g = add_alpha(g, wd, *p);
            }
            *m = m_w.apply(*m, g);
            *v = addcmul(*v * b2, one_minus_b2, g, g);
            let d = (*v / bc2).sqrt() + eps;
            *p = addcdiv(*p, coef_g, g, d);
            *p = addcdiv(*p, coef_m, *m, d);
        });
        sc.mu_product = prod;
    }

    fn reference<F: Real>(
        &self,
        sc: &mut NadamScalars,
        t: u64,
        p: &mut [F],
        g: &[F],
        state: &mut [F],
        _: &mut [F],
    ) {
        let c = F::from_f64;
        let n = p.len().min(g.len());
        if state.len() < 2 * n {
            return;
        }
        let (beta1, beta2) = self.betas;
        let tf = t as f64;
        let bias_correction2 = 1.0 - pow_step(beta2, t);
        let mu = beta1 * (1.0 - 0.5 * powf64(0.96, tf * self.momentum_decay));
        let mu_next = beta1 * (1.0 - 0.5 * powf64(0.96, (tf + 1.0) * self.momentum_decay));
        sc.mu_product *= mu;
        let mu_product_next = sc.mu_product * mu_next;
        let (exp_avg, exp_avg_sq) = state.split_at_mut(n);
        let weight = Lerp::<F>::new(1.0 - beta1);
        for i in 0..n {
            let mut grad = if self.maximize { -g[i] } else { g[i] };
            if self.weight_decay != 0.0 {
                if self.decoupled_weight_decay {
                    p[i] = p[i] * c(1.0 - self.lr * self.weight_decay);
                } else {
                    grad = grad + c(self.weight_decay) * p[i];
                }
            }
            exp_avg[i] = weight.apply(exp_avg[i], grad);
            exp_avg_sq[i] = exp_avg_sq[i] * c(beta2) + c(1.0 - beta2) * grad * grad;
            let denom = (exp_avg_sq[i] / c(bias_correction2)).sqrt() + c(self.eps);
            p[i] = p[i] + c(-self.lr * (1.0 - mu) / (1.0 - sc.mu_product)) * (grad / denom);
            p[i] = p[i] + c((-self.lr * mu_next) / (1.0 - mu_product_next)) * (exp_avg[i] / denom);
        }
    }
}
