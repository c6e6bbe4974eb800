"""Kaldi-style shell helpers in utils/: parse_options, validate_data_dir, split_scp, utt2spk<->spk2utt."""

from __future__ import annotations

import os
import subprocess
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]
UTILS = REPO / "utils"
ENV = {**os.environ, "LC_ALL": "C"}


def run(cmd: list[str], cwd: Path | None = None, stdin: str | None = None) -> subprocess.CompletedProcess:
    return subprocess.run(cmd, capture_output=True, text=True, cwd=cwd, input=stdin, env=ENV, timeout=30)


# ---------------------------------------------------------------- parse_options.sh

SCRIPT = """#!/usr/bin/env bash
set -euo pipefail
stage=0          # first stage to run
stop_stage=100   # last stage to run
use_gpu=false    # true or false
tag="a b"
{help}
. {utils}/parse_options.sh
echo "stage=$stage stop_stage=$stop_stage use_gpu=$use_gpu tag=$tag args=$*"
"""


@pytest.fixture()
def po_script(tmp_path):
    def make(help_message: str = "") -> str:
        path = tmp_path / "script.sh"
        help_line = f'help_message="{help_message}"' if help_message else ""
        path.write_text(SCRIPT.format(help=help_line, utils=UTILS))
        path.chmod(0o755)
        return str(path)

    return make


def test_parse_options_stage_and_positionals(po_script):
    s = po_script()
    proc = run([s, "--stage", "2", "--stop-stage", "5", "data/x", "--not-an-option"])
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.strip() == "stage=2 stop_stage=5 use_gpu=false tag=a b args=data/x --not-an-option"
    # underscore spelling and --name=value both work; values may contain spaces.
    proc = run([s, "--stop_stage=7", "--tag", "x y", "--", "--pos"])
    assert proc.stdout.strip() == "stage=0 stop_stage=7 use_gpu=false tag=x y args=--pos"


def test_parse_options_rejects_unknown_and_missing_value(po_script):
    s = po_script()
    proc = run([s, "--foo", "1"])
    assert proc.returncode == 1 and "invalid option --foo" in proc.stderr
    proc = run([s, "--stage"])
    assert proc.returncode == 1 and "needs a value" in proc.stderr


def test_parse_options_booleans(po_script):
    s = po_script()
    assert "use_gpu=true" in run([s, "--use-gpu", "true"]).stdout
    proc = run([s, "--use-gpu", "yes"])
    assert proc.returncode == 1 and "true or false" in proc.stderr
    # a non-boolean default accepts anything
    assert "stage=true" in run([s, "--stage", "true"]).stdout


def test_parse_options_help(po_script):
    proc = run([po_script("Usage: script.sh [options] <dir>"), "--help"])
    assert proc.returncode == 0 and proc.stdout.strip() == "Usage: script.sh [options] <dir>"
    # no help_message: generated list of declared defaults with their comments
    proc = run([po_script(), "-h"])
    assert proc.returncode == 0
    assert "--stop-stage" in proc.stdout and "'100'" in proc.stdout and "last stage to run" in proc.stdout


def test_parse_options_config_file_then_cli(po_script, tmp_path):
    conf = tmp_path / "my.conf"
    conf.write_text("stage=4\nstop_stage=9\n")
    proc = run([po_script(), "--stop-stage", "6", "--config", str(conf)])
    # config is sourced first, so the command line wins for stop_stage
    assert proc.stdout.strip().startswith("stage=4 stop_stage=6")
    proc = run([po_script(), "--config", str(tmp_path / "missing.conf")])
    assert proc.returncode == 1 and "missing.conf" in proc.stderr


# ---------------------------------------------------------------- validate_data_dir.sh


def make_data_dir(d: Path) -> Path:
    d.mkdir()
    (d / "wav.scp").write_text("spkA-u1 /a/1.wav\nspkA-u2 /a/2.wav\nspkB-u1 /b/1.wav\n")
    (d / "text").write_text("spkA-u1 你好\nspkA-u2 世界\nspkB-u1 再见\n", encoding="utf-8")
    (d / "utt2spk").write_text("spkA-u1 spkA\nspkA-u2 spkA\nspkB-u1 spkB\n")
    (d / "spk2utt").write_text("spkA spkA-u1 spkA-u2\nspkB spkB-u1\n")
    return d


def validate(d: Path, *flags: str) -> subprocess.CompletedProcess:
    return run([str(UTILS / "validate_data_dir.sh"), *flags, str(d)])


