//! Account ids and the key prefixes they own in the central bucket.

use std::fmt;
use std::str::FromStr;

use thiserror::Error;

/// A 12-digit AWS account id; the central bucket keeps each account's objects under `<id>/`.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct AccountId(String);

/// Why a string is not an account id.
#[derive(Debug, Error, PartialEq, Eq)]
#[error(
    "invalid account id {0:?}: an account id is 12 digits, e.g. 111111111111 or 1111-1111-1111"
)]
pub struct AccountIdError(pub String);

impl AccountId {
    /// The key prefix this account owns in the central bucket, `<id>/`.
    pub fn prefix(&self) -> String {
        format!("{}/", self.0)
    }

    /// The id as text.
    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// Reads an id as a person writes it: 12 digits, or the console's `1111-2222-3333`.
    pub fn parse_written(s: &str) -> Result<AccountId, AccountIdError> {
        let groups: Vec<&str> = s.split('-').collect();
        let console = groups.len() == 3 && groups.iter().all(|g| g.len() == 4);
        if console {
            if let Ok(id) = groups.concat().parse() {
                return Ok(id);
            }
        }
        s.parse().map_err(|_| AccountIdError(s.to_owned()))
    }

    /// Reads the account id out of a first-level prefix such as `111111111111/`, if it is one.
    pub fn from_prefix(prefix: &str) -> Option<AccountId> {
        prefix.strip_suffix('/').and_then(|id| id.parse().ok())
    }
}

impl FromStr for AccountId {
    type Err = AccountIdError;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        if s.len() == 12 && s.bytes().all(|b| b.is_ascii_digit()) {
            Ok(AccountId(s.to_owned()))
        } else {
            Err(AccountIdError(s.to_owned()))
        }
    }
}

impl fmt::Display for AccountId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn accepts_exactly_twelve_digits() {
        let id: AccountId = "111111111111".parse().unwrap();
        assert_eq!(id.prefix(), "111111111111/");
        for bad in [
            "",
            "11111111111",
            "1111111111111",
            "11111111111a",
            " 111111111111",
            "111111111111/",
            "１１１１１１１１１１１１",
        ] {
            assert_eq!(bad.parse::<AccountId>(), Err(AccountIdError(bad.into())));
        }
    }

    #[test]
    fn accepts_the_console_form_where_people_type_it() {
        let id = AccountId::parse_written("1942-0449-6635").unwrap();
        assert_eq!(id.as_str(), "194204496635");
        assert_eq!(
            AccountId::parse_written("194204496635").unwrap().as_str(),
            "194204496635"
        );
        for bad in [
            "1942-0449-663",
            "19420-449-6635",
            "1942-0449-663a",
            "1942--04496635",
            "-194204496635",
        ] {
            assert_eq!(
                AccountId::parse_written(bad),
                Err(AccountIdError(bad.into()))
            );
        }
        // The console form is for people: config files and prefixes keep the 12 digits only.
        assert!("1942-0449-6635".parse::<AccountId>().is_err());
    }

    #[test]
    fn reads_first_level_prefixes() {
        assert_eq!(
            AccountId::from_prefix("123456789012/").map(|a| a.to_string()),
            Some("123456789012".to_string())
        );
        assert_eq!(AccountId::from_prefix("123456789012x/"), None);
        assert_eq!(AccountId::from_prefix("logs/"), None);
        assert_eq!(AccountId::from_prefix("123456789012"), None);
    }
}
