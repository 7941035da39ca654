//! The shared job queue on a real PostgreSQL server: claims under concurrency, leases that run
//! out and are taken over, cancel requests, jobs whose workers keep dying.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::collections::HashMap;
use std::sync::{Arc, Barrier, Mutex};
use std::time::Duration;

use api::db::{AnyConnection, DbPool};
use api::jobs::store::{self, JobRow};
use api::jobs::{Job, JobQueue, QueueError, MAX_ATTEMPTS};
use api::storage::MediaStore;
use diesel::PgConnection;
use task_manager::{TaskError, TaskStatus};

use crate::common::Backend;

fn pool() -> (DbPool, tempfile::TempDir) {
    let dir = tempfile::tempdir().unwrap();
    (Backend::Postgres.fresh_pool(dir.path()), dir)
}

fn queue(pool: &DbPool) -> JobQueue {
    JobQueue::Shared {
        pool: pool.clone(),
        retention: Duration::from_secs(3600),
    }
}

fn narrate(segment: &str) -> Job {
    Job::NarrateSegment {
        segment_id: segment.to_owned(),
    }
}

fn pg<T>(pool: &DbPool, work: impl FnOnce(&mut PgConnection) -> T) -> T {
    let mut conn = pool.get().unwrap();
    match &mut *conn {
        AnyConnection::Postgresql(pg) => work(pg),
        AnyConnection::Sqlite(_) => unreachable!("a PostgreSQL pool"),
    }
}

fn claim(pool: &DbPool, worker: &str, lease: Duration) -> Option<JobRow> {
    pg(pool, |conn| store::claim(conn, worker, lease).unwrap())
}

#[test]
fn workers_claiming_at_once_each_get_a_different_job_in_queue_order() {
    const JOBS: usize = 24;
    const WORKERS: usize = 4;
    let (pool, _dir) = pool();
    let queue = queue(&pool);
    for i in 0..JOBS {
        queue.submit(&format!("job-{i:02}"), narrate("s")).unwrap();
    }
    let claims = Arc::new(Mutex::new(Vec::new()));
    let barrier = Arc::new(Barrier::new(WORKERS));
    let workers: Vec<_> = (0..WORKERS)
        .map(|w| {
            let (pool, claims, barrier) = (pool.clone(), claims.clone(), barrier.clone());
            std::thread::spawn(move || {
                barrier.wait();
                while let Some(row) = claim(&pool, &format!("w{w}"), Duration::from_secs(60)) {
                    assert_eq!(row.status, "PROCESSING");
                    assert_eq!(row.worker.as_deref(), Some(format!("w{w}").as_str()));
                    claims.lock().unwrap().push(row.task_id);
                }
            })
        })
        .collect();
    for worker in workers {
        worker.join().unwrap();
    }
    let claims = claims.lock().unwrap();
    let mut counts = HashMap::new();
    for id in claims.iter() {
        *counts.entry(id.clone()).or_insert(0) += 1;
    }
    assert_eq!(counts.len(), JOBS, "{claims:?}");
    assert!(counts.values().all(|&n| n == 1), "{counts:?}");
    assert!(claim(&pool, "late", Duration::from_secs(60)).is_none());
}

