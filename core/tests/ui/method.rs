use stemma::prelude::*;

struct Pipeline;

impl Pipeline {
    #[asset]
    fn documents(&self) -> Json<u32> {
        Json(1)
    }
}

fn main() {}
