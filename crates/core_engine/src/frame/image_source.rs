//! Segment pictures: decode (JPEG, PNG, WebP), honour EXIF orientation, flatten alpha over
//! black, cover-fit to the output size times the zoom headroom, and convert once to I420
//! planes that the compositor samples every frame.

use std::path::Path;

use fast_image_resize as fr;
use image::{DynamicImage, ImageDecoder, ImageReader, RgbImage};

use crate::frame::ken_burns::fit_rect;

use crate::error::RenderError;

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

/// The largest picture, in pixels, that is accepted anywhere (upload checks and renders):
/// 100 megapixels, about 300 MB once decoded to RGB. Checked from the file's header before
/// anything is decoded, so a small file declaring a huge picture costs nothing.
pub const MAX_IMAGE_PIXELS: u64 = 100_000_000;

/// The most a decoder may allocate: the largest accepted picture in the widest format a
/// decoder produces (16-bit RGBA, 8 bytes a pixel).
const MAX_DECODE_BYTES: u64 = MAX_IMAGE_PIXELS * 8;

/// Decodes `path` fully and strictly (a truncated or damaged file is refused) and returns
/// its size as displayed, i.e. after EXIF orientation.
pub fn validate_image(path: &Path) -> Result<(u32, u32), RenderError> {
    Ok(decode_rgb(path, None, None)?.original)
}

/// Reads only the picture's header: a cheap early check, so a render does not fail on a
/// file that is not a picture at all, or far too big, after encoding everything before it.
pub(crate) fn check_header(path: &Path, segment: Option<usize>) -> Result<(), RenderError> {
    open(path, segment)?.header().map(|_| ())
}

const NOT_A_PICTURE: &str = "not a picture this renderer reads (use JPEG, PNG or WebP)";
const EMPTY_PICTURE: &str = "the picture is empty (0 pixels)";

/// The reason given for a picture larger than [`MAX_IMAGE_PIXELS`].
fn too_big(width: u32, height: u32) -> String {
    format!(
        "the picture is {width}x{height} ({:.1} megapixels); the largest accepted is {} \
         megapixels",
        f64::from(width) * f64::from(height) / 1e6,
        MAX_IMAGE_PIXELS / 1_000_000
    )
}

/// The reason given for a file whose data stops early or does not decode.
fn damaged(detail: impl std::fmt::Display) -> String {
    format!("the picture is damaged or truncated ({detail})")
}

/// Refuses empty pictures and pictures above [`MAX_IMAGE_PIXELS`].
fn check_size(width: u32, height: u32) -> Result<(), String> {
    if width == 0 || height == 0 {
        return Err(EMPTY_PICTURE.into());
    }
    if u64::from(width) * u64::from(height) > MAX_IMAGE_PIXELS {
        return Err(too_big(width, height));
    }
    Ok(())
}

