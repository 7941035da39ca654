//! The settings body.

use core_engine::logo::LogoPosition;
use core_engine::spec::{Bounds, FRAME_RATES};
use core_engine::spec::{
    LOGO_MARGIN, LOGO_OPACITY, LOGO_SCALE, LOUDNESS_TARGET, MUSIC_DUCKING, MUSIC_VOLUME, SILENCE,
    SUBTITLE_SIZE, TRANSITION, ZOOM,
};
use core_engine::text_overlay::SubtitlePosition;
use serde_json::Value;

use super::{
    boolean, hex_color, integer, integer_in, named, number_in, object, one_of, resolution,
    short_text, uuid_string, Errors, READ_ONLY, UNKNOWN,
};
use crate::errors::ApiError;
use crate::models::{GlobalSettings, SettingsUpdate};

/// The narration speeds the synthesiser takes (the editor's slider offers the same).
pub const TTS_SPEED: Bounds<f64> = Bounds::new(tts::MIN_SPEED as f64, tts::MAX_SPEED as f64);

const SETTINGS_READ_ONLY: [&str; 6] = [
    "id",
    "created_at",
    "updated_at",
    "custom_font_file",
    "subtitle_font",
    "music_file",
];

/// `PATCH /api/settings/`: every field checked against its range; unknown and read-only
/// fields refused; the resolution pair checked against the presets (key `render_resolution`),
/// the missing half taken from `current`; `subtitle_color` and `subtitle_font_color` set
/// together. Whether `active_logo` exists is left to the repository.
pub fn settings_update(body: &Value, current: &GlobalSettings) -> Result<SettingsUpdate, ApiError> {
    let body = object(body)?;
    let mut errors = Errors::default();
    let mut update = SettingsUpdate::default();
    let mut font_color = None;
    for (key, value) in body {
        let e = &mut errors;
        match key.as_str() {
            "default_voice_id" => update.default_voice_id = e.check(key, short_text(value, 100)),
            "tts_speed" => update.tts_speed = e.check(key, number_in(value, TTS_SPEED)),
            "subtitle_font_family" => {
                update.subtitle_font_family = e.check(key, short_text(value, 100));
            }
            "subtitle_font_size" => {
                update.subtitle_font_size =
                    e.check(key, integer_in(value, SUBTITLE_SIZE, |v| Some(v as f32)));
            }
            "subtitle_color" => update.subtitle_color = e.check(key, hex_color(value)),
            "subtitle_font_color" => font_color = e.check(key, hex_color(value)),
            "subtitle_highlight_color" => {
                update.subtitle_highlight_color = if value.is_null() {
                    Some(None)
                } else {
                    e.check(key, hex_color(value)).map(Some)
                };
            }
            "subtitle_position" => {
                update.subtitle_position = e.check(
                    key,
                    named(value, &SubtitlePosition::ALL, SubtitlePosition::as_str),
                );
            }
            "subtitles_enabled" => update.subtitles_enabled = e.check(key, boolean(value)),
            "render_width" => update.render_width = e.check(key, integer(value)),
            "render_height" => update.render_height = e.check(key, integer(value)),
            "render_fps" => update.render_fps = e.check(key, one_of(value, &FRAME_RATES)),
            "ken_burns_zoom" => update.ken_burns_zoom = e.check(key, number_in(value, ZOOM)),
            "zoom_intensity" => update.zoom_intensity = e.check(key, number_in(value, ZOOM)),
            "transition_duration" => {
                update.transition_duration = e.check(key, number_in(value, TRANSITION));
            }
            "inter_segment_silence" => {
                update.inter_segment_silence = e.check(key, number_in(value, SILENCE));
            }
            "logo_enabled" => update.logo_enabled = e.check(key, boolean(value)),
            "active_logo" => {
                update.active_logo = if value.is_null() {
                    Some(None)
                } else {
                    e.check(key, uuid_string(value)).map(Some)
                };
            }
            "logo_scale" => update.logo_scale = e.check(key, number_in(value, LOGO_SCALE)),
            "logo_position" => {
                update.logo_position =
                    e.check(key, named(value, &LogoPosition::ALL, LogoPosition::as_str));
            }
            "logo_opacity" => update.logo_opacity = e.check(key, number_in(value, LOGO_OPACITY)),
            "logo_margin" => {
                update.logo_margin = e.check(
                    key,
                    integer_in(value, LOGO_MARGIN, |v| u32::try_from(v).ok()),
                );
            }
            "music_enabled" => update.music_enabled = e.check(key, boolean(value)),
            "music_volume" => update.music_volume = e.check(key, number_in(value, MUSIC_VOLUME)),
            "music_ducking_db" => {
                update.music_ducking_db = e.check(key, number_in(value, MUSIC_DUCKING));
            }
            "loudness_target_lufs" => {
                update.loudness_target_lufs = if value.is_null() {
                    Some(None)
                } else {
                    e.check(key, number_in(value, LOUDNESS_TARGET)).map(Some)
                };
            }
            key if SETTINGS_READ_ONLY.contains(&key) => e.add(key, READ_ONLY),
            key => e.add(key, UNKNOWN),
        }
    }
    if update.render_width.is_some() || update.render_height.is_some() {
        let width = update.render_width.unwrap_or(current.render_width);
        let height = update.render_height.unwrap_or(current.render_height);
        errors.check("render_resolution", resolution(width, height));
    }
    // The two names are one setting: either sets both.
    match (&update.subtitle_color, font_color) {
        (Some(color), Some(other)) if *color != other => errors.add(
            "subtitle_font_color",
            "subtitle_color and subtitle_font_color are the same setting; send one value.",
        ),
        (Some(color), _) => update.subtitle_font_color = Some(color.clone()),
        (None, Some(color)) => {
            update.subtitle_color = Some(color.clone());
            update.subtitle_font_color = Some(color);
        }
        (None, None) => {}
    }
    errors.finish(update)
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;
    use crate::validation::tests::{field_errors, settings};

    #[test]
    fn settings_update_lists_every_bad_field() {
        let body = json!({
            "subtitle_font_size": 200,
            "render_fps": 25,
            "logo_position": "middle",
            "zoom_intensity": "1.5",
            "bogus": 1,
            "updated_at": "2026-01-01",
            "logo_opacity": 0.5,
        });
        let errors = field_errors(settings_update(&body, &settings()));
        let keys: Vec<&str> = errors.keys().map(String::as_str).collect();
        assert_eq!(
            keys,
            [
                "bogus",
                "logo_position",
                "render_fps",
                "subtitle_font_size",
                "updated_at",
                "zoom_intensity"
            ]
        );
        assert!(errors.values().all(|messages| messages.len() == 1));
    }

    #[test]
    fn the_resolution_pair_is_checked_with_the_current_half() {
        let mut current = settings();
        let ok = settings_update(
            &json!({"render_width": 1080, "render_height": 1920}),
            &current,
        );
        assert_eq!(ok.unwrap().render_width, Some(1080));
        let errors = field_errors(settings_update(&json!({"render_width": 1280}), &current));
        assert!(errors.contains_key("render_resolution"));
        current.render_width = 1080;
        current.render_height = 1080;
        assert!(settings_update(&json!({"render_height": 1350}), &current).is_ok());
    }

    #[test]
    fn both_colour_names_set_one_setting() {
        let from_panel = settings_update(&json!({"subtitle_color": "#f00"}), &settings()).unwrap();
        assert_eq!(from_panel.subtitle_color.as_deref(), Some("#FF0000"));
        assert_eq!(from_panel.subtitle_font_color.as_deref(), Some("#FF0000"));
        let from_page = settings_update(&json!({"subtitle_font_color": "#00ff00"}), &settings());
        let from_page = from_page.unwrap();
        assert_eq!(from_page.subtitle_color.as_deref(), Some("#00FF00"));
        assert_eq!(from_page.subtitle_font_color.as_deref(), Some("#00FF00"));
        let both = json!({"subtitle_color": "#fff", "subtitle_font_color": "#FFFFFF"});
        assert!(settings_update(&both, &settings()).is_ok());
        let clash = json!({"subtitle_color": "#fff", "subtitle_font_color": "#000"});
        assert!(
            field_errors(settings_update(&clash, &settings())).contains_key("subtitle_font_color")
        );
    }

    #[test]
    fn the_highlight_colour_is_a_colour_or_null() {
        let set = settings_update(&json!({"subtitle_highlight_color": "#00ff88"}), &settings());
        assert_eq!(
            set.unwrap().subtitle_highlight_color,
            Some(Some("#00FF88".to_owned()))
        );
        let off = settings_update(&json!({"subtitle_highlight_color": null}), &settings());
        assert_eq!(off.unwrap().subtitle_highlight_color, Some(None));
        for bad in [
            json!("yellow"),
            json!("#FFD4"),
            json!(16766976),
            json!(true),
        ] {
            let body = json!({ "subtitle_highlight_color": bad });
            let errors = field_errors(settings_update(&body, &settings()));
            assert_eq!(
                errors.keys().collect::<Vec<_>>(),
                ["subtitle_highlight_color"]
            );
        }
        assert_eq!(
            settings().subtitle_highlight_color.as_deref(),
            Some("#FFD400")
        );
    }

    #[test]
    fn sound_settings_are_checked_against_the_renderer_bounds() {
        let body = json!({
            "music_enabled": true,
            "music_volume": 0.5,
            "music_ducking_db": 30,
            "loudness_target_lufs": -23,
        });
        let update = settings_update(&body, &settings()).unwrap();
        assert_eq!(update.music_enabled, Some(true));
        assert_eq!(update.music_volume, Some(0.5));
        assert_eq!(update.music_ducking_db, Some(MUSIC_DUCKING.max));
        assert_eq!(update.loudness_target_lufs, Some(Some(-23.0)));
        let untouched = settings_update(&json!({"music_volume": 0}), &settings()).unwrap();
        assert_eq!(untouched.loudness_target_lufs, None);
        let off = settings_update(&json!({"loudness_target_lufs": null}), &settings()).unwrap();
        assert_eq!(off.loudness_target_lufs, Some(None));
        for (key, bad) in [
            ("music_volume", json!(MUSIC_VOLUME.max + 0.5)),
            ("music_volume", json!(-0.1)),
            ("music_volume", json!(null)),
            ("music_ducking_db", json!(MUSIC_DUCKING.max + 1.0)),
            ("music_ducking_db", json!("12")),
            ("loudness_target_lufs", json!(LOUDNESS_TARGET.min - 1.0)),
            ("loudness_target_lufs", json!(LOUDNESS_TARGET.max + 1.0)),
            ("loudness_target_lufs", json!("-16")),
            ("music_enabled", json!(1)),
            ("music_file", json!(null)),
            ("music_file", json!("/media/music/x.mp3")),
        ] {
            let body = json!({ key: bad });
            let errors = field_errors(settings_update(&body, &settings()));
            assert_eq!(errors.keys().collect::<Vec<_>>(), [key], "{body}");
        }
    }

    #[test]
    fn active_logo_accepts_null_and_uuids_only() {
        let cleared = settings_update(&json!({"active_logo": null}), &settings()).unwrap();
        assert_eq!(cleared.active_logo, Some(None));
        let id = uuid::Uuid::new_v4().to_string();
        let set = settings_update(&json!({"active_logo": id.to_uppercase()}), &settings());
        assert_eq!(set.unwrap().active_logo, Some(Some(id)));
        assert!(settings_update(&json!({"active_logo": "logo-1"}), &settings()).is_err());
        assert!(settings_update(&json!([1, 2]), &settings()).is_err());
    }
}
