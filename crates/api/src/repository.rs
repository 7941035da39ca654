//! Every database operation of the application, as plain functions over a connection.
//!
//! Each public function is atomic on its own: the ones that read before they write run in an
//! IMMEDIATE transaction (they take SQLite's write lock up front, so a concurrent writer makes
//! them wait through the busy timeout instead of failing mid-way). Because SQLite cannot nest
//! those, call them outside any transaction of your own; operations that must combine several
//! steps (importing a project with its segments, say) have their own function here.
//!
//! The rules that protect a render in progress live here too, checked in the same transaction
//! as the write they guard: while a project is PROCESSING its render input (segments, their
//! files and order, its resolution and frame rate) cannot change and it cannot be deleted.

use chrono::NaiveDateTime;
use diesel::dsl::{count_star, max, sql};
use diesel::prelude::*;
use diesel::sql_types::BigInt;
use diesel::sqlite::SqliteConnection;

use crate::models::{
    now, GlobalSettings, Logo, Project, ProjectStatus, ProjectUpdate, Segment, SegmentText,
    SegmentUpdate, SettingsUpdate,
};
use crate::schema::{global_settings, logos, projects, segments};

pub type Result<T, E = RepoError> = std::result::Result<T, E>;

/// Shown when a change would alter the input of a render that is running.
pub const RENDERING_MESSAGE: &str =
    "The project is being rendered; wait for the render to finish or cancel it first.";
/// Shown when a locked segment's text is edited.
pub const LOCKED_EDIT_MESSAGE: &str = "Cannot edit a locked segment. Unlock it first.";
/// Shown when a locked segment's files are changed.
pub const LOCKED_FILES_MESSAGE: &str = "Cannot modify a locked segment.";

/// Segments inserted per statement, well below SQLite's bound-parameter limit.
const INSERT_CHUNK: usize = 500;

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

// ---------------------------------------------------------------------------------------------
// Projects
// ---------------------------------------------------------------------------------------------

/// Inserts a DRAFT project with the default format.
pub fn create_project(conn: &mut SqliteConnection, title: &str) -> Result<Project> {
    let project = Project::new(title);
    insert_project(conn, &project)?;
    Ok(project)
}

/// Inserts a project built by the caller (e.g. with a non-default format).
pub fn insert_project(conn: &mut SqliteConnection, project: &Project) -> Result<()> {
    diesel::insert_into(projects::table)
        .values(project)
        .execute(conn)?;
    Ok(())
}

pub fn get_project(conn: &mut SqliteConnection, id: &str) -> Result<Project> {
    projects::table
        .find(id)
        .select(Project::as_select())
        .first(conn)
        .optional()?
        .ok_or_else(|| not_found("Project", id))
}

/// The project and its segments in order, read from one snapshot.
pub fn get_project_with_segments(
    conn: &mut SqliteConnection,
    id: &str,
) -> Result<(Project, Vec<Segment>)> {
    conn.transaction(|conn| {
        let project = get_project(conn, id)?;
        let segments = list_segments(conn, id)?;
        Ok((project, segments))
    })
}

/// Newest first (ties, which only tests produce, broken by insertion order).
pub fn list_projects(
    conn: &mut SqliteConnection,
    offset: i64,
    limit: i64,
) -> Result<Page<ProjectSummary>> {
    conn.transaction(|conn| {
        let total = projects::table.count().get_result(conn)?;
        let rows = projects::table
            .order((
                projects::created_at.desc(),
                sql::<BigInt>("projects.rowid").desc(),
            ))
            .offset(offset)
            .limit(limit)
            .select(Project::as_select())
            .load(conn)?;
        Ok(Page {
            items: with_segment_counts(conn, rows)?,
            total,
        })
    })
}

/// COMPLETED projects, most recently updated first (the gallery).
pub fn list_completed_projects(conn: &mut SqliteConnection) -> Result<Vec<ProjectSummary>> {
    conn.transaction(|conn| {
        let rows = projects::table
            .filter(projects::status.eq(ProjectStatus::Completed.as_str()))
            .order((
                projects::updated_at.desc(),
                sql::<BigInt>("projects.rowid").desc(),
            ))
            .select(Project::as_select())
            .load(conn)?;
        with_segment_counts(conn, rows)
    })
}