def test_validate_good_dir(tmp_path):
    proc = validate(make_data_dir(tmp_path / "data"))
    assert proc.returncode == 0, proc.stderr
    assert "Successfully validated" in proc.stdout


def test_validate_unsorted_and_duplicate(tmp_path):
    d = make_data_dir(tmp_path / "data")
    (d / "text").write_text("spkA-u2 世界\nspkA-u1 你好\nspkB-u1 再见\n", encoding="utf-8")
    proc = validate(d)
    assert proc.returncode == 1 and "text line 2" in proc.stderr and "not sorted" in proc.stderr
    (d / "text").write_text("spkA-u1 你好\nspkA-u1 世界\nspkB-u1 再见\n", encoding="utf-8")
    proc = validate(d)
    assert proc.returncode == 1 and "text line 2: duplicate key spkA-u1" in proc.stderr
    (d / "text").write_text("spkA-u1 你好\n\nspkB-u1 再见\n", encoding="utf-8")
    proc = validate(d)
    assert proc.returncode == 1 and "line 2: empty line" in proc.stderr
    (d / "text").write_text("spkA-u1 你好\nspkA-u2 世界\nspkB-u1 再见", encoding="utf-8")
    proc = validate(d)
    assert proc.returncode == 1 and "no newline at end" in proc.stderr
    # --no-text skips text entirely
    assert validate(d, "--no-text").returncode == 0


def test_validate_text_key_without_wav(tmp_path):
    d = make_data_dir(tmp_path / "data")
    (d / "text").write_text("spkA-u1 你好\nspkA-u3 世界\nspkB-u1 再见\n", encoding="utf-8")
    proc = validate(d)
    assert proc.returncode == 1
    assert "text line 2: key spkA-u3 is not in wav.scp" in proc.stderr


def test_validate_missing_wav_and_speakers(tmp_path):
    d = make_data_dir(tmp_path / "data")
    (d / "spk2utt").write_text("spkA spkA-u1\nspkB spkB-u1\n")
    proc = validate(d)
    assert proc.returncode == 1 and "spk2utt: inconsistent with utt2spk" in proc.stderr
    (d / "spk2utt").unlink()
    proc = validate(d)
    assert proc.returncode == 1 and "spk2utt: missing" in proc.stderr
    (d / "wav.scp").unlink()
    assert validate(d).returncode == 1
    assert "wav.scp: missing" in validate(d).stderr


def test_validate_speaker_sort_and_usage(tmp_path):
    d = make_data_dir(tmp_path / "data")
    (d / "utt2spk").write_text("spkA-u1 spkB\nspkA-u2 spkA\nspkB-u1 spkB\n")
    (d / "spk2utt").write_text("spkA spkA-u2\nspkB spkA-u1 spkB-u1\n")
    proc = validate(d)
    assert proc.returncode == 1 and "sorted by speaker" in proc.stderr
    assert validate(d, "--no-spk-sort").returncode == 0
    assert validate(d, "--bogus").returncode == 2
    assert run([str(UTILS / "validate_data_dir.sh")]).returncode == 2


def test_validate_segments(tmp_path):
    d = make_data_dir(tmp_path / "data")
    (d / "wav.scp").write_text("recA /a.wav\nrecB /b.wav\n")
    (d / "segments").write_text("spkA-u1 recA 0.0 1.5\nspkA-u2 recA 1.5 3.0\nspkB-u1 recB 0 2\n")
    assert validate(d).returncode == 0
    (d / "segments").write_text("spkA-u1 recA 0.0 1.5\nspkA-u2 recA 1.5 1.0\nspkB-u1 recC 0 2\n")
    proc = validate(d)
    assert proc.returncode == 1 and "segments line 2: end 1.0 <= start 1.5" in proc.stderr


# ---------------------------------------------------------------- split_scp


def write_scp(path: Path, n: int) -> Path:
    path.write_text("".join(f"u{k:02d} /x/{k}.wav\n" for k in range(1, n + 1)))
    return path


