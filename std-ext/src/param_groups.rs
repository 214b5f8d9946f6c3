//! Parameter groups for the MLP: its tensors as a layout (every layer's weight `[outputs,
//! inputs]`, PyTorch's `nn.Linear.weight`, and its bias `[outputs]`), and the conventions that put
//! them in groups — no weight decay on biases, frozen layers, layer-wise lr decay, explicit
//! PyTorch-style groups — plus Muon for the hidden matrices beside AdamW for the rest.
//!
//! Tensors are named as PyTorch names an `nn.Sequential` MLP's: `layers.L.weight` and
//! `layers.L.bias`, L counting layers from 0.

use crate::model::Mlp;
use crate::registry::{self, BuildError, DynOptimizer, GroupSpec, Kernels, Kwargs};
use descent_core::NonFinitePolicy;
use descent_core::adam::AdamConfig;
use descent_core::group::Group;
use descent_core::muon::MuonConfig;
use descent_core::pair::Pair;
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};

/// How the MLP's tensors are grouped (empty: one group holding every tensor).
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct GroupsPlan {
    /// No weight decay on biases (tensors of rank < 2), PyTorch's usual second group.
    pub no_decay_bias: bool,
    /// Layers (from 0) whose weight and bias are frozen.
    pub freeze: Vec<usize>,
    /// Layer-wise lr decay: layer L of N trains at lr·decay^(N − 1 − L).
    pub layer_lr_decay: Option<f64>,
    /// Explicit groups, as PyTorch's: `{"params": [tensor names or indices], <overrides>,
    /// "frozen": bool}`; applied after the conventions above. Tensors no group names keep the
    /// optimizer's own settings.
    pub param_groups: Vec<Map<String, Value>>,
}

/// The name of tensor `i` of an MLP's layout (`layers.L.weight`, `layers.L.bias`).
pub fn tensor_name(i: usize) -> String {
    format!("layers.{}.{}", i / 2, if i.is_multiple_of(2) { "weight" } else { "bias" })
}

/// The shapes of an MLP's tensors, in layout order: `[outputs, inputs]` and `[outputs]` per layer.
pub fn mlp_shapes(model: &Mlp) -> Vec<Vec<usize>> {
    model.layers().iter().flat_map(|l| [vec![l.outputs, l.inputs], vec![l.outputs]]).collect()
}

/// One tensor's settings before grouping: the keys it overrides and whether it is frozen.
#[derive(Debug, Clone, PartialEq, Default)]
struct TensorSettings {
    overrides: Map<String, Value>,
    frozen: bool,
}

impl GroupsPlan {
    /// Whether the plan asks for nothing (one group).
    pub fn is_empty(&self) -> bool {
        *self == GroupsPlan::default()
    }

    /// Every tensor's settings, before grouping equal ones.
    fn settings(&self, model: &Mlp, lr: f64) -> Result<Vec<TensorSettings>, String> {
        let layers = model.layers().len();
        let count = 2 * layers;
        let mut t = vec![TensorSettings::default(); count];
        for &l in &self.freeze {
            if l >= layers {
                return Err(format!(
                    "--freeze: layer {l} does not exist (the model has {layers}: 0..{layers})"
                ));
            }
            t[2 * l].frozen = true;
            t[2 * l + 1].frozen = true;
        }
        if let Some(decay) = self.layer_lr_decay {
            if !(decay.is_finite() && decay > 0.0) {
                return Err(format!("--layer-lr-decay: must be a positive number, got {decay}"));
            }
            for (i, s) in t.iter_mut().enumerate() {
                let layer_lr = descent_core::group::layer_lr(lr, decay, i / 2, layers);
                s.overrides.insert("lr".into(), layer_lr.into());
            }
        }
        if self.no_decay_bias {
            for s in t.iter_mut().skip(1).step_by(2) {
                s.overrides.insert("weight_decay".into(), 0.0.into());
            }
        }
        for (g, group) in self.param_groups.iter().enumerate() {
            let what = format!("--param-groups[{g}]");
            let names = group
                .get("params")
                .and_then(Value::as_array)
                .ok_or_else(|| format!("{what}: 'params' must be a list of tensor names or indices"))?;
            for name in names {
                let i = match name {
                    Value::String(s) => (0..count).find(|&i| tensor_name(i) == *s).ok_or_else(|| {
                        format!("{what}: no tensor '{s}' (the model has layers.0 to layers.{})", layers - 1)
                    })?,
                    v => v.as_u64().map(|i| i as usize).filter(|&i| i < count).ok_or_else(|| {
                        format!("{what}: {v} is not a tensor name or an index below {count}")
                    })?,
                };
                for (k, v) in group {
                    match k.as_str() {
                        "params" => {}
                        "frozen" => {
                            t[i].frozen = v
                                .as_bool()
                                .ok_or_else(|| format!("{what}: 'frozen' must be true or false"))?
                        }
                        _ => {
                            t[i].overrides.insert(k.clone(), v.clone());
                        }
                    }
                }
            }
        }
        Ok(t)
    }
}

