//! Run-time CPU feature dispatch for the core's kernels.
//!
//! descent-core is compiled for the portable target (x86-64: SSE2). Its kernels are generic and
//! `#[inline(always)]`, so calling them from a function compiled with `#[target_feature(enable =
//! "avx2,fma")]` produces AVX2 code for that call site (256-bit lanes, `vsqrtps ymm`). [`step`]
//! checks the CPU once and takes that path when it can. Rust never contracts `a·b + c` into an FMA
//! on its own, so both paths give the same bits (tested below).
#![allow(unsafe_code)]

use descent_core::{Error, Optim, Optimizer, Real, StateBuffer, StepOutcome, UpdateRule};

/// Whether this CPU has AVX2 and FMA (checked once; the standard library caches it).
pub fn has_avx2() -> bool {
    #[cfg(target_arch = "x86_64")]
    {
        std::arch::is_x86_feature_detected!("avx2") && std::arch::is_x86_feature_detected!("fma")
    }
    #[cfg(not(target_arch = "x86_64"))]
    {
        false
    }
}

/// The path [`step`] takes on this machine: `"avx2+fma"` or `"portable"`.
pub fn active_path() -> &'static str {
    if has_avx2() { "avx2+fma" } else { "portable" }
}

#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx2,fma")]
fn step_avx2<R: UpdateRule, F: Real, B: StateBuffer<F>>(
    opt: &mut Optim<R, F, B>,
    params: &mut [F],
    grads: &[F],
) -> Result<StepOutcome, Error> {
    opt.step(params, grads)
}

/// One optimizer step through the fastest kernel this CPU supports.
#[inline]
pub fn step<R: UpdateRule, F: Real, B: StateBuffer<F>>(
    opt: &mut Optim<R, F, B>,
    params: &mut [F],
    grads: &[F],
) -> Result<StepOutcome, Error> {
    #[cfg(target_arch = "x86_64")]
    if has_avx2() {
        // SAFETY: the CPU supports AVX2 and FMA (checked just above), which is all
        // `step_avx2`'s target features require.
        return unsafe { step_avx2(opt, params, grads) };
    }
    opt.step(params, grads)
}

/// A function compiled for AVX2+FMA when the CPU has them: runs `f` there (for benchmarks that
/// want their reference loops compiled the same way).
pub fn with_best_features<T>(f: impl FnOnce() -> T) -> T {
    #[cfg(target_arch = "x86_64")]
    {
        #[target_feature(enable = "avx2,fma")]
        fn avx2<T>(f: impl FnOnce() -> T) -> T {
            f()
        }
        if has_avx2() {
            // SAFETY: AVX2 and FMA are present (checked).
            return unsafe { avx2(f) };
        }
    }
    f()
}

#[cfg(test)]
mod tests {
    use super::*;
    use descent_core::adam::{Adam, AdamConfig};

    #[test]
    fn dispatched_step_gives_the_portable_bits() {
        const N: usize = 1003;
        let cfg = AdamConfig { lr: 1e-2, amsgrad: false, weight_decay: 1e-3, ..AdamConfig::default() };
        let mut a = Adam::<f32, N>::new(cfg).unwrap();
        let mut b = Adam::<f32, N>::new(cfg).unwrap();
        let mut pa: Vec<f32> = (0..N).map(|i| (i as f32 * 0.37).sin()).collect();
        let mut pb = pa.clone();
        for k in 0..5 {
            let g: Vec<f32> = (0..N).map(|i| ((i * (k + 3)) as f32 * 0.11).cos()).collect();
            step(&mut a, &mut pa, &g).unwrap();
            b.step(&mut pb, &g).unwrap();
        }
        assert_eq!(
            pa.iter().map(|x| x.to_bits()).collect::<Vec<_>>(),
            pb.iter().map(|x| x.to_bits()).collect::<Vec<_>>()
        );
        assert_eq!(a.state(), b.state());
        assert!(["avx2+fma", "portable"].contains(&active_path()));
    }
}
