//! The workers: claim due events, process each under a lease, and end every
//! attempt with a conclusion the store records.
//!
//! One dispatcher claims for all workers (`worker.concurrency` slots), so
//! claims never race each other; the store's claim keeps one event per
//! client number in flight, in arrival order. The dispatcher sleeps until
//! something can have changed: a new event (the intake wakes it), a worker
//! finishing (the next event of that number may go), rules loading, the CRM
//! account working again, or the poll tick (retries that became due, events
//! queued by `switchboard replay` from another process). No busy loop.

use std::collections::HashMap;
use std::sync::Arc;
use std::time::Instant;

use chrono::{DateTime, Utc};
use tokio::sync::watch;
use tokio::task::JoinSet;
use tokio::time::MissedTickBehavior;

use super::Context;
use super::executor::Execution;
use super::facts::{self, forget_stale};
use super::failure::Failure;
use super::steps::Journal;
use crate::connector::{ConnectorError, CrmId, ObjectKind};
use crate::facts::Facts;
use crate::phone;
use crate::plan::{Plan, TraceEntry};
use crate::store::{
    Claim, Conclusion, EventId, EventStatus, LeaseToken, StepOutcome, StoreError, StoredEvent,
};

/// How often an attempt resolves ids the CRM no longer has before it gives
/// the attempt up as a transient failure.
const STALE_ROUNDS: usize = 3;

pub(super) async fn run(ctx: Arc<Context>, mut stop: watch::Receiver<bool>) {
    let instance = uuid::Uuid::new_v4().simple().to_string();
    let instance = &instance[..12];
    let mut claims: u64 = 0;
    let mut tasks: JoinSet<()> = JoinSet::new();
    let mut in_flight: HashMap<tokio::task::Id, (EventId, LeaseToken)> = HashMap::new();
    let mut versions = ctx.rules.subscribe();
    let mut pauses = ctx.pause.subscribe();
    let mut poll = tokio::time::interval(ctx.settings.poll_interval);
    poll.set_missed_tick_behavior(MissedTickBehavior::Delay);
    let probe = tokio::spawn(probe_while_paused(ctx.clone()));
    tracing::info!(
        concurrency = ctx.settings.concurrency,
        lease_ms = ctx.settings.lease.as_millis() as u64,
        "workers started"
    );

    loop {
        if *stop.borrow() {
            break;
        }
        let free = ctx.settings.concurrency.saturating_sub(tasks.len());
        if free > 0 && !ctx.pause.is_paused() && ctx.rules.current().is_some() {
            claims += 1;
            let token = LeaseToken(format!("{instance}-{claims}"));
            let now = Utc::now();
            let claim = Claim {
                token: token.clone(),
                now,
                until: now + lease(&ctx),
                limit: free,
            };
            match ctx.store.claim(&claim).await {
                Ok(events) => {
                    for event in events {
                        let id = event.id;
                        let task = tasks.spawn(process(ctx.clone(), event, token.clone()));
                        in_flight.insert(task.id(), (id, token.clone()));
                    }
                }
                Err(error) => {
                    tracing::warn!(%error, "cannot claim events; trying again at the next poll")
                }
            }
        }
        tokio::select! {
            changed = stop.changed() => {
                if changed.is_err() {
                    break;
                }
            }
            Some(joined) = tasks.join_next_with_id() => {
                let id = match joined {
                    Ok((id, ())) => id,
                    Err(error) => {
                        tracing::error!(%error, "an event's processing task failed");
                        error.id()
                    }
                };
                in_flight.remove(&id);
            }
            () = ctx.wake.notified() => {}
            _ = versions.changed() => housekeeping(&ctx).await,
            _ = pauses.changed() => {}
            _ = poll.tick() => housekeeping(&ctx).await,
        }
    }

    probe.abort();
    drain(&ctx, tasks, in_flight).await;
    tracing::info!("workers stopped");
}

fn lease(ctx: &Context) -> chrono::Duration {
    chrono::Duration::from_std(ctx.settings.lease).unwrap_or(chrono::Duration::MAX)
}

/// What the poll also looks after: held events once rules are loaded,
/// paused events once the account works, the dead-letter gauge.
async fn housekeeping(ctx: &Context) {
    let now = Utc::now();
    if ctx.rules.current().is_some() {
        match ctx.store.release_held(now).await {
            Ok(0) => {}
            Ok(released) => tracing::info!(released, "rules are loaded: held events queued"),
            Err(error) => tracing::warn!(%error, "cannot release held events"),
        }
    }
    if !ctx.pause.is_paused() {
        match ctx.store.requeue_paused(now).await {
            Ok(0) => {}
            Ok(requeued) => tracing::info!(requeued, "paused events queued again"),
            Err(error) => tracing::warn!(%error, "cannot queue paused events again"),
        }
    }
    refresh_dead_letters(ctx).await;
}