/// Tensors with equal settings in one group each, in order of first appearance.
fn grouped(settings: Vec<TensorSettings>, base: &Map<String, Value>) -> Vec<GroupSpec> {
    let mut groups: Vec<GroupSpec> = Vec::new();
    for (i, s) in settings.into_iter().enumerate() {
        let mut overrides = base.clone();
        overrides.extend(s.overrides);
        match groups.iter_mut().find(|g| g.overrides == overrides && g.frozen == s.frozen) {
            Some(g) => g.tensors.push(i),
            None => groups.push(GroupSpec { tensors: vec![i], overrides, frozen: s.frozen }),
        }
    }
    groups
}

/// The optimizer `kwargs` describes for the MLP's tensors in the groups of `plan`. With
/// `"name": "muon"`, Muon takes the hidden weight matrices and AdamW the biases and the output
/// layer (PyTorch's advice); AdamW's settings are `kwargs["adamw"]` (default: AdamW's defaults).
pub fn build_for_mlp(
    model: &Mlp,
    kwargs: &Map<String, Value>,
    plan: &GroupsPlan,
    policy: NonFinitePolicy,
) -> Result<DynOptimizer<f32>, BuildError> {
    let shapes = mlp_shapes(model);
    let name = kwargs.get("name").and_then(Value::as_str).unwrap_or("");
    if name == "muon" {
        return muon_adamw(model, kwargs, plan, policy);
    }
    let lr = kwargs.get("lr").and_then(Value::as_f64).unwrap_or(1e-3);
    let groups = grouped(plan.settings(model, lr).map_err(BuildError::Spec)?, &Map::new());
    registry::build_grouped::<f32>(kwargs, &shapes, &groups, policy, Kernels::Best)
}

