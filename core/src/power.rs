//! `β^t` for the bias corrections, correctly rounded, and carried from step to step.
//!
//! Every Adam-family step needs `β1^t` and `β2^t` (PyTorch: `beta ** step`, the C library's `pow`).
//! libm's `pow` costs about 8,000 instructions of software `f64` arithmetic on a microcontroller
//! without a double-precision FPU, and it is not correctly rounded: over `t` = 1..10^6 it rounds
//! the other way than the exact `β^t` at 644 steps for β = 0.9, 6,893 for 0.99, 68,928 for 0.999
//! and 97,234 for 0.9999, up to 0.34 ulp away from a midpoint (the `where_libm_pow_misrounds`
//! test). Its errors are not a property of `β^t`, so no method cheaper than `pow` can reproduce its
//! bits. What can be computed cheaply is the correctly rounded `β^t`, and that is what glibc's
//! `pow` (Python's `beta ** step`, so PyTorch) returns at all but 2, 71, 1,065 and 855 of those
//! steps: closer to PyTorch than libm's `pow` was.
//!
//! [`StepPower`] computes it: `β^t` as a 128-bit mantissa and a binary exponent, multiplied by `β`'s
//! 53-bit mantissa once per step (a few dozen 32-bit multiplications; the cut low bits leave the
//! carried value below the exact `β^t` by less than `4t` units of its last bit), then rounded to
//! the nearest `f64`. [`power_of`] does the same from scratch by binary powering (the same error
//! bound), and [`crate::real::pow_step`] is [`power_of`]: the scalar references and every other
//! `β^t` give the same bits as the carry. Where the exact value may lie within about 2^-22 ulp of a
//! midpoint (about one step in 3 × 10^6), libm's `pow` decides instead, so the result is always
//! deterministic; over the 9 × 10^6 steps of that test the result was the correctly rounded value at
//! every step. The carry is a cache, not state (saved as nothing, so saved state keeps its
//! format): a step count that is not the next one (a restore, a new β from a momentum schedule, a
//! fresh tensor) starts it again by binary powering. Adam, AdamW and AMSGrad, Adamax, RAdam, NAdam
//! (β2; its μ_t has the exponent t·ψ, libm's `pow`) and LAMB carry their powers.

use crate::Error;
use crate::persist::{Persist, Reader, Writer};

/// Within `2^-MARGIN_ULPS_LOG2` ulp of a midpoint (plus the carry's error bound), libm's `pow`
/// decides the rounding.
const MARGIN_ULPS_LOG2: u32 = 24;

/// Largest step carried exactly (beyond it, libm's `pow`: the error bound `4t` units must stay
/// far below the margin).
const MAX_T: u64 = u32::MAX as u64;

/// `base^t`, correctly rounded for `base` in (0, 1) (see the module documentation); libm's `pow`
/// for any other base.
pub fn power_of(base: f64, t: u64) -> f64 {
    StepPower::default().at(base, t)
}

/// `β^t` carried from one step to the next (see the module documentation).
#[derive(Debug, Clone, Copy, Default, PartialEq)]
pub struct StepPower {
    /// Bits of the β this carry is for (0: nothing carried yet).
    base: u64,
    /// The step of the carried power (0: nothing carried yet).
    t: u32,
    exp: i32,
    /// `β^t` ≈ `mant · 2^exp` with the top bit of `mant` set, less than `4t` units below (two
    /// halves, high first: 8-byte alignment keeps the optimizers small).
    mant: [u64; 2],
    /// `1 − β` and `1 − (1 − β)` in `f64`, which every step of the Adam family needs too (each a
    /// software subtraction where the FPU has no `f64`).
    complements: (f64, f64),
}

/// `β`'s mantissa and exponent (`β = m · 2^e`, bit 52 of `m` set), for normal `β` in (0, 1).
fn split(base: f64) -> Option<(u64, i32)> {
    if !(base > 0.0 && base < 1.0 && base.is_normal()) {
        return None;
    }
    let bits = base.to_bits();
    let m = (bits & ((1u64 << 52) - 1)) | (1u64 << 52);
    let e = ((bits >> 52) & 0x7ff) as i32 - 1075;
    Some((m, e))
}

