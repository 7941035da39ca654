//! Checks request bodies before they reach the database, collecting every problem so a 400
//! lists each bad field (`{field: [messages]}`), the way DRF serializers answer.
//!
//! Bodies arrive as `serde_json::Value` rather than typed structs so that wrong types, unknown
//! fields and read-only fields each get a message under their own name.

use serde_json::{Map, Value};

use crate::errors::{ApiError, FieldErrors};
use crate::import_text;
use crate::models::{
    GlobalSettings, Project, ProjectUpdate, SegmentText, SegmentUpdate, SettingsUpdate,
};

/// Output sizes the renderer offers (width, height).
pub const RESOLUTION_PRESETS: [(i32, i32); 11] = [
    (1280, 720),
    (1920, 1080),
    (3840, 2160),
    (720, 1280),
    (1080, 1920),
    (720, 720),
    (1080, 1080),
    (864, 1080),
    (1080, 1350),
    (1440, 1080),
    (1080, 1440),
];
pub const FRAME_RATES: [i32; 3] = [24, 30, 60];
pub const TITLE_MAX_CHARS: usize = 255;
/// More segments than anyone narrates by hand; bounds the work of one import.
pub const MAX_IMPORT_SEGMENTS: usize = 2000;
pub const SUBTITLE_POSITIONS: [&str; 3] = ["bottom", "center", "top"];
pub const LOGO_POSITIONS: [&str; 4] = ["top-left", "top-right", "bottom-left", "bottom-right"];

/// Slack for range checks: UI sliders send float noise such as 2.0000000000000004.
const EPSILON: f64 = 1e-9;
const REQUIRED: &str = "This field is required.";
const READ_ONLY: &str = "This field is read-only.";
const UNKNOWN: &str = "Unknown field.";

/// Collects messages per field.
#[derive(Debug, Default)]
pub struct Errors(FieldErrors);

impl Errors {
    pub fn add(&mut self, field: &str, message: impl Into<String>) {
        self.0
            .entry(field.to_owned())
            .or_default()
            .push(message.into());
    }

    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }

    /// Keeps `value` when a check passed, records the message when it failed.
    pub fn check<T>(&mut self, field: &str, result: Result<T, String>) -> Option<T> {
        result.map_err(|message| self.add(field, message)).ok()
    }

    /// `Ok(value)` when nothing was recorded, else the 400 listing every message.
    pub fn finish<T>(self, value: T) -> Result<T, ApiError> {
        if self.0.is_empty() {
            Ok(value)
        } else {
            Err(ApiError::Validation(self.0))
        }
    }
}

/// The body as an object, or a 400 saying it must be one.
pub fn object(body: &Value) -> Result<&Map<String, Value>, ApiError> {
    body.as_object()
        .ok_or_else(|| ApiError::field("non_field_errors", "Expected a JSON object."))
}

pub fn string(value: &Value) -> Result<&str, String> {
    value.as_str().ok_or_else(|| "Must be a string.".to_owned())
}

pub fn boolean(value: &Value) -> Result<bool, String> {
    value
        .as_bool()
        .ok_or_else(|| "Must be a boolean.".to_owned())
}

/// A JSON number with no fractional part (`48` or `48.0`) that fits an `i32`.
pub fn integer(value: &Value) -> Result<i32, String> {
    let invalid = || "A valid integer is required.".to_owned();
    if let Some(int) = value.as_i64() {
        return i32::try_from(int).map_err(|_| invalid());
    }
    match value.as_f64() {
        Some(float) if float.fract() == 0.0 && float.abs() <= f64::from(i32::MAX) => {
            // Exact: integral and within i32 range.
            Ok(float as i32)
        }
        _ => Err(invalid()),
    }
}

pub fn number(value: &Value) -> Result<f64, String> {
    value
        .as_f64()
        .ok_or_else(|| "A valid number is required.".to_owned())
}

pub fn integer_in(value: &Value, min: i32, max: i32) -> Result<i32, String> {
    let int = integer(value)?;
    if (min..=max).contains(&int) {
        Ok(int)
    } else {
        Err(format!("Ensure this value is between {min} and {max}."))
    }
}

pub fn number_in(value: &Value, min: f64, max: f64) -> Result<f64, String> {
    let float = number(value)?;
    if float >= min - EPSILON && float <= max + EPSILON {
        Ok(float.clamp(min, max))
    } else {
        Err(format!("Ensure this value is between {min} and {max}."))
    }
}

