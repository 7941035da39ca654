//! The on-disk cache of encoded chunks, keyed by [`ChunkKey`].
//!
//! A folder of entries `<key>.mp4` (the chunk) and `<key>.json` (its metadata: frames, size,
//! SHA-256 of the chunk file), plus `owners/` (which keys each owner, e.g. a project, last
//! used). Safety rests on one order: the metadata is written only after the chunk file is
//! complete and durable, both through a temporary file in the folder, `fsync` and a rename;
//! an entry is removed metadata first. A chunk is returned only when its metadata exists and
//! the file has the recorded size and checksum, so a crash at any point, a truncated or a
//! corrupted file is at worst a miss, never a chunk that gets spliced.
//!
//! The cache is bounded ([`DEFAULT_MAX_BYTES`] unless configured): after each insert the
//! least recently used entries (by the modification time of their metadata, which [`get`]
//! refreshes) are evicted, except those the current render needs.
//!
//! A render holds the chunks it will splice through [`ChunkPins`]: hard links in a folder of
//! its own, so that another process sharing the cache (a worker on the same mount) can evict
//! them meanwhile without pulling a file from under the splice.
//!
//! With a [`RemoteChunks`] store ([`with_remote`](ChunkCache::with_remote)) the folder is a
//! local copy: a miss is looked up there and copied in, an insert is copied out. Eviction is
//! local only; the remote store keeps what it is given (its own expiry rules bound it).
//!
//! [`get`]: ChunkCache::get

use std::collections::HashSet;
use std::fs::File;
use std::io::{self, Read, Write};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, SystemTime};

use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

use crate::chunks::remote::RemoteChunks;
use crate::chunks::temp_output::{is_temporary_output, temporary_path};
use crate::error::RenderError;
use crate::plan::chunk_plan::{hex, ChunkKey};

/// The default bound of the cache: 2 GiB.
pub const DEFAULT_MAX_BYTES: u64 = 2 << 30;
/// Changes when the metadata's meaning changes; entries of another version are dropped.
const METADATA_VERSION: u32 = 1;
const CHUNK_EXTENSION: &str = "mp4";
const METADATA_EXTENSION: &str = "json";
const OWNERS_FOLDER: &str = "owners";
/// Each render's [`ChunkPins`] folder is in this folder of the cache.
const PINS_FOLDER: &str = "pins";
/// A temporary file or a chunk without metadata younger than this may be an insert in
/// progress (in this or another process) and is left alone; older ones are crash leftovers.
const ORPHAN_AGE: Duration = Duration::from_secs(3600);

#[derive(Debug, thiserror::Error)]
pub enum CacheError {
    /// The cause (e.g. "No space left on device") is the error's `source()`.
    #[error("chunk cache: cannot read or write {}", .path.display())]
    Io {
        path: PathBuf,
        #[source]
        source: io::Error,
    },
    #[error("chunk cache: {0}")]
    Invalid(String),
    /// The renderer's own helpers (e.g. naming a temporary file) failed for a cache file.
    #[error("chunk cache")]
    Render(#[source] Box<RenderError>),
}

impl CacheError {
    fn io(path: impl Into<PathBuf>, source: io::Error) -> Self {
        Self::Io {
            path: path.into(),
            source,
        }
    }
}

impl From<RenderError> for CacheError {
    fn from(err: RenderError) -> Self {
        match err {
            RenderError::Io { path, source } => CacheError::Io { path, source },
            other => CacheError::Render(Box::new(other)),
        }
    }
}

/// A verified cache entry.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CachedChunk {
    pub key: ChunkKey,
    /// The chunk's MP4 file, inside the cache folder.
    pub path: PathBuf,
    pub frames: u64,
    /// Bytes.
    pub size: u64,
}

/// A cache entry as seen by [`ChunkCache::entries`] (not verified).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct EntryInfo {
    pub key: ChunkKey,
    pub size: u64,
    pub last_used: SystemTime,
}

/// `<key>.json`.
#[derive(Debug, Serialize, Deserialize)]
struct Metadata {
    version: u32,
    key: String,
    frames: u64,
    size: u64,
    sha256: String,
}

/// `owners/<sha256 of the owner>.json`.
#[derive(Debug, Serialize, Deserialize)]
struct OwnerRecord {
    owner: String,
    keys: Vec<String>,
}

#[derive(Debug, Clone)]
pub struct ChunkCache {
    dir: PathBuf,
    max_bytes: u64,
    remote: Option<Arc<dyn RemoteChunks>>,
}

impl ChunkCache {
    /// The cache in `dir` (created if missing), holding at most `max_bytes` of chunks beyond
    /// those a render is using.
    pub fn open(dir: impl Into<PathBuf>, max_bytes: u64) -> Result<ChunkCache, CacheError> {
        let dir = dir.into();
        let owners = dir.join(OWNERS_FOLDER);
        std::fs::create_dir_all(&owners).map_err(|e| CacheError::io(&owners, e))?;
        Ok(ChunkCache {
            dir,
            max_bytes,
            remote: None,
        })
    }

