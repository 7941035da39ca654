//! Real synthesis with the installed voices and runtime (put in place by `scripts/setup.sh`,
//! which CI runs first): the Piper voice `en_US-joe-medium` and the default voice `af_heart`.
//! Short texts keep the suite quick.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::OnceLock;

use tts::{PiperEngine, Speech, SpeechRequest, Synthesizer, TtsError, TtsHome, DEFAULT_VOICE_ID};

/// The Piper voice setup.sh installs.
const JOE: &str = "en_US-joe-medium";

fn home() -> TtsHome {
    let home = TtsHome::from_env().expect("HOME is not set");
    let voice = home.voices_dir().join(format!("{JOE}.onnx"));
    let heart = home.hibari_dir().join("hibari.onnx");
    for needed in [home.runtime_library(), voice, heart] {
        assert!(
            needed.is_file(),
            "{} is missing: run scripts/setup.sh to install the TTS runtime and default voice",
            needed.display()
        );
    }
    home
}

/// One engine for the whole file: the model loads once, as in the server.
fn engine() -> &'static PiperEngine {
    static ENGINE: OnceLock<PiperEngine> = OnceLock::new();
    ENGINE.get_or_init(|| PiperEngine::new(home()))
}

fn never() -> bool {
    false
}

/// `text` in joe's voice.
fn say(text: &str, speed: f32, dir: &Path) -> (Speech, Vec<i16>) {
    say_in(JOE, text, speed, dir)
}

fn say_in(voice: &str, text: &str, speed: f32, dir: &Path) -> (Speech, Vec<i16>) {
    let out = dir.join("speech.wav");
    let request = SpeechRequest::new(text).with_speed(speed).with_voice(voice);
    let speech = engine().synthesize(&request, &out, &never).unwrap();
    assert_eq!(speech.voice_id, voice);
    let reader = hound::WavReader::open(&out).unwrap();
    let spec = reader.spec();
    assert_eq!((spec.channels, spec.bits_per_sample), (1, 16));
    assert_eq!(spec.sample_rate, speech.sample_rate);
    let samples: Vec<i16> = reader.into_samples().map(Result::unwrap).collect();
    assert_eq!(samples.len() as u64, speech.samples);
    (speech, samples)
}

fn rms(samples: &[i16]) -> f64 {
    let sum: f64 = samples.iter().map(|&s| f64::from(s) * f64::from(s)).sum();
    (sum / samples.len().max(1) as f64).sqrt()
}

fn files_in(dir: &Path) -> Vec<PathBuf> {
    let mut files: Vec<PathBuf> = std::fs::read_dir(dir)
        .unwrap()
        .map(|e| e.unwrap().path())
        .collect();
    files.sort();
    files
}

#[test]
fn one_sentence_is_audible_speech_of_plausible_length() {
    let dir = tempfile::tempdir().unwrap();
    let (speech, samples) = say("The keeper lit the lamp.", 1.0, dir.path());
    assert_eq!(speech.sample_rate, 22050);
    assert_eq!(speech.sentences, 1);
    assert!(speech.warnings.is_empty(), "{:?}", speech.warnings);
    assert!(
        (0.8..4.0).contains(&speech.duration_seconds),
        "{} s",
        speech.duration_seconds
    );
    assert!(
        (speech.duration_seconds - samples.len() as f64 / 22050.0).abs() < 1e-9,
        "duration is samples / rate"
    );
    let level = rms(&samples);
    assert!(level > 500.0, "RMS {level:.0}: silent?");
    assert_eq!(
        files_in(dir.path()),
        [
            dir.path().join("speech.wav"),
            dir.path().join("speech.words.json")
        ]
    );
}

#[test]
fn sentences_with_numbers_and_quotes_each_become_speech() {
    let dir = tempfile::tempdir().unwrap();
    let (short, _) = say("It was 7.", 1.0, dir.path());
    let (speech, samples) = say(
        "It was 1987. \u{201C}Stop!\u{201D} she said. Was anyone hurt?",
        1.0,
        dir.path(),
    );
    assert_eq!(speech.sentences, 3);
    assert!(
        (3.0..12.0).contains(&speech.duration_seconds),
        "{} s",
        speech.duration_seconds
    );
    assert!(speech.duration_seconds > short.duration_seconds + 2.0);
    assert!(rms(&samples) > 500.0);
    // The pause after each sentence: 0.3 s of digital silence somewhere in the middle.
    let pause = 6615;
    let longest_silence = samples
        .split(|&s| s != 0)
        .map(<[i16]>::len)
        .max()
        .unwrap_or(0);
    assert!(
        longest_silence >= pause,
        "longest silence {longest_silence}"
    );
}

