//! The benchmark's ceiling: an axum server whose predict route reads the body and returns a
//! constant JSON answer, on the same runtime set-up as han-server (mimalloc, multi-thread
//! tokio with one worker per CPU).
//!
//! `cargo run --release -p han-server --example empty -- 127.0.0.1:8090`

use axum::Router;
use axum::body::Bytes;
use axum::routing::post;

#[global_allocator]
static GLOBAL: mimalloc::MiMalloc = mimalloc::MiMalloc;

async fn predict(_body: Bytes) -> ([(&'static str, &'static str); 1], &'static str) {
    (
        [("content-type", "application/json")],
        r#"{"model":"empty","predictions":[[{"label":"0","index":0,"score":1.0}]]}"#,
    )
}

fn main() -> anyhow::Result<()> {
    let addr = std::env::args().nth(1).unwrap_or_else(|| "127.0.0.1:8090".into());
    let rt = tokio::runtime::Builder::new_multi_thread().enable_all().build()?;
    rt.block_on(async {
        let listener = tokio::net::TcpListener::bind(&addr).await?;
        println!("empty listening on http://{}", listener.local_addr()?);
        let app = Router::new().route("/v1/models/{name}/predict", post(predict));
        axum::serve(listener, app).await?;
        Ok(())
    })
}
