//! Re-renders through the chunk cache: what is reused, what is encoded again, and that the
//! result is the render of an empty cache, frame for frame and sample for sample.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::collections::HashSet;
use std::path::Path;
use std::sync::Arc;

use core_engine::chunk_cache::{ChunkCache, DEFAULT_MAX_BYTES};
use core_engine::chunk_plan::ChunkKey;
use core_engine::exchange::ChunkExchange;
use core_engine::{render_with, CancelToken, PlannedRender, RenderOptions, RenderSpec};

use crate::common::{decode_audio, decode_frames, demo_copy};

/// `jobs` encoders at once (on a 2-core machine: 1 is one encoder with two threads).
fn cached(cache: &ChunkCache, jobs: usize) -> RenderOptions {
    RenderOptions {
        cache: Some(cache.clone()),
        owner: Some("project-1".into()),
        jobs,
        exchange: None,
    }
}

/// Renders `spec` into `output` with `options`; returns the progress phases seen.
fn render_cached(spec: &RenderSpec, output: &Path, options: &RenderOptions) -> Vec<String> {
    let mut phases = Vec::new();
    render_with(
        spec,
        output,
        options,
        &mut |p| phases.push(p.phase.clone()),
        &CancelToken::new(),
    )
    .unwrap();
    phases
}

fn assert_same_media(a: &Path, b: &Path) {
    let (frames_a, frames_b) = (decode_frames(a), decode_frames(b));
    assert!(!frames_a.is_empty());
    assert_eq!(frames_a.len(), frames_b.len(), "frame counts");
    for (i, (x, y)) in frames_a.iter().zip(&frames_b).enumerate() {
        assert!(x == y, "frame {i} differs");
    }
    assert!(decode_audio(a) == decode_audio(b), "the sound differs");
}

#[test]
fn a_rerender_reuses_every_chunk_and_one_changed_text_only_its_own() {
    let (dir, mut spec) = demo_copy();
    let cache = ChunkCache::open(dir.path().join("cache"), DEFAULT_MAX_BYTES).unwrap();
    let options = cached(&cache, 2);

    let first = dir.path().join("first.mp4");
    let phases = render_cached(&spec, &first, &options);
    assert!(phases.iter().any(|p| p.starts_with("Rendering segment")));
    assert!(!phases.iter().any(|p| p.starts_with("Reusing")));
    let chunks = cache.entries().unwrap().len();
    assert!(chunks > spec.segments.len(), "{chunks} chunks");

    let again = dir.path().join("again.mp4");
    let phases = render_cached(&spec, &again, &options);
    assert!(
        phases.iter().any(|p| p == "Reusing segment 4/4"),
        "{phases:?}"
    );
    assert!(!phases.iter().any(|p| p.starts_with("Rendering segment")));
    assert_eq!(cache.entries().unwrap().len(), chunks);
    assert_same_media(&first, &again);
    // The renders held their chunks through pins, and let them go.
    let pins: Vec<_> = std::fs::read_dir(cache.dir().join("pins"))
        .unwrap()
        .collect();
    assert!(pins.is_empty(), "{pins:?}");

    // One word of segment 2's burned-in text: its chunks are new, the others reused.
    spec.segments[1].text = spec.segments[1].text.replace("slowly", "gently");
    let edited = dir.path().join("edited.mp4");
    let phases = render_cached(&spec, &edited, &options);
    assert!(
        phases.iter().any(|p| p == "Reusing segment 1/4"),
        "{phases:?}"
    );
    assert!(
        phases.iter().any(|p| p.starts_with("Rendering segment")),
        "{phases:?}"
    );
    let grown = cache.entries().unwrap().len() - chunks;
    assert!(grown >= 1 && grown < chunks / 2, "{grown} new of {chunks}");

    // Exactly what an empty cache renders with the same encoders (without a cache, the
    // chunks go to a scratch folder).
    let fresh = dir.path().join("fresh.mp4");
    let uncached = RenderOptions {
        cache: None,
        owner: None,
        jobs: 2,
        exchange: None,
    };
    render_cached(&spec, &fresh, &uncached);
    assert_same_media(&edited, &fresh);
    // The scratch chunks of the cache-less render are gone.
    let leftovers: Vec<_> = std::fs::read_dir(dir.path())
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .filter(|name| name.contains(core_engine::TEMP_OUTPUT_MARKER))
        .collect();
    assert!(leftovers.is_empty(), "{leftovers:?}");
}

