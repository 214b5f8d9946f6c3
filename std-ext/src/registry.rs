//! Optimizers built by name from PyTorch-style keyword arguments (a JSON object), as `descent
//! replay` and `descent train` need them. Unknown names and unknown or mistyped keys are refused;
//! values are validated by the core with PyTorch's messages.

use descent_core::group::{Group, Grouped, Reserve, Slot};
use descent_core::layout::{Layout, Shape, Tensor};
use descent_core::optim::fields::{Field, Fields};
use descent_core::{NonFinitePolicy, Optim, Optimizer, Real, StateBuffer, UpdateRule};
use serde_json::{Map, Value};
use std::fmt;

pub use crate::dispatch::Kernels;
use crate::dispatch::{Dispatched, LaneStep};

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

/// Reads the keyword arguments of configuration `config` (whose values are the defaults) through
/// its field list ([`Fields`]); the caller refuses unknown keys.
pub(crate) fn parse<R: Fields>(k: &mut Kwargs<'_>, mut config: R) -> Result<R, BuildError> {
    config.fields(&mut |key, field| {
        match field {
            Field::Real(v) => *v = k.f64(key, *v)?,
            Field::Flag(v) => *v = k.bool(key, *v)?,
            Field::Pair(v) => *v = k.pair_f64(key, *v)?,
            Field::OptionalFirst(v) => {
                let (first, second) = k.pair(key, (v.0, Some(v.1)))?;
                *v = (first, second.unwrap_or(v.1));
            }
            Field::Triple(v) => {
                if let Some(raw) = k.raw(key) {
                    match raw.as_array().map(|a| a.iter().map(number).collect::<Vec<_>>()).as_deref() {
                        Some([Some(a), Some(b), Some(c)]) => *v = (*a, *b, *c),
                        _ => return Err(k.spec_err(key, "a list of three numbers")),
                    }
                }
            }
            Field::Count(v) => {
                let n = k.uint(key, Some(u64::from(*v)))?;
                *v = u32::try_from(n).unwrap_or(u32::MAX);
            }
            // Absent: the default; `null`: None.
            Field::OptionalReal(v) => {
                let given = k.map.contains_key(key);
                match k.raw(key) {
                    Some(raw) => *v = Some(number(raw).ok_or_else(|| k.spec_err(key, "a number or null"))?),
                    None if given => *v = None,
                    None => {}
                }
            }
            Field::OptionalCount(v) => {
                if k.map.contains_key(key) {
                    *v = k.opt_uint(key)?.map(|n| u32::try_from(n).unwrap_or(u32::MAX));
                } else {
                    k.used.push(key);
                }
            }
            Field::Choice(c) => match k.raw(key) {
                None | Some(Value::Null) => {}
                Some(Value::String(name)) => match c.names().iter().position(|n| n == name) {
                    Some(i) => c.set_index(i),
                    None => {
                        return Err(BuildError::Refused(format!("{} {name} is not supported", c.what())));
                    }
                },
                Some(_) => return Err(k.spec_err(key, "a string or null")),
            },
        }
        Ok(())
    })?;
    Ok(config)
}

/// `opt` behind the kernels asked for: dispatched (the fastest path, or one path, refused when
/// this CPU cannot run it) or descent-core's own step.
fn with_kernels<F, O>(opt: O, kernels: Kernels) -> Result<DynOptimizer<F>, BuildError>
where
    F: Real,
    O: LaneStep<F> + Send + 'static,
{
    Ok(match kernels {
        Kernels::Best => Box::new(Dispatched(opt, None)),
        Kernels::Portable => Box::new(opt),
        Kernels::On(path) if path.supported() => Box::new(Dispatched(opt, Some(path))),
        Kernels::On(path) => {
            return Err(BuildError::Refused(format!("this CPU cannot run the {} kernels", path.name())));
        }
    })
}

