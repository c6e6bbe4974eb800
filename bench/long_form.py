"""Long-form Mandarin test set for the speed benchmark (issue 7): espeak-ng "meetings" with pauses.

    python bench/long_form.py --out DIR [--files 6] [--minutes 3] [--seed 0] [--nj N] [--segments DIR2]

A thin wrapper around ``egs/synth/local/make_meetings.py`` with the
benchmark's defaults: ``--files`` recordings of about ``--minutes`` each (6 x 3 min = 18 min; each
recording stops at the first turn that reaches the length, so it is a few seconds longer), with
2, 3, 4, 2, ... speakers taking turns (held-out espeak-ng voices, 1-3 jieba-dictionary sentences a
turn, 0.1-0.25 s pauses inside a turn and 0.3-1.5 s between turns, a -70 dBFS noise floor).
Writes ``DIR/wav/*.wav`` (16 kHz mono 16-bit), ``DIR/wav.scp`` (absolute paths), ``DIR/reco2dur``,
plus make_meetings' ``ref.rttm``, ``reco2num_spk`` and ``meetings.json``. Recording ``i`` depends
only on ``--seed`` and ``i``; ``--nj`` synthesises that many recordings in parallel.

``--segments DIR2`` also cuts every recording into consecutive pieces of about ``--segment_s``
(10) seconds for the "ASR alone on pre-cut segments" benchmark (``cut_points``): from the start
of the current piece, the cut goes to the middle of the pause (a run of >= 100 ms of 10 ms frames
whose RMS is below -50 dBFS) whose middle is closest to ``segment_s`` s later, among pauses whose
middle lies 0.7 to 1.3 x ``segment_s`` later; without such a pause it is exactly ``segment_s``
later. A last piece shorter than 0.3 x ``segment_s`` is joined to the one before. Writes
``DIR2/wav/<rec>_<NNN>.wav``, ``DIR2/wav.scp``, ``DIR2/utt2dur`` and ``DIR2/cuts`` (``utt rec start
end`` in seconds: Kaldi ``segments`` columns, under another name so that no tool mistakes the
pieces for recordings to be cut again).

espeak-ng must be on PATH (a caller using unpacked .debs sets PATH, LD_LIBRARY_PATH and
ESPEAK_DATA_PATH; the worker processes inherit them). A one-word synthesis is tried first.
"""

from __future__ import annotations

import argparse
import shutil
import sys
import tempfile
from pathlib import Path

import numpy as np
import soundfile as sf

REPO = Path(__file__).resolve().parents[1]
for _path in (REPO, REPO / "tools"):
    if str(_path) not in sys.path:
        sys.path.insert(0, str(_path))
from recipe_local import add_recipe_local  # noqa: E402

add_recipe_local("synth")
import make_meetings  # noqa: E402  (egs/synth/local)
from espeak_corpus import Utterance, synthesise  # noqa: E402
from espeak_speakers import FS, write_audio  # noqa: E402

from funasr_lite.data.kaldi_lists import read_scp, write_scp  # noqa: E402

FRAME = FS // 100  # 10 ms
SILENCE_RMS = 32768 * 10 ** (-50 / 20)  # -50 dBFS in int16 units
MIN_PAUSE_FRAMES = 10  # 100 ms


def check_espeak() -> None:
    """Fail early, with the reason, when espeak-ng cannot speak Mandarin here."""
    if shutil.which("espeak-ng") is None:
        raise SystemExit("long_form: espeak-ng is not on PATH (set PATH, LD_LIBRARY_PATH, ESPEAK_DATA_PATH)")
    with tempfile.TemporaryDirectory() as tmp:
        try:
            dur = synthesise(Utterance("check", "check", "m7", 50, 160, "你好"), Path(tmp) / "check.wav")
        except Exception as e:  # noqa: BLE001  (any failure: report it and stop)
            raise SystemExit(f"long_form: espeak-ng cannot synthesise Mandarin: {e}") from None
    if dur <= 0.1:
        raise SystemExit(f"long_form: espeak-ng produced {dur:.2f} s of audio for a test word")


