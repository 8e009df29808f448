#!/usr/bin/env python3
"""Seeding and checking helper for scripts/demo (run with .venv-moto's python: it needs boto3).

    demo_seed.py central  --bucket CENTRAL
    demo_seed.py history  --bucket CENTRAL --state FILE     # prints the cut-off time T
    demo_seed.py attack   --bucket CENTRAL --state FILE
    demo_seed.py target   --account ID --bucket SRC --alias ALIAS
    demo_seed.py verify   --account ID --bucket SRC --state FILE

Talks only to AWS_ENDPOINT_URL (the local moto server started by scripts/moto-env.sh). The local
server does not replicate, so "replicas" are written straight into the central bucket under
<account-id>/..., as S3 replication would (same key, re-encrypted with the central key).
Prints short lines meant for the demo's story; exits non-zero on any mismatch.
"""

import argparse
import datetime as dt
import json
import os
import sys
import time

import boto3
from botocore.config import Config

CENTRAL_ALIAS = "alias/s3central-central"
ROLE = "OrganizationAccountAccessRole"
ATTACK = b"ENCRYPTED BY ATTACKER -- send 10 BTC to get your files back\n"

# Pre-T history per account: (action, relative key, body, content type, metadata, tags).
# The *last* put of a key before T is its state at T (delete markers are ignored by default).
HISTORY = {
    "111111111111": [
        ("put", "docs/readme.txt", b"Acme prod data, v1\n", "text/plain", {}, {}),
        ("put", "config/app.json", b'{"replicas": 2, "region": "us-east-1"}\n',
         "application/json", {"owner": "platform-team"}, {"env": "prod"}),
        ("put", "data/customers.csv", b"id,name\n1,Ada\n2,Grace\n", "text/csv", {}, {}),
        ("put", "tmp/old-export.csv", b"id,name\n1,Ada\n", "text/csv", {}, {}),
        ("put", "docs/readme.txt", b"Acme prod data, v2 (reviewed)\n", "text/plain",
         {"reviewed-by": "alice"}, {}),
        ("put", "config/app.json", b'{"replicas": 3, "region": "us-east-1"}\n',
         "application/json", {"owner": "platform-team"}, {"env": "prod"}),
        ("delete", "tmp/old-export.csv", None, None, None, None),
    ],
    "222222222222": [
        ("put", "reports/2026-q1.json", b'{"revenue": 1200}\n', "application/json", {}, {}),
        ("put", "reports/2026-q2.json", b'{"revenue": 1350}\n', "application/json", {}, {}),
    ],
    "333333333333": [
        ("put", "logs/app.log", b"boot ok\n", "text/plain", {}, {"retention": "30d"}),
    ],
}

# After T, in account 111111111111 only: overwrite with garbage, delete, drop a ransom note.
ATTACK_STEPS = [
    ("put", "docs/readme.txt"),
    ("put", "config/app.json"),
    ("delete", "data/customers.csv"),
    ("put", "README-RANSOM.txt"),
]


def session(account=None):
    """A boto3 session: the default identity (central account), or acting as `account`."""
    if account is None:
        return boto3.session.Session()
    sts = boto3.client("sts")
    creds = sts.assume_role(RoleArn=f"arn:aws:iam::{account}:role/{ROLE}",
                            RoleSessionName="s3central-demo")["Credentials"]
    return boto3.session.Session(aws_access_key_id=creds["AccessKeyId"],
                                 aws_secret_access_key=creds["SecretAccessKey"],
                                 aws_session_token=creds["SessionToken"])


def s3_client(sess):
    return sess.client("s3", config=Config(s3={"addressing_style": "path"}))


def make_bucket(sess, bucket, alias, description):
    """Versioned bucket with default SSE-KMS under a new key reachable as `alias`."""
    kms = sess.client("kms")
    key_id = kms.create_key(Description=description)["KeyMetadata"]["KeyId"]
    kms.create_alias(AliasName=alias, TargetKeyId=key_id)
    s3 = s3_client(sess)
    s3.create_bucket(Bucket=bucket)
    s3.put_bucket_versioning(Bucket=bucket, VersioningConfiguration={"Status": "Enabled"})
    s3.put_bucket_encryption(Bucket=bucket, ServerSideEncryptionConfiguration={"Rules": [{
        "ApplyServerSideEncryptionByDefault": {"SSEAlgorithm": "aws:kms",
                                               "KMSMasterKeyID": alias},
        "BucketKeyEnabled": True}]})
    return key_id


def put(s3, bucket, key, body, ctype, meta, tags):
    args = dict(Bucket=bucket, Key=key, Body=body, ContentType=ctype, Metadata=meta,
                ServerSideEncryption="aws:kms", SSEKMSKeyId=CENTRAL_ALIAS)
    if tags:
        args["Tagging"] = "&".join(f"{k}={v}" for k, v in tags.items())
    return s3.put_object(**args)["VersionId"]


def sleep_past_second():
    """Sleep until just past the next whole second (LastModified has 1 s resolution)."""
    now = time.time()
    time.sleep(int(now) + 1 - now + 0.05)


def cmd_central(a):
    key_id = make_bucket(session(), a.bucket, CENTRAL_ALIAS, "s3central central bucket key")
    print(f"  central bucket s3://{a.bucket}: versioned, SSE-KMS {CENTRAL_ALIAS} ({key_id[:8]}...)")


