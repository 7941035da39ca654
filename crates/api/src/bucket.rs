//! An S3-compatible bucket (`--store s3://BUCKET/PREFIX`) that holds what machines share
//! without sharing a disk: media and encoded chunks. Each machine keeps its data folder as a
//! local copy (`storage::MediaStore`, `core_engine::chunk_cache`); the bucket mirrors the data
//! folder's layout under its prefix (`PREFIX/media/...`, `PREFIX/cache/chunks/...`).
//!
//! Credentials, region and endpoint come from the standard AWS environment variables
//! (`AWS_ACCESS_KEY_ID`, `AWS_SECRET_ACCESS_KEY`, `AWS_REGION`, `AWS_ENDPOINT_URL`,
//! `AWS_ALLOW_HTTP`...), read by `object_store`. Its requests are async; the callers here are
//! not (the renderer's threads, `web::block` closures), so a [`Bucket`] runs them on a small
//! tokio runtime of its own and waits for them, from any thread.

use std::future::Future;
use std::io::{self, Read, Write};
use std::path::{Path, PathBuf};
use std::str::FromStr;
use std::sync::Arc;

use core_engine::remote::RemoteChunks;
use core_engine::TEMP_OUTPUT_MARKER;
use futures_util::{StreamExt, TryStreamExt};
use object_store::aws::{AmazonS3Builder, AmazonS3ConfigKey};
use object_store::buffered::BufWriter;
use object_store::path::Path as Key;
use object_store::{ObjectStore, ObjectStoreExt, PutMode, PutOptions, PutPayload};
use tokio::io::AsyncWriteExt;

/// The only kind of `--store` URL.
pub const STORE_SCHEME: &str = "s3://";
/// Files are read and sent in parts of this size, so a long video never sits in memory whole.
const PART_BYTES: usize = 8 << 20;
/// Threads of the bucket's runtime: requests mostly wait on the network.
const RUNTIME_THREADS: usize = 2;

#[derive(Debug, thiserror::Error)]
pub enum BucketError {
    #[error("--store {url}: {reason}")]
    Url { url: String, reason: String },
    #[error("cannot open the bucket of {url}")]
    Open {
        url: String,
        #[source]
        source: object_store::Error,
    },
    #[error("cannot start the bucket's I/O threads")]
    Runtime(#[source] io::Error),
    #[error("the bucket's I/O threads have stopped")]
    Stopped,
    #[error("bucket: cannot {action} {key}")]
    Request {
        action: &'static str,
        key: String,
        #[source]
        source: object_store::Error,
    },
    #[error("bucket: cannot read or write {}", .path.display())]
    File {
        path: PathBuf,
        #[source]
        source: io::Error,
    },
}

impl BucketError {
    fn request(action: &'static str, key: &Key) -> impl FnOnce(object_store::Error) -> Self {
        let key = key.to_string();
        move |source| Self::Request {
            action,
            key,
            source,
        }
    }

    fn file(path: &Path) -> impl FnOnce(io::Error) -> Self {
        let path = path.to_path_buf();
        move |source| Self::File { path, source }
    }
}

/// What to open: the `--store` URL, and settings that override the environment's (the tests'
/// endpoint and keys, so that parallel tests need not share process-wide variables). Option
/// names are `object_store`'s (`aws_endpoint`, `aws_access_key_id`, `aws_allow_http`...).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StoreConfig {
    pub url: String,
    pub options: Vec<(String, String)>,
}

impl StoreConfig {
    pub fn new(url: impl Into<String>) -> Self {
        Self {
            url: url.into(),
            options: Vec::new(),
        }
    }

    /// The bucket's name and the key prefix (without slashes at either end; may be empty).
    fn parse(&self) -> Result<(&str, &str), BucketError> {
        let invalid = |reason: &str| BucketError::Url {
            url: self.url.clone(),
            reason: reason.to_owned(),
        };
        let rest = self
            .url
            .strip_prefix(STORE_SCHEME)
            .ok_or_else(|| invalid("only s3://BUCKET/PREFIX stores are supported"))?;
        let (bucket, prefix) = rest.split_once('/').unwrap_or((rest, ""));
        if bucket.is_empty() {
            return Err(invalid("the bucket's name is missing"));
        }
        Ok((bucket, prefix.trim_matches('/')))
    }
}

/// An object's version and size.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Head {
    /// Empty when the store gives none.
    pub etag: String,
    pub size: u64,
}

/// An open bucket; cheap to share as `Arc<Bucket>`.
pub struct Bucket {
    url: String,
    store: Arc<dyn ObjectStore>,
    prefix: String,
    runtime: tokio::runtime::Handle,
    /// Dropped with the bucket: ends the runtime's thread, which drops the runtime outside
    /// any async context (dropping it inside one, e.g. an actix worker, would panic).
    _stop: tokio::sync::oneshot::Sender<()>,
}

impl std::fmt::Debug for Bucket {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Bucket").field("url", &self.url).finish()
    }
}

