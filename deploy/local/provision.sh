#!/usr/bin/env bash
# Provisions what `make up` and `make test` need, idempotently: the Python environment (.venv),
# Apache Kafka's broker jars (var/kafka/libs) and FerretDB (var/bin/ferretdb-local).
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

# 3. FerretDB: built from the Go module proxy (first run: a few minutes of compiling).
ferret_stamp="var/stamps/ferretdb-$(stamp_of deploy/ferretdb/go.mod deploy/ferretdb/go.sum deploy/ferretdb/main.go)"
if [ ! -f "$ferret_stamp" ] || [ ! -x var/bin/ferretdb-local ]; then
  say "Building FerretDB 1.24 (MongoDB wire protocol on SQLite) into var/bin; first time takes minutes"
  (cd deploy/ferretdb && go build -o ../../var/bin/ferretdb-local .)
  rm -f var/stamps/ferretdb-*; touch "$ferret_stamp"
fi
