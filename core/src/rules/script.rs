//! Rhai scripts: the rules' escape hatch for what the matrix cannot say.
//!
//! Every `*.rhai` file in the rules directory is compiled once per load into
//! an AST; the matrix refers to its functions as `file::function` (the file
//! name without `.rhai`). Scripts are pure functions of the event and the
//! facts: the engine has no module resolver, no `eval`, no file, network or
//! process access, and every limit set (operations, call depth, expression
//! depth, string/array/map sizes), so a runaway script is stopped with a
//! [`ScriptError`] naming the script, the function and the line, and the
//! service carries on.

use std::cell::RefCell;
use std::collections::BTreeMap;
use std::fmt;

use rhai::{AST, CallFnOptions, Dynamic, Engine, EvalAltResult, ImmutableString, Map, Scope};
use serde::{Deserialize, Serialize};

use crate::phone::{E164, Region};

use super::diagnostic::{Diagnostic, Position, did_you_mean};
use super::situation::{DERIVED_NAMES, Name, Situation, Value};
use crate::event::CANONICAL_FIELDS;

/// Operations one function call may run before it is stopped.
pub const MAX_OPERATIONS: u64 = 100_000;
/// Nested function calls (recursion) allowed.
pub const MAX_CALL_LEVELS: usize = 32;
/// Nesting of expressions: at top level, inside functions.
pub const MAX_EXPR_DEPTHS: (usize, usize) = (64, 32);
pub const MAX_STRING_BYTES: usize = 64 * 1024;
pub const MAX_ARRAY_ITEMS: usize = 10_000;
pub const MAX_MAP_ITEMS: usize = 10_000;
pub const MAX_VARIABLES: usize = 256;
pub const MAX_FUNCTIONS: usize = 256;

/// A function in a script, written `file::function` in rules.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
pub struct ScriptRef {
    /// The script's file name without `.rhai`.
    pub script: String,
    pub function: String,
}

impl ScriptRef {
    pub(crate) fn parse(text: &str) -> Result<ScriptRef, String> {
        let bad = || {
            format!(
                "`{text}` is not a script reference: expected file::function, e.g. routing::deal_pipeline"
            )
        };
        let (script, function) = text.trim().split_once("::").ok_or_else(bad)?;
        if !is_identifier(script) || !is_identifier(function) {
            return Err(bad());
        }
        Ok(ScriptRef {
            script: script.to_string(),
            function: function.to_string(),
        })
    }
}

impl fmt::Display for ScriptRef {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}::{}", self.script, self.function)
    }
}

fn is_identifier(text: &str) -> bool {
    let mut chars = text.chars();
    matches!(chars.next(), Some(c) if c.is_ascii_alphabetic() || c == '_')
        && chars.all(|c| c.is_ascii_alphanumeric() || c == '_')
}

/// A script that failed or was stopped while running.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, thiserror::Error)]
#[error("{file}{}: in {function}: {message}", line.map(|l| format!(":{l}")).unwrap_or_default())]
pub struct ScriptError {
    /// The script file, e.g. `routing.rhai`.
    pub file: String,
    /// The function the error happened in (the innermost, for nested calls).
    pub function: String,
    pub line: Option<usize>,
    pub message: String,
}

/// The compiled scripts of one rule set and the sandboxed engine that runs them.
pub(crate) struct Scripts {
    engine: Engine,
    /// The same engine with a step recorder, to locate where a limit hit.
    stepping: Engine,
    asts: BTreeMap<String, AST>,
}

impl fmt::Debug for Scripts {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Scripts")
            .field("scripts", &self.asts.keys().collect::<Vec<_>>())
            .finish()
    }
}

