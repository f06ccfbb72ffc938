"""The yearly examination of 2022 (政治素质考察): the member registry (names, roles, joining dates),
the democratic-evaluation ballots (民主评议: every member rates the others of the branch) and the
appraisals imported from the courts' performance systems (审判质效, 干部绩效考核).

Each member has a standing drawn once (about 57% strong, 32% solid, 9.5% weak, 1.5% failing): their
colleagues' ballots and their appraisal follow it, so /v1/grades?year=2022 shows a realistic
spread (好 55-70%, 较好 20-35%, 一般 3-10%, 较差 at most 2%)."""

from datetime import date, timedelta

from tools.demo.city import City, Member
from tools.demo.seeds import seeded

YEAR = 2022
LEVELS = ("good", "fairly_good", "average", "poor")
# standing: (share of members, ballot level weights, trial quality range, performance weights)
STANDINGS = {
    "strong": (57, (85, 13, 2, 0), (85, 98), {"excellent": 35, "competent": 65}),
    "solid": (32, (18, 57, 22, 3), (70, 84), {"excellent": 3, "competent": 97}),
    "weak": (9.5, (5, 30, 50, 15), (60, 76), {"competent": 60, "basically_competent": 40}),
    "failing": (1.5, (3, 7, 25, 65), (45, 62), {"basically_competent": 50, "incompetent": 50}),
}
TURNOUT = 0.95  # a colleague casts a ballot on a member
SURNAMES = (
    "王李张刘陈杨赵黄周吴徐孙胡朱高林何郭马罗梁宋郑谢韩唐冯于董萧程曹袁邓许傅沈曾彭吕苏卢蒋蔡贾丁魏薛叶阎"
)
GIVEN = "伟芳娜秀英敏静丽强磊军洋勇艳杰娟涛明超秀兰霞平刚桂英华建国志红玉梅海燕鹏宇浩然晨阳雪梦琳博文"


def standings(city: City) -> dict[str, str]:
    """Each member's standing, drawn once (the ballots and appraisals follow it)."""
    rng = seeded("examination", "standing")
    names, weights = list(STANDINGS), [s[0] for s in STANDINGS.values()]
    return {m.member_id: rng.choices(names, weights)[0] for m in city.members}


def registry(city: City) -> list[tuple[str, dict]]:
    """(member id, PUT /v1/members body) for every member: a name, the branch's secretary (书记),
    its committee (委员, as the training generator seats them) and members, joined before 2022."""
    rng = seeded("examination", "registry")
    bodies = []
    for branch in city.branches:
        members = city.by_branch[branch.branch_id]
        committee = 2 if len(members) < 7 else 3 if len(members) < 15 else 5
        for i, m in enumerate(members):
            role = "secretary" if i == 0 else "committee" if i < committee else "member"
            joined = date(1990, 1, 1) + timedelta(
                days=rng.randrange((date(2021, 12, 31) - date(1990, 1, 1)).days)
            )
            name = rng.choice(SURNAMES) + "".join(rng.choice(GIVEN) for _ in range(rng.choice((1, 2))))
            bodies.append(
                (
                    m.member_id,
                    {"name": name, "branch_id": branch.branch_id, "role": role, "joined": str(joined)},
                )
            )
    return bodies


def ballots(city: City) -> list[dict]:
    """Every colleague's ballot on every member of the branch (a few abstain)."""
    rng, standing = seeded("examination", "ballots"), standings(city)
    records = []
    for branch in city.branches:
        members = city.by_branch[branch.branch_id]
        for rated in members:
            weights = STANDINGS[standing[rated.member_id]][1]
            for voter in members:
                if voter is rated or rng.random() >= TURNOUT:
                    continue
                level = rng.choices(LEVELS, weights)[0]
                records.append(_ballot(voter, rated, level))
    return records


def _ballot(voter: Member, rated: Member, level: str) -> dict:
    return {
        "voter_id": voter.member_id,
        "member_id": rated.member_id,
        "branch_id": rated.branch.branch_id,
        "year": YEAR,
        "level": level,
    }


def appraisals(city: City) -> list[dict]:
    """One appraisal per member from its court's performance system."""
    rng, standing = seeded("examination", "appraisals"), standings(city)
    records = []
    for m in city.members:
        _, _, (low, high), performances = STANDINGS[standing[m.member_id]]
        records.append(
            {
                "member_id": m.member_id,
                "branch_id": m.branch.branch_id,
                "year": YEAR,
                "source": f"{m.branch.court.court_id}-performance",
                "trial_quality": round(rng.uniform(low, high), 1),
                "performance": rng.choices(list(performances), list(performances.values()))[0],
            }
        )
    return records


def examination(city: City) -> dict[str, list[dict]]:
    """The training service's resources and their records, ids `demo-<resource>-000001` onwards."""
    raw = {"evaluations": ballots(city), "appraisals": appraisals(city)}
    return {
        resource: [{"id": f"demo-{resource}-{n:06d}", **r} for n, r in enumerate(records, start=1)]
        for resource, records in raw.items()
    }
