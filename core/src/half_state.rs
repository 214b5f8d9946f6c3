//! Optimizer state stored in 16 bits (bf16 or f16, from the `half` crate) with f32 arithmetic:
//! half the state RAM, for microcontrollers.
//!
//! Each step loads a block of state into f32, runs the optimizer's own lane kernel on it (the same
//! rule as [`crate::Optim`]: only elementwise rules qualify — every optimizer but Adafactor), and
//! stores it back, rounded to nearest or stochastically. Stochastic rounding picks the upper or
//! lower neighbour with probability proportional to proximity, so the stored value is unbiased in
//! expectation; its generator is a seeded SplitMix64, deterministic and saved with the state.
//!
//! State per parameter: 2 bytes per value (Adam: 4 bytes instead of 8).
//!
//! Accuracy, proven by property tests in `tests/half_state.rs` for Adam, AdamW, Adamax, NAdam,
//! RAdam and momentum SGD: over 100 steps on random quadratics and hyperparameters, the
//! trajectory stays within 32·u of the distance the f32-state trajectory travelled (u = 2⁻⁸ for
//! bf16, 2⁻¹¹ for f16; 64·u for Adamax with round-to-nearest, whose infinity norm stops decaying
//! once β2·u rounds back to u), and reaches the same minimum.
//!
//! Prefer bf16. f16 has 3 more significand bits but only 5 exponent bits: below 6.1e-5 it keeps
//! fewer bits, below 6.0e-8 it stores 0. The Adam family's second moment v ≈ (1 − β2)·g² gets
//! there for gradients under about 0.25, and m̂/(√v̂ + ε) then goes far wrong (fine-tuning the
//! example's last layer with f16 Adam state reaches 44.5 % instead of 88.0 %).

use core::marker::PhantomData;

use crate::error::Error;
use crate::optim::{
    BlockStep, Codec, NonFinitePolicy, Optimizer, StateBuffer, StepOutcome, UpdateRule, check_inputs,
    open_saved, read_config, rule_optimizer_methods, state_fits,
};
use crate::persist::{Header, Kind, Persist, Reader, Writer};

pub use half::{bf16, f16};

mod sealed {
    pub trait Sealed {}
    impl Sealed for half::bf16 {}
    impl Sealed for half::f16 {}
}

/// A 16-bit float format for stored state.
pub trait HalfFloat: Copy + Default + core::fmt::Debug + sealed::Sealed + 'static {
    /// Name for messages (`"bf16"`, `"f16"`).
    const NAME: &'static str;
    /// Id in saved state.
    const ID: u8;
    /// Exact widening.
    fn widen(self) -> f32;
    /// Round to nearest even.
    fn round(x: f32) -> Self;
    /// Raw bits.
    fn bits(self) -> u16;
    /// From raw bits.
    fn of_bits(b: u16) -> Self;
}

impl HalfFloat for bf16 {
    const NAME: &'static str = "bf16";
    const ID: u8 = 1;
    #[inline(always)]
    fn widen(self) -> f32 {
        self.to_f32()
    }
    /// Round to nearest even on the bits, as `bf16::from_f32` (NaN kept quiet with its top
    /// payload bits), without its branch on the rounding bit.
    #[inline(always)]
    fn round(x: f32) -> Self {
        let b = x.to_bits();
        if b & 0x7fff_ffff > 0x7f80_0000 {
            return bf16::from_bits(((b >> 16) | 0x40) as u16);
        }
        bf16::from_bits((b.wrapping_add(0x7fff + ((b >> 16) & 1)) >> 16) as u16)
    }
    fn bits(self) -> u16 {
        self.to_bits()
    }
    fn of_bits(b: u16) -> Self {
        bf16::from_bits(b)
    }
}

impl HalfFloat for f16 {
    const NAME: &'static str = "f16";
    const ID: u8 = 2;
    #[inline(always)]
    fn widen(self) -> f32 {
        self.to_f32()
    }
    #[inline(always)]
    fn round(x: f32) -> Self {
        f16::from_f32(x)
    }
    fn bits(self) -> u16 {
        self.to_bits()
    }
    fn of_bits(b: u16) -> Self {
        f16::from_bits(b)
    }
}

