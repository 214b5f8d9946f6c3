//! The fine-tuning example as a freestanding binary: `#![no_std]`, `#![no_main]`, panic =
//! "abort", entered at `_start` without libc's start files (the runtime of tools/nostd-proof).
//! Fine-tunes the host model's last layer with Adam (f32 state, then bf16 state), prints the
//! accuracy before and after, and exits 0 if fine-tuning taught the held-out digit without
//! losing the others (the margins of `tests/finetune.rs`), 1 otherwise.
#![no_std]
#![no_main]

use core::fmt::Write;

use finetune_device::finetune;
#[path = "../../nostd-proof/src/rt.rs"]
mod rt;

use finetune::{Accuracy, Report};

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
    line(out, "after ", &r.after)
}

extern "C" fn entry() -> ! {
    let mut out = rt::Stdout;
    let mut ok = true;
    for (name, report) in
        [("Adam, f32 state", finetune::run_adam()), ("Adam, bf16 state", finetune::run_adam_bf16())]
    {
        match report {
            Ok(r) => {
                ok &= print(&mut out, name, &r).is_ok() && finetune::improved(&r);
            }
            Err(_) => {
                let _ = writeln!(out, "{name}: error");
                ok = false;
            }
        }
    }
    rt::exit(if ok { 0 } else { 1 })
}
