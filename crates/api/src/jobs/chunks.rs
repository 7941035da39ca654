//! One render across many workers: the `chunk_jobs` table (PostgreSQL only) and
//! [`PgChunkExchange`], the render's side of it (`core_engine::exchange::ChunkExchange`).
//!
//! A render running on a worker offers the chunks it has to encode; its own encoders take them
//! one by one, and idle workers take some too ([`claim`], from the end of the offer), encode
//! them into the shared chunk cache (`core_engine::PlannedRender`) under a lease they renew,
//! and mark them done. The render splices them from the cache, encodes itself any whose
//! helper's lease ran out, and deletes its rows when it ends, which tells the helpers still
//! encoding one of its chunks to stop. Times are the database's clock, as in `store`.

use std::time::Duration;

use core_engine::chunk_plan::ChunkKey;
use core_engine::exchange::ChunkExchange;
use diesel::pg::PgConnection;
use diesel::prelude::*;
use diesel::result::Error as DieselError;
use diesel::sql_types::{Array, BigInt, Bool, Double, Integer, Text};
use task_manager::error_chain;

use super::queue::with_pg;
use crate::db::DbPool;

/// The database's clock in UTC, as `store` writes times.
const NOW: &str = "timezone('UTC', now())";

/// A chunk a helper claimed.
#[derive(Debug, Clone, PartialEq, Eq, QueryableByName)]
pub struct ClaimedChunk {
    #[diesel(sql_type = Text)]
    pub render_task_id: String,
    #[diesel(sql_type = Text)]
    pub chunk_key: String,
    /// The render's job, as JSON.
    #[diesel(sql_type = Text)]
    pub job: String,
}

/// Offers `keys` of `render_task_id` (whose job is `job`), replacing an earlier offer of the
/// same render (a render taken over offers again).
pub fn offer(
    conn: &mut PgConnection,
    render_task_id: &str,
    job: &str,
    keys: &[String],
) -> Result<(), DieselError> {
    conn.transaction(|conn| {
        diesel::sql_query("DELETE FROM chunk_jobs WHERE render_task_id = $1")
            .bind::<Text, _>(render_task_id)
            .execute(conn)?;
        diesel::sql_query(format!(
            "INSERT INTO chunk_jobs (render_task_id, chunk_key, position, job, created_at) \
             SELECT $1, key, position, $2, {NOW} \
             FROM unnest($3::text[]) WITH ORDINALITY AS offered(key, position)"
        ))
        .bind::<Text, _>(render_task_id)
        .bind::<Text, _>(job)
        .bind::<Array<Text>, _>(keys)
        .execute(conn)?;
        Ok(())
    })
}

/// Takes `key` for the render's own worker `owner`: `false` when a helper has it. A key that
/// was never offered is the render's.
pub fn take(
    conn: &mut PgConnection,
    render_task_id: &str,
    owner: &str,
    key: &str,
) -> Result<bool, DieselError> {
    #[derive(QueryableByName)]
    struct Mine {
        #[diesel(sql_type = Bool)]
        mine: bool,
    }
    let row: Mine = diesel::sql_query(
        "WITH taken AS ( \
             UPDATE chunk_jobs SET worker = $2 \
             WHERE render_task_id = $1 AND chunk_key = $3 AND worker IS NULL RETURNING 1) \
         SELECT EXISTS (SELECT 1 FROM taken) OR NOT EXISTS ( \
             SELECT 1 FROM chunk_jobs WHERE render_task_id = $1 AND chunk_key = $3 \
                 AND worker IS NOT NULL AND worker <> $2) AS mine",
    )
    .bind::<Text, _>(render_task_id)
    .bind::<Text, _>(owner)
    .bind::<Text, _>(key)
    .get_result(conn)?;
    Ok(row.mine)
}

