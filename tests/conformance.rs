//! Replays every conformance case that PyTorch (or optax, for Lion) produced and checks descent
//! against it at the tolerances of `tests/data/conformance/README.md`, in the case's dtype.
//! Invalid configurations must be refused with PyTorch's message.

use descent::std_ext::replay::{self, ReplayError, Trace};
use std::path::{Path, PathBuf};

fn cases(dir: &str) -> Vec<PathBuf> {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/data/conformance").join(dir);
    let mut v: Vec<PathBuf> = std::fs::read_dir(&root)
        .unwrap_or_else(|e| panic!("{}: {e}", root.display()))
        .map(|e| e.unwrap().path())
        .filter(|p| p.to_string_lossy().ends_with(".spec.json"))
        .collect();
    v.sort();
    assert!(!v.is_empty(), "no cases in {}", root.display());
    v
}

/// Runs every case of `dir` that `include` accepts; returns how many ran.
fn check_dir(dir: &str, include: impl Fn(&replay::Spec) -> bool) -> usize {
    let mut failures = Vec::new();
    let mut ran = 0;
    for path in cases(dir) {
        let spec = replay::parse(&std::fs::read_to_string(&path).unwrap()).unwrap();
        if !include(&spec) {
            continue;
        }
        ran += 1;
        let expected_path = path.to_string_lossy().replace(".spec.json", ".expected.json");
        let expected: serde_json::Value =
            serde_json::from_str(&std::fs::read_to_string(&expected_path).unwrap()).unwrap();
        let got = replay::replay(&spec);
        if let Some(err) = expected.get("error").and_then(|e| e.as_str()) {
            match got {
                Err(ReplayError::Refused(msg)) if msg == err => {}
                other => failures.push(format!("{}: expected refusal {err:?}, got {other:?}", spec.name)),
            }
            continue;
        }
        let expected: Trace = serde_json::from_value(expected).unwrap();
        match got {
            Ok(trace) => {
                if let Err(e) =
                    replay::compare_as("descent", replay::Tolerance::for_spec(&spec), &trace, &expected)
                {
                    failures.push(format!("{} ({} {}): {e}", spec.name, spec.dtype, spec.optimizer["name"]));
                }
            }
            Err(e) => failures.push(format!("{}: {e}", spec.name)),
        }
    }
    assert!(failures.is_empty(), "{} of {ran} cases failed:\n{}", failures.len(), failures.join("\n"));
    ran
}

/// Every bundled PyTorch case: optimizers, schedulers (including cycled momentum and plateau
/// metrics) and clipping.
#[test]
fn torch_cases_match() {
    assert_eq!(check_dir("torch", |_| true), 100);
    assert_eq!(check_dir("torch-seed11", |_| true), 100);
}

#[test]
fn every_scheduler_and_clip_is_covered() {
    let mut seen = std::collections::BTreeSet::new();
    for dir in ["torch", "torch-seed11"] {
        for path in cases(dir) {
            let spec = replay::parse(&std::fs::read_to_string(&path).unwrap()).unwrap();
            if let Some(s) = &spec.scheduler {
                seen.insert(s["name"].as_str().unwrap().to_string());
            }
            if let Some(c) = &spec.clip {
                seen.insert(format!(
                    "{}:{}",
                    c["name"].as_str().unwrap(),
                    c.get("norm_type").map(|v| v.to_string()).unwrap_or_default()
                ));
            }
        }
    }
    for name in [
        "step_lr",
        "multi_step_lr",
        "exponential_lr",
        "cosine_annealing_lr",
        "cosine_annealing_warm_restarts",
        "one_cycle_lr",
        "cyclic_lr",
        "linear_lr",
        "constant_lr",
        "polynomial_lr",
        "reduce_lr_on_plateau",
        "sequential_lr",
        "clip_grad_value:",
        "clip_grad_norm:1.0",
        "clip_grad_norm:2.0",
        "clip_grad_norm:\"Infinity\"",
    ] {
        assert!(seen.contains(name), "no case covers {name}: {seen:?}");
    }
}

/// Cases made by `tools/torch_trace.py random … --plain` for every optimizer in both dtypes.
#[test]
fn torch_plain_cases_match_in_both_dtypes() {
    assert_eq!(check_dir("torch-plain", |_| true), 72);
}

