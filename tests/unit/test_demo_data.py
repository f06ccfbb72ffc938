"""The demo generator (tools/demo): the article's figures, the org tree, valid records, stable ids."""

import re
from collections import Counter, defaultdict
from datetime import datetime

import httpx
import pytest

from services.scoring.core import compliance
from services.scoring.core.periods import month_of
from services.scoring.rulebooks import load_rulebook
from shared.contracts import (
    ID_PATTERN,
    DeploymentKind,
    LiaisonContactMade,
    TrainingCompleted,
    VolunteerDeployed,
)
from shared.credit_code import credit_code_problem
from tools.demo import VERSION
from tools.demo.dataset import STREAMS, TIME_FIELDS, Dataset, fingerprint, generate
from tools.demo.liaison import apportion
from tools.demo.load import BATCH, Tally, batches, check
from tools.demo.send import LoadFailed, send

# The output of each dataset version. A change of the generator that changes its output must bump
# VERSION (tools/demo/__init__.py): systems holding the old data answer 409 to the changed ids.
PINNED = {
    "2022.1": "4c4b8c4d18b500444fc8404acbf0f12c926f0f97eedbae0932355cf2bde22a14",
    "2022.2": "475785b3689dde8e461dbdb36bde3887689c8fbb588c7d9f519112278389b0ac",  # + the examination
}
MODELS = {"volunteer": VolunteerDeployed, "liaison": LiaisonContactMade, "training": TrainingCompleted}
GRASSROOTS = (
    "新华区 运河区 沧县 青县 东光县 海兴县 盐山县 肃宁县 "
    "南皮县 吴桥县 献县 孟村回族自治县 泊头市 任丘市 黄骅市 河间市"
).split()


@pytest.fixture(scope="module")
def demo() -> Dataset:
    return generate()


def months(demo: Dataset, stream: str, first: str, last: str, **where: str) -> Counter[str]:
    """Records per kind whose month (Asia/Shanghai, as the scorer counts) is in [first, last]."""
    return Counter(
        r["kind"]
        for r in demo.records[stream]
        if first <= month_of(datetime.fromisoformat(r[TIME_FIELDS[stream]])) <= last
        and all(r[k] == v for k, v in where.items())
    )


def test_jan_to_aug_liaison_totals_are_the_articles_exactly(demo):
    jan_aug = months(demo, "liaison", "2022-01", "2022-08")
    assert jan_aug["visit"] == 3604
    assert jan_aug["judicial_suggestion"] == 864
    assert jan_aug["pre_litigation_resolution"] == 1180
    assert jan_aug["symposium"] > 0
    later = months(demo, "liaison", "2022-09", "2022-12")
    assert later["visit"] > 0 and later["symposium"] > 0


def test_the_city_has_17_courts_about_80_branches_and_800_members(demo):
    city = demo.city
    assert len(city.courts) == 17
    assert city.courts[0].court_id == "cz-zy" and city.courts[0].name == "沧州市中级人民法院"
    assert [c.name for c in city.courts[1:]] == [f"{a}人民法院" for a in GRASSROOTS]
    assert all(re.fullmatch(r"cz-[a-z]+", c.court_id) for c in city.courts)
    per_court = Counter(b.court.court_id for b in city.branches)
    assert per_court["cz-zy"] == 16 and all(per_court[c.court_id] == 4 for c in city.courts[1:])
    assert 75 <= len(city.branches) <= 85
    assert 750 <= len(city.members) <= 850
    sizes = [b.members for b in city.branches]
    assert min(sizes) >= 5 and max(sizes) <= 20 and len(set(sizes)) >= 8  # uneven: per-member fairness
    assert all(len(city.by_branch[b.branch_id]) == b.members for b in city.branches)
    assert len({b.branch_id for b in city.branches}) == len(city.branches)


def test_march_2022_over_90_intermediate_court_volunteers_and_8_instructors(demo):
    def who(kind: str) -> set[str]:
        return {
            r["member_id"]
            for r in demo.records["volunteer"]
            if r["kind"] == kind and r["branch_id"].startswith("cz-zy-") and r["started_at"][:7] == "2022-03"
        }

    volunteers, instructors = who("epidemic_volunteer"), who("community_party_instructor")
    assert 90 < len(volunteers) < 100
    assert len(instructors) == 8 and instructors <= volunteers
    instructing = [r for r in demo.records["volunteer"] if r["kind"] == "community_party_instructor"]
    assert all(r["started_at"][:7] == "2022-03" for r in instructing)


def test_every_credit_code_is_valid_and_names_are_plausible(demo):
    for r in demo.records["liaison"]:
        assert credit_code_problem(r["enterprise"]["credit_code"]) is None, r
        assert re.search(r"(公司|合作社)$", r["enterprise"]["name"]), r
    codes = defaultdict(set)
    for r in demo.records["liaison"]:
        codes[r["enterprise"]["credit_code"]].add(r["enterprise"]["name"])
    assert all(len(names) == 1 for names in codes.values())  # one code, one enterprise


def test_every_record_has_a_unique_deterministic_id(demo):
    ids = [r["id"] for s in STREAMS for r in demo.records[s]]
    assert len(ids) == len(set(ids))
    for stream in STREAMS:
        assert all(re.fullmatch(rf"demo-{stream}-\d{{6}}", r["id"]) for r in demo.records[stream])
        assert all(re.match(ID_PATTERN, r["id"]) for r in demo.records[stream])


