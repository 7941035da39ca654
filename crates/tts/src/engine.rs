//! The synthesis API: a [`Synthesizer`] trait (so callers can be tested with a fake) and
//! [`PiperEngine`], the real one: text → sentences → espeak-ng IPA → phoneme ids → ONNX model
//! → samples → WAV, one sentence at a time. The model's per-id durations place each word in
//! the clip (after the pauses written between sentences), for the words file beside the WAV.
//!
//! The engine is `Send + Sync` and meant to be shared (an `Arc`) by a background worker: it
//! loads each voice model once per process and keeps it, since loading the 63 MB default
//! model takes far longer than synthesising a sentence.

use std::collections::HashMap;
use std::ops::Range;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex, PoisonError};

use crate::error::TtsError;
use crate::espeak;
use crate::hibari::{self, voice::HibariVoice};
use crate::model::{self, VoiceModel};
use crate::paths::TtsHome;
use crate::phonemes;
use crate::prosody::{self, SentenceEnd, DEFAULT_SPEED};
use crate::text;
use crate::timing::{self, SpokenSpan, WordShape, WordTiming};
use crate::voice::{self, VoiceConfig, VoiceInfo, VoiceKind};
use crate::wav::AtomicWav;

/// What to say, in which voice, how fast.
#[derive(Debug, Clone, PartialEq)]
pub struct SpeechRequest {
    pub text: String,
    /// A voice id (`en_US-joe-medium`); `None` or unknown → the default voice.
    pub voice: Option<String>,
    /// [`prosody::MIN_SPEED`]..=[`prosody::MAX_SPEED`]; 1.0 is the voice's own pace.
    pub speed: f32,
}

impl SpeechRequest {
    /// The text in the default voice at normal speed.
    pub fn new(text: impl Into<String>) -> Self {
        Self {
            text: text.into(),
            voice: None,
            speed: DEFAULT_SPEED,
        }
    }

    pub fn with_voice(mut self, voice: impl Into<String>) -> Self {
        self.voice = Some(voice.into());
        self
    }

    pub fn with_speed(mut self, speed: f32) -> Self {
        self.speed = speed;
        self
    }
}

/// What was written.
#[derive(Debug, Clone, PartialEq)]
pub struct Speech {
    pub path: PathBuf,
    /// The voice actually used (see `warnings` when it differs from the request).
    pub voice_id: String,
    pub sample_rate: u32,
    pub samples: u64,
    pub duration_seconds: f64,
    /// Utterances synthesised (sentences, after long ones were cut).
    pub sentences: usize,
    /// Things the caller should show: a voice fallback, characters the voice cannot say.
    pub warnings: Vec<String>,
    /// When each word of the request text is heard: one entry per word of
    /// [`timing::text_words`], in order; also written beside the WAV
    /// ([`timing::words_path`]).
    pub words: Vec<WordTiming>,
}

/// Text to a WAV file.
pub trait Synthesizer: Send + Sync {
    /// Writes `request` as speech to `output`, and its word timings to
    /// [`timing::words_path`]`(output)` (atomically, both or neither: temporary files beside
    /// them, renamed when complete). `cancel` is consulted between sentences; when it returns
    /// true, synthesis stops after the current sentence with [`TtsError::Cancelled`] and no
    /// file is left.
    fn synthesize(
        &self,
        request: &SpeechRequest,
        output: &Path,
        cancel: &dyn Fn() -> bool,
    ) -> Result<Speech, TtsError>;
}

/// A Piper voice ready to speak: its settings and its loaded model.
#[derive(Debug)]
struct PiperVoice {
    config: VoiceConfig,
    model: VoiceModel,
}

/// A voice ready to speak.
#[derive(Debug)]
enum LoadedVoice {
    Piper(PiperVoice),
    // Boxed: the hibari voice is some 4 KB inline, a Piper voice 0.2 KB.
    Hibari(Box<HibariVoice>),
}

