//! The tts crate's integration tests, in one test binary (one link, one executable on disk):
//! the hibari voice against its Python reference, and real synthesis with the installed voices.
//! `tests/hibari_g2p.rs` stays a binary of its own: it builds its own ONNX Runtime environment
//! to load the G2P alone, and a process may have only one, which the engine here already
//! makes.

mod hibari;
mod synthesis;
