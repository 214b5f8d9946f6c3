//! `descent export CHECKPOINT --out FILE`: a checkpoint of `descent train --save` as the model blob
//! a device reads with `descent_core::nn::ModelBlob` (weights transposed to `[outputs][inputs]`).

use super::{Failure, check, check_output, write_atomically};
use crate::checkpoint::Checkpoint;
use std::path::PathBuf;

/// Arguments of `descent export`.
#[derive(clap::Args)]
pub struct Args {
    /// A checkpoint written by `descent train --save`.
    checkpoint: PathBuf,
    /// Where to write the model blob.
    #[arg(long, short)]
    out: PathBuf,
}

pub fn run(a: Args) -> Result<(), Failure> {
    check::not_empty("CHECKPOINT", &a.checkpoint)?;
    check_output(&a.out, "--out")?;
    check::distinct(&[("--out", &a.out)], &[("CHECKPOINT", &a.checkpoint)])?;
    let ckpt = Checkpoint::load(&a.checkpoint).map_err(|e| Failure(format!("CHECKPOINT {e}")))?;
    let blob = crate::export::checkpoint_blob(&ckpt)
        .map_err(|e| Failure(format!("{}: {e}", a.checkpoint.display())))?;
    write_atomically(&a.out, &blob)?;
    let sizes: Vec<String> = ckpt.sizes.iter().map(ToString::to_string).collect();
    say!(
        "{}: MLP {} {}, {} parameters, {} bytes",
        a.out.display(),
        sizes.join("-"),
        ckpt.activation.name(),
        ckpt.params.len(),
        blob.len()
    );
    Ok(())
}
