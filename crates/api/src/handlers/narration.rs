//! Narration from text, as the editor asks for it: the installed voices, a segment's or a
//! whole project's narration as `tts` tasks on the shared worker, and a synchronous voice test.

use std::sync::Arc;

use actix_web::http::header;
use actix_web::{web, HttpResponse};
use serde::Deserialize;
use serde_json::json;
use tts::{PiperEngine, SpeechRequest, Synthesizer, TtsError, VoiceInfo};

use crate::errors::{parse_uuid, ApiError};
use crate::handlers::support::{resource, with_conn};
use crate::handlers::with_queue;
use crate::jobs::Job;
use crate::models::ProjectStatus;
use crate::repository::{self, LOCKED_EDIT_MESSAGE, RENDERING_MESSAGE};
use crate::state::AppState;
use crate::tasks::{batch_task_id, segment_task_id, BatchPlan};

/// The voice test speaks at most this many characters (it answers while the user waits).
pub const TTS_TEST_MAX_CHARS: usize = 500;

pub fn configure(cfg: &mut web::ServiceConfig) {
    cfg.service(resource("/api/settings/voices/").route(web::get().to(voices)))
        .service(resource("/api/settings/tts-test/").route(web::post().to(tts_test)))
        .service(
            resource("/api/segments/{id}/generate-audio/").route(web::post().to(generate_audio)),
        )
        .service(
            resource("/api/projects/{id}/generate-all-audio/")
                .route(web::post().to(generate_all_audio)),
        );
}

/// The engine, if text to speech is installed; else 503 naming the setup command.
fn ready_engine(state: &AppState) -> Result<(&Arc<PiperEngine>, Vec<VoiceInfo>), ApiError> {
    let unavailable = |reason: String| {
        ApiError::ServiceUnavailable(format!("Text to speech is not available: {reason}"))
    };
    let engine = state
        .tts
        .as_ref()
        .ok_or_else(|| unavailable("no TTS folder is configured; run scripts/setup.sh".into()))?;
    let voices = engine
        .installed_voices()
        .map_err(|err| unavailable(err.to_string()))?;
    Ok((engine, voices))
}

/// Queues a narration job; 503 if it cannot be queued.
async fn queue_job(state: &AppState, task_id: &str, job: Job) -> Result<(), ApiError> {
    let task_id = task_id.to_owned();
    with_queue(state, move |queue| queue.submit(&task_id, job))
        .await?
        .map_err(|err| {
            ApiError::ServiceUnavailable(format!(
                "Cannot queue the task: {}",
                task_manager::error_chain(&err)
            ))
        })
}

/// `[{id, name, gender, language, accent}]` sorted by id, as the voice selector reads it and
/// the original serves it: `gender` `"Female"`/`"Male"` (null for a Piper voice whose speaker
/// is not known), `language` a BCP 47 tag (`en-US`).
async fn voices(state: web::Data<AppState>) -> Result<HttpResponse, ApiError> {
    let voices = match state.tts.as_deref().map(PiperEngine::voices) {
        Some(Ok(voices)) => voices,
        Some(Err(err)) => return Err(ApiError::internal(err)),
        None => Vec::new(),
    };
    let body: Vec<_> = voices
        .iter()
        .map(|voice| {
            json!({
                "id": voice.id,
                "name": display_name(&voice.name),
                "gender": voice.gender,
                "language": voice.language,
                "accent": accent(&voice.language_code),
                "language_name": voice.language_name,
                "language_code": voice.language_code,
                "quality": voice.quality,
                "sample_rate": voice.sample_rate,
            })
        })
        .collect();
    Ok(HttpResponse::Ok().json(body))
}

/// `joe` → `Joe`.
fn display_name(name: &str) -> String {
    let mut chars = name.chars();
    chars
        .next()
        .map(|first| first.to_uppercase().chain(chars).collect())
        .unwrap_or_default()
}

/// The country part of a language code (`en_US` → `US`), or the code itself.
fn accent(language_code: &str) -> &str {
    language_code
        .split_once('_')
        .map_or(language_code, |(_, country)| country)
}

/// `POST /api/segments/{id}/generate-audio/`: 202 with the task to poll.
async fn generate_audio(
    state: web::Data<AppState>,
    id: web::Path<String>,
) -> Result<HttpResponse, ApiError> {
    let segment_id = parse_uuid(&id, "Segment")?.to_string();
    let lookup = segment_id.clone();
    let (segment, project) = with_conn(&state, move |conn| {
        let segment = repository::get_segment(conn, &lookup)?;
        let project = repository::get_project(conn, &segment.project_id)?;
        Ok((segment, project))
    })
    .await?;
    ready_engine(&state)?;
    check_text(&segment.text_content)?;
    if segment.is_locked {
        return Err(ApiError::Conflict(LOCKED_EDIT_MESSAGE.to_owned()));
    }
    if project.status == ProjectStatus::Processing {
        return Err(ApiError::Conflict(RENDERING_MESSAGE.to_owned()));
    }
    let task_id = segment_task_id(&segment_id);
    let job = Job::NarrateSegment {
        segment_id: segment_id.clone(),
    };
    queue_job(&state, &task_id, job).await?;
    Ok(HttpResponse::Accepted().json(json!({
        "task_id": task_id,
        "segment_id": segment_id,
        "status": "PENDING",
        "message": "Audio generation started.",
    })))
}

