//! Segment pictures: decode (JPEG, PNG, WebP), honour EXIF orientation, flatten alpha over
//! black, cover-fit to the output size times the zoom headroom, and convert once to I420
//! planes that the compositor samples every frame.

use std::path::Path;

use fast_image_resize as fr;
use image::{DynamicImage, ImageDecoder, ImageReader, RgbImage};

use crate::ken_burns::fit_rect;

use crate::RenderError;

/// Y, U and V planes, tightly packed.
type Planes = [Vec<u8>; 3];

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

/// Reads only the picture's header: a cheap early check, so a render does not fail on a
/// file that is not a picture at all after encoding everything before it.
pub(crate) fn check_header(path: &Path, segment: Option<usize>) -> Result<(), RenderError> {
    if !path.is_file() {
        return Err(RenderError::MissingFile {
            segment,
            path: path.to_path_buf(),
        });
    }
    let image_error = |reason: String| RenderError::Image {
        segment,
        path: path.to_path_buf(),
        reason,
    };
    let reader = ImageReader::open(path)
        .and_then(ImageReader::with_guessed_format)
        .map_err(|e| image_error(e.to_string()))?;
    if reader.format().is_none() {
        return Err(image_error(NOT_A_PICTURE.into()));
    }
    match reader.into_dimensions() {
        Ok((0, _)) | Ok((_, 0)) => Err(image_error(EMPTY_PICTURE.into())),
        Ok(_) => Ok(()),
        Err(e) => Err(image_error(e.to_string())),
    }
}

const NOT_A_PICTURE: &str = "not a picture this renderer reads (use JPEG, PNG or WebP)";
const EMPTY_PICTURE: &str = "the picture is empty (0 pixels)";

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
    // Convert first and scale the planes: half the bytes of RGB go through the resampler,
    // and the decoded picture is freed before the bigger cover-fitted planes exist.
    let planes = rgb_to_i420(rgb.as_raw(), original.0, original.1);
    drop(rgb);
    let [y, u, v] = cover_fit(original, planes, size).map_err(|reason| RenderError::Image {
        segment,
        path: path.to_path_buf(),
        reason,
    })?;
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
        return Err(image_error(NOT_A_PICTURE.into()));
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
        return Err(image_error(EMPTY_PICTURE.into()));
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

/// Scales I420 planes of a `width` x `height` picture to cover `size` exactly (even
/// numbers), cropping the excess evenly on both sides.
fn cover_fit(
    (width, height): (u32, u32),
    planes: Planes,
    size: (u32, u32),
) -> Result<Planes, String> {
    if (width, height) == size {
        return Ok(planes);
    }
    let [y, u, v] = planes;
    let enlarging = size.0 > width || size.1 > height;
    // Catmull-Rom enlarges without Lanczos' ringing; Lanczos keeps detail when shrinking.
    let filter = if enlarging {
        fr::FilterType::CatmullRom
    } else {
        fr::FilterType::Lanczos3
    };
    let options = fr::ResizeOptions::new().resize_alg(fr::ResizeAlg::Convolution(filter));
    // The crop in luma pixels; chroma planes take the same region at their own scale.
    let crop = fit_rect(
        f64::from(width),
        f64::from(height),
        f64::from(size.0) / f64::from(size.1),
    );
    let chroma = (width.div_ceil(2), height.div_ceil(2));
    let mut resizer = fr::Resizer::new();
    let mut scale = |plane: &[u8], from: (u32, u32), to: (u32, u32)| {
        let (sx, sy) = (
            f64::from(from.0) / f64::from(width),
            f64::from(from.1) / f64::from(height),
        );
        let src = fr::images::ImageRef::new(from.0, from.1, plane, fr::PixelType::U8)
            .map_err(|e| e.to_string())?;
        let mut dst = fr::images::Image::new(to.0, to.1, fr::PixelType::U8);
        let options = options.crop(crop.x * sx, crop.y * sy, crop.w * sx, crop.h * sy);
        resizer
            .resize(&src, &mut dst, &options)
            .map_err(|e| e.to_string())?;
        Ok::<_, String>(dst.into_vec())
    };
    let half = (size.0 / 2, size.1 / 2);
    let y = scale(&y, (width, height), size)?;
    let u = scale(&u, chroma, half)?;
    let v = scale(&v, chroma, half)?;
    Ok([y, u, v])
}

