//! Learning-rate schedules (`torch.optim.lr_scheduler`'s, optax's piecewise interpolation) in a
//! caller-placed [`DescentScheduler`], stepped with the optimizer it drives.

use descent_core::schedule::{
    Anneal, AnnealStrategy, AnySchedule, ConstantLr, CosineAnnealingLr, CosineAnnealingWarmRestarts,
    CyclicLr, CyclicMode, Driver, ExponentialLr, Interpolate, LinearLr, MultiStepLr, OneCycleLr,
    PiecewiseInterpolate, PolynomialLr, Schedule, StepLr, Swalr, WarmupCosine,
};
use descent_core::Error;

use crate::{
    optimizer, put, scheduler, slice, status, DescentOptimizer, DescentScheduler, DescentStatus, Status,
    MAGIC,
};

/// Stores `schedule` in `s`.
///
/// # Safety
/// `s` null or valid.
unsafe fn set_schedule(s: *mut DescentScheduler, schedule: Result<AnySchedule, Error>) -> DescentStatus {
    status(|| {
        // SAFETY: the caller's contract.
        let s = unsafe { s.as_mut() }.ok_or(Status::NullPointer)?;
        let driver = Driver::new(schedule?);
        // SAFETY: the storage is large and aligned enough (const asserts).
        unsafe { core::ptr::write(s.storage.as_mut_ptr().cast::<Driver<AnySchedule>>(), driver) };
        s.magic = MAGIC;
        Ok(())
    })
}

/// `torch.optim.lr_scheduler.StepLR`: lr = base_lr · γ^⌊t / step_size⌋.
///
/// # Safety
/// `s` null or valid.
#[no_mangle]
pub unsafe extern "C" fn descent_schedule_step_lr(
    s: *mut DescentScheduler,
    base_lr: f64,
    step_size: u64,
    gamma: f64,
) -> DescentStatus {
    // SAFETY: the caller's contract.
    unsafe { set_schedule(s, StepLr::new(base_lr, step_size, gamma).map(AnySchedule::Step)) }
}

/// `ExponentialLR`: lr = base_lr · γ^t.
///
/// # Safety
/// `s` null or valid.
#[no_mangle]
pub unsafe extern "C" fn descent_schedule_exponential_lr(
    s: *mut DescentScheduler,
    base_lr: f64,
    gamma: f64,
) -> DescentStatus {
    // SAFETY: the caller's contract.
    unsafe { set_schedule(s, ExponentialLr::new(base_lr, gamma).map(AnySchedule::Exponential)) }
}

/// `CosineAnnealingLR` (closed form): from base_lr to eta_min over t_max steps.
///
/// # Safety
/// `s` null or valid.
#[no_mangle]
pub unsafe extern "C" fn descent_schedule_cosine_annealing_lr(
    s: *mut DescentScheduler,
    base_lr: f64,
    t_max: u64,
    eta_min: f64,
) -> DescentStatus {
    // SAFETY: the caller's contract.
    unsafe { set_schedule(s, CosineAnnealingLr::new(base_lr, t_max, eta_min).map(AnySchedule::Cosine)) }
}

/// `LinearLR`: the factor goes linearly from start_factor to end_factor over total_iters steps.
///
/// # Safety
/// `s` null or valid.
#[no_mangle]
pub unsafe extern "C" fn descent_schedule_linear_lr(
    s: *mut DescentScheduler,
    base_lr: f64,
    start_factor: f64,
    end_factor: f64,
    total_iters: u64,
) -> DescentStatus {
    // SAFETY: the caller's contract.
    unsafe {
        set_schedule(
            s,
            LinearLr::new(base_lr, start_factor, end_factor, total_iters).map(AnySchedule::Linear),
        )
    }
}

/// Linear warmup over warmup_steps, then cosine decay to eta_min at total_steps.
///
/// # Safety
/// `s` null or valid.
#[no_mangle]
pub unsafe extern "C" fn descent_schedule_warmup_cosine(
    s: *mut DescentScheduler,
    base_lr: f64,
    warmup_steps: u64,
    total_steps: u64,
    warmup_start_factor: f64,
    eta_min: f64,
) -> DescentStatus {
    // SAFETY: the caller's contract.
    let schedule = WarmupCosine::new(base_lr, warmup_steps, total_steps, warmup_start_factor, eta_min);
    unsafe { set_schedule(s, schedule.map(AnySchedule::WarmupCosine)) }
}

/// Applies step 0's learning rate to `opt` (call once, before the first `descent_step`).
///
/// # Safety
/// Pointers null or valid.
#[no_mangle]
pub unsafe extern "C" fn descent_scheduler_start(
    s: *mut DescentScheduler,
    opt: *mut DescentOptimizer,
) -> DescentStatus {
    status(|| {
        // SAFETY: the caller's contract.
        let (s, opt) = unsafe { (scheduler(s)?, optimizer(opt)?) };
        Ok(s.start(opt.get())?)
    })
}

