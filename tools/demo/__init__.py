"""Demo data: a deterministic year 2022 of Cangzhou's courts, and its loader (`python -m tools.demo`).

Bump VERSION whenever the generator's output changes (tests/unit/test_demo_data.py pins the
output of each version): the loader compares it with the marker in MongoDB to decide whether to load.
"""

VERSION = "2022.2"
