//! `descent replay`: run a conformance spec (see `tests/data/conformance/README.md`) and produce
//! the learning rate and parameters after every step, as PyTorch's generator script does.

use crate::registry::{self, BuildError, HeapState};
use descent_core::Optimizer;
use descent_core::averaged::{Average, Averaged};
use descent_core::lookahead::{Lookahead, LookaheadConfig};
use descent_core::sam::{Sam, SamConfig};
use descent_core::sparse_adam::{SparseAdamConfig, SparseAdamOptim, SparseGrad};
use descent_core::{NonFinitePolicy, Real};
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};
use std::fmt;

/// One parameter tensor of a spec.
#[derive(Debug, Clone, Deserialize, Serialize)]
pub struct Tensor {
    /// Its shape (row-major).
    pub shape: Vec<usize>,
    /// Its values, flattened.
    #[serde(deserialize_with = "py_floats::vec")]
    pub data: Vec<f64>,
}

/// A replay spec: optimizer, optional scheduler and clipping, parameters and per-step gradients.
#[derive(Debug, Clone, Deserialize, Serialize)]
pub struct Spec {
    /// Case name.
    #[serde(default)]
    pub name: String,
    /// `"f32"` or `"f64"`.
    pub dtype: String,
    /// The optimizer: `name` plus PyTorch keyword arguments.
    pub optimizer: Map<String, Value>,
    /// The scheduler, if any.
    #[serde(default)]
    pub scheduler: Option<Map<String, Value>>,
    /// Gradient clipping, if any.
    #[serde(default)]
    pub clip: Option<Map<String, Value>>,
    /// Initial parameters.
    pub params: Vec<Tensor>,
    /// Gradients: one entry per step, one flat gradient per tensor (absent in a spec with
    /// `sparse_grads`).
    #[serde(default, deserialize_with = "py_floats::vec3")]
    pub grads: Vec<Vec<Vec<f64>>>,
    /// Sparse gradients (`sparse_adam`): one entry per step, one per tensor, each
    /// `{"indices": [rows], "values": [[one row's values], ...]}` or `null` (no gradient: the
    /// tensor is not stepped and its step count does not advance, as PyTorch's `p.grad = None`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub sparse_grads: Option<Vec<Vec<Option<SparseGradSpec>>>>,
    /// Diagonal Hessian estimates for Sophia: one entry per step, `null` where none is given,
    /// else one flat estimate per tensor, folded into the optimizer's average
    /// ([`descent_core::Optimizer::update_hessian`]) before that step's update.
    #[serde(
        default,
        deserialize_with = "py_floats::opt_vec3_steps",
        skip_serializing_if = "Option::is_none"
    )]
    pub hessians: Option<Vec<Option<Vec<Vec<f64>>>>>,
    /// Metric per step for `reduce_lr_on_plateau`.
    #[serde(default, deserialize_with = "py_floats::opt_vec")]
    pub metrics: Option<Vec<f64>>,
    /// Parameter groups: each `{"params": [tensor indices], <optimizer keys it overrides>}`.
    /// Absent: one group holding every tensor.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub param_groups: Option<Vec<Map<String, Value>>>,
}

/// One tensor's sparse gradient at one step: the row indices it touches (repeats allowed; they
/// are summed) and each one's row of values (PyTorch's uncoalesced `sparse_coo_tensor` over the
/// first dimension).
#[derive(Debug, Clone, Deserialize, Serialize)]
pub struct SparseGradSpec {
    /// Row indices into the tensor's first dimension.
    pub indices: Vec<usize>,
    /// For each index, its row (the tensor's other dimensions, flattened).
    #[serde(deserialize_with = "py_floats::vec2")]
    pub values: Vec<Vec<f64>>,
}

/// Floats as Python's `json` writes them: numbers, and `NaN`, `Infinity`, `-Infinity` (quoted by
/// [`parse`] before serde sees them), so a spec can hold non-finite gradients.
mod py_floats {
    use serde::{Deserialize, Deserializer, de::Error};

    #[derive(Deserialize)]
    #[serde(untagged)]
    enum PyFloat {
        Num(f64),
        Text(String),
    }

    fn value<E: Error>(f: PyFloat) -> Result<f64, E> {
        match f {
            PyFloat::Num(x) => Ok(x),
            PyFloat::Text(t) => match t.as_str() {
                "NaN" => Ok(f64::NAN),
                "Infinity" => Ok(f64::INFINITY),
                "-Infinity" => Ok(f64::NEG_INFINITY),
                other => Err(E::custom(format!("expected a number, got the string {other:?}"))),
            },
        }
    }

    fn list<E: Error>(v: Vec<PyFloat>) -> Result<Vec<f64>, E> {
        v.into_iter().map(value).collect()
    }

    pub fn vec<'de, D: Deserializer<'de>>(d: D) -> Result<Vec<f64>, D::Error> {
        list(Vec::<PyFloat>::deserialize(d)?)
    }

    pub fn opt_vec<'de, D: Deserializer<'de>>(d: D) -> Result<Option<Vec<f64>>, D::Error> {
        Option::<Vec<PyFloat>>::deserialize(d)?.map(list).transpose()
    }

    pub fn vec2<'de, D: Deserializer<'de>>(d: D) -> Result<Vec<Vec<f64>>, D::Error> {
        Vec::<Vec<PyFloat>>::deserialize(d)?.into_iter().map(list).collect()
    }

    /// Per step: nothing, or one list of values per tensor.
    pub type Steps = Vec<Option<Vec<Vec<f64>>>>;

    pub fn opt_vec3_steps<'de, D: Deserializer<'de>>(d: D) -> Result<Option<Steps>, D::Error> {
        let Some(steps) = Option::<Vec<Option<Vec<Vec<PyFloat>>>>>::deserialize(d)? else { return Ok(None) };
        steps
            .into_iter()
            .map(|step| step.map(|tensors| tensors.into_iter().map(list).collect()).transpose())
            .collect::<Result<Vec<_>, _>>()
            .map(Some)
    }

    pub fn vec3<'de, D: Deserializer<'de>>(d: D) -> Result<Vec<Vec<Vec<f64>>>, D::Error> {
        Vec::<Vec<Vec<PyFloat>>>::deserialize(d)?
            .into_iter()
            .map(|step| step.into_iter().map(list).collect())
            .collect()
    }
}

/// What a replay produces: the lr each step used and the parameters after each step.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Trace {
    /// Learning rate of the first parameter group at each step.
    pub lr: Vec<f64>,
    /// With parameter groups: at each step, every group's learning rate (in group order).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub lrs: Option<Vec<Vec<f64>>>,
    /// After each step, every tensor flattened.
    pub params: Vec<Vec<Vec<f64>>>,
    /// For a wrapper that keeps averaged parameters (lookahead's slow parameters) and for
    /// schedule-free SGD and AdamW (their evaluation parameters x, optax's
    /// `schedule_free_eval_params`): after each step, every tensor flattened.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub averaged: Option<Vec<Vec<Vec<f64>>>>,
}

