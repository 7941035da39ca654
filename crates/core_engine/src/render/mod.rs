//! The render job: analyse the narration, cut the video into chunks keyed by their content
//! (`chunk_plan`), reuse the chunks the cache has, encode the others, splice every chunk and
//! the narration into the output, verify it and move it into place.
//!
//! Threads (all scoped to one render):
//! - the caller's thread reports progress and checks for cancellation;
//! - `jobs` chunk workers each take the next chunk to encode, draw its frames (Ken Burns
//!   shots, crossfades, subtitles, logo; each picture decoded once and shared) and push them
//!   into that chunk's encoder, x264 in this process (one thread by default, so the same
//!   frames give the same bits on any machine);
//! - during the splice, one thread feeds the chunks' samples and another runs the sound
//!   pass: the narrations, the music and the loudness step, pushed a block at a time.
//!
//! Modules: `encode` (reuse, workers, splice), `frames` (pictures and frame drawing),
//! `sound_pass` (the sound track).

mod encode;
mod frames;
pub(crate) mod sound_pass;

use std::collections::{HashMap, HashSet};
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};
use std::time::Instant;

use crate::cancel::CancelToken;
use crate::captions::sidecar::{self, SubtitleFiles};
use crate::captions::subtitles::{timeline_cues, Cue};
use crate::chunks::chunk_cache::{self, ChunkCache};
use crate::chunks::exchange::ChunkExchange;
use crate::chunks::temp_output::{temporary_path, TempOutput};
use crate::chunks::verify::{self, Expected};
use crate::error::RenderError;
use crate::frame::image_source;
use crate::frame::logo::prepare_logo;
use crate::frame::overlay::YuvOverlay;
use crate::plan::chunk_plan::{self, Chunk, ChunkKey, PlanInputs};
use crate::plan::spec::RenderSpec;
use crate::plan::timeline::{Timeline, SAMPLE_RATE};
use crate::plan::transition::Transitions;
use crate::progress::Progress;
use crate::progress::{share, Reporter};
use crate::sound::audio;
use crate::sound::music::Music;
use crate::stats::RenderStats;

/// A finished, verified render.
#[derive(Debug, Clone, PartialEq)]
pub struct RenderOutput {
    pub output_path: PathBuf,
    /// Seconds, as read back from the file.
    pub duration: f64,
    /// Bytes.
    pub file_size: u64,
    /// Video frames.
    pub frames: u64,
    /// The `.srt` / `.vtt` sidecars, when the segments have text.
    pub subtitles: Option<SubtitleFiles>,
    /// Things the user may want to improve (e.g. a small picture enlarged a lot).
    pub warnings: Vec<String>,
    /// Where the video's chunks came from.
    pub chunks: ChunkCounts,
}

/// Where a render's chunks came from: the cache, its own encoders, or helpers.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ChunkCounts {
    /// In the cache before the render needed them.
    pub reused: usize,
    /// Encoded by this render.
    pub encoded: usize,
    /// Encoded for this render by helpers (see [`ChunkExchange`]).
    pub by_helpers: usize,
    /// The helpers and how many chunks each finished, as the exchange names them.
    pub helpers: Vec<(String, usize)>,
}

/// Renders `spec` into the MP4 `output`, atomically: the file appears only once it is
/// complete and verified, and an earlier file at `output` survives any failure.
///
/// `on_progress` is called on this thread at most ten times a second, and once more with
/// 100 % at the end. `cancel` is honoured within a second at any point
/// (`RenderError::Cancelled`).
pub fn render(
    spec: &RenderSpec,
    output: &Path,
    on_progress: &mut dyn FnMut(&Progress),
    cancel: &CancelToken,
) -> Result<RenderOutput, RenderError> {
    render_with(spec, output, &RenderOptions::default(), on_progress, cancel)
        .map(|(output, _)| output)
}

/// How a render encodes: where it keeps and finds encoded chunks, and how many it encodes
/// at once.
#[derive(Debug, Clone)]
pub struct RenderOptions {
    /// Encoded chunks are looked up here and added; `None` encodes every chunk (in a scratch
    /// folder beside the output, removed afterwards).
    pub cache: Option<ChunkCache>,
    /// Recorded as the user of the chunks this render needs (e.g. a project id), so that
    /// [`ChunkCache::release_owner`] can drop them with the project.
    pub owner: Option<String>,
    /// Chunks encoded at once, sharing the cores between them; at least 1.
    pub jobs: usize,
    /// Other processes that may encode some of the chunks into `cache` (which they must
    /// share); `None` encodes them all here.
    pub exchange: Option<Arc<dyn ChunkExchange>>,
}