impl Scripts {
    /// Compiles `(file name, text)` pairs; syntax errors become diagnostics.
    pub(crate) fn compile(
        sources: &[(String, String)],
        region: Region,
    ) -> (Scripts, Vec<Diagnostic>) {
        let engine = sandboxed_engine(region);
        let mut asts = BTreeMap::new();
        let mut diagnostics = Vec::new();
        for (file, text) in sources {
            let stem = file.trim_end_matches(".rhai").to_string();
            if !is_identifier(&stem) {
                diagnostics.push(
                    Diagnostic::new(file, Position::START, format!("`{file}` cannot be referred to from rules"))
                        .with_hint("name scripts like routing.rhai: letters, digits and `_`, starting with a letter"),
                );
                continue;
            }
            match engine.compile(text) {
                Ok(mut ast) => {
                    ast.set_source(file.as_str());
                    asts.insert(stem, ast);
                }
                Err(error) => {
                    let position = error.position();
                    let at = Position {
                        line: position.line().unwrap_or(1),
                        column: position.position().unwrap_or(1),
                    };
                    diagnostics.push(
                        Diagnostic::new(file, at, format!("Rhai syntax error: {}", error.err_type()))
                            .with_hint("see the Rhai book (rhai.rs/book) for the syntax; scripts define functions fn name(event, facts) { ... }"),
                    );
                }
            }
        }
        let stepping = stepping_engine(region);
        (
            Scripts {
                engine,
                stepping,
                asts,
            },
            diagnostics,
        )
    }

    /// Checks that `call` names a function taking `arity` parameters.
    pub(crate) fn check(&self, call: &ScriptRef, arity: usize) -> Result<(), (String, String)> {
        let Some(ast) = self.asts.get(&call.script) else {
            let hint = did_you_mean(&call.script, self.asts.keys().map(String::as_str))
                .unwrap_or_else(|| format!("create {}.rhai in the rules directory", call.script));
            return Err((format!("there is no script `{}.rhai`", call.script), hint));
        };
        let functions: Vec<_> = ast.iter_functions().collect();
        match functions.iter().find(|f| f.name == call.function) {
            None => {
                let hint = did_you_mean(&call.function, functions.iter().map(|f| f.name))
                    .unwrap_or_else(|| {
                        format!(
                            "define fn {}(event, facts) in {}.rhai",
                            call.function, call.script
                        )
                    });
                Err((
                    format!("{}.rhai has no function `{}`", call.script, call.function),
                    hint,
                ))
            }
            Some(_)
                if functions
                    .iter()
                    .any(|f| f.name == call.function && f.params.len() == arity) =>
            {
                Ok(())
            }
            Some(found) => Err((
                format!(
                    "{call} takes {} parameter(s) here it is called with {arity}",
                    found.params.len()
                ),
                if arity == 2 {
                    format!("declare it as fn {}(event, facts)", call.function)
                } else {
                    format!("declare it as fn {}(event, facts, actions)", call.function)
                },
            )),
        }
    }

    /// Runs `call` with `args` under the engine's limits.
    pub(crate) fn call(
        &self,
        call: &ScriptRef,
        args: Vec<Dynamic>,
    ) -> Result<Dynamic, ScriptError> {
        let replay = args.clone();
        let file = format!("{}.rhai", call.script);
        let Some(ast) = self.asts.get(&call.script) else {
            return Err(ScriptError {
                file,
                function: call.function.clone(),
                line: None,
                message: "the script is not loaded".to_string(),
            });
        };
        let options = CallFnOptions::new().eval_ast(false).rewind_scope(true);
        self.engine
            .call_fn_with_options::<Dynamic>(options, &mut Scope::new(), ast, &call.function, args)
            .map_err(|error| {
                let mut described = describe(&error, file, &call.function);
                if is_limit(&error) {
                    // Rhai reports where a limit stopped a script only as the
                    // outermost call site; run it again step by step to say where.
                    if let Some((line, function)) = self.locate(ast, call, replay) {
                        described.line = line.or(described.line);
                        described.function = function.unwrap_or(described.function);
                    }
                }
                described
            })
    }

