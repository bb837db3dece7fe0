use stemma::prelude::*;

struct NotAValue;

#[asset]
fn chunks(documents: NotAValue) -> Json<u32> {
    let _ = documents;
    Json(1)
}

fn main() {}
