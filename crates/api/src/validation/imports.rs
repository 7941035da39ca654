//! Import bodies: a project (or more segments) from JSON segments or the text format.

use serde_json::Value;

use super::{choice, object, optional_string, short_text, string, Errors, REQUIRED};
use crate::errors::ApiError;
use crate::import_text;
use crate::models::SegmentText;

/// More segments than anyone narrates by hand; bounds the work of one import.
pub const MAX_IMPORT_SEGMENTS: usize = 2000;
/// The original's import serializer took shorter titles than a project may have.
pub const IMPORT_TITLE_MAX_CHARS: usize = 200;

/// A validated import: the title (when one was asked for) and the segments to create.
#[derive(Debug, Clone, PartialEq)]
pub struct ImportRequest {
    pub title: Option<String>,
    pub segments: Vec<SegmentText>,
}

/// `POST /api/projects/import/` (`with_title`) and `POST /api/projects/{id}/import-segments/`:
/// `{format:"json", segments:[{text_content, image_prompt?}]}` or `{format:"text", raw_text}`.
/// Every message is a string in a list, which the UI's import dialog can show.
///
/// Keys the import does not use are ignored, at the top and in segments, as the original did:
/// a story exported by another tool (with `sequence_index`, `mood`, `author`, ...) imports as
/// it is. `format` is required with a title; import-segments defaults it to `json`, as the
/// original did.
pub fn import_request(body: &Value, with_title: bool) -> Result<ImportRequest, ApiError> {
    let body = object(body)?;
    let mut errors = Errors::default();
    let title = match (with_title, body.get("title")) {
        (false, _) => None,
        (true, Some(value)) => errors.check("title", short_text(value, IMPORT_TITLE_MAX_CHARS)),
        (true, None) => {
            errors.add("title", REQUIRED);
            None
        }
    };
    let default_format = (!with_title).then(|| Value::from("json"));
    let segments = match body.get("format").or(default_format.as_ref()) {
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
    let segments = match import_text::parse_segments(raw) {
        Ok(segments) => segments,
        Err(err) => {
            errors.add("raw_text", err.to_string());
            return Vec::new();
        }
    };
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
        assert_eq!(errors["segments"].len(), 3, "{errors:?}");
        let empty_text = json!({"format": "text", "title": "t", "raw_text": "---\n---"});
        assert!(field_errors(import_request(&empty_text, true)).contains_key("raw_text"));
    }

    #[test]
    fn unused_keys_are_ignored_and_titles_are_short() {
        let story = json!({
            "format": "json", "title": "Fox", "author": "someone",
            "segments": [{"text_content": "One", "sequence_index": 7, "mood": "calm"}],
        });
        let request = import_request(&story, true).unwrap();
        assert_eq!(request.segments[0].text_content, "One");

        let long = json!({"format": "text", "title": "é".repeat(201), "raw_text": "a"});
        assert_eq!(field_errors(import_request(&long, true))["title"].len(), 1);
        let longest = json!({"format": "text", "title": "é".repeat(200), "raw_text": "a"});
        assert!(import_request(&longest, true).is_ok());

        let no_format = json!({"segments": [{"text_content": "One"}]});
        assert_eq!(import_request(&no_format, false).unwrap().segments.len(), 1);
        assert!(field_errors(import_request(&no_format, true)).contains_key("format"));

        let prompt_only = json!({"format": "text", "raw_text": "Text: a\n---\nPrompt: p"});
        assert_eq!(
            field_errors(import_request(&prompt_only, false))["raw_text"],
            ["Block 2 has a Prompt: line but no Text: line."]
        );
    }
}
