//! The default rules, built into the binary.
//!
//! They reproduce Ringostat's own HubSpot integration (DESIGN §1) as data,
//! and are used when no rules directory exists. `switchboard init DIR`
//! writes them out ([`init_rules`]) as the starting point for edits. The list
//! below names every file of the shipped `rules/` directory; a test checks
//! that it stays complete.

use std::fs;
use std::io;
use std::path::{Path, PathBuf};

use super::files::RuleFiles;

/// The shipped rule files (and the integrator's guide), by relative path.
pub const BUILTIN_FILES: &[(&str, &str)] = &[
    ("README.md", include_str!("../../../rules/README.md")),
    ("matrix.yaml", include_str!("../../../rules/matrix.yaml")),
    (
        "employees.yaml",
        include_str!("../../../rules/employees.yaml"),
    ),
    (
        "examples.rhai",
        include_str!("../../../rules/examples.rhai"),
    ),
    (
        "tests/incoming.yaml",
        include_str!("../../../rules/tests/incoming.yaml"),
    ),
    (
        "tests/outgoing.yaml",
        include_str!("../../../rules/tests/outgoing.yaml"),
    ),
    (
        "tests/special.yaml",
        include_str!("../../../rules/tests/special.yaml"),
    ),
    (
        "tests/events/answered_new_client.json",
        include_str!("../../../rules/tests/events/answered_new_client.json"),
    ),
];

/// The built-in rule set's files (the guide is not a rule file).
pub(crate) fn files() -> RuleFiles {
    RuleFiles::from_memory(
        BUILTIN_FILES
            .iter()
            .filter(|(path, _)| *path != "README.md")
            .map(|(path, text)| (path.to_string(), text.to_string())),
    )
}

/// Why the default rules could not be written.
#[derive(Debug, thiserror::Error)]
pub enum InitError {
    #[error("{} already exist(s); nothing was written (move them away or pick another directory)", list(.0))]
    Exists(Vec<PathBuf>),
    #[error("cannot write {path}: {source}")]
    Io { path: PathBuf, source: io::Error },
}

fn list(paths: &[PathBuf]) -> String {
    paths
        .iter()
        .map(|p| p.display().to_string())
        .collect::<Vec<_>>()
        .join(", ")
}

/// Writes the default rules into `dir` (created if needed). Refuses to
/// overwrite anything: either every file is written or none.
pub fn init_rules(dir: &Path) -> Result<Vec<PathBuf>, InitError> {
    let targets: Vec<(PathBuf, &str)> = BUILTIN_FILES
        .iter()
        .map(|(path, text)| (dir.join(path), *text))
        .collect();
    let existing: Vec<PathBuf> = targets
        .iter()
        .filter(|(p, _)| p.exists())
        .map(|(p, _)| p.clone())
        .collect();
    if !existing.is_empty() {
        return Err(InitError::Exists(existing));
    }
    let mut written = Vec::new();
    for (path, text) in targets {
        if let Some(parent) = path.parent() {
            fs::create_dir_all(parent).map_err(|source| InitError::Io {
                path: parent.to_path_buf(),
                source,
            })?;
        }
        fs::write(&path, text).map_err(|source| InitError::Io {
            path: path.clone(),
            source,
        })?;
        written.push(path);
    }
    Ok(written)
}
