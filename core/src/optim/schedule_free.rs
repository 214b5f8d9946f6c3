//! Schedule-free SGD and AdamW (`optax.contrib.schedule_free_sgd` and `schedule_free_adamw`;
//! Defazio et al. 2024, "The Road Less Scheduled").
//!
//! No learning-rate schedule (only an optional linear warm-up): momentum is replaced by an
//! interpolation y between the base optimizer's iterate z and the running average x of the z's,
//! and the gradient is taken at y:
//!
//! ```text
//! (at the first step z ← y, optax's init)
//! γ_t = lr·min(t, W)/W with a warm-up of W steps, else lr        (optax's linear_schedule)
//! lr_max ← max(lr_max, γ_t);   w = lr_max^p;   c = w / (Σw + w);   Σw ← Σw + w
//! u = −γ_{t−1}·(g + λy)                                  (SGD)
//! v ← β2·v + (1 − β2)·g²;  u = −γ_{t−1}·(g/(√(v/(1 − β2^t)) + ε) + λy)   (AdamW)
//! x = (y − (1 − β1)·z)/β1;   z ← z + u;   x ← (1 − c)·x + c·z;   y ← β1·x + (1 − β1)·z
//! ```
//!
//! The parameters this optimizer steps are y, optax's gradient point (what `apply_updates`
//! returns); evaluate (validation, test, the model you ship) at x, optax's
//! `schedule_free_eval_params`: [`Optimizer::eval_params`](super::Optimizer::eval_params).
//! State per parameter: z (SGD); z and v (AdamW); and two scalars (Σw and lr_max).
//!
//! Source: optax 0.2.8 `contrib/_schedule_free.py` (`schedule_free` around `sgd` with
//! `add_decayed_weights`, or around `scale_by_rms(eps_in_sqrt=False, bias_correction=True)` →
//! `add_decayed_weights` → `scale_by_learning_rate`). As there, the base step uses the warm-up
//! at the count before the step (γ_{t−1}: the first warm-up step does not move z) and the
//! weight at the count after it (γ_t).
//!
//! As optax, the warm-up schedule is computed in `f32` arithmetic whatever the float type
//! (optax's int32 step count makes JAX compute it in `float32`), so with `warmup_steps` the
//! learning rate used is `lr` rounded to `f32`, even after the warm-up.
//!
//! Differs from optax: `warmup_steps = 0` (optax: a learning rate of 0 forever) and a negative
//! `weight_lr_power` are refused.

use super::{EvalPoint, Optim, UpdateRule};
use crate::error::{Error, check_ge, check_range_open};
use crate::persist::{Persist, Reader, Writer};
use crate::real::{Real, pow_step, powf64};

/// Hyperparameters of schedule-free SGD, with optax's names (`learning_rate` → `lr`) and
/// defaults.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct ScheduleFreeSgdConfig {
    /// Learning rate (default 1).
    pub lr: f64,
    /// Steps of linear warm-up from 0 to `lr` (default none; 0 is refused).
    pub warmup_steps: Option<u32>,
    /// β1 of the interpolation y = β1·x + (1 − β1)·z, in (0, 1] (default 0.9).
    pub b1: f64,
    /// λ of the decayed weights added to the gradient, λ·y (default none).
    pub weight_decay: Option<f64>,
    /// p of the averaging weight lr_max^p (default 2).
    pub weight_lr_power: f64,
}

/// Hyperparameters of schedule-free AdamW, with optax's names (`learning_rate` → `lr`,
/// `b1, b2` → `betas`) and defaults.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct ScheduleFreeAdamwConfig {
    /// Learning rate (default 0.0025).
    pub lr: f64,
    /// Steps of linear warm-up from 0 to `lr` (default none; 0 is refused).
    pub warmup_steps: Option<u32>,
    /// (β1, β2): the interpolation's β1 in (0, 1] and the second moment's decay (default
    /// (0.9, 0.999)).
    pub betas: (f64, f64),
    /// ε added to the denominator (default 1e-8).
    pub eps: f64,
    /// λ of the decayed weights added to the update, λ·y (default 0).
    pub weight_decay: f64,
    /// p of the averaging weight lr_max^p (default 2).
    pub weight_lr_power: f64,
}

