//! Print the OpenAPI document: `cargo run -p chatterbox-server --example openapi > docs/openapi.json`
//! (or `UPDATE_OPENAPI=1 cargo test --release -p chatterbox-server openapi`).

fn main() {
    print!("{}", chatterbox_server::openapi::json());
}
