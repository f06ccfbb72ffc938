"""The figures against their targets: a printed table and var/bench/results.json."""

import importlib.metadata
import json
import math
import os
import platform
import re
from collections.abc import Callable

from bench.config import KAFKA_LIBS, OUT, ROOT

# figure -> (target as text, check on all figures)
TARGETS: dict[str, tuple[str, Callable[[dict], bool]]] = {
    "rescore_vs_raw": (">= 0.5", lambda f: f["rescore_vs_raw"] >= 0.5),
    "rescore_eps": (">= 10,000", lambda f: f["rescore_eps"] >= 10_000),
    "intake_batch_eps": (
        ">= 0.5 x raw_produce_eps",
        lambda f: f["intake_batch_eps"] >= 0.5 * f["raw_produce_eps"],
    ),
    "intake_single_p99_ms": ("<= 50 at 300/s", lambda f: f["intake_single_p99_ms"] <= 50),
    "intake_single_max_eps": (">= 300", lambda f: f["intake_single_max_eps"] >= 300),
    "live_p99_ms": ("<= 1000", lambda f: f["live_p99_ms"] <= 1000),
    "ranking_p99_ms": ("<= 50 at 500/s", lambda f: f["ranking_p99_ms"] <= 50),
    "ranking_max_rps": (">= 500", lambda f: f["ranking_max_rps"] >= 500),
    "compliance_p99_ms": ("<= 100", lambda f: f["compliance_p99_ms"] <= 100),
    "advanced_p99_ms": ("<= 100", lambda f: f["advanced_p99_ms"] <= 100),
    "worker_rss_mb": ("<= 300", lambda f: f["worker_rss_mb"] <= 300),
}
ORDER = [
    "java_consume_eps", "java_produce_eps", "raw_consume_eps", "rescore_eps", "rescore_vs_raw",
    "intake_single_p99_ms", "intake_single_max_eps", "intake_batch_eps", "raw_produce_eps",
    "live_p50_ms", "live_p99_ms", "ranking_p99_ms", "ranking_max_rps", "compliance_p99_ms", "advanced_p99_ms",
    "worker_rss_mb", "api_rss_mb",
]  # fmt: skip


def versions() -> dict[str, str]:
    kafka = next((m.group(1) for p in KAFKA_LIBS.glob("kafka-clients-*.jar")
                  if (m := re.match(r"kafka-clients-(.+)\.jar", p.name))), "unknown")  # fmt: skip
    go_mod = (ROOT / "deploy" / "ferretdb" / "go.mod").read_text()
    ferretdb = m.group(1) if (m := re.search(r"FerretDB/FerretDB (v\S+)", go_mod)) else "unknown"
    python_packages = {p: importlib.metadata.version(p) for p in ("aiokafka", "faust-streaming", "pymongo")}
    return {"kafka": kafka, "python": platform.python_version(), **python_packages, "ferretdb": ferretdb}


def verdict(name: str, figures: dict) -> str:
    target = TARGETS.get(name)
    if target is None:
        return ""
    try:
        return "pass" if target[1](figures) else "MISS"
    except (KeyError, TypeError):
        return "n/a"


def table(figures: dict, flags: dict[str, str]) -> str:
    rows = [("figure", "value", "target", "", "note")]
    for name in ORDER:
        value = figures.get(name)
        shown = "-" if value is None or (isinstance(value, float) and math.isnan(value)) else f"{value:,}"
        rows.append((name, shown, TARGETS.get(name, ("",))[0], verdict(name, figures), flags.get(name, "")))
    widths = [max(len(r[i]) for r in rows) for i in range(4)]
    return "\n".join(
        "  ".join(c.ljust(w) for c, w in zip(r, widths, strict=False)) + "  " + r[4] for r in rows
    )


def write(figures: dict, flags: dict[str, str], details: dict, partial: bool) -> str:
    """results.json: one number per figure, cores, versions, flags, then the details of each run."""
    OUT.mkdir(parents=True, exist_ok=True)
    doc = {name: figures[name] for name in ORDER if name in figures}
    doc |= {"cores": os.cpu_count(), "versions": versions(), "partial": partial, "flags": flags}
    doc["targets"] = {
        name: {"target": t[0], "verdict": verdict(name, figures)} for name, t in TARGETS.items()
    }
    doc["details"] = details
    path = OUT / "results.json"
    path.write_text(json.dumps(doc, indent=2, ensure_ascii=False, default=str))
    return str(path.relative_to(ROOT))
