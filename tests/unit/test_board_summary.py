"""The board's summary (services/scoring/api/summary.py): courts in the city's order, years with
registered data, ranks, and per court figures, compliance, who is behind and the quotas."""

import math

import orjson

from services.scoring.api.computed import run
from services.scoring.api.read_model import Branch
from services.scoring.api.summary import (
    CANGZHOU,
    KindMemo,
    court_order,
    rank_among,
    summary_steps,
    years_with_data,
)
from services.scoring.core.advanced import Candidate, select
from services.scoring.rulebooks import DEFAULT_RULEBOOK, parse_rulebook_text, read_rulebook_text

RULEBOOK = parse_rulebook_text(read_rulebook_text(DEFAULT_RULEBOOK))


def branch(branch_id: str, court: str, court_name: str | None = None, members: int = 1) -> Branch:
    return Branch(branch_id, f"支部 {branch_id}", court, court_name, members)


REGISTRY = {
    b.branch_id: b
    for b in (
        branch("t1", "court-test", "测试法院"),
        branch("x1", "cz-xinhua", "新华区人民法院"),
        branch("z1", "cz-zy", "沧州市中级人民法院"),
        branch("z2", "cz-zy", "沧州市中级人民法院", members=2),
        branch("o1", "other-zy", "某市中级人民法院"),
    )
}


class _Ledger:
    """As the score view keeps one: its periods and its feed record."""

    def __init__(self, record: dict):
        self.periods = record["scores"]
        self.raw = orjson.dumps(record)


def ledger(branch_id: str, stream: str, period: str, kinds: dict[str, tuple[int, float]]) -> _Ledger:
    scores = {k: {"count": c, "hours": h, "points": 1.0} for k, (c, h) in kinds.items()}
    record = {
        "_id": f"{branch_id}|{stream}|{period[:4]}",
        "branch_id": branch_id,
        "stream": stream,
        "year": period[:4],
        "scores": {period: {"points": {}, "kinds": scores, "caps_hit": [], "members": ["m"]}},
    }
    return _Ledger(record)


def test_courts_come_in_the_citys_order_then_the_rest_intermediate_first():
    ordered = court_order(REGISTRY, list(CANGZHOU))
    assert [c["court"] for c in ordered] == ["cz-zy", "cz-xinhua", "other-zy", "court-test"]
    assert [c["listed"] for c in ordered] == [True, True, False, False]
    assert ordered[0]["branches"] == 2


def test_years_with_data_count_registered_branches_only():
    seen = {
        "z1": {("liaison", "2022"): None},
        "ghost": {("liaison", "2019"): None},  # scores, but nobody registered it
        "x1": {("training", "2024"): None},
    }
    assert years_with_data(REGISTRY, seen) == ["2024", "2022"]


def test_rank_among_ties_share_a_rank():
    values = {"a": 3.0, "b": 2.0, "c": 2.0, "d": 1.0}
    assert [rank_among(values, values, values[b]) for b in "abcd"] == [1, 2, 2, 4]
    assert rank_among(values, ["c", "d"], values["d"]) == 2


def test_the_summary_of_a_period():
    totals = {"z1": 4.0, "z2": 2.0, "x1": 1.0}  # t1 and o1 scored nothing
    # z1 kept every required meeting of 2024-06 (one member); z2 has two members, one pledge.
    counts = {
        "z1": {"2024-01": {"integrity_pledge": 1}, "2024-04": {k: 1 for k in RULEBOOK.cadence}},
        "z2": {"2024-06": {"branch_committee": 3}, "2024-01": {"integrity_pledge": 1}},
    }
    counts["z1"]["2024-06"] = {"lecture_hall": 1, "branch_committee": 1, "party_group_meeting": 1}
    ledgers = [
        ledger("z1", "liaison", "2024-06", {"visit": (3, 0.0), "judicial_suggestion": (1, 0.0)}),
        ledger("z2", "volunteer", "2024-06", {"tianping_volunteer_team": (2, 5.5)}),
        ledger("x1", "training", "2024-06", {"branch_committee": (4, 0.0)}),
        ledger("ghost", "liaison", "2024-06", {"visit": (9, 0.0)}),  # unregistered: not counted
        ledger("z1", "liaison", "2024-05", {"visit": (7, 0.0)}),  # another period
    ]
    courts = court_order(REGISTRY, list(CANGZHOU))
    tallies = KindMemo().steps(ledgers, "2024-06")  # type: ignore[arg-type]
    s = run(summary_steps("2024-06", REGISTRY, courts, totals, counts, tallies, RULEBOOK, "2026-11", {}))

    zy = s["courts"][0]
    assert zy["court"] == "cz-zy" and zy["branches"] == 2 and zy["scored"] == 2
    assert zy["average"] == 3.0 and zy["best"] == {"branch_id": "z1", "name": "支部 z1", "total": 4.0}
    assert zy["figures"] == {
        "visits": 3,
        "judicial_suggestions": 1,
        "pre_litigation_resolutions": 0,
        "volunteer_hours": 5.5,
        "training_attendances": 0,
    }
    assert zy["colours"] == {"green": 1, "yellow": 0, "red": 1}
    xinhua = s["courts"][1]
    assert xinhua["average"] == 1.0 and xinhua["figures"]["training_attendances"] == 4
    city = s["city"]
    assert city["branches"] == 5 and city["average"] == round(7.0 / 5, 4)
    assert city["figures"]["visits"] == 3  # the ghost's 9 and May's 7 are not this court's June

    behind = {b["branch_id"]: b for b in s["behind"]}
    assert "z1" not in behind and behind["z2"]["colour"] == "red"
    missed = {m["kind"]: m for m in behind["z2"]["missing"]}
    assert "branch_committee" not in missed and missed["party_group_meeting"]["overdue"] == ["2024-06"]
    assert missed["integrity_pledge"]["overdue"] == ["2024"]  # two members, one pledge
    assert [b["colour"] for b in s["behind"]] == sorted(b["colour"] for b in s["behind"])  # red first

    # The quotas as the selection itself counts them: over registered branches.
    rule = RULEBOOK.advanced
    a = s["advanced"]
    assert (a["min_compliance"], a["court_share"], a["city_share"]) == (0.8, 0.2, 0.1)
    assert a["registered"] == 5 and a["city_quota"] == max(1, math.ceil(5 * rule.city_share))
    candidates = [Candidate(b, REGISTRY[b].court, 1.0 + i, 1.0) for i, b in enumerate(sorted(REGISTRY))]
    per_court, city_list = select(candidates, rule)
    assert len(city_list) == a["city_quota"]
    assert {c: len(r) for c, r in per_court.items()} == a["court_quotas"]
