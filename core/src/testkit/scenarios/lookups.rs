//! Reading the CRM: contacts by phone, open deals, owners.

use chrono::{Duration as Days, Utc};

use super::{Outcome, ensure, ok, phone};
use crate::connector::ObjectKind;
use crate::plan::OwnerSpec;
use crate::testkit::Harness;

pub async fn finds_a_contact_however_its_number_was_typed(h: &dyn Harness) -> Outcome {
    let crm = h.connector();
    let typed = [
        ("067 123 45 01", "+380671234501"),
        ("+380 (67) 123-45-02", "+380671234502"),
        ("380671234503", "+380671234503"),
        ("+380671234504", "+380671234504"),
        ("(067) 123-45-05", "+380671234505"),
    ];
    for (as_typed, number) in typed {
        let seeded = h.seed_contact(as_typed, "Typed Client", Utc::now()).await;
        let found = ok(crm.find_contact_by_phone(&phone(number)?).await, "lookup")?;
        ensure!(
            found.as_ref().map(|c| &c.id) == Some(&seeded),
            "stored as {as_typed:?}: expected contact {seeded}, found {found:?}"
        );
    }
    let mobile = h
        .seed_mobile_contact("050 765 43 21", "Mobile Client")
        .await;
    let found = ok(
        crm.find_contact_by_phone(&phone("+380507654321")?).await,
        "lookup",
    )?;
    ensure!(
        found.as_ref().map(|c| &c.id) == Some(&mobile),
        "a number typed as a mobile was not found: {found:?}"
    );
    Ok(())
}

pub async fn calls_from_known_numbers_create_nothing(h: &dyn Harness) -> Outcome {
    let crm = h.connector();
    let first = h
        .seed_contact("067 123 45 67", "Ivan Petrenko", Utc::now())
        .await;
    let second = h
        .seed_contact("+380 (50) 111-22-33", "Olena Kovalenko", Utc::now())
        .await;
    let before = h.count(ObjectKind::Contact).await;
    let found = ok(
        crm.find_contact_by_phone(&phone("380671234567")?).await,
        "lookup",
    )?;
    ensure!(
        found.map(|c| c.id) == Some(first.clone()),
        "380671234567 is not {first}"
    );
    let found = ok(
        crm.find_contact_by_phone(&phone("0501112233")?).await,
        "lookup",
    )?;
    ensure!(
        found.map(|c| c.id) == Some(second.clone()),
        "0501112233 is not {second}"
    );
    ensure!(
        h.count(ObjectKind::Contact).await == before,
        "a lookup created a contact"
    );
    Ok(())
}

pub async fn a_number_nobody_has_is_not_found(h: &dyn Harness) -> Outcome {
    let crm = h.connector();
    // Same national digits in another country, and a neighbouring number.
    h.seed_contact("+48 671 234 567", "Polish Client", Utc::now())
        .await;
    h.seed_contact("067 123 45 68", "Neighbour", Utc::now())
        .await;
    let found = ok(
        crm.find_contact_by_phone(&phone("0671234567")?).await,
        "lookup",
    )?;
    ensure!(found.is_none(), "found {found:?} for a number nobody has");
    Ok(())
}

pub async fn duplicates_resolve_to_the_same_contact_every_time(h: &dyn Harness) -> Outcome {
    let crm = h.connector();
    let now = Utc::now();
    h.seed_contact("0671112233", "Later Copy", now).await;
    h.seed_contact("+380 67 111 22 33", "Original", now - Days::days(30))
        .await;
    h.seed_contact("380671112233", "Another Copy", now - Days::days(1))
        .await;
    let number = phone("0671112233")?;
    let first = ok(crm.find_contact_by_phone(&number).await, "lookup")?;
    ensure!(
        first.is_some(),
        "none of three contacts with the number was found"
    );
    for _ in 0..3 {
        let again = ok(crm.find_contact_by_phone(&number).await, "lookup")?;
        ensure!(again == first, "lookups disagree: {first:?} then {again:?}");
    }
    Ok(())
}

pub async fn open_deals_come_newest_first_without_closed_ones(h: &dyn Harness) -> Outcome {
    let crm = h.connector();
    let now = Utc::now();
    let contact = h
        .seed_contact("0931234567", "Deal Holder", now - Days::days(60))
        .await;
    let older = h
        .seed_deal(&contact, "Older open", true, now - Days::days(20))
        .await;
    let newer = h
        .seed_deal(&contact, "Newer open", true, now - Days::days(2))
        .await;
    h.seed_deal(&contact, "Newest, closed", false, now - Days::days(1))
        .await;
    let deals = ok(crm.find_open_deals(&contact).await, "open deals")?;
    let ids: Vec<_> = deals.iter().map(|d| d.id.clone()).collect();
    ensure!(
        ids == vec![newer.clone(), older.clone()],
        "expected [{newer}, {older}], got {ids:?}"
    );
    ensure!(
        deals.iter().all(|d| d.is_open),
        "a deal is not marked open: {deals:?}"
    );

    let lonely = h.seed_contact("0937654321", "No Deals", now).await;
    let deals = ok(crm.find_open_deals(&lonely).await, "open deals")?;
    ensure!(deals.is_empty(), "a contact without deals has {deals:?}");
    let fetched = ok(crm.get_deal(&newer).await, "get deal")?;
    ensure!(
        fetched.map(|d| d.id) == Some(newer),
        "get_deal did not return the deal"
    );
    Ok(())
}

pub async fn owners_resolve_by_email_and_id(h: &dyn Harness) -> Outcome {
    let crm = h.connector();
    let owner = h.seed_owner("olena@acme.ua").await;
    let by_email = ok(
        crm.resolve_owner(&OwnerSpec::parse("Olena@Acme.UA")).await,
        "owner by email",
    )?;
    ensure!(
        by_email.as_ref() == Some(&owner),
        "by email: expected {owner}, got {by_email:?}"
    );
    let by_id = ok(
        crm.resolve_owner(&OwnerSpec::Id(owner.0.clone())).await,
        "owner by id",
    )?;
    ensure!(
        by_id.as_ref() == Some(&owner),
        "by id: expected {owner}, got {by_id:?}"
    );
    let nobody = ok(
        crm.resolve_owner(&OwnerSpec::parse("nobody@acme.ua")).await,
        "unknown owner",
    )?;
    ensure!(nobody.is_none(), "an unknown email resolved to {nobody:?}");
    let missing = ok(
        crm.resolve_owner(&OwnerSpec::Id("999999999".into())).await,
        "unknown id",
    )?;
    ensure!(missing.is_none(), "an unknown id resolved to {missing:?}");
    Ok(())
}
