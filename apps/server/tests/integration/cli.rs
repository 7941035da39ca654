//! The `storyflow` binary end to end: `serve` on port 0 answers health (and refuses a public
//! address without an API token), `import` prints an id, both on SQLite and on PostgreSQL.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::io::Read;
use std::path::Path;
use std::process::Stdio;
use std::time::{Duration, Instant};

use crate::support::{demo_manifest, import, serve_with, storyflow, uuid_like, KillOnDrop};

/// [`serve_on`] loopback port 0.
fn serve(data_dir: &Path, env: &[(&str, &str)]) -> (KillOnDrop, String, String) {
    serve_on("127.0.0.1:0", data_dir, env)
}

/// `storyflow serve` bound to `bind` over `data_dir` with extra environment `env`.
fn serve_on(bind: &str, data_dir: &Path, env: &[(&str, &str)]) -> (KillOnDrop, String, String) {
    serve_with(bind, data_dir, &[], env)
}

#[test]
fn serve_binds_port_zero_and_answers_health() {
    let data = tempfile::tempdir().unwrap();
    let (_server, address, _) = serve(data.path(), &[]);
    let body: serde_json::Value = reqwest::blocking::get(format!("{address}/api/health/"))
        .unwrap()
        .json()
        .unwrap();
    assert_eq!(body["status"], "ok");
    assert!(data.path().join("storyflow.sqlite3").is_file());
    assert!(data.path().join("media").is_dir());
}

/// `import` and `serve` with `STORYFLOW_DATABASE_URL` keep the rows on a real PostgreSQL server
/// (media stay in the data folder) and never show the URL's password.
#[test]
fn import_and_serve_share_a_postgres_database() {
    let data = tempfile::tempdir().unwrap();
    // The throwaway cluster trusts every local connection, so any password is accepted.
    let url = test_cluster::fresh_database().replacen("postgres@", "postgres:s3cret@", 1);
    let env = [("STORYFLOW_DATABASE_URL", url.as_str())];
    let output = storyflow()
        .arg("import")
        .arg(demo_manifest())
        .arg("--data-dir")
        .arg(data.path())
        .envs(env)
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(output.status.success(), "{stderr}");
    assert!(!stderr.contains("s3cret"), "{stderr}");
    let id = String::from_utf8(output.stdout).unwrap();
    let id = uuid_like(id.trim()).to_owned();

    let (_server, address, line) = serve(data.path(), &env);
    assert!(line.contains("postgres://postgres:***@"), "{line}");
    assert!(!line.contains("s3cret"), "{line}");
    let projects: serde_json::Value = reqwest::blocking::get(format!("{address}/api/projects/"))
        .unwrap()
        .json()
        .unwrap();
    assert_eq!(projects["count"], 1, "{projects}");
    assert_eq!(projects["results"][0]["id"], id.as_str());
    assert!(!data.path().join("storyflow.sqlite3").exists());
    assert!(data.path().join(format!("media/projects/{id}")).is_dir());
}

/// Runs `storyflow serve ARGS` that is expected to refuse to start; its stderr.
fn serve_refusal(args: &[&str], env: &[(&str, &str)]) -> String {
    let data = tempfile::tempdir().unwrap();
    let data_dir = data.path().join("data");
    let mut command = storyflow();
    command
        .arg("serve")
        .args(args)
        .arg("--data-dir")
        .arg(&data_dir)
        .env_remove("STORYFLOW_API_TOKEN")
        .envs(env.iter().copied())
        .stdout(Stdio::null())
        .stderr(Stdio::piped());
    // Killed on drop: a server that wrongly starts must not outlive the test.
    let mut child = KillOnDrop(command.spawn().unwrap());
    let deadline = Instant::now() + Duration::from_secs(30);
    let status = loop {
        if let Some(status) = child.0.try_wait().unwrap() {
            break status;
        }
        assert!(Instant::now() < deadline, "serve {args:?} started");
        std::thread::sleep(Duration::from_millis(50));
    };
    let mut stderr = String::new();
    child
        .0
        .stderr
        .take()
        .unwrap()
        .read_to_string(&mut stderr)
        .unwrap();
    assert!(!status.success(), "{stderr}");
    assert!(!data_dir.exists(), "serve {args:?} made its data folder");
    stderr
}

#[test]
fn serve_refuses_a_public_bind_without_a_token() {
    let stderr = serve_refusal(&["--bind", "0.0.0.0:0"], &[]);
    for hint in ["0.0.0.0:0", "--api-token", "STORYFLOW_API_TOKEN"] {
        assert!(stderr.contains(hint), "{stderr}");
    }
}

