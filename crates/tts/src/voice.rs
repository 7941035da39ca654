//! Installed voices: the hibari voice `af_heart` (its folder in the TTS home) and Piper's
//! `ID.onnx` + `ID.onnx.json` pairs in the voices folder. Listing reads only small files (the
//! models are loaded on first use, by [`crate::engine`]); a broken JSON file or a pair with its
//! model missing is skipped with a warning, never fatal, so one bad file a user drops in cannot
//! hide the others.

use std::collections::HashMap;
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

use crate::error::TtsError;
use crate::hibari;
use crate::paths::TtsHome;
use crate::phonemes::PhonemeIdMap;
use crate::prosody::InferenceSettings;

/// The voice an unknown id falls back to first: the hibari voice, distilled from Kokoro's
/// `af_heart` (the editor's Kokoro naming: American English, female).
pub const DEFAULT_VOICE_ID: &str = hibari::VOICE_ID;

/// Piper's English voices whose speaker is known (their model files do not say), by dataset.
/// Multi-speaker datasets (arctic, libritts, vctk, ...) are absent: their gender varies.
const PIPER_GENDERS: [(&str, Gender); 25] = [
    ("alan", Gender::Male),
    ("alba", Gender::Female),
    ("amy", Gender::Female),
    ("bryce", Gender::Male),
    ("cori", Gender::Female),
    ("danny", Gender::Male),
    ("hfc_female", Gender::Female),
    ("hfc_male", Gender::Male),
    ("jenny_dioco", Gender::Female),
    ("joe", Gender::Male),
    ("john", Gender::Male),
    ("kathleen", Gender::Female),
    ("kristin", Gender::Female),
    ("kusal", Gender::Male),
    ("lessac", Gender::Female),
    ("ljspeech", Gender::Female),
    ("norman", Gender::Male),
    ("northern_english_male", Gender::Male),
    ("reza_ibrahim", Gender::Male),
    ("ryan", Gender::Male),
    ("sam", Gender::Male),
    ("semaine", Gender::Female),
    ("southern_english_female", Gender::Female),
    ("southern_english_male", Gender::Male),
    ("thorsten", Gender::Male),
];

/// Whose voice it is, as the editor's voice list shows it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub enum Gender {
    Female,
    Male,
}

