//! `switchboard hubspot setup` and `doctor` against the fake HubSpot.

use std::time::Duration;

use secrecy::SecretString;
use switchboard_core::plan::OwnerSpec;
use switchboard_hubspot::fake::{FakeHubSpot, FakeOptions};
use switchboard_hubspot::setup::PropertyState;
use switchboard_hubspot::{HubSpotConfig, HubSpotConnector, doctor, setup};

fn connector(fake: &FakeHubSpot, token: &str) -> HubSpotConnector {
    let config = HubSpotConfig {
        base_url: fake.base_url().parse().expect("URL"),
        timeout: Duration::from_secs(2),
        ..HubSpotConfig::default()
    };
    HubSpotConnector::new(config, SecretString::from(token.to_string())).expect("valid config")
}

#[tokio::test]
async fn setup_creates_what_is_missing_and_is_idempotent() {
    let fake = FakeHubSpot::start(FakeOptions::default())
        .await
        .expect("starts");
    let hubspot = connector(&fake, fake.token());
    let utm = vec!["utm_source".to_string(), "utm_campaign".to_string()];

    let first = setup(&hubspot, &utm).await.expect("setup runs");
    assert!(first.is_ok(), "{first}");
    let created: Vec<String> = first
        .properties
        .iter()
        .filter(|p| p.state == PropertyState::Created)
        .map(|p| format!("{}.{}", p.object, p.name))
        .collect();
    assert_eq!(
        created,
        [
            "contacts.switchboard_step_key",
            "deals.switchboard_step_key",
            "tasks.switchboard_step_key",
            "notes.switchboard_step_key",
            "contacts.phone_e164",
            "deals.utm_source",
            "deals.utm_campaign"
        ]
    );
    let requests = fake.request_count("properties.create");
    let second = setup(&hubspot, &utm).await.expect("setup runs again");
    assert!(
        second
            .properties
            .iter()
            .all(|p| p.state == PropertyState::AlreadyThere),
        "{second}"
    );
    assert_eq!(
        fake.request_count("properties.create"),
        requests,
        "nothing is created twice"
    );
    assert!(
        second
            .to_string()
            .contains("= contacts.phone_e164: already there"),
        "{second}"
    );
}

#[tokio::test]
async fn setup_reports_an_existing_property_that_is_not_unique() {
    let fake = FakeHubSpot::start(FakeOptions::default())
        .await
        .expect("starts");
    fake.define_property("contacts", "phone_e164", false);
    let report = setup(&connector(&fake, fake.token()), &[])
        .await
        .expect("setup runs");
    let phone = report
        .properties
        .iter()
        .find(|p| p.name == "phone_e164")
        .expect("listed");
    assert_eq!(phone.state, PropertyState::ExistsNotUnique);
}

#[tokio::test]
async fn doctor_lists_every_problem_in_one_report() {
    let fake = FakeHubSpot::start(FakeOptions::default())
        .await
        .expect("starts");
    let boss = fake.seed_owner("boss@acme.ua", "Top", "Manager");
    let hubspot = connector(&fake, fake.token());
    let owners = [
        OwnerSpec::parse("boss@acme.ua"),
        OwnerSpec::parse("gone@acme.ua"),
        OwnerSpec::Id(boss.clone()),
    ];

    let report = doctor(&hubspot, &owners, "default", "negotiation")
        .await
        .expect("doctor runs");
    let failed: Vec<&str> = report
        .checks
        .iter()
        .filter(|c| !c.ok)
        .map(|c| c.name.as_str())
        .collect();
    assert_eq!(
        failed,
        [
            "property contacts.switchboard_step_key",
            "property deals.switchboard_step_key",
            "property tasks.switchboard_step_key",
            "property notes.switchboard_step_key",
            "stage negotiation",
            "owner gone@acme.ua"
        ]
    );
    let text = report.to_string();
    assert!(
        text.contains("its stages are: appointmentscheduled"),
        "{text}"
    );
    assert!(text.contains("6 of "), "{text}");

    setup(&hubspot, &[]).await.expect("setup runs");
    let report = doctor(&hubspot, &owners[..1], "default", "appointmentscheduled")
        .await
        .expect("doctor runs");
    assert!(report.is_healthy(), "{report}");
    assert!(report.to_string().ends_with("checks passed\n"), "{report}");
}

#[tokio::test]
async fn doctor_names_a_refused_token_and_missing_scopes() {
    let fake = FakeHubSpot::start(FakeOptions::default())
        .await
        .expect("starts");
    let report = doctor(
        &connector(&fake, "pat-na1-wrong"),
        &[],
        "default",
        "appointmentscheduled",
    )
    .await
    .expect("doctor runs");
    assert!(!report.is_healthy());
    assert_eq!(
        report.checks.len(),
        1,
        "nothing else can be checked: {report}"
    );
    assert!(
        report.to_string().contains("HubSpot refuses the token"),
        "{report}"
    );

    fake.add_token(
        "pat-na1-partial",
        Some(&[
            "crm.objects.owners.read",
            "crm.objects.contacts.read",
            "crm.schemas.contacts.read",
            "crm.schemas.deals.read",
        ]),
    );
    let report = doctor(
        &connector(&fake, "pat-na1-partial"),
        &[],
        "default",
        "appointmentscheduled",
    )
    .await;
    let report = match report {
        Ok(report) => report,
        Err(error) => panic!("doctor failed instead of reporting: {error}"),
    };
    let deals = report
        .checks
        .iter()
        .find(|c| c.name == "scope: read deals")
        .expect("checked");
    assert!(
        !deals.ok && deals.detail.contains("crm.objects.deals.read"),
        "{report}"
    );
}
