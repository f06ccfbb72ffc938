"""The body limit per route: evidence uploads may carry a file of up to 10 MB, every other
request keeps the service's limit (a batch of records never needs more)."""

import re

from starlette.types import ASGIApp, Receive, Scope, Send

from shared.contracts import EVIDENCE_MAX_BYTES
from shared.limits import BodyLimit

EVIDENCE_PATH = re.compile(r"^/v1/[a-z]+/[^/]+/evidence$")


class UploadAwareBodyLimit:
    """ASGI middleware: BodyLimit with EVIDENCE_MAX_BYTES for POSTs to an evidence route and
    `max_bytes` for everything else."""

    def __init__(self, app: ASGIApp, max_bytes: int, upload_bytes: int = EVIDENCE_MAX_BYTES):
        self._usual = BodyLimit(app, max_bytes=max_bytes)
        self._upload = BodyLimit(app, max_bytes=upload_bytes)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        upload = scope["type"] == "http" and scope["method"] == "POST" and EVIDENCE_PATH.match(scope["path"])
        await (self._upload if upload else self._usual)(scope, receive, send)
