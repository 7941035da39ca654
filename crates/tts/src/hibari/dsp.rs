//! The hibari voice's signal processing, ported from hibari-tts 0.2.1's `dsp.py`: the model
//! predicts a spectrum per 12.5 ms frame in five parts, and this makes the waveform. A
//! band-limited pulse train from the F0 curve is filtered by the harmonic branch, shaped
//! noise and a free-phase branch are added, then one inverse STFT:
//!
//! `S = exp(lh)·e^{iπ·tanh(θ)}·STFT(pulses(f0)) + exp(ln)·Z + exp(lr)·e^{iφ}`
//!
//! f32 throughout, as the reference (scipy's float32 FFTs). FFT plans and buffers live in a
//! [`Vocoder`], made once and reused for every sentence.

use std::f32::consts::PI;
use std::sync::Arc;

use rand_distr::{Distribution, StandardNormal};
use rand_pcg::rand_core::SeedableRng;
use rand_pcg::Pcg64Mcg;
use realfft::num_complex::Complex32;
use realfft::{ComplexToReal, RealFftPlanner, RealToComplex};

use super::math;
use super::model::Spectra;

/// Samples per second of the audio.
pub const SAMPLE_RATE: u32 = 24_000;
/// STFT window length in samples (50 ms).
pub const N_FFT: usize = 1200;
/// Samples per model frame (12.5 ms).
pub const HOP: usize = 300;
/// Frequency bins per frame: the rows of every spectral part.
pub const BINS: usize = N_FFT / 2 + 1;
/// Hops per window: each output sample is the sum of this many frames.
const OVERLAP: usize = N_FFT / HOP;
/// Interpolated F0 at or below this (Hz) is unvoiced: no pulses.
const VOICED_HZ: f32 = 40.0;
/// The pulse train holds every harmonic below this frequency (Hz).
const MAX_HARMONIC_HZ: f32 = 11_000.0;
/// Log gains are clamped here before `exp`, as the reference does.
const MAX_LOG_GAIN: f32 = 7.0;

/// A standard-normal noise source: the same seed gives the same samples, so the same text
/// gives bit-identical audio.
pub fn seeded_noise(seed: u64) -> impl FnMut() -> f32 {
    let mut rng = Pcg64Mcg::seed_from_u64(seed);
    move || StandardNormal.sample(&mut rng)
}

/// Periodic Hann window of `N_FFT` points (computed in f64, stored as f32 like numpy's).
pub fn hann() -> Vec<f32> {
    (0..N_FFT)
        .map(|n| (0.5 - 0.5 * (2.0 * std::f64::consts::PI * n as f64 / N_FFT as f64).cos()) as f32)
        .collect()
}

/// Band-limited pulse train for an F0 curve (Hz, one value per frame) into `out`
/// (`f0.len() * HOP` samples): every harmonic below 11 kHz at unit amplitude,
/// `Σ_{h≤H} cos(h·t) = sin((H+½)t) / (2·sin(t/2)) − ½`. F0 is interpolated linearly between
/// frame centres (edges held); samples whose F0 is 40 Hz or less are 0.
pub fn pulses(f0: &[f32], out: &mut [f32]) {
    let half = HOP / 2;
    // Sample j of a frame lies (j + ½)/HOP − ½ frames from its centre: weight u on the next
    // frame's F0 (the previous one's for the first half), v = 1 − u on the other.
    let mut u = [0f32; HOP];
    let mut v = [0f32; HOP];
    for j in 0..HOP {
        u[j] = ((j as f64 + 0.5) / HOP as f64 - 0.5).rem_euclid(1.0) as f32;
        v[j] = 1.0 - u[j];
    }
    let last = f0.len().saturating_sub(1);
    let mut phase = 0f64;
    for (k, block) in out.chunks_exact_mut(HOP).take(f0.len()).enumerate() {
        let previous = f0[k.saturating_sub(1)];
        let next = f0[(k + 1).min(last)];
        for (j, sample) in block.iter_mut().enumerate() {
            let f = if j < half {
                previous * v[j] + f0[k] * u[j]
            } else {
                f0[k] * v[j] + next * u[j]
            };
            let voiced = f > VOICED_HZ;
            let f = f.max(VOICED_HZ);
            // The phase accumulates in f64 and wraps to [0, 2π) before going back to f32.
            phase += f64::from(f);
            let wrapped = phase * (1.0 / f64::from(SAMPLE_RATE));
            let t = ((wrapped - wrapped.trunc()) * (2.0 * std::f64::consts::PI)) as f32;
            let harmonics = (MAX_HARMONIC_HZ / f).floor() + 0.5;
            let denominator = (t * 0.5).sin() * 2.0;
            // Where sin(t/2) vanishes the sum is its limit, H + ½.
            let sum = if denominator.abs() <= 2e-3 {
                harmonics
            } else {
                (harmonics * t).sin() / denominator
            };
            *sample = if voiced { sum - 0.5 } else { 0.0 };
        }
    }
}

