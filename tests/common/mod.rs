//! Running the real `switchboard` binary for end-to-end tests: a temporary
//! directory with a config file and a SQLite file, the process started with
//! a clean environment, its address read from the `listening on` line.
//!
//! The end-to-end suites (`e2e_*.rs`) add a fake HubSpot around it
//! ([`world::World`]): Ringostat payloads ([`calls`]), the service's HTTP
//! interface and waiting for events to settle ([`inbox`]), clients the CRM
//! already has ([`seed`]), the fake's records ([`crm`]), and deadline-bound
//! polling ([`wait`]).

#![allow(dead_code)] // each test file uses a different part of this module

pub mod calls;
pub mod crm;
pub mod inbox;
pub mod seed;
pub mod wait;
pub mod world;

use std::io::{BufRead, BufReader};
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, ExitStatus, Stdio};
use std::sync::{Arc, Mutex, mpsc};
use std::time::{Duration, Instant};

pub const BINARY: &str = env!("CARGO_BIN_EXE_switchboard");

/// Variables that would change how the service starts; never inherited.
const CONFIG_VARS: &[&str] = &[
    "SWITCHBOARD_CONFIG",
    "SWITCHBOARD_LISTEN",
    "SWITCHBOARD_STORE_URL",
    "SWITCHBOARD_RULES_DIR",
    "SWITCHBOARD_WEBHOOK_TOKEN",
    "SWITCHBOARD_ADMIN_TOKEN",
    "SWITCHBOARD_LOG_FORMAT",
    "HUBSPOT_TOKEN",
    "RINGOSTAT_API_KEY",
];

const START_DEADLINE: Duration = Duration::from_secs(30);

/// A `switchboard serve` process.
pub struct Server {
    child: Child,
    pub addr: SocketAddr,
    pub dir: Arc<tempfile::TempDir>,
    pub log: Arc<Mutex<String>>,
    reader: Option<std::thread::JoinHandle<()>>,
}

/// `command` with the test's own environment stripped of Switchboard settings.
pub fn command(dir: &Path) -> Command {
    let mut command = Command::new(BINARY);
    command.current_dir(dir).env("RUST_LOG", "info");
    for var in CONFIG_VARS {
        command.env_remove(var);
    }
    command
}

pub fn config_path(dir: &Path) -> PathBuf {
    dir.join("switchboard.yaml")
}

/// A config for tests: port 0 and the store in `dir`, plus `extra` YAML.
pub fn test_config(dir: &Path, extra: &str) -> String {
    format!(
        "listen: 127.0.0.1:0\nstore:\n  url: sqlite://{}/inbox.db\n{extra}",
        dir.display()
    )
}

impl Server {
    pub fn start(extra_yaml: &str, env: &[(&str, &str)]) -> Server {
        let dir = Arc::new(tempfile::tempdir().expect("temp dir"));
        Server::start_in(dir, extra_yaml, env)
    }

    /// Starts on an existing directory (and so on its existing database).
    pub fn start_in(dir: Arc<tempfile::TempDir>, extra_yaml: &str, env: &[(&str, &str)]) -> Server {
        let config = config_path(dir.path());
        std::fs::write(&config, test_config(dir.path(), extra_yaml)).expect("write config");
        let config = config.to_string_lossy().into_owned();
        Server::spawn(dir, &["--config", &config, "serve"], env)
    }

