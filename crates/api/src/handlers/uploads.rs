//! A segment's files: upload or remove its image and its narration.
//!
//! Uploads stream to a temporary file in the destination folder (never whole into memory),
//! counting bytes against the size limit as they come. The content decides: an image must
//! decode, a narration must decode through GStreamer (which also measures its real duration).
//! The file then gets a fresh UUID name with the extension of what it really is, the database
//! is pointed at it, and only then is the previous file removed, so a failed upload never
//! costs the segment its old file. The client's file name never reaches the disk.

use std::io::Write;
use std::path::{Path, PathBuf};

use actix_multipart::{Field, Multipart, MultipartError};
use actix_web::http::StatusCode;
use actix_web::{web, HttpResponse};
use futures_util::StreamExt;
use image::ImageFormat;
use serde_json::json;
use tempfile::NamedTempFile;

use crate::errors::{parse_uuid, ApiError};
use crate::handlers::support::{resource, with_conn};
use crate::models::{ProjectStatus, Segment};
use crate::repository::{self, LOCKED_FILES_MESSAGE, RENDERING_MESSAGE};
use crate::state::AppState;
use crate::storage::{self, media_url, MediaKind};

/// After a refusal for size, the rest of the body is still read (and discarded) up to this
/// much, so the client reads the 413 rather than a reset connection.
const DRAIN_LIMIT: u64 = 64 * 1024 * 1024;
/// Form fields besides the file are discarded, and may not exceed this.
const OTHER_FIELD_LIMIT: u64 = 64 * 1024;
/// Chunks are gathered up to this size before one blocking write.
const WRITE_BUFFER: usize = 1024 * 1024;

pub fn configure(cfg: &mut web::ServiceConfig) {
    cfg.service(resource("/api/segments/{id}/upload-image/").route(web::post().to(upload_image)))
        .service(resource("/api/segments/{id}/upload-audio/").route(web::post().to(upload_audio)))
        .service(resource("/api/segments/{id}/remove-image/").route(web::delete().to(remove_image)))
        .service(
            resource("/api/segments/{id}/remove-audio/").route(web::delete().to(remove_audio)),
        );
}

/// A file received from a multipart form, still under its temporary name.
#[derive(Debug)]
pub struct ReceivedFile {
    pub temp: NamedTempFile,
    pub size: u64,
    /// The name the client gave, for display only.
    pub client_name: Option<String>,
}

/// Streams the form field `field_name` into a temporary file in `folder` (created if needed),
/// refusing with 413 past `limit` bytes. `Ok(None)` when the form has no such field.
pub async fn receive_file(
    mut form: Multipart,
    field_name: &str,
    folder: PathBuf,
    limit: u64,
) -> Result<Option<ReceivedFile>, ApiError> {
    let mut received = None;
    while let Some(field) = form.next().await {
        let mut field = field.map_err(multipart_error)?;
        let wanted = received.is_none() && field.name() == Some(field_name);
        let outcome = if wanted {
            let client_name = field
                .content_disposition()
                .and_then(|disposition| disposition.get_filename())
                .map(str::to_owned);
            write_field(&mut field, folder.clone(), limit)
                .await
                .map(|(temp, size)| {
                    received = Some(ReceivedFile {
                        temp,
                        size,
                        client_name,
                    });
                })
        } else {
            skip_field(&mut field).await
        };
        if let Err(err) = outcome {
            if matches!(err, ApiError::PayloadTooLarge(_)) {
                let drained = drain_field(&mut field, 0).await;
                // The form cannot move on while a field is alive.
                drop(field);
                drain_form(&mut form, drained).await;
            }
            return Err(err);
        }
    }
    Ok(received)
}

