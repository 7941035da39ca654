//! Narration audio: decode any file GStreamer reads (WAV, MP3, FLAC, Ogg Vorbis/Opus, ...)
//! to 48 kHz stereo `F32LE`, a bounded chunk at a time, so memory stays flat however long
//! the narration is.

use std::path::Path;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;

use gstreamer as gst;
use gstreamer::prelude::*;
use gstreamer_app as gst_app;
use gstreamer_audio as gst_audio;

use crate::error::RenderError;
use crate::plan::timeline::SAMPLE_RATE;

/// Bytes per sample frame of the decoded format (two `f32` channels).
pub(crate) const BYTES_PER_SAMPLE: usize = 8;

/// Caps of decoded narration and of the render's audio input.
pub(crate) fn audio_caps() -> Result<gst::Caps, RenderError> {
    gst_audio::AudioInfo::builder(gst_audio::AudioFormat::F32le, SAMPLE_RATE, 2)
        .build()
        .map(|info| info.to_caps())
        .and_then(|caps| caps)
        .map_err(|e| RenderError::pipeline("audio caps", e.to_string()))
}

/// The real, decoded length of a narration file in seconds (at 48 kHz).
pub fn probe_audio_duration(path: &Path) -> Result<f64, RenderError> {
    crate::chunks::pipeline::init()?;
    let samples = count_samples(path, None, &|| false)?;
    Ok(samples as f64 / f64::from(SAMPLE_RATE))
}

/// Decodes the whole file without keeping it, counting 48 kHz sample frames. An empty
/// narration is an error.
pub(crate) fn count_samples(
    path: &Path,
    segment: Option<usize>,
    stop: &dyn Fn() -> bool,
) -> Result<u64, RenderError> {
    let mut decoder = Decoder::open(path, segment)?;
    let mut samples = 0u64;
    while let Some(buffer) = decoder.next_chunk(stop)? {
        samples += (buffer.size() / BYTES_PER_SAMPLE) as u64;
    }
    if samples == 0 {
        return Err(decoder.error("it contains no sound (0 samples)".into()));
    }
    if let Some(declared) = decoder.declared_duration() {
        let decoded = samples as f64 / f64::from(SAMPLE_RATE);
        if is_cut_short(declared, decoded) {
            return Err(decoder.error(format!(
                "the file is damaged or cut short: its header says {declared:.2} s but only \
                 {decoded:.2} s decode"
            )));
        }
    }
    Ok(samples)
}

/// How far into a WAV file its `data` chunk header is looked for.
const WAV_HEADER_SCAN: usize = 4096;

/// The seconds a PCM WAV's header declares (its `data` chunk size over the byte rate), from
/// the file's first bytes; `None` for anything else, or when the size is left unknown
/// (0 or 0xFFFFFFFF, as streaming writers do).
fn wav_declared_seconds(head: &[u8]) -> Option<f64> {
    let u32_at = |at: usize| -> Option<u32> {
        Some(u32::from_le_bytes(head.get(at..at + 4)?.try_into().ok()?))
    };
    if head.get(0..4)? != b"RIFF" || head.get(8..12)? != b"WAVE" {
        return None;
    }
    let mut byte_rate = None;
    let mut at = 12;
    while at + 8 <= head.len() {
        let (id, size) = (head.get(at..at + 4)?, u32_at(at + 4)?);
        match id {
            b"fmt " => byte_rate = u32_at(at + 16),
            b"data" => {
                let rate = f64::from(byte_rate.filter(|rate| *rate > 0)?);
                return (size != 0 && size != u32::MAX).then(|| f64::from(size) / rate);
            }
            _ => {}
        }
        // Chunks are padded to an even size.
        at += 8 + size as usize + (size as usize & 1);
    }
    None
}

/// Whether a narration decodes to clearly less than its container declares. Encoder priming
/// and padding move the two by a few tens of milliseconds; a cut or damaged file loses more.
fn is_cut_short(declared_seconds: f64, decoded_seconds: f64) -> bool {
    const SLACK_SECONDS: f64 = 0.1;
    const SLACK_FRACTION: f64 = 0.01;
    decoded_seconds < declared_seconds - SLACK_SECONDS.max(declared_seconds * SLACK_FRACTION)
}

/// A running decode of one file: `uridecodebin ! audioconvert ! audioresample ! appsink`.
/// Dropping it stops the pipeline.
pub(crate) struct Decoder {
    pipeline: gst::Pipeline,
    sink: gst_app::AppSink,
    no_audio: Arc<AtomicBool>,
    segment: Option<usize>,
    path: std::path::PathBuf,
}

