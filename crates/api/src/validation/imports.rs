//! Import bodies: a project (or more segments) from JSON segments or the text format.

use serde_json::Value;

use super::{choice, object, optional_string, string, title, Errors, REQUIRED, UNKNOWN};
use crate::errors::ApiError;
use crate::import_text;
use crate::models::SegmentText;

/// More segments than anyone narrates by hand; bounds the work of one import.
pub const MAX_IMPORT_SEGMENTS: usize = 2000;

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

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;
    use crate::validation::tests::field_errors;

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
