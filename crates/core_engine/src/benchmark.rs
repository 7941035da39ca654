//! Support for `storyflow bench`: two deterministic projects (synthetic noise-rich pictures,
//! and real photographs from a Debian package), the encoder-only time that a render is
//! compared with, and [`decoded_digest`], which tells whether two videos decode to the same
//! pictures and sound.

use std::f64::consts::PI;
use std::io::Write;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};
use std::time::Instant;

use gstreamer as gst;
use gstreamer::prelude::*;
use gstreamer_app as gst_app;
use gstreamer_video as gst_video;
use gstreamer_video::prelude::*;
use sha2::{Digest, Sha256};

use crate::chunks::pipeline::configure_x264;
use crate::error::RenderError;
use crate::frame::logo::{LogoPosition, LogoSpec};
use crate::plan::chunk_plan::hex;
use crate::plan::spec::RenderSpec;
use crate::plan::spec::SegmentSpec;
use crate::sound::audio::wav_bytes;

/// Writes `segments` photo-like JPEG pictures of `picture_size` (with smooth structure,
/// edges and grain, so the encoder works as hard as on real photos), speech-like 24 kHz
/// narrations of `seconds` each and a semi-transparent `logo.png` into `dir`; returns the
/// default spec rendering them (crossfades and subtitles on) with that logo. Each segment's
/// text has sentences of about 2.5 words per second of narration, like real speech. The same
/// arguments always produce the same files.
pub fn write_synthetic_project(
    dir: &Path,
    segments: usize,
    seconds: f64,
    picture_size: (u32, u32),
) -> Result<RenderSpec, RenderError> {
    let mut specs = Vec::with_capacity(segments);
    for i in 0..segments {
        let image = dir.join(format!("{:03}.jpg", i + 1));
        let audio = dir.join(format!("{:03}.wav", i + 1));
        let mut rng = Rng::new(0x5EED_0000 + i as u64);
        write_photo(&image, picture_size.0, picture_size.1, &mut rng)?;
        write_speech(&audio, seconds, &mut rng)?;
        let text = narration_text(seconds, &mut rng);
        specs.push(SegmentSpec::new(i, image, audio, text));
    }
    with_logo(dir, specs)
}

/// Where the Debian package `mate-backgrounds` (GPL-2+, photographs by several authors; see
/// `/usr/share/doc/mate-backgrounds/copyright`) installs its pictures. `scripts/bench-setup.sh`
/// installs it.
pub const PHOTO_DIR: &str = "/usr/share/backgrounds/mate";

/// The photographs of the real-picture project, from [`PHOTO_DIR`], and how each is stored
/// for the render: a variety like users upload.
const PHOTOS: [(&str, PhotoFormat); 5] = [
    // 1920x1280 baseline JPEG.
    ("nature/Storm.jpg", PhotoFormat::AsIs),
    // 1680x1050: smaller than the 2496x1404 the camera needs at 1080p, so enlarged.
    ("nature/Dune.jpg", PhotoFormat::AsIs),
    // 2560x1920, re-encoded as a CMYK JPEG (as print workflows and some phones save).
    ("nature/Wood.jpg", PhotoFormat::CmykJpeg),
    // 1920x1200, re-encoded as a (lossless) WebP.
    ("nature/RainDrops.jpg", PhotoFormat::WebP),
    // 5640x3172 (17.9 MP) progressive JPEG: a large photo.
    ("abstract/Elephants_5640x3172.jpg", PhotoFormat::AsIs),
];

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum PhotoFormat {
    AsIs,
    CmykJpeg,
    WebP,
}

/// Writes a project of `segments` segments of real photographs from `photo_dir` (see
/// [`PHOTO_DIR`]) into `dir`: five pictures of different sizes and formats (baseline, CMYK
/// and 17.9 MP progressive JPEG, WebP), shown in turn (the sixth segment shows the first
/// again), speech-like narrations of `seconds` with subtitle text, and the logo; returns the
/// default spec rendering them. The same photos always give the same files.
pub fn write_photo_project(
    dir: &Path,
    photo_dir: &Path,
    segments: usize,
    seconds: f64,
) -> Result<RenderSpec, RenderError> {
    let mut images = Vec::with_capacity(PHOTOS.len());
    for (i, (name, format)) in PHOTOS.iter().enumerate().take(segments) {
        let photo = photo_dir.join(name);
        if !photo.is_file() {
            return Err(RenderError::MissingFile {
                segment: Some(i + 1),
                path: photo,
            });
        }
        let image = match format {
            PhotoFormat::AsIs => {
                let copy = dir.join(format!("{:03}.jpg", i + 1));
                std::fs::copy(&photo, &copy).map_err(|e| RenderError::io(&copy, e))?;
                copy
            }
            PhotoFormat::CmykJpeg => {
                let out = dir.join(format!("{:03}-cmyk.jpg", i + 1));
                write_cmyk_jpeg(&photo, &out)?;
                out
            }
            PhotoFormat::WebP => {
                let out = dir.join(format!("{:03}.webp", i + 1));
                write_webp(&photo, &out)?;
                out
            }
        };
        images.push(image);
    }
    let mut specs = Vec::with_capacity(segments);
    for (i, image) in images.iter().cycle().take(segments).enumerate() {
        let audio = dir.join(format!("{:03}.wav", i + 1));
        let mut rng = Rng::new(0xF070_0000 + i as u64);
        write_speech(&audio, seconds, &mut rng)?;
        let text = narration_text(seconds, &mut rng);
        specs.push(SegmentSpec::new(i, image, audio, text));
    }
    with_logo(dir, specs)
}

