//! Restore drills (`s3central drill`): the sample of keys a drill restores, its outcome and the
//! verdict, and the short Markdown summary an auditor reads.

use std::collections::BinaryHeap;

use serde::Serialize;
use sha2::{Digest, Sha256};

/// A uniform random sample of at most `n` keys from a stream of unknown length, in O(n) memory:
/// the `n` keys with the smallest keyed hash (a fresh seed per drill makes each drill's sample
/// different; the same seed gives the same sample).
#[derive(Debug)]
pub struct Sampler {
    n: usize,
    seed: u64,
    /// The `n` smallest (hash, key) seen, largest on top.
    kept: BinaryHeap<([u8; 8], String)>,
}

impl Sampler {
    /// A sampler keeping at most `n` keys.
    pub fn new(n: usize, seed: u64) -> Sampler {
        Sampler {
            n,
            seed,
            kept: BinaryHeap::new(),
        }
    }

    /// Offers one key.
    pub fn offer(&mut self, key: &str) {
        if self.n == 0 {
            return;
        }
        let digest = Sha256::new()
            .chain_update(self.seed.to_le_bytes())
            .chain_update(key.as_bytes())
            .finalize();
        let mut rank = [0u8; 8];
        rank.copy_from_slice(&digest[..8]);
        if self.kept.len() < self.n {
            self.kept.push((rank, key.to_owned()));
        } else if self.kept.peek().is_some_and(|(top, _)| rank < *top) {
            self.kept.pop();
            self.kept.push((rank, key.to_owned()));
        }
    }

    /// The sample.
    pub fn keys(self) -> std::collections::BTreeSet<String> {
        self.kept.into_iter().map(|(_, k)| k).collect()
    }
}

/// What a drill found: the summary line of its report and the source of its Markdown.
#[derive(Debug, Clone, Serialize)]
pub struct DrillResult {
    /// Always `drill`.
    pub record: &'static str,
    /// The account drilled.
    pub account: String,
    /// The state restored (RFC 3339).
    pub at: String,
    /// When the drill ran (RFC 3339).
    pub ran_at: String,
    /// Where it restored to (`s3://bucket/prefix`).
    pub scratch: String,
    /// Keys present at TIME.
    pub keys_at_time: u64,
    /// Keys restored (the sample, or all).
    pub sampled: u64,
    /// Copies made.
    pub copied: u64,
    /// Copies proven equal to central's version (checksum or bytes).
    pub verified: u64,
    /// Copies nothing could prove equal.
    pub unverified: u64,
    /// Keys that failed (copy or proof).
    pub failed: u64,
    /// Bytes copied.
    pub bytes: u64,
    /// Wall time of the restore.
    pub seconds: f64,
    /// Objects restored per second.
    pub objects_per_second: f64,
    /// Seconds from a canary write in the account's bucket to its replica in central (the
    /// replication lag of the newest object: the recovery point now); `None`: not measured.
    pub replication_lag_seconds: Option<f64>,
    /// Why the lag was not measured, or that the replica never came.
    pub replication_note: Option<String>,
    /// The canary was written and its replica never came (a failure, unlike "not measured").
    pub replication_failed: bool,
    /// Who read and wrote.
    pub identity: String,
    /// PASS or FAIL.
    pub verdict: &'static str,
}

impl DrillResult {
    /// PASS only when every sampled key was copied and proven, and the canary (when measured)
    /// arrived.
    pub fn judge(&mut self) {
        let canary_ok = !self.replication_failed;
        self.verdict = if self.failed == 0
            && self.unverified == 0
            && self.verified == self.copied
            && self.copied == self.sampled
            && canary_ok
        {
            "PASS"
        } else {
            "FAIL"
        };
    }