async fn refresh_dead_letters(ctx: &Context) {
    match ctx.store.count_status(EventStatus::Dead).await {
        Ok(dead) => metrics::gauge!("switchboard_dead_letters").set(dead as f64),
        Err(error) => tracing::debug!(%error, "cannot count dead letters"),
    }
}

/// While paused, asks the CRM every `worker.pause_probe` whether the
/// account works again; on success resumes and queues the paused events.
async fn probe_while_paused(ctx: Arc<Context>) {
    let mut pauses = ctx.pause.subscribe();
    loop {
        while pauses.borrow_and_update().is_none() {
            if pauses.changed().await.is_err() {
                return;
            }
        }
        tokio::time::sleep(ctx.settings.pause_probe).await;
        if !ctx.pause.is_paused() {
            continue;
        }
        match ctx.cache.connector().health_check().await {
            Ok(_) => {
                ctx.pause.resume();
                match ctx.store.requeue_paused(Utc::now()).await {
                    Ok(requeued) => tracing::info!(requeued, "paused events queued again"),
                    Err(error) => {
                        tracing::warn!(%error, "cannot queue paused events again; the next poll will")
                    }
                }
                ctx.wake.notify_one();
            }
            Err(error) => {
                tracing::info!(%error, "the CRM account still refuses work: staying paused")
            }
        }
    }
}

/// Lets the events in flight finish within the grace period; the rest are
/// stopped at their next await point (which the step journal makes safe)
/// and released, not counted as attempts, for the next start.
async fn drain(
    ctx: &Context,
    mut tasks: JoinSet<()>,
    mut in_flight: HashMap<tokio::task::Id, (EventId, LeaseToken)>,
) {
    if tasks.is_empty() {
        return;
    }
    tracing::info!(in_flight = tasks.len(), "waiting for events in flight");
    let finish = async {
        while let Some(joined) = tasks.join_next_with_id().await {
            if let Ok((id, ())) = joined {
                in_flight.remove(&id);
            }
        }
    };
    if tokio::time::timeout(ctx.settings.shutdown_grace, finish)
        .await
        .is_ok()
    {
        return;
    }
    tasks.abort_all();
    while let Some(joined) = tasks.join_next_with_id().await {
        if let Ok((id, ())) = joined {
            in_flight.remove(&id);
        }
    }
    for (event, token) in in_flight.into_values() {
        let release = Conclusion::Release {
            status: EventStatus::Queued,
            at: None,
            reason: Some("released at shutdown".to_string()),
        };
        match ctx.store.conclude(event, &token, release, Utc::now()).await {
            Ok(_) => tracing::info!(event_id = %event, "event released at shutdown"),
            Err(error) => {
                tracing::warn!(event_id = %event, %error, "cannot release the event; its lease will expire")
            }
        }
    }
}

/// What one attempt settled on, when it did not fail.
enum Settled {
    Done,
    Skipped(String),
}

/// One event, from claim to conclusion, with its lease renewed meanwhile.
async fn process(ctx: Arc<Context>, event: StoredEvent, token: LeaseToken) {
    let started = Instant::now();
    let mut scenario = None;
    let outcome =
        if u32::try_from(event.attempts).unwrap_or(u32::MAX) > ctx.settings.retry.max_attempts {
            Some(Err(Failure::Unfinished(event.attempts - 1)))
        } else {
            tokio::select! {
                outcome = attempt(&ctx, &event, &token, &mut scenario) => Some(outcome),
                () = keep_lease(&ctx, event.id, &token) => None,
            }
        };
    let Some(outcome) = outcome else {
        tracing::warn!(event_id = %event.id, "lease lost: another worker has the event now");
        return;
    };
    if matches!(outcome, Err(Failure::LeaseLost)) {
        tracing::warn!(event_id = %event.id, "lease lost: another worker has the event now");
        return;
    }
    let now = Utc::now();
    let conclusion = conclusion(&ctx, &event, outcome, now);
    let status = match &conclusion {
        Conclusion::Done => EventStatus::Done,
        Conclusion::Skipped { .. } => EventStatus::Skipped,
        Conclusion::Dead { .. } => EventStatus::Dead,
        Conclusion::Retry { .. } => EventStatus::Retrying,
        Conclusion::Release { status, .. } => *status,
    };
    let detail = match &conclusion {
        Conclusion::Skipped { reason } => Some(reason.clone()),
        Conclusion::Dead { error } | Conclusion::Retry { error, .. } => Some(error.clone()),
        Conclusion::Release { reason, .. } => reason.clone(),
        Conclusion::Done => None,
    };
    let retry_at = match &conclusion {
        Conclusion::Retry { at, .. } => Some(*at),
        _ => None,
    };
    match ctx.store.conclude(event.id, &token, conclusion, now).await {
        Ok(true) => {}
        Ok(false) => {
            tracing::warn!(event_id = %event.id, "lease lost before the outcome was recorded");
            return;
        }
        Err(error) => {
            tracing::error!(event_id = %event.id, %error, "cannot record the outcome; the event will be claimed again when its lease expires");
            return;
        }
    }
    metrics::counter!("switchboard_events_total", "status" => status.as_str()).increment(1);
    match status {
        EventStatus::Done => {
            let seconds = (now - event.received_at).num_milliseconds().max(0) as f64 / 1000.0;
            metrics::histogram!("switchboard_event_seconds").record(seconds);
        }
        EventStatus::Retrying => metrics::counter!("switchboard_retries_total").increment(1),
        EventStatus::Dead => refresh_dead_letters(&ctx).await,
        _ => {}
    }
    log_outcome(
        &event,
        scenario.as_deref(),
        status,
        detail.as_deref(),
        retry_at,
        started,
    );
}