impl Trace {
    /// The trace as JSON, `{"lr": [...], "params": [...]}`, with NaN and ±∞ written as Python's
    /// json writes them (`NaN`, `Infinity`, `-Infinity`), which [`parse_expected`] reads back
    /// (serde_json would write `null`, losing the sign of an infinity).
    pub fn to_json(&self) -> String {
        fn num(out: &mut String, x: f64) {
            match x {
                x if x.is_nan() => out.push_str("NaN"),
                f64::INFINITY => out.push_str("Infinity"),
                f64::NEG_INFINITY => out.push_str("-Infinity"),
                // A finite f64 always serializes.
                x => out.push_str(&serde_json::to_string(&x).unwrap_or_default()),
            }
        }
        fn list<T>(out: &mut String, xs: &[T], mut item: impl FnMut(&mut String, &T)) {
            out.push('[');
            for (i, x) in xs.iter().enumerate() {
                if i > 0 {
                    out.push(',');
                }
                item(out, x);
            }
            out.push(']');
        }
        let mut out = String::from("{\"lr\":");
        list(&mut out, &self.lr, |o, &x| num(o, x));
        if let Some(lrs) = &self.lrs {
            out.push_str(",\"lrs\":");
            list(&mut out, lrs, |o, step| list(o, step, |o, &x| num(o, x)));
        }
        out.push_str(",\"params\":");
        list(&mut out, &self.params, |o, step| list(o, step, |o, t| list(o, t, |o, &x| num(o, x))));
        if let Some(averaged) = &self.averaged {
            out.push_str(",\"averaged\":");
            list(&mut out, averaged, |o, step| list(o, step, |o, t| list(o, t, |o, &x| num(o, x))));
        }
        out.push('}');
        out
    }
}

/// Why a replay failed.
#[derive(Debug, Clone, PartialEq)]
pub enum ReplayError {
    /// The spec is malformed (bad JSON, unknown name, wrong lengths).
    Spec(String),
    /// PyTorch would refuse this configuration; the message is PyTorch's.
    Refused(String),
}

impl fmt::Display for ReplayError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            ReplayError::Spec(s) => write!(f, "malformed spec: {s}"),
            ReplayError::Refused(s) => f.write_str(s),
        }
    }
}

impl std::error::Error for ReplayError {}

impl From<BuildError> for ReplayError {
    fn from(e: BuildError) -> Self {
        match e {
            BuildError::Spec(s) => ReplayError::Spec(s),
            BuildError::Invalid(e) => ReplayError::Refused(e.to_string()),
            BuildError::Refused(s) => ReplayError::Refused(s),
        }
    }
}

/// Parses a spec from JSON text. Python's `json` writes the non-standard tokens `Infinity`,
/// `-Infinity` and `NaN` (e.g. `"norm_type": Infinity`); they are accepted where a hyperparameter
/// is expected.
pub fn parse(text: &str) -> Result<Spec, ReplayError> {
    serde_json::from_str(&quote_python_specials(text)).map_err(|e| ReplayError::Spec(format!("{e}")))
}

/// Quotes the bare tokens `Infinity`, `-Infinity` and `NaN` outside strings.
fn quote_python_specials(text: &str) -> std::borrow::Cow<'_, str> {
    if !text.contains("Infinity") && !text.contains("NaN") {
        return std::borrow::Cow::Borrowed(text);
    }
    let mut out = String::with_capacity(text.len() + 16);
    let mut in_string = false;
    let mut escaped = false;
    let mut rest = text;
    while let Some(c) = rest.chars().next() {
        if in_string {
            out.push(c);
            if escaped {
                escaped = false;
            } else if c == '\\' {
                escaped = true;
            } else if c == '"' {
                in_string = false;
            }
            rest = &rest[c.len_utf8()..];
            continue;
        }
        if c == '"' {
            in_string = true;
        }
        let token = ["-Infinity", "Infinity", "NaN"].into_iter().find(|t| rest.starts_with(t));
        match token {
            Some(t) => {
                out.push('"');
                out.push_str(t);
                out.push('"');
                rest = &rest[t.len()..];
            }
            None => {
                out.push(c);
                rest = &rest[c.len_utf8()..];
            }
        }
    }
    std::borrow::Cow::Owned(out)
}

/// Replays `spec` in its dtype.
pub fn replay(spec: &Spec) -> Result<Trace, ReplayError> {
    match spec.dtype.as_str() {
        "f32" => run::<f32>(spec),
        "f64" => run::<f64>(spec),
        other => Err(ReplayError::Spec(format!("dtype must be \"f32\" or \"f64\", not {other:?}"))),
    }
}

fn check_shapes(spec: &Spec) -> Result<(), ReplayError> {
    for (i, t) in spec.params.iter().enumerate() {
        let Some(numel) = t.shape.iter().try_fold(1usize, |a, &d| a.checked_mul(d)) else {
            return Err(ReplayError::Spec(format!(
                "params[{i}]: shape {:?} has more elements than a machine can address",
                t.shape
            )));
        };
        if numel != t.data.len() {
            return Err(ReplayError::Spec(format!(
                "params[{i}]: shape {:?} has {numel} elements, data has {}",
                t.shape,
                t.data.len()
            )));
        }
    }
    for (k, step) in spec.grads.iter().enumerate() {
        if step.len() != spec.params.len() {
            return Err(ReplayError::Spec(format!(
                "grads[{k}] has {} tensors, params has {}",
                step.len(),
                spec.params.len()
            )));
        }
        for (i, (g, t)) in step.iter().zip(&spec.params).enumerate() {
            if g.len() != t.data.len() {
                return Err(ReplayError::Spec(format!(
                    "grads[{k}][{i}] has {} values, params[{i}] has {}",
                    g.len(),
                    t.data.len()
                )));
            }
        }
    }
    if let Some(hessians) = &spec.hessians {
        if hessians.len() != spec.grads.len() {
            return Err(ReplayError::Spec(format!(
                "hessians has {} entries, grads has {} (one per step, null where none is given)",
                hessians.len(),
                spec.grads.len()
            )));
        }
        for (k, step) in hessians.iter().enumerate() {
            let Some(step) = step else { continue };
            if step.len() != spec.params.len() {
                return Err(ReplayError::Spec(format!(
                    "hessians[{k}] has {} tensors, params has {}",
                    step.len(),
                    spec.params.len()
                )));
            }
            for (i, (h, t)) in step.iter().zip(&spec.params).enumerate() {
                if h.len() != t.data.len() {
                    return Err(ReplayError::Spec(format!(
                        "hessians[{k}][{i}] has {} values, params[{i}] has {}",
                        h.len(),
                        t.data.len()
                    )));
                }
            }
        }
    }
    Ok(())
}

/// The spec's parameter groups: its `param_groups`, or one group holding every tensor.
fn groups_of(spec: &Spec) -> Result<Vec<registry::GroupSpec>, ReplayError> {
    let Some(groups) = &spec.param_groups else {
        return Ok(vec![registry::GroupSpec {
            tensors: (0..spec.params.len()).collect(),
            ..Default::default()
        }]);
    };
    groups
        .iter()
        .enumerate()
        .map(|(g, m)| {
            let tensors = m
                .get("params")
                .and_then(Value::as_array)
                .and_then(|a| a.iter().map(|v| v.as_u64().map(|i| i as usize)).collect::<Option<Vec<_>>>())
                .ok_or_else(|| {
                    ReplayError::Spec(format!("param_groups[{g}]: 'params' must be a list of tensor indices"))
                })?;
            Ok(registry::GroupSpec { tensors, overrides: m.clone(), frozen: false })
        })
        .collect()
}

