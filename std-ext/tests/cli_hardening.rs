//! The problems a new user and an adversarial tester found in the command line, one test each:
//! non-finite hyperparameters, colliding outputs, a closed standard output, replay's non-finite
//! output, export's paths, allocation sizes, degenerate analyses, gzip (in data::idx's unit tests),
//! output checks before work, messages, interruption and resumption, and model selection.

use descent_std::checkpoint::Checkpoint;
use serde_json::Value;
use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};

/// The binary under test: this build's, or `DESCENT_TEST_BIN` (another build, e.g. an older one,
/// to see these tests fail on it).
fn bin() -> Command {
    let exe = std::env::var_os("DESCENT_TEST_BIN").unwrap_or_else(|| env!("CARGO_BIN_EXE_descent").into());
    let mut c = Command::new(exe);
    c.env_remove("DESCENT_DATA");
    c
}

fn descent(args: &[&str]) -> Output {
    bin().args(args).output().expect("the descent binary runs")
}

fn scratch(name: &str) -> PathBuf {
    let d = std::env::temp_dir().join(format!("descent-hardening-{name}-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&d);
    std::fs::create_dir_all(&d).unwrap();
    d
}

fn s(p: &Path) -> &str {
    p.to_str().unwrap()
}

/// Exit code 2 and one line on stderr containing `needle`.
fn fails_with(out: &Output, needle: &str) {
    let err = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(2), "stderr: {err}");
    assert_eq!(err.lines().count(), 1, "one line expected, got: {err}");
    assert!(err.contains(needle), "{err:?} should contain {needle:?}");
}

fn ok(out: &Output) -> String {
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    String::from_utf8_lossy(&out.stdout).into_owned()
}

/// A small, fast training run's flags (each unless the test gives it).
const SMALL: [(&str, &str); 4] =
    [("--hidden", "8"), ("--limit", "256"), ("--batch-size", "64"), ("--epochs", "1")];

fn small(extra: &[&str]) -> Vec<String> {
    let mut args = vec!["train".to_string()];
    for (flag, value) in SMALL {
        if !extra.contains(&flag) {
            args.extend([flag.to_string(), value.to_string()]);
        }
    }
    args.extend(extra.iter().map(|a| a.to_string()));
    args
}

fn train(extra: &[&str]) -> Output {
    bin().args(small(extra)).output().expect("the descent binary runs")
}

fn history(p: &Path) -> Vec<Value> {
    let v: Value = serde_json::from_slice(&std::fs::read(p).unwrap()).unwrap();
    let mut e = v["epochs"].as_array().unwrap().clone();
    e.iter_mut().for_each(|r| r["seconds"] = Value::Null);
    e
}

#[test]
fn non_finite_hyperparameters_are_refused_as_pytorch_words_it() {
    fails_with(&descent(&["train", "--lr", "nan"]), "--lr: Invalid learning rate: nan");
    fails_with(&descent(&["train", "--lr", "inf"]), "--lr: Invalid learning rate: inf");
    fails_with(
        &descent(&["train", "--weight-decay", "nan"]),
        "--weight-decay: Invalid weight_decay value: nan",
    );
    fails_with(
        &descent(&["train", "--weight-decay", "inf"]),
        "--weight-decay: Invalid weight_decay value: inf",
    );
    // Not blamed on betas or nesterov: the flag given.
    fails_with(
        &descent(&["train", "--optimizer", "sgd", "--momentum", "nan"]),
        "--momentum: Invalid momentum value: nan",
    );
    fails_with(&descent(&["train", "--momentum", "nan"]), "--momentum: Invalid momentum value: nan");
    fails_with(
        &descent(&["train", "--momentum", "-1"]),
        "--momentum: Invalid beta parameter at index 0: -1.0",
    );
    fails_with(&descent(&["compare", "--lr", "nan"]), "--lr: Invalid learning rate: nan");
    fails_with(
        &descent(&["analyze", "sweep", "--lrs", "nan"]),
        "--lrs must be positive learning rates, got nan",
    );
}

#[test]
fn an_output_named_twice_or_naming_an_input_is_refused_and_nothing_is_destroyed() {
    let d = scratch("collide");
    let p = d.join("p");
    std::fs::write(&p, b"precious").unwrap();
    fails_with(&train(&["--save", s(&p), "--history", s(&p)]), "--history and --save name the same file");
    let c = d.join("c.ckpt");
    ok(&train(&["--quiet", "--save", s(&c)]));
    let saved = std::fs::read(&c).unwrap();
    fails_with(
        &descent(&["train", "--resume", s(&c), "--epochs", "2", "--history", s(&c)]),
        "--resume and --history name the same file",
    );
    assert_eq!((std::fs::read(&p).unwrap(), std::fs::read(&c).unwrap()), (b"precious".to_vec(), saved));
    let _ = std::fs::remove_dir_all(&d);
}

#[test]
fn a_closed_standard_output_stops_the_printing_not_the_run() {
    let d = scratch("pipe");
    let c = d.join("c.ckpt");
    let mut cmd = bin();
    cmd.args(small(&["--epochs", "2", "--save", s(&c)]));
    let mut child = cmd.stdout(Stdio::piped()).stderr(Stdio::piped()).spawn().unwrap();
    drop(child.stdout.take()); // `| head -0`: the reader is gone before the first line
    let out = child.wait_with_output().unwrap();
    assert_eq!(out.status.code(), Some(0), "{}", String::from_utf8_lossy(&out.stderr));
    assert_eq!(Checkpoint::load(&c).unwrap().history.epochs.len(), 2);
    let _ = std::fs::remove_dir_all(&d);
}

#[test]
fn replay_writes_nan_and_infinities_that_feed_back_with_actual() {
    let d = scratch("replay");
    let spec = d.join("s.spec.json");
    std::fs::write(
        &spec,
        r#"{"dtype": "f64", "optimizer": {"name": "sgd", "lr": 1.0},
            "params": [{"shape": [3], "data": [1.0, 2.0, 3.0]}], "grads": [[[Infinity, NaN, -Infinity]]]}"#,
    )
    .unwrap();
    let trace = ok(&descent(&["replay", s(&spec)]));
    assert_eq!(trace.trim(), r#"{"lr":[1.0],"params":[[[-Infinity,NaN,Infinity]]]}"#);
    let t = d.join("t.json");
    std::fs::write(&t, &trace).unwrap();
    let out = ok(&descent(&["replay", s(&spec), "--expected", s(&t), "--actual", s(&t)]));
    assert!(out.contains("agrees with PyTorch"), "{out}");
    let _ = std::fs::remove_dir_all(&d);
}

#[test]
fn export_refuses_a_directory_and_its_own_checkpoint_and_leaves_nothing() {
    let d = scratch("export");
    let c = d.join("ok.ckpt");
    ok(&train(&["--quiet", "--save", s(&c)]));
    let saved = std::fs::read(&c).unwrap();
    let dir = d.join("dir");
    std::fs::create_dir(&dir).unwrap();
    fails_with(&descent(&["export", s(&c), "--out", s(&dir)]), "is a directory");
    fails_with(&descent(&["export", s(&c), "--out", s(&c)]), "name the same file");
    let mut left: Vec<String> = std::fs::read_dir(&d)
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    left.sort();
    assert_eq!(left, ["dir", "ok.ckpt"]);
    assert_eq!(std::fs::read(&c).unwrap(), saved);
    ok(&descent(&["export", s(&c), "--out", s(&d.join("m.blob"))]));
    let _ = std::fs::remove_dir_all(&d);
}

#[test]
fn sizes_too_large_to_allocate_are_one_line_errors_not_aborts() {
    fails_with(&train(&["--hidden", "100000000"]), "cannot allocate");
    // Each buffer alone would fit; together they do not (4 GB of weights, 25 GB of activations).
    fails_with(
        &train(&["--hidden", "1000000000", "--batch-size", "64", "--optimizer", "sgd"]),
        "cannot allocate",
    );
    fails_with(&train(&["--hidden", "4000000000,4000000000"]), "cannot allocate");
    fails_with(&descent(&["analyze", "rates", "--dim", "100000"]), "--dim must be at most 1000");
    fails_with(&descent(&["analyze", "sweep", "--grid", "1e-3,1,1e9"]), "--grid");
    let d = scratch("alloc");
    let spec = d.join("a.spec.json");
    std::fs::write(
        &spec,
        r#"{"dtype": "f32", "optimizer": {"name": "adafactor"},
            "params": [{"shape": [3000000000000, 0], "data": []}], "grads": [[[]]]}"#,
    )
    .unwrap();
    fails_with(&descent(&["replay", s(&spec)]), "cannot allocate");
    let _ = std::fs::remove_dir_all(&d);
}

