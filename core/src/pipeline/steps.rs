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