impl Bucket {
    /// Opens the bucket (no request is made: a wrong name or key fails the first transfer).
    pub fn open(config: &StoreConfig) -> Result<Bucket, BucketError> {
        let (bucket, prefix) = config.parse()?;
        let mut builder = AmazonS3Builder::from_env().with_bucket_name(bucket);
        for (name, value) in &config.options {
            let key = AmazonS3ConfigKey::from_str(name).map_err(|_| BucketError::Url {
                url: config.url.clone(),
                reason: format!("unknown option {name}"),
            })?;
            builder = builder.with_config(key, value);
        }
        let store = builder.build().map_err(|source| BucketError::Open {
            url: config.url.clone(),
            source,
        })?;
        let runtime = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(RUNTIME_THREADS)
            .thread_name("bucket-io")
            .enable_all()
            .build()
            .map_err(BucketError::Runtime)?;
        let handle = runtime.handle().clone();
        let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
        std::thread::Builder::new()
            .name("bucket".into())
            .spawn(move || runtime.block_on(async move { stopped.await.unwrap_or_default() }))
            .map_err(BucketError::Runtime)?;
        Ok(Bucket {
            url: config.url.clone(),
            store: Arc::new(store),
            prefix: prefix.to_owned(),
            runtime: handle,
            _stop: stop,
        })
    }

    pub fn url(&self) -> &str {
        &self.url
    }

    /// The key of a data-folder-relative path (`media/...`, `cache/chunks/...`).
    fn key(&self, relative: &str) -> Key {
        if self.prefix.is_empty() {
            Key::from(relative)
        } else {
            Key::from(format!("{}/{relative}", self.prefix))
        }
    }

    /// Runs `request` on the bucket's runtime and waits for it; callable from any thread.
    fn run<T: Send + 'static>(
        &self,
        request: impl Future<Output = T> + Send + 'static,
    ) -> Result<T, BucketError> {
        let (done, result) = std::sync::mpsc::sync_channel(1);
        self.runtime.spawn(async move {
            let _ = done.send(request.await);
        });
        result.recv().map_err(|_| BucketError::Stopped)
    }

    /// Uploads `file` as `relative`, replacing what was there; streamed in parts.
    pub fn upload(&self, relative: &str, file: &Path) -> Result<(), BucketError> {
        let key = self.key(relative);
        let mut input = std::fs::File::open(file).map_err(BucketError::file(file))?;
        let store = Arc::clone(&self.store);
        let path = file.to_path_buf();
        self.run(async move {
            let mut writer = BufWriter::new(store, key);
            let sent = async {
                let mut part = vec![0; PART_BYTES];
                loop {
                    let read = input.read(&mut part)?;
                    if read == 0 {
                        break;
                    }
                    writer.write_all(&part[..read]).await?;
                }
                writer.shutdown().await
            }
            .await;
            if sent.is_err() {
                // A multipart upload, if one started, must not linger half-done.
                let _ = writer.abort().await;
            }
            sent.map_err(BucketError::file(&path))
        })?
    }

    /// Uploads `file` as `relative` unless the bucket has that name already (content-keyed
    /// names: the same bits). Small files only: it is read whole.
    pub fn upload_new(&self, relative: &str, file: &Path) -> Result<(), BucketError> {
        let key = self.key(relative);
        let bytes = std::fs::read(file).map_err(BucketError::file(file))?;
        let store = Arc::clone(&self.store);
        self.run(async move {
            let options = PutOptions {
                mode: PutMode::Create,
                ..PutOptions::default()
            };
            match store.put_opts(&key, PutPayload::from(bytes), options).await {
                Ok(_) | Err(object_store::Error::AlreadyExists { .. }) => Ok(()),
                Err(err) => Err(BucketError::request("upload", &key)(err)),
            }
        })?
    }

    /// Downloads `relative` to `dest` through a hidden temporary file beside it (renamed into
    /// place once complete). Returns its ETag (empty when the store gives none), or `None`
    /// when the bucket has no such object.
    pub fn download(&self, relative: &str, dest: &Path) -> Result<Option<String>, BucketError> {
        let key = self.key(relative);
        let folder = dest.parent().unwrap_or(Path::new("."));
        std::fs::create_dir_all(folder).map_err(BucketError::file(folder))?;
        // Named as the renderer's temporaries are, so the chunk cache and the server's start-up
        // remove one a killed process left.
        let temp = tempfile::Builder::new()
            .prefix(&format!(".download{TEMP_OUTPUT_MARKER}"))
            .tempfile_in(folder)
            .map_err(BucketError::file(folder))?;
        let store = Arc::clone(&self.store);
        let mut output = temp.reopen().map_err(BucketError::file(temp.path()))?;
        let temp_path = temp.path().to_path_buf();
        let etag = self.run(async move {
            let found = match store.get(&key).await {
                Ok(found) => found,
                Err(object_store::Error::NotFound { .. }) => return Ok(None),
                Err(err) => return Err(BucketError::request("download", &key)(err)),
            };
            let etag = found.meta.e_tag.clone().unwrap_or_default();
            let mut parts = found.into_stream();
            while let Some(part) = parts.next().await {
                let part = part.map_err(BucketError::request("download", &key))?;
                output
                    .write_all(&part)
                    .map_err(BucketError::file(&temp_path))?;
            }
            Ok(Some(etag))
        })??;
        if etag.is_some() {
            temp.as_file()
                .sync_all()
                .map_err(BucketError::file(temp.path()))?;
            temp.persist(dest)
                .map_err(|err| BucketError::file(dest)(err.error))?;
        }
        Ok(etag)
    }

    /// What the bucket holds as `relative`, or `None` when it is absent.
    pub fn head(&self, relative: &str) -> Result<Option<Head>, BucketError> {
        let key = self.key(relative);
        let store = Arc::clone(&self.store);
        self.run(async move {
            match store.head(&key).await {
                Ok(meta) => Ok(Some(Head {
                    etag: meta.e_tag.unwrap_or_default(),
                    size: meta.size,
                })),
                Err(object_store::Error::NotFound { .. }) => Ok(None),
                Err(err) => Err(BucketError::request("look up", &key)(err)),
            }
        })?
    }

    /// Deletes `relative`; an absent object is not an error.
    pub fn delete(&self, relative: &str) -> Result<(), BucketError> {
        let key = self.key(relative);
        let store = Arc::clone(&self.store);
        self.run(async move {
            match store.delete(&key).await {
                Ok(()) | Err(object_store::Error::NotFound { .. }) => Ok(()),
                Err(err) => Err(BucketError::request("delete", &key)(err)),
            }
        })?
    }

    /// Deletes every object below the folder `relative`; returns how many.
    pub fn delete_folder(&self, relative: &str) -> Result<usize, BucketError> {
        let key = self.key(relative);
        let store = Arc::clone(&self.store);
        self.run(async move {
            let listed = store.list(Some(&key)).map_ok(|meta| meta.location).boxed();
            store
                .delete_stream(listed)
                .try_fold(0, |count, _| async move { Ok(count + 1) })
                .await
                .map_err(BucketError::request("delete the folder", &key))
        })?
    }
}

