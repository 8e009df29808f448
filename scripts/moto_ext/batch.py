"""S3 Batch Operations (S3 Control jobs) for the test server: CreateJob, DescribeJob, ListJobs and
UpdateJobStatus on the S3 Control REST API, for the operations S3PutObjectCopy (with a CSV
manifest) and S3ReplicateObject (with an S3JobManifestGenerator, i.e. Batch Replication).
moto 5.1.22 has no S3 Control jobs (404). Installed by moto_ext.install(); controls are in
moto_ext/__init__.py.

Written from AWS's documentation and the S3 Control API model (botocore's s3control
service-2.json, the model aws-sdk-rust is generated from):

  [API]     CreateJob / DescribeJob / ListJobs / UpdateJobStatus, S3 Control API reference
            https://docs.aws.amazon.com/AmazonS3/latest/API/API_control_CreateJob.html
            POST /v20180820/jobs, GET /v20180820/jobs/{id}, GET /v20180820/jobs,
            POST /v20180820/jobs/{id}/status?requestedJobStatus=...; account in x-amz-account-id
            (the SDKs also put it in the host name: <account>.<endpoint host>); XML namespace
            http://awss3control.amazonaws.com/doc/2018-08-20/; lists as <member> elements;
            errors wrapped in <ErrorResponse> (the service's restXml trait has no
            noErrorWrapping, unlike S3's; seen in the Smithy model aws-sdk-rust is built from).
  [MANIFEST] JobManifestSpec: S3BatchOperations_CSV_20180820, Fields Bucket|Key|VersionId|Ignore;
            CSV without a header, object keys URL-encoded; Location ObjectArn + ETag (the ETag must
            be the manifest object's), optional ObjectVersionId.
            https://docs.aws.amazon.com/AmazonS3/latest/userguide/batch-ops-create-job.html
  [STATUS]  Tracking job status and completion reports
            https://docs.aws.amazon.com/AmazonS3/latest/userguide/batch-ops-job-status.html
            New -> Preparing -> Ready (or Suspended when ConfirmationRequired) -> Active ->
            Completing -> Complete; Failed; Cancelling -> Cancelled.
  [REPORT]  Examples: S3 Batch Operations completion reports
            https://docs.aws.amazon.com/AmazonS3/latest/userguide/batch-ops-examples-reports.html
            <Report.Prefix>/job-<id>/manifest.json {"Format": "Report_CSV_20180820",
            "ReportCreationDate", "Results": [{"TaskExecutionStatus": "succeeded"|"failed",
            "Bucket", "MD5Checksum", "Key"}], "ReportSchema": "Bucket, Key, VersionId, TaskStatus,
            ErrorCode, HTTPStatusCode, ResultMessage"} and one CSV per outcome under
            <Report.Prefix>/job-<id>/results/<hash>.csv. The rows in AWS's examples put the HTTP
            status before the error code (`bucket,key,,succeeded,200,,Successful`,
            `...,failed,200,PermanentFailure,"..."`), against the order ReportSchema names; the
            rows here follow the examples (what real reports contain). Keys in the rows are
            URL-encoded as in manifests.
  [REPL]    Replicating existing objects with Batch Replication
            https://docs.aws.amazon.com/AmazonS3/latest/userguide/s3-batch-replication-batch.html
            S3JobManifestGenerator: SourceBucket, Filter.EligibleForReplication,
            ObjectReplicationStatuses (NONE | FAILED | COMPLETED | REPLICA), CreatedAfter/Before,
            KeyNameConstraint, MatchAnyStorageClass, ObjectSize*; every matching version,
            including those written before the rule existed, is replicated by the rules in force.

Emulated: the operations above; ClientRequestToken idempotency (the same token from the same
account returns the same job id; the same token with a different request is an
IdempotencyException, as the API lists); jobs stored per account; progress visible while the job
runs; reports written into the report bucket as the job's account. Not emulated: the job's role
and any permission, Priority scheduling, other operations (answered with BadRequestException),
S3 Inventory manifests, the generated-manifest output (EnableManifestOutput is accepted, nothing is
written), failure-threshold job failure, UpdateJobPriority, job tagging.
"""

from __future__ import annotations

