//! Rows as diesel reads and writes them, plus the small value types around them.
//!
//! Each row is also the JSON the editor UI reads of it: one definition per resource, with
//! the serde attributes saying where the wire differs from the column (ISO-8601 dates,
//! `/media/...` URLs for media-relative paths, `project` for `project_id`). Shapes that add
//! to a row (counts, nested segments, pages) are in `views`.

use std::sync::atomic::{AtomicI64, Ordering};

use chrono::{NaiveDateTime, SubsecRound, Utc};
use core_engine::text_overlay::{format_hex_color, SubtitleStyle};
use core_engine::{MusicSpec, RenderSpec};
use diesel::backend::Backend;
use diesel::deserialize::{self, FromSql, FromSqlRow};
use diesel::expression::AsExpression;
use diesel::prelude::*;
use diesel::serialize::{self, Output, ToSql};
use diesel::sql_types::Text;
use serde::{Deserialize, Serialize, Serializer};

use crate::schema::{global_settings, logos, projects, segments};
use crate::storage::media_url;

/// The current UTC time at microsecond precision, the precision the API reports, so a value
/// read back from the database equals the one written.
///
/// Never the same value twice in one process (a clash moves on by a microsecond), so lists
/// ordered by time keep creation order on every backend without a hidden row number.
pub fn now() -> NaiveDateTime {
    static LAST_MICROS: AtomicI64 = AtomicI64::new(i64::MIN);
    let current = Utc::now().naive_utc().trunc_subsecs(6);
    let micros = current.and_utc().timestamp_micros();
    let previous = LAST_MICROS.fetch_max(micros, Ordering::Relaxed);
    if micros > previous {
        return current;
    }
    // Another call took this microsecond (or the clock went back): take the next free one.
    let next = LAST_MICROS.fetch_add(1, Ordering::Relaxed) + 1;
    chrono::DateTime::from_timestamp_micros(next).map_or(current, |at| at.naive_utc())
}

/// ISO-8601 UTC with microseconds and a `Z`, as DRF writes dates.
pub fn iso8601(at: &NaiveDateTime) -> String {
    format!("{}Z", at.format("%Y-%m-%dT%H:%M:%S%.6f"))
}

/// Dates as the API writes them.
fn iso8601_json<S: Serializer>(at: &NaiveDateTime, serializer: S) -> Result<S::Ok, S::Error> {
    serializer.serialize_str(&iso8601(at))
}

/// A media-relative path as its `/media/...` URL.
fn media_url_json<S: Serializer>(relative: &str, serializer: S) -> Result<S::Ok, S::Error> {
    serializer.serialize_str(&media_url(relative))
}

/// An optional media-relative path as its `/media/...` URL, or `null`.
fn optional_media_url_json<S: Serializer>(
    relative: &Option<String>,
    serializer: S,
) -> Result<S::Ok, S::Error> {
    match relative {
        Some(relative) => media_url_json(relative, serializer),
        None => serializer.serialize_none(),
    }
}

/// A project's lifecycle: a text column (the schema's CHECK lists the same four values) read
/// and written as this type.
#[derive(
    Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize, AsExpression, FromSqlRow,
)]
#[diesel(sql_type = Text)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum ProjectStatus {
    Draft,
    Processing,
    Completed,
    Failed,
}

impl ProjectStatus {
    pub const ALL: [ProjectStatus; 4] = [
        ProjectStatus::Draft,
        ProjectStatus::Processing,
        ProjectStatus::Completed,
        ProjectStatus::Failed,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            Self::Draft => "DRAFT",
            Self::Processing => "PROCESSING",
            Self::Completed => "COMPLETED",
            Self::Failed => "FAILED",
        }
    }

    pub fn parse(text: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|status| status.as_str() == text)
    }

    /// Whether a render may start from this status (any but PROCESSING).
    pub fn can_start_render(self) -> bool {
        self != Self::Processing
    }
}

/// Stored as its text on every backend.
impl<DB> ToSql<Text, DB> for ProjectStatus
where
    DB: Backend,
    str: ToSql<Text, DB>,
{
    fn to_sql<'b>(&'b self, out: &mut Output<'b, '_, DB>) -> serialize::Result {
        self.as_str().to_sql(out)
    }
}

