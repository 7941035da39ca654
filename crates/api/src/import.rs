//! Creating a whole project from a manifest (the `storyflow import` command): every image and
//! narration is checked first, then rows and files are created; a failure part-way removes
//! what was made, so an import is all or nothing.

use std::path::{Path, PathBuf};

use core_engine::manifest::{Manifest, ManifestError};
use core_engine::RenderError;

use crate::db::DbPool;
use crate::models::SegmentText;
use crate::repository::{self, RepoError};
use crate::storage::{self, MediaKind, MediaStore};

const IMAGE_EXTENSIONS: &[&str] = &["jpg", "jpeg", "png", "webp"];

#[derive(Debug, thiserror::Error)]
pub enum ImportError {
    /// A segment still has no narration (narrate the manifest first).
    #[error(transparent)]
    Manifest(#[from] ManifestError),
    #[error("the manifest has no segments")]
    NoSegments,
    #[error("segment {segment}: {path} is not a supported {kind} file (extensions: {allowed})")]
    Extension {
        segment: usize,
        path: PathBuf,
        kind: &'static str,
        allowed: String,
    },
    #[error("segment {segment}")]
    Media {
        segment: usize,
        #[source]
        source: RenderError,
    },
    #[error("database")]
    Database(#[from] RepoError),
    #[error("database connection")]
    Pool(#[from] r2d2::Error),
    #[error("copying {path} into the media folder")]
    Copy {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
}

/// One segment's checked media: extensions to store under and the real narration length.
struct CheckedMedia {
    image_extension: String,
    audio_extension: String,
    audio_duration: f64,
}

/// Imports `manifest` and returns the new project's id.
pub fn import_manifest(
    pool: &DbPool,
    media: &MediaStore,
    manifest: &Manifest,
) -> Result<String, ImportError> {
    let spec = manifest.to_spec()?;
    let sources = &spec.segments;
    if sources.is_empty() {
        return Err(ImportError::NoSegments);
    }
    let checked = sources
        .iter()
        .enumerate()
        .map(|(index, segment)| check_media(index + 1, &segment.image, &segment.audio))
        .collect::<Result<Vec<_>, _>>()?;

    let texts: Vec<SegmentText> = sources
        .iter()
        .map(|segment| SegmentText {
            text_content: segment.text.clone(),
            image_prompt: String::new(),
        })
        .collect();
    let mut conn = pool.get()?;
    let (project, segments) = repository::import_project(&mut conn, &manifest.title, &texts)?;

    let stored =
        segments
            .iter()
            .zip(sources)
            .zip(&checked)
            .try_for_each(|((row, source), checked)| {
                let image = storage::fresh_media_path(
                    &project.id,
                    MediaKind::Image,
                    &checked.image_extension,
                );
                copy(media, &image, &source.image)?;
                repository::set_segment_image(&mut conn, &row.id, Some(&image))?;
                let audio = storage::fresh_media_path(
                    &project.id,
                    MediaKind::Audio,
                    &checked.audio_extension,
                );
                copy(media, &audio, &source.audio)?;
                // Narration made by our voices has its word timings beside it: they go along.
                let words = tts::words_path(&source.audio);
                if words.is_file() {
                    let relative = tts::words_path(Path::new(&audio));
                    copy(media, &relative.to_string_lossy(), &words)?;
                }
                repository::set_segment_audio(
                    &mut conn,
                    &row.id,
                    Some((&audio, checked.audio_duration)),
                )?;
                Ok::<(), ImportError>(())
            });
    if let Err(err) = stored {
        if let Err(cleanup) = repository::delete_project(&mut conn, &project.id) {
            log::error!(
                "import rollback: cannot delete project {}: {cleanup}",
                project.id
            );
        }
        if let Err(cleanup) = media.remove_project(&project.id) {
            log::error!(
                "import rollback: cannot remove media of {}: {cleanup}",
                project.id
            );
        }
        return Err(err);
    }
    log::info!(
        "imported project {} ({} segments) as {}",
        manifest.title,
        segments.len(),
        project.id
    );
    Ok(project.id)
}

fn check_media(segment: usize, image: &Path, audio: &Path) -> Result<CheckedMedia, ImportError> {
    let extension = |path: &Path, kind, allowed: &[&str]| {
        storage::allowed_extension(path, allowed).ok_or_else(|| ImportError::Extension {
            segment,
            path: path.to_path_buf(),
            kind,
            allowed: allowed.join(", "),
        })
    };
    let image_extension = extension(image, "image", IMAGE_EXTENSIONS)?;
    let audio_extension = extension(audio, "audio", &storage::AUDIO_EXTENSIONS)?;
    let media_error = |source| ImportError::Media { segment, source };
    core_engine::validate_image(image).map_err(media_error)?;
    let audio_duration = core_engine::probe_audio_duration(audio).map_err(media_error)?;
    Ok(CheckedMedia {
        image_extension,
        audio_extension,
        audio_duration,
    })
}

fn copy(media: &MediaStore, relative: &str, source: &Path) -> Result<(), ImportError> {
    storage::copy_in(media, relative, source).map_err(|err| ImportError::Copy {
        path: source.to_path_buf(),
        source: err,
    })
}
