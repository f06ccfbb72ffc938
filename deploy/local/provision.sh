#!/usr/bin/env bash
# Provisions what `make up` and `make test` need, idempotently: the Python environment (.venv),
# Apache Kafka's broker jars (var/kafka/libs), FerretDB (var/bin/ferretdb-local) and Prometheus with
# promtool and Chromium with a CJK font (Debian packages, with apt-get: the steps that install system-wide).
# Downloads land in user-level caches (~/.cache/pip and uv, ~/.m2, Go's module and build caches),
# so a fresh clone on the same machine provisions in seconds; a new machine pays once.
#
# Internal mirrors (README "Deploying on an isolated court network"), one setting each:
#   UV_DEFAULT_INDEX  the Python package index (uv, and pip for uv itself)
#   MAVEN_MIRROR      the Maven repository for Kafka's jars (mirrors every repository)
#   GOPROXY           the Go module proxy for FerretDB (with GOSUMDB, GONOSUMDB, GOFLAGS if set)
#   APT_MIRROR        the Debian archive for apt-get (this run only; /etc/apt is left alone)
# PROVISION_DRY_RUN=1 prints every command that fetches or installs, with those settings, and runs none.
#
# No registry at all (README "Deploying on an isolated court network"): BUNDLE=path (`make up BUNDLE=...`)
# provisions from an archive `make bundle` wrote (tools/bundle) and contacts nothing: its manifest is
# checked first, then uv installs the locked wheels offline with no index, Kafka's jars and FerretDB's
# binary are unpacked, and apt-get installs from the bundle's own package repository. Maven and Go
# are not needed then: only Python 3.11+ and Java 17+.
set -euo pipefail
BUNDLE_FILE=""
if [ -n "${BUNDLE:-}" ]; then
  [ -f "$BUNDLE" ] || { printf 'provision: BUNDLE=%s: no such file\n' "$BUNDLE" >&2; exit 1; }
  BUNDLE_FILE=$(realpath -- "$BUNDLE")
fi
cd "$(dirname "$0")/../.."
DRY_RUN=${PROVISION_DRY_RUN:-0}
dry() { [ "$DRY_RUN" = 1 ]; }
dry || mkdir -p var/stamps var/bin
# Files generated from the settings (Maven's settings.xml, the apt source list); a scratch folder in a dry run.
CONF=$PWD/var/provision
if dry; then CONF=$(mktemp -d); fi
mkdir -p "$CONF"

say() { printf '==> %s\n' "$*"; }
die() { printf 'provision: %s\n' "$*" >&2; exit 1; }
stamp_of() { cat "$@" | sha256sum | cut -c1-16; }
run() {  # run [NAME=value ...] COMMAND ARGS...: run it, or in a dry run print it (shell-quoted)
  if dry; then printf '+'; printf ' %q' "$@"; printf '\n'; else env "$@"; fi
}
bundled() { [ -n "$BUNDLE_FILE" ]; }

need() {  # need CMD "what to install"
  command -v "$1" >/dev/null 2>&1 || die "$1 not found: install $2 (README, Quick start: prerequisites)"
}
need python3 "Python 3.11 or newer"
need java "a Java 17+ runtime (e.g. Debian's openjdk-17-jre-headless)"
if ! bundled; then  # a bundle carries Kafka's jars and the built FerretDB
  need mvn "Maven (Debian's maven)"
  need go "Go 1.24 or newer"
fi
python3 -c 'import sys; sys.exit(sys.version_info < (3, 11))' || die "Python 3.11+ needed, found $(python3 -V)"
java_major=$(java -XshowSettings:properties -version 2>&1 | awk -F'= ' '/java.specification.version/ {print $2}')
[ "${java_major%%.*}" -ge 17 ] 2>/dev/null || die "Java 17+ needed, found ${java_major:-none} (java -version)"