/// The installed voices run by ONNX Runtime: Piper voices (phonemes by espeak-ng) and the
/// hibari voice `af_heart` (phonemes by its own G2P, waveform by our DSP).
#[derive(Debug)]
pub struct PiperEngine {
    home: TtsHome,
    threads: usize,
    /// Loaded voices by model path; the lock is held while a voice loads, so concurrent
    /// first uses load it once.
    voices: Mutex<HashMap<PathBuf, Arc<LoadedVoice>>>,
}

impl PiperEngine {
    /// An engine over the voices and runtime in `home`. Nothing is loaded until the first
    /// synthesis, so a server starts even when TTS is not installed.
    pub fn new(home: TtsHome) -> Self {
        let threads = std::thread::available_parallelism().map_or(1, |n| n.get());
        Self {
            home,
            threads,
            voices: Mutex::new(HashMap::new()),
        }
    }

    /// Cores a voice may use (default: the available cores): a Piper voice's session runs on
    /// this many intra-op threads, the hibari voice speaks this many chunks at once.
    pub fn with_threads(mut self, threads: usize) -> Self {
        self.threads = threads.max(1);
        self
    }

    pub fn home(&self) -> &TtsHome {
        &self.home
    }

    /// The installed voices (see [`voice::list_voices`]).
    pub fn voices(&self) -> Result<Vec<VoiceInfo>, TtsError> {
        voice::list_voices(&self.home)
    }

    /// The installed voices, if synthesis can run at all: the runtime library is in place and
    /// at least one voice is. Cheap (no model is loaded), so a server can ask per request and
    /// answer "run scripts/setup.sh" instead of queueing work that cannot succeed.
    pub fn installed_voices(&self) -> Result<Vec<VoiceInfo>, TtsError> {
        let library = self.home.runtime_library();
        if !library.is_file() {
            return Err(TtsError::RuntimeMissing { path: library });
        }
        let voices = self.voices()?;
        if voices.is_empty() {
            return Err(TtsError::NoVoices {
                dir: self.home.root().to_path_buf(),
            });
        }
        Ok(voices)
    }

    /// Loads the runtime and a voice now (default voice when `voice` is `None`), to fail
    /// early or to take the load time out of the first request. Returns the fallback warning.
    pub fn preload(&self, voice: Option<&str>) -> Result<Option<String>, TtsError> {
        let resolved = voice::resolve_voice(&self.voices()?, voice, &self.home)?;
        self.load(&resolved.voice)?;
        Ok(resolved.warning)
    }

    fn load(&self, info: &VoiceInfo) -> Result<Arc<LoadedVoice>, TtsError> {
        let mut voices = self.voices.lock().unwrap_or_else(PoisonError::into_inner);
        if let Some(loaded) = voices.get(&info.model_path) {
            return Ok(Arc::clone(loaded));
        }
        let environment = model::environment(&self.home.runtime_library())?;
        let started = std::time::Instant::now();
        let loaded = match info.kind {
            VoiceKind::Piper => {
                let unusable = |path: &Path, reason: String| TtsError::Voice {
                    id: info.id.clone(),
                    path: path.to_path_buf(),
                    reason,
                };
                let (config, _) = voice::load_config(&info.config_path)
                    .map_err(|reason| unusable(&info.config_path, reason))?;
                let model = VoiceModel::load(&environment, &info.model_path, 1, self.threads)
                    .map_err(|reason| unusable(&info.model_path, reason))?;
                LoadedVoice::Piper(PiperVoice { config, model })
            }
            // The hibari model is small and spreads poorly over ONNX Runtime's threads: one
            // single-threaded session per core, each speaking its own chunk, was 7-9% faster
            // on the bench story than one session on every core (and ~6% faster than two
            // sessions on every core). A Piper model's large convolutions keep every core
            // busy in one session: a second one bought nothing and doubled its memory.
            VoiceKind::Hibari => LoadedVoice::Hibari(Box::new(HibariVoice::load(
                &self.home.hibari_dir(),
                &environment,
                self.threads,
                1,
            )?)),
        };
        log::info!(
            "voice {} loaded in {:.2} s ({} threads)",
            info.id,
            started.elapsed().as_secs_f64(),
            self.threads
        );
        let loaded = Arc::new(loaded);
        voices.insert(info.model_path.clone(), Arc::clone(&loaded));
        Ok(loaded)
    }
}

