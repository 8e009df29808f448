"""S3 replication for the test server (moto 5.1.22): what S3 does after a write in a bucket that
has a replication configuration. Installed by moto_ext.install(); the controls are described in
moto_ext/__init__.py.

Written from AWS's documentation (read for this, not from memory):

  [WHAT]   What does Amazon S3 replicate?
           https://docs.aws.amazon.com/AmazonS3/latest/userguide/replication-what-is-isnot-replicated.html
  [STATUS] Getting replication status information
           https://docs.aws.amazon.com/AmazonS3/latest/userguide/replication-status.html
  [KMS]    Replicating encrypted objects (SSE-S3, SSE-KMS, DSSE-KMS, SSE-C)
           https://docs.aws.amazon.com/AmazonS3/latest/userguide/replication-config-for-kms-objects.html
  [DMR]    Replicating delete markers between buckets
           https://docs.aws.amazon.com/AmazonS3/latest/userguide/delete-marker-replication.html
  [RULE]   ReplicationRule / DeleteMarkerReplication / SseKmsEncryptedObjects in the S3 API reference
           https://docs.aws.amazon.com/AmazonS3/latest/API/API_ReplicationRule.html
  [EVENTS] Receiving replication failure events with Amazon S3 Event Notifications
           https://docs.aws.amazon.com/AmazonS3/latest/userguide/replication-metrics-events.html
           and Event message structure
           https://docs.aws.amazon.com/AmazonS3/latest/userguide/notification-content-structure.html

What is emulated, with the line of the documentation it follows:
- [WHAT] "Objects created after you add a replication configuration": a version is judged when it
  is written, against the configuration in force then; versions written before are left alone
  (only Batch Replication, moto_ext/batch.py, replicates them).
- [WHAT] object metadata, object tags ("Object tags, if there are any"), Object Lock retention
  information; the replica keeps the source's key, version id, LastModified and ETag.
- [STATUS] the source version answers x-amz-replication-status PENDING, then COMPLETED or FAILED
  (FAILED here: destination bucket missing, not versioned, or its replica KMS key missing or
  disabled); the replica answers REPLICA. With several destinations the source stays PENDING
  until all are done and is FAILED if one failed. Only versions eligible for replication carry the
  header at all ("returns the x-amz-replication-status header if the object in your request is
  eligible for replication").
- [WHAT] replicas are not replicated again (no chaining): a REPLICA is never a source.
- [DMR]/[WHAT] "By default, when S3 Replication is enabled and an object is deleted in the source
  bucket, Amazon S3 adds a delete marker in the source bucket only"; with DeleteMarkerReplication
  Enabled the marker is copied (same version id and LastModified). "Delete marker replication isn't
  supported for tag-based replication rules." A DELETE with a version id is never replicated
  ("it doesn't replicate the deletion in the destination bucket ... protects data from malicious
  deletions"). V1 configurations (rule-level Prefix, no Filter) replicate delete markers: that is
  the earlier behaviour the backward-compatibility notes describe.
- [KMS] SSE-KMS objects are replicated only when the rule's SourceSelectionCriteria
  SseKmsEncryptedObjects is Enabled; the replica is encrypted with the rule's ReplicaKmsKeyID.
  Other objects keep their kind of encryption; an unencrypted source takes the destination
  bucket's default encryption.
- [RULE] Filter forms: rule-level Prefix (V1), Filter.Prefix, Filter.Tag, Filter.And (Prefix and
  Tags). When two enabled rules send the same object to the same destination, the rule with the
  highest Priority wins; different destinations each get a replica.
- Destination.StorageClass sets the replica's storage class (default: the source's).
- [WHAT] objects in the archive classes (GLACIER, DEEP_ARCHIVE) are not replicated.
- Tag changes on a replicated version (PutObjectTagging, DeleteObjectTagging) are replicated to
  its replica (ReplicateTags), the source going PENDING then COMPLETED again.
- [EVENTS] When an object's replication FAILS and its rule has S3 Replication metrics enabled
  (Destination.Metrics Status Enabled: "To receive ... OperationFailedReplication events, you must
  enable S3 Replication metrics or S3 RTC"), every topic configuration of the source bucket whose
  events match s3:Replication:OperationFailedReplication (or s3:Replication:*) and whose key filter
  matches receives one event record: eventName "Replication:OperationFailedReplication", the
  bucket and object, and replicationEventData (replicationRuleId, destinationBucket, s3Operation,
  requestTime, failureReason). It is published to the topic's own account and region, as its ARN
  says (the central account's topic; moto's own S3 events publish only into the bucket's account).

What is not emulated: permissions (the role, bucket policies, KMS key policies are not
evaluated: only the existence and state of the replica key is checked), ACL sync, replica
modification sync, RTC timing and metrics, S3 Lifecycle actions, existing-object replication
(ExistingObjectReplication), SSE-C.
"""