import csv
import datetime
import hashlib
import io
import json
import os
import re
import threading
import time
import urllib.parse
import uuid
import xml.etree.ElementTree as ET
from typing import Any, Optional
from xml.sax.saxutils import escape

from moto.s3.models import FakeKey, s3_backends

from . import replication as repl

NS = "http://awss3control.amazonaws.com/doc/2018-08-20/"
REPORT_SCHEMA = "Bucket, Key, VersionId, TaskStatus, ErrorCode, HTTPStatusCode, ResultMessage"
SUPPORTED_OPERATIONS = ("S3PutObjectCopy", "S3ReplicateObject")
TERMINAL = ("Complete", "Failed", "Cancelled")


class ApiError(Exception):
    def __init__(self, status: int, code: str, message: str):
        super().__init__(message)
        self.status, self.code, self.message = status, code, message


def _env_ms(name: str, default: int) -> int:
    try:
        return max(0, int(os.environ.get(name, default)))
    except ValueError:
        return default


SETTINGS = {
    "start_delay_ms": _env_ms("MOTO_BATCH_START_DELAY_MS", 50),
    "task_delay_ms": _env_ms("MOTO_BATCH_TASK_DELAY_MS", 0),
    # Fault injection for tests: a job whose Description contains this text (unique per test,
    # so tests sharing the server are not touched) fails while Preparing with FAIL_CODE, as AWS
    # fails a job whose role it cannot assume ("Troubleshooting Batch Operations": the job fails
    # with the failure reason AssumeRoleNotPermitted). "" = off.
    "fail_description": "",
    "fail_code": "AssumeRoleNotPermitted",
    # With fail_description: how many matching jobs fail before the rest run (as a role IAM has
    # not propagated fails the first jobs, then is assumed); 0 = every matching job fails.
    "fail_times": 0,
    # A task whose object key contains this text fails (403 AccessDenied, as a task whose role
    # may not write the target or use its key does); the job still completes. "" = off.
    "fail_task_key": "",
}


def _take_failure() -> bool:
    """Whether a job matching fail_description fails now (see fail_times)."""
    with LOCK:
        left = int(SETTINGS["fail_times"])
        if left <= 0:
            return True
        SETTINGS["fail_times"] = left - 1
        if left == 1:
            SETTINGS["fail_description"] = ""
        return True


# ---------------------------------------------------------------------------------------------
# XML helpers.
def _strip_ns(el: ET.Element) -> ET.Element:
    for e in el.iter():
        if isinstance(e.tag, str) and "}" in e.tag:
            e.tag = e.tag.split("}", 1)[1]
    return el


def _text(el: Optional[ET.Element], path: str, default: Optional[str] = None) -> Optional[str]:
    if el is None:
        return default
    x = el.find(path)
    if x is None or x.text is None:
        return default
    return x.text.strip()


def _bool(v: Optional[str]) -> Optional[bool]:
    if v is None:
        return None
    return v.strip().lower() == "true"


def _members(el: Optional[ET.Element], path: str) -> list[str]:
    if el is None:
        return []
    x = el.find(path)
    if x is None:
        return []
    return [(m.text or "").strip() for m in x]


def _iso(dt: Optional[datetime.datetime]) -> str:
    if dt is None:
        return ""
    return dt.strftime("%Y-%m-%dT%H:%M:%S.") + f"{dt.microsecond // 1000:03d}Z"


def _parse_time(v: Optional[str]) -> Optional[datetime.datetime]:
    if not v:
        return None
    v = v.strip().replace("Z", "+00:00")
    try:
        d = datetime.datetime.fromisoformat(v)
    except ValueError:
        try:
            d = datetime.datetime.fromtimestamp(float(v), tz=datetime.timezone.utc)
        except ValueError:
            return None
    if d.tzinfo is None:
        d = d.replace(tzinfo=datetime.timezone.utc)
    return d.astimezone(datetime.timezone.utc).replace(tzinfo=None)


def _arn_bucket(arn: Optional[str]) -> Optional[str]:
    if not arn:
        return None
    return arn.split(":::", 1)[1] if ":::" in arn else arn


def _arn_object(arn: str) -> tuple[str, str]:
    rest = arn.split(":::", 1)[1] if ":::" in arn else arn
    bucket, _, key = rest.partition("/")
    return bucket, key