/// The image crate's limits for decoding a picture whose header says `width` x `height`
/// (already checked): the decoder refuses to produce anything bigger or to allocate more
/// than the largest accepted picture needs.
fn decode_limits(width: u32, height: u32) -> image::Limits {
    let mut limits = image::Limits::no_limits();
    limits.max_image_width = Some(width);
    limits.max_image_height = Some(height);
    limits.max_alloc = Some(MAX_DECODE_BYTES);
    limits
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
    let Decoded { rgb, original } = decode_rgb(path, segment, Some(size))?;
    let upscale = (f64::from(size.0) / f64::from(original.0))
        .max(f64::from(size.1) / f64::from(original.1))
        .max(1.0);
    // Convert first and scale the planes: half the bytes of RGB go through the resampler,
    // and the decoded picture is freed before the bigger cover-fitted planes exist.
    let decoded = rgb.dimensions();
    let planes = rgb_to_i420(rgb.as_raw(), decoded.0, decoded.1);
    drop(rgb);
    let [y, u, v] = cover_fit(decoded, planes, size).map_err(|reason| RenderError::Image {
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

/// A picture file whose format is known, not yet decoded.
struct PictureFile<'a> {
    path: &'a Path,
    segment: Option<usize>,
    format: image::ImageFormat,
}

/// Opens `path` and recognises its format from its first bytes.
fn open(path: &Path, segment: Option<usize>) -> Result<PictureFile<'_>, RenderError> {
    if !path.is_file() {
        return Err(RenderError::MissingFile {
            segment,
            path: path.to_path_buf(),
        });
    }
    let error = |reason: String| RenderError::Image {
        segment,
        path: path.to_path_buf(),
        reason,
    };
    let format = ImageReader::open(path)
        .and_then(ImageReader::with_guessed_format)
        .map_err(|e| error(e.to_string()))?
        .format();
    match format {
        Some(
            format
            @ (image::ImageFormat::Jpeg | image::ImageFormat::Png | image::ImageFormat::WebP),
        ) => Ok(PictureFile {
            path,
            segment,
            format,
        }),
        _ => Err(error(NOT_A_PICTURE.into())),
    }
}

impl PictureFile<'_> {
    fn error(&self, reason: String) -> RenderError {
        RenderError::Image {
            segment: self.segment,
            path: self.path.to_path_buf(),
            reason,
        }
    }

    fn read(&self) -> Result<Vec<u8>, RenderError> {
        std::fs::read(self.path).map_err(|e| RenderError::io(self.path, e))
    }

    /// A reader for formats the image crate decodes (PNG, WebP).
    fn reader(&self) -> Result<ImageReader<std::io::BufReader<std::fs::File>>, RenderError> {
        let mut reader = ImageReader::open(self.path).map_err(|e| RenderError::io(self.path, e))?;
        reader.set_format(self.format);
        Ok(reader)
    }

    /// The stored size (before EXIF orientation), checked against [`MAX_IMAGE_PIXELS`].
    fn header(&self) -> Result<(u32, u32), RenderError> {
        let (width, height) = if self.format == image::ImageFormat::Jpeg {
            let bytes = self.read()?;
            let mut decoder = strict_jpeg(&bytes);
            decoder
                .decode_headers()
                .map_err(|e| self.error(damaged(e)))?;
            jpeg_size(&decoder)
        } else {
            let mut reader = self.reader()?;
            reader.limits(image::Limits::no_limits());
            reader
                .into_dimensions()
                .map_err(|e| self.error(image_reason(e)))?
        };
        check_size(width, height).map_err(|reason| self.error(reason))?;
        Ok((width, height))
    }
}

/// zune-jpeg in strict mode: unlike the lenient mode the image crate uses, it refuses a
/// stream that ends before the last block or holds undecodable data, instead of filling
/// the rest of the picture with grey. The size limits are JPEG's own (65535 a side); the
/// pixel limit is checked from the header before decoding.
fn strict_jpeg(bytes: &[u8]) -> zune_jpeg::JpegDecoder<zune_core::bytestream::ZCursor<&[u8]>> {
    let options = zune_core::options::DecoderOptions::default()
        .set_strict_mode(true)
        .set_max_width(usize::from(u16::MAX))
        .set_max_height(usize::from(u16::MAX))
        .jpeg_set_out_colorspace(zune_core::colorspace::ColorSpace::RGB);
    zune_jpeg::JpegDecoder::new_with_options(zune_core::bytestream::ZCursor::new(bytes), options)
}

fn jpeg_size<T: zune_core::bytestream::ZByteReaderTrait>(
    decoder: &zune_jpeg::JpegDecoder<T>,
) -> (u32, u32) {
    let (width, height) = decoder.dimensions().unwrap_or((0, 0));
    // JPEG sizes are 16-bit.
    (width as u32, height as u32)
}

