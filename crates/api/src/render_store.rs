//! The database side of the render task: `DieselProjectStore` implements
//! `tasks::ProjectStore` on the connection pool, turning a project, its segments, the global
//! settings and the active logo into a checked `core_engine::RenderSpec`. The render endpoint
//! builds the same spec before queueing, so settings the renderer cannot use are refused up
//! front. On a machine that keeps a copy of a bucket's media, the files a render reads are
//! fetched before its spec is built.

use std::path::Path;
use std::str::FromStr;

use core_engine::logo::{LogoPosition, LogoSpec};
use core_engine::overlay::OverlayError;
use core_engine::spec::{SpokenWord, FRAME_RATES};
use core_engine::text_overlay::{parse_hex_color, SubtitlePosition, SubtitleStyle};
use core_engine::{MusicSpec, RenderSpec, SegmentSpec, SoundSettings};

use crate::db::{AnyConnection, DbPool};
use crate::models::{GlobalSettings, Logo, Project, Segment};
use crate::repository::{self, RepoError};
use crate::state::PreviewSize;
use crate::storage::MediaStore;
use crate::tasks::{ProjectStore, StoreError};
use crate::validation;

/// Loads render input and records outcomes with its own pooled connection per call, so it is
/// safe to use from the worker thread.
#[derive(Debug, Clone)]
pub struct DieselProjectStore {
    pool: DbPool,
    media: MediaStore,
    preview: Option<PreviewSize>,
}

impl DieselProjectStore {
    pub fn new(pool: DbPool, media: MediaStore, preview: Option<PreviewSize>) -> Self {
        Self {
            pool,
            media,
            preview,
        }
    }
}

impl ProjectStore for DieselProjectStore {
    fn load_render_spec(&self, project_id: &str) -> Result<RenderSpec, StoreError> {
        let mut conn = self.pool.get()?;
        let input = load_render_input(&mut conn, project_id)?;
        drop(conn);
        let files = render_input_files(&input);
        // Room for this render's files first; a failure only leaves more copies on disk.
        if let Err(err) = self.media.trim_copies(&files) {
            log::warn!("cannot trim the media copies: {err}");
        }
        for file in files {
            // One missing here is the renderer's to report, naming its segment.
            self.media.fetch(file)?;
        }
        Ok(render_spec(&input, self.media.root(), self.preview)?)
    }

    fn mark_completed(
        &self,
        project_id: &str,
        output_path: &str,
        duration: f64,
    ) -> Result<(), StoreError> {
        let mut conn = self.pool.get()?;
        repository::mark_completed(&mut conn, project_id, output_path, duration)?;
        Ok(())
    }

    fn mark_failed(&self, project_id: &str) -> Result<(), StoreError> {
        let mut conn = self.pool.get()?;
        repository::mark_failed(&mut conn, project_id)?;
        Ok(())
    }
}

/// Everything a render of one project is made from, as stored.
#[derive(Debug, Clone, PartialEq)]
pub struct RenderInput {
    pub project: Project,
    /// In `sequence_index` order.
    pub segments: Vec<Segment>,
    pub settings: GlobalSettings,
    /// The row `settings.active_logo` names, read only while the watermark is enabled.
    pub active_logo: Option<Logo>,
}

/// Reads a project's render input. An unknown project is `RepoError::NotFound`; an active
/// logo whose row is gone is logged and left out (the render goes on without a watermark).
pub fn load_render_input(
    conn: &mut AnyConnection,
    project_id: &str,
) -> Result<RenderInput, RepoError> {
    // The project first, so an unknown id reads as "not found", not as "no segments".
    let project = repository::get_project(conn, project_id)?;
    let segments = repository::list_segments(conn, project_id)?;
    let settings = repository::get_settings(conn)?;
    let active_logo = match settings.active_logo.as_deref() {
        Some(id) if settings.logo_enabled => match repository::get_logo(conn, id) {
            Ok(logo) => Some(logo),
            Err(RepoError::NotFound { .. }) => {
                log::warn!("the active logo {id} no longer exists; rendering without a logo");
                None
            }
            Err(err) => return Err(err),
        },
        _ => None,
    };
    Ok(RenderInput {
        project,
        segments,
        settings,
        active_logo,
    })
}

