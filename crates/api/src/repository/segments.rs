//! Segments: ordered within their project, locked against edits, guarded while it renders.

use chrono::NaiveDateTime;
use diesel::dsl::max;
use diesel::prelude::*;

use super::projects::{count_segments, create_project, ensure_not_rendering, get_project};
use super::{not_found, Page, RepoError, Result, LOCKED_EDIT_MESSAGE, LOCKED_FILES_MESSAGE};
use crate::db::{on_backend, AnyConnection};
use crate::models::{now, Project, Segment, SegmentText, SegmentUpdate};
use crate::schema::segments;

/// Segments inserted per statement, well below SQLite's bound-parameter limit.
const INSERT_CHUNK: usize = 500;

/// The project's segments in `sequence_index` order (empty for an unknown project).
pub fn list_segments(conn: &mut AnyConnection, project_id: &str) -> Result<Vec<Segment>> {
    Ok(segments::table
        .filter(segments::project_id.eq(project_id))
        .order(segments::sequence_index.asc())
        .select(Segment::as_select())
        .load(conn)?)
}

/// The project and its segments in order, read from one snapshot.
pub fn get_project_with_segments(
    conn: &mut AnyConnection,
    id: &str,
) -> Result<(Project, Vec<Segment>)> {
    conn.transaction(|conn| {
        let project = get_project(conn, id)?;
        let segments = list_segments(conn, id)?;
        Ok((project, segments))
    })
}

/// One page of the project's segments in order.
pub fn list_segments_page(
    conn: &mut AnyConnection,
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

pub fn get_segment(conn: &mut AnyConnection, id: &str) -> Result<Segment> {
    segments::table
        .find(id)
        .select(Segment::as_select())
        .first(conn)
        .optional()?
        .ok_or_else(|| not_found("Segment", id))
}

/// Appends one segment at the end of the project.
pub fn create_segment(
    conn: &mut AnyConnection,
    project_id: &str,
    text: &SegmentText,
) -> Result<Segment> {
    crate::db::write_transaction(conn, |conn| {
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
    conn: &mut AnyConnection,
    project_id: &str,
    texts: &[SegmentText],
) -> Result<Vec<Segment>> {
    crate::db::write_transaction(conn, |conn| {
        ensure_not_rendering(conn, project_id)?;
        append(conn, project_id, texts)?;
        list_segments(conn, project_id)
    })
}

/// Creates a project together with its segments, all or none.
pub fn import_project(
    conn: &mut AnyConnection,
    title: &str,
    texts: &[SegmentText],
) -> Result<(Project, Vec<Segment>)> {
    crate::db::write_transaction(conn, |conn| {
        let project = create_project(conn, title)?;
        let segments = append(conn, &project.id, texts)?;
        Ok((project, segments))
    })
}

/// Inserts segments after the project's last one and returns the new rows.
fn append(
    conn: &mut AnyConnection,
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
        on_backend!(conn, |conn| diesel::insert_into(segments::table)
            .values(chunk)
            .execute(conn))?;
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
    conn: &mut AnyConnection,
    id: &str,
    changes: &SegmentUpdate,
) -> Result<Segment> {
    crate::db::write_transaction(conn, |conn| {
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
        Ok(on_backend!(conn, |conn| diesel::update(
            segments::table.find(id)
        )
        .set((changes, segments::updated_at.eq(now())))
        .returning(Segment::as_returning())
        .get_result(conn))?)
    })
}

/// Deletes the segment and closes the gap in the numbering; returns the deleted row (the
/// caller removes its files).
pub fn delete_segment(conn: &mut AnyConnection, id: &str) -> Result<Segment> {
    crate::db::write_transaction(conn, |conn| {
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
    conn: &mut AnyConnection,
    project_id: &str,
    order: &[String],
) -> Result<Vec<Segment>> {
    crate::db::write_transaction(conn, |conn| {
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
    conn: &mut AnyConnection,
    id: &str,
    image_file: Option<&str>,
) -> Result<(Segment, Option<String>)> {
    crate::db::write_transaction(conn, |conn| {
        let segment = modifiable_segment(conn, id)?;
        if image_file.is_none() && segment.image_file.is_none() {
            return Err(RepoError::Invalid("No image to remove".to_owned()));
        }
        let updated = on_backend!(conn, |conn| diesel::update(segments::table.find(id))
            .set((
                segments::image_file.eq(image_file),
                segments::updated_at.eq(now()),
            ))
            .returning(Segment::as_returning())
            .get_result(conn))?;
        Ok((updated, segment.image_file))
    })
}

/// Sets (`Some((file, duration))`) or clears (`None`) the segment's narration; returns the
/// updated segment and the previous file, which the caller deletes once this has committed.
pub fn set_segment_audio(
    conn: &mut AnyConnection,
    id: &str,
    audio: Option<(&str, f64)>,
) -> Result<(Segment, Option<String>)> {
    crate::db::write_transaction(conn, |conn| {
        let segment = modifiable_segment(conn, id)?;
        if audio.is_none() && segment.audio_file.is_none() {
            return Err(RepoError::Invalid("No audio to remove".to_owned()));
        }
        let updated = on_backend!(conn, |conn| diesel::update(segments::table.find(id))
            .set((
                segments::audio_file.eq(audio.map(|(file, _)| file)),
                segments::audio_duration.eq(audio.map(|(_, duration)| duration)),
                segments::updated_at.eq(now()),
            ))
            .returning(Segment::as_returning())
            .get_result(conn))?;
        Ok((updated, segment.audio_file))
    })
}

/// The segment, if its files may change: not locked, and its project not rendering.
fn modifiable_segment(conn: &mut AnyConnection, id: &str) -> Result<Segment> {
    let segment = get_segment(conn, id)?;
    if segment.is_locked {
        return Err(RepoError::Locked(LOCKED_FILES_MESSAGE.to_owned()));
    }
    ensure_not_rendering(conn, &segment.project_id)?;
    Ok(segment)
}
