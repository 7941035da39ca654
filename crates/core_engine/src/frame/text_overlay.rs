//! Burned-in subtitle text: one cue's text rendered once into a premultiplied RGBA
//! [`Overlay`], centred, wrapped to 90% of the frame width, with a dark outline.
//!
//! Shaping, font fallback, wrapping and rasterising are cosmic-text's (fontdb + harfrust +
//! swash); this module only places the result and draws the outline, by dilating the glyph
//! coverage mask with a disc.

use std::path::PathBuf;
use std::str::FromStr;
use std::sync::Arc;

use cosmic_text::fontdb::{self, Family, Stretch, Style, Weight};
use cosmic_text::{
    Align, Attrs, Buffer, FontSystem, Metrics, Shaping, SwashCache, SwashContent, Wrap,
};

use crate::frame::overlay::{div255, parse_named, Overlay, OverlayError};

/// The family used when none is configured or the configured one is not installed.
pub const DEFAULT_FONT_FAMILY: &str = "DejaVu Sans";
/// Text lines are wrapped so the overlay, outline included, fits this fraction of the width.
const MAX_WIDTH_FRACTION: f32 = 0.9;
/// Distance from the frame's top or bottom edge to the text block, as a fraction of height.
const MARGIN_FRACTION: f32 = 0.06;
/// Automatic font size: the frame's shorter side divided by this (49 px at 1080p).
const AUTO_SIZE_DIVISOR: f32 = 22.0;
/// Font sizes are given for a frame whose shorter side has this many pixels.
const REFERENCE_LINES: f32 = 1080.0;
/// Line height as a multiple of the font size.
const LINE_SPACING: f32 = 1.2;

/// Where the subtitle block sits vertically; it is always centred horizontally.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub enum SubtitlePosition {
    #[default]
    Bottom,
    Center,
    Top,
}

impl SubtitlePosition {
    pub const ALL: [SubtitlePosition; 3] = [
        SubtitlePosition::Bottom,
        SubtitlePosition::Center,
        SubtitlePosition::Top,
    ];

    /// The setting's text: `bottom`, `center` or `top`.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Bottom => "bottom",
            Self::Center => "center",
            Self::Top => "top",
        }
    }
}

impl FromStr for SubtitlePosition {
    type Err = OverlayError;

    /// One of the [`as_str`](Self::as_str) texts, in any case.
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        parse_named(s, "subtitle position", &Self::ALL, Self::as_str)
    }
}

/// Parses a `#RRGGBB` or CSS-style short `#RGB` colour (`#F80` is `#FF8800`), in any case;
/// the `#` is optional.
pub fn parse_hex_color(s: &str) -> Result<[u8; 3], OverlayError> {
    let hex = s.trim();
    let hex = hex.strip_prefix('#').unwrap_or(hex);
    let invalid =
        || OverlayError::Invalid(format!("colour `{s}` is not of the form #RRGGBB or #RGB"));
    // Checked first so that the slicing below only ever meets single-byte characters.
    if !hex.bytes().all(|b| b.is_ascii_hexdigit()) {
        return Err(invalid());
    }
    let digits = match hex.len() {
        3 | 6 => hex.len() / 3,
        _ => return Err(invalid()),
    };
    let channel = |i: usize| {
        let value =
            u8::from_str_radix(&hex[i * digits..(i + 1) * digits], 16).map_err(|_| invalid())?;
        // One digit `F` stands for `FF`: 0xF * 17 = 0xFF.
        Ok(if digits == 1 { value * 17 } else { value })
    };
    Ok([channel(0)?, channel(1)?, channel(2)?])
}

/// `#RRGGBB` in upper case, the form settings store.
pub fn format_hex_color([r, g, b]: [u8; 3]) -> String {
    format!("#{r:02X}{g:02X}{b:02X}")
}

/// The colour of the word being spoken in captions that follow the voice, unless set.
pub const DEFAULT_HIGHLIGHT_COLOR: [u8; 3] = [0xFF, 0xD4, 0x00];

