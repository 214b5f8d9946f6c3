#![allow(dead_code)] // each target uses a part
//! Shared decoding: an arbitrary configuration of any optimizer, and the check that a failed call
//! changed nothing.

use arbitrary::{Result, Unstructured};
use descent_core::adabelief::AdabeliefConfig;
use descent_core::adadelta::AdadeltaConfig;
use descent_core::adafactor::AdafactorConfig;
use descent_core::adagrad::AdagradConfig;
use descent_core::adam::AdamConfig;
use descent_core::adamax::AdamaxConfig;
use descent_core::adan::AdanConfig;
use descent_core::ademamix::AdemamixConfig;
use descent_core::adopt::AdoptConfig;
use descent_core::asgd::AsgdConfig;
use descent_core::dadapt_adamw::DadaptAdamwConfig;
use descent_core::lamb::LambConfig;
use descent_core::lars::LarsConfig;
use descent_core::lion::LionConfig;
use descent_core::muon::{AdjustLr, MuonConfig};
use descent_core::nadam::NadamConfig;
use descent_core::novograd::NovogradConfig;
use descent_core::prodigy::ProdigyConfig;
use descent_core::radam::RadamConfig;
use descent_core::rmsprop::RmspropConfig;
use descent_core::rprop::RpropConfig;
use descent_core::schedule_free::{ScheduleFreeAdamwConfig, ScheduleFreeSgdConfig};
use descent_core::sgd::SgdConfig;
use descent_core::sm3::Sm3Config;
use descent_core::sparse_adam::{SparseAdamConfig, SparseAdamOptim, SparseGrad};
use descent_core::sophia::SophiaConfig;
use descent_core::yogi::YogiConfig;
use descent_core::{NonFinitePolicy, Optim, Optimizer, Real, UpdateRule};

/// A float that is often ordinary and sometimes anything (NaN, ±∞, negative, huge).
pub fn hyper(u: &mut Unstructured<'_>, lo: f64, hi: f64) -> Result<f64> {
    Ok(match u.int_in_range(0u8..=9)? {
        0 => f64::from_bits(u.arbitrary()?),
        1 => -(u.arbitrary::<u16>()? as f64) / 100.0,
        _ => lo + (hi - lo) * (u.arbitrary::<u16>()? as f64 / 65535.0),
    })
}

pub fn policy(u: &mut Unstructured<'_>) -> Result<NonFinitePolicy> {
    Ok(match u.int_in_range(0u8..=2)? {
        0 => NonFinitePolicy::Propagate,
        1 => NonFinitePolicy::SkipStep,
        _ => NonFinitePolicy::Error,
    })
}

pub fn value<F: Real>(u: &mut Unstructured<'_>) -> Result<F> {
    Ok(match u.int_in_range(0u8..=7)? {
        0 => F::from_f64(f64::from_bits(u.arbitrary()?)),
        _ => F::from_f64((u.arbitrary::<i16>()? as f64) / 1000.0),
    })
}

/// Restores `bytes`; on refusal the saved state must be what it was, and accepted bytes must
/// describe a usable optimizer: it saves and steps without panicking.
pub fn check_restore<F: Real>(opt: &mut dyn Optimizer<F>, bytes: &[u8]) {
    let before = snapshot(opt);
    match opt.restore(bytes) {
        Err(_) => assert_eq!(snapshot(opt), before, "a refused restore changed {}", opt.name()),
        Ok(()) => {
            let n = opt.len();
            let mut p = vec![F::ONE; n];
            let _ = opt.step(&mut p, &vec![F::ONE; n]);
            assert!(!snapshot(opt).is_empty(), "{} cannot save after restore", opt.name());
        }
    }
}

/// Saved bytes of `opt` (empty if saving fails).
pub fn snapshot<F: Real>(opt: &dyn Optimizer<F>) -> Vec<u8> {
    let mut b = vec![0u8; opt.saved_len()];
    match opt.save(&mut b) {
        Ok(n) => b.truncate(n),
        Err(_) => b.clear(),
    }
    b
}

