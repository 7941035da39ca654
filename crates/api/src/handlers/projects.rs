//! Projects: list, create, read, update, delete, and import (a new project from text or JSON,
//! or more segments into an existing one).

use actix_web::{web, HttpRequest, HttpResponse};
use serde::Deserialize;
use serde_json::Value;

use crate::errors::{parse_uuid, ApiError};
use crate::handlers::support::{check_page, page_number, resource, with_conn};
use crate::repository;
use crate::state::AppState;
use crate::validation;
use crate::views::{PageJson, ProjectDetailJson, ProjectJson, PAGE_SIZE};

pub fn configure(cfg: &mut web::ServiceConfig) {
    // `import/` before `{id}/`, or the id pattern would claim it.
    cfg.service(
        resource("/api/projects/")
            .route(web::get().to(list))
            .route(web::post().to(create)),
    )
    .service(resource("/api/projects/import/").route(web::post().to(import_project)))
    .service(
        resource("/api/projects/{id}/")
            .route(web::get().to(detail))
            .route(web::patch().to(update))
            .route(web::delete().to(delete)),
    )
    .service(
        resource("/api/projects/{id}/import-segments/").route(web::post().to(import_segments)),
    );
}

#[derive(Debug, Deserialize)]
struct PageQuery {
    page: Option<String>,
}

async fn list(
    req: HttpRequest,
    state: web::Data<AppState>,
    query: web::Query<PageQuery>,
) -> Result<HttpResponse, ApiError> {
    let page = page_number(query.page.as_deref())?;
    let listed = with_conn(&state, move |conn| {
        Ok(repository::list_projects(
            conn,
            (page - 1) * PAGE_SIZE,
            PAGE_SIZE,
        )?)
    })
    .await?;
    check_page(page, listed.total)?;
    let results: Vec<ProjectJson> = listed.items.iter().map(ProjectJson::from).collect();
    Ok(HttpResponse::Ok().json(PageJson::new(&req, page, listed.total, results)))
}

async fn create(
    state: web::Data<AppState>,
    body: web::Json<Value>,
) -> Result<HttpResponse, ApiError> {
    let project = validation::new_project(&body)?;
    let project = with_conn(&state, move |conn| {
        repository::insert_project(conn, &project)?;
        Ok(project)
    })
    .await?;
    Ok(HttpResponse::Created().json(ProjectJson {
        project: &project,
        segment_count: 0,
    }))
}

async fn detail(
    state: web::Data<AppState>,
    id: web::Path<String>,
) -> Result<HttpResponse, ApiError> {
    let id = parse_uuid(&id, "Project")?.to_string();
    let (project, segments) = with_conn(&state, move |conn| {
        Ok(repository::get_project_with_segments(conn, &id)?)
    })
    .await?;
    Ok(HttpResponse::Ok().json(ProjectDetailJson::new(&project, &segments)))
}

/// Title, resolution pair and frame rate; the format is frozen while the project renders.
async fn update(
    state: web::Data<AppState>,
    id: web::Path<String>,
    body: web::Json<Value>,
) -> Result<HttpResponse, ApiError> {
    let id = parse_uuid(&id, "Project")?.to_string();
    let body = body.into_inner();
    let (project, segments) = with_conn(&state, move |conn| {
        let current = repository::get_project(conn, &id)?;
        let changes = validation::project_update(&body, &current)?;
        repository::update_project(conn, &id, &changes)?;
        Ok(repository::get_project_with_segments(conn, &id)?)
    })
    .await?;
    Ok(HttpResponse::Ok().json(ProjectDetailJson::new(&project, &segments)))
}

/// Removes the rows, then the project's media folder.
async fn delete(
    state: web::Data<AppState>,
    id: web::Path<String>,
) -> Result<HttpResponse, ApiError> {
    let id = parse_uuid(&id, "Project")?.to_string();
    let media = state.media.clone();
    let chunk_cache = state.chunk_cache.clone();
    with_conn(&state, move |conn| {
        repository::delete_project(conn, &id)?;
        // The rows are gone either way; a folder we cannot remove is only wasted space.
        if let Err(err) = media.remove_project(&id) {
            log::error!("project {id} deleted but its media folder remains: {err}");
        }
        chunk_cache.release_project(&id);
        Ok(())
    })
    .await?;
    Ok(HttpResponse::NoContent().finish())
}

/// A new project and all its segments in one transaction.
async fn import_project(
    state: web::Data<AppState>,
    body: web::Json<Value>,
) -> Result<HttpResponse, ApiError> {
    let request = validation::import_request(&body, true)?;
    let title = request.title.unwrap_or_default();
    let (project, segments) = with_conn(&state, move |conn| {
        Ok(repository::import_project(conn, &title, &request.segments)?)
    })
    .await?;
    Ok(HttpResponse::Created().json(ProjectDetailJson::new(&project, &segments)))
}

/// Appends segments to an existing project; answers with all of its segments, in order.
async fn import_segments(
    state: web::Data<AppState>,
    id: web::Path<String>,
    body: web::Json<Value>,
) -> Result<HttpResponse, ApiError> {
    let id = parse_uuid(&id, "Project")?.to_string();
    let request = validation::import_request(&body, false)?;
    let segments = with_conn(&state, move |conn| {
        Ok(repository::append_segments(conn, &id, &request.segments)?)
    })
    .await?;
    Ok(HttpResponse::Created().json(segments))
}
