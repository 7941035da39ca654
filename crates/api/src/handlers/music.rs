//! `POST/DELETE /api/settings/music/`: the background music under every render (multipart
//! field `music`).
//!
//! The file must be named as one of the accepted formats, decode in full and last at least the
//! renderer's minimum before anything changes; it is stored as `music/{uuid}.{ext}` and
//! replaces the previous music, which is removed once the settings no longer name it. Whether
//! the music plays is `music_enabled`, a setting of its own that neither endpoint touches.

use std::path::Path;

use actix_multipart::Multipart;
use actix_web::{web, HttpResponse};
use core_engine::spec::MIN_MUSIC_SECONDS;

use crate::errors::ApiError;
use crate::handlers::settings::{as_shown, point_settings_at};
use crate::handlers::support::{resource, with_conn};
use crate::handlers::uploads::{check_audio, invalid_file, receive_audio};
use crate::models::SettingsUpdate;
use crate::repository;
use crate::state::AppState;
use crate::storage;

/// The formats music is taken in, by the client's file name and, where the content tells,
/// by content.
const MUSIC_EXTENSIONS: [&str; 5] = ["mp3", "wav", "ogg", "flac", "m4a"];

pub fn configure(cfg: &mut web::ServiceConfig) {
    cfg.service(
        resource("/api/settings/music/")
            .route(web::post().to(upload))
            .route(web::delete().to(remove)),
    );
}

/// Stores the music and points the settings at it; answers the settings.
async fn upload(state: web::Data<AppState>, form: Multipart) -> Result<HttpResponse, ApiError> {
    let folder = state.media.path(storage::MUSIC_FOLDER);
    let music = receive_audio(
        &state,
        form,
        "music",
        folder,
        state.limits.music_bytes,
        "No music file provided",
        check_music,
    )
    .await?;
    let relative = storage::fresh_music_path(&music.extension);
    let media = state.media.clone();
    let (temp, target) = (music.temp, relative.clone());
    web::block(move || storage::persist(temp, &media, &target))
        .await?
        .map_err(ApiError::internal)?;
    let changes = SettingsUpdate {
        music_file: Some(Some(relative.clone())),
        ..SettingsUpdate::default()
    };
    let settings = point_settings_at(&state, relative, changes, |settings| {
        settings.music_file.as_deref()
    })
    .await?;
    Ok(HttpResponse::Ok().json(as_shown(&state, settings)))
}

/// Forgets the music and removes its file; with no music stored, it only answers the
/// settings.
async fn remove(state: web::Data<AppState>) -> Result<HttpResponse, ApiError> {
    let media = state.media.clone();
    let settings = with_conn(&state, move |conn| {
        let changes = SettingsUpdate {
            music_file: Some(None),
            ..SettingsUpdate::default()
        };
        let (before, after) = repository::replace_settings(conn, &changes)?;
        if let Some(previous) = before.music_file {
            media.remove(&previous);
        }
        Ok(after)
    })
    .await?;
    Ok(HttpResponse::Ok().json(as_shown(&state, settings)))
}

/// Music named as one of [`MUSIC_EXTENSIONS`] (checked before decoding), of one of them by
/// content where the content tells, that decodes and lasts at least [`MIN_MUSIC_SECONDS`].
fn check_music(path: &Path, client_name: Option<&str>) -> Result<(String, f64), ApiError> {
    let unsupported = || {
        invalid_file(
            "Unsupported music format",
            format!(
                "\"{}\" is not a music file; use {}.",
                client_name.unwrap_or_default(),
                MUSIC_EXTENSIONS.join(", ")
            ),
        )
    };
    let named =
        client_name.and_then(|name| storage::allowed_extension(Path::new(name), &MUSIC_EXTENSIONS));
    if named.is_none() {
        return Err(unsupported());
    }
    let (extension, duration) = check_audio(path, client_name)?;
    if !MUSIC_EXTENSIONS.contains(&extension.as_str()) {
        return Err(unsupported());
    }
    if duration < MIN_MUSIC_SECONDS {
        return Err(invalid_file(
            "Music too short",
            format!("It lasts {duration:.2} s; music must last at least {MIN_MUSIC_SECONDS} s."),
        ));
    }
    Ok((extension, duration))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn error(result: Result<(String, f64), ApiError>) -> String {
        match result {
            Err(ApiError::Custom { body, .. }) => body["error"].as_str().unwrap().to_owned(),
            other => panic!("expected a 400, got {other:?}"),
        }
    }

    fn wav(dir: &Path, seconds: f64) -> std::path::PathBuf {
        const RATE: u32 = 8000;
        let samples: Vec<i16> = (0..(f64::from(RATE) * seconds) as usize)
            .map(|n| ((n % 40) as i16 - 20) * 400)
            .collect();
        let path = dir.join(format!("{seconds}.wav"));
        std::fs::write(&path, core_engine::audio::wav_bytes(RATE, &samples)).unwrap();
        path
    }

    #[test]
    fn the_name_must_be_a_music_format_before_anything_is_decoded() {
        // Not even a file: the name alone refuses it.
        let nowhere = Path::new("/nonexistent/upload");
        for name in [Some("song.exe"), Some("song.aiff"), Some("song"), None] {
            assert_eq!(
                error(check_music(nowhere, name)),
                "Unsupported music format",
                "{name:?}"
            );
        }
    }

    #[test]
    fn music_must_decode_and_last_long_enough() {
        let dir = tempfile::tempdir().unwrap();
        let long = wav(dir.path(), MIN_MUSIC_SECONDS + 0.5);
        let (extension, duration) = check_music(&long, Some("Theme.MP3")).unwrap();
        // The content decides the stored extension.
        assert_eq!(extension, "wav");
        assert!(
            (duration - (MIN_MUSIC_SECONDS + 0.5)).abs() < 0.01,
            "{duration}"
        );
        let short = wav(dir.path(), MIN_MUSIC_SECONDS / 2.0);
        assert_eq!(
            error(check_music(&short, Some("short.wav"))),
            "Music too short"
        );
        let junk = dir.path().join("junk");
        std::fs::write(&junk, b"this is not music at all").unwrap();
        assert_eq!(
            error(check_music(&junk, Some("junk.mp3"))),
            "Invalid audio file"
        );
    }
}
