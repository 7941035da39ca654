//! The database side of the narration tasks: `DieselNarrationStore` implements
//! `tasks::NarrationStore` on the connection pool, one pooled connection per call, so it is
//! safe to use from the worker thread.

use crate::db::DbPool;
use crate::repository;
use crate::tasks::{NarrationStore, SegmentToNarrate, StoreError, VoiceSettings};

#[derive(Debug, Clone)]
pub struct DieselNarrationStore {
    pool: DbPool,
}

impl DieselNarrationStore {
    pub fn new(pool: DbPool) -> Self {
        Self { pool }
    }
}

impl NarrationStore for DieselNarrationStore {
    fn load_segment(&self, segment_id: &str) -> Result<SegmentToNarrate, StoreError> {
        let mut conn = self.pool.get()?;
        let segment = repository::get_segment(&mut conn, segment_id)?;
        Ok(SegmentToNarrate {
            segment_id: segment.id,
            project_id: segment.project_id,
            text: segment.text_content,
            is_locked: segment.is_locked,
        })
    }

    fn voice_settings(&self) -> Result<VoiceSettings, StoreError> {
        let mut conn = self.pool.get()?;
        let settings = repository::get_settings(&mut conn)?;
        Ok(VoiceSettings {
            voice_id: settings.default_voice_id,
            speed: settings.tts_speed,
        })
    }

    /// `repository::set_segment_audio`: one IMMEDIATE transaction, refused for a locked
    /// segment or while the project renders.
    fn record_narration(
        &self,
        segment_id: &str,
        audio_file: &str,
        duration: f64,
    ) -> Result<Option<String>, StoreError> {
        let mut conn = self.pool.get()?;
        let (_, previous) =
            repository::set_segment_audio(&mut conn, segment_id, Some((audio_file, duration)))?;
        Ok(previous)
    }
}
