#!/usr/bin/env python3
"""Crash-safety check: SIGKILL real runs at random moments, rerun, verify the outputs.

    python tools/crash_test.py --kills 5 --seed 1 [--what decode,fbank,train] [--files 20]
        [--audio espeak|tone] [--work_dir DIR] [--keep]

For each target the real command runs once uninterrupted (the reference), then again in a fresh
folder where it is started ``--kills`` times in a row and each time the whole process group
(run.pl, its forked children, every job) is killed with SIGKILL after a seeded random delay of up
to the reference's wall time; then it is rerun to completion and checked against the reference:

* ``decode``: ``python -m funasr_lite.bin.inference --model tests/fixtures/models/paraformer_tiny
  --nj 4`` (jobs through ``utils/run.pl``). Every ``1best_recog`` file (text, token, score, rtf,
  time_stamp, text_with_punc when present) has each wav.scp key exactly once, in order, no empty
  or torn line (every file ends in a newline and is valid UTF-8), the same bytes as the
  reference (rtf: same keys and a single ``TOTAL ... utts=N`` line); one JSON file per key equal
  to the reference's; ``errors.txt`` empty.
* ``fbank``: ``utils/run.pl JOB=1:4 ... dump_fbank --nj 4 --job JOB`` then the merging
  ``dump_fbank --nj 4``, as ``egs/synth/asr/run.sh`` stage 1 does. ``feats.scp`` and
  ``utt2num_frames`` have each key once, no torn line; every matrix loads with kaldiio and equals
  the reference's exactly; frame counts match the matrices.
* ``train``: ``python -m funasr_lite.bin.train`` with a 2-block model (the setup of
  ``tests/test_train_asr.py``: dropout 0.1, one data-loader worker, dev set), a checkpoint after
  every step. The exported ``model_dir/model.pt`` equals the reference's bit for bit, the
  checkpoint index is readable and every indexed checkpoint loads, ``metrics.jsonl`` has no torn
  line and the same rows (step, losses, accuracies; not the timings) as the reference.

Prints a summary table; exit status 0 only if every target passes. Scratch data goes to
``--work_dir`` (default: a temporary folder, removed at the end unless ``--keep`` or a failure).
Light enough for 2 cores: 20 short clips; decode + fbank with 2 kills take about a minute.
"""

from __future__ import annotations

import argparse
import collections
import json
import os
import random
import shlex
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

TARGETS = ("decode", "fbank", "train")
SENTENCES = [
    "今天天气很好",
    "我们去公园散步",
    "然后一起吃午饭",
    "下午回家休息",
    "明天还要上班",
    "这个问题下次再说",
    "大家都听明白了",
    "请早点睡觉",
]


# ------------------------------------------------------------------------------------ running


@dataclass
class Kill:
    when: str
    landed: bool  # False: the run ended before the kill time
    progress: str  # what was done when it was killed


@dataclass
class Outcome:
    target: str
    kills: list[Kill] = field(default_factory=list)
    ref_s: float = 0.0
    final_rc: int | None = None
    final_s: float = 0.0
    checks: int = 0
    problems: list[str] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return not self.problems and self.final_rc == 0


def _env() -> dict[str, str]:
    env = dict(
        os.environ,
        PYTHONPATH=os.pathsep.join(filter(None, [str(REPO), os.environ.get("PYTHONPATH")])),
        OMP_NUM_THREADS=os.environ.get("OMP_NUM_THREADS", "1"),
        PYTHONUNBUFFERED="1",
    )
    return env


def _start(cmd: list[str], log: Path) -> subprocess.Popen:
    log.parent.mkdir(parents=True, exist_ok=True)
    with open(log, "ab") as fh:
        fh.write(f"\n### {' '.join(cmd)}\n".encode())
        return subprocess.Popen(
            cmd,
            cwd=REPO,
            env=_env(),
            stdin=subprocess.DEVNULL,
            stdout=fh,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )


