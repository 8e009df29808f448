//! Alerts when a backup breaks (issue 22, `[central] alerts_topic`): setup makes the central
//! account's topic with its policy, turns on the rule's replication metrics and has the source
//! bucket tell the topic of failed replications, keeping the account's own notifications; status
//! reports a missing topic or notification as drift and says whether anyone is subscribed; setup
//! repairs both. That S3 then publishes a failure to the topic is the test server's emulation
//! (scripts/moto_ext/replication.py, tested in test_emulation.py), exercised end to end here.

use aws_sdk_s3::types::{Event, NotificationConfiguration, TopicConfiguration};
use s3central::setup::policy::{alerts_topic_policy, same_policy, ALERTS_NOTIFICATION_ID};
use serde_json::Value;

use crate::common::{json_lines, put, unique_bucket};
use crate::setup::{account_config, one_account_world, organization, s3_for, setup};

const CENTRAL_ACCOUNT: &str = "123456789012";

/// The drift labels status reports for `account`.
fn drift_of(stdout: &str, account: &str) -> Vec<String> {
    json_lines(stdout)
        .iter()
        .filter(|r| r["account"] == account && r.get("drift").is_some())
        .flat_map(|r| r["drift"].as_array().cloned().unwrap_or_default())
        .filter_map(|d| d.as_str().map(str::to_owned))
        .collect()
}

#[tokio::test(flavor = "multi_thread")]
async fn alerts_are_set_up_checked_by_status_and_repaired() {
    let (org_id, _) = organization().await.clone();
    let topic = unique_bucket("alerts");
    let (account, bucket, _central, config) =
        one_account_world("alerts", &format!("alerts_topic = \"{topic}\"")).await;
    let arn = format!("arn:aws:sns:us-east-1:{CENTRAL_ACCOUNT}:{topic}");
    setup(&config, &["setup", "--yes"]).success();

    // The topic, with the policy setup writes.
    let sns = aws_sdk_sns::Client::new(&crate::common::sdk_config().await);
    let attributes = sns
        .get_topic_attributes()
        .topic_arn(&arn)
        .send()
        .await
        .expect("the alerts topic exists");
    let policy = attributes
        .attributes()
        .and_then(|a| a.get("Policy"))
        .expect("a topic policy");
    assert!(
        same_policy(
            policy,
            &alerts_topic_policy(&arn, &org_id, std::slice::from_ref(&account), None)
        ),
        "{policy}"
    );

    // The rule has replication metrics; the bucket tells the topic of failed replications.
    let source = s3_for(&account_config(&account).await);
    let replication = source
        .get_bucket_replication()
        .bucket(&bucket)
        .send()
        .await
        .expect("replication");
    let rule = &replication
        .replication_configuration()
        .expect("config")
        .rules()[0];
    let metrics = rule
        .destination()
        .and_then(|d| d.metrics())
        .expect("metrics");
    assert_eq!(metrics.status().as_str(), "Enabled");
    assert!(metrics.event_threshold().is_none(), "no RTC, no threshold");
    let ours = |n: &aws_sdk_s3::operation::get_bucket_notification_configuration::GetBucketNotificationConfigurationOutput| {
        n.topic_configurations()
            .iter()
            .find(|t| t.id() == Some(ALERTS_NOTIFICATION_ID))
            .map(|t| {
                (
                    t.topic_arn().to_owned(),
                    t.events().iter().map(|e| e.as_str().to_owned()).collect::<Vec<_>>(),
                )
            })
    };
    let notification = || async {
        source
            .get_bucket_notification_configuration()
            .bucket(&bucket)
            .send()
            .await
            .expect("notification configuration")
    };
    assert_eq!(
        ours(&notification().await),
        Some((
            arn.clone(),
            vec!["s3:Replication:OperationFailedReplication".to_owned()]
        ))
    );

    // status: healthy, and it says nobody is subscribed yet.
    let status = setup(&config, &["status"]);
    assert_eq!(status.code, 0, "{}{}", status.stdout, status.stderr);
    let protection: Vec<Value> = json_lines(&status.stdout)
        .into_iter()
        .filter(|l| l["record"] == "protection")
        .collect();
    assert_eq!(
        protection[0]["protection"]["alerts"],
        serde_json::json!([{"arn": arn, "confirmed_subscriptions": 0}])
    );

    // The account's admin replaces the notifications with one of their own: drift, repaired,
    // and theirs kept.
    let own_topic = aws_sdk_sns::Client::new(&account_config(&account).await)
        .create_topic()
        .name("own-events")
        .send()
        .await
        .expect("CreateTopic")
        .topic_arn()
        .expect("arn")
        .to_owned();
    source
        .put_bucket_notification_configuration()
        .bucket(&bucket)
        .notification_configuration(
            NotificationConfiguration::builder()
                .topic_configurations(
                    TopicConfiguration::builder()
                        .id("own")
                        .topic_arn(&own_topic)
                        .events(Event::from("s3:ObjectCreated:*"))
                        .build()
                        .expect("topic configuration"),
                )
                .build(),
        )
        .send()
        .await
        .expect("PutBucketNotificationConfiguration");
    // ... and central's topic is deleted.
    sns.delete_topic()
        .topic_arn(&arn)
        .send()
        .await
        .expect("DeleteTopic");
    let status = setup(&config, &["status"]);
    assert_eq!(status.code, 1, "{}{}", status.stdout, status.stderr);
    assert_eq!(drift_of(&status.stdout, &account), ["replication alerts"]);
    assert_eq!(drift_of(&status.stdout, CENTRAL_ACCOUNT), ["alerts topic"]);
    setup(&config, &["setup", "--yes"]).success();
    let notification = notification().await;
    assert!(ours(&notification).is_some(), "ours is back");
    let ids: Vec<&str> = notification
        .topic_configurations()
        .iter()
        .filter_map(|t| t.id())
        .collect();
    assert!(
        ids.contains(&"own"),
        "the account's own notification is kept: {ids:?}"
    );
    let status = setup(&config, &["status"]);
    assert_eq!(status.code, 0, "{}{}", status.stdout, status.stderr);

    // A replication that fails is told to the topic (the emulation publishes what S3 would):
    // an HTTP endpoint on this machine subscribed to the topic receives the event.
    let events = subscribed_listener(&sns, &arn).await;
    let control = crate::common::ReplicationControl::take().await;
    control.fail_prefix(&format!("{account}/broken/"));
    put(&source, &bucket, &format!("{account}/broken/x"), b"x").await;
    put(&source, &bucket, &format!("{account}/fine"), b"y").await;
    control.drain();
    drop(control);
    let event = events
        .recv_timeout(std::time::Duration::from_secs(30))
        .expect("an event within 30 s");
    let record = &event["Records"][0];
    assert_eq!(
        record["eventName"], "Replication:OperationFailedReplication",
        "{event}"
    );
    assert_eq!(record["s3"]["object"]["key"], format!("{account}/broken/x"));
    assert_eq!(record["s3"]["bucket"]["name"], bucket.as_str());
    assert_eq!(
        record["replicationEventData"]["replicationRuleId"],
        format!("s3central-{account}")
    );
    assert!(
        events
            .recv_timeout(std::time::Duration::from_secs(1))
            .is_err(),
        "only the failed replication is told"
    );
}

