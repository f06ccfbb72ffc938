"""Assessment periods (month, quarter, year) of an event, on the courts' own calendar."""

import functools
import re
from datetime import datetime
from zoneinfo import ZoneInfo

COURT_TZ = ZoneInfo("Asia/Shanghai")
# [0-9], not \d: \d also takes other scripts' digits (٢٠٢٢), which no period is written in.
PERIOD_PATTERN = r"^[0-9]{4}(-(0[1-9]|1[0-2])|-Q[1-4])?$"
_PERIOD = re.compile(PERIOD_PATTERN)


def month_of(at: datetime) -> str:
    """The month ("2022-08") an instant falls in, in Asia/Shanghai (a late event keeps its own month)."""
    local = at.astimezone(COURT_TZ)
    return f"{local.year:04d}-{local.month:02d}"


@functools.cache  # a few hundred months ever; scoring asks for each fact's on every batch
def periods_of_month(month: str) -> tuple[str, str, str]:
    """The month, its quarter ("2022-Q3") and its year ("2022")."""
    year, mm = month.split("-")
    return month, f"{year}-Q{(int(mm) - 1) // 3 + 1}", year


def year_of(period: str) -> str:
    return period[:4]


def is_period(text: str) -> bool:
    return bool(_PERIOD.match(text))


def months_in(period: str) -> list[str]:
    """The months a period covers."""
    year = year_of(period)
    if "-Q" in period:
        q = int(period[-1])
        return [f"{year}-{m:02d}" for m in range(3 * q - 2, 3 * q + 1)]
    if "-" in period:
        return [period]
    return [f"{year}-{m:02d}" for m in range(1, 13)]
