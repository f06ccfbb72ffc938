"""docker-compose.yml and the Prometheus configs agree with deploy/local/stack.py.

The local runner and docker-compose run the same system two ways; these tests fail when one of
them changes a command, a port or a version and the other does not follow.
"""

import xml.etree.ElementTree as ET
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import pytest
import yaml

from tests.conftest import load_stack

ROOT = Path(__file__).resolve().parents[2]
DEV_ENV = "deploy/local/dev.env"
# Not built from this repository: compose runs the official kafka and mongodb images instead of
# kafka and ferretdb, and the prom/prometheus image with prometheus.yml (not prometheus.local.yml).
NOT_IN_COMPOSE = {"kafka", "ferretdb", "prometheus"}
PROMETHEUS = {
    "docker": ROOT / "deploy" / "prometheus" / "prometheus.yml",
    "local": ROOT / "deploy" / "prometheus" / "prometheus.local.yml",
}


STACK = load_stack()
SERVICES = [p for p in STACK.PROCESSES if p.name not in NOT_IN_COMPOSE]
COMPOSE: dict[str, Any] = yaml.safe_load((ROOT / "docker-compose.yml").read_text())["services"]


def port_of(process: Any) -> int:
    port = urlsplit(process.url).port
    assert port is not None, f"{process.name}: no port in {process.url}"
    return port


def image(service: str) -> tuple[str, str]:
    # Without the internal registry's prefix (REGISTRY_PREFIX, unset by default).
    repository, _, tag = COMPOSE[service]["image"].removeprefix("${REGISTRY_PREFIX:-}").rpartition(":")
    return repository, tag


def published(entry: str | dict[str, Any]) -> tuple[str, int, int]:
    """(host_ip, published, target) of one `ports:` entry, short or long syntax."""
    if isinstance(entry, dict):
        return str(entry.get("host_ip", "")), int(entry["published"]), int(entry["target"])
    parts = str(entry).split(":")
    if len(parts) == 3:
        return parts[0], int(parts[1]), int(parts[2])
    if len(parts) == 2:
        return "", int(parts[0]), int(parts[1])
    raise AssertionError(f"unpublished port {entry!r}")


def environment(service: str) -> dict[str, str]:
    env = COMPOSE[service].get("environment", {})
    if isinstance(env, list):
        env = dict(item.partition("=")[::2] for item in env)
    return {k: str(v).lower() if isinstance(v, bool) else str(v) for k, v in env.items()}


def scrape_jobs(which: str) -> dict[str, dict[str, Any]]:
    config = yaml.safe_load(PROMETHEUS[which].read_text())
    names = [job["job_name"] for job in config["scrape_configs"]]
    assert len(names) == len(set(names)), f"{which}: duplicate job names {names}"
    return {job["job_name"]: job for job in config["scrape_configs"]}


def test_the_stack_has_the_expected_processes() -> None:
    names = {p.name for p in STACK.PROCESSES}
    assert names >= NOT_IN_COMPOSE
    assert len(SERVICES) >= 5, [p.name for p in SERVICES]


def test_compose_builds_exactly_the_service_processes() -> None:
    built = {name for name, svc in COMPOSE.items() if "build" in svc}
    assert built == {p.name for p in SERVICES}


@pytest.mark.parametrize("process", SERVICES, ids=lambda p: p.name)
def test_command_is_the_stack_command(process: Any) -> None:
    assert process.command[0] == STACK.PY
    assert COMPOSE[process.name]["command"] == ["python", *process.command[1:]]


@pytest.mark.parametrize("process", SERVICES, ids=lambda p: p.name)
def test_port_is_the_stack_port_on_loopback(process: Any) -> None:
    port = port_of(process)
    ports = [published(entry) for entry in COMPOSE[process.name].get("ports", [])]
    assert ports == [("127.0.0.1", port, port)]


@pytest.mark.parametrize("process", SERVICES, ids=lambda p: p.name)
def test_healthcheck_asks_readyz_on_the_service_port(process: Any) -> None:
    test = " ".join(COMPOSE[process.name]["healthcheck"]["test"])
    assert f"http://127.0.0.1:{port_of(process)}/readyz" in test


@pytest.mark.parametrize("process", SERVICES, ids=lambda p: p.name)
def test_service_reaches_the_infrastructure_by_compose_name(process: Any) -> None:
    svc = COMPOSE[process.name]
    env = environment(process.name)
    assert env["KAFKA_BOOTSTRAP_SERVERS"] == "kafka:9092"
    assert env["MONGO_URL"] == "mongodb://mongodb:27017/"
    assert "0.0.0.0" in env.values(), "the service must listen beyond the container's loopback"
    assert svc["depends_on"] == {
        "kafka": {"condition": "service_healthy"},
        "mongodb": {"condition": "service_healthy"},
    }


def test_every_built_service_uses_the_dev_env_file() -> None:
    assert (ROOT / DEV_ENV).is_file()
    for name, svc in COMPOSE.items():
        if "build" in svc:
            env_file = svc.get("env_file")
            assert (env_file if isinstance(env_file, list) else [env_file]) == [DEV_ENV], name


def test_infrastructure_uses_the_official_images() -> None:
    assert image("kafka")[0] == "apache/kafka"
    assert image("mongodb")[0] == "mongo"


def test_kafka_image_is_the_version_the_local_broker_runs() -> None:
    pom = ET.parse(ROOT / "deploy" / "kafka" / "pom.xml").getroot()
    version = pom.find("m:properties/m:kafka.version", {"m": "http://maven.apache.org/POM/4.0.0"})
    assert version is not None and version.text
    assert image("kafka")[1] == version.text.strip()


def test_kafka_settings_are_the_local_server_properties() -> None:
    """Every broker setting but the addresses and the data directory is the same in both."""
    where = {"listeners", "advertised.listeners", "controller.quorum.voters", "log.dirs"}
    properties = {}
    for line in (ROOT / "deploy" / "kafka" / "server.properties").read_text().splitlines():
        if line.strip() and not line.lstrip().startswith("#"):
            key, _, value = line.partition("=")
            properties[key.strip()] = value.strip()
    assert len(properties) > len(where)
    env = environment("kafka")
    for key, value in properties.items():
        if key not in where:
            assert env.get("KAFKA_" + key.upper().replace(".", "_")) == value, key
    assert env["KAFKA_ADVERTISED_LISTENERS"] == "PLAINTEXT://kafka:9092"


def test_prometheus_is_published_on_the_local_port() -> None:
    port = port_of(STACK.BY_NAME["prometheus"])
    assert [published(entry) for entry in COMPOSE["prometheus"]["ports"]] == [("127.0.0.1", port, port)]


def test_both_prometheus_configs_have_the_same_jobs() -> None:
    assert sorted(scrape_jobs("docker")) == sorted(scrape_jobs("local"))


@pytest.mark.parametrize(("which", "host"), [("docker", None), ("local", "127.0.0.1")])
def test_prometheus_scrapes_every_service(which: str, host: str | None) -> None:
    jobs = scrape_jobs(which)
    for process in SERVICES:
        assert process.name in jobs, f"{which}: no job for {process.name}"
        (static,) = jobs[process.name]["static_configs"]
        assert static["targets"] == [f"{host or process.name}:{port_of(process)}"], process.name
        assert static["labels"]["service"] == process.name
