//! Shared test support: one enum of every optimizer's configuration, proptest strategies for
//! valid random hyperparameters, and deterministic data generators. Every property test iterates
//! over [`ALL`], which must name the same set as `descent::OPTIMIZERS` (checked by
//! `state_len_matches_the_registry_table` in `tests/state_and_errors.rs`).
#![allow(dead_code)]

use descent::adabelief::AdabeliefConfig;
use descent::adadelta::AdadeltaConfig;
use descent::adafactor::AdafactorConfig;
use descent::adagrad::AdagradConfig;
use descent::adam::AdamConfig;
use descent::adamax::AdamaxConfig;
use descent::adan::AdanConfig;
use descent::ademamix::AdemamixConfig;
use descent::adopt::AdoptConfig;
use descent::asgd::AsgdConfig;
use descent::dadapt_adamw::DadaptAdamwConfig;
use descent::lamb::LambConfig;
use descent::lars::LarsConfig;
use descent::lion::LionConfig;
use descent::muon::{AdjustLr, MuonConfig};
use descent::nadam::NadamConfig;
use descent::novograd::NovogradConfig;
use descent::prodigy::ProdigyConfig;
use descent::radam::RadamConfig;
use descent::rmsprop::RmspropConfig;
use descent::rprop::RpropConfig;
use descent::schedule_free::{ScheduleFreeAdamwConfig, ScheduleFreeSgdConfig};
use descent::sgd::SgdConfig;
use descent::sm3::Sm3Config;
use descent::sophia::SophiaConfig;
use descent::yogi::YogiConfig;
use proptest::prelude::*;
use proptest::test_runner::{Config, RngSeed};

pub mod reduced_state;

/// The proptest configuration of the suite: a fixed seed (override with PROPTEST_RNG_SEED) so
/// runs are reproducible, and `cases` cases.
pub fn config(cases: u32) -> Config {
    Config { cases, rng_seed: RngSeed::Fixed(0x5eed_de5c), failure_persistence: None, ..Config::default() }
}

macro_rules! names {
    ($($name:ident: $ty:ty = $ctor:ident, $($rest:literal),*;)*) => {
        [$(stringify!($name)),*]
    };
}

/// Every optimizer's name, from descent's one list of rules (`for_each_rule!`): every test that
/// loops over `ALL` fails for a rule that `AnyConfig::default_for` or `any_config` lacks.
pub const ALL: [&str; descent::OPTIMIZERS.len()] = descent::for_each_rule!(names);

/// A configuration of any optimizer.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum AnyConfig {
    Sgd(SgdConfig),
    Adam(AdamConfig),
    Adagrad(AdagradConfig),
    Rmsprop(RmspropConfig),
    Adamax(AdamaxConfig),
    Nadam(NadamConfig),
    Radam(RadamConfig),
    Adadelta(AdadeltaConfig),
    Asgd(AsgdConfig),
    Rprop(RpropConfig),
    Adafactor(AdafactorConfig),
    Lion(LionConfig),
    Muon(MuonConfig),
    Lamb(LambConfig),
    Lars(LarsConfig),
    Yogi(YogiConfig),
    Adabelief(AdabeliefConfig),
    Adopt(AdoptConfig),
    Ademamix(AdemamixConfig),
    Adan(AdanConfig),
    Novograd(NovogradConfig),
    Sm3(Sm3Config),
    Prodigy(ProdigyConfig),
    DadaptAdamw(DadaptAdamwConfig),
    ScheduleFreeSgd(ScheduleFreeSgdConfig),
    ScheduleFreeAdamw(ScheduleFreeAdamwConfig),
    Sophia(SophiaConfig),
}

