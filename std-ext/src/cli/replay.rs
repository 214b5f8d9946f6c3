//! `descent replay SPEC.json [--expected EXPECTED.json [--actual TRACE.json]]`.
//!
//! Without `--expected`: prints the lr and parameters after every step as JSON (exit 0). With it:
//! checks them against PyTorch's result at the conformance tolerances, prints one line saying how
//! closely they agree (exit 0), or names the first mismatch on standard error (exit 1). With
//! `--actual`, the trace checked is that file (another implementation's output, in the JSON this
//! command prints) instead of descent's replay. A configuration PyTorch refuses, or a malformed
//! spec or expected file, is one line on standard error and exit 2 — unless the expected file holds
//! PyTorch's refusal and descent refuses alike.

use super::Failure;
use crate::replay::{self, Expected, ReplayError, Tolerance, Verdict};
use std::path::PathBuf;

/// Exit code when descent and PyTorch disagree (bad input is 2).
const MISMATCH: i32 = 1;

/// Arguments of `descent replay`.
#[derive(clap::Args)]
pub struct Args {
    /// The spec file (format: tests/data/conformance/README.md).
    spec: PathBuf,
    /// PyTorch's result for the spec (`NAME.expected.json`, e.g. from `tools/torch_trace.py
    /// expect`): compare against it instead of printing the trace; exit 1 at the first mismatch.
    #[arg(long, value_name = "EXPECTED.json")]
    expected: Option<PathBuf>,
    /// Check this trace (your implementation's output for the spec, in the JSON `descent replay`
    /// prints, or `{"error": "..."}` for a refusal) against `--expected`, instead of descent's.
    #[arg(long, value_name = "TRACE.json", requires = "expected")]
    actual: Option<PathBuf>,
}

fn read(what: &str, path: &PathBuf) -> Result<String, Failure> {
    super::check::not_empty(what, path)?;
    std::fs::read_to_string(path).map_err(|e| Failure(format!("{what} {}: cannot read: {e}", path.display())))
}

pub fn run(a: Args) -> Result<(), Failure> {
    let spec = replay::parse(&read("SPEC", &a.spec)?)
        .map_err(|e| Failure(format!("SPEC {}: {e}", a.spec.display())))?;
    let Some(expected_path) = a.expected else {
        let trace = replay::replay(&spec)?;
        say!("{}", trace.to_json());
        return Ok(());
    };
    let expected = replay::parse_expected(&read("--expected", &expected_path)?)
        .map_err(|e| Failure(format!("--expected {}: {e}", expected_path.display())))?;
    let tol = Tolerance::for_spec(&spec);
    let verdict = match &a.actual {
        None => replay::check(&spec, &expected),
        Some(path) => {
            let actual = match replay::parse_expected(&read("--actual", path)?)
                .map_err(|e| Failure(format!("--actual {}: {e}", path.display())))?
            {
                Expected::Trace(t) => Ok(t),
                Expected::Error(m) => Err(ReplayError::Refused(m)),
            };
            replay::verdict("actual", tol, actual, &expected)
        }
    };
    let who = a.actual.as_ref().map_or_else(|| a.spec.display().to_string(), |p| p.display().to_string());
    match verdict.map_err(|e| Failure(format!("{}: {e}", a.spec.display())))? {
        Verdict::Agrees(g) => say!(
            "{who}: agrees with PyTorch: {} steps, {} values and {} learning rates within {} tolerances \
             (rtol {:e}, atol {:e}); worst deviation {:.3} of the tolerance",
            g.steps,
            g.values,
            g.steps,
            spec.dtype,
            tol.rtol,
            tol.atol,
            g.worst
        ),
        Verdict::RefusedAlike(m) => say!("{who}: refused as PyTorch refuses it: {m}"),
        Verdict::Differs(m) => {
            super::complain(&format!("{who}: differs from PyTorch: {m}"));
            std::process::exit(MISMATCH);
        }
    }
    Ok(())
}
