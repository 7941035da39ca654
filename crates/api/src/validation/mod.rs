//! Checks request bodies before they reach the database, collecting every problem so a 400
//! lists each bad field (`{field: [messages]}`), the way DRF serializers answer.
//!
//! Bodies arrive as `serde_json::Value` rather than typed structs so that wrong types, unknown
//! fields and read-only fields each get a message under their own name.
//!
//! The checks of single values are here; one module per resource assembles them:
//! `projects`, `segments`, `imports`, `settings`. Numeric ranges and named choices are the
//! renderer's own (`core_engine::spec`, `core_engine::text_overlay`, `core_engine::logo`):
//! a limit changes in one place.

mod imports;
mod projects;
mod segments;
mod settings;

use std::fmt::Display;
use std::str::FromStr;

use core_engine::spec::{Bounds, RESOLUTION_PRESETS};
use core_engine::text_overlay::{format_hex_color, parse_hex_color};
use serde_json::{Map, Value};

use crate::errors::{ApiError, FieldErrors};

pub use imports::{import_request, ImportRequest, MAX_IMPORT_SEGMENTS};
pub use projects::{new_project, project_update};
pub use segments::{new_segment, reorder, segment_update};
pub use settings::settings_update;

pub const TITLE_MAX_CHARS: usize = 255;

const REQUIRED: &str = "This field is required.";
const READ_ONLY: &str = "This field is read-only.";
const UNKNOWN: &str = "Unknown field.";

/// Collects messages per field.
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

fn between(min: impl Display, max: impl Display) -> String {
    format!("Ensure this value is between {min} and {max}.")
}

/// A whole number inside `bounds` (`as_bound` converts it to the bounds' type, `None` when
/// it cannot be one).
pub fn integer_in<T: Copy + PartialOrd + Display>(
    value: &Value,
    bounds: Bounds<T>,
    as_bound: impl Fn(i32) -> Option<T>,
) -> Result<i32, String> {
    let int = integer(value)?;
    match as_bound(int) {
        Some(bound) if bounds.contains(bound) => Ok(int),
        _ => Err(between(bounds.min, bounds.max)),
    }
}

/// A number inside `bounds`, float noise admitted.
pub fn number_in(value: &Value, bounds: Bounds<f64>) -> Result<f64, String> {
    bounds
        .admit(number(value)?)
        .ok_or_else(|| between(bounds.min, bounds.max))
}

fn invalid_choice(text: impl Display, choices: impl IntoIterator<Item = String>) -> String {
    let listed: Vec<String> = choices.into_iter().collect();
    format!(
        "\"{text}\" is not a valid choice; use one of: {}.",
        listed.join(", ")
    )
}

pub fn choice(value: &Value, choices: &[&str]) -> Result<String, String> {
    let text = string(value)?;
    if choices.contains(&text) {
        Ok(text.to_owned())
    } else {
        Err(invalid_choice(
            text,
            choices.iter().map(|c| (*c).to_owned()),
        ))
    }
}

/// One of the renderer's named choices (a position), parsed by the renderer and stored under
/// its canonical name.
pub fn named<T: FromStr + Copy>(
    value: &Value,
    all: &[T],
    name: fn(T) -> &'static str,
) -> Result<String, String> {
    let text = string(value)?;
    text.parse::<T>()
        .map(|choice| name(choice).to_owned())
        .map_err(|_| invalid_choice(text, all.iter().map(|choice| name(*choice).to_owned())))
}

/// A whole number that is one of `choices`.
pub fn one_of(value: &Value, choices: &[u32]) -> Result<i32, String> {
    let int = integer(value)?;
    if u32::try_from(int).is_ok_and(|int| choices.contains(&int)) {
        Ok(int)
    } else {
        Err(invalid_choice(int, choices.iter().map(u32::to_string)))
    }
}

/// `#RGB` or `#RRGGBB`, any case, parsed by the renderer; normalised to upper-case `#RRGGBB`.
pub fn hex_color(value: &Value) -> Result<String, String> {
    let text = string(value)?;
    let invalid = || format!("\"{text}\" is not a colour; use #RRGGBB or #RGB.");
    if !text.starts_with('#') {
        return Err(invalid());
    }
    parse_hex_color(text)
        .map(format_hex_color)
        .map_err(|_| invalid())
}

/// A project title: trimmed, 1 to 255 characters.
pub fn title(value: &Value) -> Result<String, String> {
    short_text(value, TITLE_MAX_CHARS)
}

/// A non-empty string of at most `max` characters, trimmed (counted after trimming, as DRF does).
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

/// One of the editor's output sizes.
pub fn resolution(width: i32, height: i32) -> Result<(), String> {
    let size = (u32::try_from(width), u32::try_from(height));
    if let (Ok(width), Ok(height)) = size {
        if RESOLUTION_PRESETS.contains(&(width, height)) {
            return Ok(());
        }
    }
    let listed: Vec<String> = RESOLUTION_PRESETS
        .iter()
        .map(|(w, h)| format!("{w}x{h}"))
        .collect();
    Err(format!(
        "{width}x{height} is not a supported resolution; use one of: {}.",
        listed.join(", ")
    ))
}

/// A string, with `null` read as empty.
pub fn optional_string(value: &Value) -> Result<String, String> {
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

#[cfg(test)]
pub(crate) mod tests {
    use serde_json::json;

    use super::*;
    use crate::models::GlobalSettings;

    pub(crate) fn field_errors(result: Result<impl std::fmt::Debug, ApiError>) -> FieldErrors {
        match result {
            Err(ApiError::Validation(errors)) => errors,
            other => panic!("expected a validation error, got {other:?}"),
        }
    }

    pub(crate) fn settings() -> GlobalSettings {
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
        assert_eq!(
            number_in(&json!(2.0000000000000004), settings::TTS_SPEED),
            Ok(2.0)
        );
        assert!(number_in(&json!(2.01), settings::TTS_SPEED).is_err());
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
}
