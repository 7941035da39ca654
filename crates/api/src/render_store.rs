//! The database side of the render task: `DieselProjectStore` implements
//! `tasks::ProjectStore` on the connection pool, turning a project, its segments and the global
//! settings into a `core_engine::RenderSpec`.

use std::path::{Path, PathBuf};

use core_engine::{RenderSpec, SegmentSpec};

use crate::app::PreviewSize;
use crate::db::DbPool;
use crate::models::{GlobalSettings, Segment};
use crate::repository;
use crate::tasks::{ProjectStore, StoreError};

/// Loads render input and records outcomes with its own pooled connection per call, so it is
/// safe to use from the worker thread.
#[derive(Debug, Clone)]
pub struct DieselProjectStore {
    pool: DbPool,
    media_root: PathBuf,
    preview: Option<PreviewSize>,
}

impl DieselProjectStore {
    pub fn new(pool: DbPool, media_root: PathBuf, preview: Option<PreviewSize>) -> Self {
        Self {
            pool,
            media_root,
            preview,
        }
    }
}

impl ProjectStore for DieselProjectStore {
    fn load_render_spec(&self, project_id: &str) -> Result<RenderSpec, StoreError> {
        let mut conn = self.pool.get()?;
        // Existence check first, so an unknown id reads as "not found", not as "no segments".
        repository::get_project(&mut conn, project_id)?;
        let segments = repository::list_segments(&mut conn, project_id)?;
        let settings = repository::get_settings(&mut conn)?;
        Ok(render_spec(
            &segments,
            &settings,
            &self.media_root,
            self.preview,
        ))
    }

    fn mark_completed(&self, project_id: &str, output_path: &str) -> Result<(), StoreError> {
        let mut conn = self.pool.get()?;
        repository::mark_completed(&mut conn, project_id, output_path)?;
        Ok(())
    }

    fn mark_failed(&self, project_id: &str) -> Result<(), StoreError> {
        let mut conn = self.pool.get()?;
        repository::mark_failed(&mut conn, project_id)?;
        Ok(())
    }
}

/// Settings decide the picture; a preview size, when the server runs with one, overrides them.
/// Segment files are stored media-relative; a segment without one yields a path the renderer
/// reports as missing, naming the segment.
pub fn render_spec(
    segments: &[Segment],
    settings: &GlobalSettings,
    media_root: &Path,
    preview: Option<PreviewSize>,
) -> RenderSpec {
    let (width, height, fps) = match preview {
        Some(size) => (size.width, size.height, size.fps),
        None => (
            to_u32(settings.render_width),
            to_u32(settings.render_height),
            to_u32(settings.render_fps),
        ),
    };
    let media = |file: &Option<String>| media_root.join(file.as_deref().unwrap_or_default());
    RenderSpec {
        width,
        height,
        fps,
        zoom_intensity: settings.zoom_intensity,
        inter_segment_silence: settings.inter_segment_silence,
        segments: segments
            .iter()
            .enumerate()
            .map(|(index, segment)| SegmentSpec {
                index,
                image: media(&segment.image_file),
                audio: media(&segment.audio_file),
                text: segment.text_content.clone(),
            })
            .collect(),
        ..RenderSpec::default()
    }
}

fn to_u32(value: i32) -> u32 {
    u32::try_from(value).unwrap_or(0)
}
