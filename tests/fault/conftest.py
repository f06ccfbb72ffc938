"""Collects each fault scenario's summary and prints them after the run (also under -q), and
writes them to var/test-artifacts/fault-summary.json."""

from collections.abc import Iterator

import pytest

from tests.fault.summary import ARTIFACT, Summary, write

SUMMARIES: list[Summary] = []


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