/// Runs `$body` with `$c` bound to the concrete configuration inside `$any`.
#[macro_export]
macro_rules! with_config {
    ($any:expr, |$c:ident| $body:expr) => {
        match $any {
            $crate::common::AnyConfig::Sgd($c) => $body,
            $crate::common::AnyConfig::Adam($c) => $body,
            $crate::common::AnyConfig::Adagrad($c) => $body,
            $crate::common::AnyConfig::Rmsprop($c) => $body,
            $crate::common::AnyConfig::Adamax($c) => $body,
            $crate::common::AnyConfig::Nadam($c) => $body,
            $crate::common::AnyConfig::Radam($c) => $body,
            $crate::common::AnyConfig::Adadelta($c) => $body,
            $crate::common::AnyConfig::Asgd($c) => $body,
            $crate::common::AnyConfig::Rprop($c) => $body,
            $crate::common::AnyConfig::Adafactor($c) => $body,
            $crate::common::AnyConfig::Lion($c) => $body,
            $crate::common::AnyConfig::Muon($c) => $body,
            $crate::common::AnyConfig::Lamb($c) => $body,
            $crate::common::AnyConfig::Lars($c) => $body,
            $crate::common::AnyConfig::Yogi($c) => $body,
            $crate::common::AnyConfig::Adabelief($c) => $body,
            $crate::common::AnyConfig::Adopt($c) => $body,
            $crate::common::AnyConfig::Ademamix($c) => $body,
            $crate::common::AnyConfig::Adan($c) => $body,
            $crate::common::AnyConfig::Novograd($c) => $body,
            $crate::common::AnyConfig::Sm3($c) => $body,
            $crate::common::AnyConfig::Prodigy($c) => $body,
            $crate::common::AnyConfig::DadaptAdamw($c) => $body,
            $crate::common::AnyConfig::ScheduleFreeSgd($c) => $body,
            $crate::common::AnyConfig::ScheduleFreeAdamw($c) => $body,
            $crate::common::AnyConfig::Sophia($c) => $body,
        }
    };
}

impl AnyConfig {
    /// The default configuration (PyTorch's defaults) of `name`, for `n` parameters.
    pub fn default_for(name: &str, n: usize) -> AnyConfig {
        match name {
            "sgd" => AnyConfig::Sgd(SgdConfig { momentum: 0.9, ..SgdConfig::default() }),
            "adam" => AnyConfig::Adam(AdamConfig::default()),
            "adamw" => AnyConfig::Adam(AdamConfig::adamw()),
            "adagrad" => AnyConfig::Adagrad(AdagradConfig::default()),
            "rmsprop" => AnyConfig::Rmsprop(RmspropConfig::default()),
            "adamax" => AnyConfig::Adamax(AdamaxConfig::default()),
            "nadam" => AnyConfig::Nadam(NadamConfig::default()),
            "radam" => AnyConfig::Radam(RadamConfig::default()),
            "adadelta" => AnyConfig::Adadelta(AdadeltaConfig::default()),
            "asgd" => AnyConfig::Asgd(AsgdConfig::default()),
            "rprop" => AnyConfig::Rprop(RpropConfig::default()),
            "adafactor" => AnyConfig::Adafactor(AdafactorConfig::for_shape(&[n]).unwrap()),
            "lion" => AnyConfig::Lion(LionConfig::default()),
            "muon" => shaped(AnyConfig::Muon(MuonConfig::default()), n, 1),
            "lamb" => AnyConfig::Lamb(LambConfig::default()),
            "lars" => AnyConfig::Lars(LarsConfig::default()),
            "yogi" => AnyConfig::Yogi(YogiConfig::default()),
            "adabelief" => AnyConfig::Adabelief(AdabeliefConfig::default()),
            "adopt" => AnyConfig::Adopt(AdoptConfig::default()),
            "ademamix" => AnyConfig::Ademamix(AdemamixConfig::default()),
            "adan" => AnyConfig::Adan(AdanConfig::default()),
            "novograd" => AnyConfig::Novograd(NovogradConfig::default()),
            "sm3" => AnyConfig::Sm3(Sm3Config::default()),
            "prodigy" => AnyConfig::Prodigy(ProdigyConfig::default()),
            "dadapt_adamw" => AnyConfig::DadaptAdamw(DadaptAdamwConfig::default()),
            "schedule_free_sgd" => AnyConfig::ScheduleFreeSgd(ScheduleFreeSgdConfig::default()),
            "schedule_free_adamw" => AnyConfig::ScheduleFreeAdamw(ScheduleFreeAdamwConfig::default()),
            "sophia" => AnyConfig::Sophia(SophiaConfig::default()),
            other => panic!("unknown optimizer {other}"),
        }
    }

