"""The demo year 2022 of Cangzhou's courts: load it into a running system, or write it as JSON lines.

`python -m tools.demo load [--base-url URL] [--scale N] [--force]` loads it once (a marker in MongoDB
says it is there), waits for the scoring worker and finalises 2022 per court (idempotent);
`python -m tools.demo finalise` does the last step alone;
`python -m tools.demo generate --scale N --out FILE` writes the records for benchmarks.
"""

import argparse
import asyncio
import sys
import time

import httpx
from pymongo.errors import PyMongoError

from tools.demo import VERSION
from tools.demo.dataset import generate, jsonl
from tools.demo.finalise import NotSettled, finalise_demo
from tools.demo.load import load
from tools.demo.marker import Marker
from tools.demo.send import LoadFailed
from tools.demo.target import target


async def load_once(args: argparse.Namespace) -> str:
    """Load unless the marker says this version is there; the line to print."""
    began = time.monotonic()
    where = target(args.base_url, args.mongo_url)
    key = f"x{args.scale}"
    async with Marker(where.mongo_url, where.database) as marker:
        done = None if args.force else await marker.loaded(key)
        if done and done.get("version") == VERSION:
            return (
                f"demo data {VERSION} (scale {args.scale}) was loaded {done['loaded_at']:%Y-%m-%d %H:%M} UTC"
                f": nothing to do ({time.monotonic() - began:.2f}s; --force loads it again)"
            )
        if done:
            print(
                f"the marker says version {done.get('version')} is loaded; loading {VERSION}", file=sys.stderr
            )
        if args.scale != 1:
            print(
                f"scale {args.scale}: its own courts (x{args.scale}-…) join 2022's figures", file=sys.stderr
            )
        dataset = generate(args.scale)
        summary = await load(dataset, where, args.parallel)
        await marker.record(key, VERSION, summary)
    return (
        f"demo data {VERSION} loaded: {len(dataset.city.branches)} branches and {dataset.size():,} records "
        f"({summary['accepted']:,} new, {summary['duplicate']:,} already there) in {summary['seconds']:.1f}s"
        "; the scoring worker catches up on its own (watch scoring_consumer_lag)"
    )


async def finalise(args: argparse.Namespace) -> tuple[str, bool]:
    """Once the worker has caught up, 2022 finalised for every demo court (a court whose latest
    version already says the same is left as it is)."""
    where = target(args.base_url, args.mongo_url)
    return await finalise_demo(where, args.quiet, args.settle_deadline)


def write_jsonl(args: argparse.Namespace) -> str:
    dataset = generate(args.scale)
    if args.out == "-":
        sys.stdout.writelines(line + "\n" for line in jsonl(dataset))
    else:
        with open(args.out, "w", encoding="utf-8") as out:
            out.writelines(line + "\n" for line in jsonl(dataset))
    counts = ", ".join(f"{s} {len(r):,}" for s, r in dataset.records.items())
    return f"wrote {dataset.size():,} records ({counts}) of demo {VERSION} x{args.scale} to {args.out}"


def parse(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="python -m tools.demo", description=__doc__.splitlines()[0])
    commands = parser.add_subparsers(dest="command", required=True)
    loader = commands.add_parser("load", help="load the demo year into a running system (idempotent)")
    loader.add_argument(
        "--base-url",
        default="http://127.0.0.1",
        help="host of the services (ports 8000-8003, moved up for a STACK_INSTANCE copy)",
    )
    loader.add_argument(
        "--mongo-url", default=None, help="default: MONGO_URL, else the local server (27017, or the copy's)"
    )
    loader.add_argument("--parallel", type=int, default=4, help="batches in flight at once")
    loader.add_argument("--force", action="store_true", help="load even if the marker says it is loaded")
    closer = commands.add_parser("finalise", help="wait for the worker, then finalise 2022 per demo court")
    for command in (loader, closer):
        if command is closer:
            command.add_argument("--base-url", default="http://127.0.0.1")
            command.add_argument("--mongo-url", default=None)
        command.add_argument(
            "--quiet", type=float, default=15, help="seconds the 2022 figures stay unchanged"
        )
        command.add_argument(
            "--settle-deadline", type=float, default=2400, help="give up after this many seconds"
        )
    writer = commands.add_parser("generate", help="write the records as JSON lines")
    writer.add_argument("--out", required=True, help="a file, or - for stdout")
    for command in (loader, writer):
        command.add_argument("--scale", type=int, default=1, help="N times the branches, members and records")
    return parser.parse_args(argv)


def main(argv: list[str] | None = None) -> int:
    args = parse(argv)
    if getattr(args, "scale", 1) < 1:
        sys.exit("--scale must be at least 1")
    ok = True
    try:
        if args.command == "load":
            print(asyncio.run(load_once(args)), flush=True)
        if args.command in ("load", "finalise"):
            line, ok = asyncio.run(finalise(args))
        else:
            line = write_jsonl(args)
    except (NotSettled, httpx.HTTPError) as err:
        print(f"demo finalisation FAILED: {err}", file=sys.stderr)
        return 1
    except LoadFailed as err:
        print(f"demo load FAILED: {err}", file=sys.stderr)
        return 1
    except PyMongoError as err:
        print(f"demo load FAILED: cannot read or write the marker in MongoDB: {err!r}", file=sys.stderr)
        return 1
    print(line, file=sys.stderr if args.command == "generate" and args.out == "-" else sys.stdout)
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
