//! Writing to the CRM: find-or-create under concurrency, engagements with
//! their associations, step keys, repeated creates, updates.

use std::collections::{BTreeMap, BTreeSet};

use futures_util::future::join_all;

use super::{
    Outcome, call_log, create_reconciled, ensure, eventually, new_contact, new_deal, new_note,
    new_task, ok, phone, visibility,
};
use crate::cache::{CacheSettings, LookupCache};
use crate::connector::{ConnectorError, CrmId, ObjectKind, ObjectRef, OwnerId, StepKey};
use crate::testkit::Harness;

pub async fn concurrent_callers_create_one_contact(h: &dyn Harness) -> Outcome {
    let cache = LookupCache::new(h.connector(), CacheSettings::default());
    let number = phone("0661234567")?;
    let before = h.count(ObjectKind::Contact).await;
    let outcomes = join_all((0..10).map(|caller| {
        let cache = cache.clone();
        let number = number.clone();
        async move {
            cache
                .find_or_create_contact(&number, || {
                    new_contact(&number, &format!("sb-c{caller}-0-contact"))
                })
                .await
        }
    }))
    .await;
    let mut ids = BTreeSet::new();
    for outcome in outcomes {
        ids.insert(ok(outcome, "find or create")?.record.id);
    }
    ensure!(
        ids.len() == 1,
        "ten callers got {} different contacts: {ids:?}",
        ids.len()
    );
    let after = h.count(ObjectKind::Contact).await;
    ensure!(
        after == before + 1,
        "{} contacts were created instead of one",
        after - before
    );
    Ok(())
}

pub async fn twenty_events_for_five_new_numbers_make_five_contacts_and_five_deals(
    h: &dyn Harness,
) -> Outcome {
    let cache = LookupCache::new(h.connector(), CacheSettings::default());
    let numbers: Vec<_> = (0..5)
        .map(|i| phone(&format!("06712300{i}{i}")))
        .collect::<Result<_, _>>()?;
    let events = join_all((0..20).map(|event| {
        let cache = cache.clone();
        let number = numbers[event % numbers.len()].clone();
        async move {
            let contact = cache
                .find_or_create_contact(&number, || {
                    new_contact(&number, &format!("sb-{event}-0-contact"))
                })
                .await?;
            let id = contact.record.id.clone();
            let deal = cache
                .find_or_create_deal(&id, || new_deal(&id, &format!("sb-{event}-1-deal")))
                .await?;
            Ok::<_, ConnectorError>((number, contact.record.id, deal.record.id))
        }
    }))
    .await;
    let mut per_number: BTreeMap<String, BTreeSet<(CrmId, CrmId)>> = BTreeMap::new();
    for event in events {
        let (number, contact, deal) = ok(event, "event")?;
        per_number
            .entry(number.to_string())
            .or_default()
            .insert((contact, deal));
    }
    ensure!(
        per_number.values().all(|pairs| pairs.len() == 1),
        "events of one number got different records: {per_number:?}"
    );
    let contacts = h.count(ObjectKind::Contact).await;
    let deals = h.count(ObjectKind::Deal).await;
    ensure!(
        contacts == 5 && deals == 5,
        "expected 5 contacts and 5 deals, found {contacts} and {deals}"
    );
    Ok(())
}

fn has_link(links: &[ObjectRef], kind: ObjectKind, id: &CrmId) -> bool {
    links.iter().any(|l| l.kind == kind && &l.id == id)
}

pub async fn call_task_and_note_are_linked_to_contact_and_deal(h: &dyn Harness) -> Outcome {
    let crm = h.connector();
    let contact = ok(
        crm.create_contact(&new_contact(&phone("0671231231")?, "sb-1-0-contact"))
            .await,
        "create contact",
    )?;
    let deal = ok(
        crm.create_deal(&new_deal(&contact.id, "sb-1-1-deal")).await,
        "create deal",
    )?;
    let links = h.linked(ObjectKind::Deal, &deal.id).await;
    ensure!(
        has_link(&links, ObjectKind::Contact, &contact.id),
        "deal {} is not linked to its contact: {links:?}",
        deal.id
    );

    let call = ok(
        crm.log_call(&call_log(
            "sb-1-2-log_call",
            Some(&contact.id),
            Some(&deal.id),
        ))
        .await,
        "log call",
    )?;
    let task = ok(
        crm.create_task(&new_task("sb-1-3-task", Some(&contact.id), Some(&deal.id)))
            .await,
        "create task",
    )?;
    let note = ok(
        crm.add_note(&new_note("sb-1-4-note", Some(&contact.id), Some(&deal.id)))
            .await,
        "add note",
    )?;
    for (kind, id) in [
        (ObjectKind::Call, &call),
        (ObjectKind::Task, &task),
        (ObjectKind::Note, &note),
    ] {
        let links = h.linked(kind, id).await;
        ensure!(
            has_link(&links, ObjectKind::Contact, &contact.id)
                && has_link(&links, ObjectKind::Deal, &deal.id),
            "{kind} {id} is not linked to both contact and deal: {links:?}"
        );
    }
    let contact_only = ok(
        crm.log_call(&call_log("sb-2-0-log_call", Some(&contact.id), None))
            .await,
        "log call",
    )?;
    let links = h.linked(ObjectKind::Call, &contact_only).await;
    ensure!(
        has_link(&links, ObjectKind::Contact, &contact.id)
            && !links.iter().any(|l| l.kind == ObjectKind::Deal),
        "a contact-only call has links {links:?}"
    );
    ensure!(h.count(ObjectKind::Call).await == 2, "expected 2 calls");
    Ok(())
}

