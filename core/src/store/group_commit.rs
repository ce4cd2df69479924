//! Group commit: one task owns the only writing connection and commits
//! whatever writes are waiting in one transaction, then answers each.
//!
//! Under load, many webhooks (and the workers' claims and step records)
//! share one commit instead of paying for one each, and no caller hears
//! "stored" before its row is committed. SQLite allows one writer at a time
//! anyway, so a single owner also means no lock waits.
//!
//! Besides the intake's inserts, the writer runs arbitrary writes
//! ([`Writer::write`]), each inside its own savepoint: a write that fails
//! half-way leaves nothing behind, and does not spoil the others' commit.

use std::future::Future;
use std::pin::Pin;

use sqlx::sqlite::SqliteConnection;
use sqlx::{Connection, Row, Sqlite, Transaction};
use tokio::sync::{mpsc, oneshot};

use super::EventId;
use super::{Inserted, RejectedRecorded, StoreError};

/// Most writes folded into one transaction.
const MAX_BATCH: usize = 512;
/// Writes that may wait for the writer before callers wait to enqueue.
const QUEUE: usize = 8192;

/// An event row, serialized by the caller so the writer only binds values.
#[derive(Debug)]
pub(super) struct EventRow {
    pub call_id: String,
    pub event_kind: String,
    pub status: &'static str,
    pub status_reason: Option<String>,
    pub received_at: String,
    pub client_phone: Option<String>,
    pub raw_method: String,
    pub raw_query: String,
    pub raw_content_type: Option<String>,
    pub raw_body: Vec<u8>,
    pub event: String,
    pub source: &'static str,
}

#[derive(Debug)]
pub(super) struct RejectedRow {
    pub payload_hash: String,
    pub raw_method: String,
    pub raw_query: String,
    pub raw_content_type: Option<String>,
    pub raw_body: Vec<u8>,
    pub reason: String,
    pub seen_at: String,
}

type Reply<T> = oneshot::Sender<Result<T, StoreError>>;

pub(super) type BoxFuture<'a, T> = Pin<Box<dyn Future<Output = T> + Send + 'a>>;

/// A write made of statements run on the writer's connection.
pub(super) type WriteFn<T> = Box<
    dyn for<'c> FnOnce(&'c mut SqliteConnection) -> BoxFuture<'c, Result<T, StoreError>> + Send,
>;

/// A write waiting for its turn, and then for the commit to be answered.
trait PendingWrite: Send {
    /// Runs the write inside a savepoint of the open transaction.
    fn run<'a>(&'a mut self, connection: &'a mut SqliteConnection) -> BoxFuture<'a, ()>;
    /// Answers the caller once the transaction's fate is known.
    fn answer(self: Box<Self>, commit: Result<(), String>);
}

struct Pending<T> {
    write: Option<WriteFn<T>>,
    outcome: Option<Result<T, StoreError>>,
    reply: Reply<T>,
}

impl<T: Send + 'static> PendingWrite for Pending<T> {
    fn run<'a>(&'a mut self, connection: &'a mut SqliteConnection) -> BoxFuture<'a, ()> {
        Box::pin(async move {
            let Some(write) = self.write.take() else {
                return;
            };
            self.outcome = Some(in_savepoint(connection, write).await);
        })
    }

    fn answer(self: Box<Self>, commit: Result<(), String>) {
        let outcome = match (commit, self.outcome) {
            (Err(error), _) => Err(StoreError::Commit(error)),
            (Ok(()), Some(outcome)) => outcome,
            (Ok(()), None) => Err(StoreError::WriterStopped),
        };
        // A caller that went away no longer needs its answer.
        let _ = self.reply.send(outcome);
    }
}

/// The connection is inside the batch's transaction, so `begin` opens a
/// savepoint.
async fn in_savepoint<T>(
    connection: &mut SqliteConnection,
    write: WriteFn<T>,
) -> Result<T, StoreError> {
    let mut savepoint = connection.begin().await?;
    match write(&mut savepoint).await {
        Ok(value) => {
            savepoint.commit().await?;
            Ok(value)
        }
        Err(error) => {
            if let Err(rollback) = savepoint.rollback().await {
                tracing::error!(%rollback, "cannot roll a failed write back to its savepoint");
            }
            Err(error)
        }
    }
}

