//! The JSON the editor UI reads, built from rows: ISO dates, `/media/...` URLs in place of
//! media-relative paths, and DRF's pagination envelope.

use actix_web::HttpRequest;
use serde::Serialize;

use crate::models::{iso8601, GlobalSettings, Logo, Project, Segment};
use crate::repository::ProjectSummary;

/// DRF's page size; clients cannot change it.
pub const PAGE_SIZE: i64 = 50;

/// The URL of a media-relative path. Stored names are UUIDs and fixed folder names, so they
/// need no escaping.
pub fn media_url(relative: &str) -> String {
    format!("/media/{relative}")
}

#[derive(Debug, Serialize)]
pub struct ProjectJson {
    pub id: String,
    pub title: String,
    pub created_at: String,
    pub updated_at: String,
    pub status: String,
    pub resolution_width: i32,
    pub resolution_height: i32,
    pub framerate: i32,
    pub segment_count: i64,
}

impl ProjectJson {
    pub fn new(project: &Project, segment_count: i64) -> Self {
        Self {
            id: project.id.clone(),
            title: project.title.clone(),
            created_at: iso8601(&project.created_at),
            updated_at: iso8601(&project.updated_at),
            status: project.status.clone(),
            resolution_width: project.resolution_width,
            resolution_height: project.resolution_height,
            framerate: project.framerate,
            segment_count,
        }
    }
}

impl From<&ProjectSummary> for ProjectJson {
    fn from(summary: &ProjectSummary) -> Self {
        Self::new(&summary.project, summary.segment_count)
    }
}

/// A project with its segments in order (no `segment_count`, as in DRF's detail serializer).
#[derive(Debug, Serialize)]
pub struct ProjectDetailJson {
    pub id: String,
    pub title: String,
    pub created_at: String,
    pub updated_at: String,
    pub status: String,
    pub resolution_width: i32,
    pub resolution_height: i32,
    pub framerate: i32,
    pub output_path: Option<String>,
    pub segments: Vec<SegmentJson>,
}

impl ProjectDetailJson {
    pub fn new(project: &Project, segments: &[Segment]) -> Self {
        Self {
            id: project.id.clone(),
            title: project.title.clone(),
            created_at: iso8601(&project.created_at),
            updated_at: iso8601(&project.updated_at),
            status: project.status.clone(),
            resolution_width: project.resolution_width,
            resolution_height: project.resolution_height,
            framerate: project.framerate,
            output_path: project.output_path.clone(),
            segments: segments.iter().map(SegmentJson::from).collect(),
        }
    }
}

#[derive(Debug, Serialize)]
pub struct SegmentJson {
    pub id: String,
    pub project: String,
    pub sequence_index: i32,
    pub text_content: String,
    pub image_prompt: String,
    pub image_file: Option<String>,
    pub audio_file: Option<String>,
    pub audio_duration: Option<f64>,
    pub is_locked: bool,
    pub created_at: String,
    pub updated_at: String,
}

impl From<&Segment> for SegmentJson {
    fn from(segment: &Segment) -> Self {
        Self {
            id: segment.id.clone(),
            project: segment.project_id.clone(),
            sequence_index: segment.sequence_index,
            text_content: segment.text_content.clone(),
            image_prompt: segment.image_prompt.clone(),
            image_file: segment.image_file.as_deref().map(media_url),
            audio_file: segment.audio_file.as_deref().map(media_url),
            audio_duration: segment.audio_duration,
            is_locked: segment.is_locked,
            created_at: iso8601(&segment.created_at),
            updated_at: iso8601(&segment.updated_at),
        }
    }
}

#[derive(Debug, Serialize)]
pub struct LogoJson {
    pub id: String,
    pub name: String,
    /// Always relative: the UI prefixes it with the server's address.
    pub file: String,
    pub uploaded_at: String,
}

impl From<&Logo> for LogoJson {
    fn from(logo: &Logo) -> Self {
        Self {
            id: logo.id.clone(),
            name: logo.name.clone(),
            file: media_url(&logo.file),
            uploaded_at: iso8601(&logo.uploaded_at),
        }
    }
}

