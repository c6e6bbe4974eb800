"""check_data on data dirs with a ``segments`` file (utterances = segment ids, ``wav.scp`` keyed by
recording), compared with ``utils/validate_data_dir.sh`` on the same dirs.

Each broken dir differs from the valid one by one edit and must give exactly one problem line
naming the file, line, key and problem; validate_data_dir.sh must reject the same dirs and point
at the same file and line (it stops at the first error). Kaldi's own validate_data_dir.sh needs
Kaldi's perl helpers (utils/validate_text.pl, spk2utt_to_utt2spk.pl), which are not here; its
rules for the broken cases are the same (segments: 4 fields and end > start; their recordings in
wav.scp; text and utt2spk keyed by the segment ids). It is stricter in one respect: a wav.scp
recording that no segment uses is an error there, a warning in ours and an info line in
check_data.
"""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

import numpy as np
import pytest
import soundfile as sf

from funasr_lite.bin import check_data

REPO = Path(__file__).resolve().parents[1]
VALIDATE = REPO / "utils" / "validate_data_dir.sh"

SEGMENTS = "r1-a r1 0 1.5\nr1-b r1 1.5 3.0\nr2-a r2 0.25 1\n"
TEXT = "r1-a 你好\nr1-b 再见\nr2-a 好的\n"
UTT2SPK = "r1-a r1\nr1-b r1\nr2-a r2\n"
SPK2UTT = "r1 r1-a r1-b\nr2 r2-a\n"


def make_dir(root: Path, name: str = "valid", **files: str) -> Path:
    """A data dir of two 3.2 s recordings and three segments; ``files`` replace whole files."""
    d = root / name
    d.mkdir(parents=True)
    for rec in ("r1", "r2"):
        sf.write(root / f"{rec}.wav", np.zeros(int(3.2 * 16000), np.int16), 16000, subtype="PCM_16")
    content = {
        "wav.scp": f"r1 {root}/r1.wav\nr2 {root}/r2.wav\n",
        "segments": SEGMENTS,
        "text": TEXT,
        "utt2spk": UTT2SPK,
        "spk2utt": SPK2UTT,
        **files,
    }
    for fname, text in content.items():
        (d / fname).write_text(text, encoding="utf-8")
    return d


def run_check(d: Path, capsys: pytest.CaptureFixture, *args: str) -> tuple[int, list[str]]:
    rc = check_data.main(["--data_dir", str(d), *args])
    return rc, capsys.readouterr().out.splitlines()


def run_validate(d: Path) -> subprocess.CompletedProcess:
    return subprocess.run(["bash", str(VALIDATE), str(d)], capture_output=True, text=True, check=False)


needs_validate = pytest.mark.skipif(
    shutil.which("awk") is None or shutil.which("comm") is None, reason="validate_data_dir.sh needs awk and coreutils"
)


@needs_validate
def test_valid_segments_dir_passes(tmp_path: Path, capsys: pytest.CaptureFixture) -> None:
    d = make_dir(tmp_path)
    proc = run_validate(d)
    assert proc.returncode == 0, proc.stderr
    rc, out = run_check(d, capsys, "--audio")
    assert rc == 0, out
    assert out[-1] == f"check_data: {d}: OK"
    assert f"{d}: durations: 2 files, total 6.4 s (0.00 h), min 3.20 s, mean 3.20 s, max 3.20 s" in out


@needs_validate
def test_recording_without_segments_is_info_only(tmp_path: Path, capsys: pytest.CaptureFixture) -> None:
    d = make_dir(
        tmp_path,
        segments="r1-a r1 0 1.5\nr1-b r1 1.5 3.0\n",
        text="r1-a 你好\nr1-b 再见\n",
        utt2spk="r1-a r1\nr1-b r1\n",
        spk2utt="r1 r1-a r1-b\n",
    )
    proc = run_validate(d)
    assert proc.returncode == 0 and "1 recording(s) have no segments" in proc.stderr
    rc, out = run_check(d, capsys)
    assert rc == 0 and f"{d}: wav.scp: 1 recording(s) have no segments" in out


