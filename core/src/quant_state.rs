//! Optimizer state stored in 8 bits per value, block-wise quantized with one `f32` scale per block
//! and stream, f32 arithmetic: a quarter of the state RAM, for microcontrollers. After Dettmers,
//! Lewis, Shleifer & Zettlemoyer, "8-bit Optimizers via Block-wise Quantization" (ICLR 2022),
//! the scheme of bitsandbytes' 8-bit Adam.
//!
//! Each step loads a block of `BLOCK` parameters' state into f32 (code level × block scale), runs
//! the optimizer's own lane kernel on it (the same rule as [`crate::Optim`]), and stores it back:
//! the block's scale becomes its largest magnitude (absmax), and every value is rounded to the
//! nearest level of an 8-bit code (or stochastically, see [`Rounding`]). The block's largest value
//! is therefore stored exactly; the others carry a bounded relative error.
//!
//! # The codes
//!
//! Linear 8-bit codes (absmax int8) fail for the Adam family. The second moment v spans many
//! orders of magnitude within a block, and a linear code rounds every v below 1/510 of the block's
//! largest to 0: the update m̂/(√v̂ + ε) then divides by ε and the parameter jumps by up to
//! lr·m̂/ε. A linear first moment fails more quietly: its error is a fraction of the block's
//! largest |m|, which, divided by a small √v of another parameter, is many times that
//! parameter's own step. Both codes here are therefore logarithmic, as bitsandbytes' dynamic
//! codes are non-linear: a value's error is a fixed fraction of the value itself, over many
//! octaves below the block's largest.
//!
//! - [`StreamCode::Signed`] (momenta, first moments): a sign bit and 7 bits of magnitude, levels
//!   0 and 2^(−k/8) for k = 0 … 126: 1 down to 1.9e-5 of the block's absmax, 15.75 octaves at 8
//!   levels per octave. Relative error of round to nearest ρ = (2^(1/8) − 1)/(2^(1/8) + 1) =
//!   4.3 %. A magnitude under half the smallest level rounds to 0, which only shortens its step.
//! - [`StreamCode::Denominator`] (second moments, Adamax's infinity norm: what the update divides
//!   by): 8 bits of magnitude, levels 0 and 2^(−k/8) for k = 0 … 254: down to 3.5e-10 of the
//!   absmax, 31.75 octaves, the same ρ = 4.3 %. For v that is √v within 2.2 % over 15.9 octaves:
//!   the range the signed code gives m, so m̂/√v̂ is within about 6.5 % wherever both are in range.
//!   **A positive value is never stored as 0**: below the smallest level it is stored as the
//!   smallest level, so there the denominator can only be overestimated and the step only
//!   shortened. Level 0 holds exact zeros (fresh state).
//!
//! Rounding to the nearest level has a blind spot that linear codes share: an exponential average
//! whose per-step change is under half a level's gap rounds back to where it was. With β1 = 0.9,
//! m stops following a gradient that stays within ρ/(1 − β1) = 43 % of it (relative to the
//! block's absmax, which itself is stored exactly and so always follows); β2 = 0.999 moves v by
//! 0.1 % a step against a gap of 9 %. The step of such an element is then off by that much for as
//! long as it lasts. Stochastic rounding ([`Rounding::Stochastic`], unbiased: the expected stored
//! value is the value) removes the bias at the cost of noise and is the better choice here; the
//! measured drift from f32 state is about half of round to nearest's (`tests/quant_state.rs`).
//!
//! Costs: per parameter, one byte per stream plus 4 bytes per stream per `BLOCK` parameters
//! (Adam at `BLOCK` = 64: 2 + 8/64 = 2.125 bytes instead of 8); a stack buffer of 3 × `BLOCK`
//! f32 (768 bytes at 64); per value, a table look-up to load and a binary search of 7 or 8
//! comparisons to store; the code tables, 1.5 KiB of read-only data.
//!
//! Which rules qualify: those whose state streams have a known role ([`QuantRule`]): SGD with
//! momentum, Adam, AdamW and AMSGrad, Adamax, NAdam, RAdam.
//!
//! Accuracy, proven or measured in `tests/quant_state.rs`: over 100 steps on random quadratics
//! and hyperparameters, the trajectory stays within 0.5 (stochastic rounding; worst measured
//! 0.26) or 1.0 (round to nearest; worst measured 0.57) of the distance the f32-state trajectory
//! travelled, against 0.125 for bf16 state; the same minimum is reached. Training the MNIST MLP
//! with Adam: 92.60 % test accuracy with f32 state, 92.75 % (nearest) and 92.60 % (stochastic)
//! with 8-bit state; fine-tuning the example's last layer: 88.0 % with f32 state, 88.2 % and
//! 88.0 %.
//!
//! ```
//! use descent_core::adam::AdamConfig;
//! use descent_core::quant_state::{Adam8, BLOCK, Rounding, blocks};
//! use descent_core::Optimizer;
//!
//! // 1,000 parameters: 2 × 1,000 bytes of codes and 2 × 16 block scales.
//! const N: usize = 1000;
//! let cfg = AdamConfig { lr: 0.05, ..AdamConfig::default() };
//! let mut opt = Adam8::<N, { blocks(N, BLOCK) }>::new(cfg, Rounding::Stochastic(7))?;
//! let mut x = [0.0f32; N];
//! for _ in 0..300 {
//!     let g = x.map(|xi| 2.0 * (xi - 3.0));
//!     opt.step(&mut x, &g)?;
//! }
//! assert!(x.iter().all(|xi| (xi - 3.0).abs() < 0.05));
//! # Ok::<(), descent_core::Error>(())
//! ```
//!
//! A NaN or infinity in a block's state (a non-finite gradient under
//! [`NonFinitePolicy::Propagate`]) makes that block's scale non-finite and so the whole block's
//! state NaN, where f32 state would poison only that element; choose
//! [`NonFinitePolicy::SkipStep`] to keep such gradients out.