/// Writes `picture` mirrored left to right into the JPEG `out`: a changed picture of the
/// same size and kind, whose content no render has shown yet.
pub fn write_mirrored_picture(picture: &Path, out: &Path) -> Result<(), RenderError> {
    let mirrored = image::imageops::flip_horizontal(&read_rgb(picture)?);
    let file = std::fs::File::create(out).map_err(|e| RenderError::io(out, e))?;
    image::codecs::jpeg::JpegEncoder::new_with_quality(std::io::BufWriter::new(file), 90)
        .encode_image(&mirrored)
        .map_err(|e| image_error(out, e))
}

fn image_error(path: &Path, reason: impl ToString) -> RenderError {
    RenderError::Image {
        segment: None,
        path: path.to_path_buf(),
        reason: reason.to_string(),
    }
}

fn read_rgb(path: &Path) -> Result<image::RgbImage, RenderError> {
    image::open(path)
        .map(|picture| picture.into_rgb8())
        .map_err(|e| image_error(path, e))
}

/// Re-encodes `photo` as a 4-component (CMYK, Adobe) JPEG at quality 90, with the naive
/// conversion K = 1 - max(R, G, B), C = (1 - R - K) / (1 - K), ...
fn write_cmyk_jpeg(photo: &Path, out: &Path) -> Result<(), RenderError> {
    let rgb = read_rgb(photo)?;
    let (width, height) = rgb.dimensions();
    let mut cmyk = Vec::with_capacity(rgb.len() / 3 * 4);
    for px in rgb.as_raw().chunks_exact(3) {
        let max = px.iter().copied().max().unwrap_or(0);
        let ink = |c: u8| match max {
            0 => 0,
            max => ((u32::from(max) - u32::from(c)) * 255 / u32::from(max)) as u8,
        };
        cmyk.extend_from_slice(&[ink(px[0]), ink(px[1]), ink(px[2]), 255 - max]);
    }
    let (width, height) = (
        u16::try_from(width).map_err(|e| image_error(photo, e))?,
        u16::try_from(height).map_err(|e| image_error(photo, e))?,
    );
    jpeg_encoder::Encoder::new_file(out, 90)
        .and_then(|encoder| encoder.encode(&cmyk, width, height, jpeg_encoder::ColorType::Cmyk))
        .map_err(|e| image_error(out, e))
}

/// Re-encodes `photo` as a lossless WebP (the encoder the image crate has).
fn write_webp(photo: &Path, out: &Path) -> Result<(), RenderError> {
    let rgb = read_rgb(photo)?;
    let file = std::fs::File::create(out).map_err(|e| RenderError::io(out, e))?;
    image::codecs::webp::WebPEncoder::new_lossless(std::io::BufWriter::new(file))
        .encode(
            rgb.as_raw(),
            rgb.width(),
            rgb.height(),
            image::ExtendedColorType::Rgb8,
        )
        .map_err(|e| image_error(out, e))
}

/// The benchmark's logo settings: 15 % of the width, bottom right, 80 % opaque.
/// The project of `segments`, with the bench's logo written into `dir`.
fn with_logo(dir: &Path, segments: Vec<SegmentSpec>) -> Result<RenderSpec, RenderError> {
    let logo = dir.join("logo.png");
    write_logo(&logo)?;
    Ok(RenderSpec {
        logo: Some(bench_logo(logo)),
        ..RenderSpec::new(segments)
    })
}

fn bench_logo(path: PathBuf) -> LogoSpec {
    LogoSpec {
        path,
        scale: 0.15,
        position: LogoPosition::BottomRight,
        opacity: 0.8,
        margin: 20,
    }
}

