"""The alerting rules and both Prometheus configs are valid, tested, and use metrics that exist.

Runs promtool (Debian's prometheus package; deploy/local/provision.sh installs it): `check rules`,
`check config` on both configs, and the rule unit tests of deploy/prometheus/alerts.test.yml.
"""

import re
import shutil
import subprocess
from pathlib import Path
from typing import Any

import pytest
import yaml

ROOT = Path(__file__).resolve().parents[2]
PROM = ROOT / "deploy" / "prometheus"
RULES = PROM / "alerts.yml"
RULE_TESTS = PROM / "alerts.test.yml"
CONFIGS = {"docker": PROM / "prometheus.yml", "local": PROM / "prometheus.local.yml"}
SEVERITIES = {"critical", "warning"}

# Every metric the system exports (and `up`, which Prometheus adds per scrape job). Alerts and
# dashboards may only use these; a metric renamed in the code must be renamed here too.
KNOWN_METRICS = {
    "up",
    # every FastAPI service (service = volunteer | liaison | training | scoring-api)
    "http_requests_total",
    "http_request_duration_seconds_bucket",
    # intake services
    "intake_events_published_total",
    "intake_publish_failures_total",
    # scoring worker
    "scoring_events_total",
    "scoring_dead_lettered_total",
    "scoring_end_to_end_delay_seconds_bucket",
    "scoring_mongo_write_seconds_bucket",
    "scoring_mongo_errors_total",
    "scoring_broker_errors_total",
    "scoring_consumer_lag",
    "scoring_assigned_partitions",
    "scoring_oversize_records_total",
    "scoring_records_rejected_total",
    "scoring_batch_failures_total",
    "scoring_routed_total",
    # scoring worker and API: long-lived Kafka readers started over (shared/kafka_watch.py)
    "kafka_reader_restarts_total",
    # scoring API (announced: the top-branches panel waits for it)
    "scoring_branch_score",
    # scoring API: the review queue (审核)
    "scoring_pending_records",
    "scoring_oldest_pending_age_seconds",
    # scoring API: reminders and their webhooks (提醒)
    "reminder_deliveries_total",
    "reminder_delivery_seconds_bucket",
    "reminders_published_total",
    "reminders_scheduler_leader",
}

_PROMQL_WORDS = set(
    "by without on ignoring group_left group_right and or unless offset bool inf nan atan2".split()
)


def metric_names(expr: str) -> set[str]:
    """The metric names a PromQL expression selects (no parser: strings, matchers, ranges and
    label lists are removed first; what is left that is not a function or a keyword is a metric)."""
    text = re.sub(r'"(?:[^"\\]|\\.)*"|\'(?:[^\'\\]|\\.)*\'|`[^`]*`', '""', expr)
    text = re.sub(r"\{[^}]*\}", " ", text)
    text = re.sub(r"\[[^\]]*\]", " ", text)
    text = re.sub(r"\b(by|without|on|ignoring|group_left|group_right)\s*\([^)]*\)", " ", text)
    names = set()
    for match in re.finditer(r"(?<![\w$.])([a-zA-Z_:][a-zA-Z0-9_:]*)(\s*\()?", text):
        name, call = match.groups()
        if not call and name.lower() not in _PROMQL_WORDS:
            names.add(name)
    return names


def promtool(*args: str | Path) -> subprocess.CompletedProcess[str]:
    exe = shutil.which("promtool")
    if exe is None:
        pytest.fail("promtool is not on PATH: run `make provision` (installs Debian's prometheus package)")
    return subprocess.run(
        [exe, *map(str, args)], cwd=ROOT, capture_output=True, text=True, timeout=120, check=False
    )


def assert_ok(result: subprocess.CompletedProcess[str]) -> None:
    assert result.returncode == 0, (
        f"{' '.join(result.args)} exited with {result.returncode}\n{result.stdout}\n{result.stderr}"
    )


def alerting_rules() -> list[dict[str, Any]]:
    groups = yaml.safe_load(RULES.read_text())["groups"]
    return [rule for group in groups for rule in group["rules"] if "alert" in rule]


