//! The hibari model run by ONNX Runtime: phoneme ids and a speed in, a spectrum per 12.5 ms
//! frame out (no waveform: [`super::dsp`] makes it), plus how long each id lasts.
//!
//! Model contract: inputs `ids` int64 `[1, L]` and `speed` float32 `[1]`; outputs `lh`,
//! `theta`, `ln`, `lr`, `phi` float32 `[1, 601, F]` and `f0` `[1, F]`. The model declares no
//! durations, but its length regulator rounds and clips them into the tensor
//! `/Clip_output_0` (float32 `[L]`, in units of 2 frames); [`HibariModel::load`] declares it as
//! an output by patching the model bytes in memory.

use std::path::Path;

use ort::environment::Environment;
use ort::value::Tensor;

use super::dsp::BINS;
use crate::error::TtsError;
use crate::model::{environment, expose_output, graph_outputs, Sessions};
use crate::paths::TtsHome;

/// The model's file in the hibari folder of the TTS home.
pub const MODEL_FILE: &str = "hibari.onnx";
/// The length regulator's clipped durations, one per input id.
const DURATIONS: &str = "/Clip_output_0";
/// The spectral parts, in the order [`Spectra::parts`] gives them.
const PARTS: [&str; 5] = ["lh", "theta", "ln", "lr", "phi"];
/// Model frames per duration unit.
pub const FRAMES_PER_DURATION: usize = 2;

/// What the model predicts for one utterance of F frames.
#[derive(Debug, Clone, PartialEq)]
pub struct Spectra {
    frames: usize,
    /// lh, theta, ln, lr, phi: each `[601 × F]`, row-major (bin by bin).
    parts: [Vec<f32>; 5],
    f0: Vec<f32>,
    durations: Vec<f32>,
}

impl Spectra {
    /// Checks the shapes: every part `BINS × F` for `F = f0.len()`.
    pub fn new(
        lh: Vec<f32>,
        theta: Vec<f32>,
        ln: Vec<f32>,
        lr: Vec<f32>,
        phi: Vec<f32>,
        f0: Vec<f32>,
        durations: Vec<f32>,
    ) -> Result<Self, String> {
        let frames = f0.len();
        let parts = [lh, theta, ln, lr, phi];
        for (name, part) in PARTS.iter().zip(&parts) {
            if part.len() != BINS * frames {
                return Err(format!(
                    "`{name}` has {} values, not {BINS} × {frames} frames",
                    part.len()
                ));
            }
        }
        Ok(Self {
            frames,
            parts,
            f0,
            durations,
        })
    }

    /// F, the number of 12.5 ms frames.
    pub fn frames(&self) -> usize {
        self.frames
    }

    /// lh (log harmonic gain), theta (harmonic phase, through tanh), ln (log noise gain),
    /// lr (log free-phase gain), phi (free phase): each `[601 × F]` row-major.
    pub fn parts(&self) -> &[Vec<f32>; 5] {
        &self.parts
    }

    /// F0 per frame, in Hz (below 40 Hz: unvoiced).
    pub fn f0(&self) -> &[f32] {
        &self.f0
    }

    /// One duration per input id (pads included), in units of [`FRAMES_PER_DURATION`]
    /// frames (600 samples): whole numbers, summing to F / 2.
    pub fn durations(&self) -> &[f32] {
        &self.durations
    }
}

/// The loaded hibari model.
pub struct HibariModel {
    /// Chunks run at once on different sessions (see `crate::parallel`).
    sessions: Sessions,
}

impl std::fmt::Debug for HibariModel {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("HibariModel")
            .field("sessions", &self.sessions.count())
            .finish_non_exhaustive()
    }
}

impl HibariModel {
    /// Loads the runtime library and the model from the TTS home, as one session with
    /// `threads` intra-op threads.
    pub fn open(home: &TtsHome, threads: usize) -> Result<Self, TtsError> {
        let environment = environment(&home.runtime_library())?;
        let path = home.hibari_dir().join(MODEL_FILE);
        Self::load(&environment, &path, 1, threads).map_err(|reason| TtsError::Voice {
            id: super::VOICE_ID.to_string(),
            path,
            reason,
        })
    }

    /// Builds `sessions` sessions (see [`Sessions`]) of `threads` intra-op threads each, from
    /// the model bytes with the durations declared as an output. Errors are the reason as
    /// text.
    pub(crate) fn load(
        environment: &Environment,
        path: &Path,
        sessions: usize,
        threads: usize,
    ) -> Result<Self, String> {
        let model = std::fs::read(path).map_err(|e| e.to_string())?;
        let outputs = graph_outputs(&model).ok_or("the file is not an ONNX model")?;
        let model = if outputs.iter().any(|name| name == DURATIONS) {
            model
        } else {
            expose_output(&model, DURATIONS)
        };
        let sessions = Sessions::build(environment, &model, sessions, threads)?;
        let names: Vec<String> = sessions.with(|session| {
            session
                .outputs()
                .iter()
                .map(|o| o.name().to_owned())
                .collect()
        });
        for required in PARTS.iter().chain(&["f0", DURATIONS]) {
            if !names.iter().any(|name| name == required) {
                return Err(format!(
                    "the model has no `{required}` output (outputs: {names:?}); not a hibari model"
                ));
            }
        }
        Ok(Self { sessions })
    }

    /// How many utterances can run at once.
    pub fn sessions(&self) -> usize {
        self.sessions.count()
    }

    /// Runs one utterance: ids (with their 0 pads) and a speed (1.0 = the teacher's pace).
    pub fn infer(&self, ids: &[i64], speed: f32) -> Result<Spectra, String> {
        let text = |e: ort::Error| e.to_string();
        let input = Tensor::from_array(([1usize, ids.len()], ids.to_vec())).map_err(text)?;
        let speed = Tensor::from_array(([1usize], vec![speed])).map_err(text)?;
        self.sessions.with(|session| {
            let outputs = session
                .run(ort::inputs!["ids" => input, "speed" => speed])
                .map_err(text)?;
            let output = |name: &str| -> Result<Vec<f32>, String> {
                let value = outputs
                    .get(name)
                    .ok_or_else(|| format!("the model produced no `{name}`"))?;
                let (_, data) = value.try_extract_tensor::<f32>().map_err(text)?;
                Ok(data.to_vec())
            };
            let spectra = Spectra::new(
                output(PARTS[0])?,
                output(PARTS[1])?,
                output(PARTS[2])?,
                output(PARTS[3])?,
                output(PARTS[4])?,
                output("f0")?,
                output(DURATIONS)?,
            )?;
            if spectra.durations.len() != ids.len() {
                return Err(format!(
                    "{} durations for {} ids",
                    spectra.durations.len(),
                    ids.len()
                ));
            }
            Ok(spectra)
        })
    }
}