crate::fields!(ScheduleFreeSgdConfig { lr, warmup_steps, b1, weight_decay, weight_lr_power });
crate::fields!(ScheduleFreeAdamwConfig { lr, warmup_steps, betas, eps, weight_decay, weight_lr_power });

impl Default for ScheduleFreeSgdConfig {
    fn default() -> Self {
        ScheduleFreeSgdConfig {
            lr: 1.0,
            warmup_steps: None,
            b1: 0.9,
            weight_decay: None,
            weight_lr_power: 2.0,
        }
    }
}

impl Default for ScheduleFreeAdamwConfig {
    fn default() -> Self {
        ScheduleFreeAdamwConfig {
            lr: 0.0025,
            warmup_steps: None,
            betas: (0.9, 0.999),
            eps: 1e-8,
            weight_decay: 0.0,
            weight_lr_power: 2.0,
        }
    }
}

fn write_warmup(w: &mut Writer<'_>, warmup: Option<u32>) -> Result<(), Error> {
    w.bool(warmup.is_some())?;
    w.u64(u64::from(warmup.unwrap_or(0)))
}

fn read_warmup(r: &mut Reader<'_>) -> Result<Option<u32>, Error> {
    let has = r.bool()?;
    let n = u32::try_from(r.u64()?).map_err(|_| Error::CorruptState { reason: "warmup_steps" })?;
    Ok(has.then_some(n))
}

impl Persist for ScheduleFreeSgdConfig {
    fn write(&self, w: &mut Writer<'_>) -> Result<(), Error> {
        w.f64(self.lr)?;
        write_warmup(w, self.warmup_steps)?;
        w.f64(self.b1)?;
        w.bool(self.weight_decay.is_some())?;
        w.f64(self.weight_decay.unwrap_or(0.0))?;
        w.f64(self.weight_lr_power)
    }
    fn read(r: &mut Reader<'_>) -> Result<Self, Error> {
        let lr = r.f64()?;
        let warmup_steps = read_warmup(r)?;
        let b1 = r.f64()?;
        let has_wd = r.bool()?;
        let wd = r.f64()?;
        Ok(ScheduleFreeSgdConfig {
            lr,
            warmup_steps,
            b1,
            weight_decay: has_wd.then_some(wd),
            weight_lr_power: r.f64()?,
        })
    }
}

impl Persist for ScheduleFreeAdamwConfig {
    fn write(&self, w: &mut Writer<'_>) -> Result<(), Error> {
        w.f64(self.lr)?;
        write_warmup(w, self.warmup_steps)?;
        w.f64(self.betas.0)?;
        w.f64(self.betas.1)?;
        w.f64(self.eps)?;
        w.f64(self.weight_decay)?;
        w.f64(self.weight_lr_power)
    }
    fn read(r: &mut Reader<'_>) -> Result<Self, Error> {
        Ok(ScheduleFreeAdamwConfig {
            lr: r.f64()?,
            warmup_steps: read_warmup(r)?,
            betas: (r.f64()?, r.f64()?),
            eps: r.f64()?,
            weight_decay: r.f64()?,
            weight_lr_power: r.f64()?,
        })
    }
}

/// The scalar state of both rules: Σw, the sum of the averaging weights so far, and lr_max, the
/// largest learning rate so far (optax's `weight_sum` and `max_lr`).
#[derive(Debug, Clone, Copy, Default, PartialEq)]
pub struct ScheduleFreeScalars {
    /// Σw.
    pub weight_sum: f64,
    /// lr_max.
    pub max_lr: f64,
}

crate::persist_fields!(ScheduleFreeScalars { weight_sum: f64, max_lr: f64 });

/// Schedule-free SGD owning its state for `N` parameters (N values: z).
pub type ScheduleFreeSgd<F, const N: usize> = Optim<ScheduleFreeSgdConfig, F, [[F; N]; 1]>;
/// Schedule-free SGD over a caller-provided buffer (n values).
pub type ScheduleFreeSgdView<'a, F> = Optim<ScheduleFreeSgdConfig, F, &'a mut [F]>;
/// Schedule-free AdamW owning its state for `N` parameters (2 × N values: z, v).
pub type ScheduleFreeAdamw<F, const N: usize> = Optim<ScheduleFreeAdamwConfig, F, [[F; N]; 2]>;
/// Schedule-free AdamW over a caller-provided buffer (2 × n values).
pub type ScheduleFreeAdamwView<'a, F> = Optim<ScheduleFreeAdamwConfig, F, &'a mut [F]>;

