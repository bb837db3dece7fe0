use stemma::prelude::*;

#[asset(kinds = ["a", "b", "c", "d", "e", "f", "g", "h", "i", "j", "k"])]
fn documents() -> Json<u32> {
    Json(1)
}

fn main() {}