/// Advances one step and applies its learning rate (after each `descent_step`, as PyTorch's
/// `scheduler.step()`).
///
/// # Safety
/// Pointers null or valid.
#[no_mangle]
pub unsafe extern "C" fn descent_scheduler_step(
    s: *mut DescentScheduler,
    opt: *mut DescentOptimizer,
) -> DescentStatus {
    status(|| {
        // SAFETY: the caller's contract.
        let (s, opt) = unsafe { (scheduler(s)?, optimizer(opt)?) };
        Ok(s.step(opt.get())?)
    })
}

/// The learning rate of the schedule's step `t`, into `*out`.
///
/// # Safety
/// Pointers null or valid.
#[no_mangle]
pub unsafe extern "C" fn descent_scheduler_lr_at(
    s: *mut DescentScheduler,
    t: u64,
    out: *mut f64,
) -> DescentStatus {
    // SAFETY: the caller's contract.
    status(|| unsafe { put(out, scheduler(s)?.schedule().lr_at(t)) })
}

/// `MultiStepLR`: lr = base_lr · γ^(number of milestones ≤ t); `milestones` (`count` values,
/// at most 16) need not be sorted.
///
/// # Safety
/// `s` null or valid; `milestones` null or valid for `count` values.
#[no_mangle]
pub unsafe extern "C" fn descent_schedule_multistep_lr(
    s: *mut DescentScheduler,
    base_lr: f64,
    milestones: *const u64,
    count: usize,
    gamma: f64,
) -> DescentStatus {
    // SAFETY: the caller's contract.
    let m = match unsafe { slice(milestones, count) } {
        Ok(m) => m,
        Err(e) => return e,
    };
    // SAFETY: the caller's contract.
    unsafe { set_schedule(s, MultiStepLr::new(base_lr, m, gamma).map(AnySchedule::MultiStep)) }
}

/// `ConstantLR`: lr = base_lr · factor for t < total_iters, then base_lr.
///
/// # Safety
/// `s` null or valid.
#[no_mangle]
pub unsafe extern "C" fn descent_schedule_constant_lr(
    s: *mut DescentScheduler,
    base_lr: f64,
    factor: f64,
    total_iters: u64,
) -> DescentStatus {
    // SAFETY: the caller's contract.
    unsafe { set_schedule(s, ConstantLr::new(base_lr, factor, total_iters).map(AnySchedule::Constant)) }
}

/// `PolynomialLR`: lr = base_lr · (1 − min(t, total_iters)/total_iters)^power.
///
/// # Safety
/// `s` null or valid.
#[no_mangle]
pub unsafe extern "C" fn descent_schedule_polynomial_lr(
    s: *mut DescentScheduler,
    base_lr: f64,
    total_iters: u64,
    power: f64,
) -> DescentStatus {
    // SAFETY: the caller's contract.
    unsafe { set_schedule(s, PolynomialLr::new(base_lr, total_iters, power).map(AnySchedule::Polynomial)) }
}

/// `CosineAnnealingWarmRestarts`: cosine from base_lr to eta_min over t_0 steps, restarting with
/// periods multiplied by t_mult.
///
/// # Safety
/// `s` null or valid.
#[no_mangle]
pub unsafe extern "C" fn descent_schedule_cosine_annealing_warm_restarts(
    s: *mut DescentScheduler,
    base_lr: f64,
    t_0: u64,
    t_mult: u64,
    eta_min: f64,
) -> DescentStatus {
    let schedule = CosineAnnealingWarmRestarts::new(base_lr, t_0, t_mult, eta_min);
    // SAFETY: the caller's contract.
    unsafe { set_schedule(s, schedule.map(AnySchedule::WarmRestarts)) }
}

/// `OneCycleLR` (PyTorch's defaults: pct_start 0.3, cosine annealing, cycle_momentum with base
/// 0.85 and max 0.95, div_factor 25, final_div_factor 1e4, two phases). `linear_anneal` is
/// `anneal_strategy="linear"`; without `cycle_momentum` the two momenta are ignored.
///
/// # Safety
/// `s` null or valid.
#[no_mangle]
#[allow(clippy::too_many_arguments)]
pub unsafe extern "C" fn descent_schedule_one_cycle_lr(
    s: *mut DescentScheduler,
    max_lr: f64,
    total_steps: u64,
    pct_start: f64,
    linear_anneal: bool,
    cycle_momentum: bool,
    base_momentum: f64,
    max_momentum: f64,
    div_factor: f64,
    final_div_factor: f64,
    three_phase: bool,
) -> DescentStatus {
    let anneal = if linear_anneal { AnnealStrategy::Linear } else { AnnealStrategy::Cos };
    let momentum = cycle_momentum.then_some((base_momentum, max_momentum));
    let schedule = OneCycleLr::new(
        max_lr,
        total_steps,
        pct_start,
        anneal,
        momentum,
        div_factor,
        final_div_factor,
        three_phase,
    );
    // SAFETY: the caller's contract.
    unsafe { set_schedule(s, schedule.map(AnySchedule::OneCycle)) }
}

