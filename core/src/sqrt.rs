//! The only module of descent-core allowed to use `unsafe`: a square root that the compiler can
//! vectorize, or at least the FPU's square-root instruction.
//!
//! On stable Rust, `f32::sqrt` is not available in `core` (`core_float_math` is unstable), and
//! libm's `sqrtf`/`sqrt` are opaque to LLVM where they use inline assembly (`sqrtss` on x86,
//! `fsqrt` on AArch64): a loop calling them stays scalar (measured 3.7 ns/element for an Adam
//! loop against 0.48 ns with a vectorizable square root on AVX2). Per target:
//!
//! | target | `f32` | `f64` |
//! |---|---|---|
//! | x86-64; x86 with SSE/SSE2 | `_mm_sqrt_ss` | `_mm_sqrt_sd` |
//! | AArch64 with NEON (every AArch64 Linux/macOS/Windows target, `aarch64-unknown-none`) | `vsqrt_f32` on lane 0 | `vsqrt_f64` |
//! | 32-bit ARM, hard-float ABI (`thumbv7em-none-eabihf`: Cortex-M4F/M7, `thumbv8m.main-none-eabihf`, `armv7-*-eabihf`) | `vsqrt.f32` (inline asm) | libm (software) |
//! | everything else (Cortex-M0/M3, RISC-V without vector intrinsics on stable, …) | libm | libm |
//!
//! The x86 and AArch64 intrinsics are lowered by `core::arch` to LLVM's `llvm.sqrt` intrinsic
//! (for AArch64: `vget_lane(vsqrt(vdup(x)), 0)`, which LLVM folds to a scalar `llvm.sqrt`), so the
//! loop and SLP vectorizers turn a loop of them into `sqrtps`/`vsqrtps` or `fsqrt v.4s`.
//!
//! On 32-bit ARM there is no stable intrinsic: `core::arch::arm`'s NEON intrinsics are unstable,
//! and the FPU target features (`vfp2`, `fp64`, …) are unstable too, so stable code can neither
//! name an `sreg` operand nor tell a double-precision FPU from a single-precision one. What is
//! stable is `target_abi = "eabihf"` (the hard-float ABI passes floats in FPU registers, so an FPU
//! with single-precision `VSQRT.F32` is present) and `asm!` on ARM: the `f32` path moves the value
//! through a core register into `s0` and runs `vsqrt.f32` (≈14 cycles on a Cortex-M4F, against a
//! software `sqrtf` of a few hundred). Cortex-M4F/M7 have no vector floating-point unit, so the
//! opacity of the asm costs nothing there. `f64` stays on libm: the Cortex-M4F has no
//! double-precision FPU and a Cortex-M7's cannot be detected on stable.
//!
//! IEEE 754 requires square root to be correctly rounded, and every instruction used here is
//! (in the default round-to-nearest mode), so every path gives the same bits as libm's correctly
//! rounded `sqrtf`/`sqrt`; `tests::sqrt_matches_libm_bitwise` checks it on whatever target the
//! tests run (x86-64 natively; AArch64 and ARMv7 under qemu-user, see the test's docs).
//!
//! With the `micromath` feature, `f32` uses micromath's fast approximation (not correctly rounded;
//! its measured error is documented in the crate docs).
#![allow(unsafe_code)]

