//! The output file: 16-bit PCM mono WAV at the voice's sample rate, streamed (each sentence's
//! samples are written as they come, so a long text never sits in memory whole) into a
//! temporary file beside the destination, and renamed over it only when complete, together
//! with its word timings ([`crate::timing::words_path`]). A failed or cancelled synthesis
//! drops the writer, which deletes the temporary file: no partial WAV is ever left at the
//! final path, and an earlier file there (and its words) survives.

use std::fs::File;
use std::io::BufWriter;
use std::path::{Path, PathBuf};

use tempfile::TempPath;

use crate::error::TtsError;
use crate::timing::{self, WordTiming};

/// A float sample (about −1…1) as a 16-bit PCM sample, clipped.
pub fn to_pcm16(sample: f32) -> i16 {
    if sample.is_nan() {
        return 0;
    }
    (sample.clamp(-1.0, 1.0) * 32767.0).round() as i16
}

/// A WAV being written to a temporary file next to its destination.
pub(crate) struct AtomicWav {
    writer: hound::WavWriter<BufWriter<File>>,
    temp: TempPath,
    destination: PathBuf,
    samples: u64,
}

impl AtomicWav {
    pub(crate) fn create(destination: &Path, sample_rate: u32) -> Result<Self, TtsError> {
        let (file, temp) = temp_beside(destination)?.into_parts();
        let spec = hound::WavSpec {
            channels: 1,
            sample_rate,
            bits_per_sample: 16,
            sample_format: hound::SampleFormat::Int,
        };
        let writer =
            hound::WavWriter::new(BufWriter::new(file), spec).map_err(|e| wav_error(&temp, e))?;
        Ok(Self {
            writer,
            temp,
            destination: destination.to_path_buf(),
            samples: 0,
        })
    }

    pub(crate) fn write(&mut self, samples: &[f32]) -> Result<(), TtsError> {
        let mut pcm = self.writer.get_i16_writer(samples.len() as u32);
        for &sample in samples {
            pcm.write_sample(to_pcm16(sample));
        }
        pcm.flush().map_err(|e| wav_error(&self.temp, e))?;
        self.samples += samples.len() as u64;
        Ok(())
    }

    pub(crate) fn write_silence(&mut self, samples: usize) -> Result<(), TtsError> {
        const BLOCK: [f32; 4096] = [0.0; 4096];
        let mut left = samples;
        while left > 0 {
            let n = left.min(BLOCK.len());
            self.write(&BLOCK[..n])?;
            left -= n;
        }
        Ok(())
    }

    pub(crate) fn samples(&self) -> u64 {
        self.samples
    }

    /// Completes the header, writes `words` beside it, syncs both, and renames them over the
    /// destination and its words file (replacing a stale one): both or neither. The WAV is
    /// renamed first; should the words file then fail to follow, the new WAV is removed too.
    pub(crate) fn commit(self, words: &[WordTiming]) -> Result<u64, TtsError> {
        let Self {
            writer,
            temp,
            destination,
            samples,
        } = self;
        let words_destination = timing::words_path(&destination);
        let words_temp = temp_beside(&words_destination)?;
        let (file, words_temp) = words_temp.into_parts();
        let mut out = BufWriter::new(file);
        serde_json::to_writer(&mut out, words)
            .map_err(std::io::Error::from)
            .and_then(|()| out.into_inner().map_err(|e| e.into_error()))
            .and_then(|file| file.sync_all())
            .map_err(|e| TtsError::io(words_temp.to_path_buf(), e))?;
        writer.finalize().map_err(|e| wav_error(&temp, e))?;
        File::open(&temp)
            .and_then(|f| f.sync_all())
            .map_err(|e| TtsError::io(temp.to_path_buf(), e))?;
        temp.persist(&destination)
            .map_err(|e| TtsError::io(&destination, e.error))?;
        if let Err(e) = words_temp.persist(&words_destination) {
            for orphan in [&destination, &words_destination] {
                if let Err(remove) = std::fs::remove_file(orphan) {
                    log::warn!("cannot remove {}: {remove}", orphan.display());
                }
            }
            return Err(TtsError::io(&words_destination, e.error));
        }
        Ok(samples)
    }
}