#[test]
fn rates_run_at_kappa_one_and_dim_one_and_refuse_infinity_without_a_directory() {
    let d = scratch("rates");
    for args in [["--kappas", "1"], ["--dim", "1"]] {
        let out = d.join(args[0].trim_start_matches('-'));
        ok(&descent(&["analyze", "rates", "--max-steps", "2000", "--out", s(&out), args[0], args[1]]));
        assert!(out.join("rates.csv").is_file());
    }
    fails_with(&descent(&["analyze", "rates", "--kappas", "inf", "--out", s(&d.join("inf"))]), "--kappas");
    assert!(!d.join("inf").exists());
    let _ = std::fs::remove_dir_all(&d);
}

#[test]
fn output_directories_are_checked_before_any_training() {
    // With missing data as well, the error is --out's: it is checked first, not after training.
    for topic in ["landscape", "sweep", "gradient-flow", "sharpness"] {
        let out =
            descent(&["analyze", topic, "--data", "/nonexistent-descent", "--out", "/proc/descent-test"]);
        fails_with(&out, "--out /proc/descent-test: cannot write in /proc");
    }
}

#[test]
fn messages_name_what_is_wrong() {
    fails_with(&descent(&["export"]), "not provided: --out <OUT>, <CHECKPOINT>");
    fails_with(&descent(&["replay"]), "not provided: <SPEC>");
    fails_with(&descent(&["compare", "--lr", "-1"]), "--lr: Invalid learning rate: -1.0");
    fails_with(
        &descent(&["analyze", "sweep", "--lrs", "-1"]),
        "--lrs must be positive learning rates, got -1.0",
    );
    fails_with(&descent(&["train", "--threads", "1000000"]), "--threads must be at most 1024, got 1000000");
    let d = scratch("messages");
    let f = d.join("file");
    std::fs::write(&f, b"x").unwrap();
    fails_with(&descent(&["analyze", "schedules", "--out", s(&f)]), "is a file, not a directory");
    fails_with(&descent(&["compare", "--out", s(&f)]), "is a file, not a directory");
    let out = bin().args(["train", "--epochs", "1"]).env("DESCENT_DATA", "").output().unwrap();
    fails_with(&out, "DESCENT_DATA is set but empty");
    let _ = std::fs::remove_dir_all(&d);
}

