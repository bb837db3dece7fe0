use stemma::prelude::*;

#[asset]
fn chunks(Json(documents): Json<Vec<String>>) -> Json<usize> {
    Json(documents.len())
}

fn main() {}