#[test]
fn faster_speech_is_shorter_and_slower_is_longer() {
    let dir = tempfile::tempdir().unwrap();
    let text = "The storm broke the great lens into seven pieces.";
    let (normal, _) = say(text, 1.0, dir.path());
    let (fast, _) = say(text, 2.0, dir.path());
    let (slow, _) = say(text, 0.5, dir.path());
    let ratio = fast.duration_seconds / normal.duration_seconds;
    assert!(
        (0.4..0.8).contains(&ratio),
        "2.0x gave {ratio:.2} of the length"
    );
    assert!(slow.duration_seconds > normal.duration_seconds * 1.5);
}

#[test]
fn cancelling_stops_after_the_current_sentence_and_leaves_no_file() {
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("speech.wav");
    std::fs::write(&out, b"earlier take").unwrap();
    let checks = AtomicUsize::new(0);
    let cancel_after_first_sentence = || checks.fetch_add(1, Ordering::SeqCst) >= 1;
    let err = engine()
        .synthesize(
            &SpeechRequest::new("One. Two. Three. Four.").with_voice(JOE),
            &out,
            &cancel_after_first_sentence,
        )
        .unwrap_err();
    assert!(matches!(err, TtsError::Cancelled), "{err}");
    assert_eq!(
        checks.load(Ordering::SeqCst),
        2,
        "checked before and after sentence one"
    );
    assert_eq!(std::fs::read(&out).unwrap(), b"earlier take");
    assert_eq!(files_in(dir.path()), [out]);
}

#[test]
fn unknown_voice_falls_back_to_the_default_with_a_warning() {
    let dir = tempfile::tempdir().unwrap();
    let speech = engine()
        .synthesize(
            &SpeechRequest::new("Hello.").with_voice("xx_XX-nobody-low"),
            &dir.path().join("a.wav"),
            &never,
        )
        .unwrap();
    assert_eq!(speech.voice_id, DEFAULT_VOICE_ID);
    assert_eq!(
        speech.warnings,
        ["voice `xx_XX-nobody-low` is not installed; used `af_heart` instead"]
    );
    // The editor's Kokoro ids: the installed voice of the same gender speaks.
    let speech = engine()
        .synthesize(
            &SpeechRequest::new("Hello.").with_voice("am_adam"),
            &dir.path().join("b.wav"),
            &never,
        )
        .unwrap();
    assert_eq!(speech.voice_id, JOE);
    assert_eq!(
        speech.warnings,
        ["voice `am_adam` is not installed; used `en_US-joe-medium` instead"]
    );
}

#[test]
fn text_in_a_script_the_voice_does_not_know_never_panics() {
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("cjk.wav");
    match engine().synthesize(
        &SpeechRequest::new("你好，世界。").with_voice(JOE),
        &out,
        &never,
    ) {
        Ok(speech) => assert!(speech.samples > 0),
        Err(err @ TtsError::Unspeakable { .. }) => assert!(!out.exists(), "{err}"),
        Err(other) => panic!("unexpected error {other}"),
    }
    let err = engine()
        .synthesize(&SpeechRequest::new("... -- !?"), &out, &never)
        .unwrap_err();
    assert!(matches!(err, TtsError::EmptyText), "{err}");
}

