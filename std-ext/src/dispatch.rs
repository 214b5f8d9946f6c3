//! Run-time CPU feature dispatch for the core's kernels.
//!
//! descent-core is compiled for the portable target (x86-64: SSE2). Its kernels are generic and
//! `#[inline(always)]`, so where they are inlined into a function compiled with
//! `#[target_feature(enable = "avx2,fma")]` they become AVX2 code (256-bit lanes, `vsqrtps ymm`).
//! [`step`] checks the CPU once and takes that path when it can; [`Dispatched`] puts it behind the
//! object-safe [`Optimizer`] trait, which is how [`crate::registry::build`] hands optimizers out.
//!
//! Both paths run elementwise rules at [`LANES_F32`] / [`LANES_F64`] lanes per chunk, the widths
//! that vectorize best (`benches/step_throughput.rs`), which are also descent-core's production
//! widths on x86-64 (`Real::LANES`). rules that ask for narrow lanes run at 8 ([`NARROW_LANES`]; ASGD, measured faster), and
//! rules with reductions (Adafactor, whose sums follow the lane blocking) take descent-core's own
//! step.
//!
//! Every path gives the same bits as descent-core's own step. Rust never contracts `a·b + c` into
//! an FMA on its own, and for an elementwise rule the lane width only decides how the loop is cut
//! into chunks, not the operations on an element: descent-core's `kernel_matches_reference` proves
//! every width gives the reference's bits, and the tests below check dispatched == portable bit for
//! bit for every optimizer of the registry.
//!
//! The AVX2 path relies on descent-core marking `Optim::step_with_lanes`, the rules and the lane
//! skeleton `#[inline(always)]`: inlined into [`step`]'s AVX2 function they are compiled for AVX2
//! (256-bit `vsqrtps`, `vdivps`); a call out of it would run the baseline code.
#![allow(unsafe_code)]

use descent_core::group::{Group, Grouped, Slot};
use descent_core::layout::Tensor;
use descent_core::{Error, Optim, Optimizer, Real, StateBuffer, StepOutcome, UpdateRule};

/// Lanes of `f32` per chunk for elementwise rules (two 256-bit or four 128-bit registers).
pub const LANES_F32: usize = 16;
/// Lanes of `f64` per chunk for elementwise rules.
pub const LANES_F64: usize = 16;

/// Lanes of `f32` per chunk on the AVX-512 path (two 512-bit registers).
pub const LANES_F32_AVX512: usize = 32;
/// Lanes of `f64` per chunk on the AVX-512 path (two 512-bit registers).
pub const LANES_F64_AVX512: usize = 16;

/// The kernels run-time dispatch can take, fastest first.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Path {
    /// Compiled for AVX-512 (`avx512f`, `avx512vl`) with AVX2 and FMA, at
    /// [`LANES_F32_AVX512`] / [`LANES_F64_AVX512`] lanes.
    Avx512,
    /// Compiled for AVX2 and FMA, at [`LANES_F32`] / [`LANES_F64`] lanes.
    Avx2,
    /// descent-core's kernels as compiled for the baseline target, at the same lanes as AVX2.
    Portable,
}

impl Path {
    /// Every path, fastest first.
    pub const ALL: [Path; 3] = [Path::Avx512, Path::Avx2, Path::Portable];

    /// The path's name: `"avx512"`, `"avx2+fma"` or `"portable"`.
    pub fn name(self) -> &'static str {
        match self {
            Path::Avx512 => "avx512",
            Path::Avx2 => "avx2+fma",
            Path::Portable => "portable",
        }
    }

    /// Whether this CPU can run it (checked once; the standard library caches it).
    pub fn supported(self) -> bool {
        match self {
            Path::Avx512 => has_avx512(),
            Path::Avx2 => has_avx2(),
            Path::Portable => true,
        }
    }

    /// The fastest path this CPU supports.
    pub fn best() -> Path {
        if has_avx512() {
            Path::Avx512
        } else if has_avx2() {
            Path::Avx2
        } else {
            Path::Portable
        }
    }
}

