"""The annual PDF's page geometry, paragraph styles and table look (reportlab), in its embedded font."""

from collections.abc import Sequence
from typing import Any
from xml.sax.saxutils import escape

from reportlab.lib import colors
from reportlab.lib.pagesizes import A4
from reportlab.lib.styles import ParagraphStyle
from reportlab.lib.units import mm
from reportlab.platypus import Paragraph, Table, TableStyle

from services.scoring.api.tabular import FILLS
from services.scoring.core.rulebook import DIMENSION_LABELS

MARGIN = 18 * mm
WIDTH = A4[0] - 2 * MARGIN
DIMENSION_ZH = {
    "total": "总分 Total",
    **{d: f"{label.split()[0]} {d.capitalize()}" for d, label in DIMENSION_LABELS.items()},
}
HEAD_FILL = colors.HexColor("#F2DCDB")
GRID = colors.HexColor("#BBBBBB")


class Styles:
    """The paragraph styles of one report, in its embedded font."""

    def __init__(self, font: str):
        base = ParagraphStyle("body", fontName=font, fontSize=9.5, leading=14, wordWrap="CJK")
        grey = colors.HexColor("#555555")
        self.font = font
        self.body = base
        self.cell = ParagraphStyle("cell", parent=base, fontSize=8, leading=10)
        # Headers ("党员 Members") break at the space, never inside the English word.
        self.head = ParagraphStyle("head", parent=self.cell, wordWrap=None)
        self.small = ParagraphStyle("small", parent=base, fontSize=8, leading=11, textColor=grey)
        self.h1 = ParagraphStyle(
            "h1", parent=base, fontSize=15, leading=22, spaceBefore=6, spaceAfter=8, keepWithNext=1
        )
        self.h2 = ParagraphStyle(
            "h2", parent=base, fontSize=11, leading=16, spaceBefore=8, spaceAfter=4, keepWithNext=1
        )
        self.title = ParagraphStyle("title", parent=base, fontSize=24, leading=34, alignment=1, spaceAfter=10)
        self.subtitle = ParagraphStyle("subtitle", parent=base, fontSize=13, leading=20, alignment=1)

    def p(self, text: str, style: ParagraphStyle | None = None) -> Paragraph:
        """A paragraph of plain text (never markup: names come from the registry)."""
        return Paragraph(escape(text), style or self.body)

    def table(
        self, rows: list[list[Any]], shares: Sequence[float], fills: Sequence[tuple[int, int, str]] = ()
    ) -> Table:
        """A table over the page's width (`shares` of it per column) with a shaded header row,
        repeated on every page; `fills` colours (column, row) cells green, yellow or red."""
        t = Table(rows, colWidths=[w * WIDTH for w in shares], repeatRows=1)
        style: list[tuple[Any, ...]] = [
            ("FONTNAME", (0, 0), (-1, -1), self.font),
            ("FONTSIZE", (0, 0), (-1, -1), 8),
            ("LEADING", (0, 0), (-1, -1), 10),
            ("BACKGROUND", (0, 0), (-1, 0), HEAD_FILL),
            ("GRID", (0, 0), (-1, -1), 0.25, GRID),
            ("VALIGN", (0, 0), (-1, -1), "MIDDLE"),
        ]
        style += [("BACKGROUND", (c, r), (c, r), colors.HexColor(FILLS[colour])) for c, r, colour in fills]
        t.setStyle(TableStyle(style))
        return t

    def facts(self, rows: list[list[Any]], shares: Sequence[float] = (0.4, 0.6)) -> Table:
        """A two-column table of labels and values, without a header."""
        t = Table(rows, colWidths=[w * WIDTH for w in shares])
        t.setStyle(
            TableStyle(
                [
                    ("FONTNAME", (0, 0), (-1, -1), self.font),
                    ("FONTSIZE", (0, 0), (-1, -1), 9.5),
                    ("GRID", (0, 0), (-1, -1), 0.25, GRID),
                    ("VALIGN", (0, 0), (-1, -1), "MIDDLE"),
                ]
            )
        )
        return t
