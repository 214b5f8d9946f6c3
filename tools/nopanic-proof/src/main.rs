//! The proof that descent-core never panics, as libm proves it for its functions: this binary calls
//! the core's public API (every optimizer's construction, step, save and restore, with f32, f64,
//! half and 8-bit state, and Sophia's Hessian estimate; every schedule, the schedule driver, plateau and sequential schedules;
//! every clip; and the rest: L-BFGS, the grad scaler, accumulation, the LR range test, model
//! blobs) on inputs the compiler cannot see (`black_box`), and its panic handler calls a symbol
//! that exists nowhere. A panic path that survives optimization keeps the handler alive, and the
//! link fails with "undefined reference to `descent_core_panics`" (it names the symbol). CI builds
//! it in release (fat LTO, one codegen unit, as firmware is built) for the host, where it also runs
//! and exits 0, and for a Cortex-M4F/M7 (`thumbv7em-none-eabihf`).
//!
//! Calls go through `&mut dyn Optimizer` where they can, so that every method of every
//! optimizer's vtable is linked, whether called here or not. Not covered: the scalar references
//! (`step_reference`), written index by index to mirror the formulas; they are for reading and for
//! the property tests, not for running on a device.
//!
//! To find a panic path the link reports, build with `--features locate` (a panic handler that
//! links) and look in the disassembly (`objdump -d -C`, with `CARGO_PROFILE_RELEASE_DEBUG=
//! line-tables-only` and `addr2line -i` for the source lines) for the functions that call into
//! `core::panicking`.
#![no_std]
#![no_main]

use core::hint::black_box as bb;
use descent_core::accumulate::{AccumulateMode, AccumulateView};
use descent_core::averaged::{Average, Averaged};
use descent_core::clip::{self, NormType, PercentileClipper};
use descent_core::grad_scaler::{GradScaler, GradScalerConfig};
use descent_core::group::{Group, Grouped, Reserve, Slot};
use descent_core::half_state::{HalfFloat, HalfView, Rounding};
use descent_core::layout::{Layout, Tensor};
use descent_core::lbfgs::{Lbfgs, LbfgsConfig, LineSearch};
use descent_core::lookahead::{Lookahead, LookaheadConfig};
use descent_core::lr_finder::LrRangeTest;
use descent_core::nn::{self, Dense, DenseGrad, ModelBlob};
use descent_core::pair::Pair;
use descent_core::quant_state::{QuantRule, QuantView};
use descent_core::sam::{Sam, SamConfig};
use descent_core::schedule::{Anneal, Interpolate, PiecewiseInterpolate, Swalr};
use descent_core::schedule::{
    AnnealStrategy, AnySchedule, Chained, ConstantLr, CosineAnnealingLr, CosineAnnealingWarmRestarts,
    CyclicLr, CyclicMode, Driver, ExponentialLr, LambdaLr, LinearLr, MultiStepLr, MultiplicativeLr,
    OneCycleLr, PlateauMode, PolynomialLr, ReduceLrOnPlateau, Schedule, Segment, Sequential, StepLr,
    ThresholdMode, WarmupCosine,
};
use descent_core::sparse_adam::{SparseAdam, SparseAdamConfig, SparseAdamOptim, SparseAdamView, SparseGrad};
use descent_core::{
    NonFinitePolicy, Optim, Optimizer, Real, StateBuffer, UpdateRule, adabelief, adadelta, adafactor,
    adagrad, adam, adamax, adan, ademamix, adopt, asgd, dadapt_adamw, lamb, lars, lion, muon, nadam, novograd,
    prodigy, radam, rmsprop, rprop, schedule_free, sgd, sm3, sophia, yogi,
};
use half::{bf16, f16};

/// Parameters per optimizer (the buffers below hold three state streams of this many).
const N: usize = 24;
/// Room for any optimizer's saved state at `N` parameters.
const SAVED: usize = 2048;

#[cfg(not(feature = "locate"))]
#[panic_handler]
fn panic(_: &core::panic::PanicInfo) -> ! {
    unsafe extern "C" {
        /// Defined nowhere: referring to it fails the link.
        fn descent_core_panics() -> !;
    }
    // SAFETY: never runs; the link fails first if this is reachable.
    unsafe { descent_core_panics() }
}

/// With the `locate` feature the panic handler links, so that the functions calling into it can
/// be found in the disassembly (`objdump -d`, look for calls to `core::panicking`).
#[cfg(feature = "locate")]
#[panic_handler]
fn panic(_: &core::panic::PanicInfo) -> ! {
    loop {
        core::hint::spin_loop();
    }
}

/// The host: libc's start files call `main`. Exits 0 when every call that should succeed did.
#[cfg(not(target_os = "none"))]
#[unsafe(no_mangle)]
extern "C" fn main(_argc: i32, _argv: *const *const u8) -> i32 {
    i32::from(run() != 0)
}