fn ex(x: f32) -> f32 {
    math::exp(x.min(MAX_LOG_GAIN))
}

/// FFT plans, windows and buffers for [`Vocoder::synth`]; make one and reuse it.
pub struct Vocoder {
    forward: Arc<dyn RealToComplex<f32>>,
    inverse: Arc<dyn ComplexToReal<f32>>,
    /// The analysis window: Hann / (N_FFT/4), so that a unit cosine's peak in the STFT is 1
    /// and exp(lh) is the harmonic's magnitude.
    source_window: Vec<f32>,
    /// Hann / N_FFT: the synthesis window with the inverse FFT's normalisation.
    output_window: Vec<f32>,
    /// Hann² for the overlap-add normalisation.
    window_squared: Vec<f32>,
    /// 1 / Σ Hann² over the `OVERLAP` frames that cover an output sample (one hop's worth).
    interior_norm: Vec<f32>,
    scratch: Vec<Complex32>,
    spectrum: Vec<Complex32>,
    frame: Vec<f32>,
    /// The pulse train with `N_FFT/2` reflected samples either side.
    padded: Vec<f32>,
    /// Overlap-added frames, `(F + OVERLAP − 1) × HOP` samples.
    sum: Vec<f32>,
    terms: Terms,
}

/// Frames whose spectral terms are computed together: long enough rows for the element-wise
/// maths to vectorise, small enough to stay in cache.
const BLOCK: usize = 32;

/// The per-bin factors of `BLOCK` frames, `[BINS × BLOCK]` row-major: the harmonic filter
/// `exp(lh)·e^{iπ·tanh(θ)}` and the added terms `exp(ln)·Z + exp(lr)·e^{iφ}`.
struct Terms {
    harmonic_re: Vec<f32>,
    harmonic_im: Vec<f32>,
    added_re: Vec<f32>,
    added_im: Vec<f32>,
}

impl Terms {
    fn new() -> Self {
        let zeros = || vec![0.0; BINS * BLOCK];
        Self {
            harmonic_re: zeros(),
            harmonic_im: zeros(),
            added_re: zeros(),
            added_im: zeros(),
        }
    }

    /// The terms of frames `first..first + count`.
    fn compute(
        &mut self,
        spectra: &Spectra,
        first: usize,
        count: usize,
        noise: &mut impl FnMut() -> f32,
    ) {
        let frames = spectra.frames();
        let [lh, theta, ln, lr, phi] = spectra.parts();
        for bin in 0..BINS {
            let input = bin * frames + first..bin * frames + first + count;
            let output = bin * BLOCK..bin * BLOCK + count;
            let harmonic = self.harmonic_re[output.clone()]
                .iter_mut()
                .zip(&mut self.harmonic_im[output.clone()])
                .zip(&lh[input.clone()])
                .zip(&theta[input.clone()]);
            for (((re, im), &lh), &theta) in harmonic {
                let (sin, cos) = math::sin_cos(math::tanh(theta) * PI);
                let gain = ex(lh);
                (*re, *im) = (cos * gain, sin * gain);
            }
            let added = self.added_re[output.clone()]
                .iter_mut()
                .zip(&mut self.added_im[output.clone()])
                .zip(&lr[input.clone()])
                .zip(&phi[input.clone()]);
            for (((re, im), &lr), &phi) in added {
                let (sin, cos) = math::sin_cos(phi);
                let gain = ex(lr);
                (*re, *im) = (cos * gain, sin * gain);
            }
            let noisy = self.added_re[output.clone()]
                .iter_mut()
                .zip(&mut self.added_im[output])
                .zip(&ln[input]);
            for ((re, im), &ln) in noisy {
                let gain = ex(ln);
                *re += noise() * gain;
                *im += noise() * gain;
            }
        }
    }
}

impl std::fmt::Debug for Vocoder {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Vocoder").finish_non_exhaustive()
    }
}

impl Default for Vocoder {
    fn default() -> Self {
        Self::new()
    }
}

