"""The provisioned Grafana (docker-compose): its datasource, dashboards and compose service agree.

Every panel's expressions may only use metrics the system exports (KNOWN_METRICS).
"""

import json
from pathlib import Path
from typing import Any

import pytest
import yaml

from tests.unit.test_prometheus_rules import KNOWN_METRICS, metric_names

ROOT = Path(__file__).resolve().parents[2]
GRAFANA = ROOT / "deploy" / "grafana"
DASHBOARDS = sorted((GRAFANA / "dashboards").glob("*.json"))
COMPOSE: dict[str, Any] = yaml.safe_load((ROOT / "docker-compose.yml").read_text())["services"]
DATASOURCE = yaml.safe_load((GRAFANA / "provisioning" / "datasources" / "prometheus.yml").read_text())
PROVIDERS = yaml.safe_load((GRAFANA / "provisioning" / "dashboards" / "dashboards.yml").read_text())


def panels(dashboard: dict[str, Any]) -> list[dict[str, Any]]:
    """Every panel, those inside collapsed rows too."""
    found = []
    for panel in dashboard["panels"]:
        found.append(panel)
        found.extend(panel.get("panels", []))
    return found


def mounts(service: str) -> dict[str, str]:
    """Container path -> host path of a compose service's bind mounts."""
    found = {}
    for volume in COMPOSE[service].get("volumes", []):
        source, _, rest = volume.partition(":")
        if source.startswith("."):
            found[rest.split(":")[0]] = source
    return found


def load(path: Path) -> dict[str, Any]:
    dashboard: dict[str, Any] = json.loads(path.read_text())
    return dashboard


def test_there_is_the_branch_scores_dashboard() -> None:
    assert GRAFANA / "dashboards" / "branch-scores.json" in DASHBOARDS
    uids = [load(path)["uid"] for path in DASHBOARDS]
    assert len(uids) == len(set(uids)), uids


@pytest.mark.parametrize("path", DASHBOARDS, ids=lambda p: p.name)
def test_panels_query_only_metrics_that_exist(path: Path) -> None:
    queried = 0
    for panel in panels(load(path)):
        for target in panel.get("targets", []):
            names = metric_names(target["expr"])
            assert names, (panel["title"], target["expr"])
            assert names <= KNOWN_METRICS, (panel["title"], names - KNOWN_METRICS)
            queried += 1
    assert queried > 0


@pytest.mark.parametrize("path", DASHBOARDS, ids=lambda p: p.name)
def test_panels_use_the_provisioned_datasource(path: Path) -> None:
    (datasource,) = DATASOURCE["datasources"]
    for panel in panels(load(path)):
        if panel.get("targets"):
            assert panel["datasource"] == {"type": "prometheus", "uid": datasource["uid"]}, panel["title"]
            for target in panel["targets"]:
                assert target.get("datasource", panel["datasource"]) == panel["datasource"], panel["title"]


@pytest.mark.parametrize("path", DASHBOARDS, ids=lambda p: p.name)
def test_panel_ids_are_unique(path: Path) -> None:
    ids = [panel["id"] for panel in panels(load(path))]
    assert len(ids) == len(set(ids)), ids


def test_the_dashboard_covers_what_operators_and_leaders_watch() -> None:
    dashboard = load(GRAFANA / "dashboards" / "branch-scores.json")
    exprs = [target["expr"] for panel in panels(dashboard) for target in panel.get("targets", [])]
    used = set().union(*(metric_names(expr) for expr in exprs))
    assert used >= {
        "http_requests_total",
        "scoring_end_to_end_delay_seconds_bucket",
        "scoring_consumer_lag",
        "scoring_dead_lettered_total",
        "scoring_mongo_write_seconds_bucket",
        "scoring_events_total",
        "scoring_branch_score",
    }
    for q in ("0.5", "0.95", "0.99"):
        assert any(f"histogram_quantile({q}, " in e and "scoring_end_to_end_delay" in e for e in exprs), q
    assert 'topk(10, scoring_branch_score{dimension="total", period="$period"})' in exprs
    variables = {v["name"]: v for v in dashboard["templating"]["list"]}
    assert variables["period"]["type"] == "textbox"


def test_the_datasource_is_the_compose_prometheus() -> None:
    (datasource,) = DATASOURCE["datasources"]
    assert datasource["type"] == "prometheus"
    assert datasource["url"] == "http://prometheus:9090"
    assert "prometheus" in COMPOSE
    assert any(published.endswith(":9090") for published in COMPOSE["prometheus"]["ports"])


def test_compose_grafana_mounts_the_provisioning_and_the_dashboards() -> None:
    bound = mounts("grafana")
    assert bound["/etc/grafana/provisioning"] == "./deploy/grafana/provisioning"
    (provider,) = PROVIDERS["providers"]
    assert bound[provider["options"]["path"]] == "./deploy/grafana/dashboards"
    for host in bound.values():
        assert (ROOT / host).is_dir(), host


def test_compose_grafana_is_pinned_private_and_on_loopback() -> None:
    grafana = COMPOSE["grafana"]
    repository, _, tag = grafana["image"].removeprefix("${REGISTRY_PREFIX:-}").rpartition(":")
    assert repository == "grafana/grafana"
    assert tag and tag != "latest" and tag[0].isdigit(), grafana["image"]
    assert grafana["ports"] == ["127.0.0.1:3000:3000"]
    env = grafana["environment"]
    assert str(env["GF_AUTH_ANONYMOUS_ENABLED"]).lower() == "false"
    assert env["GF_SECURITY_ADMIN_PASSWORD"].startswith("${GRAFANA_ADMIN_PASSWORD:-")
    assert grafana["depends_on"] == ["prometheus"]
