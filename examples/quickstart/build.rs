//! Code versions that cover everything each asset calls, not only its own body.

fn main() {
    stemma_build::code_versions();
}
