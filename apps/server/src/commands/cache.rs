//! The chunk-cache options `render`, `serve` and `bench` share: the cache bound in MiB, the
//! number of chunk encoders, and the user's default cache folder.

use std::ffi::OsString;
use std::path::PathBuf;

use clap::builder::RangedU64ValueParser;
use core_engine::chunk_cache::DEFAULT_MAX_BYTES;

/// Bytes in one `--cache-max-mb` megabyte (a MiB).
const BYTES_PER_MB: u64 = 1 << 20;

/// The default of `--cache-max-mb`: the cache's own default bound.
pub const DEFAULT_CACHE_MAX_MB: u64 = DEFAULT_MAX_BYTES / BYTES_PER_MB;

/// `--cache-max-mb` in bytes.
pub fn mb_to_bytes(mb: u64) -> u64 {
    mb.saturating_mul(BYTES_PER_MB)
}

/// `--jobs`: at least one chunk encoder.
pub fn jobs_parser() -> RangedU64ValueParser<usize> {
    RangedU64ValueParser::new().range(1..)
}

/// The user's chunk cache, from the environment (see [`resolve_cache_dir`]).
pub fn user_cache_dir() -> Option<PathBuf> {
    resolve_cache_dir(std::env::var_os("XDG_CACHE_HOME"), std::env::var_os("HOME"))
}

/// `$XDG_CACHE_HOME/storyflow/chunks`, else `$HOME/.cache/storyflow/chunks`; `None` when
/// neither is set. Empty values count as unset, and so does a relative `XDG_CACHE_HOME` (the
/// XDG spec says to ignore it).
pub fn resolve_cache_dir(
    xdg_cache_home: Option<OsString>,
    home: Option<OsString>,
) -> Option<PathBuf> {
    tts::paths::xdg_base_dir(xdg_cache_home, home, ".cache")
        .map(|cache| cache.join("storyflow").join("chunks"))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn os(value: &str) -> Option<OsString> {
        Some(OsString::from(value))
    }

    #[test]
    fn xdg_cache_home_wins_over_home() {
        assert_eq!(
            resolve_cache_dir(os("/x"), os("/home/a")),
            Some(PathBuf::from("/x/storyflow/chunks"))
        );
        assert_eq!(
            resolve_cache_dir(None, os("/home/a")),
            Some(PathBuf::from("/home/a/.cache/storyflow/chunks"))
        );
        assert_eq!(resolve_cache_dir(None, None), None);
    }

    #[test]
    fn empty_and_relative_values_are_ignored() {
        assert_eq!(
            resolve_cache_dir(os("relative"), os("/home/a")),
            Some(PathBuf::from("/home/a/.cache/storyflow/chunks"))
        );
        assert_eq!(
            resolve_cache_dir(os(""), os("/root")),
            Some(PathBuf::from("/root/.cache/storyflow/chunks"))
        );
        assert_eq!(resolve_cache_dir(os("relative"), os("")), None);
    }

    #[test]
    fn megabytes_are_mebibytes_and_the_default_is_the_cache_default() {
        assert_eq!(mb_to_bytes(1), 1_048_576);
        assert_eq!(mb_to_bytes(DEFAULT_CACHE_MAX_MB), DEFAULT_MAX_BYTES);
        assert_eq!(mb_to_bytes(u64::MAX), u64::MAX);
    }
}
