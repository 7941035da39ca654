//! The encoder of one chunk: a `gst-launch-1.0` process that turns raw frames, pushed in
//! order through a pipe, into an MP4 with one independent H.264 stream.
//!
//! ```text
//! gst-launch-1.0 fdsrc (raw I420) ! rawvideoparse ! x264enc ! h264parse ! mp4mux ! filesink
//! ```
//!
//! Each chunk is a separate encode that x264 starts with an IDR frame, so nothing in it refers
//! outside it, and without VBV, so the same frames give the same bits (see [`ChunkEncoder`]).
//! [`crate::chunks::splice`] joins the chunks into the final file.

use std::io::{PipeWriter, Read, Write};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::Duration;

use gstreamer as gst;
use gstreamer_video as gst_video;

use crate::cancel::CancelToken;
use crate::chunks::pipeline::{frame_info, x264_settings};
use crate::chunks::splice::ChunkReader;
use crate::error::RenderError;
use crate::plan::spec::RenderSpec;

/// The program that encodes a chunk (Debian package `gstreamer1.0-tools`).
const CHUNK_ENCODER_PROGRAM: &str = "gst-launch-1.0";
/// How often `finish` looks at the encoder process and the cancel flag.
const CHILD_POLL: Duration = Duration::from_millis(5);
/// The capacity asked for the pipe that carries frames to the encoder, and the size of its
/// reads: 1 MiB (what Linux lets any user ask, `/proc/sys/fs/pipe-max-size`) instead of the
/// default 64 KiB hands a 1080p frame over in 3 reads instead of 760. Measured here on 444
/// 1080p frames: about 2 s less system time and 10 % less wall time per render.
const FRAME_PIPE_BYTES: i32 = 1 << 20;
/// The smallest pipe Linux makes (one page): the read size when the capacity is unknown.
const MIN_PIPE_BYTES: i32 = 4096;

/// Encodes one chunk: frames pushed in order become an MP4 with one H.264 stream, at exact
/// `i / fps` timestamps.
///
/// x264 runs in a process of its own (`gst-launch-1.0`, reading the raw frames from a pipe),
/// without VBV (see `pipeline::x264_settings`), so the same frames give the same bits with
/// any number of threads. A fresh process makes them independent of what encoded before:
/// measured here, encodes run one after another in a long-lived process now and then gave
/// different bits for the same frames; encodes in fresh processes never did. Dropping it
/// kills the process.
#[derive(Debug)]
pub struct ChunkEncoder {
    child: Child,
    frames: Option<PipeWriter>,
    output: PathBuf,
    info: gst_video::VideoInfo,
    pushed: u64,
    cancel: CancelToken,
}

impl Drop for ChunkEncoder {
    fn drop(&mut self) {
        self.frames = None;
        if matches!(self.child.try_wait(), Ok(None)) {
            let _ = self.child.kill();
        }
        let _ = self.child.wait();
    }
}

impl ChunkEncoder {
    /// Starts encoding a chunk of `spec`'s size, frame rate and encoder settings into
    /// `output`, with `threads` x264 threads (at least one). `cancel` is honoured at every
    /// frame and while finishing.
    pub fn start(
        spec: &RenderSpec,
        output: &Path,
        threads: usize,
        cancel: &CancelToken,
    ) -> Result<ChunkEncoder, RenderError> {
        crate::chunks::pipeline::init()?;
        let info = frame_info(spec)?;
        let (frames_reader, frames_writer) = std::io::pipe()
            .map_err(|e| RenderError::pipeline("chunk encoder", format!("no pipe: {e}")))?;
        let read_size = widen(&frames_writer);
        let child = Command::new(CHUNK_ENCODER_PROGRAM)
            .arg("-q")
            .args(chunk_pipeline(spec, output, threads, read_size))
            .stdin(frames_reader)
            .stdout(Stdio::null())
            .stderr(Stdio::piped())
            .spawn()
            .map_err(|e| {
                RenderError::pipeline(
                    CHUNK_ENCODER_PROGRAM,
                    format!("cannot start it ({e}); install the Debian package gstreamer1.0-tools"),
                )
            })?;
        Ok(ChunkEncoder {
            child,
            frames: Some(frames_writer),
            output: output.to_path_buf(),
            info,
            pushed: 0,
            cancel: cancel.clone(),
        })
    }

    /// The layout frames must have (I420: plane offsets, strides, size).
    pub fn frame_info(&self) -> &gst_video::VideoInfo {
        &self.info
    }

    /// Frames handed to x264 so far (the pipe holds at most a few it has not read yet).
    pub fn pushed_frames(&self) -> u64 {
        self.pushed
    }

