-- StoryFlow's schema for PostgreSQL: the state the SQLite migrations in ../migrations end in
-- (read their comments for the meaning of each column). A schema change is written once per
-- backend: a new migration here and one in ../migrations, ending in the same columns (the
-- api crate's integration tests compare both). Ids are lowercase hyphenated UUID strings;
-- timestamps are UTC without a zone, written by the application.

CREATE TABLE projects (
    id TEXT PRIMARY KEY NOT NULL,
    title TEXT NOT NULL,
    created_at TIMESTAMP NOT NULL,
    updated_at TIMESTAMP NOT NULL,
    status TEXT NOT NULL DEFAULT 'DRAFT'
        CHECK (status IN ('DRAFT', 'PROCESSING', 'COMPLETED', 'FAILED')),
    resolution_width INTEGER NOT NULL DEFAULT 1920,
    resolution_height INTEGER NOT NULL DEFAULT 1080,
    framerate INTEGER NOT NULL DEFAULT 30,
    output_path TEXT,
    output_duration DOUBLE PRECISION
);

CREATE INDEX projects_created_at ON projects (created_at);
CREATE INDEX projects_status ON projects (status);

CREATE TABLE segments (
    id TEXT PRIMARY KEY NOT NULL,
    project_id TEXT NOT NULL REFERENCES projects (id) ON DELETE CASCADE,
    sequence_index INTEGER NOT NULL,
    text_content TEXT NOT NULL DEFAULT '',
    image_prompt TEXT NOT NULL DEFAULT '',
    image_file TEXT,
    audio_file TEXT,
    audio_duration DOUBLE PRECISION,
    is_locked BOOLEAN NOT NULL DEFAULT FALSE,
    created_at TIMESTAMP NOT NULL,
    updated_at TIMESTAMP NOT NULL,
    UNIQUE (project_id, sequence_index)
);

CREATE TABLE logos (
    id TEXT PRIMARY KEY NOT NULL,
    name TEXT NOT NULL,
    file TEXT NOT NULL,
    uploaded_at TIMESTAMP NOT NULL
);

CREATE TABLE global_settings (
    id INTEGER PRIMARY KEY NOT NULL CHECK (id = 1),
    default_voice_id TEXT NOT NULL,
    tts_speed DOUBLE PRECISION NOT NULL,
    subtitle_font_family TEXT NOT NULL,
    subtitle_font_size INTEGER NOT NULL,
    subtitle_font_color TEXT NOT NULL,
    subtitle_color TEXT NOT NULL,
    subtitle_position TEXT NOT NULL,
    subtitle_font TEXT NOT NULL,
    custom_font_file TEXT,
    subtitles_enabled BOOLEAN NOT NULL,
    render_width INTEGER NOT NULL,
    render_height INTEGER NOT NULL,
    render_fps INTEGER NOT NULL,
    ken_burns_zoom DOUBLE PRECISION NOT NULL,
    zoom_intensity DOUBLE PRECISION NOT NULL,
    transition_duration DOUBLE PRECISION NOT NULL,
    inter_segment_silence DOUBLE PRECISION NOT NULL,
    logo_enabled BOOLEAN NOT NULL,
    active_logo TEXT REFERENCES logos (id) ON DELETE SET NULL,
    logo_scale DOUBLE PRECISION NOT NULL,
    logo_position TEXT NOT NULL,
    logo_opacity DOUBLE PRECISION NOT NULL,
    logo_margin INTEGER NOT NULL,
    created_at TIMESTAMP NOT NULL,
    updated_at TIMESTAMP NOT NULL,
    subtitle_highlight_color TEXT DEFAULT '#FFD400',
    music_enabled BOOLEAN NOT NULL DEFAULT FALSE,
    music_file TEXT,
    music_volume DOUBLE PRECISION NOT NULL DEFAULT 0.25,
    music_ducking_db DOUBLE PRECISION NOT NULL DEFAULT 12.0,
    loudness_target_lufs DOUBLE PRECISION DEFAULT -16.0
);