/// optax's `warmup_constant_schedule(0, lr, W)` (a `linear_schedule`) at `count`, or `lr`
/// without warm-up. optax computes the schedule in `f32` whatever the parameters' type (its step
/// count is an `int32`, which JAX divides in `float32`): frac = 1 − min(count, W)/W and
/// −lr·frac + lr, each operation rounded to `f32`, so that with a warm-up the learning rate is
/// `f32`'s even after it. Done the same here, so that `f64` runs match optax's.
fn scheduled_lr(lr: f64, warmup: Option<u32>, count: u64) -> f64 {
    match warmup {
        Some(w) if w > 0 => {
            let c = count.min(u64::from(w)) as f32;
            let frac = 1.0f32 - c / (w as f32);
            f64::from((-lr) as f32 * frac + lr as f32)
        }
        _ => lr,
    }
}

/// The averaging coefficient c of step `t` and the scalars after it (optax's `ck`, NaN only
/// where the weight or the sum is NaN, 0 where 0/0 or ∞/∞).
fn average(
    lr: f64,
    warmup: Option<u32>,
    power: f64,
    sc: &ScheduleFreeScalars,
    t: u64,
) -> (f64, ScheduleFreeScalars) {
    let now = scheduled_lr(lr, warmup, t);
    let max_lr = if now.is_nan() || sc.max_lr.is_nan() { f64::NAN } else { now.max(sc.max_lr) };
    let weight = powf64(max_lr, power);
    let total = sc.weight_sum + weight;
    let ck = if weight.is_nan() || total.is_nan() {
        f64::NAN
    } else {
        let q = weight / total;
        if q.is_nan() { 0.0 } else { q }
    };
    (ck, ScheduleFreeScalars { weight_sum: total, max_lr })
}

/// The checks both rules share: `lr`, `warmup_steps`, β1 and `weight_lr_power`.
fn validate_common(
    lr: f64,
    warmup: Option<u32>,
    b1: f64,
    b1_name: &'static str,
    power: f64,
) -> Result<(), Error> {
    check_ge("lr", lr, 0.0)?;
    if warmup == Some(0) {
        return Err(Error::InvalidHyperparameter { name: "warmup_steps", value: 0.0 });
    }
    // β1 > 0 (x divides by it), ≤ 1.
    if !(b1 > 0.0 && b1 <= 1.0) {
        return Err(Error::InvalidHyperparameter { name: b1_name, value: b1 });
    }
    check_range_open("weight_lr_power", power, 0.0, f64::INFINITY)
}

/// Per-step scalars shared by both rules, rounded to `F`.
struct Shared<F> {
    first: bool,
    b1: F,
    one_minus_b1: F,
    ck: F,
    one_minus_ck: F,
    wd: F,
    neg_lr: F,
}

impl<F: Real> Shared<F> {
    fn new(b1: f64, ck: f64, wd: f64, base_lr: f64, t: u64) -> Self {
        let c = F::from_f64;
        let ck = c(ck);
        Shared {
            first: t <= 1,
            b1: c(b1),
            one_minus_b1: c(1.0 - b1),
            ck,
            one_minus_ck: F::ONE - ck,
            wd: c(wd),
            neg_lr: c(-base_lr),
        }
    }

    /// The schedule-free part, after the base step's direction `d` (before the learning rate and
    /// the weight decay): z ← z − γ(d + λy), x from the old z, averaged, y interpolated.
    #[inline(always)]
    fn finish(&self, y: &mut F, d: F, z: &mut F) {
        let u = (d + self.wd * *y) * self.neg_lr;
        let z_new = *z + u;
        let prev_x = (*y - self.one_minus_b1 * *z) / self.b1;
        let x = self.one_minus_ck * prev_x + self.ck * z_new;
        let y_new = self.b1 * x + self.one_minus_b1 * z_new;
        *y = *y + (y_new - *y);
        *z = z_new;
    }
}