/// The top 128 bits of `a · b` (both with bit 127 set), cut, and the shift that drops the rest.
fn mul_hi(a: u128, b: u128) -> (u128, i32) {
    let (a1, a0) = ((a >> 64) as u64 as u128, a as u64 as u128);
    let (b1, b0) = ((b >> 64) as u64 as u128, b as u64 as u128);
    let (x, y) = (a1 * b0, a0 * b1);
    let mid = ((a0 * b0) >> 64) + (x & u64::MAX as u128) + (y & u64::MAX as u128);
    let hi = a1 * b1 + (x >> 64) + (y >> 64) + (mid >> 64);
    let lo = mid as u64;
    // a·b ≈ hi·2^128 + lo·2^64; the top bit of hi is bit 127 or 126.
    if hi >> 127 == 1 { (hi, 128) } else { ((hi << 1) | u128::from(lo >> 63), 127) }
}

/// The top 128 bits of `a · m` (`a` with bit 127 set, as two halves, high first; `m` with bit
/// 52 set), cut, and the shift. In 32-bit limbs, so that 32-bit cores multiply with a few `umull`s
/// instead of a 128-bit multiplication routine.
#[inline]
fn mul_small(a: [u64; 2], m: u64) -> ([u64; 2], i32) {
    let al = [a[1] as u32, (a[1] >> 32) as u32, a[0] as u32, (a[0] >> 32) as u32];
    let (m0, m1) = (u64::from(m as u32), u64::from((m >> 32) as u32));
    // p = a·m in six 32-bit limbs, least significant first.
    let mut p = [0u32; 6];
    let mut carry = 0u64;
    for (i, &x) in al.iter().enumerate() {
        let v = u64::from(x) * m0 + carry;
        p[i] = v as u32;
        carry = v >> 32;
    }
    p[4] = carry as u32;
    carry = 0;
    for (i, &x) in al.iter().enumerate() {
        let v = u64::from(x) * m1 + u64::from(p[i + 1]) + carry;
        p[i + 1] = v as u32;
        carry = v >> 32;
    }
    p[5] = carry as u32;
    // a·m < 2^181: bit 180 (bit 20 of p[5]) or bit 179 is the top one.
    let (hi, mid, lo) = (
        (u64::from(p[5]) << 32) | u64::from(p[4]),
        (u64::from(p[3]) << 32) | u64::from(p[2]),
        (u64::from(p[1]) << 32) | u64::from(p[0]),
    );
    if p[5] >> 20 == 1 {
        ([(hi << 11) | (mid >> 53), (mid << 11) | (lo >> 53)], 53)
    } else {
        ([(hi << 12) | (mid >> 52), (mid << 12) | (lo >> 52)], 52)
    }
}

impl StepPower {
    /// `base^t` as [`power_of`] gives it, advancing the carry when `t` is the step after the
    /// carried one (or the carried one again) and starting it again otherwise.
    #[inline]
    pub fn at(&mut self, base: f64, t: u64) -> f64 {
        let Some((m, e)) = split(base) else { return libm::pow(base, t as f64) };
        if t == 0 || t > MAX_T {
            return libm::pow(base, t as f64);
        }
        if self.base == base.to_bits() && self.t != 0 {
            if u64::from(self.t) == t {
                return self.round(base);
            }
            if u64::from(self.t) + 1 == t {
                let (mant, shift) = mul_small(self.mant, m);
                self.mant = mant;
                self.exp = self.exp.saturating_add(e).saturating_add(shift);
                self.t = t as u32;
                return self.round(base);
            }
        }
        self.start(base, m, e, t);
        self.round(base)
    }

    /// `(1 − base, 1 − (1 − base))`, from the carry when it is for `base`.
    #[inline]
    pub fn complements(&self, base: f64) -> (f64, f64) {
        if self.t != 0 && self.base == base.to_bits() {
            self.complements
        } else {
            let w = 1.0 - base;
            (w, 1.0 - w)
        }
    }

    fn mantissa(&self) -> u128 {
        (u128::from(self.mant[0]) << 64) | u128::from(self.mant[1])
    }

