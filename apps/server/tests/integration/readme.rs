//! README command 1 as a newcomer runs it: `scripts/demo.sh` (what `scripts/serve.sh` runs after
//! installing and building) with a relative data folder, then the two `curl` lines it prints,
//! run as printed, until the render is COMPLETED.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::io::{BufRead, BufReader};
use std::net::TcpListener;
use std::path::Path;
use std::process::{Command, Output, Stdio};
use std::time::{Duration, Instant};

use crate::support::KillOnDrop;

/// Removes the data folder however the test ends.
struct RemoveOnDrop(std::path::PathBuf);

impl Drop for RemoveOnDrop {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

fn run_printed(command: &str) -> Output {
    Command::new("sh").args(["-c", command]).output().unwrap()
}

#[test]
fn the_readme_flow_renders_the_demo_with_a_relative_data_folder() {
    let repo = Path::new(env!("CARGO_MANIFEST_DIR")).join("../..");
    // Relative to the repository, as `./data` is in the README.
    let data_dir = format!("target/readme-flow-{}", std::process::id());
    let _cleanup = RemoveOnDrop(repo.join(&data_dir));
    let port = TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let mut child = KillOnDrop(
        Command::new("bash")
            .arg(repo.join("scripts/demo.sh"))
            .arg(env!("CARGO_BIN_EXE_storyflow"))
            .env("STORYFLOW_DATA_DIR", &data_dir)
            .env("STORYFLOW_BIND", format!("127.0.0.1:{port}"))
            // A tiny render: the flow is under test here, not the picture.
            .env("STORYFLOW_PREVIEW", "320x180@10")
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .spawn()
            .unwrap(),
    );
    // Read on a thread, so a script that never prints fails the test instead of hanging it.
    let stdout = child.0.stdout.take().unwrap();
    let (lines, printed_lines) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        for line in BufReader::new(stdout).lines().map_while(Result::ok) {
            if lines.send(line).is_err() {
                break;
            }
        }
    });
    let mut printed = Vec::new();
    while printed.len() < 2 {
        let line = printed_lines
            .recv_timeout(Duration::from_secs(120))
            .expect("the script did not print its two curl lines");
        if let Some(at) = line.find("curl ") {
            let command = &line[at + "curl ".len()..];
            printed.push(format!("curl -sS --fail-with-body {command}"));
        }
    }
    let (start, poll) = (&printed[0], &printed[1]);
    assert!(start.contains(" -X POST "), "{start}");

    // The server starts after the lines are printed: retry until it listens.
    let deadline = Instant::now() + Duration::from_secs(60);
    let started = loop {
        let output = run_printed(start);
        if output.status.success() || Instant::now() > deadline {
            break output;
        }
        std::thread::sleep(Duration::from_millis(200));
    };
    let body = String::from_utf8_lossy(&started.stdout);
    assert!(started.status.success(), "{start}: {body}");
    assert!(body.contains("\"PROCESSING\""), "{body}");

    let deadline = Instant::now() + Duration::from_secs(300);
    loop {
        let output = run_printed(poll);
        let body = String::from_utf8_lossy(&output.stdout).into_owned();
        assert!(output.status.success(), "{poll}: {body}");
        let status: serde_json::Value = serde_json::from_str(&body).unwrap();
        match status["status"].as_str() {
            Some("COMPLETED") => {
                let url = status["output_url"].as_str().unwrap();
                let video = repo.join(&data_dir).join(url.trim_start_matches('/'));
                assert!(video.is_file(), "{} is missing", video.display());
                return;
            }
            Some("FAILED") => panic!("the demo render failed: {body}"),
            _ => {}
        }
        assert!(Instant::now() < deadline, "no COMPLETED in time: {body}");
        std::thread::sleep(Duration::from_millis(500));
    }
}
