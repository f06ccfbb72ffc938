"""Liaison contacts (党建+法官联系人): the article's Jan–Aug 2022 figures exactly, and the rest of 2022."""

import random

from tools.demo.city import City, Member
from tools.demo.days import office_time, quarter_of, stamp, workdays
from tools.demo.enterprises import Enterprise
from tools.demo.places import CITY_CENTRE
from tools.demo.seeds import seeded

# 2022年1-8月份,全市两级法院线上线下共联系走访单位企业3604次,提出司法建议864条,诉前化解1180件。
ARTICLE_TOTALS = {"visit": 3604, "judicial_suggestion": 864, "pre_litigation_resolution": 1180}
ARTICLE_MONTHS = tuple(range(1, 9))
LATER_MONTHS = (9, 10, 11, 12)
# Spring Festival in February, the epidemic in March, the half-year close in June, the 20th Party
# Congress and National Day in October.
MONTH_WEIGHT = {1: 1.0, 2: 0.7, 3: 0.85, 4: 1.0, 5: 1.05, 6: 1.15, 7: 1.1, 8: 1.05}
MONTH_WEIGHT |= {9: 1.05, 10: 0.8, 11: 0.95, 12: 0.75}
# Who does which kind of contact: the filing division settles disputes before litigation,
# civil and commercial divisions visit enterprises, research offices draft judicial suggestions.
AFFINITY = {
    "visit": {"civil": 1.5, "enforcement": 1.3, "criminal": 0.6, "office": 0.3},
    "judicial_suggestion": {"administrative": 1.8, "research": 1.8, "criminal": 1.3, "enforcement": 0.6},
    "pre_litigation_resolution": {"filing": 3.0, "civil": 1.6, "criminal": 0.2, "office": 0.1},
}
NOTES = {
    "visit": (
        "走访了解企业生产经营和涉诉风险",
        "送法进企业，解答合同纠纷法律咨询",
        "回访企业，跟进执行和解履行情况",
    ),
    "judicial_suggestion": ("就劳动用工管理不规范问题发出司法建议", "就合同审查和风险防控发出司法建议"),
    "pre_litigation_resolution": ("买卖合同纠纷诉前调解成功", "劳动争议诉前化解", "拖欠货款纠纷诉前和解"),
    "symposium": ("民营企业家座谈会，听取法治营商环境意见建议",),
}


def apportion(total: int, weights: list[float]) -> list[int]:
    """Split `total` in proportion to `weights` in whole numbers that add up to it exactly."""
    shares = [total * w / sum(weights) for w in weights]
    counts = [int(s) for s in shares]
    by_remainder = sorted(range(len(shares)), key=lambda i: counts[i] - shares[i])
    for i in by_remainder[: total - sum(counts)]:
        counts[i] += 1
    return counts


def contacts(city: City, enterprises: dict[str, tuple[Enterprise, ...]], scale: int = 1) -> list[dict]:
    """Every contact of 2022; Jan–Aug adds up to `scale` times the article's figures."""
    rng = seeded("liaison", scale)
    judges = [m for m in city.members if m.judge]
    portfolios = {m.member_id: _portfolio(rng, m, enterprises) for m in judges}
    records = []
    for kind, total in ARTICLE_TOTALS.items():
        weights = [m.activity * AFFINITY[kind].get(m.branch.role, 1.0) for m in judges]
        jitter = {month: rng.uniform(0.9, 1.1) for month in MONTH_WEIGHT}
        counts = apportion(total * scale, [MONTH_WEIGHT[m] * jitter[m] for m in ARTICLE_MONTHS])
        counts += [round(total * scale / 8 * MONTH_WEIGHT[m] * jitter[m]) for m in LATER_MONTHS]
        for month, count in zip(ARTICLE_MONTHS + LATER_MONTHS, counts, strict=True):
            for judge in rng.choices(judges, weights, k=count):
                firm = rng.choice(portfolios[judge.member_id])
                records.append(_contact(rng, judge, kind, month, firm))
    return records + _symposiums(rng, city, enterprises, scale)


def _portfolio(
    rng: random.Random, judge: Member, pools: dict[str, tuple[Enterprise, ...]]
) -> list[Enterprise]:
    """The enterprises a liaison judge is paired with: in their court's area (the intermediate
    court's judges across the city, mostly in its two districts)."""
    area = judge.branch.court.area
    firms = []
    for _ in range(rng.randint(2, 6)):
        where = area or (rng.choice(CITY_CENTRE) if rng.random() < 0.6 else rng.choice(list(pools)))
        firms.append(rng.choice(pools[where]))
    return firms


def _contact(rng: random.Random, judge: Member, kind: str, month: int, firm: Enterprise) -> dict:
    online = {3: 0.65}.get(month, 0.25) * (0.4 if kind == "judicial_suggestion" else 1.0)
    record = {
        "member_id": judge.member_id,
        "branch_id": judge.branch.branch_id,
        "kind": kind,
        "channel": "online" if rng.random() < online else "offline",
        "enterprise": firm.as_json(),
        "occurred_at": office_time(rng, rng.choice(workdays(month))),
    }
    if rng.random() < 0.5:
        record["note"] = rng.choice(NOTES[kind])
    return record


def _symposiums(
    rng: random.Random, city: City, pools: dict[str, tuple[Enterprise, ...]], scale: int
) -> list[dict]:
    """Each court meets entrepreneurs once a quarter (the intermediate court twice), `scale` times
    over; every judge present records the enterprise they talked with."""
    records = []
    for court in city.courts:
        judges = [m for m in city.by_court[court.court_id] if m.judge]
        pool = pools[court.area] if court.area else pools[CITY_CENTRE[0]] + pools[CITY_CENTRE[1]]
        for month in (2, 5, 8, 11):
            for _ in range((2 if court.area is None else 1) * scale):
                day = rng.choice(workdays(month, 10, 25))
                present = rng.sample(judges, rng.randint(3, 6))
                for judge, firm in zip(present, rng.sample(pool, len(present)), strict=True):
                    records.append(_symposium(judge, firm, stamp(day, 14, 30), quarter_of(month)))
    return records


def _symposium(judge: Member, firm: Enterprise, at: str, quarter: int) -> dict:
    return {
        "member_id": judge.member_id,
        "branch_id": judge.branch.branch_id,
        "kind": "symposium",
        "channel": "offline",
        "enterprise": firm.as_json(),
        "occurred_at": at,
        "note": f"{NOTES['symposium'][0]}（第{quarter}季度）",
    }