enum Job {
    Event(EventRow, Reply<Inserted>),
    Rejected(RejectedRow, Reply<RejectedRecorded>),
    Ping(Reply<()>),
    Write(Box<dyn PendingWrite>),
}

/// The handle callers write through.
#[derive(Debug, Clone)]
pub(super) struct Writer {
    jobs: mpsc::Sender<Job>,
}

impl Writer {
    pub fn start(connection: SqliteConnection) -> Writer {
        let (jobs, queue) = mpsc::channel(QUEUE);
        tokio::spawn(run(connection, queue));
        Writer { jobs }
    }

    pub async fn insert_event(&self, row: EventRow) -> Result<Inserted, StoreError> {
        self.submit(|reply| Job::Event(row, reply)).await
    }

    pub async fn insert_rejected(&self, row: RejectedRow) -> Result<RejectedRecorded, StoreError> {
        self.submit(|reply| Job::Rejected(row, reply)).await
    }

    pub async fn ping(&self) -> Result<(), StoreError> {
        self.submit(Job::Ping).await
    }

    /// Runs `write` in the next commit; answers once that commit is durable.
    pub async fn write<T, F>(&self, write: F) -> Result<T, StoreError>
    where
        T: Send + 'static,
        F: for<'c> FnOnce(&'c mut SqliteConnection) -> BoxFuture<'c, Result<T, StoreError>>
            + Send
            + 'static,
    {
        self.submit(|reply| {
            Job::Write(Box::new(Pending {
                write: Some(Box::new(write)),
                outcome: None,
                reply,
            }))
        })
        .await
    }

    async fn submit<T>(&self, job: impl FnOnce(Reply<T>) -> Job) -> Result<T, StoreError> {
        let (reply, answer) = oneshot::channel();
        self.jobs
            .send(job(reply))
            .await
            .map_err(|_| StoreError::WriterStopped)?;
        answer.await.map_err(|_| StoreError::WriterStopped)?
    }
}

async fn run(mut connection: SqliteConnection, mut queue: mpsc::Receiver<Job>) {
    let mut batch = Vec::with_capacity(MAX_BATCH);
    while queue.recv_many(&mut batch, MAX_BATCH).await > 0 {
        metrics::histogram!("switchboard_store_batch_size").record(batch.len() as f64);
        commit(&mut connection, &mut batch).await;
    }
    tracing::debug!("store writer stopped: every handle is gone");
}

/// What one job produced inside the transaction, answered after the commit.
enum Done {
    Event(Reply<Inserted>, Result<Inserted, StoreError>),
    Rejected(
        Reply<RejectedRecorded>,
        Result<RejectedRecorded, StoreError>,
    ),
    Ping(Reply<()>),
    Write(Box<dyn PendingWrite>),
}

async fn commit(connection: &mut SqliteConnection, batch: &mut Vec<Job>) {
    let mut transaction = match connection.begin().await {
        Ok(transaction) => transaction,
        Err(error) => return fail_all(batch.drain(..).map(pending), &error.to_string()),
    };
    let mut done = Vec::with_capacity(batch.len());
    for job in batch.drain(..) {
        done.push(match job {
            Job::Event(row, reply) => Done::Event(reply, insert_event(&mut transaction, row).await),
            Job::Rejected(row, reply) => {
                Done::Rejected(reply, insert_rejected(&mut transaction, row).await)
            }
            Job::Ping(reply) => Done::Ping(reply),
            Job::Write(mut write) => {
                write.run(&mut transaction).await;
                Done::Write(write)
            }
        });
    }
    if let Err(error) = transaction.commit().await {
        tracing::error!(%error, writes = done.len(), "store commit failed");
        return fail_all(done, &error.to_string());
    }
    // A caller that went away (client disconnected) no longer needs its answer.
    for finished in done {
        let _ = match finished {
            Done::Event(reply, result) => reply.send(result).map_err(drop),
            Done::Rejected(reply, result) => reply.send(result).map_err(drop),
            Done::Ping(reply) => reply.send(Ok(())).map_err(drop),
            Done::Write(write) => {
                write.answer(Ok(()));
                Ok(())
            }
        };
    }
}

