//! StoryFlow's offline neural text-to-speech: narration text → 16-bit mono WAV, with
//! Piper-format voices (VITS models in ONNX) run by ONNX Runtime and phonemes from espeak-ng.
//! Nothing is fetched at run time; `scripts/setup.sh` installs the runtime library, the
//! default voice and espeak-ng. The crate knows nothing of databases, HTTP or rendering.
//!
//! Table of contents:
//! - [`Synthesizer`], [`PiperEngine`], [`SpeechRequest`], [`Speech`] ([`engine`]): the API.
//! - [`TtsError`] ([`error`]): what went wrong, and what to run when it is the install.
//! - [`TtsHome`] ([`paths`]): where the runtime library and the voices live.
//! - [`voice`]: installed voices ([`list_voices`], [`resolve_voice`] with its fallback).
//! - Pure logic, no I/O: [`text`] (limits, normalisation, sentences and clauses),
//!   [`phonemes`] (IPA → model ids), [`prosody`] (speed range, scales, pauses),
//!   [`timing`] (word timings from what the voice spoke; also the words file beside each
//!   clip), [`wav::to_pcm16`].
//! - [`hibari`]: the `af_heart` voice (a port of hibari-tts): G2P, vocabulary, model, DSP.
//! - I/O stages: `espeak` (the C API, under one lock: the crate's only `unsafe`), `model`
//!   (ONNX Runtime session), [`wav`] (atomic streaming WAV file).

pub mod engine;
pub mod error;
#[allow(unsafe_code)]
mod espeak;
pub mod hibari;
mod model;
mod parallel;
pub mod paths;
pub mod phonemes;
pub mod prosody;
pub mod text;
pub mod timing;
pub mod voice;
pub mod wav;

pub use engine::{PiperEngine, Speech, SpeechRequest, Synthesizer};
pub use error::TtsError;
pub use paths::{TtsHome, ONNXRUNTIME_VERSION};
pub use prosody::{DEFAULT_SPEED, MAX_SPEED, MIN_SPEED};
pub use text::MAX_TEXT_CHARS;
pub use timing::{read_words, words_path, WordTiming, WORDS_EXTENSION};
pub use voice::{
    list_voices, resolve_voice, Gender, ResolvedVoice, VoiceInfo, VoiceKind, DEFAULT_VOICE_ID,
};