/// Up to `max_calls` arbitrary calls on `opt`: steps with arbitrary values (lengths usually
/// `opt.len()`, sometimes anything up to `max_len`), learning-rate and momentum changes, and
/// `save_restore`. Every call must return; on `Err`, parameters and state must be unchanged.
pub fn calls<'a, F: Real>(
    u: &mut Unstructured<'a>,
    opt: &mut dyn Optimizer<F>,
    max_calls: u8,
    max_len: usize,
    mut save_restore: impl FnMut(&mut Unstructured<'a>, &mut dyn Optimizer<F>) -> Result<()>,
) -> Result<()> {
    let n = opt.len();
    for _ in 0..u.int_in_range(0u8..=max_calls)? {
        match u.int_in_range(0u8..=7)? {
            0..=2 => {
                let pn = if u.ratio(1u8, 8)? { u.int_in_range(0usize..=max_len)? } else { n };
                let gn = if u.ratio(1u8, 8)? { u.int_in_range(0usize..=max_len)? } else { n };
                let mut p = Vec::with_capacity(pn);
                for _ in 0..pn {
                    p.push(value::<F>(u)?);
                }
                let mut g = Vec::with_capacity(gn);
                for _ in 0..gn {
                    g.push(value::<F>(u)?);
                }
                let (p0, s0) = (p.clone(), snapshot(opt));
                if opt.step(&mut p, &g).is_err() {
                    assert!(
                        p.iter().zip(&p0).all(|(a, b)| a.to_bits_u64() == b.to_bits_u64()),
                        "params changed on error"
                    );
                    assert_eq!(snapshot(opt), s0, "state changed on error");
                }
            }
            3 => {
                let s0 = snapshot(opt);
                if opt.set_lr(hyper(u, 0.0, 1.0)?).is_err() {
                    assert_eq!(snapshot(opt), s0);
                }
            }
            4 => {
                let s0 = snapshot(opt);
                if opt.set_momentum(hyper(u, 0.0, 1.0)?).is_err() {
                    assert_eq!(snapshot(opt), s0);
                }
            }
            5 => save_restore(u, opt)?,
            6 => {
                // The evaluation parameters (schedule-free's x): any lengths, never a panic,
                // nothing changed.
                let pn = if u.ratio(1u8, 8)? { u.int_in_range(0usize..=max_len)? } else { n };
                let on = if u.ratio(1u8, 8)? { u.int_in_range(0usize..=max_len)? } else { n };
                let mut p = Vec::with_capacity(pn);
                for _ in 0..pn {
                    p.push(value::<F>(u)?);
                }
                let mut out = vec![F::ZERO; on];
                let s0 = snapshot(opt);
                let r = opt.eval_params(&p, &mut out);
                assert_eq!(r.is_ok(), pn == n && on == n, "eval_params lengths");
                assert_eq!(snapshot(opt), s0, "eval_params changed the state");
            }
            _ => {
                // A Hessian estimate (Sophia's; refused by the others): any length and values.
                let hn = if u.ratio(1u8, 8)? { u.int_in_range(0usize..=max_len)? } else { n };
                let mut h = Vec::with_capacity(hn);
                for _ in 0..hn {
                    h.push(value::<F>(u)?);
                }
                let s0 = snapshot(opt);
                if opt.update_hessian(&h).is_err() {
                    assert_eq!(snapshot(opt), s0, "state changed on a refused Hessian estimate");
                }
            }
        }
    }
    Ok(())
}

/// Builds an optimizer of rule `R` over an arbitrary-length buffer and exercises it with
/// [`calls`], saving into arbitrary-length buffers and restoring its own bytes.
pub fn exercise<R: UpdateRule, F: Real>(u: &mut Unstructured<'_>, cfg: R) -> Result<()> {
    let n = u.int_in_range(0usize..=40)?;
    exercise_len::<R, F>(u, cfg, n)
}

/// [`exercise`] for `n` parameters.
pub fn exercise_len<R: UpdateRule, F: Real>(u: &mut Unstructured<'_>, cfg: R, n: usize) -> Result<()> {
    let cap = u.int_in_range(0usize..=130)?;
    let mut buf = vec![F::ZERO; cap];
    let mut opt = match Optim::with_buffer_and_policy(cfg, n, &mut buf[..], policy(u)?) {
        Ok(o) => o,
        Err(_) => return Ok(()),
    };
    calls(u, &mut opt, 6, 41, |u, opt| {
        let mut out = vec![0u8; u.int_in_range(0usize..=2000)?];
        if let Ok(len) = opt.save(&mut out) {
            let s0 = snapshot(opt);
            assert!(opt.restore(&out[..len]).is_ok(), "own bytes refused");
            assert_eq!(snapshot(opt), s0);
        }
        Ok(())
    })
}

