//! The logo watermark: decoded, resized and premultiplied once per render into an
//! [`Overlay`] sitting in a corner of the frame.

use std::path::{Path, PathBuf};
use std::str::FromStr;

use fast_image_resize::images::Image as ResizeImage;
use fast_image_resize::{FilterType, PixelType, ResizeAlg, ResizeOptions, Resizer};
use image::{DynamicImage, ImageDecoder, ImageReader};

use crate::frame::overlay::{div255, parse_named, Overlay, OverlayError};

/// Which corner the logo sits in.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub enum LogoPosition {
    TopLeft,
    #[default]
    TopRight,
    BottomLeft,
    BottomRight,
}

impl LogoPosition {
    pub const ALL: [LogoPosition; 4] = [
        LogoPosition::TopLeft,
        LogoPosition::TopRight,
        LogoPosition::BottomLeft,
        LogoPosition::BottomRight,
    ];

    /// The setting's text: `top-left`, `top-right`, `bottom-left` or `bottom-right`.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::TopLeft => "top-left",
            Self::TopRight => "top-right",
            Self::BottomLeft => "bottom-left",
            Self::BottomRight => "bottom-right",
        }
    }
}

impl FromStr for LogoPosition {
    type Err = OverlayError;

    /// One of the [`as_str`](Self::as_str) texts, in any case.
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        parse_named(s, "logo position", &Self::ALL, Self::as_str)
    }
}

/// The logo file and how to place it.
#[derive(Debug, Clone, PartialEq)]
pub struct LogoSpec {
    /// A PNG, WebP or JPEG file.
    pub path: PathBuf,
    /// Logo width as a fraction of the frame width, in (0, 1].
    pub scale: f64,
    pub position: LogoPosition,
    /// 0 (invisible) to 1 (as in the file).
    pub opacity: f64,
    /// Distance from the two nearest frame edges, in pixels.
    pub margin: u32,
}

/// Decodes the logo, resizes it (Lanczos3) to `scale` × the frame width keeping its aspect
/// (smaller if it would then be taller than the frame), applies the opacity and places it in
/// its corner, `margin` pixels in, moved inwards if the margin would push it off the frame.
pub fn prepare_logo(
    spec: &LogoSpec,
    frame_width: u32,
    frame_height: u32,
) -> Result<Overlay, OverlayError> {
    if frame_width == 0 || frame_height == 0 {
        return Err(OverlayError::Invalid(format!(
            "frame size {frame_width}x{frame_height} is empty"
        )));
    }
    if !(spec.scale > 0.0 && spec.scale <= 1.0) {
        return Err(OverlayError::Invalid(format!(
            "logo scale {} is not in (0, 1]",
            spec.scale
        )));
    }
    if !(0.0..=1.0).contains(&spec.opacity) {
        return Err(OverlayError::Invalid(format!(
            "logo opacity {} is not in [0, 1]",
            spec.opacity
        )));
    }
    let source = decode(&spec.path)?.into_rgba8();
    let (src_w, src_h) = source.dimensions();
    if src_w == 0 || src_h == 0 {
        return Err(image_error(&spec.path, "the image is empty"));
    }
    let (width, height) = fit(src_w, src_h, spec.scale, frame_width, frame_height);
    let mut pixels = if (width, height) == (src_w, src_h) {
        source.into_raw()
    } else {
        resize(source.into_raw(), (src_w, src_h), (width, height))
            .map_err(|reason| image_error(&spec.path, &reason))?
    };
    premultiply(&mut pixels, (spec.opacity * 255.0).round() as u32);

    let margin = i64::from(spec.margin);
    let right = i64::from(frame_width) - i64::from(width);
    let bottom = i64::from(frame_height) - i64::from(height);
    let (x, y) = match spec.position {
        LogoPosition::TopLeft => (margin, margin),
        LogoPosition::TopRight => (right - margin, margin),
        LogoPosition::BottomLeft => (margin, bottom - margin),
        LogoPosition::BottomRight => (right - margin, bottom - margin),
    };
    // `fit` keeps the logo inside the frame, so `right` and `bottom` are not negative.
    Ok(Overlay {
        x: x.clamp(0, right) as i32,
        y: y.clamp(0, bottom) as i32,
        width,
        height,
        pixels,
    })
}

fn image_error(path: &Path, reason: &str) -> OverlayError {
    OverlayError::Image {
        path: path.to_path_buf(),
        reason: reason.to_string(),
    }
}

/// Decodes by content (not extension), honouring the EXIF orientation.
fn decode(path: &Path) -> Result<DynamicImage, OverlayError> {
    let io_error = |source| OverlayError::Io {
        path: path.to_path_buf(),
        source,
    };
    let reader = ImageReader::open(path)
        .map_err(io_error)?
        .with_guessed_format()
        .map_err(io_error)?;
    let failed = |e: image::ImageError| image_error(path, &e.to_string());
    let mut decoder = reader.into_decoder().map_err(failed)?;
    let orientation = decoder.orientation().map_err(failed)?;
    let mut image = DynamicImage::from_decoder(decoder).map_err(failed)?;
    image.apply_orientation(orientation);
    Ok(image)
}

