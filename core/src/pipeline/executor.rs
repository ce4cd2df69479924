//! The executor: carries out a plan through the connector, step by step,
//! each create exactly once (see [`steps`](super::steps)).
//!
//! It works on the records the facts found (the client's contact and open
//! deal) and on those its own steps create, so an engagement is attached to
//! what exists by the time it is made. It never searches for what it
//! created: created ids go into the lookup cache and the store's links.
//!
//! Adding an action: one arm in [`Execution::run_step`] and one method.

use chrono::{DateTime, Utc};

use super::Context;
use super::call_log::{self, Parties};
use super::facts::{forget_stale, remember_link};
use super::failure::Failure;
use super::owners::{self, Resolved};
use super::steps::{Journal, Step, step_key};
use crate::connector::{
    Connector, ConnectorError, ContactRecord, CrmId, DealRecord, NewContact, NewDeal, NewNote,
    NewTask, ObjectKind, ObjectRef, OwnerId,
};
use crate::event::{CallEvent, EventKind};
use crate::facts::Facts;
use crate::plan::{
    Action, Attach, CallLogAction, ChangeOwnerAction, ContactAction, DealAction, NoteAction, Owner,
    Plan, Target, TaskAction, TraceEntry, UpdatePropertiesAction,
};
use crate::store::{EventId, Link, LinkKind, StepOutcome};

/// One run of one plan.
pub(crate) struct Execution<'a> {
    ctx: &'a Context,
    event_id: EventId,
    event: &'a CallEvent,
    received_at: DateTime<Utc>,
    plan: &'a Plan,
    facts: &'a Facts,
    journal: Journal<'a>,
    contact: Option<ContactRecord>,
    deal: Option<DealRecord>,
    /// What the executor had to decide on its own (owners it could not
    /// resolve), for the plan's trace.
    pub(crate) notes: Vec<TraceEntry>,
}