async fn write_field(
    field: &mut Field,
    folder: PathBuf,
    limit: u64,
) -> Result<(NamedTempFile, u64), ApiError> {
    let mut temp = web::block(move || {
        std::fs::create_dir_all(&folder)?;
        tempfile::Builder::new()
            .prefix(".upload-")
            .tempfile_in(&folder)
    })
    .await?
    .map_err(ApiError::internal)?;
    let mut size = 0u64;
    let mut buffer = Vec::with_capacity(WRITE_BUFFER);
    while let Some(chunk) = field.next().await {
        let chunk = chunk.map_err(multipart_error)?;
        size += chunk.len() as u64;
        if size > limit {
            return Err(ApiError::PayloadTooLarge(format!(
                "File too large: the limit is {}.",
                human_size(limit)
            )));
        }
        buffer.extend_from_slice(&chunk);
        if buffer.len() >= WRITE_BUFFER {
            (temp, buffer) = write_out(temp, buffer).await?;
        }
    }
    (temp, _) = write_out(temp, buffer).await?;
    Ok((temp, size))
}

/// Appends the buffer to the file on the blocking pool; hands both back, the buffer emptied.
async fn write_out(
    mut temp: NamedTempFile,
    mut buffer: Vec<u8>,
) -> Result<(NamedTempFile, Vec<u8>), ApiError> {
    web::block(move || {
        temp.write_all(&buffer)?;
        temp.flush()?;
        buffer.clear();
        Ok::<_, std::io::Error>((temp, buffer))
    })
    .await?
    .map_err(ApiError::internal)
}

async fn skip_field(field: &mut Field) -> Result<(), ApiError> {
    let mut size = 0u64;
    while let Some(chunk) = field.next().await {
        size += chunk.map_err(multipart_error)?.len() as u64;
        if size > OTHER_FIELD_LIMIT {
            return Err(ApiError::PayloadTooLarge(
                "A form field besides the file is too large.".to_owned(),
            ));
        }
    }
    Ok(())
}

/// Reads and discards the rest of a field; returns the running total of discarded bytes,
/// stopping once it passes `DRAIN_LIMIT`.
async fn drain_field(field: &mut Field, mut drained: u64) -> u64 {
    while drained <= DRAIN_LIMIT {
        match field.next().await {
            Some(Ok(chunk)) => drained += chunk.len() as u64,
            _ => break,
        }
    }
    drained
}

/// Reads and discards the remaining fields, up to `DRAIN_LIMIT` bytes in all.
async fn drain_form(form: &mut Multipart, mut drained: u64) {
    while drained <= DRAIN_LIMIT {
        match form.next().await {
            Some(Ok(mut field)) => drained = drain_field(&mut field, drained).await,
            _ => break,
        }
    }
}

fn multipart_error(err: MultipartError) -> ApiError {
    match err {
        MultipartError::ContentTypeMissing
        | MultipartError::ContentTypeParse
        | MultipartError::ContentTypeIncompatible => {
            ApiError::UnsupportedMediaType("Expected a multipart/form-data upload.".to_owned())
        }
        other => ApiError::BadRequest(format!("Malformed multipart upload: {other}")),
    }
}

fn human_size(bytes: u64) -> String {
    const MB: u64 = 1024 * 1024;
    if bytes >= MB && bytes.is_multiple_of(MB) {
        format!("{} MB", bytes / MB)
    } else {
        format!("{bytes} bytes")
    }
}

/// `{error, details}` with 400, the shape of the original's file validation errors.
pub fn invalid_file(error: &str, details: impl Into<String>) -> ApiError {
    ApiError::Custom {
        status: StatusCode::BAD_REQUEST,
        body: json!({ "error": error, "details": details.into() }),
    }
}

/// Checks the picture as a render would read it; returns the extension of its real format
/// (JPEG, PNG or WebP only).
pub fn check_image(path: &Path) -> Result<&'static str, ApiError> {
    let invalid = |details: String| invalid_file("Invalid image file", details);
    let reader = image::ImageReader::open(path)
        .and_then(|reader| reader.with_guessed_format())
        .map_err(|err| invalid(err.to_string()))?;
    let extension = match reader.format() {
        Some(ImageFormat::Png) => "png",
        Some(ImageFormat::Jpeg) => "jpg",
        Some(ImageFormat::WebP) => "webp",
        Some(other) => {
            return Err(invalid(format!(
                "{other:?} images are not supported; use JPEG, PNG or WebP."
            )))
        }
        None => {
            return Err(invalid(
                "The file is not a JPEG, PNG or WebP image.".to_owned(),
            ))
        }
    };
    // The renderer's own check: its size limit from the header first, then a strict decode.
    core_engine::validate_image(path).map_err(|err| invalid(without_path(&err, path)))?;
    Ok(extension)
}

