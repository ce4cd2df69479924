//! HubSpot failing in every way it does (DESIGN §3, §8): an outage in the
//! middle of the traffic, a storm of 429s, a request HubSpot refuses (dead
//! letter, fix the rule, replay) and a revoked token (pause, then resume).
//! Nothing acknowledged is lost, and the CRM ends with exactly what the
//! calls should have made.

mod common;

use std::time::Duration;

use common::calls::Call;
use common::crm::{assert_exactly_once, assert_properties, e164};
use common::inbox::plan_version;
use common::wait;
use common::world::{World, edit_file, replaced};
use switchboard_hubspot::fake::FaultAction;

/// The `n`-th client's number.
fn phone(n: usize) -> String {
    format!("38067{:07}", 2_000_000 + n)
}

/// `count` answered calls spread over `clients` numbers, round robin.
fn calls(count: usize, clients: usize) -> Vec<Call> {
    (0..count)
        .map(|n| Call::incoming(&phone(n % clients)))
        .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_ten_second_outage_in_the_middle_of_a_hundred_events_loses_nothing() {
    let world = World::start().await;
    let calls = calls(100, 20);
    let mut ids = world.post_all(&calls[..50]).await;
    wait::until(
        Duration::from_secs(30),
        "a quarter of the calls are logged",
        || async { world.crm().count("calls") >= 25 },
    )
    .await
    .unwrap_or_else(|e| panic!("{e}\n{}", world.log_tail(30)));

    world.fake.outage(Duration::from_secs(10));
    ids.extend(world.post_all(&calls[50..]).await);
    let settled = world.expect_done(&ids).await;

    let failed_requests = world.fake.requests().iter().filter(|r| r.faulted).count();
    assert!(failed_requests > 0, "the outage was felt");
    let retried = settled
        .values()
        .filter(|e| e["attempts"].as_u64().unwrap_or(0) > 1)
        .count();
    assert!(retried > 0, "some events were retried after the outage");
    let crm = world.crm();
    assert_eq!(
        crm.summary(),
        "contacts=20 deals=20 calls=100 tasks=0 notes=0"
    );
    assert_exactly_once(&crm, &calls, &ids);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_storm_of_429s_is_waited_out_and_nothing_is_lost() {
    let world = World::builder()
        .fake(|f| f.burst_window = Duration::from_secs(1))
        .start()
        .await;
    let calls = calls(31, 11);
    let warm = world.post(&calls[0]).await.id;
    world.expect_done(&[warm]).await;

    world.fake.inject(
        Some("contacts.search"),
        FaultAction::RateLimit("SECONDLY".into()),
        5,
    );
    world.fake.rate_limit_next(30, "TEN_SECONDLY_ROLLING");
    let mut ids = vec![warm];
    ids.extend(world.post_all(&calls[1..]).await);
    world.expect_done(&ids).await;

    let limited = world
        .fake
        .requests()
        .iter()
        .filter(|r| r.faulted && r.status == 429)
        .count();
    assert_eq!(limited, 35, "every injected 429 was met and waited out");
    let crm = world.crm();
    assert_eq!(
        crm.summary(),
        "contacts=11 deals=11 calls=31 tasks=0 notes=0"
    );
    assert_exactly_once(&crm, &calls, &ids);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_retry_after_a_failure_mid_plan_finishes_the_plan_it_started() {
    let world = World::start().await;
    // More 503s than the connector absorbs in one attempt, on the last step
    // of row 3: contact, deal and call exist when the attempt fails.
    world
        .fake
        .inject(Some("tasks.create"), FaultAction::Status(503), 6);
    let call = Call::incoming(&phone(7)).missed();
    let id = world.post(&call).await.id;
    let done = world.expect_done(&[id]).await;
    assert!(done[&id]["attempts"].as_u64() > Some(1), "{:?}", done[&id]);

    let crm = world.crm();
    assert_eq!(crm.summary(), "contacts=1 deals=1 calls=1 tasks=1 notes=0");
    let event = world.event(id).await;
    // What the first attempt created does not turn the new client into an
    // existing one: the retry resumes row 3, it does not switch to row 4.
    assert_eq!(
        event["plan"]["scenario"], "incoming_missed_new_client",
        "facts {}",
        event["facts"]
    );
    let task = crm.all("tasks").remove(0);
    assert_properties(
        &task,
        &[(
            "hs_task_subject",
            &format!(
                "Missed call from +{}: assign an agent to call back",
                call.client
            ),
        )],
    );
}

/// A row for one campaign whose deal names a property the account lacks.
const SPRING_ROW: &str = r#"  - name: spring_campaign_new_client
    description: "Spring campaign: the deal records the campaign"
    when:
      direction: incoming
      answered: true
      client: new
      utm_campaign: spring
    then:
      - contact: {owner: employee}
      - deal:
          owner: employee
          properties: {campaign_code: "{utm_campaign}"}
      - log_call: {owner: employee}

"#;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_refused_request_dead_letters_its_event_only_and_a_replay_after_the_fix_completes_it() {
    let world = World::builder()
        .rules(|dir| {
            edit_file(&dir.join("matrix.yaml"), |text| {
                let row = "  - name: incoming_answered_new_client\n";
                replaced(&text, row, &format!("{SPRING_ROW}{row}"))
            })
        })
        .start()
        .await;
    let spring = Call::incoming(&phone(99)).campaign("spring");
    let others = calls(6, 3);
    let spring_id = world.post(&spring).await.id;
    let other_ids = world.post_all(&others).await;

    let dead = world
        .wait_event(spring_id, "the refused event is dead-lettered", |e| {
            e["status"] == "dead"
        })
        .await;
    let error = dead["last_error"].to_string();
    assert!(
        error.contains("campaign_code"),
        "the error names the property: {error}"
    );
    assert_eq!(
        dead["attempts"], 1,
        "a refused request is not retried: {dead}"
    );
    world.expect_done(&other_ids).await;
    {
        let crm = world.crm();
        // The contact was created before HubSpot refused the deal.
        assert_eq!(crm.summary(), "contacts=4 deals=3 calls=6 tasks=0 notes=0");
        assert_exactly_once(&crm, &others, &other_ids);
    }

    let broken_version = world.rules().await["version"].clone();
    edit_file(&world.rules_dir().join("matrix.yaml"), |text| {
        replaced(
            &text,
            r#"campaign_code: "{utm_campaign}""#,
            r#"description: "Campaign {utm_campaign}""#,
        )
    });
    let fixed = wait::until_some(Duration::from_secs(20), "the fixed rules load", || async {
        let rules = world.rules().await;
        (rules["version"] != broken_version && rules["version"].is_string()).then_some(rules)
    })
    .await
    .unwrap_or_else(|e| panic!("{e}: {}", world.log_tail(20)));
    assert!(fixed["last_error"].is_null(), "{fixed}");

    let (status, answer) = world.replay(spring_id).await;
    assert!((200..300).contains(&status), "replay: {status} {answer}");
    world.expect_done(&[spring_id]).await;
    let replayed = world.event(spring_id).await;
    assert_eq!(
        plan_version(&replayed),
        fixed["version"].as_str().unwrap_or_default()
    );
    let crm = world.crm();
    assert_eq!(crm.summary(), "contacts=4 deals=4 calls=7 tasks=0 notes=0");
    assert_exactly_once(&crm, std::slice::from_ref(&spring), &[spring_id]);
    let contact = crm.the_contact(&e164(&spring.client));
    let deal = crm.linked("contacts", &contact.id, "deals").remove(0);
    // The contact its first attempt created does not make the caller an
    // existing client: the replay meets the same situation, with the fix.
    assert_eq!(
        replayed["plan"]["scenario"], "spring_campaign_new_client",
        "facts {}\nsteps {}",
        replayed["facts"], replayed["steps"]
    );
    assert_properties(
        &deal,
        &[
            ("description", "Campaign spring"),
            ("utm_campaign", "spring"),
        ],
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_revoked_token_pauses_processing_until_it_works_again() {
    let world = World::start().await;
    let warm = Call::incoming(&phone(0));
    let warm_id = world.post(&warm).await.id;
    world.expect_done(&[warm_id]).await;

    let token = world.fake.token().to_string();
    world.fake.revoke_token(&token);
    let calls: Vec<Call> = (1..6).map(|n| Call::incoming(&phone(n))).collect();
    let ids = world.post_all(&calls).await;

    let why = wait::until_some(Duration::from_secs(30), "processing pauses", || async {
        let events = world.events().await;
        let paused = ids.iter().any(|id| events[id]["status"] == "paused");
        let (status, ready) = world.readyz().await;
        (paused && status != 200).then_some(ready)
    })
    .await;
    let why = match why {
        Ok(why) => why,
        Err(e) => panic!(
            "{e}: readyz {:?}, events {:?}\n{}",
            world.readyz().await,
            world.events().await,
            world.log_tail(30)
        ),
    };
    assert!(why.to_string().contains("token"), "/readyz says why: {why}");
    let events = world.events().await;
    assert!(
        ids.iter().all(|id| events[id]["status"] != "dead"),
        "nothing is dead-lettered for an account-wide failure: {events:?}"
    );
    assert_eq!(
        world.crm().summary(),
        "contacts=1 deals=1 calls=1 tasks=0 notes=0"
    );

    world.fake.add_token(&token, None);
    world.expect_done(&ids).await;
    let (status, ready) = world.readyz().await;
    assert_eq!(status, 200, "ready again: {ready}");
    let crm = world.crm();
    assert_eq!(crm.summary(), "contacts=6 deals=6 calls=6 tasks=0 notes=0");
    let mut all = vec![warm];
    all.extend(calls);
    let mut all_ids = vec![warm_id];
    all_ids.extend(ids);
    assert_exactly_once(&crm, &all, &all_ids);
}
