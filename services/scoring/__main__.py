"""Run the scoring service:
`python -m services.scoring api`                  the leaders' API;
`python -m services.scoring worker -l info`       the faust worker (any faust command works);
`python -m services.scoring rescore [--rulebook]` rebuild all scores from the Kafka log;
`python -m services.scoring route`                route what the input topics hold now, then exit."""

import argparse
import asyncio
import os
import sys
from pathlib import Path


def api() -> None:
    import uvicorn

    from services.scoring.api.app import ApiSettings, create_app

    settings = ApiSettings()
    uvicorn.run(create_app(settings), host=settings.host, port=settings.port, access_log=False)


def worker() -> None:
    from services.scoring.worker import GenerationWatch, WorkerSettings, create_worker, prepare

    settings = WorkerSettings()
    generation = prepare(settings)
    watch = GenerationWatch(generation)
    try:
        create_worker(settings, generation, watch).main()
    finally:
        if watch.changed:  # a rescore made a new generation live: serve it, same pid, same command
            os.execv(sys.executable, [sys.executable, "-m", "services.scoring", *sys.argv[1:]])  # noqa: S606


def rescore(argv: list[str]) -> None:
    from tqdm import tqdm

    from services.scoring.rescore import rescore as run
    from services.scoring.rulebooks import DEFAULT_RULEBOOK, load_rulebook
    from services.scoring.worker import WorkerSettings
    from shared import mongo

    parser = argparse.ArgumentParser(prog="python -m services.scoring rescore", description=run.__doc__)
    parser.add_argument("--rulebook", type=Path, default=None, help=f"default: {DEFAULT_RULEBOOK.name}")
    args = parser.parse_args(argv)
    settings = WorkerSettings()
    rulebook = load_rulebook(args.rulebook or settings.rulebook)

    async def main() -> None:
        client = mongo.connect(settings.mongo, "scoring-rescore")
        bar = tqdm(unit=" records", desc=f"rescoring under rulebook {rulebook.version}")
        try:
            report = await run(
                settings.kafka,
                mongo.database(client, settings.mongo),
                settings.mongo.url,
                rulebook,
                settings.app_id,
                bar.update,
                on_total=lambda n: bar.reset(total=n),
                window=settings.time_window.window(),
            )
        finally:
            bar.close()
            await client.close()
        print(
            f"generation {report.generation} is live: {report.records} records, {report.ledgers} ledgers "
            f"({report.processes} processes); skipped {report.skipped_dead_lettered} records the "
            f"dead-letter topic lists and {report.skipped_invalid} refused afresh"
        )

    asyncio.run(main())


def route() -> None:
    from services.scoring.rescore import route_everything
    from services.scoring.worker import WorkerSettings

    settings = WorkerSettings()
    routed = asyncio.run(route_everything(settings.kafka, settings.app_id))
    print(f"routed {routed} records onto the repartition topics of {settings.app_id}")


def main() -> None:
    command = sys.argv[1:2]
    if command == ["api"]:
        api()
    elif command == ["rescore"]:
        rescore(sys.argv[2:])
    elif command == ["route"]:
        route()
    else:
        worker()


if __name__ == "__main__":
    main()
