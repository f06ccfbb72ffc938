"""The API's score view: newest summary per ledger wins, branches add up over streams, and the
rescore deals partitions out evenly."""

from dataclasses import replace
from datetime import UTC, datetime

import msgspec
from aiokafka import TopicPartition

from services.scoring.api.score_view import ScoreView
from services.scoring.core.summary import LedgerSummary
from services.scoring.rescore import _shares
from services.scoring.score_feed import encode

T1, T2 = datetime(2024, 5, 1, tzinfo=UTC), datetime(2024, 6, 1, tzinfo=UTC)


def summary(branch: str, stream: str, offset: int, points: float, members: list[str], at=T1) -> bytes:
    score = {
        "points": {"service": points, "trial": 0.0, "people": 0.0, "team": 0.0},
        "kinds": {"visit": {"count": 1, "hours": 0.0, "points": points}},
        "caps_hit": [],
        "members": members,
    }
    return encode(
        1,
        as_summary(
            {
                "_id": f"{branch}|{stream}|2024",
                "branch_id": branch,
                "stream": stream,
                "year": "2024",
                "offset": offset,
                "rulebook_version": "test",
                "last_event_time": at.isoformat(),
                "scores": {"2024-05": score, "2024-Q2": score, "2024": score},
            }
        ),
    )


def as_summary(record: dict) -> LedgerSummary:
    """A summary written as the feed's JSON reads it (`_id`, RFC 3339 times)."""
    return msgspec.convert(record, LedgerSummary)


def test_a_branch_adds_up_over_its_streams_and_counts_a_member_once():
    view = ScoreView(1)
    view.apply(summary("b1", "liaison", 3, 4.0, ["m1", "m2"]))
    view.apply(summary("b1", "training", 7, 2.0, ["m2", "m3"], at=T2))
    row = view.period("2024-Q2")["b1"]
    assert row.points["service"] == 6.0
    assert row.active_members == ("m1", "m2", "m3")
    assert row.last_event_time == T2


def test_an_older_or_replayed_summary_changes_nothing():
    view = ScoreView(1)
    view.apply(summary("b1", "liaison", 5, 4.0, ["m1"]))
    version = view.versions["2024"]
    view.apply(summary("b1", "liaison", 4, 99.0, ["m9"]))  # older: a late duplicate on the feed
    view.apply(summary("b1", "liaison", 5, 99.0, ["m9"]))  # the same offset again: a replay
    assert view.period("2024")["b1"].points["service"] == 4.0
    assert view.versions["2024"] == version
    view.apply(summary("b1", "liaison", 6, 5.0, ["m1"]))
    assert view.period("2024")["b1"].points["service"] == 5.0
    assert view.versions["2024"] == version + 1


def test_period_docs_give_one_row_per_stream_and_period_asked_for():
    view = ScoreView(1)
    view.apply(summary("b1", "liaison", 1, 4.0, ["m1"]))
    view.apply(summary("b2", "volunteer", 1, 1.0, ["m2"]))
    rows = view.period_docs(["2024-05"], "b1")
    assert [(r.branch_id, r.stream, r.period) for r in rows] == [("b1", "liaison", "2024-05")]
    assert rows[0].score.kinds["visit"].count == 1
    assert {(r.branch_id, r.period) for r in view.period_docs(["2024", "2024-Q2"])} == {
        ("b1", "2024"),
        ("b1", "2024-Q2"),
        ("b2", "2024"),
        ("b2", "2024-Q2"),
    }
    assert view.period_docs(["2023"]) == []


def test_rescore_shares_balance_partitions_by_size():
    sizes = {TopicPartition("t", p): n for p, n in enumerate([100, 90, 10, 10, 5, 0])}
    ends = {tp: n for tp, n in sizes.items()}
    shares = _shares(sizes, ends, 2)
    loads = sorted(sum(end for _, _, end in share) for share in shares)
    assert loads == [105, 110]  # greedy, largest first: as even as whole partitions allow
    assert sorted(p for share in shares for _, p, _ in share) == list(range(6))
    assert len(_shares(sizes, ends, 1)) == 1


def test_a_view_keeps_training_counts_and_what_each_branch_has_scores_for():
    view = ScoreView(1)
    view.apply(summary("b1", "training", 1, 2.0, ["m1"]))
    view.apply(summary("b1", "liaison", 1, 2.0, ["m1"], at=T2))
    counts = view.training("2024")
    assert counts == {"b1": {"2024-05": {"visit": 1}}}  # months only: what compliance adds up
    view.apply(summary("b1", "training", 2, 2.0, ["m1"]))
    assert counts["b1"] is not view.training("2024")["b1"]  # replaced, never changed in place
    assert view.seen["b1"] == {("training", "2024"): T1, ("liaison", "2024"): T2}


def test_a_generation_brings_its_own_rulebook_and_one_without_uses_the_file():
    from services.scoring.api.score_view import FeedFollower
    from services.scoring.generations import Generation
    from services.scoring.rulebooks import load_rulebook, parse_rulebook_text, rulebook_toml
    from shared.settings import KafkaSettings

    default = load_rulebook()
    other = replace(
        default, version="test-2", weights={"service": 1.0, "trial": 0.0, "people": 0.0, "team": 0.0}
    )
    assert parse_rulebook_text(rulebook_toml(default)) == default
    assert parse_rulebook_text(rulebook_toml(other)) == other
    follower = FeedFollower(KafkaSettings(), "unused", lambda: None, default)  # type: ignore[arg-type,return-value]
    assert follower.rulebook_of(Generation(1)) is default
    assert follower.rulebook_of(Generation(2, rulebook_toml(other))) == other