def _group_alive(pgid: int) -> bool:
    try:
        os.killpg(pgid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def _kill_group(proc: subprocess.Popen) -> None:
    """SIGKILL the whole process group and wait until nothing of it is left (zombies reaped by init)."""
    try:
        os.killpg(proc.pid, signal.SIGKILL)
    except ProcessLookupError:
        pass
    proc.wait()
    deadline = time.monotonic() + 10
    while _group_alive(proc.pid) and time.monotonic() < deadline:
        time.sleep(0.02)


def run_to_end(
    cmd: list[str], log: Path, timeout_s: float, progress: Callable[[], tuple[float, str]] | None = None
) -> tuple[int, float, float]:
    """Run ``cmd`` to its end; returns (exit status, wall seconds, seconds until ``progress`` first changed)."""
    t0 = time.monotonic()
    proc = _start(cmd, log)
    first = None
    start_state = progress()[1] if progress else None
    while proc.poll() is None:
        if time.monotonic() - t0 > timeout_s:
            _kill_group(proc)
            return -1, time.monotonic() - t0, 0.0
        if progress is not None and first is None and progress()[1] != start_state:
            first = time.monotonic() - t0
        time.sleep(0.02)
    wall = time.monotonic() - t0
    return proc.returncode, wall, wall if first is None else first


def run_with_kills(
    cmd: list[str],
    log: Path,
    kills: int,
    rng: random.Random,
    window: tuple[float, float],
    progress: Callable[[], tuple[float, str]],
) -> list[Kill]:
    """Start ``cmd`` ``kills`` times, SIGKILL its process group at a seeded random moment each time.

    ``window`` is (first output, end) of the reference run; a resumed run needs the start-up time
    plus the remaining share of the work (``progress()[0]`` is the share done). Half the kills come
    at a random time from the start (imports, model loading, job start-up, merging), half at a
    random time after the run's own first new output (while results are being written).
    """
    out = []
    first, end = window
    for _ in range(kills):
        share_left = max(0.0, 1.0 - progress()[0])
        after_output = rng.random() < 0.5
        delay = (
            rng.uniform(0.0, (end - first) * share_left)
            if after_output
            else rng.uniform(0.0, first + (end - first) * share_left)
        )
        before = progress()[1]
        proc = _start(cmd, log)
        t0 = time.monotonic()
        landed, kill_at = False, None if after_output else t0 + delay
        while proc.poll() is None:
            now = time.monotonic()
            if kill_at is None and progress()[1] != before:
                kill_at = now + delay
            if kill_at is not None and now >= kill_at:
                _kill_group(proc)
                landed = True
                break
            time.sleep(0.01)
        when = f"{time.monotonic() - t0:.2f} s" + (f" ({delay:.2f} s after its first output)" if after_output else "")
        out.append(Kill(when, landed, progress()[1]))
    return out


# -------------------------------------------------------------------------------- test data


def make_audio(folder: Path, n: int, seed: int, kind: str) -> Path:
    """``n`` short 16 kHz clips (espeak-ng Mandarin, or seeded tones) and their ``wav.scp``."""
    import numpy as np  # noqa: PLC0415
    import soundfile as sf  # noqa: PLC0415

    folder.mkdir(parents=True, exist_ok=True)
    if kind == "auto":
        kind = "espeak" if shutil.which("espeak-ng") else "tone"
    rng = np.random.default_rng(seed)
    lines = []
    for i in range(n):
        path = folder / f"utt{i:03d}.wav"
        if kind == "espeak":
            raw = folder / f".raw{i}.wav"
            text = SENTENCES[i % len(SENTENCES)] + SENTENCES[(i * 3 + 1) % len(SENTENCES)][: 1 + i % 4]
            subprocess.run(
                ["espeak-ng", "-v", f"cmn+f{1 + i % 4}", "-w", str(raw), text], check=True, capture_output=True
            )
            from funasr_lite.frontend.audio import load_audio  # noqa: PLC0415

            wave = load_audio(str(raw)).waveform
            raw.unlink()
        else:
            t = np.arange(int(16000 * rng.uniform(0.6, 1.6))) / 16000
            wave = (
                0.3 * np.sin(2 * np.pi * rng.uniform(150, 900) * t) * np.sin(2 * np.pi * 2.5 * t)
                + 0.01 * rng.standard_normal(t.size)
            ).astype(np.float32)
        sf.write(path, wave, 16000, subtype="PCM_16")
        lines.append(f"utt{i:03d} {path}\n")
    scp = folder / "wav.scp"
    scp.write_text("".join(lines), encoding="utf-8")
    return scp


def scp_keys(scp: Path) -> list[str]:
    return [line.split()[0] for line in scp.read_text(encoding="utf-8").splitlines() if line.strip()]


# ------------------------------------------------------------------------------------ checks


def read_lines(path: Path, problems: list[str], label: str) -> list[str] | None:
    """The ``\\n``-separated lines of a text file; a missing newline at the end or bad UTF-8 is a problem."""
    if not path.is_file():
        problems.append(f"{label}: missing")
        return None
    raw = path.read_bytes()
    if raw and not raw.endswith(b"\n"):
        problems.append(f"{label}: torn last line (no newline at the end)")
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError as err:
        problems.append(f"{label}: not UTF-8 ({err})")
        return None
    lines = text.split("\n")
    if lines and lines[-1] == "":
        lines.pop()
    for n, line in enumerate(lines, 1):
        if not line.strip():
            problems.append(f"{label}:{n}: empty line")
    return lines


def check_keys(got: list[str], want: list[str], problems: list[str], label: str, ordered: bool = True) -> None:
    counts = collections.Counter(got)
    dups = sorted(k for k, c in counts.items() if c > 1)
    missing = sorted(set(want) - set(got))
    extra = sorted(set(got) - set(want))
    if dups:
        problems.append(f"{label}: duplicate key(s) {dups[:5]}")
    if missing:
        problems.append(f"{label}: missing key(s) {missing[:5]} ({len(missing)} in all)")
    if extra:
        problems.append(f"{label}: unexpected key(s) {extra[:5]}")
    if ordered and not (dups or missing or extra) and got != want:
        problems.append(f"{label}: keys not in wav.scp order")


def _tmp_files(folder: Path) -> list[Path]:
    return [p for p in folder.rglob("*") if p.is_file() and (p.name.endswith(".tmp") or ".tmp" in p.suffix)]


# ------------------------------------------------------------------------------------ decode


def decode_cmd(wav_scp: Path, out: Path, model: Path, nj: int) -> list[str]:
    return [
        sys.executable,
        "-m",
        "funasr_lite.bin.inference",
        "--model",
        str(model),
        "--wav_scp",
        str(wav_scp),
        "--output_dir",
        str(out),
        "--nj",
        str(nj),
        "--output_format",
        "json",
    ]


def decode_progress(out: Path, total: int) -> tuple[float, str]:
    done = 0
    for journal in out.glob("split*/*/1best_recog/.journal.jsonl"):
        done += journal.read_bytes().count(b"\n")
    merged = (out / "1best_recog" / "text").is_file()
    return min(done, total) / total, f"{done} decoded" + (", merged" if merged else "")


def check_decode(out: Path, ref: Path, keys: list[str], o: Outcome) -> None:
    p = o.problems
    names = ["text", "token", "score", "rtf"] + [
        n for n in ("time_stamp", "text_with_punc") if (ref / "1best_recog" / n).is_file()
    ]
    for name in names:
        label = f"1best_recog/{name}"
        lines = read_lines(out / "1best_recog" / name, p, label)
        o.checks += 1
        if lines is None:
            continue
        if name == "rtf":
            totals = [ln for ln in lines if ln.startswith("TOTAL ")]
            if len(totals) != 1 or lines[-1] != totals[0] or f"utts={len(keys)}" not in totals[0]:
                p.append(f"{label}: expected one last line 'TOTAL ... utts={len(keys)}', got {totals}")
            lines = [ln for ln in lines if not ln.startswith("TOTAL ")]
            for ln in lines:
                try:
                    float(ln.split(" ", 1)[1])
                except (IndexError, ValueError):
                    p.append(f"{label}: bad line {ln!r}")
        check_keys([ln.split(" ", 1)[0] for ln in lines], keys, p, label)
        if name != "rtf" and (out / "1best_recog" / name).read_bytes() != (ref / "1best_recog" / name).read_bytes():
            p.append(f"{label}: differs from the uninterrupted run")
    o.checks += 1
    got = sorted(f.stem for f in (out / "json").glob("*.json")) if (out / "json").is_dir() else []
    check_keys(got, sorted(keys), p, "json/", ordered=False)
    for key in keys:
        f, g = out / "json" / f"{key}.json", ref / "json" / f"{key}.json"
        if f.is_file():
            try:
                if json.loads(f.read_text(encoding="utf-8")) != json.loads(g.read_text(encoding="utf-8")):
                    p.append(f"json/{key}.json: differs from the uninterrupted run")
            except ValueError as err:
                p.append(f"json/{key}.json: not JSON ({err})")
    o.checks += 1
    errors = (out / "errors.txt").read_text(encoding="utf-8") if (out / "errors.txt").is_file() else None
    if errors != "":
        p.append(f"errors.txt: expected empty, got {errors!r}")
    torn = 0
    for journal in out.glob("split*/*/1best_recog/.journal.jsonl"):
        for line in journal.read_text(encoding="utf-8", errors="replace").split("\n"):
            if line.strip():
                try:
                    json.loads(line)
                except ValueError:
                    torn += 1
    if torn:
        o.notes.append(f"{torn} torn journal line(s) left by kills (ignored by design)")
    stale = _tmp_files(out)
    if stale:
        o.notes.append(f"{len(stale)} stale temporary file(s), e.g. {stale[0].relative_to(out)}")


def target_decode(work: Path, wav_scp: Path, args: argparse.Namespace, rng: random.Random) -> Outcome:
    o = Outcome("decode")
    keys = scp_keys(wav_scp)
    ref, out = work / "decode_ref", work / "decode_crash"
    rc, o.ref_s, first = run_to_end(
        decode_cmd(wav_scp, ref, args.model, args.nj),
        work / "decode_ref.log",
        args.timeout,
        lambda: decode_progress(ref, len(keys)),
    )
    if rc != 0:
        o.problems.append(f"reference run failed (rc {rc}), see {work / 'decode_ref.log'}")
        return o
    log = work / "decode_crash.log"
    cmd = decode_cmd(wav_scp, out, args.model, args.nj)
    o.kills = run_with_kills(cmd, log, args.kills, rng, (first, o.ref_s), lambda: decode_progress(out, len(keys)))
    o.final_rc, o.final_s, _ = run_to_end(cmd, log, args.timeout)
    if o.final_rc != 0:
        o.problems.append(f"final run exited {o.final_rc}, see {log}")
    check_decode(out, ref, keys, o)
    return o


# ------------------------------------------------------------------------------------- fbank


def fbank_cmd(wav_scp: Path, out: Path, nj: int) -> list[str]:
    """egs/synth/asr stage 1: the jobs through run.pl, then the merging run, as one process group."""
    from funasr_lite.bin.inference import runpl_quote  # noqa: PLC0415  (run.pl joins its arguments for bash)

    conf = REPO / "conf" / "frontend_paraformer.yaml"
    py = [
        sys.executable,
        "-m",
        "funasr_lite.bin.dump_fbank",
        "--wav_scp",
        str(wav_scp),
        "--out_dir",
        str(out),
        "--frontend_conf",
        str(conf),
        "--nj",
        str(nj),
    ]
    jobs = [
        str(REPO / "utils" / "run.pl"),
        f"JOB=1:{nj}",
        str(out / "log" / "dump.JOB.log"),
        *(runpl_quote(a) for a in py),
        "--job",
        "JOB",
    ]
    script = f"{shlex.join(jobs)} || exit 1\n{shlex.join(py)}\n"
    return ["bash", "-c", script]


def fbank_progress(out: Path, nj: int) -> tuple[float, str]:
    jobs = len(list(out.glob("feats.*.scp")))
    ark = sum(f.stat().st_size for f in out.glob("feats.*.ark") if f.is_file())
    merged = (out / "feats.scp").is_file()
    return jobs / nj, f"{jobs} jobs done, {ark} ark bytes" + (", merged" if merged else "")


def check_fbank(out: Path, ref: Path, keys: list[str], o: Outcome) -> None:
    import kaldiio  # noqa: PLC0415
    import numpy as np  # noqa: PLC0415

    p = o.problems
    want = sorted(keys)
    for name in ("feats.scp", "utt2num_frames"):
        o.checks += 1
        lines = read_lines(out / name, p, name)
        if lines is None:
            return
        check_keys([ln.split(" ", 1)[0] for ln in lines], want, p, name)
        for ln in lines:
            if len(ln.split(" ", 1)) != 2 or not ln.split(" ", 1)[1].strip():
                p.append(f"{name}: bad line {ln!r}")
    o.checks += 1
    job_keys = [k for f in sorted(out.glob("feats.*.scp")) for k in scp_keys(f)]
    check_keys(sorted(job_keys), want, p, "feats.<job>.scp (together)", ordered=False)
    o.checks += 1
    try:
        got = dict(kaldiio.load_scp(str(out / "feats.scp")).items())
        frames = {k: int(v) for k, v in (ln.split(" ", 1) for ln in (out / "utt2num_frames").read_text().splitlines())}
    except Exception as err:  # noqa: BLE001 - any failure to read back is the finding
        p.append(f"feats.scp: cannot load with kaldiio ({type(err).__name__}: {err})")
        return
    wanted = kaldiio.load_scp(str(ref / "feats.scp"))
    for key in want:
        if key not in got:
            continue
        mat = got[key]
        if not np.array_equal(mat, wanted[key]):
            p.append(f"feats[{key}]: differs from the uninterrupted run")
        if frames.get(key) != mat.shape[0]:
            p.append(f"utt2num_frames[{key}] = {frames.get(key)}, matrix has {mat.shape[0]} rows")
    stale = _tmp_files(out)
    if stale:
        o.notes.append(f"{len(stale)} stale temporary file(s), e.g. {stale[0].relative_to(out)}")


def target_fbank(work: Path, wav_scp: Path, args: argparse.Namespace, rng: random.Random) -> Outcome:
    o = Outcome("fbank")
    keys = scp_keys(wav_scp)
    ref, out = work / "fbank_ref", work / "fbank_crash"
    rc, o.ref_s, first = run_to_end(
        fbank_cmd(wav_scp, ref, args.nj), work / "fbank_ref.log", args.timeout, lambda: fbank_progress(ref, args.nj)
    )
    if rc != 0:
        o.problems.append(f"reference run failed (rc {rc}), see {work / 'fbank_ref.log'}")
        return o
    log = work / "fbank_crash.log"
    cmd = fbank_cmd(wav_scp, out, args.nj)
    o.kills = run_with_kills(cmd, log, args.kills, rng, (first, o.ref_s), lambda: fbank_progress(out, args.nj))
    o.final_rc, o.final_s, _ = run_to_end(cmd, log, args.timeout)
    if o.final_rc != 0:
        o.problems.append(f"final run exited {o.final_rc}, see {log}")
    check_fbank(out, ref, keys, o)
    return o


# ------------------------------------------------------------------------------------- train


def train_corpus(work: Path, seed: int) -> dict[str, Path]:
    """tests/test_train_asr.py's corpus: 40 espeak-ng utterances, tokens, CMVN, the tiny config
    (``tools/tiny_asr_corpus.py``); built once per work folder."""
    from tiny_asr_corpus import corpus_paths, tiny_asr_corpus  # noqa: PLC0415  (this script's folder is on sys.path)

    root = work / "train_corpus"
    if corpus_paths(root)["conf"].is_file():
        return corpus_paths(root)
    return tiny_asr_corpus(root, num_train=40, num_dev=6, num_test=2, seed=seed)


def train_cmd(c: dict[str, Path], out: Path, steps: int) -> list[str]:
    from tiny_asr_corpus import train_args  # noqa: PLC0415  (this script's folder is on sys.path)

    extra = ["--num_threads", "1", "--train_conf.max_steps", str(steps), "--train_conf.max_epoch", "50"]
    extra += ["--train_conf.save_checkpoint_interval", "1", "--encoder_conf.dropout_rate", "0.1"]
    return [
        sys.executable,
        "-m",
        "funasr_lite.bin.train",
        *train_args(c, out, *extra, "--dataset_conf.num_workers", "1"),
    ]


def train_progress(out: Path, steps: int) -> tuple[float, str]:
    index = out / "checkpoints" / "checkpoints.json"
    try:
        step = max(e.get("step") or 0 for e in json.loads(index.read_text(encoding="utf-8")))
    except (OSError, ValueError):
        return 0.0, "no checkpoint"
    return min(step, steps) / steps, f"checkpoint step {step}" + (
        ", exported" if (out / "model_dir" / "model.pt").is_file() else ""
    )


def _metric_rows(path: Path, p: list[str]) -> list[dict]:
    rows = []
    lines = read_lines(path, p, "metrics.jsonl") or []
    for n, line in enumerate(lines, 1):
        try:
            row = json.loads(line)
        except ValueError:
            p.append(f"metrics.jsonl:{n}: torn or bad line {line[:60]!r}")
            continue
        row.pop("elapsed_s", None)
        rows.append(row)
    return rows


def check_train(out: Path, ref: Path, o: Outcome) -> None:
    import torch  # noqa: PLC0415

    p = o.problems
    o.checks += 1
    try:
        got = torch.load(out / "model_dir" / "model.pt", map_location="cpu", weights_only=True)
    except Exception as err:  # noqa: BLE001
        p.append(f"model_dir/model.pt: cannot load ({type(err).__name__}: {err})")
        return
    want = torch.load(ref / "model_dir" / "model.pt", map_location="cpu", weights_only=True)
    if got.keys() != want.keys():
        p.append("model_dir/model.pt: parameter names differ from the uninterrupted run")
    else:
        diff = [k for k in want if not torch.equal(got[k], want[k])]
        if diff:
            p.append(f"model_dir/model.pt: {len(diff)} tensor(s) differ from the uninterrupted run, e.g. {diff[0]}")
    o.checks += 1
    averaged = [json.loads((d / "model_dir_info.json").read_text())["averaged"] for d in (out, ref)]
    if averaged[0] != averaged[1]:
        p.append("model_dir_info.json: other checkpoints averaged than in the uninterrupted run")
    o.checks += 1
    try:
        entries = json.loads((out / "checkpoints" / "checkpoints.json").read_text(encoding="utf-8"))
        for e in entries:
            torch.load(out / "checkpoints" / e["file"], map_location="cpu", weights_only=True)
    except Exception as err:  # noqa: BLE001
        p.append(f"checkpoints: index or an indexed checkpoint unreadable ({type(err).__name__}: {err})")
    o.checks += 1
    rows, ref_rows = _metric_rows(out / "metrics.jsonl", p), _metric_rows(ref / "metrics.jsonl", [])
    if rows != ref_rows:
        seen = collections.Counter((r.get("split"), r.get("step")) for r in rows)
        dups = sorted(k for k, c in seen.items() if c > 1)
        p.append(
            f"metrics.jsonl: {len(rows)} rows vs {len(ref_rows)} in the uninterrupted run"
            + (f"; duplicated (split, step) {dups[:3]}" if dups else "; values differ")
        )
    stale = _tmp_files(out)
    if stale:
        o.notes.append(f"{len(stale)} stale temporary file(s), e.g. {stale[0].relative_to(out)}")


def target_train(work: Path, _wav_scp: Path, args: argparse.Namespace, rng: random.Random) -> Outcome:
    o = Outcome("train")
    corpus = train_corpus(work, args.seed + 2)
    ref, out = work / "train_ref", work / "train_crash"
    rc, o.ref_s, first = run_to_end(
        train_cmd(corpus, ref, args.train_steps),
        work / "train_ref.log",
        args.timeout,
        lambda: train_progress(ref, args.train_steps),
    )
    if rc != 0:
        o.problems.append(f"reference run failed (rc {rc}), see {work / 'train_ref.log'}")
        return o
    log = work / "train_crash.log"
    cmd = train_cmd(corpus, out, args.train_steps)
    o.kills = run_with_kills(cmd, log, args.kills, rng, (first, o.ref_s), lambda: train_progress(out, args.train_steps))
    o.final_rc, o.final_s, _ = run_to_end(cmd, log, args.timeout)
    if o.final_rc != 0:
        o.problems.append(f"final run exited {o.final_rc}, see {log}")
        return o
    check_train(out, ref, o)
    return o


# -------------------------------------------------------------------------------------- main


def summary(outcomes: list[Outcome]) -> str:
    rows = [("target", "kills landed", "ref s", "final s", "rc", "checks", "result")]
    for o in outcomes:
        landed = sum(k.landed for k in o.kills)
        rows.append(
            (
                o.target,
                f"{landed}/{len(o.kills)}",
                f"{o.ref_s:.1f}",
                f"{o.final_s:.1f}",
                str(o.final_rc),
                str(o.checks),
                "PASS" if o.ok else "FAIL",
            )
        )
    widths = [max(len(r[i]) for r in rows) for i in range(len(rows[0]))]
    lines = ["  ".join(c.ljust(w) for c, w in zip(r, widths)) for r in rows]
    lines.insert(1, "  ".join("-" * w for w in widths))
    for o in outcomes:
        for i, k in enumerate(o.kills, 1):
            state = f"killed at {k.when}" if k.landed else f"ended by itself after {k.when}"
            lines.append(f"  {o.target} run {i}: {state}: {k.progress}")
        lines.extend(f"  {o.target}: note: {n}" for n in o.notes)
        lines.extend(f"  {o.target}: FAIL: {pr}" for pr in o.problems)
    return "\n".join(lines)


def get_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--kills", type=int, default=5, help="SIGKILLs in a row before the final run (default: %(default)s)")
    p.add_argument("--seed", type=int, default=1, help="seeds the kill times and the audio (default: %(default)s)")
    p.add_argument("--what", default=",".join(TARGETS), help="comma list of %(default)s")
    p.add_argument("--files", type=int, default=20, help="clips in the wav.scp (default: %(default)s)")
    p.add_argument(
        "--audio",
        choices=("auto", "espeak", "tone"),
        default="auto",
        help="espeak-ng speech or generated tones (auto: espeak-ng when installed)",
    )
    p.add_argument("--nj", type=int, default=4, help="jobs for decode and fbank (default: %(default)s)")
    p.add_argument("--model", type=Path, default=REPO / "tests/fixtures/models/paraformer_tiny")
    p.add_argument("--train_steps", type=int, default=60, help="max_steps of the training run (default: %(default)s)")
    p.add_argument("--timeout", type=float, default=600, help="seconds allowed for one uninterrupted run")
    p.add_argument("--work_dir", type=Path, default=None, help="scratch folder (default: a temporary one)")
    p.add_argument("--keep", action="store_true", help="keep the scratch folder")
    return p


def main(argv: list[str] | None = None) -> int:
    args = get_parser().parse_args(argv)
    what = [w.strip() for w in args.what.split(",") if w.strip()]
    bad = [w for w in what if w not in TARGETS]
    if bad or args.kills < 0 or args.files < args.nj:
        print(
            f"crash_test: error: --what from {','.join(TARGETS)}, --kills >= 0, --files >= --nj (got {args.what!r})",
            file=sys.stderr,
        )
        return 2
    work = args.work_dir or Path(tempfile.mkdtemp(prefix="crash_test_"))
    work.mkdir(parents=True, exist_ok=True)
    t0 = time.monotonic()
    wav_scp = make_audio(work / "audio", args.files, args.seed, args.audio) if {"decode", "fbank"} & set(what) else work
    outcomes = []
    for name in what:
        fn = {"decode": target_decode, "fbank": target_fbank, "train": target_train}[name]
        outcomes.append(fn(work, wav_scp, args, random.Random(f"{args.seed}-{name}")))
    print(summary(outcomes))
    ok = all(o.ok for o in outcomes)
    print(
        f"crash_test: {'PASS' if ok else 'FAIL'} in {time.monotonic() - t0:.1f} s (seed {args.seed}, "
        f"{args.kills} kills per target, work dir {work}{'' if ok and not args.keep and not args.work_dir else ' kept'})"
    )
    if ok and not args.keep and args.work_dir is None:
        shutil.rmtree(work, ignore_errors=True)
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
