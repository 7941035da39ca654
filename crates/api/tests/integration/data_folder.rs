//! The server's data folder across restarts, on the embedded SQLite database: a render left
//! running by a server that died is failed at start-up and its temporary files removed (on
//! PostgreSQL, where workers own the renders, see `jobs::start_up_fails_only_the_renders_whose_job_was_never_queued`),
//! and a relative `--data-dir` works.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::path::PathBuf;

use api::models::ProjectStatus;
use api::repository;
use serde_json::Value;

use crate::common::spawn_app_in;
use crate::sqlite::render_api::{import_demo, project_row, status_path, wait_until_finished};

#[test]
fn renders_to_completed_with_a_relative_data_folder() {
    // A relative path, as `--data-dir ./data` gives the server.
    struct RemoveOnDrop(PathBuf);
    impl Drop for RemoveOnDrop {
        fn drop(&mut self) {
            let _ = std::fs::remove_dir_all(&self.0);
        }
    }
    let relative = RemoveOnDrop(PathBuf::from(format!(
        "relative-data-{}",
        uuid::Uuid::new_v4()
    )));
    assert!(relative.0.is_relative());
    let app = spawn_app_in(&relative.0);
    let project = import_demo(&app);
    assert_eq!(
        app.post_empty(&format!("/api/projects/{project}/render/"))
            .status(),
        202
    );
    let bodies = wait_until_finished(&app, &project);
    let last = bodies.last().unwrap();
    assert_eq!(last["status"], "COMPLETED", "{last}");
}

#[test]
fn restart_recovers_interrupted_renders_and_removes_temporary_outputs() {
    let data = tempfile::tempdir().unwrap();
    let project = {
        let app = spawn_app_in(data.path());
        let project = import_demo(&app);
        let mut conn = app.pool().get().unwrap();
        assert!(repository::try_start_render(&mut conn, &project).unwrap());
        project
    };
    let out = data.path().join(format!("media/projects/{project}/output"));
    std::fs::create_dir_all(&out).unwrap();
    let leftover = out.join(format!(
        ".final.mp4{}12345",
        core_engine::TEMP_OUTPUT_MARKER
    ));
    std::fs::write(&leftover, b"half a video").unwrap();
    assert!(
        core_engine::is_temporary_output(&leftover),
        "{}",
        leftover.display()
    );

    let app = spawn_app_in(data.path());
    assert_eq!(project_row(&app, &project).status, ProjectStatus::Failed);
    assert!(!leftover.exists());
    let status: Value = app.get(&status_path(&project)).json().unwrap();
    assert_eq!(status["status"], "FAILED");
}
