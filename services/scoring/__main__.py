"""Run the scoring service: `python -m services.scoring api` (the leaders' API) or
`python -m services.scoring worker -l info` (the faust worker; any faust command works)."""

import sys


def main() -> None:
    if sys.argv[1:2] == ["api"]:
        import uvicorn

        from services.scoring.api.app import ApiSettings, create_app

        api = ApiSettings()
        uvicorn.run(create_app(api), host=api.host, port=api.port, access_log=False)
        return
    from services.scoring.worker import WorkerSettings, create_worker, ensure_topics_or_wait

    settings = WorkerSettings()
    ensure_topics_or_wait(settings.kafka)
    create_worker(settings).main()


if __name__ == "__main__":
    main()
