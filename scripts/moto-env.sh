#!/usr/bin/env bash
# Library for running a local moto server (the AWS-API stand-in) for s3central's tests.
#
#   . scripts/moto-env.sh
#   moto_install            # project-local venv .venv-moto with the pinned moto
#   moto_start              # free loopback port, server in background, AWS_* env exported
#   trap moto_stop EXIT     # stop the server; every AWS_* variable back as it was before start
#   moto_reset              # optional: wipe all server state between suites
#
# Meant to be SOURCED. It does not change the caller's shell options (no `set -e` here:
# sourcing it from an interactive shell must not make that shell exit on the first error);
# every function is written to work under `set -euo pipefail` and returns non-zero on failure.
# See /work/shared/TESTING.md (shared/TESTING.md) for what moto does and does not emulate.
#
# Nothing here contacts an address off this machine except PyPI (through pip, at install).

if [[ "${BASH_SOURCE[0]}" == "$0" ]]; then
    echo "usage: . ${0} ; moto_install ; moto_start ; trap moto_stop EXIT" >&2
    exit 2
fi

# moto 5.1.22, not 5.2.x: 5.2.x answers GetBucketVersioning, ListParts, CompleteMultipartUpload
# (5.2.1) etc. with a root element that aws-sdk-rust refuses to parse (see TESTING.md).
MOTO_PIN="moto[server]==5.1.22"
MOTO_ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
MOTO_VENV="$MOTO_ROOT/.venv-moto"
MOTO_CONSTRAINTS="$MOTO_ROOT/scripts/moto-constraints.txt"

_moto_log() { echo "[moto] $*" >&2; }

# What the venv must contain; written to a stamp file after a successful install.
_moto_wanted_stamp() {
    local sum=none
    [[ -f "$MOTO_CONSTRAINTS" ]] && sum="$(cksum <"$MOTO_CONSTRAINTS")"
    echo "$MOTO_PIN constraints:$sum"
}

# Create .venv-moto (if missing) and install the pinned moto into it. Quick when done already.
moto_install() {
    local stamp="$MOTO_VENV/.moto-stamp" wanted
    wanted="$(_moto_wanted_stamp)"
    if [[ -f "$stamp" && "$(cat "$stamp")" == "$wanted" ]] \
        && "$MOTO_VENV/bin/python" -c '' 2>/dev/null; then
        return 0
    fi
    # A venv whose interpreter no longer runs (python3 upgraded or removed) is rebuilt.
    if [[ -d "$MOTO_VENV" ]] && ! "$MOTO_VENV/bin/python" -c '' 2>/dev/null; then
        _moto_log "removing broken venv $MOTO_VENV"
        rm -rf "$MOTO_VENV"
    fi
    if [[ ! -x "$MOTO_VENV/bin/python" ]]; then
        _moto_log "creating venv $MOTO_VENV"
        python3 -m venv "$MOTO_VENV" || return 1
    fi
    _moto_log "installing $MOTO_PIN into $MOTO_VENV"
    local constraints=()
    [[ -f "$MOTO_CONSTRAINTS" ]] && constraints=(-c "$MOTO_CONSTRAINTS")
    "$MOTO_VENV/bin/python" -m pip install --quiet --disable-pip-version-check \
        "${constraints[@]}" "$MOTO_PIN" || return 1
    # Check what actually got installed before writing the stamp.
    local got
    got="$("$MOTO_VENV/bin/python" -c 'import importlib.metadata as m; print(m.version("moto"))')" \
        || return 1
    if [[ "$MOTO_PIN" != *"==$got" ]]; then
        _moto_log "installed moto $got, wanted $MOTO_PIN"
        return 1
    fi
    echo "$wanted" >"$stamp"
}

# Ask the OS for a free port on 127.0.0.1 (bind port 0, read it back, release it).
_moto_free_port() {
    "$MOTO_VENV/bin/python" -c 'import socket
s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1]); s.close()'
}

