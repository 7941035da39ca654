//! libx264, called in this process through the small C face in `csrc/x264_shim.c` (built by
//! `build.rs`), so that a chunk's frames go from the renderer's buffer straight into x264's
//! own copy: no pipe, no encoder process, no second copy held by a GStreamer element.
//!
//! The unsafe code of the crate is this module's: four calls into the shim, whose handle is
//! owned by [`X264`] and closed once, on drop.

use std::ffi::{c_char, CStr, CString};

use crate::error::RenderError;

/// The shim's encoder handle (opaque).
#[repr(C)]
struct Handle {
    _private: [u8; 0],
}

/// An encoded access unit, as the shim returns it; `data` is x264's until its next call.
#[repr(C)]
struct RawPacket {
    data: *const u8,
    size: i32,
    pts: i64,
    dts: i64,
    keyframe: i32,
}

#[allow(unsafe_code)]
#[link(name = "storyflow_x264_shim", kind = "static")]
extern "C" {
    fn sf_x264_open(
        width: i32,
        height: i32,
        fps: i32,
        preset: *const c_char,
        crf: f32,
        keyint: i32,
        threads: i32,
        avx512: i32,
        error: *mut c_char,
        error_size: usize,
    ) -> *mut Handle;
    fn sf_x264_encode(
        handle: *mut Handle,
        y: *const u8,
        u: *const u8,
        v: *const u8,
        strides: *const i32,
        pts: i64,
        packet: *mut RawPacket,
    ) -> i32;
    fn sf_x264_delayed_frames(handle: *mut Handle) -> i32;
    fn sf_x264_close(handle: *mut Handle);
}

/// What x264 is asked to make.
#[derive(Debug, Clone, PartialEq)]
pub struct X264Settings {
    pub width: u32,
    pub height: u32,
    pub fps: u32,
    /// x264's speed preset (`ultrafast` ... `placebo`).
    pub preset: String,
    /// Constant quality (CRF).
    pub quality: f32,
    /// Longest distance between key frames, in frames.
    pub keyframe_interval: u32,
    /// x264's threads; 0 lets x264 choose (and run its lookahead on a thread of its own).
    pub threads: usize,
    /// Whether x264 may use its AVX-512 functions where the CPU has them. With them, the
    /// same frames encode to different bits from one encoder to the next in one process
    /// (libx264 0.164 of Debian 12, measured on an AVX-512 Xeon); without them (AVX2), the
    /// bits are the same every time, which the chunk cache relies on.
    pub avx512: bool,
}

/// One I420 frame's planes and their strides.
#[derive(Debug, Clone, Copy)]
pub struct Planes<'a> {
    pub y: &'a [u8],
    pub u: &'a [u8],
    pub v: &'a [u8],
    pub strides: [usize; 3],
}

impl<'a> Planes<'a> {
    /// The planes of `frame`, laid out as `info` says (a plane that `frame` is too short to
    /// hold comes out empty, and [`X264::encode`] refuses it).
    pub fn i420(frame: &'a [u8], info: &gstreamer_video::VideoInfo) -> Planes<'a> {
        let plane = |i: usize| frame.get(info.offset()[i]..).unwrap_or(&[]);
        Planes {
            y: plane(0),
            u: plane(1),
            v: plane(2),
            strides: [0, 1, 2].map(|i| usize::try_from(info.stride()[i]).unwrap_or(0)),
        }
    }
}

/// One encoded access unit (Annex B), in frame units of the time base `1 / fps`: `pts` is
/// the number of the frame it shows, `dts` its decoding position, negative for the first
/// ones when x264 reorders frames.
#[derive(Debug)]
pub struct Packet<'a> {
    pub data: &'a [u8],
    pub pts: i64,
    pub dts: i64,
    pub keyframe: bool,
}

/// A libx264 encoder. Frames are numbered by the caller, from 0.
#[derive(Debug)]
pub struct X264 {
    handle: *mut Handle,
    height: usize,
}

// The handle is only ever used through `&mut self`; x264 allows an encoder to move between
// threads.
#[allow(unsafe_code)]
unsafe impl Send for X264 {}

impl X264 {
    pub fn open(settings: &X264Settings) -> Result<X264, RenderError> {
        let fail = |message: String| RenderError::pipeline("x264", message);
        let preset = CString::new(settings.preset.as_str())
            .map_err(|_| fail(format!("bad preset name {:?}", settings.preset)))?;
        let int = |value: u64, what: &str| {
            i32::try_from(value).map_err(|_| fail(format!("{what} {value} is out of range")))
        };
        let mut error = [0 as c_char; 256];
        #[allow(unsafe_code)]
        // SAFETY: the strings are NUL-terminated and live through the call; `error` is
        // writable for its length.
        let handle = unsafe {
            sf_x264_open(
                int(settings.width.into(), "width")?,
                int(settings.height.into(), "height")?,
                int(settings.fps.into(), "frame rate")?,
                preset.as_ptr(),
                settings.quality,
                int(settings.keyframe_interval.into(), "key frame interval")?,
                int(settings.threads as u64, "thread count")?,
                i32::from(settings.avx512),
                error.as_mut_ptr(),
                error.len(),
            )
        };
        if handle.is_null() {
            // SAFETY: the shim always NUL-terminates what it writes (snprintf), and the
            // buffer starts zeroed.
            #[allow(unsafe_code)]
            let reason = unsafe { CStr::from_ptr(error.as_ptr()) };
            return Err(fail(reason.to_string_lossy().into_owned()));
        }
        Ok(X264 {
            handle,
            height: settings.height as usize,
        })
    }