/// Square root of an `f32`.
#[inline(always)]
pub fn sqrt_f32(x: f32) -> f32 {
    #[cfg(feature = "micromath")]
    {
        micromath::F32Ext::sqrt(x)
    }
    #[cfg(all(not(feature = "micromath"), target_arch = "x86_64"))]
    {
        use core::arch::x86_64::{_mm_cvtss_f32, _mm_set_ss, _mm_sqrt_ss};
        // SAFETY: SSE is part of the x86-64 baseline, so these intrinsics are always available on
        // this target; they only move values between registers (no memory access).
        unsafe { _mm_cvtss_f32(_mm_sqrt_ss(_mm_set_ss(x))) }
    }
    #[cfg(all(not(feature = "micromath"), target_arch = "x86", target_feature = "sse"))]
    {
        use core::arch::x86::{_mm_cvtss_f32, _mm_set_ss, _mm_sqrt_ss};
        // SAFETY: guarded by `target_feature = "sse"`; register-only intrinsics.
        unsafe { _mm_cvtss_f32(_mm_sqrt_ss(_mm_set_ss(x))) }
    }
    #[cfg(all(not(feature = "micromath"), target_arch = "aarch64", target_feature = "neon"))]
    {
        use core::arch::aarch64::{vdup_n_f32, vget_lane_f32, vsqrt_f32};
        // SAFETY: guarded by `target_feature = "neon"` (enabled on every AArch64 target except
        // the `-softfloat` ones); register-only intrinsics.
        unsafe { vget_lane_f32::<0>(vsqrt_f32(vdup_n_f32(x))) }
    }
    #[cfg(all(not(feature = "micromath"), target_arch = "arm", target_abi = "eabihf"))]
    {
        let bits: u32;
        // SAFETY: the hard-float ABI guarantees an FPU with VFP registers and `VSQRT.F32`. The
        // asm reads one core register, writes one, clobbers `s0` (declared), touches no memory
        // or stack, and leaves the flags alone (VSQRT only sets FPSCR's cumulative exception
        // bits, as libm's software sqrtf may).
        unsafe {
            core::arch::asm!(
                "vmov s0, {x}",
                "vsqrt.f32 s0, s0",
                "vmov {y}, s0",
                x = in(reg) x.to_bits(),
                y = lateout(reg) bits,
                out("s0") _,
                options(pure, nomem, nostack, preserves_flags),
            );
        }
        f32::from_bits(bits)
    }
    #[cfg(not(any(
        feature = "micromath",
        target_arch = "x86_64",
        all(target_arch = "x86", target_feature = "sse"),
        all(target_arch = "aarch64", target_feature = "neon"),
        all(target_arch = "arm", target_abi = "eabihf"),
    )))]
    {
        libm::sqrtf(x)
    }
}

/// Square root of an `f64` (micromath has no `f64` functions, so the feature does not change it).
#[inline(always)]
pub fn sqrt_f64(x: f64) -> f64 {
    #[cfg(target_arch = "x86_64")]
    {
        use core::arch::x86_64::{_mm_cvtsd_f64, _mm_set_sd, _mm_sqrt_sd};
        // SAFETY: SSE2 is part of the x86-64 baseline; register-only intrinsics.
        unsafe {
            let v = _mm_set_sd(x);
            _mm_cvtsd_f64(_mm_sqrt_sd(v, v))
        }
    }
    #[cfg(all(target_arch = "x86", target_feature = "sse2"))]
    {
        use core::arch::x86::{_mm_cvtsd_f64, _mm_set_sd, _mm_sqrt_sd};
        // SAFETY: guarded by `target_feature = "sse2"`; register-only intrinsics.
        unsafe {
            let v = _mm_set_sd(x);
            _mm_cvtsd_f64(_mm_sqrt_sd(v, v))
        }
    }
    #[cfg(all(target_arch = "aarch64", target_feature = "neon"))]
    {
        use core::arch::aarch64::{vdup_n_f64, vget_lane_f64, vsqrt_f64};
        // SAFETY: guarded by `target_feature = "neon"`; register-only intrinsics.
        unsafe { vget_lane_f64::<0>(vsqrt_f64(vdup_n_f64(x))) }
    }
    #[cfg(not(any(
        target_arch = "x86_64",
        all(target_arch = "x86", target_feature = "sse2"),
        all(target_arch = "aarch64", target_feature = "neon"),
    )))]
    {
        libm::sqrt(x)
    }
}

#[cfg(all(test, not(feature = "micromath")))]
mod tests {
    use super::*;

    /// A deterministic spread of bit patterns over the whole positive range plus special values.
    fn patterns32() -> impl Iterator<Item = f32> {
        let specials =
            [0.0f32, -0.0, 1.0, 2.0, 4.0, f32::MIN_POSITIVE, 1e-45, f32::MAX, f32::INFINITY, -1.0, f32::NAN];
        let mut x: u32 = 0x9E37_79B9;
        specials.into_iter().chain((0..200_000).map(move |_| {
            x ^= x << 13;
            x ^= x >> 17;
            x ^= x << 5;
            f32::from_bits(x & 0x7fff_ffff)
        }))
    }