/// The error's message with the temporary file's path (server internals) left out.
fn without_path(err: &dyn std::fmt::Display, path: &Path) -> String {
    err.to_string()
        .replace(&path.display().to_string(), "the uploaded file")
}

/// The audio container a file's first bytes announce, as an extension.
pub fn sniff_audio(head: &[u8]) -> Option<&'static str> {
    match head {
        [b'R', b'I', b'F', b'F', _, _, _, _, b'W', b'A', b'V', b'E', ..] => Some("wav"),
        [b'f', b'L', b'a', b'C', ..] => Some("flac"),
        [b'O', b'g', b'g', b'S', ..] => Some("ogg"),
        [b'I', b'D', b'3', ..] => Some("mp3"),
        [_, _, _, _, b'f', b't', b'y', b'p', ..] => Some("m4a"),
        [b'F', b'O', b'R', b'M', _, _, _, _, b'A', b'I', b'F', ..] => Some("aiff"),
        [0x1A, 0x45, 0xDF, 0xA3, ..] => Some("webm"),
        // ADTS AAC: 12-bit sync word, then layer bits 00.
        [0xFF, second, ..] if second & 0xF6 == 0xF0 => Some("aac"),
        // MPEG audio frame: 11-bit sync word.
        [0xFF, second, ..] if second & 0xE0 == 0xE0 => Some("mp3"),
        _ => None,
    }
}

/// Decodes the sound with GStreamer; returns its extension and real duration in seconds.
pub fn check_audio(path: &Path, client_name: Option<&str>) -> Result<(String, f64), ApiError> {
    let invalid = |details: String| invalid_file("Invalid audio file", details);
    let mut head = [0u8; 12];
    let read = std::fs::File::open(path)
        .and_then(|mut file| std::io::Read::read(&mut file, &mut head))
        .map_err(|err| invalid(err.to_string()))?;
    // The client's file name is trusted only when the content has no telltale header.
    let from_name = || {
        client_name.and_then(|name| {
            storage::allowed_extension(Path::new(name), &storage::AUDIO_EXTENSIONS)
        })
    };
    let extension = sniff_audio(&head[..read])
        .map(str::to_owned)
        .or_else(from_name)
        .ok_or_else(|| {
            invalid("Unsupported audio format; use WAV, MP3, FLAC, OGG/Opus or M4A.".to_owned())
        })?;
    // The decoder's own reason: its error's wording is a render's ("narration audio"), and
    // this file may be music.
    let duration = core_engine::probe_audio_duration(path).map_err(|err| match err {
        core_engine::RenderError::Audio { reason, .. } => {
            invalid(format!("The file cannot be decoded: {reason}"))
        }
        other => invalid(without_path(&other, path)),
    })?;
    if !duration.is_finite() || duration <= 0.0 {
        return Err(invalid("The file has no sound.".to_owned()));
    }
    Ok((extension, duration))
}

/// Sound received from a form and decoded, still under its temporary name.
#[derive(Debug)]
pub struct ReceivedAudio {
    pub temp: NamedTempFile,
    /// The extension of its real format.
    pub extension: String,
    /// Its decoded length, in seconds.
    pub duration: f64,
}

/// How a kind of upload checks its sound: given the file and the client's file name, the
/// extension to store it under and its duration (see [`check_audio`]).
pub type AudioCheck = fn(&Path, Option<&str>) -> Result<(String, f64), ApiError>;

