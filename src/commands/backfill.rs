//! `switchboard backfill --from TIME --to TIME [--dry-run]`: read the calls
//! Ringostat's call log has for a period and queue every one the inbox
//! lacks, as if its webhook had come.
//!
//! Who processes the new events: a service running on the same store (it
//! says so with its presence lease) picks them up at once; with none
//! running, this command processes them itself with the configured
//! connector and rules, until none is queued or in flight. Either way is
//! safe: the store's claims keep an event with one worker at a time, and
//! the step journal never repeats a step.

use std::io::IsTerminal;
use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::sync::Arc;

use anyhow::Context;
use chrono::Utc;
use clap::Args;
use switchboard_core::config::{Settings, StoreUrl};
use switchboard_core::intake::Intake;
use switchboard_core::presence;
use switchboard_core::ringostat::process::{self, Processed};
use switchboard_core::ringostat::windows::parse_time;
use switchboard_core::ringostat::{Backfill, CallLogClient, Destination, Period, Summary};
use switchboard_core::store::{self, EventStatus, Store};

use super::load_settings;
use crate::connectors;

#[derive(Debug, Args)]
pub struct BackfillArgs {
    /// Start of the period, in the project's time zone (time_zone): 2025-10-26 14:30,
    /// 2025-10-26 (midnight), 2025-10-26T14:30:00+03:00 or now.
    #[arg(long, value_name = "TIME")]
    from: String,
    /// End of the period (included), written the same way.
    #[arg(long, value_name = "TIME")]
    to: String,
    /// Read the call log and report what is new, without storing anything.
    #[arg(long)]
    dry_run: bool,
}

pub fn backfill(config: Option<&Path>, args: &BackfillArgs) -> anyhow::Result<ExitCode> {
    let settings = load_settings(config, None)?;
    let now = Utc::now();
    let zone = settings.time_zone;
    let from = parse_time(&args.from, zone, now).context("--from")?;
    let to = parse_time(&args.to, zone, now).context("--to")?;
    let period = Period::new(from, to, zone)?;
    let client = CallLogClient::new(&settings.ringostat.api)?;
    let backfill = Backfill::new(Arc::new(client), Intake::call_log(&settings));
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .context("cannot start the runtime")?;
    runtime.block_on(run(&settings, &backfill, &period, args.dry_run))
}

async fn run(
    settings: &Settings,
    backfill: &Backfill,
    period: &Period,
    dry_run: bool,
) -> anyhow::Result<ExitCode> {
    let url = &settings.store.url;
    let store = if dry_run && !exists(url) {
        None
    } else {
        let opened = store::open(url)
            .await
            .with_context(|| format!("cannot open the store {url}"))?;
        Some(opened)
    };
    let destination = match (&store, dry_run) {
        (Some(store), false) => Destination::Inbox {
            store: store.clone(),
            wake: None,
        },
        (store, _) => Destination::DryRun {
            store: store.clone(),
        },
    };
    let terminal = std::io::stderr().is_terminal();
    let mut progress = |p: &switchboard_core::ringostat::Progress| {
        if terminal {
            eprintln!(
                "window {}: {} calls ({} windows, {} calls so far)",
                p.window, p.calls, p.windows, p.found
            );
        }
    };
    let summary = backfill
        .run(period, &destination, None, &mut progress)
        .await
        .map_err(|error| {
            let kept = if dry_run {
                ""
            } else {
                "; calls queued before the failure stay queued, and running again changes nothing for them"
            };
            anyhow::anyhow!("cannot read Ringostat's call log: {error}{kept}")
        })?;
    print_summary(period, &summary, dry_run);
    match store {
        Some(store) if !dry_run && !summary.queued.is_empty() => {
            hand_over(settings, store, &summary).await
        }
        _ => Ok(ExitCode::SUCCESS),
    }
}

/// Whether the store is there already: a dry run never creates one.
fn exists(url: &StoreUrl) -> bool {
    match url {
        StoreUrl::Sqlite(url) => {
            let path = url
                .strip_prefix("sqlite://")
                .or_else(|| url.strip_prefix("sqlite:"))
                .unwrap_or(url);
            let path = path.split('?').next().unwrap_or(path);
            PathBuf::from(path).exists()
        }
    }
}

fn print_summary(period: &Period, summary: &Summary, dry_run: bool) {
    println!(
        "Ringostat call log {period}: {} window(s) read{}",
        summary.windows,
        if dry_run {
            " (dry run: nothing is stored)"
        } else {
            ""
        }
    );
    println!("found:         {}", summary.found);
    let new = if dry_run { "would be queued" } else { "queued" };
    println!("new:           {} ({new})", summary.new);
    println!("already known: {}", summary.known);
    println!("rejected:      {}", summary.rejected_total());
    for (reason, count) in &summary.rejected {
        println!("  {count} × {reason}");
    }
    if !summary.refused_fields.is_empty() {
        println!(
            "note: this project does not know the call log field(s) {}; the calls were read without them",
            summary.refused_fields.join(", ")
        );
    }
}

/// Leaves the new events to a running service, or processes them here.
async fn hand_over(
    settings: &Settings,
    store: Arc<dyn Store>,
    summary: &Summary,
) -> anyhow::Result<ExitCode> {
    let services = presence::running_services(store.as_ref(), Utc::now()).await?;
    if let Some(service) = services.first() {
        println!(
            "a service runs on this store (instance {}): it processes the {} new call(s); \
             follow them with GET /api/events (if it stopped meanwhile, they run when \
             `switchboard serve` starts)",
            service.holder,
            summary.queued.len()
        );
        return Ok(ExitCode::SUCCESS);
    }
    let connector = connectors::build_connector(settings)?;
    println!(
        "no service runs on this store: processing the {} new call(s) here with the {} connector",
        summary.queued.len(),
        connector.name()
    );
    let terminal = std::io::stderr().is_terminal();
    let mut progress = |settled: usize, total: usize| {
        if terminal {
            eprintln!("processed {settled} of {total}");
        }
    };
    let processed =
        process::process_queued(settings, store, connector, &summary.queued, &mut progress).await;
    match processed {
        Ok(processed) => {
            print_processed(&processed);
            Ok(ExitCode::SUCCESS)
        }
        Err(error) => {
            eprintln!("error: {error}");
            Ok(ExitCode::FAILURE)
        }
    }
}

fn print_processed(processed: &Processed) {
    let list: Vec<String> = processed
        .statuses
        .iter()
        .map(|(status, count)| format!("{count} {status}"))
        .collect();
    println!("processed: {}", list.join(", "));
    let later = processed.count(EventStatus::Retrying) + processed.count(EventStatus::Paused);
    if later > 0 {
        println!(
            "{later} call(s) wait for a retry or for the CRM account: `switchboard serve` finishes them"
        );
    }
    if processed.count(EventStatus::Dead) > 0 {
        println!(
            "dead-lettered calls keep their error (GET /api/events?status=dead); replay them with `switchboard replay --dead`"
        );
    }
}