use core::marker::PhantomData;

use crate::adabelief::AdabeliefConfig;
use crate::adam::AdamConfig;
use crate::adamax::AdamaxConfig;
use crate::ademamix::AdemamixConfig;
use crate::adopt::AdoptConfig;
use crate::error::Error;
use crate::half_state::{read_rounding, write_rounding};
use crate::nadam::NadamConfig;
use crate::optim::{
    BlockStep, NonFinitePolicy, Optimizer, PerBlock, Reference, StateBuffer, StepOutcome, UpdateRule,
    check_inputs, open_saved, read_config, rule_optimizer_methods,
};
use crate::persist::{Header, Kind, Persist, Writer};
use crate::radam::RadamConfig;
use crate::sgd::SgdConfig;
use crate::yogi::YogiConfig;

pub use crate::half_state::{Rounding, SplitMix64};

/// Parameters per block in the aliases of this module. Smaller blocks follow a block's range of
/// magnitudes more closely and cost more scales (4 bytes per stream per block).
pub const BLOCK: usize = 64;
/// Most state streams a supported rule uses (AMSGrad).
const MAX_STREAMS: usize = 3;

/// Number of blocks (and so of scales per stream) for `n` parameters in blocks of `block`: the
/// second size of the owned aliases, e.g. `Adam8<1000, { blocks(1000, BLOCK) }>`.
pub const fn blocks(n: usize, block: usize) -> usize {
    if block == 0 { 0 } else { n.div_ceil(block) }
}

/// 2^x for the tables, in `const` context: 2^⌊x⌋ exactly times a Taylor series of e^(f·ln 2)
/// for the fraction f in [0, 1) (error below 1e-15, far under an f32 ulp).
const fn exp2(x: f64) -> f64 {
    let whole = x as i64 - if (x as i64) as f64 > x { 1 } else { 0 };
    let f = (x - whole as f64) * core::f64::consts::LN_2;
    let (mut term, mut sum, mut k) = (1.0, 1.0, 1);
    while k < 30 {
        term = term * f / k as f64;
        sum += term;
        k += 1;
    }
    let mut p = 1.0;
    let mut e = whole;
    while e < 0 {
        p /= 2.0;
        e += 1;
    }
    while e > 0 {
        p *= 2.0;
        e -= 1;
    }
    sum * p
}

/// Levels 0 and 2^(−k/per_octave) for k = 0 … M − 2, ascending: level i (i ≥ 1) is
/// 2^(−(M − 1 − i)/per_octave) and level M − 1 is 1.
const fn log_levels<const M: usize>(per_octave: u32) -> [f32; M] {
    let mut out = [0.0f32; M];
    let mut i = 1;
    while i < M {
        out[i] = exp2(-((M - 1 - i) as f64) / per_octave as f64) as f32;
        i += 1;
    }
    out
}

/// Magnitudes of [`StreamCode::Signed`] (7 bits).
static SIGNED_LEVELS: [f32; 128] = log_levels::<128>(8);
/// Magnitudes of [`StreamCode::Denominator`] (8 bits).
static DENOMINATOR_LEVELS: [f32; 256] = log_levels::<256>(8);

