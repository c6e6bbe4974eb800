# Sourced by every recipe script (recipes link here): the repo's utils/ on PATH, the checkout's
# package first on PYTHONPATH, a fixed locale for sorting. Recipes live at egs/<corpus>/<setup>/.
FUNASR_LITE_ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/../../.." && pwd)
export FUNASR_LITE_ROOT
export PATH=$FUNASR_LITE_ROOT/utils:$FUNASR_LITE_ROOT/tools:$PATH
export LC_ALL=C
export PYTHONUNBUFFERED=1
# The package from this checkout, even where another copy is installed.
export PYTHONPATH=$FUNASR_LITE_ROOT${PYTHONPATH:+:$PYTHONPATH}
# Parallel jobs (run.pl JOB=1:N) run one torch thread each: N jobs x all-core thread pools
# oversubscribe the machine (load 200+ on 16 cores). Training sets its own --num_threads.
export OMP_NUM_THREADS=${OMP_NUM_THREADS:-1}
