use stemma::prelude::*;

#[asset(grop = "rag")]
fn documents() -> Json<u32> {
    Json(1)
}

fn main() {}