/// Per-step scalars of schedule-free SGD.
struct SgdStep<F>(Shared<F>);

impl<F: Real> SgdStep<F> {
    #[inline(always)]
    fn apply(&self, y: &mut F, g: F, z: &mut F) {
        if self.0.first {
            *z = *y;
        }
        self.0.finish(y, g, z);
    }
}

/// Per-step scalars of schedule-free AdamW.
struct AdamwStep<F> {
    shared: Shared<F>,
    b2: F,
    one_minus_b2: F,
    bc2: F,
    eps: F,
}

impl<F: Real> AdamwStep<F> {
    #[inline(always)]
    fn apply(&self, y: &mut F, g: F, z: &mut F, v: &mut F) {
        if self.shared.first {
            *z = *y;
        }
        *v = self.one_minus_b2 * (g * g) + self.b2 * *v;
        let scale = F::ONE / ((*v / self.bc2).sqrt() + self.eps);
        self.shared.finish(y, scale * g, z);
    }
}

impl ScheduleFreeSgdConfig {
    fn step<F: Real>(&self, sc: &mut ScheduleFreeScalars, t: u64) -> SgdStep<F> {
        let (ck, next) = average(self.lr, self.warmup_steps, self.weight_lr_power, sc, t);
        *sc = next;
        let base_lr = scheduled_lr(self.lr, self.warmup_steps, t.saturating_sub(1));
        SgdStep(Shared::new(self.b1, ck, self.weight_decay.unwrap_or(0.0), base_lr, t))
    }
}

impl ScheduleFreeAdamwConfig {
    fn step<F: Real>(&self, sc: &mut ScheduleFreeScalars, t: u64) -> AdamwStep<F> {
        let (ck, next) = average(self.lr, self.warmup_steps, self.weight_lr_power, sc, t);
        *sc = next;
        let base_lr = scheduled_lr(self.lr, self.warmup_steps, t.saturating_sub(1));
        let (b1, b2) = self.betas;
        let c = F::from_f64;
        AdamwStep {
            shared: Shared::new(b1, ck, self.weight_decay, base_lr, t),
            b2: c(b2),
            one_minus_b2: c(1.0 - b2),
            bc2: c(1.0 - pow_step(b2, t)),
            eps: c(self.eps),
        }
    }
}

impl UpdateRule for ScheduleFreeSgdConfig {
    type Scalars = ScheduleFreeScalars;
    const NAME: &'static str = "schedule_free_sgd";
    const ID: u8 = 24;

    fn validate(&self) -> Result<(), Error> {
        validate_common(self.lr, self.warmup_steps, self.b1, "b1", self.weight_lr_power)?;
        match self.weight_decay {
            Some(wd) => check_ge("weight_decay", wd, 0.0),
            None => Ok(()),
        }
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
    fn eval_point(&self, steps: u64) -> Option<EvalPoint> {
        (steps > 0).then_some(EvalPoint { stream: 0, b1: self.b1 })
    }

    #[inline(always)]
    fn kernel<F: Real, const L: usize>(
        &self,
        sc: &mut ScheduleFreeScalars,
        t: u64,
        p: &mut [F],
        g: &[F],
        state: &mut [F],
        _: &mut [F],
    ) {
        let step = self.step::<F>(sc, t);
        let [z] = streams!(state, p.len(); 1);
        crate::lanes::zip1::<F, L>(p, g, z, |p, g, z| step.apply(p, g, z));
    }

    fn reference<F: Real>(
        &self,
        sc: &mut ScheduleFreeScalars,
        t: u64,
        y: &mut [F],
        g: &[F],
        z: &mut [F],
        _: &mut [F],
    ) {
        let c = F::from_f64;
        let (ck, next) = average(self.lr, self.warmup_steps, self.weight_lr_power, sc, t);
        *sc = next;
        let lr = scheduled_lr(self.lr, self.warmup_steps, t.saturating_sub(1));
        let b1 = self.b1;
        let ck = c(ck);
        for ((y, &g), z) in y.iter_mut().zip(g).zip(z.iter_mut()) {
            if t <= 1 {
                *z = *y;
            }
            // optax.sgd after add_decayed_weights: −γ(g + λy).
            let grad = g + c(self.weight_decay.unwrap_or(0.0)) * *y;
            let z_next = *z + grad * c(-lr);
            let x = (*y - c(1.0 - b1) * *z) / c(b1);
            let x = (F::ONE - ck) * x + ck * z_next;
            let y_next = c(b1) * x + c(1.0 - b1) * z_next;
            *y = *y + (y_next - *y);
            *z = z_next;
        }
    }
}

impl UpdateRule for ScheduleFreeAdamwConfig {
    type Scalars = ScheduleFreeScalars;
    const NAME: &'static str = "schedule_free_adamw";
    const ID: u8 = 25;