/// True when the JPEG in `bytes` reaches its end-of-image (EOI) marker: its segments are
/// followed one by one and each scan's entropy-coded data is skipped to the marker that ends
/// it. A JPEG cut short anywhere has none; bytes after the EOI (camera trailers) are allowed,
/// and thumbnails inside metadata segments are skipped with their segment.
fn jpeg_has_end_marker(bytes: &[u8]) -> bool {
    const EOI: u8 = 0xD9;
    // Markers without a length: TEM and the restart markers.
    let standalone = |m: u8| m == 0x01 || (0xD0..=0xD7).contains(&m);
    if !bytes.starts_with(&[0xFF, 0xD8]) {
        return false;
    }
    let mut i = 2;
    loop {
        // The next marker: 0xFF (any number of fill bytes) and a code that is neither
        // 0x00 (a stuffed data byte) nor 0xFF. Other bytes are entropy-coded data.
        let Some(ff) = bytes
            .get(i..)
            .and_then(|rest| rest.iter().position(|&b| b == 0xFF))
        else {
            return false;
        };
        i += ff + 1;
        let Some(&code) = bytes.get(i) else {
            return false;
        };
        match code {
            0x00 | 0xFF => continue,
            EOI => return true,
            code if standalone(code) => i += 1,
            // A segment with its length; after a scan header (SOS), the search for the
            // next marker skips the entropy-coded data.
            _ => {
                let Some(length) = bytes.get(i + 1..i + 3) else {
                    return false;
                };
                i += 1 + usize::from(u16::from_be_bytes([length[0], length[1]]));
            }
        }
    }
}

/// Words for an image crate error: decoding failures mean a damaged file.
fn image_reason(err: image::ImageError) -> String {
    match err {
        image::ImageError::Decoding(_) | image::ImageError::IoError(_) => damaged(err),
        other => other.to_string(),
    }
}

/// A decoded picture: 8-bit RGB as displayed, and the size the whole picture has when
/// displayed (more than `rgb`'s when a large JPEG was decoded at a fraction of its size).
struct Decoded {
    rgb: RgbImage,
    original: (u32, u32),
}

/// Decodes to 8-bit RGB, oriented as the camera meant, transparency composited over black.
/// The size is checked from the header first, and the decoder is held to it. With `fit`, a
/// JPEG at least twice that size both ways (as displayed) is decoded at 1/2, 1/4 or 1/8 of
/// its size, the smallest fraction still covering `fit`.
fn decode_rgb(
    path: &Path,
    segment: Option<usize>,
    fit: Option<(u32, u32)>,
) -> Result<Decoded, RenderError> {
    let file = open(path, segment)?;
    let (image, orientation, stored) = if file.format == image::ImageFormat::Jpeg {
        decode_jpeg(&file, fit)?
    } else {
        let (width, height) = file.header()?;
        let mut reader = file.reader()?;
        reader.limits(decode_limits(width, height));
        let mut decoder = reader
            .into_decoder()
            .map_err(|e| file.error(image_reason(e)))?;
        let orientation = decoder.orientation().unwrap_or_else(|e| {
            log::warn!(
                "{}: ignoring unreadable EXIF orientation: {e}",
                path.display()
            );
            image::metadata::Orientation::NoTransforms
        });
        let image = DynamicImage::from_decoder(decoder).map_err(|e| file.error(image_reason(e)))?;
        // Flatten first: orientation then moves 3 bytes per pixel instead of 4 (or 8).
        (flatten(image), orientation, (width, height))
    };
    let mut image = DynamicImage::ImageRgb8(image);
    image.apply_orientation(orientation);
    Ok(Decoded {
        rgb: image.into_rgb8(),
        original: displayed(stored, orientation),
    })
}

/// The size of a `stored` picture once `orientation` is applied.
fn displayed(stored: (u32, u32), orientation: image::metadata::Orientation) -> (u32, u32) {
    use image::metadata::Orientation::*;
    match orientation {
        Rotate90 | Rotate270 | Rotate90FlipH | Rotate270FlipH => (stored.1, stored.0),
        _ => stored,
    }
}

/// The IDCT scale (out of 8: 1, 2 or 4, i.e. 1/8, 1/4, 1/2) at which a JPEG stored at
/// `stored` still covers `fit` both ways once `orientation` is applied; `None` when only
/// its full size does.
fn jpeg_scale(
    stored: (u32, u32),
    orientation: image::metadata::Orientation,
    fit: (u32, u32),
) -> Option<u32> {
    let fit = displayed(fit, orientation); // the same swap maps it back to stored axes
    [1, 2, 4].into_iter().find(|&eighths| {
        let scaled = |len: u32| (len * eighths).div_ceil(8);
        scaled(stored.0) >= fit.0 && scaled(stored.1) >= fit.1
    })
}