    /// Exact value `m·2^e` of a finite non-negative float given as `f64` (f32 values convert
    /// exactly).
    fn exact(v: f64) -> (u128, i32) {
        let bits = v.to_bits();
        let (exp, frac) = (((bits >> 52) & 0x7ff) as i32, u128::from(bits & ((1 << 52) - 1)));
        if exp == 0 { (frac, -1074) } else { (frac | (1 << 52), exp - 1075) }
    }

    /// `a < b` for exact values `m·2^e` (mantissas below 2^112).
    fn less((ma, ea): (u128, i32), (mb, eb): (u128, i32)) -> bool {
        let mag = |m: u128, e: i32| if m == 0 { i32::MIN } else { 128 - m.leading_zeros() as i32 + e };
        match (mag(ma, ea), mag(mb, eb)) {
            (x, y) if x != y => x < y,
            _ if ea >= eb => (ma << (ea - eb)) < mb,
            _ => ma < (mb << (eb - ea)),
        }
    }

    /// ((a + b)/2)² exactly, for adjacent floats a < b.
    fn mid_squared(a: f64, b: f64) -> (u128, i32) {
        let ((ma, ea), (mb, eb)) = (exact(a), exact(b));
        let e = ea.min(eb);
        let m = (ma << (ea - e)) + (mb << (eb - e));
        (m * m, 2 * (e - 1))
    }

    /// `y` is `√x` correctly rounded to nearest among `prev < y < next` (ties cannot occur for
    /// a square root): ((prev + y)/2)² < x < ((y + next)/2)².
    fn correctly_rounded(x: f64, prev: f64, y: f64, next: f64) -> bool {
        less(mid_squared(prev, y), exact(x)) && less(exact(x), mid_squared(y, next))
    }

    /// Correctly rounded, checked by exact integer arithmetic (independent of libm, which itself
    /// uses the hardware instruction on x86 and AArch64).
    #[test]
    fn sqrt_is_correctly_rounded() {
        for x in patterns32().filter(|x| x.is_finite() && *x > 0.0) {
            let y = sqrt_f32(x);
            let (p, n) = (f32::from_bits(y.to_bits() - 1), f32::from_bits(y.to_bits() + 1));
            assert!(correctly_rounded(x.into(), p.into(), y.into(), n.into()), "sqrtf({x:e}) = {y:e}");
            // The check discriminates: the next float up is not the rounded root.
            let nn = f32::from_bits(n.to_bits() + 1);
            assert!(!correctly_rounded(x.into(), y.into(), n.into(), nn.into()), "sqrtf({x:e})");
            let xd = f64::from(x) * 1.000_000_123;
            let y = sqrt_f64(xd);
            let (p, n) = (f64::from_bits(y.to_bits() - 1), f64::from_bits(y.to_bits() + 1));
            assert!(correctly_rounded(xd, p, y, n), "sqrt({xd:e}) = {y:e}");
            assert!(!correctly_rounded(xd, y, n, f64::from_bits(n.to_bits() + 1)), "sqrt({xd:e})");
        }
    }

    /// Same bits as libm's correctly rounded square roots. Runs natively on x86-64; the AArch64
    /// (NEON) and ARM hard-float (`vsqrt.f32`) paths are checked the same way under qemu-user:
    /// `CARGO_TARGET_AARCH64_UNKNOWN_LINUX_GNU_LINKER=aarch64-linux-gnu-gcc
    /// CARGO_TARGET_AARCH64_UNKNOWN_LINUX_GNU_RUNNER="qemu-aarch64-static -L /usr/aarch64-linux-gnu"
    /// cargo test -p descent-core --lib --target aarch64-unknown-linux-gnu sqrt` (and likewise
    /// `armv7-unknown-linux-gnueabihf` with `arm-linux-gnueabihf-gcc` and `qemu-arm-static`).
    #[test]
    fn sqrt_matches_libm_bitwise() {
        for x in patterns32() {
            let (a, b) = (sqrt_f32(x), libm::sqrtf(x));
            assert!(a.to_bits() == b.to_bits() || (a.is_nan() && b.is_nan()), "sqrtf({x:e})");
            let xd = f64::from(x) * 1.000_000_123;
            let (c, d) = (sqrt_f64(xd), libm::sqrt(xd));
            assert!(c.to_bits() == d.to_bits() || (c.is_nan() && d.is_nan()), "sqrt({xd:e})");
        }
    }
}
