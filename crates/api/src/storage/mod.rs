//! Files under the media root: the one place that knows the folder layout (where a project's
//! images, narration and video live, where logos, fonts and music go, and the `/media/` URLs of
//! all of them), fresh names for new files, and writes that never leave a half-written file
//! under a real name.
//!
//! ```text
//! media/
//!   projects/{project id}/images/{uuid}.{ext}
//!   projects/{project id}/audio/{uuid}.{ext}
//!   projects/{project id}/output/final.mp4 (+ final.srt, final.vtt)
//!   logos/{uuid}.{ext}
//!   fonts/{name}.{ext}
//!   music/{uuid}.{ext}
//! ```
//!
//! Beside `media/`, the data folder holds the server's cache of encoded video chunks
//! (`core_engine::chunk_cache`), shared by all projects and never served:
//!
//! ```text
//! cache/chunks/
//! ```
//!
//! With a bucket (`--store s3://...`, see [`crate::bucket`]) the media folder is this
//! machine's copy of the bucket's (a [`MediaStore`]): every file written is sent there, a file
//! another machine wrote is fetched when first needed, and removals remove both.

use std::io;
use std::path::{Path, PathBuf};

use core_engine::SubtitleFiles;
use serde::Serialize;

mod media_store;

pub use media_store::MediaStore;

/// The media folder in the data folder.
pub const MEDIA_FOLDER: &str = "media";
/// The default bound of a worker's copies of a bucket's media: 4 GiB.
pub const DEFAULT_COPY_MAX_BYTES: u64 = 4 << 30;

/// Every project's folder lives in this folder of the media root.
const PROJECTS_FOLDER: &str = "projects";
/// A project's rendered video and its subtitle sidecars.
const OUTPUT_FOLDER: &str = "output";
const OUTPUT_NAME: &str = "final.mp4";
/// Watermark logos, named `{uuid}.{ext}`.
pub const LOGOS_FOLDER: &str = "logos";
/// Uploaded subtitle fonts, named after the client's file.
pub const FONTS_FOLDER: &str = "fonts";
/// Background music, named `{uuid}.{ext}`.
pub const MUSIC_FOLDER: &str = "music";
/// The URL prefix media is served under.
pub const MEDIA_URL_PREFIX: &str = "/media/";
/// The chunk cache's folder in the data folder.
pub const CHUNK_CACHE_FOLDER: &str = "cache/chunks";
/// The narration file extensions the media folder takes, from an upload's file name or an
/// imported manifest (GStreamer still has to decode the file).
pub const AUDIO_EXTENSIONS: [&str; 11] = [
    "wav", "mp3", "flac", "ogg", "oga", "opus", "m4a", "aac", "webm", "aiff", "aif",
];

/// The two kinds of per-segment media, each in its own folder of the project.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum MediaKind {
    Image,
    Audio,
}

impl MediaKind {
    fn folder(self) -> &'static str {
        match self {
            Self::Image => "images",
            Self::Audio => "audio",
        }
    }
}

/// `{data dir}/media/`.
pub fn media_root(data_dir: &Path) -> PathBuf {
    data_dir.join(MEDIA_FOLDER)
}

/// The bucket's name for a media-relative path: the data folder's layout.
fn bucket_key(relative: &str) -> String {
    format!("{MEDIA_FOLDER}/{relative}")
}

/// Whether `relative` is rewritten under the same name: a project's video and its sidecars.
fn is_rewritten(relative: &str) -> bool {
    let parts: Vec<&str> = relative.split('/').collect();
    matches!(parts.as_slice(), [PROJECTS_FOLDER, _, OUTPUT_FOLDER, _])
}

/// The media-relative path of the word timings beside `relative` (`tts::words_path`).
fn words_relative(relative: &str) -> String {
    tts::words_path(Path::new(relative))
        .to_string_lossy()
        .into_owned()
}

fn remove_file_quietly(path: &Path) {
    match std::fs::remove_file(path) {
        Ok(()) => {}
        Err(err) if err.kind() == io::ErrorKind::NotFound => {}
        Err(err) => log::warn!("cannot remove {}: {err}", path.display()),
    }
}

/// The URL of a media-relative path. Stored names are UUIDs and fixed folder names, so they
/// need no escaping.
pub fn media_url(relative: &str) -> String {
    format!("{MEDIA_URL_PREFIX}{relative}")
}

