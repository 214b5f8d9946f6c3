//! The fine-tuning example as a freestanding binary: `#![no_std]`, `#![no_main]`, panic =
//! "abort", entered without libc's start files (the runtime of tools/nostd-proof). Fine-tunes the
//! host model's last layer with Adam (f32 state, then bf16 state), prints the accuracy before and
//! after and a checksum of the fine-tuned layer, and exits 0 if fine-tuning taught the held-out
//! digit without losing the others (the margins of `tests/finetune.rs`), 1 otherwise.
//!
//! With the feature `torch-model`, the same with the network PyTorch trained (tools/torch_mlp.py),
//! after checking that a truncated blob is refused.
//!
//! Everything that changes lives in `static`s (RAM known at link time: the runtime reports it with
//! the peak stack), so the example fits a 16 KiB part.
#![no_std]
#![no_main]

use core::fmt::Write;

use descent_core::Error;
use descent_core::half_state::bf16;
use finetune::{Accuracy, GROUPED_STATE_VALUES, Report, STATE_VALUES, Trainer};
use finetune_device::finetune;
#[path = "../../nostd-proof/src/rt.rs"]
mod rt;

/// The last layer, its gradients and one example's activations.
static mut TRAINER: Trainer = Trainer::new();
/// Adam's state in f32 (m and v for W and b).
static mut STATE: [f32; GROUPED_STATE_VALUES] = [0.0; GROUPED_STATE_VALUES];
/// The same in bf16.
static mut STATE_BF16: [bf16; STATE_VALUES] = [bf16::ZERO; STATE_VALUES];

fn percent(out: &mut rt::Stdout, label: &str, permille: u32) -> core::fmt::Result {
    write!(out, "{label} {}.{}%", permille / 10, permille % 10)
}

fn print(out: &mut rt::Stdout, name: &str, r: &Report) -> core::fmt::Result {
    let line = |out: &mut rt::Stdout, when: &str, a: &Accuracy| -> core::fmt::Result {
        write!(out, "  {when}: ")?;
        percent(out, "all", a.permille())?;
        percent(out, ", digits 0-8", a.known_permille())?;
        percent(out, ", held-out 9", a.held_out_permille())?;
        writeln!(out, " ({}/{} test digits)", a.correct, a.total)
    };
    writeln!(out, "{name}")?;
    line(out, "before", &r.before)?;
    line(out, "after ", &r.after)?;
    writeln!(
        out,
        "  last epoch's mean loss (f32 bits) {:08x}, fine-tuned layer's CRC-32 {:08x}",
        r.loss.to_bits(),
        r.head_crc
    )
}

/// What an error names, without formatting its numbers (`Error`'s `Display` prints floats as
/// Python does, and float formatting costs 9 KB of flash on a Cortex-M0).
fn what(e: &Error) -> &'static str {
    match *e {
        Error::CorruptModel { reason } | Error::CorruptState { reason } => reason,
        Error::LengthMismatch { what, .. }
        | Error::BufferTooSmall { what, .. }
        | Error::NonFinite { what, .. } => what,
        Error::StateMismatch { field, .. } => field,
        Error::Unsupported { what } => what,
        _ => "invalid configuration",
    }
}

fn entry() -> i32 {
    // SAFETY: `entry` runs once, on one core, without interrupts: these are the only references
    // to the three statics.
    let (trainer, state, state_bf16) =
        unsafe { (&mut *&raw mut TRAINER, &mut *&raw mut STATE, &mut *&raw mut STATE_BF16) };
    let mut out = rt::Stdout;
    let mut ok = true;
    #[cfg(not(feature = "torch-model"))]
    let runs = [
        ("Adam, f32 state, parameter groups (hidden bias, head)", finetune::run_adam(trainer, finetune::MODEL, state)),
        ("Adam, bf16 state, the head only", finetune::run_adam_bf16(trainer, finetune::MODEL, state_bf16)),
    ];
    // The network PyTorch trained (tools/torch_mlp.py, `descent export --from`), then the model
    // blob with one byte flipped, which must be refused.
    #[cfg(feature = "torch-model")]
    let runs = {
        let _ = state_bf16;
        let mut damaged = [0u8; 64];
        damaged.copy_from_slice(&finetune::TORCH_MODEL[..64]);
        let refused = finetune::run_adam(trainer, &damaged, state);
        let _ = match refused {
            Err(e) => writeln!(out, "a truncated model blob: refused ({})", what(&e)),
            Ok(_) => writeln!(out, "a truncated model blob: accepted"),
        };
        ok &= refused.is_err();
        [("PyTorch's model, Adam, f32 state, parameter groups", finetune::run_adam(trainer, finetune::TORCH_MODEL, state))]
    };
    for (name, report) in runs {
        match report {
            Ok(r) => {
                let good =
                    if cfg!(feature = "torch-model") { finetune::taught(&r) } else { finetune::improved(&r) };
                ok &= print(&mut out, name, &r).is_ok() && good;
            }
            Err(e) => {
                let _ = writeln!(out, "{name}: error: {}", what(&e));
                ok = false;
            }
        }
    }
    if ok { 0 } else { 1 }
}
