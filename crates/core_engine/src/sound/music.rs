//! The background music as an endless stream: the file decoded a block at a time and played
//! again from the start when it ends, the end crossfaded into the beginning so the loop
//! point does not click. Only the file's first moments (the crossfade) are kept in memory.

use std::path::{Path, PathBuf};

use crate::error::RenderError;
use crate::plan::spec::MIN_MUSIC_SECONDS;
use crate::plan::timeline::SAMPLE_RATE;
use crate::sound::audio::{count_samples, SampleReader};

/// The longest crossfade at the loop point, in seconds; a quarter of a shorter file.
pub const MAX_LOOP_CROSSFADE_SECONDS: f64 = 0.5;

/// The loop point's crossfade, in samples, for a music file of `length` samples.
pub fn loop_crossfade(length: u64) -> u64 {
    let longest = (MAX_LOOP_CROSSFADE_SECONDS * f64::from(SAMPLE_RATE)) as u64;
    longest.min(length / 4)
}

/// The looping music: the file's samples in order; after its last sample comes the sample
/// at `crossfade`, the file's last `crossfade` samples having been mixed, fading out, with
/// its first ones, fading in (linearly: a loop usually continues the same music, where
/// linear gains keep the level).
pub(crate) struct Music {
    path: PathBuf,
    /// Samples in the file (counted by decoding it once).
    length: u64,
    crossfade: u64,
    /// The file's first `crossfade` samples, interleaved stereo.
    head: Vec<f32>,
    reader: SampleReader,
    /// The file position of the next sample played.
    position: u64,
}

impl Music {
    /// Opens the music file; errors name it as the music. `length` is its decoded length in
    /// samples when already known ([`Music::length_of`]).
    pub fn open(
        path: &Path,
        length: Option<u64>,
        stop: &dyn Fn() -> bool,
    ) -> Result<Music, RenderError> {
        let length = match length {
            Some(length) => length,
            None => Self::length_of(path, stop)?,
        };
        let crossfade = loop_crossfade(length);
        let mut reader = SampleReader::open(path, None).map_err(|e| e.about_music(path))?;
        let mut head = vec![0.0; crossfade as usize * 2];
        let got = reader
            .read(&mut head, stop)
            .map_err(|e| e.about_music(path))?;
        if (got as u64) < crossfade {
            return Err(RenderError::Music {
                path: path.to_path_buf(),
                reason: "it decoded shorter the second time".into(),
            });
        }
        Ok(Music {
            path: path.to_path_buf(),
            length,
            crossfade,
            head,
            reader,
            position: 0,
        })
    }

    /// The music file's decoded length in samples; a file shorter than
    /// [`MIN_MUSIC_SECONDS`] is refused.
    pub fn length_of(path: &Path, stop: &dyn Fn() -> bool) -> Result<u64, RenderError> {
        let length = count_samples(path, None, stop).map_err(|e| e.about_music(path))?;
        let seconds = length as f64 / f64::from(SAMPLE_RATE);
        if seconds < MIN_MUSIC_SECONDS {
            return Err(RenderError::Music {
                path: path.to_path_buf(),
                reason: format!(
                    "it lasts {seconds:.2} s; background music must last at least \
                     {MIN_MUSIC_SECONDS} s"
                ),
            });
        }
        Ok(length)
    }

    /// Fills `out` (interleaved stereo) with the next samples of the loop.
    pub fn fill(&mut self, out: &mut [f32], stop: &dyn Fn() -> bool) -> Result<(), RenderError> {
        let frames = out.len() / 2;
        let fade_start = self.length - self.crossfade;
        let mut done = 0;
        while done < frames {
            if self.position >= self.length {
                self.restart(stop)?;
            }
            let block = &mut out[done * 2..];
            if self.position < self.crossfade {
                // The file's first moments, from memory (the reader is past them).
                let n = (frames - done).min((self.crossfade - self.position) as usize);
                let from = self.position as usize * 2;
                block[..n * 2].copy_from_slice(&self.head[from..from + n * 2]);
                self.position += n as u64;
                done += n;
                continue;
            }
            let run_end = if self.position < fade_start {
                fade_start
            } else {
                self.length
            };
            let n = (frames - done).min((run_end - self.position) as usize);
            let got = self
                .reader
                .read(&mut block[..n * 2], stop)
                .map_err(|e| e.about_music(&self.path))?;
            if got < n {
                // Decoding gave fewer samples than counted: silence, and round again.
                log::warn!(
                    "{}: decoded {} samples fewer than counted",
                    self.path.display(),
                    n - got
                );
                block[got * 2..n * 2].fill(0.0);
                self.position = self.length;
                done += n;
                continue;
            }
            if self.position >= fade_start {
                for k in 0..n {
                    let into = (self.position - fade_start) as usize + k;
                    let t = into as f32 / self.crossfade as f32;
                    for channel in 0..2 {
                        let sample = &mut block[k * 2 + channel];
                        *sample = *sample * (1.0 - t) + self.head[into * 2 + channel] * t;
                    }
                }
            }
            self.position += n as u64;
            done += n;
        }
        Ok(())
    }

