//! `--store`, shared by the commands that read or write media.

use api::bucket::StoreConfig;

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
