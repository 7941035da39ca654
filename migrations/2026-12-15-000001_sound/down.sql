ALTER TABLE global_settings DROP COLUMN loudness_target_lufs;
ALTER TABLE global_settings DROP COLUMN music_ducking_db;
ALTER TABLE global_settings DROP COLUMN music_volume;
ALTER TABLE global_settings DROP COLUMN music_file;
ALTER TABLE global_settings DROP COLUMN music_enabled;
