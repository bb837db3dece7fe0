//! The `assets` command line over the default code location.

fn main() -> std::process::ExitCode {
    stemma_server::cli::run(assets::definitions())
}
