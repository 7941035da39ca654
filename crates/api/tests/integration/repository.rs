//! The data layer against a real database per test, on each backend (see main.rs).
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::sync::{Arc, Barrier};

use api::db::{AnyConnection, DbPool};
use api::models::{Logo, ProjectStatus, ProjectUpdate, SegmentText, SegmentUpdate, SettingsUpdate};
use api::repository::{self as repo, RepoError};
use diesel::connection::SimpleConnection;
use diesel::prelude::*;

use super::BACKEND;

fn fresh_db() -> (tempfile::TempDir, DbPool) {
    let dir = tempfile::tempdir().unwrap();
    let pool = BACKEND.fresh_pool(dir.path());
    (dir, pool)
}

fn text(narration: &str) -> SegmentText {
    SegmentText {
        text_content: narration.to_owned(),
        image_prompt: format!("prompt for {narration}"),
    }
}

fn order_of(pool: &DbPool, project_id: &str) -> Vec<(String, i32)> {
    let mut conn = pool.get().unwrap();
    repo::list_segments(&mut conn, project_id)
        .unwrap()
        .into_iter()
        .map(|s| (s.text_content, s.sequence_index))
        .collect()
}

#[test]
fn deleting_a_project_cascades_to_its_segments() {
    let (_dir, pool) = fresh_db();
    let mut conn = pool.get().unwrap();
    let (project, segments) =
        repo::import_project(&mut conn, "Doomed", &[text("a"), text("b")]).unwrap();
    let (other, _) = repo::import_project(&mut conn, "Kept", &[text("c")]).unwrap();
    assert_eq!(segments.len(), 2);

    let deleted = repo::delete_project(&mut conn, &project.id).unwrap();
    assert_eq!(deleted.id, project.id);
    assert_eq!(repo::count_segments(&mut conn, &project.id).unwrap(), 0);
    assert!(matches!(
        repo::get_segment(&mut conn, &segments[0].id),
        Err(RepoError::NotFound {
            entity: "Segment",
            ..
        })
    ));
    assert_eq!(repo::count_segments(&mut conn, &other.id).unwrap(), 1);
    assert!(matches!(
        repo::delete_project(&mut conn, &project.id),
        Err(RepoError::NotFound {
            entity: "Project",
            ..
        })
    ));
}

#[test]
fn the_schema_rejects_an_unknown_status() {
    let (_dir, pool) = fresh_db();
    let mut conn = pool.get().unwrap();
    let insert = |status: &str| {
        format!(
            "INSERT INTO projects (id, title, created_at, updated_at, status) \
             VALUES ('{}', 't', '2026-01-01 00:00:00', '2026-01-01 00:00:00', '{status}')",
            uuid::Uuid::new_v4()
        )
    };
    let err = diesel::sql_query(insert("RENDERING"))
        .execute(&mut conn)
        .unwrap_err();
    // SQLite says "CHECK constraint failed", PostgreSQL "violates check constraint".
    assert!(err.to_string().to_lowercase().contains("check"), "{err}");
    diesel::sql_query(insert("DRAFT"))
        .execute(&mut conn)
        .unwrap();
}

#[test]
fn exactly_one_of_sixteen_simultaneous_render_starts_wins() {
    const THREADS: usize = 16;
    let (_dir, pool) = fresh_db();
    let project = repo::create_project(&mut pool.get().unwrap(), "Race").unwrap();

    for round in 0..3 {
        let barrier = Arc::new(Barrier::new(THREADS));
        let handles: Vec<_> = (0..THREADS)
            .map(|_| {
                let mut conn = pool.get().unwrap();
                let barrier = barrier.clone();
                let id = project.id.clone();
                std::thread::spawn(move || {
                    barrier.wait();
                    repo::try_start_render(&mut conn, &id).unwrap()
                })
            })
            .collect();
        let winners = handles
            .into_iter()
            .map(|handle| handle.join().unwrap())
            .filter(|won| *won)
            .count();
        assert_eq!(winners, 1, "round {round}");

        let mut conn = pool.get().unwrap();
        let status = repo::get_project(&mut conn, &project.id).unwrap().status;
        assert_eq!(status, ProjectStatus::Processing);
        // Every idle state may start a render again.
        let next = [
            ProjectStatus::Failed,
            ProjectStatus::Completed,
            ProjectStatus::Draft,
        ];
        repo::set_project_status(&mut conn, &project.id, next[round]).unwrap();
    }
    assert!(!repo::try_start_render(&mut pool.get().unwrap(), "no-such-project").unwrap());
}

