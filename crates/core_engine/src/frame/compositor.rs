//! Builds every output frame, straight into the encoder's I420 buffer.
//!
//! A frame is a stack of layers drawn in order: the Ken Burns [`Shot`] (the camera rectangle
//! of a segment's picture, resampled with sub-pixel accuracy by [`crate::frame::resample`]), or two
//! shots mixed during a crossfade; then the subtitle and logo overlays
//! ([`crate::frame::overlay::YuvOverlay`]), blended on the same planes.
//!
//! Each output row is made in one go from the few source rows under it (vertical taps, then
//! horizontal), and a crossfade mixes the incoming shot's row into it at once: no frame-sized
//! scratch picture, nothing allocated per frame, every plane row touched once.

use crate::frame::image_source::SourceImage;
use crate::frame::ken_burns::Rect;
use crate::frame::resample::{crossfade_row, mix_rows, Axis, ROW_PADDING};

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
    fn plane_size(&self, plane: usize) -> (usize, usize) {
        let (w, h) = (self.width as usize, self.height as usize);
        if plane == 0 {
            (w, h)
        } else {
            (w / 2, h / 2)
        }
    }
}

/// A segment's picture seen through the camera rectangle (in luma pixels of the source).
#[derive(Debug, Clone, Copy)]
pub(crate) struct Shot<'a> {
    pub source: &'a SourceImage,
    pub camera: Rect,
}

impl Shot<'_> {
    /// Plane `plane` of the source: its bytes, width and height.
    fn plane(&self, plane: usize) -> (&[u8], usize, usize) {
        let s = self.source;
        let (w, h) = (s.width as usize, s.height as usize);
        match plane {
            0 => (&s.y, w, h),
            1 => (&s.u, w / 2, h / 2),
            _ => (&s.v, w / 2, h / 2),
        }
    }
}

/// The taps of one shot on one plane for the current frame.
#[derive(Debug, Default)]
struct PlaneTaps {
    columns: Axis,
    rows: Axis,
}

impl PlaneTaps {
    /// Plans `shot`'s camera on plane `plane` of `width` x `height` output samples.
    fn plan(&mut self, shot: &Shot<'_>, plane: usize, (width, height): (usize, usize)) {
        let (_, source_w, source_h) = shot.plane(plane);
        // Chroma planes are half the luma size both ways; the camera scales with them.
        let scale = if plane == 0 { 1.0 } else { 0.5 };
        let r = shot.camera;
        self.columns.plan(r.x * scale, r.w * scale, width, source_w);
        self.rows.plan(r.y * scale, r.h * scale, height, source_h);
    }

    /// Draws output row `y` of this plane of `shot` into `out`, through `column` (one row of
    /// the vertical pass) and `sums`.
    fn draw_row(
        &self,
        shot: &Shot<'_>,
        plane: usize,
        y: usize,
        out: &mut [u8],
        column: &mut Vec<u8>,
        sums: &mut Vec<u16>,
    ) {
        let (data, stride, _) = shot.plane(plane);
        let columns = self.columns.span();
        let width = columns.len();
        column.resize(width + ROW_PADDING, 0);
        mix_rows(
            &self.rows,
            y,
            data,
            stride,
            columns,
            &mut column[..width],
            sums,
        );
        self.columns.apply(column, out);
    }
}

/// Draws frames of one layout; keeps its scratch rows and taps between frames.
#[derive(Debug)]
pub(crate) struct Compositor {
    layout: FrameLayout,
    /// The taps of the outgoing (or only) shot and of the incoming one, per plane.
    taps: [[PlaneTaps; 3]; 2],
    column: Vec<u8>,
    /// One row of the incoming shot during a crossfade.
    incoming: Vec<u8>,
    sums: Vec<u16>,
}

