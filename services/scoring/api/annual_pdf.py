"""The year-end report as a PDF (reportlab): a title page, the ranking with bar charts, then the
sections of annual_sections. Pure apart from the bytes it returns; run it off the event loop."""

import io
from typing import Any

from reportlab.lib import colors
from reportlab.lib.pagesizes import A4
from reportlab.lib.units import mm
from reportlab.pdfgen.canvas import Canvas
from reportlab.platypus import KeepTogether, PageBreak, SimpleDocTemplate, Spacer
from reportlab.platypus.flowables import Flowable

from services.scoring.api.annual_chart import bar_chart
from services.scoring.api.annual_content import CHART_BARS, AnnualContent, Ranked, figure
from services.scoring.api.annual_layout import DIMENSION_ZH, MARGIN, WIDTH, Styles
from services.scoring.api.annual_sections import advanced_section, compliance_section, stats_section
from services.scoring.core.rulebook import DIMENSIONS

PRODUCER = "court-partybuilding-scores scoring-api"
TIME = "%Y-%m-%d %H:%M (UTC+8)"


def title_page(c: AnnualContent, s: Styles) -> list[Flowable]:
    scope = f"{c.title_name}（{c.court}）" if c.court else f"{c.city} 全市两级法院 all courts of the city"
    facts = [
        ["法院 Court", s.p(scope, s.cell)],
        ["年度 Year", c.year],
        ["生成日期 Generated", c.generated_at.strftime(TIME)],
        ["数据截至 Data as of", c.data_as_of.strftime(TIME) if c.data_as_of else "—"],
        ["评分细则版本 Rulebook version", c.rulebook_version],
        ["登记党支部 Registered branches", figure(c.compliance_head.get("total_branches", 0))],
    ]
    return [
        Spacer(1, 45 * mm),
        s.p(c.title_name, s.title),
        s.p(f"{c.year}年度党支部考评报告", s.title),
        s.p(f"Year-end assessment of the Party branches (党支部), {c.year}", s.subtitle),
        Spacer(1, 18 * mm),
        s.facts(facts),
        Spacer(1, 10 * mm),
        s.p("内容：一、排名与得分　二、组织生活合规　三、先进党支部候选　四、三项工作数据", s.small),
        s.p(
            "Contents: 1 ranking and scores, 2 required cadences, 3 advanced-branch candidates, 4 figures "
            "of the three streams. Scores are points per member, as the leaders' API answers them.",
            s.small,
        ),
        *[s.p(note, s.small) for note in c.notes],
        PageBreak(),
    ]


def ranking_section(c: AnnualContent, s: Styles) -> list[Flowable]:
    """The ranking by the total (every dimension beside it), then a bar chart per dimension."""
    total, city = c.rankings[0], c.court is None
    dims = ("total", *DIMENSIONS)
    head = ["名次 Rank", "党支部 Branch", *(["法院 Court"] if city else []), "党员 Members"]
    rows: list[list[Any]] = [[s.p(h, s.head) for h in (*head, *(DIMENSION_ZH[d] for d in dims))]]
    for r in total.rows:
        court = [s.p(r["court"] or "", s.cell)] if city else []
        scores = [f"{r['scores'][d]:.2f}" for d in dims]
        rows.append([r["rank"], s.p(r["name"], s.cell), *court, r["members"], *scores])
    shares = [0.07, 0.21 if city else 0.33, *([0.12] if city else []), 0.1, *[0.1] * 5]
    n, listed = total.total_branches, len(total.rows)
    shown = f"列出前 {listed} 名 the first {listed} listed" if listed < n else "全部列出 all listed"
    return [
        s.p("一、排名与得分 Ranking and scores", s.h1),
        s.p(
            f"按总分排名，共 {n} 个支部（{shown}）；人均积分，同分同名次。Ranked by the total: {n} "
            "branches; points per member; equal scores share a rank.",
            s.body,
        ),
        s.table(rows, shares),
        *(chart(r, s) for r in c.rankings),
    ]


def chart(r: Ranked, s: Styles) -> Flowable:
    """The first CHART_BARS branches of one dimension's ranking as bars."""
    bars = [(row["name"], float(row["score"])) for row in r.rows[:CHART_BARS]]
    title = s.p(f"{DIMENSION_ZH[r.dimension]}：前 {len(bars)} 名 top {len(bars)}", s.h2)
    body = bar_chart(bars, WIDTH, s.font) if bars else s.p("（无得分 no scores）", s.small)
    return KeepTogether([title, body])


def render(c: AnnualContent, font: str) -> bytes:
    """The report as PDF bytes, in `font` (a registered CJK TrueType font, embedded as a subset)."""
    s = Styles(font)
    out = io.BytesIO()

    def footer(canvas: Canvas, doc: SimpleDocTemplate) -> None:
        canvas.saveState()
        canvas.setFont(font, 7.5)
        canvas.setFillColor(colors.HexColor("#666666"))
        text = f"{c.title} · 评分细则 Rulebook {c.rulebook_version} · 第 {doc.page} 页 page {doc.page}"
        canvas.drawString(MARGIN, 10 * mm, text)
        canvas.restoreState()

    doc = SimpleDocTemplate(
        out,
        pagesize=A4,
        leftMargin=MARGIN,
        rightMargin=MARGIN,
        topMargin=MARGIN,
        bottomMargin=MARGIN,
        title=c.title,
        author=c.city,
        subject=f"党支部考评 {c.year}",
        creator=PRODUCER,
        producer=PRODUCER,
        initialFontName=font,
        lang="zh-CN",
    )
    story = [
        *title_page(c, s),
        *ranking_section(c, s),
        *compliance_section(c, s),
        *advanced_section(c, s),
        *stats_section(c, s),
        s.p(f"评分细则版本 Rulebook version: {c.rulebook_version}", s.small),
    ]
    doc.build(story, onFirstPage=footer, onLaterPages=footer)
    return out.getvalue()