/// A new temporary file in the folder of `destination`, named after it (hidden, `.tmp`).
fn temp_beside(destination: &Path) -> Result<tempfile::NamedTempFile, TtsError> {
    let folder = match destination.parent() {
        Some(parent) if !parent.as_os_str().is_empty() => parent,
        _ => Path::new("."),
    };
    let name = destination
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .ok_or_else(|| {
            TtsError::io(
                destination,
                std::io::Error::new(std::io::ErrorKind::InvalidInput, "not a file path"),
            )
        })?;
    tempfile::Builder::new()
        .prefix(&format!(".{name}."))
        .suffix(".tmp")
        .tempfile_in(folder)
        .map_err(|e| TtsError::io(folder, e))
}

fn wav_error(path: &Path, error: hound::Error) -> TtsError {
    let source = match error {
        hound::Error::IoError(e) => e,
        other => std::io::Error::other(other.to_string()),
    };
    TtsError::io(path, source)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn floats_become_clipped_pcm16() {
        assert_eq!(to_pcm16(0.0), 0);
        assert_eq!(to_pcm16(0.5), 16384);
        assert_eq!(to_pcm16(-0.5), -16384);
        assert_eq!(to_pcm16(1.0), 32767);
        assert_eq!(to_pcm16(1.7), 32767);
        assert_eq!(to_pcm16(-3.0), -32767);
        assert_eq!(to_pcm16(f32::NAN), 0);
    }

    #[test]
    fn committed_file_is_a_complete_wav_and_no_temporary_is_left() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("out.wav");
        let mut wav = AtomicWav::create(&path, 22050).unwrap();
        wav.write(&[0.0, 0.5, -0.5]).unwrap();
        wav.write_silence(5000).unwrap();
        assert_eq!(wav.samples(), 5003);
        assert!(!path.exists(), "nothing at the destination before commit");
        let words_file = dir.path().join("out.words.json");
        std::fs::write(&words_file, b"stale").unwrap();
        let words = [WordTiming {
            word: "Hi.".into(),
            start: 0.0,
            end: 0.125,
        }];
        assert_eq!(wav.commit(&words).unwrap(), 5003);
        assert_eq!(
            std::fs::read_to_string(&words_file).unwrap(),
            r#"[{"word":"Hi.","start":0.0,"end":0.125}]"#
        );

        let reader = hound::WavReader::open(&path).unwrap();
        let spec = reader.spec();
        assert_eq!(
            (spec.channels, spec.sample_rate, spec.bits_per_sample),
            (1, 22050, 16)
        );
        assert_eq!(reader.duration(), 5003);
        let first: Vec<i16> = reader.into_samples().take(4).map(Result::unwrap).collect();
        assert_eq!(first, [0, 16384, -16384, 0]);
        let mut names: Vec<_> = std::fs::read_dir(dir.path())
            .unwrap()
            .map(|e| e.unwrap().file_name())
            .collect();
        names.sort();
        assert_eq!(names, ["out.wav", "out.words.json"]);
    }

    #[test]
    fn dropped_writer_leaves_nothing_and_keeps_the_old_file() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("out.wav");
        std::fs::write(&path, b"previous").unwrap();
        std::fs::write(dir.path().join("out.words.json"), b"[]").unwrap();
        let mut wav = AtomicWav::create(&path, 16000).unwrap();
        wav.write(&[0.25; 100]).unwrap();
        drop(wav);
        assert_eq!(std::fs::read(&path).unwrap(), b"previous");
        assert_eq!(std::fs::read_dir(dir.path()).unwrap().count(), 2);
    }

    #[test]
    fn missing_folder_is_an_io_error() {
        let dir = tempfile::tempdir().unwrap();
        let err = AtomicWav::create(&dir.path().join("no/such/out.wav"), 22050)
            .err()
            .unwrap();
        assert!(matches!(err, TtsError::Io { .. }), "{err}");
    }
}
