//! # descent-core
//!
//! PyTorch's optimizers as fixed-size state machines that run anywhere: `#![no_std]`, no heap, no
//! panics. Every update rule has a scalar reference written from its formula and a lane-chunked
//! kernel that the compiler vectorizes; property tests prove the two give the same bits, and
//! conformance tests replay traces produced by PyTorch.
//!
//! State is either owned, in const-generic arrays whose size is known at compile time, or
//! borrowed from buffers the caller provides:
//!
//! ```
//! use descent_core::{adam::{Adam, AdamConfig}, Optimizer};
//!
//! // Minimize f(x) = Σ (x_i − 3)² with Adam over 4 parameters, state in a [[f32; 4]; 2].
//! let mut opt = Adam::<f32, 4>::new(AdamConfig { lr: 0.1, ..AdamConfig::default() })?;
//! let mut x = [0.0f32; 4];
//! for _ in 0..500 {
//!     let g = x.map(|xi| 2.0 * (xi - 3.0));
//!     opt.step(&mut x, &g)?;
//! }
//! assert!(x.iter().all(|xi| (xi - 3.0).abs() < 1e-3));
//! # Ok::<(), descent_core::Error>(())
//! ```
//!
//! ## Features
//!
//! - `micromath`: `f32` square roots through micromath's fast approximation (a bit shift), for
//!   cores without an FPU. Not correctly rounded: relative error up to 6.1 % per call (mean 2.0 %,
//!   `sqrt(0)` ≈ 8.1e-20); over a 100-step Adam run in f32 the parameters deviate by at most
//!   1.6e-2 from the same f32 run without the feature (`core/tests/micromath.rs`). The square
//!   root is the only `f32` transcendental function in descent-core; the others (β^t, the
//!   schedules' cosines, …) are per-step `f64` scalars computed with libm, which micromath does
//!   not cover.
#![no_std]
#![deny(missing_docs)]

pub mod accumulate;
pub mod clip;
pub mod error;
pub mod grad_scaler;
pub mod half_state;
pub mod lanes;
pub mod layout;
pub mod lbfgs;
pub mod lr_finder;
pub mod nn;
pub mod optim;
pub mod persist;
pub mod power;
pub mod quant_state;
pub mod real;
pub mod schedule;
pub mod sqrt;

pub use error::Error;
pub use optim::registry::{OPTIMIZERS, OptimizerInfo};
pub use optim::{
    EvalPoint, NonFinitePolicy, Optim, Optimizer, StateBuffer, StepOutcome, UpdateRule, adabelief, adadelta,
    adafactor, adagrad, adam, adamax, adan, ademamix, adopt, asgd, averaged, dadapt_adamw, distance, group,
    lamb, lars, lion, lookahead, muon, nadam, novograd, pair, prodigy, radam, rmsprop, rprop, sam,
    schedule_free, sgd, sm3, sophia, sparse_adam, yogi,
};
pub use real::Real;
