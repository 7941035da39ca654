//! Installed voices: Piper's `ID.onnx` + `ID.onnx.json` pairs in a folder. Listing reads only
//! the small JSON files (the models are loaded on first use, by [`crate::engine`]); a broken
//! JSON file or a pair with its model missing is skipped with a warning, never fatal, so one
//! bad file a user drops in cannot hide the others.

use std::collections::HashMap;
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

use crate::error::TtsError;
use crate::phonemes::PhonemeIdMap;
use crate::prosody::InferenceSettings;

/// The voice `scripts/setup.sh` installs, and the one an unknown id falls back to.
pub const DEFAULT_VOICE_ID: &str = "en_US-joe-medium";

/// Piper's quality names, the last part of a voice id (`en_US-joe-medium`).
const QUALITIES: [&str; 4] = ["x_low", "low", "medium", "high"];

/// One installed voice, as a voice list shows it.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct VoiceInfo {
    /// The file stem: `en_US-joe-medium` for `en_US-joe-medium.onnx`.
    pub id: String,
    /// A display name: the voice's dataset (`joe`), else its id.
    pub name: String,
    /// `en_US`.
    pub language_code: String,
    /// `English (United States)`, or the code when the file does not say.
    pub language_name: String,
    pub sample_rate: u32,
    /// `x_low`, `low`, `medium` or `high` when the id or the file says.
    pub quality: Option<String>,
    pub num_speakers: u32,
    pub model_path: PathBuf,
    pub config_path: PathBuf,
}

/// What synthesis needs from a voice's `.onnx.json`.
#[derive(Debug, Clone, PartialEq)]
pub struct VoiceConfig {
    pub sample_rate: u32,
    /// The espeak-ng voice that makes the phonemes (`en-us`).
    pub espeak_voice: String,
    pub inference: InferenceSettings,
    pub phoneme_id_map: PhonemeIdMap,
    pub num_speakers: u32,
}

#[derive(Debug, Deserialize)]
struct ConfigFile {
    audio: AudioSection,
    #[serde(default)]
    espeak: Option<EspeakSection>,
    #[serde(default)]
    inference: InferenceSection,
    #[serde(default)]
    phoneme_type: Option<String>,
    phoneme_id_map: HashMap<String, Vec<i64>>,
    #[serde(default)]
    num_speakers: Option<u32>,
    #[serde(default)]
    language: Option<LanguageSection>,
    #[serde(default)]
    dataset: Option<String>,
}

#[derive(Debug, Deserialize)]
struct AudioSection {
    sample_rate: u32,
    #[serde(default)]
    quality: Option<String>,
}

#[derive(Debug, Deserialize)]
struct EspeakSection {
    voice: String,
}

#[derive(Debug, Default, Deserialize)]
struct InferenceSection {
    noise_scale: Option<f32>,
    length_scale: Option<f32>,
    noise_w: Option<f32>,
}

#[derive(Debug, Deserialize)]
struct LanguageSection {
    code: Option<String>,
    name_english: Option<String>,
    country_english: Option<String>,
}

/// A voice's id from its model or config file name (`x.onnx` or `x.onnx.json` → `x`).
fn voice_id(path: &Path) -> Option<String> {
    let name = path.file_name()?.to_str()?;
    let id = name.strip_suffix(".onnx.json")?;
    (!id.is_empty()).then(|| id.to_owned())
}

/// Reads and checks a voice's `.onnx.json`.
pub fn load_config(config_path: &Path) -> Result<(VoiceConfig, VoiceInfo), String> {
    let bytes = std::fs::read(config_path).map_err(|e| e.to_string())?;
    let file: ConfigFile = serde_json::from_slice(&bytes).map_err(|e| e.to_string())?;
    let id = voice_id(config_path).ok_or("the file name does not end in .onnx.json")?;
    if let Some(kind) = file.phoneme_type.as_deref().filter(|k| *k != "espeak") {
        return Err(format!(
            "phoneme_type {kind:?} is not supported (only espeak)"
        ));
    }
    if file.audio.sample_rate == 0 {
        return Err("audio.sample_rate is 0".into());
    }
    let defaults = InferenceSettings::default();
    let inference = InferenceSettings {
        noise_scale: file.inference.noise_scale.unwrap_or(defaults.noise_scale),
        length_scale: file.inference.length_scale.unwrap_or(defaults.length_scale),
        noise_w: file.inference.noise_w.unwrap_or(defaults.noise_w),
    };
    if !(inference.length_scale.is_finite() && inference.length_scale > 0.0) {
        return Err(format!(
            "inference.length_scale {} is not positive",
            inference.length_scale
        ));
    }
    let phoneme_id_map = PhonemeIdMap::from_json(&file.phoneme_id_map)?;
    let language = file.language.as_ref();
    let language_code = language
        .and_then(|l| l.code.clone())
        .unwrap_or_else(|| id.split('-').next().unwrap_or_default().to_owned());
    let language_name = match language.and_then(|l| l.name_english.clone()) {
        Some(name) => match language.and_then(|l| l.country_english.clone()) {
            Some(country) => format!("{name} ({country})"),
            None => name,
        },
        None => language_code.clone(),
    };
    let quality = id
        .rsplit('-')
        .next()
        .filter(|q| QUALITIES.contains(q) && id.contains('-'))
        .map(str::to_owned)
        .or(file.audio.quality);
    let num_speakers = file.num_speakers.unwrap_or(1).max(1);
    let espeak_voice = file
        .espeak
        .map(|e| e.voice)
        .filter(|v| !v.is_empty())
        .ok_or("espeak.voice is missing")?;
    let model_path = config_path.with_file_name(format!("{id}.onnx"));
    let info = VoiceInfo {
        name: file
            .dataset
            .filter(|d| !d.is_empty())
            .unwrap_or_else(|| id.clone()),
        id,
        language_code,
        language_name,
        sample_rate: file.audio.sample_rate,
        quality,
        num_speakers,
        model_path,
        config_path: config_path.to_path_buf(),
    };
    let config = VoiceConfig {
        sample_rate: file.audio.sample_rate,
        espeak_voice,
        inference,
        phoneme_id_map,
        num_speakers,
    };
    Ok((config, info))
}