/// How subtitles look.
#[derive(Debug, Clone, PartialEq)]
pub struct SubtitleStyle {
    /// An installed font family; [`DEFAULT_FONT_FAMILY`] when unset or not installed.
    pub font_family: Option<String>,
    /// A TrueType/OpenType file to use instead of an installed family.
    pub font_file: Option<PathBuf>,
    /// Font size in pixels of a 1080-line frame, scaled with the output's shorter side (48 is
    /// 48 px at 1080p and 1080x1920, 16 px at 360p), so a project looks alike at every size
    /// and in preview renders; `None` picks shorter side / 22.
    pub font_size: Option<f32>,
    pub color: [u8; 3],
    pub outline_color: [u8; 3],
    pub position: SubtitlePosition,
    /// The colour of the word being spoken, in cues timed word by word (the rest of the line
    /// keeps `color`); `None` draws those cues like any other.
    pub highlight_color: Option<[u8; 3]>,
}

impl Default for SubtitleStyle {
    fn default() -> Self {
        Self {
            font_family: None,
            font_file: None,
            font_size: None,
            color: [255, 255, 255],
            outline_color: [0, 0, 0],
            position: SubtitlePosition::Bottom,
            highlight_color: Some(DEFAULT_HIGHLIGHT_COLOR),
        }
    }
}

/// Renders cue texts for one output size. Created once per render: loading the system font
/// database takes a while, and glyph images are cached across cues.
#[derive(Debug)]
pub struct TextRenderer {
    font_system: FontSystem,
    cache: SwashCache,
    family: String,
    weight: Weight,
    style: Style,
    stretch: Stretch,
    font_size: f32,
    outline_radius: u32,
    color: [u8; 3],
    outline_color: [u8; 3],
    position: SubtitlePosition,
    frame_width: u32,
    frame_height: u32,
}

impl TextRenderer {
    pub fn new(
        style: &SubtitleStyle,
        frame_width: u32,
        frame_height: u32,
    ) -> Result<Self, OverlayError> {
        if frame_width == 0 || frame_height == 0 {
            return Err(OverlayError::Invalid(format!(
                "frame size {frame_width}x{frame_height} is empty"
            )));
        }
        let short_side = frame_width.min(frame_height) as f32;
        let font_size = match style.font_size {
            Some(size) if size.is_finite() && size > 0.0 => size * short_side / REFERENCE_LINES,
            Some(size) => {
                return Err(OverlayError::Invalid(format!(
                    "subtitle font size {size} is not a positive number"
                )))
            }
            None => (short_side / AUTO_SIZE_DIVISOR).max(1.0),
        };
        let mut font_system = FontSystem::new();
        let (family, weight, style_, stretch) = match &style.font_file {
            Some(path) => load_font_file(&mut font_system, path)?,
            None => {
                let family = installed_family(&font_system, style.font_family.as_deref())?;
                (family, Weight::NORMAL, Style::Normal, Stretch::Normal)
            }
        };
        // Fallback for characters the chosen font lacks starts from the same family.
        font_system.db_mut().set_sans_serif_family(family.clone());
        Ok(Self {
            font_system,
            cache: SwashCache::new(),
            family,
            weight,
            style: style_,
            stretch,
            font_size,
            // 3 px at the automatic 1080p size, thicker with bigger text.
            outline_radius: (font_size / 16.0).round().clamp(2.0, 8.0) as u32,
            color: style.color,
            outline_color: style.outline_color,
            position: style.position,
            frame_width,
            frame_height,
        })
    }

    /// The font family in use (after fallback).
    pub fn family(&self) -> &str {
        &self.family
    }

    /// The font size in pixels (after auto-scaling).
    pub fn font_size(&self) -> f32 {
        self.font_size
    }

    /// Renders `text` as wrapped, centred lines placed per the style. Characters no font covers
    /// render as the font's "missing glyph" box. Blank text gives an empty overlay.
    pub fn render_cue(&mut self, text: &str) -> Overlay {
        match self.layout_cue(text) {
            Some(layout) => self.paint(&layout, None),
            None => Overlay::default(),
        }
    }

