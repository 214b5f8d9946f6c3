//! One table of every optimizer. The property tests, fuzz targets, benchmarks, the replay tool and
//! the README's table iterate over it, and a test checks that they all name the same set.

/// What the table records of an optimizer.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct OptimizerInfo {
    /// The snake_case name used by `descent replay` and `descent train` (`"adamw"`).
    pub name: &'static str,
    /// The PyTorch class (or the reference it follows, for Lion).
    pub reference: &'static str,
    /// State values per parameter with the default configuration.
    pub state_per_param: usize,
    /// State values per parameter with every optional buffer enabled.
    pub state_per_param_max: usize,
    /// What the optional buffers are.
    pub state_note: &'static str,
}

/// Every optimizer of descent-core, in the order of the README's table.
pub const OPTIMIZERS: &[OptimizerInfo] = &[
    OptimizerInfo {
        name: "sgd",
        reference: "torch.optim.SGD",
        state_per_param: 0,
        state_per_param_max: 1,
        state_note: "momentum buffer when momentum ≠ 0",
    },
    OptimizerInfo {
        name: "adam",
        reference: "torch.optim.Adam",
        state_per_param: 2,
        state_per_param_max: 3,
        state_note: "m, v; v_max with amsgrad",
    },
    OptimizerInfo {
        name: "adamw",
        reference: "torch.optim.AdamW",
        state_per_param: 2,
        state_per_param_max: 3,
        state_note: "m, v; v_max with amsgrad",
    },
    OptimizerInfo {
        name: "adagrad",
        reference: "torch.optim.Adagrad",
        state_per_param: 1,
        state_per_param_max: 1,
        state_note: "sum of squares",
    },
    OptimizerInfo {
        name: "rmsprop",
        reference: "torch.optim.RMSprop",
        state_per_param: 1,
        state_per_param_max: 3,
        state_note: "v; ḡ if centered; buffer with momentum",
    },
    OptimizerInfo {
        name: "adamax",
        reference: "torch.optim.Adamax",
        state_per_param: 2,
        state_per_param_max: 2,
        state_note: "m, u",
    },
    OptimizerInfo {
        name: "nadam",
        reference: "torch.optim.NAdam",
        state_per_param: 2,
        state_per_param_max: 2,
        state_note: "m, v (+1 scalar mu_product)",
    },
    OptimizerInfo {
        name: "radam",
        reference: "torch.optim.RAdam",
        state_per_param: 2,
        state_per_param_max: 2,
        state_note: "m, v",
    },
    OptimizerInfo {
        name: "adadelta",
        reference: "torch.optim.Adadelta",
        state_per_param: 2,
        state_per_param_max: 2,
        state_note: "v, u",
    },
    OptimizerInfo {
        name: "asgd",
        reference: "torch.optim.ASGD",
        state_per_param: 1,
        state_per_param_max: 1,
        state_note: "average ā (+2 scalars η, μ)",
    },
    OptimizerInfo {
        name: "rprop",
        reference: "torch.optim.Rprop",
        state_per_param: 2,
        state_per_param_max: 2,
        state_note: "previous gradient, step size",
    },
    OptimizerInfo {
        name: "adafactor",
        reference: "torch.optim.Adafactor",
        state_per_param: 1,
        state_per_param_max: 1,
        state_note: "vectors: v; R×C matrices: R + C values in all",
    },
    OptimizerInfo {
        name: "lion",
        reference: "optax.lion (not in PyTorch)",
        state_per_param: 1,
        state_per_param_max: 1,
        state_note: "m",
    },
    OptimizerInfo {
        name: "muon",
        reference: "torch.optim.Muon",
        state_per_param: 1,
        state_per_param_max: 1,
        state_note: "momentum buffer (2-D tensors; scratch 2·R·C + 2·min(R, C)² per step, not saved)",
    },
    OptimizerInfo {
        name: "lamb",
        reference: "optax.lamb",
        state_per_param: 2,
        state_per_param_max: 2,
        state_note: "m, v (trust ratio per tensor)",
    },
    OptimizerInfo {
        name: "lars",
        reference: "optax.lars",
        state_per_param: 1,
        state_per_param_max: 1,
        state_note: "momentum trace (trust ratio per tensor)",
    },
];

/// The entry for `name`, if descent has such an optimizer.
pub fn find(name: &str) -> Option<&'static OptimizerInfo> {
    OPTIMIZERS.iter().find(|o| o.name == name)
}
