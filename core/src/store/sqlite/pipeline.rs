//! The SQLite side of the pipeline's records: claims and leases, the end of
//! an attempt, replays, the step journal and the links. Writes go through
//! the group-commit writer like every other write; reads use the pool.

use chrono::{DateTime, Utc};
use sqlx::Row;
use sqlx::sqlite::{SqlitePool, SqliteRow};

use super::super::group_commit::Writer;
use super::super::pipeline::parse_object_kind;
use super::super::{
    Claim, Conclusion, EventId, EventStatus, LeaseToken, Link, LinkKind, ReplayOutcome,
    StepOutcome, StepRecord, StoreError, StoredEvent, parse_timestamp, timestamp,
};
use super::stored_event;
use crate::connector::{CrmId, StepKey};

/// Statuses of events that are not finished: an earlier one of these holds
/// back the later events of its client number.
const UNFINISHED: &str = "'queued', 'processing', 'retrying', 'held', 'paused'";

/// An event of alias `e` that may run now: due, or leased by a process that
/// stopped renewing its lease.
const READY: &str = "((e.status IN ('queued', 'retrying')
                       AND (e.next_attempt_at IS NULL OR e.next_attempt_at <= ?3))
                      OR (e.status = 'processing' AND e.lease_until <= ?3))";

pub(super) async fn claim(writer: &Writer, claim: &Claim) -> Result<Vec<StoredEvent>, StoreError> {
    // Only the head (oldest unfinished event) of each client number may run,
    // and only while no other event of that number holds a live lease (a
    // replayed older event can become the head while a later one runs).
    // Events without a number hold nothing back. Both halves read the partial
    // indexes of migration 0003, so a claim costs as much as the backlog's
    // distinct numbers, however long the history.
    let sql = format!(
        "UPDATE events
         SET status = 'processing', lease_owner = ?1, lease_until = ?2, attempts = attempts + 1,
             updated_at = ?3
         WHERE id IN (
             SELECT e.id FROM events e
             WHERE e.status IN ({UNFINISHED}) AND e.client_phone IS NULL AND {READY}
             UNION ALL
             SELECT e.id FROM (
                 SELECT MIN(id) AS id FROM events
                 WHERE status IN ({UNFINISHED}) AND client_phone IS NOT NULL
                 GROUP BY client_phone
             ) head
             JOIN events e ON e.id = head.id
             WHERE {READY}
               AND NOT EXISTS (
                   SELECT 1 FROM events p
                   WHERE p.status IN ({UNFINISHED}) AND p.client_phone = e.client_phone
                     AND p.status = 'processing' AND p.lease_until > ?3)
             ORDER BY 1
             LIMIT ?4)
         RETURNING *"
    );
    let token = claim.token.0.clone();
    let until = timestamp(claim.until);
    let now = timestamp(claim.now);
    let limit = i64::try_from(claim.limit).unwrap_or(i64::MAX);
    let mut claimed = writer
        .write(move |connection| {
            Box::pin(async move {
                let rows = sqlx::query(&sql)
                    .bind(token)
                    .bind(until)
                    .bind(now)
                    .bind(limit)
                    .fetch_all(&mut *connection)
                    .await?;
                rows.iter().map(stored_event).collect::<Result<Vec<_>, _>>()
            })
        })
        .await?;
    claimed.sort_by_key(|event| event.id);
    Ok(claimed)
}

pub(super) async fn renew_lease(
    writer: &Writer,
    id: EventId,
    token: &LeaseToken,
    until: DateTime<Utc>,
) -> Result<bool, StoreError> {
    let token = token.0.clone();
    writer
        .write(move |connection| {
            Box::pin(async move {
                let done = sqlx::query(
                    "UPDATE events SET lease_until = ?1
                     WHERE id = ?2 AND lease_owner = ?3 AND status = 'processing'",
                )
                .bind(timestamp(until))
                .bind(id.0)
                .bind(token)
                .execute(&mut *connection)
                .await?;
                Ok(done.rows_affected() == 1)
            })
        })
        .await
}