    /// Sets the learning rate.
    pub fn with_lr(mut self, lr: f64) -> AnyConfig {
        with_config!(&mut self, |c| c.lr = lr);
        self
    }
}

fn wd() -> impl Strategy<Value = f64> {
    prop_oneof![Just(0.0), 1e-4..0.2f64]
}

fn beta() -> impl Strategy<Value = f64> {
    prop_oneof![Just(0.9), 0.0..0.999f64]
}

fn beta2() -> impl Strategy<Value = f64> {
    prop_oneof![Just(0.999), 0.5..0.99999f64]
}

fn eps() -> impl Strategy<Value = f64> {
    prop_oneof![Just(1e-8), 1e-12..1e-2f64, Just(0.0)]
}

/// A random valid configuration of `name` (Adafactor gets a vector shape; see [`adafactor_shape`]).
pub fn any_config(name: &'static str) -> BoxedStrategy<AnyConfig> {
    let lr = 1e-4..0.5f64;
    match name {
        "sgd" => (
            lr,
            prop_oneof![Just(0.0), 0.0..0.99f64],
            prop_oneof![Just(0.0), 0.0..0.9f64],
            wd(),
            any::<bool>(),
            any::<bool>(),
        )
            .prop_map(|(lr, momentum, dampening, weight_decay, nesterov, maximize)| {
                let nesterov = nesterov && momentum > 0.0;
                AnyConfig::Sgd(SgdConfig {
                    lr,
                    momentum,
                    dampening: if nesterov { 0.0 } else { dampening },
                    weight_decay,
                    nesterov,
                    maximize,
                })
            })
            .boxed(),
        "adam" | "adamw" => (lr, beta(), beta2(), eps(), wd(), any::<bool>(), any::<bool>())
            .prop_map(move |(lr, b1, b2, eps, weight_decay, amsgrad, maximize)| {
                AnyConfig::Adam(AdamConfig {
                    lr,
                    betas: (b1, b2),
                    eps,
                    weight_decay,
                    amsgrad,
                    maximize,
                    decoupled_weight_decay: name == "adamw",
                })
            })
            .boxed(),
        "adagrad" => (
            lr,
            prop_oneof![Just(0.0), 0.0..0.1f64],
            wd(),
            prop_oneof![Just(0.0), 0.0..1.0f64],
            eps(),
            any::<bool>(),
        )
            .prop_map(|(lr, lr_decay, weight_decay, initial_accumulator_value, eps, maximize)| {
                AnyConfig::Adagrad(AdagradConfig {
                    lr,
                    lr_decay,
                    weight_decay,
                    initial_accumulator_value,
                    eps,
                    maximize,
                })
            })
            .boxed(),
        "rmsprop" => (
            lr,
            prop_oneof![Just(0.99), 0.0..1.0f64],
            eps(),
            wd(),
            prop_oneof![Just(0.0), 0.0..0.99f64],
            any::<bool>(),
            any::<bool>(),
        )
            .prop_map(|(lr, alpha, eps, weight_decay, momentum, centered, maximize)| {
                AnyConfig::Rmsprop(RmspropConfig {
                    lr,
                    alpha,
                    eps,
                    weight_decay,
                    momentum,
                    centered,
                    maximize,
                })
            })
            .boxed(),
        "adamax" => (lr, beta(), beta2(), eps(), wd(), any::<bool>())
            .prop_map(|(lr, b1, b2, eps, weight_decay, maximize)| {
                AnyConfig::Adamax(AdamaxConfig { lr, betas: (b1, b2), eps, weight_decay, maximize })
            })
            .boxed(),
        "nadam" => (
            lr,
            beta(),
            beta2(),
            eps(),
            wd(),
            prop_oneof![Just(4e-3), 0.0..0.1f64],
            any::<bool>(),
            any::<bool>(),
        )
            .prop_map(|(lr, b1, b2, eps, weight_decay, momentum_decay, decoupled_weight_decay, maximize)| {
                AnyConfig::Nadam(NadamConfig {
                    lr,
                    betas: (b1, b2),
                    eps,
                    weight_decay,
                    momentum_decay,
                    decoupled_weight_decay,
                    maximize,
                })
            })
            .boxed(),
        "radam" => (lr, beta(), beta2(), eps(), wd(), any::<bool>(), any::<bool>())
            .prop_map(|(lr, b1, b2, eps, weight_decay, decoupled_weight_decay, maximize)| {
                AnyConfig::Radam(RadamConfig {
                    lr,
                    betas: (b1, b2),
                    eps,
                    weight_decay,
                    decoupled_weight_decay,
                    maximize,
                })
            })
            .boxed(),
        "adadelta" => (
            prop_oneof![Just(1.0), 0.01..2.0f64],
            0.0..=1.0f64,
            prop_oneof![Just(1e-6), 1e-10..1e-2f64],
            wd(),
            any::<bool>(),
        )
            .prop_map(|(lr, rho, eps, weight_decay, maximize)| {
                AnyConfig::Adadelta(AdadeltaConfig { lr, rho, eps, weight_decay, maximize })
            })
            .boxed(),
        "asgd" => (
            lr,
            prop_oneof![Just(1e-4), 0.0..0.1f64],
            prop_oneof![Just(0.75), 0.0..1.5f64],
            prop_oneof![Just(1e6), 0.0..5.0f64],
            wd(),
            any::<bool>(),
        )
            .prop_map(|(lr, lambd, alpha, t0, weight_decay, maximize)| {
                AnyConfig::Asgd(AsgdConfig { lr, lambd, alpha, t0, weight_decay, maximize })
            })
            .boxed(),
        "rprop" => (
            lr,
            0.01..0.99f64,
            1.01..3.0f64,
            prop_oneof![Just(1e-6), 1e-8..1e-3f64],
            prop_oneof![Just(50.0), 0.01..10.0f64],
            any::<bool>(),
        )
            .prop_map(|(lr, lo, hi, smin, smax, maximize)| {
                AnyConfig::Rprop(RpropConfig {
                    lr,
                    etas: (lo, hi),
                    step_sizes: (smin, smin.max(smax)),
                    maximize,
                })
            })
            .boxed(),
        "adafactor" => (
            lr,
            prop_oneof![Just(-0.8), -1.5..0.0f64],
            prop_oneof![Just(None), (1e-30..1e-3f64).prop_map(Some)],
            prop_oneof![Just(1e-3), 0.0..0.1f64],
            1.0..3.0f64,
            wd(),
            any::<bool>(),
        )
            .prop_map(|(lr, beta2_decay, e1, e2, d, weight_decay, maximize)| {
                AnyConfig::Adafactor(AdafactorConfig {
                    lr,
                    beta2_decay,
                    eps: (e1, e2),
                    d,
                    weight_decay,
                    maximize,
                    ..AdafactorConfig::default()
                })
            })
            .boxed(),
        "lion" => (lr, beta(), beta2(), prop_oneof![Just(1e-3), wd()], any::<bool>())
            .prop_map(|(lr, b1, b2, weight_decay, maximize)| {
                AnyConfig::Lion(LionConfig { lr, betas: (b1, b2), weight_decay, maximize })
            })
            .boxed(),
        "muon" => (
            lr,
            prop_oneof![Just(0.1), wd()],
            prop_oneof![Just(0.95), 0.0..0.99f64],
            any::<bool>(),
            prop_oneof![Just(5u32), 0u32..8],
            0u8..3,
            prop_oneof![Just(1e-7), 1e-9..1e-3f64],
        )
            .prop_map(|(lr, weight_decay, momentum, nesterov, ns_steps, adjust, eps)| {
                let adjust_lr_fn = [AdjustLr::Original, AdjustLr::MatchRmsAdamw, AdjustLr::SpectralUnclamped]
                    [usize::from(adjust)];
                AnyConfig::Muon(MuonConfig {
                    lr,
                    weight_decay,
                    momentum,
                    nesterov,
                    ns_steps,
                    adjust_lr_fn,
                    eps,
                    ..MuonConfig::default()
                })
            })
            .boxed(),
        "lamb" => (
            lr,
            beta(),
            beta2(),
            prop_oneof![Just(1e-6), eps()],
            prop_oneof![Just(0.0), 1e-10..1e-4f64],
            wd(),
            any::<bool>(),
        )
            .prop_map(|(lr, b1, b2, eps, eps_root, weight_decay, mask)| {
                AnyConfig::Lamb(LambConfig { lr, betas: (b1, b2), eps, eps_root, weight_decay, mask })
            })
            .boxed(),
        "lars" => (
            lr,
            wd(),
            any::<bool>(),
            prop_oneof![Just(1e-3), 1e-4..0.1f64],
            prop_oneof![Just(0.0), 1e-9..1e-4f64],
            any::<bool>(),
            prop_oneof![Just(0.9), Just(0.0), 0.0..0.99f64],
            any::<bool>(),
        )
            .prop_map(
                |(
                    lr,
                    weight_decay,
                    weight_decay_mask,
                    trust_coefficient,
                    eps,
                    trust_ratio_mask,
                    momentum,
                    nesterov,
                )| {
                    AnyConfig::Lars(LarsConfig {
                        lr,
                        weight_decay,
                        weight_decay_mask,
                        trust_coefficient,
                        eps,
                        trust_ratio_mask,
                        momentum,
                        nesterov,
                    })
                },
            )
            .boxed(),
        "yogi" => (lr, beta(), beta2(), prop_oneof![Just(1e-3), eps()])
            .prop_map(|(lr, b1, b2, eps)| AnyConfig::Yogi(YogiConfig { lr, betas: (b1, b2), eps }))
            .boxed(),
        "adabelief" => {
            (lr, beta(), beta2(), eps(), prop_oneof![Just(1e-16), Just(0.0), 1e-16..1e-6f64], any::<bool>())
                .prop_map(|(lr, b1, b2, eps, eps_root, nesterov)| {
                    AnyConfig::Adabelief(AdabeliefConfig { lr, betas: (b1, b2), eps, eps_root, nesterov })
                })
                .boxed()
        }
        "adopt" => (
            lr,
            beta(),
            prop_oneof![Just(0.9999), 0.5..0.99999f64],
            prop_oneof![Just(1e-6), eps()],
            any::<bool>(),
            any::<bool>(),
        )
            .prop_map(|(lr, b1, b2, eps, nesterov, use_clipping)| {
                AnyConfig::Adopt(AdoptConfig { lr, betas: (b1, b2), eps, nesterov, use_clipping })
            })
            .boxed(),
        "ademamix" => (
            lr,
            beta(),
            beta2(),
            prop_oneof![Just(0.9999), 0.5..0.99999f64],
            prop_oneof![Just(5.0), 0.0..10.0f64],
            eps(),
            prop_oneof![Just(0.0), 1e-10..1e-4f64],
            wd(),
        )
            .prop_map(|(lr, b1, b2, b3, alpha, eps, eps_root, weight_decay)| {
                AnyConfig::Ademamix(AdemamixConfig {
                    lr,
                    betas: (b1, b2),
                    b3,
                    alpha,
                    eps,
                    eps_root,
                    weight_decay,
                })
            })
            .boxed(),
        "adan" => (
            lr,
            prop_oneof![Just(0.98), 0.0..0.999f64],
            prop_oneof![Just(0.92), 0.0..0.999f64],
            prop_oneof![Just(0.99), 0.5..0.9999f64],
            eps(),
            prop_oneof![Just(1e-8), Just(0.0), 1e-10..1e-4f64],
            wd(),
        )
            .prop_map(|(lr, b1, b2, b3, eps, eps_root, weight_decay)| {
                AnyConfig::Adan(AdanConfig { lr, betas: (b1, b2), b3, eps, eps_root, weight_decay })
            })
            .boxed(),
        "novograd" => (
            lr,
            beta(),
            prop_oneof![Just(0.25), 0.0..0.999f64],
            prop_oneof![Just(1e-6), eps()],
            prop_oneof![Just(0.0), 1e-10..1e-4f64],
            wd(),
        )
            .prop_map(|(lr, b1, b2, eps, eps_root, weight_decay)| {
                AnyConfig::Novograd(NovogradConfig { lr, betas: (b1, b2), eps, eps_root, weight_decay })
            })
            .boxed(),
        "sm3" => (lr, prop_oneof![Just(0.9), Just(0.0), 0.0..0.99f64])
            .prop_map(|(lr, momentum)| AnyConfig::Sm3(Sm3Config { lr, momentum, ..Sm3Config::default() }))
            .boxed(),
        "prodigy" => (
            (prop_oneof![Just(1.0), 0.1..2.0f64], beta(), beta2()),
            prop_oneof![Just(None), (0.0..0.999f64).prop_map(Some)],
            eps(),
            prop_oneof![Just(1e-6), 1e-8..1e-2f64],
            prop_oneof![Just(1.0), 0.0..2.0f64],
            wd(),
            any::<bool>(),
        )
            .prop_map(
                |((lr, b1, b2), beta3, eps, estim_lr0, estim_lr_coef, weight_decay, safeguard_warmup)| {
                    AnyConfig::Prodigy(ProdigyConfig {
                        lr,
                        betas: (b1, b2),
                        beta3,
                        eps,
                        estim_lr0,
                        estim_lr_coef,
                        weight_decay,
                        safeguard_warmup,
                    })
                },
            )
            .boxed(),
        "dadapt_adamw" => (
            prop_oneof![Just(1.0), 0.1..2.0f64],
            beta(),
            beta2(),
            eps(),
            prop_oneof![Just(1e-6), 1e-8..1e-2f64],
            wd(),
        )
            .prop_map(|(lr, b1, b2, eps, estim_lr0, weight_decay)| {
                AnyConfig::DadaptAdamw(DadaptAdamwConfig {
                    lr,
                    betas: (b1, b2),
                    eps,
                    estim_lr0,
                    weight_decay,
                })
            })
            .boxed(),
        "schedule_free_sgd" => (
            lr,
            prop_oneof![Just(None), (1u32..10).prop_map(Some)],
            prop_oneof![Just(0.9), 0.01..=1.0f64],
            prop_oneof![Just(None), wd().prop_map(Some)],
            prop_oneof![Just(2.0), 0.0..3.0f64],
        )
            .prop_map(|(lr, warmup_steps, b1, weight_decay, weight_lr_power)| {
                AnyConfig::ScheduleFreeSgd(ScheduleFreeSgdConfig {
                    lr,
                    warmup_steps,
                    b1,
                    weight_decay,
                    weight_lr_power,
                })
            })
            .boxed(),
        "schedule_free_adamw" => (
            1e-4..0.05f64,
            prop_oneof![Just(None), (1u32..10).prop_map(Some)],
            prop_oneof![Just(0.9), 0.01..=1.0f64],
            beta2(),
            eps(),
            wd(),
            prop_oneof![Just(2.0), 0.0..3.0f64],
        )
            .prop_map(|(lr, warmup_steps, b1, b2, eps, weight_decay, weight_lr_power)| {
                AnyConfig::ScheduleFreeAdamw(ScheduleFreeAdamwConfig {
                    lr,
                    warmup_steps,
                    betas: (b1, b2),
                    eps,
                    weight_decay,
                    weight_lr_power,
                })
            })
            .boxed(),
        "sophia" => (
            lr,
            beta(),
            beta2(),
            prop_oneof![Just(0.04), 1e-3..1.0f64],
            prop_oneof![Just(1e-15), 1e-12..1e-2f64],
            prop_oneof![Just(0.1), wd()],
            1u32..20,
        )
            .prop_map(|(lr, b1, b2, rho, eps, weight_decay, update_period)| {
                AnyConfig::Sophia(SophiaConfig { lr, betas: (b1, b2), rho, eps, weight_decay, update_period })
            })
            .boxed(),
        other => panic!("unknown optimizer {other}"),
    }
}

