"""Nothing a browser loads from the services leaves the deployment (issue #16, 法院专网).

Against the running system: every HTML page of each service (/docs, /redoc, /board and any
text/html operation of its live OpenAPI document), then every asset they reference, recursively
(src, href, CSS url() and @import, JS imports, workers, fetches, source maps). Any reference that
is not this service's own (relative or same origin, or inline data) fails. Then a real browser loads
each page with every request outside the service's origin refused and recorded: none may be made.
"""

import re
from html.parser import HTMLParser
from urllib.parse import urldefrag, urljoin, urlsplit

import httpx
import pytest
from playwright.async_api import Browser, Request, Route
from playwright.async_api import TimeoutError as PlaywrightTimeout

from tests.conftest import URLS
from tests.security.live import SERVICES, openapi

DOC_PAGES = ("/docs", "/redoc")
BOARD = "/board"
# Attributes whose value the browser loads, follows or submits to.
URL_ATTRS = {"src", "href", "action", "formaction", "poster", "data", "background", "manifest", "ping"}
CSS_REFS = (re.compile(r"url\(\s*['\"]?([^'\")]+)"), re.compile(r"@import\s+['\"]([^'\"]+)"))
# Places in a script where a literal is a URL the browser loads (followed by the crawl) or calls
# (checked only: a call's target is an API, not an asset). Vendor bundles also hold URLs that are only
# names (JSON Schema ids, XML namespaces, licence links): those are never fetched.
# A module specifier or script URL the browser resolves: relative, absolute path, or with a scheme
# (bare names like "react" are not fetched without an import map).
URLISH = r"((?:\.{1,2}/|/|[a-z][a-z0-9+.-]*:)[^\"'`\s]*)"
JS_LOADS = (
    re.compile(r"\bimport\s*(?:[\w*{}\s,$]+?\s*from\s*)?[\"']" + URLISH + r"[\"']"),
    re.compile(r"\bexport\s*[\w*{}\s,$]*?\s*from\s*[\"']" + URLISH + r"[\"']"),
    re.compile(r"\bimport\(\s*[\"'`]" + URLISH + r"[\"'`]\s*\)"),
    re.compile(r"\bimportScripts\(\s*[\"'`]" + URLISH),
    re.compile(r"\bnew\s+(?:Shared)?Worker\(\s*[\"'`]" + URLISH),
)
JS_CALLS = (
    re.compile(r"\b(?:fetch|EventSource|WebSocket|sendBeacon)\(\s*[\"'`]([^\"'`]+)"),
    re.compile(r"\.open\(\s*[\"'][A-Z]+[\"']\s*,\s*[\"'`]([^\"'`]+)"),  # XMLHttpRequest
    re.compile(r"[\"']?(?:url|validatorUrl|oauth2RedirectUrl)[\"']?\s*:\s*[\"'`]([^\"'`]+)"),
    re.compile(r"[#@]\s*sourceMappingURL=([^\s*'\"\\]+)"),  # only devtools fetch source maps
)
# Our own pages and scripts may name no absolute address at all, fetched or not (XML namespaces aside).
ANY_ABSOLUTE = re.compile(r"(?:https?:)?//(?!www\.w3\.org/)[a-z0-9.-]+\.[a-z]{2,}[/\"'`:]", re.IGNORECASE)
# The one script-built address known to be attempted: ReDoc 2's sidebar renders its vendor's logo from
# a CDN, with no option to hide it. The page's Content-Security-Policy keeps the browser from
# requesting it (the browser test proves no request leaves), and ReDoc hides the broken image.
CSP_BLOCKED_KNOWN = {"https://cdn.redoc.ly/redoc/logo-mini.svg"}
# Defaults inside a vendor bundle that the page's own configuration turns off (each checked below).
OVERRIDDEN_DEFAULTS = {
    # Swagger UI's validator badge: /docs sets validatorUrl to null.
    ("/docs/assets/swagger-ui-bundle.js", "https://validator.swagger.io/validator"),
}