    /// This cache as the local copy of `remote`.
    pub fn with_remote(self, remote: Arc<dyn RemoteChunks>) -> ChunkCache {
        ChunkCache {
            remote: Some(remote),
            ..self
        }
    }

    pub fn dir(&self) -> &Path {
        &self.dir
    }

    /// A fresh temporary file name in the cache folder to encode chunk `key` into, so that
    /// [`insert`](Self::insert) is a rename. The caller removes it if it does not insert it.
    pub fn temp_path(&self, key: &ChunkKey) -> Result<PathBuf, CacheError> {
        Ok(temporary_path(&self.chunk_path(key))?)
    }

    /// The entry for `key` if it is complete and intact, marked as just used. A damaged
    /// entry (truncated, corrupted, metadata without chunk) is logged, removed and a miss;
    /// an entry that cannot be read is a miss. A local miss is copied in from the remote
    /// store when it has the entry.
    pub fn get(&self, key: &ChunkKey) -> Option<CachedChunk> {
        self.get_local(key)
            .or_else(|| self.copy_in(key).then(|| self.get_local(key)).flatten())
    }

    fn get_local(&self, key: &ChunkKey) -> Option<CachedChunk> {
        let metadata_path = self.metadata_path(key);
        let chunk_path = self.chunk_path(key);
        let metadata = match read_metadata(&metadata_path) {
            Ok(Some(metadata)) => metadata,
            Ok(None) => return None,
            Err(reason) => {
                self.drop_damaged(key, &reason);
                return None;
            }
        };
        if metadata.key != key.as_str() || metadata.version != METADATA_VERSION {
            self.drop_damaged(key, "its metadata is for another key or version");
            return None;
        }
        let size = match std::fs::metadata(&chunk_path) {
            Ok(info) => info.len(),
            Err(e) if e.kind() == io::ErrorKind::NotFound => {
                self.drop_damaged(key, "its chunk file is missing");
                return None;
            }
            Err(e) => {
                log::warn!("chunk cache: cannot read {}: {e}", chunk_path.display());
                return None;
            }
        };
        if size != metadata.size {
            let reason = format!("the chunk has {size} bytes, {} expected", metadata.size);
            self.drop_damaged(key, &reason);
            return None;
        }
        match file_sha256(&chunk_path) {
            Ok(sum) if sum == metadata.sha256 => {}
            Ok(_) => {
                self.drop_damaged(key, "the chunk's checksum does not match");
                return None;
            }
            Err(e) => {
                log::warn!("chunk cache: cannot read {}: {e}", chunk_path.display());
                return None;
            }
        }
        if let Err(e) = touch(&metadata_path, SystemTime::now()) {
            // Still a good chunk; it may just be evicted sooner.
            log::warn!(
                "chunk cache: cannot mark {} as used: {e}",
                metadata_path.display()
            );
        }
        Some(CachedChunk {
            key: key.clone(),
            path: chunk_path,
            frames: metadata.frames,
            size,
        })
    }

    /// Moves the finished chunk `file` (of `frames` frames) into the cache as `key`, then
    /// evicts least recently used entries beyond the bound, never `key` nor those in
    /// `in_use`. `file` is renamed when it is in the cache folder (see
    /// [`temp_path`](Self::temp_path)), else copied and removed.
    pub fn insert(
        &self,
        key: &ChunkKey,
        file: &Path,
        frames: u64,
        in_use: &HashSet<ChunkKey>,
    ) -> Result<CachedChunk, CacheError> {
        let (size, sha256) = sync_and_hash(file)?;
        if size == 0 {
            return Err(CacheError::Invalid(format!(
                "{} is empty, not a chunk",
                file.display()
            )));
        }
        let metadata_path = self.metadata_path(key);
        let chunk_path = self.chunk_path(key);
        // An older entry's metadata must not vouch for the new file, even for a moment.
        remove_if_present(&metadata_path)?;
        self.move_in(file, &chunk_path)?;
        let metadata = Metadata {
            version: METADATA_VERSION,
            key: key.to_string(),
            frames,
            size,
            sha256,
        };
        let json = serde_json::to_vec(&metadata)
            .map_err(|e| CacheError::Invalid(format!("cannot write metadata: {e}")))?;
        write_atomically(&metadata_path, &json)?;
        self.copy_out(&chunk_path, &metadata_path);
        let mut keep = in_use.clone();
        keep.insert(key.clone());
        self.evict(&keep)?;
        Ok(CachedChunk {
            key: key.clone(),
            path: chunk_path,
            frames,
            size,
        })
    }

    /// A folder of pins for one render, removed when the pins are dropped. When it cannot be
    /// made (logged), pins are the cache's own paths, as if linking were not supported.
    pub fn pins(&self) -> ChunkPins {
        static RENDERS: AtomicU64 = AtomicU64::new(0);
        let name = format!(
            "{}-{}",
            std::process::id(),
            RENDERS.fetch_add(1, Ordering::Relaxed)
        );
        let dir = self.dir.join(PINS_FOLDER).join(name);
        let dir = match std::fs::create_dir_all(&dir) {
            Ok(()) => Some(dir),
            Err(e) => {
                warn_worked_around(&CacheError::io(&dir, e));
                None
            }
        };
        ChunkPins {
            dir,
            next: AtomicU64::new(0),
        }
    }

