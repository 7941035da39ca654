//! `storyflow bench --edit`: how long re-renders take with the chunk cache after small edits,
//! against the first render, and whether they are exactly what a render from scratch gives.
//!
//! One project (`--segments` segments, photos unless `--case synthetic`) and a fresh cache
//! folder; four timed renders in turn, each with that cache:
//! - `full`: the first render, with the cache empty;
//! - `unchanged`: the same project again;
//! - `text_changed`: one word of the middle segment's text changed (its subtitles);
//! - `picture_changed`: then the middle segment's picture replaced by its mirror image.
//!
//! Each re-render is compared with a render of the same project with an empty cache of its
//! own (timed too, as `*_uncached_wall_seconds`): both must decode to the same frames and the
//! same sound (`core_engine::benchmark::decoded_digest`). One JSON object is printed; when a
//! pair differs the command then fails. The peak RSS is the highest VmHWM of the four timed
//! renders, each measured from its start.

use std::path::Path;
use std::time::Instant;

use core_engine::benchmark::{decoded_digest, write_mirrored_picture};
use core_engine::chunk_cache::{ChunkCache, DEFAULT_MAX_BYTES};
use core_engine::{CancelToken, RenderOptions, RenderSpec};
use serde_json::json;

use super::common::{project, round, BenchArgs, Case, TreeRssSampler};
use crate::commands::{BoxError, CommandResult};

/// What the issue asks of a re-render, as a fraction of the first render's time.
const GOAL_UNCHANGED_RATIO: f64 = 0.05;
const GOAL_ONE_CHANGE_RATIO: f64 = 0.12;

/// The word a changed text gets (no generated text holds it, so it is always a change).
const CHANGED_WORD: &str = "lighthouse";

pub fn run(args: &BenchArgs) -> CommandResult {
    let case = match args.case {
        Case::Synthetic => "synthetic",
        Case::Photos | Case::Both => "photos",
    };
    let dir = tempfile::tempdir()?;
    let mut spec = project(args, case, dir.path())?;
    let cache = ChunkCache::open(dir.path().join("cache"), DEFAULT_MAX_BYTES)?;
    let middle = spec.segments.len() / 2;
    let mut bench = EditBench {
        args,
        dir: dir.path(),
        cache,
        peak_rss_kib: 0,
    };

    eprintln!(
        "edit bench: full render of {} segments",
        spec.segments.len()
    );
    let (full, frames) = bench.timed(&spec, "full.mp4")?;
    let mut result = json!({
        "case": case,
        "segments": spec.segments.len(),
        "size": format!("{}x{}@{}", spec.width, spec.height, spec.fps),
        "preset": spec.encoder.preset,
        "jobs": args.jobs,
        "frames": frames,
        "full_wall_seconds": round(full, 3),
        "goal_unchanged_ratio": GOAL_UNCHANGED_RATIO,
        "goal_one_changed_ratio": GOAL_ONE_CHANGE_RATIO,
    });
    let mut identical = serde_json::Map::new();
    let mut mismatches = Vec::new();
    for edit in [Edit::Unchanged, Edit::Text, Edit::Picture] {
        match edit {
            Edit::Unchanged => {}
            Edit::Text => {
                let text = &mut spec.segments[middle].text;
                *text = change_one_word(text);
            }
            Edit::Picture => {
                let mirrored = dir.path().join("mirrored.jpg");
                write_mirrored_picture(&spec.segments[middle].image, &mirrored)?;
                spec.segments[middle].image = mirrored;
            }
        }
        let edit = edit.name();
        eprintln!("edit bench: {edit}: render with the cache");
        let output = format!("{edit}.mp4");
        let (seconds, _) = bench.timed(&spec, &output)?;
        eprintln!("edit bench: {edit}: render from scratch to compare");
        let (uncached, reference) = bench.render_from_scratch(&spec, edit)?;
        let difference =
            decoded_digest(&dir.path().join(&output))?.difference(&decoded_digest(&reference)?);
        for file in [dir.path().join(&output), reference] {
            std::fs::remove_file(file)?;
        }
        if let Some(difference) = &difference {
            mismatches.push(format!("{edit}: {difference}"));
        }
        identical.insert(edit.into(), json!(difference.is_none()));
        if let serde_json::Value::Object(fields) = &mut result {
            fields.insert(format!("{edit}_wall_seconds"), json!(round(seconds, 3)));
            fields.insert(format!("{edit}_ratio"), json!(round(seconds / full, 3)));
            fields.insert(
                format!("{edit}_uncached_wall_seconds"),
                json!(round(uncached, 3)),
            );
        }
    }
    if let serde_json::Value::Object(fields) = &mut result {
        fields.insert("identical".into(), identical.into());
        fields.insert("differences".into(), json!(mismatches));
        fields.insert(
            "peak_rss_with_encoders_mb".into(),
            json!(round(bench.peak_rss_kib as f64 / 1024.0, 1)),
        );
    }
    println!("{result}");
    if !mismatches.is_empty() {
        return Err(format!(
            "cached re-renders differ from renders from scratch: {}",
            mismatches.join("; ")
        )
        .into());
    }
    Ok(())
}

