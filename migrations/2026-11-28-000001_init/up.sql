-- StoryFlow's schema. Ids are lowercase hyphenated UUID strings; timestamps are UTC, written by
-- the application (diesel stores them as 'YYYY-MM-DD HH:MM:SS.ffffff' text, which sorts in
-- time order). File columns hold paths relative to the media root, e.g.
-- 'projects/<project id>/images/<uuid>.png', never absolute paths or URLs.

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
    -- URL-relative '/media/projects/<id>/output/final.mp4' once a render has succeeded.
    output_path TEXT
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
    audio_duration DOUBLE,
    is_locked BOOLEAN NOT NULL DEFAULT 0,
    created_at TIMESTAMP NOT NULL,
    updated_at TIMESTAMP NOT NULL,
    -- Also the index for "segments of a project in order". Renumbering must go through
    -- temporary negative indexes so no intermediate state collides.
    UNIQUE (project_id, sequence_index)
);

CREATE TABLE logos (
    id TEXT PRIMARY KEY NOT NULL,
    name TEXT NOT NULL,
    file TEXT NOT NULL,
    uploaded_at TIMESTAMP NOT NULL
);

-- One row (id = 1), created with the defaults in models.rs on first read.
CREATE TABLE global_settings (
    id INTEGER PRIMARY KEY NOT NULL CHECK (id = 1),
    default_voice_id TEXT NOT NULL,
    tts_speed DOUBLE NOT NULL,
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
    ken_burns_zoom DOUBLE NOT NULL,
    zoom_intensity DOUBLE NOT NULL,
    transition_duration DOUBLE NOT NULL,
    inter_segment_silence DOUBLE NOT NULL,
    logo_enabled BOOLEAN NOT NULL,
    active_logo TEXT REFERENCES logos (id) ON DELETE SET NULL,
    logo_scale DOUBLE NOT NULL,
    logo_position TEXT NOT NULL,
    logo_opacity DOUBLE NOT NULL,
    logo_margin INTEGER NOT NULL,
    created_at TIMESTAMP NOT NULL,
    updated_at TIMESTAMP NOT NULL
);
