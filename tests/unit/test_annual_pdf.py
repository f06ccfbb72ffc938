"""The annual report's PDF layout (no system needed): Chinese text extractable, every font embedded,
no address anywhere, and registry text shown as text, never read as markup."""

import asyncio
import io
import re
import threading
from datetime import UTC, datetime

import pytest
from pypdf import PdfReader

from services.scoring.api import annual_report
from services.scoring.api.annual_content import AnnualContent, Quota, Ranked, figure, worst_first
from services.scoring.api.annual_pdf import render
from services.scoring.api.annual_report import RENDERING, WAITING, Renderer
from services.scoring.api.pdf_font import CANDIDATES, FontMissing, font_path, register
from services.scoring.core.rulebook import DIMENSIONS
from shared.problems import Problem

HOSTILE = "审判<b>一</b>庭 & <font name=x>党支部</font>"


def row(rank: int, branch: str, name: str, total: float) -> dict:
    scores = {d: total + i for i, d in enumerate(DIMENSIONS, 1)} | {"total": total}
    return {
        "rank": rank,
        "branch_id": branch,
        "name": name,
        "court": "cz-test",
        "members": 7,
        "score": total,
        "registered": True,
        "scores": scores,
    }


def content(rows: list[dict]) -> AnnualContent:
    items = [
        {
            "kind": "lecture_hall",
            "label": "政治理论及业务学习大讲堂 the monthly lecture hall",
            "window": f"2024-{m:02d}",
            "needed": 1,
            "done": 0,
            "status": "overdue",
            "colour": "red",
        }
        for m in range(1, 9)
    ]
    compliance = [
        {
            "branch_id": r["branch_id"],
            "name": r["name"],
            "court": "cz-test",
            "colour": "red",
            "done_share": 0.25,
            "items": items,
        }
        for r in rows
    ]
    stats = {
        "from_month": "2024-01",
        "to_month": "2024-12",
        "court": "cz-test",
        "branches": 2,
        "streams": {
            "liaison": {
                "records": 7,
                "hours": 0.0,
                "kinds": {
                    "visit": {"label": "走访 a visit", "count": 5, "hours": 0.0},
                    "judicial_suggestion": {"label": "司法建议", "count": 2, "hours": 0.0},
                },
            },
            "volunteer": {
                "records": 3,
                "hours": 10.5,
                "kinds": {"legal_publicity": {"label": "法治宣传", "count": 3, "hours": 10.5}},
            },
        },
    }
    return AnnualContent(
        year="2024",
        court="cz-test",
        title_name="测试市人民法院",
        city="测试市 Test city",
        generated_at=datetime(2024, 12, 31, 8, tzinfo=UTC),
        rulebook_version="2024.test-7",
        data_as_of=None,
        rankings=[Ranked(d, len(rows), rows) for d in ("total", *DIMENSIONS)],
        compliance_head={
            "period": "2024",
            "as_of_month": "2024-12",
            "total_branches": len(rows),
            "colours": {"green": 0, "yellow": 0, "red": len(rows)},
        },
        compliance_rows=compliance,
        advanced_rule="Eligible: …",
        quota=Quota("本院 court", len(rows), 0.2, 1, 1, 0.8),
        picks=[
            {
                "rank": 1,
                "branch_id": rows[0]["branch_id"],
                "name": rows[0]["name"],
                "total": rows[0]["score"],
                "compliance": 1.0,
            }
        ],
        stats=stats,
    )


@pytest.fixture(scope="module")
def font() -> str:
    return register(font_path(None))


def test_the_report_reads_back_with_its_chinese_text_and_figures(font):
    pdf = render(content([row(1, "t-1", "民一庭党支部", 34.4469), row(2, "t-2", HOSTILE, 12.5)]), font)
    text = "".join(page.extract_text() for page in PdfReader(io.BytesIO(pdf)).pages)
    flat = re.sub(r"\s+", "", text)
    for expected in (
        "测试市人民法院",
        "2024年度党支部考评报告",
        "民一庭党支部",
        "34.45",
        "2024.test-7",
        "10.5",
        "名额1个",
        "登记支部2个×比例20%=0.40",
    ):
        assert expected in flat, expected
    assert "<b>" in text and "&" in text  # the hostile name is shown as written, not read as markup


def test_every_font_is_embedded_and_nothing_points_outside(font):
    pdf = render(content([row(1, "t-1", "民一庭党支部", 3.0)]), font)
    reader = PdfReader(io.BytesIO(pdf))
    seen = 0
    for page in reader.pages:
        for f in page["/Resources"]["/Font"].values():
            f = f.get_object()
            descriptors = [f.get("/FontDescriptor")] + [
                d.get_object().get("/FontDescriptor") for d in f.get("/DescendantFonts", [])
            ]
            files = [d.get_object() for d in descriptors if d is not None]
            assert any("/FontFile2" in d for d in files), f  # TrueType glyphs in the file itself
            seen += 1
    assert seen
    assert not re.search(rb"https?://|/URI\b|/Launch\b|/GoToR\b", pdf)
    text = "".join(page.extract_text() for page in reader.pages)
    assert not re.search(r"https?://|www\.", text)


def test_a_long_city_list_is_cut_and_red_comes_first():
    colours = ["green", "red", "yellow", "red"]
    assert worst_first(colours, ["a", "b", "c", "d"], 3) == [1, 3, 2]
    assert [figure(x) for x in (3, 3.0, 10.5, 2.25, 1.005)] == ["3", "3", "10.5", "2.25", "1"]


def test_no_font_is_a_clear_error(tmp_path):
    with pytest.raises(FontMissing, match="SCORING_API_REPORT_FONT"):
        font_path(tmp_path / "missing.ttc")
    assert any(p.is_file() for p in CANDIDATES)  # provisioned here (fonts-wqy-microhei)


async def test_a_server_without_the_font_answers_503_saying_what_to_install(tmp_path):
    renderer = Renderer(tmp_path / "missing.ttc")
    with pytest.raises(Problem) as refused:
        renderer.font()
    assert refused.value.status == 503 and "SCORING_API_REPORT_FONT" in refused.value.detail


async def test_reports_are_laid_out_one_at_a_time_and_a_full_queue_is_503(monkeypatch):
    release, started = threading.Event(), threading.Event()
    monkeypatch.setattr(
        annual_report, "_render", lambda path, content: (started.set(), release.wait(30), b"%PDF")[2]
    )
    renderer = Renderer(None)
    queued = [
        asyncio.create_task(renderer.pdf(content([row(1, "t-1", "一支部", 1.0)])))
        for _ in range(RENDERING + WAITING)
    ]
    await asyncio.to_thread(started.wait, 30)
    with pytest.raises(Problem) as busy:
        await renderer.pdf(content([row(1, "t-1", "一支部", 1.0)]))
    assert busy.value.status == 503 and busy.value.headers == {"Retry-After": "5"}
    release.set()
    assert await asyncio.gather(*queued) == [b"%PDF"] * (RENDERING + WAITING)