/// How a voice is made, and so which pipeline speaks it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum VoiceKind {
    /// A Piper (VITS) model, phonemes from espeak-ng.
    Piper,
    /// The hibari model (spectra out, waveform by our DSP), phonemes from its own G2P.
    Hibari,
}

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
    /// The BCP 47 tag: `en-US`.
    pub language: String,
    /// `None` for a Piper voice whose speaker is not known (multi-speaker or unlisted).
    pub gender: Option<Gender>,
    pub kind: VoiceKind,
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
    let dataset = file.dataset.filter(|d| !d.is_empty());
    let gender = dataset.as_deref().and_then(piper_gender);
    let info = VoiceInfo {
        name: dataset.unwrap_or_else(|| id.clone()),
        id,
        language: language_code.replace('_', "-"),
        language_code,
        language_name,
        gender,
        kind: VoiceKind::Piper,
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

fn piper_gender(dataset: &str) -> Option<Gender> {
    PIPER_GENDERS
        .iter()
        .find(|(name, _)| *name == dataset)
        .map(|(_, gender)| *gender)
}

/// The hibari voice, when its folder holds the model and its vocabulary (the other files it
/// needs are checked when it loads).
fn hibari_voice(dir: &Path) -> Option<VoiceInfo> {
    let model_path = dir.join(hibari::model::MODEL_FILE);
    let config_path = dir.join(hibari::vocab::VOCAB_FILE);
    if !(model_path.is_file() && config_path.is_file()) {
        return None;
    }
    Some(VoiceInfo {
        id: hibari::VOICE_ID.to_owned(),
        name: "heart".to_owned(),
        language_code: "en_US".to_owned(),
        language_name: "English (United States)".to_owned(),
        language: "en-US".to_owned(),
        gender: Some(Gender::Female),
        kind: VoiceKind::Hibari,
        sample_rate: hibari::dsp::SAMPLE_RATE,
        quality: None,
        num_speakers: 1,
        model_path,
        config_path,
    })
}

/// Every usable voice in the TTS home, sorted by id: the hibari voice and the Piper voices.
pub fn list_voices(home: &TtsHome) -> Result<Vec<VoiceInfo>, TtsError> {
    let mut voices = piper_voices(&home.voices_dir())?;
    voices.extend(hibari_voice(&home.hibari_dir()));
    voices.sort_by(|a, b| a.id.cmp(&b.id));
    Ok(voices)
}

/// The usable Piper voices in `dir`. A missing folder has none. A config whose model is
/// missing, or whose JSON is broken, is skipped with a warning in the log.
fn piper_voices(dir: &Path) -> Result<Vec<VoiceInfo>, TtsError> {
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
    Ok(voices)
}

/// The voice a request gets, and a warning when it is not the one asked for.
#[derive(Debug, Clone, PartialEq)]
pub struct ResolvedVoice {
    pub voice: VoiceInfo,
    /// For the caller to show (e.g. in a task result): the requested voice was not found.
    pub warning: Option<String>,
}

/// The gender and language a Kokoro voice id asks for (`af_bella`: American English, female;
/// `bm_george`: British English, male), the ids the editor sends.
fn kokoro_wish(id: &str) -> Option<(Gender, &'static str)> {
    let mut chars = id.chars();
    let language = match chars.next()? {
        'a' => "en-US",
        'b' => "en-GB",
        _ => return None,
    };
    let gender = match chars.next()? {
        'f' => Gender::Female,
        'm' => Gender::Male,
        _ => return None,
    };
    (chars.next()? == '_').then_some((gender, language))
}

/// Finds `requested` among `voices`. A voice that is not installed is never an error: a
/// Kokoro id (`af_bella`) falls back to an installed voice of the same gender (its language
/// first, the default voice next), anything else (or no id) to [`DEFAULT_VOICE_ID`] when
/// installed, else the first listed; a warning (for the caller to log or show) says so when an
/// id was asked for. No voice at
/// all is [`TtsError::NoVoices`].
pub fn resolve_voice(
    voices: &[VoiceInfo],
    requested: Option<&str>,
    home: &TtsHome,
) -> Result<ResolvedVoice, TtsError> {
    let requested = requested.map(str::trim).filter(|id| !id.is_empty());
    if let Some(voice) = requested.and_then(|id| voices.iter().find(|v| v.id == id)) {
        return Ok(ResolvedVoice {
            voice: voice.clone(),
            warning: None,
        });
    }
    let default = || {
        voices
            .iter()
            .find(|v| v.id == DEFAULT_VOICE_ID)
            .or_else(|| voices.first())
    };
    let same_gender = requested
        .and_then(kokoro_wish)
        .and_then(|(gender, language)| {
            let of_gender = || voices.iter().filter(move |v| v.gender == Some(gender));
            of_gender()
                .find(|v| v.language == language)
                .or_else(|| default().filter(|v| v.gender == Some(gender)))
                .or_else(|| of_gender().next())
        });
    let fallback = same_gender
        .or_else(default)
        .ok_or_else(|| TtsError::NoVoices {
            dir: home.root().to_path_buf(),
        })?;
    let warning = requested.map(|id| {
        format!(
            "voice `{id}` is not installed; used `{}` instead",
            fallback.id
        )
    });
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

    /// A TTS home with an empty voices folder.
    fn home() -> (tempfile::TempDir, TtsHome) {
        let dir = tempfile::tempdir().unwrap();
        let home = TtsHome::new(dir.path());
        std::fs::create_dir(home.voices_dir()).unwrap();
        (dir, home)
    }

    #[test]
    fn lists_valid_pairs_with_their_details() {
        let (_dir, home) = home();
        let dir = home.voices_dir();
        write_voice(&dir, "en_US-joe-medium", JOE_JSON, true);
        let minimal = r#"{"audio": {"sample_rate": 16000}, "espeak": {"voice": "de"},
            "phoneme_id_map": {"_": [0], "^": [1], "$": [2]}}"#;
        write_voice(&dir, "de_DE-thorsten-x_low", minimal, true);
        std::fs::write(dir.join("notes.txt"), "x").unwrap();

        let voices = list_voices(&home).unwrap();
        let ids: Vec<&str> = voices.iter().map(|v| v.id.as_str()).collect();
        assert_eq!(ids, ["de_DE-thorsten-x_low", "en_US-joe-medium"]);
        let joe = &voices[1];
        assert_eq!(joe.name, "joe");
        assert_eq!(joe.language_code, "en_US");
        assert_eq!(joe.language, "en-US");
        assert_eq!(joe.gender, Some(Gender::Male));
        assert_eq!(joe.kind, VoiceKind::Piper);
        assert_eq!(joe.language_name, "English (United States)");
        assert_eq!(joe.sample_rate, 22050);
        assert_eq!(joe.quality.as_deref(), Some("medium"));
        assert_eq!(joe.model_path, dir.join("en_US-joe-medium.onnx"));
        let thorsten = &voices[0];
        assert_eq!(thorsten.name, "de_DE-thorsten-x_low");
        assert_eq!(thorsten.gender, None);
        assert_eq!(thorsten.language, "de-DE");
        assert_eq!(thorsten.language_code, "de_DE");
        assert_eq!(thorsten.language_name, "de_DE");
        assert_eq!(thorsten.quality.as_deref(), Some("x_low"));
        assert_eq!(thorsten.sample_rate, 16000);
    }

    #[test]
    fn the_hibari_voice_is_listed_when_its_model_and_vocabulary_are_there() {
        let (_dir, home) = home();
        write_voice(&home.voices_dir(), "en_US-joe-medium", JOE_JSON, true);
        std::fs::create_dir(home.hibari_dir()).unwrap();
        std::fs::write(home.hibari_dir().join(hibari::model::MODEL_FILE), b"model").unwrap();
        let ids = |home: &TtsHome| -> Vec<String> {
            list_voices(home)
                .unwrap()
                .into_iter()
                .map(|v| v.id)
                .collect()
        };
        assert_eq!(ids(&home), ["en_US-joe-medium"]);
        std::fs::write(home.hibari_dir().join(hibari::vocab::VOCAB_FILE), b"{}").unwrap();
        assert_eq!(ids(&home), ["af_heart", "en_US-joe-medium"]);
        let heart = &list_voices(&home).unwrap()[0];
        assert_eq!(heart.kind, VoiceKind::Hibari);
        assert_eq!(heart.gender, Some(Gender::Female));
        assert_eq!(heart.language, "en-US");
        assert_eq!(heart.sample_rate, 24_000);
        assert_eq!(
            serde_json::to_value(heart).unwrap()["gender"],
            serde_json::json!("Female")
        );
    }

    #[test]
    fn broken_json_and_missing_models_are_skipped() {
        let (_home_dir, home) = home();
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
        let ids: Vec<String> = piper_voices(dir.path())
            .unwrap()
            .into_iter()
            .map(|v| v.id)
            .collect();
        assert_eq!(ids, ["good"]);
        assert_eq!(piper_voices(&dir.path().join("absent")).unwrap(), []);
        assert_eq!(list_voices(&home).unwrap(), []);
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

    fn info(id: &str, gender: Option<Gender>, language: &str) -> VoiceInfo {
        VoiceInfo {
            id: id.into(),
            name: id.into(),
            language_code: language.replace('-', "_"),
            language_name: "English".into(),
            language: language.into(),
            gender,
            kind: VoiceKind::Piper,
            sample_rate: 22050,
            quality: None,
            num_speakers: 1,
            model_path: PathBuf::from(format!("/v/{id}.onnx")),
            config_path: PathBuf::from(format!("/v/{id}.onnx.json")),
        }
    }

    fn resolved(voices: &[VoiceInfo], requested: Option<&str>) -> (String, Option<String>) {
        let got = resolve_voice(voices, requested, &TtsHome::new("/h")).unwrap();
        (got.voice.id, got.warning)
    }

    #[test]
    fn unknown_ids_fall_back_to_the_default_with_a_warning() {
        let voices = [
            info("a_voice", None, "en-US"),
            info(DEFAULT_VOICE_ID, Some(Gender::Female), "en-US"),
            info("z_voice", None, "en-US"),
        ];
        assert_eq!(resolved(&voices, Some("z_voice")), ("z_voice".into(), None));
        assert_eq!(resolved(&voices, None), (DEFAULT_VOICE_ID.into(), None));
        assert_eq!(
            resolved(&voices, Some("  ")),
            (DEFAULT_VOICE_ID.into(), None)
        );
        assert_eq!(
            resolved(&voices, Some("fr_FR-nobody")),
            (
                DEFAULT_VOICE_ID.into(),
                Some("voice `fr_FR-nobody` is not installed; used `af_heart` instead".into())
            )
        );
        assert_eq!(resolved(&voices[2..], Some("nope")).0, "z_voice");
        assert!(matches!(
            resolve_voice(&[], Some("nope"), &TtsHome::new("/h")),
            Err(TtsError::NoVoices { dir }) if dir == Path::new("/h")
        ));
    }

    #[test]
    fn kokoro_ids_fall_back_to_a_voice_of_the_same_gender() {
        let voices = [
            info(DEFAULT_VOICE_ID, Some(Gender::Female), "en-US"),
            info("en_GB-alan-low", Some(Gender::Male), "en-GB"),
            info("en_US-joe-medium", Some(Gender::Male), "en-US"),
        ];
        let voice = |id| resolved(&voices, Some(id)).0;
        assert_eq!(voice("af_bella"), "af_heart");
        assert_eq!(voice("bf_emma"), "af_heart");
        assert_eq!(voice("am_adam"), "en_US-joe-medium");
        assert_eq!(voice("bm_george"), "en_GB-alan-low");
        assert_eq!(
            resolved(&voices, Some("am_adam")).1.as_deref(),
            Some("voice `am_adam` is not installed; used `en_US-joe-medium` instead")
        );
        // No voice of the asked gender: the default speaks, still with a warning.
        assert_eq!(resolved(&voices[..1], Some("am_adam")).0, "af_heart");
        // Not a Kokoro id (language `j`, or no `_`): the default.
        assert_eq!(voice("jm_kumo"), "af_heart");
        assert_eq!(voice("amadam"), "af_heart");
        assert_eq!(kokoro_wish("bm_george"), Some((Gender::Male, "en-GB")));
        assert_eq!(kokoro_wish("af_"), Some((Gender::Female, "en-US")));
        assert_eq!(kokoro_wish("a"), None);
    }
}