/// The segment text a narration can speak: not blank, within the synthesiser's limit.
fn check_text(text: &str) -> Result<(), ApiError> {
    if text.trim().is_empty() {
        return Err(ApiError::BadRequest(
            "The segment has no text to narrate.".to_owned(),
        ));
    }
    let chars = text.chars().count();
    if chars > tts::MAX_TEXT_CHARS {
        return Err(ApiError::BadRequest(
            TtsError::TextTooLong {
                chars,
                limit: tts::MAX_TEXT_CHARS,
            }
            .to_string(),
        ));
    }
    Ok(())
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct BatchOptions {
    #[serde(default = "yes")]
    skip_locked: bool,
    #[serde(default)]
    force_regenerate: bool,
}

fn yes() -> bool {
    true
}

/// `POST /api/projects/{id}/generate-all-audio/` with `{skip_locked, force_regenerate}` (both
/// optional; an empty body takes the defaults). Always 202 with a task: when nothing needs
/// narrating the task finishes at once with nothing done, so the editor's polling ends
/// normally (the original answered 200 without a task, which the editor cannot poll: B4).
async fn generate_all_audio(
    state: web::Data<AppState>,
    id: web::Path<String>,
    body: web::Bytes,
) -> Result<HttpResponse, ApiError> {
    let project_id = parse_uuid(&id, "Project")?.to_string();
    let options: BatchOptions = if body.iter().all(u8::is_ascii_whitespace) {
        BatchOptions {
            skip_locked: true,
            force_regenerate: false,
        }
    } else {
        serde_json::from_slice(&body)
            .map_err(|err| ApiError::BadRequest(format!("Malformed JSON: {err}")))?
    };
    let lookup = project_id.clone();
    let (project, segments) = with_conn(&state, move |conn| {
        Ok(repository::get_project_with_segments(conn, &lookup)?)
    })
    .await?;
    ready_engine(&state)?;
    if project.status == ProjectStatus::Processing {
        return Err(ApiError::Conflict(RENDERING_MESSAGE.to_owned()));
    }
    let plan = BatchPlan::new(&segments, options.skip_locked, options.force_regenerate);
    let task_id = batch_task_id(&project_id);
    let job = Job::NarrateSegments {
        project_id: project_id.clone(),
        segment_ids: plan.segment_ids.clone(),
    };
    queue_job(&state, &task_id, job).await?;
    let to_process = plan.segment_ids.len();
    let message = if to_process == 0 {
        "Nothing to generate: every segment is locked, already narrated or without text.".to_owned()
    } else {
        format!("Generating audio for {to_process} segment(s).")
    };
    Ok(HttpResponse::Accepted().json(json!({
        "task_id": task_id,
        "project_id": project_id,
        "status": "PENDING",
        "total_segments": segments.len(),
        "segments_to_process": to_process,
        "skipped_locked": plan.skipped_locked,
        "skipped_existing": plan.skipped_existing,
        "skipped_empty": plan.skipped_empty,
        "message": message,
    })))
}

#[derive(Debug, Deserialize)]
struct TtsTest {
    #[serde(default)]
    text: String,
    #[serde(default)]
    voice: Option<String>,
    #[serde(default)]
    speed: Option<f32>,
}

/// `POST /api/settings/tts-test/` `{text, voice?, speed?}`: speaks a short text now and
/// answers with the WAV (`audio/wav`), the voice falling back to the default as tasks do.
async fn tts_test(
    state: web::Data<AppState>,
    body: web::Json<TtsTest>,
) -> Result<HttpResponse, ApiError> {
    let TtsTest { text, voice, speed } = body.into_inner();
    if text.trim().is_empty() {
        return Err(ApiError::BadRequest("text is required".to_owned()));
    }
    let chars = text.chars().count();
    if chars > TTS_TEST_MAX_CHARS {
        return Err(ApiError::BadRequest(format!(
            "The test text is {chars} characters long; the limit is {TTS_TEST_MAX_CHARS}."
        )));
    }
    let (engine, _) = ready_engine(&state)?;
    let engine = engine.clone();
    let mut request = SpeechRequest::new(text).with_speed(speed.unwrap_or(tts::DEFAULT_SPEED));
    request.voice = voice;
    let wav = web::block(move || -> Result<Vec<u8>, ApiError> {
        let folder = tempfile::tempdir().map_err(ApiError::internal)?;
        let path = folder.path().join("tts_test.wav");
        engine
            .synthesize(&request, &path, &|| false)
            .map_err(|err| match err {
                TtsError::InvalidSpeed { .. }
                | TtsError::EmptyText
                | TtsError::TextTooLong { .. }
                | TtsError::Unspeakable { .. } => ApiError::BadRequest(err.to_string()),
                other => ApiError::internal(other),
            })?;
        std::fs::read(&path).map_err(ApiError::internal)
    })
    .await??;
    Ok(HttpResponse::Ok()
        .content_type("audio/wav")
        .insert_header((
            header::CONTENT_DISPOSITION,
            "inline; filename=\"tts_test.wav\"",
        ))
        .body(wav))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn voice_labels() {
        assert_eq!(display_name("joe"), "Joe");
        assert_eq!(display_name(""), "");
        assert_eq!(accent("en_US"), "US");
        assert_eq!(accent("de"), "de");
    }

    #[test]
    fn texts_are_checked_against_the_synthesiser_limit() {
        assert!(check_text("Hello.").is_ok());
        assert!(matches!(check_text(" \n "), Err(ApiError::BadRequest(_))));
        let long = "a".repeat(tts::MAX_TEXT_CHARS + 1);
        let Err(ApiError::BadRequest(message)) = check_text(&long) else {
            panic!("a long text must be refused");
        };
        assert!(message.contains("5000"), "{message}");
    }
}