/// Sentences of 3–11 words, some with a comma, about 2.5 words per second.
fn narration_text(seconds: f64, rng: &mut Rng) -> String {
    const WORDS: [&str; 24] = [
        "the",
        "river",
        "carried",
        "old",
        "stories",
        "through",
        "quiet",
        "valleys",
        "where",
        "lanterns",
        "glowed",
        "beside",
        "forgotten",
        "bridges",
        "and",
        "travellers",
        "listened",
        "closely",
        "to",
        "every",
        "sound",
        "of",
        "distant",
        "bells",
    ];
    let total = ((seconds * 2.5).round() as usize).max(1);
    let mut words = Vec::with_capacity(total);
    while words.len() < total {
        let sentence = (rng.range(3.0, 12.0) as usize).min(total - words.len());
        let comma = rng.range(0.0, 1.0) < 0.4;
        for k in 0..sentence {
            let mut word = WORDS[rng.range(0.0, WORDS.len() as f64) as usize].to_string();
            if k == 0 {
                word[..1].make_ascii_uppercase();
            }
            if k + 1 == sentence {
                word.push('.');
            } else if comma && k == sentence / 2 {
                word.push(',');
            }
            words.push(word);
        }
    }
    words.join(" ")
}

/// A 400x160 badge: an opaque rounded bar with a soft-edged disc, on transparency.
fn write_logo(path: &Path) -> Result<(), RenderError> {
    let (width, height) = (400u32, 160u32);
    let logo = image::RgbaImage::from_fn(width, height, |x, y| {
        let (fx, fy) = (f64::from(x), f64::from(y));
        let disc = ((fx - 80.0).powi(2) + (fy - 80.0).powi(2)).sqrt();
        let coverage = (70.0 - disc).clamp(0.0, 1.0);
        if coverage > 0.0 {
            return image::Rgba([240, 180, 40, (coverage * 255.0) as u8]);
        }
        if (150.0..390.0).contains(&fx) && (50.0..110.0).contains(&fy) {
            return image::Rgba([250, 250, 250, 220]);
        }
        image::Rgba([0, 0, 0, 0])
    });
    logo.save(path).map_err(|e| image_error(path, e))
}

/// xorshift64*: tiny, seedable, good enough for pictures and noise.
struct Rng(u64);

impl Rng {
    fn new(seed: u64) -> Self {
        Self(seed.wrapping_mul(0x9E37_79B9_7F4A_7C15) | 1)
    }

    fn next_u64(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_F491_4F6C_DD1D)
    }

    /// Uniform in [0, 1).
    fn unit(&mut self) -> f64 {
        (self.next_u64() >> 11) as f64 / (1u64 << 53) as f64
    }

    fn range(&mut self, low: f64, high: f64) -> f64 {
        low + (high - low) * self.unit()
    }
}

/// Value noise: random values on a lattice, smoothly interpolated.
struct Lattice {
    spacing: f64,
    columns: usize,
    values: Vec<f64>,
}

impl Lattice {
    fn new(width: u32, height: u32, spacing: f64, rng: &mut Rng) -> Self {
        let columns = (f64::from(width) / spacing) as usize + 2;
        let rows = (f64::from(height) / spacing) as usize + 2;
        let values = (0..columns * rows).map(|_| rng.unit()).collect();
        Self {
            spacing,
            columns,
            values,
        }
    }

    fn at(&self, x: f64, y: f64) -> f64 {
        let (gx, gy) = (x / self.spacing, y / self.spacing);
        let (cx, cy) = (gx.floor(), gy.floor());
        let smooth = |t: f64| t * t * (3.0 - 2.0 * t);
        let (tx, ty) = (smooth(gx - cx), smooth(gy - cy));
        let (i, j) = (cx as usize, cy as usize);
        let v = |a: usize, b: usize| self.values[b * self.columns + a];
        let top = v(i, j) + (v(i + 1, j) - v(i, j)) * tx;
        let bottom = v(i, j + 1) + (v(i + 1, j + 1) - v(i, j + 1)) * tx;
        top + (bottom - top) * ty
    }
}