def make_recordings(
    out: Path, files: int, minutes: float, seed: int, nj: int, min_speakers: int = 2, max_speakers: int = 4
) -> int:
    """Run make_meetings with the benchmark's settings; returns its exit status."""
    target = f"{minutes * 60:.3f}"
    return make_meetings.main(
        [
            "--out_dir",
            str(out),
            "--audio_dir",
            str(out.absolute() / "wav"),
            "--num_meetings",
            str(files),
            "--min_speakers",
            str(min_speakers),
            "--max_speakers",
            str(max_speakers),
            "--min_dur",
            target,
            "--max_dur",
            target,
            "--seed",
            str(seed),
            "--nj",
            str(nj),
        ]
    )


def silent_runs(wave: np.ndarray) -> list[tuple[int, int]]:
    """``(first, last + 1)`` frame ranges of >= MIN_PAUSE_FRAMES consecutive quiet 10 ms frames."""
    n = len(wave) // FRAME
    frames = wave[: n * FRAME].astype(np.float64).reshape(n, FRAME)
    quiet = np.sqrt((frames**2).mean(axis=1)) < SILENCE_RMS
    runs, start = [], None
    for i, q in enumerate(np.append(quiet, False)):
        if q and start is None:
            start = i
        elif not q and start is not None:
            if i - start >= MIN_PAUSE_FRAMES:
                runs.append((start, i))
            start = None
    return runs


def cut_points(wave: np.ndarray, segment_s: float = 10.0) -> list[tuple[int, int]]:
    """``(start, end)`` sample ranges covering ``wave`` (the rule is in the module docstring)."""
    seg = int(round(segment_s * FS))
    mids = np.array([(a + b) * FRAME // 2 for a, b in silent_runs(wave)], dtype=np.int64)
    cuts, start = [], 0
    while len(wave) - start > seg * 1.3:
        target = start + seg
        ok = mids[(mids >= start + 0.7 * seg) & (mids <= start + 1.3 * seg)]
        end = int(ok[np.argmin(np.abs(ok - target))]) if ok.size else target
        cuts.append((start, end))
        start = end
    if cuts and len(wave) - start < 0.3 * seg:
        cuts[-1] = (cuts[-1][0], len(wave))
    else:
        cuts.append((start, len(wave)))
    return cuts


def make_segments(wav_scp: Path, out: Path, segment_s: float) -> int:
    """Cut every recording of ``wav_scp`` into ~segment_s pieces under ``out``; returns the count."""
    pieces, durs, cuts = [], [], []
    for rec, path in read_scp(wav_scp).items():
        wave, fs = sf.read(path, dtype="int16")
        if fs != FS or wave.ndim != 1:
            raise SystemExit(f"long_form: {path} is not 16 kHz mono")
        for k, (a, b) in enumerate(cut_points(wave, segment_s)):
            utt = f"{rec}_{k:03d}"
            dest = (out / "wav" / f"{utt}.wav").absolute()
            write_audio(dest, wave[a:b])
            pieces.append((utt, str(dest)))
            durs.append((utt, f"{(b - a) / FS:.3f}"))
            cuts.append((utt, f"{rec} {a / FS:.3f} {b / FS:.3f}"))
    write_scp(out / "wav.scp", pieces)
    write_scp(out / "utt2dur", durs)
    write_scp(out / "cuts", cuts)
    return len(pieces)


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--out", required=True, type=Path)
    ap.add_argument("--files", type=int, default=6)
    ap.add_argument("--minutes", type=float, default=3.0, help="length of each recording")
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--nj", type=int, default=1, help="recordings synthesised in parallel")
    ap.add_argument("--min_speakers", type=int, default=2)
    ap.add_argument("--max_speakers", type=int, default=4)
    ap.add_argument("--segments", type=Path, help="also write ~segment_s pieces here")
    ap.add_argument("--segment_s", type=float, default=10.0)
    args = ap.parse_args(argv)
    if args.files < 1 or args.minutes <= 0 or args.segment_s <= 0:
        ap.error("need --files >= 1, --minutes > 0 and --segment_s > 0")
    check_espeak()
    rc = make_recordings(args.out, args.files, args.minutes, args.seed, args.nj, args.min_speakers, args.max_speakers)
    if rc:
        return rc
    total = sum(float(v) for v in read_scp(args.out / "reco2dur").values())
    print(f"long_form: {args.files} recordings, {total / 60:.2f} min -> {args.out / 'wav.scp'}")
    if args.segments is not None:
        n = make_segments(args.out / "wav.scp", args.segments, args.segment_s)
        print(f"long_form: {n} pieces of ~{args.segment_s:g} s -> {args.segments / 'wav.scp'}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
