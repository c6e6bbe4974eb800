"""Peak host memory and speed of the long-audio pipeline on one multi-hour recording (CPU).

    python bench/long_audio_memory.py --hours 3 --model ASR_DIR --vad_model tools/fsmn_vad \\
        [--punc_model PUNC_DIR] [--work /tmp/longaudio]

Writes a ``--hours`` long 16 kHz wav to ``--work`` block by block (espeak-ng sentences with
seeded pauses of 0.2-3 s and gain jitter; the array is never held whole), then runs
``python -m funasr_lite.bin.inference`` on it in a child process. While the child runs, its RSS
is read from ``/proc/<pid>/status`` every ``--every`` seconds; at the end the script prints the
child's peak RSS (``ru_maxrss``), wall time, real-time factor and sentence count, and writes the
RSS series to ``--json``. With ``--extra "--device cuda"`` on a machine with ``nvidia-smi``, each
sample also holds the child's GPU memory (the driver's figure, allocator cache included). The target is <= 3 GB for 3 hours. Use a full-size model folder for a meaningful figure, e.g. the random-weight
Paraformer-large built by ``tools/make_fixtures/check_fullsize.py``.
"""

from __future__ import annotations

import argparse
import json
import resource
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import soundfile as sf

SENTENCES = [
    "今天天气很好我们去公园散步",
    "然后我们一起吃午饭下午回家休息",
    "明天还要上班请早点睡觉",
    "这个问题我们下次开会再讨论",
    "他说的话大家都听明白了吗",
]


def sentence_pool(tmp: Path) -> list[np.ndarray]:
    """A few espeak-ng sentences in several voices, as 16 kHz float32 arrays."""
    from funasr_lite.frontend.audio import load_audio  # noqa: PLC0415

    pool = []
    for i, text in enumerate(SENTENCES):
        for voice in ("f1", "m2", "f3"):
            raw = tmp / f"s{i}{voice}.wav"
            subprocess.run(["espeak-ng", "-v", f"cmn+{voice}", "-w", str(raw), text], check=True)
            pool.append(load_audio(str(raw)).waveform)
    return pool


def write_long_wav(path: Path, hours: float, seed: int = 0) -> float:
    """Stream a long recording to ``path``; return its duration in seconds."""
    rng = np.random.default_rng(seed)
    total = int(hours * 3600 * 16000)
    written = 0
    with tempfile.TemporaryDirectory() as tmp, sf.SoundFile(path, "w", 16000, 1, "PCM_16") as f:
        pool = sentence_pool(Path(tmp))
        while written < total:
            clip = pool[rng.integers(len(pool))] * rng.uniform(0.5, 1.5)
            pause = np.zeros(int(rng.uniform(0.2, 3.0) * 16000), np.float32)
            block = np.concatenate([clip, pause])[: total - written]
            block += rng.normal(0, 0.003, len(block)).astype(np.float32)
            f.write(np.clip(block, -1, 1))
            written += len(block)
    return written / 16000


def child_rss_mb(pid: int) -> float | None:
    """Resident set size of process ``pid`` in MB (None once it has exited)."""
    try:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) * 1024 / 1e6
    except (FileNotFoundError, ProcessLookupError):
        return None
    return None


def child_gpu_mb(pid: int) -> float | None:
    """GPU memory that ``nvidia-smi`` reports for process ``pid`` in MB (None without a GPU or the process)."""
    if not shutil.which("nvidia-smi"):
        return None
    out = subprocess.run(
        ["nvidia-smi", "--query-compute-apps=pid,used_memory", "--format=csv,noheader,nounits"],
        capture_output=True,
        text=True,
    ).stdout
    for line in out.splitlines():
        fields = [f.strip() for f in line.split(",")]
        if len(fields) == 2 and fields[0] == str(pid) and fields[1].isdigit():
            return float(fields[1]) * 1.048576  # MiB -> MB
    return None


