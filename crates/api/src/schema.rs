//! Diesel table definitions for both backends, kept by hand in step with `migrations/` and
//! `migrations-postgres/` (the column types are the ones `diesel print-schema` derives from the
//! SQL).

diesel::table! {
    projects (id) {
        id -> Text,
        title -> Text,
        created_at -> Timestamp,
        updated_at -> Timestamp,
        status -> Text,
        resolution_width -> Integer,
        resolution_height -> Integer,
        framerate -> Integer,
        output_path -> Nullable<Text>,
        output_duration -> Nullable<Double>,
    }
}

diesel::table! {
    segments (id) {
        id -> Text,
        project_id -> Text,
        sequence_index -> Integer,
        text_content -> Text,
        image_prompt -> Text,
        image_file -> Nullable<Text>,
        audio_file -> Nullable<Text>,
        audio_duration -> Nullable<Double>,
        is_locked -> Bool,
        created_at -> Timestamp,
        updated_at -> Timestamp,
    }
}

diesel::table! {
    logos (id) {
        id -> Text,
        name -> Text,
        file -> Text,
        uploaded_at -> Timestamp,
    }
}

diesel::table! {
    global_settings (id) {
        id -> Integer,
        default_voice_id -> Text,
        tts_speed -> Double,
        subtitle_font_family -> Text,
        subtitle_font_size -> Integer,
        subtitle_font_color -> Text,
        subtitle_color -> Text,
        subtitle_position -> Text,
        subtitle_font -> Text,
        custom_font_file -> Nullable<Text>,
        subtitles_enabled -> Bool,
        render_width -> Integer,
        render_height -> Integer,
        render_fps -> Integer,
        ken_burns_zoom -> Double,
        zoom_intensity -> Double,
        transition_duration -> Double,
        inter_segment_silence -> Double,
        logo_enabled -> Bool,
        active_logo -> Nullable<Text>,
        logo_scale -> Double,
        logo_position -> Text,
        logo_opacity -> Double,
        logo_margin -> Integer,
        created_at -> Timestamp,
        updated_at -> Timestamp,
        subtitle_highlight_color -> Nullable<Text>,
        music_enabled -> Bool,
        music_file -> Nullable<Text>,
        music_volume -> Double,
        music_ducking_db -> Double,
        loudness_target_lufs -> Nullable<Double>,
    }
}

diesel::table! {
    /// PostgreSQL only: the shared job queue (`jobs::store`).
    jobs (task_id) {
        task_id -> Text,
        job -> Text,
        status -> Text,
        cancel_requested -> Bool,
        progress_current -> Nullable<Integer>,
        progress_total -> Nullable<Integer>,
        progress_percentage -> Nullable<Integer>,
        progress_phase -> Nullable<Text>,
        detail -> Nullable<Text>,
        result -> Nullable<Text>,
        error -> Nullable<Text>,
        worker -> Nullable<Text>,
        lease_expires_at -> Nullable<Timestamp>,
        attempts -> Integer,
        created_at -> Timestamp,
        started_at -> Nullable<Timestamp>,
        finished_at -> Nullable<Timestamp>,
    }
}

diesel::table! {
    /// PostgreSQL only: running renders' chunks offered to idle workers (`jobs::chunks`).
    chunk_jobs (render_task_id, chunk_key) {
        render_task_id -> Text,
        chunk_key -> Text,
        position -> Integer,
        job -> Text,
        worker -> Nullable<Text>,
        lease_expires_at -> Nullable<Timestamp>,
        done -> Bool,
        created_at -> Timestamp,
    }
}

diesel::joinable!(segments -> projects (project_id));
diesel::joinable!(global_settings -> logos (active_logo));

diesel::allow_tables_to_appear_in_same_query!(projects, segments, logos, global_settings);