pub async fn every_create_is_found_by_its_step_key(h: &dyn Harness) -> Outcome {
    let crm = h.connector();
    let contact = ok(
        crm.create_contact(&new_contact(&phone("0671239876")?, "sb-5-0-contact"))
            .await,
        "create contact",
    )?;
    let deal = ok(
        crm.create_deal(&new_deal(&contact.id, "sb-5-1-deal")).await,
        "create deal",
    )?;
    let call = ok(
        crm.log_call(&call_log(
            "sb-5-2-log_call",
            Some(&contact.id),
            Some(&deal.id),
        ))
        .await,
        "log call",
    )?;
    let task = ok(
        crm.create_task(&new_task("sb-5-3-task", Some(&contact.id), None))
            .await,
        "create task",
    )?;
    let note = ok(
        crm.add_note(&new_note("sb-5-4-note", None, Some(&deal.id)))
            .await,
        "add note",
    )?;
    let created = [
        (ObjectKind::Contact, "sb-5-0-contact", contact.id),
        (ObjectKind::Deal, "sb-5-1-deal", deal.id),
        (ObjectKind::Call, "sb-5-2-log_call", call),
        (ObjectKind::Task, "sb-5-3-task", task),
        (ObjectKind::Note, "sb-5-4-note", note),
    ];
    for (kind, key, id) in created {
        let key = StepKey(key.into());
        let found = eventually(visibility(h), || crm.find_by_step_key(kind, &key)).await?;
        ensure!(
            found.as_ref() == Some(&id),
            "{kind} by step key {key}: expected {id}, got {found:?}"
        );
    }
    let unknown = ok(
        crm.find_by_step_key(ObjectKind::Call, &StepKey("sb-404-0-log_call".into()))
            .await,
        "lookup",
    )?;
    ensure!(unknown.is_none(), "an unused step key found {unknown:?}");
    Ok(())
}

pub async fn a_repeated_create_with_the_same_step_key_makes_no_second_record(
    h: &dyn Harness,
) -> Outcome {
    let crm = h.connector();
    let number = phone("0671110000")?;
    let first = ok(
        crm.create_contact(&new_contact(&number, "sb-9-0-contact"))
            .await,
        "create contact",
    )?;
    match crm
        .create_contact(&new_contact(&number, "sb-9-0-contact"))
        .await
    {
        Ok(again) => ensure!(
            again.id == first.id,
            "the repeat created {} besides {}",
            again.id,
            first.id
        ),
        Err(ConnectorError::Conflict { existing, .. }) => {
            ensure!(
                existing == first.id,
                "the conflict names {existing}, not {}",
                first.id
            )
        }
        Err(other) => return Err(format!("the repeated create failed: {other}")),
    }
    ensure!(
        h.count(ObjectKind::Contact).await == 1,
        "two contacts exist"
    );
    let deal = ok(
        crm.create_deal(&new_deal(&first.id, "sb-9-1-deal")).await,
        "create deal",
    )?;
    let id = create_reconciled(h, ObjectKind::Deal, &StepKey("sb-9-1-deal".into()), || {
        let crm = crm.clone();
        let repeat = new_deal(&first.id, "sb-9-1-deal");
        async move { crm.create_deal(&repeat).await.map(|d| d.id) }
    })
    .await?;
    ensure!(
        id == deal.id,
        "the repeated deal resolved to {id}, not {}",
        deal.id
    );
    ensure!(h.count(ObjectKind::Deal).await == 1, "two deals exist");
    Ok(())
}

pub async fn updates_and_owner_changes_land(h: &dyn Harness) -> Outcome {
    let crm = h.connector();
    let owner: OwnerId = h.seed_owner("boss@acme.ua").await;
    let contact = ok(
        crm.create_contact(&new_contact(&phone("0671119999")?, "sb-3-0-contact"))
            .await,
        "create contact",
    )?;
    let deal = ok(
        crm.create_deal(&new_deal(&contact.id, "sb-3-1-deal")).await,
        "create deal",
    )?;
    let target = ObjectRef {
        kind: ObjectKind::Deal,
        id: deal.id.clone(),
    };
    ok(crm.set_owner(&target, &owner).await, "set owner")?;
    let fetched = ok(crm.get_deal(&deal.id).await, "get deal")?;
    ensure!(
        fetched.and_then(|d| d.owner) == Some(owner.clone()),
        "the deal's owner did not change"
    );
    let contact_ref = ObjectRef {
        kind: ObjectKind::Contact,
        id: contact.id.clone(),
    };
    ok(
        crm.set_owner(&contact_ref, &owner).await,
        "set contact owner",
    )?;
    let fetched = ok(crm.get_contact(&contact.id).await, "get contact")?;
    ensure!(
        fetched.and_then(|c| c.owner) == Some(owner),
        "the contact's owner did not change"
    );

    let call = ok(
        crm.log_call(&call_log("sb-3-2-log_call", Some(&contact.id), None))
            .await,
        "log call",
    )?;
    let mut finished = call_log("sb-4-0-log_call", Some(&contact.id), None);
    finished.duration = Some(std::time::Duration::from_secs(300));
    ok(crm.update_call(&call, &finished).await, "update call")?;

    h.delete(ObjectKind::Deal, &deal.id).await;
    let gone = crm.update_properties(&target, &BTreeMap::new()).await;
    ensure!(
        matches!(&gone, Err(ConnectorError::NotFound { kind: ObjectKind::Deal, id }) if *id == deal.id),
        "updating a deleted deal answered {gone:?}"
    );
    let gone = ok(crm.get_deal(&deal.id).await, "get deleted deal")?;
    ensure!(gone.is_none(), "a deleted deal is still returned");
    Ok(())
}
