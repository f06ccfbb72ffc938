"""Benchmarks of the running system (`python -m bench`, `make bench`): figures into var/bench/results.json."""