pub(super) async fn record_plan(
    writer: &Writer,
    id: EventId,
    token: &LeaseToken,
    plan: String,
    facts: String,
    rules_version: String,
) -> Result<bool, StoreError> {
    let token = token.0.clone();
    writer
        .write(move |connection| {
            Box::pin(async move {
                let done = sqlx::query(
                    "UPDATE events SET plan = ?1, facts = ?2, rules_version = ?3
                     WHERE id = ?4 AND lease_owner = ?5 AND status = 'processing'",
                )
                .bind(plan)
                .bind(facts)
                .bind(rules_version)
                .bind(id.0)
                .bind(token)
                .execute(&mut *connection)
                .await?;
                Ok(done.rows_affected() == 1)
            })
        })
        .await
}

/// The columns an ending attempt sets, besides clearing the lease.
struct Ending {
    status: &'static str,
    reason: Option<String>,
    error: Option<String>,
    next_attempt_at: Option<String>,
    finished: bool,
    uncount: bool,
}

fn ending(conclusion: Conclusion) -> Ending {
    let finished = |status: EventStatus, reason, error| Ending {
        status: status.as_str(),
        reason,
        error,
        next_attempt_at: None,
        finished: true,
        uncount: false,
    };
    match conclusion {
        Conclusion::Done => finished(EventStatus::Done, None, None),
        Conclusion::Skipped { reason } => finished(EventStatus::Skipped, Some(reason), None),
        Conclusion::Dead { error } => finished(EventStatus::Dead, None, Some(error)),
        Conclusion::Retry { at, error } => Ending {
            status: EventStatus::Retrying.as_str(),
            reason: None,
            error: Some(error),
            next_attempt_at: Some(timestamp(at)),
            finished: false,
            uncount: false,
        },
        Conclusion::Release { status, at, reason } => Ending {
            status: status.as_str(),
            reason,
            error: None,
            next_attempt_at: at.map(timestamp),
            finished: false,
            uncount: true,
        },
    }
}

pub(super) async fn conclude(
    writer: &Writer,
    id: EventId,
    token: &LeaseToken,
    conclusion: Conclusion,
    now: DateTime<Utc>,
) -> Result<bool, StoreError> {
    let token = token.0.clone();
    let ending = ending(conclusion);
    let now = timestamp(now);
    writer
        .write(move |connection| {
            Box::pin(async move {
                // The last error stays when an attempt ends without one, so a
                // finished event still shows what it overcame.
                let done = sqlx::query(
                    "UPDATE events
                     SET status = ?1, status_reason = ?2, last_error = COALESCE(?3, last_error),
                         next_attempt_at = ?4,
                         finished_at = CASE WHEN ?5 THEN ?6 ELSE NULL END,
                         attempts = CASE WHEN ?7 THEN MAX(attempts - 1, 0) ELSE attempts END,
                         lease_owner = NULL, lease_until = NULL, updated_at = ?6
                     WHERE id = ?8 AND lease_owner = ?9 AND status = 'processing'",
                )
                .bind(ending.status)
                .bind(ending.reason)
                .bind(ending.error)
                .bind(ending.next_attempt_at)
                .bind(ending.finished)
                .bind(now)
                .bind(ending.uncount)
                .bind(id.0)
                .bind(token)
                .execute(&mut *connection)
                .await?;
                Ok(done.rows_affected() == 1)
            })
        })
        .await
}

/// Moves every event of status `from` to `queued`.
pub(super) async fn requeue(
    writer: &Writer,
    from: EventStatus,
    now: DateTime<Utc>,
) -> Result<u64, StoreError> {
    writer
        .write(move |connection| {
            Box::pin(async move {
                let done = sqlx::query(
                    "UPDATE events SET status = 'queued', status_reason = NULL, updated_at = ?1
                     WHERE status = ?2",
                )
                .bind(timestamp(now))
                .bind(from.as_str())
                .execute(&mut *connection)
                .await?;
                Ok(done.rows_affected())
            })
        })
        .await
}

