//! A Switchboard wired to a fake HubSpot, the way a user sets one up: the
//! shipped rules copied into a temporary directory with the test employees
//! in `employees.yaml`, the account's owners seeded in the fake,
//! `switchboard hubspot setup` run once, then `switchboard serve` started on
//! port 0 (and killed, and restarted on the same database).

use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use switchboard_hubspot::fake::{FakeHubSpot, FakeOptions};

use super::{Server, run};

/// The TOP manager the shipped `matrix.yaml` names; the fake has an owner
/// with this email, so the shipped setting works unchanged.
pub const TOP_MANAGER: &str = "top.manager@example.com";
pub const OLENA: &str = "olena@acme.ua";
pub const PETRO: &str = "petro@acme.ua";

const EMPLOYEES: &str = "\
employees:
  - name: Olena Ivanenko
    owner: olena@acme.ua
    sip: acmecom_ivanenko
  - name: Petro Petrenko
    owner: petro@acme.ua
    sip: acmecom_petrenko
";

/// Owner ids the fake gave the account's users.
#[derive(Debug, Clone)]
pub struct Owners {
    pub olena: String,
    pub petro: String,
    pub top: String,
}

/// The service's timing and budgets: short, so that faults play out in
/// seconds.
#[derive(Debug, Clone)]
pub struct Tuning {
    pub concurrency: usize,
    pub lease: &'static str,
    pub poll_interval: &'static str,
    /// Search lags behind writes; how long before "not found" is believed
    /// for a create in doubt.
    pub reconcile_delay: &'static str,
    pub pause_probe: &'static str,
    pub max_attempts: u32,
    pub initial_backoff: &'static str,
    pub max_backoff: &'static str,
    pub timeout: &'static str,
    pub burst_per_10s: u32,
}

impl Default for Tuning {
    fn default() -> Self {
        Tuning {
            concurrency: 4,
            lease: "2s",
            poll_interval: "100ms",
            reconcile_delay: "1s",
            pause_probe: "1s",
            max_attempts: 30,
            initial_backoff: "200ms",
            max_backoff: "1s",
            timeout: "2s",
            burst_per_10s: 1000,
        }
    }
}

type RulesEdit = Box<dyn FnOnce(&Path) + Send>;

/// How a [`World`] starts.
pub struct WorldBuilder {
    fake: FakeOptions,
    tuning: Tuning,
    rules: Vec<RulesEdit>,
    config: String,
    env: Vec<(String, String)>,
}

/// The running service, its fake HubSpot and its files.
pub struct World {
    // Dropped first: the service stops before the fake does.
    server: Option<Server>,
    pub fake: FakeHubSpot,
    pub owners: Owners,
    dir: Arc<tempfile::TempDir>,
    config: String,
    env: Vec<(String, String)>,
    pub(super) http: reqwest::Client,
}

impl WorldBuilder {
    pub fn fake(mut self, edit: impl FnOnce(&mut FakeOptions)) -> WorldBuilder {
        edit(&mut self.fake);
        self
    }

    pub fn tuning(mut self, edit: impl FnOnce(&mut Tuning)) -> WorldBuilder {
        edit(&mut self.tuning);
        self
    }

    /// More configuration (YAML top-level sections the service config lacks).
    pub fn config(mut self, yaml: &str) -> WorldBuilder {
        self.config.push_str(yaml);
        self
    }

    /// An environment variable of every `switchboard` run.
    pub fn env(mut self, name: &str, value: &str) -> WorldBuilder {
        self.env.push((name.to_string(), value.to_string()));
        self
    }

    /// Changes the copied rules directory before the service starts.
    pub fn rules(mut self, edit: impl FnOnce(&Path) + Send + 'static) -> WorldBuilder {
        self.rules.push(Box::new(edit));
        self
    }

    pub async fn start(self) -> World {
        let fake = FakeHubSpot::start(self.fake)
            .await
            .expect("fake HubSpot starts");
        let owners = Owners {
            olena: fake.seed_owner(OLENA, "Olena", "Ivanenko"),
            petro: fake.seed_owner(PETRO, "Petro", "Petrenko"),
            top: fake.seed_owner(TOP_MANAGER, "Taras", "Topmanager"),
        };
        let dir = Arc::new(tempfile::tempdir().expect("temp dir"));
        let rules = dir.path().join("rules");
        copy_dir(&repository_rules(), &rules);
        std::fs::write(rules.join("employees.yaml"), EMPLOYEES).expect("write employees.yaml");
        for edit in self.rules {
            edit(&rules);
        }
        let config = service_config(&rules, &fake.base_url(), &self.tuning) + self.config.as_str();
        let mut world = World {
            server: None,
            fake,
            owners,
            dir,
            config,
            env: self.env,
            http: super::client(),
        };
        world.hubspot_setup().await;
        world.fake.clear_requests();
        world.restart().await;
        world
    }
}

impl World {
    pub fn builder() -> WorldBuilder {
        WorldBuilder {
            fake: FakeOptions {
                portal_region: "UA".into(),
                burst_limit: 1000,
                ..FakeOptions::default()
            },
            tuning: Tuning::default(),
            rules: Vec::new(),
            config: String::new(),
            env: Vec::new(),
        }
    }

    /// The shipped rules, the default tuning, a fake with HubSpot's limits
    /// (the burst limit raised as for a busy portal) and no search lag.
    pub async fn start() -> World {
        World::builder().start().await
    }

    pub fn rules_dir(&self) -> PathBuf {
        self.dir.path().join("rules")
    }

    pub fn server(&self) -> &Server {
        self.server.as_ref().expect("the service is running")
    }

    pub fn url(&self, path: &str) -> String {
        self.server().url(path)
    }