fn run<F: Real>(spec: &Spec) -> Result<Trace, ReplayError> {
    check_shapes(spec)?;
    let name = spec.optimizer.get("name").and_then(Value::as_str);
    if spec.sparse_grads.is_some() || name == Some(SparseAdamConfig::NAME) {
        return run_sparse::<F>(spec);
    }
    // One optimizer over every tensor, laid out one after another, in the spec's groups; each
    // tensor is updated as PyTorch updates it (per-tensor state and steps; Adafactor, Muon, LAMB
    // and LARS per tensor).
    let shapes: Vec<Vec<usize>> = spec.params.iter().map(|t| t.shape.clone()).collect();
    let groups = groups_of(spec)?;
    let (inner, lookahead) = wrapper_of(&spec.optimizer)?;
    let mut built = registry::build_grouped::<F>(
        inner,
        &shapes,
        &groups,
        NonFinitePolicy::Propagate,
        registry::Kernels::Best,
    )
    .map_err(|e| in_torch_words(e, &shapes))?;
    let mut params: Vec<F> =
        spec.params.iter().flat_map(|t| t.data.iter().map(|&x| F::from_f64(x))).collect();
    let refused = |e: descent_core::Error| ReplayError::Refused(e.to_string());
    let mut stepper = match lookahead {
        Some(Wrapper::Lookahead(config)) => {
            let slow = HeapState(vec![F::ZERO; params.len()]);
            Stepper::Lookahead(Lookahead::new(built.as_mut(), config, slow, &params).map_err(refused)?)
        }
        Some(Wrapper::Sam(config)) => {
            let theta = HeapState(vec![F::ZERO; params.len()]);
            Stepper::Sam(Sam::new(built.as_mut(), config, theta).map_err(refused)?)
        }
        Some(Wrapper::Averaged(average)) => {
            let avg = Averaged::new(average, HeapState(vec![F::ZERO; params.len()]), params.len())
                .map_err(refused)?;
            Stepper::Averaged(built.as_mut(), avg)
        }
        None => Stepper::Plain(built.as_mut()),
    };
    let mut scheduler = match &spec.scheduler {
        Some(m) => {
            let base_lrs = group_lrs(&*stepper.opt());
            let has_momentum = stepper.opt().momentum().is_some();
            let mut s = crate::schedule_spec::build(m, &base_lrs, has_momentum)?;
            s.start(stepper.opt()).map_err(|e| ReplayError::Refused(e.to_string()))?;
            Some(s)
        }
        None => None,
    };
    let clip = spec.clip.as_ref().map(clip_spec).transpose()?;
    let plateau = matches!(scheduler, Some(crate::schedule_spec::Scheduler::Plateau(_)));
    if plateau && spec.metrics.as_ref().is_none_or(|m| m.len() < spec.grads.len()) {
        return Err(ReplayError::Spec("reduce_lr_on_plateau needs one metric per step in 'metrics'".into()));
    }
    let lens: Vec<usize> = spec.params.iter().map(|t| t.data.len()).collect();
    let mut grads: Vec<F> = vec![F::ZERO; params.len()];
    let steps = spec.grads.len();
    let mut trace = Trace {
        lr: Vec::with_capacity(steps),
        lrs: spec.param_groups.as_ref().map(|_| Vec::with_capacity(steps)),
        params: Vec::with_capacity(steps),
        averaged: (stepper.averaged().is_some() || stepper.opt().has_eval_params())
            .then(|| Vec::with_capacity(steps)),
    };
    // Schedule-free's evaluation parameters (optax.contrib.schedule_free_eval_params).
    let mut eval = vec![F::ZERO; params.len()];
    for (k, step) in spec.grads.iter().enumerate() {
        for (d, &s) in grads.iter_mut().zip(step.iter().flatten()) {
            *d = F::from_f64(s);
        }
        if let Some(c) = clip {
            let mut views = split_mut(&mut grads, &lens);
            match c {
                Clip::Norm { max_norm, norm, error_if_nonfinite } => {
                    descent_core::clip::clip_grad_norm(&mut views, max_norm, norm, error_if_nonfinite)
                        .map(|_| ())
                }
                Clip::Value(v) => descent_core::clip::clip_grad_value(&mut views, v),
            }
            .map_err(|e| c.refusal(k, e))?;
        }
        if let Some(Some(estimate)) = spec.hessians.as_ref().and_then(|h| h.get(k)) {
            let flat: Vec<F> = estimate.iter().flatten().map(|&x| F::from_f64(x)).collect();
            stepper
                .opt()
                .update_hessian(&flat)
                .map_err(|e| ReplayError::Spec(format!("hessians[{k}]: {e}")))?;
        }
        trace.lr.push(stepper.opt().lr());
        if let Some(lrs) = trace.lrs.as_mut() {
            lrs.push(group_lrs(&*stepper.opt()));
        }
        stepper.opt().step(&mut params, &grads).map_err(|e| ReplayError::Spec(e.to_string()))?;
        if let Stepper::Averaged(_, avg) = &mut stepper {
            avg.update(&params).map_err(|e| ReplayError::Spec(e.to_string()))?;
        }
        trace.params.push(tensors(&params, &lens));
        if let (Some(avg), Some(slow)) = (trace.averaged.as_mut(), stepper.averaged()) {
            avg.push(tensors(slow, &lens));
        } else if let Some(avg) = trace.averaged.as_mut() {
            stepper.opt().eval_params(&params, &mut eval).map_err(|e| ReplayError::Spec(e.to_string()))?;
            avg.push(tensors(&eval, &lens));
        }
        if let Some(s) = scheduler.as_mut() {
            let metric = spec.metrics.as_ref().and_then(|m| m.get(k)).copied();
            s.advance(stepper.opt(), metric).map_err(|e| ReplayError::Refused(e.to_string()))?;
        }
    }
    Ok(trace)
}

