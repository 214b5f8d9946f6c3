//! `descent compare`: the seeds' comparison of optimizers on the same MLP.

use super::train::{Report, load_data, set_threads, splits};
use super::{Failure, Staged, check_output_dir};
use crate::plot::{Series, bar_chart, line_chart};
use crate::train::{History, TrainOptions};
use serde_json::{Map, Value, json};
use std::path::{Path, PathBuf};

/// Arguments of `descent compare`.
#[derive(clap::Args)]
pub struct Args {
    /// Directory with the four MNIST-format files (default: the bundled 10k subset).
    #[arg(long)]
    data: Option<PathBuf>,
    /// Learning rate for every optimizer.
    #[arg(long, default_value_t = 0.01)]
    lr: f64,
    /// Epochs per optimizer.
    #[arg(long, default_value_t = 10)]
    epochs: usize,
    /// Examples per batch.
    #[arg(long, default_value_t = 128)]
    batch_size: usize,
    /// Hidden layer widths, comma-separated.
    #[arg(long, default_value = "128", value_delimiter = ',')]
    hidden: Vec<usize>,
    /// Momentum of the momentum and Nesterov runs.
    #[arg(long, default_value_t = 0.9)]
    momentum: f64,
    /// Which runs, comma-separated, from: sgd, momentum, nesterov, rmsprop, adam (and any other optimizer name).
    #[arg(long, default_value = "sgd,momentum,nesterov,rmsprop,adam", value_delimiter = ',')]
    optimizers: Vec<String>,
    /// Seed (the same for every run: same initialization, same batches).
    #[arg(long, default_value_t = 0)]
    seed: u64,
    /// Threads for the matrix products.
    #[arg(long, default_value_t = 1)]
    threads: usize,
    /// Directory for the plots and the histories.
    #[arg(long, default_value = "compare-out")]
    out: PathBuf,
    /// No per-epoch lines.
    #[arg(long)]
    quiet: bool,
}

/// The keyword arguments of a named run.
fn run_kwargs(name: &str, lr: f64, momentum: f64) -> Map<String, Value> {
    let v = match name {
        "sgd" => json!({"name": "sgd", "lr": lr}),
        "momentum" => json!({"name": "sgd", "lr": lr, "momentum": momentum}),
        "nesterov" => json!({"name": "sgd", "lr": lr, "momentum": momentum, "nesterov": true}),
        other => json!({"name": other, "lr": lr}),
    };
    match v {
        Value::Object(m) => m,
        _ => Map::new(),
    }
}

/// Runs `descent compare`.
pub fn run(a: Args) -> Result<(), Failure> {
    if a.epochs == 0 {
        return Err(Failure("--epochs must be at least 1".into()));
    }
    if a.batch_size == 0 {
        return Err(Failure("--batch-size must be at least 1".into()));
    }
    if a.threads == 0 {
        return Err(Failure("--threads must be at least 1".into()));
    }
    if a.hidden.contains(&0) {
        return Err(Failure("--hidden sizes must be positive".into()));
    }
    if a.optimizers.is_empty() || a.optimizers.iter().any(|n| n.is_empty()) {
        return Err(Failure("--optimizers needs at least one name and no empty ones".into()));
    }
    // Every run's optimizer is built once before any training, so a bad name or value fails first.
    for name in &a.optimizers {
        crate::registry::build::<f32>(
            &run_kwargs(name, a.lr, a.momentum),
            &[1],
            1,
            descent_core::NonFinitePolicy::Propagate,
        )
        .map_err(|e| Failure(format!("--optimizers: {name}: {e}")))?;
    }
    check_output_dir(&a.out, "--out")?;
    set_threads(a.threads);
    let mnist = load_data(&a.data)?;
    let (train, test) = splits(&mnist);
    let inputs = mnist.train.rows * mnist.train.cols;
    let mut results: Vec<(String, History)> = Vec::new();
    for name in &a.optimizers {
        let opts = TrainOptions {
            optimizer: run_kwargs(name, a.lr, a.momentum),
            epochs: a.epochs,
            batch_size: a.batch_size,
            hidden: a.hidden.clone(),
            seed: a.seed,
            ..TrainOptions::default()
        };
        let mut report = Report::new(a.epochs, a.quiet, &format!("{name:>9} "));
        let t = crate::train::train(train, test, inputs, 10, &opts, None, &mut report)
            .map_err(|e| Failure(format!("{name}: {e}")))?;
        results.push((name.clone(), t.history));
    }
    say!(
        "\n{:<10} {:>10} {:>10} {:>10} {:>10} {:>9}",
        "optimizer",
        "train loss",
        "test loss",
        "test acc",
        "best acc",
        "s/epoch"
    );
    for (name, h) in &results {
        let last = h.epochs.last().ok_or_else(|| Failure("no epochs".into()))?;
        let best = h.epochs.iter().map(|r| r.test_accuracy).fold(0.0, f64::max);
        let secs = h.epochs.iter().map(|r| r.seconds).sum::<f64>() / h.epochs.len() as f64;
        say!(
            "{name:<10} {:>10.4} {:>10.4} {:>9.2}% {:>9.2}% {secs:>9.3}",
            last.train_loss,
            last.test_loss,
            last.test_accuracy,
            best
        );
    }
    std::fs::create_dir_all(&a.out).map_err(|e| Failure(format!("--out {}: {e}", a.out.display())))?;
    let mut staged = Staged::default();
    write_plots(&mut staged, &a.out, &results)?;
    let all: Map<String, Value> =
        results.iter().map(|(n, h)| (n.clone(), serde_json::to_value(h).unwrap_or(Value::Null))).collect();
    staged.write(&a.out.join("histories.json"), serde_json::to_string_pretty(&all)?.as_bytes())?;
    staged.commit()?;
    say!("plots and histories in {}", a.out.display());
    Ok(())
}

/// Writes the four plots under temporary names in `staged`.
fn write_plots(staged: &mut Staged, out: &Path, results: &[(String, History)]) -> Result<(), Failure> {
    let series = |f: fn(&crate::train::EpochRecord) -> f64| -> Vec<Series> {
        results
            .iter()
            .map(|(n, h)| Series {
                name: n.clone(),
                points: h.epochs.iter().map(|r| (r.epoch as f64, f(r))).collect(),
            })
            .collect()
    };
    line_chart(
        &staged.temp_path(&out.join("train_loss.svg")),
        "Training loss",
        "epoch",
        "cross-entropy",
        &series(|r| r.train_loss),
        false,
        true,
    )?;
    line_chart(
        &staged.temp_path(&out.join("test_accuracy.svg")),
        "Test accuracy",
        "epoch",
        "accuracy (%)",
        &series(|r| r.test_accuracy),
        false,
        false,
    )?;
    line_chart(
        &staged.temp_path(&out.join("grad_norm.svg")),
        "Mean gradient norm",
        "epoch",
        "‖g‖₂",
        &series(|r| r.grad_norm),
        false,
        true,
    )?;
    let bars: Vec<(String, f64)> =
        results.iter().map(|(n, h)| (n.clone(), h.epochs.last().map_or(0.0, |r| r.test_accuracy))).collect();
    bar_chart(
        &staged.temp_path(&out.join("final_accuracy.svg")),
        "Final test accuracy",
        "accuracy (%)",
        &bars,
    )?;
    Ok(())
}