impl Default for RenderOptions {
    fn default() -> Self {
        Self {
            cache: None,
            owner: None,
            jobs: default_jobs(),
            exchange: None,
        }
    }
}

/// One chunk encoder per core, each x264 on one thread: an encode on one thread has no
/// pipeline to fill and drain, so chunks, short ones included, cost what their frames cost,
/// and the encoders together keep every core busy (measured on 2 cores: faster than one
/// x264 with its own threads and lookahead on the whole video, see docs/architecture.md).
pub fn default_jobs() -> usize {
    cores()
}

fn cores() -> usize {
    std::thread::available_parallelism().map_or(1, |n| n.get())
}

/// [`render`] with `options`, also returning where the time went (for `storyflow bench`).
pub fn render_with(
    spec: &RenderSpec,
    output: &Path,
    options: &RenderOptions,
    on_progress: &mut dyn FnMut(&Progress),
    cancel: &CancelToken,
) -> Result<(RenderOutput, RenderStats), RenderError> {
    spec.validate()?;
    crate::chunks::pipeline::check_elements()?;
    let mut reporter = Reporter::new(on_progress);
    let started = Instant::now();
    let Prepared {
        timeline,
        transitions,
        cues,
        logo,
        mut warnings,
    } = prepare(spec, &mut reporter, cancel)?;
    // Checked before any video is encoded: a bad music file fails the render at once.
    let music_length = spec
        .sound
        .music
        .as_ref()
        .map(|music| Music::length_of(&music.path, &|| cancel.is_cancelled()))
        .transpose()?;
    let layers = Layers {
        transitions,
        cues: &cues,
        logo,
    };
    let jobs = options.jobs.max(1);
    let chunks = plan_chunks(spec, &timeline, &layers)?;
    // Without a cache, the chunks go to a scratch folder beside the output.
    let scratch;
    let cache = match &options.cache {
        Some(cache) => cache,
        None => {
            scratch = ScratchCache::new(output)?;
            &scratch.cache
        }
    };
    let temp = TempOutput::new(output)?;
    let stats = Mutex::new(RenderStats::default());
    let job = encode::Job {
        spec,
        timeline: &timeline,
        layers: &layers,
        chunks: &chunks,
        cache,
        jobs,
        music_length,
        exchange: options.exchange.as_deref(),
    };
    let (encode_warnings, chunk_counts) =
        encode::encode(&job, &temp, &mut reporter, cancel, &stats)?;
    warnings.extend(encode_warnings);
    if let Some(owner) = &options.owner {
        // Losing the record only keeps the chunks until they are evicted.
        if let Err(err) = cache.record_owner(owner, chunks.iter().map(|chunk| &chunk.key)) {
            log::warn!("cannot record the chunks {owner} uses: {err}");
        }
    }
    for warning in &warnings {
        log::warn!("{}: {warning}", output.display());
    }
    log::debug!(
        "encoded {} frames at {:.2?}",
        timeline.total_frames(),
        started.elapsed()
    );

    let total = spec.segments.len() as u32;
    let frames = timeline.total_frames();
    let status = |phase: &str, percentage: f64| Progress {
        current_segment: total,
        total_segments: total,
        phase: phase.to_string(),
        encoded_frames: frames,
        total_frames: frames,
        percentage,
    };
    reporter.update(status("Verifying", share::FINALISED), Instant::now());
    if cancel.is_cancelled() {
        return Err(RenderError::Cancelled);
    }
    let duration = verify::verify(
        &temp.file,
        &Expected {
            width: spec.width,
            height: spec.height,
            fps: spec.fps,
            duration: timeline.duration_seconds(),
        },
    )?;
    reporter.update(status("Saving", share::VERIFIED), Instant::now());
    let staged = match cues.is_empty() {
        true => None,
        false => Some(sidecar::Staged::write(output, &cues)?),
    };
    let file_size = temp.persist(output)?;
    let subtitles = match staged {
        Some(staged) => Some(staged.publish()?),
        None => {
            sidecar::remove_stale(output)?;
            None
        }
    };
    log::info!(
        "rendered {} ({} frames, {duration:.2} s) in {:.2?}",
        output.display(),
        frames,
        started.elapsed()
    );
    reporter.finish(status("Done", 100.0));
    let output = RenderOutput {
        output_path: output.to_path_buf(),
        duration,
        file_size,
        frames,
        subtitles,
        warnings,
        chunks: chunk_counts,
    };
    Ok((output, stats.into_inner().unwrap_or_default()))
}