#[test]
fn a_damaged_chunk_is_encoded_again_never_spliced() {
    let (dir, spec) = demo_copy();
    let cache = ChunkCache::open(dir.path().join("cache"), DEFAULT_MAX_BYTES).unwrap();
    let options = cached(&cache, 1);
    let first = dir.path().join("first.mp4");
    render_cached(&spec, &first, &options);

    // Cut one chunk short and flip a byte in another (same size, wrong checksum).
    let mut chunk_files: Vec<_> = std::fs::read_dir(cache.dir())
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|e| e == "mp4"))
        .collect();
    chunk_files.sort();
    let bytes = std::fs::read(&chunk_files[0]).unwrap();
    std::fs::write(&chunk_files[0], &bytes[..bytes.len() / 2]).unwrap();
    let mut bytes = std::fs::read(&chunk_files[1]).unwrap();
    let middle = bytes.len() / 2;
    bytes[middle] ^= 0xff;
    std::fs::write(&chunk_files[1], &bytes).unwrap();

    let again = dir.path().join("again.mp4");
    let phases = render_cached(&spec, &again, &options);
    assert!(phases.iter().any(|p| p.starts_with("Rendering segment")));
    assert_same_media(&first, &again);
    // Both entries are whole again.
    let entries = cache.entries().unwrap();
    for entry in entries {
        assert!(cache.get(&entry.key).is_some());
    }
}

#[test]
fn releasing_a_project_drops_the_chunks_only_it_used() {
    let (dir, spec) = demo_copy();
    let cache = ChunkCache::open(dir.path().join("cache"), DEFAULT_MAX_BYTES).unwrap();
    render_cached(&spec, &dir.path().join("a.mp4"), &cached(&cache, 2));
    let chunks = cache.entries().unwrap().len();
    assert!(chunks > 0);
    assert_eq!(cache.release_owner("project-1").unwrap(), chunks);
    assert!(cache.entries().unwrap().is_empty());
}

/// A stand-in for other processes sharing the cache: on `offer` it takes every other chunk at
/// once and encodes them on a thread with a `PlannedRender`, as a helper worker would, except
/// one it "loses" (never encodes, and hands back when the render asks for lost chunks).
#[derive(Debug)]
struct HalfHelper {
    spec: RenderSpec,
    cache: ChunkCache,
    taken: std::sync::Mutex<Vec<ChunkKey>>,
    lost: std::sync::Mutex<Option<ChunkKey>>,
    helper: std::sync::Mutex<Option<std::thread::JoinHandle<usize>>>,
}

impl ChunkExchange for HalfHelper {
    fn offer(&self, keys: &[ChunkKey]) {
        let mut taken: Vec<ChunkKey> = keys.iter().skip(1).step_by(2).cloned().collect();
        let lost = taken.pop();
        *self.lost.lock().unwrap() = lost.clone();
        *self.taken.lock().unwrap() = taken.iter().cloned().chain(lost).collect();
        let (spec, cache) = (self.spec.clone(), self.cache.clone());
        let wanted: HashSet<ChunkKey> = taken.into_iter().collect();
        *self.helper.lock().unwrap() = Some(std::thread::spawn(move || {
            let cancel = CancelToken::new();
            let plan = PlannedRender::new(&spec, &cancel).unwrap();
            assert_eq!(plan.spec(), &spec);
            let made = plan.encode(&cache, &wanted, 1, &cancel).unwrap();
            // A second batch of the same plan finds its chunks made.
            assert!(plan.encode(&cache, &wanted, 1, &cancel).unwrap().is_empty());
            made.len()
        }));
    }

    fn take(&self, key: &ChunkKey) -> bool {
        !self.taken.lock().unwrap().contains(key)
    }

    fn reclaim_lost(&self, keys: &[ChunkKey]) -> Vec<ChunkKey> {
        let lost = self.lost.lock().unwrap().take();
        lost.filter(|key| keys.contains(key)).into_iter().collect()
    }

    fn withdraw(&self) -> Vec<(String, usize)> {
        let helper = self.helper.lock().unwrap().take();
        helper
            .map(|helper| vec![("helper".to_owned(), helper.join().unwrap())])
            .unwrap_or_default()
    }
}

#[test]
fn chunks_encoded_by_a_helper_are_spliced_and_a_lost_one_is_encoded_here() {
    let (dir, spec) = demo_copy();
    let cache = ChunkCache::open(dir.path().join("cache"), DEFAULT_MAX_BYTES).unwrap();
    let exchange = Arc::new(HalfHelper {
        spec: spec.clone(),
        cache: cache.clone(),
        taken: Default::default(),
        lost: Default::default(),
        helper: Default::default(),
    });
    let options = RenderOptions {
        exchange: Some(exchange.clone()),
        ..cached(&cache, 2)
    };
    let shared = dir.path().join("shared.mp4");
    let (output, _) =
        render_with(&spec, &shared, &options, &mut |_| {}, &CancelToken::new()).unwrap();
    let counts = output.chunks;
    let chunks = cache.entries().unwrap().len();
    let helped = chunks / 2 - 1;
    assert!(helped >= 2, "{chunks} chunks");
    assert_eq!(counts.reused, 0);
    assert_eq!(counts.by_helpers, helped, "{counts:?}");
    assert_eq!(counts.encoded, chunks - helped, "{counts:?}");
    assert_eq!(counts.helpers, [("helper".to_owned(), helped)]);

    let alone = dir.path().join("alone.mp4");
    let uncached = RenderOptions {
        cache: None,
        owner: None,
        jobs: 2,
        exchange: None,
    };
    render_cached(&spec, &alone, &uncached);
    assert_same_media(&shared, &alone);
}