def rule_test_cases() -> list[dict[str, Any]]:
    tests = yaml.safe_load(RULE_TESTS.read_text())["tests"]
    return [case for test in tests for case in test.get("alert_rule_test", [])]


def test_metric_names_are_found_in_promql() -> None:
    expr = (
        'sum by (service) (rate(http_requests_total{status=~"5..", route!="/x{y}"}[5m])) / on (service)'
        " ignoring(le) histogram_quantile(0.99, sum by (le) (rate(scoring_mongo_write_seconds_bucket"
        '[$__rate_interval]))) > 0.05 and on () count(up{job="w"} offset 5m) or vector(1) unless bool nan'
    )
    assert metric_names(expr) == {"http_requests_total", "scoring_mongo_write_seconds_bucket", "up"}
    assert metric_names('topk(10, scoring_branch_score{period="$period"})') == {"scoring_branch_score"}


def test_the_rules_file_is_valid() -> None:
    assert_ok(promtool("check", "rules", RULES))


@pytest.mark.parametrize("which", sorted(CONFIGS))
def test_the_prometheus_config_is_valid_and_loads_the_rules(which: str) -> None:
    config = CONFIGS[which]
    rule_files = yaml.safe_load(config.read_text())["rule_files"]
    assert rule_files == [RULES.name], f"{config.name}: rule_files relative to its own directory"
    result = promtool("check", "config", config)
    assert_ok(result)
    assert "SUCCESS: 1 rule files found" in result.stdout, result.stdout


def test_the_rule_unit_tests_pass() -> None:
    result = promtool("test", "rules", RULE_TESTS)
    assert_ok(result)
    assert "SUCCESS" in result.stdout


def test_the_rule_tests_load_the_rules_file() -> None:
    assert yaml.safe_load(RULE_TESTS.read_text())["rule_files"] == [RULES.name]


def test_every_alert_fires_in_a_test_and_stays_quiet_in_another() -> None:
    alerts = {rule["alert"] for rule in alerting_rules()}
    cases = rule_test_cases()
    fired = {case["alertname"] for case in cases if case.get("exp_alerts")}
    quiet = {case["alertname"] for case in cases if not case.get("exp_alerts")}
    assert alerts - fired == set(), "alerts no test expects to fire"
    assert alerts - quiet == set(), "alerts no test expects to stay quiet"
    assert (fired | quiet) - alerts == set(), "tests of alerts that do not exist"


def test_every_alert_says_how_bad_it_is_and_what_to_do() -> None:
    rules = alerting_rules()
    assert len({rule["alert"] for rule in rules}) == len(rules), "duplicate alert names"
    for rule in rules:
        assert rule["labels"]["severity"] in SEVERITIES, rule["alert"]
        annotations = rule["annotations"]
        assert annotations["summary"].strip(), rule["alert"]
        assert "What to do" in annotations["description"], rule["alert"]


def test_alerts_use_only_metrics_that_exist() -> None:
    for rule in alerting_rules():
        names = metric_names(rule["expr"])
        assert names, rule["alert"]
        assert names <= KNOWN_METRICS, (rule["alert"], names - KNOWN_METRICS)


def test_compose_mounts_the_rule_files_next_to_the_config() -> None:
    compose = yaml.safe_load((ROOT / "docker-compose.yml").read_text())["services"]["prometheus"]
    mounts = {}
    for volume in compose["volumes"]:
        source, _, target = volume.partition(":")
        mounts[target.split(":")[0]] = source
    config_flag = next(arg for arg in compose["command"] if arg.startswith("--config.file="))
    config_in_container = Path(config_flag.split("=", 1)[1])
    assert mounts[str(config_in_container)] == "./deploy/prometheus/prometheus.yml"
    for rule_file in yaml.safe_load(CONFIGS["docker"].read_text())["rule_files"]:
        target = str(config_in_container.parent / rule_file)
        assert mounts.get(target) == f"./deploy/prometheus/{rule_file}", f"{target} is not mounted"
