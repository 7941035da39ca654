//! Segment bodies: create, update, reorder.

use serde_json::Value;

use super::{
    boolean, object, optional_string, string, uuid_string, Errors, READ_ONLY, REQUIRED, UNKNOWN,
};
use crate::errors::ApiError;
use crate::models::{SegmentText, SegmentUpdate};

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

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;
    use crate::validation::tests::field_errors;

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
}
