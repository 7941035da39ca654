//! A voice's ONNX model run by ONNX Runtime through the `ort` crate.
//!
//! The runtime library is not linked: `ort`'s `load-dynamic` feature opens the
//! `libonnxruntime.so` that `scripts/setup.sh` unpacked into the TTS home, the first time a
//! voice is needed. ONNX Runtime allows one environment per process, so it lives in a static
//! here, shared by every engine; a voice's sessions ([`Sessions`]: one for a Piper voice, ~63
//! MB of weights; one per core for hibari) are built once and kept by [`crate::engine::PiperEngine`].
//!
//! Model contract (Piper/VITS): inputs `input` int64 `[1, N]` phoneme ids, `input_lengths`
//! int64 `[1]`, `scales` float32 `[3]`, and `sid` int64 `[1]` for multi-speaker voices;
//! output `output` float32 `[1, 1, 1, T]`, mono samples in about −1…1.
//!
//! Durations, for word timings: a stock Piper model declares only `output`, but its duration
//! predictor ends in a `Ceil` node whose result, `/Ceil_output_0` (`[1, 1, N]`, frames per
//! id), can be declared a second graph output by appending a few bytes to the model
//! ([`expose_output`], also used by the hibari voice). A model that already declares two
//! outputs is taken as is, its second being the durations; a model the patch does not fit is
//! loaded unpatched, without them.

use std::path::Path;
use std::sync::{Arc, Mutex, PoisonError};

use ort::environment::Environment;
use ort::logging::LogLevel;
use ort::session::builder::GraphOptimizationLevel;
use ort::session::Session;
use ort::value::Tensor;

use crate::error::TtsError;

/// The process's ONNX Runtime environment, once the library is loaded.
static ENVIRONMENT: Mutex<Option<Environment>> = Mutex::new(None);

/// Loads the runtime library (first call only; later calls reuse it, whatever `library`
/// they name) and returns the environment.
pub(crate) fn environment(library: &Path) -> Result<Environment, TtsError> {
    let mut slot = ENVIRONMENT.lock().unwrap_or_else(PoisonError::into_inner);
    if let Some(environment) = slot.as_ref() {
        return Ok(environment.clone());
    }
    if !library.is_file() {
        return Err(TtsError::RuntimeMissing {
            path: library.to_path_buf(),
        });
    }
    let runtime_error = |reason: String| TtsError::Runtime {
        path: library.to_path_buf(),
        reason,
    };
    let environment = ort::init_from(library)
        .map_err(|e| runtime_error(e.to_string()))?
        .with_name("storyflow-tts")
        .with_telemetry(false)
        .with_logger(Arc::new(forward_log))
        .build()
        .map_err(|e| runtime_error(e.to_string()))?;
    environment.set_log_level(LogLevel::Warning);
    log::info!("ONNX Runtime loaded from {}", library.display());
    *slot = Some(environment.clone());
    Ok(environment)
}

/// ONNX Runtime's own messages, into the `log` facade.
fn forward_log(level: LogLevel, category: &str, _id: &str, location: &str, message: &str) {
    let level = match level {
        LogLevel::Verbose => log::Level::Trace,
        LogLevel::Info => log::Level::Debug,
        LogLevel::Warning => log::Level::Warn,
        LogLevel::Error | LogLevel::Fatal => log::Level::Error,
    };
    log::log!(target: "onnxruntime", level, "[{category}] {message} ({location})");
}

/// The duration predictor's last tensor in Piper's VITS export: frames per phoneme id.
const PIPER_DURATIONS: &str = "/Ceil_output_0";

/// The model bytes with one more graph output, the internal tensor `name`. Protobuf merges a
/// message field that occurs twice and appends to a repeated one, so appending
/// `ModelProto.graph { output { name } }` (fields 7, 12 and 1) declares the output without
/// rewriting the model. Check [`graph_outputs`] first: an output declared twice is an error.
pub(crate) fn expose_output(model: &[u8], name: &str) -> Vec<u8> {
    let value_info = length_delimited(1, name.as_bytes());
    let graph = length_delimited(12, &value_info);
    let mut patched = Vec::with_capacity(model.len() + graph.len() + 12);
    patched.extend_from_slice(model);
    patched.extend_from_slice(&length_delimited(7, &graph));
    patched
}

