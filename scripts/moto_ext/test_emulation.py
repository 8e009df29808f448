#!/usr/bin/env python3
"""Tests of the test server's replication and S3 Batch Operations emulation (moto_ext).

    .venv-moto/bin/python scripts/moto_ext/test_emulation.py [-v] [TestClass.test_name ...]

Starts scripts/moto_server.py on a free 127.0.0.1 port (its own process, dummy credentials, no
instance metadata), drives it with boto3 and prints `N passed, M failed` last. Exit status 0 only
when everything passed. Nothing here contacts an address off this machine.
"""

from __future__ import annotations

import csv
import datetime
import hashlib
import io
import json
import os
import socket
import subprocess
import sys
import tempfile
import time
import unittest
import urllib.parse
import urllib.request
import uuid

HERE = os.path.dirname(os.path.abspath(__file__))
SERVER = os.path.join(os.path.dirname(HERE), "moto_server.py")

CENTRAL_ACCOUNT = "123456789012"  # moto's default identity
SRC_ACCOUNT = "111111111111"
OTHER_ACCOUNT = "222222222222"

for k, v in {"AWS_ACCESS_KEY_ID": "testing", "AWS_SECRET_ACCESS_KEY": "testing",
             "AWS_REGION": "us-east-1", "AWS_DEFAULT_REGION": "us-east-1",
             "AWS_EC2_METADATA_DISABLED": "true", "NO_PROXY": "127.0.0.1,localhost",
             "no_proxy": "127.0.0.1,localhost"}.items():
    os.environ[k] = v
for k in ("AWS_PROFILE", "AWS_SESSION_TOKEN", "AWS_ENDPOINT_URL", "AWS_ENDPOINT_URL_S3",
          "AWS_ENDPOINT_URL_S3_CONTROL"):
    os.environ.pop(k, None)
_cfgdir = tempfile.mkdtemp(prefix="moto-ext-test-")
os.environ["AWS_CONFIG_FILE"] = os.path.join(_cfgdir, "config")
os.environ["AWS_SHARED_CREDENTIALS_FILE"] = os.path.join(_cfgdir, "credentials")

import boto3  # noqa: E402
from botocore.config import Config  # noqa: E402

OPENER = urllib.request.build_opener(urllib.request.ProxyHandler({}))
PORT = 0
ENDPOINT = ""
_proc: subprocess.Popen | None = None


def _free_port() -> int:
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    port = s.getsockname()[1]
    s.close()
    return port


def start_server() -> None:
    global PORT, ENDPOINT, _proc
    PORT = _free_port()
    ENDPOINT = f"http://127.0.0.1:{PORT}"
    env = {k: v for k, v in os.environ.items()
           if not k.startswith(("MOTO_REPLICATION", "MOTO_BATCH"))}  # the caller's settings
    env.update(S3_UPLOAD_PART_MIN_SIZE="1024", MOTO_REPLICATION_DELAY_MS="150",
               MOTO_REPLICATION_SEED="7")
    log = open(os.path.join(_cfgdir, "moto.log"), "wb")
    _proc = subprocess.Popen([sys.executable, SERVER, "-H", "127.0.0.1", "-p", str(PORT)],
                             stdin=subprocess.DEVNULL, stdout=log, stderr=subprocess.STDOUT,
                             env=env)
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        if _proc.poll() is not None:
            raise RuntimeError("moto server exited; log: " +
                               open(os.path.join(_cfgdir, "moto.log")).read())
        try:
            OPENER.open(ENDPOINT + "/moto-api/", timeout=2).read()
            return
        except Exception:
            time.sleep(0.1)
    raise RuntimeError("moto server not ready")


def stop_server() -> None:
    if _proc is not None and _proc.poll() is None:
        _proc.terminate()
        try:
            _proc.wait(5)
        except subprocess.TimeoutExpired:
            _proc.kill()


def admin(path: str, body: dict | None = None, method: str = "POST") -> tuple[int, dict]:
    data = json.dumps(body).encode() if body is not None else None
    req = urllib.request.Request(ENDPOINT + path, data=data, method=method)
    try:
        with OPENER.open(req, timeout=60) as r:
            return r.status, json.loads(r.read())
    except urllib.error.HTTPError as e:
        return e.code, json.loads(e.read())


def drain() -> dict:
    code, st = admin("/moto-api/replication/drain?timeout=20")
    assert code == 200, (code, st)
    return st


def session(account: str | None = None) -> boto3.session.Session:
    if account is None or account == CENTRAL_ACCOUNT:
        return boto3.session.Session()
    sts = boto3.client("sts", endpoint_url=ENDPOINT)
    c = sts.assume_role(RoleArn=f"arn:aws:iam::{account}:role/OrganizationAccountAccessRole",
                        RoleSessionName="moto-ext-test")["Credentials"]
    return boto3.session.Session(aws_access_key_id=c["AccessKeyId"],
                                 aws_secret_access_key=c["SecretAccessKey"],
                                 aws_session_token=c["SessionToken"])


def s3(sess: boto3.session.Session):
    return sess.client("s3", endpoint_url=ENDPOINT,
                       config=Config(s3={"addressing_style": "path"}))


def s3control(sess: boto3.session.Session, host_style: str = "localhost"):
    """An S3 Control client as the SDKs build it from an endpoint URL: the account id goes in
    front of the host (<account>.localhost:PORT). That name does not resolve here, so the
    connection is sent to 127.0.0.1 while the Host header keeps the name: the server must answer
    whatever the Host prefix."""
    c = sess.client("s3control", endpoint_url=f"http://{host_style}:{PORT}")

    def to_loopback(request, **_):
        u = urllib.parse.urlsplit(request.url)
        request.headers["Host"] = u.netloc
        request.url = urllib.parse.urlunsplit((u.scheme, f"127.0.0.1:{PORT}", u.path, u.query,
                                               u.fragment))
        SEEN_HOSTS.append(u.netloc)

    c.meta.events.register("before-send", to_loopback)
    return c


SEEN_HOSTS: list[str] = []


def kms_key(sess: boto3.session.Session) -> str:
    return sess.client("kms", endpoint_url=ENDPOINT).create_key()["KeyMetadata"]["Arn"]


def make_bucket(client, name: str, kms: str | None = None, versioned: bool = True) -> None:
    client.create_bucket(Bucket=name)
    if versioned:
        client.put_bucket_versioning(Bucket=name, VersioningConfiguration={"Status": "Enabled"})
    if kms:
        client.put_bucket_encryption(Bucket=name, ServerSideEncryptionConfiguration={
            "Rules": [{"ApplyServerSideEncryptionByDefault": {
                "SSEAlgorithm": "aws:kms", "KMSMasterKeyID": kms}, "BucketKeyEnabled": True}]})