/// The media-relative files a render of `input` reads: the segments' pictures and narration,
/// and the font, logo and music while the settings use them.
pub fn render_input_files(input: &RenderInput) -> Vec<&str> {
    let settings = &input.settings;
    let segments = input
        .segments
        .iter()
        .flat_map(|segment| [&segment.image_file, &segment.audio_file]);
    let font = settings
        .custom_font_file
        .as_ref()
        .filter(|_| settings.subtitles_enabled);
    let logo = input
        .active_logo
        .as_ref()
        .filter(|_| settings.logo_enabled)
        .map(|logo| &logo.file);
    let music = settings
        .music_file
        .as_ref()
        .filter(|_| settings.music_enabled);
    segments
        .flatten()
        .chain(font)
        .chain(logo)
        .chain(music)
        .map(String::as_str)
        .collect()
}

/// A stored setting the renderer cannot use. PATCH checks every field, so this means a value
/// that reached the database some other way (an older version, a hand edit).
#[derive(Debug, thiserror::Error)]
pub enum SettingsError {
    /// A colour or position that does not parse.
    #[error("{setting} is not valid")]
    Unparsable {
        setting: &'static str,
        #[source]
        source: OverlayError,
    },
    /// A value the API itself does not offer (resolution presets, frame rates, margins).
    #[error("{setting}: {message}")]
    Invalid {
        setting: &'static str,
        message: String,
    },
    /// A value outside the renderer's range, as `RenderSpec::validate` words it.
    #[error("{0}")]
    OutOfRange(String),
}

/// The spec of a render from its stored input, checked by `RenderSpec::validate`.
///
/// Size and frame rate come from the settings (one of the presets, 24/30/60 fps), or from the
/// project's own format where the settings hold 0 (unset); a preview size, when the server runs
/// with one, overrides both. Subtitles are burned in when enabled, in the settings' style
/// (`subtitle_color` is the colour the editor's panel sets, kept equal to `subtitle_font_color`
/// by PATCH) with the uploaded font file when there is one. The logo is drawn when enabled and
/// its row exists; a missing logo file is the renderer's warning. Segment files are stored
/// media-relative; a segment without one yields a path the renderer reports as missing,
/// naming the segment. A narration with word timings beside it (see [`read_words`]) gets
/// captions that follow the voice. The sound is finished as [`sound_settings`] says.
pub fn render_spec(
    input: &RenderInput,
    media_root: &Path,
    preview: Option<PreviewSize>,
) -> Result<RenderSpec, SettingsError> {
    let settings = &input.settings;
    let (width, height, fps) = match preview {
        Some(size) => (size.width, size.height, size.fps),
        None => output_format(&input.project, settings)?,
    };
    let subtitles = if settings.subtitles_enabled {
        Some(subtitle_style(settings, media_root)?)
    } else {
        None
    };
    let logo = match &input.active_logo {
        Some(logo) if settings.logo_enabled => Some(logo_spec(settings, logo, media_root)?),
        _ => None,
    };
    let media = |file: &Option<String>| media_root.join(file.as_deref().unwrap_or_default());
    let spec = RenderSpec {
        width,
        height,
        fps,
        zoom_intensity: settings.zoom_intensity,
        inter_segment_silence: settings.inter_segment_silence,
        transition_duration: settings.transition_duration,
        subtitles,
        logo,
        sound: sound_settings(settings, media_root),
        segments: input
            .segments
            .iter()
            .enumerate()
            .map(|(index, segment)| SegmentSpec {
                index,
                image: media(&segment.image_file),
                audio: media(&segment.audio_file),
                text: segment.text_content.clone(),
                words: segment
                    .audio_file
                    .as_ref()
                    .and_then(|file| read_words(&media_root.join(file))),
            })
            .collect(),
        ..RenderSpec::default()
    };
    spec.check().map_err(SettingsError::OutOfRange)?;
    Ok(spec)
}