# ---------------------------------------------------------------------------------------------
class Job:
    def __init__(self, account: str, region: str, root: ET.Element, body_digest: str):
        self.account = account
        self.region = region
        self.id = str(uuid.uuid4())
        self.arn = f"arn:aws:s3:{region}:{account}:job/{self.id}"
        self.body_digest = body_digest
        self.token = _text(root, "ClientRequestToken")
        self.description = _text(root, "Description")
        self.confirmation_required = bool(_bool(_text(root, "ConfirmationRequired")))
        self.priority = int(_text(root, "Priority", "0") or 0)
        self.role_arn = _text(root, "RoleArn")
        self.manifest_el = root.find("Manifest")
        self.generator_el = root.find("ManifestGenerator")
        self.operation_el = root.find("Operation")
        self.report_el = root.find("Report")
        ops = [c.tag for c in self.operation_el] if self.operation_el is not None else []
        self.operation = ops[0] if ops else ""
        self.status = "New"
        self.status_update_reason: Optional[str] = None
        self.failure_reasons: list[tuple[str, str]] = []
        self.creation_time = datetime.datetime.utcnow()
        self.termination_date: Optional[datetime.datetime] = None
        self.active_since: Optional[float] = None
        self.active_seconds = 0.0
        self.total: Optional[int] = None
        self.succeeded = 0
        self.failed = 0
        self.confirmed = threading.Event()
        self.cancel = threading.Event()
        self.thread: Optional[threading.Thread] = None
        self.report_keys: list[str] = []

    # --- serialisation ------------------------------------------------------------------------
    def _progress_xml(self) -> str:
        elapsed = self.active_seconds
        if self.active_since is not None:
            elapsed += time.monotonic() - self.active_since
        parts = []
        if self.total is not None:
            parts.append(f"<TotalNumberOfTasks>{self.total}</TotalNumberOfTasks>")
        parts.append(f"<NumberOfTasksSucceeded>{self.succeeded}</NumberOfTasksSucceeded>")
        parts.append(f"<NumberOfTasksFailed>{self.failed}</NumberOfTasksFailed>")
        parts.append(f"<Timers><ElapsedTimeInActiveSeconds>{int(elapsed)}"
                     "</ElapsedTimeInActiveSeconds></Timers>")
        return "<ProgressSummary>" + "".join(parts) + "</ProgressSummary>"

    def descriptor_xml(self) -> str:
        def raw(el: Optional[ET.Element]) -> str:
            return ET.tostring(el, encoding="unicode") if el is not None else ""

        x = [f"<JobId>{self.id}</JobId>",
             f"<ConfirmationRequired>{str(self.confirmation_required).lower()}"
             "</ConfirmationRequired>"]
        if self.description:
            x.append(f"<Description>{escape(self.description)}</Description>")
        x.append(f"<JobArn>{self.arn}</JobArn>")
        x.append(f"<Status>{self.status}</Status>")
        x.append(raw(self.manifest_el))
        x.append(raw(self.operation_el))
        x.append(f"<Priority>{self.priority}</Priority>")
        x.append(self._progress_xml())
        if self.status_update_reason:
            x.append(f"<StatusUpdateReason>{escape(self.status_update_reason)}"
                     "</StatusUpdateReason>")
        if self.failure_reasons:
            x.append("<FailureReasons>" + "".join(
                f"<member><FailureCode>{escape(c)}</FailureCode>"
                f"<FailureReason>{escape(r)}</FailureReason></member>"
                for c, r in self.failure_reasons) + "</FailureReasons>")
        x.append(raw(self.report_el))
        x.append(f"<CreationTime>{_iso(self.creation_time)}</CreationTime>")
        if self.termination_date:
            x.append(f"<TerminationDate>{_iso(self.termination_date)}</TerminationDate>")
        if self.role_arn:
            x.append(f"<RoleArn>{escape(self.role_arn)}</RoleArn>")
        x.append(raw(self.generator_el))
        return "".join(x)

    def list_xml(self) -> str:
        x = [f"<JobId>{self.id}</JobId>"]
        if self.description:
            x.append(f"<Description>{escape(self.description)}</Description>")
        x.append(f"<Operation>{self.operation}</Operation>")
        x.append(f"<Priority>{self.priority}</Priority>")
        x.append(f"<Status>{self.status}</Status>")
        x.append(f"<CreationTime>{_iso(self.creation_time)}</CreationTime>")
        if self.termination_date:
            x.append(f"<TerminationDate>{_iso(self.termination_date)}</TerminationDate>")
        x.append(self._progress_xml())
        return "<member>" + "".join(x) + "</member>"

    # --- lifecycle ----------------------------------------------------------------------------
    def _set(self, status: str) -> None:
        if status == "Active" and self.active_since is None:
            self.active_since = time.monotonic()
        if status != "Active" and self.active_since is not None:
            self.active_seconds += time.monotonic() - self.active_since
            self.active_since = None
        self.status = status
        if status in TERMINAL:
            self.termination_date = datetime.datetime.utcnow()

    def _fail(self, code: str, reason: str) -> None:
        self.failure_reasons.append((code, reason))
        self._set("Failed")

    def run(self) -> None:
        try:
            self._run()
        except Exception as e:  # never leave a job hanging
            self._fail("InternalError", f"emulation error: {e!r}")

    def _sleep(self, ms: int) -> None:
        if ms:
            self.cancel.wait(ms / 1000.0)

    def _cancelled(self) -> bool:
        if self.cancel.is_set():
            self._set("Cancelled")
            return True
        return False

    def _run(self) -> None:
        self._sleep(SETTINGS["start_delay_ms"])
        if self._cancelled():
            return
        self._set("Preparing")
        wanted = SETTINGS["fail_description"]
        if wanted and wanted in (self.description or "") and _take_failure():
            self._fail(SETTINGS["fail_code"],
                       f"Unable to assume the role {self.role_arn} (injected by the test server)")
            return
        try:
            tasks = self._tasks()
        except ApiError as e:
            self._fail(e.code, e.message)
            return
        self.total = len(tasks)
        self._sleep(SETTINGS["start_delay_ms"])
        if self._cancelled():
            return
        if self.confirmation_required:
            self._set("Suspended")
            while not self.confirmed.wait(0.05):
                if self._cancelled():
                    return
        self._set("Ready")
        self._sleep(SETTINGS["start_delay_ms"])
        if self._cancelled():
            return
        self._set("Active")
        results: list[tuple[str, str, str, str, str, str, str]] = []
        for bucket, key, version_id in tasks:
            if self.cancel.is_set():
                self._set("Cancelling")
                break
            row = self._do_task(bucket, key, version_id)
            if row[3] == "succeeded":
                self.succeeded += 1
            else:
                self.failed += 1
            results.append(row)
            self._sleep(SETTINGS["task_delay_ms"])
        if self.status != "Cancelling":
            self._set("Completing")
        try:
            self._write_report(results)
        except ApiError as e:
            self.failure_reasons.append((e.code, e.message))
        self._set("Cancelled" if self.status == "Cancelling" else "Complete")

    # --- the manifest -------------------------------------------------------------------------
    def _tasks(self) -> list[tuple[str, str, Optional[str]]]:
        if self.operation == "S3ReplicateObject" and self.generator_el is not None:
            return self._generated_tasks()
        if self.manifest_el is None:
            raise ApiError(400, "InvalidManifest", "no Manifest and no ManifestGenerator")
        fmt = _text(self.manifest_el, "Spec/Format")
        if fmt != "S3BatchOperations_CSV_20180820":
            raise ApiError(400, "InvalidManifest", f"manifest format {fmt} is not emulated")
        fields = _members(self.manifest_el, "Spec/Fields") or ["Bucket", "Key"]
        arn = _text(self.manifest_el, "Location/ObjectArn") or ""
        etag = (_text(self.manifest_el, "Location/ETag") or "").strip('"')
        mver = _text(self.manifest_el, "Location/ObjectVersionId")
        mbucket, mkey = _arn_object(arn)
        obj = _backend(self.account).get_object(mbucket, mkey, version_id=mver)
        if obj is None:
            raise ApiError(400, "InvalidManifest",
                           f"Reading the manifest failed: no object {arn}")
        if etag and obj.etag.strip('"') != etag:
            raise ApiError(400, "InvalidManifest",
                           f"Reading the manifest failed: the ETag {etag} does not match the "
                           f"manifest object's {obj.etag.strip(chr(34))}")
        tasks = []
        for i, row in enumerate(csv.reader(io.StringIO(obj.value.decode("utf-8")))):
            if not row or all(not c.strip() for c in row):
                continue
            if len(row) != len(fields):
                raise ApiError(400, "InvalidManifest",
                               f"manifest line {i + 1} has {len(row)} fields, Spec.Fields "
                               f"names {len(fields)}")
            rec = dict(zip(fields, row))
            key = urllib.parse.unquote_plus(rec.get("Key", ""))  # [MANIFEST] URL-encoded keys
            tasks.append((rec.get("Bucket", ""), key, rec.get("VersionId") or None))
        return tasks

    def _generated_tasks(self) -> list[tuple[str, str, Optional[str]]]:
        g = self.generator_el.find("S3JobManifestGenerator")
        if g is None:
            raise ApiError(400, "InvalidManifest", "ManifestGenerator without "
                           "S3JobManifestGenerator")
        bucket_name = _arn_bucket(_text(g, "SourceBucket")) or ""
        bucket = repl.find_bucket(bucket_name)
        if bucket is None:
            raise ApiError(400, "InvalidManifest", f"source bucket {bucket_name} not found")
        f = g.find("Filter")
        eligible = _bool(_text(f, "EligibleForReplication"))
        statuses = set(_members(f, "ObjectReplicationStatuses"))
        after = _parse_time(_text(f, "CreatedAfter"))
        before = _parse_time(_text(f, "CreatedBefore"))
        prefixes = _members(f, "KeyNameConstraint/MatchAnyPrefix")
        suffixes = _members(f, "KeyNameConstraint/MatchAnySuffix")
        subs = _members(f, "KeyNameConstraint/MatchAnySubstring")
        classes = set(_members(f, "MatchAnyStorageClass"))
        gt = _text(f, "ObjectSizeGreaterThanBytes")
        lt = _text(f, "ObjectSizeLessThanBytes")
        tasks = []
        with repl.bucket_lock(bucket_name):
            entries = [(name, list(vs)) for name, vs in bucket.keys.iterlists()]
        for name, versions in sorted(entries):
            for v in reversed(versions):  # newest stored first, as S3 lists them
                lm = v.last_modified.replace(tzinfo=None)
                if after and lm < after or before and lm > before:
                    continue
                if prefixes and not any(name.startswith(p) for p in prefixes):
                    continue
                if suffixes and not any(name.endswith(s) for s in suffixes):
                    continue
                if subs and not any(s in name for s in subs):
                    continue
                if isinstance(v, FakeKey):
                    if classes and (v.storage_class or "STANDARD") not in classes:
                        continue
                    if gt and not v.size > int(gt) or lt and not v.size < int(lt):
                        continue
                elif classes or gt or lt:
                    continue
                status = getattr(v, repl.STATUS_ATTR, None) or "NONE"
                if statuses and status not in statuses:
                    continue
                if eligible and not repl.REPLICATOR.plan(bucket, v, for_batch=True):
                    continue
                tasks.append((bucket_name, name, str(v.version_id)))
        return tasks

    # --- one task -----------------------------------------------------------------------------
    def _do_task(self, bucket: str, key: str, version_id: Optional[str]):
        def row(status: str, http: int, code: str, msg: str):
            return (bucket, urllib.parse.quote(key, safe="/"), version_id or "", status,
                    str(http), code, msg)

        marker = SETTINGS["fail_task_key"]
        if marker and marker in key:
            return row("failed", 403, "AccessDenied", "Access Denied (injected by the test server)")
        try:
            if self.operation == "S3ReplicateObject":
                b = repl.find_bucket(bucket)
                v = repl.version_of(b, key, version_id) if b is not None else None
                if v is None:
                    return row("failed", 404, "NoSuchVersion" if version_id else "NoSuchKey",
                               "The specified version does not exist.")
                ok, msg = repl.REPLICATOR.replicate_now(bucket, v)
                return row("succeeded", 200, "", msg) if ok else row("failed", 400,
                                                                     "ReplicationFailed", msg)
            return self._copy(bucket, key, version_id, row)
        except Exception as e:  # a task failure, never a job failure
            code = getattr(e, "error_type", None) or type(e).__name__
            http = getattr(e, "code", 500)
            msg = getattr(e, "message", None) or str(e)
            return row("failed", http if isinstance(http, int) else 500, code, msg)

    def _copy(self, bucket: str, key: str, version_id: Optional[str], row: Any):
        op = self.operation_el.find("S3PutObjectCopy")
        target = _arn_bucket(_text(op, "TargetResource")) or ""
        prefix = _text(op, "TargetKeyPrefix") or ""
        kms = _text(op, "SSEAwsKmsKeyId")
        bke = _text(op, "BucketKeyEnabled")
        storage = _text(op, "StorageClass")
        directive = _text(op, "MetadataDirective") or "COPY"
        backend = _backend(self.account)
        from moto.s3.exceptions import ObjectNotInActiveTierError
        from moto.s3.models import ARCHIVE_STORAGE_CLASSES
        with repl.request_scope(), repl.bucket_lock(target):
            src = backend.get_object(bucket, key, version_id=version_id)
            if src is None:
                return row("failed", 404, "NoSuchVersion" if version_id else "NoSuchKey",
                           "The specified key does not exist.")
            if src.storage_class in ARCHIVE_STORAGE_CLASSES:
                restore = src.response_dict.get("x-amz-restore")
                if restore is None or 'ongoing-request="true"' in restore:
                    raise ObjectNotInActiveTierError(src)
            metadata = None
            if directive == "REPLACE":
                metadata = _new_metadata(op.find("NewObjectMetadata"))
            backend.copy_object(
                src, target, prefix + key, storage=storage,
                encryption="aws:kms" if kms else None, kms_key_id=kms,
                bucket_key_enabled=bke.lower() if bke else None,
                mdirective=directive, metadata=metadata)
            new = backend.get_object(target, prefix + key)
            tagging = op.find("NewObjectTagging")
            tags = ({_text(t, "Key") or "": _text(t, "Value") or "" for t in tagging}
                    if tagging is not None else repl.tags_of(src))
            backend.tagger.delete_all_tags_for_resource(new.arn)
            if tags:
                backend.tagger.tag_resource(new.arn,
                                            backend.tagger.convert_dict_to_tags_input(tags))
        return row("succeeded", 200, "", "Successful")

    # --- the completion report ----------------------------------------------------------------
    def _write_report(self, results: list) -> None:
        rep = self.report_el
        if rep is None or not _bool(_text(rep, "Enabled")):
            return
        bucket = _arn_bucket(_text(rep, "Bucket"))
        if not bucket:
            raise ApiError(400, "InvalidReport", "Report.Bucket missing")
        prefix = (_text(rep, "Prefix") or "").strip("/")
        scope = _text(rep, "ReportScope") or "AllTasks"
        base = (prefix + "/" if prefix else "") + f"job-{self.id}"
        backend = _backend(self.account)
        entries = []
        for outcome in ("succeeded", "failed"):
            if outcome == "succeeded" and scope == "FailedTasksOnly":
                continue
            rows = [r for r in results if r[3] == outcome]
            if not rows:
                continue
            buf = io.StringIO()
            csv.writer(buf, lineterminator="\n").writerows(rows)
            data = buf.getvalue().encode("utf-8")
            name = hashlib.sha1(f"{self.id}/{outcome}".encode()).hexdigest()
            key = f"{base}/results/{name}.csv"
            with repl.request_scope():
                backend.put_object(bucket, key, data)
            self.report_keys.append(key)
            entries.append({"TaskExecutionStatus": outcome, "Bucket": bucket,
                            "MD5Checksum": hashlib.md5(data).hexdigest(), "Key": key})
        manifest = {"Format": "Report_CSV_20180820",
                    "ReportCreationDate": _iso(datetime.datetime.utcnow()),
                    "Results": entries, "ReportSchema": REPORT_SCHEMA}
        with repl.request_scope():
            backend.put_object(bucket, f"{base}/manifest.json",
                               json.dumps(manifest).encode("utf-8"))
        self.report_keys.append(f"{base}/manifest.json")


