//! Every subcommand with every class of bad value for each of its numeric and path flags: NaN,
//! ±∞, negative, zero, huge, empty, the wrong type (a word for a number, a directory for a file,
//! a file for a directory, a file that is not what it should be), and paths that cannot be
//! written. Each must be refused before any work with exit code 2 and one line on standard error
//! naming the flag, creating or changing no file (the runs start in a scratch directory holding
//! one file, which must be all it holds afterwards, unchanged).
//!
//! A class is left out for a flag where it is a valid value: zero for seeds, momentum, weight
//! decay, the learning rate (PyTorch allows lr = 0), the validation fraction, noise and `sweep
//! --epochs` (0 skips the MNIST sweep).

use std::path::{Path, PathBuf};
use std::process::Command;

/// A run with one bad value: the arguments, and what stderr must name.
struct Case {
    args: Vec<String>,
    names: String,
}

/// Counts that must be at least 1.
const COUNT: &[&str] = &["nan", "inf", "-inf", "-1", "0", "99999999999999999999999", "", "x", "1.5"];
/// Counts where 0 is valid (seeds, `sweep --epochs`).
const COUNT_OR_ZERO: &[&str] = &["nan", "inf", "-inf", "-1", "99999999999999999999999", "", "x", "1.5"];
/// Positive numbers.
const POSITIVE: &[&str] = &["nan", "inf", "-inf", "-1", "0", "1e400", "", "x"];
/// Non-negative numbers (0 is valid).
const NON_NEGATIVE: &[&str] = &["nan", "inf", "-inf", "-1", "1e400", "", "x"];
/// Fractions in [0, 1).
const FRACTION: &[&str] = &["nan", "inf", "-inf", "-0.5", "1", "1e400", "", "x"];
/// Lists of positive numbers.
const POSITIVE_LIST: &[&str] = &["nan", "inf", "1,-inf", "-1", "0", "1e400", "", "x", "1,,2"];

/// The scratch directory of one run: empty but for `keep.txt`.
fn scratch(i: usize) -> PathBuf {
    let d = std::env::temp_dir().join(format!("descent-bad-values-{}-{i}", std::process::id()));
    let _ = std::fs::remove_dir_all(&d);
    std::fs::create_dir_all(d.join("a-directory")).unwrap();
    std::fs::write(d.join("keep.txt"), b"keep").unwrap();
    std::fs::write(d.join("not-a-checkpoint"), b"plain text").unwrap();
    d
}

/// Every file and directory under `d`, with the contents of the files.
fn listing(d: &Path) -> Vec<(PathBuf, Vec<u8>)> {
    let mut v = Vec::new();
    for e in std::fs::read_dir(d).unwrap() {
        let p = e.unwrap().path();
        if p.is_dir() {
            v.push((p.clone(), Vec::new()));
            v.extend(listing(&p));
        } else {
            v.push((p.clone(), std::fs::read(&p).unwrap()));
        }
    }
    v.sort();
    v
}

fn conformance_case() -> (String, String) {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("../tests/data/conformance/torch");
    let f = |ext: &str| dir.join(format!("case-7-0000.{ext}.json")).to_string_lossy().into_owned();
    (f("spec"), f("expected"))
}

/// `base` with `flag value` added for every bad value (paths relative to the scratch directory);
/// stderr must name `flag`.
fn with(cases: &mut Vec<Case>, base: &[&str], flag: &str, values: &[&str]) {
    for v in values {
        let mut args: Vec<String> = base.iter().map(|s| s.to_string()).collect();
        args.extend([flag.to_string(), v.to_string()]);
        cases.push(Case { args, names: flag.to_string() });
    }
}

/// Positional arguments: `values` in place of `{}` in `args`.
fn positional(cases: &mut Vec<Case>, args: &[&str], names: &str, values: &[&str]) {
    for v in values {
        let args = args.iter().map(|a| if *a == "{}" { v.to_string() } else { a.to_string() }).collect();
        cases.push(Case { args, names: names.to_string() });
    }
}

/// Output files: empty, a directory, a place that cannot be written, a missing directory.
const OUT_FILE: &[&str] = &["", "a-directory", "/proc/descent-test", "missing/out"];
/// Output directories: empty, an existing file, a place that cannot be written.
const OUT_DIR: &[&str] = &["", "keep.txt", "/proc/descent-test"];
/// Input files: empty, missing, a directory, not the right kind of file.
const IN_FILE: &[&str] = &["", "/nonexistent-descent", "a-directory", "not-a-checkpoint"];
/// Input directories: empty, missing, a file.
const IN_DIR: &[&str] = &["", "/nonexistent-descent", "keep.txt"];

