//! Link without the C runtime's start files: our own entry point (see src/rt.rs). On x86-64
//! Linux, `_start`; on a microcontroller, the board's memory layout (`boards/<board>.ld`, chosen
//! by the target as [`board`] says, or by `DEVICE_BOARD`) around the shared sections of
//! `boards/link.x`. Shared by
//! tools/finetune-device (its Cargo.toml points here).
use std::path::Path;

/// The QEMU board each bare-metal target runs on in CI.
fn board(target: &str) -> Option<&'static str> {
    if target.starts_with("thumbv7em") {
        Some("netduinoplus2") // Cortex-M4F
    } else if target.starts_with("thumbv8m.main") {
        Some("mps2-an505") // Cortex-M33
    } else if target.starts_with("thumbv6m") {
        Some("microbit") // Cortex-M0, 16 KiB of RAM
    } else if target.starts_with("riscv32") {
        Some("sifive_e") // rv32imac, 16 KiB of RAM
    } else {
        None
    }
}

fn main() {
    let target = std::env::var("TARGET").unwrap_or_default();
    let boards = Path::new(env!("CARGO_MANIFEST_DIR")).join("../nostd-proof/boards");
    println!("cargo:rerun-if-changed={}", boards.display());
    // Another board for the same target (mps2-an500, a Cortex-M7, for -C target-cpu=cortex-m7).
    println!("cargo:rerun-if-env-changed=DEVICE_BOARD");
    let chosen = std::env::var("DEVICE_BOARD").ok();
    match chosen.as_deref().or(board(&target)) {
        Some(board) => {
            println!("cargo:rustc-link-arg-bins=-L{}", boards.display());
            println!("cargo:rustc-link-arg-bins=-T{board}.ld");
            for file in ["link.x", &format!("{board}.ld")] {
                println!("cargo:rerun-if-changed={}", boards.join(file).display());
            }
        }
        None => {
            println!("cargo:rustc-link-arg-bins=-nostartfiles");
            println!("cargo:rustc-link-arg-bins=-static");
            println!("cargo:rustc-link-arg-bins=-nostdlib");
        }
    }
}
