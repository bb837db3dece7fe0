use stemma::prelude::*;

#[asset_check]
fn not_empty() -> CheckResult {
    CheckResult::pass()
}

fn main() {}
