//! Every database operation of the application, as plain functions over a connection.
//!
//! Each public function is atomic on its own, on either backend: the ones that read before they
//! write run in `db::write_transaction` (they take the database's write lock up front, so a
//! concurrent writer makes them wait instead of failing mid-way). Because SQLite cannot nest
//! those, call them outside any transaction of your own; operations that must combine several
//! steps (importing a project with its segments, say) have their own function here.
//!
//! The rules that protect a render in progress live here too, checked in the same transaction
//! as the write they guard: while a project is PROCESSING its render input (segments, their
//! files and order, its resolution and frame rate) cannot change and it cannot be deleted.
//!
//! One module per resource: `projects` (including the render status transitions),
//! `segments` (which may use `projects`, never the other way round: a project read with its
//! segments lives there), `settings`, `logos`; all re-exported here.

mod logos;
mod projects;
mod segments;
mod settings;

pub use logos::{create_logo, delete_logo, get_logo, list_logos};
pub use projects::{
    count_segments, create_project, delete_project, get_project, insert_project,
    list_completed_projects, list_projects, mark_completed, mark_failed, recover_interrupted,
    set_project_status, try_start_render, update_project,
};
pub use segments::{
    append_segments, create_segment, delete_segment, get_project_with_segments, get_segment,
    import_project, list_segments, list_segments_page, reorder_segments, set_segment_audio,
    set_segment_image, update_segment,
};
pub use settings::{get_settings, replace_settings, update_settings};

use crate::models::Project;

pub type Result<T, E = RepoError> = std::result::Result<T, E>;

/// Shown when a change would alter the input of a render that is running.
pub const RENDERING_MESSAGE: &str =
    "The project is being rendered; wait for the render to finish or cancel it first.";
/// Shown when a locked segment's text is edited.
pub const LOCKED_EDIT_MESSAGE: &str = "Cannot edit a locked segment. Unlock it first.";
/// Shown when a locked segment's files are changed.
pub const LOCKED_FILES_MESSAGE: &str = "Cannot modify a locked segment.";

#[derive(Debug, thiserror::Error)]
pub enum RepoError {
    #[error("{entity} {id} not found")]
    NotFound { entity: &'static str, id: String },
    /// The row is in a state that forbids the change (a project that is rendering).
    #[error("{0}")]
    Conflict(String),
    /// The segment is locked against this change.
    #[error("{0}")]
    Locked(String),
    /// The request contradicts the stored data (e.g. a reorder that is not a permutation).
    #[error("{0}")]
    Invalid(String),
    #[error(transparent)]
    Database(#[from] diesel::result::Error),
    #[error(transparent)]
    Pool(#[from] r2d2::Error),
}

fn not_found(entity: &'static str, id: &str) -> RepoError {
    RepoError::NotFound {
        entity,
        id: id.to_owned(),
    }
}

/// One page of a longer list.
#[derive(Debug, Clone, PartialEq)]
pub struct Page<T> {
    pub items: Vec<T>,
    /// How many items the whole list has.
    pub total: i64,
}

/// A project with the number of its segments, as lists show it.
#[derive(Debug, Clone, PartialEq)]
pub struct ProjectSummary {
    pub project: Project,
    pub segment_count: i64,
}

fn expect_one(changed: usize, entity: &'static str, id: &str) -> Result<()> {
    if changed == 0 {
        return Err(not_found(entity, id));
    }
    Ok(())
}