fn with_segment_counts(
    conn: &mut SqliteConnection,
    rows: Vec<Project>,
) -> Result<Vec<ProjectSummary>> {
    let ids: Vec<&str> = rows.iter().map(|project| project.id.as_str()).collect();
    let counts: std::collections::HashMap<String, i64> = segments::table
        .filter(segments::project_id.eq_any(&ids))
        .group_by(segments::project_id)
        .select((segments::project_id, count_star()))
        .load::<(String, i64)>(conn)?
        .into_iter()
        .collect();
    Ok(rows
        .into_iter()
        .map(|project| {
            let segment_count = counts.get(&project.id).copied().unwrap_or(0);
            ProjectSummary {
                project,
                segment_count,
            }
        })
        .collect())
}

pub fn count_segments(conn: &mut SqliteConnection, project_id: &str) -> Result<i64> {
    Ok(segments::table
        .filter(segments::project_id.eq(project_id))
        .count()
        .get_result(conn)?)
}

/// Applies a partial update; changing the format of a rendering project is a conflict.
pub fn update_project(
    conn: &mut SqliteConnection,
    id: &str,
    changes: &ProjectUpdate,
) -> Result<Project> {
    conn.immediate_transaction(|conn| {
        if changes.touches_render_input() {
            ensure_not_rendering(conn, id)?;
        }
        diesel::update(projects::table.find(id))
            .set((changes, projects::updated_at.eq(now())))
            .returning(Project::as_returning())
            .get_result(conn)
            .optional()?
            .ok_or_else(|| not_found("Project", id))
    })
}

/// Deletes the project and (by cascade) its segments; returns the deleted row. The caller
/// removes the files.
pub fn delete_project(conn: &mut SqliteConnection, id: &str) -> Result<Project> {
    conn.immediate_transaction(|conn| {
        let project = ensure_not_rendering(conn, id)?;
        diesel::delete(projects::table.find(id)).execute(conn)?;
        Ok(project)
    })
}

/// Sets any status unconditionally (administration and tests; renders use the functions below).
pub fn set_project_status(
    conn: &mut SqliteConnection,
    id: &str,
    status: ProjectStatus,
) -> Result<()> {
    let changed = diesel::update(projects::table.find(id))
        .set((
            projects::status.eq(status.as_str()),
            projects::updated_at.eq(now()),
        ))
        .execute(conn)?;
    expect_one(changed, "Project", id)
}

/// Moves the project to PROCESSING unless it already is, in one conditional UPDATE, so of any
/// number of simultaneous calls exactly one gets `true`. Also `false` for an unknown id.
pub fn try_start_render(conn: &mut SqliteConnection, id: &str) -> Result<bool> {
    let startable = [
        ProjectStatus::Draft.as_str(),
        ProjectStatus::Completed.as_str(),
        ProjectStatus::Failed.as_str(),
    ];
    let changed = diesel::update(
        projects::table
            .filter(projects::id.eq(id))
            .filter(projects::status.eq_any(startable)),
    )
    .set((
        projects::status.eq(ProjectStatus::Processing.as_str()),
        projects::updated_at.eq(now()),
    ))
    .execute(conn)?;
    Ok(changed == 1)
}

/// Records a successful render: status, output path and `updated_at`, nothing else.
pub fn mark_completed(conn: &mut SqliteConnection, id: &str, output_path: &str) -> Result<()> {
    let changed = diesel::update(projects::table.find(id))
        .set((
            projects::status.eq(ProjectStatus::Completed.as_str()),
            projects::output_path.eq(output_path),
            projects::updated_at.eq(now()),
        ))
        .execute(conn)?;
    expect_one(changed, "Project", id)
}

/// Records a failed or cancelled render: status and `updated_at` only, so the output path of
/// the last good video survives.
pub fn mark_failed(conn: &mut SqliteConnection, id: &str) -> Result<()> {
    set_project_status(conn, id, ProjectStatus::Failed)
}

/// At start-up: every project still PROCESSING belongs to a render that died with the previous
/// process; they become FAILED. Returns their ids.
pub fn recover_interrupted(conn: &mut SqliteConnection) -> Result<Vec<String>> {
    Ok(diesel::update(
        projects::table.filter(projects::status.eq(ProjectStatus::Processing.as_str())),
    )
    .set((
        projects::status.eq(ProjectStatus::Failed.as_str()),
        projects::updated_at.eq(now()),
    ))
    .returning(projects::id)
    .get_results(conn)?)
}

fn expect_one(changed: usize, entity: &'static str, id: &str) -> Result<()> {
    if changed == 0 {
        return Err(not_found(entity, id));
    }
    Ok(())
}

/// Loads the project, refusing with `Conflict` when it is rendering.
fn ensure_not_rendering(conn: &mut SqliteConnection, project_id: &str) -> Result<Project> {
    let project = get_project(conn, project_id)?;
    if project.status() == Some(ProjectStatus::Processing) {
        return Err(RepoError::Conflict(RENDERING_MESSAGE.to_owned()));
    }
    Ok(project)
}

