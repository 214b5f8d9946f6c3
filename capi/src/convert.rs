//! The C configurations to and from descent-core's (PyTorch's names; the tuples of `betas`,
//! `etas` and `step_sizes` flattened into fields).

use descent_core::adadelta::AdadeltaConfig;
use descent_core::adafactor::AdafactorConfig;
use descent_core::adagrad::AdagradConfig;
use descent_core::adam::AdamConfig;
use descent_core::adamax::AdamaxConfig;
use descent_core::asgd::AsgdConfig;
use descent_core::lamb::LambConfig;
use descent_core::lars::LarsConfig;
use descent_core::lion::LionConfig;
use descent_core::nadam::NadamConfig;
use descent_core::radam::RadamConfig;
use descent_core::rmsprop::RmspropConfig;
use descent_core::rprop::RpropConfig;
use descent_core::sgd::SgdConfig;

use crate::*;

/// `From<Rust> for C` and `TryFrom<C> for Rust` for configurations whose fields map one to one
/// (`c.x ↔ r.y`), the Rust side completed from its `Default`.
macro_rules! mirror {
    ($c:ident, $r:ident { $($cf:ident <=> $($rf:tt).+),* $(,)? }) => {
        impl From<$r> for $c {
            fn from(r: $r) -> Self {
                $c { $($cf: r.$($rf).+),* }
            }
        }
        impl TryFrom<$c> for $r {
            type Error = Status;
            #[allow(clippy::field_reassign_with_default)]
            fn try_from(c: $c) -> Result<Self, Status> {
                let mut r = $r::default();
                $(r.$($rf).+ = c.$cf;)*
                Ok(r)
            }
        }
    };
}

mirror!(DescentSgdConfig, SgdConfig {
    lr <=> lr, momentum <=> momentum, dampening <=> dampening, weight_decay <=> weight_decay,
    nesterov <=> nesterov, maximize <=> maximize,
});
mirror!(DescentAdamConfig, AdamConfig {
    lr <=> lr, beta1 <=> betas.0, beta2 <=> betas.1, eps <=> eps, weight_decay <=> weight_decay,
    amsgrad <=> amsgrad, maximize <=> maximize, decoupled_weight_decay <=> decoupled_weight_decay,
});
mirror!(DescentAdagradConfig, AdagradConfig {
    lr <=> lr, lr_decay <=> lr_decay, weight_decay <=> weight_decay,
    initial_accumulator_value <=> initial_accumulator_value, eps <=> eps, maximize <=> maximize,
});
mirror!(DescentRmspropConfig, RmspropConfig {
    lr <=> lr, alpha <=> alpha, eps <=> eps, weight_decay <=> weight_decay, momentum <=> momentum,
    centered <=> centered, maximize <=> maximize,
});
mirror!(DescentAdamaxConfig, AdamaxConfig {
    lr <=> lr, beta1 <=> betas.0, beta2 <=> betas.1, eps <=> eps, weight_decay <=> weight_decay,
    maximize <=> maximize,
});
mirror!(DescentNadamConfig, NadamConfig {
    lr <=> lr, beta1 <=> betas.0, beta2 <=> betas.1, eps <=> eps, weight_decay <=> weight_decay,
    momentum_decay <=> momentum_decay, decoupled_weight_decay <=> decoupled_weight_decay,
    maximize <=> maximize,
});
mirror!(DescentRadamConfig, RadamConfig {
    lr <=> lr, beta1 <=> betas.0, beta2 <=> betas.1, eps <=> eps, weight_decay <=> weight_decay,
    decoupled_weight_decay <=> decoupled_weight_decay, maximize <=> maximize,
});
mirror!(DescentAdadeltaConfig, AdadeltaConfig {
    lr <=> lr, rho <=> rho, eps <=> eps, weight_decay <=> weight_decay, maximize <=> maximize,
});
mirror!(DescentAsgdConfig, AsgdConfig {
    lr <=> lr, lambd <=> lambd, alpha <=> alpha, t0 <=> t0, weight_decay <=> weight_decay,
    maximize <=> maximize,
});
mirror!(DescentRpropConfig, RpropConfig {
    lr <=> lr, eta_minus <=> etas.0, eta_plus <=> etas.1, step_size_min <=> step_sizes.0,
    step_size_max <=> step_sizes.1, maximize <=> maximize,
});
mirror!(DescentLionConfig, LionConfig {
    lr <=> lr, beta1 <=> betas.0, beta2 <=> betas.1, weight_decay <=> weight_decay, maximize <=> maximize,
});

impl From<AdafactorConfig> for DescentAdafactorConfig {
    fn from(r: AdafactorConfig) -> Self {
        DescentAdafactorConfig {
            lr: r.lr,
            beta2_decay: r.beta2_decay,
            eps1: r.eps.0.unwrap_or(f64::NAN),
            eps2: r.eps.1,
            d: r.d,
            weight_decay: r.weight_decay,
            maximize: r.maximize,
            rows: 0,
            cols: 0,
        }
    }
}

impl TryFrom<DescentAdafactorConfig> for AdafactorConfig {
    type Error = Status;
    fn try_from(c: DescentAdafactorConfig) -> Result<Self, Status> {
        Ok(AdafactorConfig {
            lr: c.lr,
            beta2_decay: c.beta2_decay,
            eps: ((!c.eps1.is_nan()).then_some(c.eps1), c.eps2),
            d: c.d,
            weight_decay: c.weight_decay,
            maximize: c.maximize,
            shape: adafactor_shape(c.rows, c.cols)?,
        })
    }
}
mirror!(DescentLambConfig, LambConfig {
    lr <=> lr, beta1 <=> betas.0, beta2 <=> betas.1, eps <=> eps, eps_root <=> eps_root,
    weight_decay <=> weight_decay, mask <=> mask,
});
mirror!(DescentLarsConfig, LarsConfig {
    lr <=> lr, weight_decay <=> weight_decay, weight_decay_mask <=> weight_decay_mask,
    trust_coefficient <=> trust_coefficient, eps <=> eps, trust_ratio_mask <=> trust_ratio_mask,
    momentum <=> momentum, nesterov <=> nesterov,
});