    fn validate(&self) -> Result<(), Error> {
        validate_common(self.lr, self.warmup_steps, self.betas.0, "betas[0]", self.weight_lr_power)?;
        check_ge("eps", self.eps, 0.0)?;
        check_range_open("betas[1]", self.betas.1, 0.0, 1.0)?;
        check_ge("weight_decay", self.weight_decay, 0.0)
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
    fn eval_point(&self, steps: u64) -> Option<EvalPoint> {
        (steps > 0).then_some(EvalPoint { stream: 0, b1: self.betas.0 })
    }

    #[inline(always)]
    fn kernel<F: Real, const L: usize>(
        &self,
        sc: &mut ScheduleFreeScalars,
        t: u64,
        p: &mut [F],
        g: &[F],
        state: &mut [F],
        _: &mut [F],
    ) {
        let step = self.step::<F>(sc, t);
        let [z, v] = streams!(state, p.len(); 2);
        crate::lanes::zip2::<F, L>(p, g, z, v, |p, g, z, v| step.apply(p, g, z, v));
    }

    fn reference<F: Real>(
        &self,
        sc: &mut ScheduleFreeScalars,
        t: u64,
        y: &mut [F],
        g: &[F],
        state: &mut [F],
        _: &mut [F],
    ) {
        let len = y.len().min(g.len());
        if state.len() < 2 * len {
            return;
        }
        let c = F::from_f64;
        let (ck, next) = average(self.lr, self.warmup_steps, self.weight_lr_power, sc, t);
        *sc = next;
        let lr = scheduled_lr(self.lr, self.warmup_steps, t.saturating_sub(1));
        let (b1, b2) = self.betas;
        let ck = c(ck);
        let (z, v) = state.split_at_mut(len);
        for i in 0..len {
            if t <= 1 {
                z[i] = y[i];
            }
            // scale_by_rms(eps_in_sqrt=False, bias_correction=True), then λy, then −γ.
            v[i] = c(1.0 - b2) * (g[i] * g[i]) + c(b2) * v[i];
            let v_hat = v[i] / c(1.0 - pow_step(b2, t));
            let u = F::ONE / (v_hat.sqrt() + c(self.eps)) * g[i];
            let u = u + c(self.weight_decay) * y[i];
            let z_next = z[i] + u * c(-lr);
            let x = (y[i] - c(1.0 - b1) * z[i]) / c(b1);
            let x = (F::ONE - ck) * x + ck * z_next;
            let y_next = c(b1) * x + c(1.0 - b1) * z_next;
            y[i] = y[i] + (y_next - y[i]);
            z[i] = z_next;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::optim::Optimizer;

    /// optax's docstring example for `schedule_free_sgd()` on f(x) = Σx²: the objective at the
    /// evaluation point after each of 5 steps (1.40E+01, 1.75E-14, 9.96E-01, 8.06E-01, 2.41E-01).
    #[test]
    fn optax_docstring_sgd() {
        let mut opt = ScheduleFreeSgd::<f32, 3>::new(ScheduleFreeSgdConfig::default()).unwrap();
        let mut y = [1.0f32, 2.0, 3.0];
        let mut x = [0.0f32; 3];
        let mut got = [0.0f64; 5];
        for v in got.iter_mut() {
            let g = y.map(|p| 2.0 * p);
            opt.step(&mut y, &g).unwrap();
            opt.eval_params(&y, &mut x).unwrap();
            *v = x.iter().map(|&p| f64::from(p * p)).sum();
        }
        let want = [14.0, 1.75e-14, 0.996, 0.806, 0.241];
        for (g, w) in got.iter().zip(want) {
            assert!((g - w).abs() <= 0.006 * w.max(1e-3), "{got:?}");
        }
    }

    /// optax's docstring example for `schedule_free_adamw(1.0)`: 5.00, 3.05, 1.73, 0.894, 0.413.
    #[test]
    fn optax_docstring_adamw() {
        let cfg = ScheduleFreeAdamwConfig { lr: 1.0, ..Default::default() };
        // In f64: the `micromath` feature's f32 square root is approximate.
        let mut opt = ScheduleFreeAdamw::<f64, 3>::new(cfg).unwrap();
        let mut y = [1.0f64, 2.0, 3.0];
        let mut x = [0.0f64; 3];
        let mut got = [0.0f64; 5];
        for v in got.iter_mut() {
            let g = y.map(|p| 2.0 * p);
            opt.step(&mut y, &g).unwrap();
            opt.eval_params(&y, &mut x).unwrap();
            *v = x.iter().map(|&p| p * p).sum();
        }
        let want = [5.0, 3.05, 1.73, 0.894, 0.413];
        for (g, w) in got.iter().zip(want) {
            assert!((g - w).abs() <= 0.006 * w, "{got:?}");
        }
    }

    /// Before the first step the evaluation point is the parameters themselves; refusals name
    /// the hyperparameter.
    #[test]
    fn eval_before_first_step_and_refusals() {
        let opt = ScheduleFreeAdamw::<f64, 2>::new(ScheduleFreeAdamwConfig::default()).unwrap();
        let mut x = [0.0; 2];
        opt.eval_params(&[1.5, -2.0], &mut x).unwrap();
        assert_eq!(x, [1.5, -2.0]);
        assert!(opt.has_eval_params());
        let bad = |c: ScheduleFreeSgdConfig| match c.validate() {
            Err(Error::InvalidHyperparameter { name, .. }) => name,
            other => panic!("{other:?}"),
        };
        let d = ScheduleFreeSgdConfig::default();
        assert_eq!(bad(ScheduleFreeSgdConfig { b1: 0.0, ..d }), "b1");
        assert_eq!(bad(ScheduleFreeSgdConfig { warmup_steps: Some(0), ..d }), "warmup_steps");
        assert_eq!(bad(ScheduleFreeSgdConfig { weight_decay: Some(-1.0), ..d }), "weight_decay");
        assert_eq!(bad(ScheduleFreeSgdConfig { weight_lr_power: f64::NAN, ..d }), "weight_lr_power");
        let a = ScheduleFreeAdamwConfig { betas: (0.9, 1.0), ..Default::default() };
        assert!(matches!(a.validate(), Err(Error::InvalidHyperparameter { name: "betas[1]", .. })));
    }

    /// Saved and restored mid-run, the optimizer continues bit for bit (config with the
    /// optional fields set, scalars, z and v).
    #[test]
    fn save_restore_round_trip() {
        let cfg =
            ScheduleFreeSgdConfig { warmup_steps: Some(3), weight_decay: Some(0.01), ..Default::default() };
        let mut a = ScheduleFreeSgd::<f64, 2>::new(cfg).unwrap();
        let mut y = [1.0, -1.0];
        for _ in 0..4 {
            let g = y.map(|p| p - 0.5);
            a.step(&mut y, &g).unwrap();
        }
        let mut buf = [0u8; 256];
        let n = a.save(&mut buf).unwrap();
        let mut b = ScheduleFreeSgd::<f64, 2>::new(ScheduleFreeSgdConfig::default()).unwrap();
        b.restore(&buf[..n]).unwrap();
        assert_eq!(b.config(), a.config());
        assert_eq!(b.scalars(), a.scalars());
        let (mut ya, mut yb) = (y, y);
        a.step(&mut ya, &[0.3, 0.1]).unwrap();
        b.step(&mut yb, &[0.3, 0.1]).unwrap();
        assert_eq!(ya, yb);
    }
}
