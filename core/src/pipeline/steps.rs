//! The step journal: how a create is made recoverable (DESIGN §3, step 4).
//!
//! HubSpot has no idempotency keys, so every create goes through the same
//! protocol: record the step's intent (its key) durably, create with the key
//! inside the object, record the returned id. A retry or replay then finds,
//! for each step of its plan:
//! - an id: the step is done, and is skipped;
//! - an intent without an id: the create is *in doubt* (the process died,
//!   or the answer was lost). The key is looked up in the CRM first. Search
//!   lags behind writes, so "not found" is believed only once the intent is
//!   older than `worker.reconcile_delay`; until then the event waits;
//! - nothing: the step has never started.
//!
//! Step keys come from the event id, the action and the ordinal of that
//! action in the plan (`sb-42-0-log_call`): stable across retries and
//! replays of the same event, whatever else the rules add or remove.

use std::collections::HashMap;
use std::future::Future;
use std::time::Duration;

use chrono::{DateTime, Utc};

use super::failure::Failure;
use crate::connector::{Connector, ConnectorError, CrmId, ObjectKind, StepKey};
use crate::plan::Action;
use crate::store::{EventId, StepOutcome, StepRecord, Store};

/// The key of the action at `position` of `actions`.
pub(crate) fn step_key(event: EventId, actions: &[Action], position: usize) -> StepKey {
    let name = actions[position].name();
    let ordinal = actions[..position]
        .iter()
        .filter(|action| action.name() == name)
        .count();
    StepKey::new(event.0, ordinal, name)
}

/// Where one step of the plan stands, for the executor.
pub(crate) struct Step {
    pub key: StepKey,
    pub position: usize,
    pub action: &'static str,
}

/// The journal of one event, loaded at the start of an attempt.
pub(crate) struct Journal<'a> {
    store: &'a dyn Store,
    connector: &'a dyn Connector,
    event: EventId,
    reconcile_delay: Duration,
    rows: HashMap<StepKey, StepRecord>,
}

