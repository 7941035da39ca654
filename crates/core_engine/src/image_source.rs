//! Segment pictures: decode (JPEG, PNG, WebP), honour EXIF orientation, flatten alpha over
//! black, cover-fit to the output size times the zoom headroom, and convert once to I420
//! planes that the compositor samples every frame.

use std::path::Path;

use fast_image_resize as fr;
use image::{DynamicImage, ImageDecoder, ImageReader, RgbImage};

use crate::RenderError;

/// A segment's picture, ready to be sampled: BT.709 limited-range I420 planes.
#[derive(Debug)]
pub(crate) struct SourceImage {
    /// Luma size (even); the chroma planes are half of it both ways.
    pub width: u32,
    pub height: u32,
    pub y: Vec<u8>,
    pub u: Vec<u8>,
    pub v: Vec<u8>,
    /// The original picture's size after orientation.
    pub original: (u32, u32),
    /// How much the picture was enlarged to cover the source size (1.0 = not enlarged).
    pub upscale: f64,
}

/// Decodes `path` fully (so truncated files are caught) and returns its size as displayed,
/// i.e. after EXIF orientation.
pub fn validate_image(path: &Path) -> Result<(u32, u32), RenderError> {
    let image = decode_rgb(path, None)?;
    Ok(image.dimensions())
}

/// The size pictures are cover-fitted to: the output times the zoom headroom, rounded up to
/// even numbers so the chroma planes have whole pixels.
pub(crate) fn source_size(width: u32, height: u32, zoom: f64) -> (u32, u32) {
    let even_up = |v: f64| {
        let v = v.ceil() as u32;
        v + v % 2
    };
    (
        even_up(f64::from(width) * zoom.max(1.0) - 1e-6),
        even_up(f64::from(height) * zoom.max(1.0) - 1e-6),
    )
}

/// Loads one segment's picture, cover-fitted to `size` (from [`source_size`]).
pub(crate) fn load_source(
    path: &Path,
    segment: Option<usize>,
    size: (u32, u32),
) -> Result<SourceImage, RenderError> {
    let rgb = decode_rgb(path, segment)?;
    let original = rgb.dimensions();
    let upscale = (f64::from(size.0) / f64::from(original.0))
        .max(f64::from(size.1) / f64::from(original.1))
        .max(1.0);
    let fitted = cover_fit(rgb, size).map_err(|reason| RenderError::Image {
        segment,
        path: path.to_path_buf(),
        reason,
    })?;
    let (y, u, v) = rgb_to_i420(fitted.as_raw(), size.0, size.1);
    Ok(SourceImage {
        width: size.0,
        height: size.1,
        y,
        u,
        v,
        original,
        upscale,
    })
}

/// Decodes to 8-bit RGB, oriented as the camera meant, transparency composited over black.
fn decode_rgb(path: &Path, segment: Option<usize>) -> Result<RgbImage, RenderError> {
    let image_error = |reason: String| RenderError::Image {
        segment,
        path: path.to_path_buf(),
        reason,
    };
    if !path.is_file() {
        return Err(RenderError::MissingFile {
            segment,
            path: path.to_path_buf(),
        });
    }
    let reader = ImageReader::open(path)
        .and_then(ImageReader::with_guessed_format)
        .map_err(|e| image_error(e.to_string()))?;
    if reader.format().is_none() {
        return Err(image_error(
            "not a picture this renderer reads (use JPEG, PNG or WebP)".into(),
        ));
    }
    let mut decoder = reader
        .into_decoder()
        .map_err(|e| image_error(e.to_string()))?;
    let orientation = decoder.orientation().unwrap_or_else(|e| {
        log::warn!(
            "{}: ignoring unreadable EXIF orientation: {e}",
            path.display()
        );
        image::metadata::Orientation::NoTransforms
    });
    let image = DynamicImage::from_decoder(decoder).map_err(|e| image_error(e.to_string()))?;
    if image.width() == 0 || image.height() == 0 {
        return Err(image_error("the picture is empty (0 pixels)".into()));
    }
    // Flatten first: orientation then moves 3 bytes per pixel instead of 4 (or 8).
    let mut image = DynamicImage::ImageRgb8(flatten(image));
    image.apply_orientation(orientation);
    Ok(image.into_rgb8())
}