fn write_photo(path: &Path, width: u32, height: u32, rng: &mut Rng) -> Result<(), RenderError> {
    let octaves: Vec<(Lattice, f64)> = [(240.0, 0.5), (60.0, 0.25), (15.0, 0.15), (4.0, 0.1)]
        .into_iter()
        .map(|(spacing, weight)| (Lattice::new(width, height, spacing, rng), weight))
        .collect();
    let mut colour = || {
        [
            rng.range(20.0, 235.0),
            rng.range(20.0, 235.0),
            rng.range(20.0, 235.0),
        ]
    };
    let (sky, ground) = (colour(), colour());
    let discs: Vec<(f64, f64, f64, [f64; 3])> = (0..14)
        .map(|_| {
            let c = [
                rng.range(0.0, 255.0),
                rng.range(0.0, 255.0),
                rng.range(0.0, 255.0),
            ];
            let x = rng.range(0.0, f64::from(width));
            let y = rng.range(0.0, f64::from(height));
            (x, y, rng.range(30.0, 220.0), c)
        })
        .collect();
    let horizon = rng.range(0.4, 0.7) * f64::from(height);
    let mut pixels = Vec::with_capacity(width as usize * height as usize * 3);
    for y in 0..height {
        let fy = f64::from(y);
        for x in 0..width {
            let fx = f64::from(x);
            let texture: f64 = octaves.iter().map(|(l, w)| l.at(fx, fy) * w).sum();
            let ridge = horizon + 80.0 * octaves[0].0.at(fx, 0.0) - 40.0;
            let base = if fy < ridge { sky } else { ground };
            let mut px = base.map(|c| c * (0.55 + 0.9 * texture));
            for (dx, dy, r, c) in &discs {
                let d = ((fx - dx).powi(2) + (fy - dy).powi(2)).sqrt();
                // Soft 2-pixel edge: real photos have no aliased outlines.
                let cover = ((r - d) / 2.0).clamp(0.0, 1.0) * 0.8;
                if cover > 0.0 {
                    for k in 0..3 {
                        px[k] += (c[k] * (0.7 + 0.6 * texture) - px[k]) * cover;
                    }
                }
            }
            let grain = rng.range(-6.0, 6.0);
            pixels.extend(px.map(|c| (c + grain).clamp(0.0, 255.0) as u8));
        }
    }
    let file = std::fs::File::create(path).map_err(|e| RenderError::io(path, e))?;
    image::codecs::jpeg::JpegEncoder::new_with_quality(std::io::BufWriter::new(file), 90)
        .encode(&pixels, width, height, image::ExtendedColorType::Rgb8)
        .map_err(|e| image_error(path, e))
}

/// Syllable-like voiced bursts (a few harmonics with a gliding pitch) and short noisy
/// consonants, separated by pauses: 16-bit mono WAV at 24 kHz, like TTS output.
fn write_speech(path: &Path, seconds: f64, rng: &mut Rng) -> Result<(), RenderError> {
    const RATE: u32 = 24_000;
    let total = (seconds * f64::from(RATE)).round() as usize;
    let mut samples = Vec::with_capacity(total);
    while samples.len() < total {
        let voiced = (rng.range(0.12, 0.3) * f64::from(RATE)) as usize;
        let (f0, glide) = (rng.range(95.0, 210.0), rng.range(-40.0, 40.0));
        let mut phase = 0.0;
        for n in 0..voiced {
            let t = n as f64 / voiced as f64;
            phase += 2.0 * PI * (f0 + glide * t) / f64::from(RATE);
            let envelope = (PI * t).sin();
            let tone: f64 = (1..=5)
                .map(|h| (phase * f64::from(h)).sin() / f64::from(h))
                .sum();
            samples.push(0.35 * envelope * tone);
        }
        let consonant = (rng.range(0.02, 0.08) * f64::from(RATE)) as usize;
        for n in 0..consonant {
            let envelope = (PI * n as f64 / consonant as f64).sin();
            samples.push(0.12 * envelope * rng.range(-1.0, 1.0));
        }
        let pause = (rng.range(0.04, 0.16) * f64::from(RATE)) as usize;
        samples.extend(std::iter::repeat_n(0.0, pause));
    }
    samples.truncate(total);
    let pcm: Vec<i16> = samples
        .iter()
        .map(|s| (s.clamp(-1.0, 1.0) * 32_000.0) as i16)
        .collect();
    let out = wav_bytes(RATE, &pcm);
    std::fs::File::create(path)
        .and_then(|mut f| f.write_all(&out))
        .map_err(|e| RenderError::io(path, e))
}

/// Writes `seconds` of music-like sound into the WAV `path`: a slow progression of chords
/// with a soft pulse, 16-bit mono at 44.1 kHz (resampled when decoded, as most music files
/// are). The same arguments always produce the same file.
pub fn write_music(path: &Path, seconds: f64) -> Result<(), RenderError> {
    const RATE: u32 = 44_100;
    // A minor, F, C, G (root, third, fifth in Hz), two seconds each.
    const CHORDS: [[f64; 3]; 4] = [
        [220.0, 261.63, 329.63],
        [174.61, 220.0, 261.63],
        [261.63, 329.63, 392.0],
        [196.0, 246.94, 293.66],
    ];
    let total = (seconds * f64::from(RATE)).round() as usize;
    let pcm: Vec<i16> = (0..total)
        .map(|n| {
            let t = n as f64 / f64::from(RATE);
            let chord = CHORDS[(t / 2.0) as usize % CHORDS.len()];
            let pulse = 0.6 + 0.4 * (2.0 * PI * 2.0 * t).cos().max(0.0);
            let tone: f64 = chord
                .iter()
                .flat_map(|&f| [(f, 1.0), (f * 2.0, 0.3)])
                .map(|(f, level)| level * (2.0 * PI * f * t).sin())
                .sum();
            (0.15 * pulse * tone * 32_000.0) as i16
        })
        .collect();
    std::fs::write(path, wav_bytes(RATE, &pcm)).map_err(|e| RenderError::io(path, e))
}

