//! The one loop skeleton every elementwise update rule runs through.
//!
//! Each stream is split with `as_chunks::<L>()` into whole `[F; L]` chunks and a tail. The rule is
//! applied lane by lane over each chunk (a fixed-length inner loop the compiler turns into SIMD
//! instructions of width `L`), then element by element over the tail. The rule is the same
//! `#[inline(always)]` closure in both places, and Rust never contracts `a * b + c` into an FMA nor
//! reassociates, so the result is bit-identical to running the rule in a plain scalar loop — which
//! is what the property tests check against each optimizer's scalar reference.
//!
//! There is one entry point per number of state streams: [`zip0`] (parameters and gradients only)
//! to [`zip4`], each in two flavours of the same skeleton: in place, and staged ([`zip2_staged`]:
//! each chunk loaded, updated in registers, stored back), which optimizers choose by measuring
//! (`zip2_as::<F, L, STAGED>` takes the choice as a constant).
//! Callers check that all streams have the same length; the skeleton itself never panics (it zips,
//! so extra elements in a longer stream are left alone).
#![allow(clippy::needless_range_loop)]

macro_rules! zip_skeleton {
    ($(#[$doc:meta])* $name:ident, $staged:ident, $imp:ident; $($s:ident),*) => {
        $(#[$doc])*
        #[inline(always)]
        pub fn $name<F: Copy, const L: usize>(
            p: &mut [F],
            g: &[F],
            $($s: &mut [F],)*
            rule: impl FnMut(&mut F, F $(, zip_skeleton!(@ty $s, F))*),
        ) {
            $imp::<F, L, false>(p, g, $($s,)* rule)
        }

        #[doc = concat!("[`", stringify!($name), "`], staged: each chunk is loaded into registers, ")]
        /// updated there and stored back, so that all its loads come before its stores. The same
        /// operations on each element, so the same bits; what changes is the machine code. Where
        /// the state streams are cut from one buffer, the in-place loop is compiled with a run-time
        /// overlap check and a scalar fallback in the loop (spilling registers), which staging
        /// removes; and a streaming loop keeps more loads in flight. Measured faster for Adam
        /// (`benches/step_throughput.rs`, 16.7 M parameters on 2 MiB pages: 92–96 % of the
        /// bandwidth roof staged, 89–92 % in place) and slower for some rules with in-loop
        /// branches (ASGD, Adagrad), so each optimizer takes the flavour that measures faster.
        #[inline(always)]
        pub fn $staged<F: Copy, const L: usize>(
            p: &mut [F],
            g: &[F],
            $($s: &mut [F],)*
            rule: impl FnMut(&mut F, F $(, zip_skeleton!(@ty $s, F))*),
        ) {
            $imp::<F, L, true>(p, g, $($s,)* rule)
        }

        #[doc = concat!("[`", stringify!($name), "`] (`STAGED = false`) or [`", stringify!($staged), "`] (`true`), ")]
        /// chosen at compile time, e.g. with [`STAGED_WHERE_MEASURED`].
        #[inline(always)]
        pub fn $imp<F: Copy, const L: usize, const STAGED: bool>(
            p: &mut [F],
            g: &[F],
            $($s: &mut [F],)*
            mut rule: impl FnMut(&mut F, F $(, zip_skeleton!(@ty $s, F))*),
        ) {
            const { assert!(L > 0, "lane width must be positive") };
            let (p_chunks, p_tail) = p.as_chunks_mut::<L>();
            let (g_chunks, g_tail) = g.as_chunks::<L>();
            $(let $s = $s.as_chunks_mut::<L>();)*
            let chunks = p_chunks.iter_mut().zip(g_chunks);
            $(let chunks = chunks.zip($s.0.iter_mut());)*
            for zip_skeleton!(@pat pc, gc; $($s),*) in chunks {
                if STAGED {
                    let (mut p, g) = (*pc, *gc);
                    $(let mut $s = (*$s, $s);)*
                    for l in 0..L {
                        rule(&mut p[l], g[l] $(, &mut $s.0[l])*);
                    }
                    *pc = p;
                    $(*$s.1 = $s.0;)*
                } else {
                    for l in 0..L {
                        rule(&mut pc[l], gc[l] $(, &mut $s[l])*);
                    }
                }
            }
            let tail = p_tail.iter_mut().zip(g_tail);
            $(let tail = tail.zip($s.1.iter_mut());)*
            for zip_skeleton!(@pat pt, gt; $($s),*) in tail {
                rule(pt, *gt $(, $s)*);
            }
        }
    };
    (@ty $s:ident, $F:ty) => { &mut $F };
    (@pat $p:ident, $g:ident;) => { ($p, $g) };
    (@pat $p:ident, $g:ident; $a:ident) => { (($p, $g), $a) };
    (@pat $p:ident, $g:ident; $a:ident, $b:ident) => { ((($p, $g), $a), $b) };
    (@pat $p:ident, $g:ident; $a:ident, $b:ident, $c:ident) => { (((($p, $g), $a), $b), $c) };
    (@pat $p:ident, $g:ident; $a:ident, $b:ident, $c:ident, $d:ident) => { ((((($p, $g), $a), $b), $c), $d) };
}

zip_skeleton!(
    /// Applies `rule(p, g)` to every element: rules without per-parameter state.
    zip0, zip0_staged, zip0_as;
);
zip_skeleton!(
    /// Applies `rule(p, g, a)` to every element: rules with one state stream.
    zip1, zip1_staged, zip1_as; a
);
zip_skeleton!(
    /// Applies `rule(p, g, a, b)` to every element: rules with two state streams (Adam's m, v).
    zip2, zip2_staged, zip2_as; a, b
);
zip_skeleton!(
    /// Applies `rule(p, g, a, b, c)` to every element: rules with three state streams.
    zip3, zip3_staged, zip3_as; a, b, c
);
zip_skeleton!(
    /// Applies `rule(p, g, a, b, c, d)` to every element: rules with four state streams (Adan's
    /// m, v, n and previous gradient).
    zip4, zip4_staged, zip4_as; a, b, c, d
);

/// For rules measured faster staged (Adam): stage on x86-64 and AArch64, where it was measured;
/// elsewhere (microcontrollers) keep the in-place loop, whose code is smaller (README, code size).
pub const STAGED_WHERE_MEASURED: bool = cfg!(any(target_arch = "x86_64", target_arch = "aarch64"));

/// Splits `state` into `K` consecutive streams of `n` values; `None` if it is too short.
#[inline]
pub fn split_state<F, const K: usize>(state: &mut [F], n: usize) -> Option<[&mut [F]; K]> {
    let mut rest = state;
    let mut out: [&mut [F]; K] = core::array::from_fn(|_| <&mut [F]>::default());
    for slot in out.iter_mut() {
        let (head, tail) = core::mem::take(&mut rest).split_at_mut_checked(n)?;
        *slot = head;
        rest = tail;
    }
    Some(out)
}

/// Σ x² in `L` lane-blocked partial sums: lane `l` accumulates elements `l, l + L, l + 2L, …`
/// (the tail joins lanes `0..tail`), then [`combine`] adds the lanes in order. A fixed order, so the
/// result is reproducible; it differs from a sequential sum by at most the usual recursive-summation
/// bound, (n/L + L)·ε·Σx² to first order.
#[inline(always)]
pub fn sum_sq<F: crate::Real, const L: usize>(x: &[F]) -> F {
    const { assert!(L > 0, "lane width must be positive") };
    let (chunks, tail) = x.as_chunks::<L>();
    let mut acc = [F::ZERO; L];
    for ch in chunks {
        for l in 0..L {
            acc[l] = acc[l] + ch[l] * ch[l];
        }
    }
    for (a, &t) in acc.iter_mut().zip(tail) {
        *a = *a + t * t;
    }
    combine(&acc)
}

/// Adds lane partial sums in order: `acc[0] + acc[1] + …`.
#[inline(always)]
pub fn combine<F: crate::Real>(acc: &[F]) -> F {
    acc.iter().fold(F::ZERO, |a, &x| a + x)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_element_is_visited_once_for_every_tail_length() {
        for (n, staged) in (0..40usize).flat_map(|n| [(n, false), (n, true)]) {
            let mut p: [f32; 40] = core::array::from_fn(|i| i as f32);
            let g = [1.0f32; 40];
            let mut a = [0.0f32; 40];
            let rule = |p: &mut f32, g: f32, a: &mut f32| {
                *p += g;
                *a += 1.0;
            };
            if staged {
                zip1_staged::<f32, 8>(&mut p[..n], &g[..n], &mut a[..n], rule);
            } else {
                zip1::<f32, 8>(&mut p[..n], &g[..n], &mut a[..n], rule);
            }
            for i in 0..40 {
                let want = if i < n { 1.0 } else { 0.0 };
                assert_eq!(a[i], want, "n={n} i={i} staged={staged}");
                assert_eq!(p[i], i as f32 + want);
            }
        }
    }

    #[test]
    fn split_state_refuses_short_buffers() {
        let mut s = [0.0f64; 7];
        assert!(split_state::<f64, 2>(&mut s, 4).is_none());
        let [a, b] = split_state::<f64, 2>(&mut s, 3).unwrap();
        assert_eq!((a.len(), b.len()), (3, 3));
        assert!(split_state::<f64, 3>(&mut s, 0).is_some());
    }
}
