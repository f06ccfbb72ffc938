"""Provisioning from an offline bundle contacts no registry, and refuses a bundle it cannot trust (issue #16).

deploy/local/provision.sh with BUNDLE=... and PROVISION_DRY_RUN=1 checks the bundle as for real, then
prints every command that would install, which are read here as in tests/unit/test_mirrors.py.
"""

import os
import re
import shlex
import shutil
import subprocess
import tarfile
from pathlib import Path

import pytest

from tests.unit.test_mirrors import MIRRORS, SETTINGS, assigned, find, option
from tools.bundle.manifest import ENV, MANIFEST, bundle_env, render_env, render_manifest

ROOT = Path(__file__).resolve().parents[2]
PROVISION = ROOT / "deploy" / "local" / "provision.sh"
# Anything that names a network location: a URL scheme other than file:, or a registry's host.
REMOTE = re.compile(
    r"(?<!file)(https?|ftp|git|ssh)://|pypi|pythonhosted|maven\.org|apache\.org|golang|debian\.org"
)


def fake_bundle(tmp_path: Path, **changes: str) -> Path:
    """A bundle as `make bundle` lays it out (tiny stand-in files), for this checkout unless `changes`."""
    tree = tmp_path / "court-bundle"
    files = {
        "wheels/uv-0.0-py3-none-any.whl": b"uv",
        "wheels/six-1.16.0-py2.py3-none-any.whl": b"six",
        "kafka/libs/kafka_2.13-4.1.2.jar": b"jar",
        "bin/ferretdb-local": b"\x7fELF",
        "debs/chromium_1_amd64.deb": b"deb",
        "debs/Packages": b"Package: chromium\n",
        "requirements.txt": b"six==1.16.0\n",
    }
    for name, data in files.items():
        (tree / name).parent.mkdir(parents=True, exist_ok=True)
        (tree / name).write_bytes(data)
    (tree / ENV).write_text(render_env({**bundle_env("0" * 40, "2026-01-01T00:00:00Z"), **changes}))
    members = [(str(p.relative_to(tree)), p) for p in tree.rglob("*") if p.is_file()]
    (tree / MANIFEST).write_text(render_manifest(members))
    archive = tmp_path / "court-bundle-test.tar"
    with tarfile.open(archive, "w") as tar:
        tar.add(tree, arcname="court-bundle")
    return archive


def provision(
    tmp_path: Path, bundle: Path | None, path: str | None = None, **settings: str
) -> subprocess.CompletedProcess:
    """provision.sh in a dry run from `bundle` (None: none), with the mirror settings given (and PATH)."""
    env = {k: v for k, v in os.environ.items() if k not in {*SETTINGS, "BUNDLE"}}
    env.update(settings, PROVISION_DRY_RUN="1", TMPDIR=str(tmp_path))
    if bundle is not None:
        env["BUNDLE"] = str(bundle)
    if path is not None:
        env["PATH"] = path
    return subprocess.run([str(PROVISION)], env=env, cwd=ROOT, capture_output=True, text=True, timeout=60)


def commands(result: subprocess.CompletedProcess) -> list[list[str]]:
    assert result.returncode == 0, result.stderr
    return [shlex.split(line[2:]) for line in result.stdout.splitlines() if line.startswith("+ ")]


@pytest.fixture(scope="module")
def bundled(tmp_path_factory: pytest.TempPathFactory) -> list[list[str]]:
    # The mirror settings are set too: a bundle must not use them either.
    tmp = tmp_path_factory.mktemp("bundled")
    return commands(provision(tmp, fake_bundle(tmp), **MIRRORS))


def unpacked(command: list[str], flag: str) -> Path:
    """The bundle folder a command takes its files from (checked to be the unpacked bundle)."""
    folder = Path(option(command, flag))
    assert folder.name == "wheels" and (folder.parent / MANIFEST).is_file(), command
    return folder


def test_bundle_mode_names_no_network_location_at_all(bundled):
    assert len(bundled) >= 10
    for command in bundled:
        assert not REMOTE.search(" ".join(command)), command
        assert command[0] not in {"mvn", "go", "curl", "wget", "git"}, command
    assert not [c for c in bundled if "download" in c or "mvn" in c]


def test_uv_and_the_locked_wheels_come_from_the_bundle_offline(bundled):
    pip = find(bundled, "install", "uv==0.13.8")
    assert "--no-index" in pip and "--index-url" not in pip
    wheels = unpacked(pip, "--find-links")
    for words in (("export",), ("venv", ".venv"), ("pip", "sync")):
        command = find(bundled, *words)
        assert "--offline" in command and assigned(command)["UV_OFFLINE"] == "1", command
        assert "UV_DEFAULT_INDEX" not in assigned(command)
    sync = find(bundled, "pip", "sync")
    assert {"--no-index", "--require-hashes"} <= set(sync)
    assert unpacked(sync, "--find-links") == wheels
    assert option(find(bundled, "export"), "-o") == sync[-1]  # the locked set, from this checkout's uv.lock
    assert not [c for c in bundled if "sync" in c and "--frozen" in c]


