//! Helpers for the editor API tests: tiny real media made in memory and hand-built multipart
//! bodies (so file names, content types and sizes are exactly what a test says).
#![allow(clippy::unwrap_used, clippy::expect_used, dead_code)]

use std::io::Cursor;

use reqwest::blocking::Response;
use serde_json::Value;

use crate::common::TestApp;

/// A small RGB PNG.
pub fn png(width: u32, height: u32) -> Vec<u8> {
    let picture = image::RgbImage::from_fn(width, height, |x, y| {
        image::Rgb([(x * 40 % 256) as u8, (y * 40 % 256) as u8, 128])
    });
    let mut bytes = Cursor::new(Vec::new());
    picture
        .write_to(&mut bytes, image::ImageFormat::Png)
        .unwrap();
    bytes.into_inner()
}

/// A small JPEG with some detail (so its scan is long enough to cut).
pub fn jpeg(width: u32, height: u32) -> Vec<u8> {
    let picture = image::RgbImage::from_fn(width, height, |x, y| {
        image::Rgb([
            (x * 7 % 256) as u8,
            (y * 13 % 256) as u8,
            ((x ^ y) % 256) as u8,
        ])
    });
    let mut bytes = Cursor::new(Vec::new());
    picture
        .write_to(&mut bytes, image::ImageFormat::Jpeg)
        .unwrap();
    bytes.into_inner()
}

/// A PNG whose header declares `width` x `height` RGB pixels over a few bytes of data: a
/// small file that would need gigabytes to decode.
pub fn png_declaring(width: u32, height: u32) -> Vec<u8> {
    let mut png = b"\x89PNG\r\n\x1a\n".to_vec();
    let mut chunk = |kind: &[u8], data: &[u8]| {
        png.extend_from_slice(&(data.len() as u32).to_be_bytes());
        let mut body = kind.to_vec();
        body.extend_from_slice(data);
        png.extend_from_slice(&body);
        png.extend_from_slice(&crc32fast::hash(&body).to_be_bytes());
    };
    let mut header = width.to_be_bytes().to_vec();
    header.extend_from_slice(&height.to_be_bytes());
    header.extend_from_slice(&[8, 2, 0, 0, 0]);
    chunk(b"IHDR", &header);
    chunk(
        b"IDAT",
        &[0x78, 0x01, 0x01, 0x04, 0x00, 0xFB, 0xFF, 0, 0, 0, 0],
    );
    chunk(b"IEND", &[]);
    png
}

/// A 440 Hz tone as 8 kHz, 16-bit mono PCM WAV.
pub fn wav(seconds: f64) -> Vec<u8> {
    const RATE: u32 = 8000;
    let samples: Vec<i16> = (0..(f64::from(RATE) * seconds).round() as u32)
        .map(|n| {
            let t = f64::from(n) / f64::from(RATE);
            (f64::sin(2.0 * std::f64::consts::PI * 440.0 * t) * 8000.0) as i16
        })
        .collect();
    core_engine::audio::wav_bytes(RATE, &samples)
}

const BOUNDARY: &str = "----StoryFlowTestBoundary7MA4YWxkTrZu0gW";

/// One file part (plus optional plain text parts before it), as a browser would send it.
pub fn multipart_body(
    extra_fields: &[(&str, &str)],
    field: &str,
    filename: &str,
    content_type: &str,
    data: &[u8],
) -> (String, Vec<u8>) {
    let mut body = Vec::new();
    for (name, value) in extra_fields {
        body.extend_from_slice(
            format!(
                "--{BOUNDARY}\r\nContent-Disposition: form-data; name=\"{name}\"\r\n\r\n{value}\r\n"
            )
            .as_bytes(),
        );
    }
    body.extend_from_slice(
        format!(
            "--{BOUNDARY}\r\nContent-Disposition: form-data; name=\"{field}\"; \
             filename=\"{filename}\"\r\nContent-Type: {content_type}\r\n\r\n"
        )
        .as_bytes(),
    );
    body.extend_from_slice(data);
    body.extend_from_slice(format!("\r\n--{BOUNDARY}--\r\n").as_bytes());
    (format!("multipart/form-data; boundary={BOUNDARY}"), body)
}

/// POSTs one file in field `field` to `path`.
pub fn upload(
    app: &TestApp,
    path: &str,
    field: &str,
    filename: &str,
    content_type: &str,
    data: &[u8],
) -> Response {
    let (header, body) = multipart_body(&[], field, filename, content_type, data);
    app.client
        .post(app.url(path))
        .header("Content-Type", header)
        .body(body)
        .send()
        .unwrap()
}

/// Status and JSON body, asserting the body is JSON.
pub fn status_json(response: Response) -> (u16, Value) {
    let status = response.status().as_u16();
    let text = response.text().unwrap();
    let body = serde_json::from_str(&text)
        .unwrap_or_else(|err| panic!("status {status}: body is not JSON ({err}): {text:?}"));
    (status, body)
}