/// The edits, each made on top of the previous ones.
#[derive(Debug, Clone, Copy)]
enum Edit {
    Unchanged,
    Text,
    Picture,
}

impl Edit {
    fn name(self) -> &'static str {
        match self {
            Edit::Unchanged => "unchanged",
            Edit::Text => "text_changed",
            Edit::Picture => "picture_changed",
        }
    }
}

struct EditBench<'a> {
    args: &'a BenchArgs,
    dir: &'a Path,
    cache: ChunkCache,
    /// The highest resident memory of a timed render and its chunk encoders together.
    peak_rss_kib: u64,
}

impl EditBench<'_> {
    /// Renders `spec` into `name` in the bench folder with the bench's cache; returns the
    /// wall seconds and the frames.
    fn timed(&mut self, spec: &RenderSpec, name: &str) -> Result<(f64, u64), BoxError> {
        let sampler = TreeRssSampler::start();
        let rendered = self.render(spec, name, Some(self.cache.clone()));
        self.peak_rss_kib = self.peak_rss_kib.max(sampler.stop());
        rendered
    }

    /// Renders `spec` with an empty cache of its own (removed afterwards); returns the wall
    /// seconds and the video.
    fn render_from_scratch(
        &self,
        spec: &RenderSpec,
        edit: &str,
    ) -> Result<(f64, std::path::PathBuf), BoxError> {
        let cache_dir = tempfile::tempdir_in(self.dir)?;
        let empty = ChunkCache::open(cache_dir.path(), DEFAULT_MAX_BYTES)?;
        let name = format!("{edit}-from-scratch.mp4");
        let (seconds, _) = self.render(spec, &name, Some(empty))?;
        Ok((seconds, self.dir.join(name)))
    }

    fn render(
        &self,
        spec: &RenderSpec,
        name: &str,
        cache: Option<ChunkCache>,
    ) -> Result<(f64, u64), BoxError> {
        let options = RenderOptions {
            cache,
            owner: Some("bench".into()),
            jobs: self.args.jobs,
            exchange: None,
        };
        let started = Instant::now();
        let (rendered, _) = core_engine::render_with(
            spec,
            &self.dir.join(name),
            &options,
            &mut |_| {},
            &CancelToken::new(),
        )?;
        Ok((started.elapsed().as_secs_f64(), rendered.frames))
    }
}

/// `text` with its middle word replaced by [`CHANGED_WORD`], keeping the punctuation after
/// it; a text without words gets the word.
fn change_one_word(text: &str) -> String {
    let mut words: Vec<String> = text.split_whitespace().map(str::to_owned).collect();
    let middle = words.len() / 2;
    let Some(word) = words.get_mut(middle) else {
        return CHANGED_WORD.to_owned();
    };
    let punctuation = word.trim_start_matches(|c: char| c.is_alphanumeric());
    *word = format!("{CHANGED_WORD}{punctuation}");
    words.join(" ")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn one_word_changes_and_its_punctuation_stays() {
        assert_eq!(
            change_one_word("The river carried, old stories."),
            "The river lighthouse, old stories."
        );
        assert_eq!(change_one_word("Bells."), "lighthouse.");
        assert_eq!(change_one_word(""), "lighthouse");
    }
}