/// `CyclicLR`'s modes.
#[repr(C)]
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum DescentCyclicMode {
    /// Constant amplitude.
    Triangular = 0,
    /// Amplitude halved every cycle.
    Triangular2 = 1,
    /// Amplitude scaled by γ^t.
    ExpRange = 2,
}

/// `CyclicLR` between base_lr and max_lr, step_size_up steps up and `*step_size_down` down
/// (null: as many as up, PyTorch's None); `gamma` is read in `EXP_RANGE` mode only; with
/// `cycle_momentum` the momentum cycles between `max_momentum` and `base_momentum` (PyTorch's
/// 0.9 and 0.8).
///
/// # Safety
/// `s` null or valid; `step_size_down` null or valid.
#[no_mangle]
#[allow(clippy::too_many_arguments)]
pub unsafe extern "C" fn descent_schedule_cyclic_lr(
    s: *mut DescentScheduler,
    base_lr: f64,
    max_lr: f64,
    step_size_up: u64,
    step_size_down: *const u64,
    mode: DescentCyclicMode,
    gamma: f64,
    cycle_momentum: bool,
    base_momentum: f64,
    max_momentum: f64,
) -> DescentStatus {
    let mode = match mode {
        DescentCyclicMode::Triangular => CyclicMode::Triangular,
        DescentCyclicMode::Triangular2 => CyclicMode::Triangular2,
        DescentCyclicMode::ExpRange => CyclicMode::ExpRange(gamma),
    };
    // SAFETY: the caller's contract.
    let down = unsafe { step_size_down.as_ref() }.copied();
    let momentum = cycle_momentum.then_some((base_momentum, max_momentum));
    let schedule = CyclicLr::new(base_lr, max_lr, step_size_up, down, mode, momentum);
    // SAFETY: the caller's contract.
    unsafe { set_schedule(s, schedule.map(AnySchedule::Cyclic)) }
}

/// `torch.optim.swa_utils.SWALR`: from base_lr to swa_lr over anneal_epochs steps, cosine
/// (PyTorch's default) or linear, then swa_lr.
///
/// # Safety
/// `s` null or valid.
#[no_mangle]
pub unsafe extern "C" fn descent_schedule_swalr(
    s: *mut DescentScheduler,
    base_lr: f64,
    swa_lr: f64,
    anneal_epochs: u64,
    linear_anneal: bool,
) -> DescentStatus {
    let anneal = if linear_anneal { Anneal::Linear } else { Anneal::Cos };
    // SAFETY: the caller's contract.
    unsafe { set_schedule(s, Swalr::new(base_lr, swa_lr, anneal_epochs, anneal).map(AnySchedule::Swa)) }
}

