//! Optimizers built by name from PyTorch-style keyword arguments (a JSON object), as `descent
//! replay` and `descent train` need them. Unknown names and unknown or mistyped keys are refused;
//! values are validated by the core with PyTorch's messages.

use descent_core::adadelta::AdadeltaConfig;
use descent_core::adafactor::AdafactorConfig;
use descent_core::adagrad::AdagradConfig;
use descent_core::adam::AdamConfig;
use descent_core::adamax::AdamaxConfig;
use descent_core::asgd::AsgdConfig;
use descent_core::lion::LionConfig;
use descent_core::nadam::NadamConfig;
use descent_core::radam::RadamConfig;
use descent_core::rmsprop::RmspropConfig;
use descent_core::rprop::RpropConfig;
use descent_core::sgd::SgdConfig;
use descent_core::{NonFinitePolicy, Optim, Optimizer, Real, StateBuffer, UpdateRule};
use serde_json::{Map, Value};
use std::fmt;

use crate::dispatch::Dispatched;
pub use crate::dispatch::Kernels;

/// Optimizer state on the heap, for sizes known only at run time.
#[derive(Debug, Clone, Default)]
pub struct HeapState<F>(pub Vec<F>);

impl<F> StateBuffer<F> for HeapState<F> {
    fn values(&self) -> &[F] {
        &self.0
    }
    fn values_mut(&mut self) -> &mut [F] {
        &mut self.0
    }
}

/// A heap-backed optimizer behind the object-safe trait.
pub type DynOptimizer<F> = Box<dyn Optimizer<F> + Send>;

/// Why an optimizer could not be built.
#[derive(Debug, Clone, PartialEq)]
pub enum BuildError {
    /// The spec itself is wrong: unknown optimizer, unknown key, wrong type.
    Spec(String),
    /// The core refused a value (the message is PyTorch's).
    Invalid(descent_core::Error),
    /// PyTorch would refuse this configuration; the message is PyTorch's.
    Refused(String),
}

impl fmt::Display for BuildError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            BuildError::Spec(s) => f.write_str(s),
            BuildError::Invalid(e) => write!(f, "{e}"),
            BuildError::Refused(s) => f.write_str(s),
        }
    }
}

impl std::error::Error for BuildError {}

impl From<descent_core::Error> for BuildError {
    fn from(e: descent_core::Error) -> Self {
        BuildError::Invalid(e)
    }
}

/// Reads keyword arguments, remembering which were used so unknown ones can be refused.
pub(crate) struct Kwargs<'a> {
    pub(crate) optimizer: &'a str,
    pub(crate) map: &'a Map<String, Value>,
    pub(crate) used: Vec<&'static str>,
}