fn log_outcome(
    event: &StoredEvent,
    scenario: Option<&str>,
    status: EventStatus,
    detail: Option<&str>,
    retry_at: Option<DateTime<Utc>>,
    started: Instant,
) {
    let client = event.client_phone.as_deref().map(phone::mask);
    let client = client.as_deref().unwrap_or("none");
    let scenario = scenario.unwrap_or("-");
    let elapsed_ms = started.elapsed().as_millis() as u64;
    match status {
        EventStatus::Dead => tracing::warn!(
            event_id = %event.id, call_id = event.call_id, scenario, outcome = %status, client,
            elapsed_ms, attempts = event.attempts, error = detail.unwrap_or(""), "event dead-lettered"
        ),
        EventStatus::Retrying => tracing::info!(
            event_id = %event.id, call_id = event.call_id, scenario, outcome = %status, client,
            elapsed_ms, attempts = event.attempts, retry_at = ?retry_at, error = detail.unwrap_or(""),
            "event will be retried"
        ),
        _ => tracing::info!(
            event_id = %event.id, call_id = event.call_id, scenario, outcome = %status, client,
            elapsed_ms, detail = detail.unwrap_or(""), "event finished"
        ),
    }
}

/// Renews the lease every third of its length; returns only when it is lost.
async fn keep_lease(ctx: &Context, id: EventId, token: &LeaseToken) {
    let every = (ctx.settings.lease / 3).max(std::time::Duration::from_millis(100));
    let mut ticks = tokio::time::interval(every);
    ticks.tick().await;
    loop {
        ticks.tick().await;
        match ctx
            .store
            .renew_lease(id, token, Utc::now() + lease(ctx))
            .await
        {
            Ok(true) => {}
            Ok(false) => return,
            Err(error) => tracing::warn!(event_id = %id, %error, "cannot renew the lease"),
        }
    }
}

/// Facts, plan, execution: one attempt at an event.
async fn attempt(
    ctx: &Context,
    stored: &StoredEvent,
    token: &LeaseToken,
    scenario: &mut Option<String>,
) -> Result<Settled, Failure> {
    let event = stored
        .call_event()
        .map_err(|error| Failure::Unreadable(error.to_string()))?;
    if !event.kind.is_processed() {
        let reason = format!("event kind {:?} is not processed", event.kind.as_str());
        return Ok(Settled::Skipped(reason));
    }
    let rules = ctx.rules.current().ok_or(Failure::RulesNotLoaded)?;
    // A retry resumes the plan its first attempt made: what that attempt
    // created must not change the decision (a new client's contact would
    // make the retry see an existing client). A replay clears the plan, so
    // it is decided again with the current rules.
    let mut resumable = recorded_plan(stored);
    for round in 1..=STALE_ROUNDS {
        let (mut plan, facts) = match resumable.take() {
            Some(recorded) => {
                tracing::debug!(event_id = %stored.id, "resuming the plan of an earlier attempt");
                recorded
            }
            None => {
                let own = created_by(ctx, stored.id).await?;
                let facts = facts::gather(ctx, &event, &rules, &own).await?;
                let plan = rules.evaluate(&event, &facts, Utc::now())?;
                record_plan(ctx, stored.id, token, &plan, &facts).await?;
                (plan, facts)
            }
        };
        *scenario = plan.scenario.clone();
        if plan.is_skip() {
            let reason = plan
                .skip_reason
                .clone()
                .unwrap_or_else(|| "the plan has no actions".to_string());
            return Ok(Settled::Skipped(reason));
        }
        let mut execution =
            Execution::new(ctx, stored.id, &event, stored.received_at, &plan, &facts).await?;
        let result = execution.run().await;
        let notes: Vec<TraceEntry> = std::mem::take(&mut execution.notes);
        drop(execution);
        let new_notes: Vec<TraceEntry> = notes
            .into_iter()
            .filter(|note| !plan.trace.contains(note))
            .collect();
        if !new_notes.is_empty() {
            plan.trace.extend(new_notes);
            record_plan(ctx, stored.id, token, &plan, &facts).await?;
        }
        let failure = match result {
            Ok(()) => return Ok(Settled::Done),
            Err(failure) => failure,
        };
        let Some((kind, id)) = failure.stale().map(|(kind, id)| (kind, id.clone())) else {
            return Err(failure);
        };
        if round == STALE_ROUNDS {
            return Err(failure);
        }
        forget_stale(ctx, kind, &id).await?;
        let connector = ctx.cache.connector();
        Journal::load(
            ctx.store.as_ref(),
            connector.as_ref(),
            stored.id,
            ctx.settings.reconcile_delay,
        )
        .await?
        .forget(&id)
        .await?;
    }
    Err(Failure::Crm(ConnectorError::Transient {
        message: "records kept disappearing from the CRM while the event was processed".to_string(),
        retry_after: None,
    }))
}