// ---------------------------------------------------------------------------------------------
// Segments
// ---------------------------------------------------------------------------------------------

/// The project's segments in `sequence_index` order (empty for an unknown project).
pub fn list_segments(conn: &mut SqliteConnection, project_id: &str) -> Result<Vec<Segment>> {
    Ok(segments::table
        .filter(segments::project_id.eq(project_id))
        .order(segments::sequence_index.asc())
        .select(Segment::as_select())
        .load(conn)?)
}

/// One page of the project's segments in order.
pub fn list_segments_page(
    conn: &mut SqliteConnection,
    project_id: &str,
    offset: i64,
    limit: i64,
) -> Result<Page<Segment>> {
    conn.transaction(|conn| {
        let total = count_segments(conn, project_id)?;
        let items = segments::table
            .filter(segments::project_id.eq(project_id))
            .order(segments::sequence_index.asc())
            .offset(offset)
            .limit(limit)
            .select(Segment::as_select())
            .load(conn)?;
        Ok(Page { items, total })
    })
}

pub fn get_segment(conn: &mut SqliteConnection, id: &str) -> Result<Segment> {
    segments::table
        .find(id)
        .select(Segment::as_select())
        .first(conn)
        .optional()?
        .ok_or_else(|| not_found("Segment", id))
}

/// Appends one segment at the end of the project.
pub fn create_segment(
    conn: &mut SqliteConnection,
    project_id: &str,
    text: &SegmentText,
) -> Result<Segment> {
    conn.immediate_transaction(|conn| {
        ensure_not_rendering(conn, project_id)?;
        let mut created = append(conn, project_id, std::slice::from_ref(text))?;
        created
            .pop()
            .ok_or_else(|| RepoError::Invalid("no segment was created".to_owned()))
    })
}

/// Appends segments at the end of the project, all or none; returns all of the project's
/// segments in order.
pub fn append_segments(
    conn: &mut SqliteConnection,
    project_id: &str,
    texts: &[SegmentText],
) -> Result<Vec<Segment>> {
    conn.immediate_transaction(|conn| {
        ensure_not_rendering(conn, project_id)?;
        append(conn, project_id, texts)?;
        list_segments(conn, project_id)
    })
}

/// Creates a project together with its segments, all or none.
pub fn import_project(
    conn: &mut SqliteConnection,
    title: &str,
    texts: &[SegmentText],
) -> Result<(Project, Vec<Segment>)> {
    conn.immediate_transaction(|conn| {
        let project = create_project(conn, title)?;
        let segments = append(conn, &project.id, texts)?;
        Ok((project, segments))
    })
}

/// Inserts segments after the project's last one and returns the new rows.
fn append(
    conn: &mut SqliteConnection,
    project_id: &str,
    texts: &[SegmentText],
) -> Result<Vec<Segment>> {
    let last: Option<i32> = segments::table
        .filter(segments::project_id.eq(project_id))
        .select(max(segments::sequence_index))
        .first(conn)?;
    let first_index = last.map_or(0, |last| last + 1);
    let at = now();
    let rows: Vec<Segment> = texts
        .iter()
        .zip(first_index..)
        .map(|(text, sequence_index)| new_segment(project_id, sequence_index, text, at))
        .collect();
    for chunk in rows.chunks(INSERT_CHUNK) {
        diesel::insert_into(segments::table)
            .values(chunk)
            .execute(conn)?;
    }
    Ok(rows)
}

fn new_segment(
    project_id: &str,
    sequence_index: i32,
    text: &SegmentText,
    at: NaiveDateTime,
) -> Segment {
    Segment {
        id: uuid::Uuid::new_v4().to_string(),
        project_id: project_id.to_owned(),
        sequence_index,
        text_content: text.text_content.clone(),
        image_prompt: text.image_prompt.clone(),
        image_file: None,
        audio_file: None,
        audio_duration: None,
        is_locked: false,
        created_at: at,
        updated_at: at,
    }
}

/// Applies a partial update. A locked segment accepts only a change of `is_locked`; text
/// edits are refused while the project renders (locking is not render input).
pub fn update_segment(
    conn: &mut SqliteConnection,
    id: &str,
    changes: &SegmentUpdate,
) -> Result<Segment> {
    conn.immediate_transaction(|conn| {
        let segment = get_segment(conn, id)?;
        if !changes.edits_content() {
            if changes.is_empty() {
                return Ok(segment);
            }
        } else {
            if segment.is_locked {
                return Err(RepoError::Locked(LOCKED_EDIT_MESSAGE.to_owned()));
            }
            ensure_not_rendering(conn, &segment.project_id)?;
        }
        Ok(diesel::update(segments::table.find(id))
            .set((changes, segments::updated_at.eq(now())))
            .returning(Segment::as_returning())
            .get_result(conn)?)
    })
}

