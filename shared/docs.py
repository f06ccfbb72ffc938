"""/docs and /redoc served with their assets from the service itself, for networks with no internet."""

import base64
import hashlib
import re
from pathlib import Path

import fastapi_offline
from fastapi import FastAPI, Request
from fastapi.openapi.docs import get_redoc_html, get_swagger_ui_html
from fastapi.responses import HTMLResponse, Response

from shared.problems import Problem

# Swagger UI (Apache-2.0) and ReDoc (MIT) as released, shipped by the fastapi-offline package (MIT):
# uv.lock pins it, so the assets come from the package index like any dependency, not from a copy here.
ASSET_DIR = Path(fastapi_offline.__file__).parent / "static"
ASSET_PATH = "/docs/assets"
ASSET_TYPES = {
    "swagger-ui-bundle.js": "text/javascript; charset=utf-8",
    "swagger-ui.css": "text/css; charset=utf-8",
    "redoc.standalone.js": "text/javascript; charset=utf-8",
    "favicon.png": "image/png",
}
# No Swagger UI validator badge: by default it sends the spec's URL to validator.swagger.io.
SWAGGER_PARAMETERS = {"validatorUrl": None}
_INLINE_SCRIPT = re.compile(r"<script>(.*?)</script>", re.DOTALL)


def page_csp(html: str) -> str:
    """A policy that lets the page fetch from this server only; its inline scripts go by their hash.

    The browser enforces it, so a script-built address (ReDoc's sidebar loads its vendor's logo from
    a CDN) is never requested; the bundles style elements inline and ReDoc searches in a blob worker.
    """
    hashes = " ".join(
        f"'sha256-{base64.b64encode(hashlib.sha256(s.encode()).digest()).decode()}'"
        for s in _INLINE_SCRIPT.findall(html)
    )
    return "; ".join(
        (
            "default-src 'self'",
            f"script-src 'self' {hashes}".rstrip(),
            "style-src 'self' 'unsafe-inline'",
            "img-src 'self' data:",
            "font-src 'self' data:",
            "connect-src 'self'",
            "worker-src 'self' blob:",
            "object-src 'none'",
            "base-uri 'none'",
            "form-action 'self'",
            "frame-ancestors 'none'",
        )
    )


def _page(response: HTMLResponse) -> HTMLResponse:
    html = bytes(response.body).decode()
    headers = {
        "Content-Security-Policy": page_csp(html),
        "X-Content-Type-Options": "nosniff",
        "Referrer-Policy": "no-referrer",
        "Cache-Control": "no-cache",
    }
    return HTMLResponse(html, headers=headers)


def install_docs(app: FastAPI) -> None:
    """Adds /docs, /redoc and their assets to an app built with docs_url=None and redoc_url=None."""
    if app.docs_url or app.redoc_url:
        raise ValueError("build the app with docs_url=None, redoc_url=None: the defaults load from a CDN")
    assets = {name: (ASSET_DIR / name).read_bytes() for name in ASSET_TYPES}

    def urls(request: Request) -> tuple[str, str]:
        root = request.scope.get("root_path", "").rstrip("/")
        return f"{root}{app.openapi_url}", f"{root}{ASSET_PATH}"

    @app.get("/docs", include_in_schema=False)
    async def swagger_ui(request: Request) -> HTMLResponse:
        spec, base = urls(request)
        return _page(
            get_swagger_ui_html(
                openapi_url=spec,
                title=f"{app.title} - Swagger UI",
                swagger_js_url=f"{base}/swagger-ui-bundle.js",
                swagger_css_url=f"{base}/swagger-ui.css",
                swagger_favicon_url=f"{base}/favicon.png",
                swagger_ui_parameters={**(app.swagger_ui_parameters or {}), **SWAGGER_PARAMETERS},
            )
        )

    @app.get("/redoc", include_in_schema=False)
    async def redoc(request: Request) -> HTMLResponse:
        spec, base = urls(request)
        return _page(
            get_redoc_html(
                openapi_url=spec,
                title=f"{app.title} - ReDoc",
                redoc_js_url=f"{base}/redoc.standalone.js",
                redoc_favicon_url=f"{base}/favicon.png",
                with_google_fonts=False,
            )
        )

    @app.get(ASSET_PATH + "/{name}", include_in_schema=False)
    async def asset(name: str) -> Response:
        if name not in assets:
            raise Problem(404, "Not Found", f"no documentation file {name}")
        headers = {"X-Content-Type-Options": "nosniff", "Cache-Control": "public, max-age=3600"}
        return Response(assets[name], media_type=ASSET_TYPES[name], headers=headers)
