-- The chunks of running renders, offered to idle workers (PostgreSQL only, like `jobs`). A
-- render inserts the chunks it has to encode, takes each one before encoding it itself, and
-- deletes its rows when it ends. An idle worker takes some, encodes them into the shared chunk
-- cache under a lease it renews, and marks them done; the render splices them from the cache.
CREATE TABLE chunk_jobs (
    render_task_id TEXT NOT NULL,
    chunk_key TEXT NOT NULL,
    -- The order the render offered them in; helpers take from the end.
    position INTEGER NOT NULL,
    -- The render's job as JSON (`api::jobs::Job`): a helper plans the same chunks from it.
    job TEXT NOT NULL,
    -- NULL while offered; then the render's own worker or a helper.
    worker TEXT,
    -- A helper's lease; NULL when the render took the chunk itself.
    lease_expires_at TIMESTAMP,
    done BOOLEAN NOT NULL DEFAULT FALSE,
    created_at TIMESTAMP NOT NULL,
    PRIMARY KEY (render_task_id, chunk_key)
);

CREATE INDEX chunk_jobs_offered ON chunk_jobs (created_at) WHERE worker IS NULL;
