#!/usr/bin/env bash
# Proof that a command (default: make test) leaves the user's system as it was: snapshots the default
# copy (rankings, stats, courts, branches, topics, consumer groups, databases), runs the command,
# compares and prints the differences or "untouched". See tools/untouched.py.
#   deploy/local/check_untouched.sh                # make test
#   deploy/local/check_untouched.sh make bench
set -euo pipefail
cd "$(dirname "$0")/../.."
exec .venv/bin/python -m tools.untouched "$@"