/// `media/projects/`: the folder of every project's folder.
pub fn projects_dir(media_root: &Path) -> PathBuf {
    media_root.join(PROJECTS_FOLDER)
}

/// `media/projects/{id}/`.
pub fn project_dir(media_root: &Path, project_id: &str) -> PathBuf {
    projects_dir(media_root).join(project_id)
}

/// `media/projects/{id}/{images|audio}/`.
pub fn media_dir(media_root: &Path, project_id: &str, kind: MediaKind) -> PathBuf {
    project_dir(media_root, project_id).join(kind.folder())
}

/// `projects/{id}/output/final.mp4`, relative to the media root.
pub fn output_relative(project_id: &str) -> PathBuf {
    Path::new(PROJECTS_FOLDER)
        .join(project_id)
        .join(OUTPUT_FOLDER)
        .join(OUTPUT_NAME)
}

/// `media/projects/{id}/output/`: the folder of a project's video (and of a render's
/// temporary files).
pub fn output_dir(media_root: &Path, project_id: &str) -> PathBuf {
    project_dir(media_root, project_id).join(OUTPUT_FOLDER)
}

/// `media/projects/{id}/output/final.mp4` on disk.
pub fn output_file(media_root: &Path, project_id: &str) -> PathBuf {
    media_root.join(output_relative(project_id))
}

/// The URL-relative path stored in `Project.output_path`.
pub fn output_url(project_id: &str) -> String {
    media_url(&output_relative(project_id).to_string_lossy())
}

/// The URLs of a rendered video's subtitle sidecars.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct SubtitleUrls {
    pub srt: String,
    pub vtt: String,
}

/// The `/media/` URLs of the `.srt` and `.vtt` sidecars next to a project's video, when both
/// files exist (a render of a project without text writes none). A sidecar that cannot be
/// looked up (the bucket unreachable) is logged and left out.
pub fn subtitle_urls(media: &MediaStore, project_id: &str) -> Option<SubtitleUrls> {
    let files = SubtitleFiles::for_output(&output_relative(project_id));
    let exists = |relative: &Path| {
        media
            .exists(&relative.to_string_lossy())
            .unwrap_or_else(|err| {
                log::warn!("cannot look up {}: {err}", relative.display());
                false
            })
    };
    (exists(&files.srt) && exists(&files.vtt)).then(|| SubtitleUrls {
        srt: media_url(&files.srt.to_string_lossy()),
        vtt: media_url(&files.vtt.to_string_lossy()),
    })
}

/// `{data dir}/cache/chunks/`: the server's chunk cache.
pub fn chunk_cache_dir(data_dir: &Path) -> PathBuf {
    data_dir.join(CHUNK_CACHE_FOLDER)
}

/// A new media-relative logo path `logos/{id}.{ext}`.
pub fn logo_path(logo_id: &str, extension: &str) -> String {
    format!("{LOGOS_FOLDER}/{logo_id}.{extension}")
}

/// A new media-relative music path `music/{uuid}.{ext}`.
pub fn fresh_music_path(extension: &str) -> String {
    format!("{MUSIC_FOLDER}/{}.{extension}", uuid::Uuid::new_v4())
}

/// A new media-relative path `projects/{id}/{images|audio}/{uuid}.{ext}`; the user's own file
/// name never reaches the disk.
pub fn fresh_media_path(project_id: &str, kind: MediaKind, extension: &str) -> String {
    format!(
        "{PROJECTS_FOLDER}/{project_id}/{}/{}.{extension}",
        kind.folder(),
        uuid::Uuid::new_v4()
    )
}

/// A temporary file in the folder of `relative` (created if needed), to be filled and then
/// `persist`ed: same folder, so the final rename is atomic.
pub fn temp_file_for(media_root: &Path, relative: &str) -> io::Result<tempfile::NamedTempFile> {
    let destination = media_root.join(relative);
    let folder = destination
        .parent()
        .ok_or_else(|| io::Error::new(io::ErrorKind::InvalidInput, "media path has no folder"))?;
    std::fs::create_dir_all(folder)?;
    tempfile::Builder::new()
        .prefix(".upload-")
        .tempfile_in(folder)
}

/// Moves a filled temporary file to its final media-relative name, and to the bucket.
pub fn persist(
    temp: tempfile::NamedTempFile,
    media: &MediaStore,
    relative: &str,
) -> io::Result<()> {
    temp.persist(media.path(relative))
        .map_err(|err| err.error)?;
    publish_or_remove(media, relative)
}