/// Width, height and frame rate: the settings', or the project's where the settings are unset.
fn output_format(
    project: &Project,
    settings: &GlobalSettings,
) -> Result<(u32, u32, u32), SettingsError> {
    let (width, height, size_setting) = if settings.render_width == 0 || settings.render_height == 0
    {
        (
            project.resolution_width,
            project.resolution_height,
            "project resolution_width/resolution_height",
        )
    } else {
        (
            settings.render_width,
            settings.render_height,
            "render_width/render_height",
        )
    };
    validation::resolution(width, height).map_err(|message| SettingsError::Invalid {
        setting: size_setting,
        message,
    })?;
    let (fps, fps_setting) = if settings.render_fps == 0 {
        (project.framerate, "project framerate")
    } else {
        (settings.render_fps, "render_fps")
    };
    if !u32::try_from(fps).is_ok_and(|fps| FRAME_RATES.contains(&fps)) {
        return Err(SettingsError::Invalid {
            setting: fps_setting,
            message: format!("{fps} fps is not one of 24, 30, 60"),
        });
    }
    // Every preset and frame rate is positive, so these are exact.
    Ok((
        width.unsigned_abs(),
        height.unsigned_abs(),
        fps.unsigned_abs(),
    ))
}

fn subtitle_style(
    settings: &GlobalSettings,
    media_root: &Path,
) -> Result<SubtitleStyle, SettingsError> {
    let family = settings.subtitle_font_family.trim();
    Ok(SubtitleStyle {
        font_family: (!family.is_empty()).then(|| family.to_owned()),
        font_file: settings
            .custom_font_file
            .as_deref()
            .map(|file| media_root.join(file)),
        // Integers of 12–120: exact as f32.
        font_size: Some(settings.subtitle_font_size as f32),
        color: parse("subtitle_color", &settings.subtitle_color, parse_hex_color)?,
        position: parse(
            "subtitle_position",
            &settings.subtitle_position,
            SubtitlePosition::from_str,
        )?,
        highlight_color: settings
            .subtitle_highlight_color
            .as_deref()
            .map(|colour| parse("subtitle_highlight_color", colour, parse_hex_color))
            .transpose()?,
        ..SubtitleStyle::default()
    })
}

/// The word timings the text to speech wrote beside a narration (`X.wav` -> `X.words.json`,
/// `[{"word": "Hello,", "start": 0.12, "end": 0.48}, ...]`). `None` when there are none
/// (uploaded narration) or they cannot be read, which only costs the captions their word
/// timing (logged).
/// The word timings our voices wrote beside a narration, for captions that follow the voice;
/// none for uploaded narration. A damaged file is logged and ignored: the captions are then
/// spread over the narration as for an upload.
fn read_words(audio: &Path) -> Option<Vec<SpokenWord>> {
    match tts::read_words(audio) {
        Ok(words) => words.map(|words| words.into_iter().map(spoken_word).collect()),
        Err(err) => {
            log::warn!("{}", task_manager::error_chain(&err));
            None
        }
    }
}

/// The renderer's copy of a word timing (core_engine knows nothing of the tts crate).
pub fn spoken_word(word: tts::WordTiming) -> SpokenWord {
    SpokenWord {
        word: word.word,
        start: word.start,
        end: word.end,
    }
}

/// The stored loudness target (`None` leaves the level alone), and the music while it is
/// enabled and a file is stored (the upload checked it decodes; the renderer reads it).
fn sound_settings(settings: &GlobalSettings, media_root: &Path) -> SoundSettings {
    let music = match &settings.music_file {
        Some(file) if settings.music_enabled => Some(MusicSpec {
            path: media_root.join(file),
            volume: settings.music_volume,
            ducking_db: settings.music_ducking_db,
        }),
        _ => None,
    };
    SoundSettings {
        loudness_target_lufs: settings.loudness_target_lufs,
        music,
    }
}

