"""Where the loader sends the demo: the services' URLs, the demo tokens and the MongoDB marker's home."""

import os
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import urlsplit

from tools.instance import instance

ROOT = Path(__file__).resolve().parents[2]
DEV_ENV = ROOT / "deploy" / "local" / "dev.env"
# The ports of deploy/local/stack.py and docker-compose.yml (a STACK_INSTANCE copy moves them up).
PORTS = {"scoring": 8000, "volunteer": 8001, "liaison": 8002, "training": 8003}
RESOURCES = {"volunteer": "deployments", "liaison": "contacts", "training": "completions"}


def dev_env(path: Path = DEV_ENV) -> dict[str, str]:
    """deploy/local/dev.env as a dict (KEY=VALUE lines; # comments), parsed as stack.py's dev_env."""
    env = {}
    for line in path.read_text().splitlines():
        if line.strip() and not line.lstrip().startswith("#"):
            key, _, value = line.partition("=")
            env[key.strip()] = value.strip()
    return env


@dataclass(frozen=True)
class Target:
    """A running system: one host with the services on their ports, and its MongoDB-wire server."""

    base_url: str
    writer_token: str
    admin_token: str
    mongo_url: str
    database: str
    port_offset: int = 0

    def url(self, service: str) -> str:
        parts = urlsplit(self.base_url)
        return f"{parts.scheme}://{parts.hostname}:{PORTS[service] + self.port_offset}"

    def batch_url(self, stream: str) -> str:
        return f"{self.url(stream)}/v1/{RESOURCES[stream]}:batch"

    def branch_url(self, branch_id: str) -> str:
        return f"{self.url('scoring')}/v1/branches/{branch_id}"

    def member_url(self, member_id: str) -> str:
        return f"{self.url('scoring')}/v1/members/{member_id}"

    def exam_url(self, resource: str) -> str:
        """The training service's batch route of the yearly examination (evaluations, appraisals)."""
        return f"{self.url('training')}/v1/{resource}:batch"


def target(base_url: str, mongo_url: str | None = None, database: str | None = None) -> Target:
    """The target at `base_url` on the ports of the copy STACK_INSTANCE names (the default copy's
    when unset); tokens from the environment, else deploy/local/dev.env; MongoDB from MONGO_URL and
    MONGO_DATABASE (as the services read them), else that copy's server."""
    env = {**dev_env(), **os.environ}
    copy = instance()
    return Target(
        base_url=base_url,
        writer_token=env["DEV_WRITER_TOKEN"],
        admin_token=env["DEV_ADMIN_TOKEN"],
        mongo_url=mongo_url or env.get("MONGO_URL", copy.mongo_url),
        database=database or env.get("MONGO_DATABASE", "partybuilding"),
        port_offset=copy.port_offset,
    )
