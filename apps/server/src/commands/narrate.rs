//! What `import` and `render` share: a manifest's segments without `audio` are narrated from
//! their text with the installed text-to-speech voice before anything else happens.

use core_engine::manifest::Manifest;
use tts::PiperEngine;

use super::BoxError;

#[derive(Debug, clap::Args)]
pub struct NarrationArgs {
    /// Voice for segments the manifest gives no audio (see `storyflow voices`); an unknown id
    /// falls back to the default voice, with a warning.
    #[arg(long)]
    pub voice: Option<String>,
    /// Speaking speed for those segments, 0.5 (slow) to 2.0 (fast).
    #[arg(long, default_value_t = tts::DEFAULT_SPEED)]
    pub speed: f32,
}

/// Narrates the manifest's segments that have no audio into a temporary folder, which the
/// returned guard keeps until it is dropped (after the import or render has read the files).
/// `None` when every segment has its audio. Warnings go to stderr.
pub fn narrate(
    manifest: &mut Manifest,
    args: &NarrationArgs,
    cancel: &dyn Fn() -> bool,
) -> Result<Option<tempfile::TempDir>, BoxError> {
    let count = manifest.unnarrated().count();
    if count == 0 {
        return Ok(None);
    }
    eprintln!("narrating {count} segment(s) from their text");
    let engine = PiperEngine::new(super::tts::home()?);
    let folder = tempfile::tempdir()?;
    let warnings = api::tasks::narrate_manifest(
        manifest,
        &engine,
        args.voice.as_deref(),
        f64::from(args.speed),
        folder.path(),
        cancel,
    )?;
    for warning in warnings {
        eprintln!("warning: {warning}");
    }
    Ok(Some(folder))
}
