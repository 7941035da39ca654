//! Segments: list a project's, create, read, edit, delete, reorder. Their files are handled in
//! `uploads`.

use actix_web::http::StatusCode;
use actix_web::{web, HttpRequest, HttpResponse};
use serde::Deserialize;
use serde_json::{json, Value};

use crate::errors::{parse_uuid, ApiError};
use crate::handlers::support::{check_page, page_number, resource, with_conn};
use crate::repository::{self, RepoError};
use crate::state::AppState;
use crate::validation;
use crate::views::{PageJson, PAGE_SIZE};

pub fn configure(cfg: &mut web::ServiceConfig) {
    // `reorder/` before `{id}/`, or the id pattern would claim it.
    cfg.service(
        resource("/api/segments/")
            .route(web::get().to(list))
            .route(web::post().to(create)),
    )
    .service(resource("/api/segments/reorder/").route(web::post().to(reorder)))
    .service(
        resource("/api/segments/{id}/")
            .route(web::get().to(detail))
            .route(web::patch().to(update))
            .route(web::delete().to(delete)),
    );
}

#[derive(Debug, Deserialize)]
struct ListQuery {
    project: Option<String>,
    page: Option<String>,
}

/// Segments are listed per project: `?project={id}` filters, as the original's queryset did,
/// so without it (or with an id of no project) the page is empty rather than an error.
async fn list(
    req: HttpRequest,
    state: web::Data<AppState>,
    query: web::Query<ListQuery>,
) -> Result<HttpResponse, ApiError> {
    let page = page_number(query.page.as_deref())?;
    let project_id = query
        .project
        .as_deref()
        .and_then(|project| uuid::Uuid::parse_str(project).ok())
        .map(|id| id.to_string());
    let listed = match project_id {
        Some(project_id) => {
            with_conn(&state, move |conn| {
                Ok(repository::list_segments_page(
                    conn,
                    &project_id,
                    (page - 1) * PAGE_SIZE,
                    PAGE_SIZE,
                )?)
            })
            .await?
        }
        None => repository::Page {
            items: Vec::new(),
            total: 0,
        },
    };
    check_page(page, listed.total)?;
    Ok(HttpResponse::Ok().json(PageJson::new(&req, page, listed.total, listed.items)))
}

/// Appends a segment to the project (`sequence_index` = last + 1).
async fn create(
    state: web::Data<AppState>,
    body: web::Json<Value>,
) -> Result<HttpResponse, ApiError> {
    let (project_id, text) = validation::new_segment(&body)?;
    let segment = with_conn(&state, move |conn| {
        Ok(repository::create_segment(conn, &project_id, &text)?)
    })
    .await?;
    Ok(HttpResponse::Created().json(&segment))
}

async fn detail(
    state: web::Data<AppState>,
    id: web::Path<String>,
) -> Result<HttpResponse, ApiError> {
    let id = parse_uuid(&id, "Segment")?.to_string();
    let segment = with_conn(&state, move |conn| Ok(repository::get_segment(conn, &id)?)).await?;
    Ok(HttpResponse::Ok().json(&segment))
}

/// text_content, image_prompt, is_locked; a locked segment accepts only is_locked.
async fn update(
    state: web::Data<AppState>,
    id: web::Path<String>,
    body: web::Json<Value>,
) -> Result<HttpResponse, ApiError> {
    let id = parse_uuid(&id, "Segment")?.to_string();
    let changes = validation::segment_update(&body)?;
    let segment = with_conn(&state, move |conn| {
        Ok(repository::update_segment(conn, &id, &changes)?)
    })
    .await?;
    Ok(HttpResponse::Ok().json(&segment))
}

/// Deletes the segment (the others close the gap), then its files.
async fn delete(
    state: web::Data<AppState>,
    id: web::Path<String>,
) -> Result<HttpResponse, ApiError> {
    let id = parse_uuid(&id, "Segment")?.to_string();
    let media = state.media.clone();
    with_conn(&state, move |conn| {
        let deleted = repository::delete_segment(conn, &id)?;
        for file in [&deleted.image_file, &deleted.audio_file]
            .into_iter()
            .flatten()
        {
            media.remove(file);
        }
        Ok(())
    })
    .await?;
    Ok(HttpResponse::NoContent().finish())
}

/// `{project_id, segment_order}`: the order must name each of the project's segments once.
async fn reorder(
    state: web::Data<AppState>,
    body: web::Json<Value>,
) -> Result<HttpResponse, ApiError> {
    let (project_id, order) = validation::reorder(&body)?;
    let segments = with_conn(&state, move |conn| {
        repository::reorder_segments(conn, &project_id, &order).map_err(|err| match err {
            RepoError::Invalid(details) => ApiError::Custom {
                status: StatusCode::BAD_REQUEST,
                body: json!({ "error": "Invalid segment order.", "details": details }),
            },
            other => other.into(),
        })
    })
    .await?;
    let order: Vec<Value> = segments
        .iter()
        .map(|s| json!({ "id": s.id, "sequence_index": s.sequence_index }))
        .collect();
    Ok(HttpResponse::Ok().json(json!({
        "message": "Segments reordered successfully.",
        "segments": order,
    })))
}