/// SplitMix64 (Steele, Lea & Flood 2014): a tiny, seeded, no_std generator for stochastic rounding.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SplitMix64(pub u64);

impl SplitMix64 {
    /// The next 64 random bits.
    pub fn next_u64(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }
}

/// How state is rounded when stored.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Rounding {
    /// Round to nearest, ties to even.
    Nearest,
    /// Stochastic rounding driven by a SplitMix64 seeded with this value.
    Stochastic(u64),
}

impl Rounding {
    /// The generator a fresh optimizer starts with: seeded with the stochastic seed (0 for
    /// round to nearest, which draws nothing).
    pub(crate) fn fresh_rng(self) -> SplitMix64 {
        match self {
            Rounding::Stochastic(seed) => SplitMix64(seed),
            Rounding::Nearest => SplitMix64(0),
        }
    }
}

/// Writes the rounding mode (a byte, 0 nearest or 1 stochastic), its seed (0 for nearest) and the
/// generator's position, as half and 8-bit state save them.
pub(crate) fn write_rounding(w: &mut Writer<'_>, rounding: Rounding, rng: SplitMix64) -> Result<(), Error> {
    let (mode, seed) = match rounding {
        Rounding::Nearest => (0, 0),
        Rounding::Stochastic(s) => (1, s),
    };
    w.u8(mode)?;
    w.u64(seed)?;
    w.u64(rng.0)
}

/// Reads what [`write_rounding`] wrote.
pub(crate) fn read_rounding(r: &mut Reader<'_>) -> Result<(Rounding, SplitMix64), Error> {
    let mode = r.u8()?;
    let seed = r.u64()?;
    let rounding = match mode {
        0 => Rounding::Nearest,
        1 => Rounding::Stochastic(seed),
        _ => return Err(Error::CorruptState { reason: "rounding mode" }),
    };
    Ok((rounding, SplitMix64(r.u64()?)))
}

/// Rounds `x` to `H`, stochastically: with u uniform in [0, 1), returns the upper neighbour when
/// u < (x − lower)/(upper − lower). Non-finite values and exact ones round to nearest.
pub fn round_stochastic<H: HalfFloat>(x: f32, rng: &mut SplitMix64) -> H {
    let near = H::round(x);
    let nf = near.widen();
    if !x.is_finite() || !nf.is_finite() || nf == x {
        return near;
    }
    // The other neighbour: one ulp away from `near`, towards x.
    let b = near.bits();
    let towards_zero = (nf.abs() > x.abs()) == (nf.signum() == x.signum());
    let other_bits = if nf == 0.0 {
        // ±0: the neighbour towards x is the smallest subnormal with x's sign.
        if x > 0.0 { 1 } else { 0x8001 }
    } else if towards_zero {
        b.wrapping_sub(1)
    } else {
        b.wrapping_add(1)
    };
    let other = H::of_bits(other_bits);
    let of = other.widen();
    if !of.is_finite() {
        return near;
    }
    let (lo, hi, lo_v, hi_v) = if nf < of { (near, other, nf, of) } else { (other, near, of, nf) };
    let p_hi = f64::from(x - lo_v) / f64::from(hi_v - lo_v);
    let u = (rng.next_u64() >> 11) as f64 / (1u64 << 53) as f64;
    if u < p_hi { hi } else { lo }
}

/// Half-precision storage rounded to nearest, for [`BlockStep::fused2`].
struct Nearest<H>(PhantomData<H>);

impl<H: HalfFloat> Codec<f32> for Nearest<H> {
    type Stored = H;
    #[inline(always)]
    fn load(s: &H) -> f32 {
        s.widen()
    }
    #[inline(always)]
    fn store(x: f32) -> H {
        H::round(x)
    }
}

/// Elements per block: state is widened into stack buffers of this many values per stream.
const BLOCK: usize = 64;
/// Most state streams an elementwise rule uses (AMSGrad, centered RMSprop with momentum).
const MAX_STREAMS: usize = 3;