/// Hyperparameters drawn once and shared by the configurations of [`any_optimizer`] and the
/// 8-bit state target: often ordinary, sometimes anything ([`hyper`]).
pub struct Hypers {
    pub lr: f64,
    pub wd: f64,
    pub betas: (f64, f64),
    pub eps: f64,
    pub maximize: bool,
}

impl Hypers {
    pub fn draw(u: &mut Unstructured<'_>) -> Result<Hypers> {
        Ok(Hypers {
            lr: hyper(u, 0.0, 1.0)?,
            wd: hyper(u, 0.0, 0.1)?,
            betas: (hyper(u, 0.0, 1.0)?, hyper(u, 0.0, 1.0)?),
            eps: hyper(u, 0.0, 1e-3)?,
            maximize: u.arbitrary()?,
        })
    }

    pub fn sgd(&self, u: &mut Unstructured<'_>) -> Result<SgdConfig> {
        Ok(SgdConfig {
            lr: self.lr,
            momentum: hyper(u, 0.0, 1.0)?,
            dampening: hyper(u, 0.0, 1.0)?,
            weight_decay: self.wd,
            nesterov: u.arbitrary()?,
            maximize: self.maximize,
        })
    }

    pub fn adam(&self, amsgrad: bool, decoupled_weight_decay: bool) -> AdamConfig {
        let Hypers { lr, wd, betas, eps, maximize } = *self;
        AdamConfig { lr, betas, eps, weight_decay: wd, amsgrad, maximize, decoupled_weight_decay }
    }

    pub fn adamax(&self) -> AdamaxConfig {
        let Hypers { lr, wd, betas, eps, maximize } = *self;
        AdamaxConfig { lr, betas, eps, weight_decay: wd, maximize }
    }

    pub fn nadam(&self, u: &mut Unstructured<'_>) -> Result<NadamConfig> {
        let Hypers { lr, wd, betas, eps, maximize } = *self;
        Ok(NadamConfig {
            lr,
            betas,
            eps,
            weight_decay: wd,
            momentum_decay: hyper(u, 0.0, 0.1)?,
            decoupled_weight_decay: u.arbitrary()?,
            maximize,
        })
    }

    pub fn muon(&self, u: &mut Unstructured<'_>) -> Result<MuonConfig> {
        let Hypers { lr, wd, betas, eps, .. } = *self;
        Ok(MuonConfig {
            lr,
            weight_decay: wd,
            momentum: betas.0,
            nesterov: u.arbitrary()?,
            ns_coefficients: (hyper(u, 0.0, 4.0)?, -hyper(u, 0.0, 5.0)?, hyper(u, 0.0, 3.0)?),
            eps,
            ns_steps: u.int_in_range(0u32..=8)?,
            adjust_lr_fn: *u.choose(&[
                AdjustLr::Original,
                AdjustLr::MatchRmsAdamw,
                AdjustLr::SpectralUnclamped,
            ])?,
            ..MuonConfig::default()
        })
    }

    pub fn lars(&self, u: &mut Unstructured<'_>) -> Result<LarsConfig> {
        let Hypers { lr, wd, betas, eps, .. } = *self;
        Ok(LarsConfig {
            lr,
            weight_decay: wd,
            weight_decay_mask: u.arbitrary()?,
            trust_coefficient: hyper(u, 0.0, 0.1)?,
            eps,
            trust_ratio_mask: u.arbitrary()?,
            momentum: betas.0,
            nesterov: u.arbitrary()?,
        })
    }

    pub fn radam(&self, u: &mut Unstructured<'_>) -> Result<RadamConfig> {
        let Hypers { lr, wd, betas, eps, maximize } = *self;
        Ok(RadamConfig { lr, betas, eps, weight_decay: wd, decoupled_weight_decay: u.arbitrary()?, maximize })
    }
}

