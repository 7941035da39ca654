//! Watermark logos.

use diesel::prelude::*;

use super::{not_found, Result};
use crate::db::AnyConnection;
use crate::models::{now, Logo};
use crate::schema::{global_settings, logos};

pub fn create_logo(conn: &mut AnyConnection, logo: &Logo) -> Result<()> {
    diesel::insert_into(logos::table)
        .values(logo)
        .execute(conn)?;
    Ok(())
}

/// Newest first (`now()` never repeats a time, so the id only orders rows from other
/// processes that share a microsecond).
pub fn list_logos(conn: &mut AnyConnection) -> Result<Vec<Logo>> {
    Ok(logos::table
        .order((logos::uploaded_at.desc(), logos::id.desc()))
        .select(Logo::as_select())
        .load(conn)?)
}

pub fn get_logo(conn: &mut AnyConnection, id: &str) -> Result<Logo> {
    logos::table
        .find(id)
        .select(Logo::as_select())
        .first(conn)
        .optional()?
        .ok_or_else(|| not_found("Logo", id))
}

/// Deletes the logo; if it was the active one, the watermark is switched off too. Returns the
/// deleted row (the caller removes the file).
pub fn delete_logo(conn: &mut AnyConnection, id: &str) -> Result<Logo> {
    crate::db::write_transaction(conn, |conn| {
        let logo = get_logo(conn, id)?;
        diesel::update(global_settings::table.filter(global_settings::active_logo.eq(id)))
            .set((
                global_settings::active_logo.eq(None::<String>),
                global_settings::logo_enabled.eq(false),
                global_settings::updated_at.eq(now()),
            ))
            .execute(conn)?;
        diesel::delete(logos::table.find(id)).execute(conn)?;
        Ok(logo)
    })
}