/// A microcontroller: entered here (build.rs), with nothing to return to.
#[cfg(target_os = "none")]
#[unsafe(no_mangle)]
extern "C" fn _start() -> ! {
    bb(run());
    loop {
        core::hint::spin_loop();
    }
}

/// The precompiled `core` of a hosted target refers to the unwinding personality routine even
/// with panic = "abort"; nothing unwinds here.
#[cfg(not(target_os = "none"))]
#[unsafe(no_mangle)]
extern "C" fn rust_eh_personality() {}

/// Runs everything; returns the number of calls that failed but should not have.
fn run() -> u32 {
    optimizers::<f32>()
        + optimizers::<f64>()
        + reduced_state()
        + schedules()
        + clipping()
        + the_rest()
        + groups::<f32>()
        + groups::<f64>()
}

/// The first `k` bytes (all of them if there are fewer).
fn head(bytes: &[u8], k: usize) -> &[u8] {
    bytes.get(..k).unwrap_or(bytes)
}

/// Damages byte `i` (if there is one).
fn flip(bytes: &mut [u8], i: usize) {
    if let Some(b) = bytes.get_mut(i) {
        *b ^= 1;
    }
}

/// Counts a failure.
fn fail(bad: bool) -> u32 {
    u32::from(bad)
}

/// Saves `$x`, restores what was saved (which must succeed), half of it and a damaged copy (which
/// must be refused); evaluates to the number of failures.
macro_rules! round_trip {
    ($x:expr) => {{
        let mut saved = [0u8; SAVED];
        let len = bb($x.saved_len());
        match $x.save(&mut saved) {
            Ok(written) => {
                let ok = written == len && $x.restore(bb(head(&saved, written))).is_ok();
                let truncated = $x.restore(bb(head(&saved, written / 2))).is_err();
                flip(&mut saved, bb(written / 2));
                fail(!ok || !truncated) + fail($x.restore(bb(head(&saved, written))).is_ok())
            }
            Err(_) => 1,
        }
    }};
}

/// Every method of `opt`: a step, lr and momentum changes, save, restore of what was saved, of a
/// damaged copy and of a truncated one.
fn exercise<F: Real>(opt: &mut dyn Optimizer<F>, params: &mut [F], grads: &[F]) -> u32 {
    let mut fails = fail(opt.step(params, grads).is_err());
    let _ = opt.set_lr(bb(0.01));
    let _ = opt.set_momentum(bb(0.5));
    // Sophia takes the estimate; the others refuse it.
    let _ = opt.update_hessian(bb(grads));
    bb((opt.name(), opt.lr(), opt.momentum(), opt.steps(), opt.len(), opt.is_empty(), opt.state_len()));
    fails += round_trip!(opt);
    fails += fail(opt.step(params, grads).is_err());
    // The evaluation parameters (schedule-free's x), into a buffer of the right length and of
    // a wrong one.
    let mut x = bb([F::ZERO; 64]);
    bb(opt.has_eval_params());
    if let Some(x) = x.get_mut(..params.len()) {
        fails += fail(opt.eval_params(params, x).is_err());
    }
    fails + fail(opt.eval_params(params, &mut x[..1]).is_ok() && params.len() != 1)
}

/// One rule with owned and with borrowed state, through the trait object and the reference step.
fn rule<R: UpdateRule, F: Real>(config: R) -> u32 {
    let (n, policy) = (bb(N), bb(NonFinitePolicy::SkipStep));
    let mut params = bb([F::ONE; N]);
    let grads = bb([F::from_f64(0.25); N]);
    let mut state = [F::ZERO; 3 * N + 80];
    let mut fails = match Optim::with_buffer_and_policy(config.clone(), n, &mut state[..], policy) {
        Ok(mut opt) => {
            let f = exercise(&mut opt, bb(&mut params[..]), bb(&grads[..]));
            bb(opt.config());
            bb(opt.scalars());
            bb(opt.state());
            let _ = opt.set_config(config.clone());
            f
        }
        Err(_) => 1,
    };
    match Optim::from_storage(config, [[F::ZERO; N]; 5], N, bb(NonFinitePolicy::Error)) {
        Ok(mut opt) => fails += exercise(&mut opt, &mut params, &grads),
        Err(_) => fails += 1,
    }
    fails
}