/// A project for the sound pass alone ([`crate::render_sound`]): `segments` speech-like
/// narrations of `seconds` (eight different files, repeated in turn) under `music_seconds` of
/// [`write_music`] (looped), written into `dir`, with the default loudness target. It names
/// pictures it does not write: the sound pass draws none.
pub fn write_sound_project(
    dir: &Path,
    segments: usize,
    seconds: f64,
    music_seconds: f64,
) -> Result<RenderSpec, RenderError> {
    const DISTINCT: usize = 8;
    let mut narrations = Vec::with_capacity(DISTINCT);
    for i in 0..DISTINCT.min(segments) {
        let audio = dir.join(format!("{:03}.wav", i + 1));
        write_speech(&audio, seconds, &mut Rng::new(0x50D0_0000 + i as u64))?;
        narrations.push(audio);
    }
    let music = dir.join("music.wav");
    write_music(&music, music_seconds)?;
    let segments = narrations
        .iter()
        .cycle()
        .take(segments)
        .enumerate()
        .map(|(i, audio)| SegmentSpec::new(i, dir.join("unused.jpg"), audio, ""))
        .collect();
    let mut spec = RenderSpec::new(segments);
    spec.sound.music = Some(crate::plan::spec::MusicSpec::new(music));
    Ok(spec)
}

/// What x264 alone is timed on.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum EncoderInput {
    /// The render's frames decoded to a raw I420 file: only `raw file ! x264enc` is timed.
    Raw(PathBuf),
    /// Too many frames for a scratch file: `decode ! x264enc` is timed, which includes the
    /// H.264 decoding cost and so flatters the render a little.
    Video(PathBuf),
}

/// Largest raw scratch file the pre-decoded baseline may write.
const RAW_LIMIT_BYTES: u64 = 6 << 30;

/// Prepares the input of [`encoder_only_seconds`] for `video` (an MP4 from [`crate::render`]
/// of `frames` frames of `spec`): its frames decoded (untimed) to `scratch_dir/frames.i420`,
/// or the video itself when that file would be too big. The caller removes the raw file.
pub fn encoder_only_input(
    video: &Path,
    spec: &RenderSpec,
    frames: u64,
    scratch_dir: &Path,
) -> Result<EncoderInput, RenderError> {
    crate::chunks::pipeline::init()?;
    let frame_bytes = u64::from(spec.width) * u64::from(spec.height) * 3 / 2;
    if frames * frame_bytes > RAW_LIMIT_BYTES {
        return Ok(EncoderInput::Video(video.to_path_buf()));
    }
    let raw = scratch_dir.join("frames.i420");
    let decode = launch(
        "filesrc name=src ! qtdemux ! h264parse ! avdec_h264 ! videoconvert ! \
         video/x-raw,format=I420 ! filesink name=sink",
    )?;
    set(&decode, "src", "location", video)?;
    set(&decode, "sink", "location", &raw)?;
    run_timed(&decode)?;
    Ok(EncoderInput::Raw(raw))
}

/// Seconds x264 alone needs to encode `input`'s frames with `spec`'s encoder settings, into
/// a `fakesink`. `storyflow bench` runs it in a process of its own, so that process's peak
/// memory is x264's alone.
pub fn encoder_only_seconds(input: &EncoderInput, spec: &RenderSpec) -> Result<f64, RenderError> {
    crate::chunks::pipeline::init()?;
    let pipeline = match input {
        EncoderInput::Video(video) => {
            let pipeline = launch(
                "filesrc name=src ! qtdemux ! h264parse ! avdec_h264 ! x264enc name=enc ! \
                 fakesink sync=false",
            )?;
            set(&pipeline, "src", "location", video)?;
            pipeline
        }
        EncoderInput::Raw(raw) => {
            let pipeline = launch(
                "filesrc name=src ! rawvideoparse name=parse ! x264enc name=enc ! \
                 fakesink sync=false",
            )?;
            set(&pipeline, "src", "location", raw)?;
            let frame_bytes = u64::from(spec.width) * u64::from(spec.height) * 3 / 2;
            by_name(&pipeline, "src")?.set_property("blocksize", frame_bytes as u32);
            let parse = by_name(&pipeline, "parse")?;
            parse.set_property("width", spec.width as i32);
            parse.set_property("height", spec.height as i32);
            parse.set_property_from_str("format", "i420");
            parse.set_property("framerate", gst::Fraction::new(spec.fps as i32, 1));
            pipeline
        }
    };
    configure_x264(&by_name(&pipeline, "enc")?, spec);
    run_timed(&pipeline)
}

