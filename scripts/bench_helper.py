#!/usr/bin/env python3
"""Data and checks for scripts/bench (run with .venv-moto's python: it needs boto3).

    bench_helper.py seed     --bucket CENTRAL --account ID --keys N --expected FILE  # prints T
    bench_helper.py mkbucket --bucket DST --alias ALIAS          # versioned, default SSE-KMS
    bench_helper.py verify   --bucket DST --account ID --expected FILE   # prints one JSON line
    bench_helper.py rmbucket --bucket DST                        # every version, then the bucket
    bench_helper.py table    --results FILE --keys N             # the final table
    bench_helper.py proxy    --latency-ms 30 --port-file F --log F   # latency proxy to the server
    bench_helper.py listing  --results FILE                      # the listing benchmark's table

Talks only to AWS_ENDPOINT_URL (the local moto server). Prints figures; asserts nothing.
"""

import argparse
import concurrent.futures as cf
import hashlib
import json
import os
import random
import sys
import time
import datetime as dt

import boto3
from botocore.config import Config

THREADS = 16


def s3():
    return boto3.client("s3", config=Config(s3={"addressing_style": "path"},
                                            max_pool_connections=THREADS * 2,
                                            retries={"max_attempts": 10, "mode": "standard"}))


def key_of(account, i):
    return f"{account}/dir-{i % 20:02d}/object-{i:05d}.bin"


def body_of(i, version):
    rnd = random.Random(i * 10 + version)  # deterministic: the same data every run
    return rnd.randbytes(rnd.randint(1024, 4096))


def sleep_past_second():
    now = time.time()
    time.sleep(int(now) + 1 - now + 0.05)


def cmd_seed(a):
    client = s3()
    kms = boto3.client("kms")
    key_id = kms.create_key(Description="bench central key")["KeyMetadata"]["KeyId"]
    kms.create_alias(AliasName="alias/bench-central", TargetKeyId=key_id)
    client.create_bucket(Bucket=a.bucket)
    client.put_bucket_versioning(Bucket=a.bucket, VersioningConfiguration={"Status": "Enabled"})
    client.put_bucket_encryption(Bucket=a.bucket, ServerSideEncryptionConfiguration={"Rules": [{
        "ApplyServerSideEncryptionByDefault": {"SSEAlgorithm": "aws:kms",
                                               "KMSMasterKeyID": "alias/bench-central"}}]})

    def put(i, version):
        client.put_object(Bucket=a.bucket, Key=key_of(a.account, i), Body=body_of(i, version),
                          ContentType="application/octet-stream",
                          ServerSideEncryption="aws:kms", SSEKMSKeyId="alias/bench-central")

    t = None
    with cf.ThreadPoolExecutor(THREADS) as pool:
        for version in (1, 2, 3):
            start = time.monotonic()
            list(pool.map(lambda i: put(i, version), range(a.keys)))
            took = time.monotonic() - start
            print(f"  version {version} of {a.keys} keys: {took:.1f} s "
                  f"({a.keys / took:.0f} PUT/s)", file=sys.stderr)
            if version == 2:  # T between seconds: v1, v2 < T < v3
                sleep_past_second()
                t = dt.datetime.now(dt.timezone.utc).replace(microsecond=0)
                sleep_past_second()
    expected = {key_of(a.account, i): hashlib.md5(body_of(i, 2)).hexdigest()
                for i in range(a.keys)}
    with open(a.expected, "w") as f:
        json.dump(expected, f)
    print(t.strftime("%Y-%m-%dT%H:%M:%SZ"))


def cmd_mkbucket(a):
    client = s3()
    kms = boto3.client("kms")
    aliases = {x["AliasName"] for x in kms.list_aliases()["Aliases"]}
    if a.alias not in aliases:
        key_id = kms.create_key(Description="bench target key")["KeyMetadata"]["KeyId"]
        kms.create_alias(AliasName=a.alias, TargetKeyId=key_id)
    client.create_bucket(Bucket=a.bucket)
    client.put_bucket_versioning(Bucket=a.bucket, VersioningConfiguration={"Status": "Enabled"})
    client.put_bucket_encryption(Bucket=a.bucket, ServerSideEncryptionConfiguration={"Rules": [{
        "ApplyServerSideEncryptionByDefault": {"SSEAlgorithm": "aws:kms",
                                               "KMSMasterKeyID": a.alias}}]})