/// Every optimizer of the core, in float type `F`.
fn optimizers<F: Real>() -> u32 {
    let shape = bb([4usize, 6]);
    let adafactor = match adafactor::AdafactorConfig::for_shape(&shape) {
        Ok(c) => rule::<_, F>(bb(c)) + rule::<_, F>(bb(adafactor::AdafactorConfig::default())),
        Err(_) => 1,
    };
    rule::<_, F>(bb(sgd::SgdConfig { momentum: 0.9, nesterov: true, ..sgd::SgdConfig::default() }))
        + rule::<_, F>(bb(sgd::SgdConfig::default()))
        + rule::<_, F>(bb(adam::AdamConfig { amsgrad: true, ..adam::AdamConfig::default() }))
        + rule::<_, F>(bb(adam::AdamConfig::adamw()))
        + rule::<_, F>(bb(adam::AdamConfig::default()))
        + rule::<_, F>(bb(adagrad::AdagradConfig::default()))
        + rule::<_, F>(bb(rmsprop::RmspropConfig { centered: true, momentum: 0.9, ..Default::default() }))
        + rule::<_, F>(bb(adamax::AdamaxConfig::default()))
        + rule::<_, F>(bb(nadam::NadamConfig::default()))
        + rule::<_, F>(bb(radam::RadamConfig::default()))
        + rule::<_, F>(bb(adadelta::AdadeltaConfig::default()))
        + rule::<_, F>(bb(asgd::AsgdConfig::default()))
        + rule::<_, F>(bb(rprop::RpropConfig::default()))
        + rule::<_, F>(bb(lion::LionConfig::default()))
        + rule::<_, F>(bb(lamb::LambConfig::default()))
        + rule::<_, F>(bb(lars::LarsConfig::default()))
        + rule::<_, F>(bb(yogi::YogiConfig::default()))
        + rule::<_, F>(bb(adabelief::AdabeliefConfig { nesterov: true, ..Default::default() }))
        + rule::<_, F>(bb(adopt::AdoptConfig { nesterov: true, ..Default::default() }))
        + rule::<_, F>(bb(ademamix::AdemamixConfig::default()))
        + rule::<_, F>(bb(adan::AdanConfig::default()))
        + rule::<_, F>(bb(novograd::NovogradConfig::default()))
        + rule::<_, F>(bb(sm3::Sm3Config::default()))
        + rule::<_, F>(bb(prodigy::ProdigyConfig { safeguard_warmup: true, ..Default::default() }))
        + rule::<_, F>(bb(prodigy::ProdigyConfig::default()))
        + rule::<_, F>(bb(dadapt_adamw::DadaptAdamwConfig::default()))
        + rule::<_, F>(bb(sophia::SophiaConfig::default()))
        + match sm3::Sm3Config::default().with_shape(&shape) {
            Ok(c) => rule::<_, F>(bb(c)),
            Err(_) => 1,
        }
        + rule::<_, F>(bb(schedule_free::ScheduleFreeSgdConfig {
            warmup_steps: Some(3),
            weight_decay: Some(0.01),
            ..Default::default()
        }))
        + rule::<_, F>(bb(schedule_free::ScheduleFreeAdamwConfig { warmup_steps: Some(3), ..Default::default() }))
        + rule::<_, F>(bb(muon::MuonConfig::default().with_shape(4, 6)))
        + adafactor
}

/// An optimizer with reduced-precision state, built (or refused) by `built`: its state decoded by
/// `decode`, then [`exercise`].
fn reduced<O: Optimizer<f32>>(built: Result<O, descent_core::Error>, decode: impl Fn(&O, &mut [f32])) -> u32 {
    let mut params = bb([1.0f32; N]);
    let grads = bb([0.25f32; N]);
    match built {
        Ok(mut opt) => {
            let mut out = [0.0f32; 3 * N];
            decode(&opt, bb(&mut out[..]));
            exercise(&mut opt, bb(&mut params[..]), bb(&grads[..]))
        }
        Err(_) => 1,
    }
}

/// One rule with bf16 or f16 state.
fn half<R: UpdateRule, H: HalfFloat>(config: R, rounding: Rounding) -> u32 {
    let mut state = [H::default(); 3 * N];
    reduced(HalfView::<R, H>::with_buffer(config, bb(N), &mut state[..], rounding), |o, out| {
        o.state_f32(out);
        bb(o.config());
    })
}

/// One rule with 8-bit state.
fn quant<R: QuantRule>(config: R, rounding: Rounding) -> u32 {
    let (mut codes, mut scales) = ([0u8; 3 * N], [0.0f32; 3 * N]);
    let built = QuantView::<R>::with_buffers(config, bb(N), &mut codes[..], &mut scales[..], rounding);
    reduced(built, |o, out| {
        o.state_f32(out);
        bb(o.config());
    })
}