/// Seconds libx264 alone, called directly as the chunk encoders call it but with its own
/// threads, threaded lookahead and CPU functions (x264's defaults), needs to encode the raw I420 frames of
/// `raw` with `spec`'s encoder settings; the frames are read from the file as they are
/// encoded (from the page cache, like the x264enc run's `filesrc`).
pub fn libx264_only_seconds(raw: &Path, spec: &RenderSpec) -> Result<f64, RenderError> {
    use std::io::Read;

    use crate::chunks::x264::{Planes, X264Settings, X264};

    let settings = X264Settings {
        threads: 0,
        avx512: true,
        ..crate::chunks::pipeline::x264_chunk_settings(spec)
    };
    crate::chunks::pipeline::init()?;
    let info = crate::chunks::pipeline::frame_info(spec)?;
    let mut file =
        std::io::BufReader::new(std::fs::File::open(raw).map_err(|e| RenderError::io(raw, e))?);
    let mut frame = vec![0u8; info.size()];
    let started = Instant::now();
    let mut x264 = X264::open(&settings)?;
    let mut pts = 0;
    loop {
        match file.read_exact(&mut frame) {
            Ok(()) => {}
            Err(e) if e.kind() == std::io::ErrorKind::UnexpectedEof => break,
            Err(e) => return Err(RenderError::io(raw, e)),
        }
        x264.encode(Planes::i420(&frame, &info), pts)?;
        pts += 1;
    }
    while x264.drain()?.is_some() {}
    Ok(started.elapsed().as_secs_f64())
}

/// What a video file decodes to, in digests: equal digests mean the same frames in the same
/// order and the same sound, whatever the bitstreams.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct MediaDigest {
    /// The SHA-256 (hex) of each decoded frame's visible I420 pixels, in playing order.
    pub frames: Vec<String>,
    /// The SHA-256 (hex) of all decoded sound as interleaved 32-bit float samples; `None`
    /// when the file has no audio.
    pub audio: Option<String>,
}

impl MediaDigest {
    /// How `other` differs from this one, in words; `None` when they are equal.
    pub fn difference(&self, other: &MediaDigest) -> Option<String> {
        let (ours, theirs) = (self.frames.len(), other.frames.len());
        if ours != theirs {
            return Some(format!("{ours} frames against {theirs}"));
        }
        let differing: Vec<usize> = (0..ours)
            .filter(|&i| self.frames[i] != other.frames[i])
            .collect();
        if let Some(first) = differing.first() {
            return Some(format!(
                "{} of {ours} frames differ, the first is frame {first}",
                differing.len()
            ));
        }
        (self.audio != other.audio).then(|| "the sound differs".to_string())
    }
}

/// Decodes the whole of `path` (`uridecodebin`) and digests every video frame (as I420) and
/// the sound (as interleaved F32, undithered). Streams beyond the first video and the first
/// audio one are decoded and ignored.
pub fn decoded_digest(path: &Path) -> Result<MediaDigest, RenderError> {
    crate::chunks::pipeline::init()?;
    if !path.is_file() {
        return Err(RenderError::MissingFile {
            segment: None,
            path: path.to_path_buf(),
        });
    }
    let uri =
        crate::chunks::pipeline::file_uri(path).map_err(|e| RenderError::pipeline("digest", e))?;
    let source = gst::ElementFactory::make("uridecodebin")
        .property("uri", uri.as_str())
        .build()
        .map_err(|_| crate::chunks::pipeline::missing("uridecodebin"))?;
    let pipeline = gst::Pipeline::new();
    pipeline
        .add(&source)
        .map_err(|e| RenderError::pipeline("digest", e.to_string()))?;
    let decoded = Arc::new(Mutex::new(Decoded::default()));
    let weak_pipeline = pipeline.downgrade();
    let shared = decoded.clone();
    source.connect_pad_added(move |_, pad| {
        let Some(pipeline) = weak_pipeline.upgrade() else {
            return;
        };
        if let Err(err) = add_digest_branch(&pipeline, pad, &shared) {
            // The pad stays unlinked, which fails the decode with GStreamer's own error.
            log::warn!("cannot digest {}: {err}", pad.name());
        }
    });
    // Plays to the end; the pipeline is stopped on every way out.
    run_timed(&pipeline)?;
    let mut decoded = decoded
        .lock()
        .unwrap_or_else(|poisoned| poisoned.into_inner());
    Ok(MediaDigest {
        frames: std::mem::take(&mut decoded.frames),
        audio: decoded.audio.take().map(|hasher| hex(&hasher.finalize())),
    })
}

/// The digests gathered while decoding, filled from the streaming threads.
#[derive(Default)]
struct Decoded {
    frames: Vec<String>,
    audio: Option<Sha256>,
}

const VIDEO_DIGEST: &str = "video-digest";
const AUDIO_DIGEST: &str = "audio-digest";

