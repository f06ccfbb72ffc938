"""Volunteer deployments (司法为民): March 2022's epidemic duty, the volunteer teams, community work."""

import random
from collections.abc import Sequence
from datetime import date

from tools.demo.city import City, Court, Member
from tools.demo.days import YEAR, days_of, stamp, workdays
from tools.demo.places import AREA_VENUES, AREAS, CITY_CENTRE, CITY_VENUES
from tools.demo.seeds import seeded

# 2022年3月新冠肺炎疫情防控期间,中院有90余名干警就地转为志愿者,8名干警担任社区临时党组织指导员。
EPIDEMIC_VOLUNTEERS = 94
PARTY_INSTRUCTORS = 8
LOCKDOWN = (12, 31)  # the days of March 2022 the city centre was under epidemic control
EPIDEMIC_POSTS = ("核酸检测点", "社区防控卡口", "小区值守点", "物资配送站")
# Legal publicity days: (month, day, theme).
PUBLICITY_DAYS = (
    (4, 15, "全民国家安全教育日"),
    (5, 20, "民法典宣传月"),
    (6, 15, "防范非法集资宣传月"),
    (6, 26, "国际禁毒日"),
    (12, 4, "国家宪法日"),
)
WEEKENDS = [d for m in range(1, 13) for d in days_of(m) if d.weekday() >= 5 and not (m == 3 and d.day >= 12)]
TEAM_THEMES = ("天平志愿服务队进社区", "关爱留守儿童", "敬老院志愿服务", "文明交通劝导", "清洁家园")


def deployments(city: City, scale: int = 1) -> list[dict]:
    """Every deployment of 2022, hours 1 to 8 each."""
    rng = seeded("volunteer", scale)
    records = _epidemic(rng, city, scale)
    for court in city.courts:
        members = city.by_court[court.court_id]
        records += _team(rng, court, members) + _workstations(rng, court, members, scale)
        records += _publicity(rng, court, members)
    for member in city.members:
        records += _dual_report(rng, member)
    return records


def _deployment(member: Member, kind: str, at: str, hours: float, place: str, note: str | None) -> dict:
    record = {
        "member_id": member.member_id,
        "branch_id": member.branch.branch_id,
        "kind": kind,
        "started_at": at,
        "hours": hours,
        "place": place,
    }
    if note:
        record["note"] = note
    return record


def _street(rng: random.Random, area: str) -> str:
    return area + rng.choice(AREAS[area].towns)


def _epidemic(rng: random.Random, city: City, scale: int) -> list[dict]:
    """The intermediate court's volunteers and instructors, and the two district courts' volunteers."""
    zy = city.by_court[city.courts[0].court_id]  # the intermediate court comes first
    volunteers = rng.sample(zy, EPIDEMIC_VOLUNTEERS * scale)
    records = []
    for member in volunteers:
        records += _shifts(rng, member, "epidemic_volunteer", rng.randint(3, 6), (2, 3, 4, 4, 4, 6, 8))
    for member in rng.sample(volunteers, PARTY_INSTRUCTORS * scale):
        records += _shifts(rng, member, "community_party_instructor", rng.randint(5, 8), (4, 6, 8))
    for court in city.courts:
        if court.area in CITY_CENTRE:
            for member in city.by_court[court.court_id]:
                if rng.random() < 0.4:
                    records += _shifts(rng, member, "epidemic_volunteer", rng.randint(2, 4), (3, 4, 6))
    return records


def _shifts(rng: random.Random, member: Member, kind: str, count: int, hours: Sequence[float]) -> list[dict]:
    """Shifts "in place" (就地): where the member lives, on days of the March lockdown."""
    days = rng.sample(days_of(3, *LOCKDOWN), count)
    if kind == "community_party_instructor":
        place, post, note = _street(rng, member.home) + "临时党支部", None, "担任社区临时党组织指导员"
    else:
        place, post, note = (
            _street(rng, member.home),
            rng.choice(EPIDEMIC_POSTS),
            "就地转为志愿者，参与疫情防控",
        )
    records = []
    for day in sorted(days):
        h = rng.choice(hours)
        start = rng.choice((7, 8, 13, 16)) if h <= 6 else rng.choice((7, 8))
        records.append(_deployment(member, kind, stamp(day, start), h, place + (post or ""), note))
    return records


def _venue(rng: random.Random, court: Court) -> str:
    if court.area is None:
        return rng.choice(CITY_VENUES)
    return _street(rng, court.area) + rng.choice(AREA_VENUES)


def _team(rng: random.Random, court: Court, members: Sequence[Member]) -> list[dict]:
    """The court's 天平志愿服务队: a roster of about a third of its members, out once or twice a month."""
    roster = rng.sample(members, max(4, len(members) // 3))
    records = []
    for month in range(1, 13):
        for _ in range(max(1, len(members) // 60)):
            days = days_of(month, 1, 11) if month == 3 else days_of(month)  # not in the lockdown
            day, hours, place = rng.choice(days), rng.choice((2, 2.5, 3, 4)), _venue(rng, court)
            theme = rng.choice(TEAM_THEMES)
            for member in rng.sample(roster, min(len(roster), rng.randint(4, 8))):
                records.append(
                    _deployment(member, "tianping_volunteer_team", stamp(day, 9), hours, place, theme)
                )
    return records


def _workstations(rng: random.Random, court: Court, members: Sequence[Member], scale: int) -> list[dict]:
    """法官工作站: two or three per court in its towns (the city's streets for the intermediate court),
    each with one or two judges on duty about once a month."""
    judges = [m for m in members if m.judge]
    areas = [court.area] if court.area else list(CITY_CENTRE)
    records = []
    for _ in range(rng.randint(2, 3) * scale):
        place = _street(rng, rng.choice(areas)) + "法官工作站"
        for judge in rng.sample(judges, rng.randint(1, 2)):
            for month in range(1, 13):
                if month != 3 and rng.random() < 0.8:
                    day = rng.choice(workdays(month))
                    hours = rng.choice((2, 3, 3, 4))
                    records.append(_deployment(judge, "judge_workstation", stamp(day, 9), hours, place, None))
    return records


def _publicity(rng: random.Random, court: Court, members: Sequence[Member]) -> list[dict]:
    """Legal publicity on the year's themed days: a few members of the court at a public place."""
    records = []
    for month, day, theme in PUBLICITY_DAYS:
        at, place, hours = stamp(date(YEAR, month, day), 9), _venue(rng, court), rng.choice((2, 3, 4))
        size = rng.randint(3, 8) * max(1, len(members) // 150)
        for member in rng.sample(members, min(size, len(members))):
            records.append(_deployment(member, "legal_publicity", at, hours, place, f"{theme}法治宣传"))
    return records


def _dual_report(rng: random.Random, member: Member) -> list[dict]:
    """社区双报到: about two in three members serve where they live (their street or town) two to
    five times a year, on weekends."""
    if rng.random() >= 0.65:
        return []
    community = _street(rng, member.home)
    return [
        _deployment(
            member, "community_dual_report", stamp(day, 9), rng.choice((1, 1.5, 2, 3)), community, None
        )
        for day in sorted(rng.sample(WEEKENDS, rng.randint(2, 5)))
    ]
