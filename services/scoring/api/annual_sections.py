"""The annual PDF's sections after the ranking: compliance in its colours, the advanced-branch
candidates with the quota arithmetic, and the figures of the three streams."""

from typing import Any

from reportlab.platypus.flowables import Flowable

from services.scoring.api.annual_content import AnnualContent, figure
from services.scoring.api.annual_layout import Styles

COLOUR_ZH = {"green": "绿 green", "yellow": "黄 yellow", "red": "红 red"}
STREAM_ZH = {
    "liaison": "法官联系人 Liaison",
    "training": "学习培训 Training",
    "volunteer": "志愿服务 Volunteer",
}
OVERDUE_LISTED = 6
# The article's kind of figures: (label, stream, kind or None for the stream's total, count or hours).
KEY_FIGURES = (
    ("走访 Visits", "liaison", "visit", "count"),
    ("司法建议 Judicial suggestions", "liaison", "judicial_suggestion", "count"),
    ("诉前化解 Pre-litigation resolutions", "liaison", "pre_litigation_resolution", "count"),
    ("志愿服务人次 Volunteer deployments", "volunteer", None, "records"),
    ("志愿服务时长（小时）Volunteer hours", "volunteer", None, "hours"),
    ("学习培训与组织生活 Training and meetings", "training", None, "records"),
)


COMPLIANCE_HEAD = (
    "党支部 Branch",
    "颜色 Colour",
    "完成率 Done share",
    "已完成 Done",
    "未到期 Due",
    "逾期 Overdue",
)


def overdue(items: list[dict[str, Any]]) -> str:
    """The overdue windows, by kind: "党课 2022-Q1、2022-Q2；…" (at most OVERDUE_LISTED windows)."""
    by_kind: dict[str, list[str]] = {}
    late = [item for item in items if item["status"] == "overdue"]
    for item in late[:OVERDUE_LISTED]:
        by_kind.setdefault(item["label"].split()[0], []).append(item["window"])
    text = "；".join(f"{kind} {'、'.join(windows)}" for kind, windows in by_kind.items())
    return text + (f" 等 {len(late)} 项 ({len(late)} in all)" if len(late) > OVERDUE_LISTED else "")


def compliance_section(c: AnnualContent, s: Styles) -> list[Flowable]:
    """Each listed branch's colour (the worst of its windows), done share and overdue windows."""
    head, colours = c.compliance_head, c.compliance_head.get("colours", {})
    counts = "，".join(f"{COLOUR_ZH[k]} {colours.get(k, 0)}" for k in ("red", "yellow", "green"))
    n, listed = head.get("total_branches", 0), len(c.compliance_rows)
    rows: list[list[Any]] = [[s.p(h, s.head) for h in (*COMPLIANCE_HEAD, "逾期项目 Overdue windows")]]
    fills = []
    for i, b in enumerate(c.compliance_rows, 1):
        status = [item["status"] for item in b["items"]]
        counted = [status.count(x) for x in ("done", "due", "overdue")]
        colour = COLOUR_ZH.get(b["colour"], b["colour"])
        late = s.p(overdue(b["items"]), s.cell)
        rows.append([s.p(b["name"], s.cell), colour, f"{b['done_share']:.0%}", *counted, late])
        fills.append((1, i, b["colour"]))
    shown = f"列出 {listed} 个，红色在前 {listed} listed, red first" if listed < n else "全部列出 all listed"
    return [
        s.p("二、组织生活合规 Required cadences (三会一课等)", s.h1),
        s.p(
            f"截至 {head.get('as_of_month', '')}，共 {n} 个支部：{counts}（{shown}）。颜色取各窗口中最差者："
            "绿为已完成，黄为窗口未结束尚未完成，红为逾期。A branch's colour is the worst of its windows: "
            "green done, yellow due (window still open), red overdue.",
            s.body,
        ),
        s.table(rows, [0.22, 0.09, 0.09, 0.08, 0.08, 0.08, 0.36], fills),
    ]


def advanced_section(c: AnnualContent, s: Styles) -> list[Flowable]:
    """The quota worked out in numbers, then the candidates."""
    q = c.quota
    arithmetic = (
        f"{q.scope}：登记支部 {q.branches} 个 × 比例 {q.share:.0%} = {q.branches * q.share:.2f}，"
        f"向上取整且至少 1 个 → 名额 {q.places} 个；其中合规率 ≥ {q.min_compliance:.0%} 且总分 > 0 的"
        f"支部 {q.eligible} 个可入选；候选 {len(c.picks)} 个（边界并列者一并列入）。"
        f" Quota: {q.branches} registered branches × {q.share:.0%} = {q.branches * q.share:.2f}, rounded up "
        f"(at least 1) = {q.places} places; {q.eligible} branches eligible; {len(c.picks)} named."
    )
    rows: list[list[Any]] = [
        [s.p(h, s.head) for h in ("名次 Rank", "党支部 Branch", "总分 Total", "合规率 Compliance")]
    ]
    rows += [
        [p["rank"], s.p(p["name"], s.cell), f"{p['total']:.2f}", f"{p['compliance']:.0%}"] for p in c.picks
    ]
    return [
        s.p("三、先进党支部候选 Advanced-branch candidates", s.h1),
        s.p(arithmetic, s.body),
        s.p(c.advanced_rule, s.small),
        s.table(rows, [0.12, 0.5, 0.19, 0.19]) if c.picks else s.p("（无候选 no candidates）", s.small),
    ]


def stats_section(c: AnnualContent, s: Styles) -> list[Flowable]:
    """The year's key figures, then every kind of each stream."""
    streams = c.stats.get("streams", {})

    def value(stream: str, kind: str | None, field: str) -> str:
        found = streams.get(stream, {})
        if kind is not None:
            found = found.get("kinds", {}).get(kind, {})
        return figure(found.get(field, 0))

    key = [[label, value(stream, kind, field)] for label, stream, kind, field in KEY_FIGURES]
    key.append(["参与支部 Branches with records", figure(c.stats.get("branches", 0))])
    rows: list[list[Any]] = [
        [s.p(h, s.head) for h in ("数据流 Stream", "类别 Kind", "次数 Count", "时长 Hours")]
    ]
    for stream, total in streams.items():
        rows.append(
            [STREAM_ZH.get(stream, stream), "合计 total", figure(total["records"]), figure(total["hours"])]
        )
        rows += [
            ["", s.p(k["label"], s.cell), figure(k["count"]), figure(k["hours"])]
            for k in total["kinds"].values()
        ]
    return [
        s.p("四、三项工作数据 Figures of the three streams", s.h1),
        s.p(
            f"{c.stats.get('from_month')} 至 {c.stats.get('to_month')}，按记录发生时间（北京时间）统计。"
            "Records by the time they happened (Asia/Shanghai).",
            s.body,
        ),
        s.facts(key, (0.6, 0.4)),
        s.p("分类明细 Every kind", s.h2),
        s.table(rows, [0.2, 0.5, 0.15, 0.15]),
    ]