/// Muon for the hidden weights, AdamW for the rest, one optimizer ([`Pair`]).
fn muon_adamw(
    model: &Mlp,
    kwargs: &Map<String, Value>,
    plan: &GroupsPlan,
    policy: NonFinitePolicy,
) -> Result<DynOptimizer<f32>, BuildError> {
    let mut muon_kwargs = kwargs.clone();
    let adamw_kwargs = match muon_kwargs.remove("adamw") {
        None => Map::new(),
        Some(Value::Object(m)) => m,
        Some(_) => return Err(BuildError::Spec("muon: 'adamw' must be an object of AdamW settings".into())),
    };
    // Each rule's tensors take layer-wise lrs from that rule's own lr.
    let lr_of = |m: &Map<String, Value>, default: f64| m.get("lr").and_then(Value::as_f64).unwrap_or(default);
    let muon_settings =
        plan.settings(model, lr_of(kwargs, MuonConfig::default().lr)).map_err(BuildError::Spec)?;
    let adamw_settings =
        plan.settings(model, lr_of(&adamw_kwargs, AdamConfig::adamw().lr)).map_err(BuildError::Spec)?;
    let last = model.layers().len() - 1;
    // Hidden weight matrices (not the output layer) go to Muon.
    let muon = |i: usize| i.is_multiple_of(2) && i / 2 != last;
    let (mut m, mut a): (Vec<_>, Vec<_>) = (Vec::new(), Vec::new());
    for (i, (ms, as_)) in muon_settings.into_iter().zip(adamw_settings).enumerate() {
        if muon(i) { m.push((i, ms)) } else { a.push((i, as_)) }
    }
    let mut specs = Vec::new();
    let mut rules = Vec::new();
    for (is_muon, part) in [(true, m), (false, a)] {
        let (idx, settings): (Vec<usize>, Vec<TensorSettings>) = part.into_iter().unzip();
        for mut g in grouped(settings, &Map::new()) {
            g.tensors = g.tensors.iter().map(|&k| idx[k]).collect();
            rules.push(is_muon);
            specs.push(g);
        }
    }
    let mut groups = Vec::new();
    for (spec, is_muon) in specs.iter().zip(&rules) {
        let base = if *is_muon { &muon_kwargs } else { &adamw_kwargs };
        let mut map = base.clone();
        map.extend(spec.overrides.clone());
        map.remove("name");
        let mut k = Kwargs::new(if *is_muon { "muon" } else { "adamw" }, &map);
        let config = if *is_muon {
            Pair::A(registry::parse(&mut k, MuonConfig::default())?)
        } else {
            Pair::B(registry::parse(&mut k, AdamConfig::adamw())?)
        };
        k.finish()?;
        groups.push(Group { config, frozen: spec.frozen });
    }
    // The layout needs the groups in the order of the specs.
    let layout = registry::layout_of(&mlp_shapes(model), &specs)?;
    registry::grouped::<Pair<MuonConfig, AdamConfig>, f32>(layout, groups, policy, Kernels::Best)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::Activation;
    use serde_json::json;

    fn plan(v: Value) -> GroupsPlan {
        serde_json::from_value(v).unwrap()
    }

    #[test]
    fn conventions_group_the_tensors_as_pytorch_would() {
        let m = Mlp::new(&[4, 3, 2], Activation::Relu).unwrap();
        assert_eq!(mlp_shapes(&m), [vec![3, 4], vec![3], vec![2, 3], vec![2]]);
        assert_eq!((tensor_name(0), tensor_name(3)), ("layers.0.weight".into(), "layers.1.bias".into()));
        let g = grouped(plan(json!({"no_decay_bias": true})).settings(&m, 0.1).unwrap(), &Map::new());
        assert_eq!(g.iter().map(|g| g.tensors.clone()).collect::<Vec<_>>(), [vec![0, 2], vec![1, 3]]);
        assert_eq!(g[1].overrides["weight_decay"], 0.0);
        let g = grouped(
            plan(json!({"layer_lr_decay": 0.5, "freeze": [0]})).settings(&m, 0.1).unwrap(),
            &Map::new(),
        );
        assert_eq!(g.len(), 2);
        assert!(g[0].frozen && !g[1].frozen);
        assert_eq!((g[0].overrides["lr"].as_f64(), g[1].overrides["lr"].as_f64()), (Some(0.05), Some(0.1)));
        let p = plan(json!({"param_groups": [{"params": ["layers.1.weight", 3], "lr": 0.01}]}));
        let g = grouped(p.settings(&m, 0.1).unwrap(), &Map::new());
        assert_eq!(g.iter().map(|g| g.tensors.clone()).collect::<Vec<_>>(), [vec![0, 1], vec![2, 3]]);
    }

    #[test]
    fn bad_plans_are_refused_by_name() {
        let m = Mlp::new(&[4, 3, 2], Activation::Relu).unwrap();
        let err = |v| plan(v).settings(&m, 0.1).unwrap_err();
        assert!(err(json!({"freeze": [2]})).contains("layer 2 does not exist"));
        assert!(err(json!({"layer_lr_decay": 0.0})).contains("--layer-lr-decay"));
        assert!(
            err(json!({"param_groups": [{"params": ["layers.5.bias"]}]}))
                .contains("no tensor 'layers.5.bias'")
        );
        assert!(err(json!({"param_groups": [{"params": [9]}]})).contains("index below 4"));
        assert!(err(json!({"param_groups": [{"lr": 0.1}]})).contains("'params' must be a list"));
        let kw: Map<String, Value> = serde_json::from_value(json!({"name": "adam", "lr": 0.1})).unwrap();
        let typo = plan(json!({"param_groups": [{"params": [0], "weight_decy": 0.1}]}));
        let e = build_for_mlp(&m, &kw, &typo, NonFinitePolicy::Error).err().unwrap().to_string();
        assert!(e.contains("unknown hyperparameter 'weight_decy'"), "{e}");
    }

    #[test]
    fn muon_takes_the_hidden_matrices_and_adamw_the_rest() {
        let m = Mlp::new(&[4, 3, 3, 2], Activation::Relu).unwrap();
        let kw: Map<String, Value> =
            serde_json::from_value(json!({"name": "muon", "lr": 0.02, "adamw": {"lr": 3e-4}})).unwrap();
        let opt = build_for_mlp(&m, &kw, &GroupsPlan::default(), NonFinitePolicy::Error).unwrap();
        assert_eq!(opt.groups(), 2);
        assert_eq!((opt.group_lr(0).unwrap(), opt.group_lr(1).unwrap()), (0.02, 3e-4));
        // Muon's state: one buffer per hidden matrix (12 + 9); AdamW's: m and v for the rest.
        assert_eq!(opt.state_len(), 12 + 9 + 2 * (3 + 3 + 6 + 2));
    }

    /// Zero gradients under AdamW's decoupled decay: only the decayed tensors move, and frozen
    /// layers keep their values and take no state.
    #[test]
    fn biases_are_not_decayed_and_frozen_layers_do_not_move() {
        let m = Mlp::new(&[4, 3, 2], Activation::Relu).unwrap();
        let kw: Map<String, Value> =
            serde_json::from_value(json!({"name": "adamw", "lr": 0.1, "weight_decay": 0.5})).unwrap();
        let n = m.num_params();
        let p0: Vec<f32> = (0..n).map(|i| 1.0 + i as f32 / 10.0).collect();
        let run = |plan: &GroupsPlan| {
            let mut opt = build_for_mlp(&m, &kw, plan, NonFinitePolicy::Error).unwrap();
            let mut p = p0.clone();
            opt.step(&mut p, &vec![0.0; n]).unwrap();
            (p, opt.state_len())
        };
        let l = m.layers();
        let (p, _) = run(&plan(json!({"no_decay_bias": true})));
        for layer in l {
            assert!(p[layer.w.clone()].iter().zip(&p0[layer.w.clone()]).all(|(a, b)| a < b));
            assert_eq!(&p[layer.b.clone()], &p0[layer.b.clone()]);
        }
        let (p, state) = run(&plan(json!({"freeze": [1]})));
        assert_eq!(&p[l[1].w.start..], &p0[l[1].w.start..]);
        assert!(p[..l[1].w.start].iter().zip(&p0).all(|(a, b)| a < b || (a == b && *b == 0.0)));
        assert_eq!(state, 2 * l[0].b.end);
    }

    #[test]
    fn layer_wise_lr_decay_gives_each_layer_its_group() {
        let m = Mlp::new(&[4, 3, 3, 2], Activation::Relu).unwrap();
        let kw: Map<String, Value> = serde_json::from_value(json!({"name": "sgd", "lr": 0.4})).unwrap();
        let opt =
            build_for_mlp(&m, &kw, &plan(json!({"layer_lr_decay": 0.5})), NonFinitePolicy::Error).unwrap();
        let lrs: Vec<f64> = (0..opt.groups()).map(|g| opt.group_lr(g).unwrap()).collect();
        assert_eq!(lrs, [0.1, 0.2, 0.4]);
    }
}