    /// Shapes and places `text` as [`render_cue`](Self::render_cue) does, once, so that
    /// [`paint`](Self::paint) can then colour any of its words without the lines moving.
    /// `None` when the text has no ink.
    pub fn layout_cue(&mut self, text: &str) -> Option<CueLayout> {
        let text = text.trim();
        if text.is_empty() {
            return None;
        }
        // Room for the outline (plus a pixel of anti-aliasing) around the ink.
        let pad = self.outline_radius as i32 + 1;
        let wrap_width = (self.frame_width as f32 * MAX_WIDTH_FRACTION - 2.0 * pad as f32).max(1.0);

        let mut buffer = Buffer::new(
            &mut self.font_system,
            Metrics::new(self.font_size, self.font_size * LINE_SPACING),
        );
        buffer.set_wrap(Wrap::WordOrGlyph);
        buffer.set_size(Some(wrap_width), None);
        let attrs = Attrs::new()
            .family(Family::Name(&self.family))
            .weight(self.weight)
            .style(self.style)
            .stretch(self.stretch);
        buffer.set_text(text, &attrs, Shaping::Advanced, Some(Align::Center));
        buffer.shape_until_scroll(&mut self.font_system, false);

        // The index in `text` of the first word of each of the buffer's lines.
        let mut first_words = Vec::with_capacity(buffer.lines.len());
        let mut words = 0;
        for line in &buffer.lines {
            first_words.push(words);
            words += line.text().split_whitespace().count();
        }
        let mut block_bottom = 0f32;
        let mut glyphs = Vec::new();
        for run in buffer.layout_runs() {
            block_bottom = block_bottom.max(run.line_top + run.line_height);
            let starts = word_starts(run.text);
            let first = first_words.get(run.line_i).copied().unwrap_or(0);
            glyphs.extend(run.glyphs.iter().map(|g| {
                let before = starts.partition_point(|&s| s <= g.start).saturating_sub(1);
                (g.physical((0.0, run.line_y), 1.0), first + before)
            }));
        }

        // Every glyph that has ink, at its top-left corner in buffer pixels, and their
        // bounding box.
        let mut placed = Vec::with_capacity(glyphs.len());
        let mut ink: Option<(i32, i32, i32, i32)> = None;
        for (glyph, word) in &glyphs {
            let Some(image) = self.cache.get_image(&mut self.font_system, glyph.cache_key) else {
                continue;
            };
            let p = image.placement;
            if p.width == 0 || p.height == 0 {
                continue;
            }
            let (x0, y0) = (glyph.x + p.left, glyph.y - p.top);
            let (x1, y1) = (x0 + p.width as i32, y0 + p.height as i32);
            ink = Some(match ink {
                None => (x0, y0, x1, y1),
                Some((a, b, c, d)) => (a.min(x0), b.min(y0), c.max(x1), d.max(y1)),
            });
            placed.push((glyph.cache_key, x0, y0, *word));
        }
        let (ink_x0, ink_y0, ink_x1, ink_y1) = ink?;
        let (left, top) = (ink_x0 - pad, ink_y0 - pad);
        let width = (ink_x1 - ink_x0 + 2 * pad) as usize;
        let height = (ink_y1 - ink_y0 + 2 * pad) as usize;
        let glyphs: Vec<PlacedGlyph> = placed
            .into_iter()
            .map(|(key, x0, y0, word)| PlacedGlyph {
                key,
                x: (x0 - left) as usize,
                y: (y0 - top) as usize,
                word,
            })
            .collect();

        // Coverage of the text, and the colour glyphs (emoji) drawn on top in their own colours.
        let mut coverage = vec![0u8; width * height];
        let mut colour_layer: Option<Vec<u8>> = None;
        for glyph in &glyphs {
            self.draw_glyph(glyph, width, &mut coverage, Some(&mut colour_layer));
        }
        let outline = dilate(&coverage, width, height, self.outline_radius as usize);

        // Lines are centred in the wrap box; the wrap box is centred in the frame. The block
        // (line boxes, not ink) is what sits at the margin, so the baseline does not jump
        // between cues with and without descenders.
        let frame_h = self.frame_height as f32;
        let margin = (frame_h * MARGIN_FRACTION).round();
        let offset_x = ((self.frame_width as f32 - wrap_width) / 2.0).round() as i32;
        let offset_y = match self.position {
            SubtitlePosition::Top => margin,
            SubtitlePosition::Center => (frame_h - block_bottom) / 2.0,
            SubtitlePosition::Bottom => frame_h - margin - block_bottom,
        }
        .round() as i32;
        let mut y = offset_y + top;
        if height <= self.frame_height as usize {
            y = y.clamp(0, (self.frame_height as usize - height) as i32);
        }
        Some(CueLayout {
            x: offset_x + left,
            y,
            width,
            height,
            glyphs,
            coverage,
            outline,
            colour_layer,
        })
    }