#[test]
fn an_expired_lease_is_taken_over_and_the_old_worker_can_no_longer_write() {
    let (pool, _dir) = pool();
    let queue = queue(&pool);
    queue.submit("render_x", narrate("s")).unwrap();
    let lease = Duration::from_millis(300);
    let first = claim(&pool, "a", lease).unwrap();
    assert_eq!(first.attempts, 1);
    assert!(claim(&pool, "b", lease).is_none(), "a's lease still runs");

    // "a" reports once, then stops (as if killed).
    let snapshot = queue.status("render_x").unwrap().unwrap().task;
    assert_eq!(
        pg(&pool, |c| store::report(
            c, "render_x", "a", lease, &snapshot
        )
        .unwrap()),
        Some(false)
    );
    std::thread::sleep(lease + Duration::from_millis(200));
    let taken = claim(&pool, "b", Duration::from_secs(60)).unwrap();
    assert_eq!(taken.task_id, "render_x");
    assert_eq!(taken.attempts, 2);
    assert_eq!(
        taken.started_at, first.started_at,
        "kept from the first claim"
    );
    let status = queue.status("render_x").unwrap().unwrap();
    assert_eq!(status.worker.as_deref(), Some("b"));

    // A stalled "a" waking up can neither renew nor record an outcome.
    assert_eq!(
        pg(&pool, |c| store::report(
            c, "render_x", "a", lease, &snapshot
        )
        .unwrap()),
        None
    );
    let mut done = snapshot.clone();
    done.status = TaskStatus::Failed;
    done.error = Some("stale".to_owned());
    assert!(!pg(&pool, |c| store::finish(c, "a", &done).unwrap()));
    done.status = TaskStatus::Completed;
    done.error = None;
    done.result = Some(serde_json::json!({"worker": "b"}));
    assert!(pg(&pool, |c| store::finish(c, "b", &done).unwrap()));
    let finished = queue.status("render_x").unwrap().unwrap().task;
    assert_eq!(finished.status, TaskStatus::Completed);
    assert_eq!(finished.result, Some(serde_json::json!({"worker": "b"})));
    assert!(finished.finished_at.is_some());
}

#[test]
fn cancel_ends_a_pending_job_and_reaches_a_running_one_through_its_reports() {
    let (pool, _dir) = pool();
    let queue = queue(&pool);
    queue.submit("pending", narrate("a")).unwrap();
    assert_eq!(queue.cancel("pending").unwrap(), TaskStatus::Cancelled);
    assert!(matches!(
        queue.cancel("pending"),
        Err(QueueError::Task(TaskError::AlreadyFinished(_)))
    ));
    assert!(matches!(
        queue.cancel("nope"),
        Err(QueueError::Task(TaskError::NotFound(_)))
    ));
    assert!(claim(&pool, "w", Duration::from_secs(60)).is_none());

    queue.submit("running", narrate("b")).unwrap();
    assert!(matches!(
        queue.submit("running", narrate("b")),
        Err(QueueError::Task(TaskError::AlreadyActive(_)))
    ));
    claim(&pool, "w", Duration::from_secs(60)).unwrap();
    assert_eq!(queue.cancel("running").unwrap(), TaskStatus::Processing);
    let snapshot = queue.status("running").unwrap().unwrap().task;
    assert!(snapshot.cancel_requested);
    let lease = Duration::from_secs(60);
    assert_eq!(
        pg(&pool, |c| store::report(
            c, "running", "w", lease, &snapshot
        )
        .unwrap()),
        Some(true)
    );

    // A finished id can be queued again, from scratch.
    queue.submit("pending", narrate("a")).unwrap();
    let again = queue.status("pending").unwrap().unwrap().task;
    assert_eq!(again.status, TaskStatus::Pending);
    assert!(!again.cancel_requested);
    assert!(again.finished_at.is_none());
}

#[test]
fn a_job_whose_workers_keep_dying_is_failed_not_retried_forever() {
    let (pool, _dir) = pool();
    let queue = queue(&pool);
    queue.submit("killer", narrate("s")).unwrap();
    let lease = Duration::from_millis(100);
    for attempt in 1..=MAX_ATTEMPTS {
        let row = claim(&pool, &format!("w{attempt}"), lease).unwrap();
        assert_eq!(row.attempts, attempt);
        std::thread::sleep(lease + Duration::from_millis(100));
    }
    assert!(claim(&pool, "next", lease).is_none());
    let failed = pg(&pool, |c| store::fail_exhausted(c).unwrap());
    assert_eq!(failed.len(), 1);
    let task = queue.status("killer").unwrap().unwrap().task;
    assert_eq!(task.status, TaskStatus::Failed);
    assert!(task.error.unwrap().contains("3 times"));
}