def rule(dest: str, prefix: str | None = "", rid: str = "r1", priority: int = 1,
         storage: str | None = None, replica_key: str | None = None, sse_kms: bool = True,
         delete_markers: bool = False, filter_form: str = "prefix", status: str = "Enabled",
         tags: dict | None = None, metrics: bool = False) -> dict:
    r: dict = {"ID": rid, "Priority": priority, "Status": status,
               "Destination": {"Bucket": f"arn:aws:s3:::{dest}"}}
    if filter_form == "prefix":
        r["Filter"] = {"Prefix": prefix}
    elif filter_form == "and":
        r["Filter"] = {"And": {"Prefix": prefix,
                               "Tags": [{"Key": k, "Value": v} for k, v in (tags or {}).items()]}}
    elif filter_form == "v1":
        r.pop("Priority")
        r["Prefix"] = prefix
    if filter_form != "v1":
        r["DeleteMarkerReplication"] = {"Status": "Enabled" if delete_markers else "Disabled"}
    if sse_kms:
        r["SourceSelectionCriteria"] = {"SseKmsEncryptedObjects": {"Status": "Enabled"}}
    if storage:
        r["Destination"]["StorageClass"] = storage
    if replica_key:
        r["Destination"]["EncryptionConfiguration"] = {"ReplicaKmsKeyID": replica_key}
    if metrics:
        r["Destination"]["Metrics"] = {"Status": "Enabled"}
    return r


def put_replication(client, bucket: str, *rules: dict) -> None:
    client.put_bucket_replication(Bucket=bucket, ReplicationConfiguration={
        "Role": f"arn:aws:iam::{SRC_ACCOUNT}:role/s3central-replication", "Rules": list(rules)})


def versions(client, bucket: str, prefix: str = "") -> list[dict]:
    """ListObjectVersions entries (versions and delete markers) in S3's order, merged back by
    the order the server returned them in (one page; test buckets are small)."""
    r = client.list_object_versions(Bucket=bucket, Prefix=prefix)
    out = [dict(v, Marker=False) for v in r.get("Versions", [])]
    out += [dict(m, Marker=True) for m in r.get("DeleteMarkers", [])]
    # The two arrays are each in S3 order; within a key keep the server's order by position.
    return out


def uid() -> str:
    return uuid.uuid4().hex[:8]


class Base(unittest.TestCase):
    @classmethod
    def setUpClass(cls) -> None:
        cls.central = s3(session())
        cls.src_sess = session(SRC_ACCOUNT)
        cls.src = s3(cls.src_sess)
        cls.central_key = kms_key(session())
        cls.src_key = kms_key(cls.src_sess)

    def setUp(self) -> None:
        admin("/moto-api/replication/config",
              {"delay_ms": 150, "order": "fifo", "paused": False, "fail_prefix": ""})

    def pair(self, **kw) -> tuple[str, str]:
        """A central bucket (central account) and a source bucket (source account) with one
        replication rule for the prefix <SRC_ACCOUNT>/."""
        c, s = f"central-{uid()}", f"src-{uid()}"
        make_bucket(self.central, c, self.central_key)
        make_bucket(self.src, s, self.src_key)
        kw.setdefault("prefix", f"{SRC_ACCOUNT}/")
        kw.setdefault("replica_key", self.central_key)
        put_replication(self.src, s, rule(c, **kw))
        return c, s


