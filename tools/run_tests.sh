#!/usr/bin/env bash
# The test command: installs what the tests need, then runs the whole suite.
#   bash tools/run_tests.sh [extra pytest args]
set -euo pipefail
cd "$(dirname "$0")/.."
bash tools/install.sh --test
exec python3 -m pytest -q -p no:cacheprovider tests "$@"
