//! On the host the binary links against libc only for its start files and memory functions
//! (`main` is called by them); on a microcontroller target there is no C runtime, and it is
//! entered at `_start` (see src/main.rs).
fn main() {
    if std::env::var("TARGET").unwrap_or_default().starts_with("thumb") {
        println!("cargo:rustc-link-arg-bins=--entry=_start");
    } else {
        println!("cargo:rustc-link-lib=c");
    }
}