class Page(HTMLParser):
    """URLs in one HTML document: attributes, srcset, meta refresh, inline styles and scripts."""

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.refs: list[str] = []
        self.scripts: list[str] = []
        self.styles: list[str] = []
        self._in: str | None = None

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        values = {name: value or "" for name, value in attrs}
        for name, value in values.items():
            if name in URL_ATTRS or name.endswith("-url") or name == "xlink:href":
                self.refs.append(value)
            elif name in ("srcset", "imagesrcset"):
                self.refs += [part.strip().split(" ")[0] for part in value.split(",") if part.strip()]
            elif name == "style":
                self.styles.append(value)
        if tag == "meta" and values.get("http-equiv", "").lower() == "refresh":
            self.refs.append(values.get("content", "").partition("url=")[2])
        self._in = tag if tag in ("script", "style") else None

    def handle_endtag(self, tag: str) -> None:
        self._in = None

    def handle_data(self, data: str) -> None:
        if self._in == "script":
            self.scripts.append(data)
        elif self._in == "style":
            self.styles.append(data)


def css_refs(text: str) -> list[str]:
    return [m.strip() for pattern in CSS_REFS for m in pattern.findall(text)]


def js_refs(text: str, patterns: tuple[re.Pattern[str], ...] = JS_LOADS + JS_CALLS) -> list[str]:
    return [m for pattern in patterns for m in pattern.findall(text)]


def is_own(base: str, url: str) -> bool:
    """Relative, same origin, or inline (data:, blob: of this page, a fragment)."""
    if not url or url.startswith("#"):
        return True
    if url.startswith("${"):  # a template literal's computed part: the prefix before it was checked
        return True
    parts = urlsplit(urljoin(base, url))
    if parts.scheme in ("data", "blob", "about", "mailto"):  # mailto: opens the mail client, no fetch
        return True
    own = urlsplit(base)
    return (parts.scheme, parts.netloc) == (own.scheme, own.netloc)


def html_pages(service: str) -> list[str]:
    """The pages every service serves, the board, and any GET of its OpenAPI document answering HTML."""
    pages = list(DOC_PAGES)
    if service == "scoring":
        pages.append(BOARD)
    for path, methods in openapi(service)["paths"].items():
        get = methods.get("get", {})
        types = {t for r in get.get("responses", {}).values() for t in r.get("content", {})}
        if "text/html" in types and "{" not in path:
            pages.append(path)
    return pages


def crawl(service: str) -> tuple[dict[str, str], list[tuple[str, str]]]:
    """Every page and asset reachable from the service's pages: url -> content type, and the outsiders."""
    base = URLS[service]
    queue = [base + page for page in html_pages(service)]
    seen: dict[str, str] = {}
    external: list[tuple[str, str]] = []
    with httpx.Client(timeout=30) as client:
        while queue:
            url = queue.pop()
            if url in seen:
                continue
            response = client.get(url)
            assert response.status_code == 200, (url, response.status_code)  # a broken link fails too
            kind = response.headers["content-type"].split(";")[0]
            seen[url] = kind
            text = response.text if kind.startswith(("text/", "application/javascript")) else ""
            loads: list[str] = []  # followed
            calls: list[str] = []  # only checked
            if kind == "text/html":
                page = Page()
                page.feed(text)
                loads = page.refs + [r for s in page.styles for r in css_refs(s)]
                loads += [r for s in page.scripts for r in js_refs(s, JS_LOADS)]
                calls = [r for s in page.scripts for r in js_refs(s, JS_CALLS)]
                assert not [s for s in page.scripts if ANY_ABSOLUTE.search(s)], (url, page.scripts)
            elif kind == "text/css":
                loads = css_refs(text)
            elif kind in ("text/javascript", "application/javascript"):
                loads, calls = js_refs(text, JS_LOADS), js_refs(text, JS_CALLS)
                if "/docs/assets/" not in url:  # our own code, not a vendor bundle
                    assert not ANY_ABSOLUTE.findall(text), (url, ANY_ABSOLUTE.findall(text))
            path = urlsplit(url).path
            external += [
                (url, ref)
                for ref in loads + calls
                if not is_own(url, ref) and (path, ref) not in OVERRIDDEN_DEFAULTS
            ]
            for ref in loads:
                target, _ = urldefrag(urljoin(url, ref))
                if is_own(url, ref) and urlsplit(target).scheme in ("http", "https"):
                    queue.append(target)
    return seen, external