fn logo_spec(
    settings: &GlobalSettings,
    logo: &Logo,
    media_root: &Path,
) -> Result<LogoSpec, SettingsError> {
    Ok(LogoSpec {
        path: media_root.join(&logo.file),
        scale: settings.logo_scale,
        position: parse(
            "logo_position",
            &settings.logo_position,
            LogoPosition::from_str,
        )?,
        opacity: settings.logo_opacity,
        margin: u32::try_from(settings.logo_margin).map_err(|_| SettingsError::Invalid {
            setting: "logo_margin",
            message: format!("{} pixels is negative", settings.logo_margin),
        })?,
    })
}

fn parse<T>(
    setting: &'static str,
    text: &str,
    parse: impl Fn(&str) -> Result<T, OverlayError>,
) -> Result<T, SettingsError> {
    parse(text).map_err(|source| SettingsError::Unparsable { setting, source })
}

#[cfg(test)]
mod tests {
    use std::path::PathBuf;

    use super::*;
    use crate::models::now;

    const MEDIA: &str = "/srv/media";

    fn segment(index: i32, text: &str) -> Segment {
        let at = now();
        Segment {
            id: format!("s{index}"),
            project_id: "p".into(),
            sequence_index: index,
            text_content: text.into(),
            image_prompt: String::new(),
            image_file: Some(format!("projects/p/images/{index}.png")),
            audio_file: Some(format!("projects/p/audio/{index}.wav")),
            audio_duration: Some(1.0),
            is_locked: false,
            created_at: at,
            updated_at: at,
        }
    }

    fn logo() -> Logo {
        Logo {
            id: "8f0c3b5e-8a43-4bd5-9d6a-2f1f7a0c9e11".into(),
            name: "Brand".into(),
            file: "logos/brand.png".into(),
            uploaded_at: now(),
        }
    }

    fn input() -> RenderInput {
        let mut project = Project::new("Fox");
        project.resolution_width = 1080;
        project.resolution_height = 1920;
        project.framerate = 24;
        RenderInput {
            project,
            segments: vec![segment(0, "One."), segment(1, "")],
            settings: GlobalSettings::defaults(now()),
            active_logo: None,
        }
    }

    fn spec(input: &RenderInput) -> RenderSpec {
        render_spec(input, Path::new(MEDIA), None).unwrap()
    }

    fn error(input: &RenderInput) -> String {
        task_manager::error_chain(&render_spec(input, Path::new(MEDIA), None).unwrap_err())
    }

    #[test]
    fn default_settings_map_to_the_product_defaults() {
        let spec = spec(&input());
        let expected = RenderSpec {
            width: 1920,
            height: 1080,
            fps: 30,
            zoom_intensity: 1.3,
            inter_segment_silence: 0.3,
            transition_duration: 0.5,
            subtitles: Some(SubtitleStyle {
                font_family: Some("Arial".into()),
                font_file: None,
                font_size: Some(48.0),
                color: [255, 255, 255],
                outline_color: [0, 0, 0],
                position: SubtitlePosition::Bottom,
                highlight_color: Some([0xFF, 0xD4, 0x00]),
            }),
            logo: None,
            segments: vec![
                SegmentSpec::new(
                    0,
                    "/srv/media/projects/p/images/0.png",
                    "/srv/media/projects/p/audio/0.wav",
                    "One.",
                ),
                SegmentSpec::new(
                    1,
                    "/srv/media/projects/p/images/1.png",
                    "/srv/media/projects/p/audio/1.wav",
                    "",
                ),
            ],
            ..RenderSpec::default()
        };
        assert_eq!(spec, expected);
    }

