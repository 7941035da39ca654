//! The gallery: rendered videos, streamed (with HTTP ranges) or downloaded.

use std::path::PathBuf;

use actix_files::NamedFile;
use actix_web::http::header::{
    Charset, ContentDisposition, DispositionParam, DispositionType, ExtendedValue,
};
use actix_web::{web, HttpRequest, HttpResponse, Responder};
use serde::Serialize;

use crate::errors::{parse_uuid, ApiError};
use crate::handlers::media::{local_media_file, media_relative};
use crate::handlers::support::{resource, with_conn};
use crate::models::{iso8601, Project};
use crate::repository;
use crate::state::AppState;
use crate::storage::{output_relative, subtitle_urls, MediaStore, SubtitleUrls};

/// Titles longer than this are cut in download names.
const FILENAME_MAX_CHARS: usize = 150;

pub fn configure(cfg: &mut web::ServiceConfig) {
    cfg.service(resource("/api/gallery/").route(web::get().to(list)))
        .service(
            resource("/api/gallery/{id}/stream/")
                .route(web::get().to(stream))
                .route(web::head().to(stream)),
        )
        .service(
            resource("/api/gallery/{id}/download/")
                .route(web::get().to(download))
                .route(web::head().to(download)),
        );
}

#[derive(Debug, Serialize)]
struct GalleryItem {
    id: String,
    title: String,
    created_at: String,
    updated_at: String,
    resolution_width: i32,
    resolution_height: i32,
    framerate: i32,
    segment_count: i64,
    file_size: u64,
    /// Seconds, recorded when the render completed (`null` for videos rendered before
    /// durations were recorded).
    duration: Option<f64>,
    stream_url: String,
    download_url: String,
    /// The `.srt` / `.vtt` sidecars under `/media/`, when the video has them.
    subtitles: Option<SubtitleUrls>,
}

/// The project's rendered video, media-relative, and its size: its recorded output path (when
/// it stays inside the media folder), else the standard location; `None` when neither exists
/// (here or in the bucket). An unreachable bucket is logged and counts as no video.
fn video_path(media: &MediaStore, project: &Project) -> Option<(String, u64)> {
    let sized = |relative: String| match media.size(&relative) {
        Ok(size) => size.map(|size| (relative, size)),
        Err(err) => {
            log::warn!("cannot look up {relative}: {err}");
            None
        }
    };
    project
        .output_path
        .as_deref()
        .and_then(|url| url.strip_prefix("/media/"))
        .and_then(media_relative)
        .and_then(sized)
        .or_else(|| sized(output_relative(&project.id).to_string_lossy().into_owned()))
}

/// COMPLETED projects whose video exists, most recently updated first.
async fn list(state: web::Data<AppState>) -> Result<HttpResponse, ApiError> {
    let media = state.media.clone();
    let items = with_conn(&state, move |conn| {
        let projects = repository::list_completed_projects(conn)?;
        Ok(projects
            .into_iter()
            .filter_map(|summary| {
                let project = summary.project;
                let (_, file_size) = video_path(&media, &project)?;
                Some(GalleryItem {
                    stream_url: format!("/api/gallery/{}/stream/", project.id),
                    download_url: format!("/api/gallery/{}/download/", project.id),
                    subtitles: subtitle_urls(&media, &project.id),
                    created_at: iso8601(&project.created_at),
                    updated_at: iso8601(&project.updated_at),
                    id: project.id,
                    title: project.title,
                    resolution_width: project.resolution_width,
                    resolution_height: project.resolution_height,
                    framerate: project.framerate,
                    segment_count: summary.segment_count,
                    file_size,
                    duration: project.output_duration,
                })
            })
            .collect::<Vec<_>>())
    })
    .await?;
    Ok(HttpResponse::Ok().json(items))
}