/// The 8-bit code a state stream is stored with, chosen by what the rule does with it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum StreamCode {
    /// A signed value the update is proportional to (a momentum, a first moment): sign bit and
    /// 127 logarithmic magnitudes; tiny values may round to 0.
    Signed,
    /// A non-negative value the update divides by (a second moment, an infinity norm): 255
    /// logarithmic magnitudes; a positive value never rounds to 0.
    Denominator,
}

impl StreamCode {
    /// The magnitude levels, ascending, relative to the block scale: 0, then log-spaced up to 1.
    pub fn levels(self) -> &'static [f32] {
        match self {
            StreamCode::Signed => &SIGNED_LEVELS,
            StreamCode::Denominator => &DENOMINATOR_LEVELS,
        }
    }
    /// The largest relative error of round to nearest above the smallest nonzero level:
    /// (r − 1)/(r + 1) for the ratio r = 2^(1/8) between neighbouring levels: 4.3 %.
    pub fn max_relative_error(self) -> f32 {
        let l = self.levels();
        let r = l[l.len() - 1] / l[l.len() - 2];
        (r - 1.0) / (r + 1.0)
    }
    /// The smallest nonzero level relative to the block scale: 2^−15.75 = 1.9e-5 (signed),
    /// 2^−31.75 = 3.5e-10 (denominator).
    pub fn smallest_level(self) -> f32 {
        self.levels()[1]
    }

    /// The stored value of code byte `c` in a block of scale `scale`.
    #[inline]
    pub fn decode(self, c: u8, scale: f32) -> f32 {
        match self {
            StreamCode::Signed => {
                let m = SIGNED_LEVELS[usize::from(c & 0x7f)] * scale;
                if c & 0x80 != 0 { -m } else { m }
            }
            StreamCode::Denominator => DENOMINATOR_LEVELS[usize::from(c)] * scale,
        }
    }

    /// The code byte of `x` in a block of scale `scale` (> 0, at least |x|), rounded to the
    /// nearest level, or stochastically when `rng` is given.
    #[inline]
    pub fn encode(self, x: f32, scale: f32, rng: Option<&mut SplitMix64>) -> u8 {
        let levels = self.levels();
        let a = x.abs() / scale;
        // Levels ≤ a: the neighbours are levels[i − 1] ≤ a < levels[i]. NaN gives i = 0.
        let i = count_at_most(levels, a);
        let mut k = match (levels.get(i.wrapping_sub(1)), levels.get(i)) {
            (Some(&lo), Some(&hi)) => {
                let up = match rng {
                    None => hi - a < a - lo,
                    Some(rng) => {
                        let u = (rng.next_u64() >> 40) as f32 / (1u32 << 24) as f32;
                        u * (hi - lo) < a - lo
                    }
                };
                if up { i } else { i - 1 }
            }
            (Some(_), None) => levels.len() - 1,
            _ => 0,
        };
        if self == StreamCode::Denominator && k == 0 && a > 0.0 {
            k = 1;
        }
        // k < 256 (the levels have 128 or 256 entries).
        let k = k as u8;
        match self {
            StreamCode::Signed if x.is_sign_negative() && k != 0 => k | 0x80,
            _ => k,
        }
    }

    /// Quantizes `values` into `codes` and returns the block scale: the largest |value| (NaN if
    /// any value is NaN). A scale of 0 (all values zero) or a non-finite one stores every code as
    /// 0 (and decoding a non-finite scale gives NaN).
    pub fn quantize(self, values: &[f32], codes: &mut [u8], rng: Option<&mut SplitMix64>) -> f32 {
        let scale = absmax(values);
        if scale == 0.0 || !scale.is_finite() {
            codes.fill(0);
            return scale;
        }
        // The code and the rounding chosen once per block, so that each loop is specialized.
        let pairs = codes.iter_mut().zip(values);
        match (self, rng) {
            (StreamCode::Signed, None) => {
                pairs.for_each(|(c, &x)| *c = StreamCode::Signed.encode(x, scale, None))
            }
            (StreamCode::Denominator, None) => {
                pairs.for_each(|(c, &x)| *c = StreamCode::Denominator.encode(x, scale, None))
            }
            (_, Some(rng)) => pairs.for_each(|(c, &x)| *c = self.encode(x, scale, Some(&mut *rng))),
        }
        scale
    }

    /// Decodes `codes` of a block of scale `scale` into `out`.
    pub fn dequantize(self, codes: &[u8], scale: f32, out: &mut [f32]) {
        let scale = if scale.is_finite() { scale } else { f32::NAN };
        let pairs = out.iter_mut().zip(codes);
        match self {
            StreamCode::Signed => pairs.for_each(|(o, &c)| *o = StreamCode::Signed.decode(c, scale)),
            StreamCode::Denominator => {
                pairs.for_each(|(o, &c)| *o = StreamCode::Denominator.decode(c, scale))
            }
        }
    }
}

