//! Overlays (subtitle cues, the logo): drawn as premultiplied RGBA, converted once to the
//! frame's own colour space ([`YuvOverlay`]) and composited "over" every frame they are on.
//! The blend is the hot path: row slices, integer math, fast paths for clear and opaque
//! pixels, exact per-pixel alpha.

use std::path::PathBuf;

use crate::frame::compositor::FrameLayout;
use crate::frame::image_source::bt709::{HALF, U_B, U_G, U_R, V_B, V_G, V_R, Y_B, Y_G, Y_R};

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
    #[error("cannot read {}", .path.display())]
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

/// The choice among `all` whose name is `text` (trimmed, in any case); the error lists them.
pub(crate) fn parse_named<T: Copy>(
    text: &str,
    what: &str,
    all: &[T],
    name: impl Fn(T) -> &'static str,
) -> Result<T, OverlayError> {
    let wanted = text.trim().to_ascii_lowercase();
    all.iter()
        .copied()
        .find(|choice| name(*choice) == wanted)
        .ok_or_else(|| {
            let names: Vec<&str> = all.iter().map(|choice| name(*choice)).collect();
            OverlayError::Invalid(format!(
                "{what} `{text}` is not one of {}",
                names.join(", ")
            ))
        })
}

/// `x / 255` rounded to nearest, exact for every `x` in `0..=255 * 255`.
#[inline]
pub(crate) fn div255(x: u32) -> u32 {
    let x = x + 128;
    (x + (x >> 8)) >> 8
}

/// An [`Overlay`] in the frame's colour space: premultiplied BT.709 limited-range Y'CbCr with
/// alpha, luma at full and chroma at half resolution. Its origin and size are even so its
/// chroma samples line up with the frame's; the padding is transparent.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub(crate) struct YuvOverlay {
    x: i64,
    y: i64,
    width: usize,
    height: usize,
    /// `width * height` premultiplied luma values and their alphas.
    luma: Vec<u8>,
    alpha: Vec<u8>,
    /// `width / 2 * height / 2` premultiplied Cb, Cr and the mean alpha of each 2x2 block.
    cb: Vec<u8>,
    cr: Vec<u8>,
    chroma_alpha: Vec<u8>,
}

impl YuvOverlay {
    pub fn new(overlay: &Overlay) -> YuvOverlay {
        let needed = overlay.width as usize * overlay.height as usize * 4;
        if overlay.is_empty() || overlay.pixels.len() < needed {
            return YuvOverlay::default();
        }
        let (ox, oy) = (i64::from(overlay.x), i64::from(overlay.y));
        let (x, y) = (ox - ox.rem_euclid(2), oy - oy.rem_euclid(2));
        let width = (ox + i64::from(overlay.width) - x + 1) as usize & !1;
        let height = (oy + i64::from(overlay.height) - y + 1) as usize & !1;
        // Premultiplied RGBA of padded pixel (col, row); clear outside the overlay.
        let pixel = |col: usize, row: usize| -> [i32; 4] {
            let (px, py) = (x + col as i64 - ox, y + row as i64 - oy);
            if px < 0 || py < 0 || px >= i64::from(overlay.width) || py >= i64::from(overlay.height)
            {
                return [0; 4];
            }
            let i = (py as usize * overlay.width as usize + px as usize) * 4;
            let p = &overlay.pixels[i..i + 4];
            [p[0], p[1], p[2], p[3]].map(i32::from)
        };
        let mut out = YuvOverlay {
            x,
            y,
            width,
            height,
            luma: vec![0; width * height],
            alpha: vec![0; width * height],
            cb: vec![0; width * height / 4],
            cr: vec![0; width * height / 4],
            chroma_alpha: vec![0; width * height / 4],
        };
        for row in 0..height {
            for col in 0..width {
                let [r, g, b, a] = pixel(col, row);
                // The "+16" of limited range scales with alpha like the colour does.
                let luma = ((Y_R * r + Y_G * g + Y_B * b + HALF) >> 16) + premultiplied(16, a);
                out.luma[row * width + col] = luma.clamp(0, 255) as u8;
                out.alpha[row * width + col] = a as u8;
            }
        }
        for row in 0..height / 2 {
            for col in 0..width / 2 {
                let mut sum = [0i32; 4];
                for (dx, dy) in [(0, 0), (1, 0), (0, 1), (1, 1)] {
                    let p = pixel(2 * col + dx, 2 * row + dy);
                    for (total, value) in sum.iter_mut().zip(p) {
                        *total += value;
                    }
                }
                let [r, g, b, a] = sum;
                let a = (a + 2) >> 2;
                // Sums of four pixels: shift two more bits.
                let chroma = |cr: i32, cg: i32, cb: i32| {
                    (((cr * r + cg * g + cb * b + (HALF << 2)) >> 18) + premultiplied(128, a))
                        .clamp(0, 255) as u8
                };
                let i = row * (width / 2) + col;
                out.cb[i] = chroma(U_R, U_G, U_B);
                out.cr[i] = chroma(V_R, V_G, V_B);
                out.chroma_alpha[i] = a as u8;
            }
        }
        out
    }

