//! Background tasks run on the `task_manager` worker thread: renders (`render`) and narration
//! from text (`narration`). Each task function takes ids, re-reads what it needs on the worker
//! thread and reaches the database, the renderer or the synthesiser and the task registry only
//! through traits, so its success and failure paths are unit tested with fakes; what it returns
//! is the task's outcome.

mod narration;
mod render;
#[cfg(test)]
mod test_support;

use std::sync::atomic::AtomicBool;
use std::sync::Arc;

use task_manager::TaskContext;

pub use narration::{
    batch_task_id, narrate_manifest, narrate_segment_task, narrate_segments_task, segment_task_id,
    BatchPlan, CompletedSegment, NarrationDeps, NarrationReport, NarrationStore,
    NarrationTaskError, SegmentError, SegmentToNarrate, VoiceSettings,
};
pub use render::{
    remove_temporary_outputs, render_task_function, render_task_id, ChunkCacheConfig,
    CoreEngineRenderer, ProjectStore, RenderDeps, RenderResult, RenderTaskError, Renderer,
};

/// Errors crossing a store seam; the store decides what they are.
pub type StoreError = Box<dyn std::error::Error + Send + Sync + 'static>;

/// Where a task reports progress and reads a cancel request: the task registry.
pub trait ProgressSink {
    fn update_progress(&self, current: u32, total: u32, phase: &str, percentage: f64);
    /// What the task has done so far besides its progress (a batch's finished items).
    fn update_detail(&self, detail: serde_json::Value);
    fn cancel_flag(&self) -> Arc<AtomicBool>;
}

impl ProgressSink for TaskContext {
    fn update_progress(&self, current: u32, total: u32, phase: &str, percentage: f64) {
        self.update_progress_with_percentage(current, total, phase, percentage);
    }

    fn update_detail(&self, detail: serde_json::Value) {
        TaskContext::update_detail(self, detail);
    }

    fn cancel_flag(&self) -> Arc<AtomicBool> {
        TaskContext::cancel_flag(self)
    }
}
