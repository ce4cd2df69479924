//! Hot reload: the rules directory is watched and every change reloads it.
//!
//! Editors save by writing a temporary file and renaming it over the old one,
//! ConfigMaps swap a symlink, people delete and recreate files: so the
//! directory is watched recursively (never single files), events are
//! debounced into one reload per burst, and the reload compares a content
//! hash first so that an event that changed nothing is no reload.

use std::path::{Path, PathBuf};
use std::time::Duration;

use notify::RecursiveMode;
use notify_debouncer_full::{DebounceEventResult, Debouncer, RecommendedCache, new_debouncer};

use super::RulesContext;
use super::handle::RulesHandle;

/// How long the directory must be quiet before a reload.
pub const DEFAULT_DEBOUNCE: Duration = Duration::from_millis(250);

/// Why the directory cannot be watched.
#[derive(Debug, thiserror::Error)]
pub enum WatchError {
    #[error("cannot watch the rules directory {dir}: {source}")]
    Notify {
        dir: PathBuf,
        #[source]
        source: notify::Error,
    },
}

/// Keeps watching while it lives; dropping it stops the watch.
pub struct RulesWatcher {
    dir: PathBuf,
    _debouncer: Debouncer<notify::RecommendedWatcher, RecommendedCache>,
}

impl std::fmt::Debug for RulesWatcher {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RulesWatcher")
            .field("dir", &self.dir)
            .finish()
    }
}

impl RulesWatcher {
    pub fn dir(&self) -> &Path {
        &self.dir
    }
}

/// Watches `dir` and reloads `handle` from it on every change.
pub fn watch(
    dir: &Path,
    handle: RulesHandle,
    ctx: RulesContext,
) -> Result<RulesWatcher, WatchError> {
    watch_with_debounce(dir, handle, ctx, DEFAULT_DEBOUNCE)
}

/// [`watch`] with a chosen quiet time.
pub fn watch_with_debounce(
    dir: &Path,
    handle: RulesHandle,
    ctx: RulesContext,
    debounce: Duration,
) -> Result<RulesWatcher, WatchError> {
    let error = |source| WatchError::Notify {
        dir: dir.to_path_buf(),
        source,
    };
    let watched = dir.to_path_buf();
    let mut debouncer = new_debouncer(debounce, None, move |result: DebounceEventResult| {
        match result {
            Ok(events) => {
                let relevant = events
                    .iter()
                    .flat_map(|event| event.paths.iter())
                    .any(|path| !is_noise(path));
                if relevant {
                    handle.reload_from(&watched, &ctx);
                }
            }
            Err(errors) => {
                for error in errors {
                    tracing::warn!(dir = %watched.display(), %error, "rules directory watch error");
                }
            }
        }
    })
    .map_err(error)?;
    debouncer
        .watch(dir, RecursiveMode::Recursive)
        .map_err(error)?;
    tracing::info!(dir = %dir.display(), "watching the rules directory for changes");
    Ok(RulesWatcher {
        dir: dir.to_path_buf(),
        _debouncer: debouncer,
    })
}

/// Editors' swap, backup and lock files never change the rules.
fn is_noise(path: &Path) -> bool {
    path.file_name()
        .and_then(|n| n.to_str())
        .is_some_and(super::files::is_ignored)
}
