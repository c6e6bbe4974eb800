"""CPU inference with glibc's default malloc against ``funasr_lite.memory.keep_freed_memory``.

    python bench/cpu_malloc.py --wav_scp S --model ASR [--vad_model V] [--punc_model P] \\
        [--threads 2] [--reps 3] [--rounds 2] [--json OUT]

Runs the VAD+ASR(+punctuation) pipeline (``bench/lite_run.py``'s path, one recording window)
in fresh processes, alternating ``FUNASR_LITE_MALLOC=system`` (glibc's defaults) and the
default (heap kept), ``--rounds`` times each; each process decodes the list once untimed, then
``--reps`` times timed. Prints, per setting, the best and median wall time, the minor page
faults of the whole process and its peak RSS, and the ratio of the best times. The outputs of
the two settings are compared too: they must be identical.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
CHILD = r"""
import json, resource, sys, time, torch
sys.path.insert(0, sys.argv[1])
from funasr_lite.auto_model import build_pipeline
from funasr_lite.pipeline import DecodeOptions
from funasr_lite.frontend.audio import load_wav_scp
from funasr_lite.prefetch import prepared
a = json.loads(sys.argv[2])
torch.set_num_threads(a["threads"])
pipe = build_pipeline(a["model"], a["vad_model"], a["punc_model"], device="cpu")
def loader(shard, first_only=False):
    yield from load_wav_scp(a["wav_scp"], shard=shard)
def go():
    return {item.key: (res or {}).get("text") for item, res, _ in pipe.run_many(prepared(loader, pipe.vad, None, 0), 600, DecodeOptions(sentence_timestamp=True))}
texts = go()
walls = []
for _ in range(a["reps"]):
    t = time.perf_counter(); go(); walls.append(time.perf_counter() - t)
ru = resource.getrusage(resource.RUSAGE_SELF)
print(json.dumps({"walls": walls, "minflt": ru.ru_minflt, "maxrss_mb": ru.ru_maxrss / 1024, "texts": texts}))
"""


def run_once(args: argparse.Namespace, setting: str) -> dict:
    """One child process with ``setting`` ('system' or 'kept'); its JSON line."""
    env = dict(os.environ)
    env.pop("FUNASR_LITE_MALLOC", None)
    if setting == "system":
        env["FUNASR_LITE_MALLOC"] = "system"
    conf = {k: getattr(args, k) for k in ("wav_scp", "model", "vad_model", "punc_model", "threads", "reps")}
    proc = subprocess.run(
        [sys.executable, "-c", CHILD, str(ROOT), json.dumps(conf)], capture_output=True, text=True, env=env, check=False
    )
    if proc.returncode != 0:
        raise SystemExit(f"cpu_malloc: the {setting} run failed:\n{proc.stderr[-2000:]}")
    return json.loads(proc.stdout.strip().splitlines()[-1])


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--wav_scp", required=True)
    p.add_argument("--model", required=True)
    p.add_argument("--vad_model", required=True)
    p.add_argument("--punc_model", default=None)
    p.add_argument("--threads", type=int, default=2)
    p.add_argument("--reps", type=int, default=3)
    p.add_argument("--rounds", type=int, default=2)
    p.add_argument("--json", default=None)
    args = p.parse_args(argv)
    runs: dict[str, list[dict]] = {"system": [], "kept": []}
    for _ in range(args.rounds):
        for setting in runs:
            runs[setting].append(run_once(args, setting))
    summary = {}
    for setting, rs in runs.items():
        walls = [w for r in rs for w in r["walls"]]
        summary[setting] = {
            "best_s": min(walls),
            "median_s": statistics.median(walls),
            "walls": walls,
            "minflt": [r["minflt"] for r in rs],
            "maxrss_mb": [round(r["maxrss_mb"]) for r in rs],
        }
        print(
            f"{setting:6s} best {min(walls):6.2f} s  median {statistics.median(walls):6.2f} s  "
            f"minor faults {summary[setting]['minflt']}  peak RSS MB {summary[setting]['maxrss_mb']}"
        )
    same = all(r["texts"] == runs["system"][0]["texts"] for rs in runs.values() for r in rs)
    ratio = summary["system"]["best_s"] / summary["kept"]["best_s"]
    print(f"speed-up of the kept heap (best against best): {ratio:.3f}x; outputs identical: {same}")
    if args.json:
        Path(args.json).write_text(
            json.dumps({"command": sys.argv, "summary": summary, "ratio": ratio, "identical": same}, indent=1) + "\n"
        )
    return 0 if same else 1


if __name__ == "__main__":
    sys.exit(main())