def cmd_verify(a):
    """Keys equal to the expected set, and every object's bytes equal version 2's (MD5 of a GET)."""
    with open(a.expected) as f:
        expected = json.load(f)
    client = s3()
    keys, versions = [], 0
    for page in client.get_paginator("list_object_versions").paginate(Bucket=a.bucket):
        versions += len(page.get("Versions", [])) + len(page.get("DeleteMarkers", []))
        keys += [v["Key"] for v in page.get("Versions", []) if v["IsLatest"]]

    target_key = boto3.client("kms").describe_key(KeyId=a.alias)["KeyMetadata"]["KeyId"]
    under_key = 0

    def md5(key):
        obj = client.get_object(Bucket=a.bucket, Key=key)
        # The key id, its ARN, the alias or the alias ARN (moto echoes what the writer sent,
        # or the bucket default's KMSMasterKeyID as configured).
        kms_ok = obj.get("ServerSideEncryption") == "aws:kms" and \
            obj.get("SSEKMSKeyId", "").rsplit("/", 1)[-1] in (target_key, a.alias.split("/")[-1])
        return key, hashlib.md5(obj["Body"].read()).hexdigest(), kms_ok

    got = {}
    with cf.ThreadPoolExecutor(THREADS) as pool:
        for key, digest, kms_ok in pool.map(md5, keys):
            got[key] = digest
            under_key += kms_ok
    missing = [k for k in expected if k not in got]
    extra = [k for k in got if k not in expected]
    wrong = [k for k in expected if k in got and got[k] != expected[k]]
    correct = not missing and not extra and not wrong
    print(json.dumps({"keys": len(got), "versions": versions, "missing": len(missing),
                      "extra": len(extra), "wrong_bytes": len(wrong), "correct": correct,
                      "under_target_key": under_key,
                      "examples": (missing + extra + wrong)[:3]}))


def cmd_rmbucket(a):
    """Deletes every version and delete marker (listed in full first), then the bucket."""
    client = s3()
    for _ in range(5):
        objs = []
        for page in client.get_paginator("list_object_versions").paginate(Bucket=a.bucket):
            objs += [{"Key": v["Key"], "VersionId": v["VersionId"]}
                     for v in page.get("Versions", []) + page.get("DeleteMarkers", [])]
        if not objs:
            break
        for i in range(0, len(objs), 1000):
            client.delete_objects(Bucket=a.bucket, Delete={"Objects": objs[i:i + 1000],
                                                           "Quiet": True})
    client.delete_bucket(Bucket=a.bucket)


