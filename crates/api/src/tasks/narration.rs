//! Narration from text: the `tts` tasks that give one segment (`tts_<segment>_<hex8>`) or a
//! batch of a project's segments (`tts_batch_<project>_<hex8>`) a spoken narration, and the
//! narration of a manifest's segments for `storyflow import` and `storyflow render`.
//!
//! Each clip is written under the project's media folder by the synthesiser (atomically: a
//! temporary file renamed when complete), then the segment's `audio_file` and `audio_duration`
//! change in one transaction, and only then is the previous file removed: a failed synthesis
//! or a refused write leaves the old narration as it was.

use std::path::{Path, PathBuf};
use std::sync::atomic::Ordering;
use std::sync::Arc;

use core_engine::manifest::Manifest;
use serde::Serialize;
use serde_json::json;
use task_manager::error_chain;
use tts::{SpeechRequest, Synthesizer, TtsError};

use super::{ProgressSink, StoreError};
use crate::models::Segment;
use crate::storage::{self, MediaKind, MediaStore};

/// A segment as a narration task reads it, on the worker thread.
#[derive(Debug, Clone, PartialEq)]
pub struct SegmentToNarrate {
    pub segment_id: String,
    pub project_id: String,
    pub text: String,
    pub is_locked: bool,
}

/// The voice the settings ask for: an id (an unknown one falls back to the default voice,
/// with a warning) and a speed.
#[derive(Debug, Clone, PartialEq)]
pub struct VoiceSettings {
    pub voice_id: String,
    pub speed: f64,
}

/// The database as a narration task sees it: every call re-reads by id.
pub trait NarrationStore: Send + Sync {
    fn load_segment(&self, segment_id: &str) -> Result<SegmentToNarrate, StoreError>;
    fn voice_settings(&self) -> Result<VoiceSettings, StoreError>;
    /// Points the segment at its new narration (media-relative file, seconds) in one
    /// transaction; returns the previous file, for the caller to remove.
    fn record_narration(
        &self,
        segment_id: &str,
        audio_file: &str,
        duration: f64,
    ) -> Result<Option<String>, StoreError>;
}

/// What a narration task needs besides ids.
#[derive(Clone)]
pub struct NarrationDeps {
    pub store: Arc<dyn NarrationStore>,
    pub synthesizer: Arc<dyn Synthesizer>,
    pub media: MediaStore,
}

impl std::fmt::Debug for NarrationDeps {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("NarrationDeps")
            .field("media", &self.media)
            .finish_non_exhaustive()
    }
}

/// A segment that got its narration, as the editor reads it from a task.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct CompletedSegment {
    pub segment_id: String,
    pub audio_url: String,
    pub duration: f64,
    /// The voice that spoke it (the installed fallback when the settings name another).
    pub voice: String,
}

/// A segment of a batch that could not be narrated.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct SegmentError {
    pub segment_id: String,
    pub error: String,
}

/// A narration task's result (and, while a batch runs, its detail so far).
#[derive(Debug, Clone, Default, PartialEq, Serialize)]
pub struct NarrationReport {
    /// Segments the task was asked to narrate.
    pub total: usize,
    pub completed_segments: Vec<CompletedSegment>,
    pub errors: Vec<SegmentError>,
    /// E.g. the voice asked for is not installed and the default one spoke instead.
    pub warnings: Vec<String>,
}

impl NarrationReport {
    fn warn(&mut self, warnings: Vec<String>) {
        for warning in warnings {
            if !self.warnings.contains(&warning) {
                self.warnings.push(warning);
            }
        }
    }
}

/// What a batch will do, decided when it is asked for (the counts the editor shows).
#[derive(Debug, Clone, Default, PartialEq, Serialize)]
pub struct BatchPlan {
    /// In the project's order.
    pub segment_ids: Vec<String>,
    pub skipped_locked: usize,
    pub skipped_existing: usize,
    pub skipped_empty: usize,
}