/// What a replayed event becomes: queued, with a fresh attempt budget and
/// no plan, so that the current rules decide again.
const REPLAY: &str = "UPDATE events
     SET status = 'queued', status_reason = 'replayed', attempts = 0, next_attempt_at = NULL,
         lease_owner = NULL, lease_until = NULL, finished_at = NULL, plan = NULL, facts = NULL,
         rules_version = NULL, updated_at = ?1";

pub(super) async fn replay(
    writer: &Writer,
    id: EventId,
    now: DateTime<Utc>,
) -> Result<ReplayOutcome, StoreError> {
    writer
        .write(move |connection| {
            Box::pin(async move {
                let status: Option<String> =
                    sqlx::query_scalar("SELECT status FROM events WHERE id = ?1")
                        .bind(id.0)
                        .fetch_optional(&mut *connection)
                        .await?;
                let Some(status) = status else {
                    return Ok(ReplayOutcome::NotFound);
                };
                let status = status
                    .parse::<EventStatus>()
                    .map_err(|e| StoreError::Corrupt(e.to_string()))?;
                if matches!(status, EventStatus::Processing | EventStatus::Held) {
                    return Ok(ReplayOutcome::Refused(status));
                }
                sqlx::query(&format!("{REPLAY} WHERE id = ?2"))
                    .bind(timestamp(now))
                    .bind(id.0)
                    .execute(&mut *connection)
                    .await?;
                Ok(ReplayOutcome::Requeued)
            })
        })
        .await
}

pub(super) async fn replay_dead(
    writer: &Writer,
    now: DateTime<Utc>,
) -> Result<Vec<EventId>, StoreError> {
    let mut ids = writer
        .write(move |connection| {
            Box::pin(async move {
                let ids: Vec<i64> =
                    sqlx::query_scalar(&format!("{REPLAY} WHERE status = 'dead' RETURNING id"))
                        .bind(timestamp(now))
                        .fetch_all(&mut *connection)
                        .await?;
                Ok(ids.into_iter().map(EventId).collect::<Vec<_>>())
            })
        })
        .await?;
    ids.sort();
    Ok(ids)
}

pub(super) async fn count_status(
    readers: &SqlitePool,
    status: EventStatus,
) -> Result<u64, StoreError> {
    let count: i64 = sqlx::query_scalar("SELECT COUNT(*) FROM events WHERE status = ?1")
        .bind(status.as_str())
        .fetch_one(readers)
        .await?;
    Ok(u64::try_from(count).unwrap_or_default())
}

pub(super) async fn steps(
    readers: &SqlitePool,
    id: EventId,
) -> Result<Vec<StepRecord>, StoreError> {
    let rows = sqlx::query("SELECT * FROM steps WHERE event_id = ?1 ORDER BY position, step_key")
        .bind(id.0)
        .fetch_all(readers)
        .await?;
    rows.iter().map(step_record).collect()
}

fn step_record(row: &SqliteRow) -> Result<StepRecord, StoreError> {
    let corrupt = |what: String| StoreError::Corrupt(what);
    let outcome: String = row.try_get("outcome")?;
    let position: i64 = row.try_get("position")?;
    Ok(StepRecord {
        key: StepKey(row.try_get("step_key")?),
        event_id: EventId(row.try_get("event_id")?),
        position: usize::try_from(position).map_err(|e| corrupt(format!("position: {e}")))?,
        action: row.try_get("action")?,
        object_kind: row
            .try_get::<Option<String>, _>("object_kind")?
            .map(|kind| parse_object_kind(&kind).ok_or_else(|| corrupt(format!("kind {kind:?}"))))
            .transpose()?,
        outcome: outcome.parse::<StepOutcome>().map_err(corrupt)?,
        crm_id: row.try_get::<Option<String>, _>("crm_id")?.map(CrmId),
        detail: row.try_get("detail")?,
        intent_at: parse_timestamp(&row.try_get::<String, _>("intent_at")?)?,
        done_at: row
            .try_get::<Option<String>, _>("done_at")?
            .as_deref()
            .map(parse_timestamp)
            .transpose()?,
    })
}

