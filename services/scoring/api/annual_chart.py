"""Horizontal bar charts for the annual PDF, drawn with reportlab's own vector graphics (no image,
nothing fetched): one bar per branch, its score at the bar's end."""

from reportlab.graphics.shapes import Drawing, Line, Rect, String
from reportlab.lib import colors
from reportlab.pdfbase.pdfmetrics import stringWidth

BAR_H, GAP, LABEL_W, VALUE_W = 12, 5, 150, 50
BAR_COLOUR = colors.HexColor("#B22222")  # the board's party red
AXIS = colors.HexColor("#888888")


def _fit(text: str, font: str, size: float, width: float) -> str:
    """`text` cut (with an ellipsis) to fit `width` points."""
    if stringWidth(text, font, size) <= width:
        return text
    while text and stringWidth(text + "…", font, size) > width:
        text = text[:-1]
    return text + "…"


def bar_chart(bars: list[tuple[str, float]], width: float, font: str, size: float = 8) -> Drawing:
    """`bars` (label, value) as horizontal bars scaled to the largest value, top to bottom."""
    height = max(1, len(bars)) * (BAR_H + GAP) + GAP
    drawing = Drawing(width, height, initialFontName=font)  # else the drawing sets Helvetica (not embedded)
    span = width - LABEL_W - VALUE_W
    top = max((v for _, v in bars), default=0.0) or 1.0
    drawing.add(Line(LABEL_W, 0, LABEL_W, height, strokeColor=AXIS, strokeWidth=0.5))
    for i, (label, value) in enumerate(bars):
        y = height - (i + 1) * (BAR_H + GAP)
        length = max(0.0, value) / top * span
        drawing.add(Rect(LABEL_W, y, length, BAR_H, fillColor=BAR_COLOUR, strokeColor=None))
        name = _fit(label, font, size, LABEL_W - 6)
        drawing.add(String(LABEL_W - 4, y + 3, name, fontName=font, fontSize=size, textAnchor="end"))
        drawing.add(String(LABEL_W + length + 4, y + 3, f"{value:.2f}", fontName=font, fontSize=size))
    return drawing
