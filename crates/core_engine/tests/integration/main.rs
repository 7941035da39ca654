//! core_engine's integration tests, in one test binary (one link, one executable on disk):
//! real renders of the demo fixture and of small generated projects.

mod common;

mod chunks;
mod golden;
mod layers;
mod render;
mod sound;
