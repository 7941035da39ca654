//! [`MediaStore`]: the media folder, and the bucket it is a copy of when there is one (see
//! the parent module and [`crate::bucket`]).

use std::collections::HashMap;
use std::io;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};
use std::time::SystemTime;

use core_engine::remote::RemoteChunks;
use core_engine::SubtitleFiles;

use super::{
    bucket_key, is_rewritten, media_root, output_relative, project_dir, remove_file_quietly,
    words_relative, CHUNK_CACHE_FOLDER, PROJECTS_FOLDER,
};
use crate::bucket::{Bucket, BucketChunks, BucketError, StoreConfig};

/// The media folder, and the bucket it is a copy of when there is one. Cheap to clone.
#[derive(Debug, Clone)]
pub struct MediaStore {
    root: PathBuf,
    bucket: Option<Arc<Bucket>>,
    /// The ETags of this machine's copies of files rewritten under the same name (a project's
    /// video and its sidecars), so a copy is fetched again once another machine re-rendered.
    /// Other names are never reused: a copy of one is always current.
    copies: Arc<Mutex<HashMap<String, String>>>,
    /// How many bytes of copies [`trim_copies`](Self::trim_copies) leaves.
    copy_bound: Option<u64>,
}

impl MediaStore {
    /// The media folder alone.
    pub fn local(root: impl Into<PathBuf>) -> Self {
        Self {
            root: root.into(),
            bucket: None,
            copies: Arc::default(),
            copy_bound: None,
        }
    }

    /// The media folder as a copy of `bucket`'s.
    pub fn with_bucket(root: impl Into<PathBuf>, bucket: Arc<Bucket>) -> Self {
        Self {
            bucket: Some(bucket),
            ..Self::local(root)
        }
    }

    /// Bounds what [`trim_copies`](Self::trim_copies) leaves of this machine's copies, in bytes.
    pub fn with_copy_bound(self, max_bytes: u64) -> Self {
        Self {
            copy_bound: Some(max_bytes),
            ..self
        }
    }

    /// The media folder of `data_dir`, a copy of `store`'s bucket when one is given.
    pub fn open(data_dir: &Path, store: Option<&StoreConfig>) -> Result<Self, BucketError> {
        let root = media_root(data_dir);
        Ok(match store {
            Some(store) => Self::with_bucket(root, Arc::new(Bucket::open(store)?)),
            None => Self::local(root),
        })
    }

    /// The chunk cache's remote copy in the same bucket, if there is one.
    pub fn chunk_remote(&self) -> Option<Arc<dyn RemoteChunks>> {
        self.bucket.as_ref().map(|bucket| {
            Arc::new(BucketChunks::new(Arc::clone(bucket), CHUNK_CACHE_FOLDER))
                as Arc<dyn RemoteChunks>
        })
    }

    /// The bucket's URL, if there is one (for logs).
    pub fn bucket_url(&self) -> Option<&str> {
        self.bucket.as_deref().map(Bucket::url)
    }

    pub fn root(&self) -> &Path {
        &self.root
    }

    /// `relative` on this machine's disk (present or not: see [`fetch`](Self::fetch)).
    pub fn path(&self, relative: &str) -> PathBuf {
        self.root.join(relative)
    }

    /// Sends the file just written under `relative` (and the word timings beside it, if any)
    /// to the bucket. Without a bucket there is nothing to do.
    pub fn publish(&self, relative: &str) -> io::Result<()> {
        let Some(bucket) = &self.bucket else {
            return Ok(());
        };
        bucket
            .upload(&bucket_key(relative), &self.path(relative))
            .map_err(io::Error::other)?;
        let words = words_relative(relative);
        if self.path(&words).is_file() {
            bucket
                .upload(&bucket_key(&words), &self.path(&words))
                .map_err(io::Error::other)?;
        }
        if is_rewritten(relative) {
            let head = bucket
                .head(&bucket_key(relative))
                .map_err(io::Error::other)?;
            self.remember(relative, head.map(|head| head.etag));
        }
        Ok(())
    }

