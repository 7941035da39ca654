//! Loudness (EBU R128 / ITU-R BS.1770, measured by the `ebur128` crate): the integrated
//! loudness of a stream of blocks, the gain that brings it to a target, a look-ahead
//! true-peak limiter that keeps the gained sound under the ceiling, and the measure of a
//! media file's sound (for the tests and `storyflow bench`).

use std::collections::VecDeque;
use std::path::Path;

use ebur128::{EbuR128, Mode};

use crate::error::RenderError;
use crate::plan::timeline::SAMPLE_RATE;
use crate::sound::audio::SampleReader;
use crate::sound::envelope::db_to_gain;
use crate::sound::TRUE_PEAK_CEILING_DBTP;

/// Where the limiter holds the true peak: under the delivery ceiling by enough that the AAC
/// encoder's overshoot (its quantisation noise rides on the peaks) still leaves the rendered
/// file's true peak at or under [`TRUE_PEAK_CEILING_DBTP`].
pub const LIMITER_CEILING_DBTP: f64 = TRUE_PEAK_CEILING_DBTP - 0.5;

/// The integrated loudness (LUFS) and true peak (dBTP, both channels) of some sound.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct SoundLevel {
    /// `-inf` for silence (everything under the -70 LUFS gate).
    pub integrated_lufs: f64,
    pub true_peak_dbtp: f64,
}

fn meter_error(e: ebur128::Error) -> RenderError {
    RenderError::pipeline("loudness meter", e.to_string())
}

/// Measures integrated loudness (and, when asked, the true peak) of interleaved stereo blocks
/// at the timeline's rate. Its memory is fixed: the gating blocks go into a histogram.
#[derive(Debug)]
pub struct Meter(EbuR128);

impl Meter {
    pub fn new(true_peak: bool) -> Result<Meter, RenderError> {
        let mut mode = Mode::I | Mode::HISTOGRAM;
        if true_peak {
            mode |= Mode::TRUE_PEAK;
        }
        EbuR128::new(2, SAMPLE_RATE, mode)
            .map(Meter)
            .map_err(meter_error)
    }

    pub fn add(&mut self, block: &[f32]) -> Result<(), RenderError> {
        self.0.add_frames_f32(block).map_err(meter_error)
    }

    pub fn integrated_lufs(&self) -> Result<f64, RenderError> {
        self.0.loudness_global().map_err(meter_error)
    }

    /// The highest true peak of both channels, in dBTP (needs `true_peak`).
    pub fn true_peak_dbtp(&self) -> Result<f64, RenderError> {
        let left = self.0.true_peak(0).map_err(meter_error)?;
        let right = self.0.true_peak(1).map_err(meter_error)?;
        Ok(20.0 * left.max(right).log10())
    }
}

/// The gain that brings sound measured at `measured_lufs` to `target_lufs`; silence (no
/// finite loudness) is left alone.
pub fn gain_to_target(measured_lufs: f64, target_lufs: f64) -> f64 {
    if measured_lufs.is_finite() {
        db_to_gain(target_lufs - measured_lufs)
    } else {
        1.0
    }
}

/// Decodes the sound of `path` (any file GStreamer reads, a rendered MP4 included) and
/// measures it, a block at a time.
pub fn measure_file(path: &Path, stop: &dyn Fn() -> bool) -> Result<SoundLevel, RenderError> {
    let mut reader = SampleReader::open(path, None)?;
    let mut meter = Meter::new(true)?;
    let mut block = vec![0.0; 2 * 4800];
    loop {
        let frames = reader.read(&mut block, stop)?;
        meter.add(&block[..frames * 2])?;
        if frames * 2 < block.len() {
            break;
        }
    }
    Ok(SoundLevel {
        integrated_lufs: meter.integrated_lufs()?,
        true_peak_dbtp: meter.true_peak_dbtp()?,
    })
}

