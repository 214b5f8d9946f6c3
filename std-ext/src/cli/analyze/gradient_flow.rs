//! `descent analyze gradient-flow`: per-layer gradient norms of a deep MLP (784-256-128-64-32-10) during training.

use super::{done, optimizer, positive, progress, report};
use crate::analysis::{self, Output};
use crate::cli::Failure;
use crate::cli::flags::Net;
use crate::cli::train::{load_data, splits};
use crate::model::Activation;
use std::path::Path;

/// Arguments of `descent analyze gradient-flow`.
#[derive(clap::Args)]
pub struct Args {
    /// Hidden activations to compare.
    #[arg(long, value_delimiter = ',', default_value = "relu,sigmoid")]
    activations: Vec<String>,
    /// Optimizer.
    #[arg(long, default_value = "sgd:lr=0.01,momentum=0.9")]
    optimizer: String,
    /// Training steps.
    #[arg(long, default_value_t = 200)]
    steps: usize,
    #[command(flatten)]
    data: Net,
}

impl Args {
    /// Runs the analysis, writing into `dir`.
    pub fn run(&self, dir: &Path) -> Result<(), Failure> {
        let Args { activations, optimizer: name, steps, data } = self;
        data.check()?;
        positive("steps", *steps)?;
        let acts = activations
            .iter()
            .map(|a| a.parse::<Activation>().map_err(Failure))
            .collect::<Result<Vec<_>, _>>()?;
        let opt = optimizer("--optimizer", name)?;
        let mnist = load_data(&data.input.data)?;
        let (train, _) = splits(&mnist);
        let setup = data.setup(&analysis::gradient_flow::DEEP[1..5]);
        let mut flows = Vec::new();
        for act in acts {
            let (bar, tick) = progress(*steps, act.name());
            let f =
                analysis::gradient_flow::measure(train, &setup, act, &opt, *steps, tick).map_err(Failure)?;
            done(bar);
            let norms: Vec<String> = f.mean_norms.iter().map(|n| format!("{n:.2e}")).collect();
            say!(
                "{:<8} mean layer gradient norms [{}]  mean max/min ratio {:.1}",
                f.activation,
                norms.join(", "),
                f.mean_ratio
            );
            if f.warning {
                say!(
                    "warning: {}: the layer gradient norms differ by more than {}× (vanishing or exploding gradients)",
                    f.activation,
                    analysis::gradient_flow::WARN_RATIO
                );
            }
            flows.push(f);
        }
        let mut out = Output::new(dir).map_err(Failure)?;
        analysis::gradient_flow::write_gradient_flow(&mut out, &flows).map_err(Failure)?;
        report(&mut out)?;
        Ok(())
    }
}