/// The project's title and video file (fetched from the bucket if need be), or 404.
async fn find_video(state: &AppState, id: &str) -> Result<(String, PathBuf), ApiError> {
    let id = parse_uuid(id, "Project")?.to_string();
    let media = state.media.clone();
    let not_found = || ApiError::NotFound {
        entity: "Video",
        id: id.clone(),
    };
    let lookup = id.clone();
    let (title, relative) = with_conn(state, move |conn| {
        let project = repository::get_project(conn, &lookup)?;
        let relative = video_path(&media, &project).map(|(relative, _)| relative);
        Ok((project.title, relative))
    })
    .await?;
    let relative = relative.ok_or_else(not_found)?;
    let path = local_media_file(&state.media, &relative)
        .await?
        .ok_or_else(not_found)?;
    Ok((title, path))
}

async fn serve(
    req: HttpRequest,
    state: &AppState,
    id: &str,
    disposition: DispositionType,
) -> Result<HttpResponse, ApiError> {
    let (title, path) = find_video(state, id).await?;
    let file = NamedFile::open_async(&path)
        .await
        .map_err(|_| ApiError::NotFound {
            entity: "Video",
            id: id.to_owned(),
        })?;
    Ok(file
        .set_content_disposition(content_disposition(disposition, &title))
        .use_etag(true)
        .use_last_modified(true)
        .respond_to(&req))
}

/// `video/mp4` inline, honouring `Range` (206) for seeking.
async fn stream(
    req: HttpRequest,
    state: web::Data<AppState>,
    id: web::Path<String>,
) -> Result<HttpResponse, ApiError> {
    serve(req, &state, &id, DispositionType::Inline).await
}

/// The same file as an attachment named after the project.
async fn download(
    req: HttpRequest,
    state: web::Data<AppState>,
    id: web::Path<String>,
) -> Result<HttpResponse, ApiError> {
    serve(req, &state, &id, DispositionType::Attachment).await
}

/// `<title>.mp4` with quotes, line breaks, path separators and control characters replaced;
/// an ASCII `filename` for old clients plus the exact UTF-8 `filename*`.
pub fn download_filename(title: &str) -> String {
    let cleaned: String = title
        .chars()
        .map(|c| match c {
            '"' => '\'',
            '/' | '\\' => '_',
            c if c.is_control() => ' ',
            c => c,
        })
        .take(FILENAME_MAX_CHARS)
        .collect();
    let cleaned = cleaned.trim().trim_start_matches('.').trim();
    if cleaned.is_empty() {
        "video.mp4".to_owned()
    } else {
        format!("{cleaned}.mp4")
    }
}

fn content_disposition(disposition: DispositionType, title: &str) -> ContentDisposition {
    let name = download_filename(title);
    let ascii: String = name
        .chars()
        .map(|c| if c.is_ascii() { c } else { '_' })
        .collect();
    let mut parameters = vec![DispositionParam::Filename(ascii.clone())];
    if ascii != name {
        parameters.push(DispositionParam::FilenameExt(ExtendedValue {
            charset: Charset::Ext("UTF-8".to_owned()),
            language_tag: None,
            value: name.into_bytes(),
        }));
    }
    ContentDisposition {
        disposition,
        parameters,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn download_names_are_safe() {
        assert_eq!(download_filename("My \"Big\" Story"), "My 'Big' Story.mp4");
        assert_eq!(download_filename("a/b\\c"), "a_b_c.mp4");
        assert_eq!(download_filename("line\nbreak\r"), "line break.mp4");
        assert_eq!(download_filename("../../etc/passwd"), "_.._etc_passwd.mp4");
        assert_eq!(download_filename("  "), "video.mp4");
        assert_eq!(download_filename("Café"), "Café.mp4");
    }

    #[test]
    fn headers_carry_an_ascii_name_and_the_exact_one() {
        let header = content_disposition(DispositionType::Attachment, "Café \"x\"").to_string();
        assert!(
            header.starts_with("attachment; filename=\"Caf_ 'x'.mp4\""),
            "{header}"
        );
        assert!(header.contains("filename*=UTF-8''Caf%C3%A9"), "{header}");
        let plain = content_disposition(DispositionType::Inline, "Fox").to_string();
        assert_eq!(plain, "inline; filename=\"Fox.mp4\"");
    }
}