    /// The laid-out cue in the style's colours, with word `highlight.0` (counted in the text's
    /// whitespace-separated words) in colour `highlight.1` instead of the text colour.
    pub fn paint(&mut self, layout: &CueLayout, highlight: Option<(usize, [u8; 3])>) -> Overlay {
        let highlight = highlight.map(|(word, colour)| {
            let mut mask = vec![0u8; layout.coverage.len()];
            for glyph in layout.glyphs.iter().filter(|g| g.word == word) {
                self.draw_glyph(glyph, layout.width, &mut mask, None);
            }
            (mask, colour)
        });
        let pixels = compose(
            &layout.coverage,
            &layout.outline,
            layout.colour_layer.as_deref(),
            highlight
                .as_ref()
                .map(|(mask, colour)| (mask.as_slice(), *colour)),
            self.color,
            self.outline_color,
        );
        Overlay {
            x: layout.x,
            y: layout.y,
            width: layout.width as u32,
            height: layout.height as u32,
            pixels,
        }
    }

    /// Adds `glyph`'s coverage to the `width`-pixel-wide `coverage` mask, and its colour
    /// pixels (emoji) to `colour_layer` when one is given.
    fn draw_glyph(
        &mut self,
        glyph: &PlacedGlyph,
        width: usize,
        coverage: &mut [u8],
        mut colour_layer: Option<&mut Option<Vec<u8>>>,
    ) {
        let Some(image) = self.cache.get_image(&mut self.font_system, glyph.key) else {
            return;
        };
        let gw = image.placement.width as usize;
        let pixels = coverage.len();
        for row in 0..image.placement.height as usize {
            let at = (glyph.y + row) * width + glyph.x;
            match image.content {
                SwashContent::Mask => {
                    let Some(src) = image.data.get(row * gw..(row + 1) * gw) else {
                        break;
                    };
                    for (c, &s) in coverage[at..at + gw].iter_mut().zip(src) {
                        *c = (*c).max(s);
                    }
                }
                SwashContent::Color => {
                    let Some(src) = image.data.get(row * gw * 4..(row + 1) * gw * 4) else {
                        break;
                    };
                    for (i, s) in src.chunks_exact(4).enumerate() {
                        coverage[at + i] = coverage[at + i].max(s[3]);
                        if let Some(layer) = colour_layer.as_deref_mut() {
                            let layer = layer.get_or_insert_with(|| vec![0; pixels * 4]);
                            blend_straight(&mut layer[(at + i) * 4..(at + i) * 4 + 4], s);
                        }
                    }
                }
                // Only produced for LCD rendering, which cosmic-text never asks for.
                SwashContent::SubpixelMask => break,
            }
        }
    }
}

/// A cue's text shaped and placed (see [`TextRenderer::layout_cue`]): its glyphs, their
/// coverage and outline, and where the overlay goes in the frame.
#[derive(Debug, Clone)]
pub struct CueLayout {
    x: i32,
    y: i32,
    width: usize,
    height: usize,
    glyphs: Vec<PlacedGlyph>,
    coverage: Vec<u8>,
    outline: Vec<u8>,
    colour_layer: Option<Vec<u8>>,
}

/// A glyph with ink, at its top-left corner in the overlay, and the word it belongs to.
#[derive(Debug, Clone)]
struct PlacedGlyph {
    key: cosmic_text::CacheKey,
    x: usize,
    y: usize,
    word: usize,
}

/// The byte offsets at which the words of `text` (split at whitespace) start.
fn word_starts(text: &str) -> Vec<usize> {
    let mut starts = Vec::new();
    let mut in_word = false;
    for (i, c) in text.char_indices() {
        let letter = !c.is_whitespace();
        if letter && !in_word {
            starts.push(i);
        }
        in_word = letter;
    }
    starts
}

/// Loads a font file into the font system; returns its family and face attributes so the
/// file's own face is matched even when an installed font has the same family name.
fn load_font_file(
    font_system: &mut FontSystem,
    path: &std::path::Path,
) -> Result<(String, Weight, Style, Stretch), OverlayError> {
    let data = std::fs::read(path).map_err(|source| OverlayError::Io {
        path: path.to_path_buf(),
        source,
    })?;
    let db = font_system.db_mut();
    let ids = db.load_font_source(fontdb::Source::Binary(Arc::new(data)));
    let face = ids
        .first()
        .and_then(|&id| db.face(id))
        .ok_or_else(|| OverlayError::Font {
            path: path.to_path_buf(),
            reason: "not a TrueType or OpenType font".into(),
        })?;
    let family = face
        .families
        .first()
        .map(|(name, _)| name.clone())
        .ok_or_else(|| OverlayError::Font {
            path: path.to_path_buf(),
            reason: "the font has no family name".into(),
        })?;
    Ok((family, face.weight, face.style, face.stretch))
}

