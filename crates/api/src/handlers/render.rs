//! Rendering over REST: start a render, poll its status, cancel it.

use std::io;
use std::time::{Duration, Instant};

use actix_web::{web, HttpResponse};
use serde_json::{json, Value};
use task_manager::{TaskError, TaskSnapshot, TaskStatus};

use crate::errors::{parse_uuid, ApiError};
use crate::handlers::{with_db, with_queue};
use crate::jobs::{Job, QueueError};
use crate::models::{Project, ProjectStatus, Segment};
use crate::render_store::{load_render_input, render_spec};
use crate::repository;
use crate::state::AppState;
use crate::storage::{subtitle_urls, MediaStore, SubtitleUrls};
use crate::tasks::render_task_id;

/// How long `cancel-render` waits for the render to stop before answering anyway; a render
/// honours a cancel within a second.
const CANCEL_WAIT: Duration = Duration::from_secs(10);
/// How often it looks while waiting.
const CANCEL_POLL: Duration = Duration::from_millis(20);

pub fn configure(cfg: &mut web::ServiceConfig) {
    cfg.route("/api/projects/{id}/render/", web::post().to(start_render))
        .route("/api/projects/{id}/status/", web::get().to(render_status))
        .route(
            "/api/projects/{id}/cancel-render/",
            web::post().to(cancel_render),
        );
}

/// Segments whose image or narration is not set or no longer on disk.
#[derive(Debug, Default, PartialEq, Eq)]
pub struct MissingMedia {
    pub images: Vec<String>,
    pub audio: Vec<String>,
}

/// One pass over the segments, collecting every problem rather than stopping at the first.
/// A file counts as present in the media folder or in the bucket (a narration a worker wrote).
pub fn find_missing_media(segments: &[Segment], media: &MediaStore) -> io::Result<MissingMedia> {
    let present = |file: &Option<String>| match file.as_deref() {
        Some(relative) => media.exists(relative),
        None => Ok(false),
    };
    let mut missing = MissingMedia::default();
    for segment in segments {
        if !present(&segment.image_file)? {
            missing.images.push(segment.id.clone());
        }
        if !present(&segment.audio_file)? {
            missing.audio.push(segment.id.clone());
        }
    }
    Ok(missing)
}

async fn start_render(
    state: web::Data<AppState>,
    id: web::Path<String>,
) -> Result<HttpResponse, ApiError> {
    let project_id = parse_uuid(&id, "Project")?.to_string();
    let task_id = render_task_id(&project_id);

    let lookup_id = project_id.clone();
    let input = with_db(&state, move |conn| load_render_input(conn, &lookup_id)).await?;
    let segments = &input.segments;

    if segments.is_empty() {
        return Err(ApiError::Custom {
            status: actix_web::http::StatusCode::BAD_REQUEST,
            body: json!({
                "missing_images": [], "missing_audio": [],
                "message": "The project has no segments to render.",
            }),
        });
    }
    let (media, checked) = (state.media.clone(), segments.clone());
    let missing = web::block(move || find_missing_media(&checked, &media))
        .await?
        .map_err(ApiError::internal)?;
    if !missing.images.is_empty() || !missing.audio.is_empty() {
        let message = format!(
            "Cannot render: {} segment(s) without an image and {} without audio.",
            missing.images.len(),
            missing.audio.len()
        );
        return Err(ApiError::Custom {
            status: actix_web::http::StatusCode::BAD_REQUEST,
            body: json!({
                "missing_images": missing.images, "missing_audio": missing.audio,
                "message": message,
            }),
        });
    }
    // The worker builds the same spec; checking it here tells the user now, in the editor,
    // rather than as a failed render.
    if let Err(err) = render_spec(&input, state.media.root(), state.preview) {
        let message = format!(
            "Cannot render with the current settings: {}",
            task_manager::error_chain(&err)
        );
        return Err(ApiError::Custom {
            status: actix_web::http::StatusCode::BAD_REQUEST,
            body: json!({
                "missing_images": [], "missing_audio": [],
                "error": message, "message": message,
            }),
        });
    }
    if let Err(reason) = &state.renderer_status {
        return Err(ApiError::ServiceUnavailable(format!(
            "The renderer is unavailable: {reason}"
        )));
    }
    if task_is_active(task_snapshot(&state, &task_id).await?.as_ref()) {
        return Err(already_rendering(&project_id));
    }

    let start_id = project_id.clone();
    let won = with_db(&state, move |conn| {
        repository::try_start_render(conn, &start_id)
    })
    .await?;
    if !won {
        return Err(already_rendering(&project_id));
    }

    let job = Job::Render {
        project_id: project_id.clone(),
        preview: state.preview,
    };
    let job_task = task_id.clone();
    let submitted = with_queue(&state, move |queue| queue.submit(&job_task, job)).await?;
    if let Err(err) = submitted {
        // The previous task of this project is still winding down (e.g. a cancel in flight).
        mark_failed(&state, &project_id).await?;
        return Err(match err {
            QueueError::Task(TaskError::AlreadyActive(_)) => already_rendering(&project_id),
            other => ApiError::ServiceUnavailable(format!(
                "Cannot queue the render: {}",
                task_manager::error_chain(&other)
            )),
        });
    }

    Ok(HttpResponse::Accepted().json(json!({
        "task_id": task_id,
        "project_id": project_id,
        "status": ProjectStatus::Processing,
        "total_segments": segments.len(),
        "message": format!("Render started for {} segment(s).", segments.len()),
    })))
}

