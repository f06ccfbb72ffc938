"""Property-based tests of each HTTP service against its own live OpenAPI document (schemathesis):
no 5xx, and every response conforms to the documented schema.

Generated records are real posts, so they are kept apart from everyone else's data: before a case is
sent, every record's time becomes a moment of 1999 (tests write 2024, the demo 2022) and every branch
id gets the prefix `sf-` (and a registered branch the court `sf-court`). Runs are derandomized and the
times fixed, so a rerun sends the same records and they come back as duplicates.
"""

import re
from typing import Any

import pytest
import schemathesis
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from schemathesis import APIOperation, Case, GenerationMode
from schemathesis.checks import not_a_server_error
from schemathesis.specs.openapi.checks import response_schema_conformance

from shared.contracts import ID_PATTERN
from tests.conftest import URLS, dev_env
from tests.security.live import SERVICES, bearer

SEPARATE_TIME = "1999-06-15T10:00:00+08:00"
TIME_FIELDS = ("started_at", "occurred_at", "completed_at")
# The ranking stream never ends: a generated request would hang until its timeout. Its parameters
# are the ranking's own (one RankingQuery), which GET /v1/rankings covers.
ENDLESS = "/v1/rankings/stream"
CHECKS = [not_a_server_error, response_schema_conformance]
EXAMPLES = 25  # per operation, valid and invalid requests together
# These two read a whole year of score documents, which FerretDB answers with a scan of the
# collection (seconds each on a loaded 2-core machine): fewer examples keep the module within minutes.
FEWER_EXAMPLES = {"/v1/compliance": 5, "/v1/advanced-branches": 5, "/v1/board/summary": 5}
# Exports hold every row of a city (a year's compliance of 10,000 branches as XLSX takes minutes):
# fuzzed for a court nobody registers; their figures are tested in tests/integration/test_exports.py.
EXPORTS_BY_COURT = {"/v1/exports/rankings", "/v1/exports/stats", "/v1/exports/compliance"}
FEWER_EXAMPLES |= {"/v1/exports/advanced-branches": 5}
# The annual PDF reads a year's ranking, compliance, candidates and stats, and lays out a document
# (seconds for the city); its figures are tested in tests/integration/test_annual_report.py.
FEWER_EXAMPLES |= {"/v1/reports/annual": 5}
TOKEN_OF = {"scoring": "DEV_ADMIN_TOKEN"}  # the admin token holds every scope the API asks for


def separate_branch(value: Any) -> Any:
    valid = isinstance(value, str) and re.fullmatch(ID_PATTERN, value)
    return f"sf-{value}"[:128] if valid and not value.startswith("sf-") else value


def separate_record(item: Any) -> Any:
    """A generated record moved to 1999 and to a branch of its own, however else it is made."""
    if not isinstance(item, dict):
        return item
    moved = {k: SEPARATE_TIME if k in TIME_FIELDS else v for k, v in item.items()}
    if "branch_id" in moved:
        moved["branch_id"] = separate_branch(moved["branch_id"])
    if "court" in moved:
        moved["court"] = "sf-court"
    return moved


def separate(case: Any) -> None:
    if case.path in EXPORTS_BY_COURT:
        court = (case.query or {}).get("court")
        if court is None or (isinstance(court, str) and re.fullmatch(ID_PATTERN, court)):
            case.query = {**(case.query or {}), "court": "sf-no-such-court"}
    if isinstance(case.body, dict) and isinstance(case.body.get("items"), list):
        case.body = {**case.body, "items": [separate_record(i) for i in case.body["items"]]}
    else:
        case.body = separate_record(case.body)
    if case.path_parameters and "branch_id" in case.path_parameters:
        case.path_parameters = {
            **case.path_parameters,
            "branch_id": separate_branch(case.path_parameters["branch_id"]),
        }


def cases(operation: APIOperation) -> st.SearchStrategy:
    """Valid requests and invalid ones (wrong types, missing fields, values out of range)."""
    modes = (GenerationMode.POSITIVE, GenerationMode.NEGATIVE)
    return st.one_of(*(operation.as_strategy(generation_mode=mode) for mode in modes))


@pytest.mark.parametrize("service", SERVICES)
def test_service_keeps_its_contract(service):
    schema = schemathesis.openapi.from_url(f"{URLS[service]}/openapi.json", timeout=30)
    headers = bearer(dev_env()[TOKEN_OF.get(service, "DEV_WRITER_TOKEN")])
    for result in schema.exclude(path=ENDLESS).get_all_operations():
        operation = result.ok()

        @settings(
            max_examples=FEWER_EXAMPLES.get(operation.path, EXAMPLES),
            derandomize=True,
            database=None,
            deadline=None,
            suppress_health_check=list(HealthCheck),
        )
        @given(case=cases(operation))
        def keeps_contract(case: Case) -> None:
            separate(case)
            case.call_and_validate(headers=headers, checks=CHECKS, timeout=60)

        keeps_contract()
