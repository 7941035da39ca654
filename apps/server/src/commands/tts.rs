//! `storyflow tts TEXT --output FILE`: speak a text into a WAV file from the shell, with the
//! same engine the server uses, and print what it took.

use std::io::Read;
use std::path::PathBuf;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::Instant;

use tts::{PiperEngine, SpeechRequest, Synthesizer, TtsHome};

use super::{BoxError, CommandResult};

#[derive(Debug, clap::Args)]
pub struct TtsArgs {
    /// The text to say; `-` reads it from standard input.
    pub text: String,
    /// Voice id (see `storyflow voices`); an unknown id falls back to the default, with a
    /// warning.
    #[arg(long)]
    pub voice: Option<String>,
    /// Speaking speed, 0.5 (slow) to 2.0 (fast).
    #[arg(long, default_value_t = tts::DEFAULT_SPEED)]
    pub speed: f32,
    /// The WAV file to write (replaced only once the new one is complete). The word
    /// timings are always written beside it too (`F.words.json` for `F.wav`).
    #[arg(short, long)]
    pub output: PathBuf,
    /// Also write the word timings here: `[{"word", "start", "end"}, ...]` in seconds.
    #[arg(long)]
    pub words: Option<PathBuf>,
}

/// The TTS home from the environment (`STORYFLOW_TTS_HOME`, `XDG_DATA_HOME`, `HOME`).
pub fn home() -> Result<TtsHome, BoxError> {
    TtsHome::from_env().ok_or_else(|| {
        format!(
            "cannot locate the TTS files: set {} or HOME",
            tts::paths::TTS_HOME_ENV
        )
        .into()
    })
}

/// Synthesises the text, prints the warnings on stderr and a one-line JSON summary (audio
/// duration, voice load time, synthesis wall time and realtime factor) on stdout. Ctrl-C cancels after the current
/// sentence, leaving no partial file.
pub fn run(args: TtsArgs) -> CommandResult {
    let text = if args.text == "-" {
        let mut text = String::new();
        std::io::stdin().read_to_string(&mut text)?;
        text
    } else {
        args.text
    };
    let engine = PiperEngine::new(home()?);
    let cancelled = Arc::new(AtomicBool::new(false));
    let on_interrupt = Arc::clone(&cancelled);
    ctrlc::set_handler(move || on_interrupt.store(true, Ordering::SeqCst))?;

    let mut request = SpeechRequest::new(text).with_speed(args.speed);
    request.voice = args.voice;
    let started = Instant::now();
    // Load the voice first (fallback warnings come again from `synthesize`), so the
    // realtime factor measures synthesis alone.
    engine.preload(request.voice.as_deref())?;
    let load_seconds = started.elapsed().as_secs_f64();
    let started = Instant::now();
    let speech = engine.synthesize(&request, &args.output, &|| cancelled.load(Ordering::SeqCst))?;
    let wall_seconds = started.elapsed().as_secs_f64();
    if let Some(path) = &args.words {
        std::fs::write(path, serde_json::to_vec_pretty(&speech.words)?)
            .map_err(|err| format!("cannot write {}: {err}", path.display()))?;
    }
    for warning in &speech.warnings {
        eprintln!("warning: {warning}");
    }
    println!(
        "{}",
        serde_json::json!({
            "output_path": speech.path,
            "voice": speech.voice_id,
            "speed": request.speed,
            "sample_rate": speech.sample_rate,
            "samples": speech.samples,
            "duration_seconds": speech.duration_seconds,
            "sentences": speech.sentences,
            "words": speech.words.len(),
            "words_path": args.words.as_ref().unwrap_or(&tts::words_path(&speech.path)),
            "warnings": speech.warnings,
            "voice_load_seconds": load_seconds,
            "wall_seconds": wall_seconds,
            "realtime_factor": speech.duration_seconds / wall_seconds,
        })
    );
    Ok(())
}