/// Sends a file just persisted to the bucket; one that cannot be sent is removed here too, so
/// a failed upload leaves nothing behind.
fn publish_or_remove(media: &MediaStore, relative: &str) -> io::Result<()> {
    media
        .publish(relative)
        .inspect_err(|_| remove_file_quietly(&media.path(relative)))
}

/// Moves a filled temporary file to `{folder}/{stem}.{extension}` under the media root, or, when
/// that name is taken, to `{stem}_{7 random characters}.{extension}` (as Django names
/// collisions), never replacing an existing file, and sends it to the bucket. Returns the
/// media-relative path used.
pub fn persist_unique(
    mut temp: tempfile::NamedTempFile,
    media: &MediaStore,
    folder: &str,
    stem: &str,
    extension: &str,
) -> io::Result<String> {
    const ATTEMPTS: usize = 8;
    let mut name = format!("{stem}.{extension}");
    for _ in 0..ATTEMPTS {
        let relative = format!("{folder}/{name}");
        match temp.persist_noclobber(media.path(&relative)) {
            Ok(_) => return publish_or_remove(media, &relative).map(|()| relative),
            Err(err) if err.error.kind() == io::ErrorKind::AlreadyExists => {
                temp = err.file;
                let suffix = uuid::Uuid::new_v4().simple().to_string();
                name = format!("{stem}_{}.{extension}", &suffix[..7]);
            }
            Err(err) => return Err(err.error),
        }
    }
    Err(io::Error::new(
        io::ErrorKind::AlreadyExists,
        format!("no free name for {stem}.{extension} in {folder}"),
    ))
}

/// Copies `source` into the media folder under `relative`, atomically (and to the bucket).
pub fn copy_in(media: &MediaStore, relative: &str, source: &Path) -> io::Result<()> {
    let mut temp = temp_file_for(media.root(), relative)?;
    let mut input = std::fs::File::open(source)?;
    io::copy(&mut input, temp.as_file_mut())?;
    persist(temp, media, relative)
}

