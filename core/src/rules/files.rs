//! The files that make up a rule set, read whole before anything is compiled.
//!
//! A rule set is `matrix.yaml`, `employees.yaml` (optional), every `*.rhai`
//! beside them, and the rule tests under `tests/` (test files `tests/*.yaml`,
//! and any fixtures they read below `tests/`). Other files (README, editor
//! swap and backup files, hidden files) are ignored. The version of a rule
//! set is a hash of exactly these files' names and contents, so a save that
//! changes nothing is no new version.

use std::collections::BTreeMap;
use std::fs;
use std::path::{Path, PathBuf};

use sha2::{Digest, Sha256};

use super::diagnostic::{Diagnostic, Diagnostics, Position};
use super::yaml::MAX_FILE_BYTES;

pub(crate) const MATRIX: &str = "matrix.yaml";
pub(crate) const EMPLOYEES: &str = "employees.yaml";
pub(crate) const TESTS_DIR: &str = "tests";
/// More files than this under `tests/` is a mistake (a directory copied in).
const MAX_TEST_FILES: usize = 1000;

/// The text of every file of one rule set, by path relative to its directory.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct RuleFiles {
    files: BTreeMap<String, String>,
    /// The directory they came from; `None` for the built-in rules.
    base: Option<PathBuf>,
}

impl RuleFiles {
    pub(crate) fn from_memory(files: impl IntoIterator<Item = (String, String)>) -> RuleFiles {
        RuleFiles {
            files: files.into_iter().collect(),
            base: None,
        }
    }

    /// Reads the rule files of `dir`.
    pub(crate) fn read_dir(dir: &Path) -> Result<RuleFiles, Diagnostics> {
        let shown = dir.display().to_string();
        let entries = fs::read_dir(dir).map_err(|error| {
            Diagnostic::new(
                &shown,
                Position::START,
                format!("cannot read the rules directory: {error}"),
            )
            .with_hint(
                "check the path (rules.dir, SWITCHBOARD_RULES_DIR, --rules) and its permissions",
            )
        })?;
        let mut files = BTreeMap::new();
        let mut diagnostics = Diagnostics::new();
        for entry in entries.flatten() {
            let path = entry.path();
            let Some(name) = path
                .file_name()
                .and_then(|n| n.to_str())
                .map(str::to_string)
            else {
                continue;
            };
            if is_ignored(&name) {
                continue;
            }
            let wanted =
                name == MATRIX || name == EMPLOYEES || (name.ends_with(".rhai") && path.is_file());
            if wanted {
                read_into(&path, name, &mut files, &mut diagnostics);
            } else if name == TESTS_DIR && path.is_dir() {
                read_tests(&path, TESTS_DIR, &mut files, &mut diagnostics);
            }
        }
        if !files.contains_key(MATRIX) && diagnostics.is_empty() {
            diagnostics.push(
                Diagnostic::new(MATRIX, Position::START, format!("{shown} has no {MATRIX}"))
                    .with_hint("`switchboard init DIR` writes the default rules to start from"),
            );
        }
        diagnostics.into_result(RuleFiles {
            files,
            base: Some(dir.to_path_buf()),
        })
    }

    pub(crate) fn get(&self, path: &str) -> Option<&str> {
        self.files.get(path).map(String::as_str)
    }

    /// Paths of the rule set's files, sorted.
    pub(crate) fn paths(&self) -> Vec<String> {
        self.files.keys().cloned().collect()
    }

    pub(crate) fn scripts(&self) -> Vec<(String, String)> {
        self.files
            .iter()
            .filter(|(path, _)| path.ends_with(".rhai") && !path.contains('/'))
            .map(|(path, text)| (path.clone(), text.clone()))
            .collect()
    }

    /// The rule test files: `tests/*.yaml`.
    pub(crate) fn test_files(&self) -> Vec<(&str, &str)> {
        self.files
            .iter()
            .filter(|(path, _)| {
                path.strip_prefix("tests/").is_some_and(|rest| {
                    !rest.contains('/') && (rest.ends_with(".yaml") || rest.ends_with(".yml"))
                })
            })
            .map(|(path, text)| (path.as_str(), text.as_str()))
            .collect()
    }