/// The usable voices in `dir`, sorted by id. A missing folder has none. A config whose model
/// is missing, or whose JSON is broken, is skipped with a warning in the log.
pub fn list_voices(dir: &Path) -> Result<Vec<VoiceInfo>, TtsError> {
    let entries = match std::fs::read_dir(dir) {
        Ok(entries) => entries,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(Vec::new()),
        Err(e) => return Err(TtsError::io(dir, e)),
    };
    let mut voices = Vec::new();
    for entry in entries {
        let path = entry.map_err(|e| TtsError::io(dir, e))?.path();
        if voice_id(&path).is_none() {
            continue;
        }
        match load_config(&path) {
            Ok((_, info)) if info.model_path.is_file() => voices.push(info),
            Ok((_, info)) => log::warn!(
                "voice {}: model {} is missing; skipped",
                info.id,
                info.model_path.display()
            ),
            Err(reason) => log::warn!("voice config {}: {reason}; skipped", path.display()),
        }
    }
    voices.sort_by(|a, b| a.id.cmp(&b.id));
    Ok(voices)
}

/// The voice a request gets, and a warning when it is not the one asked for.
#[derive(Debug, Clone, PartialEq)]
pub struct ResolvedVoice {
    pub voice: VoiceInfo,
    /// For the caller to show (e.g. in a task result): the requested voice was not found.
    pub warning: Option<String>,
}

