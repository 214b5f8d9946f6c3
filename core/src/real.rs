//! The float trait every kernel is written against: [`Real`], implemented for `f32` and `f64` only.
//!
//! Why our own trait rather than num-traits' `Float`: associated constants (no
//! `T::from(0.9).unwrap()` panic paths), a square root that we choose (one that the compiler can
//! vectorize where the target has a vector square root, see [`crate::sqrt`]), a NaN-propagating
//! maximum (PyTorch's `torch.maximum` propagates NaN; `f32::max` does not), and no silent switch of
//! backend when another crate turns on `num-traits/std`. num-traits' `FloatCore` is the supertrait,
//! so generic code still interoperates.

use core::fmt::{Debug, Display};
use num_traits::float::FloatCore;

mod sealed {
    pub trait Sealed {}
    impl Sealed for f32 {}
    impl Sealed for f64 {}
}

/// A computation that is generic over its lane width `L`.
///
/// [`Real::with_lanes`] runs it with the lane width measured to be fastest for the float type (see
/// `benches/step_throughput.rs`): this is how a generic optimizer picks `16 × f32` (on x86-64)
/// without `generic_const_exprs`.
pub trait LaneKernel<F: Real> {
    /// What the computation returns.
    type Output;
    /// Runs the computation with `L` lanes.
    fn run<const L: usize>(self) -> Self::Output;
}

/// An IEEE binary floating-point type that descent computes in: `f32` or `f64`.
pub trait Real:
    FloatCore + Default + Debug + Display + core::fmt::LowerExp + Send + Sync + 'static + sealed::Sealed
{
    /// 0.
    const ZERO: Self;
    /// 1.
    const ONE: Self;
    /// Machine epsilon (`torch.finfo(dtype).eps`).
    const EPSILON: Self;
    /// Size in bytes of one value (4 or 8).
    const BYTES: usize;
    /// The lane width of the production kernels (16 on x86-64 and AArch64; 8 for `f32` and 4 for
    /// `f64` elsewhere; chosen by measuring).
    const LANES: usize;
    /// `"f32"` or `"f64"`, as in the conformance specs.
    const NAME: &'static str;

    /// Rounds an `f64` to this type (hyperparameters are kept in `f64`, like PyTorch's Python floats).
    fn from_f64(x: f64) -> Self;
    /// Widens to `f64` exactly.
    fn as_f64(self) -> f64;
    /// Correctly rounded square root (IEEE 754), vectorizable where the target has a vector
    /// instruction; with the `micromath` feature, `f32` uses micromath's approximation instead.
    fn sqrt(self) -> Self;
    /// e^x with libm (`expf` for `f32`), the same bits in every build.
    fn exp_(self) -> Self;
    /// ln x with libm (`logf` for `f32`).
    fn ln_(self) -> Self;
    /// Absolute value.
    fn abs_(self) -> Self;
    /// `self·a + b` with one rounding (IEEE fused multiply-add, through libm, so the same on every
    /// target), as PyTorch's CPU kernels compute `lerp` and `add(…, alpha)`.
    fn fma(self, a: Self, b: Self) -> Self;
    /// Maximum that propagates NaN from either side, like `torch.maximum`.
    fn max_nan(self, other: Self) -> Self;
    /// Sign with `sign(±0) = 0` and `sign(NaN) = NaN`, like `torch.sign` and `jnp.sign`
    /// (`f32::signum(0.0)` is 1, which is not what any optimizer wants).
    fn sign0(self) -> Self;
    /// The raw IEEE bits, widened to `u64` (for bitwise comparisons in tests).
    fn to_bits_u64(self) -> u64;
    /// Writes the little-endian bytes of `self` into `out[..Self::BYTES]`; returns `false` (and writes
    /// nothing) if `out` is too short.
    fn write_le(self, out: &mut [u8]) -> bool;
    /// Reads a value from the first `Self::BYTES` little-endian bytes; `None` if too short.
    fn read_le(bytes: &[u8]) -> Option<Self>;
    /// Runs `k` with this type's production lane width [`Real::LANES`].
    fn with_lanes<K: LaneKernel<Self>>(k: K) -> K::Output;
}

