-- Background music under every render, and the loudness the sound track is brought to. Existing
-- settings rows take the defaults, as new ones do; the defaults are the renderer's
-- (core_engine::MusicSpec and SoundSettings), which a test checks. A NULL loudness target
-- leaves the level alone; a NULL music file means none is stored.
ALTER TABLE global_settings ADD COLUMN music_enabled BOOLEAN NOT NULL DEFAULT 0;
ALTER TABLE global_settings ADD COLUMN music_file TEXT;
ALTER TABLE global_settings ADD COLUMN music_volume DOUBLE NOT NULL DEFAULT 0.25;
ALTER TABLE global_settings ADD COLUMN music_ducking_db DOUBLE NOT NULL DEFAULT 12.0;
ALTER TABLE global_settings ADD COLUMN loudness_target_lufs DOUBLE DEFAULT -16.0;