# Poll http://127.0.0.1:PORT/moto-api/ until it answers. Status 3 if PID exited, 1 on timeout.
_moto_wait_ready() { # port pid timeout_s
    "$MOTO_VENV/bin/python" - "$@" <<'EOF'
import os, sys, time, urllib.request
port, pid, timeout = int(sys.argv[1]), int(sys.argv[2]), float(sys.argv[3])
opener = urllib.request.build_opener(urllib.request.ProxyHandler({}))  # never via a proxy
deadline = time.monotonic() + timeout
while time.monotonic() < deadline:
    try:  # gone, or a zombie not yet reaped by the shell: it has exited
        if open(f"/proc/{pid}/stat").read().rsplit(")", 1)[1].split()[0] == "Z":
            raise OSError
    except OSError:
        print("moto server process exited", file=sys.stderr)
        sys.exit(3)
    try:
        opener.open(f"http://127.0.0.1:{port}/moto-api/", timeout=2).read()
        sys.exit(0)
    except Exception:
        time.sleep(0.1)
sys.exit(f"moto server not ready after {timeout:.0f} s")
EOF
}

# True while PID runs (a zombie, exited but not yet reaped by `wait`, counts as gone).
_moto_alive() {
    local stat
    stat="$(cat "/proc/$1/stat" 2>/dev/null)" || return 1
    stat="${stat##*) }"
    [[ "${stat:0:1}" != Z ]]
}

# Every variable _moto_export_env sets or unsets; moto_stop puts each back as it was before
# moto_start (set to its old value, or unset), so nothing stale points at a stopped server.
_MOTO_ENV_VARS=(MOTO_PORT AWS_ENDPOINT_URL S3CENTRAL_TEST_ENDPOINT AWS_ACCESS_KEY_ID
    AWS_SECRET_ACCESS_KEY AWS_REGION AWS_DEFAULT_REGION AWS_EC2_METADATA_DISABLED AWS_CONFIG_FILE
    AWS_SHARED_CREDENTIALS_FILE AWS_PROFILE AWS_DEFAULT_PROFILE AWS_SESSION_TOKEN
    AWS_SECURITY_TOKEN AWS_ENDPOINT_URL_S3 AWS_ENDPOINT_URL_STS AWS_ENDPOINT_URL_KMS
    AWS_ENDPOINT_URL_IAM AWS_ENDPOINT_URL_ORGANIZATIONS NO_PROXY no_proxy)

# Remember the caller's values of _MOTO_ENV_VARS (once per start/stop pair).
_moto_save_env() {
    [[ -n "${_MOTO_SAVED_ENV+x}" ]] && return 0
    _MOTO_SAVED_ENV=""
    local var
    for var in "${_MOTO_ENV_VARS[@]}"; do
        if [[ -n "${!var+x}" ]]; then
            _MOTO_SAVED_ENV+="export $var=$(printf '%q' "${!var}");"
        else
            _MOTO_SAVED_ENV+="unset $var;"
        fi
    done
}

# Put the caller's values back (see _moto_save_env).
_moto_restore_env() {
    [[ -n "${_MOTO_SAVED_ENV+x}" ]] || return 0
    eval "$_MOTO_SAVED_ENV"
    unset _MOTO_SAVED_ENV
}

# Export the environment every test and tool must see: loopback endpoint, dummy credentials,
# no instance metadata, no developer AWS config/profile.
_moto_export_env() { # port
    local url="http://127.0.0.1:$1"
    export MOTO_PORT="$1"
    export AWS_ENDPOINT_URL="$url"
    export S3CENTRAL_TEST_ENDPOINT="$url"
    export AWS_ACCESS_KEY_ID=testing
    export AWS_SECRET_ACCESS_KEY=testing
    export AWS_REGION=us-east-1
    export AWS_DEFAULT_REGION=us-east-1
    export AWS_EC2_METADATA_DISABLED=true
    export AWS_CONFIG_FILE="$MOTO_TMPDIR/aws-config"
    export AWS_SHARED_CREDENTIALS_FILE="$MOTO_TMPDIR/aws-credentials"
    # Profiles, session tokens and per-service endpoints would override the above.
    unset AWS_PROFILE AWS_DEFAULT_PROFILE AWS_SESSION_TOKEN AWS_SECURITY_TOKEN
    unset AWS_ENDPOINT_URL_S3 AWS_ENDPOINT_URL_STS AWS_ENDPOINT_URL_KMS \
        AWS_ENDPOINT_URL_IAM AWS_ENDPOINT_URL_ORGANIZATIONS
    # Loopback traffic must never go through a proxy.
    export NO_PROXY="127.0.0.1,localhost${NO_PROXY:+,$NO_PROXY}"
    export no_proxy="$NO_PROXY"
}

