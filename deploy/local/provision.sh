#!/usr/bin/env bash
# Provisions what `make up` and `make test` need, idempotently: the Python environment (.venv),
# Apache Kafka's broker jars (var/kafka/libs), FerretDB (var/bin/ferretdb-local) and Prometheus with
# promtool and Chromium with a CJK font (Debian packages, with apt-get: the steps that install system-wide).
# Downloads land in user-level caches (~/.cache/pip and uv, ~/.m2, Go's module and build caches),
# so a fresh clone on the same machine provisions in seconds; a new machine pays once.
set -euo pipefail
cd "$(dirname "$0")/../.."
mkdir -p var/stamps var/bin

say() { printf '==> %s\n' "$*"; }
die() { printf 'provision: %s\n' "$*" >&2; exit 1; }
stamp_of() { cat "$@" | sha256sum | cut -c1-16; }

need() {  # need CMD "what to install"
  command -v "$1" >/dev/null 2>&1 || die "$1 not found: install $2"
}
need python3 "Python 3.11 or newer"
need java "a Java 17+ runtime (e.g. Debian's openjdk-17-jre-headless)"
need mvn "Maven (Debian's maven)"
need go "Go 1.24 or newer"
python3 -c 'import sys; sys.exit(sys.version_info < (3, 11))' || die "Python 3.11+ needed, found $(python3 -V)"
java_major=$(java -XshowSettings:properties -version 2>&1 | awk -F'= ' '/java.specification.version/ {print $2}')
[ "${java_major%%.*}" -ge 17 ] 2>/dev/null || die "Java 17+ needed, found ${java_major}"

# 1. Python: uv (pinned) in its own small venv, then the locked environment in .venv.
UV_VERSION=0.13.8
if [ ! -x var/tools/uv/bin/uv ] || [ "$(var/tools/uv/bin/uv --version | awk '{print $2}')" != "$UV_VERSION" ]; then
  say "Installing uv $UV_VERSION (Python package manager) into var/tools/uv"
  python3 -m venv var/tools/uv
  var/tools/uv/bin/pip install -q "uv==$UV_VERSION"
fi
py_stamp="var/stamps/venv-$(stamp_of uv.lock pyproject.toml)"
if [ ! -f "$py_stamp" ] || [ ! -x .venv/bin/python ]; then
  say "Syncing the Python environment (.venv) from uv.lock"
  UV_PYTHON=$(command -v python3) var/tools/uv/bin/uv sync --frozen --quiet
  rm -f var/stamps/venv-*; touch "$py_stamp"
fi

# 2. Kafka: the broker's own jars from Maven Central (first run: about a minute, ~100 MB).
kafka_stamp="var/stamps/kafka-$(stamp_of deploy/kafka/pom.xml)"
if [ ! -f "$kafka_stamp" ]; then
  say "Fetching Apache Kafka broker jars from Maven Central into var/kafka/libs"
  rm -rf var/kafka/libs
  mvn -B -q -f deploy/kafka/pom.xml dependency:copy-dependencies -DincludeScope=runtime \
    -DoutputDirectory="$PWD/var/kafka/libs"
  rm -f var/stamps/kafka-*; touch "$kafka_stamp"
fi