def cmd_history(a):
    s3 = s3_client(session())
    state, summary = {}, []
    for account, steps in HISTORY.items():
        puts = deletes = 0
        expected = {}
        for action, rel, body, ctype, meta, tags in steps:
            key = f"{account}/{rel}"
            if action == "put":
                put(s3, a.bucket, key, body, ctype, meta, tags)
                expected[rel] = {"body": body.decode(), "content_type": ctype,
                                 "metadata": meta, "tags": tags}
                puts += 1
            else:
                s3.delete_object(Bucket=a.bucket, Key=key)  # a delete marker in central
                deletes += 1
        state[account] = expected
        summary.append(f"{account}: {puts} version{'s' if puts != 1 else ''}" +
                       (f", {deletes} delete marker" if deletes else ""))
    print("  " + "; ".join(summary))
    # T between seconds: every write above is < T, everything after is > T.
    sleep_past_second()
    t = dt.datetime.now(dt.timezone.utc).replace(microsecond=0)
    sleep_past_second()
    cutoff = t.strftime("%Y-%m-%dT%H:%M:%SZ")
    with open(a.state, "w") as f:
        json.dump({"t": cutoff, "expected": state}, f)
    print(cutoff)


def cmd_attack(a):
    s3 = s3_client(session())
    account = "111111111111"
    done = {"put": [], "delete": []}
    for action, rel in ATTACK_STEPS:
        key = f"{account}/{rel}"
        if action == "put":
            put(s3, a.bucket, key, ATTACK, "application/octet-stream", {}, {})
        else:
            s3.delete_object(Bucket=a.bucket, Key=key)
        done[action].append(rel)
    print(f"  wrote {ATTACK[:21].decode()!r} over: {', '.join(done['put'])}")
    print(f"  deleted: {', '.join(done['delete'])}")


def cmd_target(a):
    key_id = make_bucket(session(a.account), a.bucket, a.alias,
                         f"account {a.account} data key")
    print(f"  s3://{a.bucket} in account {a.account}: versioned, "
          f"SSE-KMS {a.alias} ({key_id[:8]}...)")


def cmd_verify(a):
    with open(a.state) as f:
        expected = json.load(f)["expected"][a.account]
    sess = session(a.account)
    s3 = s3_client(sess)
    alias_target = {x["AliasName"]: x.get("TargetKeyId")
                    for x in sess.client("kms").list_aliases()["Aliases"]}
    keys = []
    for page in s3.get_paginator("list_objects_v2").paginate(Bucket=a.bucket):
        keys += [o["Key"] for o in page.get("Contents", [])]
    prefix = f"{a.account}/"
    problems = []
    for key in keys:
        rel = key[len(prefix):] if key.startswith(prefix) else key
        obj = s3.get_object(Bucket=a.bucket, Key=key)
        body = obj["Body"].read()
        kms_id = obj.get("SSEKMSKeyId", "-")
        # arn:aws:kms:REGION:ACCOUNT:key/ID -> ACCOUNT:key/ID (shortened)
        parts = kms_id.split(":")
        short = f"{parts[4]}:{parts[5][:12]}..." if len(parts) == 6 else kms_id
        print(f"  {rel:<20} {body[:24]!r:<30} {obj.get('ServerSideEncryption', '-')} {short}")
        want = expected.get(rel)
        if want is None:
            problems.append(f"{rel}: not in the state at T")
            continue
        if body.decode(errors="replace") != want["body"]:
            problems.append(f"{rel}: body differs")
        if obj.get("ContentType") != want["content_type"]:
            problems.append(f"{rel}: content type {obj.get('ContentType')!r}")
        meta = obj.get("Metadata", {})
        if any(meta.get(k) != v for k, v in want["metadata"].items()):
            problems.append(f"{rel}: metadata {meta}")
        tags = {t["Key"]: t["Value"] for t in
                s3.get_object_tagging(Bucket=a.bucket, Key=key)["TagSet"]}
        if tags != want["tags"]:
            problems.append(f"{rel}: tags {tags}")
        if obj.get("ServerSideEncryption") != "aws:kms" or \
                kms_id.rsplit("/", 1)[-1] != alias_target.get(a.alias):
            problems.append(f"{rel}: not under {a.alias} ({kms_id})")
    for rel in expected:
        if f"{prefix}{rel}" not in keys:
            problems.append(f"{rel}: missing")
    if problems:
        print("MISMATCH with the state at T:\n  " + "\n  ".join(problems))
        sys.exit(1)
    print(f"  OK: {len(keys)} objects equal the state at T (bytes, content type, metadata, "
          f"tags), all under {a.alias}")


def main():
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    sub = p.add_subparsers(dest="cmd", required=True)
    for name, fn in [("central", cmd_central), ("history", cmd_history),
                     ("attack", cmd_attack), ("target", cmd_target), ("verify", cmd_verify)]:
        s = sub.add_parser(name)
        s.set_defaults(fn=fn)
        s.add_argument("--bucket", required=True)
        if name in ("history", "attack", "verify"):
            s.add_argument("--state", default=None)
        if name in ("target", "verify"):
            s.add_argument("--account", required=True)
        if name in ("target", "verify"):
            s.add_argument("--alias", default="alias/prod-data")
    a = p.parse_args()
    if not os.environ.get("AWS_ENDPOINT_URL"):
        sys.exit("AWS_ENDPOINT_URL is not set: run from scripts/demo (local server only)")
    a.fn(a)


if __name__ == "__main__":
    main()
