"""funasr_lite against FunASR 1.4.16 on the same weights and audio, in one run: speed, memory, agreement.

    python bench/pipeline_speed.py --models MODELS --data DATA --device cuda \\
        --funasr_python python3 --out OUT [--configs vad_asr,vad_asr_punc,vad_asr_punc_spk,segments] \\
        [--variant "fp32=" --variant "bf16=--dtype bf16 --num_workers 8"] [--funasr_batches 1,16,64]

``MODELS`` is a folder made by ``bench/make_random_models.py`` (``paraformer_large_bicif``,
``ct_punc_zh``, ``campplus``); ``DATA`` one made by ``bench/long_form.py`` (``wav.scp`` of long
recordings, ``segments/wav.scp`` of pre-cut ~10 s utterances). ``--vad_model`` is the real
FSMN-VAD folder. Every configuration runs in fresh child processes, one after the other:
FunASR (``bench/funasr_run.py`` under ``--funasr_python``, skipped when that cannot import
funasr), then each funasr_lite ``--variant`` (``bench/lite_run.py`` with the given options).
Prints a table (configuration, audio s, wall s, x realtime, ratio to FunASR, peak RSS, peak GPU
memory, agreement) and writes ``OUT/summary.json`` plus each run's own JSON.

Agreement: character agreement of each recording's text with the first FunASR run of the
configuration (1 - edit distance / length, spaces removed, over all recordings) and the share of
recordings whose text is identical. For the configurations in ``--funasr_reference`` that first
run decodes one segment per batch (FunASR's batch-1 answers; its padded batches leak padding into
its own results), and the speed ratio is taken against FunASR's fastest run.
"""

from __future__ import annotations

import argparse
import json
import shlex
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parent))

from funasr_lite.scoring.align import align, count_ops  # noqa: E402

CONFIGS = {
    # name: (which model folders, mode)
    "vad_asr": (("asr", "vad"), "pipeline"),
    "vad_asr_punc": (("asr", "vad", "punc"), "pipeline"),
    "vad_asr_punc_spk": (("asr", "vad", "punc", "spk"), "pipeline"),
    "segments": (("asr",), "segments"),
}


def model_args(models: Path, vad: str, which: tuple[str, ...]) -> list[str]:
    paths = {
        "asr": ("--model", models / "paraformer_large_bicif"),
        "vad": ("--vad_model", vad),
        "punc": ("--punc_model", models / "ct_punc_zh"),
        "spk": ("--spk_model", models / "campplus"),
    }
    return [str(x) for w in which for x in paths[w]]


def run_child(cmd: list[str], json_path: Path, log_path: Path) -> dict[str, Any] | None:
    """Run one timing child; its JSON, or None (with the log's tail printed) when it failed."""
    print("$", " ".join(shlex.quote(c) for c in cmd), flush=True)
    with open(log_path, "w") as log:
        rc = subprocess.run(cmd, stdout=log, stderr=subprocess.STDOUT).returncode
    if rc != 0 or not json_path.is_file():
        print(f"  failed (exit {rc}):\n" + "".join(log_path.read_text(errors="replace").splitlines(True)[-15:]))
        return None
    return json.loads(json_path.read_text(encoding="utf-8"))


def agreement(ref: dict[str, Any], hyp: dict[str, Any]) -> tuple[float, float]:
    """(character agreement, share of identical texts) of ``hyp``'s results against ``ref``'s."""
    errors = total = same = n = 0
    for key, r in ref["results"].items():
        if "text" not in r:
            continue
        a = r["text"].replace(" ", "")
        b = hyp["results"].get(key, {}).get("text", "").replace(" ", "")
        errors += 0 if a == b else count_ops(align(list(a), list(b))).errors
        total += len(a)
        same += a == b
        n += 1
    return (1 - errors / total if total else 1.0), (same / n if n else 1.0)


