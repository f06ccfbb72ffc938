"""Export files: formula cells neutralised, the format chosen, the filename header, CSV and XLSX read back."""

import csv
import io
import re
import tempfile
from urllib.parse import unquote

import openpyxl
import pytest

from services.scoring.api.tabular import (
    BOM,
    CSV,
    XLSX,
    Column,
    NotAcceptable,
    choose_format,
    content_disposition,
    csv_chunks,
    neutralise,
    write_xlsx,
)

DANGEROUS = ["=1+1", "+1", "-2+3", "@SUM(A1)", "\t=1", "\r=1", '=HYPERLINK("http://x","点我")']
COLUMNS = [
    Column("名称 Name"),
    Column("名次 Rank", "int"),
    Column("得分 Score", "number"),
    Column("登记 Reg", "bool"),
]


@pytest.mark.parametrize("text", DANGEROUS)
def test_text_a_spreadsheet_would_run_starts_with_an_apostrophe(text):
    assert neutralise(text) == "'" + text


@pytest.mark.parametrize("text", ["民一庭党支部", "a=b", "1-2", "", "'quoted"])
def test_other_text_is_left_alone(text):
    assert neutralise(text) == text


@pytest.mark.parametrize(
    ("asked", "accept", "chosen"),
    [
        ("xlsx", "text/csv", "xlsx"),  # ?format= wins
        ("csv", XLSX, "csv"),
        (None, None, "csv"),
        (None, "*/*", "csv"),
        (None, CSV, "csv"),
        (None, XLSX, "xlsx"),
        (None, f"{XLSX}, */*;q=0.8", "xlsx"),
        (None, f"text/csv;q=0.5, {XLSX}", "xlsx"),
        (None, f"{XLSX};q=0.2, text/*", "csv"),
        (None, "text/html,application/xhtml+xml,application/xml;q=0.9,*/*;q=0.8", "csv"),
        (None, "application/*", "xlsx"),
    ],
)
def test_the_format_is_asked_for_or_negotiated(asked, accept, chosen):
    assert choose_format(asked, accept) == chosen


@pytest.mark.parametrize("accept", ["application/json", "text/csv;q=0, application/pdf", f"{XLSX};q=0"])
def test_neither_format_acceptable_is_refused(accept):
    with pytest.raises(NotAcceptable):
        choose_format(None, accept)


def test_the_filename_header_carries_the_chinese_title_and_an_ascii_fallback():
    header = content_disposition("ranking-2022-Q3-total.csv", "党支部排名-2022-Q3-总分.csv")
    found = re.fullmatch(r'attachment; filename="([^"]+)"; filename\*=UTF-8\'\'([A-Za-z0-9%._~-]+)', header)
    assert found, header
    assert found[1] == "ranking-2022-Q3-total.csv"
    assert unquote(found[2], encoding="utf-8") == "党支部排名-2022-Q3-总分.csv"
    assert header.isascii()


def test_an_unsafe_fallback_name_cannot_break_the_header():
    header = content_disposition('a";\r\nX-Evil: 1.csv', '名"字\r\n.csv')
    assert "\r" not in header and "\n" not in header and header.count('"') == 2
    assert unquote(header.split("''")[1]) == '名"字\r\n.csv'


ROWS = [["=1+1", 1, -2.5, True], ["民一庭党支部", 2, 0.0, False], [None, 3, 1e-05, None]]


def test_csv_starts_with_a_bom_neutralises_text_and_keeps_numbers():
    data = b"".join(csv_chunks(COLUMNS, ROWS, every=1))
    text = data.decode("utf-8")
    assert text.startswith(BOM)
    rows = list(csv.reader(io.StringIO(text[1:])))
    assert rows[0] == [c.label for c in COLUMNS]
    assert rows[1] == ["'=1+1", "1", "-2.5", "true"]  # a negative number is a number, not a formula
    assert rows[2] == ["民一庭党支部", "2", "0.0", "false"]
    assert rows[3] == ["", "3", "1e-05", ""]
    assert float(rows[3][2]) == 1e-05


def test_csv_is_produced_in_chunks():
    chunks = list(csv_chunks(COLUMNS, ROWS * 10, every=5))
    assert len(chunks) == 7  # 30 rows, 5 a chunk, and the (empty) rest


def test_xlsx_has_a_frozen_header_widths_numbers_and_strings_only(tmp_path):
    path = str(tmp_path / "t.xlsx")
    write_xlsx(path, "党支部排名-2022-Q3", COLUMNS, ROWS)
    sheet = openpyxl.load_workbook(path).active
    assert sheet.title == "党支部排名-2022-Q3"
    assert sheet.freeze_panes == "A2"
    assert sheet.column_dimensions["A"].width >= len("名称 Name") + 2
    cells = [[c for c in row] for row in sheet.iter_rows()]
    assert [c.value for c in cells[0]] == [c.label for c in COLUMNS]
    assert cells[0][0].font.b
    assert (cells[1][0].value, cells[1][0].data_type) == ("=1+1", "s")  # a string, never a formula
    assert [c.value for c in cells[1][1:]] == [1, -2.5, True]
    assert cells[1][2].data_type == "n"
    assert [c.value for c in cells[2]] == ["民一庭党支部", 2, 0, False]
    assert [c.value for c in cells[3]] == [None, 3, 1e-05, None]
    assert not any(c.data_type == "f" for row in cells for c in row)


def test_xlsx_goes_to_an_open_file_too():
    with tempfile.TemporaryFile() as file:
        write_xlsx(file, "t", COLUMNS, ROWS)
        file.seek(0)
        rows = [[c.value for c in row] for row in openpyxl.load_workbook(file).active.iter_rows()]
    assert rows[1] == ["=1+1", 1, -2.5, True] and len(rows) == 4


def test_a_status_cell_is_its_text_in_csv_and_coloured_in_xlsx(tmp_path):
    columns = [Column("项目 Item"), Column("状态 Status", "status")]
    rows = [["a", ("done 1/1", "green")], ["b", ("overdue 0/1", "red")], ["c", ("=due", "yellow")]]
    text = b"".join(csv_chunks(columns, rows)).decode()[1:]
    assert list(csv.reader(io.StringIO(text)))[1:] == [
        ["a", "done 1/1"],
        ["b", "overdue 0/1"],
        ["c", "'=due"],
    ]
    path = str(tmp_path / "s.xlsx")
    write_xlsx(path, "s", columns, rows)
    cells = [row[1] for row in openpyxl.load_workbook(path).active.iter_rows(min_row=2)]
    assert [c.value for c in cells] == ["done 1/1", "overdue 0/1", "=due"]
    assert [c.fill.fgColor.rgb[-6:] for c in cells] == ["C6EFCE", "FFC7CE", "FFEB9C"]