#[test]
fn start_up_fails_only_the_renders_whose_job_was_never_queued() {
    use api::models::ProjectStatus;
    use api::repository;

    let (pool, _dir) = pool();
    let queue = queue(&pool);
    let mut conn = pool.get().unwrap();
    let orphan = repository::create_project(&mut conn, "orphan").unwrap().id;
    let queued = repository::create_project(&mut conn, "queued").unwrap().id;
    let idle = repository::create_project(&mut conn, "idle").unwrap().id;
    for id in [&orphan, &queued] {
        assert!(repository::try_start_render(&mut conn, id).unwrap());
    }
    let job = Job::Render {
        project_id: queued.clone(),
        preview: None,
    };
    queue
        .submit(&api::tasks::render_task_id(&queued), job)
        .unwrap();

    let failed = pg(&pool, |c| store::fail_orphaned_renders(c).unwrap());
    assert_eq!(failed, std::slice::from_ref(&orphan));
    let mut status = |id: &str| repository::get_project(&mut conn, id).unwrap().status;
    assert_eq!(status(&orphan), ProjectStatus::Failed);
    assert_eq!(status(&queued), ProjectStatus::Processing);
    assert_eq!(status(&idle), ProjectStatus::Draft);
}

#[test]
fn reported_progress_never_goes_down_even_after_a_takeover() {
    let (pool, _dir) = pool();
    let queue = queue(&pool);
    queue.submit("r", narrate("s")).unwrap();
    let lease = Duration::from_secs(60);
    claim(&pool, "w", lease).unwrap();
    let mut snapshot = queue.status("r").unwrap().unwrap().task;
    for (percentage, phase) in [(60, "late"), (5, "again from the start")] {
        snapshot.progress = Some(task_manager::TaskProgress {
            current: 1,
            total: 4,
            percentage,
            phase: phase.to_owned(),
        });
        pg(&pool, |c| {
            store::report(c, "r", "w", lease, &snapshot).unwrap()
        });
    }
    let progress = queue.status("r").unwrap().unwrap().task.progress.unwrap();
    assert_eq!(progress.percentage, 60);
    assert_eq!(progress.phase, "again from the start");
}

#[test]
fn offered_chunks_go_once_each_to_the_render_or_a_helper_and_lost_ones_come_back() {
    use api::jobs::chunks;

    let (pool, _dir) = pool();
    let queue = queue(&pool);
    // Helpers only take chunks of renders that are running.
    for render in ["render_p", "render_q"] {
        queue.submit(render, narrate("s")).unwrap();
    }
    let keys: Vec<String> = (0..6).map(|i| format!("{i:064x}")).collect();
    let lease = Duration::from_millis(300);
    pg(&pool, |c| {
        chunks::offer(c, "render_p", "{}", &keys).unwrap()
    });
    assert!(pg(&pool, |c| chunks::claim(c, "helper", lease, 2).unwrap()).is_empty());
    claim(&pool, "owner", Duration::from_secs(60)).unwrap();

    // The render's own encoders start at the front, a helper takes from the back.
    assert!(pg(&pool, |c| chunks::take(
        c, "render_p", "owner", &keys[0]
    )
    .unwrap()));
    let claimed = pg(&pool, |c| chunks::claim(c, "helper", lease, 2).unwrap());
    let mut helped: Vec<String> = claimed.iter().map(|c| c.chunk_key.clone()).collect();
    helped.sort();
    assert_eq!(helped, keys[4..6]);
    assert!(claimed
        .iter()
        .all(|c| c.render_task_id == "render_p" && c.job == "{}"));
    let take = |key: &String| {
        pg(&pool, |c| {
            chunks::take(c, "render_p", "owner", key).unwrap()
        })
    };
    assert!(!take(&keys[5]));
    assert!(take(&keys[0]), "taken twice by the same render");
    for key in &keys[1..4] {
        assert!(take(key));
    }
    assert!(pg(&pool, |c| chunks::claim(c, "late", lease, 2).unwrap()).is_empty());

    // The helper renews, finishes one and is lost on the other.
    let renew = |keys: &[String]| {
        pg(&pool, |c| {
            chunks::renew(c, "render_p", "helper", keys, lease).unwrap()
        })
    };
    assert_eq!(renew(&helped), 2);
    pg(&pool, |c| {
        chunks::finish(c, "render_p", "helper", &keys[4..5], &[]).unwrap()
    });
    let reclaim = |render: &str, keys: &[String]| {
        pg(&pool, |c| {
            chunks::reclaim_lost(c, render, "owner", keys).unwrap()
        })
    };
    assert!(
        reclaim("render_p", &keys[5..6]).is_empty(),
        "its lease runs"
    );
    std::thread::sleep(lease + Duration::from_millis(200));
    assert_eq!(reclaim("render_p", &keys[5..6]), keys[5..6]);

    // A helper's chunk it could not make is handed back at once.
    pg(&pool, |c| {
        chunks::offer(c, "render_q", "{}", &keys[..1]).unwrap()
    });
    claim(&pool, "owner", Duration::from_secs(60)).unwrap();
    let claimed = pg(&pool, |c| {
        chunks::claim(c, "helper2", lease * 100, 4).unwrap()
    });
    assert_eq!(claimed.len(), 1);
    pg(&pool, |c| {
        chunks::finish(c, "render_q", "helper2", &[], &keys[..1]).unwrap()
    });
    assert_eq!(reclaim("render_q", &keys[..1]), keys[..1]);

    // Withdrawing tells who helped: the finished chunk's helper (the lost one is the
    // owner's now); the helpers' renewals find nothing left.
    assert_eq!(
        pg(&pool, |c| chunks::withdraw(c, "render_p", "owner").unwrap()),
        [("helper".to_owned(), 1)]
    );
    assert_eq!(renew(&helped), 0);
    assert!(pg(&pool, |c| chunks::withdraw(c, "render_q", "owner").unwrap()).is_empty());
}