/// A shape for Adafactor with `n` elements: a vector, a matrix, or a 3-D tensor, picked by `kind`.
pub fn adafactor_shape(n: usize, kind: u8) -> Vec<usize> {
    let divisor = |n: usize| (1..=n.max(1)).rev().find(|d| n.is_multiple_of(*d) && d * d <= n).unwrap_or(1);
    match (kind % 3, n) {
        (_, 0) => vec![0],
        (0, _) => vec![n],
        (1, _) => {
            let r = divisor(n);
            vec![r, n / r]
        }
        _ => {
            if n.is_multiple_of(2) {
                let m = n / 2;
                let r = divisor(m);
                vec![2, r, m / r]
            } else {
                vec![1, 1, n]
            }
        }
    }
}

/// A matrix shape with `n` elements (the most square one).
pub fn matrix_shape(n: usize) -> (usize, usize) {
    let r = (1..=n.max(1)).rev().find(|d| n.is_multiple_of(*d) && d * d <= n).unwrap_or(1);
    (r, n / r)
}

/// Gives Adafactor configurations the shape for `n` (and Muon a matrix shape); other
/// configurations are returned as they are.
pub fn shaped(cfg: AnyConfig, n: usize, kind: u8) -> AnyConfig {
    match cfg {
        AnyConfig::Adafactor(c) => AnyConfig::Adafactor(c.with_shape(&adafactor_shape(n, kind)).unwrap()),
        AnyConfig::Sm3(c) => AnyConfig::Sm3(c.with_shape(&adafactor_shape(n, kind)).unwrap()),
        AnyConfig::Muon(c) => {
            let (r, cols) = matrix_shape(n);
            // Rows and columns either way round: Muon transposes tall matrices.
            AnyConfig::Muon(if kind.is_multiple_of(2) {
                c.with_shape(r, cols)
            } else {
                c.with_shape(cols, r)
            })
        }
        other => other,
    }
}

/// Deterministic pseudo-random values (xorshift), scaled; `zeros` of them exactly 0.
pub fn values(seed: u64, n: usize, scale: f64) -> Vec<f64> {
    let mut x = seed.wrapping_mul(0x9E37_79B9_7F4A_7C15) | 1;
    (0..n)
        .map(|_| {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            let u = (x >> 11) as f64 / (1u64 << 53) as f64;
            if u < 0.05 { 0.0 } else { (u * 2.0 - 1.0) * scale }
        })
        .collect()
}

/// `bytes` with its CRC-32 (IEEE, computed bit by bit here) trailer recomputed, so that a
/// deliberately edited header or body reaches the parser instead of failing the checksum.
pub fn resealed(mut bytes: Vec<u8>) -> Vec<u8> {
    let body = bytes.len() - 4;
    let mut crc = !0u32;
    for &b in &bytes[..body] {
        crc ^= u32::from(b);
        for _ in 0..8 {
            crc = if crc & 1 == 1 { (crc >> 1) ^ 0xEDB8_8320 } else { crc >> 1 };
        }
    }
    let crc = !crc;
    bytes[body..].copy_from_slice(&crc.to_le_bytes());
    bytes
}
