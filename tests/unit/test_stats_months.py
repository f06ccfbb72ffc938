"""The months a stats query covers, at the edges of the calendar."""

from services.scoring.api.stats import MAX_MONTHS, month_range


def test_a_range_ends_with_its_last_month_even_at_the_last_year_there_is():
    assert month_range("9999-11", "9999-12") == ["9999-11", "9999-12"]
    assert month_range("9999-12", "9999-12") == ["9999-12"]
    assert len(month_range("9990-01", "9999-12")) == 120


def test_a_range_crosses_years_and_stops_one_past_the_limit():
    assert month_range("2023-11", "2024-02") == ["2023-11", "2023-12", "2024-01", "2024-02"]
    assert month_range("2024-03", "2024-02") == []
    assert len(month_range("0001-01", "9999-12")) == MAX_MONTHS + 1  # over the limit: refused by the caller