#[test]
fn render_outcomes_touch_only_their_columns() {
    let (_dir, pool) = fresh_db();
    let mut conn = pool.get().unwrap();
    let project = repo::create_project(&mut conn, "Outcomes").unwrap();
    let url = format!("/media/projects/{}/output/final.mp4", project.id);

    assert!(repo::try_start_render(&mut conn, &project.id).unwrap());
    repo::mark_completed(&mut conn, &project.id, &url, 12.5).unwrap();
    let done = repo::get_project(&mut conn, &project.id).unwrap();
    assert_eq!(done.status, ProjectStatus::Completed);
    assert_eq!(done.output_path.as_deref(), Some(url.as_str()));
    assert_eq!(done.output_duration, Some(12.5));
    assert_eq!(done.title, "Outcomes");
    assert!(done.updated_at >= project.updated_at);

    assert!(repo::try_start_render(&mut conn, &project.id).unwrap());
    repo::mark_failed(&mut conn, &project.id).unwrap();
    let failed = repo::get_project(&mut conn, &project.id).unwrap();
    assert_eq!(failed.status, ProjectStatus::Failed);
    assert_eq!(failed.output_path.as_deref(), Some(url.as_str()));
    assert_eq!(
        failed.output_duration,
        Some(12.5),
        "the last good video's duration stays"
    );
    assert_eq!(failed.created_at, project.created_at);

    assert!(matches!(
        repo::mark_failed(&mut conn, "missing"),
        Err(RepoError::NotFound { .. })
    ));
}

#[test]
fn recovery_fails_only_the_projects_left_processing() {
    let (_dir, pool) = fresh_db();
    let mut conn = pool.get().unwrap();
    let mut ids = Vec::new();
    for status in ProjectStatus::ALL {
        let project = repo::create_project(&mut conn, status.as_str()).unwrap();
        repo::set_project_status(&mut conn, &project.id, status).unwrap();
        ids.push((project.id, status));
    }
    let stuck = repo::create_project(&mut conn, "second").unwrap();
    repo::set_project_status(&mut conn, &stuck.id, ProjectStatus::Processing).unwrap();

    let mut recovered = repo::recover_interrupted(&mut conn).unwrap();
    recovered.sort();
    let mut expected = vec![ids[1].0.clone(), stuck.id.clone()];
    expected.sort();
    assert_eq!(recovered, expected);

    for (id, before) in ids {
        let after = repo::get_project(&mut conn, &id).unwrap().status;
        let want = if before == ProjectStatus::Processing {
            ProjectStatus::Failed
        } else {
            before
        };
        assert_eq!(after, want);
    }
    assert!(repo::recover_interrupted(&mut conn).unwrap().is_empty());
}

