//! A voice's ONNX model run by ONNX Runtime through the `ort` crate.
//!
//! The runtime library is not linked: `ort`'s `load-dynamic` feature opens the
//! `libonnxruntime.so` that `scripts/setup.sh` unpacked into the TTS home, the first time a
//! voice is needed. ONNX Runtime allows one environment per process, so it lives in a static
//! here, shared by every engine; sessions (one per voice, ~63 MB of weights) are built once
//! and kept by [`crate::engine::PiperEngine`].
//!
//! Model contract (Piper/VITS): inputs `input` int64 `[1, N]` phoneme ids, `input_lengths`
//! int64 `[1]`, `scales` float32 `[3]`, and `sid` int64 `[1]` for multi-speaker voices;
//! output `output` float32 `[1, 1, 1, T]`, mono samples in about −1…1.

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

/// One loaded voice model.
pub(crate) struct VoiceModel {
    /// `Session::run` needs `&mut`: one sentence at a time per voice.
    session: Mutex<Session>,
    multi_speaker: bool,
}

impl std::fmt::Debug for VoiceModel {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("VoiceModel")
            .field("multi_speaker", &self.multi_speaker)
            .finish_non_exhaustive()
    }
}

impl VoiceModel {
    /// Builds a session for the model file, with `threads` intra-op threads. The threads do
    /// not spin while waiting for work: spinning bought no speed on 2 cores and cost ~35%
    /// more CPU, which a render running beside synthesis needs. Memory patterns are off:
    /// every utterance has another input length, and ONNX Runtime plans (and keeps) a
    /// pattern per shape (measured: 250-character utterances peaked at ~520 MB RSS with
    /// patterns, ~435 MB without, same speed). Errors are the reason as text; the caller
    /// names the voice.
    pub(crate) fn load(
        environment: &Environment,
        path: &Path,
        threads: usize,
    ) -> Result<Self, String> {
        let session = Session::builder(environment)
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
            .commit_from_file(path)
            .map_err(|e| e.to_string())?;
        let names: Vec<&str> = session.inputs().iter().map(|i| i.name()).collect();
        for required in ["input", "input_lengths", "scales"] {
            if !names.contains(&required) {
                return Err(format!(
                    "the model has no `{required}` input (inputs: {names:?}); not a Piper voice"
                ));
            }
        }
        let multi_speaker = names.contains(&"sid");
        Ok(Self {
            session: Mutex::new(session),
            multi_speaker,
        })
    }

    /// Runs one utterance: phoneme ids and `[noise_scale, length_scale, noise_w]` in, mono
    /// samples out.
    pub(crate) fn infer(&self, ids: &[i64], scales: [f32; 3]) -> Result<Vec<f32>, String> {
        let text = |e: ort::Error| e.to_string();
        let input = Tensor::from_array(([1usize, ids.len()], ids.to_vec())).map_err(text)?;
        let lengths = Tensor::from_array(([1usize], vec![ids.len() as i64])).map_err(text)?;
        let scales = Tensor::from_array(([3usize], scales.to_vec())).map_err(text)?;
        let mut session = self.session.lock().unwrap_or_else(PoisonError::into_inner);
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
        Ok(samples.to_vec())
    }
}
