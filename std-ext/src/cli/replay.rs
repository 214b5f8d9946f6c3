//! `descent replay SPEC.json`.

use super::Failure;
use std::path::PathBuf;

/// Arguments of `descent replay`.
#[derive(clap::Args)]
pub struct Args {
    /// The spec file (format: tests/data/conformance/README.md).
    spec: PathBuf,
}

pub fn run(a: Args) -> Result<(), Failure> {
    let text = std::fs::read_to_string(&a.spec)
        .map_err(|e| Failure(format!("cannot read {}: {e}", a.spec.display())))?;
    let spec = crate::replay::parse(&text).map_err(|e| Failure(format!("{}: {e}", a.spec.display())))?;
    let trace = crate::replay::replay(&spec)?;
    println!("{}", serde_json::to_string(&trace)?);
    Ok(())
}