class Replication(Base):
    def test_replica_is_the_source_version(self):
        c, s = self.pair(storage="STANDARD_IA")
        key = f"{SRC_ACCOUNT}/docs/ä b+c.txt"
        put = self.src.put_object(
            Bucket=s, Key=key, Body=b"hello replica", ContentType="text/plain",
            ContentEncoding="identity", ContentDisposition="inline", ContentLanguage="en",
            CacheControl="max-age=60", Expires=datetime.datetime(2030, 1, 1),
            Metadata={"owner": "alice", "note": "x"}, Tagging="env=prod&team=a")
        vid = put["VersionId"]
        self.assertNotIn("ReplicationStatus", put)  # S3's PutObject answer carries none
        self.assertEqual(self.src.head_object(Bucket=s, Key=key)["ReplicationStatus"], "PENDING")
        drain()
        src_head = self.src.head_object(Bucket=s, Key=key)
        self.assertEqual(src_head["ReplicationStatus"], "COMPLETED")
        rep = self.central.head_object(Bucket=c, Key=key, VersionId=vid)
        self.assertEqual(rep["ReplicationStatus"], "REPLICA")
        self.assertEqual(rep["VersionId"], vid)
        self.assertEqual(rep["LastModified"], src_head["LastModified"])
        self.assertEqual(rep["ETag"], src_head["ETag"])
        self.assertEqual(rep["ContentType"], "text/plain")
        self.assertEqual(rep["ContentEncoding"], "identity")
        self.assertEqual(rep["ContentDisposition"], "inline")
        self.assertEqual(rep["ContentLanguage"], "en")
        self.assertEqual(rep["CacheControl"], "max-age=60")
        self.assertEqual(rep["Expires"], src_head["Expires"])
        self.assertEqual(rep["Metadata"], {"owner": "alice", "note": "x"})
        self.assertEqual(rep["StorageClass"], "STANDARD_IA")
        self.assertEqual(rep["ServerSideEncryption"], "aws:kms")
        self.assertEqual(rep["SSEKMSKeyId"], self.central_key)
        self.assertEqual(src_head["SSEKMSKeyId"], self.src_key)
        body = self.central.get_object(Bucket=c, Key=key, VersionId=vid)
        self.assertEqual(body["Body"].read(), b"hello replica")
        self.assertEqual(body["ReplicationStatus"], "REPLICA")
        tags = self.central.get_object_tagging(Bucket=c, Key=key, VersionId=vid)["TagSet"]
        self.assertEqual({t["Key"]: t["Value"] for t in tags}, {"env": "prod", "team": "a"})
        lv = versions(self.central, c)
        self.assertEqual([(v["Key"], v["VersionId"]) for v in lv], [(key, vid)])

    def test_prefix_filter_and_pre_rule_versions(self):
        c, s = f"central-{uid()}", f"src-{uid()}"
        make_bucket(self.central, c, self.central_key)
        make_bucket(self.src, s, self.src_key)
        old = self.src.put_object(Bucket=s, Key=f"{SRC_ACCOUNT}/old.txt", Body=b"old")
        put_replication(self.src, s, rule(c, prefix=f"{SRC_ACCOUNT}/",
                                          replica_key=self.central_key))
        self.src.put_object(Bucket=s, Key="outside/x.txt", Body=b"outside")
        new = self.src.put_object(Bucket=s, Key=f"{SRC_ACCOUNT}/new.txt", Body=b"new")
        drain()
        self.assertNotIn("ReplicationStatus",
                         self.src.head_object(Bucket=s, Key=f"{SRC_ACCOUNT}/old.txt"))
        self.assertNotIn("ReplicationStatus", self.src.head_object(Bucket=s, Key="outside/x.txt"))
        keys = [(v["Key"], v["VersionId"]) for v in versions(self.central, c)]
        self.assertEqual(keys, [(f"{SRC_ACCOUNT}/new.txt", new["VersionId"])])
        self.assertNotEqual(old["VersionId"], new["VersionId"])

    def test_delete_markers_and_version_deletes_not_replicated(self):
        c, s = self.pair()
        key = f"{SRC_ACCOUNT}/a.txt"
        v1 = self.src.put_object(Bucket=s, Key=key, Body=b"1")["VersionId"]
        v2 = self.src.put_object(Bucket=s, Key=key, Body=b"2")["VersionId"]
        drain()
        marker = self.src.delete_object(Bucket=s, Key=key)
        self.assertTrue(marker["DeleteMarker"])
        self.src.delete_object(Bucket=s, Key=key, VersionId=v1)  # permanent delete
        drain()
        lv = versions(self.central, c)
        self.assertEqual(sorted(v["VersionId"] for v in lv if not v["Marker"]), sorted([v1, v2]))
        self.assertFalse([v for v in lv if v["Marker"]])
        self.assertEqual(self.central.get_object(Bucket=c, Key=key)["Body"].read(), b"2")

    def test_delete_marker_replication_enabled(self):
        c, s = self.pair(delete_markers=True)
        key = f"{SRC_ACCOUNT}/dm.txt"
        self.src.put_object(Bucket=s, Key=key, Body=b"x")
        time.sleep(0.01)
        m = self.src.delete_object(Bucket=s, Key=key)
        drain()
        lv = versions(self.central, c)
        markers = [v for v in lv if v["Marker"]]
        self.assertEqual([x["VersionId"] for x in markers], [m["VersionId"]])
        src_markers = self.src.list_object_versions(Bucket=s)["DeleteMarkers"]
        self.assertEqual(markers[0]["LastModified"], src_markers[0]["LastModified"])
        # DeleteObjects (bulk) makes markers too; a marker outside the prefix stays put.
        for k in ("b1", "b2"):
            self.src.put_object(Bucket=s, Key=f"{SRC_ACCOUNT}/{k}", Body=b"b")
        self.src.put_object(Bucket=s, Key="other/b3", Body=b"b")
        r = self.src.delete_objects(Bucket=s, Delete={"Objects": [
            {"Key": f"{SRC_ACCOUNT}/b1"}, {"Key": f"{SRC_ACCOUNT}/b2"}, {"Key": "other/b3"}]})
        drain()
        want = {d["DeleteMarkerVersionId"] for d in r["Deleted"] if d["Key"] != "other/b3"}
        got = {v["VersionId"] for v in versions(self.central, c) if v["Marker"]}
        self.assertEqual(got, want | {m["VersionId"]})

    def test_out_of_order_delivery_keeps_ids_and_times(self):
        c, s = self.pair()
        key = f"{SRC_ACCOUNT}/ooo.txt"
        admin("/moto-api/replication/pause")
        vids = []
        for i in range(3):
            if i:
                time.sleep(1.05)  # LastModified has one-second resolution
            vids.append(self.src.put_object(Bucket=s, Key=key, Body=f"v{i}".encode())["VersionId"])
        self.assertEqual(admin("/moto-api/replication/drain?timeout=1")[0], 409)  # paused
        admin("/moto-api/replication/config", {"order": "reverse", "paused": False})
        drain()
        src_lv = versions(self.src, s)
        self.assertEqual([v["VersionId"] for v in src_lv], vids[::-1])  # stored = written
        lm = {v["VersionId"]: v["LastModified"] for v in src_lv}
        central_lv = versions(self.central, c)
        # Stored (arrival) order, newest first: the first write arrived last.
        self.assertEqual([v["VersionId"] for v in central_lv], vids)
        self.assertEqual([v["IsLatest"] for v in central_lv], [True, False, False])
        for v in central_lv:
            self.assertEqual(v["LastModified"], lm[v["VersionId"]])
        self.assertLess(central_lv[0]["LastModified"], central_lv[-1]["LastModified"])
        self.assertEqual(self.central.get_object(Bucket=c, Key=key)["Body"].read(), b"v0")

    def test_shuffle_mode_delivers_everything(self):
        c, s = self.pair()
        admin("/moto-api/replication/config", {"order": "shuffle", "seed": 3, "delay_ms": 50})
        put = [self.src.put_object(Bucket=s, Key=f"{SRC_ACCOUNT}/k{i % 3}", Body=str(i).encode())
               ["VersionId"] for i in range(12)]
        st = drain()
        self.assertEqual(st["pending"], 0)
        self.assertEqual(sorted(v["VersionId"] for v in versions(self.central, c)), sorted(put))

    def test_status_pause_resume_drain(self):
        c, s = self.pair()
        admin("/moto-api/replication/pause")
        for i in range(3):
            self.src.put_object(Bucket=s, Key=f"{SRC_ACCOUNT}/p{i}", Body=b"p")
        code, st = admin("/moto-api/replication/status", method="GET")
        self.assertEqual((code, st["pending"], st["paused"]), (200, 3, True))
        time.sleep(0.3)
        self.assertEqual(versions(self.central, c), [])
        admin("/moto-api/replication/resume")
        self.assertEqual(drain()["pending"], 0)
        self.assertEqual(len(versions(self.central, c)), 3)

    def test_tag_changes_are_replicated(self):
        c, s = self.pair()
        key = f"{SRC_ACCOUNT}/t.txt"
        vid = self.src.put_object(Bucket=s, Key=key, Body=b"t", Tagging="a=1")["VersionId"]
        drain()
        self.src.put_object_tagging(Bucket=s, Key=key, VersionId=vid,
                                    Tagging={"TagSet": [{"Key": "b", "Value": "2"}]})
        self.assertEqual(self.src.head_object(Bucket=s, Key=key)["ReplicationStatus"], "PENDING")
        drain()
        tags = self.central.get_object_tagging(Bucket=c, Key=key, VersionId=vid)["TagSet"]
        self.assertEqual(tags, [{"Key": "b", "Value": "2"}])
        self.src.delete_object_tagging(Bucket=s, Key=key, VersionId=vid)
        drain()
        self.assertEqual(self.central.get_object_tagging(Bucket=c, Key=key,
                                                         VersionId=vid)["TagSet"], [])
        self.assertEqual(self.src.head_object(Bucket=s, Key=key)["ReplicationStatus"],
                         "COMPLETED")

    def test_failed_when_destination_missing_or_unversioned(self):
        s = f"src-{uid()}"
        make_bucket(self.src, s, self.src_key)
        unversioned = f"plain-{uid()}"
        make_bucket(self.central, unversioned, versioned=False)
        put_replication(self.src, s, rule(f"missing-{uid()}", prefix="a/", rid="a",
                                          priority=2, replica_key=self.central_key),
                        rule(unversioned, prefix="b/", rid="b", priority=1,
                             replica_key=self.central_key))
        self.src.put_object(Bucket=s, Key="a/x", Body=b"x")
        self.src.put_object(Bucket=s, Key="b/x", Body=b"x")
        drain()
        self.assertEqual(self.src.head_object(Bucket=s, Key="a/x")["ReplicationStatus"], "FAILED")
        self.assertEqual(self.src.head_object(Bucket=s, Key="b/x")["ReplicationStatus"], "FAILED")

    def test_failed_when_replica_key_missing_and_injected(self):
        c, s = self.pair(replica_key=f"arn:aws:kms:us-east-1:{CENTRAL_ACCOUNT}:key/{uuid.uuid4()}")
        self.src.put_object(Bucket=s, Key=f"{SRC_ACCOUNT}/k", Body=b"k")
        drain()
        self.assertEqual(self.src.head_object(Bucket=s, Key=f"{SRC_ACCOUNT}/k")
                         ["ReplicationStatus"], "FAILED")
        c2, s2 = self.pair()
        admin("/moto-api/replication/config", {"fail_prefix": f"{SRC_ACCOUNT}/bad"})
        self.src.put_object(Bucket=s2, Key=f"{SRC_ACCOUNT}/bad.txt", Body=b"b")
        self.src.put_object(Bucket=s2, Key=f"{SRC_ACCOUNT}/good.txt", Body=b"g")
        drain()
        self.assertEqual(self.src.head_object(Bucket=s2, Key=f"{SRC_ACCOUNT}/bad.txt")
                         ["ReplicationStatus"], "FAILED")
        self.assertEqual([v["Key"] for v in versions(self.central, c2)], [f"{SRC_ACCOUNT}/good.txt"])

    def test_failed_replication_is_told_to_the_topic_when_metrics_are_on(self):
        """[EVENTS]: one OperationFailedReplication record per failed object, to the topic of the
        central account its ARN names, only when the rule has replication metrics."""
        sess = session()
        sns = sess.client("sns", endpoint_url=ENDPOINT)
        sqs = sess.client("sqs", endpoint_url=ENDPOINT)
        topic = sns.create_topic(Name=f"alerts-{uid()}")["TopicArn"]
        queue = sqs.create_queue(QueueName=f"alerts-{uid()}")["QueueUrl"]
        queue_arn = sqs.get_queue_attributes(QueueUrl=queue, AttributeNames=["QueueArn"])[
            "Attributes"]["QueueArn"]
        sns.subscribe(TopicArn=topic, Protocol="sqs", Endpoint=queue_arn,
                      Attributes={"RawMessageDelivery": "true"})
        for metrics in (True, False):
            c, s = self.pair(metrics=metrics)
            self.src.put_bucket_notification_configuration(Bucket=s, NotificationConfiguration={
                "TopicConfigurations": [{"Id": "alerts", "TopicArn": topic,
                                         "Events": ["s3:Replication:OperationFailedReplication"]}]})
            admin("/moto-api/replication/config", {"fail_prefix": f"{SRC_ACCOUNT}/bad"})
            self.src.put_object(Bucket=s, Key=f"{SRC_ACCOUNT}/bad.txt", Body=b"b")
            self.src.put_object(Bucket=s, Key=f"{SRC_ACCOUNT}/good.txt", Body=b"g")
            drain()
            bodies = [json.loads(m["Body"]) for m in sqs.receive_message(
                QueueUrl=queue, MaxNumberOfMessages=10).get("Messages", [])]
            records = [r for b in bodies for r in b.get("Records", [])]
            if not metrics:
                self.assertEqual(records, [])
                continue
            self.assertEqual(len(records), 1, records)
            r = records[0]
            self.assertEqual(r["eventName"], "Replication:OperationFailedReplication")
            self.assertEqual((r["s3"]["bucket"]["name"], r["s3"]["object"]["key"]),
                             (s, f"{SRC_ACCOUNT}/bad.txt"))
            self.assertEqual(r["replicationEventData"]["replicationRuleId"], "r1")
            self.assertEqual(r["replicationEventData"]["destinationBucket"], f"arn:aws:s3:::{c}")
            self.assertIn("injected failure", r["replicationEventData"]["failureReason"])
            for m in sqs.receive_message(QueueUrl=queue, MaxNumberOfMessages=10).get(
                    "Messages", []):
                sqs.delete_message(QueueUrl=queue, ReceiptHandle=m["ReceiptHandle"])

    def test_sse_kms_needs_source_selection_criteria(self):
        c, s = self.pair(sse_kms=False)
        self.src.put_object(Bucket=s, Key=f"{SRC_ACCOUNT}/kms", Body=b"k")  # default SSE-KMS
        self.src.put_object(Bucket=s, Key=f"{SRC_ACCOUNT}/s3", Body=b"k",
                            ServerSideEncryption="AES256")
        drain()
        self.assertNotIn("ReplicationStatus",
                         self.src.head_object(Bucket=s, Key=f"{SRC_ACCOUNT}/kms"))
        self.assertEqual([v["Key"] for v in versions(self.central, c)], [f"{SRC_ACCOUNT}/s3"])
        self.assertEqual(self.central.head_object(Bucket=c, Key=f"{SRC_ACCOUNT}/s3")
                         ["ServerSideEncryption"], "AES256")

    def test_replicas_are_not_replicated_again(self):
        c, s = self.pair()
        third = f"third-{uid()}"
        make_bucket(self.central, third)
        put_replication(self.central, c, rule(third, prefix="", sse_kms=True,
                                              replica_key=self.central_key))
        self.src.put_object(Bucket=s, Key=f"{SRC_ACCOUNT}/chain", Body=b"c")
        drain()
        self.assertEqual(len(versions(self.central, c)), 1)
        self.assertEqual(versions(self.central, third), [])
        self.central.put_object(Bucket=c, Key="direct", Body=b"d")  # a real write in central
        drain()
        self.assertEqual([v["Key"] for v in versions(self.central, third)], ["direct"])

    def test_copy_and_multipart_are_replicated(self):
        c, s = self.pair()
        src_key = f"{SRC_ACCOUNT}/orig"
        self.src.put_object(Bucket=s, Key=src_key, Body=b"o", Metadata={"m": "1"})
        cp = self.src.copy_object(Bucket=s, Key=f"{SRC_ACCOUNT}/copy",
                                  CopySource={"Bucket": s, "Key": src_key})
        mp = self.src.create_multipart_upload(Bucket=s, Key=f"{SRC_ACCOUNT}/mp",
                                              ContentType="application/x-mp",
                                              Metadata={"parts": "2"}, Tagging="mp=yes")
        parts = []
        for n, chunk in ((1, b"a" * 2048), (2, b"b" * 10)):
            e = self.src.upload_part(Bucket=s, Key=f"{SRC_ACCOUNT}/mp", UploadId=mp["UploadId"],
                                     PartNumber=n, Body=chunk)["ETag"]
            parts.append({"PartNumber": n, "ETag": e})
        done = self.src.complete_multipart_upload(Bucket=s, Key=f"{SRC_ACCOUNT}/mp",
                                                  UploadId=mp["UploadId"],
                                                  MultipartUpload={"Parts": parts})
        drain()
        rc = self.central.head_object(Bucket=c, Key=f"{SRC_ACCOUNT}/copy")
        self.assertEqual((rc["VersionId"], rc["Metadata"]), (cp["VersionId"], {"m": "1"}))
        rm = self.central.get_object(Bucket=c, Key=f"{SRC_ACCOUNT}/mp")
        self.assertEqual(rm["VersionId"], done["VersionId"])
        self.assertEqual(rm["Body"].read(), b"a" * 2048 + b"b" * 10)
        self.assertEqual((rm["ContentType"], rm["Metadata"]), ("application/x-mp",
                                                               {"parts": "2"}))
        self.assertEqual(rm["ETag"], done["ETag"])
        self.assertEqual(self.central.get_object_tagging(Bucket=c, Key=f"{SRC_ACCOUNT}/mp")
                         ["TagSet"], [{"Key": "mp", "Value": "yes"}])

    def test_rule_priority_filter_forms_and_disabled_rules(self):
        c = f"central-{uid()}"
        s = f"src-{uid()}"
        make_bucket(self.central, c, self.central_key)
        make_bucket(self.src, s, self.src_key)
        put_replication(self.src, s,
                        rule(c, prefix="p/", rid="low", priority=1, storage="STANDARD_IA",
                             replica_key=self.central_key),
                        rule(c, prefix="p/hot/", rid="high", priority=5, storage="GLACIER_IR",
                             replica_key=self.central_key, filter_form="and",
                             tags={"tier": "hot"}),
                        rule(c, prefix="off/", rid="off", priority=9, status="Disabled",
                             replica_key=self.central_key))
        self.src.put_object(Bucket=s, Key="p/hot/a", Body=b"a", Tagging="tier=hot")
        self.src.put_object(Bucket=s, Key="p/hot/b", Body=b"b")  # tag filter fails: low rule
        self.src.put_object(Bucket=s, Key="off/c", Body=b"c")
        drain()
        sc = {v["Key"]: v["StorageClass"] for v in versions(self.central, c)}
        self.assertEqual(sc, {"p/hot/a": "GLACIER_IR", "p/hot/b": "STANDARD_IA"})

    def test_v1_rule_prefix_replicates_delete_markers(self):
        c, s = self.pair(filter_form="v1")
        key = f"{SRC_ACCOUNT}/v1"
        self.src.put_object(Bucket=s, Key=key, Body=b"v1")
        time.sleep(0.01)
        self.src.delete_object(Bucket=s, Key=key)
        drain()
        self.assertEqual(sorted(v["Marker"] for v in versions(self.central, c)), [False, True])

    def test_get_bucket_replication_returns_what_was_stored(self):
        c, s = self.pair(storage="STANDARD_IA", delete_markers=False)
        got = self.src.get_bucket_replication(Bucket=s)["ReplicationConfiguration"]["Rules"][0]
        self.assertEqual(got["Filter"], {"Prefix": f"{SRC_ACCOUNT}/"})
        self.assertEqual(got["SourceSelectionCriteria"],
                         {"SseKmsEncryptedObjects": {"Status": "Enabled"}})
        self.assertEqual(got["Destination"]["EncryptionConfiguration"],
                         {"ReplicaKmsKeyID": self.central_key})

    def test_concurrent_writes_and_listings_lose_nothing(self):
        import concurrent.futures as cf
        c, s = self.pair()
        admin("/moto-api/replication/config", {"delay_ms": 0})
        central = s3(session())
        client = s3(self.src_sess)

        def write(t: int) -> list[str]:
            return [client.put_object(Bucket=s, Key=f"{SRC_ACCOUNT}/c{(t + i) % 5}",
                                      Body=b"x")["VersionId"] for i in range(15)]

        def listing(_: int) -> int:
            return len(central.list_object_versions(Bucket=c).get("Versions", []))

        with cf.ThreadPoolExecutor(8) as pool:
            writes = [pool.submit(write, t) for t in range(6)]
            lists = [pool.submit(listing, i) for i in range(10)]
            ids = [v for f in writes for v in f.result()]
            [f.result() for f in lists]
        drain()
        got = [v["VersionId"] for v in versions(self.central, c)]
        self.assertEqual(sorted(got), sorted(ids))

    def test_plain_buckets_unchanged(self):
        b = f"plain-{uid()}"
        make_bucket(self.central, b)
        ids = [self.central.put_object(Bucket=b, Key="k", Body=str(i).encode())["VersionId"]
               for i in range(3)]
        self.central.delete_object(Bucket=b, Key="k", VersionId=ids[1])
        lv = self.central.list_object_versions(Bucket=b)["Versions"]
        self.assertEqual([v["VersionId"] for v in lv], [ids[2], ids[0]])
        self.assertEqual([v["IsLatest"] for v in lv], [True, False])
        self.assertNotIn("ReplicationStatus", self.central.head_object(Bucket=b, Key="k"))
        self.assertEqual(self.central.get_object(Bucket=b, Key="k")["Body"].read(), b"2")