pub fn choice(value: &Value, choices: &[&str]) -> Result<String, String> {
    let text = string(value)?;
    if choices.contains(&text) {
        Ok(text.to_owned())
    } else {
        Err(format!(
            "\"{text}\" is not a valid choice; use one of: {}.",
            choices.join(", ")
        ))
    }
}

pub fn one_of(value: &Value, choices: &[i32]) -> Result<i32, String> {
    let int = integer(value)?;
    if choices.contains(&int) {
        Ok(int)
    } else {
        let listed: Vec<String> = choices.iter().map(i32::to_string).collect();
        Err(format!(
            "\"{int}\" is not a valid choice; use one of: {}.",
            listed.join(", ")
        ))
    }
}

/// `#RGB` or `#RRGGBB`, any case; normalised to upper-case `#RRGGBB`.
pub fn hex_color(value: &Value) -> Result<String, String> {
    let text = string(value)?;
    let invalid = || format!("\"{text}\" is not a colour; use #RRGGBB or #RGB.");
    let digits = text.strip_prefix('#').ok_or_else(invalid)?;
    if !digits.chars().all(|c| c.is_ascii_hexdigit()) {
        return Err(invalid());
    }
    match digits.len() {
        6 => Ok(format!("#{}", digits.to_ascii_uppercase())),
        3 => Ok(digits.chars().fold(String::from("#"), |mut out, c| {
            out.push(c.to_ascii_uppercase());
            out.push(c.to_ascii_uppercase());
            out
        })),
        _ => Err(invalid()),
    }
}

/// A project title: trimmed, 1 to 255 characters.
pub fn title(value: &Value) -> Result<String, String> {
    let text = string(value)?.trim();
    if text.is_empty() {
        Err("This field may not be blank.".to_owned())
    } else if text.chars().count() > TITLE_MAX_CHARS {
        Err(format!(
            "Ensure this field has no more than {TITLE_MAX_CHARS} characters."
        ))
    } else {
        Ok(text.to_owned())
    }
}

/// A non-empty string of at most `max` characters.
pub fn short_text(value: &Value, max: usize) -> Result<String, String> {
    let text = string(value)?.trim();
    if text.is_empty() {
        Err("This field may not be blank.".to_owned())
    } else if text.chars().count() > max {
        Err(format!(
            "Ensure this field has no more than {max} characters."
        ))
    } else {
        Ok(text.to_owned())
    }
}

pub fn resolution(width: i32, height: i32) -> Result<(), String> {
    if RESOLUTION_PRESETS.contains(&(width, height)) {
        Ok(())
    } else {
        let listed: Vec<String> = RESOLUTION_PRESETS
            .iter()
            .map(|(w, h)| format!("{w}x{h}"))
            .collect();
        Err(format!(
            "{width}x{height} is not a supported resolution; use one of: {}.",
            listed.join(", ")
        ))
    }
}

/// A project's title and format, as sent on create or update.
#[derive(Debug, Default)]
struct ProjectFields {
    title: Option<String>,
    width: Option<i32>,
    height: Option<i32>,
    framerate: Option<i32>,
}

const PROJECT_READ_ONLY: [&str; 7] = [
    "id",
    "created_at",
    "updated_at",
    "status",
    "output_path",
    "segment_count",
    "segments",
];

fn project_fields(
    body: &Map<String, Value>,
    errors: &mut Errors,
    (current_width, current_height): (i32, i32),
) -> ProjectFields {
    let mut fields = ProjectFields::default();
    for (key, value) in body {
        match key.as_str() {
            "title" => fields.title = errors.check(key, title(value)),
            "resolution_width" => fields.width = errors.check(key, integer(value)),
            "resolution_height" => fields.height = errors.check(key, integer(value)),
            "framerate" => fields.framerate = errors.check(key, one_of(value, &FRAME_RATES)),
            key if PROJECT_READ_ONLY.contains(&key) => errors.add(key, READ_ONLY),
            key => errors.add(key, UNKNOWN),
        }
    }
    if fields.width.is_some() || fields.height.is_some() {
        let width = fields.width.unwrap_or(current_width);
        let height = fields.height.unwrap_or(current_height);
        errors.check("resolution", resolution(width, height));
    }
    fields
}