    #[test]
    fn every_render_setting_is_applied() {
        let mut input = input();
        let s = &mut input.settings;
        (s.render_width, s.render_height, s.render_fps) = (864, 1080, 60);
        s.zoom_intensity = 1.75;
        s.inter_segment_silence = 1.25;
        s.transition_duration = 0.0;
        s.subtitle_font_family = "  ".into();
        s.custom_font_file = Some("fonts/Lobster.ttf".into());
        s.subtitle_font_size = 72;
        s.subtitle_color = "#FF8800".into();
        s.subtitle_font_color = "#FF8800".into();
        s.subtitle_position = "top".into();
        s.subtitle_highlight_color = None;
        s.logo_enabled = true;
        s.active_logo = Some(logo().id);
        s.logo_scale = 0.25;
        s.logo_position = "top-left".into();
        s.logo_opacity = 0.5;
        s.logo_margin = 0;
        input.active_logo = Some(logo());

        let spec = spec(&input);
        assert_eq!((spec.width, spec.height, spec.fps), (864, 1080, 60));
        assert_eq!(spec.zoom_intensity, 1.75);
        assert_eq!(spec.inter_segment_silence, 1.25);
        assert_eq!(spec.transition_duration, 0.0);
        assert_eq!(
            spec.subtitles,
            Some(SubtitleStyle {
                font_family: None,
                font_file: Some(PathBuf::from("/srv/media/fonts/Lobster.ttf")),
                font_size: Some(72.0),
                color: [255, 136, 0],
                outline_color: [0, 0, 0],
                position: SubtitlePosition::Top,
                highlight_color: None,
            })
        );
        assert_eq!(
            spec.logo,
            Some(LogoSpec {
                path: PathBuf::from("/srv/media/logos/brand.png"),
                scale: 0.25,
                position: LogoPosition::TopLeft,
                opacity: 0.5,
                margin: 0,
            })
        );
    }

    #[test]
    fn switches_turn_subtitles_and_the_logo_off() {
        let mut input = input();
        input.settings.subtitles_enabled = false;
        // Not used while off, so not a reason to refuse the render.
        input.settings.subtitle_color = "chartreuse".into();
        input.settings.logo_enabled = false;
        input.active_logo = Some(logo());
        let spec = spec(&input);
        assert_eq!((spec.subtitles, spec.logo), (None, None));

        let mut input = self::input();
        input.settings.logo_enabled = true;
        input.settings.active_logo = Some(logo().id);
        // The row was gone when the input was loaded.
        input.active_logo = None;
        assert_eq!(self::spec(&input).logo, None);
    }

    #[test]
    fn music_is_mixed_only_when_enabled_and_stored() {
        let mut input = input();
        let s = &mut input.settings;
        s.music_file = Some("music/theme.mp3".into());
        s.music_volume = 0.5;
        s.music_ducking_db = 6.0;
        s.loudness_target_lufs = Some(-23.0);
        assert_eq!(
            spec(&input).sound,
            SoundSettings {
                loudness_target_lufs: Some(-23.0),
                music: None,
            },
            "stored but off"
        );
        input.settings.music_enabled = true;
        assert_eq!(
            spec(&input).sound.music,
            Some(MusicSpec {
                path: PathBuf::from("/srv/media/music/theme.mp3"),
                volume: 0.5,
                ducking_db: 6.0,
            })
        );
        input.settings.music_file = None;
        input.settings.loudness_target_lufs = None;
        assert_eq!(
            spec(&input).sound,
            SoundSettings {
                loudness_target_lufs: None,
                music: None,
            },
            "on without a file; level left alone"
        );
    }

    #[test]
    fn word_timings_beside_a_narration_reach_the_spec() {
        let media = tempfile::tempdir().unwrap();
        let audio = media.path().join("projects/p/audio");
        std::fs::create_dir_all(&audio).unwrap();
        std::fs::write(
            audio.join("0.words.json"),
            r#"[{"word": "One.", "start": 0.12, "end": 0.48}]"#,
        )
        .unwrap();
        // Segment 1's file is not JSON of word timings: no timings, the render goes on.
        std::fs::write(audio.join("1.words.json"), "[1, 2]").unwrap();
        let mut input = input();
        input.segments.push(segment(2, "Uploaded."));
        let spec = render_spec(&input, media.path(), None).unwrap();
        assert_eq!(
            spec.segments[0].words,
            Some(vec![SpokenWord {
                word: "One.".into(),
                start: 0.12,
                end: 0.48
            }])
        );
        assert_eq!(
            (&spec.segments[1].words, &spec.segments[2].words),
            (&None, &None)
        );
        // A segment without narration has no timings to read.
        input.segments[0].audio_file = None;
        assert_eq!(
            render_spec(&input, media.path(), None).unwrap().segments[0].words,
            None
        );
    }