impl BatchPlan {
    /// Which of a project's segments (in order) a batch narrates: those with text, without a
    /// narration unless `force_regenerate`, and not locked when `skip_locked`.
    pub fn new(segments: &[Segment], skip_locked: bool, force_regenerate: bool) -> Self {
        let mut plan = Self::default();
        for segment in segments {
            if skip_locked && segment.is_locked {
                plan.skipped_locked += 1;
            } else if segment.audio_file.is_some() && !force_regenerate {
                plan.skipped_existing += 1;
            } else if segment.text_content.trim().is_empty() {
                plan.skipped_empty += 1;
            } else {
                plan.segment_ids.push(segment.id.clone());
            }
        }
        plan
    }
}

#[derive(Debug, thiserror::Error)]
pub enum NarrationTaskError {
    #[error("could not read segment {segment_id}")]
    Load {
        segment_id: String,
        #[source]
        source: StoreError,
    },
    #[error("could not read the voice settings")]
    Settings(#[source] StoreError),
    #[error("segment {segment_id} is locked")]
    Locked { segment_id: String },
    #[error("could not narrate segment {segment_id}")]
    Speech {
        segment_id: String,
        #[source]
        source: TtsError,
    },
    #[error("could not create the narration folder {path}")]
    OutputDir {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    #[error("the narration of segment {segment_id} was made but sending it to the bucket failed")]
    Publish {
        segment_id: String,
        #[source]
        source: std::io::Error,
    },
    #[error("the narration of segment {segment_id} was made but recording it failed")]
    Record {
        segment_id: String,
        #[source]
        source: StoreError,
    },
    /// A cancel was requested; the segments finished before it keep their narration.
    #[error("narration cancelled")]
    Cancelled,
}

/// `tts_<segment id>_<8 hex digits>`, as the editor expects.
pub fn segment_task_id(segment_id: &str) -> String {
    format!("tts_{segment_id}_{}", hex8())
}

/// `tts_batch_<project id>_<8 hex digits>`, as the editor expects.
pub fn batch_task_id(project_id: &str) -> String {
    format!("tts_batch_{project_id}_{}", hex8())
}

fn hex8() -> String {
    uuid::Uuid::new_v4().simple().to_string()[..8].to_owned()
}

/// Narrates one segment: its result lists it in `completed_segments`; any failure fails the
/// task (and leaves the segment's previous narration in place).
pub fn narrate_segment_task(
    segment_id: &str,
    deps: &NarrationDeps,
    sink: &dyn ProgressSink,
) -> Result<NarrationReport, NarrationTaskError> {
    let (voice, mut report) = begin(deps, 1)?;
    sink.update_progress(0, 1, "Generating audio", 0.0);
    let (completed, warnings) = narrate_one(segment_id, &voice, deps, sink)?;
    report.completed_segments.push(completed);
    report.warn(warnings);
    sink.update_progress(1, 1, "Done", 100.0);
    log::info!("narrated segment {segment_id}");
    Ok(report)
}

/// Narrates `segment_ids` in order. A segment that fails is listed in `errors` and the batch
/// goes on (it ends COMPLETED, as the editor expects); a cancel stops it after the current
/// sentence, keeping the segments already done. The progress detail lists what is done so far.
pub fn narrate_segments_task(
    project_id: &str,
    segment_ids: &[String],
    deps: &NarrationDeps,
    sink: &dyn ProgressSink,
) -> Result<NarrationReport, NarrationTaskError> {
    let total = segment_ids.len();
    let (voice, mut report) = begin(deps, total)?;
    for (done, segment_id) in segment_ids.iter().enumerate() {
        if sink.cancel_flag().load(Ordering::Acquire) {
            return Err(NarrationTaskError::Cancelled);
        }
        let phase = format!("Generating audio {}/{total}", done + 1);
        sink.update_progress(done as u32, total as u32, &phase, percent(done, total));
        sink.update_detail(json!({
            "current_segment_id": segment_id,
            "completed_segments": report.completed_segments,
            "errors": report.errors,
        }));
        match narrate_one(segment_id, &voice, deps, sink) {
            Ok((completed, warnings)) => {
                report.completed_segments.push(completed);
                report.warn(warnings);
            }
            Err(NarrationTaskError::Cancelled) => return Err(NarrationTaskError::Cancelled),
            Err(err) => {
                log::warn!("project {project_id}: {}", error_chain(&err));
                report.errors.push(SegmentError {
                    segment_id: segment_id.clone(),
                    error: error_chain(&err),
                });
            }
        }
    }
    sink.update_detail(json!({
        "completed_segments": report.completed_segments,
        "errors": report.errors,
    }));
    sink.update_progress(total as u32, total as u32, "Done", 100.0);
    log::info!(
        "project {project_id}: narrated {} of {total} segment(s)",
        report.completed_segments.len()
    );
    Ok(report)
}

/// The voice the settings ask for, and an empty report of `total` segments.
fn begin(
    deps: &NarrationDeps,
    total: usize,
) -> Result<(VoiceSettings, NarrationReport), NarrationTaskError> {
    let voice = deps
        .store
        .voice_settings()
        .map_err(NarrationTaskError::Settings)?;
    let report = NarrationReport {
        total,
        ..NarrationReport::default()
    };
    Ok((voice, report))
}

fn percent(done: usize, total: usize) -> f64 {
    if total == 0 {
        100.0
    } else {
        done as f64 * 100.0 / total as f64
    }
}

/// Speaks one segment into a fresh file and points the segment at it; returns the segment as
/// completed and the synthesiser's warnings.
fn narrate_one(
    segment_id: &str,
    voice: &VoiceSettings,
    deps: &NarrationDeps,
    sink: &dyn ProgressSink,
) -> Result<(CompletedSegment, Vec<String>), NarrationTaskError> {
    let segment =
        deps.store
            .load_segment(segment_id)
            .map_err(|source| NarrationTaskError::Load {
                segment_id: segment_id.to_owned(),
                source,
            })?;
    if segment.is_locked {
        return Err(NarrationTaskError::Locked {
            segment_id: segment_id.to_owned(),
        });
    }
    let relative = storage::fresh_media_path(&segment.project_id, MediaKind::Audio, "wav");
    let output = deps.media.path(&relative);
    let folder = storage::media_dir(deps.media.root(), &segment.project_id, MediaKind::Audio);
    std::fs::create_dir_all(&folder).map_err(|source| NarrationTaskError::OutputDir {
        path: folder,
        source,
    })?;
    let request = speech_request(&segment.text, Some(&voice.voice_id), voice.speed);
    let cancel = sink.cancel_flag();
    let speech = deps
        .synthesizer
        .synthesize(&request, &output, &|| cancel.load(Ordering::Acquire))
        .map_err(|source| match source {
            TtsError::Cancelled => NarrationTaskError::Cancelled,
            source => NarrationTaskError::Speech {
                segment_id: segment_id.to_owned(),
                source,
            },
        })?;
    if let Err(source) = deps.media.publish(&relative) {
        deps.media.remove(&relative);
        return Err(NarrationTaskError::Publish {
            segment_id: segment_id.to_owned(),
            source,
        });
    }
    match deps
        .store
        .record_narration(segment_id, &relative, speech.duration_seconds)
    {
        Ok(previous) => {
            if let Some(previous) = previous.filter(|previous| *previous != relative) {
                deps.media.remove(&previous);
            }
        }
        Err(source) => {
            deps.media.remove(&relative);
            return Err(NarrationTaskError::Record {
                segment_id: segment_id.to_owned(),
                source,
            });
        }
    }
    Ok((
        CompletedSegment {
            segment_id: segment_id.to_owned(),
            audio_url: storage::media_url(&relative),
            duration: speech.duration_seconds,
            voice: speech.voice_id,
        },
        speech.warnings,
    ))
}

/// The request for `text` in `voice` at `speed` (the settings keep it as f64; the slider's
/// float noise is far below f32's precision).
fn speech_request(text: &str, voice: Option<&str>, speed: f64) -> SpeechRequest {
    let mut request = SpeechRequest::new(text).with_speed(speed as f32);
    request.voice = voice.map(str::to_owned);
    request
}

/// Why a manifest segment could not be narrated (`segment` is 1-based).
#[derive(Debug, thiserror::Error)]
#[error("segment {segment}: cannot narrate its text")]
pub struct ManifestNarrationError {
    pub segment: usize,
    #[source]
    pub source: TtsError,
}

/// Narrates every segment of `manifest` that has no audio into `folder`
/// (`narration-<n>.wav`) and gives it that file; returns the synthesiser's warnings. Used by
/// `storyflow import` and `storyflow render`, so a manifest of texts and pictures is enough.
pub fn narrate_manifest(
    manifest: &mut Manifest,
    synthesizer: &dyn Synthesizer,
    voice: Option<&str>,
    speed: f64,
    folder: &Path,
    cancel: &dyn Fn() -> bool,
) -> Result<Vec<String>, ManifestNarrationError> {
    let pending: Vec<(usize, String)> = manifest
        .unnarrated()
        .map(|(index, text)| (index, text.to_owned()))
        .collect();
    let mut report = NarrationReport::default();
    for (index, text) in pending {
        let output = folder.join(format!("narration-{}.wav", index + 1));
        let speech = synthesizer
            .synthesize(&speech_request(&text, voice, speed), &output, cancel)
            .map_err(|source| ManifestNarrationError {
                segment: index + 1,
                source,
            })?;
        log::info!(
            "segment {}: narrated {:.1} s in voice {}",
            index + 1,
            speech.duration_seconds,
            speech.voice_id
        );
        let words = speech
            .words
            .into_iter()
            .map(crate::render_store::spoken_word)
            .collect();
        report.warn(speech.warnings);
        manifest.set_narration(index, output, Some(words));
    }
    Ok(report.warnings)
}

#[cfg(test)]
mod tests {
    use std::collections::HashMap;
    use std::sync::Mutex;

    use tts::Speech;

    use super::*;
    use crate::tasks::test_support::FakeSink;

    const PROJECT: &str = "0b6a4c47-1f7e-4b0e-9a55-3c1d2e3f4a5b";

    /// Segments by id; records what is written.
    #[derive(Default)]
    struct FakeStore {
        segments: HashMap<String, SegmentToNarrate>,
        recorded: Mutex<Vec<(String, String, f64)>>,
        previous: Mutex<HashMap<String, String>>,
        fail_writes: bool,
    }

    impl FakeStore {
        fn with(texts: &[(&str, &str, bool)]) -> Self {
            let segments = texts
                .iter()
                .map(|(id, text, locked)| {
                    let segment = SegmentToNarrate {
                        segment_id: (*id).to_owned(),
                        project_id: PROJECT.to_owned(),
                        text: (*text).to_owned(),
                        is_locked: *locked,
                    };
                    ((*id).to_owned(), segment)
                })
                .collect();
            Self {
                segments,
                ..Self::default()
            }
        }
    }

    impl NarrationStore for FakeStore {
        fn load_segment(&self, segment_id: &str) -> Result<SegmentToNarrate, StoreError> {
            self.segments
                .get(segment_id)
                .cloned()
                .ok_or_else(|| format!("Segment {segment_id} not found").into())
        }

        fn voice_settings(&self) -> Result<VoiceSettings, StoreError> {
            Ok(VoiceSettings {
                voice_id: "af_bella".into(),
                speed: 1.5,
            })
        }

        fn record_narration(
            &self,
            segment_id: &str,
            audio_file: &str,
            duration: f64,
        ) -> Result<Option<String>, StoreError> {
            if self.fail_writes {
                return Err("database is locked".into());
            }
            let call = (segment_id.to_owned(), audio_file.to_owned(), duration);
            self.recorded.lock().unwrap().push(call);
            Ok(self
                .previous
                .lock()
                .unwrap()
                .insert(segment_id.to_owned(), audio_file.to_owned()))
        }
    }

    /// Writes a file of one byte per character, lasting 0.1 s per character; text containing
    /// "FAIL" fails, text containing "CANCEL" raises the cancel flag the way a user would.
    struct FakeSynthesizer {
        requests: Mutex<Vec<SpeechRequest>>,
        cancel: Option<Arc<std::sync::atomic::AtomicBool>>,
    }

    impl FakeSynthesizer {
        fn new() -> Self {
            Self {
                requests: Mutex::new(Vec::new()),
                cancel: None,
            }
        }
    }

    impl Synthesizer for FakeSynthesizer {
        fn synthesize(
            &self,
            request: &SpeechRequest,
            output: &Path,
            cancel: &dyn Fn() -> bool,
        ) -> Result<Speech, TtsError> {
            self.requests.lock().unwrap().push(request.clone());
            if request.text.contains("FAIL") {
                return Err(TtsError::Unspeakable {
                    voice: "fake".into(),
                });
            }
            if request.text.contains("CANCEL") {
                if let Some(flag) = &self.cancel {
                    flag.store(true, Ordering::SeqCst);
                }
            }
            if cancel() {
                return Err(TtsError::Cancelled);
            }
            std::fs::create_dir_all(output.parent().unwrap()).unwrap();
            std::fs::write(output, request.text.as_bytes()).unwrap();
            let samples = request.text.len() as u64 * 2205;
            Ok(Speech {
                path: output.to_path_buf(),
                voice_id: "en_US-joe-medium".into(),
                sample_rate: 22050,
                samples,
                duration_seconds: samples as f64 / 22050.0,
                sentences: 1,
                warnings: vec!["voice `af_bella` is not installed".into()],
                words: Vec::new(),
            })
        }
    }

    fn deps(
        store: FakeStore,
        synthesizer: FakeSynthesizer,
    ) -> (NarrationDeps, Arc<FakeStore>, tempfile::TempDir) {
        let media = tempfile::tempdir().unwrap();
        let store = Arc::new(store);
        let deps = NarrationDeps {
            store: store.clone(),
            synthesizer: Arc::new(synthesizer),
            media: MediaStore::local(media.path()),
        };
        (deps, store, media)
    }

    fn audio_files(media: &tempfile::TempDir) -> Vec<String> {
        let folder = media.path().join(format!("projects/{PROJECT}/audio"));
        let mut names: Vec<String> = std::fs::read_dir(folder)
            .map(|entries| {
                entries
                    .flatten()
                    .map(|e| e.file_name().to_string_lossy().into_owned())
                    .collect()
            })
            .unwrap_or_default();
        names.sort();
        names
    }

    #[test]
    fn task_ids_follow_the_editor_convention() {
        let single = segment_task_id("abc");
        let hex = single.strip_prefix("tts_abc_").unwrap();
        assert_eq!(hex.len(), 8);
        assert!(hex.chars().all(|c| c.is_ascii_hexdigit()));
        assert!(batch_task_id(PROJECT).starts_with(&format!("tts_batch_{PROJECT}_")));
        assert_ne!(segment_task_id("abc"), segment_task_id("abc"));
    }

    #[test]
    fn a_segment_gets_a_new_file_in_one_write_and_loses_the_old_one() {
        let (deps, store, media) = deps(
            FakeStore::with(&[("s1", "Hello there.", false)]),
            FakeSynthesizer::new(),
        );
        let sink = FakeSink::default();
        let first = narrate_segment_task("s1", &deps, &sink).unwrap();
        let second = narrate_segment_task("s1", &deps, &sink).unwrap();

        let recorded = store.recorded.lock().unwrap().clone();
        assert_eq!(recorded.len(), 2);
        let (_, file, duration) = &recorded[1];
        assert!(file.starts_with(&format!("projects/{PROJECT}/audio/")) && file.ends_with(".wav"));
        assert!((duration - 1.2).abs() < 1e-9, "{duration}");
        assert_eq!(
            audio_files(&media),
            [file
                .strip_prefix(&format!("projects/{PROJECT}/audio/"))
                .unwrap()],
            "the previous narration is removed once the new one is recorded"
        );
        assert_eq!(
            second.completed_segments[0].audio_url,
            format!("/media/{file}")
        );
        assert_eq!(first.total, 1);
        assert_eq!(first.warnings, ["voice `af_bella` is not installed"]);
    }

    #[test]
    fn the_settings_choose_voice_and_speed() {
        let synthesizer = FakeSynthesizer::new();
        let store = FakeStore::with(&[("s1", "Hi.", false)]);
        let media = tempfile::tempdir().unwrap();
        let synthesizer = Arc::new(synthesizer);
        let deps = NarrationDeps {
            store: Arc::new(store),
            synthesizer: synthesizer.clone(),
            media: MediaStore::local(media.path()),
        };
        narrate_segment_task("s1", &deps, &FakeSink::default()).unwrap();
        let request = synthesizer.requests.lock().unwrap()[0].clone();
        assert_eq!(request.voice.as_deref(), Some("af_bella"));
        assert_eq!(request.speed, 1.5);
        assert_eq!(request.text, "Hi.");
    }

    #[test]
    fn a_failed_synthesis_or_write_keeps_the_old_narration() {
        let (deps, store, media) = deps(
            FakeStore::with(&[("s1", "FAIL now", false)]),
            FakeSynthesizer::new(),
        );
        let err = narrate_segment_task("s1", &deps, &FakeSink::default()).unwrap_err();
        assert!(matches!(err, NarrationTaskError::Speech { .. }), "{err}");
        assert!(error_chain(&err).contains("cannot pronounce"), "{err}");
        assert!(store.recorded.lock().unwrap().is_empty());
        assert!(audio_files(&media).is_empty());

        let failing = FakeStore {
            fail_writes: true,
            ..FakeStore::with(&[("s1", "Fine.", false)])
        };
        let (deps, _, media) = deps_with(failing);
        let err = narrate_segment_task("s1", &deps, &FakeSink::default()).unwrap_err();
        assert!(matches!(err, NarrationTaskError::Record { .. }), "{err}");
        assert!(
            audio_files(&media).is_empty(),
            "the unrecorded file is removed"
        );
    }

    fn deps_with(store: FakeStore) -> (NarrationDeps, Arc<FakeStore>, tempfile::TempDir) {
        deps(store, FakeSynthesizer::new())
    }

    #[test]
    fn locked_and_unknown_segments_fail_without_speaking() {
        let (deps, store, _media) = deps_with(FakeStore::with(&[("s1", "Hi.", true)]));
        let err = narrate_segment_task("s1", &deps, &FakeSink::default()).unwrap_err();
        assert!(matches!(err, NarrationTaskError::Locked { .. }));
        let err = narrate_segment_task("nope", &deps, &FakeSink::default()).unwrap_err();
        assert!(
            error_chain(&err).contains("Segment nope not found"),
            "{err}"
        );
        assert!(store.recorded.lock().unwrap().is_empty());
    }

    #[test]
    fn a_batch_goes_on_past_a_failure_and_reports_as_it_goes() {
        let store = FakeStore::with(&[
            ("s1", "One.", false),
            ("s2", "FAIL two.", false),
            ("s3", "Three.", false),
        ]);
        let (deps, store, _media) = deps_with(store);
        let sink = FakeSink::default();
        let ids = ["s1", "s2", "s3"].map(String::from);
        let report = narrate_segments_task(PROJECT, &ids, &deps, &sink).unwrap();

        let done: Vec<&str> = report
            .completed_segments
            .iter()
            .map(|c| c.segment_id.as_str())
            .collect();
        assert_eq!(done, ["s1", "s3"]);
        assert_eq!(report.errors.len(), 1);
        assert_eq!(report.errors[0].segment_id, "s2");
        assert_eq!(report.total, 3);
        assert_eq!(report.warnings.len(), 1, "warnings are not repeated");
        assert_eq!(store.recorded.lock().unwrap().len(), 2);
        let details = sink.details.lock().unwrap().clone();
        assert_eq!(details[1]["current_segment_id"], "s2");
        assert_eq!(details[1]["completed_segments"][0]["segment_id"], "s1");
        assert_eq!(details.last().unwrap()["errors"][0]["segment_id"], "s2");
        let last = sink.calls.lock().unwrap().last().cloned().unwrap();
        assert_eq!((last.0, last.1, last.3), (3, 3, 100.0));
    }

    #[test]
    fn a_cancelled_batch_keeps_the_finished_segments() {
        let store = FakeStore::with(&[
            ("s1", "One.", false),
            ("s2", "CANCEL two.", false),
            ("s3", "Three.", false),
        ]);
        let sink = FakeSink::default();
        let synthesizer = FakeSynthesizer {
            cancel: Some(sink.flag.clone()),
            ..FakeSynthesizer::new()
        };
        let (deps, store, media) = deps(store, synthesizer);
        let ids = ["s1", "s2", "s3"].map(String::from);
        let err = narrate_segments_task(PROJECT, &ids, &deps, &sink).unwrap_err();
        assert!(matches!(err, NarrationTaskError::Cancelled));
        let recorded = store.recorded.lock().unwrap().clone();
        assert_eq!(recorded.len(), 1);
        assert_eq!(recorded[0].0, "s1");
        assert_eq!(audio_files(&media).len(), 1);
    }

    #[test]
    fn a_batch_plan_skips_locked_narrated_and_empty_segments() {
        let segment = |id: &str, text: &str, locked: bool, audio: bool| Segment {
            id: id.into(),
            project_id: PROJECT.into(),
            sequence_index: 0,
            text_content: text.into(),
            image_prompt: String::new(),
            image_file: None,
            audio_file: audio.then(|| "projects/p/audio/a.wav".to_owned()),
            audio_duration: audio.then_some(1.0),
            is_locked: locked,
            created_at: crate::models::now(),
            updated_at: crate::models::now(),
        };
        let segments = [
            segment("a", "Text.", false, false),
            segment("b", "Text.", true, false),
            segment("c", "Text.", false, true),
            segment("d", "  ", false, false),
            segment("e", "More.", false, false),
        ];
        let plan = BatchPlan::new(&segments, true, false);
        assert_eq!(plan.segment_ids, ["a", "e"]);
        assert_eq!(
            (
                plan.skipped_locked,
                plan.skipped_existing,
                plan.skipped_empty
            ),
            (1, 1, 1)
        );
        let forced = BatchPlan::new(&segments, false, true);
        assert_eq!(forced.segment_ids, ["a", "b", "c", "e"]);
        assert_eq!(forced.skipped_empty, 1);
    }

    #[test]
    fn a_manifest_is_narrated_where_it_has_no_audio() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(dir.path().join("a.jpg"), b"x").unwrap();
        std::fs::write(dir.path().join("a.wav"), b"x").unwrap();
        let json = r#"{"title": "T", "segments": [
            {"text_content": "Given.", "image": "a.jpg", "audio": "a.wav"},
            {"text_content": "Spoken.", "image": "a.jpg"}]}"#;
        let mut manifest = Manifest::parse(json, dir.path()).unwrap();
        let synthesizer = FakeSynthesizer::new();
        let warnings =
            narrate_manifest(&mut manifest, &synthesizer, None, 1.0, dir.path(), &|| {
                false
            })
            .unwrap();
        assert_eq!(warnings.len(), 1);
        let spec = manifest.to_spec().unwrap();
        assert_eq!(spec.segments[0].audio, dir.path().join("a.wav"));
        assert_eq!(spec.segments[1].audio, dir.path().join("narration-2.wav"));
        assert_eq!(synthesizer.requests.lock().unwrap().len(), 1);
    }
}
