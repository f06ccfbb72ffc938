"""shared/docs.py: the API documentation pages load their assets from the service, never a CDN."""

import base64
import hashlib
import re

import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient

from shared.docs import ASSET_PATH, ASSET_TYPES, install_docs
from shared.problems import install as install_problems


@pytest.fixture(scope="module")
def client() -> TestClient:
    app = FastAPI(title="Docs test (文档)", docs_url=None, redoc_url=None)
    install_problems(app)
    install_docs(app)
    return TestClient(app)


def refs(html: str) -> list[str]:
    return re.findall(r'(?:src|href|spec-url)="([^"]*)"', html)


@pytest.mark.parametrize("page", ["/docs", "/redoc"])
def test_pages_refer_to_their_own_assets_only(client, page):
    response = client.get(page)
    assert response.status_code == 200
    found = refs(response.text)
    assert found, response.text
    for ref in found:
        assert ref == "/openapi.json" or ref.startswith(ASSET_PATH + "/"), ref
        assert client.get(ref).status_code == 200, ref
    assert "fonts.googleapis" not in response.text


def test_swagger_ui_has_its_validator_off(client):
    html = client.get("/docs").text
    assert '"validatorUrl": null' in html


def test_inline_scripts_run_by_hash_and_nothing_else_is_allowed(client):
    response = client.get("/docs")
    csp = response.headers["content-security-policy"]
    (script,) = re.findall(r"<script>(.*?)</script>", response.text, re.DOTALL)
    digest = base64.b64encode(hashlib.sha256(script.encode()).digest()).decode()
    assert f"'sha256-{digest}'" in csp
    assert "unsafe-eval" not in csp
    for directive in csp.split("; "):
        for source in directive.split()[1:]:
            assert source in ("'self'", "'none'", "'unsafe-inline'", "data:", "blob:") or source.startswith(
                "'sha256-"
            ), directive


def test_assets_have_their_types_and_nothing_else_is_served(client):
    for name, media_type in ASSET_TYPES.items():
        response = client.get(f"{ASSET_PATH}/{name}")
        assert response.headers["content-type"] == media_type
        assert len(response.content) > 1000
    assert client.get(f"{ASSET_PATH}/__init__.py").status_code == 404
    assert client.get(f"{ASSET_PATH}/..%2Fcore.py").status_code == 404


def test_an_app_with_the_cdn_pages_is_refused():
    with pytest.raises(ValueError, match="docs_url=None"):
        install_docs(FastAPI())
