# Sourced by run.sh: put the repo's utils/ on PATH and fix the locale for sorting.
FUNASR_LITE_ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/../../.." && pwd)
export FUNASR_LITE_ROOT
export PATH=$FUNASR_LITE_ROOT/utils:$FUNASR_LITE_ROOT/tools:$PATH
export LC_ALL=C
export PYTHONUNBUFFERED=1
