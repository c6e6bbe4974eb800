"""Model loading time, with and without drawing the random initial weights first.

    python bench/load_time.py --model ASR [--punc_model P] [--spk_model K] [--reps 3] [--threads 2]

Each measurement is a fresh process (after one untimed load that warms the page cache) that
times ``load_paraformer`` / ``load_punc_model`` / ``load_campplus``; ``random init`` runs the
same loaders with ``funasr_lite.modelio.checkpoint.no_random_init`` replaced by a no-op, as the
loaders were before it. Prints the best of ``--reps`` per loader and setting, and whether the
loaded weights are identical.
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
CHILD = r"""
import contextlib, hashlib, json, sys, time, torch
sys.path.insert(0, sys.argv[1])
kind, path, skip, threads = sys.argv[2], sys.argv[3], sys.argv[4] == "skip", int(sys.argv[5])
torch.set_num_threads(threads)
import funasr_lite.models.paraformer.build as b, funasr_lite.models.ct_transformer as ct, funasr_lite.models.campplus as cp
if not skip:
    for mod in (b, ct, cp):
        mod.no_random_init = contextlib.nullcontext
load = {"asr": lambda p: b.load_paraformer(p)[0], "punc": lambda p: ct.load_punc_model(p).model,
        "spk": cp.load_campplus}[kind]
t = time.perf_counter(); model = load(path); wall = time.perf_counter() - t
h = hashlib.sha256()
for k, v in sorted(model.state_dict().items()):
    h.update(k.encode()); h.update(v.detach().float().cpu().numpy().tobytes())
print(json.dumps({"wall": wall, "sha": h.hexdigest()}))
"""


def measure(kind: str, path: str, skip: bool, threads: int) -> dict:
    out = subprocess.run(
        [sys.executable, "-c", CHILD, str(ROOT), kind, path, "skip" if skip else "init", str(threads)],
        capture_output=True,
        text=True,
        check=True,
    )
    return json.loads(out.stdout.strip().splitlines()[-1])


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--model", required=True)
    p.add_argument("--punc_model")
    p.add_argument("--spk_model")
    p.add_argument("--reps", type=int, default=3)
    p.add_argument("--threads", type=int, default=2)
    p.add_argument("--json")
    args = p.parse_args(argv)
    rows, same = {}, True
    for kind, path in (("asr", args.model), ("punc", args.punc_model), ("spk", args.spk_model)):
        if not path:
            continue
        measure(kind, path, True, args.threads)  # page cache
        runs = {s: [measure(kind, path, s == "skip", args.threads) for _ in range(args.reps)] for s in ("init", "skip")}
        shas = {r["sha"] for rs in runs.values() for r in rs}
        same &= len(shas) == 1
        best = {s: min(r["wall"] for r in rs) for s, rs in runs.items()}
        rows[kind] = best
        print(
            f"{kind:5s} random init {best['init']:6.2f} s   no random init {best['skip']:6.2f} s   "
            f"({best['init'] / best['skip']:.2f}x)   weights identical: {len(shas) == 1}"
        )
    if args.json:
        Path(args.json).write_text(
            json.dumps({"command": sys.argv, "best_s": rows, "identical": same}, indent=1) + "\n"
        )
    return 0 if same else 1


if __name__ == "__main__":
    sys.exit(main())