pub(super) async fn record_step(writer: &Writer, step: &StepRecord) -> Result<(), StoreError> {
    let step = step.clone();
    writer
        .write(move |connection| {
            Box::pin(async move {
                sqlx::query(
                    "INSERT INTO steps (step_key, event_id, position, action, object_kind, outcome,
                                        crm_id, detail, intent_at, done_at)
                     VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10)
                     ON CONFLICT (step_key) DO UPDATE SET
                         event_id = excluded.event_id, position = excluded.position,
                         action = excluded.action, object_kind = excluded.object_kind,
                         outcome = excluded.outcome, crm_id = excluded.crm_id,
                         detail = excluded.detail, intent_at = excluded.intent_at,
                         done_at = excluded.done_at",
                )
                .bind(step.key.0)
                .bind(step.event_id.0)
                .bind(i64::try_from(step.position).unwrap_or(i64::MAX))
                .bind(step.action)
                .bind(step.object_kind.map(|kind| kind.as_str()))
                .bind(step.outcome.as_str())
                .bind(step.crm_id.map(|id| id.0))
                .bind(step.detail)
                .bind(timestamp(step.intent_at))
                .bind(step.done_at.map(timestamp))
                .execute(&mut *connection)
                .await?;
                Ok(())
            })
        })
        .await
}

pub(super) async fn link(
    readers: &SqlitePool,
    kind: LinkKind,
    key: &str,
) -> Result<Option<Link>, StoreError> {
    let row = sqlx::query("SELECT crm_id, event_id FROM links WHERE kind = ?1 AND key = ?2")
        .bind(kind.as_str())
        .bind(key)
        .fetch_optional(readers)
        .await?;
    row.map(|row| {
        Ok(Link {
            crm_id: CrmId(row.try_get("crm_id")?),
            event_id: row.try_get::<Option<i64>, _>("event_id")?.map(EventId),
        })
    })
    .transpose()
}

pub(super) async fn set_link(
    writer: &Writer,
    kind: LinkKind,
    key: &str,
    link: &Link,
    now: DateTime<Utc>,
) -> Result<(), StoreError> {
    let key = key.to_string();
    let link = link.clone();
    writer
        .write(move |connection| {
            Box::pin(async move {
                sqlx::query(
                    "INSERT INTO links (kind, key, crm_id, event_id, updated_at)
                     VALUES (?1, ?2, ?3, ?4, ?5)
                     ON CONFLICT (kind, key) DO UPDATE SET
                         crm_id = excluded.crm_id, event_id = excluded.event_id,
                         updated_at = excluded.updated_at",
                )
                .bind(kind.as_str())
                .bind(key)
                .bind(link.crm_id.0)
                .bind(link.event_id.map(|id| id.0))
                .bind(timestamp(now))
                .execute(&mut *connection)
                .await?;
                Ok(())
            })
        })
        .await
}

pub(super) async fn drop_links_to(
    writer: &Writer,
    kind: LinkKind,
    crm_id: &CrmId,
) -> Result<(), StoreError> {
    let crm_id = crm_id.0.clone();
    writer
        .write(move |connection| {
            Box::pin(async move {
                sqlx::query("DELETE FROM links WHERE kind = ?1 AND crm_id = ?2")
                    .bind(kind.as_str())
                    .bind(crm_id)
                    .execute(&mut *connection)
                    .await?;
                Ok(())
            })
        })
        .await
}

#[cfg(test)]
mod tests;