    /// Encodes frame number `pts`; returns the access unit x264 finished meanwhile, if any.
    pub fn encode(
        &mut self,
        planes: Planes<'_>,
        pts: i64,
    ) -> Result<Option<Packet<'_>>, RenderError> {
        let [y_stride, u_stride, v_stride] = planes.strides;
        let rows = |stride: usize, rows: usize| stride.saturating_mul(rows);
        let chroma_rows = self.height.div_ceil(2);
        if planes.y.len() < rows(y_stride, self.height)
            || planes.u.len() < rows(u_stride, chroma_rows)
            || planes.v.len() < rows(v_stride, chroma_rows)
        {
            return Err(RenderError::pipeline(
                "x264",
                "a frame's planes are too small",
            ));
        }
        let strides = planes.strides.map(|s| i32::try_from(s).unwrap_or(i32::MAX));
        let raw = self.call(
            planes.y.as_ptr(),
            planes.u.as_ptr(),
            planes.v.as_ptr(),
            &strides,
            pts,
        )?;
        Ok(raw.map(|raw| self.packet(raw)))
    }

    /// The next access unit x264 still holds, `None` once it holds none.
    pub fn drain(&mut self) -> Result<Option<Packet<'_>>, RenderError> {
        let null = std::ptr::null();
        loop {
            // Asked first: with threads, a frame on its way between x264's queues is not
            // counted as delayed yet.
            if let Some(raw) = self.call(null, null, null, &[0; 3], 0)? {
                return Ok(Some(self.packet(raw)));
            }
            #[allow(unsafe_code)]
            // SAFETY: the handle is open.
            if unsafe { sf_x264_delayed_frames(self.handle) } <= 0 {
                return Ok(None);
            }
        }
    }

    fn call(
        &mut self,
        y: *const u8,
        u: *const u8,
        v: *const u8,
        strides: &[i32; 3],
        pts: i64,
    ) -> Result<Option<RawPacket>, RenderError> {
        let mut packet = RawPacket {
            data: std::ptr::null(),
            size: 0,
            pts: 0,
            dts: 0,
            keyframe: 0,
        };
        #[allow(unsafe_code)]
        // SAFETY: the handle is open; the planes were checked to hold `height` rows of their
        // stride (or are all null, which drains); x264 only reads them during the call.
        let got =
            unsafe { sf_x264_encode(self.handle, y, u, v, strides.as_ptr(), pts, &mut packet) };
        match got {
            0 => Ok(None),
            1 if !packet.data.is_null() && packet.size > 0 => Ok(Some(packet)),
            _ => Err(RenderError::pipeline("x264", "encoding a frame failed")),
        }
    }

    /// The access unit `raw` points at, borrowed from x264 until its next call (which needs
    /// `&mut self`, so cannot happen while the packet lives).
    fn packet(&self, raw: RawPacket) -> Packet<'_> {
        #[allow(unsafe_code)]
        // SAFETY: x264 gave `size` (> 0) bytes at `data` (not null), valid until its next call.
        let data = unsafe { std::slice::from_raw_parts(raw.data, raw.size as usize) };
        Packet {
            data,
            pts: raw.pts,
            dts: raw.dts,
            keyframe: raw.keyframe != 0,
        }
    }
}

impl Drop for X264 {
    fn drop(&mut self) {
        #[allow(unsafe_code)]
        // SAFETY: opened in `open`, closed only here.
        unsafe {
            sf_x264_close(self.handle)
        };
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Encodes `count` frames of moving, detailed 320x180 pictures (the sizes and textures
    /// the AVX-512 functions were seen to vary on) and returns the bit stream.
    fn encode(settings: &X264Settings, count: u32) -> Vec<u8> {
        let (width, height) = (settings.width as usize, settings.height as usize);
        let mut x264 = X264::open(settings).unwrap();
        let mut stream = Vec::new();
        let mut frame = vec![0u8; width * height * 3 / 2];
        for i in 0..count {
            for (n, byte) in frame.iter_mut().enumerate() {
                let (x, y) = ((n % width) as u32, (n / width) as u32);
                let wave = (x * 7 + y * 3 + i * 5) ^ (x * y).wrapping_mul(2_654_435_761) >> 27;
                *byte = (wave % 251) as u8;
            }
            let (y_plane, chroma) = frame.split_at(width * height);
            let (u_plane, v_plane) = chroma.split_at(width * height / 4);
            let planes = Planes {
                y: y_plane,
                u: u_plane,
                v: v_plane,
                strides: [width, width / 2, width / 2],
            };
            if let Some(packet) = x264.encode(planes, i64::from(i)).unwrap() {
                stream.extend_from_slice(packet.data);
            }
        }
        while let Some(packet) = x264.drain().unwrap() {
            stream.extend_from_slice(packet.data);
        }
        stream
    }

    #[test]
    fn chunk_encoders_give_the_same_bits_one_after_another() {
        let settings = X264Settings {
            width: 320,
            height: 180,
            fps: 15,
            preset: "veryfast".into(),
            quality: 20.0,
            keyframe_interval: 30,
            threads: 1,
            avx512: false,
        };
        let first = encode(&settings, 12);
        assert!(first.len() > 1000, "{} bytes", first.len());
        for _ in 0..5 {
            assert!(encode(&settings, 12) == first, "an encode gave other bits");
        }
    }
}
