"""Write ``<exp_dir>/RESULTS.md`` for a recipe's scored decodes (``egs/*/run.sh`` last stage).

    python -m funasr_lite.bin.write_results --exp_dir exp/paraformer_synth_cpu --sets dev,test \\
        --command "bash run.sh --stage 0 --stop-stage 5" \\
        [--decode LABEL MODEL_DIR DECODE_TAG ...]

For each ``--decode`` (default: ``model_dir <exp_dir>/model_dir decode``) and each set, the
scores come from ``<exp_dir>/<DECODE_TAG>_<set>/cer.json`` (``compute_cer --json``), the
real-time factor from ``1best_recog/rtf``. RESULTS.md holds: date and hardware (platform, CPU
model, GPU names via torch), git revision, each model folder with the sha256 of its checkpoint
and the checkpoints averaged into it (``<model_dir>_info.json`` and ``checkpoints/checkpoints.json``
as the trainer writes them), a CER table with substitution, deletion and
insertion counts, Kaldi-style ``%CER`` lines, and the exact commands: the run.sh command line(s)
and every step recorded by run.sh in ``*.cmd`` files (``<exp_dir>/train.cmd``,
``<decode dir>/{decode,score}.cmd``) with their elapsed time. The file is written atomically;
the ``%CER`` lines are also printed. Exit 1 with a one-line error if a score is missing.
"""

from __future__ import annotations

import argparse
import datetime as _dt
import hashlib
import json
import os
import platform
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

from funasr_lite.fileio import write_text_atomic

PROG = "write_results"
HERE = Path(__file__).resolve().parent  # git finds the checkout above it, if there is one
CHECKPOINT_NAMES = ("model.pt", "model.pb", "model.pt.avg")
SUMMARY_KEYS = ("cer", "n", "s", "d", "i", "errors", "sentences")


@dataclass
class Score:
    """One scored decode: ``label`` model on ``set``."""

    label: str
    set: str
    decode_dir: Path
    summary: dict
    rtf: str | None


def sha256(path: Path) -> str:
    """Hex sha256 of a file, read in 1 MiB blocks."""
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            h.update(block)
    return h.hexdigest()


def cpu_model() -> str:
    """The CPU's model name (``/proc/cpuinfo`` on Linux, ``sysctl`` on macOS), else ``platform.processor()``."""
    try:
        for line in Path("/proc/cpuinfo").read_text(encoding="utf-8", errors="replace").splitlines():
            if line.lower().startswith(("model name", "hardware", "cpu model")):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    if sys.platform == "darwin":
        try:
            return subprocess.run(
                ["sysctl", "-n", "machdep.cpu.brand_string"], capture_output=True, text=True, check=True, timeout=5
            ).stdout.strip()
        except (OSError, subprocess.SubprocessError):
            pass
    return platform.processor() or "unknown CPU"


def gpu_names() -> list[str]:
    """Names of the CUDA devices torch sees (empty without CUDA)."""
    try:
        import torch  # noqa: PLC0415  (only for the hardware line)
    except ImportError:
        return []
    if not torch.cuda.is_available():
        return []
    return [torch.cuda.get_device_name(i) for i in range(torch.cuda.device_count())]


def hardware_line() -> str:
    """``platform; CPU: model, N cores; GPU: names | none; torch X``."""
    try:
        import torch  # noqa: PLC0415

        torch_v = f"torch {torch.__version__}"
    except ImportError:
        torch_v = "no torch"
    gpus = gpu_names()
    gpu = ", ".join(f"{n} x{gpus.count(n)}" for n in dict.fromkeys(gpus)) if gpus else "none"
    return (
        f"{platform.platform()}; CPU: {cpu_model()}, {os.cpu_count()} logical cores; GPU: {gpu}; "
        f"Python {platform.python_version()}, {torch_v}"
    )


def git_revision() -> str:
    """``<short hash>`` of the funasr_lite checkout (``+ local changes`` if dirty), or ``unknown``."""
    try:
        rev = subprocess.run(
            ["git", "-C", str(HERE), "rev-parse", "--short", "HEAD"],
            capture_output=True,
            text=True,
            check=True,
            timeout=10,
        ).stdout.strip()
        dirty = subprocess.run(
            ["git", "-C", str(HERE), "status", "--porcelain", "--untracked-files=no"],
            capture_output=True,
            text=True,
            check=True,
            timeout=30,
        ).stdout.strip()
    except (OSError, subprocess.SubprocessError):
        return "unknown"
    return rev + (" + local changes" if dirty else "")


def find_checkpoint(model_dir: Path) -> Path | None:
    """The model folder's checkpoint (``configuration.json``'s ``init_param`` first)."""
    names = list(CHECKPOINT_NAMES)
    try:
        metas = json.loads((model_dir / "configuration.json").read_text(encoding="utf-8")).get("file_path_metas", {})
        if isinstance(metas.get("init_param"), str):
            names.insert(0, Path(metas["init_param"]).name)
    except (OSError, ValueError, AttributeError):
        pass
    for name in names:
        if (model_dir / name).is_file():
            return model_dir / name
    return None