/// Links a new decoded stream of `uridecodebin` to `convert ! appsink` filling `decoded`
/// (the first video and the first audio stream), or to a `fakesink`.
fn add_digest_branch(
    pipeline: &gst::Pipeline,
    pad: &gst::Pad,
    decoded: &Arc<Mutex<Decoded>>,
) -> Result<(), RenderError> {
    let make = |factory: &str| {
        gst::ElementFactory::make(factory)
            .build()
            .map_err(|_| crate::chunks::pipeline::missing(factory))
    };
    let caps = pad.current_caps().unwrap_or_else(|| pad.query_caps(None));
    let media = caps
        .structure(0)
        .map(|s| s.name().to_string())
        .unwrap_or_default();
    let kind = if media.starts_with("video/") {
        VIDEO_DIGEST
    } else if media.starts_with("audio/") {
        AUDIO_DIGEST
    } else {
        ""
    };
    let link_error = |e: gst::glib::BoolError| RenderError::pipeline("digest", e.to_string());
    let mut branch = Vec::new();
    if kind.is_empty() || pipeline.by_name(kind).is_some() {
        let sink = make("fakesink")?;
        sink.set_property("sync", false);
        branch.push(sink);
    } else {
        let (convert, caps) = if kind == VIDEO_DIGEST {
            let caps = gst::Caps::builder("video/x-raw")
                .field("format", "I420")
                .build();
            (make("videoconvert")?, caps)
        } else {
            let convert = make("audioconvert")?;
            // Dithering adds random noise when it rounds: none, so equal sound digests equal.
            convert.set_property_from_str("dithering", "none");
            let caps = gst::Caps::builder("audio/x-raw")
                .field("format", "F32LE")
                .field("layout", "interleaved")
                .build();
            (convert, caps)
        };
        let sink = gst_app::AppSink::builder()
            .name(kind)
            .caps(&caps)
            .sync(false)
            .build();
        let shared = decoded.clone();
        let is_video = kind == VIDEO_DIGEST;
        sink.set_callbacks(
            gst_app::AppSinkCallbacks::builder()
                .new_sample(move |sink| {
                    let sample = sink.pull_sample().map_err(|_| gst::FlowError::Eos)?;
                    let mut decoded = shared.lock().map_err(|_| gst::FlowError::Error)?;
                    if is_video {
                        let digest = frame_digest(&sample).ok_or(gst::FlowError::Error)?;
                        decoded.frames.push(digest);
                    } else {
                        let buffer = sample.buffer().ok_or(gst::FlowError::Error)?;
                        let map = buffer.map_readable().map_err(|_| gst::FlowError::Error)?;
                        decoded.audio.get_or_insert_with(Sha256::new).update(&map);
                    }
                    Ok(gst::FlowSuccess::Ok)
                })
                .build(),
        );
        branch.push(convert);
        branch.push(sink.upcast());
    }
    pipeline.add_many(&branch).map_err(link_error)?;
    gst::Element::link_many(&branch).map_err(link_error)?;
    for element in branch.iter().rev() {
        element.sync_state_with_parent().map_err(link_error)?;
    }
    let input = branch[0]
        .static_pad("sink")
        .ok_or_else(|| RenderError::pipeline("digest", "no sink pad"))?;
    pad.link(&input)
        .map_err(|e| RenderError::pipeline("digest", format!("{e:?}")))?;
    Ok(())
}

/// The SHA-256 of a decoded I420 frame's visible pixels (row padding left out).
fn frame_digest(sample: &gst::Sample) -> Option<String> {
    let info = gst_video::VideoInfo::from_caps(sample.caps()?).ok()?;
    let frame = gst_video::VideoFrameRef::from_buffer_ref_readable(sample.buffer()?, &info).ok()?;
    let mut hasher = Sha256::new();
    for plane in 0..info.n_planes() {
        let data = frame.plane_data(plane).ok()?;
        let stride = usize::try_from(*frame.plane_stride().get(plane as usize)?).ok()?;
        // I420: plane k holds component k, one byte per sample.
        let component = u8::try_from(plane).ok()?;
        let width = info.comp_width(component) as usize;
        for row in 0..info.comp_height(component) as usize {
            hasher.update(data.get(row * stride..row * stride + width)?);
        }
    }
    Some(hex(&hasher.finalize()))
}

fn launch(description: &str) -> Result<gst::Pipeline, RenderError> {
    gst::parse::launch(description)
        .map_err(|e| RenderError::pipeline("benchmark", e.to_string()))?
        .downcast::<gst::Pipeline>()
        .map_err(|_| RenderError::pipeline("benchmark", "not a pipeline"))
}

fn by_name(pipeline: &gst::Pipeline, name: &str) -> Result<gst::Element, RenderError> {
    pipeline
        .by_name(name)
        .ok_or_else(|| RenderError::pipeline("benchmark", format!("no element {name}")))
}

fn set(
    pipeline: &gst::Pipeline,
    name: &str,
    property: &str,
    path: &Path,
) -> Result<(), RenderError> {
    by_name(pipeline, name)?.set_property(property, path.to_string_lossy().as_ref());
    Ok(())
}