macro_rules! impl_real {
    ($t:ty, $bytes:expr, $lanes:expr, $name:expr, $sqrt:path, $fma:path, $exp:path, $ln:path) => {
        impl Real for $t {
            const ZERO: Self = 0.0;
            const ONE: Self = 1.0;
            const EPSILON: Self = <$t>::EPSILON;
            const BYTES: usize = $bytes;
            const LANES: usize = $lanes;
            const NAME: &'static str = $name;

            #[inline(always)]
            fn from_f64(x: f64) -> Self {
                x as $t
            }
            #[inline(always)]
            fn as_f64(self) -> f64 {
                self as f64
            }
            #[inline(always)]
            fn sqrt(self) -> Self {
                $sqrt(self)
            }
            #[inline]
            fn exp_(self) -> Self {
                $exp(self)
            }
            #[inline]
            fn ln_(self) -> Self {
                $ln(self)
            }
            #[inline(always)]
            fn abs_(self) -> Self {
                <$t>::abs(self)
            }
            #[inline(always)]
            fn fma(self, a: Self, b: Self) -> Self {
                $fma(self, a, b)
            }
            #[inline(always)]
            fn max_nan(self, other: Self) -> Self {
                if self.is_nan() || other.is_nan() {
                    self + other
                } else if other > self {
                    other
                } else {
                    self
                }
            }
            #[inline(always)]
            fn sign0(self) -> Self {
                if self > 0.0 {
                    1.0
                } else if self < 0.0 {
                    -1.0
                } else {
                    // ±0 stays 0 (with its sign, as torch.sign), NaN stays NaN.
                    self
                }
            }
            #[inline(always)]
            fn to_bits_u64(self) -> u64 {
                self.to_bits() as u64
            }
            #[inline]
            fn write_le(self, out: &mut [u8]) -> bool {
                match out.get_mut(..$bytes) {
                    Some(dst) => {
                        dst.copy_from_slice(&self.to_le_bytes());
                        true
                    }
                    None => false,
                }
            }
            #[inline]
            fn read_le(bytes: &[u8]) -> Option<Self> {
                let arr: [u8; $bytes] = bytes.get(..$bytes)?.try_into().ok()?;
                Some(<$t>::from_le_bytes(arr))
            }
            #[inline(always)]
            fn with_lanes<K: LaneKernel<Self>>(k: K) -> K::Output {
                k.run::<$lanes>()
            }
        }
    };
}

/// Production lane widths, chosen by measuring (`benches/step_throughput.rs`): on x86-64 and
/// AArch64, 16 lanes of either type let LLVM vectorize every elementwise rule (in place at 8 × f32,
/// Adam's loop stayed scalar on the x86-64 baseline: 3.2 against 0.9 ns per element; staged, as
/// Adam now runs there, 4, 8 and 16 lanes all vectorize and measure within 2 %); on other targets
/// (microcontrollers) 8 × f32 and 4 × f64 keep the code small.
#[cfg(any(target_arch = "x86_64", target_arch = "aarch64"))]
const LANES_F32: usize = 16;
#[cfg(any(target_arch = "x86_64", target_arch = "aarch64"))]
const LANES_F64: usize = 16;
#[cfg(not(any(target_arch = "x86_64", target_arch = "aarch64")))]
const LANES_F32: usize = 8;
#[cfg(not(any(target_arch = "x86_64", target_arch = "aarch64")))]
const LANES_F64: usize = 4;

impl_real!(f32, 4, LANES_F32, "f32", crate::sqrt::sqrt_f32, libm::fmaf, libm::expf, libm::logf);
impl_real!(f64, 8, LANES_F64, "f64", crate::sqrt::sqrt_f64, libm::fma, libm::exp, libm::log);

/// `base^exp` for the bias corrections `β^t` and every other power of a hyperparameter, computed
/// in `f64` with libm's correctly rounded-ish `pow` (≤ 1 ulp), the same in every build. Python's
/// `beta ** step` calls the C library's `pow` too, so this agrees with PyTorch to within an ulp.
#[inline]
pub fn powf64(base: f64, exp: f64) -> f64 {
    libm::pow(base, exp)
}

/// `β^t` with an integer step count, as PyTorch's `beta ** step`: correctly rounded for `β` in
/// (0, 1), libm's `pow` otherwise (see [`crate::power`], which also carries it from step to step).
#[inline]
pub fn pow_step(base: f64, t: u64) -> f64 {
    crate::power::power_of(base, t)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn max_nan_propagates_from_either_side() {
        assert!(f32::NAN.max_nan(1.0).is_nan());
        assert!(1.0f32.max_nan(f32::NAN).is_nan());
        assert_eq!(2.0f64.max_nan(-3.0), 2.0);
        assert_eq!((-3.0f64).max_nan(2.0), 2.0);
    }

    #[test]
    fn sign0_of_zero_is_zero() {
        assert_eq!(0.0f32.sign0(), 0.0);
        assert_eq!((-0.0f64).sign0().to_bits(), (-0.0f64).to_bits());
        assert_eq!(3.0f32.sign0(), 1.0);
        assert_eq!((-1e-30f64).sign0(), -1.0);
        assert!(f32::NAN.sign0().is_nan());
    }

    #[test]
    fn le_bytes_round_trip_and_refuse_short_buffers() {
        let mut buf = [0u8; 8];
        assert!(1.5f64.write_le(&mut buf));
        assert_eq!(f64::read_le(&buf), Some(1.5));
        assert!(!1.5f64.write_le(&mut buf[..7]));
        assert_eq!(f32::read_le(&buf[..3]), None);
    }
}