    /// Removes least recently used entries not in `in_use` until the cache is within its
    /// bound, and crash leftovers (old temporary files, chunks without metadata and the pins
    /// of renders that died). Returns the evicted keys, least recently used first.
    pub fn evict(&self, in_use: &HashSet<ChunkKey>) -> Result<Vec<ChunkKey>, CacheError> {
        self.remove_old_pins();
        let mut entries = self.entries()?;
        let mut total: u64 = entries.iter().map(|e| e.size).sum();
        entries.sort_by(|a, b| (a.last_used, &a.key).cmp(&(b.last_used, &b.key)));
        let mut evicted = Vec::new();
        for entry in entries {
            if total <= self.max_bytes {
                break;
            }
            if in_use.contains(&entry.key) {
                continue;
            }
            self.remove_entry(&entry.key)?;
            total -= entry.size;
            log::debug!("chunk cache: evicted {} ({} bytes)", entry.key, entry.size);
            evicted.push(entry.key);
        }
        if total > self.max_bytes {
            log::info!(
                "chunk cache: {total} bytes in use by this render, over the {} byte bound",
                self.max_bytes
            );
        }
        Ok(evicted)
    }

    /// Every entry with metadata (damaged metadata is removed), and removes crash leftovers.
    pub fn entries(&self) -> Result<Vec<EntryInfo>, CacheError> {
        let now = SystemTime::now();
        let mut entries = Vec::new();
        let mut chunks = Vec::new();
        let listing = std::fs::read_dir(&self.dir).map_err(|e| CacheError::io(&self.dir, e))?;
        for item in listing {
            let item = item.map_err(|e| CacheError::io(&self.dir, e))?;
            let path = item.path();
            let Ok(info) = item.metadata() else {
                continue; // removed meanwhile
            };
            if !info.is_file() {
                continue;
            }
            let modified = info.modified().map_err(|e| CacheError::io(&path, e))?;
            if is_temporary_output(&path) {
                if now.duration_since(modified).unwrap_or_default() > ORPHAN_AGE {
                    log::info!("chunk cache: removing leftover {}", path.display());
                    remove_if_present(&path)?;
                }
                continue;
            }
            let Some((key, extension)) = entry_name(&path) else {
                continue;
            };
            if extension == CHUNK_EXTENSION {
                chunks.push((key, modified));
                continue;
            }
            match read_metadata(&path) {
                Ok(Some(metadata)) if metadata.key == key.as_str() => entries.push(EntryInfo {
                    key,
                    size: metadata.size,
                    last_used: modified,
                }),
                Ok(Some(_)) => self.drop_damaged(&key, "its metadata is for another key"),
                Ok(None) => {}
                Err(reason) => self.drop_damaged(&key, &reason),
            }
        }
        let known: HashSet<&ChunkKey> = entries.iter().map(|e| &e.key).collect();
        for (key, modified) in chunks {
            if !known.contains(&key)
                && now.duration_since(modified).unwrap_or_default() > ORPHAN_AGE
            {
                log::info!("chunk cache: removing {key}.mp4, which has no metadata");
                remove_if_present(&self.chunk_path(&key))?;
            }
        }
        Ok(entries)
    }

