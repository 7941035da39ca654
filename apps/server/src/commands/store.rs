//! `--store`, shared by the commands that read or write media, and the bound of a machine's
//! copies of the bucket's media, shared by `serve` and `worker`.

use api::bucket::StoreConfig;
use api::storage;

use super::cache::mb_to_bytes;

#[derive(Debug, clap::Args)]
pub struct StoreArgs {
    /// An S3-compatible bucket (s3://BUCKET/PREFIX) holding media and chunks, for a server and
    /// workers on machines that share no folder; the data folder keeps this machine's copy.
    /// Credentials, region and endpoint come from the standard AWS_* environment variables
    /// (AWS_ACCESS_KEY_ID, AWS_SECRET_ACCESS_KEY, AWS_REGION, AWS_ENDPOINT_URL...).
    #[arg(long, value_name = "URL", env = "STORYFLOW_STORE")]
    store: Option<String>,
}

impl StoreArgs {
    pub fn config(&self) -> Option<StoreConfig> {
        self.store.clone().map(StoreConfig::new)
    }
}

#[derive(Debug, clap::Args)]
pub struct MediaCacheArgs {
    /// With --store: bound of this machine's copies of the bucket's media (DATA_DIR/media) in
    /// MiB; the least recently used go first (when a render starts, and every minute on a
    /// server that queues for workers).
    #[arg(long, value_name = "N", env = "STORYFLOW_MEDIA_CACHE_MAX_MB", default_value_t = storage::DEFAULT_COPY_MAX_BYTES >> 20)]
    media_cache_max_mb: u64,
}

impl MediaCacheArgs {
    pub fn max_bytes(&self) -> u64 {
        mb_to_bytes(self.media_cache_max_mb)
    }
}
