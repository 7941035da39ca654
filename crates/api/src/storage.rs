//! Files under the media root: where a project's images, narration and videos live, fresh
//! names for new files, and writes that never leave a half-written file under a real name.

use std::io;
use std::path::{Path, PathBuf};

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

/// `media/projects/{id}/`.
pub fn project_dir(media_root: &Path, project_id: &str) -> PathBuf {
    media_root.join("projects").join(project_id)
}

/// A new media-relative path `projects/{id}/{images|audio}/{uuid}.{ext}`; the user's own file
/// name never reaches the disk.
pub fn fresh_media_path(project_id: &str, kind: MediaKind, extension: &str) -> String {
    format!(
        "projects/{project_id}/{}/{}.{extension}",
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

/// Moves a filled temporary file to its final media-relative name.
pub fn persist(temp: tempfile::NamedTempFile, media_root: &Path, relative: &str) -> io::Result<()> {
    temp.persist(media_root.join(relative))
        .map(drop)
        .map_err(|err| err.error)
}

/// Moves a filled temporary file to `{folder}/{stem}.{extension}` under the media root, or, when
/// that name is taken, to `{stem}_{7 random characters}.{extension}` (as Django names
/// collisions), never replacing an existing file. Returns the media-relative path used.
pub fn persist_unique(
    mut temp: tempfile::NamedTempFile,
    media_root: &Path,
    folder: &str,
    stem: &str,
    extension: &str,
) -> io::Result<String> {
    const ATTEMPTS: usize = 8;
    let mut name = format!("{stem}.{extension}");
    for _ in 0..ATTEMPTS {
        let relative = format!("{folder}/{name}");
        match temp.persist_noclobber(media_root.join(&relative)) {
            Ok(_) => return Ok(relative),
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

/// Copies `source` into the media root under `relative`, atomically.
pub fn copy_in(media_root: &Path, relative: &str, source: &Path) -> io::Result<()> {
    let mut temp = temp_file_for(media_root, relative)?;
    let mut input = std::fs::File::open(source)?;
    io::copy(&mut input, temp.as_file_mut())?;
    persist(temp, media_root, relative)
}

/// Removes a media file that is no longer referenced. Failing to is logged, not fatal: the
/// database already points elsewhere.
pub fn remove_media_file(media_root: &Path, relative: &str) {
    let path = media_root.join(relative);
    match std::fs::remove_file(&path) {
        Ok(()) => {}
        Err(err) if err.kind() == io::ErrorKind::NotFound => {}
        Err(err) => log::warn!("cannot remove {}: {err}", path.display()),
    }
}

/// Removes a project's whole media folder.
pub fn remove_project_media(media_root: &Path, project_id: &str) -> io::Result<()> {
    match std::fs::remove_dir_all(project_dir(media_root, project_id)) {
        Err(err) if err.kind() == io::ErrorKind::NotFound => Ok(()),
        other => other,
    }
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
    fn fresh_paths_are_uuid_named_inside_the_project() {
        let path = fresh_media_path("p1", MediaKind::Audio, "wav");
        let name = path.strip_prefix("projects/p1/audio/").unwrap();
        let stem = name.strip_suffix(".wav").unwrap();
        assert!(uuid::Uuid::parse_str(stem).is_ok(), "{path}");
        assert_ne!(path, fresh_media_path("p1", MediaKind::Audio, "wav"));
    }

    #[test]
    fn copy_in_writes_the_file_and_leaves_no_temporary() {
        let root = tempfile::tempdir().unwrap();
        let source = root.path().join("source.bin");
        std::fs::write(&source, b"narration").unwrap();
        let relative = fresh_media_path("p1", MediaKind::Audio, "wav");
        copy_in(root.path(), &relative, &source).unwrap();
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
        let first = persist_unique(filled("one"), root.path(), "fonts", "Lobster", "ttf").unwrap();
        assert_eq!(first, "fonts/Lobster.ttf");
        let second = persist_unique(filled("two"), root.path(), "fonts", "Lobster", "ttf").unwrap();
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
        remove_project_media(root.path(), "nope").unwrap();
        std::fs::create_dir_all(root.path().join("projects/p/images")).unwrap();
        remove_project_media(root.path(), "p").unwrap();
        assert!(!root.path().join("projects/p").exists());
    }
}
