//! chatterbox-rs HTTP service (skeleton: health only; the synthesis endpoints arrive with the
//! pipeline).

use actix_web::{get, web, App, HttpResponse, HttpServer, Responder};
use serde::Serialize;

#[derive(Serialize)]
struct Health {
    status: &'static str,
    model_loaded: bool,
    version: &'static str,
}

#[get("/health")]
async fn health() -> impl Responder {
    HttpResponse::Ok().json(Health {
        status: "ok",
        model_loaded: false,
        version: env!("CARGO_PKG_VERSION"),
    })
}

fn bind_addr() -> String {
    let host = std::env::var("HOST").unwrap_or_else(|_| "0.0.0.0".into());
    let port = std::env::var("PORT").unwrap_or_else(|_| "7860".into());
    format!("{host}:{port}")
}

#[actix_web::main]
async fn main() -> anyhow::Result<()> {
    tracing_subscriber::fmt()
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_default_env()
                .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("info")),
        )
        .init();
    let addr = bind_addr();
    tracing::info!(%addr, "listening");
    HttpServer::new(|| {
        App::new()
            .app_data(web::JsonConfig::default())
            .service(health)
    })
    .bind(&addr)?
    .run()
    .await?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use actix_web::test;

    #[actix_web::test]
    async fn health_reports_ok_as_json() {
        let app = test::init_service(App::new().service(health)).await;
        let resp =
            test::call_service(&app, test::TestRequest::get().uri("/health").to_request()).await;
        assert!(resp.status().is_success());
        let body: serde_json::Value = test::read_body_json(resp).await;
        assert_eq!(body["status"], "ok");
        assert_eq!(body["model_loaded"], false);
    }
}