impl Synthesizer for PiperEngine {
    fn synthesize(
        &self,
        request: &SpeechRequest,
        output: &Path,
        cancel: &dyn Fn() -> bool,
    ) -> Result<Speech, TtsError> {
        let speed = prosody::check_speed(request.speed)?;
        // Checks the text (empty, too long) before anything is loaded, for every voice.
        let sentences = text::sentences(&request.text, text::sentence_char_limit(speed))?;
        let resolved = voice::resolve_voice(&self.voices()?, request.voice.as_deref(), &self.home)?;
        if let Some(warning) = &resolved.warning {
            log::warn!("{warning}");
        }
        let take = Take {
            text: &request.text,
            speed,
            voice_id: resolved.voice.id.clone(),
            warnings: resolved.warning.into_iter().collect(),
        };
        let loaded = self.load(&resolved.voice)?;
        if cancel() {
            return Err(TtsError::Cancelled);
        }
        match &*loaded {
            LoadedVoice::Piper(voice) => speak_piper(voice, &sentences, take, output, cancel),
            LoadedVoice::Hibari(voice) => speak_hibari(voice, take, output, cancel),
        }
    }
}

/// One synthesis under way: what to say and what to report.
struct Take<'a> {
    text: &'a str,
    speed: f32,
    voice_id: String,
    warnings: Vec<String>,
}

impl Take<'_> {
    /// Times the words from what was spoken, writes the words file and the WAV together, and
    /// says what was written.
    fn finish(
        self,
        wav: AtomicWav,
        spans: &[SpokenSpan],
        sample_rate: u32,
        sentences: usize,
        output: &Path,
    ) -> Result<Speech, TtsError> {
        if sentences == 0 {
            return Err(TtsError::Unspeakable {
                voice: self.voice_id,
            });
        }
        let samples = wav.samples();
        let words = timing::word_timings(self.text, spans, sample_rate);
        wav.commit(&words)?;
        Ok(Speech {
            path: output.to_path_buf(),
            voice_id: self.voice_id,
            sample_rate,
            samples,
            duration_seconds: samples as f64 / f64::from(sample_rate),
            sentences,
            warnings: self.warnings,
            words,
        })
    }
}

/// The hibari voice: its own sentences, G2P and DSP (see [`HibariVoice`]).
fn speak_hibari(
    voice: &HibariVoice,
    take: Take<'_>,
    output: &Path,
    cancel: &dyn Fn() -> bool,
) -> Result<Speech, TtsError> {
    let mut wav = AtomicWav::create(output, hibari::dsp::SAMPLE_RATE)?;
    let words = timing::text_words(take.text);
    let started = std::time::Instant::now();
    let spoken = voice.speak(
        take.text,
        take.speed,
        &words,
        wav.samples(),
        &mut |samples| wav.write(samples),
        cancel,
    )?;
    log::debug!(
        "{} chunk(s) -> {:.2} s of audio in {:.3} s",
        spoken.chunks,
        wav.samples() as f64 / f64::from(hibari::dsp::SAMPLE_RATE),
        started.elapsed().as_secs_f64()
    );
    take.finish(
        wav,
        &spoken.spans,
        hibari::dsp::SAMPLE_RATE,
        spoken.chunks,
        output,
    )
}

