//! The rendered bits, pinned per renderer version: a change to how frames are drawn or
//! encoded that forgets to bump `RENDERER_VERSION` (and so would let cached chunks of the
//! old code be spliced beside new ones) fails here.

use core_engine::chunk_plan::RENDERER_VERSION;
use core_engine::{render_with, CancelToken, RenderOptions};
use sha2::{Digest, Sha256};

use crate::common::{compressed_video, demo_spec};

/// The renderer version and the SHA-256 of the demo project's compressed video samples
/// (320x180, 15 fps, every layer) as that version renders them.
const GOLDEN: (u32, &str) = (
    5,
    "a878257ff67cd197e810dd7b716bde36457f3f368aaf484973a824b9c6cabd79",
);

#[test]
fn the_video_is_the_one_recorded_for_this_renderer_version() {
    let dir = tempfile::tempdir().unwrap();
    let output = dir.path().join("golden.mp4");
    render_with(
        &demo_spec(),
        &output,
        &RenderOptions::default(),
        &mut |_| {},
        &CancelToken::new(),
    )
    .unwrap();
    let mut digest = Sha256::new();
    for sample in compressed_video(&output) {
        digest.update(&sample);
    }
    let digest: String = digest
        .finalize()
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect();
    assert_eq!(
        (RENDERER_VERSION, digest.as_str()),
        GOLDEN,
        "the renderer draws or encodes differently: bump RENDERER_VERSION \
         (core_engine::plan::chunk_plan) and record the new version and digest in GOLDEN"
    );
}