/// The chunk cache's remote copy: `cache/chunks/{name}` in the bucket.
#[derive(Debug, Clone)]
pub struct BucketChunks {
    bucket: Arc<Bucket>,
    /// The cache folder's data-folder-relative path (`storage::CHUNK_CACHE_FOLDER`).
    folder: &'static str,
}

impl BucketChunks {
    pub fn new(bucket: Arc<Bucket>, folder: &'static str) -> Self {
        Self { bucket, folder }
    }

    fn relative(&self, name: &str) -> String {
        format!("{}/{name}", self.folder)
    }
}

impl RemoteChunks for BucketChunks {
    fn download(&self, name: &str, dest: &Path) -> io::Result<bool> {
        self.bucket
            .download(&self.relative(name), dest)
            .map(|etag| etag.is_some())
            .map_err(io::Error::other)
    }

    fn upload(&self, name: &str, file: &Path) -> io::Result<()> {
        self.bucket
            .upload_new(&self.relative(name), file)
            .map_err(io::Error::other)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(url: &str) -> Result<(String, String), String> {
        StoreConfig::new(url)
            .parse()
            .map(|(bucket, prefix)| (bucket.to_owned(), prefix.to_owned()))
            .map_err(|err| err.to_string())
    }

    #[test]
    fn store_urls_name_a_bucket_and_a_prefix() {
        let ok = |bucket: &str, prefix: &str| Ok((bucket.to_owned(), prefix.to_owned()));
        assert_eq!(parse("s3://media"), ok("media", ""));
        assert_eq!(parse("s3://media/"), ok("media", ""));
        assert_eq!(parse("s3://media/studio/a/"), ok("media", "studio/a"));
        assert_eq!(
            parse("s3:///x"),
            Err("--store s3:///x: the bucket's name is missing".into())
        );
        assert_eq!(
            parse("/mnt/media"),
            Err("--store /mnt/media: only s3://BUCKET/PREFIX stores are supported".into())
        );
    }

    #[test]
    fn keys_mirror_the_data_folder_under_the_prefix() {
        let bucket = Bucket::open(&StoreConfig::new("s3://media/studio/")).unwrap();
        assert_eq!(bucket.key("media/a.jpg").as_ref(), "studio/media/a.jpg");
        let bare = Bucket::open(&StoreConfig::new("s3://media")).unwrap();
        assert_eq!(
            bare.key("cache/chunks/k.mp4").as_ref(),
            "cache/chunks/k.mp4"
        );
        let unknown = StoreConfig {
            url: "s3://media".into(),
            options: vec![("aws_colour".into(), "blue".into())],
        };
        assert_eq!(
            Bucket::open(&unknown).unwrap_err().to_string(),
            "--store s3://media: unknown option aws_colour"
        );
    }
}