def write_manifest(client, bucket: str, key: str, rows: list[tuple[str, str, str]]) -> dict:
    buf = io.StringIO()
    w = csv.writer(buf, lineterminator="\n")
    for b, k, v in rows:
        w.writerow([b, urllib.parse.quote(k, safe="/"), v])
    etag = client.put_object(Bucket=bucket, Key=key, Body=buf.getvalue().encode())["ETag"]
    return {"Spec": {"Format": "S3BatchOperations_CSV_20180820",
                     "Fields": ["Bucket", "Key", "VersionId"]},
            "Location": {"ObjectArn": f"arn:aws:s3:::{bucket}/{key}", "ETag": etag.strip('"')}}


def wait_job(ctl, account: str, job_id: str, timeout: float = 20) -> dict:
    deadline = time.monotonic() + timeout
    while True:
        j = ctl.describe_job(AccountId=account, JobId=job_id)["Job"]
        if j["Status"] in ("Complete", "Failed", "Cancelled") or time.monotonic() > deadline:
            return j
        time.sleep(0.05)


def read_report(client, bucket: str, prefix: str, job_id: str) -> tuple[dict, list[list[str]]]:
    base = f"{prefix}/job-{job_id}"
    manifest = json.loads(client.get_object(Bucket=bucket, Key=f"{base}/manifest.json")
                          ["Body"].read())
    rows = []
    for r in manifest["Results"]:
        data = client.get_object(Bucket=r["Bucket"], Key=r["Key"])["Body"].read()
        assert hashlib.md5(data).hexdigest() == r["MD5Checksum"]
        assert r["Key"].startswith(f"{base}/results/") and r["Key"].endswith(".csv")
        rows += list(csv.reader(io.StringIO(data.decode())))
    return manifest, rows