#[test]
fn optax_lion_cases_match() {
    assert_eq!(check_dir("optax", |s| s.optimizer["name"] == "lion"), 12);
}

/// optax's LAMB and LARS, every tensor one leaf: per-tensor trust ratios (incl. a tensor that
/// starts at zero, the ratio's 0/0 branch).
#[test]
fn optax_lamb_and_lars_cases_match() {
    assert_eq!(check_dir("optax", |s| s.optimizer["name"] == "lamb"), 6);
    assert_eq!(check_dir("optax", |s| s.optimizer["name"] == "lars"), 10);
    // More from the same generator, seed 99.
    assert_eq!(check_dir("optax-seed99", |_| true), 40);
}

/// optax.lookahead around optax's sgd (with and without momentum) and adam, with and without
/// `reset_state`: the fast parameters and the slow ones (`averaged`) at every step.
#[test]
fn optax_lookahead_cases_match() {
    assert_eq!(check_dir("optax-zoo", |s| s.optimizer["name"] == "lookahead"), 3);
    // More from the same generator (tools/conformance/gen_optax_zoo.py, seed 31), incl. reset_state
    // with Adam, whose bias corrections start again after every synchronization.
    assert_eq!(check_dir("optax-zoo-seed31", |s| s.optimizer["name"] == "lookahead"), 5);
}

/// optax.contrib.sam with the paper's adversary (normalize, then sgd(rho)) around optax's sgd and
/// adam, sync_period 2 and 3 (`tools/conformance/gen_optax_sam.py OUT 3 10`).
#[test]
fn optax_sam_cases_match() {
    assert_eq!(check_dir("optax-sam", |s| s.optimizer["name"] == "sam"), 10);
}

/// torch.optim.swa_utils.AveragedModel (SWA and EMA) around PyTorch's optimizers, updated after
/// every step: the parameters and the averaged ones (`tools/torch_trace.py averaged OUT 5 12`).
#[test]
fn torch_averaged_model_cases_match() {
    assert_eq!(check_dir("torch-averaged", |s| s.optimizer["name"] == "swa"), 6);
    assert_eq!(check_dir("torch-averaged", |s| s.optimizer["name"] == "ema"), 6);
    // With torch.optim.swa_utils.SWALR driving the lr (`averaged OUT 7 10 --swalr`): cos and linear,
    // anneal_epochs 0, 1 and more.
    assert_eq!(check_dir("torch-swalr", |s| s.scheduler.as_ref().is_some_and(|m| m["name"] == "swalr")), 10);
}

/// PyTorch's parameter groups (every optimizer, per-group overrides, schedulers from each group's
/// base lr, ChainedScheduler, clipping over all groups) and torch.optim.Muon.
#[test]
fn torch_groups_and_muon_cases_match() {
    assert_eq!(check_dir("torch-groups", |s| s.optimizer["name"] != "muon"), 33);
    assert_eq!(check_dir("torch-groups", |s| s.optimizer["name"] == "muon"), 7);
    // More from the same generator, seed 99 (`gen_torch_groups.py OUT 99 60`).
    assert_eq!(check_dir("torch-groups-seed99", |_| true), 60);
}

/// Configurations written as users write them, made by `tools/torch_trace.py make`
/// (`tools/conformance/torch_user_cases.sh`): a no-decay bias group, per-group lr and momentum
/// under one-cycle with a max_lr per group, a ChainedScheduler of three, factored Adafactor and
/// plateau over groups, Muon in two groups, and Muon refusing a bias with PyTorch's message.
#[test]
fn torch_user_configurations_match() {
    assert_eq!(check_dir("torch-user", |_| true), 7);
}

/// optax.contrib's learning-rate-free pair, `prodigy` and `dadapt_adamw`, from the zoo's generator:
/// one estimate of the distance to the solution from sums over every tensor of the case (most
/// cases have two leaves), f32 and f64, with and without `beta3`, `safeguard_warmup` and decay.
#[test]
fn optax_learning_rate_free_cases_match() {
    let count = |dir: &'static str, name: &'static str| check_dir(dir, move |s| s.optimizer["name"] == name);
    assert_eq!(count("optax-zoo", "prodigy"), 2);
    assert_eq!(count("optax-zoo", "dadapt_adamw"), 3);
    // Seed 99 (`gen_optax_zoo.py OUT 99 120`, `zoo_fairness.py OUT --delete`, which removed one
    // f32 prodigy case).
    assert_eq!(count("optax-zoo-seed99", "prodigy"), 9);
    assert_eq!(count("optax-zoo-seed99", "dadapt_adamw"), 10);
}