/// Half and 8-bit state for every rule that has them (Adafactor's refusal included).
fn reduced_state() -> u32 {
    let near = bb(Rounding::Nearest);
    let stoch = bb(Rounding::Stochastic(7));
    let refused = half::<_, bf16>(bb(adafactor::AdafactorConfig::default()), near);
    half::<_, bf16>(bb(adam::AdamConfig::default()), near)
        + half::<_, bf16>(bb(adam::AdamConfig { amsgrad: true, ..Default::default() }), stoch)
        + half::<_, f16>(bb(adam::AdamConfig::adamw()), stoch)
        + half::<_, bf16>(bb(sgd::SgdConfig { momentum: 0.9, ..Default::default() }), near)
        + half::<_, f16>(bb(adagrad::AdagradConfig::default()), near)
        + half::<_, bf16>(bb(rmsprop::RmspropConfig::default()), stoch)
        + half::<_, bf16>(bb(adamax::AdamaxConfig::default()), near)
        + half::<_, bf16>(bb(nadam::NadamConfig::default()), near)
        + half::<_, bf16>(bb(radam::RadamConfig::default()), near)
        + half::<_, bf16>(bb(adadelta::AdadeltaConfig::default()), near)
        + half::<_, bf16>(bb(asgd::AsgdConfig::default()), near)
        + half::<_, bf16>(bb(rprop::RpropConfig::default()), near)
        + half::<_, bf16>(bb(lion::LionConfig::default()), near)
        + half::<_, bf16>(bb(yogi::YogiConfig::default()), near)
        + half::<_, f16>(bb(adabelief::AdabeliefConfig::default()), stoch)
        + half::<_, bf16>(bb(adopt::AdoptConfig::default()), near)
        + half::<_, bf16>(bb(ademamix::AdemamixConfig::default()), stoch)
        + half::<_, bf16>(bb(sophia::SophiaConfig::default()), stoch)
        + half::<_, f16>(bb(sophia::SophiaConfig::default()), near)
        + quant(bb(adam::AdamConfig::default()), near)
        + quant(bb(adam::AdamConfig { amsgrad: true, ..Default::default() }), stoch)
        + quant(bb(sgd::SgdConfig { momentum: 0.9, ..Default::default() }), stoch)
        + quant(bb(adamax::AdamaxConfig::default()), near)
        + quant(bb(nadam::NadamConfig::default()), near)
        + quant(bb(radam::RadamConfig::default()), near)
        + quant(bb(yogi::YogiConfig::default()), near)
        + quant(bb(adabelief::AdabeliefConfig::default()), stoch)
        + quant(bb(adopt::AdoptConfig::default()), near)
        + quant(bb(ademamix::AdemamixConfig::default()), stoch)
        + half::<_, bf16>(bb(schedule_free::ScheduleFreeSgdConfig::default()), near)
        + half::<_, f16>(bb(schedule_free::ScheduleFreeAdamwConfig::default()), stoch)
        + quant(bb(schedule_free::ScheduleFreeSgdConfig::default()), near)
        + quant(bb(schedule_free::ScheduleFreeAdamwConfig::default()), stoch)
        + quant(bb(sophia::SophiaConfig::default()), near)
        + quant(bb(sophia::SophiaConfig::default()), stoch)
        + fail(refused == 0)
}

/// A driver over `s`: start, steps, save and restore, against an SGD with momentum (which takes
/// the cycled momentum too).
fn driven(s: Result<AnySchedule, descent_core::Error>, opt: &mut dyn Optimizer<f32>) -> u32 {
    let Ok(s) = s else { return 1 };
    bb((s.lr_at(bb(3)), s.momentum_at(bb(3))));
    let mut d = Driver::at(s, bb(2));
    let fails = fail(d.start(opt).is_err() || d.step(opt).is_err() || d.apply(opt).is_err());
    bb((d.t(), d.schedule()));
    fails + round_trip!(d)
}

