//! Builds the small C face of libx264 (`csrc/x264_shim.c`, see `chunks::x264`) and links
//! libx264 (Debian package `libx264-dev`).

fn main() {
    println!("cargo:rerun-if-changed=csrc/x264_shim.c");
    cc::Build::new()
        .file("csrc/x264_shim.c")
        .warnings(true)
        .compile("storyflow_x264_shim");
    println!("cargo:rustc-link-lib=x264");
}