    /// Carries `base^t` from scratch by binary powering (each product cuts less than one unit and
    /// squaring doubles the relative error of its factor, so the carried value stays less than
    /// `4t` units below the exact power).
    fn start(&mut self, base: f64, m: u64, e: i32, t: u64) {
        let b = u128::from(m) << 75;
        let eb = e - 75;
        let (mut acc, mut acc_e) = (b, eb);
        // The bits of t below its top one, most significant first.
        let mut i = 63 - t.leading_zeros();
        while i > 0 {
            i -= 1;
            let (sq, s) = mul_hi(acc, acc);
            acc = sq;
            acc_e = acc_e.saturating_mul(2).saturating_add(s);
            if (t >> i) & 1 == 1 {
                let (pr, s) = mul_hi(acc, b);
                acc = pr;
                acc_e = acc_e.saturating_add(eb).saturating_add(s);
            }
        }
        let w = 1.0 - base;
        *self = StepPower {
            base: base.to_bits(),
            t: t as u32,
            exp: acc_e,
            mant: [(acc >> 64) as u64, acc as u64],
            complements: (w, 1.0 - w),
        };
    }

    /// The carried power rounded to the nearest `f64`; libm's `pow` where the exact value may lie
    /// within the margin of a midpoint, or is subnormal near the smallest subnormal.
    #[inline]
    fn round(&self, base: f64) -> f64 {
        // The carried value is in [2^(127+exp), 2^(128+exp)): the result's biased exponent.
        let biased = 127 + 1023 + i64::from(self.exp);
        if biased >= 1 {
            // A normal result: the top 53 bits, and the 24 bits below them (bits 51 to 74 of
            // the 75 cut) say which way to round. Below 2^23 − 2 of them, the exact value (less
            // than 4t ≤ 2^34 units above) is more than 2^51 units (2^-24 ulp) below the midpoint;
            // from 2^23 + 2 up to 2^24 − 2, more than 2^51 above it and no carry out of the
            // remainder. Otherwise libm decides.
            let [hi, lo] = self.mant;
            let r24 = ((hi & 0x7ff) << 13) | (lo >> 51);
            let up = if r24 < (1 << 23) - 2 {
                0
            } else if ((1 << 23) + 2..(1 << 24) - 2).contains(&r24) {
                1
            } else {
                return libm::pow(base, f64::from(self.t));
            };
            // A carry out of the 53 bits moves into the exponent field, as it should.
            return f64::from_bits(((biased - 1) as u64).wrapping_shl(52).wrapping_add((hi >> 11) + up));
        }
        self.round_subnormal(base, biased)
    }

    /// [`StepPower::round`] for a subnormal result.
    fn round_subnormal(&self, base: f64, biased: i64) -> f64 {
        let fallback = || libm::pow(base, f64::from(self.t));
        let shift = 75 + (1 - biased);
        if shift >= 130 {
            // Below a quarter of the smallest subnormal: 0.
            return 0.0;
        }
        if shift >= 127 {
            return fallback();
        }
        let shift = shift as u32;
        let kept = (self.mantissa() >> shift) as u64;
        let rem = self.mantissa() & ((1u128 << shift) - 1);
        let half = 1u128 << (shift - 1);
        // The exact value is in [carried, carried + 4t units].
        let below = 4 * u128::from(self.t) + 1;
        let margin = 1u128 << (shift - MARGIN_ULPS_LOG2);
        let up = if rem + below + margin < half {
            false
        } else if rem > half + margin && rem + below < 1u128 << shift {
            true
        } else {
            return fallback();
        };
        // Rounding up to 2^52 gives the smallest normal number, as it should.
        f64::from_bits(kept + u64::from(up))
    }
}

/// `β1^t` and `β2^t` carried for a rule's kernel. A cache, saved as nothing: a restored optimizer
/// starts it again at its next step, so saved state keeps its format.
#[derive(Debug, Clone, Copy, Default, PartialEq)]
pub struct BetaPowers {
    /// `β1^t`.
    pub b1: StepPower,
    /// `β2^t`.
    pub b2: StepPower,
}