/// The number of `levels` (0, then 2^(−k/8) for k = M − 2 … 0, ascending) that are ≤ `a`, as
/// `levels.partition_point(|&l| l <= a)` but without a binary search: a = 2^e·(1 + f) has
/// ⌊8·log2 a⌋ = 8e + ⌊8·log2(1 + f)⌋, which is 8e + ⌊8f⌋ or one more (log2(1 + f) − f ≤ 0.086
/// on [0, 1)), so the count is M + 8e + ⌊8f⌋ within one or two; two short walks settle it.
#[inline]
fn count_at_most(levels: &[f32], a: f32) -> usize {
    if a.is_nan() {
        return 0;
    }
    let bits = a.to_bits();
    // 32-bit arithmetic: e ≥ −127, and the levels number 128 or 256.
    let e = (bits >> 23) as i32 - 127;
    let top3 = ((bits >> 20) & 7) as i32;
    let m = levels.len();
    let mut i = (m as i32 + 8 * e + top3).clamp(0, m as i32) as usize;
    while levels.get(i).is_some_and(|&l| l <= a) {
        i += 1;
    }
    while i > 0 && levels.get(i - 1).is_some_and(|&l| l > a) {
        i -= 1;
    }
    i
}

/// The largest |x|, NaN if any x is NaN (0 for an empty slice).
fn absmax(values: &[f32]) -> f32 {
    let mut max = 0.0f32;
    for x in values.iter().map(|x| x.abs()) {
        if x.is_nan() {
            return x;
        }
        max = max.max(x);
    }
    max
}

/// An [`UpdateRule`] whose state streams have known roles, so that each can be stored with the
/// right [`StreamCode`]. Implemented for the Adam family and SGD; a rule outside this list can
/// implement it if every stream it keeps is a signed momentum-like value or a denominator.
pub trait QuantRule: UpdateRule {
    /// The code of state stream `stream` (0-based, in the rule's state order).
    fn stream_code(&self, stream: usize) -> StreamCode;
}

/// SGD's one stream is the momentum buffer.
impl QuantRule for SgdConfig {
    fn stream_code(&self, _: usize) -> StreamCode {
        StreamCode::Signed
    }
}

/// Rules whose first stream is a first moment m and whose others are denominators: Adam's v and
/// (AMSGrad) max v, Adamax's infinity norm u, NAdam's, RAdam's, Yogi's and ADOPT's v, AdaBelief's
/// s.
macro_rules! first_moment_then_denominators {
    ($($rule:ty),*) => {$(
        impl QuantRule for $rule {
            fn stream_code(&self, stream: usize) -> StreamCode {
                if stream == 0 { StreamCode::Signed } else { StreamCode::Denominator }
            }
        }
    )*};
}

first_moment_then_denominators!(
    AdamConfig,
    AdamaxConfig,
    NadamConfig,
    RadamConfig,
    YogiConfig,
    AdabeliefConfig,
    AdoptConfig
);

/// Schedule-free SGD's one stream is z, the base iterate (signed).
impl QuantRule for crate::schedule_free::ScheduleFreeSgdConfig {
    fn stream_code(&self, _: usize) -> StreamCode {
        StreamCode::Signed
    }
}

// Schedule-free AdamW: z (signed), then v.
first_moment_then_denominators!(crate::schedule_free::ScheduleFreeAdamwConfig);

/// Sophia: the momentum m, then the Hessian average h (a denominator, ≥ 0).
impl QuantRule for crate::sophia::SophiaConfig {
    fn stream_code(&self, stream: usize) -> StreamCode {
        if stream == 0 { StreamCode::Signed } else { StreamCode::Denominator }
    }
}

/// AdEMAMix: the fast and the slow momentum, then v.
impl QuantRule for AdemamixConfig {
    fn stream_code(&self, stream: usize) -> StreamCode {
        if stream < 2 { StreamCode::Signed } else { StreamCode::Denominator }
    }
}

