//! The one list of rules ([`for_each_rule!`](crate::for_each_rule)) and the table generated from
//! it ([`OPTIMIZERS`]), which the property tests, fuzz targets, benchmarks, the replay tool and
//! the README's table iterate over.

/// The one list of rules: calls macro `$m` with one row per optimizer, in the order of the
/// README's table:
///
/// `name: ConfigType = constructor, "reference", state per parameter, with every option, "what the state is";`
///
/// `name` is the snake_case name of `descent replay` and `descent train --optimizer`;
/// `ConfigType::constructor()` gives its defaults (PyTorch's; AdamW is `AdamConfig::adamw()`).
/// Everything that lists the optimizers is generated from it: [`OPTIMIZERS`] here, std-ext's
/// builder by name, and the tests' lists of every optimizer. Adding an optimizer is its file
/// (the rule, its [`crate::fields!`] list and tests) and one row here.
#[macro_export]
macro_rules! for_each_rule {
    ($m:ident) => {
        $m! {
            sgd: $crate::optim::sgd::SgdConfig = default, "torch.optim.SGD", 0, 1, "momentum buffer when momentum ≠ 0";
            adam: $crate::optim::adam::AdamConfig = default, "torch.optim.Adam", 2, 3, "m, v; v_max with amsgrad";
            adamw: $crate::optim::adam::AdamConfig = adamw, "torch.optim.AdamW", 2, 3, "m, v; v_max with amsgrad";
            adagrad: $crate::optim::adagrad::AdagradConfig = default, "torch.optim.Adagrad", 1, 1, "sum of squares";
            rmsprop: $crate::optim::rmsprop::RmspropConfig = default, "torch.optim.RMSprop", 1, 3, "v; ḡ if centered; buffer with momentum";
            adamax: $crate::optim::adamax::AdamaxConfig = default, "torch.optim.Adamax", 2, 2, "m, u";
            nadam: $crate::optim::nadam::NadamConfig = default, "torch.optim.NAdam", 2, 2, "m, v (+1 scalar mu_product)";
            radam: $crate::optim::radam::RadamConfig = default, "torch.optim.RAdam", 2, 2, "m, v";
            adadelta: $crate::optim::adadelta::AdadeltaConfig = default, "torch.optim.Adadelta", 2, 2, "v, u";
            asgd: $crate::optim::asgd::AsgdConfig = default, "torch.optim.ASGD", 1, 1, "average ā (+2 scalars η, μ)";
            rprop: $crate::optim::rprop::RpropConfig = default, "torch.optim.Rprop", 2, 2, "previous gradient, step size";
            adafactor: $crate::optim::adafactor::AdafactorConfig = default, "torch.optim.Adafactor", 1, 1, "vectors: v; R×C matrices: R + C values in all";
            lion: $crate::optim::lion::LionConfig = default, "optax.lion (not in PyTorch)", 1, 1, "m";
            muon: $crate::optim::muon::MuonConfig = default, "torch.optim.Muon", 1, 1, "momentum buffer (2-D tensors; scratch 2·R·C + 2·min(R, C)² per step, not saved)";
            lamb: $crate::optim::lamb::LambConfig = default, "optax.lamb", 2, 2, "m, v (trust ratio per tensor)";
            lars: $crate::optim::lars::LarsConfig = default, "optax.lars", 1, 1, "momentum trace (trust ratio per tensor)";
            yogi: $crate::optim::yogi::YogiConfig = default, "optax.yogi", 2, 2, "m, v (both start at 1e-6)";
            adabelief: $crate::optim::adabelief::AdabeliefConfig = default, "optax.adabelief", 2, 2, "m, s";
            adopt: $crate::optim::adopt::AdoptConfig = default, "optax.contrib.adopt", 2, 2, "m, v";
            ademamix: $crate::optim::ademamix::AdemamixConfig = default, "optax.contrib.ademamix", 3, 3, "m1, m2 (slow), v";
            adan: $crate::optim::adan::AdanConfig = default, "optax.adan", 4, 4, "m, v, n, previous gradient";
            novograd: $crate::optim::novograd::NovogradConfig = default, "optax.novograd", 1, 1, "m (+ ν per tensor)";
            sm3: $crate::optim::sm3::Sm3Config = default, "optax.sm3", 2, 2, "μ; accumulators: vectors n, tensors of rank ≥ 2 the sum of their dimensions";
            prodigy: $crate::optim::prodigy::ProdigyConfig = default, "optax.contrib.prodigy", 4, 4, "m, v, s, θ0 (+ d, r over the whole set)";
            dadapt_adamw: $crate::optim::dadapt_adamw::DadaptAdamwConfig = default, "optax.contrib.dadapt_adamw", 3, 3, "m, v, s (+ d, r over the whole set)";
            schedule_free_sgd: $crate::optim::schedule_free::ScheduleFreeSgdConfig = default, "optax.contrib.schedule_free_sgd", 1, 1, "z (+2 scalars Σw, lr_max; evaluate at x)";
            schedule_free_adamw: $crate::optim::schedule_free::ScheduleFreeAdamwConfig = default, "optax.contrib.schedule_free_adamw", 2, 2, "z, v (+2 scalars Σw, lr_max; evaluate at x)";
            sophia: $crate::optim::sophia::SophiaConfig = default, "Sophia-G (the authors' SophiaG; optax.contrib.sophia is Sophia-H)", 2, 2, "m, h (average of the Hessian estimates fed by update_hessian)";
        }
    };
}

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
    /// Its rule's id in saved state ([`crate::persist::Kind`]).
    pub id: u8,
}

