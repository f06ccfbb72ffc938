"""Each internal-mirror setting reaches the command that fetches from that source (issue #16).

deploy/local/provision.sh with PROVISION_DRY_RUN=1 prints every command that fetches or installs,
with the settings it passes; docker-compose.yml and the Dockerfile are read for the registry prefix.
"""

import os
import re
import shlex
import subprocess
from pathlib import Path

import pytest
import yaml

from tests.unit.test_compose import COMPOSE

ROOT = Path(__file__).resolve().parents[2]
PROVISION = ROOT / "deploy" / "local" / "provision.sh"
SETTINGS = ("UV_DEFAULT_INDEX", "MAVEN_MIRROR", "GOPROXY", "GOSUMDB", "GONOSUMDB", "GOFLAGS", "APT_MIRROR")
MIRRORS = {
    "UV_DEFAULT_INDEX": "http://pypi.court.invalid/simple",
    "MAVEN_MIRROR": "http://maven.court.invalid/maven2?repo=central&x=1",
    "GOPROXY": "http://goproxy.court.invalid",
    "GOSUMDB": "off",
    "APT_MIRROR": "http://debian.court.invalid/debian",
}
PREFIX = "${REGISTRY_PREFIX:-}"


def dry_run(tmp_path: Path, **settings: str) -> list[list[str]]:
    """The commands provision.sh would run, each as its argv (leading NAME=value included)."""
    env = {k: v for k, v in os.environ.items() if k not in SETTINGS}
    env.update(settings, PROVISION_DRY_RUN="1", TMPDIR=str(tmp_path))
    out = subprocess.run(
        [str(PROVISION)], env=env, cwd=ROOT, capture_output=True, text=True, timeout=60, check=True
    ).stdout
    return [shlex.split(line[2:]) for line in out.splitlines() if line.startswith("+ ")]


def find(commands: list[list[str]], *words: str) -> list[str]:
    """The one command that has all of `words` among its arguments."""
    (found,) = [c for c in commands if all(w in c for w in words)]
    return found


def assigned(command: list[str]) -> dict[str, str]:
    """The NAME=value words before the program (or after `env`)."""
    return dict(w.split("=", 1) for w in command if re.fullmatch(r"[A-Z_]+=.*", w))


def option(command: list[str], name: str) -> str:
    return command[command.index(name) + 1]


@pytest.fixture(scope="module")
def default(tmp_path_factory: pytest.TempPathFactory) -> list[list[str]]:
    return dry_run(tmp_path_factory.mktemp("default"))


@pytest.fixture(scope="module")
def mirrored(tmp_path_factory: pytest.TempPathFactory) -> list[list[str]]:
    return dry_run(tmp_path_factory.mktemp("mirrored"), **MIRRORS)


def test_without_settings_provisioning_uses_the_public_sources(default):
    assert find(default, "sync", "--frozen")
    assert "--index-url" not in find(default, "install", "uv==0.13.8")
    assert "-s" not in find(default, "mvn")
    assert not assigned(find(default, "go", "download"))
    for command in (c for c in default if "apt-get" in c):
        assert not any(w.startswith("Dir::Etc") for w in command), command


def test_the_python_index_reaches_pip_and_uv(mirrored):
    assert option(find(mirrored, "install", "uv==0.13.8"), "--index-url") == MIRRORS["UV_DEFAULT_INDEX"]
    sync = find(mirrored, "pip", "sync")
    assert assigned(sync)["UV_DEFAULT_INDEX"] == MIRRORS["UV_DEFAULT_INDEX"]
    assert "--require-hashes" in sync  # the locked set, checked against uv.lock's hashes
    export = find(mirrored, "export")
    assert "--frozen" in export and option(export, "-o") == sync[-1]
    assert not [c for c in mirrored if "sync" in c and "--frozen" in c]  # it would fetch from uv.lock's URLs


def test_the_maven_mirror_stands_in_for_every_repository(mirrored):
    mvn = find(mirrored, "mvn")
    settings = Path(option(mvn, "-s")).read_text()
    assert "<mirrorOf>*</mirrorOf>" in settings
    assert "<url>http://maven.court.invalid/maven2?repo=central&amp;x=1</url>" in settings


def test_the_go_proxy_reaches_download_and_build(mirrored):
    for words in (("go", "download"), ("go", "build")):
        env = assigned(find(mirrored, *words))
        assert env == {"GOPROXY": MIRRORS["GOPROXY"], "GOSUMDB": "off"}, words


def test_the_debian_mirror_reaches_every_apt_get(mirrored):
    apt = [c for c in mirrored if "apt-get" in c]
    assert {"update", "install"} <= {w for c in apt for w in c}
    for command in apt:
        options = dict(option.split("=", 1) for option in command if option.startswith("Dir::"))
        sources = Path(options["Dir::Etc::SourceList"]).read_text()
        codename = re.search(r"VERSION_CODENAME=(\w+)", Path("/etc/os-release").read_text())
        assert codename
        debs = [line for line in sources.splitlines() if line.startswith("deb ")]
        assert debs and all(MIRRORS["APT_MIRROR"] in line for line in debs), sources
        assert f" {codename[1]} main" in sources and "signed-by=" in sources
        assert not list(Path(options["Dir::Etc::SourceParts"]).iterdir())  # the system's sources left out
        assert Path(options["Dir::State::Lists"]).is_dir()  # and their package lists left alone


def test_every_pulled_image_comes_through_the_registry_prefix():
    pulled = {name: svc["image"] for name, svc in COMPOSE.items() if "build" not in svc}
    assert pulled and all(image.startswith(PREFIX) for image in pulled.values()), pulled
    build_args = {"REGISTRY_PREFIX": PREFIX, "PYTHON_INDEX": "${UV_DEFAULT_INDEX:-}"}
    assert all(svc["build"]["args"] == build_args for svc in COMPOSE.values() if "build" in svc)
    dockerfile = (ROOT / "Dockerfile").read_text()
    (base,) = re.findall(r"^FROM (\S+)", dockerfile, re.MULTILINE)
    assert base.startswith("${REGISTRY_PREFIX}") and "ARG REGISTRY_PREFIX=" in dockerfile
    # Compose leaves the prefix empty by default; set, it names the internal registry for all.
    raw = yaml.safe_load((ROOT / "docker-compose.yml").read_text().replace(PREFIX, "registry.court.invalid/"))
    images = [svc["image"] for svc in raw["services"].values() if "build" not in svc]
    assert all(image.startswith("registry.court.invalid/") for image in images), images


def test_the_image_build_takes_the_python_index():
    dockerfile = (ROOT / "Dockerfile").read_text()
    assert 'pip install ${PYTHON_INDEX:+--index-url "$PYTHON_INDEX"} "uv==' in dockerfile
    assert '--require-hashes --default-index "$PYTHON_INDEX"' in dockerfile
