"""GET /review: the reviewers' queue (审核), a static page in the board's style and under its CSP;
its script and style are served with the board's files (/board/static/review.*)."""

from fastapi import APIRouter
from fastapi.responses import Response

from services.scoring.api.board import MEDIA_TYPES, SECURITY_HEADERS, STATIC


def review_page_router() -> APIRouter:
    router = APIRouter(tags=["review"], include_in_schema=False)
    page = (STATIC / "review.html").read_bytes()

    @router.get("/review")
    async def review() -> Response:
        # Public on purpose, as the board: the page holds no data and asks for a reviewer's token.
        return Response(page, media_type=MEDIA_TYPES[".html"], headers=SECURITY_HEADERS)

    return router