/// The contacts and deals an earlier attempt of this event created.
async fn created_by(ctx: &Context, id: EventId) -> Result<Vec<CrmId>, Failure> {
    Ok(ctx
        .store
        .steps(id)
        .await?
        .into_iter()
        .filter(|step| step.outcome == StepOutcome::Created)
        .filter(|step| {
            matches!(
                step.object_kind,
                Some(ObjectKind::Contact | ObjectKind::Deal)
            )
        })
        .filter_map(|step| step.crm_id)
        .collect())
}

/// The plan and facts an earlier attempt recorded, if any.
fn recorded_plan(stored: &StoredEvent) -> Option<(Plan, Facts)> {
    let plan = serde_json::from_value(stored.plan.clone()?).ok()?;
    let facts = serde_json::from_value(stored.facts.clone()?).ok()?;
    Some((plan, facts))
}

async fn record_plan(
    ctx: &Context,
    id: EventId,
    token: &LeaseToken,
    plan: &Plan,
    facts: &Facts,
) -> Result<(), Failure> {
    let as_json = |value: Result<serde_json::Value, serde_json::Error>| {
        value.map_err(|error| StoreError::Corrupt(format!("the plan cannot be stored: {error}")))
    };
    let plan_json = as_json(serde_json::to_value(plan))?;
    let facts_json = as_json(serde_json::to_value(facts))?;
    if ctx
        .store
        .record_plan(id, token, &plan_json, &facts_json, &plan.rules_version)
        .await?
    {
        Ok(())
    } else {
        Err(Failure::LeaseLost)
    }
}

/// How an attempt's outcome ends it (see [`Conclusion`]).
fn conclusion(
    ctx: &Context,
    event: &StoredEvent,
    outcome: Result<Settled, Failure>,
    now: DateTime<Utc>,
) -> Conclusion {
    let failure = match outcome {
        Ok(Settled::Done) => return Conclusion::Done,
        Ok(Settled::Skipped(reason)) => return Conclusion::Skipped { reason },
        Err(failure) => failure,
    };
    let error = failure.to_string();
    match failure {
        Failure::Crm(ConnectorError::AccountWide { issue, message }) => {
            ctx.pause.pause(issue, &message);
            Conclusion::Release {
                status: EventStatus::Paused,
                at: None,
                reason: Some(error),
            }
        }
        Failure::InDoubt { until, .. } => Conclusion::Release {
            status: EventStatus::Retrying,
            at: Some(until),
            reason: Some(error),
        },
        Failure::RulesNotLoaded => Conclusion::Release {
            status: EventStatus::Held,
            at: None,
            reason: Some(error),
        },
        Failure::Rules(_)
        | Failure::Unreadable(_)
        | Failure::Unfinished(_)
        | Failure::Crm(ConnectorError::InvalidRequest { .. }) => Conclusion::Dead { error },
        Failure::Crm(_) | Failure::Store(_) | Failure::LeaseLost => {
            let attempts = u32::try_from(event.attempts).unwrap_or(u32::MAX);
            let policy = &ctx.settings.retry;
            if !policy.allows_another(attempts) {
                return Conclusion::Dead {
                    error: format!("gave up after {attempts} attempts: {error}"),
                };
            }
            let retry_after = match &failure {
                Failure::Crm(error) => error.retry_after(),
                _ => None,
            };
            let delay = policy.delay(attempts, retry_after);
            let delay = chrono::Duration::from_std(delay).unwrap_or(chrono::Duration::MAX);
            Conclusion::Retry {
                at: now + delay,
                error,
            }
        }
    }
}
