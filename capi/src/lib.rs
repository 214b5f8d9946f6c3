//! # descent-capi
//!
//! descent-core for firmware written in C: a static library (`libdescent_capi.a`) and the header
//! `include/descent.h` that cbindgen generates from this file. No allocation: the optimizer and
//! scheduler objects are structs the caller places (in a `static`, on the stack), and the
//! optimizer's state lives in a `float` buffer the caller provides, of the length
//! `descent_<optimizer>_state_len` returns.
//!
//! Every function returns a [`DescentStatus`]: `DESCENT_STATUS_OK` or the reason it refused
//! (`descent_status_message` says it in words); on an error nothing is modified. Null pointers,
//! lengths that do not match, overlapping parameter and gradient buffers and objects that were
//! never initialized are refused with a status, never undefined behaviour. What C cannot be
//! checked for: buffers shorter than the lengths passed with them, and a state buffer freed or
//! reused while its optimizer is in use.
//!
//! ```c
//! DescentAdamConfig cfg = descent_adam_defaults();
//! cfg.lr = 3e-3;
//! size_t len;
//! descent_adam_state_len(&cfg, 330, &len);       // 660 floats
//! static float state[660];
//! static DescentOptimizer opt;
//! descent_adam_init(&opt, &cfg, 330, state, 660);
//! descent_step(&opt, params, grads, 330);        // PyTorch's Adam, bit for bit as descent-core
//! ```
#![cfg_attr(target_os = "none", no_std)]
// The C interface is raw pointers; every dereference is checked for null and documented.
#![allow(unsafe_code)]

use descent_core::adadelta::AdadeltaConfig;
use descent_core::adafactor::{AdafactorConfig, Shape};
use descent_core::adagrad::AdagradConfig;
use descent_core::adam::AdamConfig;
use descent_core::adamax::AdamaxConfig;
use descent_core::asgd::AsgdConfig;
use descent_core::clip::{self, NormType};
use descent_core::lamb::LambConfig;
use descent_core::lars::LarsConfig;
use descent_core::lion::LionConfig;
use descent_core::nadam::NadamConfig;
use descent_core::radam::RadamConfig;
use descent_core::rmsprop::RmspropConfig;
use descent_core::rprop::RpropConfig;
use descent_core::schedule::{AnySchedule, Driver};
use descent_core::sgd::SgdConfig;
use descent_core::{NonFinitePolicy, Optim, Optimizer, StepOutcome, UpdateRule};

mod by_name;
mod schedules;
mod status;
pub use by_name::*;
pub use schedules::*;
pub use status::{descent_status_message, DescentStatus};

use by_name::Any;

use DescentStatus as Status;

/// Words of [`DescentOptimizer`]'s storage (checked at compile time to hold any optimizer).
pub const DESCENT_OPTIMIZER_WORDS: usize = 32;
/// Words of [`DescentScheduler`]'s storage.
pub const DESCENT_SCHEDULER_WORDS: usize = 48;
/// Marks an initialized object (a struct never initialized is refused, not read).
const MAGIC: u64 = 0x6465_7363_656e_7401;
const _: () = {
    assert!(core::mem::size_of::<Any>() <= 8 * DESCENT_OPTIMIZER_WORDS);
    assert!(core::mem::align_of::<Any>() <= 8);
    assert!(core::mem::size_of::<Driver<AnySchedule>>() <= 8 * DESCENT_SCHEDULER_WORDS);
    assert!(core::mem::align_of::<Driver<AnySchedule>>() <= 8);
};

/// An optimizer, placed by the caller; `descent_<optimizer>_init` sets it up over a state buffer
/// that must outlive it. Opaque: only the functions of this header read it.
#[repr(C)]
pub struct DescentOptimizer {
    magic: u64,
    storage: [u64; DESCENT_OPTIMIZER_WORDS],
}

/// A learning-rate schedule and its step count, placed by the caller; set up by
/// `descent_schedule_*`. Opaque.
#[repr(C)]
pub struct DescentScheduler {
    magic: u64,
    storage: [u64; DESCENT_SCHEDULER_WORDS],
}

/// The optimizer behind `opt`, if it was initialized.
///
/// # Safety
/// `opt` is null or points to a `DescentOptimizer`.
unsafe fn optimizer<'a>(opt: *mut DescentOptimizer) -> Result<&'a mut Any, Status> {
    // SAFETY: the caller passes null or a valid pointer; `magic` is only MAGIC after `put`
    // wrote an `Any` into the storage.
    let opt = unsafe { opt.as_mut() }.ok_or(Status::NullPointer)?;
    if opt.magic != MAGIC {
        return Err(Status::NotInitialized);
    }
    // SAFETY: initialized (above); the storage is 8-aligned and large enough (const asserts).
    Ok(unsafe { &mut *opt.storage.as_mut_ptr().cast::<Any>() })
}

/// The schedule behind `s`, if it was set up.
///
/// # Safety
/// `s` is null or points to a `DescentScheduler`.
unsafe fn scheduler<'a>(s: *mut DescentScheduler) -> Result<&'a mut Driver<AnySchedule>, Status> {
    // SAFETY: as `optimizer`.
    let s = unsafe { s.as_mut() }.ok_or(Status::NullPointer)?;
    if s.magic != MAGIC {
        return Err(Status::NotInitialized);
    }
    // SAFETY: as `optimizer`.
    Ok(unsafe { &mut *s.storage.as_mut_ptr().cast::<Driver<AnySchedule>>() })
}

/// Runs `f` and turns its result into a status.
fn status(f: impl FnOnce() -> Result<(), Status>) -> DescentStatus {
    match f() {
        Ok(()) => Status::Ok,
        Err(s) => s,
    }
}

