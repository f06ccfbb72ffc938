"""Tables as CSV or XLSX files: the format asked for, the download's name, and cells no spreadsheet runs.

Pure apart from `write_xlsx`, which writes the file it is given (the caller streams it)."""

import csv
import io
import re
import unicodedata
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass
from typing import IO, Any, Literal
from urllib.parse import quote

import xlsxwriter

Format = Literal["csv", "xlsx"]
CSV = "text/csv"
XLSX = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
MEDIA_TYPES: dict[str, str] = {"csv": f"{CSV}; charset=utf-8", "xlsx": XLSX}
BOM = "\ufeff"  # Excel reads a CSV as UTF-8 only when it starts with one
# A text cell starting so is run as a formula by Excel, LibreOffice or Google Sheets (CSV injection).
FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")
Kind = Literal["text", "int", "number", "bool", "status"]
# A "status" cell is (text, colour): the text, on a background of its colour in XLSX.
FILLS = {"green": "#C6EFCE", "yellow": "#FFEB9C", "red": "#FFC7CE"}


@dataclass(frozen=True)
class Column:
    label: str  # "名次 Rank": the Chinese term and the English one
    kind: Kind = "text"
    width: int = 12  # characters, at least; the label's own width wins when wider


class NotAcceptable(ValueError):
    """The Accept header names neither CSV nor XLSX."""


def neutralise(text: str) -> str:
    """Text a spreadsheet would run as a formula, made inert by a leading apostrophe."""
    return "'" + text if text.startswith(FORMULA_STARTS) else text


def choose_format(asked: str | None, accept: str | None) -> Format:
    """`?format=` when given; else the Accept header's preferred of the two (CSV on a tie or none)."""
    if asked in ("csv", "xlsx"):
        return asked  # type: ignore[return-value]
    if not accept or not accept.strip():
        return "csv"
    quality = {"csv": 0.0, "xlsx": 0.0}
    specific = {"csv": -1, "xlsx": -1}  # the most specific range that names a format decides its q
    names = {"csv": (CSV, "text/*", "*/*"), "xlsx": (XLSX, "application/*", "*/*")}
    for part in accept.split(","):
        media, *params = (p.strip() for p in part.split(";"))
        q = 1.0
        for p in params:
            if p.lower().startswith("q="):
                try:
                    q = float(p[2:])
                except ValueError:
                    q = 0.0
        for fmt, ranges in names.items():
            if media.lower() in ranges:
                rank = 2 - ranges.index(media.lower())  # exact 2, type/* 1, */* 0
                if rank > specific[fmt]:
                    specific[fmt], quality[fmt] = rank, q
    if max(quality.values()) <= 0:
        raise NotAcceptable(f"this export is {CSV} or {XLSX} (or ask ?format=csv|xlsx)")
    return "xlsx" if quality["xlsx"] > quality["csv"] else "csv"


def content_disposition(fallback: str, title: str) -> str:
    """An attachment named `title` (RFC 6266 with RFC 5987's UTF-8 `filename*`), and an ASCII
    `fallback` for clients that read only `filename`."""
    ascii_name = re.sub(r"[^A-Za-z0-9._-]", "_", fallback) or "export"
    return f"attachment; filename=\"{ascii_name}\"; filename*=UTF-8''{quote(title, safe='-._~')}"


def _cell(value: Any, kind: Kind) -> Any:
    """A CSV cell: numbers as they are (exactly as JSON gives them), text made inert."""
    if value is None:
        return ""
    if kind == "status" and isinstance(value, tuple):
        value = value[0]
    if kind == "bool" and isinstance(value, bool):
        return "true" if value else "false"
    if kind in ("int", "number") and isinstance(value, int | float) and not isinstance(value, bool):
        return value
    return neutralise(str(value))


def csv_chunks(columns: Sequence[Column], rows: Iterable[Sequence[Any]], every: int = 256) -> Iterator[bytes]:
    """The table as UTF-8 CSV with a BOM, `every` rows a chunk (each chunk a yield point)."""
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\r\n")
    out.write(BOM)
    writer.writerow([neutralise(c.label) for c in columns])
    for i, row in enumerate(rows, 1):
        writer.writerow([_cell(v, c.kind) for v, c in zip(row, columns, strict=True)])
        if i % every == 0:
            yield out.getvalue().encode()
            out.seek(0)
            out.truncate()
    yield out.getvalue().encode()


def display_width(text: str) -> int:
    """Columns a text takes on screen: CJK characters take two."""
    return sum(2 if unicodedata.east_asian_width(ch) in "WF" else 1 for ch in text)


def sheet_name(title: str) -> str:
    """A worksheet name Excel accepts: at most 31 characters, none of []:*?/\\."""
    return re.sub(r"[\[\]:*?/\\]", "-", title)[:31] or "Sheet1"


def write_xlsx(
    target: str | IO[bytes], title: str, columns: Sequence[Column], rows: Iterable[Sequence[Any]]
) -> None:
    """The table as an XLSX file at `target` (a path or a binary file), row by row in constant
    memory: a bold frozen header, column widths, numbers as numbers and text as strings (a string
    cell is never a formula)."""
    options = {
        "constant_memory": True,  # each row is flushed to disk once the next begins
        "strings_to_formulas": False,
        "strings_to_numbers": False,
        "strings_to_urls": False,
    }
    workbook = xlsxwriter.Workbook(target, options)
    try:
        sheet = workbook.add_worksheet(sheet_name(title))
        bold = workbook.add_format({"bold": True})
        fills = {colour: workbook.add_format({"bg_color": fill}) for colour, fill in FILLS.items()}
        for c, column in enumerate(columns):
            sheet.set_column(c, c, max(column.width, display_width(column.label) + 2))
        sheet.freeze_panes(1, 0)
        for c, column in enumerate(columns):
            sheet.write_string(0, c, column.label, bold)
        for r, row in enumerate(rows, 1):
            for c, (value, column) in enumerate(zip(row, columns, strict=True)):
                if value is None:
                    continue
                if column.kind == "status" and isinstance(value, tuple):
                    sheet.write_string(r, c, str(value[0]), fills.get(value[1]))
                elif column.kind == "bool" and isinstance(value, bool):
                    sheet.write_boolean(r, c, value)
                elif column.kind in ("int", "number") and isinstance(value, int | float):
                    sheet.write_number(r, c, value)
                else:
                    sheet.write_string(r, c, str(value))
    finally:
        workbook.close()
