//! The subtitle sidecars: the render's cues as `.srt` and `.vtt` files next to the video, with
//! the video's base name, published atomically like the video itself.

use std::io::Write as _;
use std::path::{Path, PathBuf};

use crate::captions::subtitles::{to_srt, to_vtt, Cue};
use crate::chunks::temp_output::temporary_path;
use crate::error::RenderError;

/// Where the sidecars of a video live: `final.mp4` has `final.srt` and `final.vtt`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SubtitleFiles {
    pub srt: PathBuf,
    pub vtt: PathBuf,
}

impl SubtitleFiles {
    pub fn for_output(output: &Path) -> SubtitleFiles {
        SubtitleFiles {
            srt: output.with_extension("srt"),
            vtt: output.with_extension("vtt"),
        }
    }

    fn pairs(&self) -> [&Path; 2] {
        [&self.srt, &self.vtt]
    }
}

/// Both sidecars, written to temporary files first so that [`Staged::publish`] can move them
/// into place together with the video.
pub(crate) struct Staged {
    files: SubtitleFiles,
    temps: Vec<PathBuf>,
}

impl Staged {
    /// Writes `cues` in both formats to temporary files beside `output` and syncs them.
    pub fn write(output: &Path, cues: &[Cue]) -> Result<Staged, RenderError> {
        let files = SubtitleFiles::for_output(output);
        let mut staged = Staged {
            temps: Vec::with_capacity(2),
            files,
        };
        for (path, text) in [
            (&staged.files.srt, to_srt(cues)),
            (&staged.files.vtt, to_vtt(cues)),
        ] {
            let temp = temporary_path(path)?;
            // Recorded first: `Drop` removes it even if writing fails half-way.
            staged.temps.push(temp.clone());
            let mut file = std::fs::File::create(&temp).map_err(|e| RenderError::io(&temp, e))?;
            file.write_all(text.as_bytes())
                .and_then(|()| file.sync_all())
                .map_err(|e| RenderError::io(&temp, e))?;
        }
        Ok(staged)
    }

    /// Renames the temporary files over the sidecars.
    pub fn publish(mut self) -> Result<SubtitleFiles, RenderError> {
        for (temp, path) in self.temps.iter().zip(self.files.pairs()) {
            std::fs::rename(temp, path).map_err(|e| RenderError::io(path, e))?;
        }
        self.temps.clear();
        Ok(self.files.clone())
    }
}

impl Drop for Staged {
    fn drop(&mut self) {
        for temp in &self.temps {
            let _ = std::fs::remove_file(temp);
        }
    }
}

/// Removes sidecars left by an earlier render of `output` that had text, so a video without
/// text is never paired with another video's subtitles.
pub(crate) fn remove_stale(output: &Path) -> Result<(), RenderError> {
    for path in SubtitleFiles::for_output(output).pairs() {
        match std::fs::remove_file(path) {
            Err(e) if e.kind() != std::io::ErrorKind::NotFound => {
                return Err(RenderError::io(path, e));
            }
            _ => {}
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::captions::subtitles::{parse_srt, parse_vtt};

    fn cues() -> Vec<Cue> {
        vec![
            Cue {
                start: 0.0,
                end: 1.25,
                text: "Hello there,".into(),
                word_starts: Vec::new(),
            },
            Cue {
                start: 1.25,
                end: 2.5,
                text: "world.".into(),
                word_starts: Vec::new(),
            },
        ]
    }

    #[test]
    fn sidecars_share_the_video_base_name() {
        let files = SubtitleFiles::for_output(Path::new("/m/projects/p/output/final.mp4"));
        assert_eq!(files.srt, Path::new("/m/projects/p/output/final.srt"));
        assert_eq!(files.vtt, Path::new("/m/projects/p/output/final.vtt"));
        assert_eq!(
            SubtitleFiles::for_output(Path::new("out.mp4")).vtt,
            Path::new("out.vtt")
        );
    }

    #[test]
    fn staged_files_appear_only_when_published_and_read_back() {
        let dir = tempfile::tempdir().unwrap();
        let output = dir.path().join("final.mp4");
        let staged = Staged::write(&output, &cues()).unwrap();
        assert!(!dir.path().join("final.srt").exists());
        let files = staged.publish().unwrap();
        let srt = std::fs::read_to_string(&files.srt).unwrap();
        let vtt = std::fs::read_to_string(&files.vtt).unwrap();
        assert_eq!(parse_srt(&srt).unwrap(), cues());
        assert_eq!(parse_vtt(&vtt).unwrap(), cues());
        let mut names: Vec<_> = std::fs::read_dir(dir.path())
            .unwrap()
            .map(|e| e.unwrap().file_name().into_string().unwrap())
            .collect();
        names.sort();
        assert_eq!(names, ["final.srt", "final.vtt"]);

        // Dropped unpublished: nothing is left, the published files are untouched.
        drop(Staged::write(&output, &[]).unwrap());
        assert_eq!(std::fs::read_to_string(&files.srt).unwrap(), srt);
        assert_eq!(std::fs::read_dir(dir.path()).unwrap().count(), 2);

        remove_stale(&output).unwrap();
        remove_stale(&output).unwrap();
        assert_eq!(std::fs::read_dir(dir.path()).unwrap().count(), 0);
    }
}