#[test]
fn settings_are_created_with_defaults_once() {
    let (_dir, pool) = fresh_db();
    let mut conn = pool.get().unwrap();
    let count = |conn: &mut AnyConnection| -> i64 {
        api::schema::global_settings::table
            .count()
            .get_result(conn)
            .unwrap()
    };
    assert_eq!(count(&mut conn), 0);
    let first = repo::get_settings(&mut conn).unwrap();
    assert_eq!(first.id, 1);
    assert_eq!(first.subtitle_font_size, 48);
    assert_eq!(
        (first.render_width, first.render_height, first.render_fps),
        (1920, 1080, 30)
    );
    assert_eq!(first.zoom_intensity, 1.3);
    assert_eq!(first.inter_segment_silence, 0.3);
    assert_eq!(first.logo_position, "bottom-right");
    assert_eq!(first.default_voice_id, "af_heart");
    let second = repo::get_settings(&mut conn).unwrap();
    assert_eq!(first, second);
    assert_eq!(count(&mut conn), 1);

    let updated = repo::update_settings(
        &mut conn,
        &SettingsUpdate {
            subtitle_font_size: Some(60),
            ..SettingsUpdate::default()
        },
    )
    .unwrap();
    assert_eq!(updated.subtitle_font_size, 60);
    assert_eq!(updated.created_at, first.created_at);
    assert!(updated.updated_at >= first.updated_at);
    assert_eq!(
        repo::get_settings(&mut conn).unwrap().subtitle_font_size,
        60
    );
    assert_eq!(count(&mut conn), 1);

    // The table holds one row only: a copy of the row under another id, whatever the
    // columns are, is refused by the id's CHECK.
    conn.batch_execute(
        "CREATE TEMP TABLE second_row AS SELECT * FROM global_settings; \
         UPDATE second_row SET id = 2;",
    )
    .unwrap();
    let err = conn
        .batch_execute("INSERT INTO global_settings SELECT * FROM second_row")
        .unwrap_err();
    assert!(err.to_string().to_lowercase().contains("check"), "{err}");
}

#[test]
fn segments_are_appended_ordered_reordered_and_renumbered() {
    let (_dir, pool) = fresh_db();
    let mut conn = pool.get().unwrap();
    let (project, _) = repo::import_project(&mut conn, "Order", &[text("a"), text("b")]).unwrap();
    let c = repo::create_segment(&mut conn, &project.id, &text("c")).unwrap();
    assert_eq!(c.sequence_index, 2);
    let all = repo::append_segments(&mut conn, &project.id, &[text("d"), text("e")]).unwrap();
    assert_eq!(all.len(), 5);
    let names = |pool: &DbPool| -> Vec<String> {
        order_of(pool, &project.id)
            .into_iter()
            .map(|(t, _)| t)
            .collect()
    };
    assert_eq!(names(&pool), ["a", "b", "c", "d", "e"]);

    let mut order: Vec<String> = all.iter().rev().map(|s| s.id.clone()).collect();
    let reordered = repo::reorder_segments(&mut conn, &project.id, &order).unwrap();
    assert_eq!(
        reordered
            .iter()
            .map(|s| s.sequence_index)
            .collect::<Vec<_>>(),
        [0, 1, 2, 3, 4]
    );
    assert_eq!(names(&pool), ["e", "d", "c", "b", "a"]);

    // Not a permutation: a missing id, a foreign id, a duplicate.
    let (other, foreign) = repo::import_project(&mut conn, "Other", &[text("x")]).unwrap();
    let last = order.pop().unwrap();
    for bad in [
        order.clone(),
        [order.clone(), vec![foreign[0].id.clone()]].concat(),
        [order.clone(), vec![order[0].clone()]].concat(),
    ] {
        let err = repo::reorder_segments(&mut conn, &project.id, &bad).unwrap_err();
        assert!(matches!(err, RepoError::Invalid(_)), "{err:?}");
    }
    order.push(last);
    assert_eq!(names(&pool), ["e", "d", "c", "b", "a"]);
    assert_eq!(order_of(&pool, &other.id), [("x".to_owned(), 0)]);

    // Deleting from the middle closes the gap.
    repo::delete_segment(&mut conn, &c.id).unwrap();
    assert_eq!(
        order_of(&pool, &project.id),
        [("e", 0), ("d", 1), ("b", 2), ("a", 3)].map(|(t, i)| (t.to_owned(), i))
    );
    let page = repo::list_segments_page(&mut conn, &project.id, 1, 2).unwrap();
    assert_eq!(page.total, 4);
    assert_eq!(
        page.items
            .iter()
            .map(|s| s.text_content.as_str())
            .collect::<Vec<_>>(),
        ["d", "b"]
    );
}