impl Decoder {
    pub fn open(path: &Path, segment: Option<usize>) -> Result<Decoder, RenderError> {
        crate::chunks::pipeline::init()?;
        if !path.is_file() {
            return Err(RenderError::MissingFile {
                segment,
                path: path.to_path_buf(),
            });
        }
        let audio_error = |reason: String| RenderError::Audio {
            segment,
            path: path.to_path_buf(),
            reason,
        };
        let uri = crate::chunks::pipeline::file_uri(path).map_err(audio_error)?;
        let caps = audio_caps()?;
        let make = |factory: &str| {
            gst::ElementFactory::make(factory)
                .build()
                .map_err(|_| crate::chunks::pipeline::missing(factory))
        };
        let source = gst::ElementFactory::make("uridecodebin")
            .property("uri", uri.as_str())
            .build()
            .map_err(|_| crate::chunks::pipeline::missing("uridecodebin"))?;
        let convert = make("audioconvert")?;
        let resample = make("audioresample")?;
        // A few chunks of slack: the decoder waits for us instead of filling memory.
        let sink = gst_app::AppSink::builder()
            .caps(&caps)
            .sync(false)
            .enable_last_sample(false)
            .max_buffers(8)
            .build();
        let pipeline = gst::Pipeline::new();
        let link_error =
            |e: gst::glib::BoolError| RenderError::pipeline("audio decoder", e.to_string());
        pipeline
            .add_many([&source, &convert, &resample, sink.upcast_ref()])
            .map_err(link_error)?;
        gst::Element::link_many([&convert, &resample, sink.upcast_ref()]).map_err(link_error)?;

        let no_audio = Arc::new(AtomicBool::new(false));
        let linked = Arc::new(AtomicBool::new(false));
        let weak_pipeline = pipeline.downgrade();
        let convert_sink = convert
            .static_pad("sink")
            .ok_or_else(|| RenderError::pipeline("audioconvert", "has no sink pad"))?;
        {
            let linked = linked.clone();
            source.connect_pad_added(move |_, pad| {
                let is_audio = pad
                    .current_caps()
                    .and_then(|c| c.structure(0).map(|s| s.name().starts_with("audio/")))
                    .unwrap_or(false);
                if is_audio && !linked.swap(true, Ordering::SeqCst) {
                    if let Err(e) = pad.link(&convert_sink) {
                        log::warn!("cannot link decoded audio: {e:?}");
                    }
                } else if let Some(pipeline) = weak_pipeline.upgrade() {
                    // Other streams (cover art, video) are discarded, not left unlinked.
                    discard(&pipeline, pad);
                }
            });
        }
        {
            let no_audio = no_audio.clone();
            source.connect_no_more_pads(move |_| {
                if !linked.load(Ordering::SeqCst) {
                    no_audio.store(true, Ordering::SeqCst);
                }
            });
        }
        let decoder = Decoder {
            pipeline,
            sink,
            no_audio,
            segment,
            path: path.to_path_buf(),
        };
        decoder
            .pipeline
            .set_state(gst::State::Playing)
            .map_err(|_| decoder.failure())?;
        Ok(decoder)
    }

    /// The next chunk of decoded audio, or `None` at the end. `stop` is polled before every
    /// chunk and every 50 ms while waiting; when it returns true the decode ends with
    /// `RenderError::Cancelled`.
    pub fn next_chunk(
        &mut self,
        stop: &dyn Fn() -> bool,
    ) -> Result<Option<gst::Buffer>, RenderError> {
        loop {
            if stop() {
                return Err(RenderError::Cancelled);
            }
            if let Some(sample) = self.sink.try_pull_sample(gst::ClockTime::from_mseconds(50)) {
                if let Some(buffer) = sample.buffer_owned() {
                    return Ok(Some(buffer));
                }
                continue;
            }
            if self.sink.is_eos() {
                return Ok(None);
            }
            if self.no_audio.load(Ordering::SeqCst) {
                return Err(self.error("the file has no audio stream".into()));
            }
            if let Some(err) = self.bus_error() {
                return Err(err);
            }
        }
    }

    /// How long the file says the stream is: a WAV's data chunk size (GStreamer's WAV reader
    /// quietly shortens it to what the file holds), else what the container reports (from its
    /// header, or estimated from the file size for formats without one).
    fn declared_duration(&self) -> Option<f64> {
        let mut head = [0u8; WAV_HEADER_SCAN];
        let read = std::fs::File::open(&self.path)
            .and_then(|mut file| std::io::Read::read(&mut file, &mut head))
            .unwrap_or(0);
        wav_declared_seconds(&head[..read]).or_else(|| {
            self.pipeline
                .query_duration::<gst::ClockTime>()
                .map(|duration| duration.nseconds() as f64 / 1e9)
        })
    }

