//! The SQLite store: one file in WAL mode with `synchronous=NORMAL`, so a
//! commit survives a killed process (not a power cut between checkpoints,
//! which is the documented trade for speed). Writes go through the
//! group-commit writer; reads use a small pool, which WAL lets run beside it.

use std::str::FromStr;
use std::time::Duration;

use async_trait::async_trait;
use sqlx::sqlite::{
    SqliteConnectOptions, SqliteJournalMode, SqlitePool, SqlitePoolOptions, SqliteRow,
    SqliteSynchronous,
};
use sqlx::{ConnectOptions, QueryBuilder, Row};

use chrono::{DateTime, Utc};

use super::group_commit::{EventRow, RejectedRow, Writer};
use super::{
    Claim, Conclusion, EventId, EventQuery, EventSource, EventStatus, Inserted, JobLease,
    LeaseToken, Link, LinkKind, NewEvent, NewRejected, RejectedPayload, RejectedRecorded,
    ReplayOutcome, StepRecord, Store, StoreError, StoredEvent, parse_timestamp, timestamp,
};
use crate::connector::CrmId;
use crate::intake::RawPayload;

mod leases;
mod pipeline;

/// How long a statement waits for a lock held by another process (a backup,
/// an operator's `sqlite3` shell) before failing.
const BUSY_TIMEOUT: Duration = Duration::from_secs(5);
const READERS: u32 = 4;
const MAX_LIST: u32 = 500;

#[derive(Debug)]
pub struct SqliteStore {
    readers: SqlitePool,
    writer: Writer,
}

impl SqliteStore {
    /// Opens the database at `url` (`sqlite://PATH`), creating the file and
    /// its tables when needed.
    pub async fn open(url: &str) -> Result<SqliteStore, StoreError> {
        let options = SqliteConnectOptions::from_str(url)
            .map_err(StoreError::Open)?
            .create_if_missing(true)
            .journal_mode(SqliteJournalMode::Wal)
            .synchronous(SqliteSynchronous::Normal)
            .busy_timeout(BUSY_TIMEOUT)
            .foreign_keys(true);
        let readers = SqlitePoolOptions::new()
            .max_connections(READERS)
            .connect_with(options.clone())
            .await
            .map_err(StoreError::Open)?;
        sqlx::migrate!("./migrations/sqlite").run(&readers).await?;
        let writing = options.connect().await.map_err(StoreError::Open)?;
        Ok(SqliteStore {
            readers,
            writer: Writer::start(writing),
        })
    }

    /// Runs a statement beside the writer, so tests can provoke real
    /// database failures (a trigger that aborts inserts).
    #[cfg(test)]
    pub(crate) async fn execute_for_tests(&self, sql: &str) {
        sqlx::query(sql)
            .execute(&self.readers)
            .await
            .expect("test statement");
    }
}

#[async_trait]
impl Store for SqliteStore {
    async fn insert_event(&self, new: NewEvent) -> Result<Inserted, StoreError> {
        let event =
            serde_json::to_string(&new.event).map_err(|e| StoreError::Corrupt(e.to_string()))?;
        let NewEvent {
            event: call,
            raw,
            status,
            status_reason,
            received_at,
            source,
        } = new;
        self.writer
            .insert_event(EventRow {
                client_phone: call.client.e164.as_ref().map(|n| n.to_string()),
                event_kind: call.kind.as_str().to_string(),
                call_id: call.call_id,
                status: status.as_str(),
                status_reason,
                received_at: timestamp(received_at),
                raw_method: raw.method,
                raw_query: raw.query,
                raw_content_type: raw.content_type,
                raw_body: raw.body,
                event,
                source: source.as_str(),
            })
            .await
    }

    async fn insert_rejected(&self, rejected: NewRejected) -> Result<RejectedRecorded, StoreError> {
        let NewRejected {
            raw,
            reason,
            received_at,
        } = rejected;
        self.writer
            .insert_rejected(RejectedRow {
                payload_hash: raw.hash(),
                raw_method: raw.method,
                raw_query: raw.query,
                raw_content_type: raw.content_type,
                raw_body: raw.body,
                reason,
                seen_at: timestamp(received_at),
            })
            .await
    }