#[test]
fn locked_segments_accept_only_unlocking() {
    let (_dir, pool) = fresh_db();
    let mut conn = pool.get().unwrap();
    let (_, segments) = repo::import_project(&mut conn, "Locks", &[text("a")]).unwrap();
    let id = &segments[0].id;
    let lock = |locked: bool| SegmentUpdate {
        is_locked: Some(locked),
        ..SegmentUpdate::default()
    };
    let edit = SegmentUpdate {
        text_content: Some("changed".into()),
        ..SegmentUpdate::default()
    };
    assert!(
        repo::update_segment(&mut conn, id, &lock(true))
            .unwrap()
            .is_locked
    );
    assert!(matches!(
        repo::update_segment(&mut conn, id, &edit),
        Err(RepoError::Locked(_))
    ));
    assert!(matches!(
        repo::set_segment_image(&mut conn, id, Some("projects/x/images/y.png")),
        Err(RepoError::Locked(_))
    ));
    assert!(
        !repo::update_segment(&mut conn, id, &lock(false))
            .unwrap()
            .is_locked
    );
    let edited = repo::update_segment(&mut conn, id, &edit).unwrap();
    assert_eq!(edited.text_content, "changed");
    assert!(edited.updated_at >= segments[0].updated_at);
}

#[test]
fn render_input_is_frozen_while_processing() {
    let (_dir, pool) = fresh_db();
    let mut conn = pool.get().unwrap();
    let (project, segments) =
        repo::import_project(&mut conn, "Busy", &[text("a"), text("b")]).unwrap();
    let id = &segments[0].id;
    let (with_image, old) =
        repo::set_segment_image(&mut conn, id, Some("projects/p/images/1.png")).unwrap();
    assert_eq!(old, None);
    assert_eq!(
        with_image.image_file.as_deref(),
        Some("projects/p/images/1.png")
    );
    repo::set_project_status(&mut conn, &project.id, ProjectStatus::Processing).unwrap();

    let conflict = |result: Result<(), RepoError>| {
        assert!(matches!(result, Err(RepoError::Conflict(_))), "{result:?}");
    };
    let edit = SegmentUpdate {
        text_content: Some("x".into()),
        ..SegmentUpdate::default()
    };
    conflict(repo::create_segment(&mut conn, &project.id, &text("c")).map(drop));
    conflict(repo::append_segments(&mut conn, &project.id, &[text("c")]).map(drop));
    conflict(repo::update_segment(&mut conn, id, &edit).map(drop));
    conflict(repo::delete_segment(&mut conn, id).map(drop));
    conflict(repo::set_segment_image(&mut conn, id, None).map(drop));
    conflict(repo::set_segment_audio(&mut conn, id, Some(("a.wav", 1.0))).map(drop));
    let order: Vec<String> = segments.iter().rev().map(|s| s.id.clone()).collect();
    conflict(repo::reorder_segments(&mut conn, &project.id, &order).map(drop));
    conflict(repo::delete_project(&mut conn, &project.id).map(drop));
    let resize = ProjectUpdate {
        resolution_width: Some(1280),
        resolution_height: Some(720),
        ..ProjectUpdate::default()
    };
    conflict(repo::update_project(&mut conn, &project.id, &resize).map(drop));

    // Renaming and locking do not change the video.
    let rename = ProjectUpdate {
        title: Some("Renamed".into()),
        ..ProjectUpdate::default()
    };
    assert_eq!(
        repo::update_project(&mut conn, &project.id, &rename)
            .unwrap()
            .title,
        "Renamed"
    );
    let lock = SegmentUpdate {
        is_locked: Some(true),
        ..SegmentUpdate::default()
    };
    assert!(
        repo::update_segment(&mut conn, id, &lock)
            .unwrap()
            .is_locked
    );
    assert_eq!(repo::count_segments(&mut conn, &project.id).unwrap(), 2);
}

