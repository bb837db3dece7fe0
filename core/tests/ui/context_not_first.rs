use stemma::prelude::*;

#[asset]
fn chunks(documents: Json<Vec<String>>, ctx: &AssetContext) -> Json<usize> {
    ctx.log.info("chunking");
    Json(documents.len())
}

fn main() {}