/// Every schedule, the driver, plateau and sequential schedules.
fn schedules() -> u32 {
    let mut state = [0.0f32; N];
    let Ok(mut opt) = sgd::SgdView::<f32>::with_buffer(
        bb(sgd::SgdConfig { momentum: 0.9, ..Default::default() }),
        bb(N),
        &mut state[..],
    ) else {
        return 1;
    };
    let opt: &mut dyn Optimizer<f32> = &mut opt;
    let lr = bb(0.1);
    let steps = bb(10u64);
    let milestones = bb([2u64, 5, 7]);
    let one_cycle = OneCycleLr::new(
        lr,
        steps,
        bb(0.3),
        bb(AnnealStrategy::Cos),
        bb(Some((0.85, 0.95))),
        bb(25.0),
        bb(1e4),
        bb(true),
    );
    let cyclic =
        CyclicLr::new(lr, bb(1.0), bb(3), bb(Some(2)), bb(CyclicMode::ExpRange(0.99)), bb(Some((0.8, 0.9))));
    let restarts = CosineAnnealingWarmRestarts::new(lr, bb(3), bb(2), bb(0.0));
    if let Ok(r) = &restarts {
        bb(r.position(bb(100)));
    }
    let closed = [
        StepLr::new(lr, bb(3), bb(0.5)).map(AnySchedule::Step),
        MultiStepLr::new(lr, &milestones, bb(0.5)).map(AnySchedule::MultiStep),
        ExponentialLr::new(lr, bb(0.9)).map(AnySchedule::Exponential),
        CosineAnnealingLr::new(lr, steps, bb(0.0)).map(AnySchedule::Cosine),
        restarts.map(AnySchedule::WarmRestarts),
        one_cycle.map(AnySchedule::OneCycle),
        cyclic.map(AnySchedule::Cyclic),
        LinearLr::new(lr, bb(0.25), bb(1.0), bb(4)).map(AnySchedule::Linear),
        ConstantLr::new(lr, bb(0.5), bb(4)).map(AnySchedule::Constant),
        PolynomialLr::new(lr, steps, bb(2.0)).map(AnySchedule::Polynomial),
        WarmupCosine::new(lr, bb(2), steps, bb(0.1), bb(0.0)).map(AnySchedule::WarmupCosine),
        Swalr::new(lr, bb(0.01), steps, bb(Anneal::Cos)).map(AnySchedule::Swa),
        PiecewiseInterpolate::new(bb(Interpolate::Cosine), lr, bb(&[0, 3, 9][..]), bb(&[2.0, 0.5, 0.1][..]))
            .map(AnySchedule::Piecewise),
    ];
    let mut fails = 0;
    for s in closed.iter().cloned() {
        fails += driven(s, opt);
    }
    let plateau = ReduceLrOnPlateau::new(
        lr,
        bb(PlateauMode::Min),
        bb(0.5),
        bb(1),
        bb(1e-4),
        bb(ThresholdMode::Rel),
        bb(1),
        bb(0.0),
        bb(1e-8),
    );
    match plateau {
        Ok(mut p) => {
            for m in bb([1.0, 0.9, 0.95, 0.97, f64::NAN]) {
                bb(p.step(m));
            }
            bb((p.lr(), p.best(), p.num_bad_epochs(), p.last_epoch()));
            fails += round_trip!(p);
            let segments = [
                closed[0].clone().map(Segment::from),
                Ok(Segment::from(p)),
                closed[5].clone().map(Segment::from),
            ];
            if let [Ok(a), Ok(b), Ok(c)] = segments {
                fails += sequential(Sequential::<4>::with_segments(&[a, b, c], bb(&milestones[..2])), opt);
            } else {
                fails += 1;
            }
        }
        Err(_) => fails += 1,
    }
    match (&closed[2], &closed[3]) {
        (Ok(a), Ok(b)) => {
            fails += sequential(Sequential::<4>::new(&[a.clone(), b.clone()], bb(&milestones[..1])), opt)
        }
        _ => fails += 1,
    }
    fails
}

/// A sequential schedule's steps, save and restore.
fn sequential(s: Result<Sequential<4>, descent_core::Error>, opt: &mut dyn Optimizer<f32>) -> u32 {
    let Ok(mut s) = s else { return 1 };
    let mut fails = fail(s.apply(opt).is_err());
    for _ in 0..bb(6) {
        fails += fail(s.step(opt, bb(Some(0.5))).is_err());
    }
    let _ = bb(s.advance(bb(None)));
    bb((s.lr(), s.momentum(), s.t(), s.segments(), s.is_closed_form()));
    fails + round_trip!(s)
}

/// Every clip, in `F`.
fn clips<F: Real>() -> u32 {
    let mut a = bb([F::from_f64(3.0); N]);
    let mut b = bb([F::from_f64(-4.0); 7]);
    let w = bb([F::from_f64(0.5); N]);
    let mut fails = 0;
    for p in bb([1.0, 2.0, f64::INFINITY, 3.0]) {
        let Ok(norm) = NormType::from_f64(p) else { continue };
        let mut g: [&mut [F]; 2] = [bb(&mut a[..]), bb(&mut b[..])];
        bb(clip::total_norm(&g, norm));
        bb(clip::total_norm_reference(&g, norm));
        bb(clip::total_norm_lanes::<F, _, 4>(&g, norm));
        bb(clip::norm_error_bound::<F>(bb(N), 2, 8, norm));
        fails += fail(clip::clip_grad_norm(&mut g, bb(1.0), norm, bb(true)).is_err());
    }
    let mut g: [&mut [F]; 2] = [bb(&mut a[..]), bb(&mut b[..])];
    fails += fail(clip::clip_grad_value(&mut g, bb(0.1)).is_err());
    clip::scale(&mut g, bb(F::from_f64(0.5)));
    match PercentileClipper::<8>::new(bb(90.0), bb(2)) {
        Ok(mut c) => {
            for _ in 0..bb(12) {
                fails += fail(c.clip(&mut g).is_err());
            }
            bb(c.threshold());
        }
        Err(_) => fails += 1,
    }
    let (rows, cols) = (bb(4), bb(6));
    fails += fail(clip::clip_agc(bb(&w[..]), bb(&mut a[..]), rows, cols, bb(0.01), bb(1e-3)).is_err());
    fails + fail(clip::clip_agc_vector(bb(&w[..7]), bb(&mut b[..]), bb(0.01), bb(1e-3)).is_err())
}

fn clipping() -> u32 {
    clips::<f32>() + clips::<f64>()
}