/// 8-bit RGB with any transparency composited over black.
fn flatten(image: DynamicImage) -> RgbImage {
    if !image.color().has_alpha() {
        return image.into_rgb8();
    }
    let rgba = image.into_rgba8();
    let (width, height) = rgba.dimensions();
    let mut rgb = Vec::with_capacity(width as usize * height as usize * 3);
    for px in rgba.as_raw().chunks_exact(4) {
        let alpha = u32::from(px[3]);
        for &c in &px[..3] {
            // Rounded c * alpha / 255.
            rgb.push(((u32::from(c) * alpha + 127) / 255) as u8);
        }
    }
    RgbImage::from_raw(width, height, rgb).unwrap_or_else(|| RgbImage::new(width, height))
}

/// Scales to cover `size` exactly, cropping the excess evenly on both sides.
fn cover_fit(rgb: RgbImage, size: (u32, u32)) -> Result<RgbImage, String> {
    let (width, height) = rgb.dimensions();
    if (width, height) == size {
        return Ok(rgb);
    }
    let enlarging = size.0 > width || size.1 > height;
    // Catmull-Rom enlarges without Lanczos' ringing; Lanczos keeps detail when shrinking.
    let filter = if enlarging {
        fr::FilterType::CatmullRom
    } else {
        fr::FilterType::Lanczos3
    };
    let src = fr::images::Image::from_vec_u8(width, height, rgb.into_raw(), fr::PixelType::U8x3)
        .map_err(|e| e.to_string())?;
    let mut dst = fr::images::Image::new(size.0, size.1, fr::PixelType::U8x3);
    let options = fr::ResizeOptions::new()
        .resize_alg(fr::ResizeAlg::Convolution(filter))
        .fit_into_destination(Some((0.5, 0.5)));
    fr::Resizer::new()
        .resize(&src, &mut dst, &options)
        .map_err(|e| e.to_string())?;
    RgbImage::from_raw(size.0, size.1, dst.into_vec())
        .ok_or_else(|| "resized picture has the wrong size".to_string())
}

/// BT.709 limited-range RGB to I420 (chroma = average of each 2x2 block). `width` and
/// `height` must be even.
pub(crate) fn rgb_to_i420(rgb: &[u8], width: u32, height: u32) -> (Vec<u8>, Vec<u8>, Vec<u8>) {
    // Coefficients scaled by 2^16, e.g. Y = 16 + 0.1826 R + 0.6142 G + 0.0620 B.
    const Y_R: i32 = 11_966;
    const Y_G: i32 = 40_254;
    const Y_B: i32 = 4_064;
    const U_R: i32 = -6_596;
    const U_G: i32 = -22_189;
    const U_B: i32 = 28_785;
    const V_R: i32 = 28_785;
    const V_G: i32 = -26_145;
    const V_B: i32 = -2_640;
    const HALF: i32 = 1 << 15;
    let (w, h) = (width as usize, height as usize);
    let mut y = vec![0u8; w * h];
    let mut u = vec![0u8; w / 2 * (h / 2)];
    let mut v = vec![0u8; w / 2 * (h / 2)];
    let luma = |r: i32, g: i32, b: i32| (((Y_R * r + Y_G * g + Y_B * b + HALF) >> 16) + 16) as u8;
    for row in (0..h).step_by(2) {
        let top = &rgb[row * w * 3..(row + 1) * w * 3];
        let bottom = &rgb[(row + 1) * w * 3..(row + 2) * w * 3];
        for col in (0..w).step_by(2) {
            let (mut rs, mut gs, mut bs) = (0, 0, 0);
            for (line, out_row) in [(top, row), (bottom, row + 1)] {
                for dx in 0..2 {
                    let i = (col + dx) * 3;
                    let (r, g, b) = (
                        i32::from(line[i]),
                        i32::from(line[i + 1]),
                        i32::from(line[i + 2]),
                    );
                    y[out_row * w + col + dx] = luma(r, g, b);
                    rs += r;
                    gs += g;
                    bs += b;
                }
            }
            // Sums of four pixels: shift two more bits.
            let chroma = |cr: i32, cg: i32, cb: i32| {
                (((cr * rs + cg * gs + cb * bs + (HALF << 2)) >> 18) + 128).clamp(0, 255) as u8
            };
            let c = row / 2 * (w / 2) + col / 2;
            u[c] = chroma(U_R, U_G, U_B);
            v[c] = chroma(V_R, V_G, V_B);
        }
    }
    (y, u, v)
}

#[cfg(test)]
mod tests {
    use super::*;
    use image::{ImageEncoder, Rgba, RgbaImage};

    #[test]
    fn source_size_is_even_and_covers_the_zoom() {
        assert_eq!(source_size(1920, 1080, 1.3), (2496, 1404));
        assert_eq!(source_size(320, 180, 1.3), (416, 234));
        assert_eq!(source_size(1920, 1080, 1.0), (1920, 1080));
        assert_eq!(source_size(1080, 1920, 1.25), (1350, 2400));
        assert_eq!(source_size(100, 100, 1.33), (134, 134));
    }

