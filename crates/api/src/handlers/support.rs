//! Small pieces the resource handlers share: database work off the async threads, page
//! numbers, and JSON answers for methods a resource does not allow.

use actix_web::http::{header, StatusCode};
use actix_web::{web, HttpRequest, HttpResponse, Resource};
use serde_json::json;

use crate::db::AnyConnection;
use crate::errors::ApiError;
use crate::state::AppState;
use crate::views::last_page;

/// Runs `work` with a pooled connection on actix's blocking pool. Unlike `with_db`, the work
/// may fail with any `ApiError` (validation that needs the stored row, say).
pub async fn with_conn<T, F>(state: &AppState, work: F) -> Result<T, ApiError>
where
    F: FnOnce(&mut AnyConnection) -> Result<T, ApiError> + Send + 'static,
    T: Send + 'static,
{
    let pool = state.pool.clone();
    web::block(move || {
        let mut conn = pool.get().map_err(ApiError::internal)?;
        work(&mut conn)
    })
    .await?
}

/// A resource whose unsupported methods get a JSON 405, as DRF answers.
pub fn resource(path: &str) -> Resource {
    web::resource(path).default_service(web::to(method_not_allowed))
}

async fn method_not_allowed(req: HttpRequest) -> HttpResponse {
    HttpResponse::build(StatusCode::METHOD_NOT_ALLOWED)
        .insert_header((header::CACHE_CONTROL, "no-store"))
        .json(json!({ "detail": format!("Method \"{}\" not allowed.", req.method()) }))
}

/// The 1-based `?page=` number (1 when absent).
pub fn page_number(raw: Option<&str>) -> Result<i64, ApiError> {
    match raw {
        None => Ok(1),
        Some(text) => text
            .trim()
            .parse::<i64>()
            .ok()
            .filter(|page| *page >= 1)
            .ok_or_else(invalid_page),
    }
}

/// DRF answers 404 for a page past the end (page 1 always exists).
pub fn check_page(page: i64, count: i64) -> Result<(), ApiError> {
    if page > last_page(count) {
        return Err(invalid_page());
    }
    Ok(())
}

fn invalid_page() -> ApiError {
    ApiError::Custom {
        status: StatusCode::NOT_FOUND,
        body: json!({ "detail": "Invalid page.", "error": "Invalid page." }),
    }
}
