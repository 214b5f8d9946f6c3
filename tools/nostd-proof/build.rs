//! Link without the C runtime's start files: our own entry point (see src/rt.rs). On x86-64
//! Linux, `_start`; on Cortex-M, the vector table placed by `cortex-m.ld`. Shared by
//! tools/finetune-device (its Cargo.toml points here).
fn main() {
    let target = std::env::var("TARGET").unwrap_or_default();
    if target.starts_with("thumb") {
        let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../nostd-proof");
        println!("cargo:rustc-link-arg-bins=-T{}", dir.join("cortex-m.ld").display());
        println!("cargo:rerun-if-changed={}", dir.join("cortex-m.ld").display());
    } else {
        println!("cargo:rustc-link-arg-bins=-nostartfiles");
        println!("cargo:rustc-link-arg-bins=-static");
        println!("cargo:rustc-link-arg-bins=-nostdlib");
    }
}
