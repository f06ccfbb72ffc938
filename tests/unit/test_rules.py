"""The scoring rules: the fold, the derived scores, caps, normalisation and ranking."""

import random
import tomllib
from datetime import UTC, datetime

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from services.scoring.core.facts import Fact, Void
from services.scoring.core.ledger import Ledger, apply
from services.scoring.core.periods import month_of, months_in, periods_of_month
from services.scoring.core.ranking import rank
from services.scoring.core.rulebook import parse_rulebook
from services.scoring.core.scores import per_member, score
from services.scoring.rulebooks import DEFAULT_RULEBOOK

RULES = parse_rulebook(tomllib.loads(DEFAULT_RULEBOOK.read_text()))


def fold(items):
    ledger = Ledger()
    for item in items:
        apply(ledger, item)
    return ledger


def test_month_follows_shanghai_time_not_utc():
    # 2022-06-30 17:00 UTC is already 1 July in Shanghai: the event counts in July and in Q3.
    assert month_of(datetime(2022, 6, 30, 17, 0, tzinfo=UTC)) == "2022-07"
    assert month_of(datetime(2022, 6, 30, 15, 59, tzinfo=UTC)) == "2022-06"
    assert periods_of_month("2022-07") == ("2022-07", "2022-Q3", "2022")
    assert months_in("2022-Q3") == ["2022-07", "2022-08", "2022-09"]
    assert len(months_in("2022")) == 12


def test_volunteer_hours_earn_points_per_hour_in_people_dimension():
    facts = [Fact("e1", "epidemic_volunteer", "m1", "2022-03", hours=4)]
    scores = score(facts, RULES)
    assert scores["2022-03"].points["people"] == pytest.approx(3.0)  # 4 h x 0.75
    assert scores["2022-Q1"].points["people"] == pytest.approx(3.0)
    assert scores["2022"].kinds["epidemic_volunteer"].hours == 4


def test_monthly_cap_limits_points_but_breakdown_keeps_them():
    facts = [Fact(f"e{i}", "tianping_volunteer_team", "m1", "2022-05", hours=10) for i in range(6)]
    s = score(facts, RULES)["2022-05"]
    assert s.kinds["tianping_volunteer_team"].points == pytest.approx(30.0)  # 60 h x 0.5
    assert s.points["people"] == pytest.approx(20.0)  # capped
    assert s.caps_hit == [
        {"month": "2022-05", "member_id": "m1", "dimension": "people", "points": 30.0, "cap": 20.0}
    ]


def test_cap_is_per_member_and_month():
    facts = [
        Fact("a", "tianping_volunteer_team", "m1", "2022-05", hours=24),
        Fact("b", "tianping_volunteer_team", "m1", "2022-05", hours=24),
        Fact("c", "tianping_volunteer_team", "m2", "2022-05", hours=24),
        Fact("d", "tianping_volunteer_team", "m1", "2022-06", hours=24),
    ]
    s = score(facts, RULES)
    assert s["2022-05"].points["people"] == pytest.approx(20 + 12)
    assert s["2022-Q2"].points["people"] == pytest.approx(20 + 12 + 12)


def test_a_session_counts_once_per_member():
    facts = [
        Fact("x1", "lecture_hall", "m1", "2022-08", session_id="lh-2022-08"),
        Fact("x2", "lecture_hall", "m1", "2022-08", session_id="lh-2022-08"),
        Fact("x3", "lecture_hall", "m2", "2022-08", session_id="lh-2022-08"),
    ]
    s = score(facts, RULES)["2022-08"]
    assert s.kinds["lecture_hall"].count == 2
    assert s.points["team"] == pytest.approx(4.0)