#[test]
fn a_corrupt_model_is_a_voice_error_naming_setup() {
    let real = home();
    let dir = tempfile::tempdir().unwrap();
    let voices = dir.path().join("voices");
    std::fs::create_dir(&voices).unwrap();
    std::os::unix::fs::symlink(
        real.runtime_library().parent().unwrap(),
        dir.path().join("onnxruntime"),
    )
    .unwrap();
    let config = real.voices_dir().join(format!("{JOE}.onnx.json"));
    std::fs::copy(config, voices.join("broken.onnx.json")).unwrap();
    std::fs::write(voices.join("broken.onnx"), b"this is not an ONNX model").unwrap();

    let engine = PiperEngine::new(TtsHome::new(dir.path()));
    assert_eq!(engine.voices().unwrap().len(), 1);
    let out = dir.path().join("out.wav");
    let err = engine
        .synthesize(&SpeechRequest::new("Hello."), &out, &never)
        .unwrap_err();
    assert!(
        matches!(err, TtsError::Voice { ref id, .. } if id == "broken"),
        "{err}"
    );
    assert!(err.to_string().contains("run scripts/setup.sh"), "{err}");
    assert!(!out.exists());
    // The whole chain, as the server prints it, says each cause once.
    let mut causes = vec![err.to_string()];
    let mut source = std::error::Error::source(&err);
    while let Some(cause) = source {
        causes.push(cause.to_string());
        source = cause.source();
    }
    let chain = causes.join(": ");
    for cause in &causes {
        assert_eq!(
            chain.matches(cause.as_str()).count(),
            1,
            "{cause} in {chain}"
        );
    }
}

#[test]
fn voices_lists_both_installed_voices() {
    let voices = engine().voices().unwrap();
    let joe = voices.iter().find(|v| v.id == JOE).expect("joe listed");
    assert_eq!(joe.name, "joe");
    assert_eq!(joe.language, "en-US");
    assert_eq!(joe.gender, Some(tts::Gender::Male));
    assert_eq!(joe.quality.as_deref(), Some("medium"));
    let heart = voices
        .iter()
        .find(|v| v.id == DEFAULT_VOICE_ID)
        .expect("default voice listed");
    assert_eq!(heart.gender, Some(tts::Gender::Female));
    assert_eq!(heart.kind, tts::VoiceKind::Hibari);
    assert_eq!(engine().preload(None).unwrap(), None);
}

/// Checks the word timings of a clip: one per text word, the same words in order, starts
/// non-decreasing, each within the clip, and the words file beside the WAV holding the same
/// list. A word ends with its last sound: what follows the last word is the closing full
/// stop's pause and the end token, together under a quarter of a second (the hop itself is
/// checked exactly in `model`'s tests: frames × 256 = samples).
fn check_words(text: &str, speech: &Speech) {
    let words = &speech.words;
    let expected: Vec<&str> = text.split_whitespace().collect();
    let got: Vec<&str> = words.iter().map(|w| w.word.as_str()).collect();
    assert_eq!(got, expected);
    for pair in words.windows(2) {
        assert!(pair[0].start <= pair[1].start, "{pair:?}");
    }
    for word in words {
        assert!(0.0 <= word.start && word.start <= word.end, "{word:?}");
        assert!(word.end <= speech.duration_seconds, "{word:?}");
    }
    let last = words.last().unwrap();
    assert!(
        speech.duration_seconds - last.end < 0.25,
        "last word ends at {} s, clip at {} s",
        last.end,
        speech.duration_seconds
    );
    assert_eq!(tts::read_words(&speech.path).unwrap().as_ref(), Some(words));
}

#[test]
fn every_text_word_gets_a_timing_and_the_words_file_sits_beside_the_wav() {
    let dir = tempfile::tempdir().unwrap();
    let text = "The keeper lit the lamp. Then the storm came, and the light went out.";
    let (speech, _) = say(text, 1.0, dir.path());
    check_words(text, &speech);
    assert_eq!(
        files_in(dir.path()),
        [
            dir.path().join("speech.wav"),
            dir.path().join("speech.words.json")
        ]
    );
    // The 0.3 s pause after the first sentence lies between "lamp." and "Then".
    let lamp = &speech.words[4];
    let then = &speech.words[5];
    assert!(then.start - lamp.end >= 0.3, "{lamp:?} {then:?}");
    // Every spoken word lasts a while: a few of the model's 11.6 ms frames at least (its
    // durations are drawn at random, and a quick "the" can take four).
    assert!(
        speech.words.iter().all(|w| w.end - w.start > 0.025),
        "{:?}",
        speech.words
    );
}