    fn error(&self, reason: String) -> RenderError {
        RenderError::Audio {
            segment: self.segment,
            path: self.path.clone(),
            reason,
        }
    }

    fn bus_error(&self) -> Option<RenderError> {
        let bus = self.pipeline.bus()?;
        let message = bus.pop_filtered(&[gst::MessageType::Error])?;
        match message.view() {
            gst::MessageView::Error(err) => {
                let mut reason = err.error().to_string();
                if let Some(debug) = err.debug() {
                    // The useful part is after the last "): " (file/function prefix).
                    let detail = debug.rsplit("):").next().unwrap_or(&debug).trim();
                    if !detail.is_empty() {
                        reason = format!("{reason} ({detail})");
                    }
                }
                Some(self.error(reason))
            }
            _ => None,
        }
    }

    fn failure(&self) -> RenderError {
        self.bus_error()
            .unwrap_or_else(|| self.error("GStreamer could not start decoding it".into()))
    }
}

/// A [`Decoder`] read into caller-sized blocks of interleaved stereo `f32` samples, keeping
/// only the rest of the last decoded chunk.
pub(crate) struct SampleReader {
    decoder: Decoder,
    pending: Vec<f32>,
    /// How much of `pending` has been read.
    taken: usize,
}

impl SampleReader {
    pub fn open(path: &Path, segment: Option<usize>) -> Result<SampleReader, RenderError> {
        Ok(SampleReader {
            decoder: Decoder::open(path, segment)?,
            pending: Vec::new(),
            taken: 0,
        })
    }

    /// Fills `out` (interleaved stereo) from the stream; returns the sample frames written,
    /// fewer than asked only at the end of the stream (the rest of `out` is left as it was).
    pub fn read(&mut self, out: &mut [f32], stop: &dyn Fn() -> bool) -> Result<usize, RenderError> {
        let mut written = 0;
        while written < out.len() {
            if self.taken == self.pending.len() {
                let Some(chunk) = self.decoder.next_chunk(stop)? else {
                    break;
                };
                let bytes = chunk
                    .map_readable()
                    .map_err(|e| RenderError::pipeline("audio decoder", e.to_string()))?;
                self.pending.clear();
                self.pending.extend(
                    bytes
                        .chunks_exact(4)
                        .map(|b| f32::from_le_bytes([b[0], b[1], b[2], b[3]])),
                );
                self.taken = 0;
            }
            let n = (out.len() - written).min(self.pending.len() - self.taken);
            out[written..written + n].copy_from_slice(&self.pending[self.taken..self.taken + n]);
            written += n;
            self.taken += n;
        }
        Ok(written / 2)
    }
}

impl Drop for Decoder {
    fn drop(&mut self) {
        let _ = self.pipeline.set_state(gst::State::Null);
    }
}

fn discard(pipeline: &gst::Pipeline, pad: &gst::Pad) {
    let Ok(sink) = gst::ElementFactory::make("fakesink")
        .property("sync", false)
        .build()
    else {
        return;
    };
    if pipeline.add(&sink).is_err() {
        return;
    }
    if let Some(sink_pad) = sink.static_pad("sink") {
        let _ = pad.link(&sink_pad);
    }
    let _ = sink.sync_state_with_parent();
}