    /// Records that `owner` (e.g. a project id) last used exactly `keys`, replacing what it
    /// used before.
    pub fn record_owner<'k>(
        &self,
        owner: &str,
        keys: impl IntoIterator<Item = &'k ChunkKey>,
    ) -> Result<(), CacheError> {
        let mut keys: Vec<String> = keys.into_iter().map(ToString::to_string).collect();
        keys.sort();
        keys.dedup();
        let record = OwnerRecord {
            owner: owner.to_string(),
            keys,
        };
        let json = serde_json::to_vec(&record)
            .map_err(|e| CacheError::Invalid(format!("cannot write the owner record: {e}")))?;
        write_atomically(&self.owner_path(owner), &json)
    }

    /// Forgets `owner` and removes the entries it used that no other owner lists. Returns how
    /// many entries were removed. An unknown owner removes nothing.
    pub fn release_owner(&self, owner: &str) -> Result<usize, CacheError> {
        let path = self.owner_path(owner);
        let Some(record) = read_owner(&path)? else {
            return Ok(0);
        };
        let folder = self.dir.join(OWNERS_FOLDER);
        let mut shared = HashSet::new();
        let listing = std::fs::read_dir(&folder).map_err(|e| CacheError::io(&folder, e))?;
        for item in listing {
            let other = item.map_err(|e| CacheError::io(&folder, e))?.path();
            if other == path || is_temporary_output(&other) {
                continue;
            }
            match read_owner(&other) {
                Ok(Some(record)) => shared.extend(record.keys),
                Ok(None) => {}
                // Its keys are unknown: what it shares may be removed, and only costs a
                // re-encode later.
                Err(e) => warn_worked_around(&e),
            }
        }
        remove_if_present(&path)?;
        let mut removed = 0;
        for key in record.keys.iter().filter(|k| !shared.contains(*k)) {
            let Some(key) = ChunkKey::parse(key) else {
                continue;
            };
            if self.remove_entry(&key)? {
                removed += 1;
            }
        }
        log::debug!("chunk cache: released {owner}, removed {removed} chunks");
        Ok(removed)
    }

    fn chunk_path(&self, key: &ChunkKey) -> PathBuf {
        self.dir.join(format!("{key}.{CHUNK_EXTENSION}"))
    }

    fn metadata_path(&self, key: &ChunkKey) -> PathBuf {
        self.dir.join(format!("{key}.{METADATA_EXTENSION}"))
    }

    /// Owners are named by a hash, so any owner string is a safe file name.
    fn owner_path(&self, owner: &str) -> PathBuf {
        let name = hex(&Sha256::digest(owner.as_bytes()));
        self.dir.join(OWNERS_FOLDER).join(format!("{name}.json"))
    }

    /// Renames `file` to `target` (copying it through a temporary file when it is elsewhere),
    /// durably.
    fn move_in(&self, file: &Path, target: &Path) -> Result<(), CacheError> {
        if std::fs::rename(file, target).is_err() {
            let temp = temporary_path(target)?;
            let copied = std::fs::copy(file, &temp)
                .and_then(|_| File::open(&temp))
                .and_then(|f| f.sync_all())
                .and_then(|()| std::fs::rename(&temp, target));
            if let Err(e) = copied {
                let _ = std::fs::remove_file(&temp);
                return Err(CacheError::io(target, e));
            }
            remove_if_present(file)?;
        }
        sync_dir(&self.dir)
    }

    /// Removes pin folders older than [`ORPHAN_AGE`]: their render died (a live one has
    /// spliced long before). Failures are logged: they only leave links behind.
    fn remove_old_pins(&self) {
        let now = SystemTime::now();
        let Ok(folders) = std::fs::read_dir(self.dir.join(PINS_FOLDER)) else {
            return;
        };
        for folder in folders.flatten() {
            let old = folder
                .metadata()
                .and_then(|info| info.modified())
                .is_ok_and(|modified| {
                    now.duration_since(modified).unwrap_or_default() > ORPHAN_AGE
                });
            if old {
                log::info!(
                    "chunk cache: removing leftover pins {}",
                    folder.path().display()
                );
                if let Err(e) = std::fs::remove_dir_all(folder.path()) {
                    warn_worked_around(&CacheError::io(folder.path(), e));
                }
            }
        }
    }

    /// Copies entry `key` in from the remote store, chunk first, metadata last; true when
    /// both came. Failures are misses (logged): the chunk is then encoded here.
    fn copy_in(&self, key: &ChunkKey) -> bool {
        let Some(remote) = &self.remote else {
            return false;
        };
        let targets = [self.metadata_path(key), self.chunk_path(key)];
        let mut temps = Vec::with_capacity(targets.len());
        let fetched = (|| {
            for target in &targets {
                let temp = temporary_path(target)?;
                temps.push(temp.clone());
                if !remote
                    .download(&file_name(target), &temp)
                    .map_err(|e| CacheError::io(target, e))?
                {
                    return Ok(false);
                }
            }
            // Chunk first: local metadata vouches for a complete chunk, as after an insert.
            for (temp, target) in temps.iter().zip(&targets).rev() {
                std::fs::rename(temp, target).map_err(|e| CacheError::io(target, e))?;
            }
            Ok(true)
        })();
        for temp in &temps {
            let _ = std::fs::remove_file(temp);
        }
        fetched.unwrap_or_else(|err: CacheError| {
            warn_worked_around(&err);
            false
        })
    }

    /// Copies a new entry out to the remote store, metadata last. A failure is logged: the
    /// entry is still good here, and another machine that misses it encodes it again.
    fn copy_out(&self, chunk: &Path, metadata: &Path) {
        let Some(remote) = &self.remote else {
            return;
        };
        for file in [chunk, metadata] {
            if let Err(e) = remote.upload(&file_name(file), file) {
                warn_worked_around(&CacheError::io(file, e));
                return;
            }
        }
    }

    /// Removes an entry, metadata first; true if it had one.
    fn remove_entry(&self, key: &ChunkKey) -> Result<bool, CacheError> {
        let had = remove_if_present(&self.metadata_path(key))?;
        remove_if_present(&self.chunk_path(key))?;
        Ok(had)
    }

    fn drop_damaged(&self, key: &ChunkKey, reason: &str) {
        log::warn!("chunk cache: dropping damaged entry {key}: {reason}");
        if let Err(e) = self.remove_entry(key) {
            warn_worked_around(&e);
        }
    }
}

/// One render's hold on the chunk files it will splice (see [`ChunkCache::pins`]).
#[derive(Debug)]
pub struct ChunkPins {
    dir: Option<PathBuf>,
    next: AtomicU64,
}