/// Oversampling of the limiter's peak detector (BS.1770's true peak at 48 kHz).
const OVERSAMPLING: usize = 4;
/// Taps of the interpolation filter (a Hann-windowed sinc), as in `ebur128`'s meter.
const TAPS: usize = 49;
/// Taps per phase of the polyphase filter.
const PHASE_TAPS: usize = TAPS.div_ceil(OVERSAMPLING);
/// The detector's delay: its values at step `t` lie between samples `t - 6` and `t - 5`.
const DETECTOR_DELAY: usize = (TAPS - 1) / 2 / OVERSAMPLING;
/// Slack around each detected peak (the interpolated values fall between two samples).
const PEAK_SLACK: usize = 2;
/// The gain falls over this many samples (2 ms) before a peak.
const ATTACK: usize = 96;
/// The gain recovers towards 1 with this time constant after a peak, in seconds.
const RELEASE_SECONDS: f64 = 0.08;

/// A look-ahead true-peak limiter over interleaved stereo at the timeline's rate, both
/// channels under one gain. Every sample's inter-sample peak is estimated with a 4x
/// polyphase interpolator; the gain that sample needs is the lowest of its neighbourhood,
/// recovers exponentially, and is smoothed by a moving average as long as the look-ahead,
/// so it has fully arrived when the peak does: the output's true peak stays at the
/// ceiling. The sound comes out [`Limiter::LATENCY`] samples late; [`Limiter::finish`]
/// flushes it.
#[derive(Debug)]
pub struct Limiter {
    ceiling: f64,
    /// Samples louder than this can make inter-sample peaks over the ceiling.
    quiet: f32,
    /// `phases[p][j]`: the tap applied to sample `t - j` for the value at `t - 6 + p / 4`.
    phases: [[f32; PHASE_TAPS]; OVERSAMPLING],
    /// The last `PHASE_TAPS` input frames, newest first at `history_at`.
    history: [[f32; 2]; PHASE_TAPS],
    history_at: usize,
    /// The detector runs until this input sample (it is idle through quiet passages).
    loud_until: u64,
    /// Input frames waiting to be output, indexed by sample modulo its length.
    delay: Vec<[f32; 2]>,
    /// Candidates for the minimum of the needed gains over the current window.
    minimum: VecDeque<(u64, f64)>,
    released: f64,
    release: f64,
    /// The last `ATTACK` released gains and their sum.
    smoothing: [f64; ATTACK],
    sum: f64,
    /// Input frames taken.
    taken: u64,
}

impl Limiter {
    /// Samples between a frame going in and coming out.
    pub const LATENCY: usize = DETECTOR_DELAY + ATTACK + PEAK_SLACK - 1;

    pub fn new(ceiling_dbtp: f64) -> Limiter {
        let mut phases = [[0f32; PHASE_TAPS]; OVERSAMPLING];
        let centre = (TAPS - 1) as f64 / 2.0;
        let mut bound = 0f64;
        for (p, phase) in phases.iter_mut().enumerate() {
            let mut sum = 0.0;
            for (j, tap) in phase.iter_mut().enumerate() {
                let i = j * OVERSAMPLING + p;
                if i >= TAPS {
                    continue;
                }
                let x = (i as f64 - centre) / OVERSAMPLING as f64;
                let sinc = if x == 0.0 {
                    1.0
                } else {
                    (std::f64::consts::PI * x).sin() / (std::f64::consts::PI * x)
                };
                let hann =
                    0.5 * (1.0 - (2.0 * std::f64::consts::PI * i as f64 / (TAPS - 1) as f64).cos());
                *tap = (sinc * hann) as f32;
                sum += (sinc * hann).abs();
            }
            bound = bound.max(sum);
        }
        let ceiling = db_to_gain(ceiling_dbtp);
        Limiter {
            ceiling,
            quiet: (ceiling / bound) as f32,
            phases,
            history: [[0.0; 2]; PHASE_TAPS],
            history_at: 0,
            loud_until: 0,
            delay: vec![[0.0; 2]; Self::LATENCY + 1],
            minimum: VecDeque::new(),
            released: 1.0,
            release: 1.0 - (-1.0 / (RELEASE_SECONDS * f64::from(SAMPLE_RATE))).exp(),
            smoothing: [1.0; ATTACK],
            sum: ATTACK as f64,
            taken: 0,
        }
    }

