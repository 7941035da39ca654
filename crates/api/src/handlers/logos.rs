//! Watermark logos: list, upload (PNG, WebP or JPEG, decoded to be sure), delete.

use actix_multipart::Multipart;
use actix_web::{web, HttpResponse};

use crate::errors::{parse_uuid, ApiError};
use crate::handlers::support::{resource, with_conn};
use crate::handlers::uploads::receive_image;
use crate::models::{now, Logo};
use crate::repository;
use crate::state::AppState;
use crate::storage;

/// Display names are cut to this many characters.
const NAME_MAX_CHARS: usize = 100;

pub fn configure(cfg: &mut web::ServiceConfig) {
    cfg.service(
        resource("/api/settings/logos/")
            .route(web::get().to(list))
            .route(web::post().to(upload)),
    )
    .service(resource("/api/settings/logos/{id}/").route(web::delete().to(delete)));
}

async fn list(state: web::Data<AppState>) -> Result<HttpResponse, ApiError> {
    let logos = with_conn(&state, |conn| Ok(repository::list_logos(conn)?)).await?;
    Ok(HttpResponse::Ok().json(logos))
}

/// Multipart field `file`; stored as `logos/{uuid}.{ext}`, the client's name kept for display.
async fn upload(state: web::Data<AppState>, form: Multipart) -> Result<HttpResponse, ApiError> {
    let folder = state.media.path(storage::LOGOS_FOLDER);
    let image = receive_image(
        form,
        "file",
        folder,
        state.limits.logo_bytes,
        "No logo file provided",
    )
    .await?;
    let temp = image.file.temp;
    let id = uuid::Uuid::new_v4().to_string();
    let logo = Logo {
        file: storage::logo_path(&id, image.extension),
        id,
        name: display_name(image.file.client_name.as_deref()),
        uploaded_at: now(),
    };
    let media = state.media.clone();
    let file = logo.file.clone();
    web::block(move || storage::persist(temp, &media, &file))
        .await?
        .map_err(ApiError::internal)?;
    let media = state.media.clone();
    let logo = with_conn(&state, move |conn| {
        match repository::create_logo(conn, &logo) {
            Ok(()) => Ok(logo),
            Err(err) => {
                media.remove(&logo.file);
                Err(err.into())
            }
        }
    })
    .await?;
    Ok(HttpResponse::Created().json(&logo))
}

/// The uploaded file's name without folders or extension, printable, for display only.
pub fn display_name(client_name: Option<&str>) -> String {
    let name = client_name.unwrap_or_default().replace('\\', "/");
    let base = name.rsplit('/').next().unwrap_or_default();
    let stem = match base.rsplit_once('.') {
        Some((stem, _)) if !stem.is_empty() => stem,
        _ => base,
    };
    let cleaned: String = stem
        .chars()
        .filter(|c| !c.is_control())
        .take(NAME_MAX_CHARS)
        .collect();
    let cleaned = cleaned.trim();
    if cleaned.is_empty() || cleaned.chars().all(|c| c == '.') {
        "logo".to_owned()
    } else {
        cleaned.to_owned()
    }
}

/// Deletes the row (switching the watermark off if it was the active logo), then the file.
async fn delete(
    state: web::Data<AppState>,
    id: web::Path<String>,
) -> Result<HttpResponse, ApiError> {
    let id = parse_uuid(&id, "Logo")?.to_string();
    let media = state.media.clone();
    with_conn(&state, move |conn| {
        let logo = repository::delete_logo(conn, &id)?;
        media.remove(&logo.file);
        Ok(())
    })
    .await?;
    Ok(HttpResponse::NoContent().finish())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn display_names_drop_folders_extensions_and_control_characters() {
        assert_eq!(display_name(Some("Brand Mark.png")), "Brand Mark");
        assert_eq!(display_name(Some("../../etc/passwd.png")), "passwd");
        assert_eq!(display_name(Some("C:\\logos\\acme.webp")), "acme");
        assert_eq!(display_name(Some("bad\nname\u{0}.jpg")), "badname");
        assert_eq!(display_name(Some(".png")), ".png");
        assert_eq!(display_name(Some("..")), "logo");
        assert_eq!(display_name(None), "logo");
        assert_eq!(display_name(Some(&"x".repeat(300))).len(), NAME_MAX_CHARS);
    }
}