    /// Replays a call that hit a limit on the stepping engine and returns the
    /// line and function of the last step before it was stopped.
    fn locate(
        &self,
        ast: &AST,
        call: &ScriptRef,
        args: Vec<Dynamic>,
    ) -> Option<(Option<usize>, Option<String>)> {
        LAST_STEP.with(|last| *last.borrow_mut() = None);
        let options = CallFnOptions::new().eval_ast(false).rewind_scope(true);
        let replayed = self.stepping.call_fn_with_options::<Dynamic>(
            options,
            &mut Scope::new(),
            ast,
            &call.function,
            args,
        );
        if replayed.is_ok() {
            return None;
        }
        LAST_STEP.with(|last| last.borrow_mut().take())
    }
}

thread_local! {
    /// The last step the stepping engine took on this thread: (line, function).
    static LAST_STEP: RefCell<Option<(Option<usize>, Option<String>)>> = const { RefCell::new(None) };
}

fn is_limit(error: &EvalAltResult) -> bool {
    let mut current = error;
    while let EvalAltResult::ErrorInFunctionCall(_, _, inner, _) = current {
        current = inner;
    }
    matches!(
        current,
        EvalAltResult::ErrorTooManyOperations(_) | EvalAltResult::ErrorStackOverflow(_)
    )
}

/// The sandboxed engine, plus a debugger hook that records every step; used
/// only to replay a call that hit a limit.
fn stepping_engine(region: Region) -> Engine {
    let mut engine = sandboxed_engine(region);
    // `register_debugger` is marked deprecated only to flag its API as volatile.
    #[allow(deprecated)]
    engine.register_debugger(
        |_, debugger| debugger,
        |context, event, _node, _source, position| {
            let function = context
                .debugger()
                .and_then(|d| d.call_stack().last())
                .map(|frame| frame.fn_name.to_string());
            // Function exits and the end of the run come after the stop:
            // keep the last step taken before it.
            let stepping = matches!(
                event,
                rhai::debugger::DebuggerEvent::Step | rhai::debugger::DebuggerEvent::Start
            );
            if stepping && position.line().is_some() {
                LAST_STEP.with(|last| *last.borrow_mut() = Some((position.line(), function)));
            }
            Ok(rhai::debugger::DebuggerCommand::StepInto)
        },
    );
    engine
}

fn describe(error: &EvalAltResult, file: String, called: &str) -> ScriptError {
    let mut function = called.to_string();
    let mut current = error;
    while let EvalAltResult::ErrorInFunctionCall(name, _, inner, _) = current {
        function = name.clone();
        current = inner;
    }
    let message = match current {
        EvalAltResult::ErrorTooManyOperations(_) => {
            format!("stopped after {MAX_OPERATIONS} operations (a runaway loop?)")
        }
        EvalAltResult::ErrorStackOverflow(_) => format!(
            "stopped: function calls nested deeper than {MAX_CALL_LEVELS} (runaway recursion?)"
        ),
        EvalAltResult::ErrorDataTooLarge(what, _) => {
            format!("{what} is larger than the script limits allow")
        }
        other => {
            let text = other.to_string();
            match text.find(" (line ") {
                Some(cut) => text[..cut].to_string(),
                None => text,
            }
        }
    };
    ScriptError {
        file,
        function,
        line: current.position().line(),
        message,
    }
}

/// An engine that can compute and nothing else.
fn sandboxed_engine(region: Region) -> Engine {
    let mut engine = Engine::new_raw();
    engine.register_global_module(rhai::packages::Package::as_shared_module(
        &rhai::packages::StandardPackage::new(),
    ));
    engine
        .set_max_operations(MAX_OPERATIONS)
        .set_max_call_levels(MAX_CALL_LEVELS)
        .set_max_expr_depths(MAX_EXPR_DEPTHS.0, MAX_EXPR_DEPTHS.1)
        .set_max_string_size(MAX_STRING_BYTES)
        .set_max_array_size(MAX_ARRAY_ITEMS)
        .set_max_map_size(MAX_MAP_ITEMS)
        .set_max_variables(MAX_VARIABLES)
        .set_max_functions(MAX_FUNCTIONS)
        .set_max_modules(0)
        .set_strict_variables(true)
        .disable_symbol("eval")
        .disable_symbol("import");
    engine.on_print(|text| tracing::debug!(target: "switchboard::rules::script", "{text}"));
    engine.on_debug(|text, source, position| {
        tracing::debug!(target: "switchboard::rules::script", source = source.unwrap_or(""), line = position.line(), "{text}")
    });
    register_helpers(&mut engine, region);
    engine
}

