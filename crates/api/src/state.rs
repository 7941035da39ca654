//! What every handler sees: [`AppState`], shared as `web::Data<AppState>`, and the settings
//! it carries. Its own module, so that the handlers and the start-up code that builds it
//! (`app`) depend on it rather than on each other.

use std::sync::Arc;

use tts::PiperEngine;

use crate::db::DbPool;
use crate::jobs::JobQueue;
use crate::storage::MediaStore;
use crate::tasks::ChunkCacheConfig;

/// Upload size limits in bytes; larger uploads are refused with 413 while streaming.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct UploadLimits {
    pub image_bytes: u64,
    pub audio_bytes: u64,
    pub logo_bytes: u64,
    pub font_bytes: u64,
    pub music_bytes: u64,
}

impl Default for UploadLimits {
    fn default() -> Self {
        const MB: u64 = 1024 * 1024;
        Self {
            image_bytes: 20 * MB,
            audio_bytes: 200 * MB,
            logo_bytes: 5 * MB,
            font_bytes: 10 * MB,
            music_bytes: 50 * MB,
        }
    }
}

/// Renders at this size instead of the settings' preset: quick previews, and tiny test renders.
/// A render job carries the size the server was told, so any worker renders it the same.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct PreviewSize {
    pub width: u32,
    pub height: u32,
    pub fps: u32,
}

/// What every handler can reach, shared as `web::Data<AppState>`.
#[derive(Clone)]
pub struct AppState {
    pub pool: DbPool,
    /// The media folder (and the bucket it is a copy of, with `--store`).
    pub media: MediaStore,
    /// Where renders and narrations go: the in-process worker (SQLite) or the shared job
    /// table the workers claim from (PostgreSQL).
    pub queue: JobQueue,
    pub limits: UploadLimits,
    pub preview: Option<PreviewSize>,
    pub chunk_cache: ChunkCacheConfig,
    /// GStreamer's version, or why the renderer cannot run (answered as 503 by `render`).
    pub renderer_status: Result<String, String>,
    /// Narration from text; loads nothing until first used.
    pub tts: Option<Arc<PiperEngine>>,
}

impl std::fmt::Debug for AppState {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("AppState")
            .field("media", &self.media)
            .field("renderer_status", &self.renderer_status)
            .finish_non_exhaustive()
    }
}