/// `optax.piecewise_interpolate_schedule`: from init_value, scaled by `scales[i]` at
/// `boundaries[i]` (`count` of each, strictly increasing, at most 16), interpolated linearly or
/// by half a cosine (`cosine`).
///
/// # Safety
/// `s` null or valid; `boundaries` and `scales` null or valid for `count` values.
#[no_mangle]
pub unsafe extern "C" fn descent_schedule_piecewise_interpolate(
    s: *mut DescentScheduler,
    cosine: bool,
    init_value: f64,
    boundaries: *const u64,
    scales: *const f64,
    count: usize,
) -> DescentStatus {
    // SAFETY: the caller's contract.
    let (b, sc) = match unsafe { (slice(boundaries, count), slice(scales, count)) } {
        (Ok(b), Ok(sc)) => (b, sc),
        (Err(e), _) | (_, Err(e)) => return e,
    };
    let how = if cosine { Interpolate::Cosine } else { Interpolate::Linear };
    // SAFETY: the caller's contract.
    unsafe { set_schedule(s, PiecewiseInterpolate::new(how, init_value, b, sc).map(AnySchedule::Piecewise)) }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn blank() -> DescentScheduler {
        DescentScheduler { magic: 0, storage: [0; crate::DESCENT_SCHEDULER_WORDS] }
    }

    /// The learning rates `s` gives at steps 0..60.
    fn lrs(s: &mut DescentScheduler) -> Vec<f64> {
        (0..60)
            .map(|t| {
                let mut lr = f64::NAN;
                // SAFETY: valid pointers.
                assert_eq!(unsafe { descent_scheduler_lr_at(s, t, &mut lr) }, Status::Ok);
                lr
            })
            .collect()
    }

    fn same(s: &mut DescentScheduler, want: impl Schedule) {
        let want: Vec<f64> = (0..60).map(|t| want.lr_at(t)).collect();
        assert_eq!(lrs(s), want);
    }

    #[test]
    fn every_schedule_gives_the_rates_of_descent_core_and_refuses_as_it_does() {
        let mut s = blank();
        let down = 7u64;
        // SAFETY: valid pointers throughout.
        unsafe {
            let m = [30u64, 10, 20];
            assert_eq!(descent_schedule_multistep_lr(&mut s, 0.1, m.as_ptr(), 3, 0.5), Status::Ok);
            same(&mut s, MultiStepLr::new(0.1, &m, 0.5).unwrap());
            assert_eq!(
                descent_schedule_multistep_lr(&mut s, 0.1, core::ptr::null(), 3, 0.5),
                Status::NullPointer
            );
            assert_eq!(descent_schedule_constant_lr(&mut s, 0.1, 0.25, 8), Status::Ok);
            same(&mut s, ConstantLr::new(0.1, 0.25, 8).unwrap());
            assert_eq!(descent_schedule_constant_lr(&mut s, 0.1, 1.5, 8), Status::InvalidCombination);
            assert_eq!(descent_schedule_polynomial_lr(&mut s, 0.1, 40, 2.0), Status::Ok);
            same(&mut s, PolynomialLr::new(0.1, 40, 2.0).unwrap());
            assert_eq!(descent_schedule_cosine_annealing_warm_restarts(&mut s, 0.1, 5, 2, 1e-4), Status::Ok);
            same(&mut s, CosineAnnealingWarmRestarts::new(0.1, 5, 2, 1e-4).unwrap());
            assert_ne!(descent_schedule_cosine_annealing_warm_restarts(&mut s, 0.1, 0, 2, 1e-4), Status::Ok);
            let oc =
                descent_schedule_one_cycle_lr(&mut s, 0.1, 50, 0.3, true, true, 0.85, 0.95, 25.0, 1e4, true);
            assert_eq!(oc, Status::Ok);
            let want =
                OneCycleLr::new(0.1, 50, 0.3, AnnealStrategy::Linear, Some((0.85, 0.95)), 25.0, 1e4, true);
            same(&mut s, want.unwrap());
            let oc =
                descent_schedule_one_cycle_lr(&mut s, 0.1, 50, 1.5, false, false, 0.0, 0.0, 25.0, 1e4, false);
            assert_eq!(oc, Status::InvalidHyperparameter);
            let cy = descent_schedule_cyclic_lr(
                &mut s,
                0.01,
                0.1,
                5,
                &down,
                DescentCyclicMode::ExpRange,
                0.97,
                false,
                0.8,
                0.9,
            );
            assert_eq!(cy, Status::Ok);
            same(&mut s, CyclicLr::new(0.01, 0.1, 5, Some(7), CyclicMode::ExpRange(0.97), None).unwrap());
            let cy = descent_schedule_cyclic_lr(
                &mut s,
                0.01,
                0.1,
                5,
                core::ptr::null(),
                DescentCyclicMode::Triangular2,
                0.0,
                true,
                0.8,
                0.9,
            );
            assert_eq!(cy, Status::Ok);
            same(
                &mut s,
                CyclicLr::new(0.01, 0.1, 5, None, CyclicMode::Triangular2, Some((0.8, 0.9))).unwrap(),
            );
            assert_eq!(descent_schedule_swalr(&mut s, 0.1, 0.01, 10, false), Status::Ok);
            same(&mut s, Swalr::new(0.1, 0.01, 10, Anneal::Cos).unwrap());
            assert_ne!(descent_schedule_swalr(&mut s, 0.1, -0.01, 10, false), Status::Ok);
            let (b, sc) = ([5u64, 20, 40], [0.5, 2.0, 0.1]);
            let pw = descent_schedule_piecewise_interpolate(&mut s, true, 0.1, b.as_ptr(), sc.as_ptr(), 3);
            assert_eq!(pw, Status::Ok);
            same(&mut s, PiecewiseInterpolate::new(Interpolate::Cosine, 0.1, &b, &sc).unwrap());
            let unsorted = [20u64, 5, 40];
            let pw =
                descent_schedule_piecewise_interpolate(&mut s, true, 0.1, unsorted.as_ptr(), sc.as_ptr(), 3);
            assert_ne!(pw, Status::Ok);
            // A refused schedule leaves the one in force (the piecewise one) as it was.
            same(&mut s, PiecewiseInterpolate::new(Interpolate::Cosine, 0.1, &b, &sc).unwrap());
            assert_eq!(
                descent_schedule_swalr(core::ptr::null_mut(), 0.1, 0.01, 10, false),
                Status::NullPointer
            );
        }
    }
}