/// Deletes the segment and closes the gap in the numbering; returns the deleted row (the
/// caller removes its files).
pub fn delete_segment(conn: &mut SqliteConnection, id: &str) -> Result<Segment> {
    conn.immediate_transaction(|conn| {
        let segment = get_segment(conn, id)?;
        ensure_not_rendering(conn, &segment.project_id)?;
        diesel::delete(segments::table.find(id)).execute(conn)?;
        // Two steps so that no intermediate row collides with the unique (project, index):
        // the segments after the gap first move to distinct negative indexes, then back down.
        let later = segments::table
            .filter(segments::project_id.eq(&segment.project_id))
            .filter(segments::sequence_index.gt(segment.sequence_index));
        diesel::update(later)
            .set(segments::sequence_index.eq(segments::sequence_index * -1))
            .execute(conn)?;
        let moved = segments::table
            .filter(segments::project_id.eq(&segment.project_id))
            .filter(segments::sequence_index.lt(0));
        diesel::update(moved)
            .set(segments::sequence_index.eq(segments::sequence_index * -1 - 1))
            .execute(conn)?;
        Ok(segment)
    })
}

/// Puts the project's segments in the given order. `order` must name each of the project's
/// segments exactly once (else `Invalid`, with what is wrong). Returns the segments in order.
pub fn reorder_segments(
    conn: &mut SqliteConnection,
    project_id: &str,
    order: &[String],
) -> Result<Vec<Segment>> {
    conn.immediate_transaction(|conn| {
        ensure_not_rendering(conn, project_id)?;
        let current: Vec<String> = segments::table
            .filter(segments::project_id.eq(project_id))
            .select(segments::id)
            .load(conn)?;
        check_permutation(&current, order)?;
        // Everything to distinct negative indexes first, so assigning the final indexes one
        // by one never collides with a row that has not moved yet.
        diesel::update(segments::table.filter(segments::project_id.eq(project_id)))
            .set(segments::sequence_index.eq(segments::sequence_index * -1 - 1))
            .execute(conn)?;
        let at = now();
        for (index, id) in (0..).zip(order) {
            diesel::update(segments::table.find(id))
                .set((
                    segments::sequence_index.eq(index),
                    segments::updated_at.eq(at),
                ))
                .execute(conn)?;
        }
        list_segments(conn, project_id)
    })
}

fn check_permutation(current: &[String], order: &[String]) -> Result<()> {
    use std::collections::HashSet;
    let known: HashSet<&str> = current.iter().map(String::as_str).collect();
    let mut seen = HashSet::new();
    let mut problems = Vec::new();
    let duplicates: Vec<&str> = order
        .iter()
        .map(String::as_str)
        .filter(|id| !seen.insert(*id))
        .collect();
    if !duplicates.is_empty() {
        problems.push(format!("duplicated: {}", duplicates.join(", ")));
    }
    let foreign: Vec<&str> = order
        .iter()
        .map(String::as_str)
        .filter(|id| !known.contains(id))
        .collect();
    if !foreign.is_empty() {
        problems.push(format!("not in this project: {}", foreign.join(", ")));
    }
    let missing: Vec<&str> = current
        .iter()
        .map(String::as_str)
        .filter(|id| !seen.contains(id))
        .collect();
    if !missing.is_empty() {
        problems.push(format!("missing: {}", missing.join(", ")));
    }
    if problems.is_empty() {
        Ok(())
    } else {
        Err(RepoError::Invalid(format!(
            "segment_order must list each of the project's {} segments exactly once ({})",
            current.len(),
            problems.join("; ")
        )))
    }
}

/// Sets (`Some`) or clears (`None`) the segment's image; returns the updated segment and the
/// previous file, which the caller deletes once this has committed.
pub fn set_segment_image(
    conn: &mut SqliteConnection,
    id: &str,
    image_file: Option<&str>,
) -> Result<(Segment, Option<String>)> {
    conn.immediate_transaction(|conn| {
        let segment = modifiable_segment(conn, id)?;
        if image_file.is_none() && segment.image_file.is_none() {
            return Err(RepoError::Invalid("No image to remove".to_owned()));
        }
        let updated = diesel::update(segments::table.find(id))
            .set((
                segments::image_file.eq(image_file),
                segments::updated_at.eq(now()),
            ))
            .returning(Segment::as_returning())
            .get_result(conn)?;
        Ok((updated, segment.image_file))
    })
}