/// What a render works out before drawing any frame.
#[derive(Debug)]
struct Prepared {
    timeline: Timeline,
    transitions: Transitions,
    cues: Vec<Cue>,
    logo: Option<YuvOverlay>,
    warnings: Vec<String>,
}

impl Prepared {
    /// What is drawn over the pictures, for drawing and for the chunk keys.
    fn layers(&self) -> Layers<'_> {
        Layers {
            transitions: self.transitions.clone(),
            cues: &self.cues,
            logo: self.logo.clone(),
        }
    }
}

/// Analyses the narrations and lays out the crossfades, captions and logo.
fn prepare(
    spec: &RenderSpec,
    reporter: &mut Reporter<'_>,
    cancel: &CancelToken,
) -> Result<Prepared, RenderError> {
    let started = Instant::now();
    let timeline = analyse(spec, reporter, cancel)?;
    log::debug!(
        "analysed {} narrations ({:.2} s of video) in {:.2?}",
        spec.segments.len(),
        timeline.duration_seconds(),
        started.elapsed()
    );
    let (transitions, mut warnings) = Transitions::plan(&timeline, spec.transition_duration);
    let (cues, caption_warnings) = timeline_cues(spec, &timeline);
    warnings.extend(caption_warnings);
    let logo = logo_overlay(spec, &mut warnings);
    Ok(Prepared {
        timeline,
        transitions,
        cues,
        logo,
        warnings,
    })
}

/// A render another process owns, planned here once (narrations analysed, layers laid out,
/// chunks keyed) so that a helper can encode several batches of its chunks without planning
/// again for each.
#[derive(Debug)]
pub struct PlannedRender {
    spec: RenderSpec,
    prepared: Prepared,
    chunks: Vec<Chunk>,
}

impl PlannedRender {
    pub fn new(spec: &RenderSpec, cancel: &CancelToken) -> Result<Self, RenderError> {
        spec.validate()?;
        crate::chunks::pipeline::check_elements()?;
        let mut quiet = |_: &Progress| {};
        let prepared = prepare(spec, &mut Reporter::new(&mut quiet), cancel)?;
        let chunks = plan_chunks(spec, &prepared.timeline, &prepared.layers())?;
        Ok(Self {
            spec: spec.clone(),
            prepared,
            chunks,
        })
    }

    /// The spec it was planned from: a helper plans again when the project has changed.
    pub fn spec(&self) -> &RenderSpec {
        &self.spec
    }

    /// Encodes into `cache` those of the render's chunks whose keys are in `wanted` and that
    /// `cache` does not have yet, `jobs` at once; returns the keys it added. Keys of `wanted`
    /// the plan does not have (planned from another version of the project) are left alone.
    pub fn encode(
        &self,
        cache: &ChunkCache,
        wanted: &HashSet<ChunkKey>,
        jobs: usize,
        cancel: &CancelToken,
    ) -> Result<Vec<ChunkKey>, RenderError> {
        let chunks = &self.chunks;
        let missing: Vec<usize> = (0..chunks.len())
            .filter(|&i| wanted.contains(&chunks[i].key) && cache.get(&chunks[i].key).is_none())
            .collect();
        if missing.is_empty() {
            return Ok(Vec::new());
        }
        let layers = self.prepared.layers();
        let job = encode::Job {
            spec: &self.spec,
            timeline: &self.prepared.timeline,
            layers: &layers,
            chunks,
            cache,
            jobs: jobs.max(1),
            music_length: None,
            exchange: None,
        };
        let mut quiet = |_: &Progress| {};
        let stats = Mutex::new(RenderStats::default());
        let encoded = encode::encode_only(
            &job,
            &missing,
            &mut Reporter::new(&mut quiet),
            cancel,
            &stats,
        )?;
        Ok(encoded
            .into_iter()
            .map(|index| chunks[index].key.clone())
            .collect())
    }
}

