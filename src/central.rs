//! What the central bucket holds as a whole: its account prefixes, and whether it holds an account.

use crate::account::AccountId;
use crate::error::{Error, Result};
use crate::listing::list_common_prefixes;

/// How many account ids a "no such account" message names; the rest are counted.
pub const ACCOUNTS_SHOWN: usize = 20;

/// The accounts backed up in `bucket`: its first-level prefixes that are account ids, over every
/// version (an account whose objects are all deleted is still there).
pub async fn accounts(s3: &aws_sdk_s3::Client, bucket: &str) -> Result<Vec<AccountId>> {
    Ok(list_common_prefixes(s3, bucket, "")
        .await?
        .iter()
        .filter_map(|p| AccountId::from_prefix(p))
        .collect())
}

/// Whether `bucket` holds any version or delete marker under the account's prefix (one request).
pub async fn holds_account(
    s3: &aws_sdk_s3::Client,
    bucket: &str,
    account: &AccountId,
) -> Result<bool> {
    let prefix = account.prefix();
    let page = s3
        .list_object_versions()
        .bucket(bucket)
        .prefix(&prefix)
        .max_keys(1)
        .send()
        .await
        .map_err(|e| {
            Error::from_sdk("ListObjectVersions", format!("s3://{bucket}/{prefix}"), e)
                .with_bucket_hint(bucket, "--central-bucket / S3CENTRAL_BUCKET")
        })?;
    Ok(!page.versions().is_empty() || !page.delete_markers().is_empty())
}

/// Refuses an account that `bucket` does not hold, naming the accounts it does: a mistyped id
/// must not read as "nothing happened to this account".
pub async fn require_account(
    s3: &aws_sdk_s3::Client,
    bucket: &str,
    account: &AccountId,
) -> Result<()> {
    if holds_account(s3, bucket, account).await? {
        return Ok(());
    }
    let held = accounts(s3, bucket).await?;
    let under = format!("s3://{bucket}/{}", account.prefix());
    Err(Error::Refused(accounts_message(&under, account, &held)))
}

/// The message naming the accounts in central, at most [`ACCOUNTS_SHOWN`] of them.
pub fn accounts_message(under: &str, account: &AccountId, accounts: &[AccountId]) -> String {
    if accounts.is_empty() {
        return format!("nothing under {under}: the central bucket holds no account prefixes");
    }
    let shown: Vec<String> = accounts
        .iter()
        .take(ACCOUNTS_SHOWN)
        .map(ToString::to_string)
        .collect();
    let more = match accounts.len().saturating_sub(ACCOUNTS_SHOWN) {
        0 => String::new(),
        n => format!(" and {n} more (s3central ls)"),
    };
    format!(
        "nothing under {under}: no account {account} in central; it holds {}{more}",
        shown.join(", ")
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn accounts_message_is_bounded() {
        let ids: Vec<AccountId> = (0..25)
            .map(|i| format!("{:012}", 100_000_000_000u64 + i).parse().unwrap())
            .collect();
        let asked: AccountId = "999999999999".parse().unwrap();
        let m = accounts_message("s3://c/999999999999/", &asked, &ids);
        assert!(m.contains("no account 999999999999"), "{m}");
        assert!(m.contains("100000000000, 100000000001"), "{m}");
        assert!(m.contains("100000000019"), "{m}");
        assert!(!m.contains("100000000020"), "{m}");
        assert!(m.contains("and 5 more"), "{m}");
        assert!(accounts_message("u", &asked, &[]).contains("no account prefixes"));
    }
}