/// BT.709 limited-range RGB to Y'CbCr coefficients, scaled by 2^16:
/// Y = 16 + 0.1826 R + 0.6142 G + 0.0620 B, Cb and Cr centred on 128.
pub(crate) mod bt709 {
    pub const Y_R: i32 = 11_966;
    pub const Y_G: i32 = 40_254;
    pub const Y_B: i32 = 4_064;
    pub const U_R: i32 = -6_596;
    pub const U_G: i32 = -22_189;
    pub const U_B: i32 = 28_785;
    pub const V_R: i32 = 28_785;
    pub const V_G: i32 = -26_145;
    pub const V_B: i32 = -2_640;
    /// One half, for rounding after the 16-bit shift.
    pub const HALF: i32 = 1 << 15;
}

/// BT.709 limited-range RGB to I420 (chroma = average of each 2x2 block; odd edges repeat
/// their last row or column). Chroma planes are `ceil(width / 2)` x `ceil(height / 2)`.
pub(crate) fn rgb_to_i420(rgb: &[u8], width: u32, height: u32) -> Planes {
    use bt709::*;
    let (w, h) = (width as usize, height as usize);
    let (cw, ch) = (w.div_ceil(2), h.div_ceil(2));
    let mut y = vec![0u8; w * h];
    let mut u = vec![0u8; cw * ch];
    let mut v = vec![0u8; cw * ch];
    for (row, (line, out)) in rgb
        .chunks_exact(w * 3)
        .zip(y.chunks_exact_mut(w))
        .enumerate()
    {
        for (px, luma) in line.chunks_exact(3).zip(out.iter_mut()) {
            let (r, g, b) = (i32::from(px[0]), i32::from(px[1]), i32::from(px[2]));
            *luma = (((Y_R * r + Y_G * g + Y_B * b + HALF) >> 16) + 16) as u8;
        }
        if row % 2 == 1 || row + 1 == h {
            let top = &rgb[(row & !1) * w * 3..][..w * 3];
            let chroma_row = row / 2;
            for col in 0..cw {
                let (left, right) = (2 * col * 3, (2 * col + 1).min(w - 1) * 3);
                let (mut rs, mut gs, mut bs) = (0, 0, 0);
                for i in [left, right] {
                    for source in [top, line] {
                        rs += i32::from(source[i]);
                        gs += i32::from(source[i + 1]);
                        bs += i32::from(source[i + 2]);
                    }
                }
                // Sums of four pixels: shift two more bits.
                let chroma = |cr: i32, cg: i32, cb: i32| {
                    (((cr * rs + cg * gs + cb * bs + (HALF << 2)) >> 18) + 128).clamp(0, 255) as u8
                };
                u[chroma_row * cw + col] = chroma(U_R, U_G, U_B);
                v[chroma_row * cw + col] = chroma(V_R, V_G, V_B);
            }
        }
    }
    [y, u, v]
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
            let [y, u, v] = rgb_to_i420(&rgb, 2, 2);
            (y[0], u[0], v[0])
        };
        assert_eq!(px(0, 0, 0), (16, 128, 128));
        assert_eq!(px(255, 255, 255), (235, 128, 128));
        assert_eq!(px(255, 0, 0), (63, 102, 240));
        assert_eq!(px(0, 0, 255), (32, 240, 118));
    }

    #[test]
    fn odd_sizes_repeat_their_last_row_and_column() {
        // 3x1: a red pair and a lone blue pixel.
        let rgb = [255, 0, 0, 255, 0, 0, 0, 0, 255];
        let [y, u, v] = rgb_to_i420(&rgb, 3, 1);
        assert_eq!(y, vec![63, 63, 32]);
        assert_eq!((u, v), (vec![102, 240], vec![240, 118]));
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
        assert!(matches!(
            check_header(&text, Some(5)).unwrap_err(),
            RenderError::Image {
                segment: Some(5),
                ..
            }
        ));
        let missing = dir.path().join("missing.png");
        assert!(matches!(
            validate_image(&missing).unwrap_err(),
            RenderError::MissingFile { segment: None, .. }
        ));
    }
}