def _new_metadata(el: Optional[ET.Element]) -> dict[str, str]:
    md: dict[str, str] = {}
    if el is None:
        return md
    names = {"CacheControl": "Cache-Control", "ContentDisposition": "Content-Disposition",
             "ContentEncoding": "Content-Encoding", "ContentLanguage": "Content-Language",
             "ContentType": "Content-Type", "HttpExpiresDate": "Expires"}
    for tag, header in names.items():
        v = _text(el, tag)
        if v:
            md[header] = v
    um = el.find("UserMetadata")
    if um is not None:
        for entry in um:
            k, v = _text(entry, "key"), _text(entry, "value")
            if k:
                md[f"x-amz-meta-{k.lower()}"] = v or ""
    return md


def _backend(account: str) -> Any:
    return s3_backends[account]["aws"]


# ---------------------------------------------------------------------------------------------
# The store and the API.
LOCK = threading.Lock()
JOBS: dict[str, dict[str, Job]] = {}
TOKENS: dict[tuple[str, str], str] = {}


def reset() -> None:
    with LOCK:
        for jobs in JOBS.values():
            for j in jobs.values():
                j.cancel.set()
        JOBS.clear()
        TOKENS.clear()


def wait_idle(timeout: float) -> dict[str, Any]:
    deadline = time.monotonic() + timeout
    while True:
        with LOCK:
            running = [j.id for js in JOBS.values() for j in js.values()
                       if j.status not in TERMINAL and j.status != "Suspended"]
        if not running or time.monotonic() >= deadline:
            return {"running": len(running), "idle": not running}
        time.sleep(0.02)


