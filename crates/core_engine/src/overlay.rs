//! Premultiplied RGBA overlays (subtitle cues, the logo) and their "over" compositing onto a
//! frame. Overlays are prepared once (per cue, per render) and blended onto every frame, so the
//! blend is the hot path: row slices, integer math, fast paths for clear and opaque pixels.

use std::path::PathBuf;

/// A premultiplied RGBA8 picture placed on the frame at (`x`, `y`), its top-left corner, in
/// frame pixels. It may stick out of the frame: blending clips it. An empty overlay (zero
/// width or height) draws nothing.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Overlay {
    pub x: i32,
    pub y: i32,
    pub width: u32,
    pub height: u32,
    /// `width * height` pixels, row by row, R G B A bytes, colour already multiplied by alpha.
    pub pixels: Vec<u8>,
}

impl Overlay {
    pub fn is_empty(&self) -> bool {
        self.width == 0 || self.height == 0
    }
}

/// Why an overlay (subtitle text or logo) could not be prepared.
#[derive(Debug, thiserror::Error)]
pub enum OverlayError {
    #[error("{}: {source}", .path.display())]
    Io {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    #[error("cannot read image {}: {reason}", .path.display())]
    Image { path: PathBuf, reason: String },
    #[error("cannot use font file {}: {reason}", .path.display())]
    Font { path: PathBuf, reason: String },
    #[error("no font is installed for subtitles: install the Debian package fonts-dejavu-core")]
    NoFont,
    #[error("invalid overlay setting: {0}")]
    Invalid(String),
}

/// `x / 255` rounded to nearest, exact for every `x` in `0..=255 * 255`.
#[inline]
pub(crate) fn div255(x: u32) -> u32 {
    let x = x + 128;
    (x + (x >> 8)) >> 8
}

/// Composites `overlay` over an RGBA8 (or RGBx) frame of `frame_width` × `frame_height`
/// pixels, rows packed without padding: `out = src + dst * (255 - src_alpha) / 255` per byte,
/// rounded to nearest. The part of the overlay outside the frame is skipped. A frame buffer
/// shorter than its stated size is blended only as far as it goes.
pub fn blend_onto_rgba(frame: &mut [u8], frame_width: u32, frame_height: u32, overlay: &Overlay) {
    if overlay.is_empty() {
        return;
    }
    let fw = i64::from(frame_width);
    let fh = i64::from(frame_height);
    let (ox, oy) = (i64::from(overlay.x), i64::from(overlay.y));
    let (ow, oh) = (i64::from(overlay.width), i64::from(overlay.height));
    // The visible rectangle, in frame coordinates.
    let x0 = ox.max(0);
    let y0 = oy.max(0);
    let x1 = (ox + ow).min(fw);
    let y1 = (oy + oh).min(fh);
    if x0 >= x1 || y0 >= y1 {
        return;
    }
    let frame_stride = frame_width as usize * 4;
    let overlay_stride = overlay.width as usize * 4;
    let span = (x1 - x0) as usize * 4;
    let src_col = (x0 - ox) as usize * 4;
    let dst_col = x0 as usize * 4;
    for y in y0..y1 {
        let src_start = (y - oy) as usize * overlay_stride + src_col;
        let dst_start = y as usize * frame_stride + dst_col;
        let (Some(src), Some(dst)) = (
            overlay.pixels.get(src_start..src_start + span),
            frame.get_mut(dst_start..dst_start + span),
        ) else {
            return;
        };
        blend_row(dst, src);
    }
}

fn blend_row(dst: &mut [u8], src: &[u8]) {
    for (d, s) in dst.chunks_exact_mut(4).zip(src.chunks_exact(4)) {
        match s[3] {
            0 => {}
            255 => d.copy_from_slice(s),
            a => {
                let keep = 255 - u32::from(a);
                for (dc, &sc) in d.iter_mut().zip(s) {
                    // Saturating: a malformed overlay (colour > alpha) must not wrap around.
                    *dc = sc.saturating_add(div255(u32::from(*dc) * keep) as u8);
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn frame(width: u32, height: u32, px: [u8; 4]) -> Vec<u8> {
        px.repeat((width * height) as usize)
    }

    fn overlay(x: i32, y: i32, width: u32, height: u32, px: [u8; 4]) -> Overlay {
        Overlay {
            x,
            y,
            width,
            height,
            pixels: px.repeat((width * height) as usize),
        }
    }

    fn at(frame: &[u8], width: u32, x: u32, y: u32) -> [u8; 4] {
        let i = ((y * width + x) * 4) as usize;
        [frame[i], frame[i + 1], frame[i + 2], frame[i + 3]]
    }

    #[test]
    fn div255_rounds_to_nearest_everywhere() {
        for x in 0..=255 * 255 {
            let exact = (f64::from(x) / 255.0).round() as u32;
            assert_eq!(div255(x), exact, "x = {x}");
        }
    }

    #[test]
    fn opaque_overlay_replaces_pixels() {
        let mut f = frame(4, 3, [10, 20, 30, 255]);
        blend_onto_rgba(&mut f, 4, 3, &overlay(1, 1, 2, 1, [200, 100, 50, 255]));
        assert_eq!(at(&f, 4, 0, 1), [10, 20, 30, 255]);
        assert_eq!(at(&f, 4, 1, 1), [200, 100, 50, 255]);
        assert_eq!(at(&f, 4, 2, 1), [200, 100, 50, 255]);
        assert_eq!(at(&f, 4, 3, 1), [10, 20, 30, 255]);
        assert_eq!(at(&f, 4, 1, 0), [10, 20, 30, 255]);
        assert_eq!(at(&f, 4, 1, 2), [10, 20, 30, 255]);
    }

    #[test]
    fn half_transparent_overlay_blends_with_rounding() {
        // White at alpha 128, premultiplied: 128. dst 100 → 128 + round(100 * 127 / 255) =
        // 128 + round(49.80) = 178; alpha 128 + round(255 * 127 / 255) = 255.
        let mut f = frame(2, 2, [100, 0, 255, 255]);
        blend_onto_rgba(&mut f, 2, 2, &overlay(0, 0, 1, 1, [128, 128, 128, 128]));
        assert_eq!(at(&f, 2, 0, 0), [178, 128, 255, 255]);
        assert_eq!(at(&f, 2, 1, 0), [100, 0, 255, 255]);
        // Black at alpha 64: dst 200 → 0 + round(200 * 191 / 255) = round(149.80) = 150.
        let mut f = frame(1, 1, [200, 201, 3, 255]);
        blend_onto_rgba(&mut f, 1, 1, &overlay(0, 0, 1, 1, [0, 0, 0, 64]));
        assert_eq!(at(&f, 1, 0, 0), [150, 151, 2, 255]);
    }

    #[test]
    fn transparent_overlay_changes_nothing() {
        let mut f = frame(3, 3, [1, 2, 3, 4]);
        let before = f.clone();
        blend_onto_rgba(&mut f, 3, 3, &overlay(0, 0, 3, 3, [0, 0, 0, 0]));
        assert_eq!(f, before);
    }

    #[test]
    fn overlay_is_clipped_at_every_edge() {
        // A 3×3 opaque overlay at (-1, -1) covers only the frame's 2×2 top-left corner.
        let mut f = frame(4, 4, [0, 0, 0, 255]);
        let mut o = overlay(-1, -1, 3, 3, [0, 0, 0, 255]);
        // Number the overlay's pixels so the test sees which ones land where.
        for (i, px) in o.pixels.chunks_exact_mut(4).enumerate() {
            px[0] = i as u8;
        }
        blend_onto_rgba(&mut f, 4, 4, &o);
        assert_eq!(at(&f, 4, 0, 0), [4, 0, 0, 255]);
        assert_eq!(at(&f, 4, 1, 0), [5, 0, 0, 255]);
        assert_eq!(at(&f, 4, 0, 1), [7, 0, 0, 255]);
        assert_eq!(at(&f, 4, 1, 1), [8, 0, 0, 255]);
        assert_eq!(at(&f, 4, 2, 0), [0, 0, 0, 255]);
        assert_eq!(at(&f, 4, 0, 2), [0, 0, 0, 255]);

        // Bottom-right: (3, 3) is the only frame pixel covered, by overlay pixel 0.
        let mut f = frame(4, 4, [0, 0, 0, 255]);
        o.x = 3;
        o.y = 3;
        blend_onto_rgba(&mut f, 4, 4, &o);
        assert_eq!(at(&f, 4, 3, 3), [0, 0, 0, 255]);
        assert_eq!(f.iter().filter(|&&b| b != 0 && b != 255).count(), 0);
        o.x = 2;
        o.y = 2;
        blend_onto_rgba(&mut f, 4, 4, &o);
        assert_eq!(at(&f, 4, 2, 2), [0, 0, 0, 255]);
        assert_eq!(at(&f, 4, 3, 2), [1, 0, 0, 255]);
        assert_eq!(at(&f, 4, 2, 3), [3, 0, 0, 255]);
        assert_eq!(at(&f, 4, 3, 3), [4, 0, 0, 255]);
    }

    #[test]
    fn overlay_entirely_outside_or_empty_is_a_no_op() {
        let mut f = frame(2, 2, [9, 9, 9, 255]);
        let before = f.clone();
        for (x, y) in [(2, 0), (0, 2), (-3, 0), (0, -3), (i32::MAX, i32::MAX)] {
            blend_onto_rgba(&mut f, 2, 2, &overlay(x, y, 3, 3, [255, 255, 255, 255]));
        }
        blend_onto_rgba(&mut f, 2, 2, &Overlay::default());
        assert_eq!(f, before);
    }

    #[test]
    fn short_buffers_do_not_panic() {
        // The frame claims 4×4 but holds 2 rows; the overlay claims 2×2 but holds 1 pixel.
        let mut f = vec![0u8; 4 * 4 * 2];
        blend_onto_rgba(&mut f, 4, 4, &overlay(0, 0, 4, 4, [255, 255, 255, 255]));
        assert!(f.iter().all(|&b| b == 255));
        let bad = Overlay {
            x: 0,
            y: 0,
            width: 2,
            height: 2,
            pixels: vec![1, 1, 1, 255],
        };
        blend_onto_rgba(&mut f, 4, 4, &bad);
    }
}