impl Compositor {
    pub fn new(layout: FrameLayout) -> Self {
        Self {
            layout,
            taps: Default::default(),
            column: Vec::new(),
            incoming: Vec::new(),
            sums: Vec::new(),
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
        let w = (weight.clamp(0.0, 1.0) * 255.0).round() as u16;
        self.draw(from, Some((to, w)), frame)
    }

    /// Draws `shot` over the whole of `frame` (a buffer of `layout().size` bytes).
    pub fn draw_shot(&mut self, shot: &Shot<'_>, frame: &mut [u8]) -> Result<(), String> {
        self.draw(shot, None, frame)
    }

    fn draw(
        &mut self,
        shot: &Shot<'_>,
        incoming: Option<(&Shot<'_>, u16)>,
        frame: &mut [u8],
    ) -> Result<(), String> {
        if frame.len() < self.layout.size {
            return Err(format!(
                "frame buffer of {} bytes, {} needed",
                frame.len(),
                self.layout.size
            ));
        }
        for plane in 0..3 {
            let size = self.layout.plane_size(plane);
            let (width, height) = size;
            let [outgoing_taps, incoming_taps] = &mut self.taps;
            outgoing_taps[plane].plan(shot, plane, size);
            if let Some((to, _)) = incoming {
                incoming_taps[plane].plan(to, plane, size);
            }
            let (offset, stride) = (self.layout.offsets[plane], self.layout.strides[plane]);
            for y in 0..height {
                let start = offset + y * stride;
                let out = frame
                    .get_mut(start..start + width)
                    .ok_or_else(|| format!("frame buffer too small for plane {plane}"))?;
                outgoing_taps[plane].draw_row(
                    shot,
                    plane,
                    y,
                    out,
                    &mut self.column,
                    &mut self.sums,
                );
                if let Some((to, w)) = incoming {
                    self.incoming.resize(width, 0);
                    incoming_taps[plane].draw_row(
                        to,
                        plane,
                        y,
                        &mut self.incoming,
                        &mut self.column,
                        &mut self.sums,
                    );
                    crossfade_row(out, &self.incoming, w);
                }
            }
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

    /// A still camera on whole pixels at unit scale reproduces the picture exactly.
    #[test]
    fn a_still_camera_reproduces_the_picture() {
        let (w, h) = (64u32, 32u32);
        let noise = |i: u32| (i.wrapping_mul(2_654_435_761) >> 24) as u8;
        let source = SourceImage {
            width: w,
            height: h,
            y: (0..w * h).map(noise).collect(),
            u: (0..w * h / 4).map(|i| noise(i + 7)).collect(),
            v: (0..w * h / 4).map(|i| noise(i + 13)).collect(),
            original: (w, h),
            upscale: 1.0,
        };
        let layout = packed(32, 16);
        let mut frame = vec![0u8; layout.size];
        let shot = Shot {
            source: &source,
            camera: Rect::new(8.0, 6.0, 32.0, 16.0),
        };
        Compositor::new(layout)
            .draw_shot(&shot, &mut frame)
            .unwrap();
        for row in 0..16 {
            let at = (row + 6) * 64 + 8;
            assert_eq!(&frame[row * 32..][..32], &source.y[at..at + 32]);
        }
        for row in 0..8 {
            let at = (row + 3) * 32 + 4;
            assert_eq!(&frame[512 + row * 16..][..16], &source.u[at..at + 16]);
            assert_eq!(&frame[640 + row * 16..][..16], &source.v[at..at + 16]);
        }
    }

    /// The sampler gives the pictures of the convolution resampler the renderer used before
    /// (fast_image_resize's bilinear convolution with a fractional crop), to a level: same
    /// sub-pixel positions, same widened tent when the camera shows more than the output.
    #[test]
    fn frames_match_the_convolution_resampler() {
        use fast_image_resize as fr;
        let (w, h) = (624u32, 352u32);
        // Detail everywhere: a ramp, a 3-pixel checker and noise.
        let y: Vec<u8> = (0..w * h)
            .map(|i| {
                let (x, row) = (i % w, i / w);
                let checker = if (x / 3 + row / 3) % 2 == 0 { 60 } else { 0 };
                (x / 4 + checker + (i.wrapping_mul(2_654_435_761) >> 28)).min(255) as u8
            })
            .collect();
        let chroma = vec![128u8; (w * h / 4) as usize];
        let source = SourceImage {
            width: w,
            height: h,
            y,
            u: chroma.clone(),
            v: chroma,
            original: (w, h),
            upscale: 1.0,
        };
        let cameras = [
            Rect::new(10.37, 5.21, 480.0, 270.0), // a pan: unit scale, fractional offsets
            Rect::new(0.0, 0.0, 624.0, 351.0),    // a zoom's start: 1.3 x
            Rect::new(20.3, 10.2, 552.0, 310.5),  // 1.15 x
            Rect::new(20.3, 10.2, 504.0, 283.5),  // 1.05 x
        ];
        let layout = packed(480, 270);
        let mut compositor = Compositor::new(layout.clone());
        let mut frame = vec![0u8; layout.size];
        for camera in cameras {
            let src = fr::images::ImageRef::new(w, h, &source.y, fr::PixelType::U8).unwrap();
            let mut expected = fr::images::Image::new(480, 270, fr::PixelType::U8);
            let options = fr::ResizeOptions::new()
                .resize_alg(fr::ResizeAlg::Convolution(fr::FilterType::Bilinear))
                .crop(camera.x, camera.y, camera.w, camera.h);
            fr::Resizer::new()
                .resize(&src, &mut expected, &options)
                .unwrap();
            let shot = Shot {
                source: &source,
                camera,
            };
            compositor.draw_shot(&shot, &mut frame).unwrap();
            let diffs: Vec<u8> = expected
                .buffer()
                .iter()
                .zip(&frame[..480 * 270])
                .map(|(&a, &b)| a.abs_diff(b))
                .collect();
            let mean = diffs.iter().map(|&d| f64::from(d)).sum::<f64>() / diffs.len() as f64;
            assert!(mean < 0.1, "{camera:?}: mean difference {mean}");
            assert!(diffs.iter().all(|&d| d <= 2), "{camera:?}");
        }
    }
}