def read_rtf(decode_dir: Path) -> str | None:
    """The ``rtf=`` value of ``1best_recog/rtf``'s ``TOTAL`` line."""
    path = decode_dir / "1best_recog" / "rtf"
    if not path.is_file():
        return None
    for line in path.read_text(encoding="utf-8").splitlines():
        if line.startswith("TOTAL "):
            fields = dict(f.split("=", 1) for f in line.split()[1:] if "=" in f)
            return fields.get("rtf")
    return None


def read_cmd_file(path: Path) -> dict:
    """A ``*.cmd`` record written by run.sh: ``{recipe, started, cwd, command, elapsed_s}``."""
    rec: dict = {"recipe": None, "started": None, "cwd": None, "command": [], "elapsed_s": None}
    for line in path.read_text(encoding="utf-8").splitlines():
        if line.startswith("# run.sh: "):
            rec["recipe"] = line[len("# run.sh: ") :]
        elif line.startswith("# started: "):
            rec["started"] = line[len("# started: ") :]
        elif line.startswith("# cwd: "):
            rec["cwd"] = line[len("# cwd: ") :]
        elif line.startswith("# elapsed_s: "):
            rec["elapsed_s"] = line[len("# elapsed_s: ") :]
        elif line.strip() and not line.startswith("#"):
            rec["command"].append(line)
    return rec


def fmt_rate(value: float | None) -> str:
    return "n/a" if value is None else f"{value:.2f}"


def cer_line(s: Score) -> str:
    """Kaldi's ``%WER`` line shape: ``%CER 4.52 [ 47 / 1040, 1 ins, 4 del, 42 sub ] <decode dir>``."""
    m = s.summary
    partial = " [PARTIAL]" if m.get("partial") else ""
    return (
        f"%CER {fmt_rate(m.get('cer'))} [ {m['errors']} / {m['n']}, {m['i']} ins, {m['d']} del, "
        f"{m['s']} sub ]{partial} {s.decode_dir}"
    )


def collect(exp_dir: Path, sets: list[str], decodes: list[tuple[str, str, str]]) -> list[Score]:
    scores = []
    for label, _model, tag in decodes:
        for name in sets:
            d = exp_dir / f"{tag}_{name}"
            path = d / "cer.json"
            if not path.is_file():
                raise FileNotFoundError(f"{path}: no score (run the scoring stage first)")
            summary = json.loads(path.read_text(encoding="utf-8"))
            missing = [k for k in SUMMARY_KEYS if k not in summary] if isinstance(summary, dict) else list(SUMMARY_KEYS)
            if missing:
                raise ValueError(f"{path}: not a compute_cer --json summary (missing {', '.join(missing)})")
            scores.append(Score(label, name, d, summary, read_rtf(d)))
    return scores


def training_info(model_dir: Path) -> dict | None:
    """What the trainer recorded about a model folder: ``<model_dir>_info.json`` (funasr_lite's
    trainer: ``averaged`` checkpoint files) or ``<model_dir>/train_info.json``."""
    for path in (model_dir.parent / f"{model_dir.name}_info.json", model_dir / "train_info.json"):
        if path.is_file():
            try:
                data = json.loads(path.read_text(encoding="utf-8"))
            except ValueError:
                return None
            return data if isinstance(data, dict) else None
    return None


def averaged_lines(model_dir: Path, averaged: list) -> list[str]:
    """``ep7.pt (acc=0.9731, step 420)`` for each averaged checkpoint, values from ``checkpoints.json``."""
    index: dict[str, dict] = {}
    try:
        for e in json.loads((model_dir.parent / "checkpoints" / "checkpoints.json").read_text(encoding="utf-8")):
            if isinstance(e, dict) and "file" in e:
                index[str(e["file"])] = e
    except (OSError, ValueError, TypeError):
        pass
    out = []
    for name in averaged:
        e = index.get(str(name))
        value = e.get("value") if e else None
        value = f"{value:.4f}" if isinstance(value, float) else value
        extra = f" ({e.get('metric')}={value}, step {e.get('step')})" if e else ""
        out.append(f"`{name}`{extra}")
    return out


def model_lines(label: str, model_dir: Path) -> list[str]:
    ckpt = find_checkpoint(model_dir)
    if ckpt is None:
        return [f"- `{label}`: `{model_dir}` (no checkpoint found)"]
    lines = [
        f"- `{label}`: `{model_dir}`, `{ckpt.name}` sha256 `{sha256(ckpt)}` ({ckpt.stat().st_size / 2**20:.1f} MiB)"
    ]
    info = training_info(model_dir)
    if info:
        if isinstance(info.get("averaged"), list):
            lines.append(
                f"  - average of {len(info['averaged'])} checkpoint(s): "
                + ", ".join(averaged_lines(model_dir, info["averaged"]))
            )
        shown = ", ".join(
            f"{k}: {json.dumps(v, ensure_ascii=False)}"
            for k, v in info.items()
            if k not in ("averaged", "model_dir") and not isinstance(v, (dict, list))
        )
        if shown:
            lines.append(f"  - training record: {shown}")
    return lines