/// Finds `requested` among `voices`; an unknown (or no) id falls back to
/// [`DEFAULT_VOICE_ID`] when installed, else the first listed, with a warning for an unknown
/// id. No voice at all is [`TtsError::NoVoices`].
pub fn resolve_voice(
    voices: &[VoiceInfo],
    requested: Option<&str>,
    dir: &Path,
) -> Result<ResolvedVoice, TtsError> {
    let requested = requested.map(str::trim).filter(|id| !id.is_empty());
    if let Some(voice) = requested.and_then(|id| voices.iter().find(|v| v.id == id)) {
        return Ok(ResolvedVoice {
            voice: voice.clone(),
            warning: None,
        });
    }
    let fallback = voices
        .iter()
        .find(|v| v.id == DEFAULT_VOICE_ID)
        .or_else(|| voices.first())
        .ok_or_else(|| TtsError::NoVoices {
            dir: dir.to_path_buf(),
        })?;
    let warning = requested.map(|id| {
        format!(
            "voice `{id}` is not installed; used `{}` instead",
            fallback.id
        )
    });
    if let Some(warning) = &warning {
        log::warn!("{warning}");
    }
    Ok(ResolvedVoice {
        voice: fallback.clone(),
        warning,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    const JOE_JSON: &str = r#"{
        "audio": {"sample_rate": 22050, "quality": "medium"},
        "espeak": {"voice": "en-us"},
        "inference": {"noise_scale": 0.667, "length_scale": 1, "noise_w": 0.8},
        "phoneme_type": "espeak",
        "phoneme_id_map": {"_": [0], "^": [1], "$": [2], " ": [3], "a": [14]},
        "num_speakers": 1,
        "speaker_id_map": {},
        "language": {"code": "en_US", "name_english": "English", "country_english": "United States"},
        "dataset": "joe"
    }"#;

    fn write_voice(dir: &Path, id: &str, json: &str, with_model: bool) {
        std::fs::write(dir.join(format!("{id}.onnx.json")), json).unwrap();
        if with_model {
            std::fs::write(dir.join(format!("{id}.onnx")), b"model").unwrap();
        }
    }

    #[test]
    fn lists_valid_pairs_with_their_details() {
        let dir = tempfile::tempdir().unwrap();
        write_voice(dir.path(), "en_US-joe-medium", JOE_JSON, true);
        let minimal = r#"{"audio": {"sample_rate": 16000}, "espeak": {"voice": "de"},
            "phoneme_id_map": {"_": [0], "^": [1], "$": [2]}}"#;
        write_voice(dir.path(), "de_DE-thorsten-x_low", minimal, true);
        std::fs::write(dir.path().join("notes.txt"), "x").unwrap();

        let voices = list_voices(dir.path()).unwrap();
        let ids: Vec<&str> = voices.iter().map(|v| v.id.as_str()).collect();
        assert_eq!(ids, ["de_DE-thorsten-x_low", "en_US-joe-medium"]);
        let joe = &voices[1];
        assert_eq!(joe.name, "joe");
        assert_eq!(joe.language_code, "en_US");
        assert_eq!(joe.language_name, "English (United States)");
        assert_eq!(joe.sample_rate, 22050);
        assert_eq!(joe.quality.as_deref(), Some("medium"));
        assert_eq!(joe.model_path, dir.path().join("en_US-joe-medium.onnx"));
        let thorsten = &voices[0];
        assert_eq!(thorsten.name, "de_DE-thorsten-x_low");
        assert_eq!(thorsten.language_code, "de_DE");
        assert_eq!(thorsten.language_name, "de_DE");
        assert_eq!(thorsten.quality.as_deref(), Some("x_low"));
        assert_eq!(thorsten.sample_rate, 16000);
    }

    #[test]
    fn broken_json_and_missing_models_are_skipped() {
        let dir = tempfile::tempdir().unwrap();
        write_voice(dir.path(), "good", JOE_JSON, true);
        write_voice(dir.path(), "truncated", &JOE_JSON[..40], true);
        write_voice(dir.path(), "no_model", JOE_JSON, false);
        write_voice(
            dir.path(),
            "no_pad",
            r#"{"audio": {"sample_rate": 1},
            "espeak": {"voice": "en"}, "phoneme_id_map": {"^": [1], "$": [2]}}"#,
            true,
        );
        write_voice(
            dir.path(),
            "text_phonemes",
            &JOE_JSON.replace(r#""phoneme_type": "espeak""#, r#""phoneme_type": "text""#),
            true,
        );
        let ids: Vec<String> = list_voices(dir.path())
            .unwrap()
            .into_iter()
            .map(|v| v.id)
            .collect();
        assert_eq!(ids, ["good"]);
        assert_eq!(list_voices(&dir.path().join("absent")).unwrap(), []);
    }

    #[test]
    fn config_carries_what_synthesis_needs() {
        let dir = tempfile::tempdir().unwrap();
        let slow = JOE_JSON.replace(r#""length_scale": 1"#, r#""length_scale": 1.25"#);
        write_voice(dir.path(), "slow", &slow, true);
        let (config, _) = load_config(&dir.path().join("slow.onnx.json")).unwrap();
        assert_eq!(config.sample_rate, 22050);
        assert_eq!(config.espeak_voice, "en-us");
        assert_eq!(config.inference.length_scale, 1.25);
        assert_eq!(config.inference.noise_w, 0.8);
        assert_eq!(config.phoneme_id_map.len(), 5);
        assert_eq!(config.num_speakers, 1);
        let err = load_config(&dir.path().join("missing.onnx.json")).unwrap_err();
        assert!(err.contains("No such file"), "{err}");
    }

    fn info(id: &str) -> VoiceInfo {
        VoiceInfo {
            id: id.into(),
            name: id.into(),
            language_code: "en_US".into(),
            language_name: "English".into(),
            sample_rate: 22050,
            quality: None,
            num_speakers: 1,
            model_path: PathBuf::from(format!("/v/{id}.onnx")),
            config_path: PathBuf::from(format!("/v/{id}.onnx.json")),
        }
    }

    #[test]
    fn unknown_ids_fall_back_with_a_warning() {
        let dir = Path::new("/v");
        let voices = [info("a_voice"), info(DEFAULT_VOICE_ID), info("z_voice")];
        let got = resolve_voice(&voices, Some("z_voice"), dir).unwrap();
        assert_eq!((got.voice.id.as_str(), got.warning), ("z_voice", None));
        let got = resolve_voice(&voices, None, dir).unwrap();
        assert_eq!(
            (got.voice.id.as_str(), got.warning),
            (DEFAULT_VOICE_ID, None)
        );
        let got = resolve_voice(&voices, Some("  "), dir).unwrap();
        assert_eq!(
            (got.voice.id.as_str(), got.warning),
            (DEFAULT_VOICE_ID, None)
        );
        let got = resolve_voice(&voices, Some("fr_FR-nobody"), dir).unwrap();
        assert_eq!(got.voice.id, DEFAULT_VOICE_ID);
        assert_eq!(
            got.warning.as_deref(),
            Some("voice `fr_FR-nobody` is not installed; used `en_US-joe-medium` instead")
        );
        let got = resolve_voice(&voices[2..], Some("nope"), dir).unwrap();
        assert_eq!(got.voice.id, "z_voice");
        assert!(matches!(
            resolve_voice(&[], Some("nope"), dir),
            Err(TtsError::NoVoices { dir }) if dir == Path::new("/v")
        ));
    }
}
