"""No component phones home or loads from outside the deployment (issue #16, 法院专网).

Read from the files that configure them: Grafana's dashboards and provisioning, docker-compose's
settings, FerretDB's embedding, Prometheus's configs, and the browser the tests drive.
"""

import json
import re
from pathlib import Path
from typing import Any

import pytest
import yaml

from tests.browser import CHROMIUM_ARGS
from tests.unit.test_compose import COMPOSE, environment
from tests.unit.test_grafana import DASHBOARDS, GRAFANA, panels

ROOT = Path(__file__).resolve().parents[2]
URL = re.compile(r"[a-z][a-z0-9+.-]*://[^\s\"']+", re.IGNORECASE)
# Panels Grafana ships that draw from the data alone. Not here: news (an RSS feed from outside),
# geomap (map tiles from outside) and anything from grafana.com's plugin catalogue.
BUILT_IN_PANELS = {
    "timeseries", "stat", "gauge", "table", "bargauge", "text", "row", "piechart", "barchart",
    "heatmap", "histogram", "state-timeline", "status-history", "dashlist", "alertlist",
}  # fmt: skip
BUILT_IN_DATASOURCES = {"prometheus", "grafana", "dashboard", "datasource"}
GRAFANA_OFFLINE = {
    "GF_ANALYTICS_REPORTING_ENABLED": "false",
    "GF_ANALYTICS_CHECK_FOR_UPDATES": "false",
    "GF_ANALYTICS_CHECK_FOR_PLUGIN_UPDATES": "false",
    "GF_ANALYTICS_FEEDBACK_LINKS_ENABLED": "false",
    "GF_NEWS_NEWS_FEED_ENABLED": "false",
    "GF_PLUGINS_PREINSTALL_DISABLED": "true",
    "GF_PLUGINS_PUBLIC_KEY_RETRIEVAL_DISABLED": "true",
    "GF_SNAPSHOTS_EXTERNAL_ENABLED": "false",
    "GF_SECURITY_DISABLE_GRAVATAR": "true",
}


def strings(node: Any) -> list[str]:
    """Every string value in a JSON or YAML document."""
    if isinstance(node, str):
        return [node]
    if isinstance(node, dict):
        return [s for value in node.values() for s in strings(value)]
    if isinstance(node, list):
        return [s for value in node for s in strings(value)]
    return []


def datasource_types(node: Any) -> list[str]:
    if isinstance(node, dict):
        found = [node["datasource"]["type"]] if isinstance(node.get("datasource"), dict) else []
        return found + [t for value in node.values() for t in datasource_types(value)]
    if isinstance(node, list):
        return [t for value in node for t in datasource_types(value)]
    return []


@pytest.mark.parametrize("path", DASHBOARDS, ids=lambda p: p.name)
def test_dashboards_use_built_in_panels_and_name_no_address(path: Path) -> None:
    dashboard = json.loads(path.read_text())
    assert {panel["type"] for panel in panels(dashboard)} <= BUILT_IN_PANELS
    assert set(datasource_types(dashboard)) <= BUILT_IN_DATASOURCES
    assert not dashboard.get("__requires") and not dashboard.get("gnetId")  # nothing from grafana.com
    assert not [s for s in strings(dashboard) if URL.search(s)]
    assert all(not link.get("url") for link in dashboard.get("links", [])), dashboard["links"]


def test_grafana_provisioning_reaches_only_compose_services() -> None:
    for path in sorted((GRAFANA / "provisioning").rglob("*.yml")):
        for value in strings(yaml.safe_load(path.read_text())):
            for url in URL.findall(value):
                host = url.split("://", 1)[1].split("/")[0].split(":")[0]
                assert host in COMPOSE, (path.name, url)
    assert "GF_INSTALL_PLUGINS" not in environment("grafana")


def test_grafana_sends_nothing_out() -> None:
    env = environment("grafana")
    assert {name: env.get(name) for name in GRAFANA_OFFLINE} == GRAFANA_OFFLINE


def test_mongosh_in_the_mongodb_container_has_telemetry_forced_off() -> None:
    mounts = dict(reversed(v.split(":")[:2]) for v in COMPOSE["mongodb"]["volumes"] if v.startswith("./"))
    settings = yaml.safe_load((ROOT / mounts["/etc/mongosh.conf"]).read_text())
    assert settings == {"mongosh": {"forceDisableTelemetry": True}}


def test_ferretdb_runs_embedded_which_has_no_telemetry_reporter() -> None:
    main = (ROOT / "deploy" / "ferretdb" / "main.go").read_text()
    assert '"github.com/FerretDB/FerretDB/ferretdb"' in main and "cmd/ferretdb" not in main.split("import")[1]
    # The embeddable package creates no reporter and locks telemetry off (the module provisioning built).
    built = ROOT / "var" / "ferretdb-build" / "FerretDB" / "ferretdb" / "ferretdb.go"
    source = built.read_text()
    assert "s.DisableTelemetry()" in source and "s.TelemetryLocked = true" in source


@pytest.mark.parametrize("name", ["prometheus.yml", "prometheus.local.yml"])
def test_prometheus_writes_and_alerts_nowhere_outside(name: str) -> None:
    config = yaml.safe_load((ROOT / "deploy" / "prometheus" / name).read_text())
    assert not config.get("remote_write") and not config.get("remote_read")
    targets = [
        target
        for job in config["scrape_configs"]
        for static in job.get("static_configs", [])
        for target in static["targets"]
    ]
    hosts = {target.rsplit(":", 1)[0] for target in targets}
    assert hosts <= {"127.0.0.1", "localhost", *COMPOSE}, hosts
    assert not config.get("alerting", {}).get("alertmanagers")


def test_the_test_browser_makes_no_background_calls() -> None:
    assert {"--disable-background-networking", "--disable-component-update", "--disable-sync"} <= set(
        CHROMIUM_ARGS
    )
