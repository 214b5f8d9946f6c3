//! Freestanding: `#![no_std]`, `#![no_main]`, panic = "abort", entered without libc's start files
//! (see `rt.rs`). Checks one Adam<f32> step from zero state against its closed form, with owned and
//! with borrowed state, then runs a few steps of Adam, SGD with Nesterov momentum, Adam with bf16
//! state and Adam with 8-bit state and prints the parameters' bits: CI runs this on x86-64 and on
//! emulated Cortex-M0, M4F, M33 and RISC-V cores and requires the same output, byte for byte.
//! Exits 0 if the checks pass, 1 otherwise. With the `one-step` feature only the owned Adam step
//! is left (what tools/code-size.sh measures as "one Adam<f32> step"); with `fault` it executes an
//! undefined instruction first, which CI uses to check that the fault handler reports and fails.
#![no_std]
#![no_main]

use core::hint::black_box;

use descent_core::Optimizer;
use descent_core::adam::{Adam, AdamConfig};

mod rt;

/// Parameters and gradients of the checks.
// The fixed header of the owned Adam optimizers on a 32-bit core, as book/src/microcontroller.md
// states it (hyperparameters, the carried β1^t and β2^t, the step count, the length).
#[cfg(target_pointer_width = "32")]
const _: () = {
    assert!(core::mem::size_of::<Adam<f32, 0>>() == 160);
    assert!(core::mem::size_of::<descent_core::half_state::AdamBf16<0>>() == 184);
};
#[cfg(target_pointer_width = "32")]
const _: () = assert!(core::mem::size_of::<descent_core::quant_state::Adam8<0, 0>>() == 184);

const P0: [f32; 4] = [1.0, -1.0, 0.5, 2.0];
const G0: [f32; 4] = [0.5, -0.25, 0.0, 4.0];

fn entry() -> i32 {
    #[cfg(feature = "fault")]
    rt::undefined_instruction();
    // One Adam step from zero state moves each parameter by lr·sign(g) (m̂/√v̂ = g/|g|), and not at
    // all where g = 0. black_box keeps the compiler from computing the steps at build time.
    let cfg = black_box(AdamConfig { lr: 0.1, ..AdamConfig::default() });
    let g = black_box(G0);
    let expected = [0.9f32, -0.9, 0.5, 1.9];
    let close = |a: &[f32; 4]| a.iter().zip(&expected).all(|(x, e)| (x - e).abs() < 1e-6);
    let mut p = black_box(P0);
    // black_box on the optimizer too: its step count is then unknown to the compiler, so the code
    // is that of any step (no bias correction folded into constants for t = 1).
    let ok_owned = match Adam::<f32, 4>::new(cfg).map(black_box) {
        Ok(mut opt) => opt.step(&mut p, &g).is_ok() && close(&p),
        Err(_) => false,
    };
    #[cfg(feature = "one-step")]
    let ok = ok_owned;
    #[cfg(not(feature = "one-step"))]
    let ok = ok_owned && fingerprints::run(cfg, &p);
    if ok { 0 } else { 1 }
}

#[cfg(not(feature = "one-step"))]
mod fingerprints {
    use core::fmt::Write;
    use core::hint::black_box;

    use descent_core::adam::{AdamConfig, AdamView};
    use descent_core::half_state::{AdamBf16, Rounding};
    use descent_core::quant_state::{self, Adam8};
    use descent_core::sgd::{SgdConfig, SgdMomentum};
    use descent_core::{Error, Optimizer};

    use super::{G0, P0};
    use crate::rt::Stdout;

    /// Steps per optimizer.
    const STEPS: usize = 5;

    /// `STEPS` steps of `opt` from [`P0`], the gradient changing each step; prints the
    /// parameters' bits.
    fn steps(name: &str, opt: &mut dyn Optimizer<f32>) -> Result<[f32; 4], Error> {
        let mut p = black_box(P0);
        for k in 0..STEPS {
            let g = G0.map(|g| g * (1.0 + k as f32) - 0.125 * k as f32);
            opt.step(&mut p, &black_box(g))?;
        }
        let mut out = Stdout;
        let _ = write!(out, "{name:<28}");
        for x in p {
            let _ = write!(out, " {:08x}", x.to_bits());
        }
        let _ = writeln!(out);
        Ok(p)
    }

    /// The same Adam step over a borrowed buffer gives `stepped`, then the fingerprints.
    pub fn run(cfg: AdamConfig, stepped: &[f32; 4]) -> bool {
        let mut buf = [0.0f32; 8];
        let mut q = black_box(P0);
        let view_ok = match AdamView::with_buffer(cfg, 4, &mut buf).map(black_box) {
            Ok(mut opt) => opt.step(&mut q, &black_box(G0)).is_ok() && q == *stepped,
            Err(_) => false,
        };
        let sgd =
            SgdConfig { lr: 0.05, momentum: 0.9, nesterov: true, weight_decay: 1e-2, ..SgdConfig::default() };
        let all = || -> Result<(), Error> {
            let _ = writeln!(Stdout, "parameters after {STEPS} steps (f32 bits):");
            let mut buf = [0.0f32; 8];
            steps("adam", &mut AdamView::with_buffer(cfg, 4, &mut buf)?)?;
            steps(
                "adamw",
                &mut AdamView::with_buffer(AdamConfig { lr: 0.1, ..AdamConfig::adamw() }, 4, &mut buf)?,
            )?;
            steps("sgd, nesterov momentum", &mut SgdMomentum::<f32, 4>::new(sgd)?)?;
            steps("adam, bf16 state", &mut AdamBf16::<4>::new(cfg, Rounding::Nearest)?)?;
            steps("adam, bf16 state, stochastic", &mut AdamBf16::<4>::new(cfg, Rounding::Stochastic(7))?)?;
            steps(
                "adam, 8-bit state",
                &mut Adam8::<4, { quant_state::blocks(4, quant_state::BLOCK) }>::new(
                    cfg,
                    quant_state::Rounding::Nearest,
                )?,
            )?;
            Ok(())
        };
        view_ok && all().is_ok()
    }
}