fn register_helpers(engine: &mut Engine, region: Region) {
    fn phone_as(raw: &str, region: Region, format: fn(&E164) -> String) -> Dynamic {
        E164::parse(raw, region)
            .map(|phone| Dynamic::from(format(&phone)))
            .unwrap_or(Dynamic::UNIT)
    }
    engine.register_fn("phone_e164", move |raw: &str| {
        phone_as(raw, region, |p| p.as_str().to_string())
    });
    engine.register_fn("phone_national", move |raw: &str| {
        phone_as(raw, region, E164::national_format)
    });
    engine.register_fn("phone_international", move |raw: &str| {
        phone_as(raw, region, E164::international_format)
    });
    engine.register_fn("phone_digits", move |raw: &str| {
        phone_as(raw, region, |p| p.digits().to_string())
    });
    engine.register_fn("time_in_zone", |at: &str, zone: &str| -> Dynamic {
        let (Ok(at), Ok(zone)) = (
            chrono::DateTime::parse_from_rfc3339(at),
            zone.parse::<chrono_tz::Tz>(),
        ) else {
            return Dynamic::UNIT;
        };
        Dynamic::from(at.with_timezone(&zone).format("%Y-%m-%d %H:%M").to_string())
    });
    engine.register_fn("lower", |text: &str| text.to_lowercase());
    engine.register_fn("upper", |text: &str| text.to_uppercase());
    engine.register_fn("is_blank", |value: Dynamic| is_blank(&value));
    engine.register_fn(
        "if_blank",
        |value: Dynamic, fallback: Dynamic| {
            if is_blank(&value) { fallback } else { value }
        },
    );
    engine.register_fn(
        "matches",
        |text: &str, pattern: &str| -> Result<bool, Box<EvalAltResult>> {
            regex::RegexBuilder::new(pattern)
                .size_limit(1 << 16)
                .build()
                .map(|re| re.is_match(text))
                .map_err(|e| format!("bad regex {pattern:?}: {e}").into())
        },
    );
}

fn is_blank(value: &Dynamic) -> bool {
    value.is_unit()
        || value
            .read_lock::<ImmutableString>()
            .map(|s| s.trim().is_empty())
            .unwrap_or(false)
}

/// The `event` argument of every script function: each canonical field and
/// derived name (absent values are `()`), `hour` and `minute` as numbers,
/// and `extra` as a map. The formatted numbers (`phone_national`,
/// `phone_international`) are left out because formatting is dear; scripts
/// call the helpers of the same names when they need them.
pub(crate) fn event_map(situation: &Situation<'_>) -> Map {
    let mut map = Map::new();
    let names = CANONICAL_FIELDS
        .iter()
        .chain(DERIVED_NAMES.iter())
        .map(|(name, _)| *name)
        .filter(|name| {
            !matches!(
                *name,
                "client"
                    | "open_deal"
                    | "employee"
                    | "responsible"
                    | "phone_national"
                    | "phone_international"
            )
        });
    for name in names {
        let value = Name::resolve(name)
            .and_then(|n| situation.value(&n))
            .map(to_dynamic)
            .unwrap_or(Dynamic::UNIT);
        map.insert(name.into(), value);
    }
    map.insert(
        "hour".into(),
        Dynamic::from_int(i64::from(situation.minute_of_day() / 60)),
    );
    map.insert(
        "minute".into(),
        Dynamic::from_int(i64::from(situation.minute_of_day() % 60)),
    );
    let extra: Map = situation
        .event
        .extra
        .iter()
        .map(|(k, v)| (k.as_str().into(), Dynamic::from(v.clone())))
        .collect();
    map.insert("extra".into(), extra.into());
    map
}