    /// Back to the start: decodes the file again, skipping the crossfade already heard.
    fn restart(&mut self, stop: &dyn Fn() -> bool) -> Result<(), RenderError> {
        let music_error = |e: RenderError| e.about_music(&self.path);
        self.reader = SampleReader::open(&self.path, None).map_err(music_error)?;
        let mut skipped = vec![0.0; self.crossfade as usize * 2];
        self.reader.read(&mut skipped, stop).map_err(music_error)?;
        self.position = self.crossfade;
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_crossfade_is_half_a_second_or_a_quarter_of_a_short_file() {
        assert_eq!(loop_crossfade(48_000 * 180), 24_000);
        assert_eq!(loop_crossfade(48_000 * 2), 24_000);
        assert_eq!(loop_crossfade(72_000), 18_000);
        assert_eq!(loop_crossfade(48_000), 12_000);
    }

    /// A 1.25 s ramp (sample `i` = `i / 60000` on both channels) plays in order, then
    /// crossfades its last 0.3125 s with its first and goes on from there.
    #[test]
    fn loops_with_a_linear_crossfade_and_refuses_short_files() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("ramp.wav");
        let length = 60_000u64;
        let samples: Vec<i16> = (0..length).map(|i| (i / 4) as i16).collect();
        std::fs::write(&path, crate::sound::audio::wav_bytes(SAMPLE_RATE, &samples)).unwrap();
        let value = |i: u64| f32::from((i / 4) as i16) / 32768.0;
        let mut music = Music::open(&path, None, &|| false).unwrap();
        assert_eq!((music.length, music.crossfade), (60_000, 15_000));
        // Two and a half loops, in awkward blocks.
        let mut played = Vec::new();
        let mut block = vec![0.0; 2 * 7_777];
        while played.len() < 2 * 150_000 {
            music.fill(&mut block, &|| false).unwrap();
            played.extend_from_slice(&block);
        }
        let left = |n: usize| played[2 * n];
        assert!(played.chunks_exact(2).all(|pair| pair[0] == pair[1]));
        assert_eq!(left(0), value(0));
        assert_eq!(left(44_999), value(44_999));
        // Halfway through the crossfade: half the tail, half the head.
        let mid = 45_000 + 7_500;
        let expected = value(52_500) * 0.5 + value(7_500) * 0.5;
        assert!((left(mid) - expected).abs() < 1e-6, "{}", left(mid));
        // After the loop point the file goes on from the crossfade's end...
        assert_eq!(left(60_000), value(15_000));
        // ...for a loop of 45 000 samples.
        assert_eq!(left(60_000 + 45_000), left(60_000));
        assert_eq!(left(100_000), left(100_000 + 45_000));

        let short = dir.path().join("short.wav");
        std::fs::write(
            &short,
            crate::sound::audio::wav_bytes(SAMPLE_RATE, &samples[..40_000]),
        )
        .unwrap();
        let err = Music::open(&short, None, &|| false).map(drop).unwrap_err();
        assert_eq!(
            err.to_string(),
            format!(
                "cannot use background music {}: it lasts 0.83 s; background music must last \
                 at least 1 s",
                short.display()
            )
        );
        let missing = dir.path().join("missing.mp3");
        let err = Music::open(&missing, None, &|| false)
            .map(drop)
            .unwrap_err();
        assert!(
            matches!(&err, RenderError::Music { path, reason } if *path == missing && reason == "file not found"),
            "{err}"
        );
    }
}