/// L-BFGS, the grad scaler, accumulation, the LR range test and model blobs.
fn the_rest() -> u32 {
    let n = bb(8);
    let mut fails = 0;
    // L-BFGS with and without the strong Wolfe line search on Σ (x − 1)².
    for search in [LineSearch::None, LineSearch::StrongWolfe] {
        let mut buf = [0.0f64; 2 * 4 * 8 + 7 * 8];
        let config = bb(LbfgsConfig { line_search: bb(search), ..LbfgsConfig::default() });
        match Lbfgs::<f64, &mut [f64], 4>::new(config, n, bb(&mut buf[..])) {
            Ok(mut l) => {
                let mut x = bb([0.0f64; 8]);
                let mut f = |x: &[f64], g: &mut [f64]| {
                    let mut loss = 0.0;
                    for (gi, xi) in g.iter_mut().zip(x) {
                        *gi = 2.0 * (xi - 1.0);
                        loss += (xi - 1.0) * (xi - 1.0);
                    }
                    loss
                };
                fails += fail(l.step(bb(&mut x[..]), &mut f).is_err());
                bb((l.iterations(), l.evaluations()));
            }
            Err(_) => fails += 1,
        }
    }
    // The grad scaler around an Adam step.
    let mut state = [0.0f32; 2 * N];
    let mut params = bb([1.0f32; N]);
    let mut grads = bb([0.25f32; N]);
    match (
        GradScaler::new(bb(GradScalerConfig::default())),
        adam::AdamView::<f32>::with_buffer(bb(adam::AdamConfig::default()), bb(N), &mut state[..]),
    ) {
        (Ok(mut s), Ok(mut opt)) => {
            bb((s.scale(), s.growth_tracker(), s.scale_loss(bb(2.0))));
            fails += fail(s.step(&mut opt, bb(&mut params[..]), bb(&mut grads[..])).is_err());
            bb(s.unscale(&mut [&mut grads[..]]));
            s.update(bb(true));
            fails += round_trip!(s);
        }
        _ => fails += 1,
    }
    // Lookahead around Adam (with and without restarting it), and SWA and EMA averages.
    for reset_state in [false, true] {
        let mut state = [0.0f32; 2 * N];
        let config =
            LookaheadConfig { sync_period: bb(2), slow_step_size: bb(0.5), reset_state: bb(reset_state) };
        let inner =
            adam::AdamView::<f32>::with_buffer(bb(adam::AdamConfig::default()), bb(N), &mut state[..]);
        match inner.and_then(|o| Lookahead::new(o, config, [0.0f32; N], bb(&params[..]))) {
            Ok(mut la) => {
                fails += exercise(&mut la, &mut params[..], &grads[..]);
                fails += exercise(&mut la, &mut params[..], &grads[..]);
                bb(la.slow());
            }
            Err(_) => fails += 1,
        }
    }
    // SAM around Adam: through the trait, and perturb/finish.
    for sync_period in [1, 2, 3] {
        let mut state = [0.0f32; 2 * N];
        let config = SamConfig { rho: bb(0.05), sync_period: bb(sync_period) };
        let outer =
            adam::AdamView::<f32>::with_buffer(bb(adam::AdamConfig::default()), bb(N), &mut state[..]);
        match outer.and_then(|o| Sam::new(o, config, [0.0f32; N])) {
            Ok(mut s) => {
                fails += exercise(&mut s, &mut params[..], &grads[..]);
                fails += exercise(&mut s, &mut params[..], &grads[..]);
                let _ = s.reset();
                match s.perturb(bb(&mut params[..]), bb(&grads[..])) {
                    Ok(token) => fails += fail(s.finish(token, &mut params[..], bb(&grads[..])).is_err()),
                    Err(_) => fails += 1,
                }
            }
            Err(_) => fails += 1,
        }
    }
    fails += sparse_adam_run::<f32>() + sparse_adam_run::<f64>();
    for average in [Average::Swa, Average::Ema { decay: 0.9 }] {
        match Averaged::new(bb(average), [0.0f32; N], bb(N)) {
            Ok(mut a) => {
                for _ in 0..bb(3) {
                    fails += fail(a.update(bb(&params[..])).is_err());
                }
                bb(a.params());
                fails += round_trip!(a);
            }
            Err(_) => fails += 1,
        }
    }
    // Accumulation in both modes.
    for mode in [AccumulateMode::SumThenScale, AccumulateMode::RunningMean] {
        let mut buf = [0.0f32; N];
        match AccumulateView::<f32>::with_buffer(bb(&mut buf[..]), bb(N), bb(3), bb(mode)) {
            Ok(mut acc) => {
                for _ in 0..bb(4) {
                    fails += fail(acc.push(bb(&grads[..])).is_err());
                }
                bb((acc.k(), acc.gradient()));
                acc.reset();
            }
            Err(_) => fails += 1,
        }
    }
    // The LR range test.
    match LrRangeTest::<16>::with_smoothing(bb(1e-6), bb(10.0), bb(16), bb(0.98), bb(4.0)) {
        Ok(mut t) => {
            for k in 0..bb(20) {
                let _ = bb(t.record(bb(1.0 / (1.0 + k as f64))));
            }
            bb((t.lr_at(bb(3)), t.lr(), t.status(), t.points(), t.suggestion()));
        }
        Err(_) => fails += 1,
    }
    fails + model_blob()
}