impl Persist for BetaPowers {
    fn write(&self, _: &mut Writer<'_>) -> Result<(), Error> {
        Ok(())
    }
    fn read(_: &mut Reader<'_>) -> Result<Self, Error> {
        Ok(BetaPowers::default())
    }
}

#[cfg(test)]
mod tests {
    extern crate std;
    use super::*;

    const BETAS: [f64; 9] = [0.9, 0.99, 0.999, 0.95, 0.98, 0.9999, 0.8, 0.5, 0.75];

    /// The exact β^t rounded to nearest, from the carried mantissa (tests only: no margin).
    fn nearest(p: &StepPower) -> Option<(f64, f64)> {
        let biased = 127 + 1023 + i64::from(p.exp);
        if biased < 1 {
            return None;
        }
        let rem = p.mantissa() & ((1u128 << 75) - 1);
        let half = 1u128 << 74;
        let kept = (p.mantissa() >> 75) as u64 + u64::from(rem > half);
        let distance = rem.abs_diff(half) as f64 / (1u128 << 75) as f64;
        Some((f64::from_bits((((biased - 1) as u64) << 52) + kept), distance))
    }

    #[test]
    fn carried_and_from_scratch_agree_and_round_correctly() {
        for &b in &BETAS {
            let mut p = StepPower::default();
            for t in 1..3_000u64 {
                let v = p.at(b, t);
                assert_eq!(v.to_bits(), power_of(b, t).to_bits(), "{b}^{t}");
                if let Some((cr, _)) = nearest(&p) {
                    assert_eq!(v.to_bits(), cr.to_bits(), "{b}^{t}");
                }
            }
            for &t in &[1u64, 7, 100, 12_345, 999_999, 1 << 20, 3_000_000, 1 << 33] {
                assert_eq!(p.at(b, t).to_bits(), power_of(b, t).to_bits(), "{b}^{t} jumped");
            }
        }
        // Exact powers stay exact; the exact value of 0.9^3 (Python: Fraction(0.9)**3).
        assert_eq!(power_of(0.5, 10), 0.5f64.powi(10));
        assert_eq!(power_of(0.75, 3), 0.421875);
        assert_eq!(power_of(0.9, 3), 0.7290000000000001);
        // 0.9^t underflows: subnormal, then 0 (as libm's pow).
        assert_eq!(power_of(0.9, 7000), libm::pow(0.9, 7000.0));
        assert_eq!(power_of(0.9, 8000), 0.0);
        // Outside (0, 1): libm.
        assert_eq!(power_of(1.0, 5), 1.0);
        assert_eq!(power_of(0.0, 5), 0.0);
        assert!(power_of(f64::NAN, 5).is_nan());
        assert_eq!(power_of(2.0, 3), 8.0);
    }

    /// Over t = 1..10^6 for the usual betas: how often libm's and glibc's `pow` differ from the
    /// correctly rounded β^t, and whether the carry ever needed libm. Run with
    /// `cargo test -p descent-core --release --lib power -- --ignored --nocapture`.
    #[test]
    #[ignore = "10^6 steps per beta: run in release"]
    fn where_libm_pow_misrounds() {
        for &b in &BETAS {
            let mut p = StepPower::default();
            let (mut libm_off, mut glibc_off, mut worst, mut fallbacks) = (0u64, 0u64, 0.0f64, 0u64);
            for t in 1..=1_000_000u64 {
                let v = p.at(b, t);
                let Some((cr, distance)) = nearest(&p) else { break };
                if v.to_bits() != cr.to_bits() {
                    fallbacks += 1;
                }
                if libm::pow(b, t as f64).to_bits() != cr.to_bits() {
                    libm_off += 1;
                    worst = worst.max(distance);
                }
                // std's powf is the C library's pow (glibc on Linux), as Python's `beta ** step`.
                if b.powf(t as f64).to_bits() != cr.to_bits() {
                    glibc_off += 1;
                }
            }
            std::println!(
                "beta {b}: libm pow off at {libm_off} steps (up to {worst:.3} ulp from a midpoint), \
                 glibc pow off at {glibc_off}, carry needed libm at {fallbacks}"
            );
        }
    }
}