from __future__ import annotations

import copy
import datetime
import os
import random
import threading
import time
from dataclasses import dataclass, field
from typing import Any, Optional

import moto.s3.models as s3models
import moto.s3.responses as s3responses
from moto.s3.models import FakeDeleteMarker, FakeKey, s3_backends

# ---------------------------------------------------------------------------------------------
# One lock per bucket for every change to its versions and every listing of them. moto serves
# requests in threads and its version lists are read-modify-written (put_object builds a new list
# and stores it); the replicator writes from its own thread, so without a lock a replica could be
# lost or a listing could see the key dict change size during iteration. Per bucket, so listing
# one bucket never waits for writes into another (restores list central and write elsewhere).
_locks_guard = threading.Lock()
_bucket_locks: dict[str, threading.RLock] = {}


def bucket_lock(name: Optional[str]) -> threading.RLock:
    with _locks_guard:
        lock = _bucket_locks.get(name or "")
        if lock is None:
            lock = _bucket_locks[name or ""] = threading.RLock()
        return lock

ARCHIVE_CLASSES = {"GLACIER", "DEEP_ARCHIVE"}
STATUS_ATTR = "_s3c_replication_status"  # None | PENDING | COMPLETED | FAILED | REPLICA
DEST_ATTR = "_s3c_replication_dests"  # {destination bucket: PENDING | COMPLETED | FAILED}


# ---------------------------------------------------------------------------------------------
# Stored order. S3 lists a key's versions in the order they were stored, newest first; a replica
# that arrives late is stored late, whatever its LastModified. moto 5.1.22 sorts a key's versions
# by LastModified instead (moto.s3.models.list_object_versions sorts on
# unix_time_millis(last_modified)). Every version's timestamp here is a _Stamped datetime that also
# carries the moment it was stored, and the sort key function moto calls returns that moment, so
# ListObjectVersions and GET/HEAD (the last stored version) agree, as on S3.
class _Stamped(datetime.datetime):
    """A datetime (LastModified as shown) that remembers when its version was stored."""

    _s3c_stored_us: int = 0

    def __reduce_ex__(self, protocol: Any) -> Any:  # survive moto's deepcopy of versions
        return (_restamp, (datetime.datetime(*self.timetuple()[:6], self.microsecond,
                                             self.tzinfo), self._s3c_stored_us))


def _restamp(dt: datetime.datetime, stored_us: int) -> _Stamped:
    s = _Stamped(dt.year, dt.month, dt.day, dt.hour, dt.minute, dt.second, dt.microsecond,
                 dt.tzinfo)
    s._s3c_stored_us = stored_us
    return s


_seq_lock = threading.Lock()
_last_stored_us = 0


