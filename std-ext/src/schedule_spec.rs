//! Learning-rate schedules built from PyTorch-style JSON (`{"name": "cosine_annealing_lr",
//! "T_max": 10}`), for `descent replay` and `descent train --scheduler`.

use crate::registry::{BuildError, Kwargs, number};
use descent_core::persist::{Reader, Writer};
use descent_core::schedule::{
    Anneal, AnnealStrategy, AnySchedule, Chained, ConstantLr, CosineAnnealingLr, CosineAnnealingWarmRestarts,
    CyclicLr, CyclicMode, Driver, ExponentialLr, Interpolate, LinearLr, MultiStepLr, OneCycleLr,
    PiecewiseInterpolate, PlateauMode, PolynomialLr, ReduceLrOnPlateau, SavedSchedule, Schedule, Sequential,
    StepLr, Swalr, ThresholdMode, WarmupCosine,
};
use descent_core::{Optimizer, Real};
use serde_json::{Map, Value};

/// Most schedules a `sequential_lr` joins.
pub const MAX_SEQUENTIAL: usize = 8;

/// A closed-form schedule: one, several joined, or several chained.
#[derive(Debug, Clone, PartialEq)]
pub enum Closed {
    /// One schedule.
    One(Box<AnySchedule>),
    /// `sequential_lr`.
    Joined(Box<Sequential<MAX_SEQUENTIAL>>),
    /// `chained_scheduler`.
    Chained(Box<Chained>),
}

impl Schedule for Closed {
    fn lr_at(&self, t: u64) -> f64 {
        match self {
            Closed::One(s) => s.lr_at(t),
            Closed::Joined(s) => s.lr_at(t),
            Closed::Chained(s) => s.lr_at(t),
        }
    }
    fn momentum_at(&self, t: u64) -> Option<f64> {
        match self {
            Closed::One(s) => s.momentum_at(t),
            Closed::Joined(s) => s.momentum_at(t),
            Closed::Chained(s) => s.momentum_at(t),
        }
    }
}

/// Saved as the schedule it holds (its tag tells which).
impl SavedSchedule for Closed {
    const TAG: u8 = 0;
    fn write_fields(&self, w: &mut Writer<'_>) -> Result<(), descent_core::Error> {
        self.write_config(w)
    }
    fn read_fields(r: &mut Reader<'_>) -> Result<Self, descent_core::Error> {
        Self::read_config(r)
    }
    fn write_config(&self, w: &mut Writer<'_>) -> Result<(), descent_core::Error> {
        match self {
            Closed::One(s) => s.write_config(w),
            Closed::Joined(s) => s.write_config(w),
            Closed::Chained(s) => s.write_config(w),
        }
    }
    fn read_config(r: &mut Reader<'_>) -> Result<Self, descent_core::Error> {
        Ok(match r.u8()? {
            <Sequential<MAX_SEQUENTIAL> as SavedSchedule>::TAG => {
                Closed::Joined(Box::new(Sequential::read_fields(r)?))
            }
            Chained::TAG => Closed::Chained(Box::new(Chained::read_fields(r)?)),
            tag => Closed::One(Box::new(AnySchedule::read_tagged(tag, r)?)),
        })
    }
}

/// A schedule driving an optimizer's parameter groups.
#[derive(Debug, Clone, PartialEq)]
pub enum Scheduler {
    /// A closed form of the step count, one per group (each from the group's own lr).
    Closed(Box<Driver<Closed, Vec<Closed>>>),
    /// `reduce_lr_on_plateau`, fed a metric per step; it cuts every group.
    Plateau(ReduceLrOnPlateau),
}

impl Scheduler {
    /// Applies the values in force: step 0's (PyTorch's constructor step) for a new scheduler,
    /// the saved step's after [`Scheduler::restore`]. The plateau scheduler leaves the
    /// optimizer's learning rates as they are.
    pub fn start<F: Real>(&mut self, opt: &mut dyn Optimizer<F>) -> Result<(), descent_core::Error> {
        match self {
            Scheduler::Closed(d) => d.apply(opt),
            Scheduler::Plateau(_) => Ok(()),
        }
    }