class BatchOperations(Base):
    def setUp(self) -> None:
        super().setUp()
        admin("/moto-api/batch/config", {"start_delay_ms": 20, "task_delay_ms": 0})

    def test_put_object_copy_job_with_report_and_progress(self):
        central, target = f"central-{uid()}", f"restore-{uid()}"
        make_bucket(self.central, central, self.central_key)
        make_bucket(self.src, target, self.src_key)
        keys = [f"{SRC_ACCOUNT}/a b.txt", f"{SRC_ACCOUNT}/plus+sign.txt", f"{SRC_ACCOUNT}/é.txt"]
        rows = []
        for i, k in enumerate(keys):
            v = self.central.put_object(Bucket=central, Key=k, Body=f"body{i}".encode(),
                                        ContentType="text/csv", Metadata={"i": str(i)},
                                        Tagging=f"n={i}")["VersionId"]
            self.central.put_object(Bucket=central, Key=k, Body=b"newer")
            rows.append((central, k, v))
        rows.append((central, f"{SRC_ACCOUNT}/missing", "nope-version"))
        manifest = write_manifest(self.central, central, "manifests/m.csv", rows)
        ctl = s3control(self.src_sess)
        admin("/moto-api/batch/config", {"task_delay_ms": 150})
        req = dict(AccountId=SRC_ACCOUNT, ConfirmationRequired=False, Priority=10,
                   RoleArn=f"arn:aws:iam::{SRC_ACCOUNT}:role/s3central-batch",
                   ClientRequestToken="restore-token-1", Manifest=manifest,
                   Operation={"S3PutObjectCopy": {
                       "TargetResource": f"arn:aws:s3:::{target}",
                       "TargetKeyPrefix": "restored/", "SSEAwsKmsKeyId": self.src_key,
                       "BucketKeyEnabled": True, "MetadataDirective": "COPY",
                       "StorageClass": "STANDARD_IA"}},
                   Report={"Bucket": f"arn:aws:s3:::{target}", "Prefix": "reports",
                           "Format": "Report_CSV_20180820", "Enabled": True,
                           "ReportScope": "AllTasks"})
        job_id = ctl.create_job(**req)["JobId"]
        self.assertEqual(ctl.create_job(**req)["JobId"], job_id)  # same token: same job
        with self.assertRaises(ctl.exceptions.IdempotencyException):
            ctl.create_job(**dict(req, Priority=11))
        seen_active = None
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline:
            j = ctl.describe_job(AccountId=SRC_ACCOUNT, JobId=job_id)["Job"]
            p = j["ProgressSummary"]
            if j["Status"] == "Active" and 0 < p["NumberOfTasksSucceeded"] < 3:
                seen_active = p
                break
            time.sleep(0.03)
        self.assertIsNotNone(seen_active, "never saw the job Active with partial progress")
        self.assertEqual(seen_active["TotalNumberOfTasks"], 4)
        j = wait_job(ctl, SRC_ACCOUNT, job_id)
        self.assertEqual(j["Status"], "Complete")
        self.assertEqual((j["ProgressSummary"]["NumberOfTasksSucceeded"],
                          j["ProgressSummary"]["NumberOfTasksFailed"]), (3, 1))
        self.assertEqual(j["Operation"]["S3PutObjectCopy"]["TargetKeyPrefix"], "restored/")
        self.assertEqual(j["Manifest"]["Location"]["ETag"], manifest["Location"]["ETag"])
        self.assertTrue(j["JobArn"].endswith(f":{SRC_ACCOUNT}:job/{job_id}"))
        listed = ctl.list_jobs(AccountId=SRC_ACCOUNT)["Jobs"]
        self.assertEqual(listed[0]["JobId"], job_id)  # newest first
        self.assertEqual(listed[0]["Operation"], "S3PutObjectCopy")
        self.assertEqual(ctl.list_jobs(AccountId=OTHER_ACCOUNT).get("Jobs", []), [])
        for i, k in enumerate(keys):
            h = self.src.head_object(Bucket=target, Key="restored/" + k)
            self.assertEqual(self.src.get_object(Bucket=target, Key="restored/" + k)["Body"]
                             .read(), f"body{i}".encode())
            self.assertEqual((h["ContentType"], h["Metadata"]), ("text/csv", {"i": str(i)}))
            self.assertEqual((h["SSEKMSKeyId"], h["StorageClass"], h["BucketKeyEnabled"]),
                             (self.src_key, "STANDARD_IA", True))
            self.assertEqual(self.src.get_object_tagging(Bucket=target, Key="restored/" + k)
                             ["TagSet"], [{"Key": "n", "Value": str(i)}])
        rep, rrows = read_report(self.src, target, "reports", job_id)
        self.assertEqual(rep["Format"], "Report_CSV_20180820")
        self.assertEqual(rep["ReportSchema"],
                         "Bucket, Key, VersionId, TaskStatus, ErrorCode, HTTPStatusCode, "
                         "ResultMessage")
        self.assertEqual(sorted(r["TaskExecutionStatus"] for r in rep["Results"]),
                         ["failed", "succeeded"])
        by_key = {urllib.parse.unquote(r[1]): r for r in rrows}
        for b, k, v in rows[:3]:
            self.assertEqual(by_key[k], [b, urllib.parse.quote(k, safe="/"), v, "succeeded",
                                         "200", "", "Successful"])
        bad = by_key[f"{SRC_ACCOUNT}/missing"]
        self.assertEqual(bad[3:6], ["failed", "404", "NoSuchVersion"])

    def test_manifest_etag_mismatch_fails_the_job(self):
        b = f"central-{uid()}"
        make_bucket(self.central, b)
        manifest = write_manifest(self.central, b, "m.csv", [(b, "x", "v")])
        manifest["Location"]["ETag"] = "0" * 32
        ctl = s3control(session())
        job_id = ctl.create_job(
            AccountId=CENTRAL_ACCOUNT, ConfirmationRequired=False, Priority=1,
            RoleArn="arn:aws:iam::123456789012:role/r", ClientRequestToken=uid(),
            Manifest=manifest, Operation={"S3PutObjectCopy": {"TargetResource":
                                                              f"arn:aws:s3:::{b}"}},
            Report={"Enabled": False})["JobId"]
        j = wait_job(ctl, CENTRAL_ACCOUNT, job_id)
        self.assertEqual(j["Status"], "Failed")
        self.assertIn("ETag", j["FailureReasons"][0]["FailureReason"])
        with self.assertRaises(ctl.exceptions.NotFoundException):
            ctl.describe_job(AccountId=OTHER_ACCOUNT, JobId=job_id)  # jobs are per account

    def test_a_job_fails_on_request_and_others_do_not(self):
        b = f"central-{uid()}"
        make_bucket(self.central, b)
        v = self.central.put_object(Bucket=b, Key="k", Body=b"k")["VersionId"]
        manifest = write_manifest(self.central, b, "m.csv", [(b, "k", v)])
        ctl = s3control(session())
        marker = uid()
        admin("/moto-api/batch/config", {"fail_description": marker})
        try:
            common = dict(AccountId=CENTRAL_ACCOUNT, ConfirmationRequired=False, Priority=1,
                          RoleArn="arn:aws:iam::123456789012:role/r", Manifest=manifest,
                          Operation={"S3PutObjectCopy": {"TargetResource": f"arn:aws:s3:::{b}",
                                                         "TargetKeyPrefix": "f/"}},
                          Report={"Enabled": False})
            failing = ctl.create_job(ClientRequestToken=uid(), Description=f"x {marker} y",
                                     **common)["JobId"]
            other = ctl.create_job(ClientRequestToken=uid(), Description="another test",
                                   **common)["JobId"]
            f = wait_job(ctl, CENTRAL_ACCOUNT, failing)
            self.assertEqual(f["Status"], "Failed")
            self.assertEqual(f["FailureReasons"][0]["FailureCode"], "AssumeRoleNotPermitted")
            self.assertEqual(wait_job(ctl, CENTRAL_ACCOUNT, other)["Status"], "Complete")
        finally:
            admin("/moto-api/batch/config", {"fail_description": ""})
        # fail_times: only the first matching job fails, as a role IAM has not propagated yet.
        admin("/moto-api/batch/config", {"fail_description": marker, "fail_times": 1})
        try:
            first = ctl.create_job(ClientRequestToken=uid(), Description=f"{marker} 1",
                                   **common)["JobId"]
            self.assertEqual(wait_job(ctl, CENTRAL_ACCOUNT, first)["Status"], "Failed")
            second = ctl.create_job(ClientRequestToken=uid(), Description=f"{marker} 2",
                                    **common)["JobId"]
            self.assertEqual(wait_job(ctl, CENTRAL_ACCOUNT, second)["Status"], "Complete")
        finally:
            admin("/moto-api/batch/config", {"fail_description": "", "fail_times": 0})
        # A task fails on request; the job completes with it counted.
        w = self.central.put_object(Bucket=b, Key=f"w-{marker}", Body=b"w")["VersionId"]
        both = write_manifest(self.central, b, "m2.csv", [(b, "k", v), (b, f"w-{marker}", w)])
        admin("/moto-api/batch/config", {"fail_task_key": marker})
        try:
            job = ctl.create_job(ClientRequestToken=uid(), Description="tasks", Manifest=both,
                                 **{k: x for k, x in common.items() if k != "Manifest"})["JobId"]
            j = wait_job(ctl, CENTRAL_ACCOUNT, job)
            self.assertEqual(j["Status"], "Complete")
            self.assertEqual((j["ProgressSummary"]["NumberOfTasksSucceeded"],
                              j["ProgressSummary"]["NumberOfTasksFailed"]), (1, 1))
        finally:
            admin("/moto-api/batch/config", {"fail_task_key": ""})

    def test_confirmation_and_cancel(self):
        b = f"central-{uid()}"
        make_bucket(self.central, b)
        v = self.central.put_object(Bucket=b, Key="k", Body=b"k")["VersionId"]
        manifest = write_manifest(self.central, b, "m.csv", [(b, "k", v)])
        ctl = s3control(session(), host_style="127.0.0.1")
        common = dict(AccountId=CENTRAL_ACCOUNT, ConfirmationRequired=True, Priority=1,
                      RoleArn="arn:aws:iam::123456789012:role/r", Manifest=manifest,
                      Operation={"S3PutObjectCopy": {"TargetResource": f"arn:aws:s3:::{b}",
                                                     "TargetKeyPrefix": "c/"}},
                      Report={"Enabled": False})
        j1 = ctl.create_job(ClientRequestToken=uid(), **common)["JobId"]
        j2 = ctl.create_job(ClientRequestToken=uid(), **common)["JobId"]
        for j in (j1, j2):
            deadline = time.monotonic() + 5
            while ctl.describe_job(AccountId=CENTRAL_ACCOUNT, JobId=j)["Job"]["Status"] != \
                    "Suspended" and time.monotonic() < deadline:
                time.sleep(0.02)
        ctl.update_job_status(AccountId=CENTRAL_ACCOUNT, JobId=j1, RequestedJobStatus="Ready")
        ctl.update_job_status(AccountId=CENTRAL_ACCOUNT, JobId=j2,
                              RequestedJobStatus="Cancelled", StatusUpdateReason="test")
        self.assertEqual(wait_job(ctl, CENTRAL_ACCOUNT, j1)["Status"], "Complete")
        d2 = wait_job(ctl, CENTRAL_ACCOUNT, j2)
        self.assertEqual((d2["Status"], d2["StatusUpdateReason"]), ("Cancelled", "test"))
        self.assertEqual(self.central.get_object(Bucket=b, Key="c/k")["Body"].read(), b"k")
        self.assertIn(f"{CENTRAL_ACCOUNT}.127.0.0.1:{PORT}", SEEN_HOSTS)
        only = ctl.list_jobs(AccountId=CENTRAL_ACCOUNT, JobStatuses=["Cancelled"])["Jobs"]
        self.assertIn(j2, [x["JobId"] for x in only])
        self.assertNotIn(j1, [x["JobId"] for x in only])

    def test_batch_replication_of_existing_and_failed_versions(self):
        c, s = f"central-{uid()}", f"src-{uid()}"
        make_bucket(self.central, c, self.central_key)
        make_bucket(self.src, s, self.src_key)
        existing = [self.src.put_object(Bucket=s, Key=f"{SRC_ACCOUNT}/old{i}", Body=b"o")
                    ["VersionId"] for i in range(3)]
        outside = self.src.put_object(Bucket=s, Key="elsewhere/x", Body=b"x")["VersionId"]
        put_replication(self.src, s, rule(c, prefix=f"{SRC_ACCOUNT}/",
                                          replica_key=self.central_key))
        admin("/moto-api/replication/config", {"fail_prefix": f"{SRC_ACCOUNT}/flaky"})
        flaky = self.src.put_object(Bucket=s, Key=f"{SRC_ACCOUNT}/flaky", Body=b"f")["VersionId"]
        ok = self.src.put_object(Bucket=s, Key=f"{SRC_ACCOUNT}/fine", Body=b"f")["VersionId"]
        drain()
        self.assertEqual(self.src.head_object(Bucket=s, Key=f"{SRC_ACCOUNT}/flaky")
                         ["ReplicationStatus"], "FAILED")
        admin("/moto-api/replication/config", {"fail_prefix": ""})
        ctl = s3control(self.src_sess)
        req = dict(
            AccountId=SRC_ACCOUNT, ConfirmationRequired=False, Priority=1,
            RoleArn=f"arn:aws:iam::{SRC_ACCOUNT}:role/s3central-batch-replication",
            ClientRequestToken=f"backfill-{s}",
            Operation={"S3ReplicateObject": {}},
            ManifestGenerator={"S3JobManifestGenerator": {
                "SourceBucket": f"arn:aws:s3:::{s}", "EnableManifestOutput": False,
                "Filter": {"EligibleForReplication": True,
                           "ObjectReplicationStatuses": ["NONE", "FAILED"]}}},
            Report={"Bucket": f"arn:aws:s3:::{s}", "Prefix": "batch-reports",
                    "Format": "Report_CSV_20180820", "Enabled": True,
                    "ReportScope": "AllTasks"})
        job_id = ctl.create_job(**req)["JobId"]
        self.assertEqual(ctl.create_job(**req)["JobId"], job_id)
        j = wait_job(ctl, SRC_ACCOUNT, job_id)
        self.assertEqual(j["Status"], "Complete")
        self.assertEqual(j["ProgressSummary"]["TotalNumberOfTasks"], 4)
        self.assertEqual(j["ProgressSummary"]["NumberOfTasksSucceeded"], 4)
        self.assertEqual(j["ManifestGenerator"]["S3JobManifestGenerator"]["Filter"]
                         ["ObjectReplicationStatuses"], ["NONE", "FAILED"])
        drain()  # the report objects written into s are outside the prefix: no replication
        central_ids = {v["VersionId"] for v in versions(self.central, c)}
        self.assertEqual(central_ids, set(existing) | {flaky, ok})
        self.assertNotIn(outside, central_ids)
        for i, v in enumerate(existing):
            self.assertEqual(self.src.head_object(Bucket=s, Key=f"{SRC_ACCOUNT}/old{i}")
                             ["ReplicationStatus"], "COMPLETED")
            self.assertEqual(self.central.head_object(Bucket=c, Key=f"{SRC_ACCOUNT}/old{i}",
                                                      VersionId=v)["ReplicationStatus"],
                             "REPLICA")
        _, rows = read_report(self.src, s, "batch-reports", job_id)
        self.assertEqual(sorted((r[1], r[2], r[3]) for r in rows),
                         sorted([(f"{SRC_ACCOUNT}/old{i}", v, "succeeded")
                                 for i, v in enumerate(existing)]
                                + [(f"{SRC_ACCOUNT}/flaky", flaky, "succeeded")]))
        # A second run with a new token finds nothing left to do.
        j2 = ctl.create_job(**dict(req, ClientRequestToken=f"again-{s}"))["JobId"]
        self.assertEqual(wait_job(ctl, SRC_ACCOUNT, j2)["ProgressSummary"]["TotalNumberOfTasks"],
                         0)

    def test_unsupported_operation_is_refused(self):
        ctl = s3control(session())
        with self.assertRaises(Exception) as e:
            ctl.create_job(AccountId=CENTRAL_ACCOUNT, ConfirmationRequired=False, Priority=1,
                           RoleArn="arn:aws:iam::123456789012:role/r", ClientRequestToken=uid(),
                           Operation={"S3PutObjectTagging": {"TagSet": []}},
                           Manifest={"Spec": {"Format": "S3BatchOperations_CSV_20180820"},
                                     "Location": {"ObjectArn": "arn:aws:s3:::b/m", "ETag": "e"}},
                           Report={"Enabled": False})
        self.assertIn("BadRequest", str(e.exception))


