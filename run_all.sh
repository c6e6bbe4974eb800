#!/usr/bin/env bash
# The main job: install what is needed, then run the built-in egs/synth recipe end to end
# (the stages that exist so far). Options are passed on to egs/synth/asr/run.sh, e.g.
#   bash run_all.sh --size gpu --nj 16
set -euo pipefail
cd "$(dirname "$0")"
bash tools/install.sh
bash egs/synth/asr/run.sh --stage 0 --stop-stage 5 "$@"