/// A Piper voice: sentence by sentence through espeak-ng, with pauses between sentences.
fn speak_piper(
    voice: &PiperVoice,
    sentences: &[text::Sentence],
    mut take: Take<'_>,
    output: &Path,
    cancel: &dyn Fn() -> bool,
) -> Result<Speech, TtsError> {
    let config = &voice.config;
    let speed = take.speed;
    let voice_id = take.voice_id.clone();
    let scales = prosody::scales(&config.inference, speed);
    let text_words = timing::text_words(take.text);
    let links = timing::link_clause_words(&text_words, sentences);
    let mut spans: Vec<SpokenSpan> = Vec::with_capacity(text_words.len());
    let mut wav = AtomicWav::create(output, config.sample_rate)?;
    let mut pending_pause: Option<SentenceEnd> = None;
    let mut spoken = 0;
    let mut missing: Vec<char> = Vec::new();
    for (sentence, links) in sentences.iter().zip(&links) {
        let texts: Vec<&str> = sentence.clauses.iter().map(|c| c.text.as_str()).collect();
        let ipa = espeak::phonemize(&config.espeak_voice, &texts)?;
        let utterance = phonemes::utterance(
            ipa.iter()
                .map(String::as_str)
                .zip(sentence.clauses.iter().map(|c| c.punctuation)),
        );
        let ids = config.phoneme_id_map.ids(&utterance.phonemes);
        for c in ids.missing {
            if !missing.contains(&c) {
                missing.push(c);
            }
        }
        if ids.spoken == 0 {
            log::debug!("nothing to say in {:?}", sentence.to_text());
        } else {
            if let Some(end) = pending_pause.take() {
                wav.write_silence(prosody::pause_samples(end, speed, config.sample_rate))?;
            }
            let started = std::time::Instant::now();
            let inference =
                voice
                    .model
                    .infer(&ids.ids, scales)
                    .map_err(|reason| TtsError::Inference {
                        voice: voice_id.clone(),
                        reason,
                    })?;
            let samples = &inference.samples;
            log::debug!(
                "{} ids -> {:.2} s of audio in {:.3} s",
                ids.ids.len(),
                samples.len() as f64 / f64::from(config.sample_rate),
                started.elapsed().as_secs_f64()
            );
            let boundaries = id_boundaries(&inference, ids.ids.len());
            let offset = wav.samples();
            for (clause, (clause_text, links)) in texts.iter().zip(links).enumerate() {
                let sounds = clause_sounds(&utterance, &ids.starts, clause, |id| {
                    offset + boundaries[id]
                });
                spans.extend(timing::clause_spans(links, &sounds, || {
                    word_shapes(&config.espeak_voice, clause_text)
                })?);
            }
            wav.write(samples)?;
            spoken += 1;
            pending_pause = Some(sentence.end);
        }
        if cancel() {
            return Err(TtsError::Cancelled);
        }
    }
    if !missing.is_empty() {
        let list: String = missing.iter().collect();
        log::warn!("voice {voice_id} has no phoneme for {list:?}; skipped");
        take.warnings.push(format!(
            "voice `{voice_id}` skipped {} sound(s) it cannot pronounce",
            missing.len()
        ));
    }
    take.finish(wav, &spans, config.sample_rate, spoken, output)
}

/// Where each id of the utterance starts, in samples from its start (and, last, its end):
/// from the model's durations, or, for a model without them, as if every id lasted as long.
fn id_boundaries(inference: &model::Inference, ids: usize) -> Vec<u64> {
    let samples = inference.samples.len() as u64;
    match &inference.durations {
        Some(frames) => {
            let total: f32 = frames.iter().sum();
            if total <= 0.0 || !samples.is_multiple_of((total.round() as u64).max(1)) {
                log::debug!("{samples} samples are not a whole number of {total} frames");
            }
            timing::id_boundaries(frames, samples)
        }
        None => timing::id_boundaries(&vec![1.0; ids], samples),
    }
}

/// The words spoken for one clause of the utterance, each as the sample spans of its
/// phoneme characters (`starts`: see [`phonemes::PhonemeIds::starts`]; `at` gives the sample
/// at which an id starts).
fn clause_sounds(
    utterance: &phonemes::Utterance,
    starts: &[usize],
    clause: usize,
    at: impl Fn(usize) -> u64,
) -> Vec<Vec<Range<u64>>> {
    utterance
        .words
        .iter()
        .filter(|word| word.clause == clause)
        .map(|word| {
            word.chars
                .clone()
                .map(|c| at(starts[c])..at(starts[c + 1]))
                .collect()
        })
        .collect()
}

