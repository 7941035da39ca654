//! `storyflow voices`: the text-to-speech voices installed in the TTS home.

use super::CommandResult;

#[derive(Debug, clap::Args)]
pub struct VoicesArgs {
    /// Print a JSON array instead of a table.
    #[arg(long)]
    pub json: bool,
}

/// Lists every usable voice (broken ones are logged and skipped). An empty list is not an
/// error, but says how to install the default voice.
pub fn run(args: VoicesArgs) -> CommandResult {
    let home = super::tts::home()?;
    let voices = tts::list_voices(&home)?;
    if args.json {
        println!("{}", serde_json::to_string_pretty(&voices)?);
        return Ok(());
    }
    if voices.is_empty() {
        eprintln!(
            "no voices in {}: run scripts/setup.sh to install {}",
            home.root().display(),
            tts::DEFAULT_VOICE_ID
        );
        return Ok(());
    }
    let id_width = voices.iter().map(|v| v.id.len()).max().unwrap_or(2).max(2);
    println!(
        "{:id_width$}  {:<6}  {:<7}  {:<28}  {:>6}  {:<7}  NAME",
        "ID", "GENDER", "TAG", "LANGUAGE", "RATE", "QUALITY"
    );
    for voice in &voices {
        let gender = match voice.gender {
            Some(tts::Gender::Female) => "Female",
            Some(tts::Gender::Male) => "Male",
            None => "-",
        };
        println!(
            "{:id_width$}  {:<6}  {:<7}  {:<28}  {:>6}  {:<7}  {}{}",
            voice.id,
            gender,
            voice.language,
            voice.language_name,
            voice.sample_rate,
            voice.quality.as_deref().unwrap_or("-"),
            voice.name,
            if voice.id == tts::DEFAULT_VOICE_ID {
                " (default)"
            } else {
                ""
            },
        );
    }
    Ok(())
}