def cmd_table(a):
    runs = [json.loads(line) for line in open(a.results) if line.strip()]
    # One row per tool: the median of its rounds (the tools took turns, one run each per round).
    tools = {}
    for r in runs:
        tools.setdefault(r["tool"], []).append(r)

    def median(xs):
        xs = sorted(xs)
        n = len(xs)
        return None if n == 0 else (xs[n // 2] if n % 2 else (xs[n // 2 - 1] + xs[n // 2]) / 2)

    rows = []
    for tool, rs in tools.items():
        cpu = [r["user_seconds"] + r["system_seconds"] for r in rs]
        wrong = [r["correct"] for r in rs if r["correct"] != "yes"]
        rows.append({
            "tool": tool, "rounds": len(rs), "objects": rs[0]["objects"],
            "seconds": median([r["seconds"] for r in rs]),
            "requests": median([r["requests"] for r in rs]),
            "cpu_seconds": median(cpu), "cpu_min": min(cpu), "cpu_max": max(cpu),
            "user_seconds": median([r["user_seconds"] for r in rs]),
            "system_seconds": median([r["system_seconds"] for r in rs]),
            "rss_kib": max(r["rss_kib"] for r in rs),
            "kms": rs[-1]["kms"], "correct": wrong[0] if wrong else "yes",
        })
    base = next((r for r in rows if r["tool"].startswith("s3central")), None)

    def num(x, fmt):
        return "n/a" if x is None else format(x, fmt)

    def rate(r):
        return r["objects"] / r["seconds"] if r.get("seconds") and r.get("objects") else None

    def ms(seconds):
        return None if seconds is None else 1000 * seconds / a.keys

    def cpu_ms(r):
        return ms(r.get("cpu_seconds"))

    print(f"{'tool':<34} {'rounds':>6} {'seconds':>8} {'objects/s':>10} {'req/object':>10} "
          f"{'CPU ms/obj':>10} {'(range)':>11} {'user':>5} {'sys':>5} {'peak RSS MiB':>12} "
          f"{'SSE-KMS':>9}  correct")
    for r in rows:
        rpo = r["requests"] / a.keys if r.get("requests") is not None else None
        rss = r["rss_kib"] / 1024 if r.get("rss_kib") else None
        spread = f"{ms(r['cpu_min']):.2f}-{ms(r['cpu_max']):.2f}"
        print(f"{r['tool']:<34} {r['rounds']:>6} {num(r.get('seconds'), '8.1f')} "
              f"{num(rate(r), '10.0f')} {num(rpo, '10.2f')} {num(cpu_ms(r), '10.2f')} "
              f"{spread:>11} {num(ms(r['user_seconds']), '5.2f')} "
              f"{num(ms(r['system_seconds']), '5.2f')} {num(rss, '12.0f')} "
              f"{r.get('kms', 'n/a'):>9}  {r['correct']}")
    print("(medians over the rounds; per object = per key of the state at T; CPU = user + system "
          "seconds of the tool's processes, /usr/bin/time, with its range over the rounds; "
          "peak RSS: the largest)")
    if base and rate(base):
        print()
        print(f"relative to {base['tool']} (objects/s ratio < 1: slower; CPU and RSS ratios > 1: "
              "more)")
        for r in rows:
            if r is base:
                continue
            speed = rate(r) / rate(base) if rate(r) else None
            mem = r["rss_kib"] / base["rss_kib"] if r.get("rss_kib") and base.get("rss_kib") \
                else None
            cpu = cpu_ms(r) / cpu_ms(base) if cpu_ms(r) and cpu_ms(base) else None
            print(f"  {r['tool']:<34} objects/s x{num(speed, '.2f')}   CPU/object "
                  f"x{num(cpu, '.2f')}   RSS x{num(mem, '.2f')}")


def cmd_proxy(a):
    """A loopback HTTP/1.1 reverse proxy to AWS_ENDPOINT_URL that waits --latency-ms before
    forwarding each request (as a distant S3 would answer later); one line per request in --log."""
    import http.client
    import http.server
    import threading
    import urllib.parse

    up = urllib.parse.urlsplit(os.environ["AWS_ENDPOINT_URL"])
    if up.hostname not in ("127.0.0.1", "localhost", "::1"):
        sys.exit("the proxy forwards to loopback only")
    snapshot = Snapshot(a.serve_listing) if a.serve_listing else None
    log = open(a.log, "a", buffering=1)
    lock = threading.Lock()
    hop = {"connection", "keep-alive", "transfer-encoding", "proxy-connection", "upgrade"}

    def operation(headers, body):
        """ ' Target' (JSON APIs: KMS, Organizations) or ' Action' (query APIs: IAM, STS), so the
        log tells which operation each POST / was."""
        target = headers.get("X-Amz-Target")
        if target:
            return " " + target.split(".")[-1]
        for part in body.split(b"&"):
            if part.startswith(b"Action="):
                return " " + part[7:].decode("ascii", "replace")
        return ""

    class Handler(http.server.BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def log_message(self, *args):
            pass

        def forward(self):
            body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
            time.sleep(a.latency_ms / 1000)
            answer = snapshot.answer(self.command, self.path) if snapshot else None
            if answer is not None:
                self.send_response(200)
                self.send_header("Content-Type", "application/xml")
                self.send_header("Content-Length", str(len(answer)))
                self.end_headers()
                self.wfile.write(answer)
                with lock:
                    log.write(f"{self.command} {self.path} (snapshot)\n")
                return
            conn = getattr(self.server.local, "conn", None)
            if conn is None:
                conn = http.client.HTTPConnection(up.hostname, up.port, timeout=120)
                self.server.local.conn = conn
            headers = {k: v for k, v in self.headers.items() if k.lower() not in hop}
            try:
                conn.request(self.command, self.path, body=body, headers=headers)
                resp = conn.getresponse()
                data = resp.read()
            except (OSError, http.client.HTTPException):
                conn.close()
                self.server.local.conn = None
                raise
            self.send_response(resp.status, resp.reason)
            for k, v in resp.getheaders():
                if k.lower() not in hop and k.lower() != "content-length":
                    self.send_header(k, v)
            # A HEAD answer has no body but tells the object's length: pass it on as it is.
            length = resp.getheader("Content-Length") if self.command == "HEAD" else None
            self.send_header("Content-Length", length or str(len(data)))
            self.end_headers()
            if self.command != "HEAD":
                self.wfile.write(data)
            with lock:
                log.write(f"{self.command} {self.path}{operation(self.headers, body)}\n")

        do_GET = do_PUT = do_POST = do_DELETE = do_HEAD = forward

    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    server.daemon_threads = True
    server.local = threading.local()
    with open(a.port_file, "w") as f:
        f.write(str(server.server_address[1]))
    server.serve_forever()


class Snapshot:
    """Every version of one bucket, read once from the server, answering ListObjectVersions with
    AWS's semantics (prefix, delimiter, KeyMarker alone = after that key, both markers = after that
    entry, max-keys, encoding-type=url) at a cost independent of the bucket's size."""

    def __init__(self, bucket):
        import bisect
        self.bisect = bisect
        self.bucket = bucket
        self.entries = []  # (key, version id, is_latest, last_modified, etag, size)
        pages = s3().get_paginator("list_object_versions").paginate(Bucket=bucket)
        for page in pages:
            if page.get("DeleteMarkers"):
                sys.exit("the listing snapshot holds versions only")
            for v in page.get("Versions", []):
                self.entries.append((v["Key"], v["VersionId"], v["IsLatest"],
                                     v["LastModified"].strftime("%Y-%m-%dT%H:%M:%S.000Z"),
                                     v["ETag"], v["Size"]))
        self.keys = [e[0] for e in self.entries]
        print(f"snapshot of s3://{bucket}: {len(self.entries)} versions", file=sys.stderr)

    def answer(self, method, path):
        import urllib.parse
        from xml.sax.saxutils import escape
        url = urllib.parse.urlsplit(path)
        q = urllib.parse.parse_qs(url.query, keep_blank_values=True)
        if method != "GET" or url.path.strip("/") != self.bucket or "versions" not in q:
            return None
        one = lambda name: q.get(name, [None])[0]
        prefix, delim = one("prefix") or "", one("delimiter")
        key_marker, vid_marker = one("key-marker"), one("version-id-marker")
        max_keys = int(one("max-keys") or 1000)
        enc = one("encoding-type") == "url"
        code = (lambda s: urllib.parse.quote(s, safe="/")) if enc else escape
        if key_marker is None:
            i = 0
        else:
            i = self.bisect.bisect_right(self.keys, key_marker)
            if vid_marker:
                j = self.bisect.bisect_left(self.keys, key_marker)
                while j < len(self.entries) and self.keys[j] == key_marker:
                    if self.entries[j][1] == vid_marker:
                        i = j + 1
                        break
                    j += 1
        i = max(i, self.bisect.bisect_left(self.keys, prefix))
        out, prefixes, items, nxt = [], [], 0, None
        while i < len(self.entries) and self.keys[i].startswith(prefix):
            e = self.entries[i]
            rest = e[0][len(prefix):]
            folder = prefix + rest[:rest.index(delim) + len(delim)] if delim and delim in rest \
                else None
            if folder is not None and prefixes and prefixes[-1] == folder:
                i += 1
                continue
            if items == max_keys:
                break
            items += 1
            if folder is not None:
                prefixes.append(folder)
                nxt = (folder, None)
            else:
                out.append(e)
                nxt = (e[0], e[1])
            i += 1
        truncated = i < len(self.entries) and self.keys[i].startswith(prefix) and items == max_keys
        x = ['<?xml version="1.0" encoding="UTF-8"?>',
             '<ListVersionsResult xmlns="http://s3.amazonaws.com/doc/2006-03-01/">',
             f"<Name>{self.bucket}</Name><Prefix>{code(prefix)}</Prefix>",
             f"<KeyMarker>{code(key_marker or '')}</KeyMarker>",
             f"<VersionIdMarker>{escape(vid_marker or '')}</VersionIdMarker>",
             f"<MaxKeys>{max_keys}</MaxKeys>",
             f"<IsTruncated>{'true' if truncated else 'false'}</IsTruncated>"]
        if enc:
            x.append("<EncodingType>url</EncodingType>")
        if delim:
            x.append(f"<Delimiter>{code(delim)}</Delimiter>")
        if truncated and nxt:
            x.append(f"<NextKeyMarker>{code(nxt[0])}</NextKeyMarker>")
            if nxt[1]:
                x.append(f"<NextVersionIdMarker>{escape(nxt[1])}</NextVersionIdMarker>")
        for key, vid, latest, modified, etag, size in out:
            x.append(f"<Version><Key>{code(key)}</Key><VersionId>{escape(vid)}</VersionId>"
                     f"<IsLatest>{'true' if latest else 'false'}</IsLatest>"
                     f"<LastModified>{modified}</LastModified><ETag>{escape(etag)}</ETag>"
                     f"<Size>{size}</Size><StorageClass>STANDARD</StorageClass></Version>")
        for p in prefixes:
            x.append(f"<CommonPrefixes><Prefix>{code(p)}</Prefix></CommonPrefixes>")
        x.append("</ListVersionsResult>")
        return "".join(x).encode()


def cmd_listing(a):
    rows = [json.loads(line) for line in open(a.results) if line.strip()]
    print(f"{'mode':<12} {'streams':>7} {'seconds':>8} {'versions/s':>11} {'requests':>9} "
          f"{'peak RSS MiB':>12} {'x vs 1 stream':>14}  identical")
    base = {}
    for r in rows:
        rate = r["versions"] / r["seconds"]
        if r["streams"] == 1:
            base[r["mode"]] = rate
        ratio = rate / base[r["mode"]] if r["mode"] in base else None
        print(f"{r['mode']:<12} {r['streams']:>7} {r['seconds']:>8.2f} {rate:>11.0f} "
              f"{r['requests']:>9} {r['rss_kib'] / 1024:>12.0f} "
              f"{'n/a' if ratio is None else format(ratio, '.2f'):>14}  {r['identical']}")


def main():
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    sub = p.add_subparsers(dest="cmd", required=True)
    s = sub.add_parser("seed")
    s.add_argument("--bucket", required=True)
    s.add_argument("--account", required=True)
    s.add_argument("--keys", type=int, default=2000)
    s.add_argument("--expected", required=True)
    s.set_defaults(fn=cmd_seed)
    s = sub.add_parser("mkbucket")
    s.add_argument("--bucket", required=True)
    s.add_argument("--alias", default="alias/bench-target")
    s.set_defaults(fn=cmd_mkbucket)
    s = sub.add_parser("verify")
    s.add_argument("--bucket", required=True)
    s.add_argument("--alias", default="alias/bench-target")
    s.add_argument("--expected", required=True)
    s.set_defaults(fn=cmd_verify)
    s = sub.add_parser("rmbucket")
    s.add_argument("--bucket", required=True)
    s.set_defaults(fn=cmd_rmbucket)
    s = sub.add_parser("proxy")
    s.add_argument("--latency-ms", type=float, default=30)
    s.add_argument("--port-file", required=True)
    s.add_argument("--log", required=True)
    s.add_argument("--serve-listing", metavar="BUCKET",
                   help="answer ListObjectVersions of BUCKET from a snapshot read at start")
    s.set_defaults(fn=cmd_proxy)
    s = sub.add_parser("listing")
    s.add_argument("--results", required=True)
    s.set_defaults(fn=cmd_listing)
    s = sub.add_parser("table")
    s.add_argument("--results", required=True)
    s.add_argument("--keys", type=int, default=2000)
    s.set_defaults(fn=cmd_table)
    a = p.parse_args()
    if a.cmd not in ("table", "listing") and not os.environ.get("AWS_ENDPOINT_URL"):
        sys.exit("AWS_ENDPOINT_URL is not set: run from scripts/bench (local server only)")
    a.fn(a)


if __name__ == "__main__":
    main()
