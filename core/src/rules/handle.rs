//! The running rules: one shared, swappable [`RuleSet`].
//!
//! Workers read the current set on every event, so reading must never block
//! and never see a half-loaded set: the set lives behind an `ArcSwap`, and a
//! reload builds a complete new set before swapping it in with one pointer
//! store. A reload that fails leaves the running set in place and keeps its
//! diagnostics for `GET /api/rules` and `/readyz`.

use std::path::Path;
use std::sync::{Arc, Mutex};

use arc_swap::ArcSwapOption;
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use tokio::sync::watch;

use super::files::RuleFiles;
use super::{Diagnostics, RuleSet, RulesContext, RulesSource};

/// What `GET /api/rules` shows.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct RulesStatus {
    /// The running rule set's version; `None` while nothing ever loaded.
    pub version: Option<String>,
    pub source: Option<RulesSource>,
    pub loaded_at: Option<DateTime<Utc>>,
    pub files: Vec<String>,
    pub scenarios: Vec<String>,
    /// The latest load that failed since the running set was loaded.
    pub last_error: Option<LoadFailure>,
}

/// A load that was refused, and why.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct LoadFailure {
    pub at: DateTime<Utc>,
    pub source: RulesSource,
    /// Content hash of the refused files, when they could be read.
    pub version: Option<String>,
    pub diagnostics: Diagnostics,
}

impl RulesStatus {
    /// Rules are loaded and events can be processed.
    pub fn is_ready(&self) -> bool {
        self.version.is_some()
    }

    /// Why events cannot be processed, for `/readyz`.
    pub fn not_ready_reason(&self) -> Option<String> {
        if self.is_ready() {
            return None;
        }
        Some(match &self.last_error {
            Some(failure) => format!(
                "rules in {} do not load ({} problem(s)); first: {}",
                failure.source,
                failure.diagnostics.len(),
                failure
                    .diagnostics
                    .iter()
                    .next()
                    .map(ToString::to_string)
                    .unwrap_or_default()
            ),
            None => "rules are not loaded yet".to_string(),
        })
    }
}

/// What a reload did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ReloadOutcome {
    /// A new version is running.
    Swapped(String),
    /// The files are the same as the running version's.
    Unchanged,
    /// The new files were refused; the running set stays.
    Rejected,
}

/// Cheap to clone; every clone sees the same rules.
#[derive(Debug, Clone)]
pub struct RulesHandle {
    inner: Arc<Inner>,
}

#[derive(Debug)]
struct Inner {
    current: ArcSwapOption<RuleSet>,
    status: Mutex<RulesStatus>,
    versions: watch::Sender<Option<String>>,
}

impl Default for RulesHandle {
    fn default() -> Self {
        RulesHandle::new()
    }
}

impl RulesHandle {
    /// A handle with no rules yet.
    pub fn new() -> RulesHandle {
        RulesHandle {
            inner: Arc::new(Inner {
                current: ArcSwapOption::empty(),
                status: Mutex::new(RulesStatus::default()),
                versions: watch::Sender::new(None),
            }),
        }
    }

    /// The running rule set; `None` while none ever loaded. Never blocks.
    pub fn current(&self) -> Option<Arc<RuleSet>> {
        self.inner.current.load_full()
    }

    pub fn status(&self) -> RulesStatus {
        self.lock_status().clone()
    }

    /// Observes the running version (`None` until the first load).
    pub fn subscribe(&self) -> watch::Receiver<Option<String>> {
        self.inner.versions.subscribe()
    }