impl<'a> Kwargs<'a> {
    pub(crate) fn new(what: &'a str, map: &'a Map<String, Value>) -> Self {
        Kwargs { optimizer: what, map, used: Vec::new() }
    }
    /// A non-negative integer (a JSON integer, or a float with an integral value).
    pub(crate) fn uint(&mut self, key: &'static str, default: Option<u64>) -> Result<u64, BuildError> {
        match self.raw(key) {
            None => default.ok_or_else(|| BuildError::Spec(format!("{}: missing '{key}'", self.optimizer))),
            Some(v) => v
                .as_u64()
                .or_else(|| {
                    v.as_f64().filter(|f| *f >= 0.0 && f.fract() == 0.0 && *f < 1.8e19).map(|f| f as u64)
                })
                .ok_or_else(|| self.spec_err(key, "a non-negative integer")),
        }
    }
    /// An optional non-negative integer (`null` or absent: `None`).
    pub(crate) fn opt_uint(&mut self, key: &'static str) -> Result<Option<u64>, BuildError> {
        if self.map.get(key).is_none_or(Value::is_null) {
            self.used.push(key);
            return Ok(None);
        }
        self.uint(key, None).map(Some)
    }
    /// A string.
    pub(crate) fn str(&mut self, key: &'static str, default: &'static str) -> Result<&'a str, BuildError> {
        match self.raw(key) {
            None => Ok(default),
            Some(v) => v.as_str().ok_or_else(|| self.spec_err(key, "a string")),
        }
    }
    /// A list of non-negative integers.
    pub(crate) fn uints(&mut self, key: &'static str) -> Result<Vec<u64>, BuildError> {
        let v =
            self.raw(key).ok_or_else(|| BuildError::Spec(format!("{}: missing '{key}'", self.optimizer)))?;
        let arr = v.as_array().ok_or_else(|| self.spec_err(key, "a list of integers"))?;
        arr.iter().map(|x| x.as_u64().ok_or_else(|| self.spec_err(key, "a list of integers"))).collect()
    }
    /// A required number.
    pub(crate) fn req_f64(&mut self, key: &'static str) -> Result<f64, BuildError> {
        if self.map.get(key).is_none() {
            return Err(BuildError::Spec(format!("{}: missing '{key}'", self.optimizer)));
        }
        self.f64(key, f64::NAN)
    }
    pub(crate) fn spec_err(&self, key: &str, what: &str) -> BuildError {
        BuildError::Spec(format!("{}: hyperparameter '{key}' must be {what}", self.optimizer))
    }
    pub(crate) fn raw(&mut self, key: &'static str) -> Option<&'a Value> {
        self.used.push(key);
        self.map.get(key).filter(|v| !v.is_null())
    }
    pub(crate) fn f64(&mut self, key: &'static str, default: f64) -> Result<f64, BuildError> {
        match self.raw(key) {
            None => Ok(default),
            Some(v) => number(v).ok_or_else(|| self.spec_err(key, "a number")),
        }
    }
    pub(crate) fn bool(&mut self, key: &'static str, default: bool) -> Result<bool, BuildError> {
        match self.raw(key) {
            None => Ok(default),
            Some(v) => v.as_bool().ok_or_else(|| self.spec_err(key, "true or false")),
        }
    }
    /// A pair such as `betas`; elements may be null where `nullable`.
    fn pair(
        &mut self,
        key: &'static str,
        default: (Option<f64>, Option<f64>),
    ) -> Result<(Option<f64>, Option<f64>), BuildError> {
        let Some(v) = self.raw(key) else { return Ok(default) };
        let arr = v
            .as_array()
            .filter(|a| a.len() == 2)
            .ok_or_else(|| self.spec_err(key, "a list of two numbers"))?;
        let get = |x: &Value| if x.is_null() { Ok(None) } else { number(x).map(Some).ok_or(()) };
        match (get(&arr[0]), get(&arr[1])) {
            (Ok(a), Ok(b)) => Ok((a, b)),
            _ => Err(self.spec_err(key, "a list of two numbers")),
        }
    }
    pub(crate) fn pair_f64(
        &mut self,
        key: &'static str,
        default: (f64, f64),
    ) -> Result<(f64, f64), BuildError> {
        let (a, b) = self.pair(key, (Some(default.0), Some(default.1)))?;
        match (a, b) {
            (Some(a), Some(b)) => Ok((a, b)),
            _ => Err(self.spec_err(key, "a list of two numbers")),
        }
    }
    pub(crate) fn finish(self) -> Result<(), BuildError> {
        for k in self.map.keys() {
            if k != "name" && !self.used.contains(&k.as_str()) {
                return Err(BuildError::Spec(format!("{}: unknown hyperparameter '{k}'", self.optimizer)));
            }
        }
        Ok(())
    }
}

/// A JSON number, or the strings `"Infinity"`, `"-Infinity"`, `"NaN"` (how Python's json writes them).
pub fn number(v: &Value) -> Option<f64> {
    match v {
        Value::Number(n) => n.as_f64(),
        Value::String(s) => match s.as_str() {
            "Infinity" | "inf" => Some(f64::INFINITY),
            "-Infinity" | "-inf" => Some(f64::NEG_INFINITY),
            "NaN" | "nan" => Some(f64::NAN),
            _ => None,
        },
        _ => None,
    }
}

fn boxed<R, F>(
    config: R,
    n: usize,
    policy: NonFinitePolicy,
    kernels: Kernels,
) -> Result<DynOptimizer<F>, BuildError>
where
    R: UpdateRule + Send + 'static,
    R::Scalars: Send,
    F: Real,
{
    // Room for a momentum buffer too, so a schedule may turn momentum on later (PyTorch creates
    // state lazily; fixed-size state is allocated up front).
    let mut with_momentum = config.clone();
    let len = if with_momentum.put_momentum(0.5) {
        config.state_len(n).max(with_momentum.state_len(n))
    } else {
        config.state_len(n)
    };
    let state = crate::memory::zeroed(len, "optimizer state").map_err(BuildError::Spec)?;
    let opt = Optim::from_storage(config, HeapState(state), n, policy)?;
    Ok(match kernels {
        Kernels::Best => Box::new(Dispatched(opt)),
        Kernels::Portable => Box::new(opt),
    })
}