/// A configuration's keyword arguments and their values, as JSON (its field list, [`Fields`]).
pub fn kwargs_of<R: Fields>(mut config: R) -> Map<String, Value> {
    let mut m = Map::new();
    let _ = config.fields(&mut |key, field| {
        let v = match field {
            Field::Real(v) => serde_json::json!(*v),
            Field::Flag(v) => Value::Bool(*v),
            Field::Pair(v) => serde_json::json!([v.0, v.1]),
            Field::OptionalFirst(v) => serde_json::json!([v.0, v.1]),
            Field::Triple(v) => serde_json::json!([v.0, v.1, v.2]),
            Field::Count(v) => serde_json::json!(*v),
            Field::OptionalReal(v) => serde_json::json!(*v),
            Field::OptionalCount(v) => serde_json::json!(*v),
            Field::Choice(c) => Value::String(c.names()[c.index()].to_string()),
        };
        m.insert(key.to_string(), v);
        Ok::<(), ()>(())
    });
    m
}

/// The default keyword arguments of the optimizer `name` (PyTorch's defaults), or an error naming
/// the known optimizers.
pub fn default_kwargs(name: &str) -> Result<Map<String, Value>, BuildError> {
    struct Defaults;
    impl WithRule for Defaults {
        type Out = Map<String, Value>;
        fn with<R>(self, mut configs: Vec<R>) -> Result<Self::Out, BuildError>
        where
            R: UpdateRule + Fields + Send + 'static,
            R::Scalars: Send,
        {
            configs.pop().map(kwargs_of).ok_or_else(|| BuildError::Spec("no configuration".into()))
        }
    }
    with_rule(name, &[Map::new()], Defaults)
}

/// What to do with the configurations of a rule once the rule is known by name: one
/// configuration per keyword map given to [`with_rule`].
pub(crate) trait WithRule {
    /// What it makes.
    type Out;
    /// Makes it from the configurations, all of rule `R`.
    fn with<R>(self, configs: Vec<R>) -> Result<Self::Out, BuildError>
    where
        R: UpdateRule + Fields + Send + 'static,
        R::Scalars: Send;
}

/// Reads every map of `maps` as keyword arguments of the optimizer `name` (refusing unknown
/// keys) and hands the configurations to `v`.
pub(crate) fn with_rule<V: WithRule>(
    name: &str,
    maps: &[Map<String, Value>],
    v: V,
) -> Result<V::Out, BuildError> {
    fn all<R: Fields + Clone>(
        name: &str,
        maps: &[Map<String, Value>],
        defaults: R,
    ) -> Result<Vec<R>, BuildError> {
        maps.iter()
            .map(|m| {
                let mut k = Kwargs::new(name, m);
                let c = parse(&mut k, defaults.clone())?;
                k.finish()?;
                Ok(c)
            })
            .collect()
    }
    macro_rules! by_name {
        ($($row:ident: $ty:ty = $ctor:ident, $($rest:literal),*;)*) => {
            match name {
                $(stringify!($row) => v.with(all(name, maps, <$ty>::$ctor())?),)*
                other => {
                    let known: Vec<&str> = descent_core::OPTIMIZERS.iter().map(|o| o.name).collect();
                    Err(BuildError::Spec(format!("unknown optimizer '{other}' (known: {})", known.join(", "))))
                }
            }
        };
    }
    descent_core::for_each_rule!(by_name)
}

/// The optimizer's name in `kwargs`.
fn name_of(kwargs: &Map<String, Value>) -> Result<&str, BuildError> {
    kwargs
        .get("name")
        .and_then(Value::as_str)
        .ok_or_else(|| BuildError::Spec("optimizer: missing 'name'".into()))
}

/// A flat optimizer for one tensor of `shape` (`n` elements).
struct Flat<'a, F> {
    shape: &'a [usize],
    n: usize,
    policy: NonFinitePolicy,
    kernels: Kernels,
    _f: std::marker::PhantomData<F>,
}

