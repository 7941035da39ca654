-- Seconds of the last successful render, read back from the verified file; the gallery
-- shows it. NULL until a render completes (and for videos rendered before this column).
ALTER TABLE projects ADD COLUMN output_duration DOUBLE;
