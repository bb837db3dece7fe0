use stemma::prelude::*;

#[asset]
fn documents<T: Default>() -> Json<u32> {
    Json(1)
}

fn main() {}