    /// Sends a project's freshly rendered video and its sidecars to the bucket; a sidecar this
    /// render did not write (a project without text) is removed there too, as it was here.
    pub fn publish_output(&self, project_id: &str) -> io::Result<()> {
        if self.bucket.is_none() {
            return Ok(());
        }
        let video = output_relative(project_id);
        let sidecars = SubtitleFiles::for_output(&video);
        for relative in [video, sidecars.srt, sidecars.vtt] {
            let relative = relative.to_string_lossy();
            if self.path(&relative).is_file() {
                self.publish(&relative)?;
            } else {
                self.remove(&relative);
            }
        }
        Ok(())
    }

    /// Makes sure this machine has the current `relative` (with its word timings), fetching it
    /// from the bucket if need be. False when it exists nowhere. A copy found or fetched is
    /// marked as just used, for [`trim_copies`](Self::trim_copies).
    pub fn fetch(&self, relative: &str) -> io::Result<bool> {
        let found = self.fetch_copy(relative)?;
        if found && self.bucket.is_some() {
            let marked = std::fs::File::options()
                .append(true)
                .open(self.path(relative))
                .and_then(|file| file.set_modified(SystemTime::now()));
            if let Err(err) = marked {
                log::warn!("cannot mark {relative} as used: {err}");
            }
        }
        Ok(found)
    }

    fn fetch_copy(&self, relative: &str) -> io::Result<bool> {
        let local = self.path(relative);
        let Some(bucket) = &self.bucket else {
            return Ok(local.is_file());
        };
        let key = bucket_key(relative);
        if is_rewritten(relative) {
            let current = bucket
                .head(&key)
                .map_err(io::Error::other)?
                .map(|head| head.etag);
            let known = self
                .copies
                .lock()
                .ok()
                .and_then(|c| c.get(relative).cloned());
            if current.is_some() && current == known && local.is_file() {
                return Ok(true);
            }
            if current.is_none() {
                // Gone from the bucket (a render that wrote no captions): gone here too.
                remove_file_quietly(&local);
                self.remember(relative, None);
                return Ok(false);
            }
        } else if local.is_file() {
            return Ok(true);
        }
        let etag = bucket.download(&key, &local).map_err(io::Error::other)?;
        if etag.is_some() {
            let words = words_relative(relative);
            bucket
                .download(&bucket_key(&words), &self.path(&words))
                .map_err(io::Error::other)?;
        }
        let found = etag.is_some();
        self.remember(relative, etag);
        Ok(found)
    }

    /// Removes this machine's least recently used copies of media (by modification time, which
    /// [`fetch`](Self::fetch) refreshes) while they take more than the bound
    /// ([`with_copy_bound`](Self::with_copy_bound)), sparing `keep` (the files a render is
    /// about to read). A narration's word timings go with it, never alone. Only files the
    /// bucket has are removed, so a copy is never the last one. Returns how many went; without
    /// a bucket or a bound, none.
    pub fn trim_copies(&self, keep: &[&str]) -> io::Result<usize> {
        let (Some(bucket), Some(bound)) = (&self.bucket, self.copy_bound) else {
            return Ok(0);
        };
        let mut copies = Vec::new();
        list_files(&self.root, &self.root, &mut copies)?;
        let mut total: u64 = copies.iter().map(|copy| copy.size).sum();
        let spared = |relative: &str| {
            keep.contains(&relative)
                || relative.ends_with(tts::WORDS_EXTENSION)
                || is_rewritten(relative)
        };
        copies.sort_by_key(|copy| copy.modified);
        let mut removed = 0;
        for copy in copies {
            if total <= bound {
                break;
            }
            if spared(&copy.relative)
                || bucket
                    .head(&bucket_key(&copy.relative))
                    .map_err(io::Error::other)?
                    .is_none()
            {
                continue;
            }
            let words = words_relative(&copy.relative);
            let words_size = std::fs::metadata(self.path(&words)).map_or(0, |info| info.len());
            remove_file_quietly(&self.path(&words));
            remove_file_quietly(&self.path(&copy.relative));
            total = total.saturating_sub(copy.size + words_size);
            removed += 1;
        }
        if removed > 0 {
            log::info!("removed {removed} least recently used media copies (bound {bound} bytes)");
        }
        Ok(removed)
    }

