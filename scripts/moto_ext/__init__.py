"""Test-only extensions of moto 5.1.22's server for s3central: S3 replication and S3 Batch
Operations (S3 Control jobs). moto_server.py calls install() before starting moto's server.

  replication.py  S3 replication of new versions, delete markers and tag changes (asynchronous)
  batch.py        S3 Control CreateJob / DescribeJob / ListJobs / UpdateJobStatus for
                  S3PutObjectCopy (CSV manifest) and S3ReplicateObject (manifest generator)

Each module's docstring says what it emulates, from which AWS page, and what it does not.

CONTROLS (environment of the server process, read at start; all but the last can be changed
at run time through the admin endpoints below)

  MOTO_REPLICATION=0               turn replication off entirely (default on)
  MOTO_REPLICATION_DELAY_MS=N      delay before a replica is written (default 100), so PENDING is
                                   observable; 0 = as soon as the worker gets to it
  MOTO_REPLICATION_ORDER=MODE      fifo (default): replicas written in the order of the writes;
                                   shuffle: each delay is scaled by a random factor in [0.2, 2.0]
                                   and ready replicas are taken in random order; reverse: ready
                                   replicas are taken newest write first. Whatever the order, a
                                   replica keeps the source version's id and LastModified.
  MOTO_REPLICATION_SEED=N          seed for shuffle (reproducible runs)
  MOTO_REPLICATION_PAUSED=1        start with delivery paused
  MOTO_REPLICATION_FAIL_PREFIX=P   fail (FAILED status) every replication of a key starting with P
  MOTO_REPLICATION_CHECK_KMS=0     do not fail replications whose ReplicaKmsKeyID is missing or
                                   disabled in the local KMS (default: checked)
  MOTO_BATCH_START_DELAY_MS=N      pause before each of New -> Preparing -> Ready -> Active
                                   (default 50)
  MOTO_BATCH_TASK_DELAY_MS=N       pause after each task of a job (default 0), so progress can be
                                   watched through DescribeJob

ADMIN ENDPOINTS (plain HTTP on the server's address; JSON answers; no credentials needed)

  GET  /moto-api/replication/status            {"pending", "queued", "inflight", "delivered",
                                                "failed", "paused", "order", "delay_ms",
                                                "fail_prefix", "enabled"}
  POST /moto-api/replication/config            JSON body or query string with any of
                                               delay_ms, order, paused (true/false),
                                               fail_prefix ("" clears), seed; answers the status
  POST /moto-api/replication/pause             stop delivering (writes still queue)
  POST /moto-api/replication/resume            deliver again; everything queued while paused is
                                               released at once (its delay counts as passed),
                                               so with order=reverse a paused batch of writes
                                               arrives exactly newest first
  GET|POST /moto-api/replication/drain?timeout=S
                                               block until nothing is pending (default 30 s):
                                               200 {"drained": true, ...}; 409 when paused with
                                               work queued; 504 on timeout (with the pending
                                               count)
  POST /moto-api/replication/reset             drop queued replications, zero the counters
  GET  /moto-api/batch/status                  {"jobs": N, "running": N, "start_delay_ms",
                                                "task_delay_ms"}
  POST /moto-api/batch/config                  start_delay_ms, task_delay_ms (JSON or query);
                                               fail_description=TEXT: every job whose
                                               Description contains TEXT fails while Preparing
                                               with fail_code (default AssumeRoleNotPermitted);
                                               fail_times=N: only the next N such jobs fail
                                               (then fail_description is cleared; 0 = all);
                                               fail_task_key=TEXT: every task whose key contains
                                               TEXT fails (403 AccessDenied), the job completes;
                                               "" turns either off
  GET|POST /moto-api/batch/wait?timeout=S      block until no job is running (Suspended jobs
                                               excepted): 200 {"idle": true}, 504 on timeout
  POST /moto-api/reset                         moto's own reset; also drops queued
                                               replications and all jobs

S3 CONTROL ROUTING. moto's server routes a request by its SigV4 signing name and path (S3 Control
is signed as "s3"; paths under /v20180820/ go to s3control) and never by Host. Requests whose path
is /v20180820/jobs[/<id>[/status]] are answered here, whatever the Host header says, so a client
whose host is "<account>.localhost:PORT" or "<account>.127.0.0.1:PORT" (what the SDKs build from an
endpoint URL) is served as long as its connection reaches this port. The account is taken from the
x-amz-account-id header (else a 12-digit first label of Host).

WHAT AN S3 CONTROL CLIENT NEEDS to reach it. botocore and aws-sdk-rust share the S3 Control
endpoint rule set: with an endpoint URL http://HOST:PORT they send to http://<account>.HOST:PORT.
"<account>.127.0.0.1" is not an address; "<account>.localhost" resolves only if the hosts file says
so (this machine: "hosts: files dns", no *.localhost rule). Either give the client an endpoint
resolver that returns the endpoint URL unchanged (the account id still travels in
x-amz-account-id), or add "127.0.0.1 <account>.localhost" to /etc/hosts for every account id the
tests use and point the client at http://localhost:PORT (one line per account: no wildcards).
test_emulation.py keeps the SDK's host name in the Host header and connects to 127.0.0.1.
"""

from __future__ import annotations

import json
import urllib.parse
from typing import Any

