//! `descent train` and `descent compare` as a user runs them: exit codes, the one-line errors,
//! the history file's shape, nothing written on failure, schedules through the training loop and
//! `--resume`. Runs are kept small (1–3 epochs on `--limit` examples, 8 hidden units).

use descent_std::checkpoint::Checkpoint;
use serde_json::Value;
use std::path::{Path, PathBuf};
use std::process::{Command, Output};

fn descent(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_descent"))
        .args(args)
        .env_remove("DESCENT_DATA")
        .output()
        .expect("the descent binary runs")
}

/// A fresh, empty directory for one test.
fn scratch(name: &str) -> PathBuf {
    let d = std::env::temp_dir().join(format!("descent-cli-{name}-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&d);
    std::fs::create_dir_all(&d).unwrap();
    d
}

fn s(p: &Path) -> &str {
    p.to_str().unwrap()
}

/// Flags of a small, fast run (each unless `extra` gives it).
const SMALL: [(&str, &str); 4] =
    [("--epochs", "1"), ("--hidden", "8"), ("--limit", "256"), ("--batch-size", "64")];

fn small(extra: &[&str]) -> Vec<String> {
    let mut v: Vec<String> = vec!["train".into(), "--quiet".into()];
    for (flag, value) in SMALL {
        if !extra.contains(&flag) {
            v.extend([flag.to_string(), value.to_string()]);
        }
    }
    v.extend(extra.iter().map(|a| a.to_string()));
    v
}

fn run_small(extra: &[&str]) -> Output {
    let args = small(extra);
    descent(&args.iter().map(String::as_str).collect::<Vec<_>>())
}

/// Asserts exit code 2 and exactly one line on stderr, containing `needle`.
fn fails_with(out: &Output, needle: &str) {
    let err = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(2), "stderr: {err}");
    assert_eq!(err.lines().count(), 1, "one line expected, got: {err}");
    assert!(err.starts_with("descent: ") && err.contains(needle), "{err:?} should contain {needle:?}");
}

fn history(path: &Path) -> Vec<Value> {
    let v: Value = serde_json::from_slice(&std::fs::read(path).unwrap()).unwrap();
    v["epochs"].as_array().unwrap().clone()
}

/// The history without the timing column.
fn untimed(path: &Path) -> Vec<Value> {
    let mut h = history(path);
    h.iter_mut().for_each(|r| r["seconds"] = Value::Null);
    h
}

fn dir_entries(d: &Path) -> Vec<String> {
    let mut v: Vec<String> = std::fs::read_dir(d)
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    v.sort();
    v
}

#[test]
fn bad_input_gives_one_line_and_exit_code_2() {
    fails_with(&descent(&["train", "--bogus"]), "unexpected argument '--bogus'");
    fails_with(&descent(&["train", "--epochs", "many"]), "invalid value 'many'");
    fails_with(&descent(&[]), "a subcommand is required");
    fails_with(&descent(&["train", "--accumulate", "0"]), "--accumulate must be at least 1");
    fails_with(&descent(&["train", "--optimizer", "adamz"]), "invalid value 'adamz' for '--optimizer");
    fails_with(&descent(&["train", "--lr", "-1"]), "Invalid learning rate");
    fails_with(
        &descent(&["train", "--optimizer", "yogi", "--no-decay-bias"]),
        "--no-decay-bias: yogi has no weight decay to turn off",
    );
    fails_with(&descent(&["train", "--scheduler", "bogus_lr"]), "--scheduler");
    fails_with(&descent(&["train", "--val-fraction", "1"]), "--val-fraction");
    fails_with(
        &descent(&["train", "--data", "/nonexistent-descent"]),
        "/nonexistent-descent: not a directory",
    );
    fails_with(&descent(&["train", "--resume", "/nonexistent-descent.ckpt"]), "/nonexistent-descent.ckpt");
    fails_with(&descent(&["train", "--resume", "x.ckpt", "--lr", "0.1"]), "cannot be used with");
    fails_with(&descent(&["compare", "--optimizers", "sgd,adamz"]), "--optimizers: adamz: unknown optimizer");
    let out = Command::new(env!("CARGO_BIN_EXE_descent"))
        .args(["train", "--epochs", "1"])
        .env("DESCENT_DATA", "/nonexistent-descent-data")
        .output()
        .unwrap();
    fails_with(&out, "no MNIST data found (tried /nonexistent-descent-data)");
}

#[test]
fn help_and_version_exit_0() {
    for args in [&["--help"][..], &["--version"], &["train", "--help"], &["compare", "--help"]] {
        let out = descent(args);
        assert_eq!(out.status.code(), Some(0), "{args:?}");
        assert!(!out.stdout.is_empty());
    }
}

#[test]
fn the_history_file_has_the_documented_shape() {
    let d = scratch("shape");
    let h = d.join("h.json");
    let out = run_small(&["--epochs", "2", "--val-fraction", "0", "--history", s(&h)]);
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let epochs = history(&h);
    assert_eq!(epochs.len(), 2);
    for (i, r) in epochs.iter().enumerate() {
        let mut keys: Vec<&str> = r.as_object().unwrap().keys().map(String::as_str).collect();
        keys.sort();
        assert_eq!(
            keys,
            [
                "epoch",
                "grad_norm",
                "lr",
                "seconds",
                "test_accuracy",
                "test_loss",
                "train_accuracy",
                "train_loss"
            ]
        );
        assert_eq!(r["epoch"], i + 1);
        for k in ["train_accuracy", "test_accuracy"] {
            let a = r[k].as_f64().unwrap();
            assert!((0.0..=100.0).contains(&a), "{k} {a} is not a percentage");
        }
        assert_eq!(r["lr"], 1e-3);
        assert!(r["seconds"].as_f64().unwrap() > 0.0);
    }
    // With a validation split (the default) each record also has val_loss and val_accuracy.
    let out = run_small(&["--history", s(&h)]);
    assert!(out.status.success());
    let r = &history(&h)[0];
    assert!(r["val_loss"].is_f64() && r["val_accuracy"].is_f64(), "{r}");
    let _ = std::fs::remove_dir_all(&d);
}

#[test]
fn nothing_is_written_on_failure() {
    let d = scratch("nothing");
    let (h, c) = (d.join("h.json"), d.join("c.ckpt"));
    // A --save that cannot be written is refused before training, and --history is not written.
    let out = run_small(&["--history", s(&h), "--save", s(&d.join("missing/c.ckpt"))]);
    fails_with(&out, "--save");
    assert_eq!(dir_entries(&d), Vec::<String>::new());
    // A run that fails during training (it diverges) leaves neither file, nor temporary ones.
    let out = run_small(&["--optimizer", "sgd", "--lr", "1e30", "--history", s(&h), "--save", s(&c)]);
    fails_with(&out, "training diverged");
    assert_eq!(dir_entries(&d), Vec::<String>::new());
    // compare with a bad optimizer trains nothing and creates no output directory.
    let out = descent(&["compare", "--optimizers", "sgd,adamz", "--out", s(&d.join("cmp"))]);
    fails_with(&out, "adamz");
    assert_eq!(dir_entries(&d), Vec::<String>::new());
    let out = descent(&["compare", "--out", s(&d.join("cmp")), "--epochs", "0"]);
    fails_with(&out, "--epochs");
    assert_eq!(dir_entries(&d), Vec::<String>::new());
    let _ = std::fs::remove_dir_all(&d);
}

#[test]
fn schedules_run_through_the_training_loop() {
    let d = scratch("schedule");
    let h = d.join("h.json");
    // 256 examples in batches of 64: 4 steps per epoch. Per batch, the last step of epoch e
    // uses γ^(4e − 1); per epoch, epoch e uses the lr after e − 1 schedule steps.
    let out = run_small(&[
        "--epochs",
        "2",
        "--scheduler",
        "exponential_lr:gamma=0.5",
        "--schedule-per",
        "batch",
        "--history",
        s(&h),
    ]);
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let lrs: Vec<f64> = history(&h).iter().map(|r| r["lr"].as_f64().unwrap()).collect();
    assert_eq!(lrs, [1e-3 * 0.5f64.powi(3), 1e-3 * 0.5f64.powi(7)]);
    let out = run_small(&[
        "--epochs",
        "3",
        "--scheduler",
        r#"{"name": "step_lr", "step_size": 2}"#,
        "--history",
        s(&h),
    ]);
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let lrs: Vec<f64> = history(&h).iter().map(|r| r["lr"].as_f64().unwrap()).collect();
    assert_eq!(lrs, [1e-3, 1e-3, 1e-3 * 0.1]);
    let _ = std::fs::remove_dir_all(&d);
}

#[test]
fn resume_continues_bit_identically() {
    // 256 examples in batches of 48: 6 micro-batches per epoch, groups of 4 and a leftover of 2;
    // a per-batch schedule and clipping, all of which the checkpoint must carry.
    resumes_bit_identically(
        "resume",
        &[
            "--batch-size",
            "48",
            "--accumulate",
            "4",
            "--clip-norm",
            "1",
            "--scheduler",
            "cosine_annealing_lr:T_max=7",
            "--schedule-per",
            "batch",
            "--seed",
            "3",
        ],
    );
}

/// The same with parameter groups: no decay on biases, a frozen layer, layer-wise lr decay, an
/// explicit group, and a schedule that drives every group from its own lr.
#[test]
fn resume_with_parameter_groups_continues_bit_identically() {
    resumes_bit_identically(
        "resume-groups",
        &[
            "--optimizer",
            "adamw",
            "--weight-decay",
            "0.1",
            "--hidden",
            "16,8",
            "--no-decay-bias",
            "--freeze",
            "0",
            "--layer-lr-decay",
            "0.5",
            "--param-groups",
            r#"[{"params": ["layers.2.weight"], "lr": 0.01}]"#,
            "--scheduler",
            "step_lr:step_size=1,gamma=0.5",
            "--seed",
            "5",
        ],
    );
}

fn resumes_bit_identically(name: &str, recipe: &[&str]) {
    let d = scratch(name);
    let (h_all, c_all, c_two, h_res, c_res) =
        (d.join("all.json"), d.join("all.ckpt"), d.join("two.ckpt"), d.join("res.json"), d.join("res.ckpt"));
    let straight = [recipe, &["--epochs", "3", "--history", s(&h_all), "--save", s(&c_all)]].concat();
    assert!(run_small(&straight).status.success());
    let first = [recipe, &["--epochs", "2", "--save", s(&c_two)]].concat();
    assert!(run_small(&first).status.success());
    let out = descent(&[
        "train",
        "--quiet",
        "--resume",
        s(&c_two),
        "--epochs",
        "3",
        "--history",
        s(&h_res),
        "--save",
        s(&c_res),
    ]);
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    assert_eq!(untimed(&h_res), untimed(&h_all));
    let (a, b) = (Checkpoint::load(&c_all).unwrap(), Checkpoint::load(&c_res).unwrap());
    assert_eq!((a.epoch, &a.params, &a.state, &a.schedule), (b.epoch, &b.params, &b.state, &b.schedule));
    assert_eq!(a.groups, b.groups);
    assert!(!a.schedule.is_empty());
    // Nothing left to do is an error, not a silent no-op.
    fails_with(&descent(&["train", "--resume", s(&c_res), "--epochs", "3"]), "pass a larger --epochs");
    let _ = std::fs::remove_dir_all(&d);
}

/// The learning-rate-free rules: `--optimizer prodigy` (and `dadapt_adamw`) trains with lr 1, optax's
/// default (a multiplier of the step size they estimate); parameter groups that split the set
/// are refused in one line naming why (one estimate over every parameter).
#[test]
fn learning_rate_free_rules_train_with_lr_one_over_one_group() {
    let d = scratch("lr-free");
    let h = d.join("h.json");
    for name in ["prodigy", "dadapt_adamw"] {
        let out = run_small(&["--optimizer", name, "--val-fraction", "0", "--history", s(&h)]);
        assert!(out.status.success(), "{name}: {}", String::from_utf8_lossy(&out.stderr));
        let r = &history(&h)[0];
        assert_eq!(r["lr"], 1.0, "{name}");
        assert!(r["train_loss"].as_f64().unwrap().is_finite(), "{name}: {r}");
        fails_with(&run_small(&["--optimizer", name, "--no-decay-bias"]), "one parameter group");
    }
    let _ = std::fs::remove_dir_all(&d);
}