/// `n` values at `p` (null refused; an empty slice for n = 0).
///
/// # Safety
/// `p` is null or valid for `n` reads.
unsafe fn slice<'a, T>(p: *const T, n: usize) -> Result<&'a [T], Status> {
    if p.is_null() {
        return Err(Status::NullPointer);
    }
    // SAFETY: non-null, and valid for n values by the caller's contract.
    Ok(unsafe { core::slice::from_raw_parts(p, n) })
}

/// `n` values at `p`, mutable.
///
/// # Safety
/// `p` is null or valid for `n` reads and writes, and not otherwise borrowed.
unsafe fn slice_mut<'a, T>(p: *mut T, n: usize) -> Result<&'a mut [T], Status> {
    if p.is_null() {
        return Err(Status::NullPointer);
    }
    // SAFETY: as `slice`, exclusive by the caller's contract.
    Ok(unsafe { core::slice::from_raw_parts_mut(p, n) })
}

/// Refuses two buffers that overlap (they would alias a `&mut`).
fn disjoint<A, B>(a: *const A, an: usize, b: *const B, bn: usize) -> Result<(), Status> {
    let (a0, b0) = (a as usize, b as usize);
    let (a1, b1) = (a0 + an * core::mem::size_of::<A>(), b0 + bn * core::mem::size_of::<B>());
    if a0 < b1 && b0 < a1 {
        return Err(Status::Overlap);
    }
    Ok(())
}

/// Writes `v` to `out` (null refused).
///
/// # Safety
/// `out` is null or valid for a write.
unsafe fn put<T>(out: *mut T, v: T) -> Result<(), Status> {
    // SAFETY: null checked; valid by the caller's contract.
    *unsafe { out.as_mut() }.ok_or(Status::NullPointer)? = v;
    Ok(())
}

/// The state length of `config` for `n` parameters into `out`.
///
/// # Safety
/// `out` is null or valid for a write.
unsafe fn state_len<R: UpdateRule>(config: Result<R, Status>, n: usize, out: *mut usize) -> DescentStatus {
    status(|| {
        let config = config?;
        config.validate()?;
        config.check_len(n)?;
        // SAFETY: the caller's contract.
        unsafe { put(out, config.state_len(n)) }
    })
}

