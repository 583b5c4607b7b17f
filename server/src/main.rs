//! The `server` binary: a thin shell over the library (see `server::cli`).

fn main() -> std::process::ExitCode {
    server::cli::main()
}