/// The chunks of the video and their keys, from the content of its files.
fn plan_chunks(
    spec: &RenderSpec,
    timeline: &Timeline,
    layers: &Layers<'_>,
) -> Result<Vec<Chunk>, RenderError> {
    // A picture shown by several segments is read once.
    let mut by_path: HashMap<&Path, String> = HashMap::new();
    let mut picture_hashes = Vec::with_capacity(spec.segments.len());
    for segment in &spec.segments {
        let hash = match by_path.get(segment.image.as_path()) {
            Some(hash) => hash.clone(),
            None => {
                let hash = chunk_cache::file_sha256(&segment.image)
                    .map_err(|e| RenderError::io(&segment.image, e))?;
                by_path.insert(&segment.image, hash.clone());
                hash
            }
        };
        picture_hashes.push(hash);
    }
    // A font or logo that cannot be read is left out of the frames, and so of the keys.
    let readable_hash = |path: Option<&Path>| path.and_then(|p| chunk_cache::file_sha256(p).ok());
    let font_hash = readable_hash(
        spec.subtitles
            .as_ref()
            .and_then(|style| style.font_file.as_deref()),
    );
    let logo_hash = readable_hash(spec.logo.as_ref().map(|logo| logo.path.as_path()));
    let picture_hash = |segment: usize| picture_hashes[segment].clone();
    chunk_plan::plan(&PlanInputs {
        spec,
        timeline,
        transitions: &layers.transitions,
        cues: layers.cues,
        picture_hash: &picture_hash,
        font_hash: font_hash.as_deref(),
        logo_hash: logo_hash.as_deref(),
    })
    .map_err(RenderError::from)
}

/// A cache for one render, in a temporary folder beside the output, removed on drop.
struct ScratchCache {
    cache: ChunkCache,
}

impl ScratchCache {
    fn new(output: &Path) -> Result<ScratchCache, RenderError> {
        let dir = temporary_path(output)?;
        let cache = ChunkCache::open(&dir, u64::MAX)?;
        Ok(ScratchCache { cache })
    }
}

impl Drop for ScratchCache {
    fn drop(&mut self) {
        if let Err(e) = std::fs::remove_dir_all(self.cache.dir()) {
            log::warn!("cannot remove {}: {e}", self.cache.dir().display());
        }
    }
}

/// Decodes every narration once, without keeping it, to learn its exact length, and checks
/// that every picture at least has a readable header.
fn analyse(
    spec: &RenderSpec,
    reporter: &mut Reporter<'_>,
    cancel: &CancelToken,
) -> Result<Timeline, RenderError> {
    let total = spec.segments.len();
    let mut lengths = Vec::with_capacity(total);
    for (i, segment) in spec.segments.iter().enumerate() {
        reporter.update(
            Progress {
                current_segment: i as u32 + 1,
                total_segments: total as u32,
                phase: format!("Analysing narration {}/{total}", i + 1),
                encoded_frames: 0,
                total_frames: 0,
                percentage: share::analysis(i, total),
            },
            Instant::now(),
        );
        image_source::check_header(&segment.image, Some(i + 1))?;
        lengths.push(audio::count_samples(&segment.audio, Some(i + 1), &|| {
            cancel.is_cancelled()
        })?);
    }
    Ok(Timeline::new(
        spec.fps,
        SAMPLE_RATE,
        spec.inter_segment_silence,
        &lengths,
    ))
}

/// The logo, ready to blend; a logo that cannot be used is a warning, not a failed render.
fn logo_overlay(spec: &RenderSpec, warnings: &mut Vec<String>) -> Option<YuvOverlay> {
    let logo = spec.logo.as_ref()?;
    match prepare_logo(logo, spec.width, spec.height) {
        Ok(overlay) => Some(YuvOverlay::new(&overlay)),
        Err(err) => {
            warnings.push(format!("the logo was left out: {err}"));
            None
        }
    }
}

/// What is drawn over and between the segments' pictures.
struct Layers<'a> {
    pub(super) transitions: Transitions,
    /// Burned in when the spec has a subtitle style.
    pub(super) cues: &'a [Cue],
    pub(super) logo: Option<YuvOverlay>,
}