/// Builds the optimizer for `n` parameters over `state` (`state_len` floats) and stores it in
/// `opt`.
///
/// # Safety
/// `opt` null or valid; `state` null or valid for `state_len` floats, for as long as `opt` is
/// used.
unsafe fn init<R: UpdateRule>(
    opt: *mut DescentOptimizer,
    config: Result<R, Status>,
    n: usize,
    state: *mut f32,
    state_len: usize,
    wrap: fn(Optim<R, f32, &'static mut [f32]>) -> Any,
) -> DescentStatus {
    status(|| {
        let config = config?;
        // SAFETY: the caller's contract: a valid optimizer struct, a state buffer that outlives it.
        let (opt, state) =
            unsafe { (opt.as_mut().ok_or(Status::NullPointer)?, slice_mut(state, state_len)?) };
        let built = wrap(Optim::with_buffer_and_policy(config, n, state, NonFinitePolicy::Propagate)?);
        // SAFETY: the storage is large and aligned enough for `Any` (const asserts).
        unsafe { core::ptr::write(opt.storage.as_mut_ptr().cast::<Any>(), built) };
        opt.magic = MAGIC;
        Ok(())
    })
}

/// Reads a C configuration (null refused).
///
/// # Safety
/// `c` is null or valid for a read.
unsafe fn read<C: Copy>(c: *const C) -> Result<C, Status> {
    // SAFETY: the caller's contract.
    unsafe { c.as_ref() }.copied().ok_or(Status::NullPointer)
}

/// `torch.optim.SGD`'s hyperparameters.
#[repr(C)]
#[derive(Clone, Copy, Debug)]
pub struct DescentSgdConfig {
    /// Learning rate (default 1e-3).
    pub lr: f64,
    /// Momentum (default 0: no state).
    pub momentum: f64,
    /// Dampening (default 0).
    pub dampening: f64,
    /// L2 penalty (default 0).
    pub weight_decay: f64,
    /// Nesterov momentum (default false).
    pub nesterov: bool,
    /// Maximize (default false).
    pub maximize: bool,
}

/// `torch.optim.Adam`'s and `AdamW`'s hyperparameters.
#[repr(C)]
#[derive(Clone, Copy, Debug)]
pub struct DescentAdamConfig {
    /// Learning rate (default 1e-3).
    pub lr: f64,
    /// β1 (default 0.9).
    pub beta1: f64,
    /// β2 (default 0.999).
    pub beta2: f64,
    /// ε (default 1e-8).
    pub eps: f64,
    /// Weight decay (default 0; AdamW 1e-2).
    pub weight_decay: f64,
    /// AMSGrad (default false).
    pub amsgrad: bool,
    /// Maximize (default false).
    pub maximize: bool,
    /// Decoupled weight decay: AdamW (default false).
    pub decoupled_weight_decay: bool,
}

/// `torch.optim.Adagrad`'s hyperparameters.
#[repr(C)]
#[derive(Clone, Copy, Debug)]
pub struct DescentAdagradConfig {
    /// Learning rate (default 1e-2).
    pub lr: f64,
    /// Learning-rate decay (default 0).
    pub lr_decay: f64,
    /// Weight decay (default 0).
    pub weight_decay: f64,
    /// Initial accumulator value (default 0).
    pub initial_accumulator_value: f64,
    /// ε (default 1e-10).
    pub eps: f64,
    /// Maximize (default false).
    pub maximize: bool,
}

/// `torch.optim.RMSprop`'s hyperparameters.
#[repr(C)]
#[derive(Clone, Copy, Debug)]
pub struct DescentRmspropConfig {
    /// Learning rate (default 1e-2).
    pub lr: f64,
    /// α (default 0.99).
    pub alpha: f64,
    /// ε (default 1e-8).
    pub eps: f64,
    /// Weight decay (default 0).
    pub weight_decay: f64,
    /// Momentum (default 0).
    pub momentum: f64,
    /// Centered (default false).
    pub centered: bool,
    /// Maximize (default false).
    pub maximize: bool,
}

/// `torch.optim.Adamax`'s hyperparameters.
#[repr(C)]
#[derive(Clone, Copy, Debug)]
pub struct DescentAdamaxConfig {
    /// Learning rate (default 2e-3).
    pub lr: f64,
    /// β1 (default 0.9).
    pub beta1: f64,
    /// β2 (default 0.999).
    pub beta2: f64,
    /// ε (default 1e-8).
    pub eps: f64,
    /// Weight decay (default 0).
    pub weight_decay: f64,
    /// Maximize (default false).
    pub maximize: bool,
}

/// `torch.optim.NAdam`'s hyperparameters.
#[repr(C)]
#[derive(Clone, Copy, Debug)]
pub struct DescentNadamConfig {
    /// Learning rate (default 2e-3).
    pub lr: f64,
    /// β1 (default 0.9).
    pub beta1: f64,
    /// β2 (default 0.999).
    pub beta2: f64,
    /// ε (default 1e-8).
    pub eps: f64,
    /// Weight decay (default 0).
    pub weight_decay: f64,
    /// Momentum decay ψ (default 4e-3).
    pub momentum_decay: f64,
    /// Decoupled weight decay (default false).
    pub decoupled_weight_decay: bool,
    /// Maximize (default false).
    pub maximize: bool,
}

/// `torch.optim.RAdam`'s hyperparameters.
#[repr(C)]
#[derive(Clone, Copy, Debug)]
pub struct DescentRadamConfig {
    /// Learning rate (default 1e-3).
    pub lr: f64,
    /// β1 (default 0.9).
    pub beta1: f64,
    /// β2 (default 0.999).
    pub beta2: f64,
    /// ε (default 1e-8).
    pub eps: f64,
    /// Weight decay (default 0).
    pub weight_decay: f64,
    /// Decoupled weight decay (default false).
    pub decoupled_weight_decay: bool,
    /// Maximize (default false).
    pub maximize: bool,
}

/// `torch.optim.Adadelta`'s hyperparameters.
#[repr(C)]
#[derive(Clone, Copy, Debug)]
pub struct DescentAdadeltaConfig {
    /// Learning rate (default 1).
    pub lr: f64,
    /// ρ (default 0.9).
    pub rho: f64,
    /// ε (default 1e-6).
    pub eps: f64,
    /// Weight decay (default 0).
    pub weight_decay: f64,
    /// Maximize (default false).
    pub maximize: bool,
}

/// `torch.optim.ASGD`'s hyperparameters.
#[repr(C)]
#[derive(Clone, Copy, Debug)]
pub struct DescentAsgdConfig {
    /// Learning rate (default 1e-2).
    pub lr: f64,
    /// λ (default 1e-4).
    pub lambd: f64,
    /// α (default 0.75).
    pub alpha: f64,
    /// t0 (default 1e6).
    pub t0: f64,
    /// Weight decay (default 0).
    pub weight_decay: f64,
    /// Maximize (default false).
    pub maximize: bool,
}

/// `torch.optim.Rprop`'s hyperparameters.
#[repr(C)]
#[derive(Clone, Copy, Debug)]
pub struct DescentRpropConfig {
    /// Learning rate (default 1e-2).
    pub lr: f64,
    /// η− (default 0.5).
    pub eta_minus: f64,
    /// η+ (default 1.2).
    pub eta_plus: f64,
    /// Smallest step size (default 1e-6).
    pub step_size_min: f64,
    /// Largest step size (default 50).
    pub step_size_max: f64,
    /// Maximize (default false).
    pub maximize: bool,
}

/// `torch.optim.Adafactor`'s hyperparameters and the parameter's shape.
#[repr(C)]
#[derive(Clone, Copy, Debug)]
pub struct DescentAdafactorConfig {
    /// Learning rate (default 1e-2).
    pub lr: f64,
    /// c in β̂2 = 1 − t^c (default −0.8).
    pub beta2_decay: f64,
    /// ε1; NaN means the float type's machine epsilon (PyTorch's `None`, the default).
    pub eps1: f64,
    /// ε2 (default 1e-3).
    pub eps2: f64,
    /// Clipping threshold d (default 1).
    pub d: f64,
    /// Weight decay (default 0).
    pub weight_decay: f64,
    /// Maximize (default false).
    pub maximize: bool,
    /// Rows and columns of a matrix parameter (factored state), or 0 and 0 for a vector.
    pub rows: usize,
    /// See `rows`.
    pub cols: usize,
}

/// Lion's hyperparameters (Chen et al. 2023, as optax).
#[repr(C)]
#[derive(Clone, Copy, Debug)]
pub struct DescentLionConfig {
    /// Learning rate (default 1e-4).
    pub lr: f64,
    /// β1 (default 0.9).
    pub beta1: f64,
    /// β2 (default 0.99).
    pub beta2: f64,
    /// Weight decay (default 1e-3).
    pub weight_decay: f64,
    /// Maximize (default false).
    pub maximize: bool,
}

/// LAMB's hyperparameters (`optax.lamb`; the parameters as one tensor: one trust ratio).
#[repr(C)]
#[derive(Clone, Copy, Debug)]
pub struct DescentLambConfig {
    /// Learning rate (default 1e-3).
    pub lr: f64,
    /// β1 (default 0.9).
    pub beta1: f64,
    /// β2 (default 0.999).
    pub beta2: f64,
    /// ε added to the root of the second moment (default 1e-6).
    pub eps: f64,
    /// ε added inside the root (default 0).
    pub eps_root: f64,
    /// Weight decay (default 0).
    pub weight_decay: f64,
    /// Whether weight decay applies (optax's mask; default true).
    pub mask: bool,
}

/// LARS's hyperparameters (`optax.lars`; the parameters as one tensor: one trust ratio).
#[repr(C)]
#[derive(Clone, Copy, Debug)]
pub struct DescentLarsConfig {
    /// Learning rate (default 0.1).
    pub lr: f64,
    /// Weight decay (default 0).
    pub weight_decay: f64,
    /// Whether weight decay applies (default true).
    pub weight_decay_mask: bool,
    /// Trust coefficient (default 1e-3).
    pub trust_coefficient: f64,
    /// ε of the trust ratio (default 0).
    pub eps: f64,
    /// Whether the trust ratio applies (default true).
    pub trust_ratio_mask: bool,
    /// Momentum (default 0.9).
    pub momentum: f64,
    /// Nesterov momentum (default false).
    pub nesterov: bool,
}

mod convert;

// Three functions per optimizer, written out (not generated by a macro) because cbindgen reads
// the source as written. Each is one call of the generic `state_len` or `init`.
/// PyTorch's defaults for SGD.
#[no_mangle]
pub extern "C" fn descent_sgd_defaults() -> DescentSgdConfig {
    DescentSgdConfig::from(SgdConfig::default())
}

/// Floats of state SGD needs for `n` parameters with `config` (validated), into `*out`.
///
/// # Safety
/// Pointers null or valid.
#[no_mangle]
pub unsafe extern "C" fn descent_sgd_state_len(
    config: *const DescentSgdConfig,
    n: usize,
    out: *mut usize,
) -> DescentStatus {
    // SAFETY: the caller's contract.
    unsafe { state_len(read(config).and_then(SgdConfig::try_from), n, out) }
}

/// Sets up `opt` as SGD for `n` parameters, its state in `state` (`state_len` floats, at
/// least what `descent_sgd_state_len` gives; initialized here), which must outlive `opt`.
///
/// # Safety
/// Pointers null or valid; `state` valid for `state_len` floats while `opt` is in use.
#[no_mangle]
pub unsafe extern "C" fn descent_sgd_init(
    opt: *mut DescentOptimizer,
    config: *const DescentSgdConfig,
    n: usize,
    state: *mut f32,
    state_len: usize,
) -> DescentStatus {
    // SAFETY: the caller's contract.
    unsafe { init(opt, read(config).and_then(SgdConfig::try_from), n, state, state_len, Any::sgd) }
}

/// PyTorch's defaults for Adam (and AdamW: see descent_adamw_defaults).
#[no_mangle]
pub extern "C" fn descent_adam_defaults() -> DescentAdamConfig {
    DescentAdamConfig::from(AdamConfig::default())
}

/// Floats of state Adam needs for `n` parameters with `config` (validated), into `*out`.
///
/// # Safety
/// Pointers null or valid.
#[no_mangle]
pub unsafe extern "C" fn descent_adam_state_len(
    config: *const DescentAdamConfig,
    n: usize,
    out: *mut usize,
) -> DescentStatus {
    // SAFETY: the caller's contract.
    unsafe { state_len(read(config).and_then(AdamConfig::try_from), n, out) }
}

/// Sets up `opt` as Adam for `n` parameters, its state in `state` (`state_len` floats, at
/// least what `descent_adam_state_len` gives; initialized here), which must outlive `opt`.
///
/// # Safety
/// Pointers null or valid; `state` valid for `state_len` floats while `opt` is in use.
#[no_mangle]
pub unsafe extern "C" fn descent_adam_init(
    opt: *mut DescentOptimizer,
    config: *const DescentAdamConfig,
    n: usize,
    state: *mut f32,
    state_len: usize,
) -> DescentStatus {
    // SAFETY: the caller's contract.
    unsafe { init(opt, read(config).and_then(AdamConfig::try_from), n, state, state_len, Any::adam) }
}

/// PyTorch's defaults for Adagrad.
#[no_mangle]
pub extern "C" fn descent_adagrad_defaults() -> DescentAdagradConfig {
    DescentAdagradConfig::from(AdagradConfig::default())
}

/// Floats of state Adagrad needs for `n` parameters with `config` (validated), into `*out`.
///
/// # Safety
/// Pointers null or valid.
#[no_mangle]
pub unsafe extern "C" fn descent_adagrad_state_len(
    config: *const DescentAdagradConfig,
    n: usize,
    out: *mut usize,
) -> DescentStatus {
    // SAFETY: the caller's contract.
    unsafe { state_len(read(config).and_then(AdagradConfig::try_from), n, out) }
}

/// Sets up `opt` as Adagrad for `n` parameters, its state in `state` (`state_len` floats, at
/// least what `descent_adagrad_state_len` gives; initialized here), which must outlive `opt`.
///
/// # Safety
/// Pointers null or valid; `state` valid for `state_len` floats while `opt` is in use.
#[no_mangle]
pub unsafe extern "C" fn descent_adagrad_init(
    opt: *mut DescentOptimizer,
    config: *const DescentAdagradConfig,
    n: usize,
    state: *mut f32,
    state_len: usize,
) -> DescentStatus {
    // SAFETY: the caller's contract.
    unsafe { init(opt, read(config).and_then(AdagradConfig::try_from), n, state, state_len, Any::adagrad) }
}

/// PyTorch's defaults for RMSprop.
#[no_mangle]
pub extern "C" fn descent_rmsprop_defaults() -> DescentRmspropConfig {
    DescentRmspropConfig::from(RmspropConfig::default())
}

/// Floats of state RMSprop needs for `n` parameters with `config` (validated), into `*out`.
///
/// # Safety
/// Pointers null or valid.
#[no_mangle]
pub unsafe extern "C" fn descent_rmsprop_state_len(
    config: *const DescentRmspropConfig,
    n: usize,
    out: *mut usize,
) -> DescentStatus {
    // SAFETY: the caller's contract.
    unsafe { state_len(read(config).and_then(RmspropConfig::try_from), n, out) }
}

/// Sets up `opt` as RMSprop for `n` parameters, its state in `state` (`state_len` floats, at
/// least what `descent_rmsprop_state_len` gives; initialized here), which must outlive `opt`.
///
/// # Safety
/// Pointers null or valid; `state` valid for `state_len` floats while `opt` is in use.
#[no_mangle]
pub unsafe extern "C" fn descent_rmsprop_init(
    opt: *mut DescentOptimizer,
    config: *const DescentRmspropConfig,
    n: usize,
    state: *mut f32,
    state_len: usize,
) -> DescentStatus {
    // SAFETY: the caller's contract.
    unsafe { init(opt, read(config).and_then(RmspropConfig::try_from), n, state, state_len, Any::rmsprop) }
}

/// PyTorch's defaults for Adamax.
#[no_mangle]
pub extern "C" fn descent_adamax_defaults() -> DescentAdamaxConfig {
    DescentAdamaxConfig::from(AdamaxConfig::default())
}

/// Floats of state Adamax needs for `n` parameters with `config` (validated), into `*out`.
///
/// # Safety
/// Pointers null or valid.
#[no_mangle]
pub unsafe extern "C" fn descent_adamax_state_len(
    config: *const DescentAdamaxConfig,
    n: usize,
    out: *mut usize,
) -> DescentStatus {
    // SAFETY: the caller's contract.
    unsafe { state_len(read(config).and_then(AdamaxConfig::try_from), n, out) }
}

/// Sets up `opt` as Adamax for `n` parameters, its state in `state` (`state_len` floats, at
/// least what `descent_adamax_state_len` gives; initialized here), which must outlive `opt`.
///
/// # Safety
/// Pointers null or valid; `state` valid for `state_len` floats while `opt` is in use.
#[no_mangle]
pub unsafe extern "C" fn descent_adamax_init(
    opt: *mut DescentOptimizer,
    config: *const DescentAdamaxConfig,
    n: usize,
    state: *mut f32,
    state_len: usize,
) -> DescentStatus {
    // SAFETY: the caller's contract.
    unsafe { init(opt, read(config).and_then(AdamaxConfig::try_from), n, state, state_len, Any::adamax) }
}

/// PyTorch's defaults for NAdam.
#[no_mangle]
pub extern "C" fn descent_nadam_defaults() -> DescentNadamConfig {
    DescentNadamConfig::from(NadamConfig::default())
}

/// Floats of state NAdam needs for `n` parameters with `config` (validated), into `*out`.
///
/// # Safety
/// Pointers null or valid.
#[no_mangle]
pub unsafe extern "C" fn descent_nadam_state_len(
    config: *const DescentNadamConfig,
    n: usize,
    out: *mut usize,
) -> DescentStatus {
    // SAFETY: the caller's contract.
    unsafe { state_len(read(config).and_then(NadamConfig::try_from), n, out) }
}

/// Sets up `opt` as NAdam for `n` parameters, its state in `state` (`state_len` floats, at
/// least what `descent_nadam_state_len` gives; initialized here), which must outlive `opt`.
///
/// # Safety
/// Pointers null or valid; `state` valid for `state_len` floats while `opt` is in use.
#[no_mangle]
pub unsafe extern "C" fn descent_nadam_init(
    opt: *mut DescentOptimizer,
    config: *const DescentNadamConfig,
    n: usize,
    state: *mut f32,
    state_len: usize,
) -> DescentStatus {
    // SAFETY: the caller's contract.
    unsafe { init(opt, read(config).and_then(NadamConfig::try_from), n, state, state_len, Any::nadam) }
}

/// PyTorch's defaults for RAdam.
#[no_mangle]
pub extern "C" fn descent_radam_defaults() -> DescentRadamConfig {
    DescentRadamConfig::from(RadamConfig::default())
}

/// Floats of state RAdam needs for `n` parameters with `config` (validated), into `*out`.
///
/// # Safety
/// Pointers null or valid.
#[no_mangle]
pub unsafe extern "C" fn descent_radam_state_len(
    config: *const DescentRadamConfig,
    n: usize,
    out: *mut usize,
) -> DescentStatus {
    // SAFETY: the caller's contract.
    unsafe { state_len(read(config).and_then(RadamConfig::try_from), n, out) }
}

/// Sets up `opt` as RAdam for `n` parameters, its state in `state` (`state_len` floats, at
/// least what `descent_radam_state_len` gives; initialized here), which must outlive `opt`.
///
/// # Safety
/// Pointers null or valid; `state` valid for `state_len` floats while `opt` is in use.
#[no_mangle]
pub unsafe extern "C" fn descent_radam_init(
    opt: *mut DescentOptimizer,
    config: *const DescentRadamConfig,
    n: usize,
    state: *mut f32,
    state_len: usize,
) -> DescentStatus {
    // SAFETY: the caller's contract.
    unsafe { init(opt, read(config).and_then(RadamConfig::try_from), n, state, state_len, Any::radam) }
}

/// PyTorch's defaults for Adadelta.
#[no_mangle]
pub extern "C" fn descent_adadelta_defaults() -> DescentAdadeltaConfig {
    DescentAdadeltaConfig::from(AdadeltaConfig::default())
}

/// Floats of state Adadelta needs for `n` parameters with `config` (validated), into `*out`.
///
/// # Safety
/// Pointers null or valid.
#[no_mangle]
pub unsafe extern "C" fn descent_adadelta_state_len(
    config: *const DescentAdadeltaConfig,
    n: usize,
    out: *mut usize,
) -> DescentStatus {
    // SAFETY: the caller's contract.
    unsafe { state_len(read(config).and_then(AdadeltaConfig::try_from), n, out) }
}

/// Sets up `opt` as Adadelta for `n` parameters, its state in `state` (`state_len` floats, at
/// least what `descent_adadelta_state_len` gives; initialized here), which must outlive `opt`.
///
/// # Safety
/// Pointers null or valid; `state` valid for `state_len` floats while `opt` is in use.
#[no_mangle]
pub unsafe extern "C" fn descent_adadelta_init(
    opt: *mut DescentOptimizer,
    config: *const DescentAdadeltaConfig,
    n: usize,
    state: *mut f32,
    state_len: usize,
) -> DescentStatus {
    // SAFETY: the caller's contract.
    unsafe { init(opt, read(config).and_then(AdadeltaConfig::try_from), n, state, state_len, Any::adadelta) }
}

/// PyTorch's defaults for ASGD.
#[no_mangle]
pub extern "C" fn descent_asgd_defaults() -> DescentAsgdConfig {
    DescentAsgdConfig::from(AsgdConfig::default())
}

/// Floats of state ASGD needs for `n` parameters with `config` (validated), into `*out`.
///
/// # Safety
/// Pointers null or valid.
#[no_mangle]
pub unsafe extern "C" fn descent_asgd_state_len(
    config: *const DescentAsgdConfig,
    n: usize,
    out: *mut usize,
) -> DescentStatus {
    // SAFETY: the caller's contract.
    unsafe { state_len(read(config).and_then(AsgdConfig::try_from), n, out) }
}

/// Sets up `opt` as ASGD for `n` parameters, its state in `state` (`state_len` floats, at
/// least what `descent_asgd_state_len` gives; initialized here), which must outlive `opt`.
///
/// # Safety
/// Pointers null or valid; `state` valid for `state_len` floats while `opt` is in use.
#[no_mangle]
pub unsafe extern "C" fn descent_asgd_init(
    opt: *mut DescentOptimizer,
    config: *const DescentAsgdConfig,
    n: usize,
    state: *mut f32,
    state_len: usize,
) -> DescentStatus {
    // SAFETY: the caller's contract.
    unsafe { init(opt, read(config).and_then(AsgdConfig::try_from), n, state, state_len, Any::asgd) }
}

/// PyTorch's defaults for Rprop.
#[no_mangle]
pub extern "C" fn descent_rprop_defaults() -> DescentRpropConfig {
    DescentRpropConfig::from(RpropConfig::default())
}

/// Floats of state Rprop needs for `n` parameters with `config` (validated), into `*out`.
///
/// # Safety
/// Pointers null or valid.
#[no_mangle]
pub unsafe extern "C" fn descent_rprop_state_len(
    config: *const DescentRpropConfig,
    n: usize,
    out: *mut usize,
) -> DescentStatus {
    // SAFETY: the caller's contract.
    unsafe { state_len(read(config).and_then(RpropConfig::try_from), n, out) }
}

/// Sets up `opt` as Rprop for `n` parameters, its state in `state` (`state_len` floats, at
/// least what `descent_rprop_state_len` gives; initialized here), which must outlive `opt`.
///
/// # Safety
/// Pointers null or valid; `state` valid for `state_len` floats while `opt` is in use.
#[no_mangle]
pub unsafe extern "C" fn descent_rprop_init(
    opt: *mut DescentOptimizer,
    config: *const DescentRpropConfig,
    n: usize,
    state: *mut f32,
    state_len: usize,
) -> DescentStatus {
    // SAFETY: the caller's contract.
    unsafe { init(opt, read(config).and_then(RpropConfig::try_from), n, state, state_len, Any::rprop) }
}

/// PyTorch's defaults for Adafactor.
#[no_mangle]
pub extern "C" fn descent_adafactor_defaults() -> DescentAdafactorConfig {
    DescentAdafactorConfig::from(AdafactorConfig::default())
}

/// Floats of state Adafactor needs for `n` parameters with `config` (validated), into `*out`.
///
/// # Safety
/// Pointers null or valid.
#[no_mangle]
pub unsafe extern "C" fn descent_adafactor_state_len(
    config: *const DescentAdafactorConfig,
    n: usize,
    out: *mut usize,
) -> DescentStatus {
    // SAFETY: the caller's contract.
    unsafe { state_len(read(config).and_then(AdafactorConfig::try_from), n, out) }
}

/// Sets up `opt` as Adafactor for `n` parameters, its state in `state` (`state_len` floats, at
/// least what `descent_adafactor_state_len` gives; initialized here), which must outlive `opt`.
///
/// # Safety
/// Pointers null or valid; `state` valid for `state_len` floats while `opt` is in use.
#[no_mangle]
pub unsafe extern "C" fn descent_adafactor_init(
    opt: *mut DescentOptimizer,
    config: *const DescentAdafactorConfig,
    n: usize,
    state: *mut f32,
    state_len: usize,
) -> DescentStatus {
    // SAFETY: the caller's contract.
    unsafe {
        init(opt, read(config).and_then(AdafactorConfig::try_from), n, state, state_len, Any::adafactor)
    }
}

/// PyTorch's defaults for Lion.
#[no_mangle]
pub extern "C" fn descent_lion_defaults() -> DescentLionConfig {
    DescentLionConfig::from(LionConfig::default())
}

/// Floats of state Lion needs for `n` parameters with `config` (validated), into `*out`.
///
/// # Safety
/// Pointers null or valid.
#[no_mangle]
pub unsafe extern "C" fn descent_lion_state_len(
    config: *const DescentLionConfig,
    n: usize,
    out: *mut usize,
) -> DescentStatus {
    // SAFETY: the caller's contract.
    unsafe { state_len(read(config).and_then(LionConfig::try_from), n, out) }
}

/// Sets up `opt` as Lion for `n` parameters, its state in `state` (`state_len` floats, at
/// least what `descent_lion_state_len` gives; initialized here), which must outlive `opt`.
///
/// # Safety
/// Pointers null or valid; `state` valid for `state_len` floats while `opt` is in use.
#[no_mangle]
pub unsafe extern "C" fn descent_lion_init(
    opt: *mut DescentOptimizer,
    config: *const DescentLionConfig,
    n: usize,
    state: *mut f32,
    state_len: usize,
) -> DescentStatus {
    // SAFETY: the caller's contract.
    unsafe { init(opt, read(config).and_then(LionConfig::try_from), n, state, state_len, Any::lion) }
}

/// optax's defaults for LAMB.
#[no_mangle]
pub extern "C" fn descent_lamb_defaults() -> DescentLambConfig {
    DescentLambConfig::from(LambConfig::default())
}

/// Floats of state LAMB needs for `n` parameters with `config` (validated), into `*out`.
///
/// # Safety
/// Pointers null or valid.
#[no_mangle]
pub unsafe extern "C" fn descent_lamb_state_len(
    config: *const DescentLambConfig,
    n: usize,
    out: *mut usize,
) -> DescentStatus {
    // SAFETY: the caller's contract.
    unsafe { state_len(read(config).and_then(LambConfig::try_from), n, out) }
}

/// Sets up `opt` as LAMB for `n` parameters (one tensor), its state in `state` (`state_len`
/// floats, at least what `descent_lamb_state_len` gives; initialized here), which must outlive
/// `opt`.
///
/// # Safety
/// Pointers null or valid; `state` valid for `state_len` floats while `opt` is in use.
#[no_mangle]
pub unsafe extern "C" fn descent_lamb_init(
    opt: *mut DescentOptimizer,
    config: *const DescentLambConfig,
    n: usize,
    state: *mut f32,
    state_len: usize,
) -> DescentStatus {
    // SAFETY: the caller's contract.
    unsafe { init(opt, read(config).and_then(LambConfig::try_from), n, state, state_len, Any::lamb) }
}

/// optax's defaults for LARS.
#[no_mangle]
pub extern "C" fn descent_lars_defaults() -> DescentLarsConfig {
    DescentLarsConfig::from(LarsConfig::default())
}

/// Floats of state LARS needs for `n` parameters with `config` (validated), into `*out`.
///
/// # Safety
/// Pointers null or valid.
#[no_mangle]
pub unsafe extern "C" fn descent_lars_state_len(
    config: *const DescentLarsConfig,
    n: usize,
    out: *mut usize,
) -> DescentStatus {
    // SAFETY: the caller's contract.
    unsafe { state_len(read(config).and_then(LarsConfig::try_from), n, out) }
}

/// Sets up `opt` as LARS for `n` parameters (one tensor), its state in `state` (`state_len`
/// floats, at least what `descent_lars_state_len` gives; initialized here), which must outlive
/// `opt`.
///
/// # Safety
/// Pointers null or valid; `state` valid for `state_len` floats while `opt` is in use.
#[no_mangle]
pub unsafe extern "C" fn descent_lars_init(
    opt: *mut DescentOptimizer,
    config: *const DescentLarsConfig,
    n: usize,
    state: *mut f32,
    state_len: usize,
) -> DescentStatus {
    // SAFETY: the caller's contract.
    unsafe { init(opt, read(config).and_then(LarsConfig::try_from), n, state, state_len, Any::lars) }
}

/// AdamW's defaults (`torch.optim.AdamW`: decoupled weight decay 1e-2).
#[no_mangle]
pub extern "C" fn descent_adamw_defaults() -> DescentAdamConfig {
    DescentAdamConfig::from(AdamConfig::adamw())
}

/// One step: `params` (n floats) updated from `grads` (n floats), which must not overlap.
/// `DESCENT_STATUS_SKIPPED` never happens with the default non-finite policy (PyTorch's:
/// propagate).
///
/// # Safety
/// Pointers null or valid for `n` floats.
#[no_mangle]
pub unsafe extern "C" fn descent_step(
    opt: *mut DescentOptimizer,
    params: *mut f32,
    grads: *const f32,
    n: usize,
) -> DescentStatus {
    status(|| {
        // SAFETY: the caller's contract; the buffers are checked not to overlap.
        let opt = unsafe { optimizer(opt)? };
        disjoint(params, n, grads, n)?;
        let (p, g) = unsafe { (slice_mut(params, n)?, slice(grads, n)?) };
        match opt.get().step(p, g)? {
            StepOutcome::Stepped => Ok(()),
            StepOutcome::Skipped { .. } => Err(Status::Skipped),
        }
    })
}

/// The learning rate in force, into `*out`.
///
/// # Safety
/// Pointers null or valid.
#[no_mangle]
pub unsafe extern "C" fn descent_lr(opt: *mut DescentOptimizer, out: *mut f64) -> DescentStatus {
    // SAFETY: the caller's contract.
    status(|| unsafe { put(out, optimizer(opt)?.get().lr()) })
}

/// Sets the learning rate (validated as at construction).
///
/// # Safety
/// `opt` null or valid.
#[no_mangle]
pub unsafe extern "C" fn descent_set_lr(opt: *mut DescentOptimizer, lr: f64) -> DescentStatus {
    // SAFETY: the caller's contract.
    status(|| Ok(unsafe { optimizer(opt)? }.get().set_lr(lr)?))
}

/// Sets the momentum a schedule cycles (SGD's and RMSprop's momentum, the Adam family's β1);
/// `DESCENT_STATUS_UNSUPPORTED` where there is none.
///
/// # Safety
/// `opt` null or valid.
#[no_mangle]
pub unsafe extern "C" fn descent_set_momentum(opt: *mut DescentOptimizer, momentum: f64) -> DescentStatus {
    // SAFETY: the caller's contract.
    status(|| Ok(unsafe { optimizer(opt)? }.get().set_momentum(momentum)?))
}

/// Steps taken so far, into `*out`.
///
/// # Safety
/// Pointers null or valid.
#[no_mangle]
pub unsafe extern "C" fn descent_steps(opt: *mut DescentOptimizer, out: *mut u64) -> DescentStatus {
    // SAFETY: the caller's contract.
    status(|| unsafe { put(out, optimizer(opt)?.get().steps()) })
}

/// Bytes `descent_save` writes, into `*out`.
///
/// # Safety
/// Pointers null or valid.
#[no_mangle]
pub unsafe extern "C" fn descent_saved_len(opt: *mut DescentOptimizer, out: *mut usize) -> DescentStatus {
    // SAFETY: the caller's contract.
    status(|| unsafe { put(out, optimizer(opt)?.get().saved_len()) })
}

/// Saves hyperparameters, step count and state into `out` (`cap` bytes, at least
/// `descent_saved_len`), the same bytes as descent-core's `Optimizer::save` (CRC-checked); the
/// length written goes to `*written`.
///
/// # Safety
/// Pointers null or valid; `out` valid for `cap` bytes.
#[no_mangle]
pub unsafe extern "C" fn descent_save(
    opt: *mut DescentOptimizer,
    out: *mut u8,
    cap: usize,
    written: *mut usize,
) -> DescentStatus {
    status(|| {
        // SAFETY: the caller's contract.
        let opt = unsafe { optimizer(opt)? };
        let buf = unsafe { slice_mut(out, cap)? };
        if written.is_null() {
            return Err(Status::NullPointer);
        }
        let n = opt.get().save(buf)?;
        // SAFETY: checked non-null above.
        unsafe { put(written, n) }
    })
}

/// Restores what `descent_save` wrote (`len` bytes). Truncated, corrupt or mismatched bytes are
/// refused and change nothing.
///
/// # Safety
/// Pointers null or valid; `bytes` valid for `len` bytes.
#[no_mangle]
pub unsafe extern "C" fn descent_restore(
    opt: *mut DescentOptimizer,
    bytes: *const u8,
    len: usize,
) -> DescentStatus {
    status(|| {
        // SAFETY: the caller's contract.
        let opt = unsafe { optimizer(opt)? };
        Ok(opt.get().restore(unsafe { slice(bytes, len)? })?)
    })
}

/// `torch.nn.utils.clip_grad_norm_` over one buffer: scales `grads` so that its `norm_type`-norm
/// (1, 2 or INFINITY) is at most `max_norm`; the norm before clipping goes to `*total_norm`.
///
/// # Safety
/// Pointers null or valid; `grads` for `n` floats.
#[no_mangle]
pub unsafe extern "C" fn descent_clip_grad_norm(
    grads: *mut f32,
    n: usize,
    max_norm: f64,
    norm_type: f64,
    error_if_nonfinite: bool,
    total_norm: *mut f32,
) -> DescentStatus {
    status(|| {
        if total_norm.is_null() {
            return Err(Status::NullPointer);
        }
        // SAFETY: the caller's contract.
        let g = unsafe { slice_mut(grads, n)? };
        let norm =
            clip::clip_grad_norm(&mut [g], max_norm, NormType::from_f64(norm_type)?, error_if_nonfinite)?;
        // SAFETY: checked non-null above.
        unsafe { put(total_norm, norm) }
    })
}

/// `torch.nn.utils.clip_grad_value_`: clamps every gradient into [−clip_value, clip_value].
///
/// # Safety
/// `grads` null or valid for `n` floats.
#[no_mangle]
pub unsafe extern "C" fn descent_clip_grad_value(
    grads: *mut f32,
    n: usize,
    clip_value: f64,
) -> DescentStatus {
    status(|| {
        // SAFETY: the caller's contract.
        let g = unsafe { slice_mut(grads, n)? };
        Ok(clip::clip_grad_value(&mut [g], clip_value)?)
    })
}

/// A parameter shape for Adafactor: a vector (0 × 0) or a matrix.
fn adafactor_shape(rows: usize, cols: usize) -> Result<Shape, Status> {
    Ok(if rows == 0 && cols == 0 { Shape::default() } else { Shape::new(&[rows, cols])? })
}

/// The panic handler of the bare-metal library (descent-core never panics; this is the linker's
/// requirement).
#[cfg(all(target_os = "none", not(test)))]
#[panic_handler]
fn panic(_: &core::panic::PanicInfo) -> ! {
    loop {
        core::hint::spin_loop();
    }
}

/// Nothing unwinds (panic = abort on bare metal), but the precompiled `core` names the
/// personality routine.
#[cfg(all(target_os = "none", not(test)))]
#[no_mangle]
pub extern "C" fn rust_eh_personality() {}