/// Of `keys` (chunks the render did not find in the cache), those a helper took and neither
/// finished nor renewed in time, or finished but the cache no longer has (evicted): now
/// `owner`'s.
pub fn reclaim_lost(
    conn: &mut PgConnection,
    render_task_id: &str,
    owner: &str,
    keys: &[String],
) -> Result<Vec<String>, DieselError> {
    #[derive(QueryableByName)]
    struct Key {
        #[diesel(sql_type = Text)]
        chunk_key: String,
    }
    let rows: Vec<Key> = diesel::sql_query(format!(
        "UPDATE chunk_jobs SET worker = $2, lease_expires_at = NULL \
         WHERE render_task_id = $1 AND chunk_key = ANY($3) AND worker <> $2 \
             AND (done OR lease_expires_at < {NOW}) \
         RETURNING chunk_key"
    ))
    .bind::<Text, _>(render_task_id)
    .bind::<Text, _>(owner)
    .bind::<Array<Text>, _>(keys)
    .load(conn)?;
    Ok(rows.into_iter().map(|row| row.chunk_key).collect())
}

/// Ends the render's offer; returns how many of its chunks each helper took and did not hand
/// back (the render found every one of those in the cache before it ended).
pub fn withdraw(
    conn: &mut PgConnection,
    render_task_id: &str,
    owner: &str,
) -> Result<Vec<(String, usize)>, DieselError> {
    #[derive(QueryableByName)]
    struct Share {
        #[diesel(sql_type = Text)]
        worker: String,
        #[diesel(sql_type = BigInt)]
        chunks: i64,
    }
    let shares: Vec<Share> = diesel::sql_query(
        "WITH gone AS ( \
             DELETE FROM chunk_jobs WHERE render_task_id = $1 RETURNING worker) \
         SELECT worker, count(*) AS chunks FROM gone WHERE worker <> $2 \
         GROUP BY worker ORDER BY worker",
    )
    .bind::<Text, _>(render_task_id)
    .bind::<Text, _>(owner)
    .load(conn)?;
    Ok(shares
        .into_iter()
        .map(|share| (share.worker, usize::try_from(share.chunks).unwrap_or(0)))
        .collect())
}

/// Claims for `helper`, until `lease` from now, up to `max` offered chunks of the running
/// render that has waited longest, from the end of its offer (its own encoders start with the
/// longest chunks, mostly from the front). Rows of a render whose job is no longer running
/// (failed after its workers kept dying) are never handed out.
pub fn claim(
    conn: &mut PgConnection,
    helper: &str,
    lease: Duration,
    max: usize,
) -> Result<Vec<ClaimedChunk>, DieselError> {
    diesel::sql_query(format!(
        "UPDATE chunk_jobs SET worker = $1, lease_expires_at = {NOW} + make_interval(secs => $2) \
         WHERE (render_task_id, chunk_key) IN ( \
             SELECT render_task_id, chunk_key FROM chunk_jobs \
             WHERE worker IS NULL AND render_task_id = ( \
                 SELECT render_task_id FROM chunk_jobs \
                 WHERE worker IS NULL AND EXISTS ( \
                     SELECT 1 FROM jobs WHERE jobs.task_id = chunk_jobs.render_task_id \
                         AND jobs.status = 'PROCESSING') \
                 ORDER BY created_at LIMIT 1) \
             ORDER BY position DESC LIMIT $3 FOR UPDATE SKIP LOCKED) \
         RETURNING render_task_id, chunk_key, job"
    ))
    .bind::<Text, _>(helper)
    .bind::<Double, _>(lease.as_secs_f64())
    .bind::<Integer, _>(i32::try_from(max).unwrap_or(i32::MAX))
    .load(conn)
}