    /// Makes `rules` the running set.
    pub fn install(&self, rules: RuleSet) {
        let version = rules.version().to_string();
        let old = self.current().map(|r| r.version().to_string());
        {
            let mut status = self.lock_status();
            *status = RulesStatus {
                version: Some(version.clone()),
                source: Some(rules.source().clone()),
                loaded_at: Some(Utc::now()),
                files: rules.files().to_vec(),
                scenarios: rules
                    .scenario_names()
                    .iter()
                    .map(|s| s.to_string())
                    .collect(),
                last_error: None,
            };
        }
        tracing::info!(version = %version, source = %rules.source(), scenarios = rules.scenario_names().len(), "rules loaded");
        self.inner.current.store(Some(Arc::new(rules)));
        metrics::counter!("switchboard_rules_reloads_total", "result" => "ok").increment(1);
        if let Some(old) = old.filter(|old| *old != version) {
            metrics::gauge!("switchboard_rules_version_info", "version" => old).set(0.0);
        }
        metrics::gauge!("switchboard_rules_version_info", "version" => version.clone()).set(1.0);
        self.inner.versions.send_replace(Some(version));
    }

    /// Records a refused load; the running set (if any) stays.
    pub(crate) fn reject(
        &self,
        source: RulesSource,
        version: Option<String>,
        diagnostics: Diagnostics,
    ) {
        let running = self.current().map(|r| r.version().to_string());
        for diagnostic in &diagnostics {
            tracing::error!(
                source = %source,
                file = %diagnostic.file,
                line = diagnostic.line,
                column = diagnostic.column,
                hint = diagnostic.hint.as_deref().unwrap_or(""),
                running = running.as_deref().unwrap_or("none"),
                "rules not loaded: {}",
                diagnostic.message
            );
        }
        metrics::counter!("switchboard_rules_reloads_total", "result" => "error").increment(1);
        self.lock_status().last_error = Some(LoadFailure {
            at: Utc::now(),
            source,
            version,
            diagnostics,
        });
    }

    /// Reads `dir`; when its files differ from the running set's, compiles,
    /// validates and tests them, then swaps or records the failure.
    pub fn reload_from(&self, dir: &Path, ctx: &RulesContext) -> ReloadOutcome {
        let source = RulesSource::Directory(dir.to_path_buf());
        let files = match RuleFiles::read_dir(dir) {
            Ok(files) => files,
            Err(diagnostics) => {
                self.reject(source, None, diagnostics);
                return ReloadOutcome::Rejected;
            }
        };
        let version = files.version();
        let unchanged = self
            .current()
            .is_some_and(|r| r.version() == version && r.source() == &source);
        let last_error = self.lock_status().last_error.clone();
        let rejected_before =
            last_error.as_ref().and_then(|f| f.version.as_deref()) == Some(version.as_str());
        if (unchanged && last_error.is_none()) || rejected_before {
            tracing::debug!(version = %version, "rules directory changed on disk but not in content");
            return ReloadOutcome::Unchanged;
        }
        match RuleSet::prepare(files, source.clone(), ctx) {
            Ok(rules) => {
                self.install(rules);
                ReloadOutcome::Swapped(version)
            }
            Err(diagnostics) => {
                self.reject(source, Some(version), diagnostics);
                ReloadOutcome::Rejected
            }
        }
    }

    fn lock_status(&self) -> std::sync::MutexGuard<'_, RulesStatus> {
        // A panic while holding the lock cannot leave the status half-written
        // (each update is one assignment), so a poisoned lock is still usable.
        self.inner
            .status
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }
}

/// The rules a starting service runs: `dir` when it exists (a failure leaves
/// the handle empty, with the diagnostics in its status), else the built-in
/// defaults, as the start-up log says.
pub fn load_initial(dir: &Path, ctx: &RulesContext) -> RulesHandle {
    let handle = RulesHandle::new();
    if dir.exists() {
        handle.reload_from(dir, ctx);
    } else {
        tracing::info!(dir = %dir.display(), "no rules directory: using the built-in default rules (`switchboard init DIR` writes them out to edit)");
        match RuleSet::builtin(ctx) {
            Ok(rules) => handle.install(rules),
            Err(diagnostics) => handle.reject(RulesSource::Builtin, None, diagnostics),
        }
    }
    handle
}
