//! The encoder of one chunk: x264 in this process (see [`crate::chunks::x264`]), whose access
//! units a small GStreamer graph writes into an MP4 with one H.264 stream:
//!
//! ```text
//! frames ─> x264 ─> appsrc (H.264 byte stream) ! h264parse ! mp4mux ! filesink
//! ```
//!
//! Each chunk is a separate x264 encode, which starts with an IDR frame, so nothing in it
//! refers outside it, and without VBV, so the same frames give the same bits (see
//! [`ChunkEncoder`]). [`crate::chunks::splice`] joins the chunks into the final file.

use std::path::{Path, PathBuf};

use gstreamer as gst;
use gstreamer::prelude::*;
use gstreamer_app as gst_app;
use gstreamer_video as gst_video;

use crate::cancel::CancelToken;
use crate::chunks::pipeline::{frame_info, make, x264_chunk_settings};
use crate::chunks::splice::{bus_error, pipeline_error, ChunkReader};
use crate::chunks::x264::{Packet, Planes, X264};
use crate::error::RenderError;
use crate::plan::spec::RenderSpec;
use crate::plan::timeline::frame_time_ns;

/// How often `finish` looks at the cancel flag while the file is written.
const POLL: gst::ClockTime = gst::ClockTime::from_mseconds(50);
/// Encoded video queued ahead of the muxer (a few frames' worth).
const MUX_QUEUE_BYTES: u64 = 4 << 20;

/// Encodes one chunk: frames pushed in order become an MP4 with one H.264 stream, at exact
/// `i / fps` timestamps.
///
/// x264 runs on the caller's thread and on it alone, without VBV and with a constant frame
/// rate (its rate control never sees timestamps), so the same frames give the same bits on
/// any machine, wherever in the video the chunk is and whatever else the process encodes:
/// `splice::tests::a_chunk_encodes_to_the_same_bits_every_time`, the re-render tests and the
/// golden test check it. Chunks are encoded side by side instead (see `render::default_jobs`).
/// Dropping it stops the writer graph (`Null`).
#[derive(Debug)]
pub struct ChunkEncoder {
    x264: X264,
    writer: Writer,
    info: gst_video::VideoInfo,
    output: PathBuf,
    pushed: u64,
    cancel: CancelToken,
}

impl ChunkEncoder {
    /// Starts encoding a chunk of `spec`'s size, frame rate and encoder settings into
    /// `output`. `cancel` is honoured at every frame and while finishing.
    pub fn start(
        spec: &RenderSpec,
        output: &Path,
        cancel: &CancelToken,
    ) -> Result<ChunkEncoder, RenderError> {
        crate::chunks::pipeline::init()?;
        let info = frame_info(spec)?;
        let x264 = X264::open(&x264_chunk_settings(spec))?;
        let writer = Writer::start(spec, output)?;
        Ok(ChunkEncoder {
            x264,
            writer,
            info,
            output: output.to_path_buf(),
            pushed: 0,
            cancel: cancel.clone(),
        })
    }

    /// The layout frames must have (I420: plane offsets, strides, size).
    pub fn frame_info(&self) -> &gst_video::VideoInfo {
        &self.info
    }

    /// Frames handed to x264 so far.
    pub fn pushed_frames(&self) -> u64 {
        self.pushed
    }

    /// Encodes the next frame (x264 copies it: the buffer is free again on return).
    pub fn push(&mut self, frame: gst::Buffer) -> Result<(), RenderError> {
        if self.cancel.is_cancelled() {
            return Err(RenderError::Cancelled);
        }
        let map = frame
            .map_readable()
            .map_err(|e| RenderError::pipeline("chunk encoder", e.to_string()))?;
        if map.size() != self.info.size() {
            return Err(RenderError::pipeline(
                "chunk encoder",
                format!(
                    "a frame has {} bytes, {} expected",
                    map.size(),
                    self.info.size()
                ),
            ));
        }
        let planes = Planes::i420(&map, &self.info);
        let pts = i64::try_from(self.pushed).unwrap_or(i64::MAX);
        if let Some(packet) = self.x264.encode(planes, pts)? {
            self.writer.write(&packet)?;
        }
        self.pushed += 1;
        Ok(())
    }

    /// Ends the chunk and waits until the file is complete and holds every frame; returns
    /// its frame count.
    pub fn finish(mut self) -> Result<u64, RenderError> {
        while let Some(packet) = self.x264.drain()? {
            if self.cancel.is_cancelled() {
                return Err(RenderError::Cancelled);
            }
            self.writer.write(&packet)?;
        }
        self.writer.finish(&self.cancel)?;
        let reader = ChunkReader::open(&self.output)?;
        let mut frames = 0;
        while reader.next(&|| self.cancel.is_cancelled())?.is_some() {
            frames += 1;
        }
        if frames != self.pushed {
            return Err(RenderError::pipeline(
                "x264",
                format!("encoded {frames} frames of {}", self.pushed),
            ));
        }
        Ok(frames)
    }
}

/// The graph that writes x264's access units into the chunk's MP4. Dropping it sets it to
/// `Null`.
#[derive(Debug)]
struct Writer {
    pipeline: gst::Pipeline,
    source: gst_app::AppSrc,
    caps: gst::Caps,
    fps: u32,
    /// x264's reorder delay in frames (the first access unit's negative decode time), and
    /// the segment that shifts the pictures back by it; known from the first access unit.
    delay: Option<(u64, gst::FormattedSegment<gst::ClockTime>)>,
}