def test_kafka_and_ferretdb_are_unpacked_from_the_bundle(bundled):
    copy = find(bundled, "cp", "var/kafka/libs")
    assert copy[-2].endswith("/kafka/libs") and (Path(copy[-2]).parent.parent / MANIFEST).is_file()
    install = find(bundled, "install", "var/bin/ferretdb-local")
    assert install[-2].endswith("/bin/ferretdb-local")


def test_debian_packages_come_from_the_bundles_repository_only(bundled):
    apt = [c for c in bundled if "apt-get" in c]
    assert {"update", "install"} <= {w for c in apt for w in c}
    for command in apt:
        options = dict(o.split("=", 1) for o in command if o.startswith("Dir::"))
        sources = Path(options["Dir::Etc::SourceList"]).read_text()
        debs = [line for line in sources.splitlines() if line.startswith("deb")]
        assert len(debs) == 1 and debs[0].startswith("deb [trusted=yes] file:/"), sources
        assert Path(debs[0].split("file:")[1].split()[0], "Packages").is_file()
        assert not list(Path(options["Dir::Etc::SourceParts"]).iterdir())


def test_a_damaged_bundle_is_refused_before_anything_is_installed(tmp_path):
    archive = fake_bundle(tmp_path)
    with tarfile.open(archive, "a") as tar:  # a later member of the same name wins on extraction
        tar.add(tmp_path / "court-bundle" / "requirements.txt", arcname="court-bundle/bin/ferretdb-local")
    result = provision(tmp_path, archive)
    assert result.returncode != 0 and "damaged" in result.stderr and "ferretdb-local" in result.stderr
    assert "+ " not in result.stdout


@pytest.mark.parametrize(
    ("changes", "says"),
    [
        ({"VENV_STAMP": "0123456789abcdef"}, "another uv.lock"),
        ({"KAFKA_STAMP": "0123456789abcdef"}, "another deploy/kafka/pom.xml"),
        ({"FERRETDB_STAMP": "0123456789abcdef"}, "other deploy/ferretdb sources"),
        ({"PYTHON": "3.99"}, "wheels for Python 3.99"),
        ({"MACHINE": "riscv64"}, "for riscv64 machines"),
    ],
)
def test_a_bundle_made_for_another_checkout_or_machine_is_refused(tmp_path, changes, says):
    result = provision(tmp_path, fake_bundle(tmp_path, **changes))
    assert result.returncode != 0 and says in result.stderr, result.stderr
    assert "+ " not in result.stdout


def test_prerequisites_are_checked_by_name_and_bundle_mode_needs_only_python_and_java(tmp_path):
    # Every program of the machine but java, Maven and Go.
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    for folder in ("/usr/local/bin", "/usr/bin", "/bin"):
        for program in Path(folder).iterdir():
            if program.name not in {"java", "mvn", "go"} and not (bin_dir / program.name).exists():
                (bin_dir / program.name).symlink_to(program)
    python3 = subprocess.run(
        ["python3", "-c", "import sys; print(sys.executable)"], capture_output=True, text=True, check=True
    ).stdout.strip()  # the interpreter itself, not a shim that needs PATH
    (bin_dir / "python3").unlink(missing_ok=True)
    (bin_dir / "python3").symlink_to(python3)
    bundle = fake_bundle(tmp_path)

    result = provision(tmp_path, bundle, path=str(bin_dir))
    assert result.returncode != 0
    assert "java not found: install a Java 17+ runtime" in result.stderr, result.stderr
    (bin_dir / "java").write_text('#!/bin/sh\necho "    java.specification.version = 11" >&2\n')
    (bin_dir / "java").chmod(0o755)
    result = provision(tmp_path, bundle, path=str(bin_dir))
    assert result.returncode != 0 and "Java 17+ needed, found 11" in result.stderr, result.stderr
    java = shutil.which("java")
    assert java
    (bin_dir / "java").unlink()
    (bin_dir / "java").symlink_to(Path(java).resolve())
    assert commands(provision(tmp_path, bundle, path=str(bin_dir)))  # no Maven, no Go: fine with a bundle
    result = provision(tmp_path, None, path=str(bin_dir))
    assert result.returncode != 0 and "mvn not found: install Maven" in result.stderr, result.stderr
