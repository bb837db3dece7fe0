use stemma::prelude::*;

#[asset(group = "rag", group = "ml")]
fn documents() -> Json<u32> {
    Json(1)
}

fn main() {}
