//! The HTTP error type: every failure a handler can meet, mapped to a status code and a JSON
//! body the editor UI understands (`{"error": ...}` or `{field: [messages]}`).

use std::collections::BTreeMap;

use actix_web::http::{header, StatusCode};
use actix_web::{HttpResponse, ResponseError};
use serde_json::json;

use crate::auth::AuthFailure;
use crate::repository::RepoError;

/// Field name → human-readable messages, as DRF serializers report them.
pub type FieldErrors = BTreeMap<String, Vec<String>>;

#[derive(Debug, thiserror::Error)]
pub enum ApiError {
    #[error("{0}")]
    BadRequest(String),
    #[error("validation failed")]
    Validation(FieldErrors),
    /// No or a wrong API token (when one is configured); answered with its challenge.
    #[error("{0}")]
    Unauthorized(AuthFailure),
    #[error("{entity} not found: {id}")]
    NotFound { entity: &'static str, id: String },
    #[error("{0}")]
    Conflict(String),
    #[error("{0}")]
    PayloadTooLarge(String),
    #[error("{0}")]
    UnsupportedMediaType(String),
    #[error("{0}")]
    ServiceUnavailable(String),
    /// The body is already shaped by the handler (e.g. render's `missing_images` report).
    #[error("{status}: {body}")]
    Custom {
        status: StatusCode,
        body: serde_json::Value,
    },
    /// Not the user's fault: the cause is logged with its whole chain, the user is told only
    /// that something went wrong.
    #[error("internal error")]
    Internal(#[source] Box<dyn std::error::Error + Send + Sync + 'static>),
}

impl ApiError {
    /// One field with one message, the common validation case.
    pub fn field(field: &str, message: impl Into<String>) -> Self {
        let mut errors = FieldErrors::new();
        errors.insert(field.to_owned(), vec![message.into()]);
        Self::Validation(errors)
    }

    pub fn internal(err: impl Into<Box<dyn std::error::Error + Send + Sync + 'static>>) -> Self {
        Self::Internal(err.into())
    }
}

impl From<RepoError> for ApiError {
    fn from(err: RepoError) -> Self {
        match err {
            RepoError::NotFound { entity, id } => Self::NotFound { entity, id },
            RepoError::Conflict(message) => Self::Conflict(message),
            RepoError::Locked(message) | RepoError::Invalid(message) => Self::BadRequest(message),
            other => Self::internal(other),
        }
    }
}

impl From<actix_web::error::BlockingError> for ApiError {
    fn from(err: actix_web::error::BlockingError) -> Self {
        Self::internal(err)
    }
}

impl ResponseError for ApiError {
    fn status_code(&self) -> StatusCode {
        match self {
            Self::BadRequest(_) | Self::Validation(_) => StatusCode::BAD_REQUEST,
            Self::Unauthorized(_) => StatusCode::UNAUTHORIZED,
            Self::NotFound { .. } => StatusCode::NOT_FOUND,
            Self::Conflict(_) => StatusCode::CONFLICT,
            Self::PayloadTooLarge(_) => StatusCode::PAYLOAD_TOO_LARGE,
            Self::UnsupportedMediaType(_) => StatusCode::UNSUPPORTED_MEDIA_TYPE,
            Self::ServiceUnavailable(_) => StatusCode::SERVICE_UNAVAILABLE,
            Self::Custom { status, .. } => *status,
            Self::Internal(_) => StatusCode::INTERNAL_SERVER_ERROR,
        }
    }

    fn error_response(&self) -> HttpResponse {
        let body = match self {
            Self::Validation(fields) => json!(fields),
            Self::Custom { body, .. } => body.clone(),
            Self::NotFound { entity, .. } => {
                json!({ "error": format!("{entity} not found."), "detail": format!("No {entity} matches the given query.") })
            }
            Self::Internal(_) => {
                // The cause goes to the log; the user gets no internals.
                log::error!("{}", task_manager::error_chain(self));
                json!({ "error": "Internal server error." })
            }
            other => json!({ "error": other.to_string() }),
        };
        let mut response = HttpResponse::build(self.status_code());
        if let Self::Unauthorized(failure) = self {
            response.insert_header((header::WWW_AUTHENTICATE, failure.challenge()));
        }
        response.json(body)
    }
}

/// Parses a path id. Something that is not a UUID names no object, so it is the same 404 as
/// an unknown id, as the original answered (`entity` as the repository names it: "Project").
pub fn parse_uuid(raw: &str, entity: &'static str) -> Result<uuid::Uuid, ApiError> {
    uuid::Uuid::parse_str(raw).map_err(|_| ApiError::NotFound {
        entity,
        id: raw.to_owned(),
    })
}