    #[test]
    fn unset_size_and_rate_fall_back_to_the_project() {
        let mut input = input();
        input.settings.render_width = 0;
        input.settings.render_fps = 0;
        let spec = spec(&input);
        assert_eq!((spec.width, spec.height, spec.fps), (1080, 1920, 24));
    }

    #[test]
    fn a_preview_size_overrides_settings_and_project() {
        let mut input = input();
        // Not a preset, but the preview decides the size.
        input.settings.render_width = 1000;
        let preview = PreviewSize {
            width: 320,
            height: 180,
            fps: 15,
        };
        let spec = render_spec(&input, Path::new(MEDIA), Some(preview)).unwrap();
        assert_eq!((spec.width, spec.height, spec.fps), (320, 180, 15));
    }

    #[test]
    fn invalid_settings_name_the_setting() {
        let mut bad = input();
        bad.settings.render_width = 1000;
        assert!(
            error(&bad).starts_with(
                "render_width/render_height: 1000x1080 is not a supported resolution; use one of: \
                 1280x720, 1920x1080,"
            ),
            "{}",
            error(&bad)
        );
        let mut bad = input();
        bad.settings.render_fps = 0;
        bad.project.framerate = 25;
        assert_eq!(
            error(&bad),
            "project framerate: 25 fps is not one of 24, 30, 60"
        );
        let mut bad = input();
        bad.settings.subtitle_color = "#12345G".into();
        assert_eq!(
            error(&bad),
            "subtitle_color is not valid: invalid overlay setting: \
             colour `#12345G` is not of the form #RRGGBB or #RGB"
        );
        let mut bad = input();
        bad.settings.subtitle_highlight_color = Some("gold".into());
        assert_eq!(
            error(&bad),
            "subtitle_highlight_color is not valid: invalid overlay setting: \
             colour `gold` is not of the form #RRGGBB or #RGB"
        );
        let mut bad = input();
        bad.settings.subtitle_position = "left".into();
        assert_eq!(
            error(&bad),
            "subtitle_position is not valid: invalid overlay setting: \
             subtitle position `left` is not one of bottom, center, top"
        );
        let mut bad = input();
        bad.settings.subtitle_font_size = 200;
        assert_eq!(error(&bad), "subtitle font size 200 must be from 12 to 120");
        let mut bad = input();
        bad.settings.zoom_intensity = 2.5;
        assert_eq!(error(&bad), "zoom_intensity 2.5 must be from 1 to 2");

        let mut bad = input();
        bad.settings.logo_enabled = true;
        bad.active_logo = Some(logo());
        bad.settings.logo_position = "middle".into();
        assert_eq!(
            error(&bad),
            "logo_position is not valid: invalid overlay setting: logo position `middle` is \
             not one of top-left, top-right, bottom-left, bottom-right"
        );
        bad.settings.logo_position = "bottom-left".into();
        bad.settings.logo_margin = -5;
        assert_eq!(error(&bad), "logo_margin: -5 pixels is negative");
        bad.settings.logo_margin = 10;
        bad.settings.logo_opacity = 1.5;
        assert_eq!(error(&bad), "logo opacity 1.5 must be from 0 to 1");

        let mut bad = input();
        bad.settings.loudness_target_lufs = Some(-5.0);
        assert_eq!(
            error(&bad),
            "loudness_target_lufs -5 must be from -30 to -9 LUFS"
        );
        let mut bad = input();
        bad.settings.music_enabled = true;
        bad.settings.music_file = Some("music/theme.mp3".into());
        bad.settings.music_ducking_db = 40.0;
        assert_eq!(error(&bad), "music_ducking_db 40 must be from 0 to 30 dB");
    }
}