/// An optimizer whose state is stored as `H` (bf16 or f16): configuration `R`, storage `B`.
#[derive(Debug, Clone)]
pub struct HalfOptim<R: UpdateRule, H: HalfFloat, B: StateBuffer<H>> {
    config: R,
    scalars: R::Scalars,
    state: B,
    len: usize,
    steps: u64,
    policy: NonFinitePolicy,
    rounding: Rounding,
    rng: SplitMix64,
    _h: PhantomData<H>,
}

/// Adam (or AdamW) with bf16 state for `N` parameters: 4 bytes per parameter instead of 8.
pub type AdamBf16<const N: usize> = HalfOptim<crate::adam::AdamConfig, bf16, [[bf16; N]; 2]>;
/// Adam (or AdamW) with f16 state for `N` parameters.
pub type AdamF16<const N: usize> = HalfOptim<crate::adam::AdamConfig, f16, [[f16; N]; 2]>;
/// SGD with a bf16 momentum buffer for `N` parameters: 2 bytes per parameter.
pub type SgdMomentumBf16<const N: usize> = HalfOptim<crate::sgd::SgdConfig, bf16, [[bf16; N]; 1]>;
/// Any elementwise optimizer with half state over a caller-provided buffer.
pub type HalfView<'a, R, H> = HalfOptim<R, H, &'a mut [H]>;

impl<R: UpdateRule, H: HalfFloat, const N: usize, const K: usize> HalfOptim<R, H, [[H; N]; K]> {
    /// An optimizer for `N` parameters owning its half-precision state.
    pub fn new(config: R, rounding: Rounding) -> Result<Self, Error> {
        Self::from_storage(config, [[H::default(); N]; K], N, rounding, NonFinitePolicy::default())
    }
}

impl<'a, R: UpdateRule, H: HalfFloat> HalfOptim<R, H, &'a mut [H]> {
    /// An optimizer for `n` parameters over a caller-provided buffer.
    pub fn with_buffer(config: R, n: usize, buffer: &'a mut [H], rounding: Rounding) -> Result<Self, Error> {
        Self::from_storage(config, buffer, n, rounding, NonFinitePolicy::default())
    }
}

impl<R: UpdateRule, H: HalfFloat, B: StateBuffer<H>> HalfOptim<R, H, B> {
    /// An optimizer over any storage. Refuses rules that are not elementwise (Adafactor).
    pub fn from_storage(
        config: R,
        mut state: B,
        len: usize,
        rounding: Rounding,
        policy: NonFinitePolicy,
    ) -> Result<Self, Error> {
        if !R::ELEMENTWISE {
            return Err(Error::Unsupported {
                what: "half-precision state needs an elementwise rule (not Adafactor)",
            });
        }
        config.validate()?;
        config.check_len(len)?;
        let needed = config.state_len(len);
        if config.state_len(1) > MAX_STREAMS {
            return Err(Error::Unsupported { what: "more than three state streams" });
        }
        let available = state.values().len();
        let buf = state.values_mut().get_mut(..needed).ok_or(Error::BufferTooSmall {
            what: "optimizer state",
            needed,
            available,
        })?;
        let mut wide = [0.0f32; MAX_STREAMS];
        let k = config.state_len(1);
        config.init_state(wide.get_mut(..k).unwrap_or(&mut []));
        for (i, v) in buf.iter_mut().enumerate() {
            *v = H::round(wide.get(i / len.max(1)).copied().unwrap_or(0.0));
        }
        Ok(HalfOptim {
            config,
            scalars: R::Scalars::default(),
            state,
            len,
            steps: 0,
            policy,
            rounding,
            rng: rounding.fresh_rng(),
            _h: PhantomData,
        })
    }

    /// The configuration.
    pub fn config(&self) -> &R {
        &self.config
    }

    /// The stored state, widened value by value into `out` (for inspection and tests).
    pub fn state_f32(&self, out: &mut [f32]) {
        let n = self.config.state_len(self.len);
        for (o, v) in out.iter_mut().zip(self.state.values().iter().take(n)) {
            *o = v.widen();
        }
    }

    fn fits(&self, config: &R) -> Result<(), Error> {
        if config.state_len(1) > MAX_STREAMS {
            return Err(Error::Unsupported { what: "more than three state streams" });
        }
        state_fits(config.state_len(self.len), self.state.values().len())
    }