#[test]
fn a_finished_chunk_the_cache_lost_goes_back_to_the_render() {
    use api::jobs::chunks;

    let (pool, _dir) = pool();
    queue(&pool).submit("render_e", narrate("s")).unwrap();
    claim(&pool, "owner", Duration::from_secs(60)).unwrap();
    let key = vec![format!("{:064x}", 7)];
    pg(&pool, |c| chunks::offer(c, "render_e", "{}", &key).unwrap());
    let lease = Duration::from_secs(60);
    assert_eq!(
        pg(&pool, |c| chunks::claim(c, "helper", lease, 1).unwrap()).len(),
        1
    );
    pg(&pool, |c| {
        chunks::finish(c, "render_e", "helper", &key, &[]).unwrap()
    });
    // The render asks only for chunks it did not find in the cache: this one was evicted.
    assert_eq!(
        pg(&pool, |c| chunks::reclaim_lost(
            c, "render_e", "owner", &key
        )
        .unwrap()),
        key
    );
}

#[test]
fn a_worker_that_lost_its_render_cannot_write_the_project() {
    use api::jobs::FencedProjectStore;
    use api::models::ProjectStatus;
    use api::render_store::DieselProjectStore;
    use api::repository;
    use api::tasks::ProjectStore;

    let (pool, dir) = pool();
    let mut conn = pool.get().unwrap();
    let project = repository::create_project(&mut conn, "fenced").unwrap().id;
    assert!(repository::try_start_render(&mut conn, &project).unwrap());
    let task_id = api::tasks::render_task_id(&project);
    let job = Job::Render {
        project_id: project.clone(),
        preview: None,
    };
    queue(&pool).submit(&task_id, job).unwrap();
    let lease = Duration::from_millis(200);
    claim(&pool, "stalled", lease).unwrap();
    std::thread::sleep(lease + Duration::from_millis(200));
    claim(&pool, "successor", Duration::from_secs(60)).unwrap();

    let fenced = |worker: &str| FencedProjectStore {
        inner: DieselProjectStore::new(
            pool.clone(),
            MediaStore::local(dir.path().join("media")),
            None,
        ),
        pool: pool.clone(),
        task_id: task_id.clone(),
        worker: worker.to_owned(),
    };
    let refused = fenced("stalled").mark_failed(&project).unwrap_err();
    assert!(refused.to_string().contains("no longer holds"), "{refused}");
    let status = |conn: &mut _| repository::get_project(conn, &project).unwrap().status;
    assert_eq!(status(&mut conn), ProjectStatus::Processing);
    fenced("successor")
        .mark_completed(&project, "/media/x.mp4", 2.0)
        .unwrap();
    assert_eq!(status(&mut conn), ProjectStatus::Completed);
}
