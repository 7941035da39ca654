//! A throwaway S3-compatible server: moto's (PyPI `moto[server]`, which `scripts/setup.sh`
//! installs into a virtual environment when it sets up for tests), in memory, on a free
//! loopback port. [`fresh_bucket`] creates a bucket of its own for each test.

use std::io::{Read, Write};
use std::net::TcpStream;
use std::path::PathBuf;
use std::process::{Command, Stdio};
use std::sync::OnceLock;
use std::time::{Duration, Instant};

/// How long the server may take to answer after it is started (it imports a lot of Python).
const START_TIMEOUT: Duration = Duration::from_secs(60);

/// A bucket on the test server, and how to reach it.
#[derive(Debug, Clone)]
pub struct TestBucket {
    /// `s3://{bucket}/{prefix}`: what `--store` takes.
    pub url: String,
    /// `http://127.0.0.1:{port}`.
    pub endpoint: String,
}

impl TestBucket {
    /// The server's settings as `object_store` options (in-process tests: parallel tests must
    /// not share process-wide environment variables).
    pub fn options(&self) -> Vec<(String, String)> {
        [
            ("aws_endpoint", self.endpoint.as_str()),
            ("aws_allow_http", "true"),
            ("aws_access_key_id", "test"),
            ("aws_secret_access_key", "test"),
            ("aws_region", "us-east-1"),
        ]
        .into_iter()
        .map(|(name, value)| (name.to_owned(), value.to_owned()))
        .collect()
    }

    /// The same settings as the standard AWS environment variables, for a `storyflow` process.
    pub fn env(&self) -> Vec<(&'static str, String)> {
        vec![
            ("AWS_ENDPOINT_URL", self.endpoint.clone()),
            ("AWS_ALLOW_HTTP", "true".to_owned()),
            ("AWS_ACCESS_KEY_ID", "test".to_owned()),
            ("AWS_SECRET_ACCESS_KEY", "test".to_owned()),
            ("AWS_REGION", "us-east-1".to_owned()),
        ]
    }
}

struct Server {
    port: u16,
}

static SERVER: OnceLock<Server> = OnceLock::new();

/// A new, empty bucket on the test server (started if need be), with a key prefix so that
/// the prefix handling is exercised too.
pub fn fresh_bucket() -> TestBucket {
    let server = SERVER.get_or_init(start_server);
    let name = format!("test-{}", uuid::Uuid::new_v4().simple());
    let status = request(server.port, &format!("PUT /{name} HTTP/1.1"));
    assert!(status.contains(" 200 "), "creating bucket {name}: {status}");
    TestBucket {
        url: format!("s3://{name}/studio"),
        endpoint: format!("http://127.0.0.1:{}", server.port),
    }
}

/// `moto_server`: `STORYFLOW_MOTO_SERVER`, else where `scripts/setup.sh` puts it
/// (`$XDG_DATA_HOME/storyflow/moto`, `~/.local/share/storyflow/moto` without it). The rule
/// is repeated in `scripts/setup.sh`; change both together.
fn server_binary() -> PathBuf {
    if let Some(path) = std::env::var_os("STORYFLOW_MOTO_SERVER") {
        return PathBuf::from(path);
    }
    let data = std::env::var_os("XDG_DATA_HOME")
        .map(PathBuf::from)
        .filter(|path| path.is_absolute())
        .unwrap_or_else(|| PathBuf::from(std::env::var_os("HOME").unwrap()).join(".local/share"));
    data.join("storyflow/moto/bin/moto_server")
}

// Never waited for: it serves until this process ends, then the watchdog stops it.
#[allow(clippy::zombie_processes)]
fn start_server() -> Server {
    let binary = server_binary();
    assert!(
        binary.is_file(),
        "{} is missing: run STORYFLOW_SETUP_TESTS=1 scripts/setup.sh",
        binary.display()
    );
    let port = crate::free_port();
    let child = Command::new(&binary)
        .args(["-H", "127.0.0.1", "-p", &port.to_string()])
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    crate::spawn_watchdog(&format!("kill {}", child.id()));
    let started = Instant::now();
    while TcpStream::connect(("127.0.0.1", port)).is_err() {
        assert!(
            started.elapsed() < START_TIMEOUT,
            "{} did not answer on port {port} within {START_TIMEOUT:?}",
            binary.display()
        );
        std::thread::sleep(Duration::from_millis(100));
    }
    Server { port }
}

/// One bodiless HTTP/1.1 request; returns the status line.
fn request(port: u16, request_line: &str) -> String {
    let mut stream = TcpStream::connect(("127.0.0.1", port)).unwrap();
    write!(
        stream,
        "{request_line}\r\nHost: 127.0.0.1:{port}\r\nContent-Length: 0\r\nConnection: close\r\n\r\n"
    )
    .unwrap();
    let mut response = String::new();
    stream.read_to_string(&mut response).unwrap();
    response.lines().next().unwrap_or_default().to_owned()
}