/// A spec of `sparse_adam` (`torch.optim.SparseAdam`): one SparseAdam per tensor (PyTorch's
/// per-tensor state and step count), each tensor a table of `shape[0]` rows, stepped with its
/// sparse gradient of each step.
fn run_sparse<F: Real>(spec: &Spec) -> Result<Trace, ReplayError> {
    let name = spec.optimizer.get("name").and_then(Value::as_str).unwrap_or("");
    let Some(steps) = &spec.sparse_grads else {
        // PyTorch's step refuses dense gradients.
        if spec.grads.is_empty() {
            return Err(ReplayError::Spec("sparse_adam: missing 'sparse_grads' (one entry per step)".into()));
        }
        // PyTorch refuses an invalid configuration at construction, before any step.
        sparse_config(&spec.optimizer)?;
        return Err(ReplayError::Refused(descent_core::sparse_adam::DENSE_REFUSED.into()));
    };
    if name != SparseAdamConfig::NAME {
        return Err(ReplayError::Spec(format!(
            "'sparse_grads' needs the optimizer sparse_adam; {name} takes dense gradients ('grads')"
        )));
    }
    if !spec.grads.is_empty() {
        return Err(ReplayError::Spec("a spec has 'grads' or 'sparse_grads', not both".into()));
    }
    for (what, present) in [
        ("scheduler", spec.scheduler.is_some()),
        ("clip", spec.clip.is_some()),
        ("param_groups", spec.param_groups.is_some()),
    ] {
        if present {
            return Err(ReplayError::Spec(format!(
                "sparse_adam: '{what}' is not supported with sparse gradients"
            )));
        }
    }
    let config = sparse_config(&spec.optimizer)?;
    // (rows, cols) of each tensor: its first dimension, and the rest flattened.
    let tables: Vec<(usize, usize)> = spec
        .params
        .iter()
        .enumerate()
        .map(|(i, t)| match t.shape.split_first() {
            Some((&rows, rest)) => Ok((rows, rest.iter().product())),
            None => Err(ReplayError::Spec(format!(
                "params[{i}]: sparse_adam needs a tensor of at least one dimension"
            ))),
        })
        .collect::<Result<_, _>>()?;
    let refused = |e: descent_core::Error| ReplayError::Refused(e.to_string());
    let mut opts = Vec::with_capacity(tables.len());
    for &(rows, cols) in &tables {
        let state = HeapState(vec![F::ZERO; 2 * rows * cols]);
        opts.push(
            SparseAdamOptim::from_storage(config, state, rows, cols, NonFinitePolicy::Propagate)
                .map_err(refused)?,
        );
    }
    let mut params: Vec<Vec<F>> =
        spec.params.iter().map(|t| t.data.iter().map(|&x| F::from_f64(x)).collect()).collect();
    let mut trace =
        Trace { lr: Vec::with_capacity(steps.len()), lrs: None, params: Vec::new(), averaged: None };
    let mut indices = Vec::new();
    let mut values: Vec<F> = Vec::new();
    for (k, step) in steps.iter().enumerate() {
        if step.len() != tables.len() {
            return Err(ReplayError::Spec(format!(
                "sparse_grads[{k}] has {} tensors, params has {}",
                step.len(),
                tables.len()
            )));
        }
        trace.lr.push(config.lr);
        for (i, ((grad, opt), p)) in step.iter().zip(&mut opts).zip(&mut params).enumerate() {
            let Some(grad) = grad else { continue };
            let cols = opt.cols();
            if grad.values.len() != grad.indices.len() {
                return Err(ReplayError::Spec(format!(
                    "sparse_grads[{k}][{i}] has {} indices and {} rows of values",
                    grad.indices.len(),
                    grad.values.len()
                )));
            }
            if let Some((j, row)) = grad.values.iter().enumerate().find(|(_, r)| r.len() != cols) {
                return Err(ReplayError::Spec(format!(
                    "sparse_grads[{k}][{i}].values[{j}] has {} values, a row of params[{i}] has {cols}",
                    row.len()
                )));
            }
            indices.clone_from(&grad.indices);
            values.clear();
            values.extend(grad.values.iter().flatten().map(|&x| F::from_f64(x)));
            opt.step(p, SparseGrad { indices: &indices, values: &values })
                .map_err(|e| ReplayError::Spec(format!("sparse_grads[{k}][{i}]: {e}")))?;
        }
        trace.params.push(p_f64(&params));
    }
    Ok(trace)
}

/// Every tensor as f64.
fn p_f64<F: Real>(params: &[Vec<F>]) -> Vec<Vec<f64>> {
    params.iter().map(|t| t.iter().map(|x| x.as_f64()).collect()).collect()
}

/// SparseAdam's configuration from a spec's optimizer object (PyTorch's keys; the others refused).
fn sparse_config(m: &Map<String, Value>) -> Result<SparseAdamConfig, ReplayError> {
    let mut k = registry::Kwargs::new(SparseAdamConfig::NAME, m);
    let config = registry::parse(&mut k, SparseAdamConfig::default())?;
    k.finish()?;
    config.validate().map_err(|e| ReplayError::Refused(e.to_string()))?;
    Ok(config)
}

/// Every group's learning rate.
fn group_lrs<F: Real>(o: &dyn Optimizer<F>) -> Vec<f64> {
    (0..o.groups()).map(|g| o.group_lr(g).unwrap_or(f64::NAN)).collect()
}

/// `flat` cut into tensors of `lens` values, as f64.
fn tensors<F: Real>(flat: &[F], lens: &[usize]) -> Vec<Vec<f64>> {
    let mut at = 0;
    lens.iter()
        .map(|&n| {
            let t = flat[at..at + n].iter().map(|x| x.as_f64()).collect();
            at += n;
            t
        })
        .collect()
}

/// The optimizer a replay steps: the one built from the spec, or a wrapper around it.
enum Stepper<'a, F: Real> {
    /// The optimizer itself.
    Plain(&'a mut (dyn Optimizer<F> + Send + 'static)),
    /// `optax.lookahead` around it.
    Lookahead(Lookahead<&'a mut (dyn Optimizer<F> + Send + 'static), F, HeapState<F>>),
    /// `optax.contrib.sam` around it (transparent mode).
    Sam(Sam<&'a mut (dyn Optimizer<F> + Send + 'static), F, HeapState<F>>),
    /// It, and PyTorch's `AveragedModel` (SWA or EMA) updated after every step.
    Averaged(&'a mut (dyn Optimizer<F> + Send + 'static), Averaged<F, HeapState<F>>),
}

/// A wrapper around the optimizer a spec names.
enum Wrapper {
    /// `optax.lookahead`.
    Lookahead(LookaheadConfig),
    /// `torch.optim.swa_utils.AveragedModel`.
    Averaged(Average),
    /// `optax.contrib.sam` with the paper's normalized-SGD adversary.
    Sam(SamConfig),
}

impl<F: Real> Stepper<'_, F> {
    fn opt(&mut self) -> &mut dyn Optimizer<F> {
        match self {
            Stepper::Plain(o) | Stepper::Averaged(o, _) => *o,
            Stepper::Lookahead(l) => l,
            Stepper::Sam(s) => s,
        }
    }
    /// The averaged parameters a wrapper keeps (lookahead's slow ones).
    fn averaged(&self) -> Option<&[F]> {
        match self {
            Stepper::Plain(_) | Stepper::Sam(_) => None,
            Stepper::Lookahead(l) => Some(l.slow()),
            Stepper::Averaged(_, a) => Some(a.params()),
        }
    }
}

/// The optimizer to build and the wrapper around it: `{"name": "lookahead", "sync_period",
/// "slow_step_size", "reset_state", "inner": {optimizer}}` (optax.lookahead's keys; its `lr`, if
/// given, must be the inner optimizer's), `{"name": "swa", "inner": …}` or `{"name": "ema",
/// "decay", "inner": …}` (PyTorch's `AveragedModel`, updated after every step), `{"name": "sam",
/// "rho", "sync_period", "inner": …}` (`optax.contrib.sam`, one call per gradient), or the
/// optimizer itself.
fn wrapper_of(m: &Map<String, Value>) -> Result<(&Map<String, Value>, Option<Wrapper>), ReplayError> {
    let name = m.get("name").and_then(Value::as_str).unwrap_or("");
    if !["lookahead", "swa", "ema", "sam"].contains(&name) {
        return Ok((m, None));
    }
    let inner = m.get("inner").and_then(Value::as_object).ok_or_else(|| {
        ReplayError::Spec(format!("{name}: missing object 'inner' (the optimizer it wraps)"))
    })?;
    let mut k = registry::Kwargs::new(name, m);
    k.raw("inner");
    let wrapper = match name {
        "lookahead" => {
            let sync_period = k.uint("sync_period", None)?;
            let slow_step_size = k.req_f64("slow_step_size")?;
            let reset_state = k.bool("reset_state", false)?;
            if let Some(lr) = k.raw("lr").and_then(registry::number)
                && inner.get("lr").and_then(registry::number) != Some(lr)
            {
                return Err(ReplayError::Spec("lookahead: 'lr' must equal the inner optimizer's".into()));
            }
            Wrapper::Lookahead(LookaheadConfig { sync_period, slow_step_size, reset_state })
        }
        "ema" => Wrapper::Averaged(Average::Ema { decay: k.f64("decay", 0.999)? }),
        "sam" => {
            let d = SamConfig::default();
            Wrapper::Sam(SamConfig {
                rho: k.f64("rho", d.rho)?,
                sync_period: k.uint("sync_period", Some(d.sync_period))?,
            })
        }
        _ => Wrapper::Averaged(Average::Swa),
    };
    k.finish()?;
    Ok((inner, Some(wrapper)))
}

