//! HubSpot's refusals reach the executor as typed errors.

use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::Duration;

use secrecy::SecretString;
use switchboard_core::connector::registry::{ConnectorConfig, ConnectorRegistry};
use switchboard_core::connector::{
    AccountIssue, Connector, ConnectorError, CrmId, NewDeal, StepKey,
};
use switchboard_core::phone::{E164, Region};
use switchboard_hubspot::fake::{FakeHubSpot, FakeOptions};
use switchboard_hubspot::{HubSpotConfig, HubSpotConnector};

fn connector(fake: &FakeHubSpot) -> HubSpotConnector {
    let config = HubSpotConfig {
        base_url: fake.base_url().parse().expect("URL"),
        timeout: Duration::from_millis(500),
        initial_backoff: Duration::from_millis(20),
        ..HubSpotConfig::default()
    };
    HubSpotConnector::new(config, SecretString::from(fake.token().to_string()))
        .expect("valid config")
}

fn deal(contact: &str, stage: &str, properties: &[(&str, &str)]) -> NewDeal {
    NewDeal {
        step_key: StepKey::new(1, 1, "deal"),
        name: "Call from +380 67 123 4567".into(),
        pipeline: "default".into(),
        stage: stage.into(),
        owner: None,
        properties: properties
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect::<BTreeMap<_, _>>(),
        contact: CrmId(contact.into()),
    }
}

#[tokio::test]
async fn validation_errors_carry_hubspots_code_and_are_not_retried() {
    let fake = FakeHubSpot::start(FakeOptions::default())
        .await
        .expect("starts");
    let hubspot = connector(&fake);
    let contact = fake.seed_contact("0671234567", "Ivan");

    let missing = hubspot
        .create_deal(&deal(
            &contact,
            "appointmentscheduled",
            &[("utm_source", "google")],
        ))
        .await;
    assert!(
        matches!(&missing, Err(ConnectorError::InvalidRequest { code: Some(code), .. }) if code == "PROPERTY_DOESNT_EXIST"),
        "{missing:?}"
    );
    let bad_stage = hubspot
        .create_deal(&deal(&contact, "negotiation", &[]))
        .await;
    assert!(
        matches!(&bad_stage, Err(ConnectorError::InvalidRequest { code: Some(code), .. }) if code == "INVALID_OPTION"),
        "{bad_stage:?}"
    );
    assert_eq!(
        fake.request_count("deals.create"),
        2,
        "a refused request is not repeated"
    );
    assert_eq!(fake.count("deals"), 0);
}

#[tokio::test]
async fn the_daily_limit_and_missing_scopes_stop_the_account() {
    let fake = FakeHubSpot::start(FakeOptions::default())
        .await
        .expect("starts");
    let hubspot = connector(&fake);
    let number = E164::parse("0671234567", Region::default()).expect("valid");
    fake.rate_limit_next(1, "DAILY");
    let daily = hubspot.find_contact_by_phone(&number).await;
    assert!(
        matches!(
            daily,
            Err(ConnectorError::AccountWide {
                issue: AccountIssue::DailyLimit,
                ..
            })
        ),
        "{daily:?}"
    );

    fake.add_token(
        "pat-na1-contacts-only",
        Some(&["crm.objects.contacts.read", "crm.schemas.contacts.read"]),
    );
    let config = HubSpotConfig {
        base_url: fake.base_url().parse().expect("URL"),
        ..HubSpotConfig::default()
    };
    let limited = HubSpotConnector::new(
        config,
        SecretString::from("pat-na1-contacts-only".to_string()),
    )
    .expect("config");
    let deals = limited
        .find_open_deals(&CrmId(fake.seed_contact("0671234567", "Ivan")))
        .await;
    assert!(
        deals.is_ok(),
        "reading a contact's deal ids needs contacts.read only: {deals:?}"
    );
    let contact = fake.seed_contact("0501112233", "Olena");
    fake.seed_deal(&contact, "Open", true, chrono::Utc::now());
    let refused = limited.find_open_deals(&CrmId(contact)).await;
    assert!(
        matches!(&refused, Err(ConnectorError::AccountWide { issue: AccountIssue::MissingScopes, message }) if message.contains("crm.objects.deals.read")),
        "{refused:?}"
    );
}

#[tokio::test]
async fn a_slow_hubspot_is_a_transient_failure_after_bounded_retries() {
    let fake = FakeHubSpot::start(FakeOptions::default())
        .await
        .expect("starts");
    let hubspot = connector(&fake);
    fake.delay_next(10, Duration::from_secs(3));
    let started = std::time::Instant::now();
    let slow = hubspot
        .resolve_owner(&switchboard_core::plan::OwnerSpec::parse("boss@acme.ua"))
        .await;
    assert!(
        matches!(&slow, Err(ConnectorError::Transient { message, .. }) if message.contains("in time")),
        "{slow:?}"
    );
    assert_eq!(
        fake.requests().len(),
        0,
        "the late answers are still pending"
    );
    assert!(
        started.elapsed() < Duration::from_secs(5),
        "took {:?}",
        started.elapsed()
    );
}

#[tokio::test]
async fn the_registry_builds_hubspot_from_its_config_section() {
    let fake = FakeHubSpot::start(FakeOptions::default())
        .await
        .expect("starts");
    let mut registry = ConnectorRegistry::new();
    registry.register(switchboard_hubspot::NAME, switchboard_hubspot::build);
    let missing = registry.build(
        "hubspot",
        ConnectorConfig {
            section: serde_json::json!({ "base_url": fake.base_url() }),
            secret: None,
        },
    );
    assert!(
        missing
            .err()
            .is_some_and(|e| e.to_string().contains("needs a secret"))
    );
    let hubspot: Arc<dyn Connector> = registry
        .build(
            "hubspot",
            ConnectorConfig {
                section: serde_json::json!({ "base_url": fake.base_url(), "burst_per_10s": 190 }),
                secret: Some(SecretString::from(fake.token().to_string())),
            },
        )
        .expect("builds");
    let report = hubspot.health_check().await.expect("health check runs");
    assert!(report.checks.iter().any(|c| c.name == "token" && c.ok));
    let bad = registry.build(
        "hubspot",
        ConnectorConfig {
            section: serde_json::json!({ "search_per_second": 10 }),
            secret: Some(SecretString::from("x".to_string())),
        },
    );
    assert!(
        bad.err()
            .is_some_and(|e| e.to_string().contains("search_per_second"))
    );
}
