//! The `switchboard` command: parses the command line, sets up logging, and
//! hands over to `switchboard-core`. No logic of its own lives here.

use std::io::IsTerminal;
use std::net::SocketAddr;
use std::path::PathBuf;
use std::process::ExitCode;

mod commands;
mod connectors;

use anyhow::Context;
use clap::{Args, Parser, Subcommand, ValueEnum};
use switchboard_core::config::{Environment, Overrides, Settings, StoreUrl};
use switchboard_core::startup::Application;
use switchboard_core::store::{self, EventId, ReplayOutcome};
use tracing_subscriber::EnvFilter;

#[derive(Debug, Parser)]
#[command(
    name = "switchboard",
    version,
    about = "Turns Ringostat call webhooks into CRM records, driven by editable rules",
    long_about = "Turns Ringostat call webhooks into CRM records, driven by editable rules.\n\n\
        Configuration comes from an optional YAML file (--config), the environment \
        (SWITCHBOARD_LISTEN, SWITCHBOARD_STORE_URL, SWITCHBOARD_RULES_DIR, and the secrets \
        SWITCHBOARD_WEBHOOK_TOKEN, SWITCHBOARD_ADMIN_TOKEN, HUBSPOT_TOKEN, RINGOSTAT_API_KEY) and flags, in the \
        order flag > environment > file > default. Logs go to stderr; RUST_LOG sets the level."
)]
struct Cli {
    /// Configuration file (YAML; every key optional, unknown keys are errors).
    #[arg(long, global = true, env = "SWITCHBOARD_CONFIG", value_name = "FILE")]
    config: Option<PathBuf>,

    /// Log format.
    #[arg(long, global = true, env = "SWITCHBOARD_LOG_FORMAT", value_enum, default_value_t = LogFormat::Text)]
    log_format: LogFormat,

    #[command(subcommand)]
    command: Command,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
enum LogFormat {
    /// Human-readable lines.
    Text,
    /// One JSON object per line, for log collectors.
    Json,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Run the service: receive Ringostat webhooks, store them durably, serve the API.
    ///
    /// With no configuration at all it listens on 127.0.0.1:8080, stores events in
    /// switchboard.db and reads rules from ./rules. It logs one line `listening on ADDR`
    /// once it accepts connections, and stops gracefully on SIGTERM or Ctrl-C.
    Serve(ServeArgs),

    /// Write the default rules and a commented configuration into DIR.
    Init {
        /// Directory to create the files in.
        dir: PathBuf,
    },

    /// Validate the rules and run the rule tests; exit non-zero with precise errors.
    Check {
        /// Rules directory (default: rules.dir of the configuration).
        #[arg(long, value_name = "DIR")]
        rules: Option<PathBuf>,
    },

    /// Print the plan and the trace the rules produce for one event.
    Simulate {
        /// The event: a Ringostat payload (JSON), or an event in the canonical
        /// field names that rule tests use (JSON or YAML).
        #[arg(value_name = "EVENT.json")]
        event: PathBuf,
        /// Rules directory (default: rules.dir of the configuration).
        #[arg(long, value_name = "DIR")]
        rules: Option<PathBuf>,
        /// A CRM fact to assume, such as client=existing or employee=unknown (repeatable).
        #[arg(long = "fact", value_name = "NAME=VALUE")]
        facts: Vec<String>,
        /// Print JSON instead of text.
        #[arg(long)]
        json: bool,
    },

    /// Re-run a chosen event, or every dead-lettered one, with the current rules.
    ///
    /// Writes the store directly, so it works whether the service runs or not;
    /// a running service picks the events up within worker.poll_interval. Steps
    /// that already have a CRM id are not repeated.
    Replay(ReplayArgs),

    /// Queue the calls Ringostat's call log has for a period and the inbox lacks.
    ///
    /// For calls whose webhook never came (the service was down or unreachable).
    /// Each call goes through the same intake as a webhook, once per call id; known
    /// calls change nothing. A service running on the same store processes the new
    /// ones; with none running, this command processes them itself. Needs the
    /// Ringostat API key (RINGOSTAT_API_KEY or ringostat.api.key).
    Backfill(commands::backfill::BackfillArgs),