/// An optimizer whose state is stored in 8 bits per value: configuration `R`, code storage `C`
/// (`state_len` bytes), scale storage `S` (one `f32` per stream and block of `BLOCK` parameters).
#[derive(Debug, Clone)]
pub struct QuantOptim<R: QuantRule, C: StateBuffer<u8>, S: StateBuffer<f32>, const BLOCK: usize> {
    config: R,
    scalars: R::Scalars,
    codes: C,
    scales: S,
    len: usize,
    steps: u64,
    policy: NonFinitePolicy,
    rounding: Rounding,
    rng: SplitMix64,
}

/// Adam (or AdamW) with 8-bit state for `N` parameters in blocks of [`BLOCK`]; `NB` is
/// [`blocks`]`(N, BLOCK)`. 2 + 8/[`BLOCK`] bytes per parameter (2.125) instead of 8.
pub type Adam8<const N: usize, const NB: usize> = QuantOptim<AdamConfig, [[u8; N]; 2], [[f32; NB]; 2], BLOCK>;
/// SGD with an 8-bit momentum buffer for `N` parameters: 1 + 4/[`BLOCK`] bytes per parameter.
pub type SgdMomentum8<const N: usize, const NB: usize> =
    QuantOptim<SgdConfig, [[u8; N]; 1], [[f32; NB]; 1], BLOCK>;
/// Any supported rule with 8-bit state over caller-provided buffers, blocks of [`BLOCK`].
pub type QuantView<'a, R> = QuantOptim<R, &'a mut [u8], &'a mut [f32], BLOCK>;

impl<R: QuantRule, const N: usize, const NB: usize, const K: usize, const BLOCK: usize>
    QuantOptim<R, [[u8; N]; K], [[f32; NB]; K], BLOCK>
{
    /// An optimizer for `N` parameters owning its 8-bit state. Refuses `NB` < `blocks(N, BLOCK)`.
    pub fn new(config: R, rounding: Rounding) -> Result<Self, Error> {
        Self::from_storage(config, [[0; N]; K], [[0.0; NB]; K], N, rounding, NonFinitePolicy::default())
    }
}

impl<'a, R: QuantRule, const BLOCK: usize> QuantOptim<R, &'a mut [u8], &'a mut [f32], BLOCK> {
    /// An optimizer for `n` parameters over caller-provided buffers: `codes` of at least
    /// `config.state_len(n)` bytes, `scales` of at least `config.state_len(1) · blocks(n, BLOCK)`.
    pub fn with_buffers(
        config: R,
        n: usize,
        codes: &'a mut [u8],
        scales: &'a mut [f32],
        rounding: Rounding,
    ) -> Result<Self, Error> {
        Self::from_storage(config, codes, scales, n, rounding, NonFinitePolicy::default())
    }
}

impl<R: QuantRule, C: StateBuffer<u8>, S: StateBuffer<f32>, const BLOCK: usize> QuantOptim<R, C, S, BLOCK> {
    /// An optimizer over any storage. Refuses a block size of 0, rules that are not elementwise,
    /// and buffers too small for the configuration.
    pub fn from_storage(
        config: R,
        mut codes: C,
        mut scales: S,
        len: usize,
        rounding: Rounding,
        policy: NonFinitePolicy,
    ) -> Result<Self, Error> {
        if BLOCK == 0 {
            return Err(Error::Unsupported { what: "a quantization block of 0 parameters" });
        }
        if !R::ELEMENTWISE {
            return Err(Error::Unsupported { what: "8-bit state needs an elementwise rule" });
        }
        config.validate()?;
        config.check_len(len)?;
        let k = config.state_len(1);
        if k > MAX_STREAMS {
            return Err(Error::Unsupported { what: "more than three state streams" });
        }
        fits::<BLOCK>(&config, len, codes.values().len(), scales.values().len())?;
        let nb = blocks(len, BLOCK);
        // Fresh state: each stream constant (the rule's initial value), one block at a time.
        let mut init = [0.0f32; MAX_STREAMS];
        config.init_state(init.get_mut(..k).unwrap_or(&mut []));
        let (codes_used, scales_used) = (codes.values_mut(), scales.values_mut());
        for (s, &v) in init.iter().enumerate().take(k) {
            let code = config.stream_code(s);
            let mut top = [0u8];
            let scale = code.quantize(&[v], &mut top, None);
            codes_used.iter_mut().skip(s * len).take(len).for_each(|c| *c = top[0]);
            scales_used.iter_mut().skip(s * nb).take(nb).for_each(|x| *x = scale);
        }
        Ok(QuantOptim {
            config,
            scalars: R::Scalars::default(),
            codes,
            scales,
            len,
            steps: 0,
            policy,
            rounding,
            rng: rounding.fresh_rng(),
        })
    }