/// Any configuration of any optimizer of `descent_core::OPTIMIZERS`, then [`exercise`] it in f32
/// or f64.
pub fn any_optimizer(u: &mut Unstructured<'_>) -> Result<()> {
    let name = u.choose(descent_core::OPTIMIZERS)?.name;
    let f64s = u.arbitrary::<bool>()?;
    macro_rules! go {
        ($cfg:expr) => {{
            let cfg = $cfg;
            if f64s { exercise::<_, f64>(u, cfg) } else { exercise::<_, f32>(u, cfg) }
        }};
    }
    let h = Hypers::draw(u)?;
    let Hypers { lr, wd, betas: b, eps, maximize } = h;
    match name {
        "sgd" => go!(h.sgd(u)?),
        "adam" | "adamw" => go!(h.adam(u.arbitrary()?, name == "adamw")),
        "adagrad" => go!(AdagradConfig {
            lr,
            lr_decay: hyper(u, 0.0, 0.1)?,
            weight_decay: wd,
            initial_accumulator_value: hyper(u, 0.0, 1.0)?,
            eps,
            maximize
        }),
        "rmsprop" => go!(RmspropConfig {
            lr,
            alpha: b.0,
            eps,
            weight_decay: wd,
            momentum: b.1,
            centered: u.arbitrary()?,
            maximize
        }),
        "adamax" => go!(h.adamax()),
        "nadam" => go!(h.nadam(u)?),
        "radam" => go!(h.radam(u)?),
        "adadelta" => go!(AdadeltaConfig { lr, rho: b.0, eps, weight_decay: wd, maximize }),
        "asgd" => go!(AsgdConfig {
            lr,
            lambd: hyper(u, 0.0, 0.1)?,
            alpha: hyper(u, 0.0, 2.0)?,
            t0: hyper(u, 0.0, 10.0)?,
            weight_decay: wd,
            maximize
        }),
        "rprop" => go!(RpropConfig {
            lr,
            etas: (b.0, 1.0 + b.1),
            step_sizes: (hyper(u, 0.0, 1e-3)?, hyper(u, 0.0, 50.0)?),
            maximize
        }),
        "adafactor" => {
            let dims = u.int_in_range(0usize..=3)?;
            let mut shape = Vec::new();
            for _ in 0..dims {
                shape.push(u.int_in_range(0usize..=7)?);
            }
            let base = AdafactorConfig {
                lr,
                beta2_decay: -hyper(u, 0.0, 1.0)?,
                eps: (if u.arbitrary()? { None } else { Some(eps) }, hyper(u, 0.0, 1e-2)?),
                d: 1.0 + b.0,
                weight_decay: wd,
                maximize,
                ..AdafactorConfig::default()
            };
            match base.with_shape(&shape) {
                Ok(cfg) => go!(cfg),
                Err(_) => Ok(()),
            }
        }
        "lion" => go!(LionConfig { lr, betas: b, weight_decay: wd, maximize }),
        "muon" => {
            let (rows, cols) = (u.int_in_range(0usize..=7)?, u.int_in_range(0usize..=7)?);
            let cfg = h.muon(u)?.with_shape(rows, cols);
            // Usually the matrix's own length, sometimes any.
            let n = if u.ratio(1u8, 4)? { u.int_in_range(0usize..=60)? } else { rows * cols };
            if f64s { exercise_len::<_, f64>(u, cfg, n) } else { exercise_len::<_, f32>(u, cfg, n) }
        }
        "lamb" => go!(LambConfig {
            lr,
            betas: b,
            eps,
            eps_root: hyper(u, 0.0, 1e-4)?,
            weight_decay: wd,
            mask: u.arbitrary()?
        }),
        "lars" => go!(h.lars(u)?),
        "yogi" => go!(YogiConfig { lr, betas: b, eps }),
        "adabelief" => {
            go!(AdabeliefConfig {
                lr,
                betas: b,
                eps,
                eps_root: hyper(u, 0.0, 1e-6)?,
                nesterov: u.arbitrary()?
            })
        }
        "adopt" => {
            go!(AdoptConfig { lr, betas: b, eps, nesterov: u.arbitrary()?, use_clipping: u.arbitrary()? })
        }
        "ademamix" => go!(AdemamixConfig {
            lr,
            betas: b,
            b3: hyper(u, 0.0, 1.0)?,
            alpha: hyper(u, 0.0, 10.0)?,
            eps,
            eps_root: hyper(u, 0.0, 1e-4)?,
            weight_decay: wd
        }),
        "adan" => go!(AdanConfig {
            lr,
            betas: b,
            b3: hyper(u, 0.0, 1.0)?,
            eps,
            eps_root: hyper(u, 0.0, 1e-4)?,
            weight_decay: wd
        }),
        "novograd" => {
            go!(NovogradConfig { lr, betas: b, eps, eps_root: hyper(u, 0.0, 1e-4)?, weight_decay: wd })
        }
        "sm3" => {
            let dims = u.int_in_range(0usize..=3)?;
            let mut shape = Vec::new();
            for _ in 0..dims {
                shape.push(u.int_in_range(0usize..=7)?);
            }
            match (Sm3Config { lr, momentum: b.0, ..Sm3Config::default() }).with_shape(&shape) {
                Ok(cfg) => go!(cfg),
                Err(_) => Ok(()),
            }
        }
        "prodigy" => go!(ProdigyConfig {
            lr,
            betas: b,
            beta3: if u.arbitrary()? { None } else { Some(hyper(u, 0.0, 1.0)?) },
            eps,
            estim_lr0: hyper(u, 1e-8, 1e-2)?,
            estim_lr_coef: hyper(u, 0.0, 2.0)?,
            weight_decay: wd,
            safeguard_warmup: u.arbitrary()?
        }),
        "dadapt_adamw" => {
            go!(DadaptAdamwConfig { lr, betas: b, eps, estim_lr0: hyper(u, 1e-8, 1e-2)?, weight_decay: wd })
        }
        "schedule_free_sgd" => go!(ScheduleFreeSgdConfig {
            lr,
            warmup_steps: if u.arbitrary()? { Some(u.int_in_range(0u32..=20)?) } else { None },
            b1: b.0,
            weight_decay: if u.arbitrary()? { Some(wd) } else { None },
            weight_lr_power: hyper(u, 0.0, 3.0)?
        }),
        "schedule_free_adamw" => go!(ScheduleFreeAdamwConfig {
            lr,
            warmup_steps: if u.arbitrary()? { Some(u.int_in_range(0u32..=20)?) } else { None },
            betas: b,
            eps,
            weight_decay: wd,
            weight_lr_power: hyper(u, 0.0, 3.0)?
        }),
        "sophia" => go!(SophiaConfig {
            lr,
            betas: b,
            rho: hyper(u, 0.0, 1.0)?,
            eps,
            weight_decay: wd,
            update_period: u.int_in_range(0u32..=20)?
        }),
        other => panic!("fuzz/fuzz_targets/common.rs has no configuration for optimizer {other}"),
    }
}