class ListingViews(unittest.TestCase):
    """moto_server.py's listing_without_deep_copies: ListObjectVersions answers from views of the
    stored versions; what it lists, and the versions themselves, must be as without it."""

    def test_versions_markers_and_is_latest_are_listed_as_stored(self):
        client = s3(session())
        bucket = f"views-{uid()}"
        make_bucket(client, bucket)
        written = {}  # key -> [(version id, body)], oldest first
        for i in range(12):
            key = f"p/k{i:02d}"
            for g in range(1 + i % 3):
                body = f"{key} generation {g}".encode()
                vid = client.put_object(Bucket=bucket, Key=key, Body=body)["VersionId"]
                written.setdefault(key, []).append((vid, body))
        client.put_object(Bucket=bucket, Key="q/outside", Body=b"other prefix")
        marker = client.delete_object(Bucket=bucket, Key="p/k04")["VersionId"]
        # Listed twice, in pages of 5 with both markers: the same entries every time.
        listings = []
        for _ in range(2):
            got, kwargs = [], {"Bucket": bucket, "Prefix": "p/", "MaxKeys": 5}
            while True:
                page = client.list_object_versions(**kwargs)
                got += [("v", v["Key"], v["VersionId"], v["IsLatest"], v["Size"])
                        for v in page.get("Versions", [])]
                got += [("m", m["Key"], m["VersionId"], m["IsLatest"], 0)
                        for m in page.get("DeleteMarkers", [])]
                if not page["IsTruncated"]:
                    break
                kwargs.update(KeyMarker=page["NextKeyMarker"],
                              VersionIdMarker=page["NextVersionIdMarker"])
            listings.append(sorted(got))
        self.assertEqual(listings[0], listings[1])
        want = [("m", "p/k04", marker, True, 0)]
        for key, versions in written.items():
            for n, (vid, body) in enumerate(versions):
                latest = n == len(versions) - 1 and key != "p/k04"
                want.append(("v", key, vid, latest, len(body)))
        self.assertEqual(listings[0], sorted(want))
        # The stored versions were not disposed by the listing: every body reads back.
        for key, versions in written.items():
            for vid, body in versions:
                got = client.get_object(Bucket=bucket, Key=key, VersionId=vid)["Body"].read()
                self.assertEqual(got, body, f"{key} {vid}")


class _Result(unittest.TextTestResult):
    pass


def main() -> int:
    start = time.monotonic()
    start_server()
    try:
        loader = unittest.TestLoader()
        names = [a for a in sys.argv[1:] if not a.startswith("-")]
        mod = sys.modules[__name__]
        suite = (loader.loadTestsFromNames(names, mod) if names
                 else loader.loadTestsFromModule(mod))
        verbosity = 2 if "-v" in sys.argv else 1
        result = unittest.TextTestRunner(verbosity=verbosity, resultclass=_Result).run(suite)
    finally:
        stop_server()
    failed = len(result.failures) + len(result.errors)
    passed = max(0, result.testsRun - failed - len(result.skipped))
    print(f"moto_ext emulation tests: {time.monotonic() - start:.1f} s")
    print(f"{passed} passed, {failed} failed")
    return 0 if failed == 0 and result.testsRun > 0 else 1


if __name__ == "__main__":
    sys.exit(main())
