//! The `server` binary: a thin shell over the library (see `server::cli`).

// mimalloc instead of glibc's allocator: server-side rendering allocates many small strings
// across the runtime's threads, where glibc's malloc/free took about a sixth of the
// portal's CPU under load (docs/benchmarks.md).
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

fn main() -> std::process::ExitCode {
    server::cli::main()
}
