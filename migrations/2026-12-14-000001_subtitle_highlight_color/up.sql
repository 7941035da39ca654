-- The colour of the word being spoken in captions that follow the voice word by word; NULL
-- turns the highlight off. Existing settings rows take the default, as new ones do.
ALTER TABLE global_settings ADD COLUMN subtitle_highlight_color TEXT DEFAULT '#FFD400';