    /// The configuration.
    pub fn config(&self) -> &R {
        &self.config
    }

    /// The stored state, decoded value by value into `out` (stream after stream, as
    /// [`crate::Optim::state`] orders it; for inspection and tests).
    pub fn state_f32(&self, out: &mut [f32]) {
        let (n, k, nb) = (self.len, self.config.state_len(1), blocks(self.len, BLOCK));
        let (codes, scales) = (self.codes.values(), self.scales.values());
        if n == 0 {
            return;
        }
        for (i, o) in out.iter_mut().enumerate().take(k * n) {
            let (s, j) = (i / n, i % n);
            if let (Some(&c), Some(&scale)) = (codes.get(i), scales.get(s * nb + j / BLOCK)) {
                *o = self.config.stream_code(s).decode(c, scale);
            }
        }
    }

    /// One step computed by the rule's scalar reference instead of its lane kernel (on the same
    /// decoded blocks, stored the same way): the same bits, as the property tests prove.
    pub fn step_reference(&mut self, params: &mut [f32], grads: &[f32]) -> Result<StepOutcome, Error> {
        self.step_with::<true>(params, grads)
    }

    /// The block loop every step runs: decode a block's streams, apply the rule (its scalar
    /// reference if `REFERENCE`, else its prepared kernel), encode them back.
    fn step_with<const REFERENCE: bool>(
        &mut self,
        params: &mut [f32],
        grads: &[f32],
    ) -> Result<StepOutcome, Error> {
        if let Some(outcome) = check_inputs(self.len, self.policy, params, grads)? {
            return Ok(outcome);
        }
        let (n, k, nb) = (self.len, self.config.state_len(1), blocks(self.len, BLOCK));
        let shrank = Error::CorruptState { reason: "state buffer shrank" };
        let codes = self.codes.values_mut().get_mut(..k * n).ok_or(shrank)?;
        let scales = self.scales.values_mut().get_mut(..k * nb).ok_or(shrank)?;
        let t = self.steps.saturating_add(1);
        let rng = match self.rounding {
            Rounding::Nearest => None,
            Rounding::Stochastic(_) => Some(&mut self.rng),
        };
        let blocks = Blocks::<R, BLOCK> { config: &self.config, codes, scales, rng, n, k, nb };
        if REFERENCE {
            let start = self.scalars;
            blocks.run(
                PerBlock::<R, Reference> {
                    rule: &self.config,
                    start,
                    scalars: &mut self.scalars,
                    t,
                    _compute: PhantomData,
                },
                params,
                grads,
            )?;
        } else {
            blocks.run(self.config.prepare::<f32, 8>(&mut self.scalars, t), params, grads)?;
        }
        self.steps = t;
        Ok(StepOutcome::Stepped)
    }

    fn fits(&self, config: &R) -> Result<(), Error> {
        fits::<BLOCK>(config, self.len, self.codes.values().len(), self.scales.values().len())
    }

    fn write_all(&self, w: &mut Writer<'_>) -> Result<(), Error> {
        w.header(&Header {
            kind: Kind::QuantState(R::ID).byte(),
            float_bytes: 1,
            n: self.len as u64,
            steps: self.steps,
        })?;
        w.u64(BLOCK as u64)?;
        w.u8(self.policy.to_u8())?;
        write_rounding(w, self.rounding, self.rng)?;
        self.config.write(w)?;
        self.scalars.write(w)?;
        let (k, nb) = (self.config.state_len(1), blocks(self.len, BLOCK));
        let codes = self.codes.values().get(..k * self.len).unwrap_or(&[]);
        w.u64(codes.len() as u64)?;
        w.bytes(codes)?;
        w.floats(self.scales.values().get(..k * nb).unwrap_or(&[]))
    }
}

/// Checks that buffers of `codes` bytes and `scales` floats hold `config`'s state for `n`
/// parameters.
fn fits<const BLOCK: usize>(
    config: &impl UpdateRule,
    n: usize,
    codes: usize,
    scales: usize,
) -> Result<(), Error> {
    let needed = config.state_len(n);
    if needed > codes {
        return Err(Error::BufferTooSmall { what: "8-bit optimizer state", needed, available: codes });
    }
    let needed = config.state_len(1) * blocks(n, BLOCK);
    if needed > scales {
        return Err(Error::BufferTooSmall { what: "8-bit state block scales", needed, available: scales });
    }
    Ok(())
}