def _xml(root: str, inner: str) -> bytes:
    return (f'<?xml version="1.0" encoding="UTF-8"?>\n<{root} xmlns="{NS}">{inner}</{root}>'
            ).encode("utf-8")


def error_xml(code: str, message: str) -> bytes:
    # S3 Control's model declares restXml without noErrorWrapping (unlike S3), so errors come
    # wrapped: <ErrorResponse><Error><Code/><Message/></Error><RequestId/></ErrorResponse>. The
    # Rust SDK reads the code only from that shape; botocore reads either.
    return (f'<?xml version="1.0" encoding="UTF-8"?>\n<ErrorResponse><Error>'
            f"<Code>{escape(code)}</Code><Message>{escape(message)}</Message></Error>"
            f"<RequestId>{uuid.uuid4().hex[:16].upper()}</RequestId></ErrorResponse>"
            ).encode("utf-8")


JOB_PATH = re.compile(r"^/v20180820/jobs(?:/(?P<id>[^/]+)(?P<status>/status)?)?/?$")


def is_jobs_path(path: str) -> bool:
    return bool(JOB_PATH.match(path))


def handle(method: str, path: str, query: dict[str, list[str]], headers: Any, body: bytes,
           host: str) -> tuple[int, bytes]:
    m = JOB_PATH.match(path)
    assert m
    account = (headers.get("x-amz-account-id") or "").strip()
    if not account:
        first = host.split(".", 1)[0]
        account = first if re.fullmatch(r"\d{12}", first) else ""
    if not re.fullmatch(r"\d{12}", account):
        raise ApiError(400, "InvalidRequest", "x-amz-account-id must be a 12-digit account id")
    region = "us-east-1"
    auth = headers.get("Authorization") or ""
    mm = re.search(r"Credential=[^/]+/\d+/([^/]+)/", auth)
    if mm:
        region = mm.group(1)
    job_id, is_status = m.group("id"), bool(m.group("status"))
    if method == "POST" and not job_id:
        return 200, _create(account, region, body)
    if method == "GET" and not job_id:
        return 200, _list(account, query)
    if method == "GET" and job_id and not is_status:
        return 200, _xml("DescribeJobResult", "<Job>" + _get(account, job_id).descriptor_xml()
                         + "</Job>")
    if method == "POST" and job_id and is_status:
        return 200, _update_status(account, job_id, query)
    raise ApiError(405, "MethodNotAllowed", f"{method} {path} is not emulated")