    /// Composites the overlay over an I420 frame: `out = overlay + frame * (255 - alpha) / 255`
    /// per plane sample, rounded to nearest. The part outside the frame is skipped.
    pub fn blend_onto(&self, frame: &mut [u8], layout: &FrameLayout) {
        if self.width == 0 || self.height == 0 {
            return;
        }
        let (fw, fh) = (i64::from(layout.width), i64::from(layout.height));
        let x0 = self.x.max(0);
        let y0 = self.y.max(0);
        let x1 = (self.x + self.width as i64).min(fw & !1);
        let y1 = (self.y + self.height as i64).min(fh & !1);
        if x0 >= x1 || y0 >= y1 {
            return;
        }
        let planes = [
            (&self.luma, &self.alpha, self.width, 1),
            (&self.cb, &self.chroma_alpha, self.width / 2, 2),
            (&self.cr, &self.chroma_alpha, self.width / 2, 2),
        ];
        for (plane, (values, alphas, stride, sub)) in planes.into_iter().enumerate() {
            let (offset, frame_stride) = (layout.offsets[plane], layout.strides[plane]);
            let span = ((x1 - x0) / sub) as usize;
            let src_col = ((x0 - self.x) / sub) as usize;
            let dst_col = (x0 / sub) as usize;
            for y in (y0 / sub)..(y1 / sub) {
                let src = (y - self.y / sub) as usize * stride + src_col;
                let dst = offset + y as usize * frame_stride + dst_col;
                let (Some(values), Some(alphas), Some(out)) = (
                    values.get(src..src + span),
                    alphas.get(src..src + span),
                    frame.get_mut(dst..dst + span),
                ) else {
                    return;
                };
                blend_row(out, values, alphas);
            }
        }
    }
}

/// `value` at opacity `alpha`, rounded.
fn premultiplied(value: i32, alpha: i32) -> i32 {
    div255((value * alpha) as u32) as i32
}

