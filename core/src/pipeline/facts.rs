//! Gathering facts: what the CRM knows about the client and the employee of
//! one event, in the rules' words.
//!
//! Every lookup tries the cheapest source that can be trusted first: the
//! lookup cache (no request), then the ids the store remembers from earlier
//! events (one read, which unlike search sees a record the moment it
//! exists), then a search. An id that the CRM no longer has (merged,
//! deleted) is dropped from cache and store and resolved again.

use chrono::Utc;

use super::Context;
use super::failure::Failure;
use crate::connector::{ConnectorError, ContactRecord, CrmId, DealRecord, ObjectKind, OwnerId};
use crate::event::CallEvent;
use crate::facts::{ClientFact, EmployeeFact, Facts, ResponsibleFact};
use crate::phone::E164;
use crate::rules::RuleSet;
use crate::store::{Link, LinkKind};

/// The facts of `event` under `rules` (whose `employees.yaml` maps the
/// employee). Records the event itself created in an earlier attempt
/// (`own`) do not count: a replayed new client's call is still a new
/// client's call, and its journal hands the records back to its steps.
pub(crate) async fn gather(
    ctx: &Context,
    event: &CallEvent,
    rules: &RuleSet,
    own: &[CrmId],
) -> Result<Facts, Failure> {
    let contact = match &event.client.e164 {
        Some(phone) => contact_of(ctx, phone).await?,
        None => None,
    };
    let contact = contact.filter(|contact| !own.contains(&contact.id));
    let deal = match &contact {
        Some(contact) => open_deal_of(ctx, &contact.id).await?,
        None => None,
    };
    let deal = deal.filter(|deal| !own.contains(&deal.id));
    let client = match (&event.client.e164, &contact) {
        (None, _) => ClientFact::None,
        (Some(_), Some(_)) => ClientFact::Existing,
        (Some(_), None) => ClientFact::New,
    };
    let (employee, employee_owner) = match rules.employee_owner(&event.employee) {
        Some(spec) => match ctx.cache.resolve_owner(&spec).await? {
            Some(owner) => (EmployeeFact::Known, Some(owner)),
            None => (EmployeeFact::Unknown, None),
        },
        None if event.employee.is_empty() => (EmployeeFact::None, None),
        None => (EmployeeFact::Unknown, None),
    };
    let responsible_owner = deal
        .as_ref()
        .and_then(|deal| deal.owner.clone())
        .or_else(|| contact.as_ref().and_then(|contact| contact.owner.clone()));
    let responsible = responsibility(responsible_owner.as_ref(), employee_owner.as_ref());
    Ok(Facts {
        client,
        open_deal: deal.is_some(),
        employee,
        responsible,
        employee_owner,
        responsible_owner,
        contact,
        deal,
    })
}

fn responsibility(responsible: Option<&OwnerId>, employee: Option<&OwnerId>) -> ResponsibleFact {
    match (responsible, employee) {
        (None, _) => ResponsibleFact::None,
        (Some(responsible), Some(employee)) if responsible == employee => ResponsibleFact::Employee,
        (Some(_), _) => ResponsibleFact::Other,
    }
}

/// The contact of a number: cache, stored link (verified), search.
async fn contact_of(ctx: &Context, phone: &E164) -> Result<Option<ContactRecord>, Failure> {
    if let Some(contact) = ctx.cache.cached_contact(phone).await {
        return Ok(Some(contact));
    }
    if let Some(link) = ctx
        .store
        .link(LinkKind::PhoneContact, phone.as_str())
        .await?
    {
        match ctx.cache.connector().get_contact(&link.crm_id).await {
            Ok(Some(contact)) => {
                ctx.cache.remember_contact(phone, contact.clone()).await;
                return Ok(Some(contact));
            }
            Ok(None) | Err(ConnectorError::NotFound { .. }) => {
                forget_stale(ctx, ObjectKind::Contact, &link.crm_id).await?;
            }
            Err(error) => return Err(error.into()),
        }
    }
    let found = ctx.cache.find_contact(phone).await?;
    if let Some(contact) = &found {
        remember_link(ctx, LinkKind::PhoneContact, phone.as_str(), &contact.id).await?;
    }
    Ok(found)
}

/// The open deal of a contact: cache, stored link (verified open), search.
async fn open_deal_of(ctx: &Context, contact: &CrmId) -> Result<Option<DealRecord>, Failure> {
    if let Some(deal) = ctx.cache.cached_open_deal(contact).await {
        return Ok(Some(deal));
    }
    if let Some(link) = ctx.store.link(LinkKind::ContactDeal, &contact.0).await? {
        match ctx.cache.connector().get_deal(&link.crm_id).await {
            Ok(Some(deal)) if deal.is_open => {
                ctx.cache.remember_open_deal(contact, deal.clone()).await;
                return Ok(Some(deal));
            }
            Ok(_) | Err(ConnectorError::NotFound { .. }) => {
                // Closed (won or lost), merged or deleted: no longer the open deal.
                forget_stale(ctx, ObjectKind::Deal, &link.crm_id).await?;
            }
            Err(error) => return Err(error.into()),
        }
    }
    let found = ctx.cache.find_open_deal(contact).await?;
    if let Some(deal) = &found {
        remember_link(ctx, LinkKind::ContactDeal, &contact.0, &deal.id).await?;
    }
    Ok(found)
}

pub(crate) async fn remember_link(
    ctx: &Context,
    kind: LinkKind,
    key: &str,
    id: &CrmId,
) -> Result<(), Failure> {
    let link = Link {
        crm_id: id.clone(),
        event_id: None,
    };
    ctx.store.set_link(kind, key, &link, Utc::now()).await?;
    Ok(())
}

/// Drops an id the CRM no longer has from cache and store, so that the next
/// lookup resolves it again.
pub(crate) async fn forget_stale(
    ctx: &Context,
    kind: ObjectKind,
    id: &CrmId,
) -> Result<(), Failure> {
    tracing::info!(kind = %kind, id = %id, "the CRM no longer has this record: resolving it again");
    match kind {
        ObjectKind::Contact => {
            ctx.cache.forget_contact(id).await;
            ctx.store.drop_links_to(LinkKind::PhoneContact, id).await?;
        }
        ObjectKind::Deal => {
            ctx.cache.forget_deal(id).await;
            ctx.store.drop_links_to(LinkKind::ContactDeal, id).await?;
        }
        ObjectKind::Call => ctx.store.drop_links_to(LinkKind::CallLog, id).await?,
        ObjectKind::Task | ObjectKind::Note => {}
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_responsible_manager_is_compared_with_the_employee() {
        let ivan = OwnerId("1".into());
        let olha = OwnerId("2".into());
        assert_eq!(responsibility(None, Some(&ivan)), ResponsibleFact::None);
        assert_eq!(
            responsibility(Some(&ivan), Some(&ivan)),
            ResponsibleFact::Employee
        );
        assert_eq!(
            responsibility(Some(&olha), Some(&ivan)),
            ResponsibleFact::Other
        );
        assert_eq!(responsibility(Some(&olha), None), ResponsibleFact::Other);
    }
}
