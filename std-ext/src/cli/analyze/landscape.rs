//! `descent analyze landscape`: the loss landscape around trained parameters: 1-D interpolation and a filter-normalized 2-D slice.

use super::{MAX_SIDE, done, optimizer, positive, progress, report};
use crate::analysis::{self, Output};
use crate::cli::Failure;
use crate::cli::check;
use crate::cli::flags::Net;
use crate::cli::train::{load_data, splits};
use crate::model::{Activation, Loss};
use crate::train::{Silent, TrainOptions};
use std::path::Path;

/// Arguments of `descent analyze landscape`.
#[derive(clap::Args)]
pub struct Args {
    /// Optimizer.
    #[arg(long, default_value = "adam:lr=0.001")]
    optimizer: String,
    /// Training epochs before looking around.
    #[arg(long, default_value_t = 5)]
    epochs: usize,
    /// Points per side of the 2-D slice (3 to 1000).
    #[arg(long, default_value_t = 25)]
    side: usize,
    /// Half-width of the slice (in units of the normalized directions).
    #[arg(long, default_value_t = 1.0)]
    span: f64,
    /// Examples the losses are measured on.
    #[arg(long, default_value_t = 1000)]
    eval: usize,
    #[command(flatten)]
    data: Net,
}

impl Args {
    /// Runs the analysis, writing into `dir`.
    pub fn run(&self, dir: &Path) -> Result<(), Failure> {
        let Args { optimizer: name, epochs, side, span, eval, data } = self;
        data.check()?;
        positive("epochs", *epochs)?;
        positive("eval", *eval)?;
        check::count("--side", *side, 3, MAX_SIDE)?;
        check::number("--span", *span, "a positive number", |s| s > 0.0)?;
        let opt = optimizer("--optimizer", name)?;
        let mnist = load_data(&data.input.data)?;
        let (train, test) = splits(&mnist);
        let sizes = data.sizes(&[128]);
        let opts = TrainOptions {
            optimizer: opt,
            epochs: *epochs,
            batch_size: data.batch_size,
            hidden: sizes[1..sizes.len() - 1].to_vec(),
            seed: data.seed,
            threads: data.input.threads,
            ..TrainOptions::default()
        };
        let trained = crate::train::train(train, test, 784, 10, &opts, None, &mut Silent).map_err(Failure)?;
        let mut net = analysis::net::Net::new(
            train,
            &sizes,
            Activation::Relu,
            Loss::CrossEntropy,
            data.seed,
            data.batch_size,
        )
        .map_err(Failure)?
        .with_threads(data.input.threads);
        let initial = std::mem::replace(&mut net.params, trained.params);
        let (bar, tick) = progress(61 + side * side, "landscape");
        let l = analysis::landscape::explore(
            &mut net,
            &initial,
            train,
            test.head(*eval),
            *eval,
            61,
            *side,
            *span,
            data.seed,
            tick,
        );
        done(bar);
        let title = format!("MLP {sizes:?}, {epochs} epochs {name}");
        let mut out = Output::new(dir).map_err(Failure)?;
        analysis::landscape::write_landscape(&mut out, &l, &title).map_err(Failure)?;
        let at = |a: f64| {
            l.line.iter().min_by(|x, y| (x.0 - a).abs().total_cmp(&(y.0 - a).abs())).map_or(f64::NAN, |p| p.1)
        };
        let (lo, hi) = l.slice.iter().fold((f64::INFINITY, 0.0f64), |(a, b), &v| (a.min(v), b.max(v)));
        say!("train loss at θ₀ {:.4}, at θ* {:.4}; on the slice from {lo:.4} to {hi:.4}", at(0.0), at(1.0));
        report(&mut out)?;
        Ok(())
    }
}