impl<F: Real> WithRule for Flat<'_, F> {
    type Out = DynOptimizer<F>;
    fn with<R>(self, configs: Vec<R>) -> Result<DynOptimizer<F>, BuildError>
    where
        R: UpdateRule + Fields + Send + 'static,
        R::Scalars: Send,
    {
        let config = configs.into_iter().next().ok_or_else(|| BuildError::Spec("no configuration".into()))?;
        let config = config.for_tensor(&Shape::new(self.shape)?);
        flat(config, self.n, self.policy, self.kernels)
    }
}

/// A flat optimizer on the heap for `n` parameters, with room for a momentum buffer too, so a
/// schedule may turn momentum on later (PyTorch creates state lazily; fixed-size state is
/// allocated up front).
fn flat<R, F>(
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
    let mut with_momentum = config.clone();
    let len = if with_momentum.put_momentum(0.5) {
        config.state_len(n).max(with_momentum.state_len(n))
    } else {
        config.state_len(n)
    };
    let len = len.saturating_add(config.scratch_len(n));
    let state = crate::memory::zeroed(len, "optimizer state").map_err(BuildError::Spec)?;
    let opt = Optim::from_storage(config, HeapState(state), n, policy)?;
    with_kernels(opt, kernels)
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
    let flat = Flat { shape, n, policy, kernels, _f: std::marker::PhantomData };
    with_rule(name_of(kwargs)?, std::slice::from_ref(kwargs), flat)
}

/// One parameter group of a grouped build: its tensors (indices into the layout's tensors), the
/// keyword arguments it overrides (PyTorch's per-group options; `params` is ignored) and whether
/// it is frozen.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct GroupSpec {
    /// Indices of its tensors.
    pub tensors: Vec<usize>,
    /// Overridden keyword arguments.
    pub overrides: Map<String, Value>,
    /// Frozen: its parameters and state do not change.
    pub frozen: bool,
}

/// A layout of tensors of `shapes`, laid out one after another, in `groups`: refuses a tensor in
/// no group or in two, and a group naming a tensor that does not exist.
pub fn layout_of(shapes: &[Vec<usize>], groups: &[GroupSpec]) -> Result<Layout<Vec<Tensor>>, BuildError> {
    let mut group_of: Vec<Option<usize>> = vec![None; shapes.len()];
    for (g, spec) in groups.iter().enumerate() {
        for &i in &spec.tensors {
            match group_of.get_mut(i) {
                None => {
                    return Err(BuildError::Spec(format!(
                        "param_groups[{g}] names tensor {i}, but there are {} tensors",
                        shapes.len()
                    )));
                }
                Some(Some(_)) => {
                    return Err(BuildError::Refused(
                        "some parameters appear in more than one parameter group".into(),
                    ));
                }
                Some(slot) => *slot = Some(g),
            }
        }
    }
    let mut tensors = Vec::with_capacity(shapes.len());
    let mut at = 0usize;
    for (i, (shape, g)) in shapes.iter().zip(&group_of).enumerate() {
        let g = g.ok_or_else(|| BuildError::Spec(format!("tensor {i} is in no parameter group")))?;
        let s = Shape::new(shape)?;
        let len = s
            .numel()
            .ok_or_else(|| BuildError::Spec(format!("tensor {i}: shape {shape:?} has too many elements")))?;
        tensors.push(Tensor::with_len(at, len, s, g));
        at = at
            .checked_add(len)
            .ok_or_else(|| BuildError::Spec("the tensors have too many elements together".into()))?;
    }
    Ok(Layout::new(tensors, at, groups.len())?)
}

/// Grouped optimizer state, tensors, groups and slots on the heap.
pub type HeapGrouped<R, F> =
    Grouped<R, F, Vec<Tensor>, Vec<Group<R>>, Vec<Slot<<R as UpdateRule>::Scalars>>, HeapState<F>>;