    /// The size of `relative` here or in the bucket, without fetching it; `None` when it
    /// exists nowhere.
    pub fn size(&self, relative: &str) -> io::Result<Option<u64>> {
        let local = self.path(relative);
        match &self.bucket {
            Some(bucket) if is_rewritten(relative) || !local.is_file() => bucket
                .head(&bucket_key(relative))
                .map(|head| head.map(|head| head.size))
                .map_err(io::Error::other),
            _ => Ok(std::fs::metadata(&local)
                .ok()
                .filter(|info| info.is_file())
                .map(|info| info.len())),
        }
    }

    /// Whether `relative` exists here or in the bucket, without fetching it.
    pub fn exists(&self, relative: &str) -> io::Result<bool> {
        Ok(self.size(relative)?.is_some())
    }

    /// Removes a file that is no longer referenced, with its word timings. Failing to is
    /// logged, not fatal: the database already points elsewhere.
    pub fn remove(&self, relative: &str) {
        // A narration's word timings live and die with it (no other file has one).
        for relative in [words_relative(relative), relative.to_owned()] {
            remove_file_quietly(&self.path(&relative));
            if let Some(bucket) = &self.bucket {
                if let Err(err) = bucket.delete(&bucket_key(&relative)) {
                    log::warn!("{}", task_manager::error_chain(&err));
                }
            }
        }
        self.remember(relative, None);
    }

    /// Removes a project's whole media folder.
    pub fn remove_project(&self, project_id: &str) -> io::Result<()> {
        match std::fs::remove_dir_all(project_dir(&self.root, project_id)) {
            Err(err) if err.kind() != io::ErrorKind::NotFound => return Err(err),
            _ => {}
        }
        if let Some(bucket) = &self.bucket {
            let folder = format!("{PROJECTS_FOLDER}/{project_id}");
            bucket
                .delete_folder(&bucket_key(&folder))
                .map_err(io::Error::other)?;
        }
        Ok(())
    }

    fn remember(&self, relative: &str, etag: Option<String>) {
        if !is_rewritten(relative) {
            return;
        }
        if let Ok(mut copies) = self.copies.lock() {
            match etag {
                Some(etag) => copies.insert(relative.to_owned(), etag),
                None => copies.remove(relative),
            };
        }
    }
}

/// A media file as [`MediaStore::trim_copies`] weighs it.
struct LocalCopy {
    relative: String,
    size: u64,
    modified: SystemTime,
}

/// Every regular file below `dir`, but hidden ones (files being written), relative to `root`.
fn list_files(root: &Path, dir: &Path, files: &mut Vec<LocalCopy>) -> io::Result<()> {
    let entries = match std::fs::read_dir(dir) {
        Ok(entries) => entries,
        Err(err) if err.kind() == io::ErrorKind::NotFound => return Ok(()),
        Err(err) => return Err(err),
    };
    for entry in entries {
        let entry = entry?;
        if entry.file_name().to_string_lossy().starts_with('.') {
            continue;
        }
        let info = entry.metadata()?;
        let path = entry.path();
        if info.is_dir() {
            list_files(root, &path, files)?;
        } else if info.is_file() {
            if let Ok(relative) = path.strip_prefix(root) {
                files.push(LocalCopy {
                    relative: relative.to_string_lossy().into_owned(),
                    size: info.len(),
                    modified: info.modified()?,
                });
            }
        }
    }
    Ok(())
}