    /// A file a rule test refers to, relative to the rules directory: one of
    /// the rule set's files, else (for a directory) read from disk.
    pub(crate) fn fixture(&self, relative: &str) -> Result<String, String> {
        let normalized = relative.trim().trim_start_matches("./");
        if let Some(text) = self.files.get(normalized) {
            return Ok(text.clone());
        }
        let Some(base) = &self.base else {
            return Err(format!("{relative} is not among the built-in rule files"));
        };
        let path = base.join(normalized);
        let text = fs::read_to_string(&path)
            .map_err(|e| format!("cannot read {}: {e}", path.display()))?;
        if text.len() > MAX_FILE_BYTES {
            return Err(format!("{relative} is larger than {MAX_FILE_BYTES} bytes"));
        }
        Ok(text)
    }

    /// The content hash that names this rule set (16 hex digits).
    pub(crate) fn version(&self) -> String {
        let mut hasher = Sha256::new();
        for (path, text) in &self.files {
            hasher.update(path.as_bytes());
            hasher.update([0]);
            hasher.update((text.len() as u64).to_le_bytes());
            hasher.update(text.as_bytes());
        }
        hex::encode(&hasher.finalize()[..8])
    }
}

/// Hidden files, editor swap and backup files, and temporary files.
pub(crate) fn is_ignored(name: &str) -> bool {
    name.starts_with('.')
        || name.starts_with('#')
        || name.ends_with('~')
        || [".swp", ".swo", ".swx", ".tmp", ".bak", ".orig"]
            .iter()
            .any(|suffix| name.ends_with(suffix))
}

fn read_into(
    path: &Path,
    relative: String,
    files: &mut BTreeMap<String, String>,
    diagnostics: &mut Diagnostics,
) {
    match fs::metadata(path) {
        Ok(meta) if meta.len() > MAX_FILE_BYTES as u64 => {
            diagnostics.push(
                Diagnostic::new(
                    &relative,
                    Position::START,
                    format!(
                        "the file is {} bytes; rule files may be at most {MAX_FILE_BYTES}",
                        meta.len()
                    ),
                )
                .with_hint("rule files are small; is this the right file?"),
            );
            return;
        }
        Ok(_) => {}
        Err(error) => {
            diagnostics.push(Diagnostic::new(
                &relative,
                Position::START,
                format!("cannot read: {error}"),
            ));
            return;
        }
    }
    match fs::read_to_string(path) {
        Ok(text) => {
            files.insert(relative, text);
        }
        Err(error) => diagnostics.push(
            Diagnostic::new(&relative, Position::START, format!("cannot read: {error}"))
                .with_hint("rule files must be UTF-8 text"),
        ),
    }
}

fn read_tests(
    dir: &Path,
    relative: &str,
    files: &mut BTreeMap<String, String>,
    diagnostics: &mut Diagnostics,
) {
    let Ok(entries) = fs::read_dir(dir) else {
        diagnostics.push(Diagnostic::new(
            relative,
            Position::START,
            "cannot read the tests directory",
        ));
        return;
    };
    let mut entries: Vec<_> = entries.flatten().collect();
    entries.sort_by_key(|e| e.file_name());
    for entry in entries {
        let path = entry.path();
        let Some(name) = path
            .file_name()
            .and_then(|n| n.to_str())
            .map(str::to_string)
        else {
            continue;
        };
        if is_ignored(&name) {
            continue;
        }
        let child = format!("{relative}/{name}");
        if path.is_dir() {
            read_tests(&path, &child, files, diagnostics);
        } else if [".yaml", ".yml", ".json"]
            .iter()
            .any(|ext| name.ends_with(ext))
        {
            if files.keys().filter(|k| k.starts_with("tests/")).count() >= MAX_TEST_FILES {
                diagnostics.push(Diagnostic::new(
                    &child,
                    Position::START,
                    format!("more than {MAX_TEST_FILES} files under tests/"),
                ));
                return;
            }
            read_into(&path, child, files, diagnostics);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn editor_leftovers_are_not_rule_files() {
        for name in [
            ".matrix.yaml.swp",
            "matrix.yaml~",
            "#matrix.yaml#",
            ".#matrix.yaml",
            "x.tmp",
            "4913.bak",
        ] {
            assert!(is_ignored(name), "{name}");
        }
        for name in ["matrix.yaml", "routing.rhai", "tests"] {
            assert!(!is_ignored(name), "{name}");
        }
    }

    #[test]
    fn version_changes_with_content_only() {
        let a = RuleFiles::from_memory([("matrix.yaml".to_string(), "a".to_string())]);
        let same = RuleFiles::from_memory([("matrix.yaml".to_string(), "a".to_string())]);
        let b = RuleFiles::from_memory([("matrix.yaml".to_string(), "b".to_string())]);
        assert_eq!(a.version(), same.version());
        assert_ne!(a.version(), b.version());
        assert_eq!(a.version().len(), 16);
    }
}
