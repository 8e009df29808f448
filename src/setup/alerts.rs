//! Alerts when a backup breaks (`[central] alerts_topic`): the central account's SNS topic in each
//! source region, and each source bucket's event notification that tells it of failed or late
//! replications. Diffs are pure; reading and writing are the thin functions below them.
//!
//! Chosen from AWS's documentation ("Receiving replication failure events with Amazon S3 Event
//! Notifications", Amazon S3 User Guide): `s3:Replication:OperationFailedReplication` needs S3
//! Replication metrics on the rule (setup turns them on), `OperationMissedThreshold` needs
//! Replication Time Control; S3 publishes only to a topic in the bucket's own region ("Amazon S3
//! Event Notifications"), so there is one topic per region with a source bucket.

use aws_sdk_s3::types::{Event, NotificationConfiguration, TopicConfiguration};
use aws_smithy_types::error::metadata::ProvideErrorMetadata;
use serde_json::Value;

use crate::error::{Error, Result};
use crate::setup::apply::Writes;
use crate::setup::plan::{update, update_if, Action, Change, Resource};
use crate::setup::policy::{same_policy, ALERTS_NOTIFICATION_ID};

/// An alerts topic as found.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TopicActual {
    /// Its access policy text.
    pub policy: Option<String>,
    /// How many subscriptions have confirmed (nobody is told while it is 0).
    pub confirmed_subscriptions: u64,
}

/// Diffs an alerts topic: absent means create (its policy included).
pub fn diff_topic(policy: &Value, actual: Option<&TopicActual>) -> Vec<Change> {
    let Some(actual) = actual else {
        return vec![Change::new(Resource::AlertsTopic, Action::Create)];
    };
    let same = actual
        .policy
        .as_deref()
        .is_some_and(|p| same_policy(p, policy));
    vec![
        Change::new(Resource::AlertsTopic, Action::Unchanged),
        Change::new(Resource::AlertsTopicPolicy, update_if(!same, "policy")),
    ]
}

/// s3central's topic configuration in a source bucket, as found: (topic ARN, events, sorted).
pub type AlertsFound = Option<(String, Vec<String>)>;

/// Diffs a source bucket's alerts notification against the topic and events it should have.
pub fn diff_notification(topic_arn: &str, events: &[&str], found: &AlertsFound) -> Change {
    let action = match found {
        None => Action::Create,
        Some((topic, got)) => {
            let mut want: Vec<&str> = events.to_vec();
            want.sort_unstable();
            let mut fields = Vec::new();
            if topic != topic_arn {
                fields.push("topic".to_owned());
            }
            if got.iter().map(String::as_str).ne(want.iter().copied()) {
                fields.push("events".to_owned());
            }
            update(fields)
        }
    };
    Change::new(Resource::Alerts, action)
}

/// Reads an alerts topic; `None` when it does not exist.
pub async fn read_topic(sns: &aws_sdk_sns::Client, arn: &str) -> Result<Option<TopicActual>> {
    match sns.get_topic_attributes().topic_arn(arn).send().await {
        Ok(out) => {
            let attributes = out.attributes();
            Ok(Some(TopicActual {
                policy: attributes.and_then(|a| a.get("Policy")).cloned(),
                confirmed_subscriptions: attributes
                    .and_then(|a| a.get("SubscriptionsConfirmed"))
                    .and_then(|n| n.parse().ok())
                    .unwrap_or(0),
            }))
        }
        Err(e) if crate::setup::state::is_absent(e.code()) => Ok(None),
        Err(e) => Err(Error::from_sdk("sns:GetTopicAttributes", arn.to_owned(), e)),
    }
}

/// Creates the topic (a no-op when it exists) and sets its access policy.
pub async fn put_topic(
    sns: &aws_sdk_sns::Client,
    name: &str,
    arn: &str,
    policy: &Value,
    writes: &Writes,
) -> Result<()> {
    writes.add();
    sns.create_topic()
        .name(name)
        .send()
        .await
        .map_err(|e| Error::from_sdk("sns:CreateTopic", arn.to_owned(), e))?;
    writes.add();
    sns.set_topic_attributes()
        .topic_arn(arn)
        .attribute_name("Policy")
        .attribute_value(policy.to_string())
        .send()
        .await
        .map(|_| ())
        .map_err(|e| Error::from_sdk("sns:SetTopicAttributes", arn.to_owned(), e))
}

/// A bucket's notification configuration as S3 answers it.
pub type NotificationFound =
    aws_sdk_s3::operation::get_bucket_notification_configuration::GetBucketNotificationConfigurationOutput;

/// Whether a topic configuration is s3central's: its id, or the alerts topic (CloudFormation
/// cannot name a configuration, and writes one per event).
fn is_ours(t: &TopicConfiguration, topic_arn: &str) -> bool {
    t.id() == Some(ALERTS_NOTIFICATION_ID) || t.topic_arn() == topic_arn
}