/// Logo size in pixels: `scale` × frame width wide, aspect kept, at least 1×1, and shrunk to
/// the frame height if taller.
fn fit(src_w: u32, src_h: u32, scale: f64, frame_w: u32, frame_h: u32) -> (u32, u32) {
    let aspect = f64::from(src_h) / f64::from(src_w);
    let mut width = (scale * f64::from(frame_w))
        .round()
        .clamp(1.0, f64::from(frame_w));
    let mut height = (width * aspect).round().max(1.0);
    if height > f64::from(frame_h) {
        height = f64::from(frame_h);
        width = (height / aspect).round().clamp(1.0, f64::from(frame_w));
    }
    (width as u32, height as u32)
}

/// Lanczos3 resize of straight-alpha RGBA; fast_image_resize weights colour by alpha, so
/// transparent pixels do not bleed their (invisible) colour into the edges.
fn resize(rgba: Vec<u8>, from: (u32, u32), to: (u32, u32)) -> Result<Vec<u8>, String> {
    let src = ResizeImage::from_vec_u8(from.0, from.1, rgba, PixelType::U8x4)
        .map_err(|e| e.to_string())?;
    let mut dst = ResizeImage::new(to.0, to.1, PixelType::U8x4);
    let options = ResizeOptions::new()
        .resize_alg(ResizeAlg::Convolution(FilterType::Lanczos3))
        .use_alpha(true);
    Resizer::new()
        .resize(&src, &mut dst, &options)
        .map_err(|e| e.to_string())?;
    Ok(dst.into_vec())
}

