"""Members' scores: counted as the branch's are (the members' capped points add up to the branch's),
carried on the feed under their own keys, indexed by the API, and the same live as after a rescore."""

import asyncio
import itertools
import json
import math
from dataclasses import replace
from datetime import UTC, datetime

import msgspec
from hypothesis import given, settings
from hypothesis import strategies as st

from services.scoring.api.member_index import MemberIndex
from services.scoring.api.member_scores import member_year_points
from services.scoring.api.score_view import ScoreView
from services.scoring.core.facts import Fact
from services.scoring.core.ledger import Tracked, fold_at
from services.scoring.core.member_points import member_totals, members_points
from services.scoring.core.rulebook import DIMENSIONS
from services.scoring.core.scores import member_scores, score
from services.scoring.core.summary import MemberSummary, decode_member, is_member_summary_id
from services.scoring.delivery import Delivery
from services.scoring.member_feed import member_summaries
from services.scoring.rulebooks import load_rulebook
from services.scoring.score_feed import decode_member as feed_decode_member
from services.scoring.score_feed import encode, encode_member, feed_key, is_member_record
from services.scoring.scorer import decode
from services.scoring.store import LedgerKey, ScoredLedger, StoredLedger
from tests.unit.test_scorer_isolation import NOW, STREAMS, MemoryStore, Recorder, record, scorer

RULES = load_rulebook()
TIGHT = replace(RULES, monthly_cap=dict.fromkeys(DIMENSIONS, 3.0))  # caps hit by a few records
KINDS = sorted(RULES.kinds)
T = datetime(2024, 5, 1, tzinfo=UTC)

facts_strategy = st.lists(
    st.builds(
        Fact,
        event_id=st.uuids().map(str),
        kind=st.sampled_from(KINDS),
        member_id=st.sampled_from(["m1", "m2", "m3"]),
        month=st.sampled_from(["2024-01", "2024-02", "2024-07"]),
        hours=st.floats(min_value=0.5, max_value=24),
        session_id=st.sampled_from(["s1", "s2"]),
    ),
    max_size=40,
    unique_by=lambda f: f.event_id,
)


def test_a_members_points_are_capped_per_month_and_sessions_counted_once():
    facts = [
        Fact("a", "tianping_volunteer_team", "m1", "2024-05", hours=30),  # 15 points, capped at 3
        Fact("b", "visit", "m2", "2024-05"),
        Fact("c", "lecture_hall", "m2", "2024-05", session_id="s1"),
        Fact("d", "lecture_hall", "m2", "2024-05", session_id="s1"),  # the same session again
    ]
    mine = member_scores(facts, TIGHT)
    assert mine["m1"]["2024-05"].points["people"] == 3.0
    assert mine["m1"]["2024"].kinds["tianping_volunteer_team"].points == 15.0  # before caps
    assert mine["m2"]["2024-Q2"].kinds["lecture_hall"].count == 1
    assert mine["m2"]["2024-Q2"].points["service"] == RULES.kinds["visit"].points
    assert set(member_scores(facts, TIGHT, {"m2"})) == {"m2"}  # only those asked for


@settings(max_examples=150, deadline=None)
@given(facts=facts_strategy, capped=st.booleans())
def test_the_members_capped_points_add_up_to_the_branchs(facts, capped):
    rules = TIGHT if capped else RULES
    branch, mine = score(facts, rules), member_scores(facts, rules)
    for period, s in branch.items():
        for d in DIMENSIONS:
            total = sum(m[period].points[d] for m in mine.values() if period in m)
            assert math.isclose(total, s.points[d], rel_tol=1e-9, abs_tol=1e-9), (period, d)
        for kind, t in s.kinds.items():
            parts = [m[period].kinds[kind] for m in mine.values() if period in m and kind in m[period].kinds]
            assert sum(p.count for p in parts) == t.count
            assert math.isclose(sum(p.points for p in parts), t.points, rel_tol=1e-9, abs_tol=1e-9)
    assert set(mine) == {m for s in branch.values() for m in s.members}
    some = {f.member_id for f in facts[:1]}
    assert member_scores(facts, rules, some) == {m: mine[m] for m in some}  # asked for, same scores