/// A build error in PyTorch's words where they say more than descent's: `torch.optim.Muon` names
/// the shape of the tensor it refuses.
fn in_torch_words(e: BuildError, shapes: &[Vec<usize>]) -> ReplayError {
    match e {
        BuildError::Invalid(descent_core::Error::TensorRefused { tensor, reason })
            if reason == "Muon only supports 2D parameters" =>
        {
            let shape = shapes.get(tensor).map_or_else(String::new, |s| format!("{s:?}"));
            ReplayError::Refused(format!(
                "{reason} whereas we found a parameter with size: torch.Size({shape})"
            ))
        }
        e => e.into(),
    }
}

/// Cuts `flat` into consecutive slices of `lens`.
fn split_mut<'a, F>(mut flat: &'a mut [F], lens: &[usize]) -> Vec<&'a mut [F]> {
    lens.iter()
        .map(|&n| {
            let (head, tail) = std::mem::take(&mut flat).split_at_mut(n);
            flat = tail;
            head
        })
        .collect()
}

/// Gradient clipping of a spec.
#[derive(Debug, Clone, Copy)]
enum Clip {
    /// `clip_grad_norm_(max_norm, norm_type, error_if_nonfinite)`.
    Norm { max_norm: f64, norm: descent_core::clip::NormType, error_if_nonfinite: bool },
    /// `clip_grad_value_(clip_value)`.
    Value(f64),
}

impl Clip {
    /// Why clipping at step `k` stopped the replay. A non-finite total norm with
    /// `error_if_nonfinite` gets PyTorch's wording, which names the option.
    fn refusal(&self, k: usize, e: descent_core::Error) -> ReplayError {
        use descent_core::clip::NormType;
        match (self, e) {
            (Clip::Norm { norm, .. }, descent_core::Error::NonFinite { .. }) => {
                let order = match norm {
                    NormType::L1 => "1.0",
                    NormType::L2 => "2.0",
                    NormType::Inf => "inf",
                };
                ReplayError::Refused(format!(
                    "step {k}: The total norm of order {order} for gradients from `parameters` is \
                     non-finite, so it cannot be clipped (error_if_nonfinite=True)"
                ))
            }
            (Clip::Norm { .. }, e) => ReplayError::Refused(format!("step {k}: clip_grad_norm: {e}")),
            (Clip::Value(_), e) => ReplayError::Refused(format!("step {k}: clip_grad_value: {e}")),
        }
    }
}

fn clip_spec(m: &Map<String, Value>) -> Result<Clip, ReplayError> {
    let name = m.get("name").and_then(Value::as_str).unwrap_or("");
    let mut k = crate::registry::Kwargs::new(name, m);
    let c = match name {
        "clip_grad_norm" => {
            let max_norm = k.req_f64("max_norm")?;
            let p = k.f64("norm_type", 2.0)?;
            let error_if_nonfinite = k.bool("error_if_nonfinite", false)?;
            let norm =
                descent_core::clip::NormType::from_f64(p).map_err(|e| ReplayError::Spec(e.to_string()))?;
            Clip::Norm { max_norm, norm, error_if_nonfinite }
        }
        "clip_grad_value" => Clip::Value(k.req_f64("clip_value")?),
        other => {
            return Err(ReplayError::Spec(format!(
                "unknown clip '{other}' (clip_grad_norm, clip_grad_value)"
            )));
        }
    };
    k.finish()?;
    Ok(c)
}

/// The conformance tolerances (`tests/data/conformance/README.md`): a value a agrees with PyTorch's
/// e when |a − e| ≤ atol + rtol·|e|.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Tolerance {
    /// Relative tolerance.
    pub rtol: f64,
    /// Absolute tolerance.
    pub atol: f64,
}

impl Tolerance {
    /// f64: rtol 1e-9, atol 1e-12; f32 (any other dtype): rtol 1e-5, atol 1e-6.
    pub fn for_dtype(dtype: &str) -> Self {
        if dtype == "f64" {
            Tolerance { rtol: 1e-9, atol: 1e-12 }
        } else {
            Tolerance { rtol: 1e-5, atol: 1e-6 }
        }
    }
    /// The tolerances of a spec: its dtype's, except Muon's (rtol 1e-3, atol 1e-4: PyTorch runs
    /// its Newton–Schulz iteration in bfloat16, whose rounding the conformance README allows for).
    pub fn for_spec(spec: &Spec) -> Self {
        if spec.optimizer.get("name").and_then(Value::as_str) == Some("muon") {
            Tolerance { rtol: 1e-3, atol: 1e-4 }
        } else {
            Self::for_dtype(&spec.dtype)
        }
    }
    /// The allowed |a − e| for an expected value e.
    pub fn allowed(&self, e: f64) -> f64 {
        self.atol + self.rtol * e.abs()
    }
    /// Whether `a` agrees with `e` (NaN agrees with NaN, and equal infinities agree).
    pub fn agrees(&self, a: f64, e: f64) -> bool {
        (a - e).abs() <= self.allowed(e) || (a.is_nan() && e.is_nan()) || a == e
    }
}

/// How closely a trace agrees with PyTorch's.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Agreement {
    /// Steps compared.
    pub steps: usize,
    /// Parameter values compared (over all steps).
    pub values: usize,
    /// The largest |a − e| / (atol + rtol·|e|) seen: below 1 everywhere when they agree.
    pub worst: f64,
}

/// Whether `actual` agrees with PyTorch's `expected` at the conformance tolerances
/// ([`Tolerance::for_dtype`]). On disagreement, says where first: the step, the tensor, the
/// element, both values and the tolerance.
pub fn compare(dtype: &str, actual: &Trace, expected: &Trace) -> Result<Agreement, String> {
    compare_as("descent", Tolerance::for_dtype(dtype), actual, expected)
}