def render(
    exp_dir: Path,
    sets: list[str],
    decodes: list[tuple[str, str, str]],
    scores: list[Score],
    commands: list[str],
    title: str | None,
) -> str:
    out = [f"# {title or f'Results: {exp_dir}'}", ""]
    out.append(f"- date: {_dt.datetime.now(_dt.timezone.utc).strftime('%Y-%m-%dT%H:%M:%SZ')}")
    out.append(f"- hardware (the machine that wrote this file): {hardware_line()}")
    out.append(f"- funasr_lite git: {git_revision()}")
    out.append("- models:")
    for label, model, _tag in decodes:
        out.extend("  " + line for line in model_lines(label, Path(model)))
    out += ["", "## CER (%)", ""]
    multi = len(decodes) > 1
    if multi:  # before/after table: one row per model, one column per set
        out.append("| model | " + " | ".join(sets) + " |")
        out.append("|---|" + "---|" * len(sets))
        for label, _m, _t in decodes:
            row = {s.set: fmt_rate(s.summary.get("cer")) for s in scores if s.label == label}
            out.append(f"| {label} | " + " | ".join(row[n] for n in sets) + " |")
        out.append("")
    out.append("| model | set | CER | N | S | D | I | errors | sentences | SER | RTF |")
    out.append("|---|---|---|---|---|---|---|---|---|---|---|")
    for s in scores:
        m = s.summary
        out.append(
            f"| {s.label} | {s.set} | {fmt_rate(m.get('cer'))} | {m['n']} | {m['s']} | {m['d']} | {m['i']} | "
            f"{m['errors']} | {m['sentences']} | {fmt_rate(m.get('ser'))} | {s.rtf or 'n/a'} |"
        )
    out += ["", "```"] + [cer_line(s) for s in scores] + ["```", ""]
    steps = [
        (path, read_cmd_file(path))
        for path in sorted(exp_dir.glob("*.cmd")) + [p for s in scores for p in sorted(s.decode_dir.glob("*.cmd"))]
    ]
    steps.sort(key=lambda x: x[1]["started"] or "")
    recipe_lines = list(dict.fromkeys([rec["recipe"] for _p, rec in steps if rec["recipe"]] + commands))
    out += ["## Commands", "", "Recipe (each invocation, in order):", "", "```"] + recipe_lines + ["```", ""]
    if steps:
        out += ["Steps as run.sh ran them:", ""]
        for path, rec in steps:
            when = f", started {rec['started']}" if rec["started"] else ""
            took = f", {rec['elapsed_s']} s" if rec["elapsed_s"] is not None else ", did not finish"
            cwd = f", in `{rec['cwd']}`" if rec["cwd"] else ""
            out += [f"- `{path}`{when}{took}{cwd}", "", "  ```"] + [f"  {c}" for c in rec["command"]] + ["  ```", ""]
    return "\n".join(out).rstrip("\n") + "\n"


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(prog=PROG, description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--exp_dir", required=True, help="the experiment folder (decode_<set>/cer.json, model_dir/)")
    p.add_argument("--sets", default="dev,test", help="comma list of scored sets (default: %(default)s)")
    p.add_argument("--command", action="append", default=[], help="the recipe command line (repeatable)")
    p.add_argument(
        "--decode",
        nargs=3,
        action="append",
        metavar=("LABEL", "MODEL_DIR", "DECODE_TAG"),
        help="a model and its decode dirs <exp_dir>/<DECODE_TAG>_<set> (repeatable; "
        "default: model_dir <exp_dir>/model_dir decode)",
    )
    p.add_argument("--title", default=None, help="the first heading of RESULTS.md")
    p.add_argument("--out", default=None, help="default: <exp_dir>/RESULTS.md")
    args = p.parse_args(argv)
    exp_dir = Path(args.exp_dir)
    sets = [s for s in args.sets.split(",") if s]
    decodes = args.decode or [("model_dir", str(exp_dir / "model_dir"), "decode")]
    if not sets:
        p.error("--sets is empty")
    try:
        scores = collect(exp_dir, sets, decodes)
        text = render(exp_dir, sets, decodes, scores, args.command, args.title)
        out = Path(args.out) if args.out else exp_dir / "RESULTS.md"
        write_text_atomic(out, text)
    except (OSError, ValueError, KeyError) as e:
        print(f"{PROG}: error: {e}", file=sys.stderr)
        return 1
    for s in scores:
        print(f"{s.label} {s.set}: {cer_line(s)}")
    print(f"{PROG}: wrote {out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
