"""The bundle's Debian packages: what provisioning installs, with every dependency a bare Debian lacks.

apt-get resolves them as for a machine with nothing installed (an empty dpkg status), so the bundle
serves any machine of this Debian release and architecture; apt on the isolated machine then takes
only what it lacks. The .debs are kept in var/bundle/cache/debs and downloaded once.
"""

# ruff: noqa: S603, S607 - fixed commands of our own (git, tar, pip, uv, apt-get, dpkg-scanpackages)

import os
import re
import subprocess
from collections.abc import Callable
from pathlib import Path
from urllib.parse import unquote

from tools.bundle.manifest import ROOT, sha256_of

# The packages provision.sh installs with apt-get (steps 4 and 5); fonts-wqy-microhei is also the CJK
# font the scoring API's annual PDF embeds, so an isolated court network gets it from the bundle.
PACKAGES = ("prometheus", "chromium", "fonts-wqy-microhei")
URI_LINE = re.compile(r"^'[^']+' (?P<file>\S+\.deb) \d+", re.M)


def apt_options(scratch: Path) -> list[str]:
    """Resolve as on a bare machine; the APT_MIRROR source list provisioning wrote, if set."""
    status = scratch / "empty-status"
    status.write_text("")
    (scratch / "archives" / "partial").mkdir(parents=True, exist_ok=True)
    options = [
        "-o", f"Dir::State::status={status}",
        "-o", f"Dir::Cache::archives={scratch / 'archives'}",  # empty: every package gets a URI
        "-o", "Debug::NoLocking=1",
    ]  # fmt: skip
    mirror = ROOT / "var" / "provision" / "apt"
    if os.environ.get("APT_MIRROR") and (mirror / "sources.list").exists():
        options += [
            "-o", f"Dir::Etc::SourceList={mirror / 'sources.list'}",
            "-o", f"Dir::Etc::SourceParts={mirror / 'sources.list.d'}",
            "-o", f"Dir::State::Lists={mirror / 'lists'}",
        ]  # fmt: skip
    return options


def wanted(options: list[str]) -> dict[str, str]:
    """File name -> sha256 of every .deb a bare machine needs for PACKAGES."""
    out = subprocess.run(
        ["apt-get", *options, "install", "--print-uris", "-qq", "-y", "--no-install-recommends", *PACKAGES],
        capture_output=True,
        text=True,
        check=True,
    ).stdout
    # name_version_arch.deb, the version's epoch colon written %3a
    files = {f"{f.split('_')[0]}={unquote(f.split('_')[1])}": f for f in URI_LINE.findall(out)}
    if not files:
        raise RuntimeError(f"apt-get named no package to download for {PACKAGES}:\n{out}")
    # --print-uris gives the index's weakest hash, or none: the SHA256 fields of the records instead.
    records = subprocess.run(
        ["apt-cache", *options, "show", *files], capture_output=True, text=True, check=True
    ).stdout
    sha256 = {}
    for record in records.split("\n\n"):
        fields = dict(re.findall(r"^(Package|Version|SHA256): (.+)$", record, re.M))
        if fields.keys() == {"Package", "Version", "SHA256"}:
            sha256[f"{fields['Package']}={fields['Version']}"] = fields["SHA256"]
    if missing := set(files) - set(sha256):
        raise RuntimeError(f"no SHA256 in apt's index for {sorted(missing)}")
    return {file: sha256[name] for name, file in files.items()}


def debian_packages(cache: Path, target: Path, scratch: Path, place: Callable[[Path, Path], None]) -> None:
    """Download the missing .debs into the cache, place them in `target` and index them (Packages)."""
    cache.mkdir(parents=True, exist_ok=True)
    options = apt_options(scratch)
    debs = wanted(options)
    missing = [f for f, sha in debs.items() if not (cache / f).exists() or sha256_of(cache / f) != sha]
    if missing:
        names = [f"{f.split('_')[0]}={unquote(f.split('_')[1])}" for f in missing]
        # As root, apt hands downloads to its _apt user, who may not write here: download as root.
        sandbox = ["-o", "APT::Sandbox::User=root"] if os.geteuid() == 0 else []
        subprocess.run(["apt-get", *options, *sandbox, "download", "-q", *names], cwd=cache, check=True)
    for file, sha in debs.items():
        if sha256_of(cache / file) != sha:
            raise RuntimeError(f"{file}: sha256 differs from the one apt's index gives")
        place(cache / file, target / file)
    index = subprocess.run(
        ["dpkg-scanpackages", "--multiversion", "."], cwd=target, capture_output=True, text=True, check=True
    ).stdout
    (target / "Packages").write_text(index)