def test_split_scp_chunks(tmp_path):
    scp = write_scp(tmp_path / "wav.scp", 10)
    outs = [tmp_path / f"out.{k}" for k in (1, 2, 3)]
    proc = run([str(UTILS / "split_scp.sh"), str(scp), *map(str, outs)])
    assert proc.returncode == 0, proc.stderr
    # 10 lines / 3 chunks: 3 each, the first chunk one more (Kaldi): 4 3 3, contiguous.
    sizes = [len(o.read_text().splitlines()) for o in outs]
    assert sizes == [4, 3, 3]
    assert "".join(o.read_text() for o in outs) == scp.read_text()
    # -j N JOB writes chunk JOB (0-based) to stdout; --one-based shifts by one
    proc = run([str(UTILS / "split_scp.sh"), "-j", "3", "1", str(scp)])
    assert proc.stdout == outs[1].read_text()
    proc = run([str(UTILS / "split_scp.sh"), "-j", "3", "3", "--one-based", str(scp)])
    assert proc.stdout == outs[2].read_text()
    assert run([str(UTILS / "split_scp.sh"), "-j", "3", "3", str(scp)]).returncode == 2


def test_split_scp_refuses_empty_chunk(tmp_path):
    scp = write_scp(tmp_path / "wav.scp", 2)
    proc = run([str(UTILS / "split_scp.sh"), str(scp), *(str(tmp_path / f"o{k}") for k in range(3))])
    assert proc.returncode == 1 and "empty" in proc.stderr


def test_split_scp_utt2spk_keeps_speakers(tmp_path):
    scp = write_scp(tmp_path / "wav.scp", 10)
    # speakers: a = u01-u03 (3 lines), b = u04-u08 (5), c = u09-u10 (2)
    spk = {**{f"u{k:02d}": "a" for k in (1, 2, 3)}, **{f"u{k:02d}": "b" for k in range(4, 9)}, "u09": "c", "u10": "c"}
    u2s = tmp_path / "utt2spk"
    u2s.write_text("".join(f"{u} {s}\n" for u, s in sorted(spk.items())))
    outs = [tmp_path / "o1", tmp_path / "o2"]
    proc = run([str(UTILS / "split_scp.sh"), f"--utt2spk={u2s}", str(scp), *map(str, outs)])
    assert proc.returncode == 0, proc.stderr
    # target 5 lines per chunk; boundaries only between speakers: after a (3) is |3-5|=2,
    # after b (8) is |8-5|=3, so chunks are [a] and [b, c]: 3 and 7 lines.
    assert [len(o.read_text().splitlines()) for o in outs] == [3, 7]
    for o in outs:
        speakers = {spk[line.split()[0]] for line in o.read_text().splitlines()}
        others = [p for p in outs if p != o]
        assert all(not speakers & {spk[ln.split()[0]] for ln in p.read_text().splitlines()} for p in others)
    # 3 speakers cannot fill 4 chunks
    proc = run(
        [str(UTILS / "split_scp.sh"), "--utt2spk", str(u2s), str(scp), *(str(tmp_path / f"x{k}") for k in range(4))]
    )
    assert proc.returncode == 1 and "speaker" in proc.stderr
    # a speaker split across the file is refused
    u2s.write_text("".join(f"{u} {'a' if u in ('u01', 'u10') else 'b'}\n" for u in sorted(spk)))
    proc = run([str(UTILS / "split_scp.sh"), "--utt2spk", str(u2s), str(scp), str(outs[0]), str(outs[1])])
    assert proc.returncode == 1 and "not contiguous" in proc.stderr


# ---------------------------------------------------------------- utt2spk <-> spk2utt


def test_utt2spk_spk2utt_round_trip(tmp_path):
    utt2spk = "s1-a s1\ns1-b s1\ns2-a s2\nx-1 s0\n"
    u2s = tmp_path / "utt2spk"
    u2s.write_text(utt2spk)
    proc = run([str(UTILS / "utt2spk_to_spk2utt.sh"), str(u2s)])
    assert proc.returncode == 0, proc.stderr
    # speakers sorted (s0 first), utterances in input order
    assert proc.stdout == "s0 x-1\ns1 s1-a s1-b\ns2 s2-a\n"
    back = run([str(UTILS / "spk2utt_to_utt2spk.sh")], stdin=proc.stdout)
    assert back.returncode == 0 and back.stdout == utt2spk
    # stdin for the first tool too
    assert run([str(UTILS / "utt2spk_to_spk2utt.sh")], stdin=utt2spk).stdout == proc.stdout


def test_utt2spk_to_spk2utt_rejects_bad_lines(tmp_path):
    proc = run([str(UTILS / "utt2spk_to_spk2utt.sh")], stdin="a s1\nb\n")
    assert proc.returncode == 1 and "line 2" in proc.stderr
    proc = run([str(UTILS / "spk2utt_to_utt2spk.sh")], stdin="s1 a b\ns2 a\n")
    assert proc.returncode == 1 and "listed twice" in proc.stderr