/// The bucket's whole notification configuration (every destination the account keeps for
/// itself included), and s3central's part of it: the alerts topic and the events of every
/// configuration of it, sorted.
pub async fn read_notification(
    s3: &aws_sdk_s3::Client,
    bucket: &str,
    topic_arn: &str,
) -> Result<(NotificationFound, AlertsFound)> {
    let out = s3
        .get_bucket_notification_configuration()
        .bucket(bucket)
        .send()
        .await
        .map_err(|e| Error::from_sdk("GetBucketNotificationConfiguration", bucket.to_owned(), e))?;
    let ours: Vec<&TopicConfiguration> = out
        .topic_configurations()
        .iter()
        .filter(|t| is_ours(t, topic_arn))
        .collect();
    let found = ours.first().map(|first| {
        let mut events: Vec<String> = ours
            .iter()
            .flat_map(|t| t.events().iter().map(|e| e.as_str().to_owned()))
            .collect();
        events.sort_unstable();
        events.dedup();
        (first.topic_arn().to_owned(), events)
    });
    Ok((out, found))
}

/// Writes s3central's topic configuration into the bucket's notification configuration as
/// `found` ([`read_notification`]), every other destination kept (PutBucketNotificationConfiguration
/// replaces the whole of it). S3 checks that it may publish to the topic before it accepts this.
pub async fn put_notification(
    s3: &aws_sdk_s3::Client,
    bucket: &str,
    found: &NotificationFound,
    topic_arn: &str,
    events: &[&str],
    writes: &Writes,
) -> Result<()> {
    let ours = TopicConfiguration::builder()
        .id(ALERTS_NOTIFICATION_ID)
        .topic_arn(topic_arn)
        .set_events(Some(events.iter().map(|e| Event::from(*e)).collect()))
        .build()
        .map_err(|e| Error::Invalid(format!("alerts notification of {bucket}: {e}")))?;
    let topics: Vec<TopicConfiguration> = found
        .topic_configurations()
        .iter()
        .filter(|t| !is_ours(t, topic_arn))
        .cloned()
        .chain([ours])
        .collect();
    let config = NotificationConfiguration::builder()
        .set_topic_configurations(Some(topics))
        .set_queue_configurations(Some(found.queue_configurations().to_vec()))
        .set_lambda_function_configurations(Some(found.lambda_function_configurations().to_vec()))
        .set_event_bridge_configuration(found.event_bridge_configuration().cloned())
        .build();
    writes.add();
    s3.put_bucket_notification_configuration()
        .bucket(bucket)
        .notification_configuration(config)
        .send()
        .await
        .map(|_| ())
        .map_err(|e| Error::from_sdk("PutBucketNotificationConfiguration", bucket.to_owned(), e))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::setup::policy::{alerts_topic_policy, replication_alert_events};

    const TOPIC: &str = "arn:aws:sns:eu-west-1:123456789012:s3central-alerts";

    #[test]
    fn a_missing_topic_is_created_and_a_changed_policy_rewritten() {
        let policy = alerts_topic_policy(TOPIC, "o-abcd123456", &["111111111111".into()], None);
        assert_eq!(diff_topic(&policy, None)[0].action, Action::Create);
        let found = |p: &Value| TopicActual {
            policy: Some(p.to_string()),
            confirmed_subscriptions: 0,
        };
        assert!(diff_topic(&policy, Some(&found(&policy)))
            .iter()
            .all(|c| !c.is_change()));
        let other = alerts_topic_policy(TOPIC, "o-abcd123456", &[], None);
        assert_eq!(
            diff_topic(&policy, Some(&found(&other)))[1],
            Change {
                resource: Resource::AlertsTopicPolicy,
                action: Action::Update(vec!["policy".into()])
            }
        );
    }

    #[test]
    fn the_notification_names_what_differs() {
        let events = replication_alert_events(true);
        let ours = |topic: &str, events: &[&str]| -> AlertsFound {
            let mut e: Vec<String> = events.iter().map(|s| (*s).to_owned()).collect();
            e.sort();
            Some((topic.to_owned(), e))
        };
        assert_eq!(
            diff_notification(TOPIC, &events, &None).action,
            Action::Create
        );
        assert_eq!(
            diff_notification(TOPIC, &events, &ours(TOPIC, &events)).action,
            Action::Unchanged
        );
        assert_eq!(
            diff_notification(
                TOPIC,
                &events,
                &ours("arn:aws:sns:eu-west-1:1:x", &events[..1])
            )
            .action,
            Action::Update(vec!["topic".into(), "events".into()])
        );
        assert_eq!(events.len(), 2);
        assert_eq!(
            replication_alert_events(false),
            ["s3:Replication:OperationFailedReplication"]
        );
    }
}
