"""Collects each fault scenario's summary and prints them after the run (also under -q), and
writes them to var/test-artifacts/fault-summary.json. Every scenario runs with scores written
behind slowly (WRITE_BEHIND_S): a crash or a rebalance then always finds records folded and
published but not yet stored, which Kafka must deliver again."""

import os
from collections.abc import Iterator

import pytest

from tests.fault.outage import stack
from tests.fault.summary import ARTIFACT, Summary, write

SUMMARIES: list[Summary] = []
WRITE_BEHIND = "SCORING_WORKER_WRITE_BEHIND_S"
WRITE_BEHIND_S = "3"


def _restart_stack_worker() -> None:
    stack("down", "scoring-worker")
    stack("up", "scoring-worker")


@pytest.fixture(scope="package", autouse=True)
def slow_write_behind() -> Iterator[None]:
    """The stack's worker (and every worker the scenarios start) writes behind every 3 s."""
    os.environ[WRITE_BEHIND] = WRITE_BEHIND_S
    _restart_stack_worker()
    try:
        yield
    finally:
        os.environ.pop(WRITE_BEHIND, None)
        _restart_stack_worker()


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_makereport(item, call):  # type: ignore[no-untyped-def]
    # Keep each phase's report on the item, so the summary fixture knows how its test ended.
    report = (yield).get_result()
    setattr(item, f"report_{report.when}", report)


@pytest.fixture
def summary(request: pytest.FixtureRequest) -> Iterator[Summary]:
    s = Summary(request.node.name.removeprefix("test_"))
    yield s
    report = getattr(request.node, "report_call", None)
    s.outcome = (
        "not run" if report is None else ("xfailed" if hasattr(report, "wasxfail") else report.outcome)
    )
    SUMMARIES.append(s)


def pytest_sessionfinish(session: pytest.Session) -> None:
    if SUMMARIES:
        write(sorted(SUMMARIES, key=lambda s: s.scenario))


def pytest_terminal_summary(terminalreporter) -> None:  # type: ignore[no-untyped-def]
    if not SUMMARIES:
        return
    terminalreporter.write_sep("=", "fault scenarios")
    for s in sorted(SUMMARIES, key=lambda s: s.scenario):
        terminalreporter.write_line(s.line())
    terminalreporter.write_line(f"(also in {ARTIFACT.relative_to(ARTIFACT.parents[2])})")
