#!/usr/bin/env python3
"""Helper for scripts/demo (run with .venv-moto's python: it needs boto3).

    demo_seed.py org      --state FILE --config TOML  # organization, accounts, s3central.toml
    demo_seed.py history  --state FILE              # writes into the SOURCE buckets; prints T
    demo_seed.py drain    [--state FILE]            # waits for replication; shows one replica
    demo_seed.py attack   --state FILE              # overwrites and deletes in one source bucket
    demo_seed.py verify   --state FILE              # reads the restored source bucket back

Talks only to AWS_ENDPOINT_URL (the local server started by scripts/moto-env.sh). The server
emulates S3 replication (scripts/moto_ext/): a version written in a source bucket that `s3central
setup` gave a replication rule is copied into the central bucket under the same key, with the same
version id and LastModified, as S3 does; delete markers are not replicated (the rule says so).
Every write here goes to a SOURCE bucket, acting as that account (its
OrganizationAccountAccessRole); the central bucket is only ever read.
Prints short lines meant for the demo's story; exits non-zero on any mismatch.
"""

import argparse
import datetime as dt
import json
import os
import sys
import time
import urllib.request

import boto3
from botocore.config import Config

ROLE = "OrganizationAccountAccessRole"
BREAK_GLASS = "s3central-break-glass"
SOURCE_ALIAS = "alias/s3central-source"  # setup's default key alias in each source account
ATTACK = b"ENCRYPTED BY ATTACKER -- send 10 BTC to get your files back\n"
RANSOM_NOTE = "README-RANSOM.txt"

# The demo's accounts, by name; the first is the one attacked and restored.
ACCOUNTS = ["acme-prod", "acme-analytics", "acme-logs"]

