//! `descent replay` as a user runs it: the binary, its standard output and error, its exit code.
//! A good spec prints the trace as JSON; a configuration PyTorch refuses and a malformed spec each
//! exit non-zero with one line on standard error naming what is wrong; `--expected` compares with
//! PyTorch's result and names the first mismatch.

use serde_json::{Value, json};
use std::path::{Path, PathBuf};
use std::process::{Command, Output};

/// A file in a directory of this test process (removed when dropped).
struct TempFile(PathBuf);

impl TempFile {
    fn new(name: &str, text: &str) -> Self {
        let dir = std::env::temp_dir().join(format!("descent-replay-cli-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let path = dir.join(name);
        std::fs::write(&path, text).unwrap();
        TempFile(path)
    }
}

impl Drop for TempFile {
    fn drop(&mut self) {
        let _ = std::fs::remove_file(&self.0);
    }
}

fn descent(args: &[&Path]) -> Output {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_descent"));
    cmd.arg("replay");
    for a in args {
        cmd.arg(a);
    }
    cmd.output().unwrap()
}

/// Replays `spec` (JSON text) and returns the output.
fn replay_text(name: &str, spec: &str) -> Output {
    let f = TempFile::new(name, spec);
    descent(&[&f.0])
}

/// A valid spec: Adam over two tensors for three steps.
fn good_spec() -> Value {
    json!({
        "name": "cli-good", "dtype": "f64",
        "optimizer": {"name": "adam", "lr": 0.01, "betas": [0.9, 0.999]},
        "params": [{"shape": [2], "data": [1.0, -1.0]}, {"shape": [1, 1], "data": [0.5]}],
        "grads": [[[0.1, 0.2], [0.3]], [[0.1, -0.2], [0.0]], [[1.0, 2.0], [-3.0]]]
    })
}

/// `good_spec` with `edit` applied.
fn spec_with(edit: impl FnOnce(&mut Value)) -> String {
    let mut s = good_spec();
    edit(&mut s);
    s.to_string()
}

fn stderr_line(out: &Output) -> String {
    let err = String::from_utf8(out.stderr.clone()).unwrap();
    assert_eq!(err.lines().count(), 1, "expected one line on stderr, got {err:?}");
    assert!(out.stdout.is_empty(), "nothing on stdout on failure");
    err.trim_end().to_string()
}

/// Asserts a failing run: non-zero exit, one line on stderr containing every `needle`.
fn assert_refused(out: &Output, needles: &[&str]) {
    assert!(!out.status.success(), "expected failure, got success");
    let line = stderr_line(out);
    for n in needles {
        assert!(line.contains(n), "{line:?} does not contain {n:?}");
    }
}

fn bundled(name: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../tests/data/conformance/torch").join(name)
}

#[test]
fn good_spec_prints_lr_and_params_after_every_step() {
    let out = replay_text("good.spec.json", &good_spec().to_string());
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    assert!(out.stderr.is_empty());
    let trace: Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(trace["lr"], json!([0.01, 0.01, 0.01]));
    let params = trace["params"].as_array().unwrap();
    assert_eq!(params.len(), 3);
    // Adam's first step moves each parameter by lr against the sign of its gradient (up to ε/|g|).
    let first = &params[0];
    let close = |v: &Value, x: f64| (v.as_f64().unwrap() - x).abs() < 1e-8;
    assert!(close(&first[0][0], 0.99) && close(&first[0][1], -1.01) && close(&first[1][0], 0.49));
}

#[test]
fn configurations_pytorch_refuses_exit_nonzero_naming_the_hyperparameter() {
    let cases: [(Value, &[&str]); 6] = [
        (json!({"name": "adam", "lr": -1.0}), &["Invalid learning rate: -1"]),
        (json!({"name": "adam", "betas": [1.5, 0.999]}), &["Invalid beta parameter at index 0: 1.5"]),
        (json!({"name": "adam", "eps": -1e-8}), &["Invalid epsilon value"]),
        (json!({"name": "sgd", "momentum": -0.5}), &["Invalid momentum value: -0.5"]),
        (json!({"name": "sgd", "nesterov": true}), &["Nesterov momentum requires a momentum"]),
        (json!({"name": "rmsprop", "alpha": -0.1}), &["alpha"]),
    ];
    for (i, (opt, needles)) in cases.into_iter().enumerate() {
        let out = replay_text(&format!("refused-{i}.spec.json"), &spec_with(|s| s["optimizer"] = opt));
        assert_refused(&out, needles);
    }
}

/// The wrappers' and the new schedules' keys refuse NaN, infinities, negatives and impossible
/// values, one line naming the key.
#[test]
fn wrapper_and_schedule_keys_are_refused_by_name() {
    let sgd = json!({"name": "sgd", "lr": 0.1});
    let wrap = |extra: Value| {
        let mut o = json!({"inner": sgd.clone()});
        o.as_object_mut().unwrap().extend(extra.as_object().unwrap().clone());
        o
    };
    let cases: Vec<(Value, Option<Value>, &[&str])> = vec![
        (
            wrap(json!({"name": "lookahead", "sync_period": 0, "slow_step_size": 0.5})),
            None,
            &["Synchronization period must be >= 1."],
        ),
        (
            wrap(json!({"name": "lookahead", "sync_period": 2, "slow_step_size": "NaN"})),
            None,
            &["slow_step_size"],
        ),
        (
            wrap(json!({"name": "lookahead", "sync_period": 2, "slow_step_size": "Infinity"})),
            None,
            &["slow_step_size"],
        ),
        (
            wrap(json!({"name": "lookahead", "sync_period": -1, "slow_step_size": 0.5})),
            None,
            &["sync_period"],
        ),
        (wrap(json!({"name": "sam", "rho": -0.1})), None, &["rho"]),
        (wrap(json!({"name": "sam", "rho": "Infinity"})), None, &["rho"]),
        (wrap(json!({"name": "ema", "decay": 1.5})), None, &["Invalid decay value 1.5"]),
        (wrap(json!({"name": "ema", "decay": "NaN"})), None, &["decay"]),
        (
            json!({"name": "lookahead", "sync_period": 2, "slow_step_size": 0.5}),
            None,
            &["missing object 'inner'"],
        ),
        (sgd.clone(), Some(json!({"name": "swalr", "swa_lr": "NaN"})), &["swa_lr"]),
        (sgd.clone(), Some(json!({"name": "swalr", "swa_lr": -1.0})), &["swa_lr"]),
        (
            sgd.clone(),
            Some(json!({"name": "swalr", "swa_lr": 0.1, "anneal_epochs": -1})),
            &["anneal_epochs must be equal or greater than 0"],
        ),
        (
            sgd.clone(),
            Some(json!({"name": "swalr", "swa_lr": 0.1, "anneal_strategy": "cubic"})),
            &["anneal_strategy must be one of"],
        ),
        (
            sgd.clone(),
            Some(json!({"name": "piecewise_interpolate_schedule", "boundaries_and_scales": {"3": -0.5}})),
            &["non-negative scale factors"],
        ),
        (
            sgd.clone(),
            Some(
                json!({"name": "piecewise_interpolate_schedule", "boundaries_and_scales": {"3": "Infinity"}}),
            ),
            &["non-negative scale factors"],
        ),
        (
            sgd.clone(),
            Some(json!({"name": "piecewise_interpolate_schedule", "interpolate_type": "cubic"})),
            &["`interpolate_type` must be either"],
        ),
    ];
    for (i, (opt, sched, needles)) in cases.into_iter().enumerate() {
        let text = spec_with(|s| {
            s["optimizer"] = opt;
            if let Some(m) = sched {
                s["scheduler"] = m;
            }
        });
        assert_refused(&replay_text(&format!("wrapper-{i}.spec.json"), &text), needles);
    }
}

#[test]
fn malformed_specs_exit_nonzero_with_one_line() {
    let cases: Vec<(String, &[&str])> = vec![
        ("{\"dtype\": \"f64\", \"optimizer\": ".into(), &["malformed spec", "EOF"]),
        (spec_with(|s| s["optimizer"]["name"] = json!("adamz")), &["unknown optimizer 'adamz'"]),
        (spec_with(|s| s["optimizer"]["lr_typo"] = json!(0.1)), &["unknown hyperparameter 'lr_typo'"]),
        (spec_with(|s| s["optimizer"]["lr"] = json!("fast")), &["'lr' must be a number"]),
        (spec_with(|s| s["grads"][1][0] = json!([0.1])), &["grads[1][0] has 1 values, params[0] has 2"]),
        (spec_with(|s| s["grads"][2] = json!([[0.1, 0.2]])), &["grads[2] has 1 tensors"]),
        (spec_with(|s| s["params"][0]["shape"] = json!([3])), &["params[0]: shape [3] has 3 elements"]),
        (spec_with(|s| s.as_object_mut().unwrap().remove("params").map(drop).unwrap()), &["`params`"]),
        (spec_with(|s| s.as_object_mut().unwrap().remove("dtype").map(drop).unwrap()), &["`dtype`"]),
        (spec_with(|s| s["optimizer"].as_object_mut().unwrap().clear()), &["missing 'name'"]),
        (spec_with(|s| s["dtype"] = json!("f16")), &["dtype must be"]),
        (spec_with(|s| s["clip"] = json!({"name": "clip_grad_norm"})), &["missing 'max_norm'"]),
        (spec_with(|s| s["scheduler"] = json!({"name": "warp_lr"})), &["warp_lr"]),
    ];
    for (i, (text, needles)) in cases.into_iter().enumerate() {
        let out = replay_text(&format!("malformed-{i}.spec.json"), &text);
        assert_refused(&out, needles);
    }
    assert_refused(
        &descent(&[Path::new("/nonexistent/x.spec.json")]),
        &["SPEC /nonexistent/x.spec.json: cannot read"],
    );
}

#[test]
fn error_if_nonfinite_is_honoured() {
    // 1e300² overflows: the total norm is infinite.
    let with = |flag: bool| {
        spec_with(|s| {
            s["grads"][0][0] = json!([1e300, 0.0]);
            s["clip"] = json!({"name": "clip_grad_norm", "max_norm": 1.0, "error_if_nonfinite": flag});
        })
    };
    assert_refused(&replay_text("nonfinite-on.spec.json", &with(true)), &["step 0", "error_if_nonfinite"]);
    let out = replay_text("nonfinite-off.spec.json", &with(false));
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
}

#[test]
fn expected_agreement_exits_zero() {
    let out = descent(&[
        &bundled("case-7-0000.spec.json"),
        Path::new("--expected"),
        &bundled("case-7-0000.expected.json"),
    ]);
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let line = String::from_utf8(out.stdout).unwrap();
    assert!(line.contains("agrees with PyTorch") && line.lines().count() == 1, "{line}");
    // PyTorch's refusal, refused alike.
    let out = descent(&[
        &bundled("case-7-0018-invalid.spec.json"),
        Path::new("--expected"),
        &bundled("case-7-0018-invalid.expected.json"),
    ]);
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    assert!(String::from_utf8(out.stdout).unwrap().contains("refused as PyTorch refuses it"));
}

#[test]
fn expected_mismatch_names_step_index_and_values() {
    let spec = bundled("case-7-0000.spec.json");
    let text = std::fs::read_to_string(bundled("case-7-0000.expected.json")).unwrap();
    let mut expected: Value = serde_json::from_str(&text).unwrap();
    let v = expected["params"][2][0][1].as_f64().unwrap();
    expected["params"][2][0][1] = json!(v + 0.5);
    let f = TempFile::new("tampered.expected.json", &expected.to_string());
    let out = descent(&[&spec, Path::new("--expected"), &f.0]);
    assert_eq!(out.status.code(), Some(1));
    assert_refused(&out, &["step 2, tensor 0, element 1: descent", &format!("PyTorch {:e}", v + 0.5)]);

    // PyTorch refused what descent runs.
    let f = TempFile::new("refusal.expected.json", r#"{"error": "Invalid learning rate: -1.0"}"#);
    let out = descent(&[&spec, Path::new("--expected"), &f.0]);
    assert_eq!(out.status.code(), Some(1));
    assert_refused(&out, &["PyTorch refuses (Invalid learning rate: -1.0)"]);

    // A malformed expected file is bad input (exit 2), not a mismatch.
    let f = TempFile::new("bad.expected.json", r#"{"lr": [0.1]}"#);
    let out = descent(&[&spec, Path::new("--expected"), &f.0]);
    assert_eq!(out.status.code(), Some(2));
    assert_refused(&out, &["missing list 'params'"]);
}

#[test]
fn actual_checks_another_implementations_trace() {
    let (spec, expected) = (bundled("case-7-0000.spec.json"), bundled("case-7-0000.expected.json"));
    // PyTorch's own trace agrees with itself.
    let out = descent(&[&spec, Path::new("--expected"), &expected, Path::new("--actual"), &expected]);
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    assert!(String::from_utf8(out.stdout).unwrap().contains("agrees with PyTorch"));
    // A trace off by 1e-3 at one value is named, with the file it came from.
    let mut mine: Value = serde_json::from_str(&std::fs::read_to_string(&expected).unwrap()).unwrap();
    let v = mine["params"][5][0][3].as_f64().unwrap();
    mine["params"][5][0][3] = json!(v + 1e-3);
    let f = TempFile::new("mine.trace.json", &mine.to_string());
    let out = descent(&[&spec, Path::new("--expected"), &expected, Path::new("--actual"), &f.0]);
    assert_eq!(out.status.code(), Some(1));
    assert_refused(&out, &["mine.trace.json", "step 5, tensor 0, element 3: "]);
}