/// SparseAdam over a 6 × 4 table (N values): sparse steps (repeated and unsorted indices, an
/// index past the table, a short `values`), the trait's methods (its dense step refused) and
/// save/restore, with owned and borrowed state.
fn sparse_adam_run<F: Real>() -> u32 {
    let config = bb(SparseAdamConfig::default());
    let (rows, cols) = (bb(6), bb(4));
    let mut fails = 0;
    match SparseAdam::<F, N>::new(config, rows, cols) {
        Ok(mut o) => fails += sparse_adam_steps(&mut o),
        Err(_) => fails += 1,
    }
    let mut buf = [F::ZERO; 2 * N];
    match SparseAdamView::<F>::with_buffer(config, rows, cols, &mut buf[..]) {
        Ok(mut o) => fails += sparse_adam_steps(&mut o),
        Err(_) => fails += 1,
    }
    fails
}

fn sparse_adam_steps<F: Real, B: StateBuffer<F>>(opt: &mut SparseAdamOptim<F, B>) -> u32 {
    let mut params = bb([F::ONE; N]);
    let values = bb([F::ONE; 16]);
    let mut fails = 0;
    for indices in [bb(&[5usize, 0, 5, 2][..]), bb(&[0usize, 1, 1, 3][..])] {
        let grad = SparseGrad { indices, values: &values[..] };
        fails += fail(opt.step(bb(&mut params[..]), grad).is_err());
    }
    let past = SparseGrad { indices: bb(&[1usize, 6][..]), values: &values[..8] };
    fails += fail(opt.step(bb(&mut params[..]), past).is_ok());
    let short = SparseGrad { indices: bb(&[1usize][..]), values: &values[..3] };
    fails += fail(opt.step(bb(&mut params[..]), short).is_ok());
    bb((opt.exp_avg(), opt.exp_avg_sq(), opt.rows(), opt.cols(), opt.config()));
    let dyn_opt: &mut dyn Optimizer<F> = opt;
    fails += fail(dyn_opt.step(&mut params[..], &values[..]).is_ok());
    let _ = dyn_opt.set_lr(bb(0.01));
    let _ = dyn_opt.set_momentum(bb(0.5));
    bb((
        dyn_opt.name(),
        dyn_opt.lr(),
        dyn_opt.momentum(),
        dyn_opt.steps(),
        dyn_opt.len(),
        dyn_opt.state_len(),
    ));
    fails += round_trip!(dyn_opt);
    let _ = dyn_opt.reset();
    fails
}

/// A model blob: parsed, a layer read and run, a dense layer trained one step.
fn model_blob() -> u32 {
    let bytes = bb([0u8; 64]);
    if let Ok(blob) = ModelBlob::parse(&bytes) {
        bb((blob.layers(), blob.width(bb(1)), blob.activation()));
        if let Ok(layer) = blob.layer::<4, 3>(bb(0)) {
            let mut y = [0.0f32; 3];
            layer.forward(&bb([1.0; 4]), &mut y);
            let mut d = Dense::<f32, 4, 3>::zeros();
            layer.load_into(&mut d);
            bb(y);
        }
    }
    let d = bb(Dense::<f32, 4, 3>::zeros());
    let mut grad = DenseGrad::<f32, 4, 3>::zeros();
    let x = bb([1.0f32, -2.0, 0.5, 3.0]);
    let mut z = [0.0f32; 3];
    d.forward(&x, &mut z);
    nn::relu(&mut z);
    let mut dz = [0.0f32; 3];
    let loss = nn::softmax_cross_entropy(&z, bb(1), &mut dz);
    let fails = fail(loss.is_err());
    let mut dx = [0.0f32; 4];
    d.backward(&x, &dz, &mut grad, Some(&mut dx));
    nn::relu_backward(&z, &mut dx);
    grad.scale(bb(0.5));
    bb((nn::argmax(&z), grad.w_flat()));
    grad.clear();
    fails
}

/// A matrix [4, 6] and a vector [6] in two groups: 30 parameters.
const GROUPED: usize = 30;