    /// The state as bytes, through the core's versioned, checksummed persistence: the
    /// [`Driver`]'s (the schedules' configurations and the step count) for the closed forms,
    /// [`ReduceLrOnPlateau::save`]'s for the plateau scheduler.
    pub fn save(&self) -> Vec<u8> {
        fn saved(len: usize, save: impl FnOnce(&mut [u8]) -> Result<usize, descent_core::Error>) -> Vec<u8> {
            let mut out = vec![0u8; len];
            match save(&mut out) {
                Ok(n) => out.truncate(n),
                Err(_) => out.clear(),
            }
            out
        }
        match self {
            Scheduler::Closed(d) => saved(d.saved_len(), |out| d.save(out)),
            Scheduler::Plateau(p) => saved(p.saved_len(), |out| p.save(out)),
        }
    }

    /// Restores what [`Scheduler::save`] wrote for the same schedules (a closed form saved with
    /// another configuration is refused); refuses anything else and then changes nothing.
    pub fn restore(&mut self, bytes: &[u8]) -> Result<(), String> {
        match self {
            Scheduler::Closed(d) => {
                let mut restored = (**d).clone();
                restored.restore(bytes).map_err(|e| format!("schedule state: {e}"))?;
                if restored.schedules() != d.schedules() {
                    return Err("the saved schedule is not the one given".into());
                }
                **d = restored;
                Ok(())
            }
            Scheduler::Plateau(p) => p.restore(bytes).map_err(|e| format!("schedule state: {e}")),
        }
    }

    /// Advances after an optimizer step (`metric` for the plateau scheduler).
    pub fn advance<F: Real>(
        &mut self,
        opt: &mut dyn Optimizer<F>,
        metric: Option<f64>,
    ) -> Result<(), descent_core::Error> {
        match self {
            Scheduler::Closed(d) => d.step(opt),
            Scheduler::Plateau(p) => p.step_groups(metric.unwrap_or(f64::NAN), opt),
        }
    }
}

fn core_err(e: descent_core::Error) -> BuildError {
    BuildError::Invalid(e)
}

