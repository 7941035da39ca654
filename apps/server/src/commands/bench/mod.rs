//! `storyflow bench`: how close a render comes to the H.264 encoder's own speed, how much
//! memory it needs beside the encoder's, and where the renderer's own time goes.
//!
//! Two projects, rendered with every layer on (0.5 s crossfades, burned-in subtitles, the
//! logo; flags turn them off), both with speech-like 24 kHz narrations and subtitle text:
//! - `synthetic`: deterministic photo-like 1920x1080 JPEGs full of grain. x264 is slow on
//!   them, which hides the renderer's own cost;
//! - `photos`: five real photographs from the Debian package `mate-backgrounds` (install it
//!   with `scripts/bench-setup.sh`): JPEGs of 1680x1050 to 5640x3172 (17.9 MP, progressive),
//!   one re-encoded as a CMYK JPEG and one as a WebP at bench time, shown in turn when there
//!   are more `--segments`. x264 is fast on them.
//!
//! Each run renders a project, then times x264 alone on the same frames as fast as it goes:
//! the render's frames are decoded to a raw I420 scratch file first (untimed), then two
//! floors are timed, `raw file ! x264enc ! fakesink` and libx264 called directly on the same
//! frames, both with the render's preset and quality and x264's own threads and lookahead;
//! the faster is the reference the ratio is taken against (for very long benches, raw file
//! above 6 GiB, the timed pipeline includes the H.264 decoding instead, which flatters the
//! render a little; the output says which). The render and each floor run in a fresh child
//! process of this binary, so each peak RSS (VmHWM) is that job's alone; the render child
//! writes its project first and resets its VmHWM before rendering. All report their CPU
//! time. Several `--runs` alternate render and encoders so all see the same machine load.
//! Every run prints one JSON line; a summary line follows.
//!
//! Renders have background music (45 s, looped; `--no-music` leaves it out) and the default
//! loudness target; each run reports the sound pass's seconds and share of the render.
//!
//! `storyflow bench --edit` measures re-renders after small edits with the chunk cache
//! instead (see `edit`), `storyflow bench --tts` narration synthesis (see `tts`),
//! `storyflow bench --sound` the sound pass alone on a long timeline (see `sound`), and
//! `storyflow bench --cluster N` several projects over N worker processes (see `cluster`).
//!
//! Layout: this module only dispatches; `common` holds the arguments and the helpers every
//! mode uses, `render` the render-against-x264 runs, `edit`, `tts`, `sound` and `cluster`
//! the other modes.

mod cluster;
mod common;
mod edit;
mod render;
mod sound;
mod tts;

pub use common::BenchArgs;

use super::CommandResult;

pub fn run(args: BenchArgs) -> CommandResult {
    if args.tts {
        return tts::run(args.voice.as_deref());
    }
    if let Some(input) = &args.encoder_only {
        return render::encoder_only_child(&args, input);
    }
    if let Some(output) = &args.render_only {
        return render::render_child(&args, output);
    }
    if let Some(output) = &args.sound_only {
        return sound::sound_child(&args, output);
    }
    if args.segments == 0 || !args.seconds.is_finite() || args.seconds <= 0.0 || args.runs == 0 {
        return Err("--segments, --seconds and --runs must be above zero".into());
    }
    if args.edit {
        return edit::run(&args);
    }
    if args.sound {
        return sound::run(&args);
    }
    if let Some(workers) = args.cluster {
        return cluster::run(&args, workers);
    }
    render::run(&args)
}
