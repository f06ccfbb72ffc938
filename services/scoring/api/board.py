"""GET /board: the leaders' ranking board, a static page that reads the API with the viewer's token."""

from pathlib import Path

from fastapi import APIRouter
from fastapi.responses import Response

from shared.problems import Problem

STATIC = Path(__file__).parent / "static"
MEDIA_TYPES = {
    ".html": "text/html; charset=utf-8",
    ".js": "text/javascript; charset=utf-8",
    ".css": "text/css; charset=utf-8",
    ".svg": "image/svg+xml",
}
# The page and its assets come from this server only; no inline script or style, no framing, and
# Trusted Types make any innerHTML with a string throw, so data can reach the DOM only as text.
CSP = "; ".join(
    (
        "default-src 'self'",
        "script-src 'self'",
        "style-src 'self'",
        "img-src 'self'",
        "font-src 'self'",
        "connect-src 'self'",
        "object-src 'none'",
        "base-uri 'none'",
        "form-action 'none'",
        "frame-ancestors 'none'",
        "require-trusted-types-for 'script'",
        "trusted-types 'none'",
    )
)
SECURITY_HEADERS = {
    "Content-Security-Policy": CSP,
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "no-referrer",
    "Cross-Origin-Opener-Policy": "same-origin",
    "Cache-Control": "no-cache",
}


def _assets() -> dict[str, tuple[bytes, str]]:
    """Every servable file under static/, read once: only these names can ever be answered."""
    return {
        path.relative_to(STATIC).as_posix(): (path.read_bytes(), MEDIA_TYPES[path.suffix])
        for path in sorted(STATIC.rglob("*"))
        if path.is_file() and path.suffix in MEDIA_TYPES
    }


def board_router() -> APIRouter:
    router = APIRouter(tags=["board"], include_in_schema=False)
    assets = _assets()
    page, _ = assets.pop("index.html")

    @router.get("/board")
    async def board() -> Response:
        # Public on purpose: the page holds no data; it asks the viewer for a reader token.
        return Response(page, media_type=MEDIA_TYPES[".html"], headers=SECURITY_HEADERS)

    @router.get("/board/static/{name:path}")
    async def static(name: str) -> Response:
        if name not in assets:
            raise Problem(404, "Not Found", f"no board file {name}")
        body, media_type = assets[name]
        return Response(body, media_type=media_type, headers=SECURITY_HEADERS)

    return router
