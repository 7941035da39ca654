//! The encode stage: reuse the chunks the cache has, encode the others on `jobs` worker
//! threads (one x264 thread each), then splice every chunk and the sound track into the
//! output. Progress counts reused chunks as done at once, then the frames x264 has encoded.

use std::collections::HashSet;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::Mutex;
use std::time::{Duration, Instant};

use crossbeam_channel::{Receiver, RecvTimeoutError};

use super::frames::{FrameMaker, Pictures};
use super::sound_pass::push_sound;
use super::Layers;
use crate::cancel::CancelToken;
use crate::chunks::chunk_cache::{ChunkCache, ChunkPins};
use crate::chunks::encoder::ChunkEncoder;
use crate::chunks::exchange::ChunkExchange;
use crate::chunks::splice::{self, ChunkFile};
use crate::chunks::temp_output::TempOutput;
use crate::error::RenderError;
use crate::plan::chunk_plan::{Chunk, ChunkKey};
use crate::plan::spec::RenderSpec;
use crate::plan::timeline::Timeline;
use crate::progress::Progress;
use crate::progress::{share, Reporter};
use crate::render::ChunkCounts;
use crate::stats::RenderStats;

/// What the encode stage works from.
pub(super) struct Job<'a> {
    pub spec: &'a RenderSpec,
    pub timeline: &'a Timeline,
    pub layers: &'a Layers<'a>,
    pub chunks: &'a [Chunk],
    pub cache: &'a ChunkCache,
    /// Chunks encoded at once.
    pub jobs: usize,
    /// The background music's length in samples, when there is music.
    pub music_length: Option<u64>,
    /// Helpers that may encode some of the missing chunks into `cache`.
    pub exchange: Option<&'a dyn ChunkExchange>,
}

/// Encodes what is missing and splices the video into `temp`; returns the warnings met and
/// how many chunks came from the cache and how many were encoded.
pub(super) fn encode(
    job: &Job<'_>,
    temp: &TempOutput,
    reporter: &mut Reporter<'_>,
    cancel: &CancelToken,
    stats: &Mutex<RenderStats>,
) -> Result<(Vec<String>, ChunkCounts), RenderError> {
    // Held until the splice is done: the chunks' files cannot vanish under it.
    let pins = job.cache.pins();
    let (files, warnings, counts) = encode_chunks(job, &pins, reporter, cancel, stats)?;
    let total_frames = job.timeline.total_frames();
    let total_segments = job.spec.segments.len() as u32;
    let narration_times = Mutex::new(RenderStats::default());
    splice::splice(
        job.spec,
        &files,
        &temp.file,
        &temp.faststart,
        |audio, stopping| {
            let times = push_sound(job.spec, job.timeline, job.music_length, audio, stopping)?;
            add_stats(&narration_times, &times);
            Ok(())
        },
        &mut |spliced| {
            reporter.update(
                Progress {
                    current_segment: total_segments,
                    total_segments,
                    phase: "Joining the chunks".to_string(),
                    encoded_frames: total_frames,
                    total_frames,
                    percentage: share::splicing(spliced, total_frames),
                },
                Instant::now(),
            );
        },
        cancel,
    )?;
    add_stats(stats, &narration_times.into_inner().unwrap_or_default());
    Ok((warnings, counts))
}

/// Adds a worker's stage times to the render's, once, when the worker is done.
fn add_stats(stats: &Mutex<RenderStats>, times: &RenderStats) {
    if let Ok(mut stats) = stats.lock() {
        stats.merge(times);
    }
}