#[test]
fn serve_refuses_a_database_url_that_is_not_postgres_without_showing_it() {
    let stderr = serve_refusal(
        &["--bind", "127.0.0.1:0"],
        &[(
            "STORYFLOW_DATABASE_URL",
            "mysql://story:s3cret@localhost/flow",
        )],
    );
    assert!(stderr.contains("postgres://"), "{stderr}");
    assert!(!stderr.contains("s3cret"), "{stderr}");
}

#[test]
fn serve_refuses_an_empty_or_short_token() {
    let short = serve_refusal(&["--bind", "127.0.0.1:0", "--api-token", "short"], &[]);
    assert!(short.contains("at least 16"), "{short}");
    // An empty variable is a mistake to point out, not a way to turn the token off.
    let empty = serve_refusal(&["--bind", "0.0.0.0:0"], &[("STORYFLOW_API_TOKEN", "")]);
    assert!(empty.contains("has 0 characters"), "{empty}");
}

#[test]
fn serve_with_a_token_from_the_environment_requires_it() {
    const TOKEN: &str = "cli-test-token-0123456789abcdef";
    let data = tempfile::tempdir().unwrap();
    let (_server, address, line) =
        serve_on("0.0.0.0:0", data.path(), &[("STORYFLOW_API_TOKEN", TOKEN)]);
    assert!(line.contains("API token required"), "{line}");
    assert!(!line.contains(TOKEN), "{line}");
    let port = address
        .strip_prefix("http://0.0.0.0:")
        .unwrap_or_else(|| panic!("no address in {line:?}"));
    let url = |path: &str| format!("http://127.0.0.1:{port}{path}");
    let client = reqwest::blocking::Client::new();
    assert_eq!(
        client.get(url("/api/health/")).send().unwrap().status(),
        200
    );
    assert_eq!(
        client.get(url("/api/projects/")).send().unwrap().status(),
        401
    );
    let response = client
        .get(url("/api/projects/"))
        .bearer_auth(TOKEN)
        .send()
        .unwrap();
    assert_eq!(response.status(), 200);
}

#[test]
fn import_prints_the_new_project_id() {
    let data = tempfile::tempdir().unwrap();
    let id = import(&demo_manifest(), data.path(), &[]);
    let audio = data.path().join(format!("media/projects/{id}/audio"));
    assert_eq!(std::fs::read_dir(audio).unwrap().count(), 4);
}

#[test]
fn import_of_a_missing_manifest_fails_with_a_message() {
    let data = tempfile::tempdir().unwrap();
    let output = storyflow()
        .args(["import", "/nonexistent/manifest.json", "--data-dir"])
        .arg(data.path())
        .output()
        .unwrap();
    assert!(!output.status.success());
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(stderr.contains("/nonexistent/manifest.json"), "{stderr}");
}

#[test]
fn render_prints_the_sidecars_and_every_warning() {
    let dir = tempfile::tempdir().unwrap();
    let demo = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../fixtures/demo");
    let manifest = dir.path().join("manifest.json");
    let body = serde_json::json!({
        "title": "CLI",
        "settings": {"width": 160, "height": 90, "fps": 10, "transition_duration": 0.2,
                     "subtitle_color": "#FF0", "logo_file": "no-such-logo.png"},
        "segments": [{"text_content": "Thanks for watching.",
                      "image": demo.join("images/04.jpg"), "audio": demo.join("audio/04.flac")}],
    });
    std::fs::write(&manifest, body.to_string()).unwrap();
    let video = dir.path().join("out.mp4");
    let output = storyflow()
        .arg("render")
        .arg(&manifest)
        .arg("--output")
        .arg(&video)
        .args(["--preset", "ultrafast"])
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(output.status.success(), "{stderr}");
    let (srt, vtt) = (dir.path().join("out.srt"), dir.path().join("out.vtt"));
    assert!(srt.is_file() && vtt.is_file());
    assert!(
        stderr.contains(&format!(
            "subtitles: {} and {}",
            srt.display(),
            vtt.display()
        )),
        "{stderr}"
    );
    let summary: serde_json::Value = serde_json::from_slice(&output.stdout).unwrap();
    assert_eq!(
        summary["subtitles"],
        serde_json::json!({"srt": srt, "vtt": vtt})
    );
    let warnings = summary["warnings"].as_array().unwrap();
    assert!(
        warnings
            .iter()
            .any(|w| w.as_str().unwrap().contains("logo was left out")),
        "{warnings:?}"
    );
    for warning in warnings {
        assert!(
            stderr.contains(&format!("warning: {}", warning.as_str().unwrap())),
            "{stderr}"
        );
    }
}