fn one(map: &Map<String, Value>, base_lr: f64, has_momentum: bool) -> Result<AnySchedule, BuildError> {
    let name = map
        .get("name")
        .and_then(Value::as_str)
        .ok_or_else(|| BuildError::Spec("scheduler: missing 'name'".into()))?;
    let mut k = Kwargs::new(name, map);
    let s = match name {
        "step_lr" => AnySchedule::Step(
            StepLr::new(base_lr, k.uint("step_size", None)?, k.f64("gamma", 0.1)?).map_err(core_err)?,
        ),
        "multi_step_lr" => AnySchedule::MultiStep(
            MultiStepLr::new(base_lr, &k.uints("milestones")?, k.f64("gamma", 0.1)?).map_err(core_err)?,
        ),
        "exponential_lr" => {
            AnySchedule::Exponential(ExponentialLr::new(base_lr, k.req_f64("gamma")?).map_err(core_err)?)
        }
        "cosine_annealing_lr" => AnySchedule::Cosine(
            CosineAnnealingLr::new(base_lr, k.uint("T_max", None)?, k.f64("eta_min", 0.0)?)
                .map_err(core_err)?,
        ),
        "cosine_annealing_warm_restarts" => {
            let (t0, tm, eta) = (k.uint("T_0", None)?, k.uint("T_mult", Some(1))?, k.f64("eta_min", 0.0)?);
            if t0 == 0 {
                return Err(BuildError::Refused(format!("Expected positive integer T_0, but got {t0}")));
            }
            AnySchedule::WarmRestarts(
                CosineAnnealingWarmRestarts::new(base_lr, t0, tm, eta).map_err(core_err)?,
            )
        }
        "one_cycle_lr" => {
            let max_lr = k.req_f64("max_lr")?;
            let total = match k.opt_uint("total_steps")? {
                Some(t) => t,
                None => match (k.opt_uint("epochs")?, k.opt_uint("steps_per_epoch")?) {
                    (Some(e), Some(s)) => e * s,
                    _ => {
                        return Err(BuildError::Refused(
                            "You must define either total_steps OR (epochs AND steps_per_epoch)".into(),
                        ));
                    }
                },
            };
            let pct = k.f64("pct_start", 0.3)?;
            let anneal = match k.str("anneal_strategy", "cos")? {
                "cos" => AnnealStrategy::Cos,
                "linear" => AnnealStrategy::Linear,
                other => {
                    return Err(BuildError::Refused(format!(
                        "anneal_strategy must be one of 'cos' or 'linear', instead got {other}"
                    )));
                }
            };
            let cycle = k.bool("cycle_momentum", true)?;
            let (base_m, max_m) = (k.f64("base_momentum", 0.85)?, k.f64("max_momentum", 0.95)?);
            if cycle && !has_momentum {
                return Err(BuildError::Refused(
                    "optimizer must support momentum or beta1 with `cycle_momentum` option enabled".into(),
                ));
            }
            if total == 0 {
                return Err(BuildError::Refused(format!(
                    "Expected positive integer total_steps, but got {total}"
                )));
            }
            if !(0.0..=1.0).contains(&pct) {
                return Err(BuildError::Refused(format!(
                    "Expected float between 0 and 1 pct_start, but got {}",
                    descent_core::error::PyFloat(pct)
                )));
            }
            let (div, fdiv, three) =
                (k.f64("div_factor", 25.0)?, k.f64("final_div_factor", 1e4)?, k.bool("three_phase", false)?);
            AnySchedule::OneCycle(
                OneCycleLr::new(
                    max_lr,
                    total,
                    pct,
                    anneal,
                    cycle.then_some((base_m, max_m)),
                    div,
                    fdiv,
                    three,
                )
                .map_err(core_err)?,
            )
        }
        "cyclic_lr" => {
            let (base, max) = (k.req_f64("base_lr")?, k.req_f64("max_lr")?);
            let (up, down) = (k.uint("step_size_up", Some(2000))?, k.opt_uint("step_size_down")?);
            let gamma = k.f64("gamma", 1.0)?;
            let mode = match k.str("mode", "triangular")? {
                "triangular" => CyclicMode::Triangular,
                "triangular2" => CyclicMode::Triangular2,
                "exp_range" => CyclicMode::ExpRange(gamma),
                _ => return Err(BuildError::Refused("mode is invalid and scale_fn is None".into())),
            };
            let cycle = k.bool("cycle_momentum", true)?;
            let (base_m, max_m) = (k.f64("base_momentum", 0.8)?, k.f64("max_momentum", 0.9)?);
            if cycle && !has_momentum {
                return Err(BuildError::Refused(
                    "optimizer must support momentum or beta1 with `cycle_momentum` option enabled".into(),
                ));
            }
            AnySchedule::Cyclic(
                CyclicLr::new(base, max, up, down, mode, cycle.then_some((base_m, max_m)))
                    .map_err(core_err)?,
            )
        }
        "linear_lr" => AnySchedule::Linear(
            LinearLr::new(
                base_lr,
                k.f64("start_factor", 1.0 / 3.0)?,
                k.f64("end_factor", 1.0)?,
                k.uint("total_iters", Some(5))?,
            )
            .map_err(core_err)?,
        ),
        "constant_lr" => AnySchedule::Constant(
            ConstantLr::new(base_lr, k.f64("factor", 1.0 / 3.0)?, k.uint("total_iters", Some(5))?)
                .map_err(core_err)?,
        ),
        "polynomial_lr" => AnySchedule::Polynomial(
            PolynomialLr::new(base_lr, k.uint("total_iters", Some(5))?, k.f64("power", 1.0)?)
                .map_err(core_err)?,
        ),
        "warmup_cosine" => AnySchedule::WarmupCosine(
            WarmupCosine::new(
                base_lr,
                k.uint("warmup_steps", None)?,
                k.uint("total_steps", None)?,
                k.f64("warmup_start_factor", 0.01)?,
                k.f64("eta_min", 0.0)?,
            )
            .map_err(core_err)?,
        ),
        // optax.piecewise_interpolate_schedule, from the group's lr (optax's init_value).
        "piecewise_interpolate_schedule" => {
            let interpolate = match k.str("interpolate_type", "linear")? {
                "linear" => Interpolate::Linear,
                "cosine" => Interpolate::Cosine,
                _ => {
                    return Err(BuildError::Refused(
                        "`interpolate_type` must be either 'cosine' or 'linear'".into(),
                    ));
                }
            };
            let pairs = match k.raw("boundaries_and_scales") {
                None | Some(Value::Null) => Vec::new(),
                Some(Value::Object(m)) => {
                    let mut pairs = Vec::with_capacity(m.len());
                    for (b, s) in m {
                        let b: u64 = b
                            .parse()
                            .map_err(|_| k.spec_err("boundaries_and_scales", "an object of step: scale"))?;
                        let s = number(s)
                            .ok_or_else(|| k.spec_err("boundaries_and_scales", "an object of step: scale"))?;
                        pairs.push((b, s));
                    }
                    pairs.sort_by_key(|p| p.0);
                    pairs
                }
                Some(_) => return Err(k.spec_err("boundaries_and_scales", "an object of step: scale")),
            };
            let (bounds, scales): (Vec<u64>, Vec<f64>) = pairs.into_iter().unzip();
            AnySchedule::Piecewise(
                PiecewiseInterpolate::new(interpolate, base_lr, &bounds, &scales).map_err(core_err)?,
            )
        }
        // torch.optim.swa_utils.SWALR
        "swalr" => {
            let swa_lr = k.req_f64("swa_lr")?;
            let epochs = match k.raw("anneal_epochs") {
                None => 10,
                Some(v) => match v.as_i64() {
                    Some(e) if e >= 0 => e as u64,
                    _ => {
                        return Err(BuildError::Refused(format!(
                            "anneal_epochs must be equal or greater than 0, got {v}"
                        )));
                    }
                },
            };
            let anneal = match k.str("anneal_strategy", "cos")? {
                "cos" => Anneal::Cos,
                "linear" => Anneal::Linear,
                other => {
                    return Err(BuildError::Refused(format!(
                        "anneal_strategy must be one of 'cos' or 'linear', instead got {other}"
                    )));
                }
            };
            AnySchedule::Swa(Swalr::new(base_lr, swa_lr, epochs, anneal).map_err(core_err)?)
        }
        other => return Err(BuildError::Spec(format!("unknown scheduler '{other}'"))),
    };
    k.finish()?;
    Ok(s)
}

