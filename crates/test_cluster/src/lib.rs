//! Throwaway servers for a test binary, each started on first use on a free loopback port and
//! stopped by a watchdog shell once this process is gone, however it ends (a static is never
//! dropped):
//!
//! - a PostgreSQL cluster: Debian's server binaries (`scripts/setup.sh` installs
//!   `postgresql`), `initdb` into a temporary folder with trust authentication. Every test gets
//!   a database of its own ([`fresh_database`]).
//! - an S3-compatible server ([`s3`]). Every test gets a bucket of its own.
// Test support: a server that cannot start should fail the test loudly, with the reason.
#![allow(clippy::unwrap_used, clippy::expect_used)]

pub mod s3;

use std::net::TcpListener;
use std::os::unix::fs::MetadataExt;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::sync::OnceLock;

use diesel::{Connection, PgConnection, RunQueryDsl};

struct Cluster {
    port: u16,
}

static CLUSTER: OnceLock<Cluster> = OnceLock::new();

/// The `postgres://` URL of a new, empty database on the cluster (started if need be).
pub fn fresh_database() -> String {
    let cluster = CLUSTER.get_or_init(start_cluster);
    let name = format!("test_{}", uuid::Uuid::new_v4().simple());
    let mut admin = PgConnection::establish(&cluster.url("postgres")).unwrap();
    diesel::sql_query(format!("CREATE DATABASE {name}"))
        .execute(&mut admin)
        .unwrap();
    cluster.url(&name)
}

impl Cluster {
    fn url(&self, database: &str) -> String {
        format!("postgres://postgres@127.0.0.1:{}/{database}", self.port)
    }
}

fn start_cluster() -> Cluster {
    let bin = server_binaries();
    // Kept (the watchdog removes it): a TempDir in a static would never be dropped anyway.
    let root = tempfile::Builder::new()
        .prefix("storyflow-pg-")
        .tempdir()
        .unwrap()
        .keep();
    let data = root.join("data");
    let as_root = is_root();
    if as_root {
        // The server refuses to run as root; the folder becomes the postgres user's.
        run(Command::new("chown").arg("postgres:postgres").arg(&root));
    }
    run(server_command(as_root, &bin.join("initdb"))
        .args(["-A", "trust", "-U", "postgres", "--no-sync", "-E", "UTF8"])
        .args(["--locale", "C", "-D"])
        .arg(&data));
    let port = free_port();
    // Many tests' pools are open at once; durability is pointless for a throwaway cluster.
    let options = format!(
        "-p {port} -k {} -c listen_addresses=127.0.0.1 -c max_connections=400 -c fsync=off \
         -c synchronous_commit=off -c full_page_writes=off",
        root.display()
    );
    run(server_command(as_root, &bin.join("pg_ctl"))
        .args(["-w", "-s", "-D"])
        .arg(&data)
        .arg("-l")
        .arg(root.join("server.log"))
        .args(["-o", &options, "start"]));
    spawn_cluster_watchdog(as_root, &bin, &root);
    Cluster { port }
}

/// The newest `/usr/lib/postgresql/<version>/bin` that has `initdb`.
fn server_binaries() -> PathBuf {
    let mut found: Vec<(u32, PathBuf)> = std::fs::read_dir("/usr/lib/postgresql")
        .expect("PostgreSQL is not installed: run scripts/setup.sh")
        .flatten()
        .filter_map(|entry| {
            let version = entry.file_name().to_str()?.parse::<u32>().ok()?;
            let bin = entry.path().join("bin");
            bin.join("initdb").is_file().then_some((version, bin))
        })
        .collect();
    found.sort();
    found
        .pop()
        .expect("no initdb under /usr/lib/postgresql: run scripts/setup.sh")
        .1
}

fn is_root() -> bool {
    // /proc/self belongs to this process's effective user.
    std::fs::metadata("/proc/self").unwrap().uid() == 0
}

/// `program`, as the postgres user when this process is root.
fn server_command(as_root: bool, program: &Path) -> Command {
    if as_root {
        let mut command = Command::new("runuser");
        command.args(["-u", "postgres", "--"]).arg(program);
        command
    } else {
        Command::new(program)
    }
}

fn run(command: &mut Command) {
    let output = command.stdin(Stdio::null()).output().unwrap();
    assert!(
        output.status.success(),
        "{command:?} failed: {}{}",
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    );
}

pub(crate) fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

/// Stops the cluster and deletes its folder once this process is gone.
fn spawn_cluster_watchdog(as_root: bool, bin: &Path, root: &Path) {
    let runuser = if as_root {
        "runuser -u postgres -- "
    } else {
        ""
    };
    spawn_watchdog(&format!(
        "{runuser}'{pg_ctl}' -D '{data}' -s -m immediate stop; rm -rf '{root}'",
        pg_ctl = bin.join("pg_ctl").display(),
        data = root.join("data").display(),
        root = root.display(),
    ));
}

/// A shell that polls this process and, once it is gone, runs `cleanup` (stopping a server).
/// Never waited for: it must outlive this process.
#[allow(clippy::zombie_processes)]
pub(crate) fn spawn_watchdog(cleanup: &str) {
    let script = format!(
        "while kill -0 {pid} 2>/dev/null; do sleep 1; done; {cleanup}",
        pid = std::process::id(),
    );
    Command::new("sh")
        .args(["-c", &script])
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
}
