//! `GET/PATCH /api/settings/`: the single GlobalSettings record.

use actix_web::{web, HttpResponse};
use serde_json::Value;

use crate::errors::ApiError;
use crate::handlers::support::{resource, with_conn};
use crate::models::{GlobalSettings, SettingsUpdate};
use crate::repository::{self, RepoError};
use crate::state::AppState;
use crate::validation;

pub fn configure(cfg: &mut web::ServiceConfig) {
    cfg.service(
        resource("/api/settings/")
            .route(web::get().to(get_settings))
            .route(web::patch().to(update_settings)),
    );
}

/// The settings as the editor should see them: a default voice that is not installed (an
/// older database's `af_bella`) shows the installed voice that will really speak, so the voice
/// picker opens on it. The stored value is left alone.
pub(crate) fn as_shown(state: &AppState, mut settings: GlobalSettings) -> GlobalSettings {
    let installed = state.tts.as_deref().and_then(|engine| {
        let voices = engine.voices().ok()?;
        tts::resolve_voice(&voices, Some(&settings.default_voice_id), engine.home()).ok()
    });
    if let Some(resolved) = installed {
        settings.default_voice_id = resolved.voice.id;
    }
    settings
}

async fn get_settings(state: web::Data<AppState>) -> Result<HttpResponse, ApiError> {
    let settings = with_conn(&state, |conn| Ok(repository::get_settings(conn)?)).await?;
    Ok(HttpResponse::Ok().json(as_shown(&state, settings)))
}

/// Validates every field (400 lists each bad one), then applies them together.
async fn update_settings(
    state: web::Data<AppState>,
    body: web::Json<Value>,
) -> Result<HttpResponse, ApiError> {
    let body = body.into_inner();
    let settings = with_conn(&state, move |conn| {
        let current = repository::get_settings(conn)?;
        let changes = validation::settings_update(&body, &current)?;
        repository::update_settings(conn, &changes).map_err(|err| match err {
            RepoError::NotFound { entity: "Logo", id } => ApiError::field(
                "active_logo",
                format!("Invalid pk \"{id}\" - object does not exist."),
            ),
            other => other.into(),
        })
    })
    .await?;
    Ok(HttpResponse::Ok().json(as_shown(&state, settings)))
}

/// Points the settings at a newly stored media file `relative` with `changes`, then removes the
/// file they named until now (`stored` reads it from the settings); if the database refuses,
/// the new file goes and the old one stays. For uploads that replace a settings file.
pub(crate) async fn point_settings_at(
    state: &AppState,
    relative: String,
    changes: SettingsUpdate,
    stored: fn(&GlobalSettings) -> Option<&str>,
) -> Result<GlobalSettings, ApiError> {
    let media = state.media.clone();
    with_conn(state, move |conn| {
        match repository::replace_settings(conn, &changes) {
            Ok((before, after)) => {
                if let Some(previous) = stored(&before).filter(|previous| *previous != relative) {
                    media.remove(previous);
                }
                Ok(after)
            }
            Err(err) => {
                media.remove(&relative);
                Err(err.into())
            }
        }
    })
    .await
}
