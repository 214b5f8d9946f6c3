//! The `descent` command line: one module per subcommand. The binary only calls [`main`].
//!
//! Bad input (missing or malformed files, unknown names, nonsensical values such as NaN, ±∞,
//! negative or absurdly large numbers, and command-line syntax errors) prints one line on
//! standard error, naming the flag, and exits with code 2; `--help` and `--version` print to
//! standard output and exit with 0. Nothing is written half-way: output paths are checked before
//! any work (that they can be written, and that no two of them, and no output and input, are the
//! same file), and outputs go to temporary files that are renamed into place once all of them are
//! written ([`Staged`]). Standard output going away (`descent train | head -1`) stops the printing,
//! not the run ([`print_line`]).

use clap::error::ErrorKind;
use clap::{Parser, Subcommand};
use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::sync::atomic::{AtomicBool, Ordering};

/// `println!` that never panics: once standard output is closed (its reader gone), printing
/// stops and the command carries on.
macro_rules! say {
    ($($arg:tt)*) => {
        $crate::cli::print_line(format_args!($($arg)*))
    };
}

mod analyze;
mod check;
mod compare;
mod export;
mod flags;
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
    /// Write a checkpoint of `descent train --save` as a model blob for a device (descent_core::nn::ModelBlob).
    Export(export::Args),
    /// Convergence analyses: trajectories, rates against theory, sweeps, landscapes, … (plots and data).
    Analyze(analyze::Args),
}

/// A failure that ends the command: printed as one line, exit code 2.
#[derive(Debug)]
pub struct Failure(pub String);

impl<E: std::fmt::Display> From<E> for Failure {
    fn from(e: E) -> Self {
        Failure(e.to_string())
    }
}

/// Runs the command line and returns the process exit code.
pub fn main() -> ExitCode {
    let cli = match Cli::try_parse() {
        Ok(cli) => cli,
        Err(e) => return syntax_error(&e),
    };
    let result = match cli.command {
        Command::Replay(a) => replay::run(a),
        Command::Train(a) => train::run(*a),
        Command::Compare(a) => compare::run(a),
        Command::Export(a) => export::run(a),
        Command::Analyze(a) => analyze::run(a),
    };
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(Failure(msg)) => {
            complain(&msg);
            ExitCode::from(2)
        }
    }
}

/// Whether standard output was found closed.
static STDOUT_CLOSED: AtomicBool = AtomicBool::new(false);

/// Writes one line to standard output, as `println!` would, but never panics: once standard
/// output is closed (its reader gone), printing stops and the command carries on. The `say!`
/// macro of the subcommands calls it.
pub fn print_line(args: std::fmt::Arguments<'_>) {
    if STDOUT_CLOSED.load(Ordering::Relaxed) {
        return;
    }
    let mut out = std::io::stdout().lock();
    if writeln!(out, "{args}").and_then(|()| out.flush()).is_err() {
        STDOUT_CLOSED.store(true, Ordering::Relaxed);
    }
}

/// Writes `descent: msg` to standard error (ignoring a closed standard error).
pub fn complain(msg: &str) {
    let _ = writeln!(std::io::stderr(), "descent: {msg}");
}

/// Prints a command-line syntax error as one line (exit code 2), or help and version text as
/// clap formats them (exit code 0).
fn syntax_error(e: &clap::Error) -> ExitCode {
    match e.kind() {
        ErrorKind::DisplayHelp | ErrorKind::DisplayVersion => {
            let _ = e.print();
            ExitCode::SUCCESS
        }
        kind => {
            let line = match kind {
                ErrorKind::DisplayHelpOnMissingArgumentOrSubcommand | ErrorKind::MissingSubcommand => {
                    "a subcommand is required (see `descent --help`)".to_string()
                }
                _ => first_paragraph(&e.render().to_string()),
            };
            complain(&line);
            ExitCode::from(2)
        }
    }
}