/// Every chunk's file, in order, pinned: from the cache, or encoded now and added to it; the
/// warnings met drawing them; and how many were reused and encoded.
fn encode_chunks(
    job: &Job<'_>,
    pins: &ChunkPins,
    reporter: &mut Reporter<'_>,
    cancel: &CancelToken,
    stats: &Mutex<RenderStats>,
) -> Result<(Vec<ChunkFile>, Vec<String>, ChunkCounts), RenderError> {
    let total_frames = job.timeline.total_frames();
    let total_segments = job.spec.segments.len() as u32;
    let progress = |segment: usize, phase: String, done: u64| Progress {
        current_segment: segment as u32 + 1,
        total_segments,
        phase,
        encoded_frames: done,
        total_frames,
        percentage: share::encoding(done, total_frames),
    };
    let mut files: Vec<Option<PathBuf>> = vec![None; job.chunks.len()];
    let mut reused = 0;
    for (i, chunk) in job.chunks.iter().enumerate() {
        if cancel.is_cancelled() {
            return Err(RenderError::Cancelled);
        }
        let frames = chunk.frames.end - chunk.frames.start;
        let Some(path) = job
            .cache
            .get(&chunk.key)
            .filter(|hit| hit.frames == frames)
            .and_then(|hit| pins.pin(&hit.path))
        else {
            continue;
        };
        files[i] = Some(path);
        reused += frames;
        let segment = first_segment(chunk);
        let phase = format!("Reusing segment {}/{total_segments}", segment + 1);
        reporter.update(progress(segment, phase, reused), Instant::now());
    }
    let missing: Vec<usize> = (0..job.chunks.len())
        .filter(|&i| files[i].is_none())
        .collect();
    log::debug!(
        "{} of {} chunks reused ({reused} of {total_frames} frames), {} to encode",
        job.chunks.len() - missing.len(),
        job.chunks.len(),
        missing.len()
    );
    let mut counts = ChunkCounts {
        reused: job.chunks.len() - missing.len(),
        ..ChunkCounts::default()
    };
    let mut warnings = Vec::new();
    if !missing.is_empty() {
        let offer = job
            .exchange
            .map(|exchange| Offer::new(exchange, job, &missing));
        let (encoded, drawn_warnings, skipped) =
            encode_missing(job, &missing, reused, Some(pins), reporter, cancel, stats)?;
        warnings = drawn_warnings;
        counts.encoded = encoded.len();
        for (i, path) in encoded {
            files[i] = Some(path);
        }
        if let Some(offer) = offer {
            let done = reused + frames_of(job, &missing) - frames_of(job, &skipped);
            let (by_helpers, encoded_here) = offer.collect(
                job,
                pins,
                skipped,
                &mut files,
                done,
                &mut warnings,
                reporter,
                cancel,
                stats,
            )?;
            counts.by_helpers = by_helpers;
            counts.encoded += encoded_here;
            counts.helpers = offer.withdraw();
        }
    }
    let files = job
        .chunks
        .iter()
        .zip(files)
        .map(|(chunk, path)| {
            let path = path.ok_or_else(|| {
                RenderError::pipeline("chunks", format!("chunk {} was not encoded", chunk.key))
            })?;
            Ok(ChunkFile {
                path,
                frames: chunk.frames.end - chunk.frames.start,
            })
        })
        .collect::<Result<_, RenderError>>()?;
    Ok((files, warnings, counts))
}

/// The segment a chunk's progress is reported under (the outgoing one of a crossfade).
fn first_segment(chunk: &Chunk) -> usize {
    chunk.kind.segments().first().copied().unwrap_or(0)
}

/// Where the chunk workers meet: the queue of chunks to encode, their progress and results.
struct Shared<'a> {
    job: &'a Job<'a>,
    /// The chunks to encode (indices into `job.chunks`).
    missing: &'a [usize],
    /// Frames of the chunks reused from the cache.
    reused: u64,
    pictures: Pictures<'a>,
    warnings: &'a Mutex<Vec<String>>,
    /// Every key this render uses, which eviction must spare.
    in_use: HashSet<ChunkKey>,
    /// Where a render holds the chunks it encodes (a helper, which splices nothing, has none).
    pins: Option<&'a ChunkPins>,
    stop: CancelToken,
    /// Frames handed to x264 over all the chunks encoded so far.
    encoded: AtomicU64,
    /// Per chunk of `missing`: finished (or left to a helper).
    finished: Vec<AtomicBool>,
    /// Chunks a helper took before this render's workers reached them (indices into
    /// `job.chunks`).
    skipped: Mutex<Vec<usize>>,
}