/// An HTTP endpoint on a free loopback port, subscribed to the topic: gives each message
/// published to it (the SNS envelope's `Message`, parsed). The thread answers 200 to every POST
/// and ends with the test process.
async fn subscribed_listener(
    sns: &aws_sdk_sns::Client,
    topic_arn: &str,
) -> std::sync::mpsc::Receiver<Value> {
    use std::io::{BufRead, BufReader, Read, Write};
    let listener = std::net::TcpListener::bind("127.0.0.1:0").expect("a loopback port");
    let port = listener.local_addr().expect("its address").port();
    let (tx, rx) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        for stream in listener.incoming() {
            let Ok(mut stream) = stream else { return };
            let mut reader = BufReader::new(stream.try_clone().expect("clone"));
            let mut length = 0usize;
            loop {
                let mut line = String::new();
                if reader.read_line(&mut line).unwrap_or(0) == 0 || line == "\r\n" {
                    break;
                }
                if let Some((name, value)) = line.split_once(':') {
                    if name.eq_ignore_ascii_case("content-length") {
                        length = value.trim().parse().unwrap_or(0);
                    }
                }
            }
            let mut body = vec![0; length];
            let _ = reader.read_exact(&mut body);
            let _ = stream.write_all(b"HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n");
            let envelope: Value = serde_json::from_slice(&body).unwrap_or(Value::Null);
            let message = envelope["Message"]
                .as_str()
                .and_then(|m| serde_json::from_str(m).ok());
            if let Some(message) = message {
                if tx.send(message).is_err() {
                    return;
                }
            }
        }
    });
    sns.subscribe()
        .topic_arn(topic_arn)
        .protocol("http")
        .endpoint(format!("http://127.0.0.1:{port}/"))
        .send()
        .await
        .expect("Subscribe");
    rx
}