def member_summary(member: str, branch: str, stream: str, offset: int, points: float) -> MemberSummary:
    facts = [Fact(f"{member}-{i}", "visit", member, "2024-05") for i in range(int(points))]
    key = LedgerKey(branch, stream, "2024")
    stored = StoredLedger(Tracked().ledger, offset, T)
    return member_summaries(key, stored, member_scores(facts, RULES), [member], "test")[0]


def test_member_records_have_their_own_keys_and_are_told_from_ledgers_even_of_a_branch_called_m():
    s = member_summary("m-1", "b1", "liaison", 4, 2)
    raw = encode_member(7, s)
    assert feed_key(7, s.id) == "g7|m|m-1|b1|liaison|2024" and is_member_summary_id(s.id)
    assert is_member_record(raw) and feed_decode_member(raw) == msgspec.structs.replace(s, generation=7)
    assert decode_member(raw).scores["2024-05"].points["service"] == 2.0
    ledger = ScoredLedger(LedgerKey("m", "liaison", "2024"), StoredLedger(Tracked().ledger, 1), {}, "test")
    assert not is_member_record(encode(1, ledger.summary)) and not is_member_summary_id("m|liaison|2024")


def test_the_index_keeps_the_newest_record_and_drops_a_member_left_without_scores():
    index = MemberIndex()
    index.apply(encode_member(1, member_summary("m1", "b1", "liaison", 5, 3)))
    index.apply(encode_member(1, member_summary("m1", "b1", "liaison", 4, 9)))  # older: ignored
    index.apply(encode_member(1, member_summary("m1", "b1", "training", 2, 1)))
    index.apply(encode_member(1, member_summary("m2", "b1", "liaison", 5, 2)))
    assert {s.stream for s in index.of_member("m1", "2024")} == {"liaison", "training"}
    assert members_points(index.of_branch("b1", "2024"), "2024", RULES.weights)["m1"]["service"] == 4.0
    emptied = member_summary("m2", "b1", "liaison", 6, 0)  # nothing left: empty scores
    assert emptied.scores == {}
    index.apply(encode_member(1, emptied))
    assert not index.known("m2") and {s.member_id for s in index.of_year("2024")} == {"m1"}
    index.apply(encode_member(1, member_summary("m2", "b1", "liaison", 5, 2)))  # a replay: stays gone
    assert not index.known("m2")


def test_a_members_totals_add_up_over_branches_and_streams_and_weigh_the_total():
    summaries = [member_summary("m1", "b1", "liaison", 1, 2), member_summary("m1", "b2", "liaison", 1, 3)]
    totals = member_totals(summaries, "2024-Q2")
    assert totals.points["service"] == 5.0 and totals.branches["b2"]["service"] == 3.0
    assert totals.kinds[("liaison", "visit")].count == 5
    view = ScoreView(1, RULES)
    for s in summaries:
        view.apply(encode_member(1, s))
    year = member_year_points(view, "2024")
    assert year["m1"]["service"] == 5.0 and year["m1"]["total"] == round(5.0 * RULES.weights["service"], 4)
    assert member_year_points(view, "2024", branches=["b1"])["m1"]["service"] == 2.0
    assert member_year_points(view, "2023") == {}


# Live scoring (the worker, batch by batch) against a rescore (fold_at over the same records).

LIAISON_KINDS = ["visit", "judicial_suggestion", "pre_litigation_resolution", "symposium"]


def void(branch: str, event_id: str, voided: str, offset: int, at: str) -> Delivery:
    body = {
        "specversion": "1.0",
        "id": event_id,
        "source": "unit",
        "type": "cn.court.partybuilding.liaison.voided.v1",
        "time": "2024-06-03T10:00:00+08:00",
        "subject": branch,
        "data": {"event_id": voided, "branch_id": branch, "record_occurred_at": at, "reason": "test"},
    }
    return Delivery(record(branch, "x", 0).topic, 0, offset, branch.encode(), json.dumps(body).encode())


