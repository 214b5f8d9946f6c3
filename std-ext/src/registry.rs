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
}

impl fmt::Display for BuildError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            BuildError::Spec(s) => f.write_str(s),
            BuildError::Invalid(e) => write!(f, "{e}"),
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
struct Kwargs<'a> {
    optimizer: &'a str,
    map: &'a Map<String, Value>,
    used: Vec<&'static str>,
}

impl<'a> Kwargs<'a> {
    fn spec_err(&self, key: &str, what: &str) -> BuildError {
        BuildError::Spec(format!("{}: hyperparameter '{key}' must be {what}", self.optimizer))
    }
    fn raw(&mut self, key: &'static str) -> Option<&'a Value> {
        self.used.push(key);
        self.map.get(key).filter(|v| !v.is_null())
    }
    fn f64(&mut self, key: &'static str, default: f64) -> Result<f64, BuildError> {
        match self.raw(key) {
            None => Ok(default),
            Some(v) => number(v).ok_or_else(|| self.spec_err(key, "a number")),
        }
    }
    fn bool(&mut self, key: &'static str, default: bool) -> Result<bool, BuildError> {
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
    fn pair_f64(&mut self, key: &'static str, default: (f64, f64)) -> Result<(f64, f64), BuildError> {
        let (a, b) = self.pair(key, (Some(default.0), Some(default.1)))?;
        match (a, b) {
            (Some(a), Some(b)) => Ok((a, b)),
            _ => Err(self.spec_err(key, "a list of two numbers")),
        }
    }
    fn finish(self) -> Result<(), BuildError> {
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

fn boxed<R, F>(config: R, n: usize, policy: NonFinitePolicy) -> Result<DynOptimizer<F>, BuildError>
where
    R: UpdateRule + Send + 'static,
    R::Scalars: Send,
    F: Real,
{
    let len = config.state_len(n);
    let opt = Optim::from_storage(config, HeapState(vec![F::ZERO; len]), n, policy)?;
    Ok(Box::new(opt))
}

/// Builds the optimizer named in `kwargs["name"]` for a parameter of `shape` (`n` elements).
pub fn build<F: Real>(
    kwargs: &Map<String, Value>,
    shape: &[usize],
    n: usize,
    policy: NonFinitePolicy,
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
            boxed(c, n, policy)?
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
            boxed(c, n, policy)?
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
            boxed(c, n, policy)?
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
            boxed(c, n, policy)?
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
            boxed(c, n, policy)?
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
            boxed(c, n, policy)?
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
            boxed(c, n, policy)?
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
            boxed(c, n, policy)?
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
            boxed(c, n, policy)?
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
            boxed(c, n, policy)?
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
            boxed(c.with_shape(shape)?, n, policy)?
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
            boxed(c, n, policy)?
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
