//! Builds every output frame, straight into the encoder's I420 buffer.
//!
//! A frame is a stack of layers drawn in order: the Ken Burns [`Shot`] (the camera rectangle
//! of a segment's picture, resampled with sub-pixel accuracy), or two shots mixed during a
//! crossfade; then the subtitle and logo overlays ([`crate::overlay::YuvOverlay`]), blended
//! on the same planes.

use fast_image_resize as fr;

use crate::image_source::SourceImage;
use crate::ken_burns::Rect;
use crate::overlay::div255;

/// Where the three I420 planes live in an output buffer (GStreamer's default layout for the
/// frame size; strides can be wider than the picture).
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct FrameLayout {
    pub width: u32,
    pub height: u32,
    pub offsets: [usize; 3],
    pub strides: [usize; 3],
    pub size: usize,
}

impl FrameLayout {
    /// Width and height of plane `plane` (0 = Y, 1 = U, 2 = V).
    fn plane_size(&self, plane: usize) -> (u32, u32) {
        if plane == 0 {
            (self.width, self.height)
        } else {
            (self.width / 2, self.height / 2)
        }
    }
}

/// A segment's picture seen through the camera rectangle (in luma pixels of the source).
#[derive(Debug, Clone, Copy)]
pub(crate) struct Shot<'a> {
    pub source: &'a SourceImage,
    pub camera: Rect,
}

/// Draws frames of one layout; keeps the resampler's scratch memory between frames.
pub(crate) struct Compositor {
    layout: FrameLayout,
    resizer: fr::Resizer,
    options: fr::ResizeOptions,
    /// Used only when a plane's stride is wider than its width.
    scratch: Vec<u8>,
    /// The incoming picture of a crossfade (a whole frame); allocated at the first blend.
    incoming: Vec<u8>,
}

impl Compositor {
    pub fn new(layout: FrameLayout) -> Self {
        Self {
            layout,
            resizer: fr::Resizer::new(),
            // Bilinear convolution: its support widens when shrinking, so the slow zoom does
            // not shimmer, and it is the cheapest filter that is smooth at fractional offsets.
            options: fr::ResizeOptions::new()
                .resize_alg(fr::ResizeAlg::Convolution(fr::FilterType::Bilinear)),
            scratch: Vec::new(),
            incoming: Vec::new(),
        }
    }

    pub fn layout(&self) -> &FrameLayout {
        &self.layout
    }

    /// Draws `from` crossfading into `to`: each sample is `weight` (0–1) of `to`'s and the
    /// rest of `from`'s, rounded to nearest.
    pub fn draw_blend(
        &mut self,
        from: &Shot<'_>,
        to: &Shot<'_>,
        weight: f64,
        frame: &mut [u8],
    ) -> Result<(), String> {
        self.draw_shot(from, frame)?;
        let mut incoming = std::mem::take(&mut self.incoming);
        incoming.resize(self.layout.size, 0);
        let drawn = self.draw_shot(to, &mut incoming);
        if drawn.is_ok() {
            let w = (weight.clamp(0.0, 1.0) * 255.0).round() as u32;
            for (out, &new) in frame.iter_mut().zip(&incoming) {
                *out = div255(u32::from(new) * w + u32::from(*out) * (255 - w)) as u8;
            }
        }
        self.incoming = incoming;
        drawn
    }

    /// Draws `shot` over the whole of `frame` (a buffer of `layout().size` bytes).
    pub fn draw_shot(&mut self, shot: &Shot<'_>, frame: &mut [u8]) -> Result<(), String> {
        let source = shot.source;
        let planes: [(&[u8], u32, u32, f64); 3] = [
            (&source.y, source.width, source.height, 1.0),
            (&source.u, source.width / 2, source.height / 2, 0.5),
            (&source.v, source.width / 2, source.height / 2, 0.5),
        ];
        for (plane, (data, width, height, scale)) in planes.into_iter().enumerate() {
            let (w, h) = (f64::from(width), f64::from(height));
            let r = shot.camera;
            // Clamp against float error only; the camera is already inside the picture.
            let x = (r.x * scale).clamp(0.0, w - 1.0);
            let y = (r.y * scale).clamp(0.0, h - 1.0);
            let crop_w = (r.w * scale).min(w - x);
            let crop_h = (r.h * scale).min(h - y);
            let src = fr::images::ImageRef::new(width, height, data, fr::PixelType::U8)
                .map_err(|e| e.to_string())?;
            let options = self.options.crop(x, y, crop_w, crop_h);
            self.resample_into(plane, &src, &options, frame)?;
        }
        Ok(())
    }