/// Builds the optimizer named in `kwargs["name"]` for a parameter of `shape` (`n` elements). Its
/// step runs the fastest kernels this CPU supports ([`crate::dispatch`]); the results are the
/// same bits as descent-core's portable build.
pub fn build<F: Real>(
    kwargs: &Map<String, Value>,
    shape: &[usize],
    n: usize,
    policy: NonFinitePolicy,
) -> Result<DynOptimizer<F>, BuildError> {
    build_with(kwargs, shape, n, policy, Kernels::Best)
}

/// As [`build`], choosing the kernels: [`Kernels::Portable`] runs descent-core's own step
/// (benchmarks compare the two; tests check they agree bit for bit).
pub fn build_with<F: Real>(
    kwargs: &Map<String, Value>,
    shape: &[usize],
    n: usize,
    policy: NonFinitePolicy,
    kernels: Kernels,
) -> Result<DynOptimizer<F>, BuildError> {
    let name = kwargs
        .get("name")
        .and_then(Value::as_str)
        .ok_or_else(|| BuildError::Spec("optimizer: missing 'name'".into()))?;
    let mut k = Kwargs { optimizer: name, map: kwargs, used: Vec::new() };
    let opt = match name {
        "sgd" => {
            let d = SgdConfig::default();
            let c = SgdConfig {
                lr: k.f64("lr", d.lr)?,
                momentum: k.f64("momentum", d.momentum)?,
                dampening: k.f64("dampening", d.dampening)?,
                weight_decay: k.f64("weight_decay", d.weight_decay)?,
                nesterov: k.bool("nesterov", d.nesterov)?,
                maximize: k.bool("maximize", d.maximize)?,
            };
            k.finish()?;
            boxed(c, n, policy, kernels)?
        }
        "adam" | "adamw" => {
            let d = if name == "adamw" { AdamConfig::adamw() } else { AdamConfig::default() };
            let c = AdamConfig {
                lr: k.f64("lr", d.lr)?,
                betas: k.pair_f64("betas", d.betas)?,
                eps: k.f64("eps", d.eps)?,
                weight_decay: k.f64("weight_decay", d.weight_decay)?,
                amsgrad: k.bool("amsgrad", d.amsgrad)?,
                maximize: k.bool("maximize", d.maximize)?,
                decoupled_weight_decay: k.bool("decoupled_weight_decay", d.decoupled_weight_decay)?,
            };
            k.finish()?;
            boxed(c, n, policy, kernels)?
        }
        "adagrad" => {
            let d = AdagradConfig::default();
            let c = AdagradConfig {
                lr: k.f64("lr", d.lr)?,
                lr_decay: k.f64("lr_decay", d.lr_decay)?,
                weight_decay: k.f64("weight_decay", d.weight_decay)?,
                initial_accumulator_value: k.f64("initial_accumulator_value", d.initial_accumulator_value)?,
                eps: k.f64("eps", d.eps)?,
                maximize: k.bool("maximize", d.maximize)?,
            };
            k.finish()?;
            boxed(c, n, policy, kernels)?
        }
        "rmsprop" => {
            let d = RmspropConfig::default();
            let c = RmspropConfig {
                lr: k.f64("lr", d.lr)?,
                alpha: k.f64("alpha", d.alpha)?,
                eps: k.f64("eps", d.eps)?,
                weight_decay: k.f64("weight_decay", d.weight_decay)?,
                momentum: k.f64("momentum", d.momentum)?,
                centered: k.bool("centered", d.centered)?,
                maximize: k.bool("maximize", d.maximize)?,
            };
            k.finish()?;
            boxed(c, n, policy, kernels)?
        }
        "adamax" => {
            let d = AdamaxConfig::default();
            let c = AdamaxConfig {
                lr: k.f64("lr", d.lr)?,
                betas: k.pair_f64("betas", d.betas)?,
                eps: k.f64("eps", d.eps)?,
                weight_decay: k.f64("weight_decay", d.weight_decay)?,
                maximize: k.bool("maximize", d.maximize)?,
            };
            k.finish()?;
            boxed(c, n, policy, kernels)?
        }
        "nadam" => {
            let d = NadamConfig::default();
            let c = NadamConfig {
                lr: k.f64("lr", d.lr)?,
                betas: k.pair_f64("betas", d.betas)?,
                eps: k.f64("eps", d.eps)?,
                weight_decay: k.f64("weight_decay", d.weight_decay)?,
                momentum_decay: k.f64("momentum_decay", d.momentum_decay)?,
                decoupled_weight_decay: k.bool("decoupled_weight_decay", d.decoupled_weight_decay)?,
                maximize: k.bool("maximize", d.maximize)?,
            };
            k.finish()?;
            boxed(c, n, policy, kernels)?
        }
        "radam" => {
            let d = RadamConfig::default();
            let c = RadamConfig {
                lr: k.f64("lr", d.lr)?,
                betas: k.pair_f64("betas", d.betas)?,
                eps: k.f64("eps", d.eps)?,
                weight_decay: k.f64("weight_decay", d.weight_decay)?,
                decoupled_weight_decay: k.bool("decoupled_weight_decay", d.decoupled_weight_decay)?,
                maximize: k.bool("maximize", d.maximize)?,
            };
            k.finish()?;
            boxed(c, n, policy, kernels)?
        }
        "adadelta" => {
            let d = AdadeltaConfig::default();
            let c = AdadeltaConfig {
                lr: k.f64("lr", d.lr)?,
                rho: k.f64("rho", d.rho)?,
                eps: k.f64("eps", d.eps)?,
                weight_decay: k.f64("weight_decay", d.weight_decay)?,
                maximize: k.bool("maximize", d.maximize)?,
            };
            k.finish()?;
            boxed(c, n, policy, kernels)?
        }
        "asgd" => {
            let d = AsgdConfig::default();
            let c = AsgdConfig {
                lr: k.f64("lr", d.lr)?,
                lambd: k.f64("lambd", d.lambd)?,
                alpha: k.f64("alpha", d.alpha)?,
                t0: k.f64("t0", d.t0)?,
                weight_decay: k.f64("weight_decay", d.weight_decay)?,
                maximize: k.bool("maximize", d.maximize)?,
            };
            k.finish()?;
            boxed(c, n, policy, kernels)?
        }
        "rprop" => {
            let d = RpropConfig::default();
            let c = RpropConfig {
                lr: k.f64("lr", d.lr)?,
                etas: k.pair_f64("etas", d.etas)?,
                step_sizes: k.pair_f64("step_sizes", d.step_sizes)?,
                maximize: k.bool("maximize", d.maximize)?,
            };
            k.finish()?;
            boxed(c, n, policy, kernels)?
        }
        "adafactor" => {
            let d = AdafactorConfig::default();
            let (e1, e2) = k.pair("eps", (d.eps.0, Some(d.eps.1)))?;
            let mut c = d;
            c.lr = k.f64("lr", d.lr)?;
            c.beta2_decay = k.f64("beta2_decay", d.beta2_decay)?;
            c.eps = (e1, e2.unwrap_or(d.eps.1));
            c.d = k.f64("d", d.d)?;
            c.weight_decay = k.f64("weight_decay", d.weight_decay)?;
            c.maximize = k.bool("maximize", d.maximize)?;
            k.finish()?;
            boxed(c.with_shape(shape)?, n, policy, kernels)?
        }
        "lion" => {
            let d = LionConfig::default();
            let c = LionConfig {
                lr: k.f64("lr", d.lr)?,
                betas: k.pair_f64("betas", d.betas)?,
                weight_decay: k.f64("weight_decay", d.weight_decay)?,
                maximize: k.bool("maximize", d.maximize)?,
            };
            k.finish()?;
            boxed(c, n, policy, kernels)?
        }
        other => {
            let known: Vec<&str> = descent_core::OPTIMIZERS.iter().map(|o| o.name).collect();
            return Err(BuildError::Spec(format!(
                "unknown optimizer '{other}' (known: {})",
                known.join(", ")
            )));
        }
    };
    Ok(opt)
}
