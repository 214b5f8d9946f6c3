//! The `descent` command-line tool.

fn main() {
    println!("descent {}", env!("CARGO_PKG_VERSION"));
}
