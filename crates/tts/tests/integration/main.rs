//! The tts crate's integration tests, in one test binary (one link, one executable on disk):
//! the hibari voice and its G2P against their Python reference, and real synthesis with the
//! installed voices.

mod hibari;
mod hibari_g2p;
mod synthesis;
