use stemma::prelude::*;

#[asset]
fn chunks(documents: &Json<Vec<String>>) -> Json<usize> {
    Json(documents.len())
}

fn main() {}
