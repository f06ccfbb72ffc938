"""The bundle's Python wheels: the set uv.lock pins for this platform (development group included), and uv."""

# ruff: noqa: S603 - fixed commands of our own (git, tar, pip, uv, apt-get, dpkg-scanpackages)

import os
import re
import subprocess
from pathlib import Path

from tools.bundle.manifest import ROOT, sha256_of

UV = ROOT / "var" / "tools" / "uv" / "bin"


def index_options() -> list[str]:
    """UV_DEFAULT_INDEX, the internal-mirror setting provisioning honours, for pip as well."""
    index = os.environ.get("UV_DEFAULT_INDEX")
    return ["--index-url", index] if index else []


def pip_download(cache: Path, *requirements: str) -> None:
    """Wheels only (an isolated machine builds nothing) into the cache; pip skips what is there."""
    subprocess.run(
        [
            str(UV / "pip"),
            "download",
            "-q",
            "--disable-pip-version-check",
            "--no-deps",
            "--only-binary=:all:",
            *index_options(),
            "-d",
            str(cache),
            *requirements,
        ],
        check=True,
    )


def python_wheels(cache: Path, requirements: Path, uv_version: str) -> list[Path]:
    """Download what is missing, then the cached wheels whose hashes uv.lock lists, and uv's wheel."""
    cache.mkdir(parents=True, exist_ok=True)
    subprocess.run(
        [
            str(UV / "uv"),
            "export",
            "--frozen",
            "--quiet",
            "--no-emit-project",
            "--format",
            "requirements-txt",
            "-o",
            str(requirements),
        ],
        cwd=ROOT,
        check=True,
    )
    pip_download(cache, "--require-hashes", "-r", str(requirements))
    pip_download(cache, f"uv=={uv_version}")
    wanted = set(re.findall(r"--hash=sha256:([0-9a-f]{64})", requirements.read_text()))
    # Selected by hash, not name: the cache may hold other versions from older locks.
    chosen = [w for w in sorted(cache.glob("*.whl")) if sha256_of(w) in wanted]
    uv = sorted(cache.glob(f"uv-{uv_version}-*.whl"))
    if len(uv) != 1:
        raise RuntimeError(f"expected one wheel of uv {uv_version} in {cache}, found {[w.name for w in uv]}")
    return chosen + uv