/// Plays `pipeline` to its end; returns the wall time in seconds.
fn run_timed(pipeline: &gst::Pipeline) -> Result<f64, RenderError> {
    struct Stop<'a>(&'a gst::Pipeline);
    impl Drop for Stop<'_> {
        fn drop(&mut self) {
            let _ = self.0.set_state(gst::State::Null);
        }
    }
    let _stop = Stop(pipeline);
    let bus = pipeline
        .bus()
        .ok_or_else(|| RenderError::pipeline("benchmark", "no bus"))?;
    let started = Instant::now();
    pipeline
        .set_state(gst::State::Playing)
        .map_err(|e| RenderError::pipeline("benchmark", e.to_string()))?;
    for message in bus.iter_timed(gst::ClockTime::NONE) {
        match message.view() {
            gst::MessageView::Eos(_) => return Ok(started.elapsed().as_secs_f64()),
            gst::MessageView::Error(err) => {
                return Err(RenderError::Pipeline {
                    element: err.src().map_or_else(String::new, |s| s.name().to_string()),
                    message: err.error().to_string(),
                    debug: err.debug().map(|d| d.to_string()),
                })
            }
            _ => {}
        }
    }
    Err(RenderError::pipeline(
        "benchmark",
        "the bus closed before the end",
    ))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn synthetic_projects_are_deterministic() {
        let (a, b) = (tempfile::tempdir().unwrap(), tempfile::tempdir().unwrap());
        let spec = write_synthetic_project(a.path(), 1, 0.5, (64, 36)).unwrap();
        let again = write_synthetic_project(b.path(), 1, 0.5, (64, 36)).unwrap();
        assert_eq!(spec.segments[0].text, again.segments[0].text);
        for name in ["001.jpg", "001.wav", "logo.png"] {
            let (x, y) = (a.path().join(name), b.path().join(name));
            assert_eq!(std::fs::read(x).unwrap(), std::fs::read(y).unwrap());
        }
        assert_eq!(
            crate::frame::image_source::validate_image(&spec.segments[0].image).unwrap(),
            (64, 36)
        );
        let seconds = crate::sound::audio::probe_audio_duration(&spec.segments[0].audio).unwrap();
        assert!((seconds - 0.5).abs() < 1e-3, "{seconds}");
        assert_eq!(
            crate::frame::image_source::validate_image(&b.path().join("logo.png")).unwrap(),
            (400, 160)
        );
    }

    #[test]
    fn equal_renders_decode_to_equal_digests_and_others_do_not() {
        let dir = tempfile::tempdir().unwrap();
        let mut spec = write_synthetic_project(dir.path(), 2, 0.6, (64, 36)).unwrap();
        (spec.width, spec.height, spec.fps) = (320, 180, 15);
        let digest = |spec: &RenderSpec, name: &str| {
            let output = dir.path().join(name);
            crate::render(
                spec,
                &output,
                &mut |_| {},
                &crate::cancel::CancelToken::new(),
            )
            .unwrap();
            decoded_digest(&output).unwrap()
        };
        let first = digest(&spec, "a.mp4");
        assert!(first.frames.len() > 10, "{first:?}");
        assert!(first.audio.is_some());
        assert_eq!(first.difference(&digest(&spec, "b.mp4")), None);

        spec.segments[1].text.push_str(" Again.");
        let other = digest(&spec, "c.mp4");
        assert_eq!(other.frames.len(), first.frames.len());
        let difference = first.difference(&other).unwrap();
        assert!(difference.contains("frames differ"), "{difference}");
    }

    #[test]
    fn a_mirrored_picture_is_a_new_picture_of_the_same_size() {
        let dir = tempfile::tempdir().unwrap();
        let spec = write_synthetic_project(dir.path(), 1, 0.2, (64, 36)).unwrap();
        let out = dir.path().join("mirrored.jpg");
        write_mirrored_picture(&spec.segments[0].image, &out).unwrap();
        assert_eq!(
            crate::frame::image_source::validate_image(&out).unwrap(),
            (64, 36)
        );
        let (a, b) = (
            read_rgb(&spec.segments[0].image).unwrap(),
            read_rgb(&out).unwrap(),
        );
        assert_ne!(a.as_raw(), b.as_raw());
    }

    #[test]
    fn a_missing_file_has_no_digest() {
        let err = decoded_digest(Path::new("/nonexistent/video.mp4")).unwrap_err();
        assert!(matches!(err, RenderError::MissingFile { .. }), "{err}");
    }

    #[test]
    fn narration_text_reads_like_speech() {
        let text = narration_text(6.0, &mut Rng::new(7));
        let words: Vec<&str> = text.split(' ').collect();
        assert_eq!(words.len(), 15);
        assert!(words[0].starts_with(|c: char| c.is_ascii_uppercase()));
        assert!(text.ends_with('.'));
    }
}