    async fn event(&self, id: EventId) -> Result<Option<StoredEvent>, StoreError> {
        let row = sqlx::query("SELECT * FROM events WHERE id = ?1")
            .bind(id.0)
            .fetch_optional(&self.readers)
            .await?;
        row.map(|row| stored_event(&row)).transpose()
    }

    async fn list_events(&self, query: &EventQuery) -> Result<Vec<StoredEvent>, StoreError> {
        let mut sql = QueryBuilder::new("SELECT * FROM events WHERE 1 = 1");
        if let Some(status) = query.status {
            sql.push(" AND status = ").push_bind(status.as_str());
        }
        if let Some(call_id) = &query.call_id {
            sql.push(" AND call_id = ").push_bind(call_id.clone());
        }
        if let Some(before) = query.before {
            sql.push(" AND id < ").push_bind(before.0);
        }
        sql.push(" ORDER BY id DESC LIMIT ")
            .push_bind(i64::from(query.limit.clamp(1, MAX_LIST)));
        let rows = sql.build().fetch_all(&self.readers).await?;
        rows.iter().map(stored_event).collect()
    }

    async fn list_rejected(
        &self,
        limit: u32,
        before: Option<i64>,
    ) -> Result<Vec<RejectedPayload>, StoreError> {
        let rows =
            sqlx::query("SELECT * FROM rejected_payloads WHERE id < ?1 ORDER BY id DESC LIMIT ?2")
                .bind(before.unwrap_or(i64::MAX))
                .bind(i64::from(limit.clamp(1, MAX_LIST)))
                .fetch_all(&self.readers)
                .await?;
        rows.iter().map(rejected_payload).collect()
    }

    async fn ping(&self) -> Result<(), StoreError> {
        self.writer.ping().await
    }

    async fn claim(&self, claim: &Claim) -> Result<Vec<StoredEvent>, StoreError> {
        pipeline::claim(&self.writer, claim).await
    }

    async fn renew_lease(
        &self,
        id: EventId,
        token: &LeaseToken,
        until: DateTime<Utc>,
    ) -> Result<bool, StoreError> {
        pipeline::renew_lease(&self.writer, id, token, until).await
    }

    async fn record_plan(
        &self,
        id: EventId,
        token: &LeaseToken,
        plan: &serde_json::Value,
        facts: &serde_json::Value,
        rules_version: &str,
    ) -> Result<bool, StoreError> {
        pipeline::record_plan(
            &self.writer,
            id,
            token,
            plan.to_string(),
            facts.to_string(),
            rules_version.to_string(),
        )
        .await
    }

    async fn conclude(
        &self,
        id: EventId,
        token: &LeaseToken,
        conclusion: Conclusion,
        now: DateTime<Utc>,
    ) -> Result<bool, StoreError> {
        pipeline::conclude(&self.writer, id, token, conclusion, now).await
    }

    async fn release_held(&self, now: DateTime<Utc>) -> Result<u64, StoreError> {
        pipeline::requeue(&self.writer, EventStatus::Held, now).await
    }

    async fn requeue_paused(&self, now: DateTime<Utc>) -> Result<u64, StoreError> {
        pipeline::requeue(&self.writer, EventStatus::Paused, now).await
    }

    async fn replay(&self, id: EventId, now: DateTime<Utc>) -> Result<ReplayOutcome, StoreError> {
        pipeline::replay(&self.writer, id, now).await
    }

    async fn replay_dead(&self, now: DateTime<Utc>) -> Result<Vec<EventId>, StoreError> {
        pipeline::replay_dead(&self.writer, now).await
    }

    async fn count_status(&self, status: EventStatus) -> Result<u64, StoreError> {
        pipeline::count_status(&self.readers, status).await
    }

    async fn steps(&self, id: EventId) -> Result<Vec<StepRecord>, StoreError> {
        pipeline::steps(&self.readers, id).await
    }

    async fn record_step(&self, step: &StepRecord) -> Result<(), StoreError> {
        pipeline::record_step(&self.writer, step).await
    }