    /// Takes the interleaved stereo `input` and appends the frames it lets out to `output`
    /// (as many as go in, once the first [`Limiter::LATENCY`] are in).
    pub fn process(&mut self, input: &[f32], output: &mut Vec<f32>) {
        for frame in input.chunks_exact(2) {
            if let Some([left, right]) = self.step([frame[0], frame[1]]) {
                output.push(left);
                output.push(right);
            }
        }
    }

    /// Lets out the last [`Limiter::LATENCY`] frames.
    pub fn finish(&mut self, output: &mut Vec<f32>) {
        for _ in 0..Self::LATENCY {
            if let Some([left, right]) = self.step([0.0; 2]) {
                output.push(left);
                output.push(right);
            }
        }
    }

    fn step(&mut self, frame: [f32; 2]) -> Option<[f32; 2]> {
        let t = self.taken;
        self.taken += 1;
        let slots = self.delay.len() as u64;
        self.delay[(t % slots) as usize] = frame;
        self.history_at = (self.history_at + PHASE_TAPS - 1) % PHASE_TAPS;
        self.history[self.history_at] = frame;
        if frame[0].abs().max(frame[1].abs()) > self.quiet {
            self.loud_until = t + PHASE_TAPS as u64;
        }
        // The gain the sound around sample `t - DETECTOR_DELAY` needs.
        let k = t.checked_sub(DETECTOR_DELAY as u64)?;
        let needed = if t < self.loud_until {
            let peak = self.peak();
            if peak > self.ceiling {
                self.ceiling / peak
            } else {
                1.0
            }
        } else {
            1.0
        };
        while self.minimum.back().is_some_and(|&(_, g)| g >= needed) {
            self.minimum.pop_back();
        }
        self.minimum.push_back((k, needed));
        // The output sample `n`'s gain is the lowest needed from `n - PEAK_SLACK` to
        // `n + ATTACK + PEAK_SLACK - 1`, averaged over the `ATTACK` samples up to `n`.
        let n = k.checked_sub((ATTACK + PEAK_SLACK - 1) as u64)?;
        let oldest = n.saturating_sub(PEAK_SLACK as u64);
        while self.minimum.front().is_some_and(|&(at, _)| at < oldest) {
            self.minimum.pop_front();
        }
        let lowest = self.minimum.front().map_or(1.0, |&(_, g)| g);
        self.released = lowest.min(self.released + (1.0 - self.released) * self.release);
        let slot = (n % ATTACK as u64) as usize;
        self.sum += self.released - self.smoothing[slot];
        self.smoothing[slot] = self.released;
        let gain = (self.sum / ATTACK as f64).min(1.0) as f32;
        let [left, right] = self.delay[(n % slots) as usize];
        Some([left * gain, right * gain])
    }