def test_meetings_count_attendances_and_the_sessions_held_beside_them():
    facts = [
        Fact("x1", "lecture_hall", "m1", "2022-07", session_id="lh-2022-07"),
        Fact("x2", "lecture_hall", "m2", "2022-07", session_id="lh-2022-07"),
        Fact("x3", "lecture_hall", "m1", "2022-08", session_id="lh-2022-08"),
        Fact("x4", "lecture_hall", "m1", "2022-08", session_id="lh-2022-08b"),
    ]
    scores = score(facts, RULES)
    july, quarter = scores["2022-07"].kinds["lecture_hall"], scores["2022-Q3"].kinds["lecture_hall"]
    assert (july.count, len(july.sessions)) == (2, 1)  # two attendances at one session
    assert (quarter.count, len(quarter.sessions)) == (4, 3)


def test_liaison_kinds_score_in_service_dimension():
    facts = [Fact("v", "visit", "m1", "2022-02"), Fact("r", "pre_litigation_resolution", "m1", "2022-02")]
    assert score(facts, RULES)["2022"].points["service"] == pytest.approx(5.0)


def test_duplicates_and_voids_in_any_order():
    f = Fact("e1", "visit", "m1", "2022-02")
    void = Void("e1", "2022-02")
    assert fold([f, f]).facts == {"e1": f}
    assert fold([f, void]).facts == {}
    assert fold([void, f]).facts == {}  # the void may arrive first; the record never counts


def test_per_member_normalises_and_weighs_total():
    scores = per_member({"service": 10, "trial": 20, "people": 0, "team": 5}, 5, RULES)
    assert scores["service"] == 2 and scores["trial"] == 4 and scores["team"] == 1
    assert scores["total"] == pytest.approx(0.25 * 2 + 0.30 * 4 + 0.20 * 1)
    assert per_member({"people": 3}, 0, RULES)["people"] == 3  # no members known: divide by one


def test_competition_ranking_shares_ranks_and_skips():
    ranked = rank({"c": 5.0, "a": 7.0, "b": 5.0, "d": 1.0})
    assert [(r.rank, r.branch_id) for r in ranked] == [(1, "a"), (2, "b"), (2, "c"), (4, "d")]


def test_rulebook_must_cover_every_kind():
    data = tomllib.loads(DEFAULT_RULEBOOK.read_text())
    del data["kinds"]["visit"]
    with pytest.raises(ValueError, match="kinds without a rule"):
        parse_rulebook(data)
    data = tomllib.loads(DEFAULT_RULEBOOK.read_text())
    data["weights"]["team"] = 0.5
    with pytest.raises(ValueError, match="sum to 1"):
        parse_rulebook(data)


KINDS = sorted(RULES.kinds)
facts_strategy = st.lists(
    st.builds(
        Fact,
        event_id=st.uuids().map(str),
        kind=st.sampled_from(KINDS),
        member_id=st.sampled_from(["m1", "m2", "m3"]),
        month=st.sampled_from(["2022-01", "2022-02", "2022-07"]),
        hours=st.floats(min_value=0.5, max_value=24),
        session_id=st.sampled_from(["s1", "s2"]),
    ),
    max_size=40,
    unique_by=lambda f: f.event_id,
)


@settings(max_examples=200, deadline=None)
@given(facts=facts_strategy, data=st.data())
def test_fold_of_shuffled_duplicated_voided_stream_equals_clean_stream(facts, data):
    voided = data.draw(st.sets(st.sampled_from([f.event_id for f in facts])) if facts else st.just(set()))
    dupes = data.draw(st.lists(st.sampled_from(facts), max_size=10) if facts else st.just([]))
    stream = [*facts, *dupes, *(Void(i, "2022-01") for i in voided)]
    random.Random(data.draw(st.integers())).shuffle(stream)

    messy = score(fold(stream).facts.values(), RULES)
    clean = score([f for f in facts if f.event_id not in voided], RULES)

    assert {p: s.points for p, s in messy.items()} == {p: s.points for p, s in clean.items()}
    assert {p: dict(s.kinds) for p, s in messy.items()} == {p: dict(s.kinds) for p, s in clean.items()}