/// `POST /api/projects/`: `{title, resolution_width?, resolution_height?, framerate?}`.
pub fn new_project(body: &Value) -> Result<Project, ApiError> {
    let body = object(body)?;
    let mut errors = Errors::default();
    let mut project = Project::new("");
    let fields = project_fields(
        body,
        &mut errors,
        (project.resolution_width, project.resolution_height),
    );
    match fields.title {
        Some(title) => project.title = title,
        None if !body.contains_key("title") => errors.add("title", REQUIRED),
        None => {}
    }
    project.resolution_width = fields.width.unwrap_or(project.resolution_width);
    project.resolution_height = fields.height.unwrap_or(project.resolution_height);
    project.framerate = fields.framerate.unwrap_or(project.framerate);
    errors.finish(project)
}

/// `PATCH /api/projects/{id}/`: any of title, the resolution pair and the frame rate.
pub fn project_update(body: &Value, current: &Project) -> Result<ProjectUpdate, ApiError> {
    let body = object(body)?;
    let mut errors = Errors::default();
    let fields = project_fields(
        body,
        &mut errors,
        (current.resolution_width, current.resolution_height),
    );
    errors.finish(ProjectUpdate {
        title: fields.title,
        resolution_width: fields.width,
        resolution_height: fields.height,
        framerate: fields.framerate,
    })
}

const SEGMENT_READ_ONLY: [&str; 8] = [
    "id",
    "project",
    "sequence_index",
    "image_file",
    "audio_file",
    "audio_duration",
    "created_at",
    "updated_at",
];

/// `PATCH /api/segments/{id}/`: text_content, image_prompt, is_locked.
pub fn segment_update(body: &Value) -> Result<SegmentUpdate, ApiError> {
    let body = object(body)?;
    let mut errors = Errors::default();
    let mut update = SegmentUpdate::default();
    for (key, value) in body {
        match key.as_str() {
            "text_content" => {
                update.text_content = errors.check(key, string(value).map(str::to_owned));
            }
            "image_prompt" => {
                update.image_prompt = errors.check(key, string(value).map(str::to_owned));
            }
            "is_locked" => update.is_locked = errors.check(key, boolean(value)),
            key if SEGMENT_READ_ONLY.contains(&key) => errors.add(key, READ_ONLY),
            key => errors.add(key, UNKNOWN),
        }
    }
    errors.finish(update)
}

/// `POST /api/segments/`: `{project, text_content?, image_prompt?}`; returns the project id
/// (a valid UUID) and the text.
pub fn new_segment(body: &Value) -> Result<(String, SegmentText), ApiError> {
    let body = object(body)?;
    let mut errors = Errors::default();
    let mut project = None;
    let mut text = SegmentText::default();
    for (key, value) in body {
        match key.as_str() {
            "project" => project = errors.check(key, uuid_string(value)),
            "text_content" => {
                text.text_content = errors
                    .check(key, optional_string(value))
                    .unwrap_or_default();
            }
            "image_prompt" => {
                text.image_prompt = errors
                    .check(key, optional_string(value))
                    .unwrap_or_default();
            }
            key if SEGMENT_READ_ONLY.contains(&key) => errors.add(key, READ_ONLY),
            key => errors.add(key, UNKNOWN),
        }
    }
    if !body.contains_key("project") {
        errors.add("project", REQUIRED);
    }
    errors.finish((project.unwrap_or_default(), text))
}

/// A string, with `null` read as empty.
fn optional_string(value: &Value) -> Result<String, String> {
    if value.is_null() {
        Ok(String::new())
    } else {
        string(value).map(str::to_owned)
    }
}

/// A UUID in any accepted spelling, returned in the canonical lower-case hyphenated form.
pub fn uuid_string(value: &Value) -> Result<String, String> {
    let text = string(value)?;
    uuid::Uuid::parse_str(text)
        .map(|id| id.to_string())
        .map_err(|_| format!("\"{text}\" is not a valid UUID."))
}

