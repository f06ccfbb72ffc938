"""What a bundle says about itself: bundle.env (made for which machine and inputs) and MANIFEST.sha256.

deploy/local/provision.sh reads both before it uses anything of a bundle: `sha256sum -c` on the
manifest, then each bundle.env value against the checkout (its stamps are provision.sh's own).
"""

import hashlib
import platform
import re
import sys
from collections.abc import Iterable, Mapping
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
FORMAT = "1"
MANIFEST = "MANIFEST.sha256"
ENV = "bundle.env"


def stamp_of(*files: Path) -> str:
    """provision.sh's `stamp_of`: the first 16 hex digits of the sha256 of the files one after another."""
    digest = hashlib.sha256()
    for file in files:
        digest.update(file.read_bytes())
    return digest.hexdigest()[:16]


def stamps(root: Path = ROOT) -> dict[str, str]:
    """The inputs of provisioning's steps, as provision.sh names its stamps."""
    ferretdb = root / "deploy" / "ferretdb"
    return {
        "VENV_STAMP": stamp_of(root / "uv.lock", root / "pyproject.toml"),
        "KAFKA_STAMP": stamp_of(root / "deploy" / "kafka" / "pom.xml"),
        "FERRETDB_STAMP": stamp_of(
            ferretdb / "go.mod",
            ferretdb / "go.sum",
            ferretdb / "main.go",
            *sorted(ferretdb.glob("patches/*.patch")),
        ),
    }


def uv_version(root: Path = ROOT) -> str:
    """The uv version provision.sh pins (its `UV_VERSION=`)."""
    found = re.search(r"^UV_VERSION=(\S+)$", (root / "deploy" / "local" / "provision.sh").read_text(), re.M)
    if not found:
        raise RuntimeError("deploy/local/provision.sh pins no UV_VERSION")
    return found[1]


def debian_codename() -> str:
    """This machine's Debian release (VERSION_CODENAME in /etc/os-release), e.g. bookworm."""
    found = re.search(r"^VERSION_CODENAME=(\w+)", Path("/etc/os-release").read_text(), re.M)
    return found[1] if found else "unknown"


def bundle_env(commit: str, created: str, root: Path = ROOT) -> dict[str, str]:
    """bundle.env's values for a bundle made here now."""
    return {
        "FORMAT": FORMAT,
        "MACHINE": platform.machine(),
        "PYTHON": f"{sys.version_info.major}.{sys.version_info.minor}",
        "DEBIAN": debian_codename(),
        "UV_VERSION": uv_version(root),
        **stamps(root),
        "COMMIT": commit,
        "CREATED": created,
    }


def render_env(values: Mapping[str, str]) -> str:
    """KEY=value lines (provision.sh reads them with sed, never sources them)."""
    return "".join(f"{key}={value}\n" for key, value in values.items())


def sha256_of(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as f:
        while chunk := f.read(1 << 20):
            digest.update(chunk)
    return digest.hexdigest()


def render_manifest(members: Iterable[tuple[str, Path]]) -> str:
    """`sha256sum` lines for (name in the bundle, file here), sorted by name: `sha256sum -c` reads it."""
    return "".join(f"{sha256_of(path)}  {name}\n" for name, path in sorted(members))