/// Keys that may hold one value per parameter group (PyTorch's list forms).
const PER_GROUP: [&str; 5] = ["max_lr", "base_lr", "base_momentum", "max_momentum", "swa_lr"];

/// `map` as group `g` of `groups` sees it: a list under a [`PER_GROUP`] key is replaced by its
/// g-th value (PyTorch: "expected N values for max_lr, got M" otherwise).
fn for_group(map: &Map<String, Value>, g: usize, groups: usize) -> Result<Map<String, Value>, BuildError> {
    let mut m = map.clone();
    for key in PER_GROUP {
        if let Some(Value::Array(values)) = map.get(key) {
            if values.len() != groups {
                return Err(BuildError::Refused(format!(
                    "expected {groups} values for {key}, got {}",
                    values.len()
                )));
            }
            m.insert(key.to_string(), values[g].clone());
        }
    }
    Ok(m)
}

/// One group's closed-form schedule: `sequential_lr`, `chained_scheduler` or a single one.
fn closed(map: &Map<String, Value>, base_lr: f64, has_momentum: bool) -> Result<Closed, BuildError> {
    let name = map.get("name").and_then(Value::as_str).unwrap_or("");
    let children = |k: &mut Kwargs<'_>| -> Result<Vec<Map<String, Value>>, BuildError> {
        let list = k
            .raw("schedulers")
            .and_then(Value::as_array)
            .ok_or_else(|| BuildError::Spec(format!("{name}: 'schedulers' must be a list")))?;
        list.iter()
            .map(|c| {
                let m = c
                    .as_object()
                    .ok_or_else(|| BuildError::Spec(format!("{name}: each scheduler must be an object")))?;
                if m.get("name").and_then(Value::as_str) == Some("reduce_lr_on_plateau") {
                    return Err(BuildError::Refused(format!("{name} does not support `ReduceLROnPlateau` scheduler as it requires additional kwargs to be specified when calling `step`")));
                }
                Ok(m.clone())
            })
            .collect()
    };
    match name {
        // optax.join_schedules is SequentialLR over closed forms: each child sees the steps since
        // its boundary ('boundaries', optax's name for the milestones).
        "sequential_lr" | "join_schedules" => {
            let mut k = Kwargs::new(name, map);
            let maps = children(&mut k)?;
            let milestones = k.uints(if name == "join_schedules" { "boundaries" } else { "milestones" })?;
            k.finish()?;
            let built = maps.iter().map(|m| one(m, base_lr, has_momentum)).collect::<Result<Vec<_>, _>>()?;
            let joined = Sequential::new(&built, &milestones).map_err(core_err)?;
            Ok(Closed::Joined(Box::new(joined)))
        }
        "chained_scheduler" => {
            let mut k = Kwargs::new(name, map);
            let maps = children(&mut k)?;
            k.finish()?;
            let built = maps.iter().map(|m| one(m, base_lr, has_momentum)).collect::<Result<Vec<_>, _>>()?;
            Ok(Closed::Chained(Box::new(Chained::new(base_lr, &built).map_err(core_err)?)))
        }
        _ => Ok(Closed::One(Box::new(one(map, base_lr, has_momentum)?))),
    }
}