/// The `facts` argument: `client`, `open_deal`, `employee`, `responsible`,
/// and the CRM ids the executor found (`()` when unknown).
pub(crate) fn facts_map(situation: &Situation<'_>) -> Map {
    let facts = situation.facts;
    let text = |value: Option<String>| value.map(Dynamic::from).unwrap_or(Dynamic::UNIT);
    let mut map = Map::new();
    map.insert("client".into(), facts.client.as_str().into());
    map.insert("open_deal".into(), facts.open_deal.into());
    map.insert("employee".into(), facts.employee.as_str().into());
    map.insert("responsible".into(), facts.responsible.as_str().into());
    map.insert(
        "employee_owner".into(),
        text(facts.employee_owner.as_ref().map(|o| o.0.clone())),
    );
    map.insert(
        "responsible_owner".into(),
        text(facts.responsible_owner.as_ref().map(|o| o.0.clone())),
    );
    map.insert(
        "contact_id".into(),
        text(facts.contact.as_ref().map(|c| c.id.0.clone())),
    );
    map.insert(
        "deal_id".into(),
        text(facts.deal.as_ref().map(|d| d.id.0.clone())),
    );
    map.insert(
        "deal_pipeline".into(),
        text(facts.deal.as_ref().and_then(|d| d.pipeline.clone())),
    );
    map.insert(
        "deal_stage".into(),
        text(facts.deal.as_ref().and_then(|d| d.stage.clone())),
    );
    map
}

fn to_dynamic(value: Value<'_>) -> Dynamic {
    match value {
        Value::Text(text) => Dynamic::from(text.into_owned()),
        Value::Bool(b) => Dynamic::from_bool(b),
        Value::Number(n) if n.fract() == 0.0 && n.abs() < 9.0e15 => Dynamic::from_int(n as i64),
        Value::Number(n) => Dynamic::from_float(n),
    }
}