/// SparseAdam (not in `OPTIMIZERS`: its step takes a sparse gradient) over an arbitrary table and
/// buffer: steps (kernel or reference) with arbitrary indices (sometimes past the table, repeated,
/// unsorted), values and lengths, lr changes, dense steps (refused) and save/restore. Every call
/// returns; a refused one changes nothing.
pub fn sparse_adam(u: &mut Unstructured<'_>) -> Result<()> {
    if u.arbitrary::<bool>()? { sparse_adam_in::<f64>(u) } else { sparse_adam_in::<f32>(u) }
}

fn sparse_adam_in<F: Real>(u: &mut Unstructured<'_>) -> Result<()> {
    let h = Hypers::draw(u)?;
    let config = SparseAdamConfig { lr: h.lr, betas: h.betas, eps: h.eps, maximize: h.maximize };
    let (rows, cols) = (u.int_in_range(0usize..=9)?, u.int_in_range(0usize..=9)?);
    let mut buf = vec![F::ZERO; u.int_in_range(0usize..=200)?];
    let Ok(mut opt) = SparseAdamOptim::from_storage(config, &mut buf[..], rows, cols, policy(u)?) else {
        return Ok(());
    };
    for _ in 0..u.int_in_range(0u8..=8)? {
        match u.int_in_range(0u8..=4)? {
            0..=2 => {
                let k = u.int_in_range(0usize..=12)?;
                let mut indices = Vec::with_capacity(k);
                for _ in 0..k {
                    indices.push(if u.ratio(1u8, 10)? {
                        u.arbitrary::<usize>()?
                    } else {
                        u.int_in_range(0..=rows.saturating_sub(1))?
                    });
                }
                let vn = if u.ratio(1u8, 8)? { u.int_in_range(0usize..=100)? } else { k * cols };
                let mut values = Vec::with_capacity(vn);
                for _ in 0..vn {
                    values.push(value::<F>(u)?);
                }
                let pn = if u.ratio(1u8, 8)? { u.int_in_range(0usize..=100)? } else { rows * cols };
                let mut p = Vec::with_capacity(pn);
                for _ in 0..pn {
                    p.push(value::<F>(u)?);
                }
                let (p0, s0) = (p.clone(), snapshot(&opt));
                let grad = SparseGrad { indices: &indices, values: &values };
                let r =
                    if u.arbitrary()? { opt.step_reference(&mut p, grad) } else { opt.step(&mut p, grad) };
                if r.is_err() {
                    assert!(
                        p.iter().zip(&p0).all(|(a, b)| a.to_bits_u64() == b.to_bits_u64()),
                        "sparse_adam: params changed on error"
                    );
                    assert_eq!(snapshot(&opt), s0, "sparse_adam: state changed on error");
                }
            }
            3 => {
                let s0 = snapshot(&opt);
                let mut p = vec![F::ONE; rows * cols];
                assert!(Optimizer::step(&mut opt, &mut p, &vec![F::ONE; rows * cols]).is_err());
                assert_eq!(snapshot(&opt), s0, "sparse_adam: a dense step changed the state");
                if opt.set_lr(hyper(u, 0.0, 1.0)?).is_err() {
                    assert_eq!(snapshot(&opt), s0);
                }
                let s1 = snapshot(&opt);
                if opt.set_momentum(hyper(u, 0.0, 1.0)?).is_err() {
                    assert_eq!(snapshot(&opt), s1);
                }
            }
            _ => {
                let mut out = vec![0u8; u.int_in_range(0usize..=2000)?];
                if let Ok(len) = opt.save(&mut out) {
                    let s0 = snapshot(&opt);
                    assert!(opt.restore(&out[..len]).is_ok(), "sparse_adam: own bytes refused");
                    assert_eq!(snapshot(&opt), s0);
                }
                check_restore(&mut opt, &out);
            }
        }
    }
    Ok(())
}