/// Builds the scheduler of `map` for an optimizer whose groups start from the learning rates
/// `base_lrs` (PyTorch's `base_lrs`, one per group); `has_momentum` says whether it has a
/// momentum or β1 to cycle.
pub fn build(
    map: &Map<String, Value>,
    base_lrs: &[f64],
    has_momentum: bool,
) -> Result<Scheduler, BuildError> {
    let name = map.get("name").and_then(Value::as_str).unwrap_or("");
    let first = base_lrs.first().copied().unwrap_or(0.0);
    match name {
        "reduce_lr_on_plateau" => {
            let mut k = Kwargs::new(name, map);
            let mode = match k.str("mode", "min")? {
                "min" => PlateauMode::Min,
                "max" => PlateauMode::Max,
                m => return Err(BuildError::Refused(format!("mode {m} is unknown!"))),
            };
            let factor = k.f64("factor", 0.1)?;
            let patience = k.uint("patience", Some(10))?;
            let threshold = k.f64("threshold", 1e-4)?;
            let tm = match k.str("threshold_mode", "rel")? {
                "rel" => ThresholdMode::Rel,
                "abs" => ThresholdMode::Abs,
                m => return Err(BuildError::Refused(format!("threshold mode {m} is unknown!"))),
            };
            let cooldown = k.uint("cooldown", Some(0))?;
            let min_lr = k.f64("min_lr", 0.0)?;
            let eps = k.f64("eps", 1e-8)?;
            k.finish()?;
            Ok(Scheduler::Plateau(
                ReduceLrOnPlateau::new(first, mode, factor, patience, threshold, tm, cooldown, min_lr, eps)
                    .map_err(core_err)?,
            ))
        }
        _ => {
            let per_group = base_lrs
                .iter()
                .enumerate()
                .map(|(g, &lr)| closed(&for_group(map, g, base_lrs.len())?, lr, has_momentum))
                .collect::<Result<Vec<_>, _>>()?;
            Ok(Scheduler::Closed(Box::new(Driver::per_group(per_group))))
        }
    }
}

/// Parses `--scheduler`: a JSON object, or `NAME` / `NAME:key=value,key=value` (values are JSON
/// numbers, booleans or bare strings; lists as `milestones=[2,4]`).
pub fn parse_cli(spec: &str) -> Result<Map<String, Value>, BuildError> {
    crate::named::parse("--scheduler", spec).map_err(BuildError::Spec)
}

