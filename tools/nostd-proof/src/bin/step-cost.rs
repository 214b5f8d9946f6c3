//! Instructions per optimizer step on an emulated core: run by tools/step-cost.sh under QEMU with
//! `-icount shift=0` (one instruction per nanosecond of virtual time), timed with SysTick. For Adam
//! (f32 state), SGD with momentum (f32), Adam with bf16 state and Adam with 8-bit state, the steps
//! over `SMALL` and `LARGE` parameters give the fixed cost per step and the cost per element;
//! then, with the feature `whole-example`, the fine-tuning example (tools/finetune-device, Adam
//! with f32 state) runs once, timed whole. Prints one line per measurement. ARM only (SysTick).
#![no_std]
#![no_main]

use core::fmt::Write;
use core::hint::black_box;

use descent_core::adam::{AdamConfig, AdamView};
use descent_core::half_state::{HalfView, Rounding, bf16};
use descent_core::quant_state::{self, QuantView};
use descent_core::sgd::{SgdConfig, SgdView};
use descent_core::{Error, Optimizer};
#[cfg(feature = "whole-example")]
use finetune_device::finetune;

#[path = "../rt.rs"]
mod rt;

use rt::clock;

/// The two sizes whose difference gives the cost per element.
const SMALL: usize = 64;
const LARGE: usize = 512;
/// Steps timed per size (the mean is reported).
const STEPS: u64 = 16;

static mut PARAMS: [f32; LARGE] = [0.0; LARGE];
static mut GRADS: [f32; LARGE] = [0.0; LARGE];
static mut STATE: [f32; 2 * LARGE] = [0.0; 2 * LARGE];
static mut STATE_BF16: [bf16; 2 * LARGE] = [bf16::ZERO; 2 * LARGE];
static mut CODES: [u8; 2 * LARGE] = [0; 2 * LARGE];
static mut SCALES: [f32; 2 * quant_state::blocks(LARGE, quant_state::BLOCK)] =
    [0.0; 2 * quant_state::blocks(LARGE, quant_state::BLOCK)];
#[cfg(feature = "whole-example")]
static mut TRAINER: finetune::Trainer = finetune::Trainer::new();

/// Mean instructions of one step of `opt` over its first `n` parameters, measured after one
/// untimed step (so that no first-step path is timed).
fn per_step(
    opt: &mut impl Optimizer<f32>,
    params: &mut [f32],
    grads: &[f32],
    ratio: f64,
) -> Result<f64, Error> {
    opt.step(params, grads)?;
    let mut result = Ok(());
    let ticks = clock::ticks(|| {
        for _ in 0..STEPS {
            if let Err(e) = opt.step(black_box(&mut *params), black_box(grads)) {
                result = Err(e);
            }
        }
    });
    let empty = clock::ticks(|| {
        for _ in 0..STEPS {
            black_box(&mut *params);
        }
    });
    result?;
    Ok((ticks - empty) as f64 * ratio / STEPS as f64)
}

/// Prints the fixed cost and the cost per element of the optimizer `make` builds for `n`
/// parameters (a macro: each optimizer borrows its state buffer for as long as it lives).
macro_rules! measure {
    ($out:expr, $name:expr, $ratio:expr, $params:expr, $grads:expr, |$n:ident| $make:expr) => {{
        let small = {
            let $n = SMALL;
            per_step(&mut $make?, &mut $params[..SMALL], &$grads[..SMALL], $ratio)?
        };
        let large = {
            let $n = LARGE;
            per_step(&mut $make?, &mut $params[..LARGE], &$grads[..LARGE], $ratio)?
        };
        let per_element = (large - small) / (LARGE - SMALL) as f64;
        let fixed = small - per_element * SMALL as f64;
        let _ = writeln!($out, "step {}: fixed {fixed:.0}, per element {per_element:.1}", $name);
    }};
}

fn entry() -> i32 {
    clock::start();
    let ratio = clock::instructions_per_tick();
    // SAFETY: `entry` runs once, on one core; the SysTick handler touches none of these.
    let (params, grads, state, state_bf16, codes, scales) = unsafe {
        (
            &mut *&raw mut PARAMS,
            &mut *&raw mut GRADS,
            &mut *&raw mut STATE,
            &mut *&raw mut STATE_BF16,
            &mut *&raw mut CODES,
            &mut *&raw mut SCALES,
        )
    };
    // Gradients of both signs and many magnitudes, no zeros.
    let mut x = 0x2545_f491u32;
    for (g, p) in grads.iter_mut().zip(params.iter_mut()) {
        x ^= x << 13;
        x ^= x >> 17;
        x ^= x << 5;
        *g = (x >> 8) as f32 / (1u32 << 23) as f32 - 1.0 + 1e-3;
        *p = *g * 0.5;
    }
    let adam = AdamConfig::default();
    let sgd = SgdConfig { lr: 0.01, momentum: 0.9, ..SgdConfig::default() };
    let mut out = rt::Stdout;
    let _ = writeln!(out, "instructions per SysTick tick {ratio:.3}");

    let mut all = || -> Result<(), Error> {
        measure!(out, "adam f32", ratio, params, grads, |n| AdamView::with_buffer(adam, n, &mut state[..]));
        measure!(out, "sgd-momentum f32", ratio, params, grads, |n| SgdView::with_buffer(
            sgd,
            n,
            &mut state[..]
        ));
        measure!(out, "adam bf16", ratio, params, grads, |n| {
            HalfView::with_buffer(adam, n, &mut state_bf16[..], Rounding::Nearest)
        });
        measure!(out, "adam 8-bit", ratio, params, grads, |n| {
            QuantView::with_buffers(adam, n, &mut codes[..], &mut scales[..], quant_state::Rounding::Nearest)
        });
        Ok(())
    };
    if all().is_err() {
        return 1;
    }
    #[cfg(feature = "whole-example")]
    {
        // SAFETY: as above; the only reference to TRAINER.
        let trainer = unsafe { &mut *&raw mut TRAINER };
        let mut report = Err(Error::Unsupported { what: "not run" });
        let ticks = clock::ticks(|| {
            report = finetune::run_adam(trainer, finetune::MODEL, &mut state[..finetune::GROUPED_STATE_VALUES])
        });
        let _ = writeln!(out, "fine-tuning example (adam f32): {:.0} instructions", ticks as f64 * ratio);
        if !report.is_ok_and(|r| finetune::improved(&r)) {
            return 1;
        }
    }
    0
}
