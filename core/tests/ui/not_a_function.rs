use stemma::prelude::*;

#[asset]
struct Documents;

fn main() {}
