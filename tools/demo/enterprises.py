"""Enterprises of every area with valid unified social credit codes (统一社会信用代码, GB 32100-2015)."""

import random
from dataclasses import dataclass

from shared.credit_code import ALPHABET, check_character
from tools.demo.places import AREAS, COMPANY_FORMS, TRADE_NAMES, Area
from tools.demo.seeds import seeded

PER_AREA = 60
_ORG_WEIGHTS = (3, 7, 9, 10, 5, 8, 4, 2)  # GB 11714: the organisation code's own check


@dataclass(frozen=True)
class Enterprise:
    name: str
    credit_code: str
    area: str

    def as_json(self) -> dict[str, str]:
        return {"name": self.name, "credit_code": self.credit_code}


def organisation_code(body: str) -> str:
    """An 8-character organisation code body with its GB 11714 check character appended."""
    total = sum(int(c, 36) * w for c, w in zip(body, _ORG_WEIGHTS, strict=True))
    check = 11 - total % 11
    return body + {10: "X", 11: "0"}.get(check, str(check))


def credit_code(rng: random.Random, registrar_type: str, division: str) -> str:
    """A code as issued since 2015: registrar and type ("91": an enterprise registered with market
    regulation), the area's division code, a new-style "MA" organisation code, the check character."""
    body = "MA" + "".join(rng.choice(ALPHABET) for _ in range(6))
    first17 = registrar_type + division + organisation_code(body)
    return first17 + check_character(first17)


def _name(rng: random.Random, area: Area) -> tuple[str, str]:
    """A registered name, and its registrar and type: mostly companies, a few co-operatives."""
    industry = rng.choice(area.industries)
    if industry.endswith("种植") and rng.random() < 0.5:
        return f"{area.prefix}{rng.choice(TRADE_NAMES)}{industry}专业合作社", "93"
    prefix = area.prefix if rng.random() < 0.8 else "河北"
    return f"{prefix}{rng.choice(TRADE_NAMES)}{industry}{rng.choice(COMPANY_FORMS)}", "91"


def build_enterprises(per_area: int = PER_AREA) -> dict[str, tuple[Enterprise, ...]]:
    """`per_area` enterprises in every area, names and codes unique across the city."""
    rng = seeded("enterprises")
    names: set[str] = set()
    codes: set[str] = set()
    pools: dict[str, tuple[Enterprise, ...]] = {}
    for area in AREAS.values():
        pool: list[Enterprise] = []
        while len(pool) < per_area:
            name, kind = _name(rng, area)
            code = credit_code(rng, kind, area.division)
            if name in names or code in codes:
                continue
            names.add(name)
            codes.add(code)
            pool.append(Enterprise(name, code, area.name))
        pools[area.name] = tuple(pool)
    return pools
