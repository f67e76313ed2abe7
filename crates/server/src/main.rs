//! `chatterbox-server`: see `--help` and README.md.

use clap::Parser;

#[actix_web::main]
async fn main() -> anyhow::Result<()> {
    let cfg = chatterbox_server::Config::parse();
    chatterbox_server::init_tracing(cfg.log_format);
    chatterbox_server::Application::build(cfg)?
        .run_until_stopped()
        .await
}