    #[test]
    fn bt709_limited_range_colours() {
        let px = |r: u8, g: u8, b: u8| {
            let rgb = [r, g, b].repeat(4);
            let (y, u, v) = rgb_to_i420(&rgb, 2, 2);
            (y[0], u[0], v[0])
        };
        assert_eq!(px(0, 0, 0), (16, 128, 128));
        assert_eq!(px(255, 255, 255), (235, 128, 128));
        assert_eq!(px(255, 0, 0), (63, 102, 240));
        assert_eq!(px(0, 0, 255), (32, 240, 118));
    }

    #[test]
    fn alpha_is_composited_over_black() {
        let mut rgba = RgbaImage::new(2, 1);
        rgba.put_pixel(0, 0, Rgba([200, 100, 50, 0]));
        rgba.put_pixel(1, 0, Rgba([200, 100, 50, 128]));
        let rgb = flatten(DynamicImage::ImageRgba8(rgba));
        assert_eq!(rgb.as_raw(), &[0, 0, 0, 100, 50, 25]);
    }

    #[test]
    fn png_with_alpha_and_greyscale_load_as_covering_sources() {
        let dir = tempfile::tempdir().unwrap();
        let png = dir.path().join("a.png");
        let mut rgba = RgbaImage::from_pixel(40, 30, Rgba([255, 255, 255, 255]));
        rgba.put_pixel(0, 0, Rgba([255, 255, 255, 0]));
        rgba.save(&png).unwrap();
        let source = load_source(&png, Some(1), (80, 40)).unwrap();
        assert_eq!((source.width, source.height), (80, 40));
        assert_eq!(source.y.len(), 3200);
        assert_eq!(source.u.len(), 800);
        assert_eq!(source.original, (40, 30));
        assert_eq!(source.upscale, 2.0);
        assert_eq!(source.y[40 * 80 / 2 + 40], 235); // white stays white

        let grey = dir.path().join("g.png");
        image::GrayImage::from_pixel(10, 10, image::Luma([128]))
            .save(&grey)
            .unwrap();
        let source = load_source(&grey, Some(1), (10, 10)).unwrap();
        assert!(source.u.iter().chain(&source.v).all(|&c| c == 128));
    }

    /// A 4x2 JPEG tagged "rotate 90° clockwise" is displayed 2x4.
    #[test]
    fn exif_orientation_is_applied() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("rotated.jpg");
        let mut jpeg = Vec::new();
        image::codecs::jpeg::JpegEncoder::new(&mut jpeg)
            .write_image(&[90u8; 4 * 2 * 3], 4, 2, image::ExtendedColorType::Rgb8)
            .unwrap();
        // Big-endian TIFF with one IFD entry: Orientation (0x0112) = 6.
        let tiff: [u8; 26] = [
            b'M', b'M', 0, 42, 0, 0, 0, 8, 0, 1, 0x01, 0x12, 0, 3, 0, 0, 0, 1, 0, 6, 0, 0, 0, 0, 0,
            0,
        ];
        let mut app1 = vec![0xFF, 0xE1];
        app1.extend_from_slice(&((2 + 6 + tiff.len()) as u16).to_be_bytes());
        app1.extend_from_slice(b"Exif\0\0");
        app1.extend_from_slice(&tiff);
        let mut tagged = jpeg[..2].to_vec();
        tagged.extend_from_slice(&app1);
        tagged.extend_from_slice(&jpeg[2..]);
        std::fs::write(&path, tagged).unwrap();
        assert_eq!(validate_image(&path).unwrap(), (2, 4));
    }

    #[test]
    fn corrupt_and_missing_files_are_named() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("bad.jpg");
        std::fs::write(&path, b"\xFF\xD8\xFF\xE0 this is not really a jpeg").unwrap();
        let err = load_source(&path, Some(2), (16, 16)).unwrap_err();
        assert!(
            matches!(
                err,
                RenderError::Image {
                    segment: Some(2),
                    ..
                }
            ),
            "{err}"
        );
        let text = dir.path().join("notes.txt");
        std::fs::write(&text, b"hello").unwrap();
        assert_eq!(
            validate_image(&text).unwrap_err().to_string(),
            format!(
                "cannot read image {}: not a picture this renderer reads (use JPEG, PNG or WebP)",
                text.display()
            )
        );
        let missing = dir.path().join("missing.png");
        assert!(matches!(
            validate_image(&missing).unwrap_err(),
            RenderError::MissingFile { segment: None, .. }
        ));
    }
}