from . import batch, replication

_installed = False


def _json(start_response: Any, status: int, obj: Any) -> list[bytes]:
    body = json.dumps(obj).encode("utf-8")
    reason = {200: "OK", 400: "Bad Request", 404: "Not Found", 409: "Conflict",
              504: "Gateway Timeout"}.get(status, "OK")
    start_response(f"{status} {reason}", [("Content-Type", "application/json"),
                                          ("Content-Length", str(len(body)))])
    return [body]


def _params(environ: dict[str, Any], body: bytes) -> dict[str, Any]:
    p: dict[str, Any] = {k: v[-1] for k, v in
                         urllib.parse.parse_qs(environ.get("QUERY_STRING", "")).items()}
    if body.strip():
        try:
            j = json.loads(body)
            if isinstance(j, dict):
                p.update(j)
        except ValueError:
            pass
    return p


def _truthy(v: Any) -> bool:
    return v is True or str(v).lower() in ("1", "true", "yes", "on")


def _admin(environ: dict[str, Any], start_response: Any, path: str, body: bytes) -> Any:
    R = replication.REPLICATOR
    p = _params(environ, body)
    try:
        if path == "/moto-api/replication/status":
            return _json(start_response, 200, R.state())
        if path == "/moto-api/replication/config":
            R.configure(delay_ms=int(p["delay_ms"]) if "delay_ms" in p else None,
                        order=str(p["order"]).lower() if "order" in p else None,
                        paused=_truthy(p["paused"]) if "paused" in p else None,
                        fail_prefix=p["fail_prefix"] if "fail_prefix" in p else ...,
                        seed=int(p["seed"]) if "seed" in p else None)
            return _json(start_response, 200, R.state())
        if path == "/moto-api/replication/pause":
            R.configure(paused=True)
            return _json(start_response, 200, R.state())
        if path == "/moto-api/replication/resume":
            R.configure(paused=False)
            return _json(start_response, 200, R.state())
        if path == "/moto-api/replication/drain":
            st = R.drain(float(p.get("timeout", 30)))
            code = 200 if st["drained"] else (409 if st["paused"] else 504)
            return _json(start_response, code, st)
        if path == "/moto-api/replication/reset":
            R.reset()
            return _json(start_response, 200, R.state())
        if path == "/moto-api/batch/status":
            with batch.LOCK:
                jobs = [j for js in batch.JOBS.values() for j in js.values()]
            return _json(start_response, 200, {
                "jobs": len(jobs),
                "running": sum(j.status not in batch.TERMINAL for j in jobs),
                **batch.SETTINGS})
        if path == "/moto-api/batch/config":
            for k in ("start_delay_ms", "task_delay_ms", "fail_times"):
                if k in p:
                    batch.SETTINGS[k] = max(0, int(p[k]))
            for k in ("fail_description", "fail_code", "fail_task_key"):
                if k in p:
                    batch.SETTINGS[k] = str(p[k])
            return _json(start_response, 200, dict(batch.SETTINGS))
        if path == "/moto-api/batch/wait":
            st = batch.wait_idle(float(p.get("timeout", 30)))
            return _json(start_response, 200 if st["idle"] else 504, st)
    except (ValueError, KeyError) as e:
        return _json(start_response, 400, {"error": str(e)})
    return _json(start_response, 404, {"error": f"no admin endpoint {path}"})


def _jobs(environ: dict[str, Any], start_response: Any, path: str, body: bytes) -> Any:
    from werkzeug.datastructures import EnvironHeaders
    headers = EnvironHeaders(environ)
    query = urllib.parse.parse_qs(environ.get("QUERY_STRING", ""), keep_blank_values=True)
    try:
        status, out = batch.handle(environ["REQUEST_METHOD"], path, query, headers, body,
                                   environ.get("HTTP_HOST", ""))
    except batch.ApiError as e:
        status, out = e.status, batch.error_xml(e.code, e.message)
    start_response(f"{status} {'OK' if status == 200 else 'Error'}",
                   [("Content-Type", "application/xml"), ("Content-Length", str(len(out))),
                    ("x-amz-request-id", "MOTOEXT")])
    return [out]


def _read_body(environ: dict[str, Any]) -> bytes:
    from werkzeug.wrappers import Request
    return Request(environ).get_data()


def install() -> None:
    global _installed
    if _installed:
        return
    _installed = True
    replication.install()

    from moto.moto_server.werkzeug_app import DomainDispatcherApplication

    orig_call = DomainDispatcherApplication.__call__

    def __call__(self: Any, environ: dict[str, Any], start_response: Any) -> Any:
        path = environ.get("PATH_INFO", "")
        if isinstance(path, bytes):
            path = path.decode("utf-8")
        if path.startswith("/moto-api/replication/") or path.startswith("/moto-api/batch/"):
            return _admin(environ, start_response, path, _read_body(environ))
        if batch.is_jobs_path(path):
            return _jobs(environ, start_response, path, _read_body(environ))
        if path.rstrip("/") == "/moto-api/reset" and environ.get("REQUEST_METHOD") == "POST":
            replication.REPLICATOR.reset()
            batch.reset()
        return orig_call(self, environ, start_response)

    DomainDispatcherApplication.__call__ = __call__  # type: ignore[method-assign]