def funasr_available(python: str) -> bool:
    return subprocess.run([python, "-c", "import funasr"], capture_output=True).returncode == 0


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--models", required=True, type=Path)
    p.add_argument("--data", required=True, type=Path)
    p.add_argument("--vad_model", default="tools/fsmn_vad")
    p.add_argument("--device", default="cpu")
    p.add_argument("--funasr_python", default=None, help="a python that imports funasr (none: funasr_lite only)")
    p.add_argument("--out", required=True, type=Path)
    p.add_argument("--configs", default="vad_asr,vad_asr_punc,vad_asr_punc_spk,segments")
    p.add_argument("--variant", action="append", default=[], help="NAME=funasr_lite options (repeatable)")
    p.add_argument("--funasr_batches", default="1,16,64", help="segments: FunASR batch sizes to time")
    p.add_argument("--funasr_extra", default="", help="extra bench/funasr_run.py options (e.g. --ncpu 2)")
    p.add_argument(
        "--funasr_reference",
        default="vad_asr_punc",
        help="pipeline configs that also run FunASR with one segment per batch, the reference for "
        "agreement (FunASR's padded GPU batches change its own output: docs/compatibility.md)",
    )
    args = p.parse_args()
    args.out.mkdir(parents=True, exist_ok=True)
    variants = [v.split("=", 1) for v in (args.variant or ["fp32="])]
    use_funasr = bool(args.funasr_python) and funasr_available(args.funasr_python)
    if args.funasr_python and not use_funasr:
        print(f"note: {args.funasr_python} cannot import funasr; timing funasr_lite only")
    rows: list[dict[str, Any]] = []
    for config in args.configs.split(","):
        which, mode = CONFIGS[config]
        scp = args.data / ("segments/wav.scp" if mode == "segments" else "wav.scp")
        common = [
            "--wav_scp",
            str(scp),
            *model_args(args.models, args.vad_model, which),
            "--device",
            args.device,
            "--mode",
            mode,
        ]
        refs: list[tuple[str, dict[str, Any]]] = []
        if use_funasr:
            runs = [("--batch", b) for b in args.funasr_batches.split(",")] if mode == "segments" else [None]
            if mode == "pipeline" and config in args.funasr_reference.split(","):
                runs.insert(0, ("--batch_size_s", "0.001"))  # one segment per batch: batch-1 answers
            for run in runs:
                label = (
                    "FunASR"
                    if run is None
                    else ("FunASR batch " + run[1] if run[0] == "--batch" else "FunASR one segment per batch")
                )
                name = f"{config}.funasr" + ("" if run is None else f".{run[0].strip('-')}{run[1]}")
                out = args.out / f"{name}.json"
                cmd = [
                    args.funasr_python,
                    str(HERE / "funasr_run.py"),
                    *common,
                    "--json",
                    str(out),
                    *(run or ()),
                    *shlex.split(args.funasr_extra),
                ]
                doc = run_child(cmd, out, args.out / f"{name}.log")
                if doc:
                    refs.append((label, doc))
        best_ref = max(refs, key=lambda r: r[1]["rtfx"])[1] if refs else None
        for label, doc in refs:
            rows.append(row(config, label, doc, best_ref, refs[0][1] if doc is not refs[0][1] else None))
        for vname, opts in variants:
            name = f"{config}.lite.{vname}"
            out = args.out / f"{name}.json"
            doc = run_child(
                [sys.executable, str(HERE / "lite_run.py"), *common, "--json", str(out), *shlex.split(opts)],
                out,
                args.out / f"{name}.log",
            )
            if doc:
                rows.append(row(config, f"funasr_lite {vname}", doc, best_ref, refs[0][1] if refs else None))
    print_table(rows)
    summary = {"date": time.strftime("%Y-%m-%d"), "command": " ".join(shlex.quote(a) for a in sys.argv), "rows": rows}
    (args.out / "summary.json").write_text(json.dumps(summary, ensure_ascii=False, indent=1) + "\n", encoding="utf-8")


def row(
    config: str, label: str, doc: dict[str, Any], best_ref: dict[str, Any] | None, agree_ref: dict[str, Any] | None
) -> dict[str, Any]:
    r = {
        "config": config,
        "run": label,
        "audio_s": doc["audio_s"],
        "wall_s": doc["wall_s"],
        "rtfx": doc["rtfx"],
        "peak_rss_mb": doc["peak_rss_mb"],
        "peak_gpu_mb": doc.get("peak_gpu_mb"),
        "hardware": doc.get("hardware"),
        "torch": doc.get("torch"),
        "options": doc.get("config"),
    }
    if best_ref is not None and best_ref is not doc:
        r["vs_funasr"] = doc["rtfx"] / best_ref["rtfx"]
    if agree_ref is not None:
        r["char_agreement"], r["identical_share"] = agreement(agree_ref, doc)
    return r


def print_table(rows: list[dict[str, Any]]) -> None:
    print(
        "\n| configuration | run | audio s | wall s | x realtime | vs FunASR | peak RSS MB | peak GPU MB | agreement with FunASR |"
    )
    print("|---|---|---|---|---|---|---|---|---|")
    for r in rows:
        gpu = f"{r['peak_gpu_mb']:.0f}" if r.get("peak_gpu_mb") is not None else "-"
        vs = f"{r['vs_funasr']:.2f}x" if "vs_funasr" in r else "-"
        agree = (
            f"{100 * r['char_agreement']:.2f} % chars, {100 * r['identical_share']:.0f} % files identical"
            if "char_agreement" in r
            else "-"
        )
        print(
            f"| {r['config']} | {r['run']} | {r['audio_s']:.1f} | {r['wall_s']:.2f} | {r['rtfx']:.1f} | {vs} | "
            f"{r['peak_rss_mb']:.0f} | {gpu} | {agree} |"
        )
    if rows:
        print(f"\nhardware: {rows[-1]['hardware']}; torch {rows[-1]['torch']}")


if __name__ == "__main__":
    main()
