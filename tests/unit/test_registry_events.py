"""Registry events: the codec round-trips, and a member's name cannot travel in one."""

from datetime import date

import orjson
import pytest
from pydantic import ValidationError

from services.scoring.api.registry_log import version_of
from services.scoring.core.roster import BranchVersion, MemberVersion
from shared.registry_events import BranchChanged, MemberChanged, decode, encode, registry_topic


def test_branch_and_member_changes_round_trip_keyed_by_their_ids():
    branch = BranchChanged(branch_id="b1", name="一支部", court="c1", members=5, effective=date(2024, 6, 1))
    member = MemberChanged(
        member_id="m1", branch_id="b1", role="committee", joined=date(2020, 1, 1), effective=date(2024, 2, 29)
    )
    for event, key in ((branch, b"b1"), (member, b"m1")):
        got_key, value = encode(event)
        assert got_key == key and decode(value) == event
    assert version_of(branch) == BranchVersion("b1", "一支部", "c1", None, 5, date(2024, 6, 1))
    assert version_of(member) == MemberVersion(
        "m1", "b1", "committee", date(2020, 1, 1), None, date(2024, 2, 29)
    )


def test_a_member_event_has_no_place_for_a_name():
    with pytest.raises(ValidationError):
        MemberChanged.model_validate(
            {
                "member_id": "m1",
                "branch_id": "b1",
                "role": "member",
                "joined": "2020-01-01",
                "effective": "2020-01-01",
                "name": "张三",
            }
        )


def test_other_records_are_refused():
    with pytest.raises(ValueError):
        decode(orjson.dumps({"type": "cn.court.partybuilding.audit.recorded.v1", "data": {}}))
    with pytest.raises(ValueError):
        decode(b"[]")


def test_each_database_has_its_own_registry_topic():
    assert registry_topic("partybuilding") == "registry.events.v1.partybuilding"
