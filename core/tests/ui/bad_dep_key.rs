use stemma::prelude::*;

#[asset(deps = ["raw//documents"])]
fn chunks() -> Json<u32> {
    Json(1)
}

fn main() {}
