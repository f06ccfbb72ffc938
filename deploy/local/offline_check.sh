#!/usr/bin/env bash
# Proof of the offline install (issue #16): a fresh clone of this repository, provisioned from a bundle
# alone (`make up BUNDLE=...`) with the network cut off, answers the leaders' API with the demo year
# loaded; then it is stopped and deleted.
#
#   deploy/local/offline_check.sh [BUNDLE]    (default: the newest var/bundle/court-bundle-*.tar)
#
# The cut: a network namespace of its own (`unshare -rn`: only a loopback, which is also why the
# clone's stack can use the default ports beside a running one). Where the machine allows no
# namespace, every source is pointed at an unreachable address, the clone runs on ports moved up by
# 400 (STACK_INSTANCE=offline; make test and make bench use 200 and 300), and strace records every
# connect(): anything but loopback fails it.
# The clone is made from the committed HEAD, which must be the commit the bundle was made for.
# Also checked, with the network still cut: the bundle's Debian repository alone resolves what
# provisioning installs for a machine with no package installed (apt-get --simulate, empty dpkg status).
# OFFLINE_CHECK_MODE=traced takes the second way where the first is possible too.
# KEEP=1 keeps the temporary folder (the clone, its logs). Takes some minutes: the worker scores ~45,000
# records.
set -euo pipefail

die() { printf 'offline_check: %s\n' "$*" >&2; exit 1; }
say() { printf '==> [%(%H:%M:%S)T] %s\n' -1 "$*"; }

if [ "${1:-}" = --inside ]; then
  # The part that runs with the network cut: $2 the work folder, $3 the bundle.
  WORK=$2 BUNDLE=$3
  cd "$WORK/clone"
  if [ "${OFFLINE_MODE:-}" = namespace ]; then
    ip link set lo up
    # Nothing outside answers: no route to a public address, no name resolution.
    if python3 -c 'import socket; socket.create_connection(("151.101.0.223", 443), timeout=5)' 2>/dev/null; then
      die "the namespace reaches the outside: not a cut-off network"
    fi
    if getent hosts pypi.org >/dev/null 2>&1; then die "pypi.org resolves inside the namespace"; fi
    say "Network cut: only loopback ($(ip -brief addr | tr -s ' ' | tr '\n' ';'))"
  fi
  # No cache of this machine's may stand in for the bundle.
  export UV_CACHE_DIR=$WORK/cache/uv XDG_CACHE_HOME=$WORK/cache PIP_NO_CACHE_DIR=1 PIP_NO_INDEX=1
  stop() { make --no-print-directory down >/dev/null 2>&1 || true; }
  trap stop EXIT
  began=$(date +%s)
  say "make up BUNDLE=$BUNDLE"
  make --no-print-directory up BUNDLE="$BUNDLE"
  up_s=$(( $(date +%s) - began ))
  say "make up took ${up_s}s; waiting for the worker to score the demo year"
  .venv/bin/python - <<'EOF'
"""The leaders' API of this clone answers, and shows the whole demo year once it is scored."""
import json
import os
import time
import urllib.parse
import urllib.request

from tools.demo.city import build_city
from tools.demo.target import dev_env, target

api = target("http://127.0.0.1").url("scoring")  # this copy's port (STACK_INSTANCE moves it)
token = {**dev_env(), **os.environ}["DEV_READER_TOKEN"]
ARTICLE = {"visit": 3604, "judicial_suggestion": 864, "pre_litigation_resolution": 1180}
branches = {b.branch_id for b in build_city().branches}


def get(path, **params):
    request = urllib.request.Request(
        f"{api}{path}?{urllib.parse.urlencode(params)}", headers={"Authorization": f"Bearer {token}"}
    )
    with urllib.request.urlopen(request, timeout=30) as r:
        return json.load(r)


deadline = time.monotonic() + 1800
while True:
    ranked = {row["branch_id"] for row in get("/v1/rankings", period="2022", limit=1000)["rows"]}
    kinds = get("/v1/stats", **{"from": "2022-01", "to": "2022-08"})["streams"].get("liaison", {}).get("kinds", {})
    counts = {k: kinds.get(k, {}).get("count", 0) for k in ARTICLE}
    if branches <= ranked and counts == ARTICLE:
        break
    if time.monotonic() > deadline:
        raise SystemExit(f"demo year not scored in time: {len(branches & ranked)} branches ranked, {counts}")
    time.sleep(5)
