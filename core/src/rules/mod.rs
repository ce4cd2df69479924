//! The rules: what an integrator edits to decide, for each call event, what
//! happens in the CRM, without recompiling anything.
//!
//! A rule set is a directory (see `rules/README.md`, the integrator's guide):
//! `matrix.yaml` (settings and ordered scenario rows), `employees.yaml`
//! (Ringostat identities → CRM owners), `*.rhai` scripts, and rule tests in
//! `tests/`. [`RuleSet::load`] reads, compiles, validates and tests all of it,
//! collecting every problem as a [`Diagnostic`] with `file:line:column`;
//! [`RuleSet::evaluate`] turns an event and its facts into a
//! [`Plan`](crate::plan::Plan). Rules never do I/O and never see the CRM: the
//! executor gathers facts before and runs the plan after.
//!
//! A running service holds its rules in a [`RulesHandle`] (lock-free reads,
//! atomic swaps) that [`watch`] keeps up to date as files change; `check`,
//! `simulate` and `init_rules` serve the CLI.

mod action;
mod builtin;
mod check;
mod condition;
mod diagnostic;
mod employees;
mod evaluate;
mod event_spec;
mod files;
mod handle;
mod matrix;
mod rule_test;
mod script;
mod settings;
mod simulate;
mod situation;
mod template;
mod watch;
mod yaml;

use std::fmt;
use std::path::{Path, PathBuf};

use chrono_tz::Tz;
use serde::{Deserialize, Serialize};

use crate::event::EmployeeIdentity;
use crate::phone::Region;
use crate::plan::OwnerSpec;

pub use action::to_rule_json;
pub use builtin::{BUILTIN_FILES, InitError, init_rules};
pub use check::{CheckReport, check};
pub use diagnostic::{Diagnostic, Diagnostics, Position};
pub use employees::{Employee, EmployeeDirectory};
pub use evaluate::EvalError;
pub use event_spec::{EventSpec, EventSpecError, FactAssignmentError, FactsSpec};
pub use handle::{LoadFailure, ReloadOutcome, RulesHandle, RulesStatus, load_initial};
pub use rule_test::{DEFAULT_TEST_TIME, TestOutcome};
pub use script::{
    MAX_ARRAY_ITEMS, MAX_CALL_LEVELS, MAX_EXPR_DEPTHS, MAX_MAP_ITEMS, MAX_OPERATIONS,
    MAX_STRING_BYTES, ScriptError, ScriptRef,
};
pub use settings::Settings;
pub use simulate::{ReadEventError, Simulation, read_event, simulate};
pub use watch::{DEFAULT_DEBOUNCE, RulesWatcher, WatchError, watch, watch_with_debounce};

use files::RuleFiles;
use matrix::{Matrix, MatrixFile};
use rule_test::RuleTest;
use script::Scripts;

/// What rules need to know about the project.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RulesContext {
    /// Local time of day and weekday are read in this zone (`time_zone`).
    pub time_zone: Tz,
    /// Numbers without a country code are read in this region (`phone.default_region`).
    pub region: Region,
}

impl Default for RulesContext {
    fn default() -> Self {
        RulesContext {
            time_zone: chrono_tz::Europe::Kyiv,
            region: Region::default(),
        }
    }
}

/// Where a rule set came from.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum RulesSource {
    /// The default rules built into the binary.
    Builtin,
    Directory(PathBuf),
}

impl fmt::Display for RulesSource {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            RulesSource::Builtin => f.write_str("built-in default rules"),
            RulesSource::Directory(dir) => write!(f, "{}", dir.display()),
        }
    }
}

/// A compiled, validated and tested rule set. Immutable: a change on disk
/// makes a new one.
#[derive(Debug)]
pub struct RuleSet {
    version: String,
    source: RulesSource,
    files: Vec<String>,
    ctx: RulesContext,
    matrix: Matrix,
    employees: EmployeeDirectory,
    scripts: Scripts,
    tests: Vec<RuleTest>,
}

impl RuleSet {
    /// Reads, compiles, validates and tests the rules in `dir`. Every problem
    /// found (including failed rule tests) is returned, sorted by file and line.
    pub fn load(dir: &Path, ctx: &RulesContext) -> Result<RuleSet, Diagnostics> {
        let files = RuleFiles::read_dir(dir)?;
        RuleSet::prepare(files, RulesSource::Directory(dir.to_path_buf()), ctx)
    }