/// Whether this CPU has AVX-512 F and VL besides AVX2 and FMA.
pub fn has_avx512() -> bool {
    #[cfg(target_arch = "x86_64")]
    {
        has_avx2()
            && std::arch::is_x86_feature_detected!("avx512f")
            && std::arch::is_x86_feature_detected!("avx512vl")
    }
    #[cfg(not(target_arch = "x86_64"))]
    {
        false
    }
}

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

/// The name of the path [`step`] takes on this machine ([`Path::best`]).
pub fn active_path() -> &'static str {
    Path::best().name()
}

/// Which kernels an optimizer runs: the fastest this CPU supports, or descent-core's portable
/// build (for comparisons and benchmarks).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
pub enum Kernels {
    /// Through [`step`]: AVX2+FMA when the CPU has them, the widest lanes.
    #[default]
    Best,
    /// descent-core's own `step` (its production lane width), compiled for the baseline target.
    Portable,
    /// Through one path of [`step_on`] (refused at build time when this CPU cannot run it): to
    /// compare paths side by side.
    On(Path),
}

/// The lane width of rules that ask for narrow lanes ([`UpdateRule::NARROW_LANES`]): ASGD runs
/// faster at 8 lanes than at [`LANES_F32`] (`step_throughput`: 0.36–0.49 ns per element against
/// 0.55–0.68 at 16 lanes).
pub const NARROW_LANES: usize = 8;

/// An optimizer of descent-core whose step can run at a chosen lane width: the flat [`Optim`] and
/// the grouped [`Grouped`].
pub trait LaneStep<F: Real>: Optimizer<F> {
    /// Whether its rule is elementwise (rules with reductions take descent-core's own step).
    const ELEMENTWISE: bool;
    /// Whether its rule runs at [`NARROW_LANES`] ([`UpdateRule::NARROW_LANES`]).
    const NARROW_LANES: bool;
    /// One step at `L` lanes (`#[inline(always)]` in descent-core, so that it is compiled for the
    /// caller's target features).
    fn step_at<const L: usize>(&mut self, params: &mut [F], grads: &[F]) -> Result<StepOutcome, Error>;
}

impl<R: UpdateRule, F: Real, B: StateBuffer<F>> LaneStep<F> for Optim<R, F, B> {
    const ELEMENTWISE: bool = R::ELEMENTWISE;
    const NARROW_LANES: bool = R::NARROW_LANES;
    #[inline(always)]
    fn step_at<const L: usize>(&mut self, params: &mut [F], grads: &[F]) -> Result<StepOutcome, Error> {
        self.step_with_lanes::<L>(params, grads)
    }
}

impl<R, F, T, G, S, B> LaneStep<F> for Grouped<R, F, T, G, S, B>
where
    R: UpdateRule,
    F: Real,
    T: AsRef<[Tensor]>,
    G: AsRef<[Group<R>]> + AsMut<[Group<R>]>,
    S: AsRef<[Slot<R::Scalars>]> + AsMut<[Slot<R::Scalars>]>,
    B: StateBuffer<F>,
{
    const ELEMENTWISE: bool = R::ELEMENTWISE;
    const NARROW_LANES: bool = R::NARROW_LANES;
    #[inline(always)]
    fn step_at<const L: usize>(&mut self, params: &mut [F], grads: &[F]) -> Result<StepOutcome, Error> {
        self.step_with_lanes::<L>(params, grads)
    }
}

/// The step every path runs: elementwise rules at `L32` / `L64` lanes (rules asking for narrow
/// lanes at [`NARROW_LANES`]); rules with reductions take descent-core's own step.
#[inline(always)]
fn step_lanes<F: Real, O: LaneStep<F>, const L32: usize, const L64: usize>(
    opt: &mut O,
    params: &mut [F],
    grads: &[F],
) -> Result<StepOutcome, Error> {
    if !O::ELEMENTWISE {
        return opt.step(params, grads);
    }
    if O::NARROW_LANES {
        return opt.step_at::<NARROW_LANES>(params, grads);
    }
    match F::BYTES {
        4 => opt.step_at::<L32>(params, grads),
        _ => opt.step_at::<L64>(params, grads),
    }
}