print(f"==> leaders' API at {api}: all {len(branches)} demo branches ranked for 2022, Jan-Aug liaison {counts}")
EOF
  say "Demo year scored $(( $(date +%s) - began - up_s ))s after make up returned"
  say "The bundle's Debian repository alone covers prometheus, chromium and the CJK font on a bare machine"
  mkdir -p "$WORK/apt/lists/partial" "$WORK/apt/parts" "$WORK/apt/archives/partial" "$WORK/apt/repo"
  tar -xf "$BUNDLE" -C "$WORK/apt/repo" --strip-components=1 court-bundle/debs
  printf 'deb [trusted=yes] file:%s ./\n' "$WORK/apt/repo/debs" > "$WORK/apt/sources.list"
  : > "$WORK/apt/empty-status"
  apt_opts=(-o "Dir::Etc::SourceList=$WORK/apt/sources.list" -o "Dir::Etc::SourceParts=$WORK/apt/parts"
    -o "Dir::State::Lists=$WORK/apt/lists" -o "Dir::State::status=$WORK/apt/empty-status"
    -o "Dir::Cache::archives=$WORK/apt/archives" -o Debug::NoLocking=1 -o APT::Sandbox::User=root)
  apt-get "${apt_opts[@]}" update -qq
  installs=$(apt-get "${apt_opts[@]}" install --simulate -qq --no-install-recommends \
    prometheus chromium fonts-wqy-microhei | grep -c '^Inst ') || die "apt-get could not resolve them from the bundle"
  say "apt-get --simulate on an empty dpkg status: $installs packages, all from the bundle"
  say "make down"
  make --no-print-directory down
  trap - EXIT
  exit 0
fi

ROOT=$(cd "$(dirname "$0")/../.." && pwd)
BUNDLE=${1:-$(ls -t "$ROOT"/var/bundle/court-bundle-*.tar 2>/dev/null | head -1 || true)}
[ -n "$BUNDLE" ] && [ -f "$BUNDLE" ] || die "no bundle: make bundle, or give its path"
BUNDLE=$(realpath -- "$BUNDLE")
WORK=$(mktemp -d "${TMPDIR:-/tmp}/offline-check.XXXXXX")
cleanup() { if [ "${KEEP:-0}" = 1 ]; then echo "kept $WORK"; else rm -rf "$WORK"; fi; }
trap cleanup EXIT
began=$(date +%s)
say "Bundle $BUNDLE ($(du -m "$BUNDLE" | cut -f1) MB); a fresh clone of $(git -C "$ROOT" rev-parse --short HEAD) in $WORK"
git clone -q "$ROOT" "$WORK/clone"

if [ "${OFFLINE_CHECK_MODE:-}" != traced ] && unshare -rn true 2>/dev/null; then
  say "Cutting the network: unshare -rn (a network namespace with loopback only)"
  OFFLINE_MODE=namespace unshare -rn bash "$0" --inside "$WORK" "$BUNDLE"
else
  command -v strace >/dev/null 2>&1 || die "neither a network namespace (unshare -rn) nor strace is available"
  say "No network namespace (or OFFLINE_CHECK_MODE=traced): every source unreachable, every connect() recorded"
  nowhere=http://127.0.0.1:9
  UV_DEFAULT_INDEX=$nowhere/simple MAVEN_MIRROR=$nowhere/maven2 GOPROXY=$nowhere APT_MIRROR=$nowhere/debian \
    http_proxy=$nowhere https_proxy=$nowhere HTTP_PROXY=$nowhere HTTPS_PROXY=$nowhere \
    no_proxy=127.0.0.1,localhost NO_PROXY=127.0.0.1,localhost \
    STACK_INSTANCE=offline STACK_PORT_OFFSET=400 OFFLINE_MODE=traced \
    strace -f -qq --seccomp-bpf -e trace=connect -e signal=none -o "$WORK/connect.log" \
    bash "$0" --inside "$WORK" "$BUNDLE"
  outside=$(grep -E 'sa_family=AF_INET6?' "$WORK/connect.log" \
    | grep -vE 'inet_addr\("127\.0\.0\.1"\)|inet_pton\(AF_INET6, "(::1|::ffff:127\.0\.0\.1)"' || true)
  [ -z "$outside" ] || die "something was contacted outside the machine:
$outside"
  say "strace: $(grep -c 'connect(' "$WORK/connect.log") connect() calls, every one to loopback or a local socket"
fi
say "Offline install proven in $(( $(date +%s) - began ))s"