def _get(account: str, job_id: str) -> Job:
    with LOCK:
        j = JOBS.get(account, {}).get(job_id)
    if j is None:
        raise ApiError(404, "NotFoundException", f"Job {job_id} not found in account {account}")
    return j


def _create(account: str, region: str, body: bytes) -> bytes:
    try:
        root = _strip_ns(ET.fromstring(body))
    except ET.ParseError as e:
        raise ApiError(400, "MalformedXML", f"CreateJob body is not XML: {e}")
    for required in ("Operation", "Report", "ClientRequestToken", "Priority", "RoleArn"):
        if root.find(required) is None:
            raise ApiError(400, "InvalidRequest", f"CreateJob needs {required}")
    has_manifest = root.find("Manifest") is not None
    has_generator = root.find("ManifestGenerator") is not None
    if has_manifest == has_generator:
        raise ApiError(400, "InvalidRequest",
                       "a job needs either a Manifest or a ManifestGenerator, not both")
    ops = [c.tag for c in root.find("Operation")]
    if len(ops) != 1:
        raise ApiError(400, "InvalidRequest", "Operation must name exactly one operation")
    if ops[0] not in SUPPORTED_OPERATIONS:
        raise ApiError(400, "BadRequestException",
                       f"operation {ops[0]} is not emulated by the test server "
                       f"(only {', '.join(SUPPORTED_OPERATIONS)})")
    if has_generator and ops[0] != "S3ReplicateObject":
        raise ApiError(400, "InvalidRequest", "a ManifestGenerator is emulated for "
                       "S3ReplicateObject only")
    if ops[0] == "S3PutObjectCopy":
        op = root.find("Operation/S3PutObjectCopy")
        if not _text(op, "TargetResource"):
            raise ApiError(400, "InvalidRequest", "S3PutObjectCopy needs TargetResource")
    token = _text(root, "ClientRequestToken") or ""
    digest = hashlib.sha256(ET.tostring(root)).hexdigest()
    with LOCK:
        existing = TOKENS.get((account, token))
        if existing:
            job = JOBS[account][existing]
            if job.body_digest != digest:
                raise ApiError(409, "IdempotencyException",
                               "ClientRequestToken was already used for a different request")
            return _xml("CreateJobResult", f"<JobId>{job.id}</JobId>")
        job = Job(account, region, root, digest)
        JOBS.setdefault(account, {})[job.id] = job
        TOKENS[(account, token)] = job.id
    job.thread = threading.Thread(target=job.run, name=f"s3c-job-{job.id}", daemon=True)
    job.thread.start()
    return _xml("CreateJobResult", f"<JobId>{job.id}</JobId>")