def _next_stored_us() -> int:
    """Microseconds since the epoch, strictly increasing across calls."""
    global _last_stored_us
    with _seq_lock:
        _last_stored_us = max(_last_stored_us + 1, time.time_ns() // 1000)
        return _last_stored_us


_orig_utcnow = s3models.utcnow
_orig_unix_time_millis = s3models.unix_time_millis


def _stamped_utcnow() -> datetime.datetime:
    return _restamp(_orig_utcnow(), _next_stored_us())


def _stored_order(dt: Optional[datetime.datetime] = None) -> float:
    # Called by moto's sort as -unix_time_millis(version.last_modified): return microseconds of
    # storage (same unit for stamped and plain datetimes, so the two can be mixed).
    stored = getattr(dt, "_s3c_stored_us", None)
    if stored:
        return float(stored)
    return _orig_unix_time_millis(dt) * 1000.0


# ---------------------------------------------------------------------------------------------
# Reading a replication configuration (as moto stores it: xmltodict of the PUT body).
def _as_list(v: Any) -> list:
    if v is None:
        return []
    return v if isinstance(v, list) else [v]


@dataclass
class Rule:
    rule_id: str
    priority: int
    enabled: bool
    prefix: str
    tags: dict[str, str]
    v2: bool  # has a Filter element (V2 configuration)
    delete_markers: bool
    sse_kms: bool
    dest_bucket: str
    storage_class: Optional[str]
    replica_kms_key: Optional[str]
    owner_override: bool
    order: int  # position in the configuration (tie-breaker)
    metrics: bool = False  # Destination.Metrics Status Enabled ([EVENTS] needs it)

    def matches_key(self, key: str) -> bool:
        return key.startswith(self.prefix)

    def matches_tags(self, tags: dict[str, str]) -> bool:
        return all(tags.get(k) == v for k, v in self.tags.items())


def parse_rules(config: Optional[dict[str, Any]]) -> list[Rule]:
    rules = []
    if not config:
        return rules
    for i, r in enumerate(_as_list(config.get("Rule"))):
        if not isinstance(r, dict):
            continue
        tags: dict[str, str] = {}
        if "Filter" in r:
            v2 = True
            f = r.get("Filter") or {}
            if "And" in f:
                a = f.get("And") or {}
                prefix = a.get("Prefix") or ""
                for t in _as_list(a.get("Tag")):
                    tags[t.get("Key") or ""] = t.get("Value") or ""
            else:
                prefix = f.get("Prefix") or ""
                for t in _as_list(f.get("Tag")):
                    tags[t.get("Key") or ""] = t.get("Value") or ""
        else:
            v2 = False
            prefix = r.get("Prefix") or ""
        dmr = ((r.get("DeleteMarkerReplication") or {}).get("Status") or "") == "Enabled"
        if not v2:
            dmr = True  # V1: delete markers are replicated (backward-compatibility behaviour)
        if tags:
            dmr = False  # [DMR] not supported for tag-based rules
        ssc = (r.get("SourceSelectionCriteria") or {}).get("SseKmsEncryptedObjects") or {}
        d = r.get("Destination") or {}
        dest = str(d.get("Bucket") or "")
        if dest.startswith("arn:"):
            dest = dest.split(":::", 1)[-1]
        try:
            priority = int(r.get("Priority") or 0)
        except ValueError:
            priority = 0
        rules.append(Rule(
            rule_id=str(r.get("ID") or ""),
            priority=priority,
            enabled=(r.get("Status") == "Enabled"),
            prefix=prefix,
            tags=tags,
            v2=v2,
            delete_markers=dmr,
            sse_kms=(ssc.get("Status") == "Enabled"),
            dest_bucket=dest,
            storage_class=d.get("StorageClass") or None,
            replica_kms_key=(d.get("EncryptionConfiguration") or {}).get("ReplicaKmsKeyID"),
            owner_override=bool(d.get("AccessControlTranslation")),
            order=i,
            metrics=((d.get("Metrics") or {}).get("Status") == "Enabled"),
        ))
    return rules


def _winning_rules(candidates: list[Rule]) -> list[Rule]:
    """One rule per destination bucket: the highest Priority (then the first listed)."""
    best: dict[str, Rule] = {}
    for r in candidates:
        cur = best.get(r.dest_bucket)
        if cur is None or (r.priority, -r.order) > (cur.priority, -cur.order):
            best[r.dest_bucket] = r
    return list(best.values())


# ---------------------------------------------------------------------------------------------
# Finding buckets and tags across accounts. Bucket names are global; moto keeps one backend per
# account and maps a name to its owner in s3_backends.bucket_accounts.
def find_bucket(name: str) -> Optional[Any]:
    owner = s3_backends.bucket_accounts.get(name)
    if not owner:
        return None
    partition, account = owner
    return s3_backends[account][partition].buckets.get(name)


def owner_backend(bucket: Any) -> Any:
    return s3_backends[bucket.account_id][bucket.partition]


def tags_of(key: FakeKey) -> dict[str, str]:
    """A version's tags. moto files tags under the backend (account) that wrote them, which is the
    key's account_id for a put; fall back to the bucket owner's."""
    try:
        t = s3_backends[key.account_id][key.partition].tagger.get_tag_dict_for_resource(key.arn)
        if t:
            return dict(t)
        b = find_bucket(key.bucket_name)
        if b is not None:
            return dict(owner_backend(b).tagger.get_tag_dict_for_resource(key.arn))
    except Exception:
        pass
    return {}


def version_of(bucket: Any, key_name: str, version_id: str) -> Any:
    for v in bucket.keys.getlist(key_name, []) or []:
        if str(v.version_id) == str(version_id):
            return v
    return None


def _kms_key_problem(key_id: str, dest_bucket: Any) -> Optional[str]:
    """Why a replica key is unusable (missing, disabled, pending deletion), or None. Only a
    positive finding fails a replication; key policies are not evaluated."""
    if os.environ.get("MOTO_REPLICATION_CHECK_KMS", "1").lower() in ("0", "false", "no"):
        return None
    try:
        from moto.kms.models import kms_backends
        account, region = dest_bucket.account_id, dest_bucket.region_name
        if key_id.startswith("arn:"):
            parts = key_id.split(":")
            region, account = parts[3], parts[4]
        backend = kms_backends[account][region]
        try:
            kid = backend.any_id_to_key_id(key_id)
        except Exception:
            return f"KMS key {key_id} not found"
        k = backend.keys.get(kid)
        if k is None:
            return f"KMS key {key_id} not found"
        if not getattr(k, "enabled", True) or getattr(k, "key_state", "Enabled") != "Enabled":
            return f"KMS key {key_id} is {getattr(k, 'key_state', 'disabled')}"
    except Exception:
        return None
    return None


# ---------------------------------------------------------------------------------------------
# Delivery queue.
@dataclass
class Task:
    kind: str  # "object" | "tags" | "marker"
    src_bucket: str
    key: str
    version_id: str
    dest_bucket: str
    rule: Rule
    due: float
    seq: int
    done: threading.Event = field(default_factory=threading.Event)
    error: Optional[str] = None


def _env_int(name: str, default: int) -> int:
    try:
        return int(os.environ.get(name, default))
    except ValueError:
        return default


class Replicator:
    def __init__(self) -> None:
        self.cond = threading.Condition()
        self.tasks: list[Task] = []
        self.inflight = 0
        self.seq = 0
        self.delivered = 0
        self.failed = 0
        self.paused = os.environ.get("MOTO_REPLICATION_PAUSED", "").lower() in ("1", "true")
        self.delay_ms = _env_int("MOTO_REPLICATION_DELAY_MS", 100)
        self.order = os.environ.get("MOTO_REPLICATION_ORDER", "fifo").lower()
        self.fail_prefix: Optional[str] = os.environ.get("MOTO_REPLICATION_FAIL_PREFIX") or None
        seed = os.environ.get("MOTO_REPLICATION_SEED")
        self.rng = random.Random(int(seed)) if seed else random.Random()
        self.enabled = os.environ.get("MOTO_REPLICATION", "1").lower() not in ("0", "false")
        self.thread: Optional[threading.Thread] = None

    # --- controls -----------------------------------------------------------------------------
    def start(self) -> None:
        if self.thread is None:
            self.thread = threading.Thread(target=self._run, name="s3c-replicator", daemon=True)
            self.thread.start()

    def configure(self, delay_ms: Optional[int] = None, order: Optional[str] = None,
                  paused: Optional[bool] = None, fail_prefix: Any = ...,
                  seed: Optional[int] = None) -> None:
        with self.cond:
            if delay_ms is not None:
                self.delay_ms = max(0, int(delay_ms))
            if order is not None:
                if order not in ("fifo", "shuffle", "reverse"):
                    raise ValueError("order must be fifo, shuffle or reverse")
                self.order = order
            if paused is not None:
                if self.paused and not paused:
                    # Resuming releases everything queued at once (as if every delay had
                    # passed), so the order mode alone decides the order of those replicas.
                    now = time.monotonic()
                    for t in self.tasks:
                        t.due = min(t.due, now)
                self.paused = paused
            if fail_prefix is not ...:
                self.fail_prefix = fail_prefix or None
            if seed is not None:
                self.rng = random.Random(seed)
            self.cond.notify_all()

    def state(self) -> dict[str, Any]:
        with self.cond:
            return {"pending": len(self.tasks) + self.inflight, "queued": len(self.tasks),
                    "inflight": self.inflight, "delivered": self.delivered,
                    "failed": self.failed, "paused": self.paused, "order": self.order,
                    "delay_ms": self.delay_ms, "fail_prefix": self.fail_prefix,
                    "enabled": self.enabled}

    def drain(self, timeout: float) -> dict[str, Any]:
        """Wait until nothing is pending (or timeout, or paused with work queued)."""
        deadline = time.monotonic() + timeout
        with self.cond:
            while self.tasks or self.inflight:
                if self.paused and not self.inflight:
                    break
                left = deadline - time.monotonic()
                if left <= 0:
                    break
                self.cond.wait(min(left, 0.05))
        st = self.state()
        st["drained"] = st["pending"] == 0
        return st

    def reset(self) -> None:
        with self.cond:
            for t in self.tasks:
                t.error = "reset"
                t.done.set()
            self.tasks.clear()
            self.delivered = self.failed = 0
            self.cond.notify_all()

    # --- intake -------------------------------------------------------------------------------
    def _enqueue(self, kind: str, src_bucket: str, key: str, version_id: str, rule: Rule,
                 delay_ms: Optional[int] = None) -> Task:
        with self.cond:
            self.seq += 1
            d = (self.delay_ms if delay_ms is None else delay_ms) / 1000.0
            if self.order == "shuffle" and d > 0:
                d *= self.rng.uniform(0.2, 2.0)  # S3 does not promise order
            t = Task(kind, src_bucket, key, version_id, rule.dest_bucket, rule,
                     time.monotonic() + d, self.seq)
            self.tasks.append(t)
            self.cond.notify_all()
            return t

    def plan(self, bucket: Any, version: Any, for_batch: bool = False) -> list[Rule]:
        """The rules (one per destination) under which this version is replicated; [] when it is
        not eligible."""
        rules = [r for r in parse_rules(getattr(bucket, "replication", None)) if r.enabled]
        if not rules:
            return []
        if isinstance(version, FakeDeleteMarker):
            # [DMR]: a marker follows the winning rule for its destination, if that rule
            # replicates markers; markers carry no tags, so tag rules never match them.
            cands = [r for r in rules if r.matches_key(version.name) and not r.tags]
            return [r for r in _winning_rules(cands) if r.delete_markers]
        if getattr(version, STATUS_ATTR, None) == "REPLICA" and not for_batch:
            return []  # [WHAT] no chaining: a replica is not a source
        if (version.storage_class or "STANDARD") in ARCHIVE_CLASSES:
            return []  # [WHAT] archive storage classes are not replicated
        tags = tags_of(version)
        kms = (version.encryption or "").startswith("aws:kms")
        cands = [r for r in rules if r.matches_key(version.name) and r.matches_tags(tags)
                 and (r.sse_kms or not kms)]  # [KMS] SSE-KMS only when the rule opts in
        return _winning_rules(cands)

    def on_new_version(self, bucket_name: str, version: Any) -> None:
        if not self.enabled:
            return
        bucket = find_bucket(bucket_name)
        if bucket is None:
            return
        rules = self.plan(bucket, version)
        if not rules:
            return
        if isinstance(version, FakeDeleteMarker):
            for r in rules:
                self._enqueue("marker", bucket_name, version.name, version.version_id, r)
            return
        setattr(version, DEST_ATTR, {r.dest_bucket: "PENDING" for r in rules})
        setattr(version, STATUS_ATTR, "PENDING")
        for r in rules:
            self._enqueue("object", bucket_name, version.name, version.version_id, r)

    def on_tags_changed(self, bucket_name: str, version: Any) -> None:
        if not self.enabled or not isinstance(version, FakeKey):
            return
        status = getattr(version, STATUS_ATTR, None)
        dests = dict(getattr(version, DEST_ATTR, None) or {})
        if status in (None, "REPLICA") or not dests:
            return
        bucket = find_bucket(bucket_name)
        if bucket is None:
            return
        rules = {r.dest_bucket: r for r in self.plan(bucket, version, for_batch=True)}
        for dest, st in dests.items():
            if st == "COMPLETED" and dest in rules:
                dests[dest] = "PENDING"
                self._enqueue("tags", bucket_name, version.name, version.version_id,
                              rules[dest])
            # PENDING: the queued object task reads the current tags when it runs.
        setattr(version, DEST_ATTR, dests)
        setattr(version, STATUS_ATTR, _aggregate(dests))

    def replicate_now(self, bucket_name: str, version: Any) -> tuple[bool, str]:
        """Batch Replication of one version, synchronously: (succeeded, message)."""
        bucket = find_bucket(bucket_name)
        if bucket is None:
            return False, "NoSuchBucket"
        rules = self.plan(bucket, version, for_batch=True)
        if not rules:
            return False, "the object is not eligible for replication under the current rules"
        if not isinstance(version, FakeDeleteMarker):
            setattr(version, DEST_ATTR, {r.dest_bucket: "PENDING" for r in rules})
            setattr(version, STATUS_ATTR, "PENDING")
        errors = []
        for r in rules:
            kind = "marker" if isinstance(version, FakeDeleteMarker) else "object"
            t = Task(kind, bucket_name, version.name, version.version_id, r.dest_bucket, r,
                     0.0, 0)
            self._deliver(t)
            if t.error:
                errors.append(f"{r.dest_bucket}: {t.error}")
        return (not errors), ("; ".join(errors) if errors else "Successful")

    # --- the worker ---------------------------------------------------------------------------
    def _pick(self) -> Optional[Task]:
        now = time.monotonic()
        ready = [t for t in self.tasks if t.due <= now]
        if not ready:
            return None
        if self.order == "reverse":
            t = max(ready, key=lambda x: x.seq)
        elif self.order == "shuffle":
            t = self.rng.choice(ready)
        else:
            t = min(ready, key=lambda x: x.seq)
        self.tasks.remove(t)
        return t

    def _run(self) -> None:
        while True:
            with self.cond:
                t = None
                while t is None:
                    if not self.paused:
                        t = self._pick()
                    if t is None:
                        wait = 0.5
                        if self.tasks and not self.paused:
                            wait = max(0.001, min(x.due for x in self.tasks) - time.monotonic())
                        self.cond.wait(min(wait, 0.5))
                self.inflight += 1
            try:
                self._deliver(t)
            except Exception as e:  # never let the worker die
                t.error = f"internal: {e!r}"
            finally:
                with self.cond:
                    self.inflight -= 1
                    if t.error:
                        self.failed += 1
                    else:
                        self.delivered += 1
                    t.done.set()
                    self.cond.notify_all()

    def _deliver(self, t: Task) -> None:
        with bucket_lock(t.dest_bucket):
            src_bucket = find_bucket(t.src_bucket)
            src = version_of(src_bucket, t.key, t.version_id) if src_bucket is not None else None
            if src is None:
                t.error = "source version no longer exists"
                return  # deleted (by version id) before delivery: nothing to do, nothing to mark
            dest = find_bucket(t.dest_bucket)
            problem = None
            if dest is None:
                problem = f"destination bucket {t.dest_bucket} does not exist"
            elif not dest.is_versioned:
                problem = f"destination bucket {t.dest_bucket} is not versioned"
            elif self.fail_prefix is not None and t.key.startswith(self.fail_prefix):
                problem = f"injected failure (fail_prefix {self.fail_prefix!r})"
            elif (t.kind == "object" and t.rule.replica_kms_key
                  and (src.encryption or "").startswith("aws:kms")):
                problem = _kms_key_problem(t.rule.replica_kms_key, dest)
            if problem is None:
                try:
                    if t.kind == "marker":
                        _write_marker(src, dest)
                    elif t.kind == "tags":
                        _write_tags(src, dest)
                    else:
                        _write_replica(src, dest, t.rule)
                except Exception as e:
                    problem = f"internal error writing the replica: {e!r}"
            if problem is not None:
                t.error = problem
            if isinstance(src, FakeKey):
                dests = dict(getattr(src, DEST_ATTR, None) or {})
                dests[t.dest_bucket] = "FAILED" if problem else "COMPLETED"
                setattr(src, DEST_ATTR, dests)
                setattr(src, STATUS_ATTR, _aggregate(dests))
                if problem is not None and t.kind == "object" and src_bucket is not None:
                    _tell_failure(src_bucket, src, t.rule, problem)


FAILED_EVENT = "s3:Replication:OperationFailedReplication"


def _tell_failure(bucket: Any, version: FakeKey, rule: Rule, problem: str) -> None:
    """[EVENTS] The OperationFailedReplication event to each matching topic of the bucket."""
    config = getattr(bucket, "notification_configuration", None)
    if config is None or not rule.metrics:
        return
    import json

    from moto.sns.models import sns_backends

    now = datetime.datetime.now(datetime.timezone.utc).strftime("%Y-%m-%dT%H:%M:%S.%fZ")
    for n in config.topic:
        if not n.matches(FAILED_EVENT, version.name):
            continue
        record = {
            "eventVersion": "2.2",
            "eventSource": "aws:s3",
            "awsRegion": bucket.region_name,
            "eventTime": now,
            "eventName": FAILED_EVENT[len("s3:"):],
            "s3": {
                "s3SchemaVersion": "1.0",
                "configurationId": n.id,
                "bucket": {"name": bucket.name, "arn": f"arn:aws:s3:::{bucket.name}"},
                "object": {"key": version.name, "size": version.size,
                           "eTag": version.etag.strip('"'), "versionId": version.version_id},
            },
            "replicationEventData": {
                "replicationRuleId": rule.rule_id,
                "destinationBucket": f"arn:aws:s3:::{rule.dest_bucket}",
                "s3Operation": "OBJECT_PUT",
                "requestTime": now,
                "failureReason": problem,
            },
        }
        _, _, _, region, account, _ = (n.arn.split(":", 5) + [""] * 6)[:6]
        try:
            sns_backends[account][region].publish(
                message=json.dumps({"Records": [record]}), arn=n.arn, message_attributes={})
        except Exception:  # noqa: BLE001 - S3 delivers events asynchronously; a missing topic loses them
            pass


def _aggregate(dests: dict[str, str]) -> Optional[str]:
    vals = set(dests.values())
    if not vals:
        return None
    if "PENDING" in vals:
        return "PENDING"
    if "FAILED" in vals:
        return "FAILED"
    return "COMPLETED"


# ---------------------------------------------------------------------------------------------
# Writing into the destination bucket (always under its bucket_lock).
def _store(dest: Any, entry: Any) -> None:
    """Store a version at the end of its key's list (it arrives now), or replace a version with
    the same id in place (a batch re-replication)."""
    lst = list(dest.keys.getlist(entry.name, []) or [])
    for i, v in enumerate(lst):
        if str(v.version_id) == str(entry.version_id):
            lst[i] = entry
            dest.keys.setlist(entry.name, lst)
            return
    lst.append(entry)
    dest.keys.setlist(entry.name, lst)


def _write_replica(src: FakeKey, dest: Any, rule: Rule) -> None:
    backend = owner_backend(dest)
    if (src.encryption or "").startswith("aws:kms"):
        encryption, kms_key = src.encryption, rule.replica_kms_key or src.kms_key_id
    elif src.encryption:
        encryption, kms_key = src.encryption, None  # SSE-S3 stays SSE-S3
    elif dest.encryption:  # unencrypted source: the destination's default encryption
        d = dest.encryption["Rule"]["ApplyServerSideEncryptionByDefault"]
        encryption, kms_key = d.get("SSEAlgorithm"), d.get("KMSMasterKeyID")
    else:
        encryption, kms_key = None, None
    lock_mode, lock_until, legal = src.lock_mode, src.lock_until, src.lock_legal_status
    if not (lock_mode or lock_until) and dest.object_lock_enabled and dest.has_default_lock:
        lock_mode, lock_until = dest.default_lock_mode, dest.default_retention()
    replica = FakeKey(
        name=src.name,
        value=src.value,
        account_id=dest.account_id,
        region_name=dest.region_name,
        storage=rule.storage_class or src.storage_class or "STANDARD",
        etag=src._etag,
        is_versioned=True,
        version_id=src.version_id,
        multipart=None,
        bucket_name=dest.name,
        encryption=encryption,
        kms_key_id=kms_key,
        bucket_key_enabled=src.bucket_key_enabled,
        lock_mode=lock_mode,
        lock_legal_status=legal,
        lock_until=lock_until,
        checksum_value=src.checksum_value,
    )
    replica._etag = src._etag if src._etag is not None else src.etag.strip('"')
    replica._metadata = copy.deepcopy(src._metadata)  # Content-* headers and x-amz-meta-*
    replica.checksum_algorithm = src.checksum_algorithm
    replica.website_redirect_location = src.website_redirect_location
    replica.acl = (s3models.get_canned_acl("bucket-owner-full-control")
                   if rule.owner_override else copy.deepcopy(src.acl))
    # Same LastModified as the source version, stored now.
    replica.last_modified = _restamp(src.last_modified, _next_stored_us())
    setattr(replica, STATUS_ATTR, "REPLICA")
    tags = tags_of(src)
    backend.tagger.delete_all_tags_for_resource(replica.arn)
    if tags:
        backend.tagger.tag_resource(replica.arn, backend.tagger.convert_dict_to_tags_input(tags))
    _store(dest, replica)


def _write_tags(src: FakeKey, dest: Any) -> None:
    replica = version_of(dest, src.name, src.version_id)
    if replica is None or not isinstance(replica, FakeKey):
        raise RuntimeError(f"replica {src.name} {src.version_id} not in {dest.name}")
    backend = owner_backend(dest)
    backend.tagger.delete_all_tags_for_resource(replica.arn)
    tags = tags_of(src)
    if tags:
        backend.tagger.tag_resource(replica.arn, backend.tagger.convert_dict_to_tags_input(tags))


def _write_marker(src: FakeDeleteMarker, dest: Any) -> None:
    marker = object.__new__(FakeDeleteMarker)
    current = dest.keys.get(src.name)
    marker.key = current if current is not None else src.key
    marker.name = src.name
    marker._version_id = src.version_id
    marker.last_modified = _restamp(src.last_modified, _next_stored_us())
    setattr(marker, STATUS_ATTR, "REPLICA")
    _store(dest, marker)


REPLICATOR = Replicator()


# ---------------------------------------------------------------------------------------------
# Hooks into moto. Writes are noticed in the backend (every path that creates a version goes
# through S3Backend.put_object or _set_delete_marker), collected per request, and judged when the
# request is done, so metadata and tags set after put_object by the same request are seen.
_tls = threading.local()


class request_scope:
    """Collect this thread's writes; judge them when the outermost scope exits."""

    def __enter__(self) -> "request_scope":
        depth = getattr(_tls, "depth", 0)
        if depth == 0:
            _tls.events = []
        _tls.depth = depth + 1
        return self

    def __exit__(self, *exc: Any) -> None:
        _tls.depth -= 1
        if _tls.depth == 0:
            events, _tls.events = _tls.events, None
            _judge(events)


def _record(kind: str, bucket_name: str, entry: Any) -> None:
    events = getattr(_tls, "events", None)
    if events is None:
        _judge([(kind, bucket_name, entry)])
    else:
        events.append((kind, bucket_name, entry))


def _judge(events: list) -> None:
    new = set()
    for kind, bucket_name, entry in events:
        if kind in ("put", "marker"):
            new.add(id(entry))
    seen = set()
    for kind, bucket_name, entry in events:
        try:
            if kind in ("put", "marker"):
                if id(entry) in seen:
                    continue
                seen.add(id(entry))
                REPLICATOR.on_new_version(bucket_name, entry)
            elif kind == "tags" and id(entry) not in new and id(entry) not in seen:
                seen.add(id(entry))
                REPLICATOR.on_tags_changed(bucket_name, entry)
        except Exception as e:  # the emulation must never break the request
            print(f"[moto_ext.replication] ignored error judging {kind} {bucket_name}: {e!r}")


def _wrap_scoped(cls: Any, name: str) -> None:
    orig = getattr(cls, name)

    def wrapper(self: Any, *a: Any, **kw: Any) -> Any:
        with request_scope():
            return orig(self, *a, **kw)

    wrapper.__wrapped__ = orig  # type: ignore[attr-defined]
    setattr(cls, name, wrapper)


def _bucket_arg(*a: Any, **kw: Any) -> Optional[str]:
    b = kw.get("bucket_name", kw.get("bucket", a[0] if a else None))
    return b if isinstance(b, str) or b is None else getattr(b, "name", None)  # name or FakeBucket


def _key_bucket_arg(*a: Any, **kw: Any) -> Optional[str]:
    key = kw.get("key", a[0] if a else None)
    return getattr(key, "bucket_name", None)


def _wrap_locked(cls: Any, name: str, after: Any = None, before: Any = None,
                 name_of: Any = _bucket_arg) -> None:
    orig = getattr(cls, name)

    def wrapper(self: Any, *a: Any, **kw: Any) -> Any:
        ctx = before(self, *a, **kw) if before else None
        with bucket_lock(name_of(*a, **kw)):
            result = orig(self, *a, **kw)
        if after:
            after(self, result, ctx, *a, **kw)
        return result

    wrapper.__wrapped__ = orig  # type: ignore[attr-defined]
    setattr(cls, name, wrapper)


def _after_put(backend: Any, key: Any, ctx: Any, *a: Any, **kw: Any) -> None:
    bucket_name = kw.get("bucket_name", a[0] if a else None)
    if key is not None and bucket_name:
        _record("put", bucket_name, key)


def _after_marker(backend: Any, marker: Any, ctx: Any, bucket_name: str, *a: Any, **kw: Any):
    _record("marker", bucket_name, marker)


def _after_put_tags(backend: Any, result: Any, ctx: Any, *a: Any, **kw: Any) -> None:
    key = kw.get("key", a[0] if a else None)
    if isinstance(key, FakeKey) and key.bucket_name:
        _record("tags", key.bucket_name, key)


def _before_delete_tags(backend: Any, bucket_name: str, key_name: str,
                        version_id: Optional[str] = None) -> Any:
    try:
        return backend.get_object(bucket_name, key_name, version_id=version_id)
    except Exception:
        return None


def _after_delete_tags(backend: Any, result: Any, key: Any, bucket_name: str, *a: Any, **kw):
    if isinstance(key, FakeKey):
        _record("tags", bucket_name, key)


def _patch_response_dict() -> None:
    prop = FakeKey.response_dict
    orig_get = prop.fget

    def response_dict(self: FakeKey) -> dict[str, Any]:
        res = orig_get(self)
        status = getattr(self, STATUS_ATTR, None)
        if status:
            res["x-amz-replication-status"] = status  # [STATUS] on GET and HEAD
        return res

    FakeKey.response_dict = property(response_dict)  # type: ignore[assignment]


def _strip_status_from_write_responses() -> None:
    # PutObject / CopyObject answers carry no x-amz-replication-status on S3; moto builds them
    # from response_dict, so take it out there.
    for name in ("put_object", "copy_object"):
        orig = getattr(s3responses.S3Response, name)

        def wrapper(self: Any, *a: Any, __orig: Any = orig, **kw: Any) -> Any:
            status, headers, body = __orig(self, *a, **kw)
            if isinstance(headers, dict):
                headers.pop("x-amz-replication-status", None)
            return status, headers, body

        setattr(s3responses.S3Response, name, wrapper)


_installed = False


def install() -> None:
    global _installed
    if _installed:
        return
    _installed = True
    s3models.utcnow = _stamped_utcnow
    s3models.unix_time_millis = _stored_order
    B = s3models.S3Backend
    _wrap_locked(B, "put_object", after=_after_put)
    _wrap_locked(B, "_set_delete_marker", after=_after_marker)
    _wrap_locked(B, "put_object_tagging", after=_after_put_tags, name_of=_key_bucket_arg)
    _wrap_locked(B, "delete_object_tagging", before=_before_delete_tags,
                 after=_after_delete_tags)
    for name in ("delete_object", "list_object_versions", "list_objects", "list_objects_v2"):
        _wrap_locked(B, name)
    R = s3responses.S3Response
    for name in ("key_response", "bucket_response", "ambiguous_response"):
        _wrap_scoped(R, name)
    _patch_response_dict()
    _strip_status_from_write_responses()
    REPLICATOR.start()