# 3. FerretDB: built from the Go module proxy (first run: a few minutes of compiling), with our
# patches (deploy/ferretdb/patches, each says why): 1.24 looked documents up by `_id` without its
# index (every find or update scanned the table) and deadlocked on a command of 100 updates.
# The patched module is a copy under var/ferretdb-build, wired in with a `replace`.
ferret_stamp="var/stamps/ferretdb-$(stamp_of deploy/ferretdb/go.mod deploy/ferretdb/go.sum deploy/ferretdb/main.go deploy/ferretdb/patches/*.patch)"
if [ ! -f "$ferret_stamp" ] || [ ! -x var/bin/ferretdb-local ]; then
  say "Building FerretDB 1.24 (MongoDB wire protocol on SQLite) into var/bin; first time takes minutes"
  module=$(cd deploy/ferretdb && go mod download -json github.com/FerretDB/FerretDB | sed -n 's/^\t"Dir": "\(.*\)",$/\1/p')
  rm -rf var/ferretdb-build && mkdir -p var/ferretdb-build/wrapper
  cp -R "$module" var/ferretdb-build/FerretDB && chmod -R u+w var/ferretdb-build/FerretDB
  for p in deploy/ferretdb/patches/*.patch; do patch -s -p1 -d var/ferretdb-build/FerretDB < "$p"; done
  cp deploy/ferretdb/go.mod deploy/ferretdb/go.sum deploy/ferretdb/main.go var/ferretdb-build/wrapper/
  (cd var/ferretdb-build/wrapper && go mod edit -replace github.com/FerretDB/FerretDB=../FerretDB \
    && go build -o ../../bin/ferretdb-local .)
  rm -f var/stamps/ferretdb-*; touch "$ferret_stamp"
fi

# 4. Prometheus and promtool: Debian's `prometheus` package (`make up` runs a local Prometheus on
#    127.0.0.1:9090; tests/unit/test_prometheus_rules.py runs promtool). The package's postinst
#    starts its own daemon on 0.0.0.0:9090 (sysvinit script or systemd unit) which would take our
#    port: a policy-rc.d answering 101 keeps it from starting during the install, and the unit is
#    disabled afterwards so it does not start at boot either.
if ! command -v promtool >/dev/null 2>&1 || ! command -v prometheus >/dev/null 2>&1; then
  command -v apt-get >/dev/null 2>&1 || die "promtool/prometheus not found: install Prometheus 2.42+ (both binaries on PATH)"
  as_root=()
  if [ "$(id -u)" -ne 0 ]; then
    command -v sudo >/dev/null 2>&1 || die "promtool not found: run as root, or install Debian's prometheus package"
    as_root=(sudo)
  fi
  say "Installing Debian's prometheus package (prometheus and promtool) with apt-get"
  if [ ! -e /usr/sbin/policy-rc.d ]; then
    printf '#!/bin/sh\n# Written by provision.sh for one apt-get install: start no service.\nexit 101\n' \
      | "${as_root[@]}" tee /usr/sbin/policy-rc.d >/dev/null
    "${as_root[@]}" chmod 755 /usr/sbin/policy-rc.d
    trap '"${as_root[@]}" rm -f /usr/sbin/policy-rc.d' EXIT
  fi
  apt_install() {
    "${as_root[@]}" env DEBIAN_FRONTEND=noninteractive \
      apt-get install -y -q --no-install-recommends prometheus >/dev/null
  }
  # apt-get update only when the package lists lack it, or hold a version the mirror dropped.
  candidate=$(apt-cache policy prometheus 2>/dev/null | awk '/Candidate:/ {print $2}')
  if [ -z "$candidate" ] || [ "$candidate" = "(none)" ] || ! apt_install; then
    "${as_root[@]}" apt-get update -q >/dev/null
    apt_install
  fi
  if [ -d /run/systemd/system ]; then
    "${as_root[@]}" systemctl disable --now prometheus.service >/dev/null 2>&1 || true
  elif [ -x /etc/init.d/prometheus ]; then
    "${as_root[@]}" /etc/init.d/prometheus stop >/dev/null 2>&1 || true
    "${as_root[@]}" update-rc.d prometheus disable >/dev/null 2>&1 || true
  fi
  command -v promtool >/dev/null 2>&1 || die "promtool still not on PATH after installing the prometheus package"
fi

# 5. Chromium for the board's browser test (tests/e2e/test_board.py drives it with Playwright):
#    Debian's `chromium` package, because `playwright install` downloads browsers from a CDN.
if [ ! -x /usr/bin/chromium ] || [ ! -d /usr/share/fonts/truetype/wqy ]; then  # and a CJK font for the labels
  command -v apt-get >/dev/null 2>&1 || die "/usr/bin/chromium not found: install Debian's chromium package"
  as_root=()
  if [ "$(id -u)" -ne 0 ]; then
    command -v sudo >/dev/null 2>&1 || die "/usr/bin/chromium not found: run as root, or install Debian's chromium package"
    as_root=(sudo)
  fi
  say "Installing Debian's chromium package with apt-get (for the board's browser test)"
  chromium_install() {
    "${as_root[@]}" env DEBIAN_FRONTEND=noninteractive \
      apt-get install -y -q --no-install-recommends chromium fonts-wqy-microhei >/dev/null
  }
  # apt-get update only when the package lists lack it, or hold a version the mirror dropped.
  candidate=$(apt-cache policy chromium 2>/dev/null | awk '/Candidate:/ {print $2}')
  if [ -z "$candidate" ] || [ "$candidate" = "(none)" ] || ! chromium_install; then
    "${as_root[@]}" apt-get update -q >/dev/null
    chromium_install
  fi
  [ -x /usr/bin/chromium ] || die "/usr/bin/chromium still missing after installing the chromium package"
fi
