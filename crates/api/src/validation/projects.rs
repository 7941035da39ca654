//! Project bodies: create and update.

use core_engine::spec::FRAME_RATES;
use serde_json::{Map, Value};

use super::{integer, object, one_of, resolution, title, Errors, READ_ONLY, REQUIRED, UNKNOWN};
use crate::errors::ApiError;
use crate::models::{Project, ProjectUpdate};

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

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;
    use crate::validation::tests::field_errors;

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
}