/// A real 1x1 PNG whose header is rewritten to declare `width` x `height` pixels.
fn png_declaring(width: u32, height: u32) -> Vec<u8> {
    let mut png = std::io::Cursor::new(Vec::new());
    image::RgbImage::new(1, 1)
        .write_to(&mut png, image::ImageFormat::Png)
        .unwrap();
    let mut png = png.into_inner();
    // The IHDR chunk: length at 8, type at 12, width at 16, height at 20, CRC at 29.
    png[16..20].copy_from_slice(&width.to_be_bytes());
    png[20..24].copy_from_slice(&height.to_be_bytes());
    let crc = crc32fast::hash(&png[12..29]);
    png[29..33].copy_from_slice(&crc.to_be_bytes());
    png
}

#[test]
fn import_and_render_refuse_an_oversized_picture_from_its_header() {
    let dir = tempfile::tempdir().unwrap();
    let demo = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../fixtures/demo");
    std::fs::write(dir.path().join("huge.png"), png_declaring(40_000, 40_000)).unwrap();
    let manifest = dir.path().join("manifest.json");
    let body = serde_json::json!({
        "title": "Huge",
        "settings": {"width": 160, "height": 90, "fps": 10},
        "segments": [{"text_content": "Big.", "image": "huge.png",
                      "audio": demo.join("audio/04.flac")}],
    });
    std::fs::write(&manifest, body.to_string()).unwrap();
    let import = storyflow()
        .arg("import")
        .arg(&manifest)
        .arg("--data-dir")
        .arg(dir.path().join("data"))
        .output()
        .unwrap();
    let render = storyflow()
        .arg("render")
        .arg(&manifest)
        .arg("--output")
        .arg(dir.path().join("out.mp4"))
        .output()
        .unwrap();
    for output in [&import, &render] {
        assert!(!output.status.success());
        let stderr = String::from_utf8_lossy(&output.stderr);
        assert!(
            stderr.contains("segment 1") && stderr.contains("40000x40000"),
            "{stderr}"
        );
    }
    assert!(!dir.path().join("out.mp4").exists());
}

/// A one-segment 160x90 manifest of the demo's last picture and narration, written in `dir`.
fn tiny_manifest(dir: &Path) -> std::path::PathBuf {
    let demo = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../fixtures/demo");
    let manifest = dir.join("manifest.json");
    let body = serde_json::json!({
        "title": "CLI",
        "settings": {"width": 160, "height": 90, "fps": 10},
        "segments": [{"text_content": "Hello.",
                      "image": demo.join("images/04.jpg"), "audio": demo.join("audio/04.flac")}],
    });
    std::fs::write(&manifest, body.to_string()).unwrap();
    manifest
}

#[test]
fn a_failed_render_prints_each_cause_of_its_error_once() {
    let dir = tempfile::tempdir().unwrap();
    let manifest = tiny_manifest(dir.path());
    // The output's folder cannot be made: a file is in the way.
    let blocker = dir.path().join("blocker");
    std::fs::write(&blocker, "not a folder").unwrap();
    let output = storyflow()
        .arg("render")
        .arg(&manifest)
        .arg("--output")
        .arg(blocker.join("out.mp4"))
        .args(["--preset", "ultrafast", "--no-cache"])
        .output()
        .unwrap();
    assert!(!output.status.success());
    let stderr = String::from_utf8_lossy(&output.stderr);
    let line = stderr
        .lines()
        .find(|line| line.starts_with("error: "))
        .unwrap_or_else(|| panic!("no error line in {stderr}"));
    let context = format!("cannot read or write {}", blocker.display());
    let cause = line
        .strip_prefix(&format!("error: {context}: "))
        .unwrap_or_else(|| panic!("unexpected error line {line:?}"));
    assert!(!cause.is_empty(), "{line}");
    for message in [context.as_str(), cause] {
        assert_eq!(
            stderr.matches(message).count(),
            1,
            "{message:?} in {stderr}"
        );
    }
}

#[test]
fn render_music_flag_names_a_music_file_it_cannot_use() {
    let dir = tempfile::tempdir().unwrap();
    let manifest = tiny_manifest(dir.path());
    let music = dir.path().join("nowhere.mp3");
    let output = storyflow()
        .arg("render")
        .arg(&manifest)
        .arg("--output")
        .arg(dir.path().join("out.mp4"))
        .arg("--music")
        .arg(&music)
        .args(["--preset", "ultrafast", "--no-cache"])
        .output()
        .unwrap();
    assert!(!output.status.success());
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(
        stderr.contains(&format!(
            "cannot use background music {}: file not found",
            music.display()
        )),
        "{stderr}"
    );
    assert!(!dir.path().join("out.mp4").exists());
}