# (name, files replaced, check_data's one problem line after "<dir>/", what validate_data_dir.sh says
#  after "<dir>/": the same file and line, or for a missing recording the same file and id)
BROKEN = [
    (
        "reco-not-in-wav",
        {
            "segments": SEGMENTS + "r3-a r3 0 1\n",
            "text": TEXT + "r3-a 好\n",
            "utt2spk": UTT2SPK + "r3-a r3\n",
            "spk2utt": SPK2UTT + "r3 r3-a\n",
        },
        "segments:4: utt r3-a: recording r3 is not in wav.scp",
        "segments: recording ids not in wav.scp: r3",
    ),
    (
        "text-key-not-in-segments",
        {"text": TEXT + "r9-x 好\n"},
        "text:4: utt r9-x: in text but not in segments",
        "text line 4: key r9-x",
    ),
    (
        "segment-without-text",
        {"text": "r1-a 你好\nr2-a 好的\n"},
        "segments:2: utt r1-b: in segments but not in text",
        "segments line 2: key r1-b",
    ),
    (
        "utt2spk-key-not-in-segments",
        {"utt2spk": UTT2SPK + "r9-x r9\n", "spk2utt": SPK2UTT + "r9 r9-x\n"},
        "utt2spk:4: utt r9-x: in utt2spk but not in segments",
        "utt2spk line 4: key r9-x",
    ),
    (
        "end-before-start",
        {"segments": "r1-a r1 0 1.5\nr1-b r1 3.0 1.5\nr2-a r2 0.25 1\n"},
        "segments:2: utt r1-b: end time 1.5 is not after start time 3.0",
        "segments line 2: end 1.5 <= start 3.0",
    ),
    (
        "end-equals-start",
        {"segments": "r1-a r1 0 1.5\nr1-b r1 1.5 1.5\nr2-a r2 0.25 1\n"},
        "segments:2: utt r1-b: end time 1.5 is not after start time 1.5",
        "segments line 2: end 1.5 <= start 1.5",
    ),
    (
        "start-not-a-number",
        {"segments": "r1-a r1 zero 1.5\nr1-b r1 1.5 3.0\nr2-a r2 0.25 1\n"},
        "segments:1: utt r1-a: start time 'zero' is not a number",
        "segments line 1: ",
    ),
    (
        "negative-start",
        {"segments": "r1-a r1 -0.5 1.5\nr1-b r1 1.5 3.0\nr2-a r2 0.25 1\n"},
        "segments:1: utt r1-a: start time -0.5 is negative",
        "segments line 1: ",
    ),
    (
        "three-fields",
        {"segments": "r1-a r1 0 1.5\nr1-b r1 1.5\nr2-a r2 0.25 1\n"},
        "segments:2: utt r1-b: expected '<seg-id> <reco-id> <start> <end>', got 3 fields",
        "segments line 2: ",
    ),
    (
        "duplicate-segment",
        {
            "segments": "r1-a r1 0 1.5\nr1-a r1 1.5 3.0\nr2-a r2 0.25 1\n",
            "text": "r1-a 你好\nr2-a 好的\n",
            "utt2spk": "r1-a r1\nr2-a r2\n",
            "spk2utt": "r1 r1-a\nr2 r2-a\n",
        },
        "segments:2: utt r1-a: duplicate segment id (first on line 1)",
        "segments line 2: duplicate key r1-a",
    ),
]


@needs_validate
@pytest.mark.parametrize("name, files, problem, validate_says", [pytest.param(*case, id=case[0]) for case in BROKEN])
def test_broken_segments_dir(
    tmp_path: Path, capsys: pytest.CaptureFixture, name: str, files: dict[str, str], problem: str, validate_says: str
) -> None:
    d = make_dir(tmp_path, name, **files)
    rc, out = run_check(d, capsys)
    assert rc == 1
    assert out == [f"{d}/{problem}"]  # exactly one line: file, line, key, problem
    proc = run_validate(d)
    assert proc.returncode == 1, proc.stdout + proc.stderr
    assert f"{d}/{validate_says}" in proc.stderr


@needs_validate
def test_end_minus_one_differs_from_validate(tmp_path: Path, capsys: pytest.CaptureFixture) -> None:
    """``end == -1`` (to the end of the recording) is Kaldi extract-segments' and our loader's rule,
    so check_data accepts it; validate_data_dir.sh (like Kaldi's) requires end > start."""
    d = make_dir(tmp_path, segments="r1-a r1 0 1.5\nr1-b r1 1.5 -1\nr2-a r2 0.25 1\n")
    assert run_check(d, capsys)[0] == 0
    assert run_validate(d).returncode == 1


def test_missing_recording_file_is_named_as_recording(tmp_path: Path, capsys: pytest.CaptureFixture) -> None:
    d = make_dir(tmp_path, **{"wav.scp": f"r1 {tmp_path}/r1.wav\nr2 {tmp_path}/gone.wav\n"})
    rc, out = run_check(d, capsys, "--audio")
    assert rc == 1 and out[-1] == f"{d}/wav.scp:2: rec r2: audio file not found: {tmp_path}/gone.wav"
