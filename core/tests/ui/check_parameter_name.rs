use stemma::prelude::*;

#[asset_check(asset = chunks)]
fn not_empty(rows: Json<Vec<String>>) -> bool {
    !rows.is_empty()
}

fn main() {}