/// A 16-bit mono PCM WAV file's bytes holding `samples` at `rate` Hz (the benchmark's and
/// the tests' narrations).
pub fn wav_bytes(rate: u32, samples: &[i16]) -> Vec<u8> {
    let data_len = (samples.len() * 2) as u32;
    let mut out = Vec::with_capacity(44 + samples.len() * 2);
    out.extend_from_slice(b"RIFF");
    out.extend_from_slice(&(36 + data_len).to_le_bytes());
    out.extend_from_slice(b"WAVEfmt ");
    out.extend_from_slice(&16u32.to_le_bytes());
    out.extend_from_slice(&1u16.to_le_bytes()); // PCM
    out.extend_from_slice(&1u16.to_le_bytes()); // mono
    out.extend_from_slice(&rate.to_le_bytes());
    out.extend_from_slice(&(rate * 2).to_le_bytes()); // bytes per second
    out.extend_from_slice(&2u16.to_le_bytes()); // block align
    out.extend_from_slice(&16u16.to_le_bytes()); // bits per sample
    out.extend_from_slice(b"data");
    out.extend_from_slice(&data_len.to_le_bytes());
    for s in samples {
        out.extend_from_slice(&s.to_le_bytes());
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A 16-bit mono WAV of `samples` samples at `rate`.
    fn wav(path: &Path, rate: u32, samples: u32) {
        let mut bytes = Vec::new();
        let data_len = samples * 2;
        bytes.extend_from_slice(b"RIFF");
        bytes.extend_from_slice(&(36 + data_len).to_le_bytes());
        bytes.extend_from_slice(b"WAVEfmt ");
        bytes.extend_from_slice(&16u32.to_le_bytes());
        bytes.extend_from_slice(&1u16.to_le_bytes());
        bytes.extend_from_slice(&1u16.to_le_bytes());
        bytes.extend_from_slice(&rate.to_le_bytes());
        bytes.extend_from_slice(&(rate * 2).to_le_bytes());
        bytes.extend_from_slice(&2u16.to_le_bytes());
        bytes.extend_from_slice(&16u16.to_le_bytes());
        bytes.extend_from_slice(b"data");
        bytes.extend_from_slice(&data_len.to_le_bytes());
        for i in 0..samples {
            let v = ((i as f32 * 0.05).sin() * 8000.0) as i16;
            bytes.extend_from_slice(&v.to_le_bytes());
        }
        std::fs::write(path, bytes).unwrap();
    }

    #[test]
    fn probes_the_decoded_duration_after_resampling() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("a.wav");
        wav(&path, 22_050, 33_075); // 1.5 s
        let seconds = probe_audio_duration(&path).unwrap();
        assert!((seconds - 1.5).abs() < 0.001, "{seconds}");
    }

    #[test]
    fn empty_missing_and_bogus_files_are_audio_errors() {
        let dir = tempfile::tempdir().unwrap();
        let empty = dir.path().join("empty.wav");
        wav(&empty, 48_000, 0);
        let err = count_samples(&empty, Some(4), &|| false).unwrap_err();
        assert!(
            matches!(
                err,
                RenderError::Audio {
                    segment: Some(4),
                    ..
                }
            ),
            "{err}"
        );

        let bogus = dir.path().join("bogus.mp3");
        std::fs::write(&bogus, b"this is plain text, not audio at all").unwrap();
        let err = probe_audio_duration(&bogus).unwrap_err();
        assert!(
            matches!(err, RenderError::Audio { segment: None, .. }),
            "{err}"
        );

        let missing = dir.path().join("missing.wav");
        assert!(matches!(
            probe_audio_duration(&missing).unwrap_err(),
            RenderError::MissingFile { .. }
        ));
    }

    #[test]
    fn narration_that_decodes_only_in_part_is_refused() {
        let dir = tempfile::tempdir().unwrap();
        let whole = dir.path().join("whole.wav");
        wav(&whole, 22_050, 44_100); // 2 s
        let mut bytes = std::fs::read(&whole).unwrap();
        bytes.truncate(bytes.len() / 2); // the header still says 2 s
        let cut = dir.path().join("cut.wav");
        std::fs::write(&cut, bytes).unwrap();
        let err = count_samples(&cut, Some(2), &|| false).unwrap_err();
        assert!(err.to_string().contains("damaged or cut short"), "{err}");
        assert!(matches!(
            err,
            RenderError::Audio {
                segment: Some(2),
                ..
            }
        ));
        assert!(probe_audio_duration(&whole).is_ok());
    }

    #[test]
    fn a_wav_header_declares_its_length() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("a.wav");
        wav(&path, 22_050, 44_100);
        let bytes = std::fs::read(&path).unwrap();
        assert_eq!(wav_declared_seconds(&bytes[..64]), Some(2.0));
        let mut unknown = bytes[..44].to_vec();
        unknown[40..44].copy_from_slice(&u32::MAX.to_le_bytes());
        assert_eq!(wav_declared_seconds(&unknown), None);
        assert_eq!(wav_declared_seconds(b"fLaC\0\0\0\x22"), None);
        assert_eq!(wav_declared_seconds(&bytes[..20]), None);
    }

    #[test]
    fn cut_short_allows_codec_padding_only() {
        assert!(!is_cut_short(2.0, 1.95));
        assert!(is_cut_short(2.0, 1.85));
        assert!(!is_cut_short(60.0, 59.5)); // 1 % of a long narration
        assert!(is_cut_short(60.0, 58.0));
    }

    #[test]
    fn decoding_stops_when_asked() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("a.wav");
        wav(&path, 48_000, 480_000);
        assert!(matches!(
            count_samples(&path, Some(1), &|| true),
            Err(RenderError::Cancelled)
        ));
    }
}