    async fn link(&self, kind: LinkKind, key: &str) -> Result<Option<Link>, StoreError> {
        pipeline::link(&self.readers, kind, key).await
    }

    async fn set_link(
        &self,
        kind: LinkKind,
        key: &str,
        link: &Link,
        now: DateTime<Utc>,
    ) -> Result<(), StoreError> {
        pipeline::set_link(&self.writer, kind, key, link, now).await
    }

    async fn drop_links_to(&self, kind: LinkKind, crm_id: &CrmId) -> Result<(), StoreError> {
        pipeline::drop_links_to(&self.writer, kind, crm_id).await
    }

    async fn take_lease(
        &self,
        name: &str,
        holder: &str,
        now: DateTime<Utc>,
        until: DateTime<Utc>,
    ) -> Result<bool, StoreError> {
        leases::take(&self.writer, name, holder, now, until).await
    }

    async fn release_lease(&self, name: &str, holder: &str) -> Result<(), StoreError> {
        leases::release(&self.writer, name, holder).await
    }

    async fn live_leases(
        &self,
        prefix: &str,
        now: DateTime<Utc>,
    ) -> Result<Vec<JobLease>, StoreError> {
        leases::live(&self.readers, prefix, now).await
    }
}

fn raw_payload(row: &SqliteRow) -> Result<RawPayload, StoreError> {
    Ok(RawPayload {
        method: row.try_get("raw_method")?,
        query: row.try_get("raw_query")?,
        content_type: row.try_get("raw_content_type")?,
        body: row.try_get("raw_body")?,
    })
}

fn optional_time(
    row: &SqliteRow,
    column: &str,
) -> Result<Option<chrono::DateTime<chrono::Utc>>, StoreError> {
    row.try_get::<Option<String>, _>(column)?
        .as_deref()
        .map(parse_timestamp)
        .transpose()
}

fn json(row: &SqliteRow, column: &str) -> Result<Option<serde_json::Value>, StoreError> {
    row.try_get::<Option<String>, _>(column)?
        .map(|text| {
            serde_json::from_str(&text).map_err(|e| StoreError::Corrupt(format!("{column}: {e}")))
        })
        .transpose()
}

pub(super) fn stored_event(row: &SqliteRow) -> Result<StoredEvent, StoreError> {
    let status: String = row.try_get("status")?;
    Ok(StoredEvent {
        id: EventId(row.try_get("id")?),
        call_id: row.try_get("call_id")?,
        kind: row.try_get("event_kind")?,
        status: status
            .parse::<EventStatus>()
            .map_err(|e| StoreError::Corrupt(e.to_string()))?,
        status_reason: row.try_get("status_reason")?,
        received_at: parse_timestamp(&row.try_get::<String, _>("received_at")?)?,
        source: row
            .try_get::<String, _>("source")?
            .parse::<EventSource>()
            .map_err(|e| StoreError::Corrupt(e.to_string()))?,
        client_phone: row.try_get("client_phone")?,
        raw: raw_payload(row)?,
        event: json(row, "event")?.unwrap_or_default(),
        attempts: row.try_get("attempts")?,
        next_attempt_at: optional_time(row, "next_attempt_at")?,
        lease_owner: row.try_get("lease_owner")?,
        lease_until: optional_time(row, "lease_until")?,
        last_error: row.try_get("last_error")?,
        plan: json(row, "plan")?,
        rules_version: row.try_get("rules_version")?,
        facts: json(row, "facts")?,
        updated_at: parse_timestamp(&row.try_get::<String, _>("updated_at")?)?,
        finished_at: optional_time(row, "finished_at")?,
    })
}

fn rejected_payload(row: &SqliteRow) -> Result<RejectedPayload, StoreError> {
    Ok(RejectedPayload {
        id: row.try_get("id")?,
        payload_hash: row.try_get("payload_hash")?,
        raw: raw_payload(row)?,
        reason: row.try_get("reason")?,
        count: row.try_get("count")?,
        first_seen_at: parse_timestamp(&row.try_get::<String, _>("first_seen_at")?)?,
        last_seen_at: parse_timestamp(&row.try_get::<String, _>("last_seen_at")?)?,
    })
}

#[cfg(test)]
mod tests;