impl<'a> Execution<'a> {
    pub(crate) async fn new(
        ctx: &'a Context,
        event_id: EventId,
        event: &'a CallEvent,
        received_at: DateTime<Utc>,
        plan: &'a Plan,
        facts: &'a Facts,
    ) -> Result<Execution<'a>, Failure> {
        let journal = Journal::load(
            ctx.store.as_ref(),
            ctx.cache.connector().as_ref(),
            event_id,
            ctx.settings.reconcile_delay,
        )
        .await?;
        Ok(Execution {
            ctx,
            event_id,
            event,
            received_at,
            plan,
            facts,
            journal,
            contact: facts.contact.clone(),
            deal: facts.deal.clone(),
            notes: Vec::new(),
        })
    }

    /// Runs every step in order; the first failure stops the run (a retry
    /// resumes where it stopped).
    pub(crate) async fn run(&mut self) -> Result<(), Failure> {
        for (position, action) in self.plan.actions.iter().enumerate() {
            let step = Step {
                key: step_key(self.event_id, &self.plan.actions, position),
                position,
                action: action.name(),
            };
            tracing::debug!(event_id = %self.event_id, step = %step.key, "step");
            self.run_step(&step, action).await?;
        }
        Ok(())
    }

    async fn run_step(&mut self, step: &Step, action: &Action) -> Result<(), Failure> {
        match action {
            Action::Contact(action) => self.contact(step, action).await,
            Action::Deal(action) => self.deal(step, action).await,
            Action::LogCall(action) => self.log_call(step, action).await,
            Action::Task(action) => self.task(step, action).await,
            Action::Note(action) => self.note(step, action).await,
            Action::ChangeOwner(action) => self.change_owner(step, action).await,
            Action::UpdateProperties(action) => self.update_properties(step, action).await,
        }
    }

    async fn contact(&mut self, step: &Step, action: &ContactAction) -> Result<(), Failure> {
        let kind = Some(ObjectKind::Contact);
        if let Some(contact) = &self.contact {
            let id = contact.id.clone();
            return self
                .journal
                .note(step, kind, StepOutcome::Found, Some(id), None)
                .await;
        }
        let Some(phone) = self.event.client.e164.clone() else {
            let why = "the event has no usable client number".to_string();
            return self.skip(step, kind, why).await;
        };
        if !action.create {
            let why = "no contact has the number, and the rule does not create one".to_string();
            return self.skip(step, kind, why).await;
        }
        let owner = self.owner(action.owner.as_ref(), step).await?;
        let new = NewContact {
            step_key: step.key.clone(),
            phone: phone.clone(),
            name: action.name.clone(),
            owner: owner.clone(),
            properties: action.properties.clone(),
        };
        // The facts searched for the number moments ago, and no other event
        // of it runs meanwhile: create at once. Only a create in doubt
        // searches again first, in case the lost one landed.
        let search_first = self.journal.in_doubt(step);
        let cache = &self.ctx.cache;
        let mut record = None;
        let made = self
            .journal
            .create(step, ObjectKind::Contact, || async {
                let (contact, created) = if search_first {
                    let resolved = cache.find_or_create_contact(&phone, || new).await?;
                    (resolved.record, resolved.created)
                } else {
                    create_contact(cache.connector().as_ref(), &new).await?
                };
                let answer = (contact.id.clone(), created);
                record = Some(contact);
                Ok(answer)
            })
            .await?;
        let contact = record.unwrap_or(ContactRecord {
            id: made.clone(),
            owner,
            name: Some(action.name.clone()),
        });
        self.ctx
            .cache
            .remember_contact(&phone, contact.clone())
            .await;
        remember_link(
            self.ctx,
            LinkKind::PhoneContact,
            phone.as_str(),
            &contact.id,
        )
        .await?;
        self.contact = Some(contact);
        Ok(())
    }

    async fn deal(&mut self, step: &Step, action: &DealAction) -> Result<(), Failure> {
        let kind = Some(ObjectKind::Deal);
        let Some(contact) = self.contact.as_ref().map(|c| c.id.clone()) else {
            let why = "there is no contact to attach a deal to".to_string();
            return self.skip(step, kind, why).await;
        };
        if let Some(deal) = &self.deal {
            let id = deal.id.clone();
            return self
                .journal
                .note(step, kind, StepOutcome::Found, Some(id), None)
                .await;
        }
        if !action.create {
            let why = "the client has no open deal, and the rule does not create one".to_string();
            return self.skip(step, kind, why).await;
        }
        let owner = self.owner(action.owner.as_ref(), step).await?;
        let new = NewDeal {
            step_key: step.key.clone(),
            name: action.name.clone(),
            pipeline: action.pipeline.clone(),
            stage: action.stage.clone(),
            owner: owner.clone(),
            properties: action.properties.clone(),
            contact: contact.clone(),
        };
        // The facts read the contact's deals moments ago (or the contact is
        // brand new): create at once, unless a lost create may have landed.
        let search_first = self.journal.in_doubt(step);
        let cache = &self.ctx.cache;
        let mut record = None;
        let made = self
            .journal
            .create(step, ObjectKind::Deal, || async {
                let (deal, created) = if search_first {
                    let resolved = cache.find_or_create_deal(&contact, || new).await?;
                    (resolved.record, resolved.created)
                } else {
                    create_deal(cache.connector().as_ref(), &new).await?
                };
                let answer = (deal.id.clone(), created);
                record = Some(deal);
                Ok(answer)
            })
            .await?;
        let deal = record.unwrap_or(DealRecord {
            id: made.clone(),
            owner,
            name: Some(action.name.clone()),
            pipeline: Some(action.pipeline.clone()),
            stage: Some(action.stage.clone()),
            is_open: true,
        });
        self.ctx
            .cache
            .remember_open_deal(&contact, deal.clone())
            .await;
        remember_link(self.ctx, LinkKind::ContactDeal, &contact.0, &deal.id).await?;
        self.deal = Some(deal);
        Ok(())
    }

    async fn log_call(&mut self, step: &Step, action: &CallLogAction) -> Result<(), Failure> {
        let kind = Some(ObjectKind::Call);
        let owner = self.owner(action.owner.as_ref(), step).await?;
        let (contact, deal) = self.attached(action.attach);
        let log = call_log::call_log(
            self.event,
            action,
            Parties {
                step_key: step.key.clone(),
                owner,
                contact,
                deal,
                received_at: self.received_at,
            },
        );
        let call_id = self.event.call_id.as_str();
        // The other moment of the same call (pick-up, then after-call) logged
        // it already: complete that log instead of logging the call twice.
        let logged = self.ctx.store.link(LinkKind::CallLog, call_id).await?;
        if let Some(logged) = logged.filter(|link| link.event_id != Some(self.event_id))
            && self.journal.created(step).is_none()
        {
            if self.event.kind == EventKind::Pickup {
                let why = format!("the call is already logged as {}", logged.crm_id);
                return self.skip(step, kind, why).await;
            }
            let connector = self.ctx.cache.connector();
            match connector.update_call(&logged.crm_id, &log).await {
                Ok(()) => {
                    return self
                        .journal
                        .note(step, kind, StepOutcome::Updated, Some(logged.crm_id), None)
                        .await;
                }
                Err(ConnectorError::NotFound { .. }) => {
                    forget_stale(self.ctx, ObjectKind::Call, &logged.crm_id).await?;
                }
                Err(error) => return Err(error.into()),
            }
        }
        let connector = self.ctx.cache.connector();
        let made = self
            .journal
            .create(step, ObjectKind::Call, || async {
                connector.log_call(&log).await.map(|id| (id, true))
            })
            .await?;
        let link = Link {
            crm_id: made,
            event_id: Some(self.event_id),
        };
        self.ctx
            .store
            .set_link(LinkKind::CallLog, call_id, &link, Utc::now())
            .await?;
        Ok(())
    }

    async fn task(&mut self, step: &Step, action: &TaskAction) -> Result<(), Failure> {
        let owner = self.owner(Some(&action.owner), step).await?;
        let (contact, deal) = self.attached(action.attach);
        let due_in = chrono::Duration::from_std(action.due_in).unwrap_or(chrono::Duration::MAX);
        let task = NewTask {
            step_key: step.key.clone(),
            subject: action.subject.clone(),
            body: action.body.clone(),
            due: self.call_time().max(Utc::now()) + due_in,
            priority: action.priority,
            owner,
            contact,
            deal,
        };
        let connector = self.ctx.cache.connector();
        self.journal
            .create(step, ObjectKind::Task, || async {
                connector.create_task(&task).await.map(|id| (id, true))
            })
            .await?;
        Ok(())
    }

    async fn note(&mut self, step: &Step, action: &NoteAction) -> Result<(), Failure> {
        let owner = self.owner(action.owner.as_ref(), step).await?;
        let (contact, deal) = self.attached(action.attach);
        let note = NewNote {
            step_key: step.key.clone(),
            body: action.body.clone(),
            timestamp: self.call_time(),
            owner,
            contact,
            deal,
        };
        let connector = self.ctx.cache.connector();
        self.journal
            .create(step, ObjectKind::Note, || async {
                connector.add_note(&note).await.map(|id| (id, true))
            })
            .await?;
        Ok(())
    }

    async fn change_owner(
        &mut self,
        step: &Step,
        action: &ChangeOwnerAction,
    ) -> Result<(), Failure> {
        let Some(target) = self.target(action.target) else {
            let why = format!(
                "the event has no {} to change the owner of",
                target_name(action.target)
            );
            return self.skip(step, None, why).await;
        };
        let Some(owner) = self.owner(Some(&action.owner), step).await? else {
            let why = "the new owner is not a CRM owner (see the trace)".to_string();
            return self.skip(step, Some(target.kind), why).await;
        };
        self.ctx
            .cache
            .connector()
            .set_owner(&target, &owner)
            .await?;
        match action.target {
            Target::Contact => {
                if let Some(contact) = &mut self.contact {
                    contact.owner = Some(owner.clone());
                }
            }
            Target::Deal => {
                if let Some(deal) = &mut self.deal {
                    deal.owner = Some(owner.clone());
                }
            }
        }
        let detail = Some(format!("owner set to {owner}"));
        self.journal
            .note(
                step,
                Some(target.kind),
                StepOutcome::Updated,
                Some(target.id),
                detail,
            )
            .await
    }

    async fn update_properties(
        &mut self,
        step: &Step,
        action: &UpdatePropertiesAction,
    ) -> Result<(), Failure> {
        let Some(target) = self.target(action.target) else {
            let why = format!("the event has no {} to update", target_name(action.target));
            return self.skip(step, None, why).await;
        };
        if action.properties.is_empty() {
            let why = "every property rendered empty".to_string();
            return self.skip(step, Some(target.kind), why).await;
        }
        self.ctx
            .cache
            .connector()
            .update_properties(&target, &action.properties)
            .await?;
        let names: Vec<&str> = action.properties.keys().map(String::as_str).collect();
        let detail = Some(format!("set {}", names.join(", ")));
        self.journal
            .note(
                step,
                Some(target.kind),
                StepOutcome::Updated,
                Some(target.id),
                detail,
            )
            .await
    }

    async fn skip(
        &mut self,
        step: &Step,
        kind: Option<ObjectKind>,
        why: String,
    ) -> Result<(), Failure> {
        tracing::debug!(event_id = %self.event_id, step = %step.key, why, "step skipped");
        self.journal
            .note(step, kind, StepOutcome::Skipped, None, Some(why))
            .await
    }

    /// Resolves an owner; one that cannot be resolved is left out, with a
    /// trace line saying why.
    async fn owner(
        &mut self,
        owner: Option<&Owner>,
        step: &Step,
    ) -> Result<Option<OwnerId>, Failure> {
        let Some(owner) = owner else {
            return Ok(None);
        };
        match owners::resolve(owner, self.facts, self.plan, &self.ctx.cache).await? {
            Resolved::Owner(id) => Ok(Some(id)),
            Resolved::Unresolved(why) => {
                tracing::info!(event_id = %self.event_id, step = %step.key, why, "no owner for this step");
                self.notes.push(TraceEntry {
                    subject: format!("step {}", step.key),
                    outcome: format!("made without an owner: {why}"),
                });
                Ok(None)
            }
        }
    }

    fn attached(&self, attach: Attach) -> (Option<CrmId>, Option<CrmId>) {
        let contact = self.contact.as_ref().filter(|_| attach.contact);
        let deal = self.deal.as_ref().filter(|_| attach.deal);
        (contact.map(|c| c.id.clone()), deal.map(|d| d.id.clone()))
    }

    fn target(&self, target: Target) -> Option<ObjectRef> {
        match target {
            Target::Contact => self.contact.as_ref().map(|c| ObjectRef {
                kind: ObjectKind::Contact,
                id: c.id.clone(),
            }),
            Target::Deal => self.deal.as_ref().map(|d| ObjectRef {
                kind: ObjectKind::Deal,
                id: d.id.clone(),
            }),
        }
    }

    fn call_time(&self) -> DateTime<Utc> {
        self.event
            .call_time
            .map(|time| time.with_timezone(&Utc))
            .unwrap_or(self.received_at)
    }
}

