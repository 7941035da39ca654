//! The Ken Burns camera: which rectangle of the source picture each frame shows.
//!
//! Pure geometry, no I/O. Rectangles are `f64` in source pixels and are never rounded: the
//! sampler reads them with sub-pixel accuracy, so the motion has no 1-pixel jitter (the
//! shake of integer-cropping zoompan filters).

/// A rectangle in source-image pixels.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Rect {
    pub x: f64,
    pub y: f64,
    pub w: f64,
    pub h: f64,
}

impl Rect {
    pub const fn new(x: f64, y: f64, w: f64, h: f64) -> Self {
        Self { x, y, w, h }
    }

    /// Linear blend: `t = 0` gives `self`, `t = 1` gives `other`.
    pub fn lerp(&self, other: &Rect, t: f64) -> Rect {
        let mix = |a: f64, b: f64| a + (b - a) * t;
        Rect::new(
            mix(self.x, other.x),
            mix(self.y, other.y),
            mix(self.w, other.w),
            mix(self.h, other.h),
        )
    }

    /// True when the rectangle lies inside a `width` x `height` image (with a rounding slack).
    pub fn is_inside(&self, width: f64, height: f64) -> bool {
        const SLACK: f64 = 1e-9;
        self.x >= -SLACK
            && self.y >= -SLACK
            && self.w > 0.0
            && self.h > 0.0
            && self.x + self.w <= width + SLACK
            && self.y + self.h <= height + SLACK
    }
}

/// The seven camera moves, chosen by segment index so a project always looks the same.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Pattern {
    /// From the whole picture into its centre.
    ZoomInCentre,
    TopLeftToBottomRight,
    BottomRightToTopLeft,
    TopRightToBottomLeft,
    BottomLeftToTopRight,
    /// From the centre halfway out to the top-left corner.
    DriftCentreToTopLeft,
    /// From the centre halfway out to the bottom-right corner.
    DriftCentreToBottomRight,
}

impl Pattern {
    pub const ALL: [Pattern; 7] = [
        Pattern::ZoomInCentre,
        Pattern::TopLeftToBottomRight,
        Pattern::BottomRightToTopLeft,
        Pattern::TopRightToBottomLeft,
        Pattern::BottomLeftToTopRight,
        Pattern::DriftCentreToTopLeft,
        Pattern::DriftCentreToBottomRight,
    ];

    pub fn for_segment(index: usize) -> Pattern {
        Self::ALL[index % Self::ALL.len()]
    }
}

/// Smoothstep: starts and stops with zero speed, so the camera never jerks.
pub fn ease_in_out(t: f64) -> f64 {
    let t = t.clamp(0.0, 1.0);
    t * t * (3.0 - 2.0 * t)
}

/// The largest rectangle with `aspect` (width / height) that fits in the image, centred.
pub fn fit_rect(width: f64, height: f64, aspect: f64) -> Rect {
    let (w, h) = if width / height > aspect {
        (height * aspect, height)
    } else {
        (width, width / aspect)
    };
    Rect::new((width - w) / 2.0, (height - h) / 2.0, w, h)
}

/// One segment's camera move from `start` to `end`.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Camera {
    pub start: Rect,
    pub end: Rect,
}

impl Camera {
    /// The move of `pattern` over a `width` x `height` source for an output of `aspect`
    /// (width / height). `zoom` (≥ 1) is the headroom: pans and drifts show 1/zoom of the
    /// largest fitting rectangle and travel over the rest; the zoom goes from all of it to
    /// 1/zoom of it. Both ends keep the output aspect and stay inside the image.
    pub fn new(pattern: Pattern, width: f64, height: f64, aspect: f64, zoom: f64) -> Camera {
        let full = fit_rect(width, height, aspect);
        let zoom = zoom.max(1.0);
        let (w, h) = (full.w / zoom, full.h / zoom);
        let (left, top) = (0.0, 0.0);
        let (right, bottom) = (width - w, height - h);
        let (cx, cy) = ((width - w) / 2.0, (height - h) / 2.0);
        let at = |x: f64, y: f64| Rect::new(x, y, w, h);
        let (start, end) = match pattern {
            Pattern::ZoomInCentre => (full, at(cx, cy)),
            Pattern::TopLeftToBottomRight => (at(left, top), at(right, bottom)),
            Pattern::BottomRightToTopLeft => (at(right, bottom), at(left, top)),
            Pattern::TopRightToBottomLeft => (at(right, top), at(left, bottom)),
            Pattern::BottomLeftToTopRight => (at(left, bottom), at(right, top)),
            Pattern::DriftCentreToTopLeft => (at(cx, cy), at(cx / 2.0, cy / 2.0)),
            Pattern::DriftCentreToBottomRight => {
                (at(cx, cy), at((cx + right) / 2.0, (cy + bottom) / 2.0))
            }
        };
        Camera { start, end }
    }

