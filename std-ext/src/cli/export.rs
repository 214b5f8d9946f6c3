//! `descent export CHECKPOINT --out FILE`: a checkpoint of `descent train --save` as the model blob
//! a device reads with `descent_core::nn::ModelBlob` (weights transposed to `[outputs][inputs]`);
//! `descent export --from model.safetensors --out FILE`: the same from a PyTorch MLP
//! (`tools/torch_mlp.py`).

use super::{Failure, check, check_output, write_atomically};
use crate::checkpoint::Checkpoint;
use std::path::PathBuf;

/// Arguments of `descent export`.
#[derive(clap::Args)]
pub struct Args {
    /// A checkpoint written by `descent train --save`.
    #[arg(required_unless_present = "from", conflicts_with = "from")]
    checkpoint: Option<PathBuf>,
    /// A PyTorch MLP saved as safetensors instead (an nn.Sequential of Linear layers and one
    /// activation, named in the metadata: tools/torch_mlp.py).
    #[arg(long)]
    from: Option<PathBuf>,
    /// Where to write the model blob.
    #[arg(long, short)]
    out: PathBuf,
}

pub fn run(a: Args) -> Result<(), Failure> {
    check_output(&a.out, "--out")?;
    let (flag, source) = match (&a.checkpoint, &a.from) {
        (_, Some(from)) => ("--from", from),
        (Some(path), None) => ("CHECKPOINT", path),
        (None, None) => return Err(Failure("give a checkpoint or --from FILE.safetensors".into())),
    };
    check::not_empty(flag, source)?;
    check::distinct(&[("--out", &a.out)], &[(flag, source)])?;
    let blob = if a.from.is_some() {
        let bytes =
            std::fs::read(source).map_err(|e| Failure(format!("{flag} {}: {e}", source.display())))?;
        crate::export::safetensors_blob(&bytes)
    } else {
        let ckpt = Checkpoint::load(source).map_err(|e| Failure(format!("CHECKPOINT {e}")))?;
        crate::export::checkpoint_blob(&ckpt)
    };
    let blob = blob.map_err(|e| Failure(format!("{}: {e}", source.display())))?;
    // What the device will read: check it as the device does.
    let parsed = descent_core::nn::ModelBlob::parse(&blob)
        .map_err(|e| Failure(format!("{}: {e}", source.display())))?;
    write_atomically(&a.out, &blob)?;
    let sizes: Vec<String> =
        (0..=parsed.layers()).filter_map(|i| parsed.width(i)).map(|w| w.to_string()).collect();
    let params = (blob.len() - 12 - 4 * sizes.len()) / 4;
    say!(
        "{}: MLP {} {}, {params} parameters, {} bytes",
        a.out.display(),
        sizes.join("-"),
        match parsed.activation() {
            descent_core::nn::Activation::Relu => "relu",
            descent_core::nn::Activation::Tanh => "tanh",
            descent_core::nn::Activation::Sigmoid => "sigmoid",
        },
        blob.len()
    );
    Ok(())
}