/// A schedule for `descent train`, stepped through the training loop's hook.
pub struct TrainingSchedule(Scheduler);

impl crate::train::LrControl for TrainingSchedule {
    fn start(&mut self, opt: &mut dyn Optimizer<f32>) -> Result<(), String> {
        self.0.start(opt).map_err(|e| e.to_string())
    }
    fn advance(&mut self, opt: &mut dyn Optimizer<f32>, metric: Option<f64>) -> Result<(), String> {
        self.0.advance(opt, metric).map_err(|e| e.to_string())
    }
    fn save(&self) -> Vec<u8> {
        self.0.save()
    }
    fn restore(&mut self, bytes: &[u8]) -> Result<(), String> {
        self.0.restore(bytes)
    }
}

/// The schedule `--scheduler SPEC` describes, for an optimizer whose groups start from the
/// learning rates `base_lrs`.
pub fn for_training(
    spec: &str,
    base_lrs: &[f64],
    has_momentum: bool,
) -> Result<Box<dyn crate::train::LrControl>, BuildError> {
    Ok(Box::new(TrainingSchedule(build(&parse_cli(spec)?, base_lrs, has_momentum)?)))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn built(spec: &str) -> Scheduler {
        build(&parse_cli(spec).unwrap(), &[0.1], true).unwrap()
    }

    #[test]
    fn the_command_line_forms_parse_to_pytorch_names() {
        let m = parse_cli("multi_step_lr:milestones=[2,4],gamma=0.5").unwrap();
        assert_eq!(m["name"], "multi_step_lr");
        assert_eq!(m["milestones"], serde_json::json!([2, 4]));
        assert_eq!(m["gamma"], 0.5);
        assert_eq!(parse_cli(r#"{"name": "step_lr", "step_size": 3}"#).unwrap()["step_size"], 3);
        assert!(parse_cli("step_lr:step_size").is_err());
        assert!(parse_cli("{not json").is_err());
        assert!(build(&parse_cli("bogus_lr").unwrap(), &[0.1], true).is_err());
        assert!(build(&parse_cli("step_lr:step_size=2,typo=1").unwrap(), &[0.1], true).is_err());
    }

    #[test]
    fn saved_state_resumes_the_same_values_and_refuses_another_schedule() {
        let specs = [
            "step_lr:step_size=2,gamma=0.5",
            "one_cycle_lr:max_lr=1,total_steps=20",
            r#"{"name": "sequential_lr", "milestones": [3], "schedulers": [{"name": "linear_lr", "total_iters": 3}, {"name": "exponential_lr", "gamma": 0.9}]}"#,
            "reduce_lr_on_plateau:patience=0,factor=0.5",
        ];
        for spec in specs {
            let mut opt = crate::registry::build::<f32>(
                &serde_json::from_value(serde_json::json!({"name": "sgd", "lr": 0.1, "momentum": 0.9}))
                    .unwrap(),
                &[1],
                1,
                descent_core::NonFinitePolicy::Error,
            )
            .unwrap();
            let mut a = built(spec);
            a.start(opt.as_mut()).unwrap();
            let metrics = [3.0, 2.0, 2.5, 2.6, 1.0, 1.5, 1.7];
            for m in metrics {
                a.advance(opt.as_mut(), Some(m)).unwrap();
            }
            let bytes = a.save();
            let mut b = built(spec);
            b.restore(&bytes).unwrap();
            assert_eq!(a, b, "{spec}");
            let mut c = built(spec);
            assert!(c.restore(&bytes[..bytes.len() - 1]).is_err(), "{spec}");
            assert!(c.restore(&[]).is_err(), "{spec}");
            assert_eq!(c, built(spec), "a refused restore changes nothing");
        }
        // Bytes of another configuration or kind are refused.
        let a = built("step_lr:step_size=2,gamma=0.5").save();
        assert!(
            built("step_lr:step_size=3,gamma=0.5").restore(&a).unwrap_err().contains("not the one given")
        );
        assert!(built("exponential_lr:gamma=0.5").restore(&a).is_err());
        assert!(built("reduce_lr_on_plateau").restore(&a).is_err());
    }
}