impl<DB> FromSql<Text, DB> for ProjectStatus
where
    DB: Backend,
    String: FromSql<Text, DB>,
{
    fn from_sql(value: DB::RawValue<'_>) -> deserialize::Result<Self> {
        let text = String::from_sql(value)?;
        Self::parse(&text).ok_or_else(|| format!("unknown project status {text:?}").into())
    }
}

impl std::fmt::Display for ProjectStatus {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

/// The JSON of a project in lists; the detail view adds `output_path` and `segments`, the
/// gallery the video's duration.
#[derive(Debug, Clone, PartialEq, Queryable, Selectable, Identifiable, Insertable, Serialize)]
#[diesel(table_name = projects, check_for_backend(diesel::sqlite::Sqlite, diesel::pg::Pg))]
pub struct Project {
    pub id: String,
    pub title: String,
    #[serde(serialize_with = "iso8601_json")]
    pub created_at: NaiveDateTime,
    #[serde(serialize_with = "iso8601_json")]
    pub updated_at: NaiveDateTime,
    pub status: ProjectStatus,
    pub resolution_width: i32,
    pub resolution_height: i32,
    pub framerate: i32,
    /// `/media/projects/{id}/output/final.mp4` after a successful render.
    #[serde(skip)]
    pub output_path: Option<String>,
    /// Seconds of the last successful render, as read back from the file.
    #[serde(skip)]
    pub output_duration: Option<f64>,
}

impl Project {
    /// A new DRAFT project with the default 1080p30 format.
    pub fn new(title: &str) -> Self {
        let at = now();
        Self {
            id: uuid::Uuid::new_v4().to_string(),
            title: title.to_owned(),
            created_at: at,
            updated_at: at,
            status: ProjectStatus::Draft,
            resolution_width: 1920,
            resolution_height: 1080,
            framerate: 30,
            output_path: None,
            output_duration: None,
        }
    }
}

/// A partial update of a project; `None` leaves a column alone.
#[derive(Debug, Clone, Default, PartialEq, AsChangeset)]
#[diesel(table_name = projects)]
pub struct ProjectUpdate {
    pub title: Option<String>,
    pub resolution_width: Option<i32>,
    pub resolution_height: Option<i32>,
    pub framerate: Option<i32>,
}

impl ProjectUpdate {
    /// Whether the update changes what a render produces (refused while rendering).
    pub fn touches_render_input(&self) -> bool {
        self.resolution_width.is_some()
            || self.resolution_height.is_some()
            || self.framerate.is_some()
    }
}

#[derive(Debug, Clone, PartialEq, Queryable, Selectable, Identifiable, Insertable, Serialize)]
#[diesel(table_name = segments, check_for_backend(diesel::sqlite::Sqlite, diesel::pg::Pg))]
pub struct Segment {
    pub id: String,
    #[serde(rename = "project")]
    pub project_id: String,
    /// 0-based position; contiguous within a project.
    pub sequence_index: i32,
    pub text_content: String,
    pub image_prompt: String,
    /// Relative to the media root: `projects/{project_id}/images/{uuid}.{ext}`.
    #[serde(serialize_with = "optional_media_url_json")]
    pub image_file: Option<String>,
    /// Relative to the media root: `projects/{project_id}/audio/{uuid}.{ext}`.
    #[serde(serialize_with = "optional_media_url_json")]
    pub audio_file: Option<String>,
    /// Seconds, measured by decoding the stored file.
    pub audio_duration: Option<f64>,
    pub is_locked: bool,
    #[serde(serialize_with = "iso8601_json")]
    pub created_at: NaiveDateTime,
    #[serde(serialize_with = "iso8601_json")]
    pub updated_at: NaiveDateTime,
}

/// The text of a segment to create; files come later by upload.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct SegmentText {
    pub text_content: String,
    pub image_prompt: String,
}

/// A partial update of a segment's editable fields.
#[derive(Debug, Clone, Default, PartialEq, Eq, AsChangeset)]
#[diesel(table_name = segments)]
pub struct SegmentUpdate {
    pub text_content: Option<String>,
    pub image_prompt: Option<String>,
    pub is_locked: Option<bool>,
}