/// [`compare`], calling the side being checked `who` in the messages (`"descent"`, or the file of
/// another implementation's trace).
pub fn compare_as(who: &str, tol: Tolerance, actual: &Trace, expected: &Trace) -> Result<Agreement, String> {
    for (side, t) in [(who, actual), ("PyTorch", expected)] {
        if t.lr.len() != t.params.len() {
            return Err(format!(
                "{side}'s trace has {} learning rates for {} steps of parameters",
                t.lr.len(),
                t.params.len()
            ));
        }
    }
    if actual.params.len() != expected.params.len() {
        return Err(format!(
            "step counts differ: {who} has {} steps, PyTorch {}",
            actual.params.len(),
            expected.params.len()
        ));
    }
    let mut agreement = Agreement { steps: actual.params.len(), values: 0, worst: 0.0 };
    let mut check = |a: f64, e: f64, at: &dyn Fn() -> String| {
        if !tol.agrees(a, e) {
            return Err(format!(
                "{}: {who} {a:e}, PyTorch {e:e} (|diff| {:e} > tolerance {:e})",
                at(),
                (a - e).abs(),
                tol.allowed(e)
            ));
        }
        if a != e && !(a.is_nan() && e.is_nan()) {
            agreement.worst = agreement.worst.max((a - e).abs() / tol.allowed(e));
        }
        Ok(())
    };
    for (k, (ts_a, ts_e)) in actual.params.iter().zip(&expected.params).enumerate() {
        check(actual.lr[k], expected.lr[k], &|| format!("lr at step {k}"))?;
        if let (Some(a), Some(e)) = (&actual.lrs, &expected.lrs) {
            let (a, e) = (a.get(k).map_or(&[][..], Vec::as_slice), e.get(k).map_or(&[][..], Vec::as_slice));
            if a.len() != e.len() {
                return Err(format!("step {k}: {who} has {} groups, PyTorch {}", a.len(), e.len()));
            }
            for (g, (x, y)) in a.iter().zip(e).enumerate() {
                check(*x, *y, &|| format!("lr of group {g} at step {k}"))?;
            }
        }
        // The parameters, then the averaged ones where the expected trace has them.
        let averaged = match (&actual.averaged, &expected.averaged) {
            (_, None) => None,
            (Some(a), Some(e)) => Some((a.get(k), e.get(k))),
            (None, Some(_)) => return Err(format!("{who} has no averaged parameters; PyTorch has")),
        };
        let sets = [("", Some(ts_a), Some(ts_e))].into_iter();
        let sets = sets.chain(averaged.map(|(a, e)| ("averaged ", a, e)));
        for (what, ts_a, ts_e) in sets {
            let (ts_a, ts_e) = match (ts_a, ts_e) {
                (Some(a), Some(e)) => (a, e),
                _ => return Err(format!("step {k}: {what}parameters missing")),
            };
            if ts_a.len() != ts_e.len() {
                return Err(format!(
                    "step {k}: {who} has {} {what}tensors, PyTorch {}",
                    ts_a.len(),
                    ts_e.len()
                ));
            }
            for (i, (ta, te)) in ts_a.iter().zip(ts_e).enumerate() {
                if ta.len() != te.len() {
                    return Err(format!(
                        "step {k}, {what}tensor {i}: {who} has {} values, PyTorch {}",
                        ta.len(),
                        te.len()
                    ));
                }
                for (j, (a, e)) in ta.iter().zip(te).enumerate() {
                    check(*a, *e, &|| format!("step {k}, {what}tensor {i}, element {j}"))?;
                }
                agreement.values += ta.len();
            }
        }
    }
    Ok(agreement)
}

/// What PyTorch produced for a spec (`NAME.expected.json`): the trace, or the message of the error
/// it raised for a configuration it refuses.
#[derive(Debug, Clone, PartialEq)]
pub enum Expected {
    /// `{"lr": [...], "params": [...]}`.
    Trace(Trace),
    /// `{"error": "..."}`.
    Error(String),
}

/// Parses an expected file. Python's `json` writes `NaN` and `Infinity` for non-finite values;
/// they are accepted (and `null` is read as NaN, as serde writes it).
pub fn parse_expected(text: &str) -> Result<Expected, ReplayError> {
    let bad = |what: &str| ReplayError::Spec(format!("expected result: {what}"));
    let v: Value = serde_json::from_str(&quote_python_specials(text)).map_err(|e| bad(&e.to_string()))?;
    if let Some(e) = v.get("error") {
        return e
            .as_str()
            .map(|m| Expected::Error(m.to_string()))
            .ok_or_else(|| bad("'error' must be a string"));
    }
    let floats = |v: &Value, what: &str| -> Result<Vec<f64>, ReplayError> {
        let arr = v.as_array().ok_or_else(|| bad(&format!("{what} must be a list of numbers")))?;
        arr.iter()
            .map(|x| {
                if x.is_null() {
                    Ok(f64::NAN)
                } else {
                    registry::number(x).ok_or_else(|| bad(&format!("{what} must be a list of numbers")))
                }
            })
            .collect()
    };
    let lr = floats(v.get("lr").ok_or_else(|| bad("missing 'lr' (or 'error')"))?, "'lr'")?;
    // A list of steps, each a list of flattened tensors.
    let per_step = |key: &str, steps: &Value| -> Result<Vec<Vec<Vec<f64>>>, ReplayError> {
        let steps = steps.as_array().ok_or_else(|| bad(&format!("'{key}' must be a list")))?;
        let mut out = Vec::with_capacity(steps.len());
        for (k, step) in steps.iter().enumerate() {
            let tensors =
                step.as_array().ok_or_else(|| bad(&format!("{key}[{k}] must be a list of tensors")))?;
            out.push(
                tensors
                    .iter()
                    .enumerate()
                    .map(|(i, t)| floats(t, &format!("{key}[{k}][{i}]")))
                    .collect::<Result<Vec<_>, _>>()?,
            );
        }
        Ok(out)
    };
    let params = per_step("params", v.get("params").ok_or_else(|| bad("missing list 'params'"))?)?;
    let averaged = v.get("averaged").map(|a| per_step("averaged", a)).transpose()?;
    let lrs = match v.get("lrs") {
        None => None,
        Some(l) => Some(
            l.as_array()
                .ok_or_else(|| bad("'lrs' must be a list of lists"))?
                .iter()
                .enumerate()
                .map(|(k, x)| floats(x, &format!("lrs[{k}]")))
                .collect::<Result<Vec<_>, _>>()?,
        ),
    };
    Ok(Expected::Trace(Trace { lr, lrs, params, averaged }))
}

/// The outcome of checking a spec against PyTorch's expected result.
#[derive(Debug, Clone, PartialEq)]
pub enum Verdict {
    /// descent produced PyTorch's trace within the tolerances.
    Agrees(Agreement),
    /// descent refused the configuration with PyTorch's message.
    RefusedAlike(String),
    /// The first disagreement.
    Differs(String),
}

/// Replays `spec` and checks the result against PyTorch's `expected` at the conformance
/// tolerances. Errors only for a malformed spec; a refusal by either side is part of the verdict.
pub fn check(spec: &Spec, expected: &Expected) -> Result<Verdict, ReplayError> {
    verdict("descent", Tolerance::for_spec(spec), replay(spec), expected)
}

