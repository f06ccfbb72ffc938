"""The CJK TrueType font the PDF reports embed: found on this machine at run time, loaded once.

PDF viewers have no Chinese font of their own to rely on, and a report must never make a reader's
viewer fetch one: the glyphs used are embedded (a subset) from a font of the distribution's
packages (Debian's fonts-wqy-microhei, installed by deploy/local/provision.sh and carried in the
offline bundle)."""

import threading
from pathlib import Path

from reportlab.pdfbase import pdfmetrics
from reportlab.pdfbase.ttfonts import TTFont

FONT_NAME = "ReportCJK"
# TrueType outlines only (reportlab embeds glyf fonts, not the CFF of Noto CJK's .otf/.ttc).
CANDIDATES = (
    Path("/usr/share/fonts/truetype/wqy/wqy-microhei.ttc"),
    Path("/usr/share/fonts/truetype/wqy/wqy-zenhei.ttc"),
    Path("/usr/share/fonts/truetype/droid/DroidSansFallbackFull.ttf"),
    Path("/usr/share/fonts/truetype/arphic/uming.ttc"),
)
_lock = threading.Lock()
_loaded: dict[Path, str] = {}


class FontMissing(LookupError):
    """No CJK TrueType font to embed: the report cannot show Chinese."""


def font_path(configured: Path | None) -> Path:
    """The font file to embed: the configured one, else the first of CANDIDATES present."""
    if configured is not None:
        if configured.is_file():
            return configured
        raise FontMissing(f"SCORING_API_REPORT_FONT={configured}: no such file")
    for path in CANDIDATES:
        if path.is_file():
            return path
    raise FontMissing(
        "no CJK TrueType font found for the PDF report: install Debian's fonts-wqy-microhei "
        "(make up provisions it) or set SCORING_API_REPORT_FONT to a .ttf/.ttc file"
    )


def register(path: Path) -> str:
    """The reportlab font name of `path`, registered on first use (parsing a CJK font takes a while:
    call it off the event loop)."""
    with _lock:
        if path not in _loaded:
            try:
                font = TTFont(f"{FONT_NAME}-{len(_loaded)}", str(path), subfontIndex=0)
            except Exception as err:  # reportlab raises its own TTFError, or OSError
                raise FontMissing(f"{path}: not a TrueType font reportlab can embed ({err})") from err
            pdfmetrics.registerFont(font)
            _loaded[path] = font.fontName
        return _loaded[path]
