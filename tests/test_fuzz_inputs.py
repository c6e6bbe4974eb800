"""tools/fuzz_inputs.py with a small count (the nightly run uses --cases 10000), and the bugs it found.

Property: ``load_audio`` (bytes and paths) and the list readers (``read_scp``, ``read_text``,
``read_segments``, ``load_wav_scp``) return a valid result or raise a one-line ``InputError``;
never another exception, a hang or unbounded memory.
"""

from __future__ import annotations

import io
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest
import soundfile as sf

from funasr_lite.data.kaldi_lists import read_scp, read_text
from funasr_lite.errors import InputError
from funasr_lite.frontend.audio import load_audio, load_wav_scp

REPO = Path(__file__).resolve().parents[1]


def test_fuzz_300_cases() -> None:
    start = time.monotonic()
    proc = subprocess.run(
        [
            sys.executable,
            str(REPO / "tools" / "fuzz_inputs.py"),
            "--cases",
            "300",
            "--seed",
            "0",
            "--case_timeout",
            "20",
            "--quiet",
        ],
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert proc.returncode == 0, proc.stdout[-4000:] + proc.stderr[-2000:]
    last = proc.stdout.strip().splitlines()[-1]
    assert last.startswith("fuzz_inputs: 300 cases, seed 0, 0 failure(s)"), last
    for kind in ("bytes", "path", "lists"):
        row = next(line.split() for line in proc.stdout.splitlines() if line.startswith(kind + " "))
        assert int(row[1]) == 100 and int(row[4]) == 0, row
    print(proc.stdout, f"({time.monotonic() - start:.1f} s)")


def test_replay_one_case() -> None:
    proc = subprocess.run(
        [sys.executable, str(REPO / "tools" / "fuzz_inputs.py"), "--seed", "3", "--case", "17", "--quiet"],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert proc.returncode == 0 and "1 cases, seed 3, 0 failure(s)" in proc.stdout, proc.stdout + proc.stderr


# ------------------------------------------------------------------------- regressions found by it


@pytest.mark.parametrize(
    "source, problem",
    [
        ("/tmp/nul\0byte.wav", "not a usable file name: embedded null byte"),  # was ValueError from os.stat
        ("http://[::1", "bad URL: Invalid IPv6 URL"),  # was ValueError from urllib's parser
        ("http://127.0.0.1:abc/a.wav", "nonnumeric port"),
    ],
)
def test_malformed_paths_and_urls_are_input_errors(source: str, problem: str) -> None:
    with pytest.raises(InputError, match=problem) as info:
        load_audio(source, key="k", url_timeout_s=2)
    assert type(info.value) is InputError and "\n" not in str(info.value)


def test_wav_scp_value_with_nul_is_one_bad_item(tmp_path: Path) -> None:
    scp = tmp_path / "wav.scp"
    scp.write_bytes(b"a /x/nul\0.wav\n")
    [(key, item)] = list(load_wav_scp(scp))
    assert key == "a" and isinstance(item, InputError) and "embedded null byte" in str(item)


def test_value_after_a_stray_cr_has_no_blank_around_it(tmp_path: Path) -> None:
    """Module rule: the value is the rest of the line with surrounding blanks (space, tab, CR) removed."""
    f = tmp_path / "text"
    f.write_bytes(b"k1 \r hello\rworld\r\nk2\t\rx\n")
    assert read_text(f) == {"k1": "hello\rworld", "k2": "x"}
    assert read_scp(f) == {"k1": "hello\rworld", "k2": "x"}


@pytest.mark.parametrize("rate", [1, 8, 999])
def test_a_header_claiming_a_tiny_rate_is_refused(rate: int) -> None:
    """Resampling 1 Hz to 16 kHz multiplied the samples 16000 times: 40 kB of WAV became 1.3 GB."""
    buf = io.BytesIO()
    sf.write(buf, np.zeros(20000, np.int16), rate, format="WAV", subtype="PCM_16")
    with pytest.raises(InputError, match=f"implausible sample rate {rate} Hz"):
        load_audio(buf.getvalue(), key="k")
    assert load_audio(np.zeros(100, np.float32), fs=1000).waveform.size == 1600  # the lowest rate accepted
