"""funasr_lite.jobs: --nj works from an installed package, run outside any checkout (no utils/)."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import soundfile

from funasr_lite.jobs import RUN_PL, SplitError, split_list

REPO = Path(__file__).resolve().parents[1]
MODEL = REPO / "tests" / "fixtures" / "models" / "paraformer_tiny"


def test_split_list_has_kaldi_sizes_and_refuses_empty_chunks(tmp_path: Path) -> None:
    scp = tmp_path / "wav.scp"
    scp.write_text("".join(f"u{i} /a/{i}.wav\n" for i in range(5)), encoding="utf-8")
    assert [len(c) for c in split_list(scp, 3)] == [2, 2, 1]
    with pytest.raises(SplitError, match="a chunk would be empty"):
        split_list(scp, 6)


def test_checkout_utils_link_to_the_packaged_scripts() -> None:
    assert (REPO / "utils" / "run.pl").resolve() == RUN_PL
    assert (REPO / "utils" / "split_scp.py").resolve() == RUN_PL.with_name("split_scp.py")


def test_nj_from_an_installed_package(tmp_path: Path) -> None:
    site = tmp_path / "site"  # the package as pip installs it: setup.py's packages and package_data
    subprocess.run(
        [sys.executable, "setup.py", "-q", "build_py", "--build-lib", str(site)],
        cwd=REPO,
        check=True,
        capture_output=True,
    )
    assert (site / "funasr_lite" / "jobs" / "run.pl").is_file() and not (site / "utils").exists()
    work = tmp_path / "work"  # the working directory: not a checkout
    work.mkdir()
    rng = np.random.default_rng(0)
    lines = []
    for i in range(3):
        soundfile.write(work / f"r{i}.wav", (0.1 * rng.standard_normal(8000 + 4000 * i)).astype(np.float32), 16000)
        lines.append(f"r{i} r{i}.wav\n")
    (work / "wav.scp").write_text("".join(lines), encoding="utf-8")
    env = dict(os.environ, PYTHONPATH=str(site))
    code = "import funasr_lite, sys; sys.stdout.write(funasr_lite.__file__)"
    assert subprocess.run(
        [sys.executable, "-c", code], cwd=work, env=env, capture_output=True, text=True
    ).stdout.startswith(str(site))
    base = [
        sys.executable,
        "-m",
        "funasr_lite.bin.inference",
        "--model",
        str(MODEL),
        "--wav_scp",
        "wav.scp",
        "--output_format",
        "none",
    ]
    for out, extra in (("one", []), ("two", ["--nj", "2"])):
        proc = subprocess.run(
            [*base, "--output_dir", out, *extra], cwd=work, env=env, capture_output=True, text=True, timeout=600
        )
        assert proc.returncode == 0, proc.stderr[-2000:]
    assert sorted(p.name for p in (work / "two" / "log").iterdir()) == ["decode.1.log", "decode.2.log"]
    assert "# Ended (code 0)" in (work / "two" / "log" / "decode.2.log").read_text()
    for name in ("text", "token", "score"):
        assert (work / "one" / "1best_recog" / name).read_text() == (work / "two" / "1best_recog" / name).read_text()
