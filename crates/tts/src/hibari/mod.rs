//! The hibari voice (`af_heart`): a port of hibari-tts 0.2.1 (Apache-2.0), which itself ports
//! misaki 0.9.4's English G2P (Apache-2.0, hexgrad) and spaCy's tokenizer rules (MIT).

pub mod g2p;
pub mod sentences;
