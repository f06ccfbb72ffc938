"""The organisation tree: Cangzhou's 17 courts (中院 and 16 基层院), their Party branches and members."""

import random
from dataclasses import dataclass, field

from tools.demo.places import AREAS, CITY_CENTRE
from tools.demo.seeds import seeded

ZY = "cz-zy"

# (id, name, area, how large its branches are): the intermediate court serves the whole city.
COURTS = (
    (ZY, "沧州市中级人民法院", None, 1.0),
    ("cz-xinhua", "新华区人民法院", "新华区", 1.15),
    ("cz-yunhe", "运河区人民法院", "运河区", 1.2),
    ("cz-cangxian", "沧县人民法院", "沧县", 1.05),
    ("cz-qingxian", "青县人民法院", "青县", 0.95),
    ("cz-dongguang", "东光县人民法院", "东光县", 0.85),
    ("cz-haixing", "海兴县人民法院", "海兴县", 0.75),
    ("cz-yanshan", "盐山县人民法院", "盐山县", 0.9),
    ("cz-suning", "肃宁县人民法院", "肃宁县", 0.9),
    ("cz-nanpi", "南皮县人民法院", "南皮县", 0.85),
    ("cz-wuqiao", "吴桥县人民法院", "吴桥县", 0.8),
    ("cz-xianxian", "献县人民法院", "献县", 1.0),
    ("cz-mengcun", "孟村回族自治县人民法院", "孟村回族自治县", 0.8),
    ("cz-botou", "泊头市人民法院", "泊头市", 1.05),
    ("cz-renqiu", "任丘市人民法院", "任丘市", 1.25),
    ("cz-huanghua", "黄骅市人民法院", "黄骅市", 1.15),
    ("cz-hejian", "河间市人民法院", "河间市", 1.1),
)
# (id suffix, name, role, members from, to): the divisions of the intermediate court's 机关党委.
ZY_BRANCHES = (
    ("lian", "立案庭党支部", "filing", 12, 18),
    ("xing1", "刑一庭党支部", "criminal", 9, 14),
    ("xing2", "刑二庭党支部", "criminal", 8, 12),
    ("min1", "民一庭党支部", "civil", 11, 16),
    ("min2", "民二庭党支部", "civil", 11, 16),
    ("min3", "民三庭党支部", "civil", 9, 14),
    ("min4", "民四庭党支部", "civil", 8, 13),
    ("xingzheng", "行政审判庭党支部", "administrative", 8, 12),
    ("shenjian", "审判监督庭党支部", "supervision", 7, 11),
    ("zhixing1", "执行局第一党支部", "enforcement", 15, 20),
    ("zhixing2", "执行局第二党支部", "enforcement", 14, 20),
    ("yanjiu", "研究室党支部", "research", 5, 8),
    ("bangong", "办公室党支部", "office", 8, 12),
    ("zhengzhi", "政治部党支部", "office", 8, 12),
    ("shenguan", "审判管理办公室党支部", "office", 5, 8),
    ("zhuangbei", "司法行政装备管理处党支部", "office", 6, 10),
)
GRASSROOTS_BRANCHES = (
    ("jiguan", "机关党支部", "office", 6, 12),
    ("xingshi", "刑事审判党支部", "criminal", 5, 9),
    ("minshi", "民事审判党支部", "civil", 9, 16),
    ("zhixing", "执行局党支部", "enforcement", 8, 14),
)
JUDGE_SHARE = {"office": 0.1, "research": 0.5, "filing": 0.6, "enforcement": 0.7}  # else 0.75
# How a branch keeps its organisational life: (share of branches, attendance range, lapses range).
HABITS = {"steady": (75, 0.9, 0.97, 0, 0), "loose": (18, 0.85, 0.92, 1, 3), "weak": (7, 0.78, 0.86, 10, 14)}


@dataclass(frozen=True)
class Court:
    court_id: str
    name: str
    area: str | None  # None: the intermediate court, city-wide


@dataclass(frozen=True)
class Branch:
    """A Party branch (党支部): the unit scored and ranked."""

    branch_id: str
    name: str
    court: Court
    role: str  # the work of its members: filing, civil, enforcement, office...
    members: int
    attendance: float  # the share of members at a session
    lapses: int  # required meetings it let slip this year (compliance goes red)


@dataclass(frozen=True)
class Member:
    """A Party member (党员干警) of a branch."""

    member_id: str
    branch: Branch
    judge: bool  # serves as a liaison judge (法官联系人)
    activity: float  # how much liaison work they do, relative to others
    home: str  # the area they live in (社区双报到)


@dataclass(frozen=True)
class City:
    courts: tuple[Court, ...]
    branches: tuple[Branch, ...]
    members: tuple[Member, ...]
    by_branch: dict[str, tuple[Member, ...]] = field(compare=False)
    by_court: dict[str, tuple[Member, ...]] = field(compare=False)


def build_city(scale: int = 1) -> City:
    """The courts, `scale` times their branches, and the members; ids carry `x<scale>-` unless 1."""
    rng = seeded("city", scale)
    ns = "" if scale == 1 else f"x{scale}-"
    courts, branches, members = [], [], []
    for court_id, name, area, size in COURTS:
        court = Court(ns + court_id, name if scale == 1 else f"{name}（×{scale}）", area)
        courts.append(court)
        for copy in range(1, scale + 1):
            for branch in _branches(rng, court, size, copy):
                branches.append(branch)
                members += _members(rng, branch)
    by_branch: dict[str, list[Member]] = {b.branch_id: [] for b in branches}
    by_court: dict[str, list[Member]] = {c.court_id: [] for c in courts}
    for m in members:
        by_branch[m.branch.branch_id].append(m)
        by_court[m.branch.court.court_id].append(m)
    return City(
        tuple(courts),
        tuple(branches),
        tuple(members),
        {k: tuple(v) for k, v in by_branch.items()},
        {k: tuple(v) for k, v in by_court.items()},
    )


def _branches(rng: random.Random, court: Court, size: float, copy: int) -> list[Branch]:
    templates = ZY_BRANCHES if court.area is None else GRASSROOTS_BRANCHES
    prefix = "" if court.area is None else court.name.replace("人民法院", "法院").replace("回族自治县", "县")
    suffix = "" if copy == 1 else f"-{copy}"
    branches = []
    for slug, name, role, low, high in templates:
        habit = rng.choices(list(HABITS), weights=[h[0] for h in HABITS.values()])[0]
        _, att_low, att_high, lapses_low, lapses_high = HABITS[habit]
        branches.append(
            Branch(
                branch_id=f"{court.court_id}-{slug}{suffix}",
                name=f"{prefix}{name}" + ("" if copy == 1 else f"（{copy}）"),
                court=court,
                role=role,
                members=max(5, min(20, round(rng.randint(low, high) * size))),
                attendance=round(rng.uniform(att_low, att_high), 3),
                lapses=rng.randint(lapses_low, lapses_high),
            )
        )
    return branches


def _members(rng: random.Random, branch: Branch) -> list[Member]:
    area = branch.court.area
    members = []
    for i in range(1, branch.members + 1):
        home = area or (rng.choice(CITY_CENTRE) if rng.random() < 0.9 else rng.choice(list(AREAS)))
        members.append(
            Member(
                member_id=f"{branch.branch_id}-m{i:02d}",
                branch=branch,
                judge=rng.random() < JUDGE_SHARE.get(branch.role, 0.75),
                activity=round(min(3.0, rng.lognormvariate(0, 0.6)), 3),
                home=home,
            )
        )
    return members