/// Decodes a JPEG strictly (see [`strict_jpeg`]) to RGB, with its EXIF orientation.
fn decode_jpeg(
    file: &PictureFile<'_>,
    fit: Option<(u32, u32)>,
) -> Result<(RgbImage, image::metadata::Orientation, (u32, u32)), RenderError> {
    let bytes = file.read()?;
    let mut decoder = strict_jpeg(&bytes);
    decoder
        .decode_headers()
        .map_err(|e| file.error(damaged(e)))?;
    let (width, height) = jpeg_size(&decoder);
    check_size(width, height).map_err(|reason| file.error(reason))?;
    let orientation = decoder
        .exif()
        .and_then(|exif| image::metadata::Orientation::from_exif_chunk(exif))
        .unwrap_or(image::metadata::Orientation::NoTransforms);
    // Three components are YCbCr (or RGB); one is grey. CMYK and YCCK stay with zune-jpeg,
    // whose colour conversion knows them.
    let components = decoder.info().map_or(0, |info| info.components);
    let scale = fit.and_then(|fit| jpeg_scale((width, height), orientation, fit));
    if let (Some(eighths), 1 | 3) = (scale, components) {
        // A whole stream is checked here, its data decoded by jpeg-decoder (which pads a
        // short stream instead of failing) from the file, without the file in memory.
        if !jpeg_has_end_marker(&bytes) {
            return Err(file.error(damaged("the JPEG data stops before its end marker")));
        }
        drop(bytes);
        let image = decode_jpeg_scaled(file, (width, height), eighths)?;
        return Ok((image, orientation, (width, height)));
    }
    let mut rgb = vec![0u8; width as usize * height as usize * 3];
    decoder
        .decode_into(&mut rgb)
        .map_err(|e| file.error(damaged(e)))?;
    // Strict mode misses a stream that stops in the last row of blocks (the rest is decoded
    // from padding); a whole stream always ends with its end-of-image marker.
    if !jpeg_has_end_marker(&bytes) {
        return Err(file.error(damaged("the JPEG data stops before its end marker")));
    }
    let image = RgbImage::from_raw(width, height, rgb)
        .ok_or_else(|| file.error(damaged("the decoded size does not match the header")))?;
    Ok((image, orientation, (width, height)))
}