/// Every settings field; numbers stay numbers (the UI calls `.toFixed()` on some).
#[derive(Debug, Serialize)]
pub struct SettingsJson {
    pub default_voice_id: String,
    pub tts_speed: f64,
    pub subtitle_font_family: String,
    pub subtitle_font_size: i32,
    pub subtitle_font_color: String,
    pub subtitle_color: String,
    pub subtitle_position: String,
    pub subtitle_font: String,
    pub custom_font_file: Option<String>,
    pub subtitles_enabled: bool,
    pub render_width: i32,
    pub render_height: i32,
    pub render_fps: i32,
    pub ken_burns_zoom: f64,
    pub zoom_intensity: f64,
    pub transition_duration: f64,
    pub inter_segment_silence: f64,
    pub logo_enabled: bool,
    pub active_logo: Option<String>,
    pub logo_scale: f64,
    pub logo_position: String,
    pub logo_opacity: f64,
    pub logo_margin: i32,
    pub created_at: String,
    pub updated_at: String,
}

impl From<&GlobalSettings> for SettingsJson {
    fn from(s: &GlobalSettings) -> Self {
        Self {
            default_voice_id: s.default_voice_id.clone(),
            tts_speed: s.tts_speed,
            subtitle_font_family: s.subtitle_font_family.clone(),
            subtitle_font_size: s.subtitle_font_size,
            subtitle_font_color: s.subtitle_font_color.clone(),
            subtitle_color: s.subtitle_color.clone(),
            subtitle_position: s.subtitle_position.clone(),
            subtitle_font: s.subtitle_font.clone(),
            custom_font_file: s.custom_font_file.as_deref().map(media_url),
            subtitles_enabled: s.subtitles_enabled,
            render_width: s.render_width,
            render_height: s.render_height,
            render_fps: s.render_fps,
            ken_burns_zoom: s.ken_burns_zoom,
            zoom_intensity: s.zoom_intensity,
            transition_duration: s.transition_duration,
            inter_segment_silence: s.inter_segment_silence,
            logo_enabled: s.logo_enabled,
            active_logo: s.active_logo.clone(),
            logo_scale: s.logo_scale,
            logo_position: s.logo_position.clone(),
            logo_opacity: s.logo_opacity,
            logo_margin: s.logo_margin,
            created_at: iso8601(&s.created_at),
            updated_at: iso8601(&s.updated_at),
        }
    }
}

/// DRF's `{count, next, previous, results}` with absolute page links.
#[derive(Debug, Serialize)]
pub struct PageJson<T> {
    pub count: i64,
    pub next: Option<String>,
    pub previous: Option<String>,
    pub results: Vec<T>,
}

impl<T> PageJson<T> {
    /// `page` is 1-based; links keep the request's other query parameters.
    pub fn new(req: &HttpRequest, page: i64, count: i64, results: Vec<T>) -> Self {
        let last = last_page(count);
        Self {
            count,
            next: (page < last).then(|| page_link(req, Some(page + 1))),
            // Like DRF, the link to page 1 carries no page parameter.
            previous: (page > 1).then(|| page_link(req, (page > 2).then_some(page - 1))),
            results,
        }
    }
}

/// The number of pages; an empty list still has page 1.
pub fn last_page(count: i64) -> i64 {
    ((count + PAGE_SIZE - 1) / PAGE_SIZE).max(1)
}

fn page_link(req: &HttpRequest, page: Option<i64>) -> String {
    let info = req.connection_info();
    // The client's other parameters are kept as sent, still percent-encoded.
    let mut query: Vec<String> = req
        .query_string()
        .split('&')
        .filter(|pair| !pair.is_empty() && pair.split('=').next() != Some("page"))
        .map(str::to_owned)
        .collect();
    if let Some(page) = page {
        query.push(format!("page={page}"));
    }
    let mut link = format!("{}://{}{}", info.scheme(), info.host(), req.path());
    if !query.is_empty() {
        link.push('?');
        link.push_str(&query.join("&"));
    }
    link
}