#[test]
fn ctrl_c_stops_after_the_batch_saves_and_resume_continues_bit_identically() {
    let d = scratch("interrupt");
    let (c, h, straight) = (d.join("c.ckpt"), d.join("h.json"), d.join("straight.json"));
    let run = ["--hidden", "8", "--limit", "2000", "--batch-size", "32", "--seed", "4"];
    let mut child = bin()
        .arg("train")
        .args(run)
        .args(["--epochs", "1000", "--save", s(&c)])
        .stdout(Stdio::piped())
        .spawn()
        .unwrap();
    // Wait for the first epoch, then Ctrl-C.
    let mut lines = BufReader::new(child.stdout.take().unwrap()).lines();
    assert!(lines.by_ref().map_while(Result::ok).any(|l| l.starts_with("epoch  1/1000")));
    let kill = Command::new("kill").args(["-INT", &child.id().to_string()]).status().unwrap();
    assert!(kill.success());
    let status = child.wait().unwrap();
    assert_eq!(status.code(), Some(130));
    let saved = Checkpoint::load(&c).unwrap();
    let e = saved.history.epochs.len();
    assert!(e >= 1 && e < 1000 && saved.epoch <= e, "{e} epochs, best {}", saved.epoch);
    // Resumed up to the epoch after the interruption: the history of an uninterrupted run.
    let to = (e + 1).to_string();
    ok(&descent(&["train", "--quiet", "--resume", s(&c), "--epochs", &to, "--history", s(&h)]));
    ok(&descent(&[&["train", "--quiet"][..], &run, &["--epochs", &to, "--history", s(&straight)]].concat()));
    assert_eq!(history(&h), history(&straight));
    let _ = std::fs::remove_dir_all(&d);
}