impl<R: QuantRule, C: StateBuffer<u8>, S: StateBuffer<f32>, const BLOCK: usize> Optimizer<f32>
    for QuantOptim<R, C, S, BLOCK>
{
    rule_optimizer_methods!();

    fn step(&mut self, params: &mut [f32], grads: &[f32]) -> Result<StepOutcome, Error> {
        self.step_with::<false>(params, grads)
    }

    fn has_eval_params(&self) -> bool {
        self.config.eval_point(1).is_some()
    }

    /// x from the parameters and z decoded value by value (its code × its block's scale).
    fn eval_params(&self, params: &[f32], out: &mut [f32]) -> Result<(), Error> {
        crate::optim::check_eval_lens(self.len, params, out)?;
        let n = self.len;
        let Some(point) = self.config.eval_point(self.steps) else {
            out.copy_from_slice(params);
            return Ok(());
        };
        let s = point.stream;
        let code = self.config.stream_code(s);
        let nb = blocks(n, BLOCK);
        let shrank = Error::CorruptState { reason: "state buffer shrank" };
        let codes = self.codes.values().get(s * n..s * n + n).ok_or(shrank)?;
        let scales = self.scales.values().get(s * nb..s * nb + nb).ok_or(shrank)?;
        for (b, ((o, p), c)) in
            out.chunks_mut(BLOCK).zip(params.chunks(BLOCK)).zip(codes.chunks(BLOCK)).enumerate()
        {
            let scale = scales.get(b).copied().unwrap_or(f32::NAN);
            for ((o, &y), &c) in o.iter_mut().zip(p).zip(c) {
                *o = point.at(y, code.decode(c, scale));
            }
        }
        Ok(())
    }

    fn update_hessian(&mut self, estimate: &[f32]) -> Result<(), Error> {
        let stream = crate::optim::check_hessian_estimate(&self.config, self.len, estimate)?;
        let (n, nb) = (self.len, blocks(self.len, BLOCK));
        let shrank = Error::CorruptState { reason: "state buffer shrank" };
        let at = stream.saturating_mul(n);
        let codes = self.codes.values_mut().get_mut(at..at.saturating_add(n)).ok_or(shrank)?;
        let at = stream.saturating_mul(nb);
        let scales = self.scales.values_mut().get_mut(at..at.saturating_add(nb)).ok_or(shrank)?;
        let code = self.config.stream_code(stream);
        let mut rng = match self.rounding {
            Rounding::Nearest => None,
            Rounding::Stochastic(_) => Some(&mut self.rng),
        };
        // The stream's blocks decoded, averaged in f32 and encoded back, as a step does.
        let mut wide = [0.0f32; BLOCK];
        for ((c, e), scale) in codes.chunks_mut(BLOCK).zip(estimate.chunks(BLOCK)).zip(scales.iter_mut()) {
            let w = wide.get_mut(..c.len()).ok_or(shrank)?;
            code.dequantize(c, *scale, w);
            self.config.average_hessian(w, e);
            *scale = code.quantize(w, c, rng.as_deref_mut());
        }
        Ok(())
    }

    fn restore(&mut self, bytes: &[u8]) -> Result<(), Error> {
        let (h, mut r) = open_saved(bytes, Kind::QuantState(R::ID).byte(), Some(1), self.len)?;
        let mismatch = |field, expected: u64, found: u64| Error::StateMismatch { field, expected, found };
        let block = r.u64()?;
        if block != BLOCK as u64 {
            return Err(mismatch("quantization block size", BLOCK as u64, block));
        }
        let policy = NonFinitePolicy::from_u8(r.u8()?)?;
        let (rounding, rng) = read_rounding(&mut r)?;
        let config = read_config::<R>(&mut r, self.len)?;
        if config.state_len(1) > MAX_STREAMS {
            return Err(Error::Unsupported { what: "more than three state streams" });
        }
        let scalars = R::Scalars::read(&mut r)?;
        self.fits(&config)?;
        let (n, nb) = (config.state_len(self.len), config.state_len(1) * blocks(self.len, BLOCK));
        let count = r.u64()?;
        if count != n as u64 {
            return Err(mismatch("state length", n as u64, count));
        }
        let codes = r.take_bytes(n)?;
        let scales = r.floats::<f32>(nb)?;
        r.finish()?;
        let scale = |c: &[u8]| c.try_into().map(f32::from_le_bytes).unwrap_or(f32::NAN);
        // A block's scale is its largest magnitude: never negative (NaN, from non-finite state, is kept).
        if scales.chunks_exact(4).any(|c| scale(c) < 0.0) {
            return Err(Error::CorruptState { reason: "negative block scale" });
        }
        for (d, &c) in self.codes.values_mut().iter_mut().zip(codes) {
            *d = c;
        }
        for (d, c) in self.scales.values_mut().iter_mut().zip(scales.chunks_exact(4)) {
            *d = scale(c);
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

/// The buffers one 8-bit step decodes and encodes block by block.
struct Blocks<'a, R, const BLOCK: usize> {
    config: &'a R,
    codes: &'a mut [u8],
    scales: &'a mut [f32],
    rng: Option<&'a mut SplitMix64>,
    n: usize,
    k: usize,
    nb: usize,
}

impl<R: QuantRule, const BLOCK: usize> Blocks<'_, R, BLOCK> {
    /// Decodes each block's streams, applies `stepper`, encodes them back.
    #[inline(always)]
    fn run(
        mut self,
        mut stepper: impl BlockStep<f32>,
        params: &mut [f32],
        grads: &[f32],
    ) -> Result<(), Error> {
        let (n, k, nb) = (self.n, self.k, self.nb);
        let shrank = Error::CorruptState { reason: "state buffer shrank" };
        let mut wide = [[0.0f32; BLOCK]; MAX_STREAMS];
        let wide = wide.as_flattened_mut();
        for (b, (p, g)) in params.chunks_mut(BLOCK).zip(grads.chunks(BLOCK)).enumerate() {
            let (m, i0) = (p.len(), b * BLOCK);
            // Stream s of block b: codes[s·n + i0..][..m] with scale scales[s·nb + b], decoded into
            // wide[s·m..][..m]. Every index is in bounds (k ≤ 3, buffers checked above); `get`
            // spares the compiler proving it, so no bound check is left to panic.
            let at = |s: usize| s * n + i0..s * n + i0 + m;
            for s in 0..k {
                let code = self.config.stream_code(s);
                if let (Some(c), Some(&scale), Some(w)) =
                    (self.codes.get(at(s)), self.scales.get(s * nb + b), wide.get_mut(s * m..(s + 1) * m))
                {
                    code.dequantize(c, scale, w);
                }
            }
            let Some(w) = wide.get_mut(..k * m) else { return Err(shrank) };
            stepper.block(p, g, w);
            for s in 0..k {
                let code = self.config.stream_code(s);
                if let (Some(w), Some(c), Some(scale)) =
                    (wide.get(s * m..(s + 1) * m), self.codes.get_mut(at(s)), self.scales.get_mut(s * nb + b))
                {
                    *scale = code.quantize(w, c, self.rng.as_deref_mut());
                }
            }
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The direct count is the binary search's, at every level, between levels, at 0, subnormal,
    /// 1, above 1, infinite and NaN.
    #[test]
    fn count_at_most_is_the_binary_search() {
        for code in [StreamCode::Signed, StreamCode::Denominator] {
            let l = code.levels();
            let mut probes = [0.0f32, 1e-45, 1e-40, 1.0, 1.5, f32::INFINITY, f32::NAN].to_vec();
            for &x in l {
                probes.extend([
                    x,
                    f32::from_bits(x.to_bits().wrapping_sub(1)),
                    f32::from_bits(x.to_bits() + 1),
                ]);
            }
            let mut x = 1e-12f32;
            while x < 2.0 {
                probes.push(x);
                x *= 1.001;
            }
            for a in probes {
                assert_eq!(count_at_most(l, a), l.partition_point(|&v| v <= a), "{a:e}");
            }
        }
    }

    /// The `const` tables are 2^(−k/8) rounded to f32, as libm's `exp2` gives them, ascending.
    #[test]
    fn levels_are_powers_of_two_to_the_minus_k_over_8() {
        for code in [StreamCode::Signed, StreamCode::Denominator] {
            let l = code.levels();
            assert_eq!(l[0], 0.0);
            for (i, &level) in l.iter().enumerate().skip(1) {
                let k = (l.len() - 1 - i) as f64;
                assert_eq!(level, libm::exp2(-k / 8.0) as f32, "{code:?} level {i}");
            }
            assert!(l.windows(2).all(|w| w[0] < w[1]));
        }
    }
}