/// A grouped optimizer of rule `R` over the two tensors, through the trait object, its group
/// methods, freezing and reconfiguring, the reference step, save and restore.
fn grouped<R: UpdateRule, F: Real>(configs: [R; 2]) -> u32 {
    let tensors = bb([Tensor::new(0, &[4, 6], 0), Tensor::new(24, &[6], 1)]);
    let Ok(layout) = Layout::new(tensors, bb(GROUPED), bb(2)) else { return 1 };
    let groups = [Group::new(configs[0].clone()), Group::new(configs[1].clone())];
    let mut slots = [Slot::default(), Slot::default()];
    let mut state = [F::ZERO; 4 * GROUPED + 100];
    let policy = bb(NonFinitePolicy::SkipStep);
    let built =
        Grouped::with_options(layout, groups, &mut slots[..], &mut state[..], policy, bb(Reserve::Momentum));
    let Ok(mut opt) = built else { return 1 };
    let mut params = bb([F::ONE; GROUPED]);
    let grads = bb([F::from_f64(0.25); GROUPED]);
    let mut fails = exercise(&mut opt, bb(&mut params[..]), bb(&grads[..]));
    let g = bb(1usize);
    let _ = opt.set_group_lr(g, bb(0.01));
    let _ = opt.set_group_momentum(g, bb(0.5));
    let _ = bb((opt.groups(), opt.group_lr(g), opt.group_momentum(g), opt.tensor_state(bb(1)), opt.slots()));
    let _ = opt.set_group_config(g, configs[1].clone());
    let _ = opt.set_frozen(g, bb(true));
    fails += fail(opt.step(bb(&mut params[..]), bb(&grads[..])).is_err());
    let _ = opt.set_frozen(g, bb(false));
    fails + fail(opt.step_with_lanes::<4>(bb(&mut params[..]), bb(&grads[..])).is_err())
}

/// Every per-tensor rule in groups (Muon and AdamW paired, LAMB, LARS, a factored Adafactor, Adam),
/// schedules over groups, and clipping per tensor and per group, in `F`.
fn groups<F: Real>() -> u32 {
    let muon = bb(muon::MuonConfig::default());
    let adamw = bb(adam::AdamConfig::adamw());
    let lamb = bb(lamb::LambConfig::default());
    let lars = bb(lars::LarsConfig::default());
    let factored = bb(adafactor::AdafactorConfig::default());
    let mut fails = grouped::<_, F>([Pair::A(muon), Pair::B(adamw)])
        + grouped::<_, F>([lamb, lamb])
        + grouped::<_, F>([lars, lars])
        + grouped::<_, F>([factored, factored])
        + grouped::<_, F>([adamw, adam::AdamConfig { weight_decay: 0.0, ..adamw }]);
    // Schedules over two groups.
    let tensors = bb([Tensor::new(0, &[4, 6], 0), Tensor::new(24, &[6], 1)]);
    let Ok(layout) = Layout::new(tensors, bb(GROUPED), bb(2)) else { return fails + 1 };
    let sgd = bb(sgd::SgdConfig { momentum: 0.9, ..Default::default() });
    let mut state = [F::ZERO; GROUPED];
    let mut slots = [Slot::default(), Slot::default()];
    let Ok(mut opt) =
        Grouped::new(layout.clone(), [Group::new(sgd), Group::new(sgd)], &mut slots[..], &mut state[..])
    else {
        return fails + 1;
    };
    let lr = bb(0.1);
    if let (Ok(a), Ok(b)) = (ExponentialLr::new(lr, bb(0.9)), StepLr::new(lr, bb(3), bb(0.5))) {
        let (a, b) = (AnySchedule::Exponential(a), AnySchedule::Step(b));
        match Chained::new(lr, &[a.clone(), b]) {
            Ok(c) => {
                let mut d = Driver::per_group([c.clone(), c]);
                fails += fail(d.start(&mut opt).is_err() || d.step(&mut opt).is_err());
                fails += round_trip!(d);
            }
            Err(_) => fails += 1,
        }
        let mut one = Driver::new(a);
        fails += fail(one.step(&mut opt).is_ok());
    }
    let lambda = LambdaLr::new(lr, |t| 1.0 / (1.0 + t as f64));
    let multiplicative = MultiplicativeLr::new(lr, |_| 0.95);
    if let (Ok(l), Ok(m)) = (lambda, multiplicative) {
        bb((l.lr_at(bb(3)), m.lr_at(bb(5)), m.lr_at(bb(2))));
    }
    let plateau = ReduceLrOnPlateau::new(
        lr,
        bb(PlateauMode::Min),
        bb(0.5),
        bb(0),
        bb(1e-4),
        bb(ThresholdMode::Rel),
        bb(0),
        bb(0.0),
        bb(1e-8),
    );
    if let Ok(mut p) = plateau {
        for m in bb([1.0, 2.0, 3.0]) {
            fails += fail(p.step_groups(m, &mut opt).is_err());
        }
    }
    // Clipping per tensor and per group.
    let mut g = bb([F::from_f64(3.0); GROUPED]);
    fails += fail(clip::clip_by_block_rms(&layout, &mut g, bb(0.5)).is_err());
    fails += fail(clip::clip_norm_per_tensor(&layout, &mut g, bb(0.5)).is_err());
    fails += fail(clip::clip_grad_norm_per_group(&layout, &mut g, bb(0.5), NormType::L2, bb(true)).is_err());
    let mut norms = [F::ZERO; 2];
    fails + fail(clip::group_norms(&layout, &g, NormType::L2, &mut norms).is_err())
}