impl SegmentUpdate {
    /// Whether anything besides the lock flag changes (refused on a locked segment).
    pub fn edits_content(&self) -> bool {
        self.text_content.is_some() || self.image_prompt.is_some()
    }

    pub fn is_empty(&self) -> bool {
        !self.edits_content() && self.is_locked.is_none()
    }
}

#[derive(Debug, Clone, PartialEq, Queryable, Selectable, Identifiable, Insertable, Serialize)]
#[diesel(table_name = logos, check_for_backend(diesel::sqlite::Sqlite, diesel::pg::Pg))]
pub struct Logo {
    pub id: String,
    /// The uploaded file's name without extension, for display only.
    pub name: String,
    /// Relative to the media root: `logos/{uuid}.{ext}`; always a relative URL on the wire,
    /// since the UI prefixes it with the server's address.
    #[serde(serialize_with = "media_url_json")]
    pub file: String,
    #[serde(serialize_with = "iso8601_json")]
    pub uploaded_at: NaiveDateTime,
}

/// The single settings row (id 1). On the wire every field but the id; numbers stay numbers
/// (the UI calls `.toFixed()` on some).
#[derive(Debug, Clone, PartialEq, Queryable, Selectable, Identifiable, Insertable, Serialize)]
#[diesel(table_name = global_settings, check_for_backend(diesel::sqlite::Sqlite, diesel::pg::Pg))]
pub struct GlobalSettings {
    #[serde(skip)]
    pub id: i32,
    pub default_voice_id: String,
    pub tts_speed: f64,
    pub subtitle_font_family: String,
    pub subtitle_font_size: i32,
    /// Same value as `subtitle_color`: the UI writes both names for one setting.
    pub subtitle_font_color: String,
    pub subtitle_color: String,
    pub subtitle_position: String,
    /// `#RRGGBB`: the word being spoken, in captions timed word by word; `None` = no highlight.
    pub subtitle_highlight_color: Option<String>,
    /// Legacy: names an uploaded custom font when set, else empty.
    pub subtitle_font: String,
    /// Relative to the media root: `fonts/{name}`.
    #[serde(serialize_with = "optional_media_url_json")]
    pub custom_font_file: Option<String>,
    pub subtitles_enabled: bool,
    pub render_width: i32,
    pub render_height: i32,
    pub render_fps: i32,
    /// Legacy, kept in the JSON; `zoom_intensity` drives the Ken Burns zoom.
    pub ken_burns_zoom: f64,
    pub zoom_intensity: f64,
    pub transition_duration: f64,
    pub inter_segment_silence: f64,
    pub logo_enabled: bool,
    pub active_logo: Option<String>,
    pub logo_scale: f64,
    pub logo_position: String,
    pub logo_opacity: f64,
    pub logo_margin: i32,
    /// Background music under every render, when a file is stored.
    pub music_enabled: bool,
    /// Relative to the media root: `music/{uuid}.{ext}`; set only by the music upload.
    #[serde(serialize_with = "optional_media_url_json")]
    pub music_file: Option<String>,
    /// Linear gain of the music.
    pub music_volume: f64,
    /// How far the music is lowered while narration speaks, in dB.
    pub music_ducking_db: f64,
    /// The sound track's integrated loudness in LUFS; `None` leaves the level alone.
    pub loudness_target_lufs: Option<f64>,
    #[serde(serialize_with = "iso8601_json")]
    pub created_at: NaiveDateTime,
    #[serde(serialize_with = "iso8601_json")]
    pub updated_at: NaiveDateTime,
}

impl GlobalSettings {
    /// The only id the table accepts.
    pub const ID: i32 = 1;