# What each step's product is made from: a step reruns when its stamp (var/stamps) is missing.
UV_VERSION=0.13.8
venv_key=$(stamp_of uv.lock pyproject.toml)
kafka_key=$(stamp_of deploy/kafka/pom.xml)
ferret_key=$(stamp_of deploy/ferretdb/go.mod deploy/ferretdb/go.sum deploy/ferretdb/main.go deploy/ferretdb/patches/*.patch)

# 0. The bundle: unpacked (var/bundle/unpacked), every file checked against its manifest, and made
#    for this machine and this commit's inputs; it may be damaged or meant for another checkout.
if bundled; then
  B=$PWD/var/bundle/unpacked
  if dry; then B=$CONF/bundle; fi
  say "Checking the bundle $BUNDLE_FILE"
  rm -rf "$B" && mkdir -p "$B"
  tar -xf "$BUNDLE_FILE" -C "$B" --strip-components=1 || die "$BUNDLE_FILE: not a readable tar archive"
  [ -f "$B/MANIFEST.sha256" ] && [ -f "$B/bundle.env" ] || die "$BUNDLE_FILE: no MANIFEST.sha256 or bundle.env (not made by make bundle)"
  (cd "$B" && sha256sum --quiet --strict -c MANIFEST.sha256 >&2) \
    || die "$BUNDLE_FILE is damaged: the files above do not match its manifest; copy it again"
  listed=$(wc -l < "$B/MANIFEST.sha256")
  present=$(cd "$B" && find . -type f ! -name MANIFEST.sha256 | wc -l)
  [ "$listed" -eq "$present" ] || die "$BUNDLE_FILE holds $present files but its manifest lists $listed"
  bundle_value() { sed -n "s/^$1=//p" "$B/bundle.env"; }
  made_at="(made from commit $(bundle_value COMMIT))"
  [ "$(bundle_value FORMAT)" = 1 ] || die "$BUNDLE_FILE: bundle format $(bundle_value FORMAT), this checkout reads 1"
  [ "$(bundle_value MACHINE)" = "$(uname -m)" ] \
    || die "the bundle is for $(bundle_value MACHINE) machines, this one is $(uname -m)"
  here_python=$(python3 -c 'import sys; print("%d.%d" % sys.version_info[:2])')
  [ "$(bundle_value PYTHON)" = "$here_python" ] \
    || die "the bundle holds wheels for Python $(bundle_value PYTHON), python3 here is $here_python: make the bundle with the same Python"
  [ "$(bundle_value UV_VERSION)" = "$UV_VERSION" ] || die "the bundle carries uv $(bundle_value UV_VERSION), this checkout needs $UV_VERSION $made_at"
  [ "$(bundle_value VENV_STAMP)" = "$venv_key" ] \
    || die "the bundle's wheels are for another uv.lock or pyproject.toml $made_at: make a bundle from this checkout's commit"
  [ "$(bundle_value KAFKA_STAMP)" = "$kafka_key" ] \
    || die "the bundle's Kafka jars are for another deploy/kafka/pom.xml $made_at: make a bundle from this checkout's commit"
  [ "$(bundle_value FERRETDB_STAMP)" = "$ferret_key" ] \
    || die "the bundle's FerretDB was built from other deploy/ferretdb sources $made_at: make a bundle from this checkout's commit"
fi

# 1. Python: uv (pinned) in its own small venv, then the locked environment in .venv.
pip_index=()
if [ -n "${UV_DEFAULT_INDEX:-}" ]; then pip_index=(--index-url "$UV_DEFAULT_INDEX"); fi
if bundled; then pip_index=(--no-index --find-links "$B/wheels"); fi
if dry || [ ! -x var/tools/uv/bin/uv ] || [ "$(var/tools/uv/bin/uv --version | awk '{print $2}')" != "$UV_VERSION" ]; then
  say "Installing uv $UV_VERSION (Python package manager) into var/tools/uv"
  run python3 -m venv var/tools/uv
  run var/tools/uv/bin/pip install -q "${pip_index[@]}" "uv==$UV_VERSION"
fi
py_stamp="var/stamps/venv-$venv_key"
if dry || [ ! -f "$py_stamp" ] || [ ! -x .venv/bin/python ]; then
  say "Syncing the Python environment (.venv) from uv.lock"
  if bundled; then
    # The same locked set as below, from the bundle's wheels only: offline, no index, hashes checked.
    run UV_OFFLINE=1 var/tools/uv/bin/uv export --offline --frozen --quiet --no-emit-project \
      --format requirements-txt -o "$CONF/requirements.txt"
    run UV_OFFLINE=1 var/tools/uv/bin/uv venv --offline --quiet --allow-existing --python "$(command -v python3)" .venv
    run UV_OFFLINE=1 var/tools/uv/bin/uv pip sync --offline --quiet --require-hashes --no-index \
      --find-links "$B/wheels" --python .venv/bin/python "$CONF/requirements.txt"
  elif [ -n "${UV_DEFAULT_INDEX:-}" ]; then
    # `uv sync --frozen` downloads from the addresses in uv.lock whatever the index: install the
    # same locked set, checked against the lock's hashes, from the mirror instead.
    run var/tools/uv/bin/uv export --frozen --quiet --no-emit-project --format requirements-txt \
      -o "$CONF/requirements.txt"
    run var/tools/uv/bin/uv venv --quiet --allow-existing --python "$(command -v python3)" .venv
    run UV_DEFAULT_INDEX="$UV_DEFAULT_INDEX" var/tools/uv/bin/uv pip sync --quiet --require-hashes \
      --python .venv/bin/python "$CONF/requirements.txt"
  else
    run UV_PYTHON="$(command -v python3)" var/tools/uv/bin/uv sync --frozen --quiet
  fi
  dry || { rm -f var/stamps/venv-*; touch "$py_stamp"; }
fi

# 2. Kafka: the broker's own jars from Maven Central (first run: about a minute, ~100 MB).
#    MAVEN_MIRROR: a settings.xml whose one mirror stands in for every repository (user settings aside).
mvn_settings=()
if [ -n "${MAVEN_MIRROR:-}" ]; then
  mirror=${MAVEN_MIRROR//&/&amp;}
  cat > "$CONF/maven-settings.xml" <<EOF
<settings xmlns="http://maven.apache.org/SETTINGS/1.2.0">
  <!-- Written by deploy/local/provision.sh from MAVEN_MIRROR. -->
  <mirrors>
    <mirror><id>internal-mirror</id><mirrorOf>*</mirrorOf><url>${mirror}</url></mirror>
  </mirrors>
</settings>
EOF
  mvn_settings=(-s "$CONF/maven-settings.xml")
fi
kafka_stamp="var/stamps/kafka-$kafka_key"
if bundled && { dry || [ ! -f "$kafka_stamp" ]; }; then
  say "Unpacking Apache Kafka broker jars from the bundle into var/kafka/libs"
  run rm -rf var/kafka/libs
  run mkdir -p var/kafka
  run cp -R "$B/kafka/libs" var/kafka/libs
  dry || { rm -f var/stamps/kafka-*; touch "$kafka_stamp"; }
elif dry || [ ! -f "$kafka_stamp" ]; then
  say "Fetching Apache Kafka broker jars from ${MAVEN_MIRROR:-Maven Central} into var/kafka/libs"
  dry || rm -rf var/kafka/libs
  run mvn -B -q "${mvn_settings[@]}" -f deploy/kafka/pom.xml dependency:copy-dependencies \
    -DincludeScope=runtime -DoutputDirectory="$PWD/var/kafka/libs"
  dry || { rm -f var/stamps/kafka-*; touch "$kafka_stamp"; }
fi

# 3. FerretDB: built from the Go module proxy (first run: a few minutes of compiling), with our
# patches (deploy/ferretdb/patches, each says why): 1.24 looked documents up by `_id` without its
# index (every find or update scanned the table) and deadlocked on a command of 100 updates.
# The patched module is a copy under var/ferretdb-build, wired in with a `replace`.
# GOPROXY and Go's other module settings reach `go` through the environment; they are named on the
# command so that a dry run shows them. go.sum pins every module, so a proxy without the checksum
# database works with GOSUMDB=off.
go_env=()
for name in GOPROXY GOSUMDB GONOSUMDB GOFLAGS; do
  if [ -n "${!name:-}" ]; then go_env+=("$name=${!name}"); fi
done
ferret_stamp="var/stamps/ferretdb-$ferret_key"
if bundled && { dry || [ ! -f "$ferret_stamp" ] || [ ! -x var/bin/ferretdb-local ]; }; then
  say "Installing FerretDB 1.24 (built with our patches) from the bundle into var/bin"
  run install -m 755 "$B/bin/ferretdb-local" var/bin/ferretdb-local
  dry || { rm -f var/stamps/ferretdb-*; touch "$ferret_stamp"; }
elif dry; then
  say "Building FerretDB 1.24 (MongoDB wire protocol on SQLite) into var/bin"
  run "${go_env[@]}" go mod download -json github.com/FerretDB/FerretDB  # in deploy/ferretdb
  run "${go_env[@]}" go build -o ../../bin/ferretdb-local .  # in var/ferretdb-build/wrapper
elif [ ! -f "$ferret_stamp" ] || [ ! -x var/bin/ferretdb-local ]; then
  say "Building FerretDB 1.24 (MongoDB wire protocol on SQLite) into var/bin; first time takes minutes"
  module=$(cd deploy/ferretdb && run "${go_env[@]}" go mod download -json github.com/FerretDB/FerretDB | sed -n 's/^\t"Dir": "\(.*\)",$/\1/p')
  rm -rf var/ferretdb-build && mkdir -p var/ferretdb-build/wrapper
  cp -R "$module" var/ferretdb-build/FerretDB && chmod -R u+w var/ferretdb-build/FerretDB
  for p in deploy/ferretdb/patches/*.patch; do patch -s -p1 -d var/ferretdb-build/FerretDB < "$p"; done
  cp deploy/ferretdb/go.mod deploy/ferretdb/go.sum deploy/ferretdb/main.go var/ferretdb-build/wrapper/
  (cd var/ferretdb-build/wrapper && go mod edit -replace github.com/FerretDB/FerretDB=../FerretDB \
    && run "${go_env[@]}" go build -o ../../bin/ferretdb-local .)
  rm -f var/stamps/ferretdb-*; touch "$ferret_stamp"
fi

# Debian packages (steps 4 and 5) come with apt-get, as root or through sudo. APT_MIRROR: a source
# list of its own for these runs (Dir::Etc options), signed by Debian's archive keys as usual.
# A bundle: the same, with the bundle's flat repository (its own Packages index) as the one source;
# trusted=yes because every package and the index were checked against the manifest above.
as_root=()
apt_opts=()
if bundled; then
  mkdir -p "$CONF/apt/sources.list.d" "$CONF/apt/lists/partial"
  printf '# Written by deploy/local/provision.sh from BUNDLE.\ndeb [trusted=yes] file:%s ./\n' "$B/debs" \
    > "$CONF/apt/sources.list"
  apt_opts=(-o "Dir::Etc::SourceList=$CONF/apt/sources.list" -o "Dir::Etc::SourceParts=$CONF/apt/sources.list.d"
    -o "Dir::State::Lists=$CONF/apt/lists")
elif [ -n "${APT_MIRROR:-}" ]; then
  codename=$(. /etc/os-release && printf '%s' "${VERSION_CODENAME:-}")
  [ -n "$codename" ] || die "APT_MIRROR set but /etc/os-release names no VERSION_CODENAME"
  mkdir -p "$CONF/apt/sources.list.d" "$CONF/apt/lists/partial"
  keyring=/usr/share/keyrings/debian-archive-keyring.gpg
  {
    printf '# Written by deploy/local/provision.sh from APT_MIRROR.\n'
    printf 'deb [signed-by=%s] %s %s main\n' "$keyring" "$APT_MIRROR" "$codename"
    printf 'deb [signed-by=%s] %s %s-updates main\n' "$keyring" "$APT_MIRROR" "$codename"
  } > "$CONF/apt/sources.list"
  # Its package lists apart too: apt-get update would drop the lists of the system's own sources.
  apt_opts=(-o "Dir::Etc::SourceList=$CONF/apt/sources.list" -o "Dir::Etc::SourceParts=$CONF/apt/sources.list.d"
    -o "Dir::State::Lists=$CONF/apt/lists")
fi
need_root() {  # need_root "what is missing": as_root becomes (sudo) when not root
  command -v apt-get >/dev/null 2>&1 || die "$1"
  if [ "$(id -u)" -ne 0 ]; then
    command -v sudo >/dev/null 2>&1 || die "$1: run as root, or install it with your package manager"
    as_root=(sudo)
  fi
}
apt_install() {  # apt_install PACKAGE...: from the package lists as they are, else after apt-get update
  local install=("${as_root[@]}" env DEBIAN_FRONTEND=noninteractive apt-get "${apt_opts[@]}" install -y -q
    --no-install-recommends "$@")
  if bundled && ! dry; then
    here=$(. /etc/os-release && printf '%s' "${VERSION_CODENAME:-unknown}")
    [ "$(bundle_value DEBIAN)" = "$here" ] \
      || die "the bundle's Debian packages are for $(bundle_value DEBIAN), this machine runs $here: install $* yourself"
  fi
  if dry; then
    run "${as_root[@]}" apt-get "${apt_opts[@]}" update -q
    run "${install[@]}"
    return
  fi
  # apt-get update only when the lists lack the package, or hold a version the mirror dropped.
  candidate=$(apt-cache "${apt_opts[@]}" policy "$1" 2>/dev/null | awk '/Candidate:/ {print $2}')
  if [ -z "$candidate" ] || [ "$candidate" = "(none)" ] || ! run "${install[@]}" >/dev/null; then
    run "${as_root[@]}" apt-get "${apt_opts[@]}" update -q >/dev/null
    run "${install[@]}" >/dev/null
  fi
}

# 4. Prometheus and promtool: Debian's `prometheus` package (`make up` runs a local Prometheus on
#    127.0.0.1:9090; tests/unit/test_prometheus_rules.py runs promtool). The package's postinst
#    starts its own daemon on 0.0.0.0:9090 (sysvinit script or systemd unit) which would take our
#    port: a policy-rc.d answering 101 keeps it from starting during the install, and the unit is
#    disabled afterwards so it does not start at boot either.
if dry || ! command -v promtool >/dev/null 2>&1 || ! command -v prometheus >/dev/null 2>&1; then
  need_root "promtool/prometheus not found: install Prometheus 2.42+ (both binaries on PATH)"
  say "Installing Debian's prometheus package (prometheus and promtool) with apt-get"
  if ! dry && [ ! -e /usr/sbin/policy-rc.d ]; then
    printf '#!/bin/sh\n# Written by provision.sh for one apt-get install: start no service.\nexit 101\n' \
      | "${as_root[@]}" tee /usr/sbin/policy-rc.d >/dev/null
    "${as_root[@]}" chmod 755 /usr/sbin/policy-rc.d
    trap '"${as_root[@]}" rm -f /usr/sbin/policy-rc.d' EXIT
  fi
  apt_install prometheus
  if dry; then
    :
  elif [ -d /run/systemd/system ]; then
    "${as_root[@]}" systemctl disable --now prometheus.service >/dev/null 2>&1 || true
  elif [ -x /etc/init.d/prometheus ]; then
    "${as_root[@]}" /etc/init.d/prometheus stop >/dev/null 2>&1 || true
    "${as_root[@]}" update-rc.d prometheus disable >/dev/null 2>&1 || true
  fi
  dry || command -v promtool >/dev/null 2>&1 || die "promtool still not on PATH after installing the prometheus package"
fi

# 5. Chromium for the board's browser test (tests/e2e/test_board.py drives it with Playwright):
#    Debian's `chromium` package, because `playwright install` downloads browsers from a CDN; and
#    fonts-wqy-microhei, a CJK TrueType font: the board's Chinese labels in that test, and the font
#    the scoring API's annual PDF report embeds (services/scoring/api/pdf_font.py; 503 without it).
if dry || [ ! -x /usr/bin/chromium ] || [ ! -d /usr/share/fonts/truetype/wqy ]; then  # and a CJK font for the labels
  need_root "/usr/bin/chromium not found: install Debian's chromium package"
  say "Installing Debian's chromium and fonts-wqy-microhei packages with apt-get (the board's browser test, the PDF report's font)"
  apt_install chromium fonts-wqy-microhei
  dry || [ -x /usr/bin/chromium ] || die "/usr/bin/chromium still missing after installing the chromium package"
fi

# The unpacked bundle has served (the archive stays where it was): free its space.
if bundled && ! dry; then rm -rf "$B"; fi
