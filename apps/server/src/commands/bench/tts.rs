//! `storyflow bench --tts`: how much faster than realtime narration is synthesised, and the
//! memory it takes, on a ~60 s story in one voice (the default unless `--voice`).
//!
//! The voice model is loaded first and timed apart (a server pays that once per process);
//! then the story is synthesised to a WAV in a temporary folder and timed. Peak RSS is the
//! process's VmHWM right after, so it includes the loaded model and ONNX Runtime.

use std::time::Instant;

use tts::{PiperEngine, SpeechRequest, Synthesizer};

use super::common::peak_rss_kib;
use crate::commands::CommandResult;

/// Several paragraphs of ordinary narration, with numbers, quotes and abbreviations, about a
/// minute long when spoken.
pub const STORY: &str = "\
The lighthouse on Gull Point was built in 1887, and for more than a century it never once \
went dark. Its keeper, Mr. Elias Hart, climbed all 114 steps twice a day, at 6 a.m. and again \
at dusk.

One winter, a storm broke the great lens into seven pieces. \u{201C}We\u{2019}ll have it \
mended by Friday,\u{201D} said Dr. Amelia Reyes, the harbour engineer. Nobody believed her. \
The replacement glass had to come from Boston, 240 miles away, and the roads were buried \
under three feet of snow.

So the town improvised. Fishermen brought oil lamps; the baker lent his brightest lantern; \
children carried candles up the spiral stairs in a long, flickering line. For 12 nights, the \
light was a patchwork of borrowed flames, and not a single ship was lost.

When the new lens finally arrived, it cost $3,500, nearly half the town\u{2019}s yearly \
budget. Was it worth it? Ask any sailor who has seen that beam sweep across the water at \
midnight, and they will tell you the same thing: a light is only as strong as the people who \
keep it burning.";

pub fn run(voice: Option<&str>) -> CommandResult {
    let engine = PiperEngine::new(crate::commands::tts::home()?);
    eprintln!(
        "loading the voice {} from {}",
        voice.unwrap_or(tts::DEFAULT_VOICE_ID),
        engine.home().root().display()
    );
    let started = Instant::now();
    if let Some(warning) = engine.preload(voice)? {
        eprintln!("warning: {warning}");
    }
    let load_seconds = started.elapsed().as_secs_f64();

    let dir = tempfile::tempdir()?;
    let output = dir.path().join("story.wav");
    eprintln!("synthesising {} characters of story", STORY.chars().count());
    let started = Instant::now();
    let mut request = SpeechRequest::new(STORY);
    request.voice = voice.map(str::to_owned);
    let speech = engine.synthesize(&request, &output, &|| false)?;
    let wall_seconds = started.elapsed().as_secs_f64();
    let peak_rss_mb = peak_rss_kib()? as f64 / 1024.0;
    let realtime = speech.duration_seconds / wall_seconds;
    let threads = std::thread::available_parallelism().map_or(1, |n| n.get());

    println!("audio seconds: {:.2}", speech.duration_seconds);
    println!("synthesis wall seconds: {wall_seconds:.2}");
    println!("realtime factor: {realtime:.1}x");
    println!("voice load seconds: {load_seconds:.2}");
    println!("peak RSS MB: {peak_rss_mb:.1}");
    println!(
        "{}",
        serde_json::json!({
            "voice": speech.voice_id,
            "characters": STORY.chars().count(),
            "sentences": speech.sentences,
            "threads": threads,
            "audio_seconds": speech.duration_seconds,
            "wall_seconds": wall_seconds,
            "realtime_factor": realtime,
            "voice_load_seconds": load_seconds,
            "peak_rss_mb": peak_rss_mb,
        })
    );
    Ok(())
}