/// Renews `helper`'s lease on `keys`; how many it still holds (0: the render withdrew).
pub fn renew(
    conn: &mut PgConnection,
    render_task_id: &str,
    helper: &str,
    keys: &[String],
    lease: Duration,
) -> Result<usize, DieselError> {
    diesel::sql_query(format!(
        "UPDATE chunk_jobs SET lease_expires_at = {NOW} + make_interval(secs => $4) \
         WHERE render_task_id = $1 AND worker = $2 AND chunk_key = ANY($3) AND NOT done"
    ))
    .bind::<Text, _>(render_task_id)
    .bind::<Text, _>(helper)
    .bind::<Array<Text>, _>(keys)
    .bind::<Double, _>(lease.as_secs_f64())
    .execute(conn)
}

/// Marks `made` done and hands `left` (claimed, not made) back to the render at once.
pub fn finish(
    conn: &mut PgConnection,
    render_task_id: &str,
    helper: &str,
    made: &[String],
    left: &[String],
) -> Result<(), DieselError> {
    diesel::sql_query(format!(
        "UPDATE chunk_jobs SET \
             done = chunk_key = ANY($3), \
             lease_expires_at = CASE WHEN chunk_key = ANY($3) THEN lease_expires_at \
                                     ELSE {NOW} - interval '1 second' END \
         WHERE render_task_id = $1 AND worker = $2 \
             AND (chunk_key = ANY($3) OR chunk_key = ANY($4))"
    ))
    .bind::<Text, _>(render_task_id)
    .bind::<Text, _>(helper)
    .bind::<Array<Text>, _>(made)
    .bind::<Array<Text>, _>(left)
    .execute(conn)?;
    Ok(())
}

/// A render's chunk exchange through `chunk_jobs`. The database being out of reach never fails
/// the render: it is logged, and the render encodes the chunks itself.
#[derive(Debug)]
pub struct PgChunkExchange {
    pool: DbPool,
    render_task_id: String,
    /// The render's worker.
    owner: String,
    /// The render's job, as JSON, for the helpers.
    job: String,
}

impl PgChunkExchange {
    pub fn new(pool: DbPool, render_task_id: &str, owner: &str, job: String) -> Self {
        Self {
            pool,
            render_task_id: render_task_id.to_owned(),
            owner: owner.to_owned(),
            job,
        }
    }

    fn run<T>(
        &self,
        what: &str,
        work: impl FnOnce(&mut PgConnection) -> Result<T, DieselError>,
    ) -> Option<T> {
        match with_pg(&self.pool, |conn| Ok(work(conn)?)) {
            Ok(value) => Some(value),
            Err(err) => {
                log::warn!(
                    "render {}: cannot {what}: {}",
                    self.render_task_id,
                    error_chain(&err)
                );
                None
            }
        }
    }
}

fn texts(keys: &[ChunkKey]) -> Vec<String> {
    keys.iter().map(ToString::to_string).collect()
}

impl ChunkExchange for PgChunkExchange {
    fn offer(&self, keys: &[ChunkKey]) {
        let keys = texts(keys);
        if self
            .run("offer chunks to other workers", |conn| {
                offer(conn, &self.render_task_id, &self.job, &keys)
            })
            .is_some()
        {
            log::debug!(
                "render {}: {} chunk(s) offered to other workers",
                self.render_task_id,
                keys.len()
            );
        }
    }

    fn take(&self, key: &ChunkKey) -> bool {
        self.run("take a chunk", |conn| {
            take(conn, &self.render_task_id, &self.owner, key.as_str())
        })
        .unwrap_or(true)
    }

    fn reclaim_lost(&self, keys: &[ChunkKey]) -> Vec<ChunkKey> {
        let keys = texts(keys);
        self.run("look for chunks lost by other workers", |conn| {
            reclaim_lost(conn, &self.render_task_id, &self.owner, &keys)
        })
        .unwrap_or_default()
        .iter()
        .filter_map(|key| ChunkKey::parse(key))
        .collect()
    }

    fn withdraw(&self) -> Vec<(String, usize)> {
        self.run("withdraw its chunk offer", |conn| {
            withdraw(conn, &self.render_task_id, &self.owner)
        })
        .unwrap_or_default()
    }
}