#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx2,fma")]
fn step_avx2<F: Real, O: LaneStep<F>>(
    opt: &mut O,
    params: &mut [F],
    grads: &[F],
) -> Result<StepOutcome, Error> {
    step_lanes::<F, O, LANES_F32, LANES_F64>(opt, params, grads)
}

#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx512f,avx512vl,avx2,fma")]
fn step_avx512<F: Real, O: LaneStep<F>>(
    opt: &mut O,
    params: &mut [F],
    grads: &[F],
) -> Result<StepOutcome, Error> {
    step_lanes::<F, O, LANES_F32_AVX512, LANES_F64_AVX512>(opt, params, grads)
}

/// One optimizer step on `path`, or `None` when this CPU cannot run it; the same bits as
/// `opt.step(params, grads)` on every path.
#[inline]
pub fn step_on<F: Real, O: LaneStep<F>>(
    path: Path,
    opt: &mut O,
    params: &mut [F],
    grads: &[F],
) -> Option<Result<StepOutcome, Error>> {
    if !path.supported() {
        return None;
    }
    Some(match path {
        // SAFETY: the CPU supports AVX-512 F/VL, AVX2 and FMA (`supported` checked it), which is
        // all `step_avx512`'s target features require.
        #[cfg(target_arch = "x86_64")]
        Path::Avx512 => unsafe { step_avx512(opt, params, grads) },
        // SAFETY: the CPU supports AVX2 and FMA (`supported` checked it).
        #[cfg(target_arch = "x86_64")]
        Path::Avx2 => unsafe { step_avx2(opt, params, grads) },
        _ => step_lanes::<F, O, LANES_F32, LANES_F64>(opt, params, grads),
    })
}

/// One optimizer step through the fastest kernel this CPU supports; the same bits as
/// `opt.step(params, grads)`.
#[inline]
pub fn step<F: Real, O: LaneStep<F>>(
    opt: &mut O,
    params: &mut [F],
    grads: &[F],
) -> Result<StepOutcome, Error> {
    #[cfg(target_arch = "x86_64")]
    if has_avx512() {
        // SAFETY: the CPU supports AVX-512 F/VL, AVX2 and FMA (checked just above).
        return unsafe { step_avx512(opt, params, grads) };
    }
    #[cfg(target_arch = "x86_64")]
    if has_avx2() {
        // SAFETY: the CPU supports AVX2 and FMA (checked just above), which is all
        // `step_avx2`'s target features require.
        return unsafe { step_avx2(opt, params, grads) };
    }
    step_lanes::<F, O, LANES_F32, LANES_F64>(opt, params, grads)
}

/// An optimizer whose [`Optimizer::step`] goes through [`step`] (run-time dispatch), or through
/// one [`Path`] when it holds one (which the CPU must support); everything else is the inner
/// optimizer's. Results are bit-identical to the inner optimizer's own step.
#[derive(Debug, Clone)]
pub struct Dispatched<O>(pub O, pub Option<Path>);