    /// Variables of every `switchboard` run: the fake's token, and the
    /// builder's.
    fn env(&self) -> Vec<(String, String)> {
        let mut env = vec![("HUBSPOT_TOKEN".into(), self.fake.token().to_string())];
        env.extend(self.env.iter().cloned());
        env
    }

    /// Runs `switchboard ARGS` with the service's configuration and
    /// environment, to completion: exit status, stdout, stderr.
    pub async fn command(&self, args: &[&str]) -> (std::process::ExitStatus, String, String) {
        let dir = self.dir.clone();
        let config = self.config.clone();
        let env = self.env();
        let args: Vec<String> = args.iter().map(|a| a.to_string()).collect();
        tokio::task::spawn_blocking(move || {
            let path = super::config_path(dir.path());
            std::fs::write(&path, super::test_config(dir.path(), &config)).expect("write config");
            let env: Vec<(&str, &str)> =
                env.iter().map(|(k, v)| (k.as_str(), v.as_str())).collect();
            let mut all = vec!["--config".to_string(), path.to_string_lossy().into_owned()];
            all.extend(args);
            let all: Vec<&str> = all.iter().map(String::as_str).collect();
            run(dir.path(), &all, &env)
        })
        .await
        .expect("the command runs")
    }

    /// SIGTERM: the service shuts down gracefully (and says in its store
    /// that it no longer runs).
    pub async fn stop(&mut self) {
        if let Some(server) = self.server.take() {
            let status = tokio::task::spawn_blocking(move || server.terminate())
                .await
                .expect("stop");
            assert!(status.success(), "the service exits cleanly: {status}");
        }
    }

    /// `switchboard hubspot setup`: the step-key, `phone_e164` and UTM
    /// properties the service writes.
    async fn hubspot_setup(&self) {
        let (status, stdout, stderr) = self.command(&["hubspot", "setup"]).await;
        assert!(status.success(), "hubspot setup failed: {stdout}\n{stderr}");
    }

    /// SIGKILL: no shutdown, no flush.
    pub async fn kill_hard(&mut self) {
        if let Some(server) = self.server.take() {
            tokio::task::spawn_blocking(move || server.kill_hard())
                .await
                .expect("kill");
        }
    }

    /// Starts the service (again) on the same directory and database, and
    /// waits until it is ready.
    pub async fn restart(&mut self) {
        self.kill_hard().await;
        let dir = self.dir.clone();
        let config = self.config.clone();
        let env = self.env();
        let server = tokio::task::spawn_blocking(move || {
            let env: Vec<(&str, &str)> =
                env.iter().map(|(k, v)| (k.as_str(), v.as_str())).collect();
            Server::start_in(dir, &config, &env)
        })
        .await
        .expect("the service starts");
        self.server = Some(server);
        self.wait_ready().await;
    }

    async fn wait_ready(&self) {
        let url = self.url("/readyz");
        let http = self.http.clone();
        super::wait::until(Duration::from_secs(20), "the service is ready", || {
            let (url, http) = (url.clone(), http.clone());
            async move {
                match http.get(&url).send().await {
                    Ok(response) => response.status() == 200,
                    Err(_) => false,
                }
            }
        })
        .await
        .unwrap_or_else(|e| panic!("{e}\n{}", self.server().log()));
    }
}

/// Everything but `listen` and `store` (which [`super::test_config`] adds).
fn service_config(rules: &Path, base_url: &str, tuning: &Tuning) -> String {
    format!(
        "\
phone:
  default_region: UA
rules:
  dir: {rules}
crm:
  kind: hubspot
  hubspot:
    base_url: {base_url}
    timeout: {timeout}
    burst_per_10s: {burst}
worker:
  concurrency: {concurrency}
  lease: {lease}
  poll_interval: {poll_interval}
  reconcile_delay: {reconcile_delay}
  pause_probe: {pause_probe}
retry:
  max_attempts: {max_attempts}
  initial_backoff: {initial_backoff}
  max_backoff: {max_backoff}
",
        rules = rules.display(),
        timeout = tuning.timeout,
        burst = tuning.burst_per_10s,
        concurrency = tuning.concurrency,
        lease = tuning.lease,
        poll_interval = tuning.poll_interval,
        reconcile_delay = tuning.reconcile_delay,
        pause_probe = tuning.pause_probe,
        max_attempts = tuning.max_attempts,
        initial_backoff = tuning.initial_backoff,
        max_backoff = tuning.max_backoff,
    )
}

fn repository_rules() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("rules")
}

fn copy_dir(from: &Path, to: &Path) {
    std::fs::create_dir_all(to).expect("create dir");
    for entry in std::fs::read_dir(from).expect("read dir") {
        let entry = entry.expect("dir entry");
        let target = to.join(entry.file_name());
        if entry.file_type().expect("file type").is_dir() {
            copy_dir(&entry.path(), &target);
        } else {
            std::fs::copy(entry.path(), &target).expect("copy file");
        }
    }
}

/// Rewrites a file the way editors save: a new file renamed over the old.
pub fn edit_file(path: &Path, edit: impl FnOnce(String) -> String) {
    let text = std::fs::read_to_string(path).expect("read file");
    let edited = edit(text);
    let name = path.file_name().expect("a file").to_string_lossy();
    // Hidden, so the rules loader never reads the half-written file.
    let temp = path.with_file_name(format!(".{name}.tmp"));
    std::fs::write(&temp, edited).expect("write file");
    std::fs::rename(&temp, path).expect("rename over");
}

/// `text` with `from` replaced, which must occur in it.
pub fn replaced(text: &str, from: &str, to: &str) -> String {
    assert!(text.contains(from), "{from:?} is not in:\n{text}");
    text.replacen(from, to, 1)
}