impl Vocoder {
    pub fn new() -> Self {
        let mut planner = RealFftPlanner::<f32>::new();
        let forward = planner.plan_fft_forward(N_FFT);
        let inverse = planner.plan_fft_inverse(N_FFT);
        let scratch_len = forward.get_scratch_len().max(inverse.get_scratch_len());
        let window = hann();
        let quarter = (N_FFT / 4) as f32;
        let window_squared: Vec<f32> = window.iter().map(|w| w * w).collect();
        let interior_norm = (0..HOP)
            .map(|i| norm((0..OVERLAP).map(|j| window_squared[j * HOP + i])))
            .collect();
        Self {
            forward,
            inverse,
            source_window: window.iter().map(|w| w / quarter).collect(),
            output_window: window.iter().map(|w| w / N_FFT as f32).collect(),
            window_squared,
            interior_norm,
            scratch: vec![Complex32::default(); scratch_len],
            spectrum: vec![Complex32::default(); BINS],
            frame: vec![0.0; N_FFT],
            padded: Vec::new(),
            sum: Vec::new(),
            terms: Terms::new(),
        }
    }

    /// The waveform of the model's spectra: `F × HOP` samples. `noise` gives the standard
    /// normals of Z (two per bin and frame); [`seeded_noise`] in use, zeros in tests.
    pub fn synth(
        &mut self,
        spectra: &Spectra,
        mut noise: impl FnMut() -> f32,
    ) -> Result<Vec<f32>, String> {
        let frames = spectra.frames();
        let len = frames * HOP;
        if frames == 0 {
            return Ok(Vec::new());
        }
        self.pad_pulses(spectra.f0(), len);
        self.sum.clear();
        self.sum.resize((frames + OVERLAP - 1) * HOP, 0.0);
        for first in (0..frames).step_by(BLOCK) {
            let count = BLOCK.min(frames - first);
            self.terms.compute(spectra, first, count, &mut noise);
            for k in first..first + count {
                self.frame_into_sum(k, k - first)?;
            }
        }
        Ok(self.normalised(frames))
    }

    /// One frame: the pulse train's spectrum through the harmonic filter, plus the added
    /// terms (column `column` of `terms`), back to samples, windowed, added into `sum`.
    fn frame_into_sum(&mut self, k: usize, column: usize) -> Result<(), String> {
        let source = &self.padded[k * HOP..k * HOP + N_FFT];
        for ((out, &x), &w) in self.frame.iter_mut().zip(source).zip(&self.source_window) {
            *out = x * w;
        }
        self.forward
            .process_with_scratch(&mut self.frame, &mut self.spectrum, &mut self.scratch)
            .map_err(|e| e.to_string())?;
        let terms = &self.terms;
        for (bin, s) in self.spectrum.iter_mut().enumerate() {
            let i = bin * BLOCK + column;
            let (h_re, h_im) = (terms.harmonic_re[i], terms.harmonic_im[i]);
            *s = Complex32::new(
                s.re * h_re - s.im * h_im + terms.added_re[i],
                s.re * h_im + s.im * h_re + terms.added_im[i],
            );
        }
        // A real signal's DC and Nyquist bins are real; the inverse FFT ignores the rest.
        self.spectrum[0].im = 0.0;
        self.spectrum[BINS - 1].im = 0.0;
        self.inverse
            .process_with_scratch(&mut self.spectrum, &mut self.frame, &mut self.scratch)
            .map_err(|e| e.to_string())?;
        let target = &mut self.sum[k * HOP..k * HOP + N_FFT];
        for ((out, &x), &w) in target.iter_mut().zip(&self.frame).zip(&self.output_window) {
            *out += x * w;
        }
        Ok(())
    }

    /// `padded` = the pulse train with reflect padding (numpy's `reflect`: the edge sample
    /// is not repeated) of `N_FFT/2` either side, as torch's centred STFT pads.
    fn pad_pulses(&mut self, f0: &[f32], len: usize) {
        let pad = N_FFT / 2;
        self.padded.clear();
        self.padded.resize(len + 2 * pad, 0.0);
        pulses(f0, &mut self.padded[pad..pad + len]);
        let period = 2 * (len - 1);
        for i in (0..pad).chain(pad + len..len + 2 * pad) {
            // The signal extended by mirroring at both ends, periodically: the index
            // i − pad folded into 0..len (len ≥ HOP, so the period is never 0).
            let m = (i + period * pad - pad) % period;
            let source = if m < len { m } else { period - m };
            self.padded[i] = self.padded[pad + source];
        }
    }

    /// The overlap-added frames divided by the summed squared window (torch.istft's
    /// normalisation), the centring padding cut off: `F × HOP` samples.
    fn normalised(&self, frames: usize) -> Vec<f32> {
        let first_block = N_FFT / 2 / HOP;
        let mut out = Vec::with_capacity(frames * HOP);
        for block in first_block..first_block + frames {
            let samples = &self.sum[block * HOP..(block + 1) * HOP];
            if block >= OVERLAP - 1 && block < frames {
                out.extend(samples.iter().zip(&self.interior_norm).map(|(x, n)| x * n));
            } else {
                // Near the ends fewer frames overlap.
                let covering = (0..OVERLAP).filter(|&j| j <= block && block - j < frames);
                out.extend(samples.iter().enumerate().map(|(i, x)| {
                    x * norm(covering.clone().map(|j| self.window_squared[j * HOP + i]))
                }));
            }
        }
        out
    }
}