/// Receives the form's sound field `field_name` into `folder` (see [`receive_file`]) and
/// decodes it with `check` off the async threads; `missing` is the 400 message when the form
/// has none. 503, before anything is read, when the server has no usable GStreamer to decode.
pub async fn receive_audio(
    state: &AppState,
    form: Multipart,
    field_name: &str,
    folder: PathBuf,
    limit: u64,
    missing: &str,
    check: AudioCheck,
) -> Result<ReceivedAudio, ApiError> {
    if let Err(reason) = &state.renderer_status {
        return Err(ApiError::ServiceUnavailable(format!(
            "Audio cannot be checked without GStreamer: {reason}"
        )));
    }
    let received = receive_file(form, field_name, folder, limit)
        .await?
        .ok_or_else(|| ApiError::BadRequest(missing.to_owned()))?;
    let (temp, client_name) = (received.temp, received.client_name);
    let (temp, checked) = web::block(move || {
        let checked = check(temp.path(), client_name.as_deref());
        (temp, checked)
    })
    .await?;
    let (extension, duration) = checked?;
    Ok(ReceivedAudio {
        temp,
        extension,
        duration,
    })
}

/// The segment, if its files may change now; checked before the body is read so a refusal
/// costs no upload (the repository checks again when it writes).
async fn modifiable_segment(state: &AppState, id: &str) -> Result<Segment, ApiError> {
    let id = id.to_owned();
    with_conn(state, move |conn| {
        let segment = repository::get_segment(conn, &id)?;
        if segment.is_locked {
            return Err(ApiError::BadRequest(LOCKED_FILES_MESSAGE.to_owned()));
        }
        let project = repository::get_project(conn, &segment.project_id)?;
        if project.status == ProjectStatus::Processing {
            return Err(ApiError::Conflict(RENDERING_MESSAGE.to_owned()));
        }
        Ok(segment)
    })
    .await
}

/// Gives the checked temporary file its final name, then points the database at it; if the
/// database refuses, the new file goes and the old one stays.
async fn store<F>(
    state: &AppState,
    temp: NamedTempFile,
    relative: String,
    record: F,
) -> Result<Segment, ApiError>
where
    F: FnOnce(
            &mut crate::db::AnyConnection,
            &str,
        ) -> Result<(Segment, Option<String>), repository::RepoError>
        + Send
        + 'static,
{
    let media = state.media.clone();
    let target = relative.clone();
    web::block(move || storage::persist(temp, &media, &target))
        .await?
        .map_err(ApiError::internal)?;
    let media = state.media.clone();
    with_conn(state, move |conn| match record(conn, &relative) {
        Ok((segment, previous)) => {
            if let Some(previous) = previous.filter(|previous| *previous != relative) {
                media.remove(&previous);
            }
            Ok(segment)
        }
        Err(err) => {
            media.remove(&relative);
            Err(err.into())
        }
    })
    .await
}

/// A picture received from a form and checked to decode, still under its temporary name.
#[derive(Debug)]
pub struct ReceivedImage {
    pub file: ReceivedFile,
    /// The extension of its real format.
    pub extension: &'static str,
}

/// Receives the form's picture field `field_name` into `folder` (see [`receive_file`]) and
/// checks it off the async threads; `missing` is the 400 message when the form has none.
pub async fn receive_image(
    form: Multipart,
    field_name: &str,
    folder: PathBuf,
    limit: u64,
    missing: &str,
) -> Result<ReceivedImage, ApiError> {
    let file = receive_file(form, field_name, folder, limit)
        .await?
        .ok_or_else(|| ApiError::BadRequest(missing.to_owned()))?;
    let (file, checked) = web::block(move || {
        let checked = check_image(file.temp.path());
        (file, checked)
    })
    .await?;
    Ok(ReceivedImage {
        file,
        extension: checked?,
    })
}

async fn upload_image(
    state: web::Data<AppState>,
    id: web::Path<String>,
    form: Multipart,
) -> Result<HttpResponse, ApiError> {
    let id = parse_uuid(&id, "Segment")?.to_string();
    let segment = modifiable_segment(&state, &id).await?;
    let folder = storage::media_dir(state.media.root(), &segment.project_id, MediaKind::Image);
    let image = receive_image(
        form,
        "image",
        folder,
        state.limits.image_bytes,
        "No image file provided",
    )
    .await?;
    let (temp, extension) = (image.file.temp, image.extension);
    let relative = storage::fresh_media_path(&segment.project_id, MediaKind::Image, extension);
    let segment = store(&state, temp, relative, move |conn, relative| {
        repository::set_segment_image(conn, &id, Some(relative))
    })
    .await?;
    Ok(HttpResponse::Ok().json(json!({
        "id": segment.id,
        "image_file": segment.image_file.as_deref().map(media_url),
        "message": "Image uploaded successfully",
    })))
}