def _list(account: str, query: dict[str, list[str]]) -> bytes:
    statuses = set(query.get("jobStatuses", []))
    try:
        max_results = int((query.get("maxResults") or ["1000"])[0])
        start = int((query.get("nextToken") or ["0"])[0])
    except ValueError:
        raise ApiError(400, "InvalidRequest", "bad maxResults or nextToken")
    with LOCK:
        jobs = sorted(JOBS.get(account, {}).values(), key=lambda j: j.creation_time,
                      reverse=True)
    if statuses:
        jobs = [j for j in jobs if j.status in statuses]
    page = jobs[start:start + max_results]
    inner = "<Jobs>" + "".join(j.list_xml() for j in page) + "</Jobs>"
    if start + max_results < len(jobs):
        inner += f"<NextToken>{start + max_results}</NextToken>"
    return _xml("ListJobsResult", inner)


def _update_status(account: str, job_id: str, query: dict[str, list[str]]) -> bytes:
    job = _get(account, job_id)
    wanted = (query.get("requestedJobStatus") or [""])[0]
    reason = (query.get("statusUpdateReason") or [None])[0]
    if wanted == "Ready":
        if job.status != "Suspended":
            raise ApiError(400, "JobStatusException",
                           f"job is {job.status}; only a Suspended job can be confirmed")
        job.confirmed.set()
        job.status = "Ready"
    elif wanted == "Cancelled":
        if job.status in TERMINAL:
            raise ApiError(400, "JobStatusException", f"job is already {job.status}")
        job.cancel.set()
        if job.status in ("New", "Preparing", "Suspended", "Ready"):
            job.status = "Cancelling"
    else:
        raise ApiError(400, "InvalidRequest", "requestedJobStatus must be Ready or Cancelled")
    if reason:
        job.status_update_reason = reason
    inner = f"<JobId>{job.id}</JobId><Status>{job.status}</Status>"
    if job.status_update_reason:
        inner += f"<StatusUpdateReason>{escape(job.status_update_reason)}</StatusUpdateReason>"
    return _xml("UpdateJobStatusResult", inner)