async fn mark_failed(state: &AppState, project_id: &str) -> Result<(), ApiError> {
    let failed_id = project_id.to_owned();
    with_db(state, move |conn| repository::mark_failed(conn, &failed_id)).await
}

/// The task's record, from wherever the queue keeps it.
async fn task_snapshot(state: &AppState, task_id: &str) -> Result<Option<TaskSnapshot>, ApiError> {
    let task_id = task_id.to_owned();
    let snapshot = with_queue(state, move |queue| queue.status(&task_id))
        .await?
        .map_err(ApiError::internal)?;
    Ok(snapshot.map(|snapshot| snapshot.task))
}

fn task_is_active(snapshot: Option<&TaskSnapshot>) -> bool {
    snapshot.is_some_and(|task| matches!(task.status, TaskStatus::Pending | TaskStatus::Processing))
}

fn already_rendering(project_id: &str) -> ApiError {
    ApiError::Custom {
        status: actix_web::http::StatusCode::CONFLICT,
        body: json!({
            "error": "Project is already being rendered.",
            "project_id": project_id,
            "status": ProjectStatus::Processing,
        }),
    }
}

async fn render_status(
    state: web::Data<AppState>,
    id: web::Path<String>,
) -> Result<HttpResponse, ApiError> {
    let project_id = parse_uuid(&id, "Project")?.to_string();
    let lookup_id = project_id.clone();
    let media = state.media.clone();
    let (project, total, subtitles) = with_db(&state, move |conn| {
        let project = repository::get_project(conn, &lookup_id)?;
        let total = repository::count_segments(conn, &lookup_id)?;
        // Looked up only where they are shown (with a bucket, each is a request).
        let subtitles = (project.status == ProjectStatus::Completed)
            .then(|| subtitle_urls(&media, &lookup_id))
            .flatten();
        Ok((project, total, subtitles))
    })
    .await?;
    let snapshot = task_snapshot(&state, &render_task_id(&project_id)).await?;
    Ok(HttpResponse::Ok().json(status_body(
        &project,
        total,
        snapshot.as_ref(),
        subtitles.as_ref(),
    )))
}

/// The status document: the database says where the project stands, the task registry adds
/// live progress and the failure reason. The video's URL and its subtitle sidecars' (found on
/// disk by the caller) are given only once the project is COMPLETED.
pub fn status_body(
    project: &Project,
    total_segments: i64,
    task: Option<&TaskSnapshot>,
    subtitles: Option<&SubtitleUrls>,
) -> Value {
    let progress = |task: &TaskSnapshot| {
        task.progress.as_ref().map(|p| {
            json!({
                "current_segment": p.current,
                "total_segments": p.total,
                "percentage": p.percentage,
                "current_phase": p.phase,
            })
        })
    };
    let cancelled = || {
        (
            ProjectStatus::Failed,
            Some(json!({
                "current_segment": task.and_then(|t| t.progress.as_ref()).map_or(0, |p| p.current),
                "total_segments": total_segments,
                "percentage": task.and_then(|t| t.progress.as_ref()).map_or(0, |p| p.percentage),
                "current_phase": CANCELLED_BY_USER,
            })),
            Some(CANCELLED_BY_USER.to_owned()),
        )
    };
    let (status, progress, error) = match project.status {
        ProjectStatus::Processing => match task {
            Some(task) if task.cancel_requested => cancelled(),
            Some(task) if task.status == TaskStatus::Pending => (
                ProjectStatus::Processing,
                Some(json!({
                    "current_segment": 0,
                    "total_segments": total_segments,
                    "percentage": 0,
                    "current_phase": "Queued: waiting for another task to finish",
                })),
                None,
            ),
            Some(task) => (ProjectStatus::Processing, progress(task), None),
            None => (ProjectStatus::Processing, None, None),
        },
        ProjectStatus::Completed => (
            ProjectStatus::Completed,
            Some(json!({
                "current_segment": total_segments,
                "total_segments": total_segments,
                "percentage": 100,
                "current_phase": "Export complete",
            })),
            None,
        ),
        // The render marks its project FAILED just before its worker records why (in another
        // process on PostgreSQL): until then it reads as still rendering, so that the editor,
        // which stops polling at FAILED, gets the reason.
        ProjectStatus::Failed => match task {
            Some(task) if !task.cancel_requested && !task.status.is_finished() => {
                (ProjectStatus::Processing, progress(task), None)
            }
            _ => (
                ProjectStatus::Failed,
                task.and_then(progress),
                Some(task.and_then(failure_reason).unwrap_or_else(|| {
                    "The last render did not finish (see the server log).".to_owned()
                })),
            ),
        },
        ProjectStatus::Draft => (ProjectStatus::Draft, None, None),
    };
    let completed = status == ProjectStatus::Completed;
    let output_url = completed
        .then(|| project.output_path.clone())
        .flatten()
        .filter(|path| !path.is_empty());
    let mut body = json!({
        "project_id": project.id,
        "status": status,
        "progress": progress,
        "output_url": output_url,
        "subtitles": subtitles.filter(|_| completed),
    });
    if let Some(error) = error {
        body["error"] = json!(error);
    }
    body
}

