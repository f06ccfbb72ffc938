"""deploy/local/stack.py's copies of the system: the default keeps one broker on the documented
ports and tells the services nothing; KAFKA_BROKERS=3 and STACK_INSTANCE move what they must."""

import os
import shutil
import sys
import uuid
from pathlib import Path

import pytest
from pydantic import ValidationError

from shared.settings import KafkaSettings
from tests.conftest import load_stack
from tools.instance import instance

STACK = load_stack()


def properties(text: str) -> dict[str, str]:
    return dict(line.split("=", 1) for line in text.splitlines() if line and not line.startswith("#"))


def test_the_default_is_one_broker_on_9092_and_changes_no_setting() -> None:
    layout = STACK.Layout()
    assert [(n.name, n.port, n.controller_port) for n in layout.kafka_nodes()] == [("kafka", 9092, 9093)]
    assert layout.service_env() == {}
    assert [p.name for p in STACK.processes(layout)] == [p.name for p in STACK.PROCESSES]
    node = layout.kafka_nodes()[0]
    assert node.home == STACK.VAR / "kafka"
    written = properties(STACK.Stack(layout).server_properties(node, node.home / "data"))
    assert written["controller.quorum.voters"] == "1@127.0.0.1:9093"
    assert "min.insync.replicas" not in written and written["offsets.topic.replication.factor"] == "1"


def test_three_brokers_form_one_quorum_with_replication_three_and_min_isr_two() -> None:
    layout = STACK.Layout(brokers=3)  # what KAFKA_BROKERS=3 makes of the default copy
    nodes = layout.kafka_nodes()
    assert [(n.name, n.port, n.controller_port) for n in nodes] == [
        ("kafka-1", 9092, 9093),
        ("kafka-2", 9094, 9095),
        ("kafka-3", 9096, 9097),
    ]
    assert len({n.home for n in nodes}) == 3 and all(
        n.home.is_relative_to(STACK.VAR / "cluster") for n in nodes
    )
    stack = STACK.Stack(layout)
    written = [properties(stack.server_properties(n, n.home / "data")) for n in nodes]
    assert [w["node.id"] for w in written] == ["1", "2", "3"]
    for w in written:
        assert w["controller.quorum.voters"] == "1@127.0.0.1:9093,2@127.0.0.1:9095,3@127.0.0.1:9097"
        assert w["default.replication.factor"] == "3" and w["min.insync.replicas"] == "2"
        assert w["offsets.topic.replication.factor"] == "3"
        assert w["transaction.state.log.replication.factor"] == "3"
        assert w["transaction.state.log.min.isr"] == "2"
    env = layout.service_env()
    assert env["KAFKA_BOOTSTRAP_SERVERS"] == "127.0.0.1:9092,127.0.0.1:9094,127.0.0.1:9096"
    assert (env["KAFKA_REPLICATION_FACTOR"], env["KAFKA_MIN_INSYNC_REPLICAS"]) == ("3", "2")
    assert all(p.env == env for p in STACK.processes(layout) if p.name.startswith(("scoring", "volunteer")))


def test_an_instance_moves_every_port_and_keeps_its_own_directory() -> None:
    layout = STACK.layout_of({"STACK_INSTANCE": "spare", "KAFKA_BROKERS": "3"})
    assert layout.port_offset == 100 and layout.home == STACK.VAR / "instances" / "spare"
    by_name = {p.name: p for p in STACK.processes(layout)}
    assert "prometheus" not in by_name  # its configuration names the default ports
    assert by_name["scoring-api"].url == "http://127.0.0.1:8100"
    assert by_name["kafka-3"].url == "kafka://127.0.0.1:9196"
    assert by_name["ferretdb"].url == "mongodb://127.0.0.1:27117/"
    env = layout.service_env()
    assert env["MONGO_URL"] == "mongodb://127.0.0.1:27117/" and env["VOLUNTEER_PORT"] == "8101"
    default_ports = {p.url for p in STACK.PROCESSES}
    assert not default_ports & {p.url for p in by_name.values()}


@pytest.mark.parametrize("env", [{"KAFKA_BROKERS": "2"}, {"STACK_INSTANCE": "../x"}])
def test_unsupported_copies_are_refused(env: dict[str, str]) -> None:
    with pytest.raises(SystemExit):
        STACK.layout_of(env)


def test_kafka_settings_read_the_cluster_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    for key, value in STACK.Layout(brokers=3).service_env().items():
        monkeypatch.setenv(key, value)
    settings = KafkaSettings()
    assert (settings.replication_factor, settings.min_insync_replicas) == (3, 2)
    assert settings.bootstrap_servers.count(",") == 2