impl Drop for Writer {
    fn drop(&mut self) {
        let _ = self.pipeline.set_state(gst::State::Null);
    }
}

impl Writer {
    fn start(spec: &RenderSpec, output: &Path) -> Result<Writer, RenderError> {
        let caps = gst::Caps::builder("video/x-h264")
            .field("stream-format", "byte-stream")
            .field("alignment", "au")
            .field("width", spec.width as i32)
            .field("height", spec.height as i32)
            .field("framerate", gst::Fraction::new(spec.fps as i32, 1))
            .field("pixel-aspect-ratio", gst::Fraction::new(1, 1))
            .build();
        let source = gst_app::AppSrc::builder()
            .name("access-units")
            .format(gst::Format::Time)
            .is_live(false)
            .block(true)
            .max_bytes(MUX_QUEUE_BYTES)
            .build();
        // Sends each sample's segment downstream, so mp4mux writes the reorder delay as an
        // edit list, as for any encode.
        source.set_property("handle-segment-change", true);
        let parse = make("h264parse", "h264parse")?;
        let mux = make("mp4mux", "mp4mux")?;
        let sink = make("filesink", "filesink")?;
        sink.set_property("location", output.to_string_lossy().as_ref());
        let pipeline = gst::Pipeline::with_name("storyflow-chunk-writer");
        let link_error =
            |e: gst::glib::BoolError| RenderError::pipeline("chunk writer", e.to_string());
        pipeline
            .add_many([source.upcast_ref(), &parse, &mux, &sink])
            .map_err(link_error)?;
        gst::Element::link_many([source.upcast_ref(), &parse, &mux, &sink]).map_err(link_error)?;
        let writer = Writer {
            pipeline,
            source,
            caps,
            fps: spec.fps,
            delay: None,
        };
        writer
            .pipeline
            .set_state(gst::State::Playing)
            .map_err(|_| {
                bus_error(&writer.pipeline)
                    .unwrap_or_else(|| RenderError::pipeline("chunk writer", "cannot start"))
            })?;
        Ok(writer)
    }

    /// Queues one access unit, timed as a whole encode of the chunk would be: decoded at
    /// `(dts + d) / fps`, shown at `(pts + d) / fps`, in a segment starting at `d / fps`.
    fn write(&mut self, packet: &Packet<'_>) -> Result<(), RenderError> {
        let fps = self.fps;
        let (delay, segment) = self.delay.get_or_insert_with(|| {
            let delay = packet.dts.min(0).unsigned_abs();
            let mut segment = gst::FormattedSegment::<gst::ClockTime>::new();
            segment.set_start(gst::ClockTime::from_nseconds(frame_time_ns(delay, fps)));
            (delay, segment)
        });
        let frame = |t: i64| {
            t.checked_add_unsigned(*delay)
                .and_then(|t| u64::try_from(t).ok())
                .ok_or_else(|| {
                    RenderError::pipeline("x264", format!("an access unit is timed at frame {t}"))
                })
        };
        let (dts, pts) = (frame(packet.dts)?, frame(packet.pts)?);
        let mut buffer = gst::Buffer::from_slice(packet.data.to_vec());
        {
            let buffer = buffer
                .get_mut()
                .ok_or_else(|| RenderError::pipeline("chunk writer", "a new buffer is shared"))?;
            buffer.set_dts(gst::ClockTime::from_nseconds(frame_time_ns(dts, fps)));
            let pts_ns = frame_time_ns(pts, fps);
            buffer.set_pts(gst::ClockTime::from_nseconds(pts_ns));
            buffer.set_duration(gst::ClockTime::from_nseconds(
                frame_time_ns(pts + 1, fps) - pts_ns,
            ));
            if !packet.keyframe {
                buffer.set_flags(gst::BufferFlags::DELTA_UNIT);
            }
        }
        let sample = gst::Sample::builder()
            .buffer(&buffer)
            .caps(&self.caps)
            .segment(segment)
            .build();
        self.source
            .push_sample(&sample)
            .map(|_| ())
            .map_err(|flow| {
                bus_error(&self.pipeline)
                    .unwrap_or_else(|| RenderError::pipeline("chunk writer", format!("{flow:?}")))
            })
    }

    /// Ends the stream and waits until the file is written.
    fn finish(&self, cancel: &CancelToken) -> Result<(), RenderError> {
        self.source
            .end_of_stream()
            .map_err(|flow| RenderError::pipeline("chunk writer", format!("{flow:?}")))?;
        let bus = self
            .pipeline
            .bus()
            .ok_or_else(|| RenderError::pipeline("chunk writer", "has no bus"))?;
        loop {
            if cancel.is_cancelled() {
                return Err(RenderError::Cancelled);
            }
            let Some(message) = bus.timed_pop(POLL) else {
                continue;
            };
            match message.view() {
                gst::MessageView::Eos(_) => return Ok(()),
                gst::MessageView::Error(err) => return Err(pipeline_error(err)),
                _ => {}
            }
        }
    }
}