/// Straight alpha → premultiplied, with alpha scaled by `opacity` (0–255), rounding to nearest.
fn premultiply(rgba: &mut [u8], opacity: u32) {
    for px in rgba.chunks_exact_mut(4) {
        let alpha = div255(u32::from(px[3]) * opacity);
        for c in &mut px[..3] {
            *c = div255(u32::from(*c) * alpha) as u8;
        }
        px[3] = alpha as u8;
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use image::{ImageFormat, Rgba, RgbaImage};

    fn spec(path: &Path, position: LogoPosition) -> LogoSpec {
        LogoSpec {
            path: path.to_path_buf(),
            scale: 0.5,
            position,
            opacity: 1.0,
            margin: 2,
        }
    }

    /// An 8×4 logo: opaque (200, 100, 50) with a half-transparent white top-left pixel.
    fn write_logo(dir: &Path, name: &str, format: ImageFormat) -> PathBuf {
        let mut img = RgbaImage::from_pixel(8, 4, Rgba([200, 100, 50, 255]));
        img.put_pixel(0, 0, Rgba([255, 255, 255, 128]));
        let path = dir.join(name);
        if format == ImageFormat::Jpeg {
            DynamicImage::ImageRgba8(img)
                .into_rgb8()
                .save_with_format(&path, format)
                .unwrap();
        } else {
            img.save_with_format(&path, format).unwrap();
        }
        path
    }

    #[test]
    fn parses_positions() {
        assert_eq!(
            "top-left".parse::<LogoPosition>().unwrap(),
            LogoPosition::TopLeft
        );
        assert_eq!(
            "Top-Right".parse::<LogoPosition>().unwrap(),
            LogoPosition::TopRight
        );
        assert_eq!(
            "bottom-left".parse::<LogoPosition>().unwrap(),
            LogoPosition::BottomLeft
        );
        assert_eq!(
            " bottom-right".parse::<LogoPosition>().unwrap(),
            LogoPosition::BottomRight
        );
        assert!("middle".parse::<LogoPosition>().is_err());
        assert!("top_left".parse::<LogoPosition>().is_err());
    }

    #[test]
    fn unscaled_logo_is_premultiplied_exactly_and_placed_in_each_corner() {
        let dir = tempfile::tempdir().unwrap();
        let path = write_logo(dir.path(), "logo.png", ImageFormat::Png);
        let expected = [
            (LogoPosition::TopLeft, (2, 2)),
            (LogoPosition::TopRight, (6, 2)),
            (LogoPosition::BottomLeft, (2, 3)),
            (LogoPosition::BottomRight, (6, 3)),
        ];
        for (position, (x, y)) in expected {
            // Frame 16×9, scale 0.5: 8×4, the logo's own size, so no resampling.
            let o = prepare_logo(&spec(&path, position), 16, 9).unwrap();
            assert_eq!((o.x, o.y, o.width, o.height), (x, y, 8, 4), "{position:?}");
            // White at alpha 128 → 128; opaque pixels unchanged.
            assert_eq!(o.pixels[..8], [128, 128, 128, 128, 200, 100, 50, 255]);
        }
    }

    #[test]
    fn opacity_scales_every_channel() {
        let dir = tempfile::tempdir().unwrap();
        let path = write_logo(dir.path(), "logo.png", ImageFormat::Png);
        let o = prepare_logo(
            &LogoSpec {
                opacity: 0.5,
                ..spec(&path, LogoPosition::TopLeft)
            },
            16,
            9,
        )
        .unwrap();
        // alpha 255 × 128/255 = 128: (200, 100, 50) → (100, 50, 25); white at 128 → alpha
        // round(128 × 128 / 255) = 64, colour 64.
        assert_eq!(o.pixels[..8], [64, 64, 64, 64, 100, 50, 25, 128]);
        let o = prepare_logo(
            &LogoSpec {
                opacity: 0.0,
                ..spec(&path, LogoPosition::TopLeft)
            },
            16,
            9,
        )
        .unwrap();
        assert!(o.pixels.iter().all(|&b| b == 0));
    }

    #[test]
    fn resizes_to_the_scaled_width_keeping_aspect() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("big.png");
        RgbaImage::from_pixel(100, 50, Rgba([10, 200, 30, 255]))
            .save(&path)
            .unwrap();
        let o = prepare_logo(
            &LogoSpec {
                scale: 0.25,
                margin: 10,
                ..spec(&path, LogoPosition::BottomRight)
            },
            160,
            90,
        )
        .unwrap();
        assert_eq!((o.x, o.y, o.width, o.height), (110, 60, 40, 20));
        for px in o.pixels.chunks_exact(4) {
            assert_eq!(px[3], 255);
            for (c, want) in px[..3].iter().zip([10u8, 200, 30]) {
                assert!(c.abs_diff(want) <= 1, "{px:?}");
            }
        }
    }

    #[test]
    fn tall_logo_and_huge_margin_stay_inside_the_frame() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("tall.png");
        RgbaImage::from_pixel(10, 100, Rgba([1, 2, 3, 255]))
            .save(&path)
            .unwrap();
        let o = prepare_logo(
            &LogoSpec {
                margin: 500,
                ..spec(&path, LogoPosition::BottomRight)
            },
            160,
            90,
        )
        .unwrap();
        // 80 px wide would be 800 tall: shrunk to the frame height, 90 × 10 / 100 = 9 wide.
        assert_eq!((o.width, o.height), (9, 90));
        assert_eq!((o.x, o.y), (0, 0));
        let o = prepare_logo(
            &LogoSpec {
                margin: 500,
                ..spec(&path, LogoPosition::TopRight)
            },
            1600,
            900,
        )
        .unwrap();
        assert_eq!((o.x, o.y, o.width, o.height), (1010, 0, 90, 900));
    }

    #[test]
    fn decodes_webp_and_jpeg_by_content() {
        let dir = tempfile::tempdir().unwrap();
        let webp = write_logo(dir.path(), "logo.webp", ImageFormat::WebP);
        let o = prepare_logo(&spec(&webp, LogoPosition::TopLeft), 16, 9).unwrap();
        assert_eq!(o.pixels[..8], [128, 128, 128, 128, 200, 100, 50, 255]);
        // A JPEG named .png still decodes.
        let jpeg = write_logo(dir.path(), "logo.jpg", ImageFormat::Jpeg);
        let misnamed = dir.path().join("really-a-jpeg.png");
        std::fs::rename(&jpeg, &misnamed).unwrap();
        let o = prepare_logo(&spec(&misnamed, LogoPosition::TopLeft), 16, 9).unwrap();
        assert_eq!((o.width, o.height), (8, 4));
        assert!(o.pixels.chunks_exact(4).all(|p| p[3] == 255));
    }

    #[test]
    fn bad_input_is_a_clear_error() {
        let dir = tempfile::tempdir().unwrap();
        let missing = dir.path().join("missing.png");
        assert!(matches!(
            prepare_logo(&spec(&missing, LogoPosition::TopLeft), 16, 9),
            Err(OverlayError::Io { .. })
        ));
        let garbage = dir.path().join("garbage.png");
        std::fs::write(&garbage, b"not an image at all").unwrap();
        assert!(matches!(
            prepare_logo(&spec(&garbage, LogoPosition::TopLeft), 16, 9),
            Err(OverlayError::Image { .. })
        ));
        let path = write_logo(dir.path(), "logo.png", ImageFormat::Png);
        for (scale, opacity) in [
            (0.0, 1.0),
            (1.5, 1.0),
            (f64::NAN, 1.0),
            (0.5, -0.1),
            (0.5, 2.0),
        ] {
            let bad = LogoSpec {
                scale,
                opacity,
                ..spec(&path, LogoPosition::TopLeft)
            };
            assert!(matches!(
                prepare_logo(&bad, 16, 9),
                Err(OverlayError::Invalid(_))
            ));
        }
        assert!(prepare_logo(&spec(&path, LogoPosition::TopLeft), 0, 9).is_err());
    }
}
