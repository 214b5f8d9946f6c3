//! The `descent` command-line tool; see `descent --help`.

fn main() -> std::process::ExitCode {
    descent_std::cli::main()
}