/// The names of a model's graph outputs (`ModelProto.graph.output[].name`, every occurrence
/// of the graph field merged, as protobuf reads them). `None` when the bytes are not a
/// well-formed protobuf message.
pub(crate) fn graph_outputs(model: &[u8]) -> Option<Vec<String>> {
    let mut names = Vec::new();
    for (_, graph) in fields(model)?.into_iter().filter(|(field, _)| *field == 7) {
        for (_, output) in fields(graph)?.into_iter().filter(|(field, _)| *field == 12) {
            for (_, name) in fields(output)?.into_iter().filter(|(field, _)| *field == 1) {
                names.push(String::from_utf8_lossy(name).into_owned());
            }
        }
    }
    Some(names)
}

/// A length-delimited protobuf field: key (wire type 2), length, bytes.
fn length_delimited(field: u64, bytes: &[u8]) -> Vec<u8> {
    let mut out = Vec::with_capacity(bytes.len() + 12);
    put_varint(&mut out, field << 3 | 2);
    put_varint(&mut out, bytes.len() as u64);
    out.extend_from_slice(bytes);
    out
}

fn put_varint(out: &mut Vec<u8>, mut value: u64) {
    while value >= 0x80 {
        out.push((value as u8) | 0x80);
        value >>= 7;
    }
    out.push(value as u8);
}

/// Reads a varint at `*at`, advancing past it.
fn varint(bytes: &[u8], at: &mut usize) -> Option<u64> {
    let mut value = 0u64;
    for shift in (0..64).step_by(7) {
        let byte = *bytes.get(*at)?;
        *at += 1;
        value |= u64::from(byte & 0x7f) << shift;
        if byte < 0x80 {
            return Some(value);
        }
    }
    None
}

/// A message's length-delimited top-level fields: (number, payload); other fields are
/// skipped. `None` on malformed bytes or a group (wire types 3 and 4, which ONNX never uses).
fn fields(message: &[u8]) -> Option<Vec<(u64, &[u8])>> {
    let mut out = Vec::new();
    let mut at = 0;
    while at < message.len() {
        let key = varint(message, &mut at)?;
        match key & 7 {
            0 => {
                varint(message, &mut at)?;
            }
            1 => at = at.checked_add(8)?,
            2 => {
                let len = usize::try_from(varint(message, &mut at)?).ok()?;
                let end = at.checked_add(len)?;
                out.push((key >> 3, message.get(at..end)?));
                at = end;
            }
            5 => at = at.checked_add(4)?,
            _ => return None,
        }
    }
    (at == message.len()).then_some(out)
}

/// A session of `model` with the options every model here runs with: `threads` intra-op
/// threads that do not spin while waiting for work (spinning bought no speed on 2 cores and
/// cost ~35% more CPU, which a render running beside synthesis needs), one inter-op thread,
/// and no memory patterns (every utterance has another input length, and ONNX Runtime plans
/// and keeps a pattern per shape: 250-character Piper utterances peaked at ~520 MB RSS with
/// patterns, ~435 MB without, same speed). Errors are the reason as text.
pub(crate) fn session(
    environment: &Environment,
    model: &[u8],
    threads: usize,
) -> Result<Session, String> {
    Session::builder(environment)
        .map_err(|e| e.to_string())?
        .with_optimization_level(GraphOptimizationLevel::All)
        .map_err(|e| e.to_string())?
        .with_intra_threads(threads.max(1))
        .map_err(|e| e.to_string())?
        .with_inter_threads(1)
        .map_err(|e| e.to_string())?
        .with_intra_op_spinning(false)
        .map_err(|e| e.to_string())?
        .with_memory_pattern(false)
        .map_err(|e| e.to_string())?
        .commit_from_memory(model)
        .map_err(|e| e.to_string())
}

/// Sessions of one model, one per utterance that may run at once (see [`crate::parallel`]).
pub(crate) struct Sessions {
    /// `Session::run` needs `&mut`: one utterance at a time per session.
    sessions: Vec<Mutex<Session>>,
}