    /// HubSpot account setup and checks.
    Hubspot {
        #[command(subcommand)]
        command: HubspotCommand,
    },
}

#[derive(Debug, Args)]
struct ServeArgs {
    /// Address to listen on, such as 127.0.0.1:8080 (overrides listen and SWITCHBOARD_LISTEN).
    #[arg(long, value_name = "ADDR")]
    listen: Option<SocketAddr>,
    /// Store URL, such as sqlite://switchboard.db (overrides store.url and SWITCHBOARD_STORE_URL).
    #[arg(long, value_name = "URL")]
    store: Option<StoreUrl>,
    /// Rules directory (overrides rules.dir and SWITCHBOARD_RULES_DIR).
    #[arg(long, value_name = "DIR")]
    rules: Option<PathBuf>,
}

#[derive(Debug, Args)]
#[group(required = true, multiple = false)]
struct ReplayArgs {
    /// The inbox id of the event to replay.
    id: Option<i64>,
    /// Replay every dead-lettered event.
    #[arg(long)]
    dead: bool,
}

#[derive(Debug, Subcommand)]
enum HubspotCommand {
    /// Create the custom properties Switchboard writes its step keys into.
    Setup,
    /// Verify the token, scopes, pipeline, stages and the owners of employees.yaml.
    Doctor,
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    init_logging(cli.log_format);
    match cli.command {
        Command::Serve(args) => match serve(cli.config, args) {
            Ok(()) => ExitCode::SUCCESS,
            Err(error) => {
                tracing::error!("{error:#}");
                ExitCode::FAILURE
            }
        },
        Command::Init { dir } => report(commands::rules::init(&dir)),
        Command::Check { rules } => report(commands::rules::check(cli.config.as_deref(), rules)),
        Command::Simulate {
            event,
            rules,
            facts,
            json,
        } => report(commands::rules::simulate(
            cli.config.as_deref(),
            rules,
            &event,
            &facts,
            json,
        )),
        Command::Replay(args) => report(replay(cli.config.as_deref(), &args)),
        Command::Backfill(args) => {
            report(commands::backfill::backfill(cli.config.as_deref(), &args))
        }
        Command::Hubspot {
            command: HubspotCommand::Setup,
        } => report(commands::hubspot::setup(cli.config.as_deref())),
        Command::Hubspot {
            command: HubspotCommand::Doctor,
        } => report(commands::hubspot::doctor(cli.config.as_deref())),
    }
}

fn serve(config: Option<PathBuf>, args: ServeArgs) -> anyhow::Result<()> {
    let overrides = Overrides {
        listen: args.listen,
        store_url: args.store,
        rules_dir: args.rules,
    };
    let settings = Settings::load(config.as_deref(), &Environment::from_process(), &overrides)
        .context("invalid configuration")?;
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .context("cannot start the runtime")?;
    runtime.block_on(async {
        let connector = connectors::build_connector(&settings)?;
        let application = Application::build(settings, connector).await?;
        application.run_until_stopped().await?;
        anyhow::Ok(())
    })?;
    Ok(())
}

/// Queues events again in the store itself, so it works whether the service
/// runs or not; a running service picks them up at its next poll.
fn replay(config: Option<&std::path::Path>, args: &ReplayArgs) -> anyhow::Result<ExitCode> {
    let settings = Settings::load(config, &Environment::from_process(), &Overrides::default())
        .context("invalid configuration")?;
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .context("cannot start the runtime")?;
    runtime.block_on(async {
        let store = store::open(&settings.store.url)
            .await
            .with_context(|| format!("cannot open the store {}", settings.store.url))?;
        let now = chrono::Utc::now();
        match (args.id, args.dead) {
            (Some(id), _) => match store.replay(EventId(id), now).await? {
                ReplayOutcome::Requeued => {
                    println!("event {id} queued again; it runs with the current rules");
                    Ok(ExitCode::SUCCESS)
                }
                ReplayOutcome::NotFound => {
                    eprintln!("error: no event {id} in {}", settings.store.url);
                    Ok(ExitCode::FAILURE)
                }
                ReplayOutcome::Refused(status) => {
                    eprintln!("error: event {id} is {status} right now and cannot be replayed");
                    Ok(ExitCode::FAILURE)
                }
            },
            (None, _) => {
                let ids = store.replay_dead(now).await?;
                let list: Vec<String> = ids.iter().map(ToString::to_string).collect();
                match ids.len() {
                    0 => println!("no dead-lettered events"),
                    n => println!(
                        "{n} dead-lettered event(s) queued again: {}",
                        list.join(", ")
                    ),
                }
                Ok(ExitCode::SUCCESS)
            }
        }
    })
}

/// Prints a command's error and turns its outcome into the exit code.
fn report(outcome: anyhow::Result<ExitCode>) -> ExitCode {
    match outcome {
        Ok(code) => code,
        Err(error) => {
            eprintln!("error: {error:#}");
            ExitCode::FAILURE
        }
    }
}

fn init_logging(format: LogFormat) {
    let filter = EnvFilter::try_from_default_env().unwrap_or_else(|_| EnvFilter::new("info"));
    let builder = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr)
        .with_ansi(std::io::stderr().is_terminal());
    match format {
        LogFormat::Text => builder.init(),
        LogFormat::Json => builder.json().init(),
    }
}
