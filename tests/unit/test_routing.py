"""Routing reads a record's branch from its envelope alone; the fold tells a resent copy from a
reused id."""

import pytest

from services.scoring.core.facts import Fact, Void
from services.scoring.core.ledger import Ledger, fold
from services.scoring.routing import routed_topic, routed_topics, subject_of
from shared.contracts import ContractError, Stream


def test_the_subject_routes_whatever_else_the_record_holds():
    assert subject_of(b'{"subject": "zy-civil-1", "data": 3}') == "zy-civil-1"


NO_SUBJECT = [b"", b"not json", b"[1, 2]", b"{}", b'{"subject": 5}', b'{"subject": "a b"}']


@pytest.mark.parametrize("value", [*NO_SUBJECT, b'{"subject": "m-001\\n"}'])
def test_a_record_without_a_usable_subject_is_refused(value):
    with pytest.raises(ContractError):
        subject_of(value)


def test_each_app_has_its_own_repartition_topics():
    assert routed_topic("scoring", Stream.LIAISON) == "scoring.routed.liaison.v1"
    assert set(routed_topics("t1").values()) == set(Stream)
    assert not set(routed_topics("t1")) & set(routed_topics("t2"))


def test_fold_counts_a_resent_copy_once_and_refuses_a_reused_id():
    ledger = Ledger()
    first = Fact("e1", "visit", "m1", "2024-05", digest="aaa")
    assert fold(ledger, first) == "applied"
    assert fold(ledger, Fact("e1", "visit", "m1", "2024-05", digest="aaa")) == "duplicate"
    assert fold(ledger, Fact("e1", "symposium", "m2", "2024-06", digest="bbb")) == "conflict"
    assert ledger.facts == {"e1": first}
    assert fold(ledger, Void("e1", "2024-05")) == "voided" and not ledger.facts
    assert fold(ledger, Fact("e1", "symposium", "m2", "2024-06", digest="bbb")) == "duplicate"
    assert not ledger.facts  # voided ids stay voided, whatever comes under them later