/// The installed family to use: the wanted one, else [`DEFAULT_FONT_FAMILY`], else any
/// family with "Sans" in its name, else any at all.
fn installed_family(
    font_system: &FontSystem,
    wanted: Option<&str>,
) -> Result<String, OverlayError> {
    let families: Vec<&str> = font_system
        .db()
        .faces()
        .flat_map(|face| face.families.iter().map(|(name, _)| name.as_str()))
        .collect();
    let find = |name: &str| {
        families
            .iter()
            .find(|f| f.eq_ignore_ascii_case(name))
            .map(|f| f.to_string())
    };
    if let Some(wanted) = wanted.map(str::trim).filter(|w| !w.is_empty()) {
        if let Some(found) = find(wanted) {
            return Ok(found);
        }
        log::warn!("subtitle font family `{wanted}` is not installed; using a fallback");
    }
    find(DEFAULT_FONT_FAMILY)
        .or_else(|| {
            families
                .iter()
                .find(|f| f.contains("Sans"))
                .map(|f| f.to_string())
        })
        .or_else(|| families.first().map(|f| f.to_string()))
        .ok_or(OverlayError::NoFont)
}

/// Grey-scale dilation of `mask` by a disc of `radius` pixels: each output pixel is the
/// largest input value within the disc around it. Separable per row: horizontal maxima of
/// every needed half-width first, then the disc's rows combined.
fn dilate(mask: &[u8], width: usize, height: usize, radius: usize) -> Vec<u8> {
    // Half-width of the disc at each vertical offset; +0.5 rounds the disc's outline.
    let r = radius as f64 + 0.5;
    let half: Vec<usize> = (0..=radius)
        .map(|dy| (r * r - (dy * dy) as f64).sqrt().floor() as usize)
        .collect();
    // horizontal[h] = max over [x - h, x + h] of each row, for h = 0..=radius.
    let mut horizontal: Vec<Vec<u8>> = vec![mask.to_vec()];
    for h in 1..=radius {
        let prev = &horizontal[h - 1];
        let mut next = prev.clone();
        for y in 0..height {
            let row = &prev[y * width..(y + 1) * width];
            let out = &mut next[y * width..(y + 1) * width];
            for x in 0..width {
                let l = row[x.saturating_sub(1)];
                let r = row[(x + 1).min(width - 1)];
                out[x] = out[x].max(l).max(r);
            }
        }
        horizontal.push(next);
    }
    let mut out = vec![0u8; width * height];
    for y in 0..height {
        let dst = &mut out[y * width..(y + 1) * width];
        for (dy, &h) in half.iter().enumerate() {
            let below = Some(y + dy).filter(|&s| dy > 0 && s < height);
            for sy in [y.checked_sub(dy), below] {
                let Some(sy) = sy else { continue };
                let src = &horizontal[h][sy * width..(sy + 1) * width];
                for (d, &s) in dst.iter_mut().zip(src) {
                    *d = (*d).max(s);
                }
            }
        }
    }
    out
}

/// Composites a straight-alpha RGBA pixel over a premultiplied one.
fn blend_straight(dst: &mut [u8], src: &[u8]) {
    let alpha = u32::from(src[3]);
    let keep = 255 - alpha;
    for c in 0..4 {
        let s = if c == 3 {
            alpha
        } else {
            div255(u32::from(src[c]) * alpha)
        };
        dst[c] = (s + div255(u32::from(dst[c]) * keep)) as u8;
    }
}

