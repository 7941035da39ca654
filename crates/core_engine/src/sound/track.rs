//! The mixed sound track, before its loudness step, as a stream of fixed-size blocks: each
//! narration at its place on the timeline (cut or padded to its analysed length), silence in
//! its gap, and the looping music under it all at the envelope's gain. Nothing longer than a
//! block is held, so memory is the same for any length of video.

use std::time::{Duration, Instant};

use crate::error::RenderError;
use crate::plan::spec::RenderSpec;
use crate::plan::timeline::Timeline;
use crate::sound::audio::SampleReader;
use crate::sound::envelope::Envelope;
use crate::sound::music::Music;
use crate::stats::StageTimes;

/// Samples per block (0.1 s at 48 kHz).
pub const BLOCK_SAMPLES: usize = 4_800;

/// A pass over the mixed track, from its first sample to its last.
pub(crate) struct Track<'a> {
    spec: &'a RenderSpec,
    timeline: &'a Timeline,
    /// The segment holding `position`.
    segment: usize,
    /// Its narration, while it plays.
    reader: Option<SampleReader>,
    /// Time spent decoding the current segment's narration.
    decoding: Duration,
    /// The next sample of the track.
    position: u64,
    music: Option<(Music, Envelope)>,
    music_block: Vec<f32>,
    gains: Vec<f32>,
    /// Each narration's decoding time, as it ends.
    pub narration: StageTimes,
}

impl<'a> Track<'a> {
    /// Starts a pass. `music_length` is the music file's length in samples, when the spec has
    /// music ([`Music::length_of`]).
    pub fn open(
        spec: &'a RenderSpec,
        timeline: &'a Timeline,
        music_length: Option<u64>,
        stop: &dyn Fn() -> bool,
    ) -> Result<Track<'a>, RenderError> {
        let music = match &spec.sound.music {
            Some(music) => Some((
                Music::open(&music.path, music_length, stop)?,
                Envelope::new(music, timeline),
            )),
            None => None,
        };
        let mut track = Track {
            spec,
            timeline,
            segment: 0,
            reader: None,
            decoding: Duration::ZERO,
            position: 0,
            music,
            music_block: Vec::new(),
            gains: Vec::new(),
            narration: StageTimes::default(),
        };
        track.enter(0)?;
        Ok(track)
    }

    /// Writes the next block (up to [`BLOCK_SAMPLES`] interleaved stereo samples) into
    /// `block` and returns its first sample's position; `None` once the track is over.
    pub fn next_block(
        &mut self,
        block: &mut Vec<f32>,
        stop: &dyn Fn() -> bool,
    ) -> Result<Option<u64>, RenderError> {
        if stop() {
            return Err(RenderError::Cancelled);
        }
        let start = self.position;
        let total = self.timeline.total_samples();
        if start >= total {
            return Ok(None);
        }
        let frames = BLOCK_SAMPLES.min((total - start) as usize);
        block.clear();
        block.resize(frames * 2, 0.0);
        self.narration_into(block, stop)?;
        if let Some((music, envelope)) = &mut self.music {
            self.music_block.resize(frames * 2, 0.0);
            self.gains.resize(frames, 0.0);
            music.fill(&mut self.music_block, stop)?;
            envelope.fill(start, &mut self.gains);
            for ((pair, music), gain) in block
                .chunks_exact_mut(2)
                .zip(self.music_block.chunks_exact(2))
                .zip(&self.gains)
            {
                pair[0] += music[0] * gain;
                pair[1] += music[1] * gain;
            }
        }
        Ok(Some(start))
    }

    /// Fills `block` (zeroed) with the narration from `position` on, and moves past it.
    fn narration_into(
        &mut self,
        block: &mut [f32],
        stop: &dyn Fn() -> bool,
    ) -> Result<(), RenderError> {
        let frames = block.len() / 2;
        let mut done = 0;
        while done < frames {
            let timing = self.timeline.segments()[self.segment];
            let narration_end = timing.start_sample + timing.narration_samples;
            let until = if self.position < narration_end {
                narration_end
            } else {
                timing.end_sample()
            };
            let n = (frames - done).min((until - self.position) as usize);
            if self.position < narration_end {
                if let Some(reader) = &mut self.reader {
                    let started = Instant::now();
                    let got = reader.read(&mut block[done * 2..(done + n) * 2], stop)?;
                    self.decoding += started.elapsed();
                    if got < n {
                        // Shorter than analysed: the rest is silence.
                        self.reader = None;
                    }
                }
            } else {
                // Longer than analysed: the rest is cut.
                self.reader = None;
            }
            self.position += n as u64;
            done += n;
            if self.position == timing.end_sample() {
                self.enter(self.segment + 1)?;
            }
        }
        Ok(())
    }

    /// Moves to segment `index` (past the last: the end) and opens its narration.
    fn enter(&mut self, index: usize) -> Result<(), RenderError> {
        if index > 0 {
            self.reader = None;
            self.narration.record(self.decoding);
        }
        self.segment = index;
        self.decoding = Duration::ZERO;
        if let Some(segment) = self.spec.segments.get(index) {
            let started = Instant::now();
            self.reader = Some(SampleReader::open(&segment.audio, Some(index + 1))?);
            self.decoding += started.elapsed();
        }
        Ok(())
    }
}
