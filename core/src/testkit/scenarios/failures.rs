//! The CRM failing: rate limits, server errors, lost answers, deleted
//! records, revoked tokens.

use std::time::Duration;

use chrono::Utc;

use super::{Outcome, call_log, ensure, log_call_reconciled, new_contact, ok, phone};
use crate::cache::{CacheSettings, LookupCache};
use crate::connector::{AccountIssue, ConnectorError, ObjectKind, StepKey};
use crate::testkit::Harness;

/// Runs `operation` up to three times while it fails with a retryable
/// error, as the executor would.
async fn with_retries<T, F, Fut>(mut operation: F) -> Result<T, ConnectorError>
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = Result<T, ConnectorError>>,
{
    let mut last = None;
    for _ in 0..3 {
        match operation().await {
            Ok(value) => return Ok(value),
            Err(e) if e.is_retryable() => last = Some(e),
            Err(e) => return Err(e),
        }
    }
    Err(last.unwrap_or(ConnectorError::Transient {
        message: "no attempt".into(),
        retry_after: None,
    }))
}

pub async fn rate_limits_are_waited_out(h: &dyn Harness) -> Outcome {
    let crm = h.connector();
    let number = phone("0681234567")?;
    let seeded = h
        .seed_contact("0681234567", "Rate Limited", Utc::now())
        .await;
    h.rate_limit_next(2).await;
    let found = ok(
        with_retries(|| crm.find_contact_by_phone(&number)).await,
        "lookup under a rate limit",
    )?;
    ensure!(
        found.map(|c| c.id) == Some(seeded),
        "the lookup found the wrong contact"
    );
    h.rate_limit_next(1).await;
    log_call_reconciled(h, "sb-7-0-log_call").await?;
    ensure!(
        h.count(ObjectKind::Call).await == 1,
        "a rate-limited create was doubled"
    );
    Ok(())
}

pub async fn server_errors_are_retried_or_reported_as_transient(h: &dyn Harness) -> Outcome {
    let crm = h.connector();
    let number = phone("0681112233")?;
    h.seed_contact("068 111 22 33", "Flaky", Utc::now()).await;
    h.fail_next(2).await;
    let found = ok(
        with_retries(|| crm.find_contact_by_phone(&number)).await,
        "lookup after server errors",
    )?;
    ensure!(
        found.is_some(),
        "the contact was not found after the failures"
    );

    h.fail_next(2).await;
    log_call_reconciled(h, "sb-8-0-log_call").await?;
    ensure!(
        h.count(ObjectKind::Call).await == 1,
        "server errors doubled a call"
    );

    h.fail_next(100).await;
    let outage = crm.find_contact_by_phone(&number).await;
    ensure!(
        matches!(&outage, Err(e @ ConnectorError::Transient { .. }) if e.is_retryable()),
        "a long outage answered {outage:?}, not a transient failure"
    );
    Ok(())
}

pub async fn a_lost_answer_never_duplicates_a_call(h: &dyn Harness) -> Outcome {
    let crm = h.connector();
    let key = StepKey("sb-11-0-log_call".into());
    h.answer_late(1, Duration::from_secs(30)).await;
    let id = log_call_reconciled(h, key.as_str()).await?;
    let calls = h.count(ObjectKind::Call).await;
    ensure!(calls == 1, "{calls} calls exist after one lost answer");
    let found = ok(crm.find_by_step_key(ObjectKind::Call, &key).await, "lookup")?;
    ensure!(found == Some(id), "the step key names another call");
    Ok(())
}

pub async fn a_deleted_contact_is_dropped_and_resolved_again(h: &dyn Harness) -> Outcome {
    let crm = h.connector();
    let cache = LookupCache::new(crm.clone(), CacheSettings::default());
    let number = phone("0951234567")?;
    let merged = h
        .seed_contact("095 123 45 67", "Merged Away", Utc::now())
        .await;
    let cached = ok(cache.find_contact(&number).await, "lookup")?;
    ensure!(
        cached.as_ref().map(|c| &c.id) == Some(&merged),
        "the first lookup missed"
    );

    h.delete(ObjectKind::Contact, &merged).await;
    let survivor = h
        .seed_contact("+380951234567", "Survivor", Utc::now())
        .await;
    let stale = crm
        .log_call(&call_log("sb-12-0-log_call", Some(&merged), None))
        .await;
    ensure!(
        matches!(&stale, Err(ConnectorError::NotFound { kind: ObjectKind::Contact, id }) if *id == merged),
        "a call on a deleted contact answered {stale:?}"
    );
    let gone = ok(crm.get_contact(&merged).await, "get deleted contact")?;
    ensure!(gone.is_none(), "a deleted contact is still returned");
    let deals = crm.find_open_deals(&merged).await;
    ensure!(
        matches!(
            &deals,
            Err(ConnectorError::NotFound {
                kind: ObjectKind::Contact,
                ..
            })
        ) || deals == Ok(Vec::new()),
        "open deals of a deleted contact answered {deals:?}"
    );

    cache.forget_contact(&merged).await;
    let resolved = ok(cache.find_contact(&number).await, "lookup after forgetting")?;
    ensure!(
        resolved.map(|c| c.id) == Some(survivor),
        "the lookup did not resolve the survivor"
    );
    ensure!(
        h.count(ObjectKind::Call).await == 0,
        "a call was logged on a deleted contact"
    );
    Ok(())
}

pub async fn a_revoked_token_stops_the_account(h: &dyn Harness) -> Outcome {
    let crm = h.connector();
    h.revoke_credentials().await;
    let refused = crm.find_contact_by_phone(&phone("0671234567")?).await;
    ensure!(
        matches!(
            refused,
            Err(ConnectorError::AccountWide {
                issue: AccountIssue::BadToken,
                ..
            })
        ),
        "a revoked token answered {refused:?}"
    );
    let refused = crm
        .create_contact(&new_contact(&phone("0671234567")?, "sb-13-0-contact"))
        .await;
    ensure!(
        matches!(&refused, Err(e @ ConnectorError::AccountWide { .. }) if !e.is_retryable()),
        "a create with a revoked token answered {refused:?}"
    );
    Ok(())
}