/// Encodes the chunks `missing` (indices into `job.chunks`) on worker threads; returns each
/// one's file (pinned, with `pins`), the warnings met, and the chunks a helper took instead.
fn encode_missing(
    job: &Job<'_>,
    missing: &[usize],
    reused: u64,
    pins: Option<&ChunkPins>,
    reporter: &mut Reporter<'_>,
    cancel: &CancelToken,
    stats: &Mutex<RenderStats>,
) -> Result<(Encoded, Vec<String>, Vec<usize>), RenderError> {
    let warnings = Mutex::new(Vec::new());
    let to_draw: Vec<&Chunk> = missing.iter().map(|&i| &job.chunks[i]).collect();
    let shared = Shared {
        job,
        missing,
        reused,
        pictures: Pictures::new(job.spec, &to_draw, &warnings),
        warnings: &warnings,
        in_use: job.chunks.iter().map(|c| c.key.clone()).collect(),
        pins,
        stop: CancelToken::new(),
        encoded: AtomicU64::new(0),
        finished: missing.iter().map(|_| AtomicBool::new(false)).collect(),
        skipped: Mutex::new(Vec::new()),
    };
    let (queue_tx, queue_rx) = crossbeam_channel::unbounded();
    // Longest first, so the last chunks, encoded while other workers may have none left,
    // are short.
    let mut order: Vec<usize> = (0..missing.len()).collect();
    order.sort_by_key(|&position| {
        let frames = &job.chunks[missing[position]].frames;
        (std::cmp::Reverse(frames.end - frames.start), position)
    });
    for position in order {
        let _ = queue_tx.send(position);
    }
    drop(queue_tx);
    let (done_tx, done_rx) = crossbeam_channel::unbounded();
    let workers = job.jobs.clamp(1, missing.len());
    let results = Mutex::new(Vec::with_capacity(missing.len()));

    std::thread::scope(|scope| {
        // On every way out (errors and panics included) the workers stop; each drops its
        // encoder, which sets its pipeline to `Null`.
        let _stop = StopOnDrop(&shared.stop);
        for n in 0..workers {
            let (queue, done, shared, results) = (&queue_rx, done_tx.clone(), &shared, &results);
            std::thread::Builder::new()
                .name(format!("chunks-{n}"))
                .spawn_scoped(scope, move || {
                    let outcome = work(shared, queue, results);
                    let _ = done.send(outcome);
                })
                .map_err(|e| {
                    RenderError::pipeline("chunks", format!("cannot start a thread: {e}"))
                })?;
        }
        drop(done_tx);
        watch(&shared, &done_rx, workers, reporter, cancel, stats)
    })?;
    let skipped = shared.skipped.into_inner().unwrap_or_default();
    Ok((
        results.into_inner().unwrap_or_default(),
        warnings.into_inner().unwrap_or_default(),
        skipped,
    ))
}

/// A helper's encode: the chunks `missing` (indices into `job.chunks`) into the cache, with
/// no splice; returns the indices encoded.
pub(super) fn encode_only(
    job: &Job<'_>,
    missing: &[usize],
    reporter: &mut Reporter<'_>,
    cancel: &CancelToken,
    stats: &Mutex<RenderStats>,
) -> Result<Vec<usize>, RenderError> {
    let (encoded, _, _) = encode_missing(job, missing, 0, None, reporter, cancel, stats)?;
    Ok(encoded.into_iter().map(|(index, _)| index).collect())
}

/// Frames of the chunks `indices` (into `job.chunks`).
fn frames_of(job: &Job<'_>, indices: &[usize]) -> u64 {
    indices
        .iter()
        .map(|&i| job.chunks[i].frames.end - job.chunks[i].frames.start)
        .sum()
}

/// How often a render looks for the chunks helpers took.
const HELPER_POLL: Duration = Duration::from_millis(100);

/// This render's offer of its missing chunks to helpers, withdrawn when dropped.
struct Offer<'a> {
    exchange: &'a dyn ChunkExchange,
    withdrawn: bool,
}

impl<'a> Offer<'a> {
    fn new(exchange: &'a dyn ChunkExchange, job: &Job<'_>, missing: &[usize]) -> Self {
        let keys: Vec<ChunkKey> = missing.iter().map(|&i| job.chunks[i].key.clone()).collect();
        exchange.offer(&keys);
        Self {
            exchange,
            withdrawn: false,
        }
    }