impl<'a> Journal<'a> {
    pub(crate) async fn load(
        store: &'a dyn Store,
        connector: &'a dyn Connector,
        event: EventId,
        reconcile_delay: Duration,
    ) -> Result<Journal<'a>, Failure> {
        let rows = store
            .steps(event)
            .await?
            .into_iter()
            .map(|row| (row.key.clone(), row))
            .collect();
        Ok(Journal {
            store,
            connector,
            event,
            reconcile_delay,
            rows,
        })
    }

    /// The id an earlier attempt created for this step, if any.
    pub(crate) fn created(&self, step: &Step) -> Option<&CrmId> {
        self.rows
            .get(&step.key)
            .filter(|row| row.outcome == StepOutcome::Created)
            .and_then(|row| row.crm_id.as_ref())
    }

    /// A create of this step was interrupted earlier and its outcome is
    /// unknown (see [`Journal::create`]).
    pub(crate) fn in_doubt(&self, step: &Step) -> bool {
        self.rows.get(&step.key).is_some_and(StepRecord::in_doubt)
    }

    /// Runs `create` at most once per step key, as the module doc says, and
    /// answers the id. `create` answers the id and whether it created it
    /// (find-or-create may find instead).
    pub(crate) async fn create<F, Fut>(
        &mut self,
        step: &Step,
        kind: ObjectKind,
        create: F,
    ) -> Result<CrmId, Failure>
    where
        F: FnOnce() -> Fut,
        Fut: Future<Output = Result<(CrmId, bool), ConnectorError>>,
    {
        if let Some(id) = self.created(step) {
            tracing::debug!(step = %step.key, id = %id, "step done in an earlier attempt: skipped");
            return Ok(id.clone());
        }
        if let Some(intent) = self.rows.get(&step.key).filter(|row| row.in_doubt()) {
            let intent_at = intent.intent_at;
            if let Some(id) = self.connector.find_by_step_key(kind, &step.key).await? {
                tracing::info!(step = %step.key, id = %id, "step in doubt was created after all: reconciled");
                self.record(
                    step,
                    kind,
                    StepOutcome::Created,
                    Some(id.clone()),
                    None,
                    intent_at,
                )
                .await?;
                return Ok(id);
            }
            let believable_at = intent_at + self.reconcile_delay;
            if Utc::now() < believable_at {
                return Err(Failure::InDoubt {
                    key: step.key.clone(),
                    kind,
                    until: believable_at,
                });
            }
            tracing::info!(step = %step.key, "step in doubt was never created: creating it now");
        }
        let intent_at = Utc::now();
        self.record(step, kind, StepOutcome::Intent, None, None, intent_at)
            .await?;
        match create().await {
            Ok((id, created)) => {
                let outcome = if created {
                    StepOutcome::Created
                } else {
                    StepOutcome::Found
                };
                self.record(step, kind, outcome, Some(id.clone()), None, intent_at)
                    .await?;
                Ok(id)
            }
            // The CRM may have made it and the answer was lost: stay in doubt.
            Err(error @ ConnectorError::Transient { .. }) => Err(error.into()),
            // Refused outright: nothing was created, so nothing is in doubt.
            Err(error) => {
                let detail = format!("create refused: {error}");
                self.record(
                    step,
                    kind,
                    StepOutcome::Skipped,
                    None,
                    Some(detail),
                    intent_at,
                )
                .await?;
                Err(error.into())
            }
        }
    }

    /// Records a step that created nothing (found, updated, skipped), unless
    /// an earlier attempt created its object.
    pub(crate) async fn note(
        &mut self,
        step: &Step,
        kind: Option<ObjectKind>,
        outcome: StepOutcome,
        id: Option<CrmId>,
        detail: Option<String>,
    ) -> Result<(), Failure> {
        if self.created(step).is_some() {
            return Ok(());
        }
        let row = StepRecord {
            key: step.key.clone(),
            event_id: self.event,
            position: step.position,
            action: step.action.to_string(),
            object_kind: kind,
            outcome,
            crm_id: id,
            detail,
            intent_at: Utc::now(),
            done_at: Some(Utc::now()),
        };
        self.store.record_step(&row).await?;
        self.rows.insert(row.key.clone(), row);
        Ok(())
    }

    /// Forgets what this event created with `id` (the CRM no longer has it),
    /// so that the next round creates it again.
    pub(crate) async fn forget(&mut self, id: &CrmId) -> Result<(), Failure> {
        let stale: Vec<StepRecord> = self
            .rows
            .values()
            .filter(|row| row.crm_id.as_ref() == Some(id))
            .cloned()
            .collect();
        for mut row in stale {
            row.outcome = StepOutcome::Skipped;
            row.detail = Some(format!("the CRM no longer has {id}"));
            self.store.record_step(&row).await?;
            self.rows.insert(row.key.clone(), row);
        }
        Ok(())
    }

    async fn record(
        &mut self,
        step: &Step,
        kind: ObjectKind,
        outcome: StepOutcome,
        id: Option<CrmId>,
        detail: Option<String>,
        intent_at: DateTime<Utc>,
    ) -> Result<(), Failure> {
        let row = StepRecord {
            key: step.key.clone(),
            event_id: self.event,
            position: step.position,
            action: step.action.to_string(),
            object_kind: Some(kind),
            outcome,
            crm_id: id,
            detail,
            intent_at,
            done_at: (outcome != StepOutcome::Intent).then(Utc::now),
        };
        self.store.record_step(&row).await?;
        self.rows.insert(row.key.clone(), row);
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use std::sync::atomic::{AtomicUsize, Ordering};

    use super::*;
    use crate::config::Settings;
    use crate::connector::dry_run::DryRunConnector;
    use crate::connector::{NewTask, OwnerId};
    use crate::intake::{Intake, WebhookRequest};
    use crate::plan::Priority;
    use crate::store::{NewEvent, SqliteStore};

    struct Fixture {
        _dir: tempfile::TempDir,
        store: SqliteStore,
        crm: DryRunConnector,
        event: EventId,
    }

    async fn fixture() -> Fixture {
        let dir = tempfile::tempdir().expect("temp dir");
        let url = format!("sqlite://{}", dir.path().join("inbox.db").display());
        let store = SqliteStore::open(&url).await.expect("store");
        let received = Intake::new(&Settings::default())
            .receive(&WebhookRequest {
                method: "POST",
                query: None,
                content_type: Some("application/json"),
                body: br#"{"uniqueid":"c-1","call_type":"in","caller":"380671234567"}"#,
            })
            .expect("decodable");
        let event = store
            .insert_event(NewEvent::from_received(received, Utc::now()))
            .await
            .expect("inserted")
            .id;
        Fixture {
            _dir: dir,
            store,
            crm: DryRunConnector::new(),
            event,
        }
    }

    fn task(key: &StepKey) -> NewTask {
        NewTask {
            step_key: key.clone(),
            subject: "Call back".into(),
            body: String::new(),
            due: Utc::now(),
            priority: Priority::High,
            owner: Some(OwnerId("7".into())),
            contact: None,
            deal: None,
        }
    }

    fn step(event: EventId) -> Step {
        Step {
            key: StepKey::new(event.0, 0, "task"),
            position: 3,
            action: "task",
        }
    }

    #[test]
    fn step_keys_count_each_action_on_its_own() {
        let task = Action::Task(crate::plan::TaskAction {
            owner: crate::plan::Owner::TopManager,
            subject: String::new(),
            body: String::new(),
            due_in: Duration::from_secs(60),
            priority: Priority::Medium,
            attach: crate::plan::Attach::default(),
        });
        let note = Action::Note(crate::plan::NoteAction {
            body: String::new(),
            owner: None,
            attach: crate::plan::Attach::default(),
        });
        let actions = [task.clone(), note.clone(), task];
        let keys: Vec<String> = (0..3)
            .map(|i| step_key(EventId(42), &actions, i).0)
            .collect();
        assert_eq!(keys, ["sb-42-0-task", "sb-42-0-note", "sb-42-1-task"]);
        // Adding a note in front changes no task's key.
        let more = [note.clone(), actions[0].clone(), note, actions[2].clone()];
        assert_eq!(step_key(EventId(42), &more, 3).0, "sb-42-1-task");
    }

    #[tokio::test]
    async fn a_create_records_its_intent_then_its_id_and_is_never_repeated() {
        let f = fixture().await;
        let step = step(f.event);
        let calls = AtomicUsize::new(0);
        let make = || async {
            calls.fetch_add(1, Ordering::SeqCst);
            f.crm
                .create_task(&task(&step.key))
                .await
                .map(|id| (id, true))
        };
        let mut journal = Journal::load(&f.store, &f.crm, f.event, Duration::from_secs(60))
            .await
            .expect("journal");
        let id = journal
            .create(&step, ObjectKind::Task, make)
            .await
            .expect("created");
        let rows = f.store.steps(f.event).await.expect("steps");
        assert_eq!(rows.len(), 1);
        assert_eq!(rows[0].outcome, StepOutcome::Created);
        assert_eq!(rows[0].crm_id.as_ref(), Some(&id));
        assert_eq!(rows[0].position, 3);

        // A later attempt (a retry, a replay) loads the journal and skips it.
        let mut again = Journal::load(&f.store, &f.crm, f.event, Duration::from_secs(60))
            .await
            .expect("journal");
        let make = || async {
            calls.fetch_add(1, Ordering::SeqCst);
            f.crm
                .create_task(&task(&step.key))
                .await
                .map(|id| (id, true))
        };
        assert_eq!(
            again
                .create(&step, ObjectKind::Task, make)
                .await
                .expect("skipped"),
            id
        );
        assert_eq!(calls.load(Ordering::SeqCst), 1);
    }

    /// The state a crash between the request and its answer leaves behind.
    async fn in_doubt(f: &Fixture, step: &Step, at: DateTime<Utc>) {
        let row = StepRecord {
            key: step.key.clone(),
            event_id: f.event,
            position: step.position,
            action: step.action.into(),
            object_kind: Some(ObjectKind::Task),
            outcome: StepOutcome::Intent,
            crm_id: None,
            detail: None,
            intent_at: at,
            done_at: None,
        };
        f.store.record_step(&row).await.expect("intent");
    }

    #[tokio::test]
    async fn a_create_in_doubt_that_happened_is_reconciled_by_its_key() {
        let f = fixture().await;
        let step = step(f.event);
        in_doubt(&f, &step, Utc::now()).await;
        // The CRM did make it; only the answer was lost.
        let made = f.crm.create_task(&task(&step.key)).await.expect("created");
        let mut journal = Journal::load(&f.store, &f.crm, f.event, Duration::from_secs(60))
            .await
            .expect("journal");
        let id = journal
            .create(&step, ObjectKind::Task, || async {
                panic!("an object in doubt must not be created again before it is looked up")
            })
            .await
            .expect("reconciled");
        assert_eq!(id, made);
        let rows = f.store.steps(f.event).await.expect("steps");
        assert_eq!(
            (rows[0].outcome, rows[0].crm_id.clone()),
            (StepOutcome::Created, Some(made))
        );
    }

    #[tokio::test]
    async fn a_create_in_doubt_that_search_cannot_see_waits_for_the_reconcile_delay() {
        let f = fixture().await;
        let step = step(f.event);
        let intent_at = Utc::now();
        in_doubt(&f, &step, intent_at).await;
        let mut journal = Journal::load(&f.store, &f.crm, f.event, Duration::from_secs(60))
            .await
            .expect("journal");
        let failure = journal
            .create(&step, ObjectKind::Task, || async {
                panic!("not before the delay has passed")
            })
            .await
            .expect_err("in doubt");
        match failure {
            Failure::InDoubt { key, until, .. } => {
                assert_eq!(key, step.key);
                // The store keeps milliseconds.
                let expected = intent_at + Duration::from_secs(60);
                assert_eq!(until.timestamp_millis(), expected.timestamp_millis());
            }
            other => panic!("expected InDoubt, got {other}"),
        }
        // Once the intent is older than the delay, "not found" is believed.
        let mut later = Journal::load(&f.store, &f.crm, f.event, Duration::ZERO)
            .await
            .expect("journal");
        let id = later
            .create(&step, ObjectKind::Task, || async {
                f.crm
                    .create_task(&task(&step.key))
                    .await
                    .map(|id| (id, true))
            })
            .await
            .expect("created");
        let rows = f.store.steps(f.event).await.expect("steps");
        assert_eq!(rows[0].crm_id, Some(id));
        assert!(
            rows[0].intent_at > intent_at,
            "the new create has its own intent"
        );
    }

    #[tokio::test]
    async fn a_refused_create_leaves_nothing_in_doubt() {
        let f = fixture().await;
        let step = step(f.event);
        let mut journal = Journal::load(&f.store, &f.crm, f.event, Duration::from_secs(60))
            .await
            .expect("journal");
        let refused = journal
            .create(&step, ObjectKind::Task, || async {
                Err(ConnectorError::InvalidRequest {
                    code: Some("PROPERTY_DOESNT_EXIST".into()),
                    message: "no such property".into(),
                })
            })
            .await;
        assert!(matches!(
            refused,
            Err(Failure::Crm(ConnectorError::InvalidRequest { .. }))
        ));
        let rows = f.store.steps(f.event).await.expect("steps");
        assert_eq!(rows[0].outcome, StepOutcome::Skipped);
        // The next attempt creates at once: nothing can exist to reconcile.
        let mut again = Journal::load(&f.store, &f.crm, f.event, Duration::from_secs(60))
            .await
            .expect("journal");
        again
            .create(&step, ObjectKind::Task, || async {
                f.crm
                    .create_task(&task(&step.key))
                    .await
                    .map(|id| (id, true))
            })
            .await
            .expect("created");
    }
}