/// `POST /api/segments/reorder/`: `{project_id, segment_order: [ids]}`.
pub fn reorder(body: &Value) -> Result<(String, Vec<String>), ApiError> {
    let body = object(body)?;
    let mut errors = Errors::default();
    let project = match body.get("project_id") {
        Some(value) => errors.check("project_id", uuid_string(value)),
        None => {
            errors.add("project_id", REQUIRED);
            None
        }
    };
    let order = match body.get("segment_order") {
        Some(Value::Array(items)) => {
            let ids: Vec<Option<String>> = items
                .iter()
                .enumerate()
                .map(|(index, item)| {
                    uuid_string(item)
                        .map_err(|message| {
                            errors.add("segment_order", format!("Item {}: {message}", index + 1))
                        })
                        .ok()
                })
                .collect();
            ids.into_iter().collect::<Option<Vec<String>>>()
        }
        Some(_) => {
            errors.add("segment_order", "Expected a list of segment ids.");
            None
        }
        None => {
            errors.add("segment_order", REQUIRED);
            None
        }
    };
    match (project, order) {
        (Some(project), Some(order)) if errors.is_empty() => Ok((project, order)),
        _ => errors.finish((String::new(), Vec::new())),
    }
}

/// A validated import: the title (when one was asked for) and the segments to create.
#[derive(Debug, Clone, PartialEq)]
pub struct ImportRequest {
    pub title: Option<String>,
    pub segments: Vec<SegmentText>,
}

/// `POST /api/projects/import/` (`with_title`) and `POST /api/projects/{id}/import-segments/`:
/// `{format:"json", segments:[{text_content, image_prompt?}]}` or `{format:"text", raw_text}`.
/// Every message is a string in a list, which the UI's import dialog can show.
pub fn import_request(body: &Value, with_title: bool) -> Result<ImportRequest, ApiError> {
    let body = object(body)?;
    let mut errors = Errors::default();
    for key in body.keys() {
        if !["format", "title", "segments", "raw_text"].contains(&key.as_str()) {
            errors.add(key, UNKNOWN);
        }
    }
    let title = match (with_title, body.get("title")) {
        (false, _) => None,
        (true, Some(value)) => errors.check("title", title(value)),
        (true, None) => {
            errors.add("title", REQUIRED);
            None
        }
    };
    let segments = match body.get("format") {
        None => {
            errors.add("format", REQUIRED);
            Vec::new()
        }
        Some(format) => match errors.check("format", choice(format, &["json", "text"])) {
            Some(format) if format == "json" => json_segments(body.get("segments"), &mut errors),
            Some(_) => text_segments(body.get("raw_text"), &mut errors),
            None => Vec::new(),
        },
    };
    if segments.len() > MAX_IMPORT_SEGMENTS {
        let field = if body.contains_key("raw_text") {
            "raw_text"
        } else {
            "segments"
        };
        errors.add(
            field,
            format!("At most {MAX_IMPORT_SEGMENTS} segments can be imported at once."),
        );
    }
    errors.finish(ImportRequest { title, segments })
}

fn json_segments(value: Option<&Value>, errors: &mut Errors) -> Vec<SegmentText> {
    let items = match value {
        Some(Value::Array(items)) if !items.is_empty() => items,
        Some(Value::Array(_)) => {
            errors.add("segments", "At least one segment is required.");
            return Vec::new();
        }
        Some(_) => {
            errors.add("segments", "Expected a list of segments.");
            return Vec::new();
        }
        None => {
            errors.add("segments", REQUIRED);
            return Vec::new();
        }
    };
    let mut segments = Vec::with_capacity(items.len());
    for (index, item) in items.iter().enumerate() {
        let number = index + 1;
        let Some(fields) = item.as_object() else {
            errors.add("segments", format!("Segment {number}: expected an object."));
            continue;
        };
        let text_content = match fields.get("text_content").map(string) {
            Some(Ok(text)) if !text.trim().is_empty() => Some(text.trim().to_owned()),
            Some(Ok(_)) => {
                errors.add(
                    "segments",
                    format!("Segment {number}: text_content may not be blank."),
                );
                None
            }
            Some(Err(message)) => {
                errors.add(
                    "segments",
                    format!("Segment {number}: text_content: {message}"),
                );
                None
            }
            None => {
                errors.add(
                    "segments",
                    format!("Segment {number}: text_content is required."),
                );
                None
            }
        };
        let image_prompt = match fields.get("image_prompt").map(optional_string) {
            None => Some(String::new()),
            Some(Ok(prompt)) => Some(prompt.trim().to_owned()),
            Some(Err(message)) => {
                errors.add(
                    "segments",
                    format!("Segment {number}: image_prompt: {message}"),
                );
                None
            }
        };
        if let Some(key) = fields
            .keys()
            .find(|key| !["text_content", "image_prompt"].contains(&key.as_str()))
        {
            errors.add(
                "segments",
                format!("Segment {number}: unknown field \"{key}\"."),
            );
        }
        if let (Some(text_content), Some(image_prompt)) = (text_content, image_prompt) {
            segments.push(SegmentText {
                text_content,
                image_prompt,
            });
        }
    }
    segments
}

