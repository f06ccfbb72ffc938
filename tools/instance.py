"""The copy of the local system that STACK_INSTANCE names (deploy/local/stack.py), as the tests, the
tools and the benchmarks find it; unset or empty: the default copy `make up` runs."""

import importlib.util
import os
import sys
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from types import ModuleType

ROOT = Path(__file__).resolve().parents[1]
SERVICES = {
    "scoring": "scoring-api",
    "volunteer": "volunteer",
    "liaison": "liaison",
    "training": "training",
    "worker": "scoring-worker",
}


def load_stack() -> ModuleType:
    """deploy/local/stack.py as a module (deploy/ is not a package); importing it only defines things."""
    name = "deploy_local_stack"
    if name in sys.modules:
        return sys.modules[name]
    spec = importlib.util.spec_from_file_location(name, ROOT / "deploy" / "local" / "stack.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[name] = module  # dataclasses look their module up while the file executes
    spec.loader.exec_module(module)
    return module


@dataclass(frozen=True)
class Instance:
    """Where one copy's processes listen and keep their files."""

    name: str  # "": the default copy
    port_offset: int
    urls: dict[str, str]  # scoring, volunteer, liaison, training, worker
    bootstrap_servers: str
    mongo_url: str
    run: Path  # pid files
    log: Path
    client_env: dict[str, str]  # what a client is told: brokers, database (empty for the default)

    def port(self, default: int) -> int:
        """A documented port (8000, 9092...) as this copy uses it."""
        return default + self.port_offset


def instance(env: Mapping[str, str] | None = None) -> Instance:
    """The copy `env` (default: this process's environment) names."""
    stack = load_stack()
    layout = stack.layout_of(os.environ if env is None else env)
    by_name = {p.name: p for p in stack.processes(layout)}
    return Instance(
        name=layout.instance,
        port_offset=layout.port_offset,
        urls={short: by_name[name].url for short, name in SERVICES.items()},
        bootstrap_servers=layout.bootstrap_servers,
        mongo_url=by_name["ferretdb"].url,
        run=layout.run,
        log=layout.log,
        client_env=layout.client_env(),
    )
