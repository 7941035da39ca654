//! The hibari voice (`af_heart`, American English): a port of the hibari-tts 0.2.1 Python
//! package (Apache-2.0, © its authors; see the LICENSE and NOTICE installed beside the model in
//! the TTS home's `hibari/` folder). Its model predicts a spectrum per 12.5 ms frame; [`dsp`]
//! turns that into samples.

pub mod dsp;
mod math;
pub mod model;
pub mod vocab;

/// The voice id the editor sends for this voice (Kokoro's name for its teacher voice).
pub const VOICE_ID: &str = "af_heart";