    fn resample_into(
        &mut self,
        plane: usize,
        src: &fr::images::ImageRef<'_>,
        options: &fr::ResizeOptions,
        frame: &mut [u8],
    ) -> Result<(), String> {
        let (width, height) = self.layout.plane_size(plane);
        let (offset, stride) = (self.layout.offsets[plane], self.layout.strides[plane]);
        let row = width as usize;
        let end = offset + stride * (height as usize - 1) + row;
        let out = frame
            .get_mut(offset..end)
            .ok_or_else(|| format!("frame buffer too small for plane {plane}"))?;
        if stride == row {
            let mut dst = fr::images::Image::from_slice_u8(width, height, out, fr::PixelType::U8)
                .map_err(|e| e.to_string())?;
            return self
                .resizer
                .resize(src, &mut dst, options)
                .map_err(|e| e.to_string());
        }
        self.scratch.resize(row * height as usize, 0);
        let mut dst =
            fr::images::Image::from_slice_u8(width, height, &mut self.scratch, fr::PixelType::U8)
                .map_err(|e| e.to_string())?;
        self.resizer
            .resize(src, &mut dst, options)
            .map_err(|e| e.to_string())?;
        for (line, out_line) in self.scratch.chunks_exact(row).zip(out.chunks_mut(stride)) {
            out_line[..row].copy_from_slice(line);
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A source whose luma rises by 2 per column; chroma flat.
    fn ramp(width: u32, height: u32) -> SourceImage {
        let y = (0..height)
            .flat_map(|_| (0..width).map(|x| (2 * x) as u8))
            .collect();
        let chroma = vec![128u8; (width / 2 * (height / 2)) as usize];
        SourceImage {
            width,
            height,
            y,
            u: chroma.clone(),
            v: chroma,
            original: (width, height),
            upscale: 1.0,
        }
    }

    fn packed(width: u32, height: u32) -> FrameLayout {
        let (w, h) = (width as usize, height as usize);
        FrameLayout {
            width,
            height,
            offsets: [0, w * h, w * h + w * h / 4],
            strides: [w, w / 2, w / 2],
            size: w * h * 3 / 2,
        }
    }

    #[test]
    fn half_pixel_offsets_are_sampled_not_rounded() {
        let source = ramp(128, 32);
        let mut compositor = Compositor::new(packed(64, 16));
        let mut frame = vec![0u8; packed(64, 16).size];
        let mut first_pixel = |x: f64| {
            let shot = Shot {
                source: &source,
                camera: Rect::new(x, 4.0, 64.0, 16.0),
            };
            compositor.draw_shot(&shot, &mut frame).unwrap();
            frame[64 * 5 + 10]
        };
        // Pixel 10 of the frame shows source column x + 10 (+ the pixel-centre offset).
        assert_eq!(first_pixel(10.0), 40);
        assert_eq!(first_pixel(10.5), 41);
        assert_eq!(first_pixel(11.0), 42);
    }

    fn flat(width: u32, height: u32, luma: u8, chroma: u8) -> SourceImage {
        SourceImage {
            width,
            height,
            y: vec![luma; (width * height) as usize],
            u: vec![chroma; (width / 2 * (height / 2)) as usize],
            v: vec![255 - chroma; (width / 2 * (height / 2)) as usize],
            original: (width, height),
            upscale: 1.0,
        }
    }

    #[test]
    fn blends_mix_every_sample_by_the_weight() {
        let (dark, light) = (flat(64, 36, 16, 100), flat(64, 36, 235, 200));
        let shot = |source| Shot {
            source,
            camera: Rect::new(0.0, 0.0, 64.0, 36.0),
        };
        let mut compositor = Compositor::new(packed(32, 18));
        let mut frame = vec![0u8; packed(32, 18).size];
        let mut mixed = |weight: f64| {
            compositor
                .draw_blend(&shot(&dark), &shot(&light), weight, &mut frame)
                .unwrap();
            let (y, u, v) = (frame[0], frame[32 * 18], frame[32 * 18 + 16 * 9]);
            assert!(frame[..32 * 18].iter().all(|&s| s == y));
            (y, u, v)
        };
        // 16 + (235 - 16) * w, with w = round(255 * weight) / 255.
        assert_eq!(mixed(0.25), (71, 125, 130)); // w = 64: 70.97, 125.10, 129.90
        assert_eq!(mixed(0.5), (126, 150, 105)); // w = 128: 125.93, 150.20, 104.80
        assert_eq!(mixed(1.0), (235, 200, 55));
    }

    #[test]
    fn padded_strides_are_filled_row_by_row() {
        let source = ramp(64, 32);
        let mut layout = packed(30, 10);
        layout.strides = [32, 16, 16];
        layout.offsets = [0, 320, 320 + 80];
        layout.size = 480;
        let mut compositor = Compositor::new(layout);
        let mut frame = vec![7u8; 480];
        let shot = Shot {
            source: &source,
            camera: Rect::new(0.0, 0.0, 30.0, 10.0),
        };
        compositor.draw_shot(&shot, &mut frame).unwrap();
        assert_eq!(&frame[32..35], &[0, 2, 4]); // second row starts at the stride
        assert_eq!(&frame[30..32], &[7, 7]); // padding untouched
        assert_eq!(frame[320], 128);
    }
}
