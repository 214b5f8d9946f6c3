//! The flags that `train`, `compare` and `analyze` share, declared once and flattened into each.

use super::Failure;
use super::check::{self, MAX_THREADS};
use crate::analysis::net::Setup;
use std::path::PathBuf;

/// Where the examples come from and how many threads work on them: every command that trains on
/// MNIST.
#[derive(clap::Args, Clone, Debug)]
pub struct Input {
    /// Directory with the four MNIST-format files, e.g. /usr/share/datasets/fashion-mnist
    /// (default: $DESCENT_DATA, else ./data/mnist-10k, else the bundled subset where it was built).
    #[arg(long)]
    pub data: Option<PathBuf>,
    /// Threads for the matrix products (the same results at every count).
    #[arg(long, default_value_t = 1)]
    pub threads: usize,
}

impl Input {
    /// Refuses an empty --data and a thread count out of range.
    pub fn check(&self) -> Result<(), Failure> {
        check::count("--threads", self.threads, 1, MAX_THREADS)?;
        if let Some(d) = &self.data {
            check::not_empty("--data", d)?;
        }
        Ok(())
    }
}

/// The network and its batches: `compare` and the analyses that train an MLP on MNIST.
#[derive(clap::Args, Clone, Debug)]
pub struct Net {
    #[command(flatten)]
    #[allow(missing_docs)]
    pub input: Input,
    /// Hidden layer widths, comma-separated (default: 128; gradient-flow: 256,128,64,32).
    #[arg(long, value_delimiter = ',')]
    pub hidden: Vec<usize>,
    /// Examples per batch.
    #[arg(long, default_value_t = 128)]
    pub batch_size: usize,
    /// Seed (initialization and the order of the batches).
    #[arg(long, default_value_t = 0)]
    pub seed: u64,
}

impl Net {
    /// The hidden widths given, or `default`.
    pub fn hidden_or(&self, default: &[usize]) -> Vec<usize> {
        if self.hidden.is_empty() { default.to_vec() } else { self.hidden.clone() }
    }
    /// Layer widths input to output (784, the hidden widths or `default_hidden`, 10).
    pub fn sizes(&self, default_hidden: &[usize]) -> Vec<usize> {
        std::iter::once(784).chain(self.hidden_or(default_hidden)).chain(std::iter::once(10)).collect()
    }
    /// The analyses' setup.
    pub fn setup(&self, default_hidden: &[usize]) -> Setup {
        Setup {
            sizes: self.sizes(default_hidden),
            batch: self.batch_size,
            seed: self.seed,
            threads: self.input.threads,
        }
    }
    /// Refuses a batch size of 0, hidden widths of 0 and what [`Input::check`] refuses.
    pub fn check(&self) -> Result<(), Failure> {
        check::count("--batch-size", self.batch_size, 1, usize::MAX)?;
        self.input.check()?;
        if self.hidden.contains(&0) {
            return Err(Failure("--hidden sizes must be positive".into()));
        }
        Ok(())
    }
}