@pytest.mark.parametrize("service", SERVICES)
def test_no_page_or_asset_refers_outside_the_service(service):
    seen, external = crawl(service)
    assert not external, external
    pages = [url for url, kind in seen.items() if kind == "text/html"]
    assert len(pages) >= 2 and any(url.endswith("/docs") for url in pages), seen
    assets = [url for url, kind in seen.items() if kind != "text/html"]
    assert any(url.endswith("swagger-ui-bundle.js") for url in assets), seen  # the crawl found the assets
    assert any(url.endswith("redoc.standalone.js") for url in assets), seen
    assert any(url.endswith("openapi.json") for url in assets), seen
    if service == "scoring":
        assert any("/board/static/js/" in url for url in assets), seen  # the board's modules, followed


@pytest.mark.parametrize("service", SERVICES)
def test_swagger_ui_calls_no_validator_and_redoc_loads_no_fonts(service):
    docs = httpx.get(URLS[service] + "/docs", timeout=30).text
    assert '"validatorUrl": null' in docs  # Swagger UI's default sends the spec's URL to swagger.io
    redoc = httpx.get(URLS[service] + "/redoc", timeout=30).text
    assert "fonts.googleapis.com" not in redoc and "fonts.gstatic.com" not in redoc


@pytest.mark.parametrize("service", SERVICES)
def test_every_page_forbids_the_browser_any_other_origin(service):
    fetch_directives = ("default-src", "script-src", "style-src", "img-src", "font-src", "connect-src")
    for page in html_pages(service):
        csp = httpx.get(URLS[service] + page, timeout=30).headers["content-security-policy"]
        directives = {d.split()[0]: d.split()[1:] for d in csp.split(";") if d.strip()}
        assert directives["default-src"] == ["'self'"], (page, csp)
        for name in fetch_directives:
            for source in directives.get(name, []):
                assert source in ("'self'", "'none'", "'unsafe-inline'", "data:") or source.startswith(
                    "'sha256-"
                ), (page, name, source)
        assert set(directives.get("worker-src", ["'self'"])) <= {"'self'", "blob:"}, (page, csp)


RECORD_VIOLATIONS = """
window.__blocked = [];
document.addEventListener("securitypolicyviolation", (e) => window.__blocked.push(e.blockedURI));
"""
# What shows once each page has loaded its document and rendered it.
RENDERED = {"/docs": ".swagger-ui .info .title", "/redoc": "redoc h1", BOARD: "body"}


async def load(browser: Browser, base: str, path: str) -> tuple[list[str], list[str], list[str], bool]:
    """One page opened with requests outside its origin refused: outside, inside, CSP-blocked, rendered."""
    own = urlsplit(base).netloc
    outside: list[str] = []
    inside: list[str] = []

    async def gate(route: Route, request: Request) -> None:
        parts = urlsplit(request.url)
        if parts.scheme in ("data", "blob") or parts.netloc == own:
            inside.append(request.url)
            await route.continue_()
        else:
            outside.append(request.url)
            await route.abort()

    context = await browser.new_context()
    try:
        await context.route("**/*", gate)
        await context.add_init_script(RECORD_VIOLATIONS)
        page = await context.new_page()
        await page.goto(base + path, wait_until="networkidle", timeout=60_000)
        try:
            await page.wait_for_selector(RENDERED.get(path, "body"), timeout=30_000)
            await page.wait_for_load_state("networkidle")
            rendered = True
        except PlaywrightTimeout:  # said after what matters more: whether it asked outside
            rendered = False
        blocked = await page.evaluate("window.__blocked")
    finally:
        await context.close()
    return outside, inside, blocked, rendered


@pytest.mark.parametrize("service", SERVICES)
async def test_a_browser_loading_each_page_requests_nothing_from_outside(browser, service):
    for path in html_pages(service):
        outside, inside, blocked, rendered = await load(browser, URLS[service], path)
        assert not outside, (path, outside)
        assert rendered, (path, inside)
        assert set(blocked) <= CSP_BLOCKED_KNOWN, (path, blocked)
        assert any(url.endswith("/openapi.json") for url in inside) or path == BOARD, (path, inside)