/// Checks `actual` (a trace, or the refusal of a configuration) of the side called `who` against
/// PyTorch's `expected`, at the tolerances `tol` ([`Tolerance::for_spec`]). A malformed spec
/// (`Err(ReplayError::Spec)`) is returned as the error.
pub fn verdict(
    who: &str,
    tol: Tolerance,
    actual: Result<Trace, ReplayError>,
    expected: &Expected,
) -> Result<Verdict, ReplayError> {
    Ok(match (actual, expected) {
        (Err(ReplayError::Spec(s)), _) => return Err(ReplayError::Spec(s)),
        (Ok(trace), Expected::Trace(e)) => match compare_as(who, tol, &trace, e) {
            Ok(a) => Verdict::Agrees(a),
            Err(m) => Verdict::Differs(m),
        },
        (Err(ReplayError::Refused(m)), Expected::Error(e)) if &m == e => Verdict::RefusedAlike(m),
        (Err(ReplayError::Refused(m)), Expected::Error(e)) => {
            Verdict::Differs(format!("both refuse, with different messages: {who} {m:?}, PyTorch {e:?}"))
        }
        (Err(ReplayError::Refused(m)), Expected::Trace(_)) => {
            Verdict::Differs(format!("{who} refuses ({m}) what PyTorch runs"))
        }
        (Ok(_), Expected::Error(e)) => Verdict::Differs(format!("PyTorch refuses ({e}) what {who} runs")),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn spec(clip: &str, grad: f64) -> Spec {
        parse(&format!(
            r#"{{"dtype": "f64", "optimizer": {{"name": "sgd", "lr": 0.1}}, "clip": {clip},
                "params": [{{"shape": [2], "data": [1.0, 2.0]}}], "grads": [[[{grad}, 1.0]]]}}"#
        ))
        .unwrap()
    }

    #[test]
    fn error_if_nonfinite_refuses_a_nonfinite_norm() {
        let on = r#"{"name": "clip_grad_norm", "max_norm": 1.0, "error_if_nonfinite": true}"#;
        let off = r#"{"name": "clip_grad_norm", "max_norm": 1.0, "error_if_nonfinite": false}"#;
        match replay(&spec(on, 1e300)) {
            Err(ReplayError::Refused(m)) => {
                assert!(m.starts_with("step 0: ") && m.contains("error_if_nonfinite"), "{m}")
            }
            other => panic!("{other:?}"),
        }
        // PyTorch without the option: the factor max_norm / (inf + 1e-6) = 0 zeroes the gradient.
        assert_eq!(replay(&spec(off, 1e300)).unwrap().params, vec![vec![vec![1.0, 2.0]]]);
        // A finite norm is clipped the same either way.
        assert_eq!(replay(&spec(on, 3.0)).unwrap(), replay(&spec(off, 3.0)).unwrap());
    }

    #[test]
    fn specs_may_hold_python_nan_and_infinity() {
        let on = r#"{"name": "clip_grad_norm", "max_norm": 1.0, "error_if_nonfinite": true}"#;
        for (token, want) in
            [("NaN", f64::NAN), ("Infinity", f64::INFINITY), ("-Infinity", f64::NEG_INFINITY)]
        {
            let s = spec(on, 0.0);
            let text =
                serde_json::to_string(&s).unwrap().replace("[[[0.0,1.0]]]", &format!("[[[{token},1.0]]]"));
            let g = parse(&text).unwrap().grads[0][0][0];
            assert!(g.to_bits() == want.to_bits() || (g.is_nan() && want.is_nan()), "{token}");
            // The message tools/torch_trace.py writes for PyTorch's RuntimeError, word for word.
            let torch = "step 0: The total norm of order 2.0 for gradients from `parameters` is non-finite, \
                         so it cannot be clipped (error_if_nonfinite=True)";
            assert_eq!(replay(&parse(&text).unwrap()).unwrap_err().to_string(), torch);
        }
        let bad = serde_json::to_string(&spec(on, 0.0)).unwrap().replace("[[[0.0,", "[[[\"nan\",");
        assert!(parse(&bad).unwrap_err().to_string().contains("\"nan\""));
    }

    /// Prodigy and D-Adaptation estimate one step size from sums over every tensor (optax's tree
    /// sums): two tensors replay as one flat optimizer over both, which differs from stepping the
    /// first alone; two parameter groups are refused naming why; `beta3` may be null.
    #[test]
    fn whole_set_rules_take_every_tensor_at_once() {
        // Ten steps from d0 = 1e-2, so that the estimate grows and its sums matter.
        let grads: Vec<[f64; 3]> =
            (0..10).map(|k| [0.3 + 0.01 * k as f64, -0.1, 0.7 - 0.02 * k as f64]).collect();
        for (name, extra) in [("prodigy", r#", "beta3": null"#), ("dadapt_adamw", "")] {
            let spec = |params: &str, grads: &str, groups: &str| {
                parse(&format!(
                    r#"{{"dtype": "f64", "optimizer": {{"name": "{name}", "estim_lr0": 1e-2{extra}}},
                        "params": [{params}], "grads": [{grads}]{groups}}}"#
                ))
                .unwrap()
            };
            let each = |f: &dyn Fn(&[f64; 3]) -> String| grads.iter().map(f).collect::<Vec<_>>().join(", ");
            let split = each(&|g| format!("[[{}, {}], [{}]]", g[0], g[1], g[2]));
            let whole = each(&|g| format!("[[{}, {}, {}]]", g[0], g[1], g[2]));
            let first = each(&|g| format!("[[{}, {}]]", g[0], g[1]));
            let two = r#"{"shape": [2], "data": [1.0, -2.0]}, {"shape": [1], "data": [0.5]}"#;
            let a = replay(&spec(two, &split, "")).unwrap();
            let b = replay(&spec(r#"{"shape": [3], "data": [1.0, -2.0, 0.5]}"#, &whole, "")).unwrap();
            let alone = replay(&spec(r#"{"shape": [2], "data": [1.0, -2.0]}"#, &first, "")).unwrap();
            for (k, (x, y)) in a.params.iter().zip(&b.params).enumerate() {
                assert_eq!(x.concat(), y[0], "{name} step {k}");
            }
            assert_ne!(a.params[9][0], alone.params[9][0], "{name}: the second tensor must count");
            let groups = r#", "param_groups": [{"params": [0]}, {"params": [1]}]"#;
            match replay(&spec(two, &split, groups)) {
                Err(ReplayError::Refused(m)) => {
                    assert!(m.starts_with(name) && m.contains("one parameter group, not 2"), "{m}")
                }
                other => panic!("{name}: {other:?}"),
            }
        }
    }

    #[test]
    fn compare_names_the_first_mismatch() {
        let e = Trace {
            lr: vec![0.1, 0.1],
            lrs: None,
            params: vec![vec![vec![1.0, 2.0]], vec![vec![0.5, 1.5]]],
            averaged: None,
        };
        let mut a = e.clone();
        assert_eq!(compare("f64", &a, &e).unwrap().values, 4);
        a.params[1][0][1] = 1.5 + 1e-6;
        let m = compare("f64", &a, &e).unwrap_err();
        assert!(m.starts_with("step 1, tensor 0, element 1: descent 1.500001e0, PyTorch 1.5e0"), "{m}");
        // Within the f32 tolerance (1e-6 + 1e-5·1.5) it agrees.
        assert!(compare("f32", &a, &e).unwrap().worst < 1.0);
    }

    #[test]
    fn traces_print_nan_and_infinities_as_python_does_and_read_back() {
        let t = Trace {
            lr: vec![0.1, f64::INFINITY],
            lrs: None,
            params: vec![vec![vec![f64::NAN, -0.5]], vec![vec![f64::NEG_INFINITY, 1e-300]]],
            averaged: None,
        };
        let text = t.to_json();
        assert_eq!(text, r#"{"lr":[0.1,Infinity],"params":[[[NaN,-0.5]],[[-Infinity,1e-300]]]}"#);
        let Expected::Trace(back) = parse_expected(&text).unwrap() else { panic!("{text}") };
        assert_eq!(back.lr, t.lr);
        assert!(back.params[0][0][0].is_nan() && back.params[1][0] == t.params[1][0]);
        // The same text as serde_json writes for finite values.
        let finite =
            Trace { lr: vec![1e-3], lrs: None, params: vec![vec![vec![0.25, -3.0]]], averaged: None };
        assert_eq!(finite.to_json(), serde_json::to_string(&finite).unwrap());
    }

    #[test]
    fn step_counts_and_learning_rates_are_told_apart() {
        let e = Trace { lr: vec![0.1; 3], lrs: None, params: vec![vec![vec![1.0]]; 3], averaged: None };
        let short_lr = Trace { lr: vec![0.1; 2], ..e.clone() };
        assert_eq!(
            compare_as("actual", Tolerance::for_dtype("f64"), &short_lr, &e).unwrap_err(),
            "actual's trace has 2 learning rates for 3 steps of parameters"
        );
        let fewer = Trace { lr: vec![0.1; 2], lrs: None, params: vec![vec![vec![1.0]]; 2], averaged: None };
        assert_eq!(
            compare_as("actual", Tolerance::for_dtype("f64"), &fewer, &e).unwrap_err(),
            "step counts differ: actual has 2 steps, PyTorch 3"
        );
    }

    #[test]
    fn a_shape_that_overflows_is_named() {
        let text = r#"{"dtype": "f64", "optimizer": {"name": "sgd", "lr": 0.1},
            "params": [{"shape": [4294967296, 4294967296], "data": []}], "grads": []}"#;
        let e = replay(&parse(text).unwrap()).unwrap_err().to_string();
        assert!(e.contains("more elements than a machine can address"), "{e}");
        // Adafactor's factors for a [3e9, 0] tensor: refused, not an abort.
        let text = r#"{"dtype": "f64", "optimizer": {"name": "adafactor"},
            "params": [{"shape": [3000000000000, 0], "data": []}], "grads": []}"#;
        let e = replay(&parse(text).unwrap()).unwrap_err().to_string();
        assert!(e.contains("cannot allocate"), "{e}");
    }

    /// `hessians`: one entry per step, null where none; refused with a message naming it when
    /// the optimizer keeps no Hessian average, when a length is wrong, or an entry is negative.
    #[test]
    fn hessian_estimates_are_fed_and_checked() {
        let run = |opt: &str, hessians: &str| {
            let text = format!(
                r#"{{"dtype": "f64", "optimizer": {opt}, "params": [{{"shape": [2], "data": [1.0, 2.0]}}],
                    "grads": [[[0.5, -0.5]], [[0.5, -0.5]]], "hessians": {hessians}}}"#
            );
            replay(&parse(&text).unwrap())
        };
        let sophia = r#"{"name": "sophia", "lr": 0.1, "rho": 1.0, "weight_decay": 0.0}"#;
        // Without an estimate every step is lr·sign(m); with a large one the step is Newton's, small.
        let none = run(sophia, "[null, null]").unwrap();
        let p = &none.params[1][0];
        assert!((p[0] - 0.8).abs() < 1e-12 && (p[1] - 2.2).abs() < 1e-12, "{p:?}");
        let fed = run(sophia, "[[[1000.0, 1000.0]], null]").unwrap();
        assert!(fed.params[1][0][0] > 0.99 && fed.params[1][0][0] < 1.0, "{:?}", fed.params);
        assert_eq!(run(sophia, "null").unwrap(), none);
        let msg = |r: Result<Trace, ReplayError>| r.unwrap_err().to_string();
        assert!(msg(run(r#"{"name": "adam"}"#, "[[[1.0, 1.0]], null]")).contains("hessians[0]: unsupported"));
        assert!(msg(run(sophia, "[null]")).contains("hessians has 1 entries, grads has 2"));
        assert!(msg(run(sophia, "[null, [[1.0]]]")).contains("hessians[1][0] has 1 values"));
        assert!(msg(run(sophia, "[null, [[1.0, -1.0]]]")).contains("Invalid hessian estimate value: -1.0"));
    }

    #[test]
    fn expected_files_parse_with_python_tokens() {
        let t = parse_expected(r#"{"lr": [0.1], "params": [[[NaN, -Infinity, null, 1]]]}"#).unwrap();
        let Expected::Trace(t) = t else { panic!() };
        let v = &t.params[0][0];
        assert!(v[0].is_nan() && v[1] == f64::NEG_INFINITY && v[2].is_nan() && v[3] == 1.0);
        assert_eq!(
            parse_expected(r#"{"error": "Invalid learning rate: -1.0"}"#).unwrap(),
            Expected::Error("Invalid learning rate: -1.0".into())
        );
        assert!(parse_expected(r#"{"lr": [0.1]}"#).is_err());
    }

    /// Bad parameter groups are refused, naming what is wrong.
    #[test]
    fn bad_parameter_groups_are_refused_by_name() {
        let run = |optimizer: &str, shapes: &str, groups: &str| {
            let params: Vec<String> = serde_json::from_str::<Vec<Vec<usize>>>(shapes)
                .unwrap()
                .iter()
                .map(|s| {
                    let n: usize = s.iter().product();
                    format!(r#"{{"shape": {s:?}, "data": {:?}}}"#, vec![0.5; n])
                })
                .collect();
            let text = format!(
                r#"{{"dtype": "f32", "optimizer": {optimizer}, "params": [{}], "grads": [], "param_groups": {groups}}}"#,
                params.join(",")
            );
            replay(&parse(&text).unwrap()).unwrap_err().to_string()
        };
        let adam = r#"{"name": "adam"}"#;
        let e = run(adam, "[[2], [3]]", r#"[{"params": [0], "lrr": 0.1}, {"params": [1]}]"#);
        assert!(e.contains("unknown hyperparameter 'lrr'"), "{e}");
        let e = run(adam, "[[2], [3]]", r#"[{"params": [0]}]"#);
        assert!(e.contains("tensor 1 is in no parameter group"), "{e}");
        let e = run(adam, "[[2], [3]]", r#"[{"params": [0, 1]}, {"params": [1]}]"#);
        assert_eq!(e, "some parameters appear in more than one parameter group");
        let e = run(adam, "[[2]]", r#"[{"params": [0, 4]}]"#);
        assert!(e.contains("names tensor 4, but there are 1 tensors"), "{e}");
        let e = run(adam, "[[2]]", r#"[{"params": "all"}]"#);
        assert!(e.contains("'params' must be a list"), "{e}");
        let e = run(r#"{"name": "muon"}"#, "[[2, 2], [3]]", r#"[{"params": [0, 1]}]"#);
        assert_eq!(
            e,
            "Muon only supports 2D parameters whereas we found a parameter with size: torch.Size([3])"
        );
        let e = run(adam, "[[2]]", r#"[{"params": [0], "betas": [0.9, 1.5]}]"#);
        assert_eq!(e, "Invalid beta parameter at index 1: 1.5");
    }
}
