"""The scheduler's compliance: the very computation (and cache) GET /v1/compliance answers from.

The scoring API process follows the score feed and judges every registered branch's cadence
windows; the reminders read that table, so a reminder and /v1/compliance never disagree."""

from collections.abc import Hashable
from types import SimpleNamespace
from typing import Any

from fastapi import FastAPI

from services.scoring.api.assessment import ComplianceTable, _compliance_table
from services.scoring.api.read_model import MongoReadModel
from services.scoring.core.rulebook import ReminderRule, Rulebook
from services.scoring.reminders.rules import Audience, WindowState


def window_states(table: ComplianceTable, audience: Audience) -> list[WindowState]:
    """Each covered branch's record in each window of the table (needed as compliance.judge counts it)."""
    found = []
    for branch_id, judged in zip(table.ids, table.judged, strict=True):
        branch = table.registry.get(branch_id)
        name, court = (branch.name, branch.court) if branch else (branch_id, None)
        if not audience.covers(branch_id, court):
            continue
        for w, done in zip(table.windows, judged.dones, strict=True):
            needed = max(judged.members, 1) if w.per_member else 1
            found.append(WindowState(branch_id, name, court, w.kind, w.window, needed, done))
    return found


class ApiCompliance:
    """ComplianceSource over the API's read model; the rule from the live rulebook, else the file's."""

    def __init__(self, app: FastAPI, file_rulebook: Rulebook):
        self._app, self._file_rule = app, file_rulebook.reminders

    def _model(self) -> MongoReadModel:
        return self._app.state.read_model

    async def states(self, years: list[str], audience: Audience) -> tuple[list[WindowState], dict[str, str]]:
        request: Any = SimpleNamespace(app=self._app)  # _compliance_table reads app.state only
        found: list[WindowState] = []
        labels: dict[str, str] = {}
        if not (audience.courts or audience.branches):  # nobody to tell: not even a table to compute
            return found, labels
        for year in years:
            # Fresh: a table older than the registry would miss a branch registered a moment ago,
            # and the schedule does not run again for the same data.
            table = await _compliance_table(request, year, None, False, fresh=True)
            found += window_states(table, audience)
            labels |= table.labels
        return found, labels

    def version(self, years: list[str]) -> Hashable:
        model = self._model()
        view = model.view()
        return tuple(model.version(year, view) for year in years)

    def rule(self) -> ReminderRule:
        model = self._model()
        live = model.rulebook(model.view()).reminders
        return live or self._file_rule or ReminderRule()