/// A grouped optimizer on the heap over `layout`, one configuration per group; room reserved for
/// momentum buffers a schedule may turn on later.
pub fn grouped<R, F>(
    layout: Layout<Vec<Tensor>>,
    groups: Vec<Group<R>>,
    policy: NonFinitePolicy,
    kernels: Kernels,
) -> Result<DynOptimizer<F>, BuildError>
where
    R: UpdateRule + Send + 'static,
    R::Scalars: Send,
    F: Real,
{
    let len = HeapGrouped::<R, F>::state_len_for(&layout, &groups, Reserve::Momentum)?;
    let slots = vec![Slot::default(); layout.tensors().len()];
    let state = crate::memory::zeroed(len, "optimizer state").map_err(BuildError::Spec)?;
    let opt: HeapGrouped<R, F> =
        Grouped::with_options(layout, groups, slots, HeapState(state), policy, Reserve::Momentum)?;
    with_kernels(opt, kernels)
}

struct GroupedBuild<F> {
    layout: Layout<Vec<Tensor>>,
    frozen: Vec<bool>,
    policy: NonFinitePolicy,
    kernels: Kernels,
    _f: std::marker::PhantomData<F>,
}

impl<F: Real> WithRule for GroupedBuild<F> {
    type Out = DynOptimizer<F>;
    fn with<R>(self, configs: Vec<R>) -> Result<DynOptimizer<F>, BuildError>
    where
        R: UpdateRule + Fields + Send + 'static,
        R::Scalars: Send,
    {
        if R::WHOLE_SET && self.layout.tensors().len() > 1 {
            return whole_set(configs, &self.frozen, &self.layout, self.policy, self.kernels);
        }
        let groups =
            configs.into_iter().zip(&self.frozen).map(|(config, &frozen)| Group { config, frozen }).collect();
        grouped(self.layout, groups, self.policy, self.kernels)
    }
}

/// A rule whose step size comes from sums over every parameter ([`UpdateRule::WHOLE_SET`]:
/// Prodigy, D-Adaptation) over several tensors: one flat optimizer over all of them, as optax
/// sums over the whole tree. Several parameter groups, or a frozen one, are refused naming why.
fn whole_set<R, F>(
    configs: Vec<R>,
    frozen: &[bool],
    layout: &Layout<Vec<Tensor>>,
    policy: NonFinitePolicy,
    kernels: Kernels,
) -> Result<DynOptimizer<F>, BuildError>
where
    R: UpdateRule + Send + 'static,
    R::Scalars: Send,
    F: Real,
{
    let why = "estimates one step size from the sums over every parameter (optax's sums over the whole tree)";
    let name = R::NAME;
    match (<[R; 1]>::try_from(configs), frozen) {
        (Ok([config]), [false]) => flat(config, layout.len(), policy, kernels),
        (Ok(_), _) => {
            Err(BuildError::Refused(format!("{name} {why}, so it cannot leave a frozen group out")))
        }
        (Err(configs), _) => Err(BuildError::Refused(format!(
            "{name} {why}, so it takes one parameter group, not {}",
            configs.len()
        ))),
    }
}

/// Builds the optimizer named in `kwargs["name"]` over tensors of `shapes` in parameter groups:
/// each group's keyword arguments are `kwargs` with its overrides, read with the rule's own
/// names (an unknown key is refused). Rules defined per tensor (Adafactor, Muon, LAMB, LARS)
/// take each tensor's shape; rules whose step size comes from every parameter (Prodigy,
/// D-Adaptation) are one flat optimizer over all of them, in one group.
pub fn build_grouped<F: Real>(
    kwargs: &Map<String, Value>,
    shapes: &[Vec<usize>],
    groups: &[GroupSpec],
    policy: NonFinitePolicy,
    kernels: Kernels,
) -> Result<DynOptimizer<F>, BuildError> {
    let layout = layout_of(shapes, groups)?;
    let maps: Vec<Map<String, Value>> = groups
        .iter()
        .map(|g| {
            let mut m = kwargs.clone();
            for (k, v) in &g.overrides {
                if k != "params" {
                    m.insert(k.clone(), v.clone());
                }
            }
            m
        })
        .collect();
    let frozen = groups.iter().map(|g| g.frozen).collect();
    let build = GroupedBuild { layout, frozen, policy, kernels, _f: std::marker::PhantomData };
    with_rule(name_of(kwargs)?, &maps, build)
}
