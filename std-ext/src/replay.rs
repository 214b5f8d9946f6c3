//! `descent replay`: run a conformance spec (see `tests/data/conformance/README.md`) and produce
//! the learning rate and parameters after every step, as PyTorch's generator script does.

use crate::registry::{self, BuildError, DynOptimizer};
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
    /// Gradients: one entry per step, one flat gradient per tensor.
    pub grads: Vec<Vec<Vec<f64>>>,
    /// Metric per step for `reduce_lr_on_plateau`.
    #[serde(default)]
    pub metrics: Option<Vec<f64>>,
}

/// What a replay produces: the lr each step used and the parameters after each step.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Trace {
    /// Learning rate of the first parameter group at each step.
    pub lr: Vec<f64>,
    /// After each step, every tensor flattened.
    pub params: Vec<Vec<Vec<f64>>>,
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
        let numel: usize = t.shape.iter().product();
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
    Ok(())
}

fn run<F: Real>(spec: &Spec) -> Result<Trace, ReplayError> {
    check_shapes(spec)?;
    // One optimizer per tensor, as PyTorch keeps per-tensor state (Adafactor factors each tensor).
    let mut opts: Vec<DynOptimizer<F>> = Vec::with_capacity(spec.params.len());
    for t in &spec.params {
        opts.push(registry::build::<F>(&spec.optimizer, &t.shape, t.data.len(), NonFinitePolicy::Propagate)?);
    }
    let mut scheduler = match &spec.scheduler {
        Some(m) => {
            let base_lr = opts.first().map_or(0.0, |o| o.lr());
            let has_momentum = opts.first().is_some_and(|o| o.momentum().is_some());
            let mut s = crate::schedule_spec::build(m, base_lr, has_momentum)?;
            s.start(&mut dyn_refs(&mut opts)).map_err(|e| ReplayError::Refused(e.to_string()))?;
            Some(s)
        }
        None => None,
    };
    let clip = spec.clip.as_ref().map(clip_spec).transpose()?;
    let plateau = matches!(scheduler, Some(crate::schedule_spec::Scheduler::Plateau(_)));
    if plateau && spec.metrics.as_ref().is_none_or(|m| m.len() < spec.grads.len()) {
        return Err(ReplayError::Spec("reduce_lr_on_plateau needs one metric per step in 'metrics'".into()));
    }
    let mut params: Vec<Vec<F>> =
        spec.params.iter().map(|t| t.data.iter().map(|&x| F::from_f64(x)).collect()).collect();
    let mut grads: Vec<Vec<F>> = params.iter().map(|p| vec![F::ZERO; p.len()]).collect();
    let mut trace =
        Trace { lr: Vec::with_capacity(spec.grads.len()), params: Vec::with_capacity(spec.grads.len()) };
    for (k, step) in spec.grads.iter().enumerate() {
        for (dst, src) in grads.iter_mut().zip(step) {
            for (d, &s) in dst.iter_mut().zip(src) {
                *d = F::from_f64(s);
            }
        }
        if let Some(c) = clip {
            let mut views: Vec<&mut [F]> = grads.iter_mut().map(|g| g.as_mut_slice()).collect();
            match c {
                Clip::Norm { max_norm, norm, error_if_nonfinite } => {
                    descent_core::clip::clip_grad_norm(&mut views, max_norm, norm, error_if_nonfinite)
                        .map(|_| ())
                }
                Clip::Value(v) => descent_core::clip::clip_grad_value(&mut views, v),
            }
            .map_err(|e| c.refusal(k, e))?;
        }
        trace.lr.push(opts.first().map_or(0.0, |o| o.lr()));
        for ((opt, p), g) in opts.iter_mut().zip(params.iter_mut()).zip(&grads) {
            opt.step(p, g).map_err(|e| ReplayError::Spec(e.to_string()))?;
        }
        trace.params.push(params.iter().map(|p| p.iter().map(|x| x.as_f64()).collect()).collect());
        if let Some(s) = scheduler.as_mut() {
            let metric = spec.metrics.as_ref().and_then(|m| m.get(k)).copied();
            s.advance(&mut dyn_refs(&mut opts), metric).map_err(|e| ReplayError::Refused(e.to_string()))?;
        }
    }
    Ok(trace)
}

fn dyn_refs<F: Real>(opts: &mut [DynOptimizer<F>]) -> Vec<&mut dyn descent_core::Optimizer<F>> {
    opts.iter_mut().map(|o| &mut **o as &mut dyn descent_core::Optimizer<F>).collect()
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

/// Whether `actual` agrees with PyTorch's `expected` at the conformance tolerances
/// (`|a − e| ≤ atol + rtol·|e|`: f64 rtol 1e-9, atol 1e-12; f32 rtol 1e-5, atol 1e-6). Returns the
/// first disagreement.
pub fn compare(dtype: &str, actual: &Trace, expected: &Trace) -> Result<(), String> {
    let (rtol, atol) = if dtype == "f32" { (1e-5, 1e-6) } else { (1e-9, 1e-12) };
    let close =
        |a: f64, e: f64| (a - e).abs() <= atol + rtol * e.abs() || (a.is_nan() && e.is_nan()) || a == e;
    if actual.lr.len() != expected.lr.len() || actual.params.len() != expected.params.len() {
        return Err(format!("step counts differ: {} vs {}", actual.params.len(), expected.params.len()));
    }
    for (k, (a, e)) in actual.lr.iter().zip(&expected.lr).enumerate() {
        if !close(*a, *e) {
            return Err(format!("lr at step {k}: {a} vs {e}"));
        }
    }
    for (k, (ts_a, ts_e)) in actual.params.iter().zip(&expected.params).enumerate() {
        for (i, (ta, te)) in ts_a.iter().zip(ts_e).enumerate() {
            if ta.len() != te.len() {
                return Err(format!("step {k} tensor {i}: lengths differ"));
            }
            for (j, (a, e)) in ta.iter().zip(te).enumerate() {
                if !close(*a, *e) {
                    return Err(format!(
                        "step {k} tensor {i} element {j}: {a:e} vs {e:e} (diff {:e})",
                        a - e
                    ));
                }
            }
        }
    }
    Ok(())
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
}