/// The phase and error of a render the user cancelled, as the editor shows them.
const CANCELLED_BY_USER: &str = "Cancelled by user";

fn failure_reason(task: &TaskSnapshot) -> Option<String> {
    match task.status {
        TaskStatus::Cancelled => Some(CANCELLED_BY_USER.to_owned()),
        _ => task.error.clone(),
    }
}

/// Asks the render to stop and answers once it has: the project is FAILED and the render's
/// temporary files are gone, so a Render right after this answer starts a new one.
async fn cancel_render(
    state: web::Data<AppState>,
    id: web::Path<String>,
) -> Result<HttpResponse, ApiError> {
    let project_id = parse_uuid(&id, "Project")?.to_string();
    let lookup_id = project_id.clone();
    let project = with_db(&state, move |conn| {
        repository::get_project(conn, &lookup_id)
    })
    .await?;
    let not_rendering = || ApiError::Custom {
        status: actix_web::http::StatusCode::CONFLICT,
        body: json!({
            "error": "Project is not currently rendering.",
            "project_id": project.id,
            "status": project.status,
        }),
    };
    if project.status != ProjectStatus::Processing {
        return Err(not_rendering());
    }
    let task_id = render_task_id(&project_id);
    let cancel_id = task_id.clone();
    let task_status = with_queue(&state, move |queue| queue.cancel(&cancel_id))
        .await?
        .map_err(|err| match err {
            QueueError::Task(_) => not_rendering(),
            other => ApiError::internal(other),
        })?;
    if task_status == TaskStatus::Cancelled {
        // It was still queued: its job will never run to record the failure, so do it here.
        mark_failed(&state, &project_id).await?;
    } else if !wait_until_finished(&state, &task_id).await? {
        log::warn!("render {task_id} is still stopping after {CANCEL_WAIT:?}");
    }
    Ok(HttpResponse::Ok().json(json!({
        "project_id": project_id,
        "status": "CANCELLING",
        "message": "Cancelling the render; the project will be marked FAILED.",
    })))
}

/// Waits (without blocking a worker) until the task has finished; false on timeout.
async fn wait_until_finished(state: &AppState, task_id: &str) -> Result<bool, ApiError> {
    let deadline = Instant::now() + CANCEL_WAIT;
    while Instant::now() < deadline {
        let finished = task_snapshot(state, task_id)
            .await?
            .is_none_or(|task| task.status.is_finished());
        if finished {
            return Ok(true);
        }
        actix_web::rt::time::sleep(CANCEL_POLL).await;
    }
    Ok(false)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn task(status: TaskStatus, error: Option<&str>) -> TaskSnapshot {
        TaskSnapshot {
            task_id: "render_p".into(),
            status,
            progress: None,
            result: None,
            detail: None,
            error: error.map(str::to_owned),
            cancel_requested: false,
            created_at: chrono::Utc::now(),
            started_at: None,
            finished_at: None,
        }
    }

    #[test]
    fn a_failed_render_reads_as_rendering_until_its_reason_is_recorded() {
        let mut project = Project::new("p");
        project.status = ProjectStatus::Failed;
        let running = task(TaskStatus::Processing, None);
        let body = status_body(&project, 4, Some(&running), None);
        assert_eq!(body["status"], "PROCESSING");
        assert!(body.get("error").is_none(), "{body}");

        let failed = task(
            TaskStatus::Failed,
            Some("segment 1: the picture is damaged"),
        );
        let body = status_body(&project, 4, Some(&failed), None);
        assert_eq!(body["status"], "FAILED");
        assert_eq!(body["error"], "segment 1: the picture is damaged");

        let body = status_body(&project, 4, None, None);
        assert_eq!(body["status"], "FAILED");
        assert_eq!(
            body["error"],
            "The last render did not finish (see the server log)."
        );
    }
}