    /// Waits for the chunks helpers took (`waiting`, indices into `job.chunks`) to reach the
    /// cache and fills in their files, encoding here those a lost helper left. Returns how
    /// many came from helpers and how many were encoded here; adds the warnings met drawing
    /// them. `done` is the frames finished so far, for progress.
    #[allow(clippy::too_many_arguments)]
    fn collect(
        &self,
        job: &Job<'_>,
        pins: &ChunkPins,
        mut waiting: Vec<usize>,
        files: &mut [Option<PathBuf>],
        mut done: u64,
        warnings: &mut Vec<String>,
        reporter: &mut Reporter<'_>,
        cancel: &CancelToken,
        stats: &Mutex<RenderStats>,
    ) -> Result<(usize, usize), RenderError> {
        let total_frames = job.timeline.total_frames();
        let total_segments = job.spec.segments.len() as u32;
        let (mut by_helpers, mut encoded_here) = (0, 0);
        loop {
            if cancel.is_cancelled() {
                return Err(RenderError::Cancelled);
            }
            waiting.retain(|&i| {
                let chunk = &job.chunks[i];
                let frames = chunk.frames.end - chunk.frames.start;
                let pinned = job
                    .cache
                    .get(&chunk.key)
                    .filter(|hit| hit.frames == frames)
                    .and_then(|hit| pins.pin(&hit.path));
                match pinned {
                    Some(path) => {
                        files[i] = Some(path);
                        by_helpers += 1;
                        done += frames;
                        false
                    }
                    None => true,
                }
            });
            let Some(&first) = waiting.first() else {
                return Ok((by_helpers, encoded_here));
            };
            let keys: Vec<ChunkKey> = waiting.iter().map(|&i| job.chunks[i].key.clone()).collect();
            let lost: HashSet<ChunkKey> = self.exchange.reclaim_lost(&keys).into_iter().collect();
            if !lost.is_empty() {
                let mine: Vec<usize> = waiting
                    .iter()
                    .copied()
                    .filter(|&i| lost.contains(&job.chunks[i].key))
                    .collect();
                log::warn!(
                    "{} chunk(s) a helper left unfinished are encoded here",
                    mine.len()
                );
                // Reclaimed: this render's own now, taken from nobody.
                let own = Job {
                    exchange: None,
                    ..*job
                };
                let (encoded, drawn_warnings, _) =
                    encode_missing(&own, &mine, done, Some(pins), reporter, cancel, stats)?;
                warnings.extend(drawn_warnings);
                encoded_here += encoded.len();
                for (i, path) in encoded {
                    done += frames_of(job, &[i]);
                    files[i] = Some(path);
                    waiting.retain(|&w| w != i);
                }
                continue;
            }
            let segment = first_segment(&job.chunks[first]);
            reporter.update(
                Progress {
                    current_segment: segment as u32 + 1,
                    total_segments,
                    phase: format!("Rendering segment {}/{total_segments}", segment + 1),
                    encoded_frames: done,
                    total_frames,
                    percentage: share::encoding(done.min(total_frames), total_frames),
                },
                Instant::now(),
            );
            std::thread::sleep(HELPER_POLL);
        }
    }

    fn withdraw(mut self) -> Vec<(String, usize)> {
        self.withdrawn = true;
        self.exchange.withdraw()
    }
}

impl Drop for Offer<'_> {
    fn drop(&mut self) {
        if !self.withdrawn {
            self.exchange.withdraw();
        }
    }
}

struct StopOnDrop<'a>(&'a CancelToken);

impl Drop for StopOnDrop<'_> {
    fn drop(&mut self) {
        self.0.cancel();
    }
}

/// Encoded chunks: each one's index in the plan and its file in the cache.
type Encoded = Vec<(usize, PathBuf)>;

type WorkerOutcome = Result<RenderStats, RenderError>;