@st.composite
def histories(draw) -> list[Delivery]:
    """Records of two branches' members (resent copies and voids among them), at offsets in order."""
    out: list[Delivery] = []
    ids: list[tuple[str, str, str]] = []
    for offset in range(draw(st.integers(1, 30))):
        branch = draw(st.sampled_from(["b1", "b2"]))
        action = draw(st.sampled_from(["record", "record", "record", "resend", "void"]))
        if action != "record" and ids:
            event_id, at, branch = draw(st.sampled_from(ids))
            if action == "void":
                out.append(void(branch, f"v{offset}", event_id, offset, at))
                continue
            base = json.loads(next(d for d in out if json.loads(d.value)["id"] == event_id).value)
            out.append(Delivery(out[0].topic, 0, offset, branch.encode(), json.dumps(base).encode()))
            continue
        at = f"2024-0{draw(st.sampled_from([4, 5, 6]))}-03T09:00:00+08:00"
        member, kind = draw(st.sampled_from(["m1", "m2", "m3"])), draw(st.sampled_from(LIAISON_KINDS))
        out.append(record(branch, f"e{offset}", offset, at=at, member_id=member, kind=kind))
        ids.append((f"e{offset}", at, branch))
    return out


def live(history: list[Delivery], cuts: list[int]) -> dict[str, dict]:
    """Member record id -> its scores, as the worker's newest feed records say."""
    store, out = MemoryStore(), Recorder()
    s = scorer(store, out)

    async def run() -> None:
        bounds = sorted({0, len(history), *(c % (len(history) + 1) for c in cuts)})
        for start, end in itertools.pairwise(bounds):
            await s.handle_batch(history[start:end])
            await s.flush()

    asyncio.run(run())
    newest = dict(out.feed)
    return {k.split("|", 1)[1]: json.loads(v)["scores"] for k, v in newest.items() if is_member_record(v)}


def rescored(history: list[Delivery]) -> dict[str, dict]:
    """Member record id -> its scores, as a rescore folds and publishes them (rescore_share)."""
    ledgers: dict[LedgerKey, Tracked] = {}
    for d in history:
        decoded = decode(d, STREAMS, NOW)
        fold_at(
            ledgers.setdefault(decoded.key, Tracked()), d.offset, decoded.item, decoded.event.envelope.time
        )
    found = {}
    for key, state in ledgers.items():
        mine = member_scores(state.ledger.facts.values(), RULES)
        stored = StoredLedger(state.ledger, state.offset, state.last_time)
        for s in member_summaries(key, stored, mine, mine, RULES.version):
            found[s.id] = json.loads(encode_member(0, s))["scores"]
    return found


@settings(max_examples=40, deadline=None)
@given(history=histories(), cuts=st.lists(st.integers(0, 40), max_size=4))
def test_live_member_scores_equal_a_rescore_of_the_same_records(history, cuts):
    now, again = live(history, cuts), rescored(history)
    assert {k: v for k, v in now.items() if v} == again  # a member voided away is an empty record
    assert all(k in again for k, v in now.items() if v)


async def test_a_void_publishes_its_members_record_emptied():
    store, out = MemoryStore(), Recorder()
    s = scorer(store, out)
    await s.handle_batch([record("b1", "e1", 0, member_id="m-gone"), record("b1", "e2", 1)])
    await s.handle_batch([void("b1", "v1", "e1", 2, "2024-06-03T09:00:00+08:00")])
    newest = dict(out.feed)
    assert json.loads(newest["g1|m|m-gone|b1|liaison|2024"])["scores"] == {}
    assert json.loads(newest["g1|m|m-1|b1|liaison|2024"])["scores"]["2024"]["points"]["service"] == 1.0
    assert [k for k, _ in out.feed[-2:]] == ["g1|m|m-gone|b1|liaison|2024", "g1|b1|liaison|2024"]
