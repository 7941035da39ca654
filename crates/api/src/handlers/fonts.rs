//! `POST /api/settings/font/upload/`: a custom subtitle font (multipart field `font`).
//!
//! The file is checked by parsing it, stored as `fonts/<sanitized client name>` (the editor
//! shows that name), and becomes the subtitle font: `custom_font_file` is set to its
//! media-relative path (what the renderer uses), the legacy `subtitle_font` to its absolute
//! path (what the editor displays), as the original backend did, and `subtitle_font_family`
//! to the family named inside the font (the original took the file name's stem).

use std::path::Path;

use actix_multipart::Multipart;
use actix_web::{web, HttpResponse};

use crate::errors::ApiError;
use crate::handlers::settings::{as_shown, point_settings_at};
use crate::handlers::support::resource;
use crate::handlers::uploads::{invalid_file, receive_file};
use crate::models::SettingsUpdate;
use crate::state::AppState;
use crate::storage;

/// Extensions accepted from the client's file name. WOFF/WOFF2 are named because the original
/// accepted them, but only a file that parses as TrueType/OpenType (the renderer's fonts) passes.
const FONT_EXTENSIONS: [&str; 4] = ["ttf", "otf", "woff", "woff2"];
/// Stored names keep at most this many characters of the client's name.
const STEM_MAX_CHARS: usize = 100;

pub fn configure(cfg: &mut web::ServiceConfig) {
    cfg.service(resource("/api/settings/font/upload/").route(web::post().to(upload)));
}

/// Stores the font, points the settings at it, then removes the previous custom font.
async fn upload(state: web::Data<AppState>, form: Multipart) -> Result<HttpResponse, ApiError> {
    let folder = state.media.path(storage::FONTS_FOLDER);
    let received = receive_file(form, "font", folder, state.limits.font_bytes)
        .await?
        .ok_or_else(|| ApiError::BadRequest("No font file provided".to_owned()))?;
    let (stem, extension) = font_name(received.client_name.as_deref())?;
    let temp = received.temp;
    let (temp, family) = web::block(move || {
        let family = font_family(temp.path());
        (temp, family)
    })
    .await?;
    let family = family?;
    let media = state.media.clone();
    let relative = web::block(move || {
        storage::persist_unique(temp, &media, storage::FONTS_FOLDER, &stem, &extension)
    })
    .await?
    .map_err(ApiError::internal)?;
    let absolute = std::path::absolute(state.media.path(&relative))
        .map_err(ApiError::internal)?
        .to_string_lossy()
        .into_owned();

    let changes = SettingsUpdate {
        custom_font_file: Some(Some(relative.clone())),
        subtitle_font: Some(absolute),
        subtitle_font_family: Some(family),
        ..SettingsUpdate::default()
    };
    let settings = point_settings_at(&state, relative, changes, |settings| {
        settings.custom_font_file.as_deref()
    })
    .await?;
    Ok(HttpResponse::Ok().json(as_shown(&state, settings)))
}

/// The stored name's stem and lower-case extension, from the client's file name: folders
/// dropped, anything but letters, digits, `-`, `_` and `.` replaced by `_`, no leading dots.
fn font_name(client_name: Option<&str>) -> Result<(String, String), ApiError> {
    let name = client_name.unwrap_or_default().replace('\\', "/");
    let base = name.rsplit('/').next().unwrap_or_default();
    let unsupported = || {
        invalid_file(
            "Unsupported font format",
            format!(
                "\"{base}\" is not a font file; use .ttf or .otf (or {}).",
                FONT_EXTENSIONS.join(", ")
            ),
        )
    };
    let (stem, extension) = base.rsplit_once('.').ok_or_else(unsupported)?;
    let extension = extension.to_ascii_lowercase();
    if !FONT_EXTENSIONS.contains(&extension.as_str()) {
        return Err(unsupported());
    }
    let cleaned: String = stem
        .chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.') {
                c
            } else {
                '_'
            }
        })
        .take(STEM_MAX_CHARS)
        .collect();
    let cleaned = cleaned.trim_start_matches(['.', '_']);
    let stem = if cleaned.is_empty() { "font" } else { cleaned };
    Ok((stem.to_owned(), extension))
}

/// Parses the font as the renderer will (a TrueType/OpenType font or collection) and answers
/// its family name, which is how the renderer selects it: the typographic family when the font
/// has one (a "Lobster Bold" face of family "Lobster"), else the family, in US English when
/// the font names it in several languages.
fn font_family(path: &Path) -> Result<String, ApiError> {
    let invalid = |details: String| invalid_file("Invalid font file", details);
    let data = std::fs::read(path).map_err(ApiError::internal)?;
    let face = ttf_parser::Face::parse(&data, 0)
        .map_err(|err| invalid(format!("Not a TrueType or OpenType font: {err}.")))?;
    let named = |id: u16| {
        let names: Vec<(bool, String)> = face
            .names()
            .into_iter()
            .filter(|name| name.name_id == id)
            .filter_map(|name| {
                let english = name.language() == ttf_parser::Language::English_UnitedStates;
                let text = name.to_string()?.trim().to_owned();
                (!text.is_empty()).then_some((english, text))
            })
            .collect();
        let english = names.iter().find(|(english, _)| *english);
        english.or(names.first()).map(|(_, text)| text.clone())
    };
    named(ttf_parser::name_id::TYPOGRAPHIC_FAMILY)
        .or_else(|| named(ttf_parser::name_id::FAMILY))
        .ok_or_else(|| invalid("The font has no family name.".to_owned()))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn name(client: &str) -> (String, String) {
        font_name(Some(client)).unwrap()
    }

    #[test]
    fn stored_names_are_sanitized_and_keep_a_font_extension() {
        assert_eq!(name("Lobster.ttf"), ("Lobster".into(), "ttf".into()));
        assert_eq!(
            name("My Font (Bold).OTF"),
            ("My_Font__Bold_".into(), "otf".into())
        );
        assert_eq!(name("../../etc/evil.ttf"), ("evil".into(), "ttf".into()));
        assert_eq!(
            name("C:\\fonts\\Café.woff2"),
            ("Caf_".into(), "woff2".into())
        );
        assert_eq!(name("..hidden.ttf"), ("hidden".into(), "ttf".into()));
        assert_eq!(name(".ttf"), ("font".into(), "ttf".into()));
        assert_eq!(
            name(&format!("{}.ttf", "x".repeat(300))).0.len(),
            STEM_MAX_CHARS
        );
        for bad in ["font.exe", "font", "font.ttf.zip", ""] {
            assert!(font_name(Some(bad)).is_err(), "{bad}");
        }
        assert!(font_name(None).is_err());
    }

    #[test]
    fn only_parsable_fonts_pass_and_give_their_family() {
        let dir = tempfile::tempdir().unwrap();
        let junk = dir.path().join("junk.ttf");
        std::fs::write(&junk, b"\0\x01\0\0 not really a font").unwrap();
        assert!(font_family(&junk).is_err());
        // Debian's fonts-dejavu-core: the renderer's default font, and a bold face of it.
        let dejavu = "/usr/share/fonts/truetype/dejavu/";
        for face in ["DejaVuSans.ttf", "DejaVuSans-Bold.ttf"] {
            let family = font_family(&Path::new(dejavu).join(face)).unwrap();
            assert_eq!(family, "DejaVu Sans", "{face}");
        }
    }
}