/// A chunk worker: takes chunks from `queue` until it is empty, draws and encodes each into
/// a temporary file of the cache, and inserts it.
fn work(shared: &Shared<'_>, queue: &Receiver<usize>, results: &Mutex<Encoded>) -> WorkerOutcome {
    let job = shared.job;
    let mut maker = FrameMaker::new(job.spec, job.timeline, job.layers, shared.warnings)?;
    while let Ok(position) = queue.recv() {
        if shared.stop.is_cancelled() {
            return Err(RenderError::Cancelled);
        }
        let index = shared.missing[position];
        let chunk = &job.chunks[index];
        if job
            .exchange
            .is_some_and(|exchange| !exchange.take(&chunk.key))
        {
            if let Ok(mut skipped) = shared.skipped.lock() {
                skipped.push(index);
            }
            shared.finished[position].store(true, Ordering::Relaxed);
            continue;
        }
        let shown = maker.pictures_for(chunk, &shared.pictures)?;
        let scratch = Scratch(job.cache.temp_path(&chunk.key)?);
        let mut encoder = ChunkEncoder::start(job.spec, &scratch.0, &shared.stop)?;
        let mut counted = 0;
        maker.draw_chunk(chunk, &shown, &mut encoder, &mut |encoded| {
            shared
                .encoded
                .fetch_add(encoded - counted, Ordering::Relaxed);
            counted = encoded;
        })?;
        drop(shown);
        let frames = encoder.finish()?;
        shared
            .encoded
            .fetch_add(frames - counted, Ordering::Relaxed);
        // Pinned before it enters the cache (the link follows the file through the rename),
        // so no eviction elsewhere can come first. A pin that is the scratch path itself
        // (links unsupported) would not survive the rename.
        let pinned = shared
            .pins
            .and_then(|pins| pins.pin(&scratch.0))
            .filter(|pinned| *pinned != scratch.0);
        let entry = job
            .cache
            .insert(&chunk.key, &scratch.0, frames, &shared.in_use)?;
        if let Ok(mut results) = results.lock() {
            results.push((index, pinned.unwrap_or(entry.path)));
        }
        shared.finished[position].store(true, Ordering::Relaxed);
    }
    Ok(std::mem::take(&mut maker.times))
}

/// A chunk's temporary file, removed unless it was moved into the cache.
struct Scratch(PathBuf);

impl Drop for Scratch {
    fn drop(&mut self) {
        remove_if_present(&self.0);
    }
}

fn remove_if_present(path: &Path) {
    if let Err(e) = std::fs::remove_file(path) {
        if e.kind() != std::io::ErrorKind::NotFound {
            log::warn!("cannot remove {}: {e}", path.display());
        }
    }
}

/// Reports progress until every worker is done, the first fails, or the render is cancelled.
fn watch(
    shared: &Shared<'_>,
    done: &Receiver<WorkerOutcome>,
    workers: usize,
    reporter: &mut Reporter<'_>,
    cancel: &CancelToken,
    stats: &Mutex<RenderStats>,
) -> Result<(), RenderError> {
    let job = shared.job;
    let total_frames = job.timeline.total_frames();
    let total_segments = job.spec.segments.len();
    let mut running = workers;
    while running > 0 {
        if cancel.is_cancelled() {
            return Err(RenderError::Cancelled);
        }
        match done.recv_timeout(Duration::from_millis(100)) {
            Ok(Ok(times)) => {
                add_stats(stats, &times);
                running -= 1;
            }
            Ok(Err(err)) => return Err(err),
            Err(RecvTimeoutError::Timeout) => {}
            Err(RecvTimeoutError::Disconnected) => break,
        }
        let done_frames =
            (shared.reused + shared.encoded.load(Ordering::Relaxed)).min(total_frames);
        // The earliest chunk still being encoded.
        let segment = shared
            .missing
            .iter()
            .zip(&shared.finished)
            .find(|(_, finished)| !finished.load(Ordering::Relaxed))
            .map_or(total_segments.saturating_sub(1), |(&i, _)| {
                first_segment(&job.chunks[i])
            });
        reporter.update(
            Progress {
                current_segment: segment as u32 + 1,
                total_segments: total_segments as u32,
                phase: format!("Rendering segment {}/{total_segments}", segment + 1),
                encoded_frames: done_frames,
                total_frames,
                percentage: share::encoding(done_frames, total_frames),
            },
            Instant::now(),
        );
    }
    Ok(())
}