    /// The highest magnitude, over both channels, of the sound between the samples the
    /// history ends with (sample and inter-sample values).
    fn peak(&self) -> f64 {
        let mut peak = 0f32;
        for phase in &self.phases {
            let mut sums = [0f32; 2];
            for (j, tap) in phase.iter().enumerate() {
                let frame = self.history[(self.history_at + j) % PHASE_TAPS];
                sums[0] += tap * frame[0];
                sums[1] += tap * frame[1];
            }
            peak = peak.max(sums[0].abs()).max(sums[1].abs());
        }
        f64::from(peak)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_gain_meets_the_target_and_leaves_silence_alone() {
        assert!((gain_to_target(-26.0, -16.0) - 3.162_277_660_168_379_5).abs() < 1e-12);
        assert!((gain_to_target(-10.0, -16.0) - 0.501_187_233_627_272_2).abs() < 1e-12);
        assert_eq!(gain_to_target(f64::NEG_INFINITY, -16.0), 1.0);
    }

    /// A 997 Hz sine at -20 dBFS on both channels is -20 LUFS (BS.1770's calibration
    /// within a tenth); its true peak is -20 dBTP.
    #[test]
    fn the_meter_reads_a_calibration_tone() {
        let mut meter = Meter::new(true).unwrap();
        let amplitude = db_to_gain(-20.0) as f32;
        let block: Vec<f32> = (0..SAMPLE_RATE as usize * 5)
            .flat_map(|n| {
                let v = amplitude
                    * (2.0 * std::f32::consts::PI * 997.0 * n as f32 / SAMPLE_RATE as f32).sin();
                [v, v]
            })
            .collect();
        meter.add(&block).unwrap();
        let lufs = meter.integrated_lufs().unwrap();
        assert!((lufs + 20.0).abs() < 0.1, "{lufs}");
        let peak = meter.true_peak_dbtp().unwrap();
        assert!((peak + 20.0).abs() < 0.05, "{peak}");
    }

    fn limited(input: &[f32], ceiling_dbtp: f64) -> Vec<f32> {
        let mut limiter = Limiter::new(ceiling_dbtp);
        let mut output = Vec::new();
        for block in input.chunks(2 * 1000) {
            limiter.process(block, &mut output);
        }
        limiter.finish(&mut output);
        output
    }

    #[test]
    fn quiet_sound_passes_unchanged() {
        let input: Vec<f32> = (0..20_000)
            .map(|i| ((i % 97) as f32 - 48.0) / 200.0)
            .collect();
        let output = limited(&input, -1.0);
        assert_eq!(output.len(), input.len());
        assert_eq!(output, input);
        assert_eq!(Limiter::LATENCY, 103);
    }

    /// Clicks at full scale and a 0 dBFS tone whose inter-sample peaks exceed its samples:
    /// afterwards the true peak (as `ebur128` measures it) is at the ceiling, and the sound
    /// between the clicks is untouched.
    #[test]
    fn peaks_are_held_at_the_ceiling_and_the_rest_left_alone() {
        let rate = SAMPLE_RATE as usize;
        let mut input = vec![0f32; 2 * rate * 2];
        for (n, frame) in input.chunks_exact_mut(2).enumerate() {
            // 0.1 amplitude 500 Hz tone throughout...
            let t = n as f32 / rate as f32;
            let v = 0.1 * (2.0 * std::f32::consts::PI * 500.0 * t).sin();
            frame.copy_from_slice(&[v, v]);
            // ...a click every 0.5 s...
            if n % (rate / 2) == rate / 4 {
                frame.copy_from_slice(&[1.0, -1.0]);
            }
            // ...and 0.2 s of a quarter-rate sine sampled off its peaks (true peak +3 dB over
            // its samples) at the end.
            if n >= rate * 2 - rate / 5 {
                let phase = std::f32::consts::FRAC_PI_4 + std::f32::consts::FRAC_PI_2 * n as f32;
                let v = phase.sin();
                frame.copy_from_slice(&[v, v]);
            }
        }
        let output = limited(&input, -1.5);
        let mut meter = Meter::new(true).unwrap();
        meter.add(&output).unwrap();
        let peak = meter.true_peak_dbtp().unwrap();
        assert!(peak <= -1.5 + 0.05, "{peak}");
        assert!(peak >= -2.0, "{peak}");
        // Between the clicks, once the gain has recovered (0.3 s after a click), the tone is
        // as it was.
        let n = rate / 4 + 3 * rate / 10;
        for i in n..n + 100 {
            assert!((output[2 * i] - input[2 * i]).abs() < 1e-3, "sample {i}");
        }
    }
}