impl Sessions {
    /// `count` sessions of `model`, each with `threads` intra-op threads.
    pub(crate) fn build(
        environment: &Environment,
        model: &[u8],
        count: usize,
        threads: usize,
    ) -> Result<Self, String> {
        let sessions = (0..count.max(1))
            .map(|_| session(environment, model, threads).map(Mutex::new))
            .collect::<Result<_, _>>()?;
        Ok(Self { sessions })
    }

    /// How many utterances can run at once.
    pub(crate) fn count(&self) -> usize {
        self.sessions.len()
    }

    /// Runs `f` on a session no other thread is using, waiting for the first one when all
    /// are busy.
    pub(crate) fn with<R>(&self, f: impl FnOnce(&mut Session) -> R) -> R {
        for session in &self.sessions {
            if let Ok(mut session) = session.try_lock() {
                return f(&mut session);
            }
        }
        f(&mut self.sessions[0]
            .lock()
            .unwrap_or_else(PoisonError::into_inner))
    }
}

/// One loaded voice model.
pub(crate) struct VoiceModel {
    sessions: Sessions,
    multi_speaker: bool,
    /// The output holding frames per id, when the model has one.
    durations: Option<String>,
}

impl std::fmt::Debug for VoiceModel {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("VoiceModel")
            .field("sessions", &self.sessions.count())
            .field("multi_speaker", &self.multi_speaker)
            .field("durations", &self.durations)
            .finish_non_exhaustive()
    }
}

/// What one utterance gave: the samples, and the frames each id lasts when the model says.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct Inference {
    pub samples: Vec<f32>,
    pub durations: Option<Vec<f32>>,
}

impl VoiceModel {
    /// Builds `sessions` sessions of the model file (see [`Sessions`]), with `threads`
    /// intra-op threads each. Errors are the reason as text; the caller names the voice.
    pub(crate) fn load(
        environment: &Environment,
        path: &Path,
        sessions: usize,
        threads: usize,
    ) -> Result<Self, String> {
        let bytes = std::fs::read(path).map_err(|e| format!("cannot read the model: {e}"))?;
        let build = |model: &[u8]| Sessions::build(environment, model, sessions, threads);
        let sessions = if graph_outputs(&bytes).map(|outputs| outputs.len()) == Some(1) {
            build(&expose_output(&bytes, PIPER_DURATIONS)).or_else(|e| {
                log::warn!(
                    "{}: cannot expose {PIPER_DURATIONS} ({e}); word timings will be estimated",
                    path.display()
                );
                build(&bytes)
            })?
        } else {
            build(&bytes)?
        };
        let (durations, names) = sessions.with(|session| {
            (
                session.outputs().get(1).map(|o| o.name().to_owned()),
                session
                    .inputs()
                    .iter()
                    .map(|i| i.name().to_owned())
                    .collect::<Vec<_>>(),
            )
        });
        for required in ["input", "input_lengths", "scales"] {
            if !names.iter().any(|name| name == required) {
                return Err(format!(
                    "the model has no `{required}` input (inputs: {names:?}); not a Piper voice"
                ));
            }
        }
        let multi_speaker = names.iter().any(|name| name == "sid");
        Ok(Self {
            sessions,
            multi_speaker,
            durations,
        })
    }

