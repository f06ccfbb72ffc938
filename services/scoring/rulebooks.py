"""Loading the rulebook file (the one piece of rulebook handling that touches the disk)."""

import tomllib
from pathlib import Path

from services.scoring.core.rulebook import Rulebook, parse_rulebook

DEFAULT_RULEBOOK = Path(__file__).with_name("rulebook.toml")


def load_rulebook(path: Path = DEFAULT_RULEBOOK) -> Rulebook:
    return parse_rulebook(tomllib.loads(path.read_text(encoding="utf-8")))
