#!/usr/bin/env bash
# Run the exactness tests (FunASR golden fixtures, batched == batch-of-one) under other x86
# instruction sets, the way another CPU would run them: torch's kernels (ATEN_CPU_CAPABILITY),
# MKL (MKL_ENABLE_INSTRUCTIONS) and oneDNN (ONEDNN_MAX_CPU_ISA) are capped per setting.
#   bash tools/run_isa_matrix.sh                  # every setting this CPU can run
#   bash tools/run_isa_matrix.sh avx2 default     # just these
#   bash tools/run_isa_matrix.sh other            # one setting that is not this CPU's own (CI)
# Settings: native (no caps), avx512, avx2, default (no SIMD kernels in torch; MKL SSE4.2, oneDNN SSE4.1).
set -euo pipefail
cd "$(dirname "$0")/.."

has() { grep -qw "$1" /proc/cpuinfo; }
settings=("$@")
if [ ${#settings[@]} -eq 0 ]; then
  settings=(native avx2 default)
  has avx512f && settings+=(avx512)
elif [ "${settings[*]}" = other ]; then
  # an AVX-512 machine runs the AVX2 kernels; an AVX2-only one the non-SIMD ones
  if has avx512f; then settings=(avx2); else settings=(default); fi
fi

env_for() {
  case $1 in
    native) echo "" ;;
    avx512) echo "ATEN_CPU_CAPABILITY=avx512 MKL_ENABLE_INSTRUCTIONS=AVX512 ONEDNN_MAX_CPU_ISA=AVX512_CORE" ;;
    avx2) echo "ATEN_CPU_CAPABILITY=avx2 MKL_ENABLE_INSTRUCTIONS=AVX2 ONEDNN_MAX_CPU_ISA=AVX2" ;;
    default) echo "ATEN_CPU_CAPABILITY=default MKL_ENABLE_INSTRUCTIONS=SSE4_2 ONEDNN_MAX_CPU_ISA=SSE41" ;;
    *) echo "run_isa_matrix.sh: unknown setting '$1' (native|avx512|avx2|default|other)" >&2; return 1 ;;
  esac
}

status=0
for s in "${settings[@]}"; do
  vars=$(env_for "$s")
  echo "== exactness tests, setting $s: ${vars:-no caps}"
  # shellcheck disable=SC2086
  env $vars python3 -m pytest -q -p no:cacheprovider -m exactness tests || status=1
done
exit $status