async fn upload_audio(
    state: web::Data<AppState>,
    id: web::Path<String>,
    form: Multipart,
) -> Result<HttpResponse, ApiError> {
    let id = parse_uuid(&id, "Segment")?.to_string();
    let segment = modifiable_segment(&state, &id).await?;
    let folder = storage::media_dir(state.media.root(), &segment.project_id, MediaKind::Audio);
    let audio = receive_audio(
        &state,
        form,
        "audio",
        folder,
        state.limits.audio_bytes,
        "No audio file provided",
        check_audio,
    )
    .await?;
    let (temp, duration) = (audio.temp, audio.duration);
    let relative =
        storage::fresh_media_path(&segment.project_id, MediaKind::Audio, &audio.extension);
    let segment = store(&state, temp, relative, move |conn, relative| {
        repository::set_segment_audio(conn, &id, Some((relative, duration)))
    })
    .await?;
    Ok(HttpResponse::Ok().json(json!({
        "id": segment.id,
        "audio_file": segment.audio_file.as_deref().map(media_url),
        "audio_duration": segment.audio_duration,
        "message": "Audio uploaded successfully",
    })))
}

async fn remove_image(
    state: web::Data<AppState>,
    id: web::Path<String>,
) -> Result<HttpResponse, ApiError> {
    remove_media(&state, &id, MediaKind::Image).await
}

async fn remove_audio(
    state: web::Data<AppState>,
    id: web::Path<String>,
) -> Result<HttpResponse, ApiError> {
    remove_media(&state, &id, MediaKind::Audio).await
}

/// Clears the segment's image or narration, then removes the file.
async fn remove_media(
    state: &AppState,
    id: &str,
    kind: MediaKind,
) -> Result<HttpResponse, ApiError> {
    let id = parse_uuid(id, "Segment")?.to_string();
    let media = state.media.clone();
    let segment = with_conn(state, move |conn| {
        let (segment, previous) = match kind {
            MediaKind::Image => repository::set_segment_image(conn, &id, None)?,
            MediaKind::Audio => repository::set_segment_audio(conn, &id, None)?,
        };
        if let Some(previous) = previous {
            media.remove(&previous);
        }
        Ok(segment)
    })
    .await?;
    Ok(HttpResponse::Ok().json(match kind {
        MediaKind::Image => json!({
            "id": segment.id,
            "image_file": null,
            "message": "Image removed successfully",
        }),
        MediaKind::Audio => json!({
            "id": segment.id,
            "audio_file": null,
            "audio_duration": null,
            "message": "Audio removed successfully",
        }),
    }))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn audio_containers_are_recognised_by_their_first_bytes() {
        assert_eq!(sniff_audio(b"RIFF\x24\x08\0\0WAVEfmt "), Some("wav"));
        assert_eq!(sniff_audio(b"fLaC\0\0\0\x22"), Some("flac"));
        assert_eq!(sniff_audio(b"OggS\0\x02"), Some("ogg"));
        assert_eq!(sniff_audio(b"ID3\x04\0\0"), Some("mp3"));
        assert_eq!(sniff_audio(&[0xFF, 0xFB, 0x90, 0x64]), Some("mp3"));
        assert_eq!(sniff_audio(&[0xFF, 0xF1, 0x50, 0x80]), Some("aac"));
        assert_eq!(sniff_audio(b"\0\0\0\x20ftypM4A "), Some("m4a"));
        assert_eq!(sniff_audio(b"RIFF\x24\x08\0\0AVI "), None);
        assert_eq!(sniff_audio(b"\x89PNG\r\n\x1a\n"), None);
        assert_eq!(sniff_audio(b""), None);
    }

    #[test]
    fn sizes_are_reported_in_megabytes_when_round() {
        assert_eq!(human_size(20 * 1024 * 1024), "20 MB");
        assert_eq!(human_size(1000), "1000 bytes");
    }
}