#[test]
fn a_seeded_validation_split_selects_and_the_test_set_never_does() {
    let d = scratch("select");
    let (h, c) = (d.join("h.json"), d.join("c.ckpt"));
    let out = ok(&train(&["--epochs", "3", "--history", s(&h), "--save", s(&c)]));
    assert!(out.starts_with("descent train: 230 train / 26 validation / 2000 test images"), "{out}");
    assert!(out.contains("selecting the best epoch on the validation loss"), "{out}");
    let epochs = history(&h);
    let best = epochs
        .iter()
        .min_by(|a, b| a["val_loss"].as_f64().unwrap().total_cmp(&b["val_loss"].as_f64().unwrap()));
    assert_eq!(Checkpoint::load(&c).unwrap().epoch as u64, best.unwrap()["epoch"].as_u64().unwrap());
    // The seed picks the validation examples: another seed, another split, other losses.
    ok(&train(&["--epochs", "1", "--seed", "1", "--history", s(&h)]));
    let other = history(&h);
    assert_ne!(other[0]["val_loss"], epochs[0]["val_loss"]);
    // Without a validation split, the training loss selects.
    let out = ok(&train(&["--epochs", "3", "--val-fraction", "0", "--history", s(&h), "--save", s(&c)]));
    assert!(out.contains("selecting the best epoch on the training loss"), "{out}");
    let epochs = history(&h);
    let best = epochs
        .iter()
        .min_by(|a, b| a["train_loss"].as_f64().unwrap().total_cmp(&b["train_loss"].as_f64().unwrap()));
    assert_eq!(Checkpoint::load(&c).unwrap().best_metric, best.unwrap()["train_loss"].as_f64().unwrap());
    let _ = std::fs::remove_dir_all(&d);
}

#[test]
fn compare_takes_hyperparameters_per_run_and_lr_find_its_smoothing() {
    let d = scratch("per-run");
    let out = ok(&descent(&[
        "compare",
        "--quiet",
        "--epochs",
        "1",
        "--hidden",
        "8",
        "--optimizers",
        "rmsprop:alpha=0.9,adam:lr=3e-3,betas=[0.8,0.99]",
        "--out",
        s(&d.join("cmp")),
    ]));
    assert!(out.contains("rmsprop:alpha=0.9 ") && out.contains("adam:lr=3e-3,betas=[0.8,0.99] "), "{out}");
    let all: Value = serde_json::from_slice(&std::fs::read(d.join("cmp/histories.json")).unwrap()).unwrap();
    assert_eq!(all.as_object().unwrap().len(), 2);
    let lr = |k: &str| all[k]["epochs"][0]["lr"].as_f64().unwrap();
    assert_eq!((lr("rmsprop:alpha=0.9"), lr("adam:lr=3e-3,betas=[0.8,0.99]")), (0.01, 3e-3));
    let f = d.join("lr-find");
    ok(&descent(&["analyze", "lr-find", "--steps", "20", "--hidden", "8", "--beta", "0.5", "--out", s(&f)]));
    let svg = std::fs::read_to_string(f.join("lr_find.svg")).unwrap();
    assert!(svg.contains("smoothed (β = 0.5)"), "the legend names the β used");
    fails_with(&descent(&["analyze", "lr-find", "--beta", "1"]), "--beta must be in [0, 1)");
    let _ = std::fs::remove_dir_all(&d);
}

#[test]
fn seconds_per_epoch_after_resume_average_only_the_epochs_run() {
    let d = scratch("secs");
    let (c, h) = (d.join("c.ckpt"), d.join("h.json"));
    ok(&train(&["--quiet", "--epochs", "2", "--val-fraction", "0", "--save", s(&c)]));
    let out = ok(&descent(&["train", "--resume", s(&c), "--epochs", "3", "--history", s(&h)]));
    let v: Value = serde_json::from_slice(&std::fs::read(&h).unwrap()).unwrap();
    let third = v["epochs"][2]["seconds"].as_f64().unwrap();
    let want = format!("{third:.3} s per epoch");
    assert!(out.lines().last().unwrap().contains(&want), "{out} should say {want}");
    let _ = std::fs::remove_dir_all(&d);
}

#[test]
fn the_conformance_readme_cites_only_scripts_the_repository_has() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("..");
    let readme = std::fs::read_to_string(root.join("tests/data/conformance/README.md")).unwrap();
    let cited: Vec<&str> = readme
        .split(|c: char| c.is_whitespace() || "`()[],".contains(c))
        .filter(|w| w.ends_with(".py"))
        .collect();
    assert!(!cited.is_empty());
    for script in cited {
        let path = script.trim_start_matches("../").trim_start_matches("../");
        assert!(root.join(path).is_file(), "{script} is cited but {path} does not exist");
    }
    let ignored = std::fs::read_to_string(root.join(".gitignore")).unwrap();
    assert!(ignored.lines().any(|l| l == "/analysis"), "analyze's default output is not ignored");
}