    /// The rectangle at segment progress `t` (0 = first frame, 1 = last), eased.
    pub fn at(&self, t: f64) -> Rect {
        self.start.lerp(&self.end, ease_in_out(t))
    }

    /// Progress of frame `k` of a segment of `frames` frames: 0 for the first, 1 for the last.
    pub fn progress(k: u64, frames: u64) -> f64 {
        if frames <= 1 {
            0.0
        } else {
            k as f64 / (frames - 1) as f64
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn camera(index: usize, w: f64, h: f64, aspect: f64, zoom: f64) -> Camera {
        Camera::new(Pattern::for_segment(index), w, h, aspect, zoom)
    }

    #[test]
    fn patterns_cycle_by_segment_index() {
        assert_eq!(Pattern::for_segment(0), Pattern::ZoomInCentre);
        assert_eq!(Pattern::for_segment(7), Pattern::ZoomInCentre);
        assert_eq!(Pattern::for_segment(13), Pattern::DriftCentreToBottomRight);
    }

    #[test]
    fn easing_is_smooth_and_monotonic() {
        assert_eq!(ease_in_out(0.0), 0.0);
        assert_eq!(ease_in_out(0.5), 0.5);
        assert_eq!(ease_in_out(1.0), 1.0);
        assert_eq!(ease_in_out(0.25), 0.15625);
        assert_eq!(ease_in_out(-1.0), 0.0);
        assert_eq!(ease_in_out(2.0), 1.0);
        // Zero speed at both ends: the first step is far smaller than a linear step.
        assert!(ease_in_out(0.01) < 0.001);
        assert!(1.0 - ease_in_out(0.99) < 0.001);
        let mut last = 0.0;
        for i in 1..=1000 {
            let v = ease_in_out(i as f64 / 1000.0);
            assert!(v > last);
            last = v;
        }
    }

    /// The renderer's own case: a 16:9 source cover-fitted to 1920x1080 x 1.3.
    #[test]
    fn all_seven_patterns_on_a_16_9_source() {
        let (w, h, aspect, zoom) = (2496.0, 1404.0, 16.0 / 9.0, 1.3);
        let expected = [
            (
                Rect::new(0.0, 0.0, 2496.0, 1404.0),
                Rect::new(288.0, 162.0, 1920.0, 1080.0),
            ),
            (
                Rect::new(0.0, 0.0, 1920.0, 1080.0),
                Rect::new(576.0, 324.0, 1920.0, 1080.0),
            ),
            (
                Rect::new(576.0, 324.0, 1920.0, 1080.0),
                Rect::new(0.0, 0.0, 1920.0, 1080.0),
            ),
            (
                Rect::new(576.0, 0.0, 1920.0, 1080.0),
                Rect::new(0.0, 324.0, 1920.0, 1080.0),
            ),
            (
                Rect::new(0.0, 324.0, 1920.0, 1080.0),
                Rect::new(576.0, 0.0, 1920.0, 1080.0),
            ),
            (
                Rect::new(288.0, 162.0, 1920.0, 1080.0),
                Rect::new(144.0, 81.0, 1920.0, 1080.0),
            ),
            (
                Rect::new(288.0, 162.0, 1920.0, 1080.0),
                Rect::new(432.0, 243.0, 1920.0, 1080.0),
            ),
        ];
        for (index, (start, end)) in expected.iter().enumerate() {
            let cam = camera(index, w, h, aspect, zoom);
            assert_rect_eq(cam.start, *start, index);
            assert_rect_eq(cam.end, *end, index);
            assert_rect_eq(cam.at(0.0), *start, index);
            assert_rect_eq(cam.at(1.0), *end, index);
        }
    }

    /// A square picture in a landscape video: the zoom starts from the centred 16:9 band,
    /// pans use the full height.
    #[test]
    fn square_source_in_landscape_output() {
        let (w, h, aspect, zoom) = (1000.0, 1000.0, 16.0 / 9.0, 1.25);
        let zoom_in = camera(0, w, h, aspect, zoom);
        assert_rect_eq(zoom_in.start, Rect::new(0.0, 218.75, 1000.0, 562.5), 0);
        assert_rect_eq(zoom_in.end, Rect::new(100.0, 275.0, 800.0, 450.0), 0);
        let diagonal = camera(1, w, h, aspect, zoom);
        assert_rect_eq(diagonal.start, Rect::new(0.0, 0.0, 800.0, 450.0), 1);
        assert_rect_eq(diagonal.end, Rect::new(200.0, 550.0, 800.0, 450.0), 1);
        let drift = camera(6, w, h, aspect, zoom);
        assert_rect_eq(drift.start, Rect::new(100.0, 275.0, 800.0, 450.0), 6);
        assert_rect_eq(drift.end, Rect::new(150.0, 412.5, 800.0, 450.0), 6);
    }

    /// A portrait video (9:16) over a portrait source with 1.5 headroom.
    #[test]
    fn portrait_output() {
        let (w, h, aspect, zoom) = (1080.0, 1920.0, 9.0 / 16.0, 1.5);
        let cam = camera(3, w, h, aspect, zoom);
        assert_rect_eq(cam.start, Rect::new(360.0, 0.0, 720.0, 1280.0), 3);
        assert_rect_eq(cam.end, Rect::new(0.0, 640.0, 720.0, 1280.0), 3);
        let cam = camera(5, w, h, aspect, zoom);
        assert_rect_eq(cam.start, Rect::new(180.0, 320.0, 720.0, 1280.0), 5);
        assert_rect_eq(cam.end, Rect::new(90.0, 160.0, 720.0, 1280.0), 5);
    }

    #[test]
    fn zoom_of_one_is_a_still_picture() {
        for index in 0..7 {
            let cam = camera(index, 1920.0, 1080.0, 16.0 / 9.0, 1.0);
            assert_rect_eq(cam.start, Rect::new(0.0, 0.0, 1920.0, 1080.0), index);
            assert_rect_eq(cam.end, cam.start, index);
        }
    }

    /// Every pattern, several aspects and zooms: inside the image, the output aspect kept,
    /// each coordinate moving monotonically, and fractional (unrounded) positions used.
    #[test]
    fn motion_is_inside_aspect_true_monotonic_and_sub_pixel() {
        let sources = [
            (2496.0, 1404.0),
            (1000.0, 1000.0),
            (640.0, 1138.0),
            (3001.0, 997.0),
        ];
        let aspects = [16.0 / 9.0, 9.0 / 16.0, 1.0, 4.0 / 5.0];
        for &(w, h) in &sources {
            for &aspect in &aspects {
                for zoom in [1.1, 1.3, 2.0] {
                    for index in 0..7 {
                        check_motion(camera(index, w, h, aspect, zoom), w, h, aspect, index);
                    }
                }
            }
        }
    }

    fn check_motion(cam: Camera, w: f64, h: f64, aspect: f64, index: usize) {
        let frames = 180;
        let mut prev = cam.at(0.0);
        let mut fractional = 0;
        for k in 0..frames {
            let r = cam.at(Camera::progress(k, frames));
            assert!(r.is_inside(w, h), "pattern {index}: {r:?} outside {w}x{h}");
            assert!(
                (r.w / r.h - aspect).abs() < 1e-9,
                "pattern {index}: aspect of {r:?}"
            );
            let moves = [
                (prev.x, r.x, cam.start.x, cam.end.x),
                (prev.y, r.y, cam.start.y, cam.end.y),
                (prev.w, r.w, cam.start.w, cam.end.w),
            ];
            for (before, now, from, to) in moves {
                let step = now - before;
                assert!(
                    step * (to - from) >= -1e-9,
                    "pattern {index}: moved backwards"
                );
            }
            if r.x.fract() != 0.0 || r.y.fract() != 0.0 {
                fractional += 1;
            }
            prev = r;
        }
        assert!(
            fractional > frames / 2,
            "pattern {index}: positions are rounded"
        );
    }

    #[test]
    fn progress_spans_first_to_last_frame() {
        assert_eq!(Camera::progress(0, 1), 0.0);
        assert_eq!(Camera::progress(0, 5), 0.0);
        assert_eq!(Camera::progress(2, 5), 0.5);
        assert_eq!(Camera::progress(4, 5), 1.0);
    }

    fn assert_rect_eq(actual: Rect, expected: Rect, index: usize) {
        let close = |a: f64, b: f64| (a - b).abs() < 1e-9;
        assert!(
            close(actual.x, expected.x)
                && close(actual.y, expected.y)
                && close(actual.w, expected.w)
                && close(actual.h, expected.h),
            "pattern {index}: {actual:?} != {expected:?}"
        );
    }
}