/// Decodes a JPEG of `stored` size at `eighths`/8 of it, in the IDCT: a 20 MP photo for a
/// 1080p video is never in memory at full size, and most of its IDCT and colour conversion
/// is skipped.
fn decode_jpeg_scaled(
    file: &PictureFile<'_>,
    stored: (u32, u32),
    eighths: u32,
) -> Result<RgbImage, RenderError> {
    let reader = std::fs::File::open(file.path).map_err(|e| RenderError::io(file.path, e))?;
    let mut decoder = jpeg_decoder::Decoder::new(std::io::BufReader::new(reader));
    decoder.set_max_decoding_buffer_size(MAX_DECODE_BYTES as usize);
    let scaled = |len: u32| (len * eighths).div_ceil(8);
    let request = |len: u32| u16::try_from(scaled(len)).unwrap_or(u16::MAX);
    let (width, height) = decoder
        .scale(request(stored.0), request(stored.1))
        .map_err(|e| file.error(damaged(e)))?;
    let pixels = decoder.decode().map_err(|e| file.error(damaged(e)))?;
    let (width, height) = (u32::from(width), u32::from(height));
    let rgb = match decoder.info().map(|info| info.pixel_format) {
        Some(jpeg_decoder::PixelFormat::RGB24) => pixels,
        Some(jpeg_decoder::PixelFormat::L8) => pixels.iter().flat_map(|&l| [l, l, l]).collect(),
        other => {
            return Err(file.error(format!("unexpected JPEG pixel format {other:?}")));
        }
    };
    RgbImage::from_raw(width, height, rgb)
        .ok_or_else(|| file.error(damaged("the decoded size does not match the header")))
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

    /// The demo JPEG cut anywhere in its scan data: the decoder runs out of data before the
    /// last block. (Cut only before its final EOI marker, every block is there: accepted.)
    #[test]
    fn a_truncated_jpeg_is_refused_as_damaged() {
        let dir = tempfile::tempdir().unwrap();
        let demo = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../fixtures/demo/images/01.jpg");
        let bytes = std::fs::read(&demo).unwrap();
        assert_eq!(validate_image(&demo).unwrap(), (1600, 1000));
        let cut = dir.path().join("cut.jpg");
        let scan = bytes.windows(2).position(|w| w == [0xFF, 0xDA]).unwrap();
        for keep in (scan + 20..bytes.len() - 2)
            .step_by(1500)
            .chain([bytes.len() - 3])
        {
            std::fs::write(&cut, &bytes[..keep]).unwrap();
            // The header is intact: the cheap check passes, decoding does not.
            check_header(&cut, Some(1)).unwrap();
            let err = validate_image(&cut).unwrap_err();
            assert!(
                err.to_string()
                    .contains("the picture is damaged or truncated"),
                "{keep}: {err}"
            );
            let err = load_source(&cut, Some(3), (64, 36)).unwrap_err();
            assert!(
                matches!(&err, RenderError::Image { segment: Some(3), reason, .. }
                    if reason.starts_with("the picture is damaged or truncated")),
                "{keep}: {err}"
            );
        }
        // Only the end marker missing: every block is there, but the file was cut all the
        // same. Bytes after the end marker are allowed.
        std::fs::write(&cut, &bytes[..bytes.len() - 2]).unwrap();
        assert!(validate_image(&cut).is_err());
        let mut trailer = bytes.clone();
        trailer.extend_from_slice(b"camera trailer \xFF\xD8");
        std::fs::write(&cut, &trailer).unwrap();
        assert_eq!(validate_image(&cut).unwrap(), (1600, 1000));
    }

    #[test]
    fn the_end_marker_is_found_after_segments_and_scans() {
        // SOI, an APP1 segment holding a thumbnail's own markers, a scan with a stuffed
        // 0xFF00, a restart marker and fill bytes, then EOI.
        let thumbnail_in_app1 = [0xFF, 0xE1, 0x00, 0x06, 0xFF, 0xD8, 0xFF, 0xD9];
        let scan = [
            0xFF, 0xDA, 0x00, 0x03, 0x01, 0x12, 0xFF, 0x00, 0x34, 0xFF, 0xD3, 0x56,
        ];
        let mut jpeg = vec![0xFF, 0xD8];
        jpeg.extend_from_slice(&thumbnail_in_app1);
        jpeg.extend_from_slice(&scan);
        assert!(!jpeg_has_end_marker(&jpeg));
        jpeg.extend_from_slice(&[0xFF, 0xFF, 0xD9]);
        assert!(jpeg_has_end_marker(&jpeg));
        // Cut anywhere before the end marker: none found (the APP1's inner EOI is skipped).
        for keep in 0..jpeg.len() - 1 {
            assert!(!jpeg_has_end_marker(&jpeg[..keep]), "{keep}");
        }
        assert!(!jpeg_has_end_marker(b"\x89PNG"));
    }

    /// A progressive JPEG cut between two scans: every decoded scan is whole, the picture
    /// is not.
    #[test]
    fn a_progressive_jpeg_cut_between_scans_is_refused() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("p.jpg");
        let rgb: Vec<u8> = (0..64 * 48 * 3).map(|i| (i * 7 % 251) as u8).collect();
        let mut jpeg = Vec::new();
        let mut encoder = jpeg_encoder::Encoder::new(&mut jpeg, 90);
        encoder.set_progressive(true);
        encoder
            .encode(&rgb, 64, 48, jpeg_encoder::ColorType::Rgb)
            .unwrap();
        std::fs::write(&path, &jpeg).unwrap();
        assert_eq!(validate_image(&path).unwrap(), (64, 48));
        // The start of the last scan (its SOS marker).
        let last_scan = jpeg.windows(2).rposition(|w| w == [0xFF, 0xDA]).unwrap();
        std::fs::write(&path, &jpeg[..last_scan]).unwrap();
        let err = validate_image(&path).unwrap_err().to_string();
        assert!(err.contains("damaged or truncated"), "{err}");
    }

    #[test]
    fn truncated_png_and_webp_are_refused_as_damaged() {
        let dir = tempfile::tempdir().unwrap();
        let rgba = RgbaImage::from_fn(64, 48, |x, y| Rgba([(x * 4) as u8, (y * 5) as u8, 9, 255]));
        for name in ["a.png", "a.webp"] {
            let path = dir.path().join(name);
            rgba.save(&path).unwrap();
            assert_eq!(validate_image(&path).unwrap(), (64, 48), "{name}");
            let bytes = std::fs::read(&path).unwrap();
            for keep in [bytes.len() / 2, bytes.len() - 10] {
                std::fs::write(&path, &bytes[..keep]).unwrap();
                let err = validate_image(&path).unwrap_err().to_string();
                assert!(err.contains("damaged or truncated"), "{name} {keep}: {err}");
            }
        }
    }

    /// CRC-32 (PNG's, ISO-HDLC) of `bytes`, bit by bit.
    fn crc32(bytes: &[u8]) -> u32 {
        let mut crc = !0u32;
        for &b in bytes {
            crc ^= u32::from(b);
            for _ in 0..8 {
                crc = if crc & 1 == 1 {
                    (crc >> 1) ^ 0xEDB8_8320
                } else {
                    crc >> 1
                };
            }
        }
        !crc
    }

    /// A PNG that declares `width` x `height` RGB pixels, with a tiny (and short) zlib
    /// stream: what an attacker uploads to exhaust memory.
    fn png_declaring(width: u32, height: u32) -> Vec<u8> {
        let mut png = b"\x89PNG\r\n\x1a\n".to_vec();
        let mut chunk = |kind: &[u8], data: &[u8]| {
            png.extend_from_slice(&(data.len() as u32).to_be_bytes());
            let mut body = kind.to_vec();
            body.extend_from_slice(data);
            png.extend_from_slice(&body);
            png.extend_from_slice(&crc32(&body).to_be_bytes());
        };
        let mut ihdr = width.to_be_bytes().to_vec();
        ihdr.extend_from_slice(&height.to_be_bytes());
        ihdr.extend_from_slice(&[8, 2, 0, 0, 0]); // 8-bit RGB, no interlace
        chunk(b"IHDR", &ihdr);
        // A zlib header and one stored block of a few zero bytes.
        chunk(
            b"IDAT",
            &[0x78, 0x01, 0x01, 0x04, 0x00, 0xFB, 0xFF, 0, 0, 0, 0],
        );
        chunk(b"IEND", &[]);
        png
    }

    #[test]
    fn crc32_matches_the_png_reference() {
        // The IEND chunk's CRC, in every PNG file.
        assert_eq!(crc32(b"IEND"), 0xAE42_6082);
    }

    #[test]
    fn oversized_pictures_are_refused_from_their_header() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("huge.png");
        std::fs::write(&path, png_declaring(40_000, 40_000)).unwrap();
        let expected = format!(
            "segment 2: cannot read image {}: the picture is 40000x40000 (1600.0 megapixels); \
             the largest accepted is 100 megapixels",
            path.display()
        );
        assert_eq!(
            check_header(&path, Some(2)).unwrap_err().to_string(),
            expected
        );
        assert_eq!(
            load_source(&path, Some(2), (64, 36))
                .unwrap_err()
                .to_string(),
            expected
        );
        assert!(validate_image(&path)
            .unwrap_err()
            .to_string()
            .contains("the largest accepted is 100 megapixels"));
        // Exactly at the limit the header passes; the picture itself is then damaged.
        std::fs::write(&path, png_declaring(10_000, 10_000)).unwrap();
        check_header(&path, None).unwrap();
        std::fs::write(&path, png_declaring(10_000, 10_001)).unwrap();
        assert!(check_header(&path, None).is_err());
    }

    #[test]
    fn decoders_are_held_to_the_checked_size() {
        let limits = decode_limits(4000, 3000);
        assert_eq!(limits.max_image_width, Some(4000));
        assert_eq!(limits.max_image_height, Some(3000));
        assert_eq!(limits.max_alloc, Some(800_000_000));
        assert_eq!(check_size(10_000, 10_000), Ok(()));
        assert_eq!(check_size(0, 5), Err(EMPTY_PICTURE.to_string()));
        assert_eq!(
            check_size(20_000, 5_001),
            Err(
                "the picture is 20000x5001 (100.0 megapixels); the largest accepted is 100 \
                 megapixels"
                    .to_string()
            )
        );
    }

    #[test]
    fn large_jpegs_are_decoded_at_the_smallest_covering_fraction() {
        use image::metadata::Orientation::*;
        // 5640x3172 for a 2496x1404 source: half size (2820x1586) covers it.
        assert_eq!(
            jpeg_scale((5640, 3172), NoTransforms, (2496, 1404)),
            Some(4)
        );
        // A quarter (1410x793) would not; 1/8 needs 8x.
        assert_eq!(jpeg_scale((5640, 3172), NoTransforms, (1400, 790)), Some(2));
        assert_eq!(
            jpeg_scale((8000, 8000), NoTransforms, (1000, 1000)),
            Some(1)
        );
        // Less than twice the size: only the full size covers it.
        assert_eq!(jpeg_scale((3840, 2400), NoTransforms, (2496, 1404)), None);
        // A portrait photo stored landscape (EXIF "rotate 90"): its stored width covers the
        // video's height.
        assert_eq!(jpeg_scale((6000, 4000), Rotate90, (1404, 2496)), Some(4));
        assert_eq!(jpeg_scale((6000, 4000), Rotate90, (2496, 1404)), None);
        assert_eq!(displayed((6000, 4000), Rotate270), (4000, 6000));
    }

    /// A JPEG decoded at a quarter of its size inside the IDCT gives the same cover-fitted
    /// picture as one decoded whole, to a level or two (both are filtered before sampling).
    #[test]
    fn a_large_jpeg_decoded_at_a_fraction_looks_the_same() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("large.jpg");
        let (w, h) = (1280u32, 960u32);
        let rgb: Vec<u8> = (0..w * h)
            .flat_map(|i| {
                let (x, y) = (f64::from(i % w), f64::from(i / w));
                let wave = ((x / 37.0).sin() * (y / 23.0).cos() * 60.0 + 128.0) as u8;
                [wave, (x / 5.0) as u8, (y / 4.0) as u8]
            })
            .collect();
        image::codecs::jpeg::JpegEncoder::new_with_quality(
            std::fs::File::create(&path).unwrap(),
            95,
        )
        .write_image(&rgb, w, h, image::ExtendedColorType::Rgb8)
        .unwrap();
        let fit = (256, 180);
        assert_eq!(
            jpeg_scale((w, h), image::metadata::Orientation::NoTransforms, fit),
            Some(2)
        );
        let scaled = load_source(&path, None, fit).unwrap();
        assert_eq!(scaled.original, (1280, 960));
        assert_eq!(scaled.upscale, 1.0);
        // The same picture decoded whole, then fitted.
        let whole = decode_rgb(&path, None, None).unwrap().rgb;
        let planes = rgb_to_i420(whole.as_raw(), w, h);
        let [y, ..] = cover_fit((w, h), planes, fit).unwrap();
        let diffs: Vec<u8> = y
            .iter()
            .zip(&scaled.y)
            .map(|(a, b)| a.abs_diff(*b))
            .collect();
        let mean = diffs.iter().map(|&d| f64::from(d)).sum::<f64>() / diffs.len() as f64;
        assert!(mean < 0.5, "mean difference {mean}");
        assert!(
            diffs.iter().all(|&d| d <= 3),
            "max {:?}",
            diffs.iter().max()
        );
        // Cut short, it is refused like any JPEG.
        let bytes = std::fs::read(&path).unwrap();
        std::fs::write(&path, &bytes[..bytes.len() * 2 / 3]).unwrap();
        let err = load_source(&path, Some(4), fit).unwrap_err().to_string();
        assert!(err.contains("damaged or truncated"), "{err}");
    }
}
