//! The `descent` command-line tool.

use clap::{Parser, Subcommand};
use std::process::ExitCode;

#[derive(Parser)]
#[command(name = "descent", version, about = "Gradient-based optimization with PyTorch's semantics")]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Replay a conformance spec and print the lr and parameters after every step as JSON.
    Replay {
        /// The spec file (see tests/data/conformance/README.md).
        spec: std::path::PathBuf,
    },
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    match cli.command {
        Command::Replay { spec } => replay(&spec),
    }
}

fn fail(msg: impl std::fmt::Display) -> ExitCode {
    eprintln!("descent: {msg}");
    ExitCode::from(2)
}

fn replay(path: &std::path::Path) -> ExitCode {
    let text = match std::fs::read_to_string(path) {
        Ok(t) => t,
        Err(e) => return fail(format!("cannot read {}: {e}", path.display())),
    };
    let spec = match descent_std::replay::parse(&text) {
        Ok(s) => s,
        Err(e) => return fail(format!("{}: {e}", path.display())),
    };
    match descent_std::replay::replay(&spec) {
        Ok(trace) => match serde_json::to_string(&trace) {
            Ok(s) => {
                println!("{s}");
                ExitCode::SUCCESS
            }
            Err(e) => fail(e),
        },
        Err(e) => fail(e),
    }
}
