//! The `descent` command line: one module per subcommand. The binary only calls [`main`].
//!
//! Bad input (missing or malformed files, unknown names, nonsensical values) prints one line on
//! standard error and exits with code 2; nothing is written half-way (outputs go to a temporary
//! file that is renamed into place).

use clap::{Parser, Subcommand};
use std::path::Path;
use std::process::ExitCode;

mod analyze;
mod compare;
mod replay;
mod train;

/// The `descent` tool.
#[derive(Parser)]
#[command(
    name = "descent",
    version,
    about = "Gradient-based optimization with PyTorch's semantics, from microcontrollers to workstations"
)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Replay a conformance spec and print the lr and parameters after every step as JSON.
    Replay(replay::Args),
    /// Train an MLP on MNIST (the bundled 10k subset by default).
    Train(Box<train::Args>),
    /// Train the same MLP with SGD, momentum, Nesterov, RMSprop and Adam; print a table, write plots.
    Compare(compare::Args),
    /// Convergence analyses: trajectories, rates against theory, sweeps, landscapes, … (plots and data).
    Analyze(analyze::Args),
}

/// A failure that ends the command: printed as one line, exit code 2.
pub struct Failure(pub String);

impl<E: std::fmt::Display> From<E> for Failure {
    fn from(e: E) -> Self {
        Failure(e.to_string())
    }
}

/// Runs the command line and returns the process exit code.
pub fn main() -> ExitCode {
    let cli = Cli::parse();
    let result = match cli.command {
        Command::Replay(a) => replay::run(a),
        Command::Train(a) => train::run(*a),
        Command::Compare(a) => compare::run(a),
        Command::Analyze(a) => analyze::run(a),
    };
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(Failure(msg)) => {
            eprintln!("descent: {msg}");
            ExitCode::from(2)
        }
    }
}

/// Writes `bytes` to `path` through a temporary file in the same directory and a rename.
pub fn write_atomically(path: &Path, bytes: &[u8]) -> Result<(), Failure> {
    let tmp = path.with_extension("tmp-descent");
    std::fs::write(&tmp, bytes).map_err(|e| Failure(format!("{}: {e}", tmp.display())))?;
    std::fs::rename(&tmp, path).map_err(|e| Failure(format!("{}: {e}", path.display())))
}