def test_generation_is_deterministic_and_pinned_per_version(demo):
    assert fingerprint(generate()) == fingerprint(demo)
    assert fingerprint(demo) == PINNED.get(VERSION), "the output changed: bump VERSION and pin the new one"


def test_every_record_validates_against_its_contract(demo):
    for stream, model in MODELS.items():
        for r in demo.records[stream]:
            model.model_validate({k: v for k, v in r.items() if k != "id"})


def test_times_are_2022_with_the_china_offset_and_hours_1_to_8(demo):
    for stream in STREAMS:
        for r in demo.records[stream]:
            at = datetime.fromisoformat(r[TIME_FIELDS[stream]])
            assert at.year == 2022 and r[TIME_FIELDS[stream]].endswith("+08:00"), r
    assert all(1 <= r["hours"] <= 8 for r in demo.records["volunteer"])
    kinds = Counter(r["kind"] for r in demo.records["volunteer"])
    assert set(kinds) == {k.value for k in DeploymentKind}


def test_training_follows_the_cadences(demo):
    training = demo.records["training"]
    pledges = [r for r in training if r["kind"] == "integrity_pledge"]
    assert sorted(r["member_id"] for r in pledges) == sorted(m.member_id for m in demo.city.members)
    assert all(r["completed_at"][:7] == "2022-01" for r in pledges)
    lectures = Counter(r["completed_at"][:7] for r in training if r["kind"] == "lecture_hall")
    share = sum(lectures.values()) / (12 * len(demo.city.members))
    assert len(lectures) == 12 and 0.85 <= share <= 0.95  # attendance about 90%
    assert len({(r["member_id"], r["session_id"]) for r in training}) == len(training)
    sessions = Counter(r["session_id"] for r in training if r["kind"] == "branch_assembly")
    assert sum(sessions.values()) / len(sessions) > 5  # members of a session share its id
    assert {"three_rules_report", "rotation_training", "speech_contest"} <= {r["kind"] for r in training}


def test_most_branches_comply_and_some_show_red(demo):
    cadence = load_rulebook().cadence
    counts: dict[str, dict[str, Counter[str]]] = defaultdict(lambda: defaultdict(Counter))
    for r in demo.records["training"]:
        counts[r["branch_id"]][r["completed_at"][:7]][r["kind"]] += 1
    results = {
        b.branch_id: compliance.overall(
            compliance.check(counts[b.branch_id], "2022", cadence, b.members, "2023-01")  # type: ignore[arg-type]
        )
        for b in demo.city.branches
    }
    colours = Counter(t.colour for t in results.values())
    assert colours["green"] > 0.6 * len(results) and colours["red"] >= 5
    assert 1 <= sum(t.kept_share < 0.8 for t in results.values()) <= 10  # not eligible as advanced


def test_a_larger_scale_multiplies_everything_under_its_own_ids(demo):
    double = generate(2)
    assert len(double.city.branches) == 2 * len(demo.city.branches)
    jan_aug = months(double, "liaison", "2022-01", "2022-08")
    assert (jan_aug["visit"], jan_aug["judicial_suggestion"]) == (2 * 3604, 2 * 864)
    assert jan_aug["pre_litigation_resolution"] == 2 * 1180
    assert all(r["id"].startswith(f"demo-x2-{s}-") for s in STREAMS for r in double.records[s])
    assert not {b.branch_id for b in double.city.branches} & {b.branch_id for b in demo.city.branches}


def test_apportion_keeps_the_total_exactly():
    assert apportion(10, [1, 1, 1]) == [4, 3, 3]
    for total in (0, 1, 7, 864, 1180):
        assert sum(apportion(total, [0.3, 1.7, 1.0, 2.2])) == total


def test_batches_take_turns_and_hold_at_most_500(demo):
    sent = list(batches(demo))
    assert all(len(items) <= BATCH for _, items in sent)
    assert [s for s, _ in sent[:3]] == list(STREAMS)
    assert sum(len(items) for _, items in sent) == demo.size()


def test_tally_counts_accepted_duplicates_and_rejections():
    tally = Tally()
    tally.add(
        [
            {"index": 0, "status": 202, "id": "a", "duplicate": False, "detail": "accepted"},
            {"index": 1, "status": 202, "id": "b", "duplicate": True, "detail": "accepted"},
            {"index": 2, "status": 409, "id": "c", "duplicate": False, "detail": "conflict"},
        ]
    )
    assert (tally.accepted, tally.duplicate, tally.rejected, tally.statuses) == (1, 1, 1, {409})
    with pytest.raises(LoadFailed, match="another version of the demo generator"):
        check({"liaison": tally, "training": Tally()})
    check({"training": Tally(accepted=3)})  # nothing refused: no complaint


async def test_send_waits_out_a_503_and_refuses_a_4xx():
    answers = iter(
        [
            httpx.Response(503, headers={"Retry-After": "0.01"}),
            httpx.Response(200, json={"ok": True}),
            httpx.Response(422, json={"detail": "invalid"}),
        ]
    )
    calls: list[str] = []

    def reply(request: httpx.Request) -> httpx.Response:
        calls.append(request.headers["Authorization"])
        return next(answers)

    async with httpx.AsyncClient(transport=httpx.MockTransport(reply)) as client:
        response = await send(client, "POST", "http://intake/v1/contacts:batch", "t", {"items": []})
        assert response.json() == {"ok": True} and calls == ["Bearer t", "Bearer t"]
        with pytest.raises(LoadFailed, match="422"):
            await send(client, "POST", "http://intake/v1/contacts:batch", "t", {"items": []})
    assert len(calls) == 3  # a 4xx is not retried
