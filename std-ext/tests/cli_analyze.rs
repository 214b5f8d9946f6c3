//! `descent analyze` as a user runs it: outputs land in `--out`, bad arguments give one line on
//! stderr, exit code 2, and create nothing.

use std::path::PathBuf;
use std::process::Command;

fn descent(args: &[&str]) -> std::process::Output {
    Command::new(env!("CARGO_BIN_EXE_descent")).args(args).output().expect("the descent binary runs")
}

fn scratch(name: &str) -> PathBuf {
    let d = std::env::temp_dir().join(format!("descent-cli-analyze-{name}-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&d);
    d
}

#[test]
fn lr_demo_writes_its_plot_and_numbers_and_prints_the_table() {
    let dir = scratch("lr-demo");
    let out =
        descent(&["analyze", "lr-demo", "--out", dir.to_str().unwrap(), "--lrs", "0.1,1.1", "--steps", "5"]);
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(stdout.contains("converges") && stdout.contains("diverges"), "{stdout}");
    for f in ["lr_demo.svg", "lr_demo.csv", "lr_demo.json"] {
        assert!(dir.join(f).is_file(), "{f} missing");
    }
    let csv = std::fs::read_to_string(dir.join("lr_demo.csv")).unwrap();
    assert_eq!(csv.lines().count(), 1 + 2 * 6, "a header and 6 points per lr");
    // x after one step at lr 1.1 is (1 − 2.2)·1 = −1.2.
    assert!(csv.lines().any(|l| l.starts_with("1.1,1,-1.2")), "{csv}");
    std::fs::remove_dir_all(&dir).ok();
}

#[test]
fn bad_arguments_print_one_line_exit_2_and_create_nothing() {
    for (args, needle) in [
        (vec!["analyze", "trajectories", "--functions", "nope"], "unknown function 'nope'"),
        (vec!["analyze", "rates", "--kappas", "0.5"], "--kappas"),
        (vec!["analyze", "trajectories", "--run", "sgd:lrr=1", "--functions", "ravine"], "lrr"),
        (vec!["analyze", "lr-find", "--start-lr", "1", "--end-lr", "0.1"], "--start-lr"),
        (vec!["analyze", "sharpness", "--run", "adamm"], "adamm"),
        (vec!["analyze", "moons", "--noise", "-1"], "--noise"),
        (vec!["analyze", "momentum", "--steps", "0"], "--steps"),
        (vec!["analyze", "animation", "--function", "nope"], "unknown function 'nope'"),
        (vec!["analyze", "animation", "--seconds", "0"], "--seconds"),
        (vec!["analyze", "nothing"], "nothing"),
    ] {
        let dir = scratch("bad");
        let mut full = args.clone();
        full.extend(["--out", dir.to_str().unwrap()]);
        let out = descent(&full);
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert_eq!(out.status.code(), Some(2), "{args:?}: {stderr}");
        assert_eq!(stderr.trim_end().lines().count(), 1, "{args:?}: {stderr}");
        assert!(stderr.contains(needle), "{args:?}: {stderr}");
        assert!(!dir.exists(), "{args:?} created {}", dir.display());
    }
}