    /// The Markdown summary: what was tested, what was found, the verdict.
    pub fn markdown(&self) -> String {
        let lag = match (self.replication_lag_seconds, &self.replication_note) {
            (Some(s), _) => {
                format!("{s:.1} s (a canary written in the account's bucket reached central)")
            }
            (None, Some(note)) => format!("not measured: {note}"),
            (None, None) => "not measured".to_owned(),
        };
        format!(
            "# Restore drill: account {account}: {verdict}\n\n\
             | | |\n| --- | --- |\n\
             | Ran at | {ran_at} |\n\
             | State restored | {at} |\n\
             | Restored into | {scratch} |\n\
             | Keys at that time | {keys} |\n\
             | Keys restored | {sampled} |\n\
             | Copied | {copied} ({bytes} bytes) |\n\
             | Proven equal to the backup | {verified} |\n\
             | Not proven | {unverified} |\n\
             | Failed | {failed} |\n\
             | Restore rate | {rate:.1} objects/s over {seconds:.1} s |\n\
             | Replication lag (recovery point) | {lag} |\n\
             | Identity | {identity} |\n\n\
             Every restored object was compared with its version in the central backup by \
             full-object checksum, or by reading both and comparing SHA-256 where no checksum \
             compares. The per-key evidence is in the JSON lines report beside this file.\n",
            account = self.account,
            verdict = self.verdict,
            ran_at = self.ran_at,
            at = self.at,
            scratch = self.scratch,
            keys = self.keys_at_time,
            sampled = self.sampled,
            copied = self.copied,
            bytes = self.bytes,
            verified = self.verified,
            unverified = self.unverified,
            failed = self.failed,
            rate = self.objects_per_second,
            seconds = self.seconds,
            identity = self.identity,
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_sample_has_n_keys_from_the_input_and_follows_the_seed() {
        let keys: Vec<String> = (0..1000).map(|i| format!("k{i}")).collect();
        let sample = |seed| {
            let mut s = Sampler::new(10, seed);
            keys.iter().for_each(|k| s.offer(k));
            s.keys()
        };
        let (a, b) = (sample(1), sample(2));
        assert_eq!(a.len(), 10);
        assert!(a.iter().all(|k| keys.contains(k)));
        assert_eq!(a, sample(1), "the same seed, the same sample");
        assert_ne!(a, b, "another seed, another sample");
        let mut all = Sampler::new(5000, 3);
        keys.iter().for_each(|k| all.offer(k));
        assert_eq!(all.keys().len(), 1000, "n above the input keeps everything");
    }

    fn result() -> DrillResult {
        DrillResult {
            record: "drill",
            account: "111111111111".into(),
            at: "2026-12-01T10:46:07Z".into(),
            ran_at: "2026-12-07T22:00:00Z".into(),
            scratch: "s3://scratch/drill/".into(),
            keys_at_time: 10,
            sampled: 3,
            copied: 3,
            verified: 3,
            unverified: 0,
            failed: 0,
            bytes: 30,
            seconds: 1.0,
            objects_per_second: 3.0,
            replication_lag_seconds: Some(2.0),
            replication_note: None,
            replication_failed: false,
            identity: "x".into(),
            verdict: "",
        }
    }

    #[test]
    fn only_every_key_proven_and_a_canary_that_arrived_pass() {
        let mut r = result();
        r.judge();
        assert_eq!(r.verdict, "PASS");
        let mut unmeasured = result();
        unmeasured.replication_lag_seconds = None;
        unmeasured.replication_note = Some("the config does not list the account".into());
        unmeasured.judge();
        assert_eq!(
            unmeasured.verdict, "PASS",
            "not measured is said, not failed"
        );
        assert!(r
            .markdown()
            .starts_with("# Restore drill: account 111111111111: PASS"));
        for spoil in [
            |r: &mut DrillResult| r.failed = 1,
            |r: &mut DrillResult| r.unverified = 1,
            |r: &mut DrillResult| r.verified = 2,
            |r: &mut DrillResult| {
                r.replication_lag_seconds = None;
                r.replication_note = Some("no replica after 60 s".into());
                r.replication_failed = true;
            },
        ] {
            let mut r = result();
            spoil(&mut r);
            r.judge();
            assert_eq!(r.verdict, "FAIL", "{r:?}");
        }
    }
}