impl<F: Real, O: LaneStep<F>> Optimizer<F> for Dispatched<O> {
    fn name(&self) -> &'static str {
        self.0.name()
    }
    fn step(&mut self, params: &mut [F], grads: &[F]) -> Result<StepOutcome, Error> {
        match self.1 {
            Some(path) => {
                step_on(path, &mut self.0, params, grads).unwrap_or_else(|| step(&mut self.0, params, grads))
            }
            None => step(&mut self.0, params, grads),
        }
    }
    fn lr(&self) -> f64 {
        self.0.lr()
    }
    fn set_lr(&mut self, lr: f64) -> Result<(), Error> {
        self.0.set_lr(lr)
    }
    fn momentum(&self) -> Option<f64> {
        self.0.momentum()
    }
    fn set_momentum(&mut self, momentum: f64) -> Result<(), Error> {
        self.0.set_momentum(momentum)
    }
    fn steps(&self) -> u64 {
        self.0.steps()
    }
    fn len(&self) -> usize {
        self.0.len()
    }
    fn is_empty(&self) -> bool {
        self.0.is_empty()
    }
    fn state_len(&self) -> usize {
        self.0.state_len()
    }
    fn saved_len(&self) -> usize {
        self.0.saved_len()
    }
    fn save(&self, out: &mut [u8]) -> Result<usize, Error> {
        self.0.save(out)
    }
    fn restore(&mut self, bytes: &[u8]) -> Result<(), Error> {
        self.0.restore(bytes)
    }
    fn reset(&mut self) -> Result<(), Error> {
        self.0.reset()
    }
    fn has_eval_params(&self) -> bool {
        self.0.has_eval_params()
    }
    fn eval_params(&self, params: &[F], out: &mut [F]) -> Result<(), Error> {
        self.0.eval_params(params, out)
    }
    fn update_hessian(&mut self, estimate: &[F]) -> Result<(), Error> {
        self.0.update_hessian(estimate)
    }
    fn groups(&self) -> usize {
        self.0.groups()
    }
    fn group_lr(&self, g: usize) -> Result<f64, Error> {
        self.0.group_lr(g)
    }
    fn set_group_lr(&mut self, g: usize, lr: f64) -> Result<(), Error> {
        self.0.set_group_lr(g, lr)
    }
    fn group_momentum(&self, g: usize) -> Result<Option<f64>, Error> {
        self.0.group_momentum(g)
    }
    fn set_group_momentum(&mut self, g: usize, momentum: f64) -> Result<(), Error> {
        self.0.set_group_momentum(g, momentum)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::registry::{self, DynOptimizer};
    use descent_core::adam::{Adam, AdamConfig};
    use descent_core::{NonFinitePolicy, OPTIMIZERS};
    use serde_json::{Map, Value, json};

    /// Configurations that reach every branch of each rule (momentum, Nesterov, amsgrad, centered,
    /// decoupled decay, maximize, ...), for every optimizer of the registry.
    fn configurations() -> Vec<Value> {
        vec![
            json!({"name": "sgd"}),
            json!({"name": "sgd", "momentum": 0.9, "nesterov": true, "weight_decay": 1e-2}),
            json!({"name": "sgd", "momentum": 0.8, "dampening": 0.1, "maximize": true}),
            json!({"name": "adam"}),
            json!({"name": "adam", "amsgrad": true, "weight_decay": 1e-2, "maximize": true}),
            json!({"name": "adamw"}),
            json!({"name": "adamw", "amsgrad": true, "betas": [0.6, 0.9]}),
            json!({"name": "adagrad", "lr_decay": 1e-2, "weight_decay": 1e-2, "initial_accumulator_value": 0.1}),
            json!({"name": "rmsprop"}),
            json!({"name": "rmsprop", "centered": true, "momentum": 0.9, "weight_decay": 1e-2}),
            json!({"name": "adamax", "weight_decay": 1e-2, "maximize": true}),
            json!({"name": "nadam"}),
            json!({"name": "nadam", "decoupled_weight_decay": true, "weight_decay": 1e-2}),
            json!({"name": "radam"}),
            json!({"name": "radam", "decoupled_weight_decay": true, "weight_decay": 1e-2}),
            json!({"name": "adadelta", "weight_decay": 1e-2}),
            json!({"name": "asgd", "t0": 2.0, "weight_decay": 1e-2}),
            json!({"name": "rprop", "maximize": true}),
            json!({"name": "adafactor"}),
            json!({"name": "adafactor", "weight_decay": 1e-2, "maximize": true}),
            json!({"name": "lion", "weight_decay": 1e-2}),
            json!({"name": "muon"}),
            json!({"name": "muon", "nesterov": false, "adjust_lr_fn": "match_rms_adamw"}),
            json!({"name": "lamb", "weight_decay": 1e-2}),
            json!({"name": "lars", "nesterov": true, "weight_decay": 1e-3}),
            json!({"name": "yogi"}),
            json!({"name": "adabelief", "nesterov": true}),
            json!({"name": "adopt", "nesterov": true}),
            json!({"name": "adopt", "use_clipping": false, "eps": 1e-3}),
            json!({"name": "ademamix", "weight_decay": 1e-2, "b3": 0.99}),
            json!({"name": "adan", "weight_decay": 1e-2}),
            json!({"name": "novograd", "weight_decay": 1e-2}),
            json!({"name": "prodigy", "weight_decay": 1e-2, "safeguard_warmup": true, "beta3": 0.99}),
            json!({"name": "prodigy", "estim_lr0": 1e-3}),
            json!({"name": "dadapt_adamw", "weight_decay": 1e-2, "estim_lr0": 1e-3}),
            json!({"name": "sm3"}),
            json!({"name": "sm3", "momentum": 0.0}),
            json!({"name": "schedule_free_sgd", "warmup_steps": 2, "weight_decay": 1e-2}),
            json!({"name": "schedule_free_adamw", "weight_decay": 1e-2}),
            json!({"name": "sophia", "lr": 1e-2}),
        ]
    }

    fn saved(o: &DynOptimizer<impl Real>) -> Vec<u8> {
        let mut b = vec![0u8; o.saved_len()];
        let n = o.save(&mut b).unwrap();
        b.truncate(n);
        b
    }

    /// `steps` steps of the optimizer `kwargs` builds for `shape`, dispatched and portable: the
    /// parameters and the saved state (hyperparameters, step count, buffers) must be the same bytes.
    fn same_bits<F: Real>(kwargs: &Map<String, Value>, shape: &[usize], steps: usize, kernels: Kernels) {
        let n: usize = shape.iter().product();
        let build = |k| registry::build_with::<F>(kwargs, shape, n, NonFinitePolicy::Propagate, k).unwrap();
        let (mut fast, mut port) = (build(kernels), build(Kernels::Portable));
        let mut pf: Vec<F> = (0..n).map(|i| F::from_f64((i as f64 * 0.37).sin())).collect();
        let mut pp = pf.clone();
        for k in 0..steps {
            // Mixed signs, magnitudes and exact zeros (sign(0) and Rprop's sign changes).
            let g: Vec<F> = (0..n)
                .map(|i| if i % 7 == k % 7 { 0.0 } else { ((i * (k + 3)) as f64 * 0.11).cos() * 0.3 })
                .map(F::from_f64)
                .collect();
            fast.step(&mut pf, &g).unwrap();
            port.step(&mut pp, &g).unwrap();
        }
        let bits = |v: &[F]| v.iter().map(|x| x.to_bits_u64()).collect::<Vec<_>>();
        let what = format!("{} {} shape {shape:?} {kernels:?}", Value::Object(kwargs.clone()), F::NAME);
        assert_eq!(bits(&pf), bits(&pp), "parameters differ: {what}");
        assert_eq!(saved(&fast), saved(&port), "state differs: {what}");
    }

    #[test]
    fn a_path_this_cpu_lacks_is_refused() {
        let kwargs = match json!({"name": "adam"}) {
            Value::Object(m) => m,
            _ => unreachable!(),
        };
        for path in Path::ALL {
            let built =
                registry::build_with::<f32>(&kwargs, &[8], 8, NonFinitePolicy::Propagate, Kernels::On(path));
            assert_eq!(built.is_ok(), path.supported(), "{path:?}");
        }
    }

    #[test]
    fn every_registry_optimizer_dispatches_to_the_portable_bits() {
        let configs = configurations();
        for info in OPTIMIZERS {
            assert!(configs.iter().any(|c| c["name"] == info.name), "no configuration for {}", info.name);
        }
        for c in &configs {
            let Value::Object(kwargs) = c else { unreachable!() };
            // 1003 = 59 × 17: whole chunks of every width plus a tail; Adafactor factored too.
            // Muon takes matrices only.
            let muon = c["name"] == "muon";
            for shape in [&[1003][..], &[59, 17], &[5]] {
                if muon && shape.len() != 2 {
                    continue;
                }
                // Every path this CPU supports: AVX-512, AVX2, the portable build at wide lanes.
                for path in Path::ALL.into_iter().filter(|p| p.supported()) {
                    same_bits::<f32>(kwargs, shape, 8, Kernels::On(path));
                    same_bits::<f64>(kwargs, shape, 8, Kernels::On(path));
                }
            }
        }
    }

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
        assert!(Path::ALL.iter().any(|p| p.name() == active_path()));
    }
}
