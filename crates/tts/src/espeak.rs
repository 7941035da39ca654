//! espeak-ng as a phonemiser, through its C API (`libespeak-ng.so.1`, Debian's
//! `libespeak-ng1`; headers and the link name from `libespeak-ng-dev`). This is the crate's
//! only `unsafe` code: three foreign functions, declared by hand (no bindgen, so no libclang
//! at build time).
//!
//! espeak-ng keeps global state (the selected voice, internal buffers, the pointer it hands
//! back) and is not thread-safe, so every call happens under one process-wide lock. It is
//! initialised once, in synchronous mode with no audio device, and told not to `exit()` when
//! its data is missing (`espeakINITIALIZE_DONT_EXIT`), so a broken install is an error here
//! rather than a dead process.

use std::ffi::{c_char, c_int, c_void, CStr, CString};
use std::sync::{Mutex, PoisonError};

use crate::error::TtsError;

/// `AUDIO_OUTPUT_SYNCHRONOUS` of `espeak_AUDIO_OUTPUT`: no audio device, no thread.
const AUDIO_OUTPUT_SYNCHRONOUS: c_int = 2;
/// `espeakINITIALIZE_DONT_EXIT`: report failures instead of calling `exit()`.
const INITIALIZE_DONT_EXIT: c_int = 0x8000;
/// `espeakCHARS_UTF8`.
const CHARS_UTF8: c_int = 1;
/// Phoneme mode bit 1: IPA, as UTF-8.
const PHONEMES_IPA: c_int = 0x02;
/// `EE_OK` of `espeak_ERROR`.
const EE_OK: c_int = 0;

#[link(name = "espeak-ng")]
extern "C" {
    /// Returns the sample rate, or -1 on failure. `path` NULL means the default data folder.
    fn espeak_Initialize(
        output: c_int,
        buflength: c_int,
        path: *const c_char,
        options: c_int,
    ) -> c_int;
    fn espeak_SetVoiceByName(name: *const c_char) -> c_int;
    /// Translates text up to the next clause end; advances `*textptr` past what it read, or
    /// sets it to NULL at the end of the text. The result lives in a static buffer that the
    /// next call overwrites.
    fn espeak_TextToPhonemes(
        textptr: *mut *const c_void,
        textmode: c_int,
        phonememode: c_int,
    ) -> *const c_char;
}

struct State {
    initialised: bool,
    voice: Option<String>,
}

/// The one lock around every espeak-ng call.
static ESPEAK: Mutex<State> = Mutex::new(State {
    initialised: false,
    voice: None,
});

/// IPA for each clause, in espeak-ng's `voice` (e.g. `en-us`), in one locked section. A clause
/// espeak-ng itself splits further (it stops at abbreviation dots, for one) comes back joined
/// with spaces: clause punctuation is the caller's business.
pub(crate) fn phonemize(voice: &str, clauses: &[&str]) -> Result<Vec<String>, TtsError> {
    let mut state = ESPEAK.lock().unwrap_or_else(PoisonError::into_inner);
    if !state.initialised {
        // SAFETY: espeak_Initialize takes plain integers and a NULL path (its default data
        // folder); it is called under the lock, once per successful initialisation.
        let rate = unsafe {
            espeak_Initialize(
                AUDIO_OUTPUT_SYNCHRONOUS,
                0,
                std::ptr::null(),
                INITIALIZE_DONT_EXIT,
            )
        };
        if rate <= 0 {
            return Err(TtsError::Phonemizer(
                "espeak_Initialize failed (is espeak-ng-data installed?)".into(),
            ));
        }
        state.initialised = true;
    }
    if state.voice.as_deref() != Some(voice) {
        let name = CString::new(voice)
            .map_err(|_| TtsError::Phonemizer(format!("invalid espeak voice name {voice:?}")))?;
        // SAFETY: `name` is a NUL-terminated string that outlives the call; espeak-ng copies
        // what it needs. Called under the lock after a successful initialisation.
        let status = unsafe { espeak_SetVoiceByName(name.as_ptr()) };
        if status != EE_OK {
            state.voice = None;
            return Err(TtsError::Phonemizer(format!(
                "espeak-ng has no voice `{voice}` (error {status})"
            )));
        }
        state.voice = Some(voice.to_owned());
    }
    clauses.iter().map(|clause| clause_ipa(clause)).collect()
}

/// One clause to IPA; only called with the lock held and a voice selected.
fn clause_ipa(text: &str) -> Result<String, TtsError> {
    let text = CString::new(text)
        .map_err(|_| TtsError::Phonemizer("text contains a NUL character".into()))?;
    let start = text.as_ptr();
    let end = start.wrapping_add(text.as_bytes().len());
    let mut cursor: *const c_void = start.cast();
    let mut chunks: Vec<String> = Vec::new();
    while !cursor.is_null() {
        let before = cursor;
        // SAFETY: `cursor` points into `text`, a NUL-terminated UTF-8 buffer alive for the
        // whole loop; espeak-ng only reads it and moves `cursor` forward within it (or sets it
        // to NULL). The lock is held, so no other thread touches espeak-ng's state.
        let ipa = unsafe { espeak_TextToPhonemes(&mut cursor, CHARS_UTF8, PHONEMES_IPA) };
        if !ipa.is_null() {
            // SAFETY: a non-NULL result is a NUL-terminated string in espeak-ng's static
            // buffer, valid until the next call, which happens only after this copy.
            let chunk = unsafe { CStr::from_ptr(ipa) }.to_string_lossy();
            let chunk = chunk.trim();
            if !chunk.is_empty() {
                chunks.push(chunk.to_owned());
            }
        }
        let moved_on = cursor.is_null() || (cursor > before && cursor.cast::<c_char>() <= end);
        if !moved_on {
            return Err(TtsError::Phonemizer(
                "espeak_TextToPhonemes did not advance through the text".into(),
            ));
        }
    }
    Ok(chunks.join(" "))
}

#[cfg(test)]
mod tests {
    use super::*;

    // These need libespeak-ng1 and espeak-ng-data (installed by scripts/setup.sh).

    #[test]
    fn numbers_and_abbreviations_are_spelled_out() {
        let ipa = phonemize("en-us", &["One winter", "in 1987", "Dr. Smith"]).unwrap();
        assert_eq!(
            ipa,
            [
                "wˈʌn wˈɪntɚ",
                "ɪn nˈaɪntiːnhˈʌndɹɪd ˈeɪɾi sˈɛvən",
                "dˈɑːktɚ smˈɪθ"
            ]
        );
    }

    #[test]
    fn unknown_voice_is_an_error_and_the_next_call_recovers() {
        let err = phonemize("xx-nowhere", &["hello"]).unwrap_err();
        assert!(err.to_string().contains("no voice `xx-nowhere`"), "{err}");
        assert_eq!(phonemize("en-us", &["hi"]).unwrap(), ["hˈaɪ"]);
    }

    #[test]
    fn empty_and_symbol_only_clauses_give_nothing_or_words() {
        let ipa = phonemize("en-us", &["", "\"'"]).unwrap();
        assert_eq!(ipa, ["", ""]);
    }
}
