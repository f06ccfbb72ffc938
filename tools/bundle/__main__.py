"""`make bundle`: one archive with all a machine with no registry needs for `make up BUNDLE=...`.

    python -m tools.bundle create [--out var/bundle]

The archive (var/bundle/court-bundle-linux-<machine>-py<X.Y>-<date>-<commit>.tar) holds, under
court-bundle/: wheels/ (the locked Python packages for this platform, development ones included,
and uv), kafka/libs/ (the broker's jars), bin/ferretdb-local (FerretDB as provisioning built it),
debs/ (the Debian packages provisioning installs with every dependency a bare Debian lacks, and their
Packages index), requirements.txt, bundle.env and MANIFEST.sha256. Kafka's jars and FerretDB are taken
from what `make provision` left under var/; wheels and .debs are downloaded once into var/bundle/cache.
"""

# ruff: noqa: S603, S607 - fixed commands of our own (git, tar, pip, uv, apt-get, dpkg-scanpackages)

import argparse
import os
import shutil
import subprocess
import sys
from datetime import UTC, datetime
from pathlib import Path

from tools.bundle.debian import debian_packages
from tools.bundle.manifest import ENV, MANIFEST, ROOT, bundle_env, render_env, render_manifest, stamps
from tools.bundle.wheels import python_wheels

VAR = ROOT / "var"
TOP = "court-bundle"


def say(text: str) -> None:
    print(f"==> {text}", file=sys.stderr, flush=True)


def provisioned(kind: str, stamp: str, product: Path) -> Path:
    """A product of provisioning, refused unless made from this checkout's inputs (its stamp)."""
    if not (VAR / "stamps" / f"{kind}-{stamp}").exists() or not product.exists():
        sys.exit(f"bundle: {product.relative_to(ROOT)} is missing or out of date: run make provision first")
    return product


def place(source: Path, target: Path) -> None:
    """Put a file into the staging tree: a hard link (no copy) where the filesystem allows."""
    target.parent.mkdir(parents=True, exist_ok=True)
    try:
        os.link(source, target)
    except OSError:
        shutil.copy2(source, target)


def create(out: Path) -> Path:
    """Gather everything into var/bundle/build, write its manifest, and tar it into `out`."""
    commit = subprocess.run(
        ["git", "rev-parse", "HEAD"], cwd=ROOT, capture_output=True, text=True, check=True
    ).stdout.strip()
    now = datetime.now(UTC)
    env = bundle_env(commit, now.strftime("%Y-%m-%dT%H:%M:%SZ"))
    cache = VAR / "bundle" / "cache"
    build = VAR / "bundle" / "build"
    shutil.rmtree(build, ignore_errors=True)
    tree = build / TOP
    tree.mkdir(parents=True)

    key = stamps()
    libs = provisioned("kafka", key["KAFKA_STAMP"], VAR / "kafka" / "libs")
    ferretdb = provisioned("ferretdb", key["FERRETDB_STAMP"], VAR / "bin" / "ferretdb-local")
    say("Python wheels for this platform (the locked set with development packages, and uv)")
    for wheel in python_wheels(cache / "wheels", tree / "requirements.txt", env["UV_VERSION"]):
        place(wheel, tree / "wheels" / wheel.name)
    say("Kafka's jars and FerretDB from what provisioning left under var/")
    for jar in sorted(libs.glob("*.jar")):
        place(jar, tree / "kafka" / "libs" / jar.name)
    place(ferretdb, tree / "bin" / "ferretdb-local")
    say("Debian packages (prometheus, chromium, fonts-wqy-microhei and what a bare Debian lacks for them)")
    debian_packages(cache / "debs", tree / "debs", build, place)

    (tree / ENV).write_text(render_env(env))
    files = [(str(p.relative_to(tree)), p) for p in tree.rglob("*") if p.is_file()]
    (tree / MANIFEST).write_text(render_manifest(files))
    name = f"court-bundle-linux-{env['MACHINE']}-py{env['PYTHON']}-{now:%Y%m%d}-{commit[:8]}.tar"
    out.mkdir(parents=True, exist_ok=True)
    partial = out / f".{name}.partial"
    # Uncompressed: wheels, jars and .debs are compressed already; gzip would only cost minutes.
    subprocess.run(["tar", "-cf", str(partial), "--sort=name", "-C", str(build), TOP], check=True)
    partial.rename(out / name)
    shutil.rmtree(build)
    return out / name


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m tools.bundle", description=__doc__.splitlines()[0])
    commands = parser.add_subparsers(dest="command", required=True)
    creator = commands.add_parser("create", help="write the bundle")
    creator.add_argument("--out", type=Path, default=VAR / "bundle", help="the folder it goes into")
    args = parser.parse_args(argv)
    bundle = create(args.out.resolve())
    size = bundle.stat().st_size / 1e6
    print(f"{bundle.relative_to(ROOT) if bundle.is_relative_to(ROOT) else bundle} ({size:,.0f} MB)")
    print(f"On the isolated machine, in a clone of this commit: make up BUNDLE=/path/to/{bundle.name}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
