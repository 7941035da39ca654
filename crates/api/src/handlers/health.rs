//! `GET /api/health/`: liveness plus whether the renderer's GStreamer is usable.

use actix_web::{web, HttpResponse};
use serde_json::json;

use crate::state::AppState;

pub fn configure(cfg: &mut web::ServiceConfig) {
    cfg.route("/api/health/", web::get().to(health));
}

async fn health(state: web::Data<AppState>) -> HttpResponse {
    let (gstreamer, renderer_error) = match &state.renderer_status {
        Ok(version) => (Some(version.clone()), None),
        Err(message) => (None, Some(message.clone())),
    };
    HttpResponse::Ok().json(json!({
        "status": "ok",
        "version": env!("CARGO_PKG_VERSION"),
        "gstreamer": gstreamer,
        "renderer_error": renderer_error,
    }))
}
