//! Projects: create, read, list, update, delete, and the render status transitions.

use diesel::dsl::count_star;
use diesel::prelude::*;

use super::{expect_one, not_found, Page, ProjectSummary, RepoError, Result, RENDERING_MESSAGE};
use crate::db::{on_backend, AnyConnection};
use crate::models::{now, Project, ProjectStatus, ProjectUpdate};
use crate::schema::{projects, segments};

/// Inserts a DRAFT project with the default format.
pub fn create_project(conn: &mut AnyConnection, title: &str) -> Result<Project> {
    let project = Project::new(title);
    insert_project(conn, &project)?;
    Ok(project)
}

/// Inserts a project built by the caller (e.g. with a non-default format).
pub fn insert_project(conn: &mut AnyConnection, project: &Project) -> Result<()> {
    diesel::insert_into(projects::table)
        .values(project)
        .execute(conn)?;
    Ok(())
}

pub fn get_project(conn: &mut AnyConnection, id: &str) -> Result<Project> {
    projects::table
        .find(id)
        .select(Project::as_select())
        .first(conn)
        .optional()?
        .ok_or_else(|| not_found("Project", id))
}

/// Newest first (`now()` never repeats a time in one process; the id orders the rest).
pub fn list_projects(
    conn: &mut AnyConnection,
    offset: i64,
    limit: i64,
) -> Result<Page<ProjectSummary>> {
    conn.transaction(|conn| {
        let total = projects::table.count().get_result(conn)?;
        let rows = projects::table
            .order((projects::created_at.desc(), projects::id.desc()))
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
pub fn list_completed_projects(conn: &mut AnyConnection) -> Result<Vec<ProjectSummary>> {
    conn.transaction(|conn| {
        let rows = projects::table
            .filter(projects::status.eq(ProjectStatus::Completed))
            .order((projects::updated_at.desc(), projects::id.desc()))
            .select(Project::as_select())
            .load(conn)?;
        with_segment_counts(conn, rows)
    })
}

fn with_segment_counts(
    conn: &mut AnyConnection,
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

pub fn count_segments(conn: &mut AnyConnection, project_id: &str) -> Result<i64> {
    Ok(segments::table
        .filter(segments::project_id.eq(project_id))
        .count()
        .get_result(conn)?)
}

/// Applies a partial update; changing the format of a rendering project is a conflict.
pub fn update_project(
    conn: &mut AnyConnection,
    id: &str,
    changes: &ProjectUpdate,
) -> Result<Project> {
    crate::db::write_transaction(conn, |conn| {
        if changes.touches_render_input() {
            ensure_not_rendering(conn, id)?;
        }
        on_backend!(conn, |conn| diesel::update(projects::table.find(id))
            .set((changes, projects::updated_at.eq(now())))
            .returning(Project::as_returning())
            .get_result(conn)
            .optional())?
        .ok_or_else(|| not_found("Project", id))
    })
}

/// Deletes the project and (by cascade) its segments; returns the deleted row. The caller
/// removes the files.
pub fn delete_project(conn: &mut AnyConnection, id: &str) -> Result<Project> {
    crate::db::write_transaction(conn, |conn| {
        let project = ensure_not_rendering(conn, id)?;
        diesel::delete(projects::table.find(id)).execute(conn)?;
        Ok(project)
    })
}

/// Sets any status unconditionally (administration and tests; renders use the functions below).
pub fn set_project_status(conn: &mut AnyConnection, id: &str, status: ProjectStatus) -> Result<()> {
    let changed = diesel::update(projects::table.find(id))
        .set((projects::status.eq(status), projects::updated_at.eq(now())))
        .execute(conn)?;
    expect_one(changed, "Project", id)
}

/// Moves the project to PROCESSING unless it already is, in one conditional UPDATE, so of any
/// number of simultaneous calls exactly one gets `true`. Also `false` for an unknown id.
pub fn try_start_render(conn: &mut AnyConnection, id: &str) -> Result<bool> {
    let startable = ProjectStatus::ALL
        .into_iter()
        .filter(|status| status.can_start_render());
    let changed = diesel::update(
        projects::table
            .filter(projects::id.eq(id))
            .filter(projects::status.eq_any(startable)),
    )
    .set((
        projects::status.eq(ProjectStatus::Processing),
        projects::updated_at.eq(now()),
    ))
    .execute(conn)?;
    Ok(changed == 1)
}

/// Records a successful render: status, output path, the video's duration and `updated_at`,
/// nothing else.
pub fn mark_completed(
    conn: &mut AnyConnection,
    id: &str,
    output_path: &str,
    duration: f64,
) -> Result<()> {
    let changed = diesel::update(projects::table.find(id))
        .set((
            projects::status.eq(ProjectStatus::Completed),
            projects::output_path.eq(output_path),
            projects::output_duration.eq(duration),
            projects::updated_at.eq(now()),
        ))
        .execute(conn)?;
    expect_one(changed, "Project", id)
}

/// Records a failed or cancelled render: status and `updated_at` only, so the output path of
/// the last good video survives.
pub fn mark_failed(conn: &mut AnyConnection, id: &str) -> Result<()> {
    set_project_status(conn, id, ProjectStatus::Failed)
}

/// At start-up: every project still PROCESSING belongs to a render that died with the previous
/// process; they become FAILED. Returns their ids.
pub fn recover_interrupted(conn: &mut AnyConnection) -> Result<Vec<String>> {
    Ok(
        diesel::update(projects::table.filter(projects::status.eq(ProjectStatus::Processing)))
            .set((
                projects::status.eq(ProjectStatus::Failed),
                projects::updated_at.eq(now()),
            ))
            .returning(projects::id)
            .get_results(conn)?,
    )
}

/// Loads the project, refusing with `Conflict` when it is rendering.
pub(super) fn ensure_not_rendering(conn: &mut AnyConnection, project_id: &str) -> Result<Project> {
    let project = get_project(conn, project_id)?;
    if project.status == ProjectStatus::Processing {
        return Err(RepoError::Conflict(RENDERING_MESSAGE.to_owned()));
    }
    Ok(project)
}