/// 1 / Σ of the squared window values, summed in order (as the reference), floored at 1e-11.
fn norm(squares: impl Iterator<Item = f32>) -> f32 {
    1.0 / squares.fold(0.0, |sum, w2| sum + w2).max(1e-11)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn window_is_periodic_hann() {
        let w = hann();
        assert_eq!(w.len(), 1200);
        assert_eq!(w[0], 0.0);
        assert_eq!(w[300], 0.5);
        assert_eq!(w[600], 1.0);
        assert_eq!(w[900], 0.5);
        for n in 1..1200 {
            assert!((w[n] - w[1200 - n]).abs() <= 1e-7, "{n}");
        }
        let vocoder = Vocoder::new();
        assert_eq!(vocoder.source_window[600], 1.0 / 300.0);
        assert_eq!(vocoder.output_window[600], 1.0 / 1200.0);
    }

    #[test]
    fn overlap_normalisation() {
        let vocoder = Vocoder::new();
        // Four shifted squared Hann windows sum to 3/2 everywhere.
        for (i, n) in vocoder.interior_norm.iter().enumerate() {
            assert!((n - 2.0 / 3.0).abs() < 1e-6, "{i}: {n}");
        }
    }

    #[test]
    fn stft_then_ola_gives_back_a_constant() {
        // Spectra that pass the pulse train's STFT through unchanged (exp(0)·e^{0}) with no
        // free-phase branch (exp(−∞)), on a constant F0: the output is the pulse train
        // itself, scaled by 1/300 (the analysis window's gain), ends included.
        let frames = 6;
        let cells = BINS * frames;
        let spectra = Spectra::new(
            vec![0.0; cells],
            vec![0.0; cells],
            vec![-100.0; cells],
            vec![-100.0; cells],
            vec![0.0; cells],
            vec![100.0; frames],
            vec![3.0],
        )
        .unwrap();
        let out = Vocoder::new().synth(&spectra, || 0.0).unwrap();
        let mut expected = vec![0.0; frames * HOP];
        pulses(&[100.0; 6], &mut expected);
        assert_eq!(out.len(), 1800);
        for (i, (o, e)) in out.iter().zip(&expected).enumerate() {
            assert!((o * 300.0 - e).abs() < 1e-3, "{i}: {} vs {e}", o * 300.0);
        }
    }

    #[test]
    fn pulses_of_a_constant_f0() {
        // 100 Hz: one pulse every 240 samples, peaking at H − ½ = floor(11000/100) = 110
        // where the phase wraps, 0 half-way between them (sin(110.5·π)/2 − ½); values from
        // the reference's `dsp.pulses`.
        let mut out = vec![f32::NAN; 4 * HOP];
        pulses(&[100.0; 4], &mut out);
        assert_eq!(out[239], 110.0);
        assert_eq!(out[479], 110.0);
        assert!((out[119] - 0.0).abs() < 1e-3, "{}", out[119]);
        assert!(out.iter().all(|x| x.abs() <= 110.0));
    }

    #[test]
    fn unvoiced_frames_are_silent() {
        // Frame 1's second half ramps from 0 to 100 Hz: (j − 150 + ½)/300 · 100 > 40 from
        // j = 270 on.
        let mut out = vec![f32::NAN; 4 * HOP];
        pulses(&[0.0, 0.0, 100.0, 100.0], &mut out);
        assert!(out[..HOP + 270].iter().all(|&x| x == 0.0));
        assert!(
            (out[HOP + 270] - 2.736_333_6).abs() < 1e-4,
            "{}",
            out[HOP + 270]
        );
    }

    #[test]
    fn seeded_noise_repeats_and_is_standard() {
        let a: Vec<f32> = std::iter::repeat_with(seeded_noise(7))
            .take(20_000)
            .collect();
        let b: Vec<f32> = std::iter::repeat_with(seeded_noise(7))
            .take(20_000)
            .collect();
        assert_eq!(a, b);
        let mean = a.iter().sum::<f32>() / a.len() as f32;
        let variance = a.iter().map(|x| (x - mean) * (x - mean)).sum::<f32>() / a.len() as f32;
        assert!(
            mean.abs() < 0.05 && (variance - 1.0).abs() < 0.05,
            "{mean} {variance}"
        );
        let c: Vec<f32> = std::iter::repeat_with(seeded_noise(8)).take(20).collect();
        assert_ne!(a[..20], c[..]);
    }
}