impl ChunkPins {
    /// A hard link to the chunk file `path`, which stays readable whatever evicts the entry;
    /// `None` when the file is already gone (evicted since it was found: a miss). Where links
    /// cannot be made (a file system without them), the file's own path.
    pub fn pin(&self, path: &Path) -> Option<PathBuf> {
        let Some(dir) = &self.dir else {
            return path.is_file().then(|| path.to_path_buf());
        };
        let n = self.next.fetch_add(1, Ordering::Relaxed);
        let link = dir.join(format!("{n}.{CHUNK_EXTENSION}"));
        match std::fs::hard_link(path, &link) {
            Ok(()) => Some(link),
            Err(e) if e.kind() == io::ErrorKind::NotFound => None,
            Err(e) => {
                log::debug!("chunk cache: cannot pin {}: {e}", path.display());
                path.is_file().then(|| path.to_path_buf())
            }
        }
    }
}

impl Drop for ChunkPins {
    fn drop(&mut self) {
        if let Some(dir) = &self.dir {
            if let Err(e) = std::fs::remove_dir_all(dir) {
                warn_worked_around(&CacheError::io(dir, e));
            }
        }
    }
}

/// The name of a file of the cache folder, as the remote store knows it.
fn file_name(path: &Path) -> String {
    path.file_name()
        .map(|name| name.to_string_lossy().into_owned())
        .unwrap_or_default()
}

/// The SHA-256 of a file's content, in lowercase hex (also the content hash of pictures,
/// fonts and logos for [`crate::plan::chunk_plan`]).
pub fn file_sha256(path: &Path) -> io::Result<String> {
    let mut file = File::open(path)?;
    hash_reader(&mut file)
}

fn hash_reader(reader: &mut impl Read) -> io::Result<String> {
    let mut hasher = Sha256::new();
    let mut buffer = vec![0u8; 1 << 20];
    loop {
        let n = reader.read(&mut buffer)?;
        if n == 0 {
            return Ok(hex(&hasher.finalize()));
        }
        hasher.update(&buffer[..n]);
    }
}

/// Flushes `file` to disk and returns its size and SHA-256.
fn sync_and_hash(file: &Path) -> Result<(u64, String), CacheError> {
    let fail = |e| CacheError::io(file, e);
    let mut handle = File::open(file).map_err(fail)?;
    handle.sync_all().map_err(fail)?;
    let size = handle.metadata().map_err(fail)?.len();
    let sum = hash_reader(&mut handle).map_err(fail)?;
    Ok((size, sum))
}

/// `Ok(None)` when there is no metadata file; `Err(reason)` when it is damaged.
fn read_metadata(path: &Path) -> Result<Option<Metadata>, String> {
    match std::fs::read(path) {
        Ok(bytes) => serde_json::from_slice(&bytes)
            .map(Some)
            .map_err(|e| format!("its metadata is unreadable: {e}")),
        Err(e) if e.kind() == io::ErrorKind::NotFound => Ok(None),
        Err(e) => Err(format!("cannot read its metadata: {e}")),
    }
}

fn read_owner(path: &Path) -> Result<Option<OwnerRecord>, CacheError> {
    match std::fs::read(path) {
        Ok(bytes) => serde_json::from_slice(&bytes).map(Some).map_err(|e| {
            CacheError::Invalid(format!(
                "owner record {} is unreadable: {e}",
                path.display()
            ))
        }),
        Err(e) if e.kind() == io::ErrorKind::NotFound => Ok(None),
        Err(e) => Err(CacheError::io(path, e)),
    }
}

/// Writes `bytes` to `path` through a temporary file in its folder, flushed before the rename
/// and the folder flushed after, so `path` is either the old or the whole new content.
fn write_atomically(path: &Path, bytes: &[u8]) -> Result<(), CacheError> {
    let temp = temporary_path(path)?;
    let written = File::create(&temp).and_then(|mut file| {
        file.write_all(bytes)?;
        file.set_modified(SystemTime::now())?;
        file.sync_all()
    });
    let renamed = written.and_then(|()| std::fs::rename(&temp, path));
    if let Err(e) = renamed {
        let _ = std::fs::remove_file(&temp);
        return Err(CacheError::io(path, e));
    }
    match path.parent() {
        Some(folder) => sync_dir(folder),
        None => Ok(()),
    }
}

/// Sets an explicit modification time: the file system's own timestamps are too coarse
/// (a few milliseconds) to order entries used in quick succession.
fn touch(path: &Path, time: SystemTime) -> io::Result<()> {
    File::options().write(true).open(path)?.set_modified(time)
}

/// Makes renames in `dir` durable.
fn sync_dir(dir: &Path) -> Result<(), CacheError> {
    File::open(dir)
        .and_then(|d| d.sync_all())
        .map_err(|e| CacheError::io(dir, e))
}

/// True if the file was there.
fn remove_if_present(path: &Path) -> Result<bool, CacheError> {
    match std::fs::remove_file(path) {
        Ok(()) => Ok(true),
        Err(e) if e.kind() == io::ErrorKind::NotFound => Ok(false),
        Err(e) => Err(CacheError::io(path, e)),
    }
}