def test_min_isr_above_the_replication_factor_is_refused() -> None:
    with pytest.raises(ValidationError):
        KafkaSettings(replication_factor=1, min_insync_replicas=2)


def test_the_test_bench_and_fault_copies_use_ports_apart() -> None:
    urls = {}
    for name in ("test", "bench", "fault"):
        layout = STACK.layout_of({"STACK_INSTANCE": name})
        urls[name] = {p.url for p in STACK.processes(layout)}
    assert STACK.layout_of({"STACK_INSTANCE": "test"}).port_offset == 200
    assert instance({"STACK_INSTANCE": "bench"}).urls["scoring"] == "http://127.0.0.1:8300"
    assert STACK.layout_of({"STACK_INSTANCE": "test", "STACK_PORT_OFFSET": "500"}).port_offset == 500
    default = {p.url for p in STACK.PROCESSES}
    for a, b in [("test", "bench"), ("test", "fault"), ("bench", "fault")]:
        assert not urls[a] & urls[b] and not urls[a] & default
    assert instance({"STACK_INSTANCE": ""}) == instance({})  # empty: the default copy


def test_a_running_copy_keeps_the_port_offset_it_was_started_with() -> None:
    name = f"unit-{uuid.uuid4().hex[:8]}"
    home = STACK.Layout(name).home
    try:
        (home / "run").mkdir(parents=True)
        (home / "run" / "port-offset").write_text("600\n")
        assert STACK.layout_of({"STACK_INSTANCE": name}).port_offset == 100  # nothing of it runs
        (home / "run" / "kafka.pid").write_text(str(os.getpid()))  # a live process of the copy
        assert STACK.layout_of({"STACK_INSTANCE": name}).port_offset == 600
        assert STACK.layout_of({"STACK_INSTANCE": name, "STACK_PORT_OFFSET": "700"}).port_offset == 700
    finally:
        shutil.rmtree(home, ignore_errors=True)


def test_a_client_of_a_copy_is_told_its_brokers_and_database_not_its_ports() -> None:
    layout = STACK.layout_of({"STACK_INSTANCE": "test"})
    assert layout.client_env() == {
        "KAFKA_BOOTSTRAP_SERVERS": "127.0.0.1:9292",
        "MONGO_URL": "mongodb://127.0.0.1:27217/",
        "SCORING_WORKER_DATADIR": str(STACK.VAR / "instances" / "test" / "faust"),
    }
    assert STACK.Layout().client_env() == {}


def test_destroy_refuses_the_default_copy() -> None:
    with pytest.raises(SystemExit):
        STACK.destroy(STACK.Stack(STACK.Layout()))


def _run(monkeypatch: pytest.MonkeyPatch, code: str, keep: bool) -> tuple[int, Path]:
    """stack.py run on a copy of its own with nothing to start; (status, the copy's home)."""
    layout = STACK.layout_of({"STACK_INSTANCE": f"unit-{uuid.uuid4().hex[:8]}"})
    stack = STACK.Stack(layout)
    monkeypatch.setattr(stack, "up", lambda names: layout.run.mkdir(parents=True))  # as a start would
    status = STACK.run(stack, [sys.executable, "-c", code], keep=keep)
    return status, layout.home


def test_run_keeps_the_commands_status_and_removes_the_copy_even_on_failure(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    told = "import os, sys; sys.exit(3 if os.environ['KAFKA_BOOTSTRAP_SERVERS'].endswith(':9192') else 4)"
    status, home = _run(monkeypatch, told, keep=False)
    assert status == 3 and not home.exists()
    status, home = _run(monkeypatch, "import os, signal; os.kill(os.getpid(), signal.SIGKILL)", keep=False)
    assert status == 128 + 9 and not home.exists()


def test_run_with_keep_leaves_the_copy(monkeypatch: pytest.MonkeyPatch) -> None:
    status, home = _run(monkeypatch, "pass", keep=True)
    try:
        assert status == 0 and home.is_dir()
    finally:
        shutil.rmtree(home)


def test_run_on_the_default_copy_never_removes_it(monkeypatch: pytest.MonkeyPatch) -> None:
    stack = STACK.Stack(STACK.layout_of({}))
    monkeypatch.setattr(stack, "up", lambda names: None)  # the default copy: whatever runs, runs

    def refuse(_: object) -> None:
        raise AssertionError("destroy called on the default copy")

    monkeypatch.setattr(STACK, "destroy", refuse)
    assert STACK.run(stack, [sys.executable, "-c", "raise SystemExit(5)"], keep=False) == 5