    /// The documented defaults (BRIEF §3, UI contract §5), written on first read. What the
    /// renderer has a default for (size, frame rate, motion, timing, subtitle placement, music
    /// level, loudness) is taken from it, so the two never disagree.
    pub fn defaults(at: NaiveDateTime) -> Self {
        let render = RenderSpec::default();
        let subtitles = SubtitleStyle::default();
        Self {
            id: Self::ID,
            default_voice_id: tts::DEFAULT_VOICE_ID.to_owned(),
            tts_speed: 1.0,
            subtitle_font_family: "Arial".to_owned(),
            subtitle_font_size: 48,
            subtitle_font_color: "#FFFFFF".to_owned(),
            subtitle_color: "#FFFFFF".to_owned(),
            subtitle_position: subtitles.position.as_str().to_owned(),
            subtitle_highlight_color: subtitles.highlight_color.map(format_hex_color),
            subtitle_font: String::new(),
            custom_font_file: None,
            subtitles_enabled: true,
            render_width: dimension(render.width),
            render_height: dimension(render.height),
            render_fps: dimension(render.fps),
            ken_burns_zoom: 1.2,
            zoom_intensity: render.zoom_intensity,
            transition_duration: render.transition_duration,
            inter_segment_silence: render.inter_segment_silence,
            logo_enabled: false,
            active_logo: None,
            logo_scale: 0.15,
            logo_position: "bottom-right".to_owned(),
            logo_opacity: 1.0,
            logo_margin: 20,
            music_enabled: false,
            music_file: None,
            music_volume: MusicSpec::DEFAULT_VOLUME,
            music_ducking_db: MusicSpec::DEFAULT_DUCKING_DB,
            loudness_target_lufs: render.sound.loudness_target_lufs,
            created_at: at,
            updated_at: at,
        }
    }
}

/// A renderer size or rate as its column stores it (the renderer's bounds fit an `i32`).
fn dimension(value: u32) -> i32 {
    i32::try_from(value).unwrap_or(i32::MAX)
}

/// A partial update of the settings; `None` leaves a column alone, and for nullable columns
/// `Some(None)` clears it.
#[derive(Debug, Clone, Default, PartialEq, AsChangeset)]
#[diesel(table_name = global_settings)]
pub struct SettingsUpdate {
    pub default_voice_id: Option<String>,
    pub tts_speed: Option<f64>,
    pub subtitle_font_family: Option<String>,
    pub subtitle_font_size: Option<i32>,
    pub subtitle_font_color: Option<String>,
    pub subtitle_color: Option<String>,
    pub subtitle_position: Option<String>,
    pub subtitle_highlight_color: Option<Option<String>>,
    pub subtitle_font: Option<String>,
    pub custom_font_file: Option<Option<String>>,
    pub subtitles_enabled: Option<bool>,
    pub render_width: Option<i32>,
    pub render_height: Option<i32>,
    pub render_fps: Option<i32>,
    pub ken_burns_zoom: Option<f64>,
    pub zoom_intensity: Option<f64>,
    pub transition_duration: Option<f64>,
    pub inter_segment_silence: Option<f64>,
    pub logo_enabled: Option<bool>,
    pub active_logo: Option<Option<String>>,
    pub logo_scale: Option<f64>,
    pub logo_position: Option<String>,
    pub logo_opacity: Option<f64>,
    pub logo_margin: Option<i32>,
    pub music_enabled: Option<bool>,
    pub music_file: Option<Option<String>>,
    pub music_volume: Option<f64>,
    pub music_ducking_db: Option<f64>,
    pub loudness_target_lufs: Option<Option<f64>>,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn status_text_round_trips() {
        for status in ProjectStatus::ALL {
            assert_eq!(ProjectStatus::parse(status.as_str()), Some(status));
            assert_eq!(serde_json::to_value(status).unwrap(), status.as_str());
        }
        assert_eq!(ProjectStatus::parse("draft"), None);
        assert_eq!(ProjectStatus::parse("RENDERING"), None);
    }

    #[test]
    fn dates_are_iso_utc_with_microseconds() {
        let at = chrono::NaiveDate::from_ymd_opt(2026, 2, 23)
            .unwrap()
            .and_hms_micro_opt(10, 51, 22, 123_456)
            .unwrap();
        assert_eq!(iso8601(&at), "2026-02-23T10:51:22.123456Z");
        assert_eq!(now().and_utc().timestamp_subsec_nanos() % 1000, 0);
    }
}