fn blend_row(out: &mut [u8], values: &[u8], alphas: &[u8]) {
    for ((o, &v), &a) in out.iter_mut().zip(values).zip(alphas) {
        match a {
            0 => {}
            255 => *o = v,
            // Saturating: rounding in the conversion must not wrap around.
            a => *o = v.saturating_add(div255(u32::from(*o) * (255 - u32::from(a))) as u8),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A packed `width` x `height` I420 frame of one colour.
    fn frame(width: u32, height: u32, [y, u, v]: [u8; 3]) -> (Vec<u8>, FrameLayout) {
        let (w, h) = (width as usize, height as usize);
        let layout = FrameLayout {
            width,
            height,
            offsets: [0, w * h, w * h + w * h / 4],
            strides: [w, w / 2, w / 2],
            size: w * h * 3 / 2,
        };
        let mut data = vec![y; w * h];
        data.extend(std::iter::repeat_n(u, w * h / 4));
        data.extend(std::iter::repeat_n(v, w * h / 4));
        (data, layout)
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

    /// (Y, Cb, Cr) of frame pixel (x, y).
    fn at(frame: &[u8], layout: &FrameLayout, x: usize, y: usize) -> [u8; 3] {
        let c = (y / 2) * layout.strides[1] + x / 2;
        [
            frame[layout.offsets[0] + y * layout.strides[0] + x],
            frame[layout.offsets[1] + c],
            frame[layout.offsets[2] + c],
        ]
    }

    #[test]
    fn div255_rounds_to_nearest_everywhere() {
        for x in 0..=255 * 255 {
            let exact = (f64::from(x) / 255.0).round() as u32;
            assert_eq!(div255(x), exact, "x = {x}");
        }
    }

    #[test]
    fn opaque_colours_land_at_their_bt709_values() {
        let (mut f, layout) = frame(4, 4, [16, 128, 128]);
        YuvOverlay::new(&overlay(0, 0, 2, 2, [255, 255, 255, 255])).blend_onto(&mut f, &layout);
        YuvOverlay::new(&overlay(2, 2, 2, 2, [255, 0, 0, 255])).blend_onto(&mut f, &layout);
        assert_eq!(at(&f, &layout, 0, 0), [235, 128, 128]);
        assert_eq!(at(&f, &layout, 1, 1), [235, 128, 128]);
        // BT.709 red: Y 63, Cb 102, Cr 240.
        assert_eq!(at(&f, &layout, 3, 3), [63, 102, 240]);
        assert_eq!(at(&f, &layout, 2, 0), [16, 128, 128]);
    }

    #[test]
    fn partial_alpha_blends_exactly() {
        // White at alpha 128 over black (Y 16): 16 + (235 - 16) * 128 / 255 = 125.9 → the
        // premultiplied 118 (219 * 128 / 255 + 16 * 128 / 255 = 109.9 + 8.0) plus
        // 16 * 127 / 255 = 8.0, i.e. 126.
        let (mut f, layout) = frame(2, 2, [16, 128, 128]);
        YuvOverlay::new(&overlay(0, 0, 2, 2, [128, 128, 128, 128])).blend_onto(&mut f, &layout);
        assert_eq!(at(&f, &layout, 0, 0), [126, 128, 128]);
        // Fully transparent changes nothing.
        let (mut f, layout) = frame(4, 2, [50, 60, 70]);
        let before = f.clone();
        YuvOverlay::new(&overlay(0, 0, 4, 2, [0, 0, 0, 0])).blend_onto(&mut f, &layout);
        assert_eq!(f, before);
    }

    #[test]
    fn odd_positions_are_padded_not_shifted() {
        // A 1x1 opaque white pixel at (1, 1): luma only there, chroma averaged over its block.
        let (mut f, layout) = frame(4, 4, [16, 128, 128]);
        let o = YuvOverlay::new(&overlay(1, 1, 1, 1, [255, 255, 255, 255]));
        assert_eq!((o.x, o.y, o.width, o.height), (0, 0, 2, 2));
        o.blend_onto(&mut f, &layout);
        assert_eq!(at(&f, &layout, 1, 1)[0], 235);
        assert_eq!(at(&f, &layout, 0, 0)[0], 16);
        assert_eq!(at(&f, &layout, 2, 1)[0], 16);
        assert_eq!(&at(&f, &layout, 0, 0)[1..], [128, 128]);
    }

    #[test]
    fn overlays_are_clipped_at_every_edge() {
        let (mut f, layout) = frame(4, 4, [16, 128, 128]);
        for (x, y) in [(-1, -1), (3, 3), (-3, 1), (2, -3)] {
            YuvOverlay::new(&overlay(x, y, 3, 3, [255, 255, 255, 255])).blend_onto(&mut f, &layout);
        }
        assert_eq!(at(&f, &layout, 0, 0)[0], 235); // from (-1, -1)
        assert_eq!(at(&f, &layout, 1, 1)[0], 235);
        assert_eq!(at(&f, &layout, 2, 2)[0], 16);
        assert_eq!(at(&f, &layout, 3, 3)[0], 235); // from (3, 3)
        for (x, y) in [(4, 0), (0, 4), (-5, 0), (i32::MAX - 2, 0)] {
            let before = f.clone();
            YuvOverlay::new(&overlay(x, y, 3, 3, [255, 255, 255, 255])).blend_onto(&mut f, &layout);
            assert_eq!(f, before);
        }
        YuvOverlay::new(&Overlay::default()).blend_onto(&mut f, &layout);
    }

    #[test]
    fn short_buffers_do_not_panic() {
        let (mut f, layout) = frame(4, 4, [16, 128, 128]);
        f.truncate(10);
        YuvOverlay::new(&overlay(0, 0, 4, 4, [255, 255, 255, 255])).blend_onto(&mut f, &layout);
        let bad = Overlay {
            x: 0,
            y: 0,
            width: 2,
            height: 2,
            pixels: vec![1, 1, 1, 255],
        };
        assert_eq!(YuvOverlay::new(&bad), YuvOverlay::default());
    }
}