    /// One step decoding the state block by block even where the rule offers a one-pass update
    /// ([`crate::optim::BlockStep::fused2`]): the same bits as [`Optimizer::step`], for the tests
    /// that show it.
    pub fn step_by_blocks(&mut self, params: &mut [f32], grads: &[f32]) -> Result<StepOutcome, Error> {
        self.step_in(params, grads, false)
    }

    fn step_in(&mut self, params: &mut [f32], grads: &[f32], one_pass: bool) -> Result<StepOutcome, Error> {
        if let Some(outcome) = check_inputs(self.len, self.policy, params, grads)? {
            return Ok(outcome);
        }
        let n = self.len;
        let k = self.config.state_len(1);
        let t = self.steps.saturating_add(1);
        // Construction and restore refuse rules with more streams; checked again here so that no
        // configuration, however it got in, can index past the block buffer.
        if k > MAX_STREAMS {
            return Err(Error::Unsupported { what: "more than three state streams" });
        }
        let shrank = Error::CorruptState { reason: "state buffer shrank" };
        let state = self.state.values_mut().get_mut(..k * n).ok_or(shrank)?;
        let mut stepper = self.config.prepare::<f32, 8>(&mut self.scalars, t);
        // Two streams rounded to nearest: one pass, each element decoded, updated and encoded
        // (stochastic rounding keeps the block order its random numbers are drawn in).
        if one_pass && k == 2 && matches!(self.rounding, Rounding::Nearest) {
            let (a, b) = state.split_at_mut(n.min(state.len()));
            if stepper.fused2::<Nearest<H>>(params, grads, a, b) {
                self.steps = t;
                return Ok(StepOutcome::Stepped);
            }
        }
        let mut wide = [0.0f32; MAX_STREAMS * BLOCK];
        let mut i0 = 0;
        loop {
            let m = BLOCK.min(n - i0);
            // Stream s of the block: state[s·n + i0..][..m], widened into wide[s·m..][..m]. Every
            // range is in bounds (k ≤ 3, params and grads hold n); `get` spares the compiler
            // proving it, so no bound check is left to panic.
            let at = |s: usize| s * n + i0..s * n + i0 + m;
            for s in 0..k {
                if let (Some(w), Some(v)) = (wide.get_mut(s * m..(s + 1) * m), state.get(at(s))) {
                    w.iter_mut().zip(v).for_each(|(w, v)| *w = v.widen());
                }
            }
            let (Some(p), Some(g), Some(w)) =
                (params.get_mut(i0..i0 + m), grads.get(i0..i0 + m), wide.get_mut(..k * m))
            else {
                return Err(shrank);
            };
            stepper.block(p, g, w);
            for s in 0..k {
                if let (Some(w), Some(v)) = (wide.get(s * m..(s + 1) * m), state.get_mut(at(s))) {
                    // The rounding chosen once per stream, not per value.
                    match self.rounding {
                        Rounding::Nearest => w.iter().zip(v).for_each(|(&x, v)| *v = H::round(x)),
                        Rounding::Stochastic(_) => {
                            w.iter().zip(v).for_each(|(&x, v)| *v = round_stochastic(x, &mut self.rng))
                        }
                    }
                }
            }
            i0 += m;
            if i0 >= n {
                break;
            }
        }
        self.steps = t;
        Ok(StepOutcome::Stepped)
    }

    fn write_all(&self, w: &mut Writer<'_>) -> Result<(), Error> {
        w.header(&Header {
            kind: Kind::HalfState(R::ID).byte(),
            float_bytes: 2,
            n: self.len as u64,
            steps: self.steps,
        })?;
        w.u8(H::ID)?;
        w.u8(self.policy.to_u8())?;
        write_rounding(w, self.rounding, self.rng)?;
        self.config.write(w)?;
        self.scalars.write(w)?;
        let n = self.config.state_len(self.len);
        w.u64(n as u64)?;
        for v in self.state.values().iter().take(n) {
            w.bytes(&v.bits().to_le_bytes())?;
        }
        Ok(())
    }
}

impl<R: UpdateRule, H: HalfFloat, B: StateBuffer<H>> Optimizer<f32> for HalfOptim<R, H, B> {
    rule_optimizer_methods!();