/// clap's message as one line: its first line, and the indented lines under it when it ends with
/// a colon ("the following required arguments were not provided: <CHECKPOINT>, --out <OUT>"),
/// and the possible values when clap lists them.
fn first_paragraph(text: &str) -> String {
    let mut lines = text.lines().skip_while(|l| l.trim().is_empty());
    let first = lines.next().unwrap_or("bad command line").trim_start_matches("error: ").to_string();
    if !first.ends_with(':') {
        return match text.lines().map(str::trim).find(|l| l.starts_with("[possible values:")) {
            Some(values) => format!("{first} {values}"),
            None => first,
        };
    }
    let items: Vec<&str> =
        lines.take_while(|l| l.starts_with(' ') && !l.trim().is_empty()).map(str::trim).collect();
    format!("{first} {}", items.join(", "))
}

/// Checks, before any work, that `path` can be written: its directory exists and takes a new
/// file, and `path` is not a directory. `flag` names the option in the error.
pub fn check_output(path: &Path, flag: &str) -> Result<(), Failure> {
    check::not_empty(flag, path)?;
    let fail = |what: String| Failure(format!("{flag} {}: {what}", path.display()));
    if path.is_dir() {
        return Err(fail("is a directory".into()));
    }
    let dir = match path.parent() {
        Some(p) if !p.as_os_str().is_empty() => p,
        _ => Path::new("."),
    };
    if !dir.is_dir() {
        return Err(fail(format!("directory {} does not exist", dir.display())));
    }
    probe_dir(dir).map_err(|e| fail(format!("cannot write in {}: {e}", dir.display())))
}

/// Checks that a directory `dir` exists and takes new files, or can be created (its nearest
/// existing ancestor does).
pub fn check_output_dir(dir: &Path, flag: &str) -> Result<(), Failure> {
    check::not_empty(flag, dir)?;
    let fail = |what: String| Failure(format!("{flag} {}: {what}", dir.display()));
    if dir.exists() && !dir.is_dir() {
        return Err(fail("is a file, not a directory".into()));
    }
    let existing = dir.ancestors().find(|a| a.as_os_str().is_empty() || a.exists()).unwrap_or(Path::new("."));
    let existing = if existing.as_os_str().is_empty() { Path::new(".") } else { existing };
    if !existing.is_dir() {
        return Err(fail(format!("{} is not a directory", existing.display())));
    }
    probe_dir(existing).map_err(|e| fail(format!("cannot write in {}: {e}", existing.display())))
}

fn probe_dir(dir: &Path) -> std::io::Result<()> {
    let probe = dir.join(format!(".descent-probe-{}", std::process::id()));
    std::fs::OpenOptions::new().write(true).create_new(true).open(&probe)?;
    std::fs::remove_file(&probe)
}

/// Outputs written under temporary names and renamed into place together by
/// [`Staged::commit`]; dropped uncommitted (on any error), it removes what it wrote.
#[derive(Default)]
pub struct Staged {
    files: Vec<(PathBuf, PathBuf)>,
}

impl Staged {
    /// The temporary name for `target`, in the same directory (so the rename is atomic).
    pub fn temp_path(&mut self, target: &Path) -> PathBuf {
        let name = target.file_name().map(|n| n.to_string_lossy().into_owned()).unwrap_or_default();
        let tmp = target.with_file_name(format!(".{name}.tmp-descent-{}", std::process::id()));
        self.files.push((tmp.clone(), target.to_path_buf()));
        tmp
    }
    /// Writes `bytes` for `target` under its temporary name.
    pub fn write(&mut self, target: &Path, bytes: &[u8]) -> Result<(), Failure> {
        let tmp = self.temp_path(target);
        std::fs::write(&tmp, bytes).map_err(|e| Failure(format!("{}: {e}", target.display())))
    }
    /// Renames every file into place.
    pub fn commit(mut self) -> Result<(), Failure> {
        while let Some((tmp, target)) = self.files.first().cloned() {
            std::fs::rename(&tmp, &target).map_err(|e| Failure(format!("{}: {e}", target.display())))?;
            self.files.remove(0);
        }
        Ok(())
    }
}

impl Drop for Staged {
    fn drop(&mut self) {
        for (tmp, _) in &self.files {
            let _ = std::fs::remove_file(tmp);
        }
    }
}

/// Writes `bytes` to `path` through a temporary file in the same directory and a rename: `path`
/// is either replaced whole or left as it was.
pub fn write_atomically(path: &Path, bytes: &[u8]) -> Result<(), Failure> {
    let mut staged = Staged::default();
    staged.write(path, bytes)?;
    staged.commit()
}
