//! What the tests of this binary share: running the `storyflow` binary, and children that
//! cannot outlive their test.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};

/// A child process killed (SIGKILL) and reaped when dropped.
pub struct KillOnDrop(pub Child);

impl Drop for KillOnDrop {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

/// The `storyflow` binary under test.
pub fn storyflow() -> Command {
    Command::new(env!("CARGO_BIN_EXE_storyflow"))
}

/// `storyflow ARGS --data-dir DATA_DIR` running, with extra environment `env` (and no database
/// URL but the one `env` gives); the process and the first line it printed (its startup line).
pub fn start(args: &[&str], data_dir: &Path, env: &[(&str, &str)]) -> (KillOnDrop, String) {
    let mut child = KillOnDrop(
        storyflow()
            .args(args)
            .arg("--data-dir")
            .arg(data_dir)
            .env_remove("STORYFLOW_DATABASE_URL")
            .envs(env.iter().copied())
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .spawn()
            .unwrap(),
    );
    let line = first_line(&mut child);
    (child, line)
}

/// `storyflow serve --bind BIND ARGS --data-dir DATA_DIR` with extra environment `env` (see
/// [`start`]); the server, its address (from the startup line) and that line.
pub fn serve_with(
    bind: &str,
    data_dir: &Path,
    args: &[&str],
    env: &[(&str, &str)],
) -> (KillOnDrop, String, String) {
    let command: Vec<&str> = ["serve", "--bind", bind]
        .iter()
        .chain(args)
        .copied()
        .collect();
    let (child, line) = start(&command, data_dir, env);
    let address = line
        .split_whitespace()
        .find(|word| word.starts_with("http://"))
        .unwrap_or_else(|| panic!("no address in {line:?}"))
        .to_owned();
    (child, address, line)
}

/// The first line the child prints (its startup line).
pub fn first_line(child: &mut KillOnDrop) -> String {
    let mut line = String::new();
    BufReader::new(child.0.stdout.take().unwrap())
        .read_line(&mut line)
        .unwrap();
    line
}

/// The demo project's manifest (`fixtures/demo/`).
pub fn demo_manifest() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../../fixtures/demo/manifest.json")
}

/// `storyflow import MANIFEST --data-dir DATA_DIR` with extra environment `env` (and no
/// database URL but the one `env` gives), which must succeed; the new project's id.
pub fn import(manifest: &Path, data_dir: &Path, env: &[(&str, &str)]) -> String {
    let output = storyflow()
        .arg("import")
        .arg(manifest)
        .arg("--data-dir")
        .arg(data_dir)
        .env_remove("STORYFLOW_DATABASE_URL")
        .envs(env.iter().copied())
        .output()
        .unwrap();
    assert!(
        output.status.success(),
        "{}",
        String::from_utf8_lossy(&output.stderr)
    );
    uuid_like(String::from_utf8(output.stdout).unwrap().trim()).to_owned()
}

/// `text`, checked to look like a UUID.
pub fn uuid_like(text: &str) -> &str {
    assert_eq!(text.len(), 36, "{text:?}");
    assert_eq!(text.matches('-').count(), 4, "{text:?}");
    text
}