#[test]
fn file_changes_return_the_previous_file() {
    let (_dir, pool) = fresh_db();
    let mut conn = pool.get().unwrap();
    let (_, segments) = repo::import_project(&mut conn, "Files", &[text("a")]).unwrap();
    let id = &segments[0].id;
    assert!(matches!(
        repo::set_segment_audio(&mut conn, id, None),
        Err(RepoError::Invalid(_))
    ));
    repo::set_segment_audio(&mut conn, id, Some(("projects/p/audio/1.wav", 1.5))).unwrap();
    let (segment, old) =
        repo::set_segment_audio(&mut conn, id, Some(("projects/p/audio/2.wav", 2.5))).unwrap();
    assert_eq!(old.as_deref(), Some("projects/p/audio/1.wav"));
    assert_eq!(segment.audio_duration, Some(2.5));
    let (segment, old) = repo::set_segment_audio(&mut conn, id, None).unwrap();
    assert_eq!(old.as_deref(), Some("projects/p/audio/2.wav"));
    assert_eq!((segment.audio_file, segment.audio_duration), (None, None));
}

#[test]
fn projects_are_listed_newest_first_with_segment_counts() {
    let (_dir, pool) = fresh_db();
    let mut conn = pool.get().unwrap();
    let mut ids = Vec::new();
    for n in 0..5 {
        let texts: Vec<SegmentText> = (0..n).map(|i| text(&i.to_string())).collect();
        ids.push(
            repo::import_project(&mut conn, &format!("p{n}"), &texts)
                .unwrap()
                .0
                .id,
        );
    }
    let page = repo::list_projects(&mut conn, 0, 3).unwrap();
    assert_eq!(page.total, 5);
    let titles: Vec<(&str, i64)> = page
        .items
        .iter()
        .map(|s| (s.project.title.as_str(), s.segment_count))
        .collect();
    assert_eq!(titles, [("p4", 4), ("p3", 3), ("p2", 2)]);
    let rest = repo::list_projects(&mut conn, 3, 3).unwrap();
    assert_eq!(rest.items.len(), 2);
    assert_eq!(rest.items[1].project.id, ids[0]);

    repo::mark_completed(&mut conn, &ids[1], "/media/x.mp4", 1.0).unwrap();
    repo::mark_completed(&mut conn, &ids[3], "/media/y.mp4", 1.0).unwrap();
    let gallery = repo::list_completed_projects(&mut conn).unwrap();
    assert_eq!(
        gallery
            .iter()
            .map(|s| s.project.id.as_str())
            .collect::<Vec<_>>(),
        [ids[3].as_str(), ids[1].as_str()]
    );
}

#[test]
fn deleting_the_active_logo_switches_the_watermark_off() {
    let (_dir, pool) = fresh_db();
    let mut conn = pool.get().unwrap();
    let logo = |name: &str| Logo {
        id: uuid::Uuid::new_v4().to_string(),
        name: name.to_owned(),
        file: format!("logos/{name}.png"),
        uploaded_at: api::models::now(),
    };
    let (active, spare) = (logo("active"), logo("spare"));
    repo::create_logo(&mut conn, &active).unwrap();
    repo::create_logo(&mut conn, &spare).unwrap();
    assert_eq!(
        repo::list_logos(&mut conn)
            .unwrap()
            .iter()
            .map(|l| l.name.as_str())
            .collect::<Vec<_>>(),
        ["spare", "active"]
    );
    let missing = SettingsUpdate {
        active_logo: Some(Some(uuid::Uuid::new_v4().to_string())),
        ..SettingsUpdate::default()
    };
    assert!(matches!(
        repo::update_settings(&mut conn, &missing),
        Err(RepoError::NotFound { entity: "Logo", .. })
    ));
    let enable = SettingsUpdate {
        active_logo: Some(Some(active.id.clone())),
        logo_enabled: Some(true),
        ..SettingsUpdate::default()
    };
    repo::update_settings(&mut conn, &enable).unwrap();

    repo::delete_logo(&mut conn, &spare.id).unwrap();
    let settings = repo::get_settings(&mut conn).unwrap();
    assert_eq!(settings.active_logo.as_deref(), Some(active.id.as_str()));
    assert!(settings.logo_enabled);

    let deleted = repo::delete_logo(&mut conn, &active.id).unwrap();
    assert_eq!(deleted.file, "logos/active.png");
    let settings = repo::get_settings(&mut conn).unwrap();
    assert_eq!(settings.active_logo, None);
    assert!(!settings.logo_enabled);
    assert!(repo::list_logos(&mut conn).unwrap().is_empty());
}