fn text_segments(value: Option<&Value>, errors: &mut Errors) -> Vec<SegmentText> {
    let raw = match value.map(string) {
        Some(Ok(raw)) => raw,
        Some(Err(message)) => {
            errors.add("raw_text", message);
            return Vec::new();
        }
        None => {
            errors.add("raw_text", REQUIRED);
            return Vec::new();
        }
    };
    let segments = import_text::parse_segments(raw);
    if segments.is_empty() {
        errors.add(
            "raw_text",
            "No segments found: separate blocks with a line of three or more hyphens.",
        );
    }
    segments
}

const SETTINGS_READ_ONLY: [&str; 5] = [
    "id",
    "created_at",
    "updated_at",
    "custom_font_file",
    "subtitle_font",
];

/// `PATCH /api/settings/`: every field checked against its range; unknown and read-only
/// fields refused; the resolution pair checked against the presets (key `render_resolution`),
/// the missing half taken from `current`; `subtitle_color` and `subtitle_font_color` set
/// together. Whether `active_logo` exists is left to the repository.
pub fn settings_update(body: &Value, current: &GlobalSettings) -> Result<SettingsUpdate, ApiError> {
    let body = object(body)?;
    let mut errors = Errors::default();
    let mut update = SettingsUpdate::default();
    let mut font_color = None;
    for (key, value) in body {
        let e = &mut errors;
        match key.as_str() {
            "default_voice_id" => update.default_voice_id = e.check(key, short_text(value, 100)),
            "tts_speed" => update.tts_speed = e.check(key, number_in(value, 0.5, 2.0)),
            "subtitle_font_family" => {
                update.subtitle_font_family = e.check(key, short_text(value, 100));
            }
            "subtitle_font_size" => {
                update.subtitle_font_size = e.check(key, integer_in(value, 12, 120));
            }
            "subtitle_color" => update.subtitle_color = e.check(key, hex_color(value)),
            "subtitle_font_color" => font_color = e.check(key, hex_color(value)),
            "subtitle_position" => {
                update.subtitle_position = e.check(key, choice(value, &SUBTITLE_POSITIONS));
            }
            "subtitles_enabled" => update.subtitles_enabled = e.check(key, boolean(value)),
            "render_width" => update.render_width = e.check(key, integer(value)),
            "render_height" => update.render_height = e.check(key, integer(value)),
            "render_fps" => update.render_fps = e.check(key, one_of(value, &FRAME_RATES)),
            "ken_burns_zoom" => update.ken_burns_zoom = e.check(key, number_in(value, 1.0, 2.0)),
            "zoom_intensity" => update.zoom_intensity = e.check(key, number_in(value, 1.0, 2.0)),
            "transition_duration" => {
                update.transition_duration = e.check(key, number_in(value, 0.0, 2.0));
            }
            "inter_segment_silence" => {
                update.inter_segment_silence = e.check(key, number_in(value, 0.0, 5.0));
            }
            "logo_enabled" => update.logo_enabled = e.check(key, boolean(value)),
            "active_logo" => {
                update.active_logo = if value.is_null() {
                    Some(None)
                } else {
                    e.check(key, uuid_string(value)).map(Some)
                };
            }
            "logo_scale" => update.logo_scale = e.check(key, number_in(value, 0.05, 0.5)),
            "logo_position" => {
                update.logo_position = e.check(key, choice(value, &LOGO_POSITIONS));
            }
            "logo_opacity" => update.logo_opacity = e.check(key, number_in(value, 0.0, 1.0)),
            "logo_margin" => update.logo_margin = e.check(key, integer_in(value, 0, 200)),
            key if SETTINGS_READ_ONLY.contains(&key) => e.add(key, READ_ONLY),
            key => e.add(key, UNKNOWN),
        }
    }
    if update.render_width.is_some() || update.render_height.is_some() {
        let width = update.render_width.unwrap_or(current.render_width);
        let height = update.render_height.unwrap_or(current.render_height);
        errors.check("render_resolution", resolution(width, height));
    }
    // The two names are one setting: either sets both.
    match (&update.subtitle_color, font_color) {
        (Some(color), Some(other)) if *color != other => errors.add(
            "subtitle_font_color",
            "subtitle_color and subtitle_font_color are the same setting; send one value.",
        ),
        (Some(color), _) => update.subtitle_font_color = Some(color.clone()),
        (None, Some(color)) => {
            update.subtitle_color = Some(color.clone());
            update.subtitle_font_color = Some(color);
        }
        (None, None) => {}
    }
    errors.finish(update)
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    fn field_errors(result: Result<impl std::fmt::Debug, ApiError>) -> FieldErrors {
        match result {
            Err(ApiError::Validation(errors)) => errors,
            other => panic!("expected a validation error, got {other:?}"),
        }
    }

    fn settings() -> GlobalSettings {
        GlobalSettings::defaults(crate::models::now())
    }

    #[test]
    fn scalar_checks() {
        assert_eq!(integer(&json!(48)), Ok(48));
        assert_eq!(integer(&json!(48.0)), Ok(48));
        assert!(integer(&json!(48.5)).is_err());
        assert!(integer(&json!("48")).is_err());
        assert!(integer(&json!(1e12)).is_err());
        assert!(integer(&json!(true)).is_err());
        assert_eq!(number_in(&json!(2.0000000000000004), 0.5, 2.0), Ok(2.0));
        assert!(number_in(&json!(2.01), 0.5, 2.0).is_err());
        assert_eq!(hex_color(&json!("#abc")), Ok("#AABBCC".to_owned()));
        assert_eq!(hex_color(&json!("#00ff7f")), Ok("#00FF7F".to_owned()));
        for bad in [
            json!("00ff7f"),
            json!("#00ff7"),
            json!("#ggg"),
            json!(16777215),
        ] {
            assert!(hex_color(&bad).is_err(), "{bad}");
        }
        assert_eq!(title(&json!("  My story \n")), Ok("My story".to_owned()));
        assert!(title(&json!("   ")).is_err());
        assert!(title(&json!("x".repeat(256))).is_err());
        assert!(title(&json!("é".repeat(255))).is_ok());
        assert!(resolution(1080, 1920).is_ok());
        assert!(resolution(1000, 1000).is_err());
    }

    #[test]
    fn settings_update_lists_every_bad_field() {
        let body = json!({
            "subtitle_font_size": 200,
            "render_fps": 25,
            "logo_position": "middle",
            "zoom_intensity": "1.5",
            "bogus": 1,
            "updated_at": "2026-01-01",
            "logo_opacity": 0.5,
        });
        let errors = field_errors(settings_update(&body, &settings()));
        let keys: Vec<&str> = errors.keys().map(String::as_str).collect();
        assert_eq!(
            keys,
            [
                "bogus",
                "logo_position",
                "render_fps",
                "subtitle_font_size",
                "updated_at",
                "zoom_intensity"
            ]
        );
        assert!(errors.values().all(|messages| messages.len() == 1));
    }

    #[test]
    fn the_resolution_pair_is_checked_with_the_current_half() {
        let mut current = settings();
        let ok = settings_update(
            &json!({"render_width": 1080, "render_height": 1920}),
            &current,
        );
        assert_eq!(ok.unwrap().render_width, Some(1080));
        let errors = field_errors(settings_update(&json!({"render_width": 1280}), &current));
        assert!(errors.contains_key("render_resolution"));
        current.render_width = 1080;
        current.render_height = 1080;
        assert!(settings_update(&json!({"render_height": 1350}), &current).is_ok());
    }

    #[test]
    fn both_colour_names_set_one_setting() {
        let from_panel = settings_update(&json!({"subtitle_color": "#f00"}), &settings()).unwrap();
        assert_eq!(from_panel.subtitle_color.as_deref(), Some("#FF0000"));
        assert_eq!(from_panel.subtitle_font_color.as_deref(), Some("#FF0000"));
        let from_page = settings_update(&json!({"subtitle_font_color": "#00ff00"}), &settings());
        let from_page = from_page.unwrap();
        assert_eq!(from_page.subtitle_color.as_deref(), Some("#00FF00"));
        assert_eq!(from_page.subtitle_font_color.as_deref(), Some("#00FF00"));
        let both = json!({"subtitle_color": "#fff", "subtitle_font_color": "#FFFFFF"});
        assert!(settings_update(&both, &settings()).is_ok());
        let clash = json!({"subtitle_color": "#fff", "subtitle_font_color": "#000"});
        assert!(
            field_errors(settings_update(&clash, &settings())).contains_key("subtitle_font_color")
        );
    }

    #[test]
    fn active_logo_accepts_null_and_uuids_only() {
        let cleared = settings_update(&json!({"active_logo": null}), &settings()).unwrap();
        assert_eq!(cleared.active_logo, Some(None));
        let id = uuid::Uuid::new_v4().to_string();
        let set = settings_update(&json!({"active_logo": id.to_uppercase()}), &settings());
        assert_eq!(set.unwrap().active_logo, Some(Some(id)));
        assert!(settings_update(&json!({"active_logo": "logo-1"}), &settings()).is_err());
        assert!(settings_update(&json!([1, 2]), &settings()).is_err());
    }

    #[test]
    fn projects_need_a_title_and_a_known_format() {
        let project = new_project(&json!({"title": " Fox "})).unwrap();
        assert_eq!((project.title.as_str(), project.framerate), ("Fox", 30));
        let errors = field_errors(new_project(&json!({})));
        assert_eq!(errors["title"], [REQUIRED]);
        let errors = field_errors(new_project(&json!({"title": "", "framerate": 25})));
        assert_eq!(errors.len(), 2);
        let errors = field_errors(new_project(
            &json!({"title": "x", "resolution_width": 1000}),
        ));
        assert!(errors.contains_key("resolution"));
        let current = Project::new("x");
        let update = project_update(&json!({"resolution_width": 1440}), &current).unwrap();
        assert!(update.touches_render_input());
        assert!(project_update(&json!({"status": "COMPLETED"}), &current).is_err());
    }

    #[test]
    fn segment_bodies() {
        let update = segment_update(&json!({"is_locked": true})).unwrap();
        assert_eq!(update.is_locked, Some(true));
        assert!(!update.edits_content());
        let errors = field_errors(segment_update(
            &json!({"text_content": 5, "audio_file": "x"}),
        ));
        assert_eq!(errors.len(), 2);
        let id = uuid::Uuid::new_v4().to_string();
        let (project, text) = new_segment(&json!({"project": id, "text_content": null})).unwrap();
        assert_eq!((project, text), (id.clone(), SegmentText::default()));
        assert!(field_errors(new_segment(&json!({}))).contains_key("project"));
        let errors = field_errors(reorder(
            &json!({"project_id": id, "segment_order": ["x", id]}),
        ));
        assert_eq!(errors["segment_order"].len(), 1);
        assert!(reorder(&json!({"project_id": id, "segment_order": [id]})).is_ok());
    }

    #[test]
    fn imports_in_both_formats() {
        let json_import = json!({
            "format": "json", "title": "Fox",
            "segments": [{"text_content": "One", "image_prompt": "a"}, {"text_content": " Two "}],
        });
        let request = import_request(&json_import, true).unwrap();
        assert_eq!(request.title.as_deref(), Some("Fox"));
        assert_eq!(request.segments[1].text_content, "Two");

        let text_import = json!({"format": "text", "raw_text": "Text: a\n---\nb"});
        let request = import_request(&text_import, false).unwrap();
        assert_eq!((request.title, request.segments.len()), (None, 2));

        let errors = field_errors(import_request(&json!({"format": "xml"}), true));
        assert_eq!(errors.keys().collect::<Vec<_>>(), ["format", "title"]);
        let bad_segments = json!({
            "format": "json", "title": "t",
            "segments": [{"text_content": ""}, 7, {"image_prompt": "p"}, {"text_content": "x", "y": 1}],
        });
        let errors = field_errors(import_request(&bad_segments, true));
        assert_eq!(errors["segments"].len(), 4, "{errors:?}");
        let empty_text = json!({"format": "text", "title": "t", "raw_text": "---\n---"});
        assert!(field_errors(import_request(&empty_text, true)).contains_key("raw_text"));
    }
}
