//! `descent compare`: a comparison of optimizers on the same MLP.

use super::check::{self, MAX_EPOCHS};
use super::flags::Net;
use super::train::{Report, load_data, splits};
use super::{Failure, Staged, check_output_dir};
use crate::plot::{Series, bar_chart, line_chart};
use crate::train::{History, TrainOptions};
use serde_json::{Map, Value, json};
use std::path::{Path, PathBuf};

/// Arguments of `descent compare`.
#[derive(clap::Args)]
#[command(allow_negative_numbers = true, allow_hyphen_values = true)]
pub struct Args {
    /// Learning rate of every run that does not set its own.
    #[arg(long, default_value_t = 0.01)]
    lr: f64,
    /// Epochs per optimizer.
    #[arg(long, default_value_t = 10)]
    epochs: usize,
    /// Momentum of the momentum and Nesterov runs.
    #[arg(long, default_value_t = 0.9)]
    momentum: f64,
    /// Which runs, comma-separated: sgd, momentum, nesterov, rmsprop, adam, or any other optimizer
    /// name, each with its own keyword arguments if wanted: 'rmsprop:alpha=0.9,adam:lr=3e-3,betas=[0.8,0.99]'.
    #[arg(long, default_value = "sgd,momentum,nesterov,rmsprop,adam")]
    optimizers: String,
    /// The network, its batches (the same for every run: same initialization, same batches) and
    /// the data.
    #[command(flatten)]
    net: Net,
    /// Directory for the plots and the histories.
    #[arg(long, default_value = "compare-out")]
    out: PathBuf,
    /// No per-epoch lines.
    #[arg(long)]
    quiet: bool,
}

/// A run of `descent compare`: its label and its optimizer's keyword arguments.
type Run = (String, Map<String, Value>);

/// The runs of `--optimizers`: each run's label (as written) and keyword arguments. A comma
/// starts a new run unless what follows is a `key=value` of the run before; `momentum` and
/// `nesterov` are SGD with `--momentum` (and Nesterov's); `--lr` is every run's lr unless it sets one.
fn runs(spec: &str, lr: f64, momentum: f64) -> Result<Vec<Run>, Failure> {
    let mut texts: Vec<String> = Vec::new();
    let mut depth = 0i32;
    let mut part = String::new();
    let flush = |part: &mut String, texts: &mut Vec<String>| {
        let p = std::mem::take(part);
        let continues = match (p.find('='), p.find(':')) {
            (Some(eq), colon) => colon.is_none_or(|c| c > eq),
            (None, _) => false,
        };
        match texts.last_mut() {
            Some(last) if continues => {
                last.push(',');
                last.push_str(&p);
            }
            _ => texts.push(p),
        }
    };
    for c in spec.chars() {
        match c {
            '[' => depth += 1,
            ']' => depth -= 1,
            ',' if depth == 0 => {
                flush(&mut part, &mut texts);
                continue;
            }
            _ => {}
        }
        part.push(c);
    }
    flush(&mut part, &mut texts);
    let mut out: Vec<Run> = Vec::new();
    for text in texts {
        let text = text.trim().to_string();
        if text.is_empty() {
            return Err(Failure("--optimizers needs at least one name and no empty ones".into()));
        }
        if out.iter().any(|(l, _)| *l == text) {
            return Err(Failure(format!("--optimizers: '{text}' is listed twice")));
        }
        let given = crate::named::parse("--optimizers", &text).map_err(Failure)?;
        check::finite_kwargs(&format!("--optimizers: {text}"), &given)?;
        let name = given.get("name").and_then(Value::as_str).unwrap_or("").to_string();
        let mut m = match name.as_str() {
            "momentum" => json!({"name": "sgd", "lr": lr, "momentum": momentum}),
            "nesterov" => json!({"name": "sgd", "lr": lr, "momentum": momentum, "nesterov": true}),
            other => json!({"name": other, "lr": lr}),
        }
        .as_object()
        .cloned()
        .unwrap_or_default();
        m.extend(given.into_iter().filter(|(k, _)| k != "name"));
        out.push((text, m));
    }
    Ok(out)
}

