//! Any background task (a render, a narration): its status, and a cancel request.

use actix_web::{web, HttpResponse};
use serde_json::{json, Value};
use task_manager::{TaskError, TaskSnapshot};

use crate::errors::ApiError;
use crate::handlers::with_queue;
use crate::jobs::QueueError;
use crate::state::AppState;

pub fn configure(cfg: &mut web::ServiceConfig) {
    cfg.route("/api/tasks/{task_id}/status/", web::get().to(task_status))
        .route("/api/tasks/{task_id}/cancel/", web::post().to(cancel_task));
}

/// The task's status; with shared jobs also the `worker` holding it (or that last held it).
async fn task_status(
    state: web::Data<AppState>,
    task_id: web::Path<String>,
) -> Result<HttpResponse, ApiError> {
    let lookup = task_id.clone();
    let snapshot = with_queue(&state, move |queue| queue.status(&lookup))
        .await?
        .map_err(ApiError::internal)?
        .ok_or_else(|| not_found(&task_id))?;
    let mut body = status_body(&snapshot.task)?;
    if let Some(worker) = snapshot.worker {
        body["worker"] = json!(worker);
    }
    Ok(HttpResponse::Ok().json(body))
}

fn not_found(task_id: &str) -> ApiError {
    ApiError::NotFound {
        entity: "Task",
        id: task_id.to_owned(),
    }
}

/// The snapshot as the editor reads it: `progress` always an object (with the batch's
/// `current_segment_id` while it runs), `completed_segments` and `errors` always arrays, from
/// the result once finished or from what the running task last reported; a task's own failure
/// is `errors[0]` (a single segment's narration fails the task rather than listing itself).
pub fn status_body(snapshot: &TaskSnapshot) -> Result<Value, ApiError> {
    let mut body = serde_json::to_value(snapshot).map_err(ApiError::internal)?;
    if body["progress"].is_null() {
        body["progress"] = json!({});
    }
    let reported = snapshot.result.as_ref().or(snapshot.detail.as_ref());
    let list = |key: &str| reported.and_then(|value| value.get(key)).cloned();
    if let Some(segment) = snapshot
        .detail
        .as_ref()
        .and_then(|detail| detail.get("current_segment_id"))
        .filter(|_| !snapshot.status.is_finished())
    {
        body["progress"]["current_segment_id"] = segment.clone();
    }
    body["completed_segments"] = list("completed_segments").unwrap_or_else(|| json!([]));
    body["errors"] = match (&snapshot.error, list("errors")) {
        (Some(message), _) => json!([{ "segment_id": null, "error": message }]),
        (None, Some(errors)) => errors,
        (None, None) => json!([]),
    };
    Ok(body)
}

/// `POST /api/tasks/{task_id}/cancel/`: a queued task never runs; a running one stops at its
/// next check (a render within a second, a narration after its current sentence). Answers
/// with the task's status; 404 unknown, 409 already finished.
async fn cancel_task(
    state: web::Data<AppState>,
    task_id: web::Path<String>,
) -> Result<HttpResponse, ApiError> {
    let lookup = task_id.clone();
    let status = with_queue(&state, move |queue| queue.cancel(&lookup))
        .await?
        .map_err(|err| match err {
            QueueError::Task(TaskError::NotFound(id)) => not_found(&id),
            QueueError::Task(other) => ApiError::Conflict(other.to_string()),
            other => ApiError::internal(other),
        })?;
    Ok(HttpResponse::Ok().json(json!({
        "task_id": task_id.as_str(),
        "status": status,
        "message": "Cancel requested.",
    })))
}