    /// Hands the next frame to x264. Blocks while x264 is behind.
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
        let written = match self.frames.as_mut() {
            Some(pipe) => pipe.write_all(&map),
            None => Err(std::io::ErrorKind::BrokenPipe.into()),
        };
        if let Err(e) = written {
            return Err(self.failure(&format!("stopped reading frames ({e})")));
        }
        self.pushed += 1;
        Ok(())
    }

    /// Ends the chunk and waits until the file is complete and holds every frame; returns
    /// its frame count.
    pub fn finish(mut self) -> Result<u64, RenderError> {
        self.frames = None; // end of stream
        let status = loop {
            if self.cancel.is_cancelled() {
                return Err(RenderError::Cancelled);
            }
            match self.child.try_wait() {
                Ok(Some(status)) => break status,
                Ok(None) => std::thread::sleep(CHILD_POLL),
                Err(e) => return Err(RenderError::pipeline(CHUNK_ENCODER_PROGRAM, e.to_string())),
            }
        };
        if !status.success() {
            return Err(self.failure(&format!("ended with {status}")));
        }
        let reader = ChunkReader::open(&self.output)?;
        let mut frames = 0;
        while reader.next(&|| self.cancel.is_cancelled())?.is_some() {
            frames += 1;
        }
        if frames != self.pushed {
            return Err(RenderError::pipeline(
                "x264enc",
                format!("encoded {frames} frames of {}", self.pushed),
            ));
        }
        Ok(frames)
    }

    /// The encoder process failed: `what`, and what it said.
    fn failure(&mut self, what: &str) -> RenderError {
        self.frames = None;
        let _ = self.child.wait();
        let mut said = String::new();
        if let Some(stderr) = self.child.stderr.as_mut() {
            let _ = stderr.read_to_string(&mut said);
        }
        RenderError::Pipeline {
            element: CHUNK_ENCODER_PROGRAM.to_string(),
            message: format!("the chunk encoder {what}"),
            debug: Some(said.trim().to_string()).filter(|s| !s.is_empty()),
        }
    }
}

/// Asks for a [`FRAME_PIPE_BYTES`] pipe; returns its capacity.
fn widen(pipe: &PipeWriter) -> i32 {
    use nix::fcntl::{fcntl, FcntlArg};
    fcntl(pipe, FcntlArg::F_SETPIPE_SZ(FRAME_PIPE_BYTES))
        .or_else(|e| {
            log::debug!("frame pipe stays small: {e}");
            fcntl(pipe, FcntlArg::F_GETPIPE_SZ)
        })
        .unwrap_or(MIN_PIPE_BYTES)
}

/// The chunk encoder's pipeline, as `gst-launch-1.0` arguments: raw I420 frames of `spec`
/// from standard input in reads of `read_size` bytes (the pipe's capacity: each read
/// allocates that much, whatever it gets), x264 with the spec's settings and `threads`
/// threads, into an MP4.
fn chunk_pipeline(spec: &RenderSpec, output: &Path, threads: usize, read_size: i32) -> Vec<String> {
    let mut args = vec![
        "fdsrc".to_string(),
        "fd=0".to_string(),
        format!("blocksize={read_size}"),
        "!".to_string(),
        "rawvideoparse".to_string(),
        format!("width={}", spec.width),
        format!("height={}", spec.height),
        "format=i420".to_string(),
        format!("framerate={}/1", spec.fps),
        // The colours `frame_info` describes: BT.709, limited range.
        "colorimetry=bt709".to_string(),
        "!".to_string(),
        "x264enc".to_string(),
    ];
    args.extend(
        x264_settings(spec)
            .into_iter()
            .map(|(name, value)| format!("{name}={value}")),
    );
    args.push(format!("threads={}", threads.max(1)));
    args.extend(["!", "h264parse", "!", "mp4mux", "!", "filesink"].map(String::from));
    // gst-launch joins its arguments and parses them again: quote the path.
    let location = output
        .to_string_lossy()
        .replace('\\', "\\\\")
        .replace('"', "\\\"");
    args.push(format!("location=\"{location}\""));
    args
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_encoder_reads_whole_pipefuls() {
        let (_reader, pipe) = std::io::pipe().unwrap();
        let size = widen(&pipe);
        let capacity = nix::fcntl::fcntl(&pipe, nix::fcntl::FcntlArg::F_GETPIPE_SZ).unwrap();
        assert_eq!(size, capacity);
        assert!(size >= MIN_PIPE_BYTES);
        let args = chunk_pipeline(&RenderSpec::default(), Path::new("c.mp4"), 1, size);
        assert!(args.contains(&format!("blocksize={size}")), "{args:?}");
    }
}
