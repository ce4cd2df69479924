//! `switchboard check`: validate a rules directory and run its tests, with a
//! report a person can act on.

use std::fmt;
use std::path::{Path, PathBuf};

use serde::Serialize;

use super::files::RuleFiles;
use super::rule_test::TestOutcome;
use super::{Diagnostics, RuleSet, RulesContext, RulesSource};

/// Everything `check` found.
#[derive(Debug, Clone, Serialize)]
pub struct CheckReport {
    pub dir: PathBuf,
    /// Content hash of the files, when they could be read.
    pub version: Option<String>,
    pub files: Vec<String>,
    pub scenarios: Vec<String>,
    /// Problems that keep the rules from loading.
    pub diagnostics: Diagnostics,
    /// Rule test results (run only when the rules compile).
    pub tests: Vec<TestOutcome>,
}

impl CheckReport {
    /// The rules load and every rule test passes.
    pub fn is_ok(&self) -> bool {
        self.diagnostics.is_empty() && self.tests.iter().all(TestOutcome::passed)
    }

    pub fn failed_tests(&self) -> usize {
        self.tests.iter().filter(|t| !t.passed()).count()
    }
}

/// Validates the rules in `dir` and runs their tests.
pub fn check(dir: &Path, ctx: &RulesContext) -> CheckReport {
    let mut report = CheckReport {
        dir: dir.to_path_buf(),
        version: None,
        files: Vec::new(),
        scenarios: Vec::new(),
        diagnostics: Diagnostics::new(),
        tests: Vec::new(),
    };
    let files = match RuleFiles::read_dir(dir) {
        Ok(files) => files,
        Err(diagnostics) => {
            report.diagnostics = diagnostics;
            return report;
        }
    };
    report.version = Some(files.version());
    report.files = files.paths();
    match RuleSet::compile(files, RulesSource::Directory(dir.to_path_buf()), ctx) {
        Ok(rules) => {
            report.scenarios = rules
                .scenario_names()
                .iter()
                .map(|s| s.to_string())
                .collect();
            report.tests = rules.run_tests();
        }
        Err(diagnostics) => report.diagnostics = diagnostics,
    }
    report
}

impl fmt::Display for CheckReport {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "rules in {}", self.dir.display())?;
        if let Some(version) = &self.version {
            write!(f, " (version {version}, {} files)", self.files.len())?;
        }
        writeln!(f)?;
        for diagnostic in &self.diagnostics {
            writeln!(f, "error: {diagnostic}")?;
        }
        if self.diagnostics.is_empty() {
            writeln!(
                f,
                "{} scenarios: {}",
                self.scenarios.len(),
                self.scenarios.join(", ")
            )?;
        }
        for test in &self.tests {
            if test.passed() {
                writeln!(f, "  ok    {}: {}", test.file, test.name)?;
            } else {
                writeln!(
                    f,
                    "  FAIL  {}:{}:{}: {}",
                    test.file, test.line, test.column, test.name
                )?;
                for failure in &test.failures {
                    writeln!(f, "          {failure}")?;
                }
            }
        }
        if self.is_ok() {
            write!(
                f,
                "OK: the rules load and {} rule tests pass",
                self.tests.len()
            )
        } else if !self.diagnostics.is_empty() {
            write!(
                f,
                "FAILED: {} problem(s); the rules do not load",
                self.diagnostics.len()
            )
        } else {
            write!(
                f,
                "FAILED: {} of {} rule tests failed",
                self.failed_tests(),
                self.tests.len()
            )
        }
    }
}