    /// The default rules built into the binary, compiled and tested.
    pub fn builtin(ctx: &RulesContext) -> Result<RuleSet, Diagnostics> {
        RuleSet::prepare(builtin::files(), RulesSource::Builtin, ctx)
    }

    /// Compiles and tests `files`; rule test failures become diagnostics.
    fn prepare(
        files: RuleFiles,
        source: RulesSource,
        ctx: &RulesContext,
    ) -> Result<RuleSet, Diagnostics> {
        let rules = RuleSet::compile(files, source, ctx)?;
        let failures: Diagnostics = {
            let mut failures = Diagnostics::new();
            failures.extend(
                rules
                    .run_tests()
                    .iter()
                    .filter(|outcome| !outcome.passed())
                    .map(TestOutcome::to_diagnostic),
            );
            failures
        };
        failures.into_result(rules)
    }

    /// Compiles and validates without running the rule tests.
    fn compile(
        files: RuleFiles,
        source: RulesSource,
        ctx: &RulesContext,
    ) -> Result<RuleSet, Diagnostics> {
        let mut diagnostics = Diagnostics::new();
        let (scripts, errors) = Scripts::compile(&files.scripts(), ctx.region);
        diagnostics.extend(errors);

        let matrix = match files.get(files::MATRIX) {
            None => {
                diagnostics.push(Diagnostic::new(
                    files::MATRIX,
                    Position::START,
                    "matrix.yaml is missing",
                ));
                None
            }
            Some(text) => match yaml::parse::<MatrixFile>(files::MATRIX, text) {
                Err(diagnostic) => {
                    diagnostics.push(diagnostic);
                    None
                }
                Ok(spec) => {
                    let (matrix, errors) =
                        spec.compile(&yaml::Locator::new(files::MATRIX, text), &scripts);
                    diagnostics.extend(errors);
                    Some(matrix)
                }
            },
        };

        let employees = match files.get(files::EMPLOYEES) {
            None => EmployeeDirectory::default(),
            Some(text) => match yaml::parse::<employees::EmployeesFile>(files::EMPLOYEES, text) {
                Err(diagnostic) => {
                    diagnostics.push(diagnostic);
                    EmployeeDirectory::default()
                }
                Ok(spec) => {
                    let (directory, errors) =
                        spec.compile(ctx.region, &yaml::Locator::new(files::EMPLOYEES, text));
                    diagnostics.extend(errors);
                    directory
                }
            },
        };

        let (tests, errors) = rule_test::parse_tests(&files, ctx);
        diagnostics.extend(errors);

        match matrix {
            Some(matrix) if diagnostics.is_empty() => Ok(RuleSet {
                version: files.version(),
                source,
                files: files.paths(),
                ctx: *ctx,
                matrix,
                employees,
                scripts,
                tests,
            }),
            _ => Err(diagnostics.sorted()),
        }
    }

    /// The content hash of the rule files: every plan records it.
    pub fn version(&self) -> &str {
        &self.version
    }

    pub fn source(&self) -> &RulesSource {
        &self.source
    }

    /// The rule set's files, relative to its directory.
    pub fn files(&self) -> &[String] {
        &self.files
    }

    pub fn context(&self) -> &RulesContext {
        &self.ctx
    }

    pub fn settings(&self) -> &Settings {
        &self.matrix.settings
    }

    pub fn employees(&self) -> &EmployeeDirectory {
        &self.employees
    }

    /// The CRM owner `employees.yaml` maps this Ringostat employee to. The
    /// executor still checks that the owner exists; `None` means `unknown`.
    pub fn employee_owner(&self, identity: &EmployeeIdentity) -> Option<OwnerSpec> {
        self.employees.lookup(identity).map(|e| e.owner.clone())
    }

    /// Scenario names in matrix order.
    pub fn scenario_names(&self) -> Vec<&str> {
        self.matrix
            .scenarios
            .iter()
            .map(|s| s.name.as_str())
            .collect()
    }

    /// Scenario names with their descriptions, in matrix order.
    pub fn scenarios(&self) -> Vec<(&str, Option<&str>)> {
        self.matrix
            .scenarios
            .iter()
            .map(|s| (s.name.as_str(), s.description.as_deref()))
            .collect()
    }

    /// Runs the rule set's own tests.
    pub fn run_tests(&self) -> Vec<TestOutcome> {
        self.tests.iter().map(|test| test.run(self)).collect()
    }
}