macro_rules! info_table {
    ($($name:ident: $ty:ty = $ctor:ident, $reference:literal, $per:literal, $max:literal, $note:literal;)*) => {
        /// Every optimizer of descent-core, in the order of the README's table (from
        /// [`for_each_rule!`](crate::for_each_rule)).
        pub const OPTIMIZERS: &[OptimizerInfo] = &[$(OptimizerInfo {
            name: stringify!($name),
            reference: $reference,
            state_per_param: $per,
            state_per_param_max: $max,
            state_note: $note,
            id: <$ty as $crate::optim::UpdateRule>::ID,
        }),*];
    };
}
for_each_rule!(info_table);

/// The entry for `name`, if descent has such an optimizer.
pub fn find(name: &str) -> Option<&'static OptimizerInfo> {
    OPTIMIZERS.iter().find(|o| o.name == name)
}

#[cfg(test)]
mod tests {
    use super::OPTIMIZERS;
    use crate::optim::UpdateRule;
    use crate::persist::Kind;

    macro_rules! rows {
        ($($name:ident: $ty:ty = $ctor:ident, $($rest:literal),*;)*) => {
            [$((stringify!($name), <$ty as UpdateRule>::ID, core::any::type_name::<$ty>())),*]
        };
    }

    /// Names are unique; every rule's id is in the range of the kinds table; two rows share an
    /// id only when they share a configuration type (Adam and AdamW); Pair's id is no rule's.
    #[test]
    fn names_and_ids_are_unique() {
        let rows = for_each_rule!(rows);
        assert_eq!(rows.len(), OPTIMIZERS.len());
        let pair = <crate::pair::Pair<crate::adam::AdamConfig, crate::sgd::SgdConfig>>::ID;
        assert!(Kind::RULE_IDS.contains(&pair));
        for (i, &(name, id, ty)) in rows.iter().enumerate() {
            assert_eq!((OPTIMIZERS[i].name, OPTIMIZERS[i].id), (name, id));
            assert!(Kind::RULE_IDS.contains(&id), "{name}");
            assert_ne!(id, pair, "{name}");
            for &(other, other_id, other_ty) in &rows[..i] {
                assert_ne!(name, other);
                assert!(id != other_id || ty == other_ty, "{name} and {other} share id {id}");
            }
        }
    }
}
