//! Onboarding: whether each account of the config (listed, or discovered in its OUs) is protected
//! yet, and why not, so an account added by automation but missing its stack is seen by `status`.

use serde::Serialize;

/// What `status` found for one account.
#[derive(Debug, Clone, Copy)]
pub struct Found<'a> {
    /// Why the account could not be read (no role to assume into it, no bucket, ...).
    pub error: Option<&'a str>,
    /// Its resources that are not as setup makes them.
    pub drift: &'a [String],
    /// Whether its bucket holds objects under the account prefix.
    pub has_objects: bool,
    /// Whether central holds anything under the account prefix (`None`: not asked).
    pub central_holds: Option<bool>,
}

/// Why the account is not protected yet; empty when it is: it can be read, nothing of setup's is
/// missing or different, and, when its bucket holds objects, central holds replicas of it.
pub fn not_protected_because(found: Found<'_>) -> Vec<String> {
    if let Some(error) = found.error {
        return vec![format!("cannot be read: {error}")];
    }
    let mut why = Vec::new();
    if !found.drift.is_empty() {
        why.push(format!("not as setup makes it: {}", found.drift.join(", ")));
    }
    if found.has_objects && found.central_holds == Some(false) {
        why.push("no replica in central".to_owned());
    }
    why
}

/// One account that is not protected yet.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct NotProtected {
    /// The account.
    pub account: String,
    /// Whether it was discovered in the configured OUs.
    pub discovered: bool,
    /// Why, from [`not_protected_because`].
    pub because: Vec<String>,
}

/// Every account of the config and its OUs, as `status` reports it (`record: "onboarding"`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Onboarding {
    /// Accounts set up by the config (listed and discovered).
    pub accounts: usize,
    /// Of those, discovered in the configured OUs.
    pub discovered: usize,
    /// Those not protected yet, in account order.
    pub not_protected: Vec<NotProtected>,
    /// Accounts of the configured OUs that the config excludes: never protected.
    pub excluded: Vec<String>,
}

impl Onboarding {
    /// One line for people.
    pub fn line(&self) -> String {
        let mut line = if self.not_protected.is_empty() {
            format!(
                "onboarding: all {} account(s) protected ({} discovered in the configured OUs)",
                self.accounts, self.discovered
            )
        } else {
            let each: Vec<String> = self
                .not_protected
                .iter()
                .map(|n| format!("{} ({})", n.account, n.because.join("; ")))
                .collect();
            format!(
                "onboarding: {} of {} account(s) NOT protected yet: {}",
                self.not_protected.len(),
                self.accounts,
                each.join(", ")
            )
        };
        if !self.excluded.is_empty() {
            let ids: Vec<&str> = self.excluded.iter().map(String::as_str).collect();
            line.push_str(&format!(
                "; excluded by the config, never protected: {}",
                ids.join(", ")
            ));
        }
        line
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn found<'a>(
        error: Option<&'a str>,
        drift: &'a [String],
        has_objects: bool,
        central_holds: Option<bool>,
    ) -> Found<'a> {
        Found {
            error,
            drift,
            has_objects,
            central_holds,
        }
    }

    #[test]
    fn an_account_is_protected_only_when_read_converged_and_replicated() {
        let none: Vec<String> = Vec::new();
        assert!(not_protected_because(found(None, &none, true, Some(true))).is_empty());
        // An empty bucket has nothing central could hold yet.
        assert!(not_protected_because(found(None, &none, false, Some(false))).is_empty());
        assert_eq!(
            not_protected_because(found(None, &none, true, Some(false))),
            ["no replica in central"]
        );
        let missing = vec!["replication rule".to_owned(), "replication role".to_owned()];
        assert_eq!(
            not_protected_because(found(None, &missing, true, Some(false))),
            [
                "not as setup makes it: replication rule, replication role",
                "no replica in central"
            ]
        );
        // An account that cannot be read says only that: nothing else is known of it.
        assert_eq!(
            not_protected_because(found(Some("AccessDenied"), &missing, true, Some(false))),
            ["cannot be read: AccessDenied"]
        );
    }

    #[test]
    fn the_line_names_each_account_not_protected_and_the_excluded() {
        let mut onboarding = Onboarding {
            accounts: 3,
            discovered: 2,
            not_protected: Vec::new(),
            excluded: Vec::new(),
        };
        assert_eq!(
            onboarding.line(),
            "onboarding: all 3 account(s) protected (2 discovered in the configured OUs)"
        );
        onboarding.not_protected.push(NotProtected {
            account: "111111111111".into(),
            discovered: true,
            because: vec!["no replica in central".into()],
        });
        onboarding.excluded.push("222222222222".into());
        assert_eq!(
            onboarding.line(),
            "onboarding: 1 of 3 account(s) NOT protected yet: 111111111111 (no replica in central); excluded by the config, never protected: 222222222222"
        );
    }
}