    fn step(&mut self, params: &mut [f32], grads: &[f32]) -> Result<StepOutcome, Error> {
        self.step_in(params, grads, true)
    }

    fn has_eval_params(&self) -> bool {
        self.config.eval_point(1).is_some()
    }

    fn eval_params(&self, params: &[f32], out: &mut [f32]) -> Result<(), Error> {
        crate::optim::check_eval_lens(self.len, params, out)?;
        let point = self.config.eval_point(self.steps);
        let n = self.config.state_len(self.len);
        let state = self.state.values().get(..n).unwrap_or(&[]);
        crate::optim::eval_from_stream(point, params, state, self.len, |h: &H| h.widen(), out);
        Ok(())
    }

    fn update_hessian(&mut self, estimate: &[f32]) -> Result<(), Error> {
        let stream = crate::optim::check_hessian_estimate(&self.config, self.len, estimate)?;
        let n = self.len;
        let at = stream.saturating_mul(n);
        let shrank = Error::CorruptState { reason: "state buffer shrank" };
        let h = self.state.values_mut().get_mut(at..at.saturating_add(n)).ok_or(shrank)?;
        // Widened a block at a time, averaged in f32, rounded back as a step rounds.
        let mut wide = [0.0f32; BLOCK];
        for (h, e) in h.chunks_mut(BLOCK).zip(estimate.chunks(BLOCK)) {
            let w = wide.get_mut(..h.len()).ok_or(shrank)?;
            w.iter_mut().zip(h.iter()).for_each(|(w, v)| *w = v.widen());
            self.config.average_hessian(w, e);
            match self.rounding {
                Rounding::Nearest => w.iter().zip(h).for_each(|(&x, v)| *v = H::round(x)),
                Rounding::Stochastic(_) => {
                    w.iter().zip(h).for_each(|(&x, v)| *v = round_stochastic(x, &mut self.rng))
                }
            }
        }
        Ok(())
    }

    fn restore(&mut self, bytes: &[u8]) -> Result<(), Error> {
        // The float width is checked with the format id.
        let (h, mut r) = open_saved(bytes, Kind::HalfState(R::ID).byte(), None, self.len)?;
        let hid = r.u8()?;
        if hid != H::ID || h.float_bytes != 2 {
            return Err(Error::StateMismatch {
                field: "half format",
                expected: u64::from(H::ID),
                found: u64::from(hid),
            });
        }
        let policy = NonFinitePolicy::from_u8(r.u8()?)?;
        let (rounding, rng) = read_rounding(&mut r)?;
        let config = read_config::<R>(&mut r, self.len)?;
        let scalars = R::Scalars::read(&mut r)?;
        self.fits(&config)?;
        let n = config.state_len(self.len);
        let count = r.u64()?;
        if count != n as u64 {
            return Err(Error::StateMismatch { field: "state length", expected: n as u64, found: count });
        }
        let mut raw = [0u8; 2];
        // Check that every value is present before writing any.
        let body_start = r.position();
        for _ in 0..n {
            raw.copy_from_slice(r.take_bytes(2)?);
        }
        r.finish()?;
        let mut r2 = Reader::at(bytes, body_start);
        for v in self.state.values_mut().iter_mut().take(n) {
            raw.copy_from_slice(r2.take_bytes(2)?);
            *v = H::of_bits(u16::from_le_bytes(raw));
        }
        self.config = config;
        self.scalars = scalars;
        self.steps = h.steps;
        self.policy = policy;
        self.rounding = rounding;
        self.rng = rng;
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// bf16's round to nearest on the bits is `bf16::from_f32` for every upper half and the lower
    /// halves where rounding decides (ties, just below and above, NaN payloads, infinities).
    #[test]
    fn bf16_rounding_is_half_crates() {
        for hi in 0..=u16::MAX {
            for lo in [0u32, 1, 0x7fff, 0x8000, 0x8001, 0xc000, 0xffff] {
                let x = f32::from_bits((u32::from(hi) << 16) | lo);
                assert_eq!(
                    <bf16 as HalfFloat>::round(x).to_bits(),
                    bf16::from_f32(x).to_bits(),
                    "{hi:#x} {lo:#x}"
                );
            }
        }
    }
}