/// A readable rendering of a script's return value, for the trace.
pub(crate) fn show(value: &Dynamic) -> String {
    if value.is_unit() {
        return "()".to_string();
    }
    if value.is_string() {
        return format!("{:?}", value.to_string());
    }
    let text = value.to_string();
    if text.len() > 200 {
        let cut = text
            .char_indices()
            .nth(200)
            .map(|(i, _)| i)
            .unwrap_or(text.len());
        format!("{}…", &text[..cut])
    } else {
        text
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn compile(text: &str) -> Scripts {
        let (scripts, diagnostics) = Scripts::compile(
            &[("test.rhai".to_string(), text.to_string())],
            Region::default(),
        );
        assert!(diagnostics.is_empty(), "{diagnostics:?}");
        scripts
    }

    fn call(scripts: &Scripts, function: &str) -> Result<Dynamic, ScriptError> {
        let call = ScriptRef::parse(&format!("test::{function}")).expect("valid reference");
        scripts.call(
            &call,
            vec![Dynamic::from_map(Map::new()), Dynamic::from_map(Map::new())],
        )
    }

    #[test]
    fn a_runaway_loop_is_stopped_with_script_function_and_line() {
        let scripts =
            compile("fn spin(event, facts) {\n  let n = 0;\n  loop {\n    n += 1;\n  }\n}\n");
        let error = call(&scripts, "spin").expect_err("stopped");
        assert_eq!(error.file, "test.rhai");
        assert_eq!(error.function, "spin");
        assert!(matches!(error.line, Some(3..=4)), "{error}");
        assert!(error.message.contains("runaway loop"), "{error}");
    }

    #[test]
    fn runaway_recursion_is_stopped_with_the_innermost_function() {
        let scripts =
            compile("fn dive(n) {\n  dive(n + 1)\n}\nfn start(event, facts) {\n  dive(0)\n}\n");
        let error = call(&scripts, "start").expect_err("stopped");
        assert_eq!(error.function, "dive");
        assert_eq!(error.line, Some(2), "{error}");
        assert!(error.message.contains("runaway recursion"), "{error}");
    }

    #[test]
    fn growing_data_is_stopped() {
        let scripts = compile(
            "fn grow(event, facts) {\n  let s = \"x\";\n  for i in 0..100 { s += s; }\n  s\n}\n",
        );
        let error = call(&scripts, "grow").expect_err("stopped");
        assert!(
            error.message.contains("larger than the script limits"),
            "{error}"
        );
    }

    #[test]
    fn no_imports_no_eval() {
        let (_, diagnostics) = Scripts::compile(
            &[(
                "io.rhai".to_string(),
                "import \"secrets\" as s;\nfn f(event, facts) { 1 }".to_string(),
            )],
            Region::default(),
        );
        assert_eq!(diagnostics.len(), 1, "imports are refused at compile time");
        let (_, diagnostics) = Scripts::compile(
            &[(
                "ev.rhai".to_string(),
                "fn f(event, facts) { eval(\"1\") }".to_string(),
            )],
            Region::default(),
        );
        assert_eq!(diagnostics.len(), 1, "eval is not available");
    }

    #[test]
    fn syntax_errors_point_at_the_line() {
        let (_, diagnostics) = Scripts::compile(
            &[(
                "bad.rhai".to_string(),
                "fn f(event, facts) {\n  let x = ;\n}\n".to_string(),
            )],
            Region::default(),
        );
        assert_eq!(diagnostics.len(), 1);
        assert_eq!(
            (diagnostics[0].file.as_str(), diagnostics[0].line),
            ("bad.rhai", 2)
        );
    }

    #[test]
    fn helpers_format_phones_and_strings() {
        let scripts = compile(concat!(
            "fn national(event, facts) { phone_national(\"380671234567\") }\n",
            "fn invalid(event, facts) { phone_e164(\"acmecom_ivanenko\") }\n",
            "fn blank(event, facts) { if_blank(\"  \", \"fallback\") }\n",
            "fn regex(event, facts) { matches(\"google-ads\", \"^goo\") }\n",
            "fn zone(event, facts) { time_in_zone(\"2025-09-30T11:05:12Z\", \"Europe/Kyiv\") }\n",
        ));
        assert_eq!(
            call(&scripts, "national").map(|d| d.to_string()),
            Ok("067 123 4567".into())
        );
        assert!(
            call(&scripts, "invalid")
                .map(|d| d.is_unit())
                .unwrap_or(false)
        );
        assert_eq!(
            call(&scripts, "blank").map(|d| d.to_string()),
            Ok("fallback".into())
        );
        assert_eq!(
            call(&scripts, "regex").map(|d| d.as_bool().unwrap_or(false)),
            Ok(true)
        );
        assert_eq!(
            call(&scripts, "zone").map(|d| d.to_string()),
            Ok("2025-09-30 14:05".into())
        );
    }

    #[test]
    fn references_are_checked_for_script_function_and_arity() {
        let scripts =
            compile("fn two(event, facts) { true }\nfn three(event, facts, actions) { () }\n");
        let check =
            |text: &str, arity| scripts.check(&ScriptRef::parse(text).expect("valid"), arity);
        assert!(check("test::two", 2).is_ok());
        assert!(check("test::three", 3).is_ok());
        assert!(
            check("tset::two", 2)
                .expect_err("no script")
                .1
                .contains("did you mean `test`")
        );
        assert!(
            check("test::tow", 2)
                .expect_err("no function")
                .1
                .contains("did you mean `two`")
        );
        assert!(
            check("test::two", 3)
                .expect_err("arity")
                .0
                .contains("takes 2")
        );
        assert!(ScriptRef::parse("routing").is_err());
        assert!(ScriptRef::parse("1x::f").is_err());
    }
}
