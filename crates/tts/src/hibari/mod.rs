//! The hibari voice (`af_heart`, American English): a port of the hibari-tts 0.2.1 Python
//! package (Apache-2.0, © its authors; see the LICENSE and NOTICE installed beside the model in
//! the TTS home's `hibari/` folder), which itself ports misaki 0.9.4's English G2P
//! (Apache-2.0, hexgrad) and spaCy's tokenizer rules (MIT). Text becomes phonemes in [`g2p`]
//! (sentence by sentence, [`sentences`]), phonemes become ids in [`vocab`], the [`model`]
//! predicts a spectrum per 12.5 ms frame and [`dsp`] turns that into samples.

pub mod dsp;
pub mod g2p;
mod math;
pub mod model;
pub mod sentences;
pub mod vocab;
pub mod voice;

/// The voice id the editor sends for this voice (Kokoro's name for its teacher voice).
pub const VOICE_ID: &str = "af_heart";