# Pre-T history per account: (action, relative key, body, content type, metadata, tags).
# The last put of a key before T is its state at T (delete markers never reach central).
HISTORY = {
    "acme-prod": [
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
    "acme-analytics": [
        ("put", "reports/2026-q1.json", b'{"revenue": 1200}\n', "application/json", {}, {}),
        ("put", "reports/2026-q2.json", b'{"revenue": 1350}\n', "application/json", {}, {}),
    ],
    "acme-logs": [
        ("put", "logs/app.log", b"boot ok\n", "text/plain", {}, {"retention": "30d"}),
    ],
}

# After T, in the first account only: overwrite with garbage, delete, drop a ransom note.
ATTACK_STEPS = [
    ("put", "docs/readme.txt"),
    ("put", "config/app.json"),
    ("delete", "data/customers.csv"),
    ("put", RANSOM_NOTE),
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


def load(path):
    with open(path) as f:
        return json.load(f)


def save(path, state):
    with open(path, "w") as f:
        json.dump(state, f, indent=1)


def admin(path):
    """The test server's replication controls (plain HTTP on loopback, never through a proxy)."""
    opener = urllib.request.build_opener(urllib.request.ProxyHandler({}))
    url = os.environ["AWS_ENDPOINT_URL"] + path
    try:
        with opener.open(urllib.request.Request(url, method="POST"), timeout=60) as r:
            return r.status, json.load(r)
    except urllib.error.HTTPError as e:
        return e.code, json.load(e)


def sleep_past_second():
    """Sleep until just past the next whole second (LastModified has 1 s resolution)."""
    now = time.time()
    time.sleep(int(now) + 1 - now + 0.05)


def cmd_org(a):
    org = session().client("organizations")
    try:
        org_id = org.describe_organization()["Organization"]["Id"]
    except org.exceptions.AWSOrganizationsNotInUseException:
        org_id = org.create_organization(FeatureSet="ALL")["Organization"]["Id"]
    accounts = []
    for name in ACCOUNTS:
        status = org.create_account(Email=f"{name}@example.com", AccountName=name)
        account = status["CreateAccountStatus"]["AccountId"]
        accounts.append({"name": name, "id": account, "bucket": f"acme-data-{account}"})
    central = os.environ["S3CENTRAL_BUCKET"]
    # The break-glass role: after setup, the only principal that may change central or its key.
    iam = session().client("iam")
    trust = {"Version": "2012-10-17", "Statement": [{
        "Effect": "Allow", "Action": "sts:AssumeRole",
        "Principal": {"AWS": f"arn:aws:iam::{session().client('sts').get_caller_identity()['Account']}:root"}}]}
    try:
        iam.create_role(RoleName=BREAK_GLASS, AssumeRolePolicyDocument=json.dumps(trust),
                        Description="s3central break-glass: the only principal that may change central")
    except iam.exceptions.EntityAlreadyExistsException:
        pass
    save(a.state, {"org_id": org_id, "central": central, "accounts": accounts})
    sources = "".join(f'\n[[source]]\naccount = "{x["id"]}"  # {x["name"]}\n'
                      f'bucket = "{x["bucket"]}"\n' for x in accounts)
    with open(a.config, "w") as f:
        f.write(f"""# s3central.toml written by scripts/demo: the central account is the caller's
# (the organization's management account, 123456789012 on the local server).
[central]
bucket = "{central}"
kms_alias = "alias/s3central-central"
org_id = "{org_id}"
break_glass_role = "{BREAK_GLASS}"
{sources}""")
    print(f"  organization {org_id}; management (central) account "
          f"{session().client('sts').get_caller_identity()['Account']}")
    for acct in accounts:
        print(f"  created account {acct['id']} ({acct['name']}), "
              f"with its {ROLE} to act in it")
    print(" ".join(acct["id"] for acct in accounts))


def cmd_history(a):
    state = load(a.state)
    summary, expected = [], {}
    for acct in state["accounts"]:
        s3 = s3_client(session(acct["id"]))
        bucket, puts, deletes, mine = acct["bucket"], 0, 0, {}
        for action, rel, body, ctype, meta, tags in HISTORY[acct["name"]]:
            key = f"{acct['id']}/{rel}"  # the replication rule's prefix is "<account>/"
            if action == "put":
                args = dict(Bucket=bucket, Key=key, Body=body, ContentType=ctype, Metadata=meta)
                if tags:
                    args["Tagging"] = "&".join(f"{k}={v}" for k, v in tags.items())
                s3.put_object(**args)  # encrypted with the bucket's default key (setup's)
                mine[rel] = {"body": body.decode(), "content_type": ctype, "metadata": meta,
                             "tags": tags}
                puts += 1
            else:
                s3.delete_object(Bucket=bucket, Key=key)  # a delete marker in the source
                deletes += 1
        expected[acct["id"]] = mine
        summary.append(f"  s3://{bucket}: {puts} versions" +
                       (f", {deletes} delete marker" if deletes else ""))
    print("\n".join(summary))
    # T between seconds: every write above is < T, everything after is > T.
    sleep_past_second()
    t = dt.datetime.now(dt.timezone.utc).replace(microsecond=0)
    sleep_past_second()
    state["t"] = t.strftime("%Y-%m-%dT%H:%M:%SZ")
    state["expected"] = expected
    save(a.state, state)
    print(state["t"])


def cmd_drain(a):
    code, st = admin("/moto-api/replication/drain?timeout=30")
    if code != 200:
        sys.exit(f"replication did not drain: HTTP {code} {st}")
    print(f"  replication drained: {st['delivered']} versions delivered so far, "
          f"{st['pending']} pending, {st['failed']} failed")
    if not a.state:
        return
    state = load(a.state)
    acct = state["accounts"][0]
    key = f"{acct['id']}/docs/readme.txt"
    src = s3_client(session(acct["id"])).head_object(Bucket=acct["bucket"], Key=key)
    rep = s3_client(session()).head_object(Bucket=state["central"], Key=key)
    print(f"  e.g. {key}:")
    for where, h in ((f"source  s3://{acct['bucket']}", src),
                     (f"central s3://{state['central']}", rep)):
        print(f"    {where:<46} version {h['VersionId'][:12]}...  "
              f"{h['LastModified']:%H:%M:%S}  replication {h.get('ReplicationStatus', '-')}")
    if src["VersionId"] != rep["VersionId"]:
        sys.exit("the replica's version id differs from the source's")


def cmd_attack(a):
    state = load(a.state)
    acct = state["accounts"][0]
    s3 = s3_client(session(acct["id"]))
    done = {"put": [], "delete": []}
    for action, rel in ATTACK_STEPS:
        key = f"{acct['id']}/{rel}"
        if action == "put":
            s3.put_object(Bucket=acct["bucket"], Key=key, Body=ATTACK,
                          ContentType="application/octet-stream")
        else:
            s3.delete_object(Bucket=acct["bucket"], Key=key)
        done[action].append(rel)
    print(f"  in s3://{acct['bucket']}, as account {acct['id']}:")
    print(f"  wrote {ATTACK[:21].decode()!r} over: {', '.join(done['put'])}")
    print(f"  deleted: {', '.join(done['delete'])}")


def cmd_verify(a):
    state = load(a.state)
    acct = state["accounts"][0]
    account, bucket = acct["id"], acct["bucket"]
    expected = state["expected"][account]
    sess = session(account)
    s3 = s3_client(sess)
    alias_target = {x["AliasName"]: x.get("TargetKeyId")
                    for x in sess.client("kms").list_aliases()["Aliases"]}
    keys = []
    for page in s3.get_paginator("list_objects_v2").paginate(Bucket=bucket):
        keys += [o["Key"] for o in page.get("Contents", [])]
    prefix = f"{account}/"
    problems, extras = [], []
    for key in keys:
        rel = key[len(prefix):] if key.startswith(prefix) else key
        obj = s3.get_object(Bucket=bucket, Key=key)
        body = obj["Body"].read()
        kms_id = obj.get("SSEKMSKeyId", "-")
        # arn:aws:kms:REGION:ACCOUNT:key/ID -> ACCOUNT:key/ID (shortened)
        parts = kms_id.split(":")
        short = f"{parts[4]}:{parts[5][:12]}..." if len(parts) == 6 else kms_id
        print(f"  {rel:<20} {body[:24]!r:<30} {obj.get('ServerSideEncryption', '-')} {short}")
        want = expected.get(rel)
        if want is None:
            extras.append(rel)
            continue
        if body.decode(errors="replace") != want["body"]:
            problems.append(f"{rel}: body differs")
        if obj.get("ContentType") != want["content_type"]:
            problems.append(f"{rel}: content type {obj.get('ContentType')!r}")
        meta = obj.get("Metadata", {})
        if any(meta.get(k) != v for k, v in want["metadata"].items()):
            problems.append(f"{rel}: metadata {meta}")
        tags = {t["Key"]: t["Value"] for t in
                s3.get_object_tagging(Bucket=bucket, Key=key)["TagSet"]}
        if tags != want["tags"]:
            problems.append(f"{rel}: tags {tags}")
        if obj.get("ServerSideEncryption") != "aws:kms" or \
                kms_id.rsplit("/", 1)[-1] != alias_target.get(SOURCE_ALIAS):
            problems.append(f"{rel}: not under {SOURCE_ALIAS} ({kms_id})")
    for rel in expected:
        if f"{prefix}{rel}" not in keys:
            problems.append(f"{rel}: missing")
    if extras != [RANSOM_NOTE]:
        problems.append(f"keys not in the state at T: {extras} (expected only {RANSOM_NOTE})")
    if problems:
        print("MISMATCH with the state at T:\n  " + "\n  ".join(problems))
        sys.exit(1)
    print(f"  OK: the {len(expected)} objects of the state at T are back, equal in bytes, "
          f"content type, metadata and tags, under the account's own key {SOURCE_ALIAS}")
    print(f"  {RANSOM_NOTE} was not there at T: restore reported it as extra and left it "
          "(it never deletes)")


def main():
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    sub = p.add_subparsers(dest="cmd", required=True)
    for name, fn in [("org", cmd_org), ("history", cmd_history), ("drain", cmd_drain),
                     ("attack", cmd_attack), ("verify", cmd_verify)]:
        s = sub.add_parser(name)
        s.set_defaults(fn=fn)
        s.add_argument("--state", required=name != "drain")
        if name == "org":
            s.add_argument("--config", required=True)
    a = p.parse_args()
    if not os.environ.get("AWS_ENDPOINT_URL"):
        sys.exit("AWS_ENDPOINT_URL is not set: run from scripts/demo (local server only)")
    a.fn(a)


if __name__ == "__main__":
    main()
