//! Freestanding: `#![no_std]`, `#![no_main]`, panic = "abort", entered at `_start` without libc's
//! start files (see `rt.rs`). Runs one Adam<f32> step with owned and one with borrowed state and
//! exits 0 if the results are the ones the formula gives, 1 otherwise (x86-64 Linux).
#![no_std]
#![no_main]

use descent_core::Optimizer;
use descent_core::adam::{Adam, AdamConfig, AdamView};

mod rt;

extern "C" fn entry() -> ! {
    // One Adam step from zero state moves each parameter by lr·sign(g) (m̂/√v̂ = g/|g|), and not at
    // all where g = 0.
    // black_box keeps the compiler from computing the steps at build time.
    let cfg = core::hint::black_box(AdamConfig { lr: 0.1, ..AdamConfig::default() });
    let g = core::hint::black_box([0.5f32, -0.25, 0.0, 4.0]);
    let expected = [0.9f32, -0.9, 0.5, 1.9];
    let mut p = core::hint::black_box([1.0f32, -1.0, 0.5, 2.0]);
    let ok_owned = match Adam::<f32, 4>::new(cfg) {
        Ok(mut opt) => opt.step(&mut p, &g).is_ok(),
        Err(_) => false,
    };
    let mut buf = [0.0f32; 8];
    let mut q = [1.0f32, -1.0, 0.5, 2.0];
    let ok_view = match AdamView::with_buffer(cfg, 4, &mut buf) {
        Ok(mut opt) => opt.step(&mut q, &g).is_ok(),
        Err(_) => false,
    };
    let close = |a: &[f32; 4]| a.iter().zip(&expected).all(|(x, e)| (x - e).abs() < 1e-6);
    rt::exit(if ok_owned && ok_view && close(&p) && close(&q) && p == q { 0 } else { 1 })
}
