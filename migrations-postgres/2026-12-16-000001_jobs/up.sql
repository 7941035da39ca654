-- The shared job queue (PostgreSQL only: with SQLite, `serve` runs its jobs in process). One row
-- per task id; workers claim rows with FOR UPDATE SKIP LOCKED under a lease they renew while
-- the job runs, and a row whose lease ran out is taken over by another worker. Timestamps are
-- the database's own clock in UTC, so the machines' clocks never matter.
CREATE TABLE jobs (
    task_id TEXT PRIMARY KEY NOT NULL,
    -- The job as JSON (`api::jobs::Job`): its kind and ids.
    job TEXT NOT NULL,
    status TEXT NOT NULL DEFAULT 'PENDING'
        CHECK (status IN ('PENDING', 'PROCESSING', 'COMPLETED', 'FAILED', 'CANCELLED')),
    cancel_requested BOOLEAN NOT NULL DEFAULT FALSE,
    progress_current INTEGER,
    progress_total INTEGER,
    progress_percentage INTEGER,
    progress_phase TEXT,
    -- JSON: what the running job last reported besides its progress; its result once done.
    detail TEXT,
    result TEXT,
    error TEXT,
    -- The worker holding (or last holding) the job, and until when its lease runs.
    worker TEXT,
    lease_expires_at TIMESTAMP,
    -- How many times a worker took it; a job whose workers keep dying is failed, not retried.
    attempts INTEGER NOT NULL DEFAULT 0,
    created_at TIMESTAMP NOT NULL,
    started_at TIMESTAMP,
    finished_at TIMESTAMP
);

CREATE INDEX jobs_claimable ON jobs (created_at) WHERE status IN ('PENDING', 'PROCESSING');