/// `<key>.mp4` or `<key>.json` split into key and extension.
fn entry_name(path: &Path) -> Option<(ChunkKey, &str)> {
    let key = ChunkKey::parse(path.file_stem()?.to_str()?)?;
    let extension = path.extension()?.to_str()?;
    [CHUNK_EXTENSION, METADATA_EXTENSION]
        .contains(&extension)
        .then_some((key, extension))
}

/// Logs a failure the cache works around (an entry or owner record it cannot read or remove).
/// This crate is below the workspace's chain formatter (`task_manager::error_chain`), so the
/// cause is named here: an `io::Error` has none of its own, and a `RenderError` kept here is
/// never its `Io` variant (that one becomes [`CacheError::Io`]), so it has none either.
fn warn_worked_around(err: &CacheError) {
    match err {
        CacheError::Io { source, .. } => log::warn!("{err}: {source}"),
        CacheError::Render(source) => log::warn!("{err}: {source}"),
        CacheError::Invalid(_) => log::warn!("{err}"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn key(name: &str) -> ChunkKey {
        ChunkKey::of_bytes(name.as_bytes())
    }

    fn none() -> HashSet<ChunkKey> {
        HashSet::new()
    }

    /// A "chunk" of `size` bytes written where the encoder would write it.
    fn chunk(cache: &ChunkCache, key: &ChunkKey, size: usize) -> PathBuf {
        let path = cache.temp_path(key).unwrap();
        let bytes: Vec<u8> = (0..size).map(|i| (i * 7 % 251) as u8).collect();
        std::fs::write(&path, bytes).unwrap();
        path
    }

    fn insert(cache: &ChunkCache, name: &str, size: usize) -> Vec<ChunkKey> {
        let k = key(name);
        let file = chunk(cache, &k, size);
        let before: HashSet<ChunkKey> = cache
            .entries()
            .unwrap()
            .into_iter()
            .map(|e| e.key)
            .collect();
        cache.insert(&k, &file, 10, &none()).unwrap();
        let after: HashSet<ChunkKey> = cache
            .entries()
            .unwrap()
            .into_iter()
            .map(|e| e.key)
            .collect();
        let mut gone: Vec<ChunkKey> = before.difference(&after).cloned().collect();
        gone.sort();
        gone
    }

    fn files(dir: &Path) -> Vec<String> {
        let mut names: Vec<String> = std::fs::read_dir(dir)
            .unwrap()
            .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
            .filter(|n| n != OWNERS_FOLDER && n != PINS_FOLDER)
            .collect();
        names.sort();
        names
    }

    #[test]
    fn a_hit_returns_the_verified_chunk_and_a_miss_nothing() {
        let dir = tempfile::tempdir().unwrap();
        let cache = ChunkCache::open(dir.path().join("cache"), DEFAULT_MAX_BYTES).unwrap();
        let k = key("a");
        assert_eq!(cache.get(&k), None);
        let file = chunk(&cache, &k, 1000);
        let inserted = cache.insert(&k, &file, 42, &none()).unwrap();
        assert!(!file.exists(), "the temporary file was renamed");
        let hit = cache.get(&k).unwrap();
        assert_eq!(hit, inserted);
        assert_eq!((hit.frames, hit.size), (42, 1000));
        assert_eq!(hit.path, cache.dir().join(format!("{k}.mp4")));
        assert_eq!(
            files(cache.dir()),
            [format!("{k}.json"), format!("{k}.mp4")]
        );
        assert_eq!(cache.get(&key("b")), None);
        assert_eq!(DEFAULT_MAX_BYTES, 2_147_483_648);
    }

    #[test]
    fn pinned_chunks_outlive_another_process_s_eviction() {
        let dir = tempfile::tempdir().unwrap();
        let cache = ChunkCache::open(dir.path(), DEFAULT_MAX_BYTES).unwrap();
        let (kept, gone) = (key("kept"), key("gone"));
        let hit = cache
            .insert(&kept, &chunk(&cache, &kept, 300), 5, &none())
            .unwrap();
        cache
            .insert(&gone, &chunk(&cache, &gone, 300), 5, &none())
            .unwrap();
        let pins = cache.pins();
        let pinned = pins.pin(&hit.path).unwrap();
        assert_ne!(pinned, hit.path);
        // Another process, bound to nothing, evicts everything.
        let elsewhere = ChunkCache::open(dir.path(), 0).unwrap();
        assert_eq!(elsewhere.evict(&none()).unwrap().len(), 2);
        assert_eq!(cache.get(&kept), None);
        assert_eq!(std::fs::read(&pinned).unwrap().len(), 300, "still readable");
        assert_eq!(pins.pin(&cache.dir().join(format!("{gone}.mp4"))), None);
        let folder = pinned.parent().unwrap().to_path_buf();
        drop(pins);
        assert!(!folder.exists(), "the pins go with the render");

        // A dead render's pins are removed once they are old.
        let dead = cache.pins();
        let kept = key("again");
        let hit = cache
            .insert(&kept, &chunk(&cache, &kept, 10), 1, &none())
            .unwrap();
        let left = dead.pin(&hit.path).unwrap();
        std::mem::forget(dead);
        let folder = left.parent().unwrap();
        cache.evict(&none()).unwrap();
        assert!(folder.exists(), "a young folder may be a live render's");
        let old = SystemTime::now() - 2 * ORPHAN_AGE;
        File::open(folder).unwrap().set_modified(old).unwrap();
        cache.evict(&none()).unwrap();
        assert!(!folder.exists());
    }

    /// A remote store that is a folder: what a bucket does, without the network.
    #[derive(Debug)]
    struct FolderRemote(PathBuf);

    impl RemoteChunks for FolderRemote {
        fn download(&self, name: &str, dest: &Path) -> io::Result<bool> {
            match std::fs::copy(self.0.join(name), dest) {
                Ok(_) => Ok(true),
                Err(e) if e.kind() == io::ErrorKind::NotFound => Ok(false),
                Err(e) => Err(e),
            }
        }

        fn upload(&self, name: &str, file: &Path) -> io::Result<()> {
            let target = self.0.join(name);
            if !target.exists() {
                std::fs::copy(file, target)?;
            }
            Ok(())
        }
    }

    #[test]
    fn a_remote_store_shares_entries_between_two_local_caches() {
        let dir = tempfile::tempdir().unwrap();
        let bucket = dir.path().join("bucket");
        std::fs::create_dir_all(&bucket).unwrap();
        let remote: Arc<dyn RemoteChunks> = Arc::new(FolderRemote(bucket.clone()));
        let open = |name: &str| {
            ChunkCache::open(dir.path().join(name), DEFAULT_MAX_BYTES)
                .unwrap()
                .with_remote(Arc::clone(&remote))
        };
        let (here, there) = (open("here"), open("there"));
        let k = key("a");
        let inserted = here
            .insert(&k, &chunk(&here, &k, 500), 12, &none())
            .unwrap();
        assert_eq!(files(&bucket), [format!("{k}.json"), format!("{k}.mp4")]);

        let hit = there.get(&k).unwrap();
        assert_eq!((hit.frames, hit.size), (12, 500));
        assert_eq!(hit.path, there.dir().join(format!("{k}.mp4")));
        assert_eq!(
            std::fs::read(&hit.path).unwrap(),
            std::fs::read(&inserted.path).unwrap()
        );
        assert_eq!(files(there.dir()), files(here.dir()), "no temporary left");
        assert_eq!(there.get(&key("b")), None);

        // A remote chunk without its metadata is unfinished; a damaged one is never spliced.
        let (half, bad) = (key("half"), key("bad"));
        std::fs::write(bucket.join(format!("{half}.mp4")), b"partial").unwrap();
        assert_eq!(there.get(&half), None);
        let good = here
            .insert(&bad, &chunk(&here, &bad, 64), 3, &none())
            .unwrap();
        std::fs::write(bucket.join(format!("{bad}.mp4")), vec![0u8; 64]).unwrap();
        assert_eq!(there.get(&bad), None);
        assert!(!there.dir().join(format!("{bad}.json")).exists(), "dropped");
        assert_eq!(here.get(&bad), Some(good), "the local copy is untouched");
    }

    #[test]
    fn a_chunk_from_elsewhere_is_copied_in_and_removed() {
        let dir = tempfile::tempdir().unwrap();
        let cache = ChunkCache::open(dir.path().join("cache"), DEFAULT_MAX_BYTES).unwrap();
        let outside = dir.path().join("encoded.mp4");
        std::fs::write(&outside, b"not really an mp4").unwrap();
        let k = key("a");
        cache.insert(&k, &outside, 1, &none()).unwrap();
        assert!(!outside.exists());
        assert_eq!(
            std::fs::read(cache.get(&k).unwrap().path).unwrap(),
            b"not really an mp4"
        );
        let empty = dir.path().join("empty.mp4");
        std::fs::write(&empty, b"").unwrap();
        assert!(matches!(
            cache.insert(&key("b"), &empty, 1, &none()),
            Err(CacheError::Invalid(_))
        ));
        assert!(matches!(
            cache.insert(&key("c"), &dir.path().join("missing"), 1, &none()),
            Err(CacheError::Io { .. })
        ));
    }

    #[test]
    fn corrupt_and_truncated_chunks_are_dropped() {
        let dir = tempfile::tempdir().unwrap();
        let cache = ChunkCache::open(dir.path(), DEFAULT_MAX_BYTES).unwrap();
        let (corrupt, truncated) = (key("corrupt"), key("truncated"));
        for k in [&corrupt, &truncated] {
            let file = chunk(&cache, k, 5000);
            cache.insert(k, &file, 3, &none()).unwrap();
        }
        // One flipped byte, same size.
        let path = cache.get(&corrupt).unwrap().path;
        let mut bytes = std::fs::read(&path).unwrap();
        bytes[2500] ^= 1;
        std::fs::write(&path, bytes).unwrap();
        assert_eq!(cache.get(&corrupt), None);
        // Cut short, as by a crash or a full disk.
        let path = cache.get(&truncated).unwrap().path;
        File::options()
            .write(true)
            .open(&path)
            .unwrap()
            .set_len(4096)
            .unwrap();
        assert_eq!(cache.get(&truncated), None);
        assert!(files(cache.dir()).is_empty(), "both entries were removed");
    }

    #[test]
    fn half_entries_are_never_trusted() {
        let dir = tempfile::tempdir().unwrap();
        let cache = ChunkCache::open(dir.path(), DEFAULT_MAX_BYTES).unwrap();
        let (no_chunk, no_metadata, bad_metadata) = (key("1"), key("2"), key("3"));
        for k in [&no_chunk, &no_metadata, &bad_metadata] {
            let file = chunk(&cache, k, 100);
            cache.insert(k, &file, 3, &none()).unwrap();
        }
        std::fs::remove_file(cache.chunk_path(&no_chunk)).unwrap();
        std::fs::remove_file(cache.metadata_path(&no_metadata)).unwrap();
        std::fs::write(cache.metadata_path(&bad_metadata), b"{\"version\":1,").unwrap();
        // A crash between writing a chunk and its metadata leaves a chunk without metadata;
        // one while writing the metadata leaves a temporary file.
        let crashed = chunk(&cache, &key("4"), 100);

        assert_eq!(cache.get(&no_chunk), None);
        assert_eq!(cache.get(&no_metadata), None);
        assert_eq!(cache.get(&bad_metadata), None);
        assert_eq!(cache.get(&key("4")), None);
        assert!(!cache.metadata_path(&no_chunk).exists());
        assert!(!cache.chunk_path(&bad_metadata).exists());
        // A young orphan may be an insert in progress: left alone until it is old.
        assert!(cache.entries().unwrap().is_empty());
        assert!(cache.chunk_path(&no_metadata).exists() && crashed.exists());
        let old = SystemTime::now() - 2 * ORPHAN_AGE;
        touch(&cache.chunk_path(&no_metadata), old).unwrap();
        touch(&crashed, old).unwrap();
        assert!(cache.entries().unwrap().is_empty());
        assert!(files(cache.dir()).is_empty());
    }

    #[test]
    fn the_least_recently_used_entries_go_first() {
        let dir = tempfile::tempdir().unwrap();
        let cache = ChunkCache::open(dir.path(), 350).unwrap();
        assert!(insert(&cache, "a", 100).is_empty());
        assert!(insert(&cache, "b", 100).is_empty());
        assert!(insert(&cache, "c", 100).is_empty());
        assert!(cache.get(&key("a")).is_some());
        // 400 bytes: b is the least recently used.
        assert_eq!(insert(&cache, "d", 100), [key("b")]);
        // Now c, a, d, e from oldest: c is needed by the render, so a goes.
        let e = key("e");
        let file = chunk(&cache, &e, 100);
        let in_use = HashSet::from([key("c")]);
        cache.insert(&e, &file, 1, &in_use).unwrap();
        let mut left: Vec<ChunkKey> = cache
            .entries()
            .unwrap()
            .into_iter()
            .map(|e| e.key)
            .collect();
        left.sort();
        let mut expected = vec![key("c"), key("d"), key("e")];
        expected.sort();
        assert_eq!(left, expected);
        // A chunk larger than the whole bound stays while in use.
        let big = key("big");
        let file = chunk(&cache, &big, 1000);
        cache.insert(&big, &file, 1, &none()).unwrap();
        assert!(cache.get(&big).is_some());
        assert_eq!(cache.entries().unwrap().len(), 1);
        assert_eq!(cache.evict(&none()).unwrap(), [big]);
    }

    #[test]
    fn releasing_an_owner_keeps_what_others_use() {
        let dir = tempfile::tempdir().unwrap();
        let cache = ChunkCache::open(dir.path(), DEFAULT_MAX_BYTES).unwrap();
        for name in ["a", "b", "c", "d"] {
            insert(&cache, name, 10);
        }
        cache
            .record_owner("project-1", [&key("a"), &key("d")])
            .unwrap();
        // The latest record replaces the previous one: d is no longer project 1's.
        cache
            .record_owner("project-1", [&key("a"), &key("b")])
            .unwrap();
        cache
            .record_owner("../project 2", [&key("b"), &key("c")])
            .unwrap();
        assert_eq!(cache.release_owner("project-1").unwrap(), 1);
        assert_eq!(cache.get(&key("a")), None);
        assert!(cache.get(&key("b")).is_some());
        assert!(cache.get(&key("d")).is_some(), "no owner lists d");
        assert_eq!(cache.release_owner("project-1").unwrap(), 0);
        assert_eq!(cache.release_owner("unknown").unwrap(), 0);
        assert_eq!(cache.release_owner("../project 2").unwrap(), 2);
        assert_eq!(cache.get(&key("b")), None);
        assert_eq!(cache.get(&key("c")), None);
        assert_eq!(
            std::fs::read_dir(cache.dir().join(OWNERS_FOLDER))
                .unwrap()
                .count(),
            0
        );
    }

    #[test]
    fn file_hashes_are_sha256() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("abc");
        std::fs::write(&path, b"abc").unwrap();
        assert_eq!(
            file_sha256(&path).unwrap(),
            "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"
        );
    }
}
