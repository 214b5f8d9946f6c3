//! Freestanding: `#![no_std]`, `#![no_main]`, panic = "abort", entered at `_start` without libc's
//! start files (see `rt.rs`). Runs one Adam<f32> step with owned and one with borrowed state (only
//! the owned one with the `one-step` feature) and exits 0 if the results are the ones the formula
//! gives, 1 otherwise (x86-64 Linux).
#![no_std]
#![no_main]

use descent_core::Optimizer;
use descent_core::adam::{Adam, AdamConfig};

mod rt;

extern "C" fn entry() -> ! {
    // One Adam step from zero state moves each parameter by lr·sign(g) (m̂/√v̂ = g/|g|), and not at
    // all where g = 0.
    // black_box keeps the compiler from computing the steps at build time.
    let cfg = core::hint::black_box(AdamConfig { lr: 0.1, ..AdamConfig::default() });
    let g = core::hint::black_box([0.5f32, -0.25, 0.0, 4.0]);
    let expected = [0.9f32, -0.9, 0.5, 1.9];
    let close = |a: &[f32; 4]| a.iter().zip(&expected).all(|(x, e)| (x - e).abs() < 1e-6);
    let mut p = core::hint::black_box([1.0f32, -1.0, 0.5, 2.0]);
    // black_box on the optimizer too: its step count is then unknown to the compiler, so the code
    // is that of any step (no bias correction folded into constants for t = 1).
    let ok_owned = match Adam::<f32, 4>::new(cfg).map(core::hint::black_box) {
        Ok(mut opt) => opt.step(&mut p, &g).is_ok() && close(&p),
        Err(_) => false,
    };
    // The same step over a borrowed buffer; left out with the `one-step` feature, so that
    // tools/code-size.sh measures exactly one Adam<f32> step.
    #[cfg(not(feature = "one-step"))]
    let ok_view = {
        let mut buf = [0.0f32; 8];
        let mut q = [1.0f32, -1.0, 0.5, 2.0];
        match descent_core::adam::AdamView::with_buffer(cfg, 4, &mut buf).map(core::hint::black_box) {
            Ok(mut opt) => opt.step(&mut q, &g).is_ok() && q == p,
            Err(_) => false,
        }
    };
    #[cfg(feature = "one-step")]
    let ok_view = true;
    rt::exit(if ok_owned && ok_view { 0 } else { 1 })
}