/// Text colour at `coverage` over the outline colour at `outline`, then the colour glyphs on
/// top; premultiplied RGBA. The part of the coverage in `highlight`'s mask (a part of
/// `coverage`) takes its colour instead of the text colour.
fn compose(
    coverage: &[u8],
    outline: &[u8],
    colour_layer: Option<&[u8]>,
    highlight: Option<(&[u8], [u8; 3])>,
    color: [u8; 3],
    outline_color: [u8; 3],
) -> Vec<u8> {
    let mut pixels = vec![0u8; coverage.len() * 4];
    for (i, (px, (&fill, &ring))) in pixels
        .chunks_exact_mut(4)
        .zip(coverage.iter().zip(outline))
        .enumerate()
    {
        let fill = u32::from(fill);
        let ring = div255(u32::from(ring) * (255 - fill));
        let (lit, lit_color) = match highlight {
            Some((mask, lit_color)) => (u32::from(mask[i]).min(fill), lit_color),
            None => (0, color),
        };
        for c in 0..3 {
            let text = u32::from(color[c]) * (fill - lit) + u32::from(lit_color[c]) * lit;
            px[c] = div255(text + u32::from(outline_color[c]) * ring) as u8;
        }
        px[3] = (fill + ring) as u8;
        if let Some(layer) = colour_layer {
            let s = &layer[i * 4..i * 4 + 4];
            let keep = 255 - u32::from(s[3]);
            for c in 0..4 {
                px[c] = (u32::from(s[c]) + div255(u32::from(px[c]) * keep)) as u8;
            }
        }
    }
    pixels
}

#[cfg(test)]
mod tests {
    use super::*;

    const W: u32 = 1280;
    const H: u32 = 720;

    fn renderer(style: SubtitleStyle) -> TextRenderer {
        TextRenderer::new(&style, W, H).unwrap()
    }