#[test]
fn tricky_text_still_gives_one_timing_per_text_word() {
    let dir = tempfile::tempdir().unwrap();
    let text = "In 1987, Dr. Smith paid $9.99 \u{2014} twice.";
    let (speech, _) = say(text, 1.0, dir.path());
    check_words(text, &speech);
    // "1987," is spoken as three words, all of them its own; the dash is not spoken.
    let [_, year, _, _, _, _, dash, twice] = &speech.words[..] else {
        panic!("{:?}", speech.words);
    };
    assert!(year.end - year.start > 0.6, "{year:?}");
    assert_eq!(dash.start, dash.end, "{dash:?}");
    assert!(twice.start >= dash.end);
}

#[test]
fn a_new_take_replaces_the_words_and_a_cancelled_one_leaves_the_old_pair() {
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("speech.wav");
    std::fs::write(tts::words_path(&out), b"stale").unwrap();
    let speech = engine()
        .synthesize(
            &SpeechRequest::new("Hello there.").with_voice(JOE),
            &out,
            &never,
        )
        .unwrap();
    check_words("Hello there.", &speech);
    let before = std::fs::read(tts::words_path(&out)).unwrap();
    let err = engine()
        .synthesize(
            &SpeechRequest::new("One. Two.").with_voice(JOE),
            &out,
            &|| true,
        )
        .unwrap_err();
    assert!(matches!(err, TtsError::Cancelled), "{err}");
    assert_eq!(std::fs::read(tts::words_path(&out)).unwrap(), before);
    assert_eq!(files_in(dir.path()), [out.clone(), tts::words_path(&out)]);
}

// The default voice, af_heart (hibari).

#[test]
fn the_default_voice_speaks_numbers_abbreviations_and_quotes() {
    let dir = tempfile::tempdir().unwrap();
    let text = "In 1987, Dr. Smith paid $9.99 for \u{201C}two\u{201D} lamps \u{2014} at 7:30 pm.";
    let (speech, samples) = say_in(DEFAULT_VOICE_ID, text, 1.0, dir.path());
    assert_eq!(speech.sample_rate, 24_000);
    assert!(speech.warnings.is_empty(), "{:?}", speech.warnings);
    // Spoken out in full ("nineteen eighty-seven", "doctor", "nine dollars and ninety-nine
    // cents", "seven thirty PM"): several seconds, not silent.
    assert!(
        (4.0..12.0).contains(&speech.duration_seconds),
        "{} s",
        speech.duration_seconds
    );
    assert!(rms(&samples) > 500.0, "RMS {:.0}: silent?", rms(&samples));
    check_words(text, &speech);
    // "1987," is one text word spoken as three: it lasts far longer than "Dr." or "for".
    let year = &speech.words[1];
    let doctor = &speech.words[2];
    assert!(year.end - year.start > 0.6, "{year:?}");
    assert!(doctor.end - doctor.start > 0.2, "{doctor:?}");
    // The dash is a pause the model makes, not a word: at most a few frames.
    let dash = &speech.words[9];
    assert!(dash.end - dash.start < 0.1, "{dash:?}");
}

#[test]
fn the_default_voice_is_deterministic_and_follows_the_speed() {
    let dir = tempfile::tempdir().unwrap();
    let text = "The storm broke the great lens into seven pieces. Nobody believed her.";
    let (normal, first) = say_in(DEFAULT_VOICE_ID, text, 1.0, dir.path());
    check_words(text, &normal);
    let (_, again) = say_in(DEFAULT_VOICE_ID, text, 1.0, dir.path());
    assert!(first == again, "the same text gave other samples");
    let (fast, _) = say_in(DEFAULT_VOICE_ID, text, 1.5, dir.path());
    let (slow, _) = say_in(DEFAULT_VOICE_ID, text, 0.7, dir.path());
    assert!(fast.duration_seconds < normal.duration_seconds * 0.85);
    assert!(slow.duration_seconds > normal.duration_seconds * 1.2);
    assert!(normal.words.iter().all(|w| w.end - w.start > 0.05));
}

#[test]
fn the_default_voice_cancels_between_sentences() {
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("speech.wav");
    let checks = AtomicUsize::new(0);
    let err = engine()
        .synthesize(&SpeechRequest::new("One. Two. Three."), &out, &|| {
            checks.fetch_add(1, Ordering::SeqCst) >= 1
        })
        .unwrap_err();
    assert!(matches!(err, TtsError::Cancelled), "{err}");
    assert_eq!(files_in(dir.path()), Vec::<PathBuf>::new());
}
