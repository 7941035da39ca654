//! The `storyflow` binary's integration tests, in one test binary (one link, one executable on
//! disk): the commands run as a user runs them.

mod cli;
mod cluster;
mod readme;
mod support;
mod tts_cli;
