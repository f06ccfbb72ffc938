"""Seeded random generators: the demo data is the same on every machine and in every run."""

import random

SEED = "demo-2022"


def seeded(*parts: object) -> random.Random:
    """A generator of its own per part of the data, so changing one part leaves the others unchanged."""
    return random.Random(":".join(str(p) for p in (SEED, *parts)))  # noqa: S311 (reproducible, not secret)