/// Creates a contact; a unique value already taken (the number, the step
/// key) means it exists: that one is used.
async fn create_contact(
    connector: &dyn Connector,
    new: &NewContact,
) -> Result<(ContactRecord, bool), ConnectorError> {
    match connector.create_contact(new).await {
        Ok(contact) => Ok((contact, true)),
        Err(ConnectorError::Conflict { existing, message }) => {
            match connector.get_contact(&existing).await? {
                Some(contact) => Ok((contact, false)),
                None => Err(ConnectorError::Conflict { existing, message }),
            }
        }
        Err(error) => Err(error),
    }
}

/// Creates a deal; a step key already taken means it exists.
async fn create_deal(
    connector: &dyn Connector,
    new: &NewDeal,
) -> Result<(DealRecord, bool), ConnectorError> {
    match connector.create_deal(new).await {
        Ok(deal) => Ok((deal, true)),
        Err(ConnectorError::Conflict { existing, message }) => {
            match connector.get_deal(&existing).await? {
                Some(deal) => Ok((deal, false)),
                None => Err(ConnectorError::Conflict { existing, message }),
            }
        }
        Err(error) => Err(error),
    }
}

fn target_name(target: Target) -> &'static str {
    match target {
        Target::Contact => "contact",
        Target::Deal => "deal",
    }
}