def run_sampled(cmd: list[str], every: float) -> tuple[int, list[tuple[float, ...]]]:
    """Run ``cmd``; return its exit code and ``(elapsed_s, rss_mb[, gpu_mb])`` samples taken every ``every`` s."""
    start = time.perf_counter()
    proc = subprocess.Popen(cmd, stdout=subprocess.DEVNULL)
    series: list[tuple[float, ...]] = []
    while proc.poll() is None:
        rss = child_rss_mb(proc.pid)
        if rss is not None:
            gpu = child_gpu_mb(proc.pid)
            sample = (round(time.perf_counter() - start, 1), round(rss, 1))
            series.append(sample if gpu is None else (*sample, round(gpu, 1)))
        try:
            proc.wait(timeout=every)
        except subprocess.TimeoutExpired:
            pass
    return proc.returncode, series


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--hours", type=float, default=3.0)
    p.add_argument("--model", required=True)
    p.add_argument("--vad_model", default="tools/fsmn_vad")
    p.add_argument("--punc_model", default=None)
    p.add_argument("--work", default="/tmp/longaudio")
    p.add_argument("--every", type=float, default=10.0, help="RSS sampling interval (s)")
    p.add_argument("--json", default=None, help="write the figures and the RSS series here")
    p.add_argument("--extra", default="", help="extra inference options, e.g. '--quantize int8'")
    args = p.parse_args()
    work = Path(args.work)
    work.mkdir(parents=True, exist_ok=True)
    wav = work / f"long_{args.hours:g}h.wav"
    if not wav.is_file():
        print(f"writing {wav} ...", flush=True)
        write_long_wav(wav, args.hours)
    seconds = sf.info(wav).duration
    (work / "wav.scp").write_text(f"long {wav}\n")
    out = work / "out"
    cmd = [
        sys.executable,
        "-m",
        "funasr_lite.bin.inference",
        "--model",
        args.model,
        "--vad_model",
        args.vad_model,
        "--wav_scp",
        str(work / "wav.scp"),
        "--output_dir",
        str(out),
        "--output_format",
        "json",
    ]
    if args.punc_model:
        cmd += ["--punc_model", args.punc_model]
    cmd += args.extra.split()
    journal = out / "1best_recog" / ".journal.jsonl"
    journal.unlink(missing_ok=True)  # measure a full run, not a resumed one
    start = time.perf_counter()
    rc, series = run_sampled(cmd, args.every)
    wall = time.perf_counter() - start
    peak_gb = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 1024**2
    doc = json.loads((out / "json" / "long.json").read_text())
    print(
        f"audio {seconds / 3600:.2f} h; exit code {rc}; peak RSS {peak_gb:.2f} GB; wall {wall:.0f} s; "
        f"RTF {wall / seconds:.4f}; sentences {len(doc['sentences'])}; model {args.model}"
    )
    for frac in (0.1, 0.25, 0.5, 0.75, 0.9, 1.0):
        sample = series[min(len(series) - 1, int(frac * len(series)))] if series else (0, 0)
        gpu = f"; GPU {sample[2]:8.1f} MB" if len(sample) > 2 else ""
        print(f"  RSS at {sample[0]:7.1f} s: {sample[1]:8.1f} MB{gpu}")
    gpu_peak = max((x[2] for x in series if len(x) > 2), default=None)
    if gpu_peak is not None:
        print(f"  peak GPU memory (nvidia-smi, sampled): {gpu_peak:.0f} MB")
    if args.json:
        Path(args.json).write_text(
            json.dumps(
                {
                    "hours": seconds / 3600,
                    "exit_code": rc,
                    "peak_rss_gb": peak_gb,
                    "wall_s": wall,
                    "rtf": wall / seconds,
                    "sentences": len(doc["sentences"]),
                    "command": cmd,
                    "gpu_peak_mb": gpu_peak,
                    "rss_series_s_mb": series,
                },
                indent=1,
            )
            + "\n"
        )


if __name__ == "__main__":
    main()
