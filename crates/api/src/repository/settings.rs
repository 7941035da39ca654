//! The single settings row.

use diesel::prelude::*;

use super::logos::get_logo;
use super::{not_found, Result};
use crate::db::{on_backend, AnyConnection};
use crate::models::{now, GlobalSettings, SettingsUpdate};
use crate::schema::global_settings;

/// The settings row, created with the defaults the first time it is read.
pub fn get_settings(conn: &mut AnyConnection) -> Result<GlobalSettings> {
    if let Some(settings) = find_settings(conn)? {
        return Ok(settings);
    }
    // Two first readers may race here; DO NOTHING lets the loser keep the winner's row.
    let defaults = GlobalSettings::defaults(now());
    on_backend!(conn, |conn| diesel::insert_into(global_settings::table)
        .values(&defaults)
        .on_conflict_do_nothing()
        .execute(conn))?;
    find_settings(conn)?.ok_or_else(|| not_found("GlobalSettings", "1"))
}

fn find_settings(conn: &mut AnyConnection) -> Result<Option<GlobalSettings>> {
    Ok(global_settings::table
        .find(GlobalSettings::ID)
        .select(GlobalSettings::as_select())
        .first(conn)
        .optional()?)
}

/// Applies a partial update (already validated by the caller). An `active_logo` that names no
/// logo gives `NotFound { entity: "Logo" }`.
pub fn update_settings(
    conn: &mut AnyConnection,
    changes: &SettingsUpdate,
) -> Result<GlobalSettings> {
    Ok(replace_settings(conn, changes)?.1)
}

/// [`update_settings`], answering the settings as they were just before as well as after, read
/// in the same transaction: a caller replacing a stored file learns for sure which file the row
/// named until now.
pub fn replace_settings(
    conn: &mut AnyConnection,
    changes: &SettingsUpdate,
) -> Result<(GlobalSettings, GlobalSettings)> {
    crate::db::write_transaction(conn, |conn| {
        let before = get_settings(conn)?;
        if let Some(Some(logo_id)) = &changes.active_logo {
            get_logo(conn, logo_id)?;
        }
        let after = on_backend!(conn, |conn| diesel::update(
            global_settings::table.find(GlobalSettings::ID)
        )
        .set((changes, global_settings::updated_at.eq(now())))
        .returning(GlobalSettings::as_returning())
        .get_result(conn))?;
        Ok((before, after))
    })
}