    /// Runs `switchboard ARGS` in `dir` and waits for its `listening on` line.
    pub fn spawn(dir: Arc<tempfile::TempDir>, args: &[&str], env: &[(&str, &str)]) -> Server {
        let mut command = command(dir.path());
        command
            .args(args)
            .stdout(Stdio::null())
            .stderr(Stdio::piped());
        for (name, value) in env {
            command.env(name, value);
        }
        let mut child = command.spawn().expect("start switchboard");
        let stderr = child.stderr.take().expect("stderr is piped");
        let log = Arc::new(Mutex::new(String::new()));
        let (address_tx, address_rx) = mpsc::channel();
        let captured = log.clone();
        let reader = std::thread::spawn(move || {
            for line in BufReader::new(stderr).lines().map_while(Result::ok) {
                captured
                    .lock()
                    .expect("log lock")
                    .push_str(&format!("{line}\n"));
                if let Some(rest) = line.split("listening on ").nth(1) {
                    let addr: String = rest
                        .chars()
                        .take_while(|c| c.is_ascii_alphanumeric() || ".:[]".contains(*c))
                        .collect();
                    let _ = address_tx.send(addr);
                }
            }
        });
        let addr = match address_rx.recv_timeout(START_DEADLINE) {
            Ok(addr) => addr.parse().expect("listening address"),
            Err(_) => {
                let _ = child.kill();
                panic!(
                    "no `listening on` line within {START_DEADLINE:?}; log:\n{}",
                    log.lock().expect("log")
                );
            }
        };
        Server {
            child,
            addr,
            dir,
            log,
            reader: Some(reader),
        }
    }

    /// The process id, for reading its memory in `/proc`.
    pub fn pid(&self) -> u32 {
        self.child.id()
    }

    pub fn url(&self, path: &str) -> String {
        format!("http://{}{path}", self.addr)
    }

    pub fn log(&self) -> String {
        self.log.lock().expect("log lock").clone()
    }

    /// Waits until the log contains `needle`, or panics at the deadline.
    pub fn wait_for_log(&self, needle: &str) {
        let deadline = Instant::now() + Duration::from_secs(10);
        while Instant::now() < deadline {
            if self.log().contains(needle) {
                return;
            }
            std::thread::sleep(Duration::from_millis(20));
        }
        panic!("log never contained {needle:?}:\n{}", self.log());
    }

    /// SIGKILL: no chance to flush or shut down.
    pub fn kill_hard(mut self) -> Arc<tempfile::TempDir> {
        self.child.kill().expect("kill -9");
        let _ = self.child.wait();
        self.dir.clone()
    }

    /// SIGTERM, then the exit status (within a deadline).
    pub fn terminate(mut self) -> ExitStatus {
        let status = Command::new("kill")
            .arg("-TERM")
            .arg(self.child.id().to_string())
            .status()
            .expect("kill -TERM");
        assert!(status.success());
        let deadline = Instant::now() + Duration::from_secs(10);
        loop {
            if let Some(status) = self.child.try_wait().expect("wait") {
                // The log is complete once the process's stderr is drained.
                if let Some(reader) = self.reader.take() {
                    reader.join().expect("log reader");
                }
                return status;
            }
            assert!(Instant::now() < deadline, "no exit within 10s of SIGTERM");
            std::thread::sleep(Duration::from_millis(20));
        }
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// Runs `switchboard ARGS` to completion (for commands that exit), with a
/// deadline; returns the exit status and stderr.
pub fn run(dir: &Path, args: &[&str], env: &[(&str, &str)]) -> (ExitStatus, String, String) {
    let mut command = command(dir);
    command
        .args(args)
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    for (name, value) in env {
        command.env(name, value);
    }
    let mut child = command.spawn().expect("start switchboard");
    let deadline = Instant::now() + Duration::from_secs(20);
    loop {
        if child.try_wait().expect("wait").is_some() {
            break;
        }
        if Instant::now() > deadline {
            let _ = child.kill();
            panic!("switchboard {args:?} did not exit within 20s");
        }
        std::thread::sleep(Duration::from_millis(20));
    }
    let output = child.wait_with_output().expect("output");
    (
        output.status,
        String::from_utf8_lossy(&output.stdout).into_owned(),
        String::from_utf8_lossy(&output.stderr).into_owned(),
    )
}

pub fn example(name: &str) -> String {
    let path = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("examples")
        .join("payloads")
        .join(name);
    std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()))
}

pub fn client() -> reqwest::Client {
    reqwest::Client::builder()
        .timeout(Duration::from_secs(10))
        .build()
        .expect("http client")
}