/// The lower-case extension of `path` if it is one of `allowed`.
pub fn allowed_extension(path: &Path, allowed: &[&str]) -> Option<String> {
    let extension = path.extension()?.to_str()?.to_ascii_lowercase();
    allowed.contains(&extension.as_str()).then_some(extension)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn music_paths_are_uuid_named_in_the_music_folder() {
        let path = fresh_music_path("mp3");
        let stem = path
            .strip_prefix("music/")
            .and_then(|name| name.strip_suffix(".mp3"))
            .unwrap();
        assert!(uuid::Uuid::parse_str(stem).is_ok(), "{path}");
        assert_ne!(path, fresh_music_path("mp3"));
    }

    #[test]
    fn fresh_paths_are_uuid_named_inside_the_project() {
        let path = fresh_media_path("p1", MediaKind::Audio, "wav");
        let name = path.strip_prefix("projects/p1/audio/").unwrap();
        let stem = name.strip_suffix(".wav").unwrap();
        assert!(uuid::Uuid::parse_str(stem).is_ok(), "{path}");
        assert_ne!(path, fresh_media_path("p1", MediaKind::Audio, "wav"));
    }

    const PROJECT: &str = "8f0c3b5e-8a43-4bd5-9d6a-2f1f7a0c9e11";

    #[test]
    fn the_video_and_its_sidecars_have_fixed_places() {
        let media = tempfile::tempdir().unwrap();
        assert_eq!(
            output_url(PROJECT),
            format!("/media/projects/{PROJECT}/output/final.mp4")
        );
        assert_eq!(
            output_file(media.path(), PROJECT),
            media
                .path()
                .join(format!("projects/{PROJECT}/output/final.mp4"))
        );
        assert_eq!(
            subtitle_urls(&MediaStore::local(media.path()), PROJECT),
            None
        );
        let out = output_dir(media.path(), PROJECT);
        std::fs::create_dir_all(&out).unwrap();
        std::fs::write(out.join("final.srt"), "1").unwrap();
        assert_eq!(
            subtitle_urls(&MediaStore::local(media.path()), PROJECT),
            None,
            "both are needed"
        );
        std::fs::write(out.join("final.vtt"), "WEBVTT").unwrap();
        assert_eq!(
            subtitle_urls(&MediaStore::local(media.path()), PROJECT),
            Some(SubtitleUrls {
                srt: format!("/media/projects/{PROJECT}/output/final.srt"),
                vtt: format!("/media/projects/{PROJECT}/output/final.vtt"),
            })
        );
    }

    #[test]
    fn only_a_project_s_output_is_rewritten_in_place() {
        assert!(is_rewritten(&format!(
            "projects/{PROJECT}/output/final.mp4"
        )));
        assert!(is_rewritten(&format!(
            "projects/{PROJECT}/output/final.vtt"
        )));
        assert!(!is_rewritten(&fresh_media_path(
            PROJECT,
            MediaKind::Image,
            "jpg"
        )));
        assert!(!is_rewritten(&fresh_music_path("mp3")));
        assert!(!is_rewritten("fonts/Lobster.ttf"));
        assert_eq!(
            words_relative("projects/p/audio/a.wav"),
            "projects/p/audio/a.words.json"
        );
    }

    #[test]
    fn removing_a_file_takes_its_word_timings_along() {
        let root = tempfile::tempdir().unwrap();
        let media = MediaStore::local(root.path());
        let audio = fresh_media_path("p", MediaKind::Audio, "wav");
        for relative in [audio.clone(), words_relative(&audio)] {
            std::fs::create_dir_all(media.path(&relative).parent().unwrap()).unwrap();
            std::fs::write(media.path(&relative), b"x").unwrap();
        }
        assert!(media.fetch(&audio).unwrap());
        media.remove(&audio);
        assert!(!media.fetch(&audio).unwrap());
        assert!(!media.path(&words_relative(&audio)).exists());
        media.remove(&audio);
    }

    #[test]
    fn the_chunk_cache_is_in_the_data_folder() {
        assert_eq!(
            chunk_cache_dir(Path::new("/srv/data")),
            PathBuf::from("/srv/data/cache/chunks")
        );
    }

    #[test]
    fn copy_in_writes_the_file_and_leaves_no_temporary() {
        let root = tempfile::tempdir().unwrap();
        let source = root.path().join("source.bin");
        std::fs::write(&source, b"narration").unwrap();
        let relative = fresh_media_path("p1", MediaKind::Audio, "wav");
        copy_in(&MediaStore::local(root.path()), &relative, &source).unwrap();
        assert_eq!(
            std::fs::read(root.path().join(&relative)).unwrap(),
            b"narration"
        );
        let folder = root.path().join("projects/p1/audio");
        assert_eq!(std::fs::read_dir(folder).unwrap().count(), 1);
    }

    #[test]
    fn unique_names_never_replace_a_file() {
        let root = tempfile::tempdir().unwrap();
        let fonts = root.path().join("fonts");
        std::fs::create_dir_all(&fonts).unwrap();
        let filled = |text: &str| {
            let mut temp = tempfile::NamedTempFile::new_in(&fonts).unwrap();
            io::Write::write_all(&mut temp, text.as_bytes()).unwrap();
            temp
        };
        let media = MediaStore::local(root.path());
        let first = persist_unique(filled("one"), &media, "fonts", "Lobster", "ttf").unwrap();
        assert_eq!(first, "fonts/Lobster.ttf");
        let second = persist_unique(filled("two"), &media, "fonts", "Lobster", "ttf").unwrap();
        let suffix = second
            .strip_prefix("fonts/Lobster_")
            .and_then(|rest| rest.strip_suffix(".ttf"))
            .unwrap();
        assert_eq!(suffix.len(), 7, "{second}");
        assert_eq!(
            std::fs::read_to_string(fonts.join("Lobster.ttf")).unwrap(),
            "one"
        );
        assert_eq!(
            std::fs::read_to_string(root.path().join(&second)).unwrap(),
            "two"
        );
        assert_eq!(std::fs::read_dir(&fonts).unwrap().count(), 2);
    }

    #[test]
    fn extensions_are_checked_case_insensitively() {
        let allowed = ["jpg", "png"];
        assert_eq!(
            allowed_extension(Path::new("a/B.PNG"), &allowed),
            Some("png".into())
        );
        assert_eq!(allowed_extension(Path::new("a/b.gif"), &allowed), None);
        assert_eq!(allowed_extension(Path::new("a/b"), &allowed), None);
    }

    #[test]
    fn removing_a_missing_project_folder_is_fine() {
        let root = tempfile::tempdir().unwrap();
        let media = MediaStore::local(root.path());
        media.remove_project("nope").unwrap();
        std::fs::create_dir_all(root.path().join("projects/p/images")).unwrap();
        media.remove_project("p").unwrap();
        assert!(!root.path().join("projects/p").exists());
    }
}