/// A job not yet run, in the shape of a finished one, for failing it.
fn pending(job: Job) -> Done {
    fn never_ran<T>() -> Result<T, StoreError> {
        Err(StoreError::WriterStopped)
    }
    match job {
        Job::Event(_, reply) => Done::Event(reply, never_ran()),
        Job::Rejected(_, reply) => Done::Rejected(reply, never_ran()),
        Job::Ping(reply) => Done::Ping(reply),
        Job::Write(write) => Done::Write(write),
    }
}

fn fail_all(jobs: impl IntoIterator<Item = Done>, error: &str) {
    let failed = || StoreError::Commit(error.to_string());
    for job in jobs {
        let _ = match job {
            Done::Event(reply, _) => reply.send(Err(failed())).map_err(drop),
            Done::Rejected(reply, _) => reply.send(Err(failed())).map_err(drop),
            Done::Ping(reply) => reply.send(Err(failed())).map_err(drop),
            Done::Write(write) => {
                write.answer(Err(error.to_string()));
                Ok(())
            }
        };
    }
}

/// Inserts only what is new, in one statement for the common case: a
/// duplicate (Ringostat retries) changes nothing, not even the id sequence.
/// The writer is the only one writing, so nothing can slip in between.
async fn insert_event(
    transaction: &mut Transaction<'_, Sqlite>,
    row: EventRow,
) -> Result<Inserted, StoreError> {
    let inserted = sqlx::query(
        "INSERT INTO events (call_id, event_kind, status, status_reason, received_at, client_phone,
                             raw_method, raw_query, raw_content_type, raw_body, event, updated_at,
                             source)
         SELECT ?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?5, ?12
         WHERE NOT EXISTS (SELECT 1 FROM events WHERE call_id = ?1 AND event_kind = ?2)
         RETURNING id",
    )
    .bind(&row.call_id)
    .bind(&row.event_kind)
    .bind(row.status)
    .bind(&row.status_reason)
    .bind(&row.received_at)
    .bind(&row.client_phone)
    .bind(&row.raw_method)
    .bind(&row.raw_query)
    .bind(&row.raw_content_type)
    .bind(&row.raw_body)
    .bind(&row.event)
    .bind(row.source)
    .fetch_optional(&mut **transaction)
    .await?;
    if let Some(inserted) = inserted {
        return Ok(Inserted {
            id: EventId(inserted.try_get(0)?),
            duplicate: false,
        });
    }
    let existing = sqlx::query("SELECT id FROM events WHERE call_id = ?1 AND event_kind = ?2")
        .bind(&row.call_id)
        .bind(&row.event_kind)
        .fetch_one(&mut **transaction)
        .await?;
    Ok(Inserted {
        id: EventId(existing.try_get(0)?),
        duplicate: true,
    })
}

async fn insert_rejected(
    transaction: &mut Transaction<'_, Sqlite>,
    row: RejectedRow,
) -> Result<RejectedRecorded, StoreError> {
    let recorded = sqlx::query(
        "INSERT INTO rejected_payloads (payload_hash, raw_method, raw_query, raw_content_type, raw_body,
                                        reason, first_seen_at, last_seen_at)
         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?7)
         ON CONFLICT (payload_hash) DO UPDATE SET count = count + 1, last_seen_at = excluded.last_seen_at
         RETURNING id, count",
    )
    .bind(&row.payload_hash)
    .bind(&row.raw_method)
    .bind(&row.raw_query)
    .bind(&row.raw_content_type)
    .bind(&row.raw_body)
    .bind(&row.reason)
    .bind(&row.seen_at)
    .fetch_one(&mut **transaction)
    .await?;
    Ok(RejectedRecorded {
        id: recorded.try_get(0)?,
        count: recorded.try_get(1)?,
    })
}
