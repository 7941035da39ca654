ALTER TABLE projects DROP COLUMN output_duration;