/// A clause's words each phonemised alone: how many words and sounds each becomes.
fn word_shapes(espeak_voice: &str, clause: &str) -> Result<Vec<WordShape>, TtsError> {
    let words: Vec<&str> = clause.split_whitespace().collect();
    Ok(espeak::phonemize(espeak_voice, &words)?
        .iter()
        .map(|ipa| {
            let (words, sounds) = phonemes::shape(ipa);
            WordShape { words, sounds }
        })
        .collect())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn assert_send_sync<T: Send + Sync>() {}

    #[test]
    fn engine_and_trait_objects_can_cross_threads() {
        assert_send_sync::<PiperEngine>();
        assert_send_sync::<Arc<dyn Synthesizer>>();
        assert_send_sync::<TtsError>();
    }

    #[test]
    fn request_builder_defaults() {
        let request = SpeechRequest::new("Hi.").with_voice("v").with_speed(1.5);
        assert_eq!(request.voice.as_deref(), Some("v"));
        assert_eq!(request.speed, 1.5);
        assert_eq!(SpeechRequest::new("x").speed, 1.0);
    }

    fn never() -> bool {
        false
    }

    #[test]
    fn request_errors_come_before_any_loading() {
        // An empty home: a bad request is refused before the (missing) voice is looked for.
        let home = tempfile::tempdir().unwrap();
        let engine = PiperEngine::new(TtsHome::new(home.path()));
        let out = home.path().join("out.wav");
        let err = engine
            .synthesize(&SpeechRequest::new("  \n "), &out, &never)
            .unwrap_err();
        assert!(matches!(err, TtsError::EmptyText), "{err}");
        let long = "x".repeat(text::MAX_TEXT_CHARS + 1);
        let err = engine
            .synthesize(&SpeechRequest::new(long), &out, &never)
            .unwrap_err();
        assert!(
            matches!(err, TtsError::TextTooLong { limit: 5000, .. }),
            "{err}"
        );
        let err = engine
            .synthesize(&SpeechRequest::new("Hi.").with_speed(2.5), &out, &never)
            .unwrap_err();
        assert!(matches!(err, TtsError::InvalidSpeed { .. }), "{err}");
        let err = engine
            .synthesize(&SpeechRequest::new("Hi."), &out, &never)
            .unwrap_err();
        assert!(matches!(err, TtsError::NoVoices { .. }), "{err}");
        assert!(!out.exists());
    }

    #[test]
    fn an_empty_home_is_not_ready() {
        let home = tempfile::tempdir().unwrap();
        let engine = PiperEngine::new(TtsHome::new(home.path()));
        let err = engine.installed_voices().unwrap_err();
        assert!(matches!(err, TtsError::RuntimeMissing { .. }), "{err}");
        let library = engine.home().runtime_library();
        std::fs::create_dir_all(library.parent().unwrap()).unwrap();
        std::fs::write(&library, b"").unwrap();
        let err = engine.installed_voices().unwrap_err();
        assert!(matches!(err, TtsError::NoVoices { .. }), "{err}");
        assert!(err.to_string().contains("scripts/setup.sh"));
    }

    #[test]
    fn missing_runtime_library_names_setup() {
        let home = tempfile::tempdir().unwrap();
        let voices = home.path().join("voices");
        std::fs::create_dir(&voices).unwrap();
        std::fs::write(
            voices.join("v.onnx.json"),
            r#"{"audio": {"sample_rate": 22050}, "espeak": {"voice": "en-us"},
                "phoneme_id_map": {"_": [0], "^": [1], "$": [2]}}"#,
        )
        .unwrap();
        std::fs::write(voices.join("v.onnx"), b"not a model").unwrap();
        // Only meaningful while this process has not loaded a runtime yet; the
        // integration tests cover the corrupt-model path with the real runtime.
        let engine = PiperEngine::new(TtsHome::new(home.path()));
        match engine.synthesize(
            &SpeechRequest::new("Hi."),
            &home.path().join("o.wav"),
            &never,
        ) {
            Err(err @ TtsError::RuntimeMissing { .. }) => {
                assert!(err.to_string().contains("run scripts/setup.sh"), "{err}");
            }
            Err(TtsError::Voice { .. }) => {} // a runtime was already loaded by another test
            other => panic!("unexpected {other:?}"),
        }
    }
}