/// Sets (`Some((file, duration))`) or clears (`None`) the segment's narration; returns the
/// updated segment and the previous file, which the caller deletes once this has committed.
pub fn set_segment_audio(
    conn: &mut SqliteConnection,
    id: &str,
    audio: Option<(&str, f64)>,
) -> Result<(Segment, Option<String>)> {
    conn.immediate_transaction(|conn| {
        let segment = modifiable_segment(conn, id)?;
        if audio.is_none() && segment.audio_file.is_none() {
            return Err(RepoError::Invalid("No audio to remove".to_owned()));
        }
        let updated = diesel::update(segments::table.find(id))
            .set((
                segments::audio_file.eq(audio.map(|(file, _)| file)),
                segments::audio_duration.eq(audio.map(|(_, duration)| duration)),
                segments::updated_at.eq(now()),
            ))
            .returning(Segment::as_returning())
            .get_result(conn)?;
        Ok((updated, segment.audio_file))
    })
}

/// The segment, if its files may change: not locked, and its project not rendering.
fn modifiable_segment(conn: &mut SqliteConnection, id: &str) -> Result<Segment> {
    let segment = get_segment(conn, id)?;
    if segment.is_locked {
        return Err(RepoError::Locked(LOCKED_FILES_MESSAGE.to_owned()));
    }
    ensure_not_rendering(conn, &segment.project_id)?;
    Ok(segment)
}

// ---------------------------------------------------------------------------------------------
// Settings
// ---------------------------------------------------------------------------------------------

/// The settings row, created with the defaults the first time it is read.
pub fn get_settings(conn: &mut SqliteConnection) -> Result<GlobalSettings> {
    if let Some(settings) = find_settings(conn)? {
        return Ok(settings);
    }
    // Two first readers may race here; OR IGNORE lets the loser keep the winner's row.
    diesel::insert_or_ignore_into(global_settings::table)
        .values(&GlobalSettings::defaults(now()))
        .execute(conn)?;
    find_settings(conn)?.ok_or_else(|| not_found("GlobalSettings", "1"))
}

fn find_settings(conn: &mut SqliteConnection) -> Result<Option<GlobalSettings>> {
    Ok(global_settings::table
        .find(GlobalSettings::ID)
        .select(GlobalSettings::as_select())
        .first(conn)
        .optional()?)
}

/// Applies a partial update (already validated by the caller). An `active_logo` that names no
/// logo gives `NotFound { entity: "Logo" }`.
pub fn update_settings(
    conn: &mut SqliteConnection,
    changes: &SettingsUpdate,
) -> Result<GlobalSettings> {
    conn.immediate_transaction(|conn| {
        get_settings(conn)?;
        if let Some(Some(logo_id)) = &changes.active_logo {
            get_logo(conn, logo_id)?;
        }
        Ok(
            diesel::update(global_settings::table.find(GlobalSettings::ID))
                .set((changes, global_settings::updated_at.eq(now())))
                .returning(GlobalSettings::as_returning())
                .get_result(conn)?,
        )
    })
}

// ---------------------------------------------------------------------------------------------
// Logos
// ---------------------------------------------------------------------------------------------

pub fn create_logo(conn: &mut SqliteConnection, logo: &Logo) -> Result<()> {
    diesel::insert_into(logos::table)
        .values(logo)
        .execute(conn)?;
    Ok(())
}

/// Newest first.
pub fn list_logos(conn: &mut SqliteConnection) -> Result<Vec<Logo>> {
    Ok(logos::table
        .order((
            logos::uploaded_at.desc(),
            sql::<BigInt>("logos.rowid").desc(),
        ))
        .select(Logo::as_select())
        .load(conn)?)
}

pub fn get_logo(conn: &mut SqliteConnection, id: &str) -> Result<Logo> {
    logos::table
        .find(id)
        .select(Logo::as_select())
        .first(conn)
        .optional()?
        .ok_or_else(|| not_found("Logo", id))
}

/// Deletes the logo; if it was the active one, the watermark is switched off too. Returns the
/// deleted row (the caller removes the file).
pub fn delete_logo(conn: &mut SqliteConnection, id: &str) -> Result<Logo> {
    conn.immediate_transaction(|conn| {
        let logo = get_logo(conn, id)?;
        diesel::update(global_settings::table.filter(global_settings::active_logo.eq(id)))
            .set((
                global_settings::active_logo.eq(None::<String>),
                global_settings::logo_enabled.eq(false),
                global_settings::updated_at.eq(now()),
            ))
            .execute(conn)?;
        diesel::delete(logos::table.find(id)).execute(conn)?;
        Ok(logo)
    })
}