    fn pixels(o: &Overlay) -> impl Iterator<Item = [u8; 4]> + '_ {
        o.pixels.chunks_exact(4).map(|p| [p[0], p[1], p[2], p[3]])
    }

    #[test]
    fn parses_positions_and_colours() {
        assert_eq!(
            "bottom".parse::<SubtitlePosition>().unwrap(),
            SubtitlePosition::Bottom
        );
        assert_eq!(
            " Center ".parse::<SubtitlePosition>().unwrap(),
            SubtitlePosition::Center
        );
        assert_eq!(
            "TOP".parse::<SubtitlePosition>().unwrap(),
            SubtitlePosition::Top
        );
        assert!("middle".parse::<SubtitlePosition>().is_err());
        assert_eq!(parse_hex_color("#FFaa01").unwrap(), [255, 170, 1]);
        assert_eq!(parse_hex_color("000000").unwrap(), [0, 0, 0]);
        assert_eq!(parse_hex_color("#fff").unwrap(), [255, 255, 255]);
        assert_eq!(parse_hex_color("#F80").unwrap(), [255, 136, 0]);
        assert_eq!(parse_hex_color(" 1aB ").unwrap(), [0x11, 0xAA, 0xBB]);
        for bad in [
            "#ff", "#ffff", "#12345g", "#12g", "", "#", "#1234567", "#ééé", "#é1",
        ] {
            assert!(parse_hex_color(bad).is_err(), "{bad}");
        }
        assert_eq!(
            parse_hex_color("red").unwrap_err().to_string(),
            "invalid overlay setting: colour `red` is not of the form #RRGGBB or #RGB"
        );
    }

    #[test]
    fn dilation_by_a_disc_is_exact() {
        // One lit pixel in a 7×7 mask becomes the radius-2 disc (half-widths 2, 2, 1).
        let mut mask = vec![0u8; 49];
        mask[3 * 7 + 3] = 200;
        let out = dilate(&mask, 7, 7, 2);
        let rows: Vec<&[u8]> = out.chunks(7).collect();
        assert_eq!(rows[0], [0, 0, 0, 0, 0, 0, 0]);
        assert_eq!(rows[1], [0, 0, 200, 200, 200, 0, 0]);
        assert_eq!(rows[2], [0, 200, 200, 200, 200, 200, 0]);
        assert_eq!(rows[3], [0, 200, 200, 200, 200, 200, 0]);
        assert_eq!(rows[4], [0, 200, 200, 200, 200, 200, 0]);
        assert_eq!(rows[5], [0, 0, 200, 200, 200, 0, 0]);
        assert_eq!(rows[6], [0, 0, 0, 0, 0, 0, 0]);
        // Radius 0 is the identity; edges clamp.
        assert_eq!(dilate(&mask, 7, 7, 0), mask);
        assert_eq!(dilate(&[9, 0, 0], 3, 1, 1), [9, 9, 0]);
    }

    #[test]
    fn compose_puts_text_over_outline() {
        let px = compose(
            &[255, 0, 0, 128],
            &[255, 255, 0, 255],
            None,
            None,
            [250, 200, 0],
            [10, 20, 30],
        );
        let px: Vec<&[u8]> = px.chunks(4).collect();
        assert_eq!(px[0], [250, 200, 0, 255]);
        assert_eq!(px[1], [10, 20, 30, 255]);
        assert_eq!(px[2], [0, 0, 0, 0]);
        // Half text over full outline: ring = round(255 * 127 / 255) = 127;
        // red = round((250 * 128 + 10 * 127) / 255) = round(130.47) = 130.
        assert_eq!(px[3], [130, 110, 15, 255]);
    }

    #[test]
    fn hello_world_has_text_and_outline_colours() {
        let mut r = renderer(SubtitleStyle {
            color: [255, 220, 0],
            outline_color: [20, 0, 40],
            ..SubtitleStyle::default()
        });
        assert_eq!(r.family(), DEFAULT_FONT_FAMILY);
        assert!((r.font_size() - 720.0 / 22.0).abs() < 1e-4);
        let o = r.render_cue("Hello world");
        assert_eq!(o.pixels.len(), (o.width * o.height * 4) as usize);
        assert!(o.height > 20 && o.height < 80, "height {}", o.height);
        assert!(o.width > 100 && o.width < W / 2, "width {}", o.width);
        assert!(pixels(&o).any(|p| p == [255, 220, 0, 255]));
        assert!(pixels(&o).any(|p| p == [20, 0, 40, 255]));
        // Premultiplied: no colour channel exceeds alpha.
        assert!(pixels(&o).all(|p| p[0] <= p[3] && p[1] <= p[3] && p[2] <= p[3]));
        // The outline fully surrounds the ink: the overlay's border is transparent.
        let w = o.width as usize;
        let row = |y: usize| &o.pixels[y * w * 4..(y + 1) * w * 4];
        assert!(row(0).iter().all(|&b| b == 0));
        assert!(row(o.height as usize - 1).iter().all(|&b| b == 0));
        // Centred horizontally, within a pixel or so of ink asymmetry.
        let centre = o.x + o.width as i32 / 2;
        assert!((centre - W as i32 / 2).abs() <= 4, "centre {centre}");
    }

    #[test]
    fn a_highlighted_word_changes_colour_only_in_its_own_place() {
        let mut r = renderer(SubtitleStyle::default());
        let text = "Hello there friend";
        let layout = r.layout_cue(text).unwrap();
        let plain = r.paint(&layout, None);
        // The layout is what `render_cue` draws: untimed captions look as they always did.
        assert_eq!(plain, r.render_cue(text));
        let yellow = [0xFF, 0xD4, 0x00];
        let columns = |o: &Overlay| -> Vec<usize> {
            pixels(o)
                .enumerate()
                .filter(|(_, p)| p[..3] == yellow[..] && p[3] == 255)
                .map(|(i, _)| i % o.width as usize)
                .collect()
        };
        assert!(columns(&plain).is_empty());
        let mut spans = Vec::new();
        for word in 0..3 {
            let lit = r.paint(&layout, Some((word, yellow)));
            // Same place, size and coverage: nothing moves when the highlight does.
            assert_eq!(
                (lit.x, lit.y, lit.width, lit.height),
                (plain.x, plain.y, plain.width, plain.height)
            );
            assert!(pixels(&lit).zip(pixels(&plain)).all(|(a, b)| a[3] == b[3]));
            let xs = columns(&lit);
            assert!(xs.len() > 20, "word {word}: {}", xs.len());
            spans.push((*xs.iter().min().unwrap(), *xs.iter().max().unwrap()));
        }
        // Left to right, without overlapping.
        assert!(
            spans[0].1 < spans[1].0 && spans[1].1 < spans[2].0,
            "{spans:?}"
        );
        // Past the last word: nothing is highlighted.
        assert_eq!(r.paint(&layout, Some((3, yellow))), plain);
        assert!(r.layout_cue(" ").is_none());
    }

    #[test]
    fn long_text_wraps_within_ninety_percent_of_the_width() {
        let mut r = renderer(SubtitleStyle::default());
        let one_line = r.render_cue("Hello world");
        let long = "This sentence is much too long to fit on a single line of the frame, \
                    so it has to wrap onto several lines without overflowing the sides";
        let o = r.render_cue(long);
        assert!(o.width as f32 <= 0.9 * W as f32, "width {}", o.width);
        assert!(o.width as f32 > 0.6 * W as f32, "width {}", o.width);
        assert!(o.height > 2 * one_line.height, "height {}", o.height);
        assert!(o.x >= 0 && o.x as u32 + o.width <= W);
        // A word longer than the line breaks between glyphs instead of overflowing.
        let o = r.render_cue(&"W".repeat(200));
        assert!(o.width as f32 <= 0.9 * W as f32, "width {}", o.width);
    }

    #[test]
    fn positions_put_the_overlay_in_its_band() {
        let band = |position| {
            let mut r = renderer(SubtitleStyle {
                position,
                ..SubtitleStyle::default()
            });
            let o = r.render_cue("Hello world");
            (o.y, o.y + o.height as i32)
        };
        let margin = (H as f32 * 0.06).round() as i32;
        let (top, bottom) = band(SubtitlePosition::Bottom);
        assert!(
            top > 3 * H as i32 / 4 && bottom <= H as i32 - margin + 8,
            "{top}..{bottom}"
        );
        let (top, bottom) = band(SubtitlePosition::Top);
        assert!(
            top >= margin - 8 && bottom < H as i32 / 4,
            "{top}..{bottom}"
        );
        let (top, bottom) = band(SubtitlePosition::Center);
        assert!(
            ((top + bottom) / 2 - H as i32 / 2).abs() < 20,
            "{top}..{bottom}"
        );
    }

    #[test]
    fn non_latin_text_does_not_panic() {
        let mut r = renderer(SubtitleStyle::default());
        let o = r.render_cue("Crème brûlée à Zürich — Ωμέγα");
        assert!(pixels(&o).any(|p| p == [255, 255, 255, 255]));
        for text in [
            "日本語のテキスト 🎉👍🏽",
            "مرحبا بالعالم",
            "\u{200b}\u{0301}",
            "a\nb\n\nc",
        ] {
            let o = r.render_cue(text);
            assert_eq!(o.pixels.len(), (o.width * o.height * 4) as usize);
            assert!(o.width as f32 <= 0.9 * W as f32);
        }
    }

    #[test]
    fn blank_text_gives_an_empty_overlay() {
        let mut r = renderer(SubtitleStyle::default());
        assert!(r.render_cue("").is_empty());
        assert!(r.render_cue(" \n ").is_empty());
    }

    #[test]
    fn font_settings_are_honoured_or_fall_back() {
        let r = TextRenderer::new(
            &SubtitleStyle {
                font_family: Some("No Such Font Family".into()),
                font_size: Some(60.0),
                ..SubtitleStyle::default()
            },
            W,
            H,
        )
        .unwrap();
        assert_eq!(r.family(), DEFAULT_FONT_FAMILY);
        assert_eq!(r.font_size(), 40.0); // 60 at 1080 lines is 40 at 720

        let bold = PathBuf::from("/usr/share/fonts/truetype/dejavu/DejaVuSans-Bold.ttf");
        let mut r = renderer(SubtitleStyle {
            font_file: Some(bold),
            ..SubtitleStyle::default()
        });
        assert_eq!(r.family(), "DejaVu Sans");
        assert_eq!(r.weight, Weight::BOLD);
        assert!(!r.render_cue("Bold").is_empty());
    }

    #[test]
    fn bad_settings_are_errors() {
        let missing = SubtitleStyle {
            font_file: Some("/nonexistent/font.ttf".into()),
            ..SubtitleStyle::default()
        };
        assert!(matches!(
            TextRenderer::new(&missing, W, H),
            Err(OverlayError::Io { .. })
        ));
        let not_a_font = tempfile::NamedTempFile::new().unwrap();
        std::fs::write(not_a_font.path(), b"definitely not a font").unwrap();
        let style = SubtitleStyle {
            font_file: Some(not_a_font.path().to_path_buf()),
            ..SubtitleStyle::default()
        };
        assert!(matches!(
            TextRenderer::new(&style, W, H),
            Err(OverlayError::Font { .. })
        ));
        let zero = SubtitleStyle {
            font_size: Some(0.0),
            ..SubtitleStyle::default()
        };
        assert!(matches!(
            TextRenderer::new(&zero, W, H),
            Err(OverlayError::Invalid(_))
        ));
        assert!(TextRenderer::new(&SubtitleStyle::default(), 0, H).is_err());
    }
}
