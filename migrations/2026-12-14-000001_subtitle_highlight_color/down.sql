ALTER TABLE global_settings DROP COLUMN subtitle_highlight_color;