/// Runs `f` on one optimizer of every entry of `descent_core::OPTIMIZERS` (or only of entry
/// `only % OPTIMIZERS.len()`), each with its optional state turned on (momentum, amsgrad,
/// centered, a factored Adafactor matrix) and a few steps taken on gradients from `seed`, so that
/// its saved bytes hold every field.
pub fn each_optimizer<F: Real>(only: Option<usize>, seed: &[u8], mut f: impl FnMut(&mut dyn Optimizer<F>)) {
    const N: usize = 6;
    let all = descent_core::OPTIMIZERS;
    for (i, info) in all.iter().enumerate() {
        if only.is_some_and(|k| k % all.len() != i) {
            continue;
        }
        macro_rules! go {
            ($cfg:expr) => {{
                let cfg = $cfg;
                let mut buf = vec![F::ZERO; cfg.buffer_len(N)];
                let mut opt = Optim::with_buffer(cfg, N, &mut buf[..]).expect("a valid configuration");
                let mut p = [F::ONE; N];
                for k in 0..3 {
                    let g: [F; N] = core::array::from_fn(|i| {
                        let b = seed.get(k * N + i).copied().unwrap_or(i as u8) as f64;
                        F::from_f64((b - 128.0) / 64.0)
                    });
                    let _ = opt.step(&mut p, &g);
                }
                f(&mut opt)
            }};
        }
        let wd = 0.01;
        match info.name {
            "sgd" => {
                go!(SgdConfig { momentum: 0.9, nesterov: true, weight_decay: wd, ..SgdConfig::default() })
            }
            "adam" => go!(AdamConfig { amsgrad: true, weight_decay: wd, ..AdamConfig::default() }),
            "adamw" => go!(AdamConfig { amsgrad: true, ..AdamConfig::adamw() }),
            "adagrad" => go!(AdagradConfig {
                lr_decay: 0.01,
                initial_accumulator_value: 0.1,
                ..AdagradConfig::default()
            }),
            "rmsprop" => go!(RmspropConfig { momentum: 0.9, centered: true, ..RmspropConfig::default() }),
            "adamax" => go!(AdamaxConfig { weight_decay: wd, ..AdamaxConfig::default() }),
            "nadam" => {
                go!(NadamConfig { decoupled_weight_decay: true, weight_decay: wd, ..NadamConfig::default() })
            }
            "radam" => {
                go!(RadamConfig { decoupled_weight_decay: true, weight_decay: wd, ..RadamConfig::default() })
            }
            "adadelta" => go!(AdadeltaConfig { weight_decay: wd, ..AdadeltaConfig::default() }),
            "asgd" => go!(AsgdConfig { t0: 1.0, ..AsgdConfig::default() }),
            "rprop" => go!(RpropConfig::default()),
            "adafactor" => go!(AdafactorConfig::for_shape(&[2, 3]).expect("a valid shape")),
            "lion" => go!(LionConfig::default()),
            "muon" => go!(MuonConfig::default().with_shape(2, 3)),
            "lamb" => go!(LambConfig { weight_decay: wd, ..LambConfig::default() }),
            "lars" => go!(LarsConfig { weight_decay: wd, nesterov: true, ..LarsConfig::default() }),
            "yogi" => go!(YogiConfig::default()),
            "adabelief" => go!(AdabeliefConfig { nesterov: true, ..AdabeliefConfig::default() }),
            "adopt" => go!(AdoptConfig { nesterov: true, ..AdoptConfig::default() }),
            "ademamix" => go!(AdemamixConfig { weight_decay: wd, ..AdemamixConfig::default() }),
            "adan" => go!(AdanConfig { weight_decay: wd, ..AdanConfig::default() }),
            "novograd" => go!(NovogradConfig { weight_decay: wd, ..NovogradConfig::default() }),
            "sm3" => go!(Sm3Config::default().with_shape(&[2, 3]).expect("a valid shape")),
            "prodigy" => go!(ProdigyConfig { beta3: Some(0.99), weight_decay: wd, ..ProdigyConfig::default() }),
            "dadapt_adamw" => go!(DadaptAdamwConfig { weight_decay: wd, ..DadaptAdamwConfig::default() }),
            "schedule_free_sgd" => go!(ScheduleFreeSgdConfig {
                warmup_steps: Some(2),
                weight_decay: Some(wd),
                ..ScheduleFreeSgdConfig::default()
            }),
            "schedule_free_adamw" => go!(ScheduleFreeAdamwConfig {
                warmup_steps: Some(2),
                weight_decay: wd,
                ..ScheduleFreeAdamwConfig::default()
            }),
            "sophia" => go!(SophiaConfig { weight_decay: wd, ..SophiaConfig::default() }),
            other => panic!("fuzz/fuzz_targets/common.rs has no configuration for optimizer {other}"),
        }
    }
}

/// Recomputes the CRC-32 trailer of saved bytes, so that a mutated body reaches the parser
/// instead of being refused by the checksum.
pub fn reseal(blob: &mut [u8]) {
    if blob.len() >= 4 {
        let body = blob.len() - 4;
        let crc = crc32fast::hash(&blob[..body]);
        blob[body..].copy_from_slice(&crc.to_le_bytes());
    }
}

/// Valid saved bytes changed as `data` says: `data` pairs (position, xor) flip bits, the first
/// byte also picks a truncation. Yields the truncated blob, the whole blob, and the whole blob
/// with its checksum recomputed.
pub fn mutations(valid: &[u8], data: &[u8], mut restore: impl FnMut(&[u8])) {
    let mut blob = valid.to_vec();
    if blob.is_empty() {
        return;
    }
    for pair in data.chunks(2) {
        if let [at, bits] = *pair {
            let i = at as usize % blob.len();
            blob[i] ^= bits;
        }
    }
    let cut =
        data.first().map_or(blob.len(), |&c| blob.len() - (c as usize % (blob.len() + 1)).min(blob.len()));
    restore(&blob[..cut]);
    restore(&blob);
    reseal(&mut blob);
    restore(&blob);
}