/// optax's zoo (`tools/conformance/gen_optax_zoo.py`, seed 17), every tensor one leaf: the cases
/// of each optimizer descent has.
#[test]
fn optax_zoo_cases_match() {
    let count = |name: &'static str| check_dir("optax-zoo", move |s| s.optimizer["name"] == name);
    assert_eq!(count("yogi"), 3);
    assert_eq!(count("adabelief"), 3);
    assert_eq!(count("adopt"), 3);
    assert_eq!(count("ademamix"), 3);
    assert_eq!(count("adan"), 3);
    assert_eq!(count("novograd"), 3);
    assert_eq!(count("sm3"), 3);
    // More from the same generator, seed 99 (`gen_optax_zoo.py OUT 99 120`, `zoo_fairness.py
    // OUT --delete`): 10 cases of each.
    for name in ["yogi", "adabelief", "adopt", "ademamix", "adan", "novograd", "sm3"] {
        assert_eq!(check_dir("optax-zoo-seed99", |s| s.optimizer["name"] == name), 10, "{name}");
    }
}

/// torch.optim.SparseAdam on tables with sparse gradients (`sparse_grads`): repeated and unsorted
/// indices, empty gradients, tensors without a gradient at a step, rows never touched, maximize;
/// and PyTorch's refusals (lr and eps of 0, a dense gradient). `tools/torch_trace.py sparse OUT 3
/// 20`, `sparse OUT 5 12 --dtype f32`, `sparse OUT 8 12 --dtype f64`.
#[test]
fn torch_sparse_adam_cases_match() {
    let sparse = |s: &replay::Spec| s.optimizer["name"] == "sparse_adam";
    assert_eq!(check_dir("torch-sparse", |s| sparse(s) && s.dtype == "f32"), 24);
    assert_eq!(check_dir("torch-sparse", |s| sparse(s) && s.dtype == "f64"), 20);
    assert_eq!(check_dir("torch-sparse", |s| s.name.ends_with("-invalid")), 4);
}

/// optax.contrib's schedule-free SGD and AdamW (seed 17's public cases and 10 of each from seed 99,
/// every f32 one fair): the gradient point y (`params`) and the evaluation point x
/// (`averaged`, optax's `schedule_free_eval_params`) after every step, with and without warm-up
/// and weight decay (SGD's `null` and a value), `weight_lr_power` 2 and random.
#[test]
fn optax_schedule_free_cases_match() {
    for name in ["schedule_free_sgd", "schedule_free_adamw"] {
        assert_eq!(check_dir("optax-zoo", |s| s.optimizer["name"] == name), 3, "{name}");
        assert_eq!(check_dir("optax-zoo-seed99", |s| s.optimizer["name"] == name), 10, "{name}");
    }
}

/// Sophia-G against a PyTorch reference written after the authors' `SophiaG`
/// (`tools/sophia_trace.py random OUT SEED 10` for seeds 3, 8 and 21): f32 and f64, the Hessian
/// estimates given in the spec (`hessians`, every `update_period` steps and some before the
/// first), weight decay, the clip active for anywhere from none to all elements, and the authors'
/// refusals.
#[test]
fn sophia_cases_match() {
    let refused = |s: &replay::Spec| s.name.contains("refused");
    assert_eq!(check_dir("sophia", |s| !refused(s) && s.dtype == "f32"), 15);
    assert_eq!(check_dir("sophia", |s| !refused(s) && s.dtype == "f64"), 15);
    assert_eq!(check_dir("sophia", refused), 12);
    // Every trace case is fed estimates, and some run with decay.
    for path in cases("sophia") {
        let spec = replay::parse(&std::fs::read_to_string(&path).unwrap()).unwrap();
        assert!(spec.hessians.as_ref().is_some_and(|h| h.iter().any(Option::is_some)), "{}", spec.name);
    }
}