# Start the moto server from .venv-moto on a free loopback port and export the env (above).
# Sets MOTO_PID, MOTO_LOG, MOTO_TMPDIR. Run moto_install first.
moto_start() {
    if [[ -n "${MOTO_PID:-}" ]] && _moto_alive "$MOTO_PID"; then
        _moto_log "already running (pid $MOTO_PID, port $MOTO_PORT)"
        return 0
    fi
    if [[ ! -x "$MOTO_VENV/bin/python" ]]; then
        _moto_log "no $MOTO_VENV: run moto_install first"
        return 1
    fi
    MOTO_TMPDIR="$(mktemp -d "${TMPDIR:-/tmp}/s3central-moto.XXXXXX")" || return 1
    MOTO_LOG="$MOTO_TMPDIR/moto.log"
    : >"$MOTO_TMPDIR/aws-config"
    : >"$MOTO_TMPDIR/aws-credentials"
    export MOTO_TMPDIR MOTO_LOG

    local attempt port
    for attempt in 1 2 3; do # retry: another process may grab the port before moto binds it
        port="$(_moto_free_port)" || return 1
        # Export before launching so the server itself also sees only dummy credentials.
        _moto_save_env
        _moto_export_env "$port"
        # Started from a command substitution, so it is never a job of an interactive shell: no
        # "[1] PID" on start nor "Terminated" on stop. Async commands without job control
        # ignore SIGINT, so Ctrl-C at the prompt leaves it running until moto_stop.
        MOTO_PID="$("$MOTO_VENV/bin/python" "$MOTO_ROOT/scripts/moto_server.py" \
            -H 127.0.0.1 -p "$port" </dev/null >"$MOTO_LOG" 2>&1 & echo $!)"
        export MOTO_PID
        local rc=0
        _moto_wait_ready "$port" "$MOTO_PID" 30 || rc=$?
        if ((rc == 0)); then
            _moto_log "server up at $AWS_ENDPOINT_URL (pid $MOTO_PID, log $MOTO_LOG)"
            return 0
        fi
        _moto_log "start attempt $attempt on port $port failed; log:"
        cat "$MOTO_LOG" >&2
        ((rc == 3)) || break # only a server that exited (e.g. port taken) is worth a retry
    done
    moto_stop # removes the temp dir
    return 1
}

# Wipe all state (buckets, keys, roles, ...) without restarting.
moto_reset() {
    "$MOTO_VENV/bin/python" - "$AWS_ENDPOINT_URL" <<'EOF'
import sys, urllib.request
opener = urllib.request.build_opener(urllib.request.ProxyHandler({}))
opener.open(urllib.request.Request(sys.argv[1] + "/moto-api/reset", method="POST"), timeout=10)
EOF
}

# Stop the server started by moto_start and remove its temp dir. Safe to call twice.
moto_stop() {
    local pid="${MOTO_PID:-}"
    if [[ -n "$pid" ]] && _moto_alive "$pid"; then
        kill -TERM "$pid" 2>/dev/null || true
        for _ in $(seq 50); do # up to ~5 s, then force
            _moto_alive "$pid" || break
            sleep 0.1
        done
        if _moto_alive "$pid"; then kill -KILL "$pid" 2>/dev/null || true; fi
    fi
    unset MOTO_PID
    if [[ -n "${MOTO_TMPDIR:-}" && -d "$MOTO_TMPDIR" ]]; then
        rm -rf "$MOTO_TMPDIR"
    fi
    unset MOTO_TMPDIR MOTO_LOG
    _moto_restore_env
    return 0
}