fn cases() -> Vec<Case> {
    let mut c = Vec::new();
    let train = ["train", "--quiet"];
    for f in ["--epochs", "--threads", "--batch-size", "--hidden", "--accumulate", "--patience", "--limit"] {
        with(&mut c, &train, f, COUNT);
    }
    with(&mut c, &train, "--seed", COUNT_OR_ZERO);
    for f in ["--lr", "--momentum", "--weight-decay"] {
        with(&mut c, &train, f, NON_NEGATIVE);
    }
    with(&mut c, &["train", "--optimizer", "sgd", "--nesterov"], "--momentum", &["nan", "inf"]);
    with(&mut c, &train, "--clip-norm", POSITIVE);
    with(&mut c, &train, "--val-fraction", FRACTION);
    // Parameter groups.
    with(&mut c, &train, "--layer-lr-decay", POSITIVE);
    with(&mut c, &train, "--freeze", &["nan", "-1", "5", "", "x", "0,,1", "99999999999999999999999"]);
    with(
        &mut c,
        &train,
        "--param-groups",
        &[
            "",
            "x",
            "{}",
            "[1]",
            r#"[{"lr": 0.1}]"#,
            r#"[{"params": ["layers.9.weight"]}]"#,
            r#"[{"params": [7]}]"#,
            r#"[{"params": [0], "lr": "NaN"}]"#,
            r#"[{"params": [0], "lr": -1}]"#,
            r#"[{"params": [0], "weight_decy": 0}]"#,
            r#"[{"params": [0], "frozen": 1}]"#,
        ],
    );
    with(&mut c, &train, "--optimizer-args", &["", "x", "[1]", r#"{"eps": "Infinity"}"#, r#"{"lr": "NaN"}"#]);
    with(&mut c, &train, "--scheduler", &["", "step_lr:step_size=0", "exponential_lr:gamma=inf", "x"]);
    with(&mut c, &train, "--data", IN_DIR);
    with(&mut c, &train, "--history", OUT_FILE);
    with(&mut c, &train, "--save", OUT_FILE);
    with(&mut c, &train, "--resume", IN_FILE);
    // Outputs that collide with each other or with an input.
    with(
        &mut c,
        &["train", "--save", "keep.txt"],
        "--history",
        &["keep.txt", "./keep.txt", "a-directory/../keep.txt"],
    );
    let data = Path::new(env!("CARGO_MANIFEST_DIR")).join("../data/mnist-10k");
    let labels = data.join("train-labels-idx1-ubyte.gz").to_string_lossy().into_owned();
    with(&mut c, &["train", "--data", data.to_str().unwrap()], "--save", &[labels.as_str()]);

    let compare = ["compare", "--quiet", "--out", "cmp"];
    for f in ["--epochs", "--threads", "--batch-size", "--hidden"] {
        with(&mut c, &compare, f, COUNT);
    }
    with(&mut c, &compare, "--seed", COUNT_OR_ZERO);
    with(&mut c, &compare, "--lr", NON_NEGATIVE);
    with(&mut c, &compare, "--momentum", NON_NEGATIVE);
    with(&mut c, &compare, "--optimizers", &["", ",", "adam,adam", "adamz", "adam:lr=inf", "adam:lr=-1"]);
    with(&mut c, &compare, "--data", IN_DIR);
    with(&mut c, &["compare"], "--out", OUT_DIR);

    positional(&mut c, &["export", "{}", "--out", "model.blob"], "CHECKPOINT", IN_FILE);
    with(&mut c, &["export", "not-a-checkpoint"], "--out", OUT_FILE);
    with(&mut c, &["export", "not-a-checkpoint"], "--out", &["not-a-checkpoint"]);

    let (spec, expected) = conformance_case();
    positional(&mut c, &["replay", "{}"], "SPEC", IN_FILE);
    with(&mut c, &["replay", &spec], "--expected", IN_FILE);
    with(&mut c, &["replay", &spec, "--expected", &expected], "--actual", IN_FILE);

    let a = |topic: &str| ["analyze", topic, "--out", "an"].map(str::to_string);
    for (topic, flag) in [
        ("trajectories", "--steps"),
        ("rates", "--dim"),
        ("rates", "--max-steps"),
        ("lr-demo", "--steps"),
        ("ravine", "--steps"),
        ("sweep", "--steps"),
        ("lr-find", "--steps"),
        ("gradient-flow", "--steps"),
        ("landscape", "--epochs"),
        ("landscape", "--side"),
        ("landscape", "--eval"),
        ("second-order", "--max-steps"),
        ("second-order", "--max-iter"),
        ("newton-1d", "--steps"),
        ("moons", "--train"),
        ("moons", "--epochs"),
        ("linear-regression", "--epochs"),
        ("synthetic", "--epochs"),
        ("sharpness", "--epochs"),
        ("sharpness", "--eval"),
    ] {
        let base = a(topic);
        let base: Vec<&str> = base.iter().map(String::as_str).collect();
        with(&mut c, &base, flag, COUNT);
    }
    for topic in ["sweep", "lr-find", "gradient-flow", "landscape", "sharpness"] {
        let base = a(topic);
        let base: Vec<&str> = base.iter().map(String::as_str).collect();
        for f in ["--batch-size", "--threads", "--hidden"] {
            with(&mut c, &base, f, COUNT);
        }
        with(&mut c, &base, "--seed", COUNT_OR_ZERO);
        with(&mut c, &base, "--data", IN_DIR);
    }
    for (topic, flag, values) in [
        ("rates", "--kappas", &["nan", "inf", "-inf", "-1", "0", "0.5", "1e400", "", "x"][..]),
        ("lr-demo", "--lrs", &["nan", "inf", "-inf", "-1", "1e400", "", "x"][..]),
        ("sweep", "--lrs", POSITIVE_LIST),
        (
            "sweep",
            "--grid",
            &["nan,1,3", "1e-3,inf,3", "-1,1,3", "0,1,3", "1e-3,1,1e9", "1e-3,1,2.5", "", "x", "1,2"][..],
        ),
        ("sweep", "--epochs", COUNT_OR_ZERO),
        ("lr-find", "--start-lr", POSITIVE),
        ("lr-find", "--end-lr", POSITIVE),
        ("lr-find", "--beta", FRACTION),
        ("landscape", "--span", POSITIVE),
        ("second-order", "--tolerance", POSITIVE),
        ("moons", "--noise", NON_NEGATIVE),
        ("moons", "--seed", COUNT_OR_ZERO),
        ("trajectories", "--run", &["", "sgd:lr=inf", "sgd:lr=-1", "adamz"][..]),
        ("lr-find", "--optimizer", &["", "sgd:momentum=nan", "x"][..]),
        ("sharpness", "--run", &["sgd:lr=-inf"][..]),
    ] {
        let base = a(topic);
        let base: Vec<&str> = base.iter().map(String::as_str).collect();
        with(&mut c, &base, flag, values);
    }
    for topic in ["rates", "sweep", "landscape", "gradient-flow", "sharpness", "schedules"] {
        with(&mut c, &["analyze", topic], "--out", OUT_DIR);
    }
    c
}

#[test]
fn every_bad_value_of_every_flag_is_refused_before_any_work() {
    let cases = cases();
    // This build's binary, or `DESCENT_TEST_BIN` (another build, e.g. an older one, to see this
    // test fail on it).
    let exe = std::env::var_os("DESCENT_TEST_BIN").unwrap_or_else(|| env!("CARGO_BIN_EXE_descent").into());
    let exe = &exe;
    assert!(cases.len() > 400, "{} cases", cases.len());
    let failures: Vec<String> = std::thread::scope(|s| {
        let chunks: Vec<_> = cases.chunks(cases.len().div_ceil(4)).enumerate().collect();
        let handles: Vec<_> = chunks
            .into_iter()
            .map(|(t, chunk)| {
                s.spawn(move || {
                    let mut failures = Vec::new();
                    let d = scratch(t);
                    let before = listing(&d);
                    for case in chunk {
                        let out = Command::new(exe)
                            .args(&case.args)
                            .current_dir(&d)
                            .env_remove("DESCENT_DATA")
                            .output()
                            .unwrap();
                        let err = String::from_utf8_lossy(&out.stderr);
                        let problem = if out.status.code() != Some(2) {
                            Some(format!("exit {:?}", out.status.code()))
                        } else if err.lines().count() != 1 {
                            Some("not one line".into())
                        } else if !err.contains(&case.names) {
                            Some(format!("does not name {}", case.names))
                        } else if listing(&d) != before {
                            Some("changed the directory".into())
                        } else {
                            None
                        };
                        if let Some(p) = problem {
                            failures.push(format!("descent {:?}: {p}: {err}", case.args));
                            let _ = std::fs::remove_dir_all(&d);
                            scratch(t);
                        }
                    }
                    let _ = std::fs::remove_dir_all(&d);
                    failures
                })
            })
            .collect();
        handles.into_iter().flat_map(|h| h.join().unwrap()).collect()
    });
    assert!(failures.is_empty(), "{} of {} cases:\n{}", failures.len(), cases.len(), failures.join("\n"));
}
