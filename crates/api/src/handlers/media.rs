//! `GET /media/...`: stored images, narration and rendered videos. Ranges, content types and
//! validators (ETag from inode/mtime/size, so a re-rendered video never looks cached) come from
//! `actix_files::NamedFile`; this module only decides which file, if any, a URL may reach, and
//! fetches it from the bucket first when there is one.

use std::path::{Component, Path, PathBuf};

use actix_files::NamedFile;
use actix_web::{web, HttpRequest, HttpResponse, Responder};

use crate::errors::ApiError;
use crate::state::AppState;
use crate::storage::{MediaStore, MEDIA_URL_PREFIX};

pub fn configure(cfg: &mut web::ServiceConfig) {
    cfg.route("/media/{tail:.*}", web::get().to(serve_media))
        .route("/media/{tail:.*}", web::head().to(serve_media));
}

async fn serve_media(
    req: HttpRequest,
    state: web::Data<AppState>,
    tail: web::Path<String>,
) -> Result<HttpResponse, ApiError> {
    let not_found = || ApiError::NotFound {
        entity: "File",
        id: tail.as_str().to_owned(),
    };
    // The editor's Download on a reopened project asks for "/media/" + output_path, and
    // output_path is itself a "/media/..." URL (B1 in the UI contract): serve that too.
    let relative = tail.strip_prefix(MEDIA_URL_PREFIX).unwrap_or(&tail);
    let path = local_media_file(&state.media, relative)
        .await?
        .ok_or_else(not_found)?;
    let file = NamedFile::open_async(&path)
        .await
        .map_err(|_| not_found())?;
    Ok(file.use_etag(true).use_last_modified(true).respond_to(&req))
}

/// [`resolve_media_path`] after fetching the file from the bucket when there is one (and the
/// path may name a media file at all).
pub async fn local_media_file(
    media: &MediaStore,
    relative: &str,
) -> Result<Option<PathBuf>, ApiError> {
    let Some(relative) = media_relative(relative) else {
        return Ok(None);
    };
    let media = media.clone();
    web::block(move || {
        media.fetch(&relative)?;
        Ok::<_, std::io::Error>(resolve_media_path(media.root(), &relative))
    })
    .await?
    .map_err(ApiError::internal)
}

/// A URL path below `/media/` (already percent-decoded) as a media-relative path, or `None`
/// when it would escape the root or names a hidden (temporary) file.
pub fn media_relative(relative: &str) -> Option<String> {
    if relative.contains('\\') || relative.contains('\0') {
        return None;
    }
    let mut clean = PathBuf::new();
    for component in Path::new(relative).components() {
        match component {
            Component::Normal(part) if !part.to_string_lossy().starts_with('.') => clean.push(part),
            Component::CurDir => {}
            _ => return None,
        }
    }
    Some(clean.to_string_lossy().into_owned())
}

/// Maps a URL path below `/media/` (already percent-decoded) to a regular file inside
/// `media_root`, or `None` when [`media_relative`] refuses it or it does not exist here.
/// Symlinks are resolved before the containment check.
pub fn resolve_media_path(media_root: &Path, relative: &str) -> Option<PathBuf> {
    let candidate = media_root.join(media_relative(relative)?);
    let root = media_root.canonicalize().ok()?;
    let resolved = candidate.canonicalize().ok()?;
    (resolved.starts_with(&root) && resolved.is_file()).then_some(resolved)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn media_root() -> tempfile::TempDir {
        let dir = tempfile::tempdir().unwrap();
        std::fs::create_dir_all(dir.path().join("projects/p/output")).unwrap();
        std::fs::write(dir.path().join("projects/p/output/final.mp4"), b"mp4").unwrap();
        std::fs::write(dir.path().join("projects/p/output/.final.mp4.tmp-1"), b"x").unwrap();
        dir
    }

    #[test]
    fn resolves_files_inside_the_root() {
        let root = media_root();
        let found = resolve_media_path(root.path(), "projects/p/output/final.mp4").unwrap();
        assert!(found.ends_with("projects/p/output/final.mp4"));
        assert!(resolve_media_path(root.path(), "./projects/p/output/final.mp4").is_some());
    }

    #[test]
    fn refuses_escapes_hidden_files_and_folders() {
        let root = media_root();
        let outside = root.path().parent().unwrap().join("secret.txt");
        std::fs::write(&outside, b"secret").unwrap();
        for bad in [
            "../secret.txt",
            "projects/../../secret.txt",
            "/etc/passwd",
            "projects\\..\\..\\secret.txt",
            "projects/p/output/.final.mp4.tmp-1",
            "projects/p/output",
            "projects/p/output/missing.mp4",
        ] {
            assert!(resolve_media_path(root.path(), bad).is_none(), "{bad}");
        }
        std::fs::remove_file(outside).unwrap();
    }

    #[test]
    fn refuses_symlinks_leading_outside() {
        let root = media_root();
        let elsewhere = tempfile::tempdir().unwrap();
        std::fs::write(elsewhere.path().join("x.txt"), b"x").unwrap();
        std::os::unix::fs::symlink(elsewhere.path(), root.path().join("link")).unwrap();
        assert!(resolve_media_path(root.path(), "link/x.txt").is_none());
    }
}
