DROP TABLE chunk_jobs;
