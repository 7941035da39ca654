//! Temporary outputs: a render (and its subtitle sidecars) is written under a hidden name
//! beside its destination and renamed into place only once complete, so a failed or
//! cancelled render never leaves a partial file under the real name.

use std::collections::hash_map::RandomState;
use std::hash::{BuildHasher, Hasher};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::OnceLock;

use crate::error::RenderError;

/// Temporary outputs are named `.<final name>.tmp-<pid>-<token>-<n>` (plus `.faststart` for the
/// muxer's scratch file) in the destination's folder, so a rename publishes them atomically.
/// A server can delete leftovers of a crashed run with [`is_temporary_output`].
pub const TEMP_OUTPUT_MARKER: &str = ".tmp-";

/// True for files a render writes temporarily (and removes itself unless the process dies).
pub fn is_temporary_output(path: &Path) -> bool {
    path.file_name()
        .and_then(|n| n.to_str())
        .is_some_and(|name| name.starts_with('.') && name.contains(TEMP_OUTPUT_MARKER))
}

/// A fresh temporary name for `path` in its folder (created if missing):
/// `.<name>.tmp-<pid>-<token>-<n>`, recognised by [`is_temporary_output`]. The token is
/// random per process: processes on two machines sharing a folder may have the same PID.
pub(crate) fn temporary_path(path: &Path) -> Result<PathBuf, RenderError> {
    static COUNTER: AtomicU64 = AtomicU64::new(0);
    let name = path
        .file_name()
        .ok_or_else(|| {
            RenderError::InvalidSpec(format!("output {} has no file name", path.display()))
        })?
        .to_string_lossy()
        .into_owned();
    let folder = match path.parent() {
        Some(p) if !p.as_os_str().is_empty() => p.to_path_buf(),
        _ => PathBuf::from("."),
    };
    std::fs::create_dir_all(&folder).map_err(|e| RenderError::io(&folder, e))?;
    static TOKEN: OnceLock<u32> = OnceLock::new();
    // std's hasher keys are drawn from the OS's randomness for each process.
    let token = *TOKEN.get_or_init(|| RandomState::new().build_hasher().finish() as u32);
    let n = COUNTER.fetch_add(1, Ordering::Relaxed);
    Ok(folder.join(format!(
        ".{name}{TEMP_OUTPUT_MARKER}{}-{token:08x}-{n}",
        std::process::id()
    )))
}

/// The temporary output and the muxer's scratch file; both are removed on drop unless the
/// output was moved into place.
pub(crate) struct TempOutput {
    pub(crate) file: PathBuf,
    pub(crate) faststart: PathBuf,
}

impl TempOutput {
    pub(crate) fn new(output: &Path) -> Result<TempOutput, RenderError> {
        let file = temporary_path(output)?;
        let mut faststart = file.clone().into_os_string();
        faststart.push(".faststart");
        Ok(TempOutput {
            file,
            faststart: faststart.into(),
        })
    }

    /// Flushes the file to disk and renames it over `output`; returns its size.
    pub(crate) fn persist(&self, output: &Path) -> Result<u64, RenderError> {
        let file = std::fs::File::open(&self.file).map_err(|e| RenderError::io(&self.file, e))?;
        file.sync_all()
            .map_err(|e| RenderError::io(&self.file, e))?;
        let size = file
            .metadata()
            .map_err(|e| RenderError::io(&self.file, e))?
            .len();
        std::fs::rename(&self.file, output).map_err(|e| RenderError::io(output, e))?;
        Ok(size)
    }
}

impl Drop for TempOutput {
    fn drop(&mut self) {
        for path in [&self.file, &self.faststart] {
            if let Err(e) = std::fs::remove_file(path) {
                if e.kind() != std::io::ErrorKind::NotFound {
                    log::warn!("cannot remove {}: {e}", path.display());
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn temporary_outputs_are_recognisable() {
        let dir = tempfile::tempdir().unwrap();
        let temp = TempOutput::new(&dir.path().join("final.mp4")).unwrap();
        let name = temp.file.file_name().unwrap().to_str().unwrap().to_string();
        assert!(name.starts_with(&format!(".final.mp4.tmp-{}-", std::process::id())));
        assert!(is_temporary_output(&temp.file));
        assert!(is_temporary_output(&temp.faststart));
        assert!(!is_temporary_output(&dir.path().join("final.mp4")));
        assert!(!is_temporary_output(Path::new("/media/.hidden.mp4")));
    }
}
