"""What the year-end report (年度考评报告) shows: the leaders' API's own answers, gathered for one
court or the city. Pure data; annual_pdf lays it out and annual_report gathers it."""

from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

ROWS = 100  # branches a table lists (a city has thousands: its exports hold every row)
CHART_BARS = 10  # bars per dimension chart
COLOUR_ORDER = {"red": 0, "yellow": 1, "green": 2}


@dataclass(frozen=True)
class Quota:
    """The advanced-branch quota arithmetic of one pool (a court's, or the city's)."""

    scope: str  # "本院 court" or "全市 city"
    branches: int  # registered branches the quota counts
    share: float
    places: int  # core.advanced.quota(branches, share)
    eligible: int  # branches that may fill a place (core.advanced.eligible)
    min_compliance: float


@dataclass(frozen=True)
class Ranked:
    """One dimension's ranking: its first ROWS rows (as GET /v1/rankings has them) and its size."""

    dimension: str
    total_branches: int
    rows: list[dict[str, Any]]


@dataclass(frozen=True)
class AnnualContent:
    """One year's report of a court (court set) or of the whole city (court None)."""

    year: str
    court: str | None
    title_name: str  # the court's name, or the city's
    city: str
    generated_at: datetime  # in Asia/Shanghai
    rulebook_version: str
    data_as_of: datetime | None
    rankings: list[Ranked]  # total first, then each dimension
    compliance_head: dict[str, Any]  # GET /v1/compliance's head: total_branches, colours, as_of_month
    compliance_rows: list[dict[str, Any]]  # its branch entries, red first, at most ROWS
    advanced_rule: str
    quota: Quota
    picks: list[dict[str, Any]]  # GET /v1/advanced-branches' picks of this court (or the city)
    stats: dict[str, Any]  # GET /v1/stats over the year's twelve months
    notes: list[str] = field(default_factory=list)

    @property
    def title(self) -> str:
        return f"{self.title_name} {self.year}年度党支部考评报告"


def worst_first(colours: list[str], ids: list[str], limit: int = ROWS) -> list[int]:
    """Positions of the `limit` branches to list: red, then yellow, then green, each by id."""
    order = sorted(range(len(ids)), key=lambda i: (COLOUR_ORDER.get(colours[i], 3), ids[i]))
    return order[:limit]


def figure(value: float | int) -> str:
    """A count or an amount as the API gives it: integers plain, others to at most 2 decimals."""
    if isinstance(value, int) or float(value).is_integer():
        return str(int(value))
    return f"{value:.2f}".rstrip("0").rstrip(".")