/// Runs `descent compare`.
pub fn run(a: Args) -> Result<(), Failure> {
    check::count("--epochs", a.epochs, 1, MAX_EPOCHS)?;
    a.net.check()?;
    let lr = check::hyperparameter("--lr", "lr", a.lr)?;
    let momentum = check::hyperparameter("--momentum", "momentum", a.momentum)?;
    // --lr and --momentum as SGD checks them, then every run's optimizer built once before any
    // training, so a bad name or value fails first.
    let build = |m: &Map<String, Value>| {
        crate::registry::build::<f32>(m, &[1], 1, descent_core::NonFinitePolicy::Propagate)
    };
    let flags = [("lr", "--lr"), ("momentum", "--momentum")];
    build(&json!({"name": "sgd", "lr": lr, "momentum": momentum}).as_object().cloned().unwrap_or_default())
        .map_err(|e| check::attribute(e, &flags, "--momentum"))?;
    let runs = runs(&a.optimizers, lr, momentum)?;
    for (label, m) in &runs {
        build(m).map_err(|e| Failure(format!("--optimizers: {label}: {e}")))?;
    }
    check_output_dir(&a.out, "--out")?;
    let mnist = load_data(&a.net.input.data)?;
    let (train, test) = splits(&mnist);
    let inputs = mnist.train.rows * mnist.train.cols;
    let width = runs.iter().map(|(l, _)| l.chars().count()).max().unwrap_or(0).max(9);
    let mut results: Vec<(String, History)> = Vec::new();
    for (label, kwargs) in &runs {
        let opts = TrainOptions {
            optimizer: kwargs.clone(),
            epochs: a.epochs,
            batch_size: a.net.batch_size,
            hidden: a.net.hidden_or(&[128]),
            seed: a.net.seed,
            threads: a.net.input.threads,
            ..TrainOptions::default()
        };
        let mut report = Report::new(a.epochs, a.quiet, &format!("{label:>width$} "));
        let t = crate::train::train(train, test, inputs, 10, &opts, None, &mut report)
            .map_err(|e| Failure(format!("{label}: {e}")))?;
        results.push((label.clone(), t.history));
    }
    say!(
        "\n{:<width$} {:>10} {:>10} {:>10} {:>10} {:>9}",
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
            "{name:<width$} {:>10.4} {:>10.4} {:>9.2}% {:>9.2}% {secs:>9.3}",
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn each_run_takes_its_own_keyword_arguments() {
        let r =
            runs("sgd,momentum,adam:lr=3e-3,betas=[0.8,0.99],rmsprop:alpha=0.9,nesterov", 0.01, 0.9).unwrap();
        let labels: Vec<&str> = r.iter().map(|(l, _)| l.as_str()).collect();
        assert_eq!(
            labels,
            ["sgd", "momentum", "adam:lr=3e-3,betas=[0.8,0.99]", "rmsprop:alpha=0.9", "nesterov"]
        );
        let v = |i: usize| Value::Object(r[i].1.clone());
        assert_eq!(v(0), json!({"name": "sgd", "lr": 0.01}));
        assert_eq!(v(1), json!({"name": "sgd", "lr": 0.01, "momentum": 0.9}));
        assert_eq!(v(2), json!({"name": "adam", "lr": 3e-3, "betas": [0.8, 0.99]}));
        assert_eq!(v(3), json!({"name": "rmsprop", "lr": 0.01, "alpha": 0.9}));
        assert_eq!(v(4), json!({"name": "sgd", "lr": 0.01, "momentum": 0.9, "nesterov": true}));
        let m = runs("momentum:momentum=0.5", 0.1, 0.9).unwrap();
        assert_eq!(Value::Object(m[0].1.clone()), json!({"name": "sgd", "lr": 0.1, "momentum": 0.5}));
        assert!(runs("adam,adam", 0.1, 0.9).unwrap_err().0.contains("listed twice"));
        assert!(runs("adam,", 0.1, 0.9).is_err());
        assert!(runs("adam:lr=inf", 0.1, 0.9).unwrap_err().0.contains("finite"));
    }
}