    /// Runs one utterance: phoneme ids and `[noise_scale, length_scale, noise_w]` in, mono
    /// samples (and, when the model gives them, frames per id) out.
    pub(crate) fn infer(&self, ids: &[i64], scales: [f32; 3]) -> Result<Inference, String> {
        let text = |e: ort::Error| e.to_string();
        let input = Tensor::from_array(([1usize, ids.len()], ids.to_vec())).map_err(text)?;
        let lengths = Tensor::from_array(([1usize], vec![ids.len() as i64])).map_err(text)?;
        let scales = Tensor::from_array(([3usize], scales.to_vec())).map_err(text)?;
        self.sessions.with(|session| {
            let outputs = if self.multi_speaker {
                let speaker = Tensor::from_array(([1usize], vec![0i64])).map_err(text)?;
                session.run(ort::inputs![
                    "input" => input,
                    "input_lengths" => lengths,
                    "scales" => scales,
                    "sid" => speaker,
                ])
            } else {
                session.run(ort::inputs![
                    "input" => input,
                    "input_lengths" => lengths,
                    "scales" => scales,
                ])
            }
            .map_err(text)?;
            let output = match outputs.get("output") {
                Some(output) => output,
                None if outputs.len() > 0 => &outputs[0],
                None => return Err("the model produced no output".into()),
            };
            let (_, samples) = output.try_extract_tensor::<f32>().map_err(text)?;
            let durations = match self.durations.as_deref().and_then(|name| outputs.get(name)) {
                Some(durations) => {
                    let (_, frames) = durations.try_extract_tensor::<f32>().map_err(text)?;
                    Some(frames.to_vec()).filter(|frames| frames.len() == ids.len())
                }
                None => None,
            };
            Ok(Inference {
                samples: samples.to_vec(),
                durations,
            })
        })
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::expect_used)]

    use super::*;

    /// Needs the runtime and default voice installed by scripts/setup.sh.
    #[test]
    fn the_default_voice_gives_durations_that_explain_its_samples_exactly() {
        let home = crate::paths::TtsHome::from_env().unwrap();
        let voice = home.voices_dir().join("en_US-joe-medium");
        let (config, _) = crate::voice::load_config(&voice.with_extension("onnx.json")).unwrap();
        let environment = environment(&home.runtime_library()).unwrap();
        let model = VoiceModel::load(&environment, &voice.with_extension("onnx"), 1, 1).unwrap();
        assert_eq!(model.durations.as_deref(), Some(PIPER_DURATIONS));
        let ids = config.phoneme_id_map.ids("ðə kˈæt sˈæt.").ids;
        for speed in [1.0, 1.7] {
            let scales = crate::prosody::scales(&config.inference, speed);
            let inference = model.infer(&ids, scales).unwrap();
            let frames = inference.durations.unwrap();
            assert_eq!(frames.len(), ids.len());
            let total: f32 = frames.iter().sum();
            // The hop of Piper's medium voices: 256 samples per frame, exactly.
            assert_eq!(
                total as usize * 256,
                inference.samples.len(),
                "speed {speed}"
            );
        }
    }

    #[test]
    fn the_patch_is_graph_output_name() {
        let patched = expose_output(b"model", "/Clip_output_0");
        let mut expected = b"model".to_vec();
        expected.extend_from_slice(&[0x3A, 18, 0x62, 16, 0x0A, 14]);
        expected.extend_from_slice(b"/Clip_output_0");
        assert_eq!(patched, expected);
    }

    #[test]
    fn long_names_get_multi_byte_lengths() {
        let name = "n".repeat(200);
        let patched = expose_output(&[], &name);
        assert_eq!(
            patched[..8],
            [0x3A, 0xCE, 0x01, 0x62, 0xCB, 0x01, 0x0A, 0xC8]
        );
        assert_eq!(patched[8], 0x01);
        assert_eq!(patched.len(), 9 + 200);
        assert_eq!(graph_outputs(&patched), Some(vec![name]));
    }

    #[test]
    fn outputs_are_read_from_every_graph_occurrence() {
        // ir_version (varint), a graph with a node (field 1, skipped) and output "a",
        // a float field (fixed32) inside the graph's neighbours, then the patch.
        let mut model = vec![0x08, 0x07];
        let output_a = length_delimited(12, &length_delimited(1, b"a"));
        let mut graph = length_delimited(1, b"node");
        graph.extend_from_slice(&output_a);
        graph.extend_from_slice(&[0x2D, 0, 0, 0x80, 0x3F]);
        model.extend_from_slice(&length_delimited(7, &graph));
        assert_eq!(graph_outputs(&model), Some(vec!["a".to_string()]));
        let patched = expose_output(&model, "/Ceil_output_0");
        assert_eq!(
            graph_outputs(&patched),
            Some(vec!["a".to_string(), "/Ceil_output_0".to_string()])
        );
    }

    #[test]
    fn malformed_bytes_are_refused() {
        assert_eq!(graph_outputs(&[0x3A, 0x05, 0x00]), None);
        assert_eq!(graph_outputs(&[0x0B]), None);
        assert_eq!(graph_outputs(&[0x08, 0x80]), None);
        assert_eq!(graph_outputs(&[]), Some(vec![]));
    }
}
