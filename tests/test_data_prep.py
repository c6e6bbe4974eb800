"""AISHELL-1 data prep, check_data, make_tokens and dump_fbank on a tiny generated corpus."""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
from pathlib import Path

import aishell_data_prep  # egs/aishell/local, on sys.path through conftest
import kaldiio
import numpy as np
import pytest
import soundfile as sf
import torch

from funasr_lite.bin import check_data, dump_fbank, make_tokens
from funasr_lite.data.kaldi_lists import read_scp, read_text
from funasr_lite.frontend.audio import load_audio
from funasr_lite.modelio.tokens import read_token_list

REPO = Path(__file__).resolve().parents[1]
CONF = REPO / "conf" / "frontend_paraformer.yaml"
WORDS = ["你好", "世界", "今天", "天气", "很好", "我们", "OK", "再见"]


def make_corpus(root: Path) -> dict[str, list[str]]:
    """data_aishell with 2 speakers x 2 utts per set; the transcript lacks one train utt."""
    rng = np.random.default_rng(0)
    corpus = root / "data_aishell"
    lines, utts = [], {}
    n = 0
    for set_i, name in enumerate(["train", "dev", "test"]):
        utts[name] = []
        for spk in (f"S{set_i * 2 + 2:04d}", f"S{set_i * 2 + 3:04d}"):
            for w in range(2):
                utt = f"BAC009{spk}W{w + 121:04d}"
                path = corpus / "wav" / name / spk / f"{utt}.wav"
                path.parent.mkdir(parents=True, exist_ok=True)
                t = np.arange(int(16000 * (0.3 + 0.1 * w))) / 16000
                wave = 0.3 * np.sin(2 * np.pi * (200 + 50 * n) * t) + 0.01 * rng.standard_normal(t.size)
                sf.write(path, wave.astype(np.float32), 16000, subtype="PCM_16")
                utts[name].append(utt)
                if utt != "BAC009S0003W0122":  # no transcript for this one
                    lines.append(f"{utt} {WORDS[n % 8]} {WORDS[(n + 3) % 8]}\n")
                n += 1
    (corpus / "transcript").mkdir()
    (corpus / "transcript" / "aishell_transcript_v0.8.txt").write_text("".join(reversed(lines)), encoding="utf-8")
    return utts


@pytest.fixture(scope="module")
def prepared(tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = tmp_path_factory.mktemp("aishell")
    make_corpus(root)
    assert aishell_data_prep.main(["--data_root", str(root), "--out_dir", str(root / "data")]) == 0
    return root


def test_prep_layout_and_validate(prepared: Path, capsys: pytest.CaptureFixture) -> None:
    data = prepared / "data"
    for name in ("train", "dev", "test"):
        proc = subprocess.run(
            ["bash", str(REPO / "utils" / "validate_data_dir.sh"), str(data / name)],
            capture_output=True,
            text=True,
            check=False,
        )
        assert proc.returncode == 0, proc.stdout + proc.stderr
    text = read_text(data / "train" / "text")
    assert list(text) == sorted(text) and len(text) == 3 and "BAC009S0003W0122" not in text
    assert text["BAC009S0002W0121"] == "你好天气"  # spaces between words removed
    assert read_scp(data / "train" / "utt2spk")["BAC009S0003W0121"] == "S0003"
    assert read_scp(data / "dev" / "spk2utt")["S0004"] == "BAC009S0004W0121 BAC009S0004W0122"
    assert check_data.main(["--data_dir", str(data / "train"), "--audio"]) == 0
    out = capsys.readouterr().out
    assert "16000 Hz x3" in out and "channels: 1 x3" in out


def test_prep_skip_count_and_bad_layout(prepared: Path, tmp_path: Path, capsys: pytest.CaptureFixture) -> None:
    assert (
        aishell_data_prep.main(["--data_root", str(prepared), "--out_dir", str(tmp_path / "d"), "--sets", "train"]) == 0
    )
    assert "3 utterances, 2 speakers, 1 wav files without transcript skipped" in capsys.readouterr().out
    assert aishell_data_prep.main(["--data_root", str(tmp_path), "--out_dir", str(tmp_path / "d")]) == 1
    assert "not an AISHELL-1 folder" in capsys.readouterr().err


def test_check_data_finds_problems(prepared: Path, tmp_path: Path, capsys: pytest.CaptureFixture) -> None:
    d = tmp_path / "bad"
    shutil.copytree(prepared / "data" / "train", d)
    lines = (d / "text").read_text(encoding="utf-8").splitlines()
    lines[0] = lines[0].split()[0]  # empty transcript on line 1
    lines[1] = lines[1] + "猫"  # OOV character on line 2
    (d / "text").write_text("\n".join(lines) + "\n", encoding="utf-8")
    wav = (d / "wav.scp").read_text(encoding="utf-8").splitlines()
    wav[2] = wav[2].split()[0] + " /nonexistent/x.wav"
    wav.append("BAC009S0003W9999 /nonexistent/y.wav")  # not in text
    (d / "wav.scp").write_text("\n".join(wav) + "\n", encoding="utf-8")
    make_tokens.main(["--text", str(prepared / "data" / "train" / "text"), "--out_dir", str(tmp_path / "lang")])
    capsys.readouterr()
    assert (
        check_data.main(["--data_dir", str(d), "--token_list", str(tmp_path / "lang" / "tokens.json"), "--audio"]) == 1
    )
    out = capsys.readouterr().out
    k = [line.split()[0] for line in lines]
    assert f"{d}/text:1: utt {k[0]}: empty transcript" in out
    assert f"{d}/text:2: utt {k[1]}: not in token list: '猫'" in out
    assert f"{d}/wav.scp:3: utt {k[2]}: audio file not found: /nonexistent/x.wav" in out
    assert f"{d}/wav.scp:4: utt BAC009S0003W9999: in wav.scp but not in text" in out
    (d / "text").write_text(f"{k[0]} 好\n{k[0]} 好\n", encoding="utf-8")
    assert check_data.main(["--data_dir", str(d)]) == 1
    assert "text:2: duplicate key" in capsys.readouterr().out


def test_make_tokens_round_trip(tmp_path: Path) -> None:
    (tmp_path / "text").write_text("u1 你好Hello World\nu2 好 hello 世\nu3 你\n", encoding="utf-8")
    assert make_tokens.main(["--text", str(tmp_path / "text"), "--out_dir", str(tmp_path / "lang")]) == 0
    expected = ["<blank>", "<s>", "</s>", "hello", "world", "世", "你", "好", "<unk>"]
    assert read_token_list(tmp_path / "lang" / "tokens.json") == expected
    assert read_token_list(tmp_path / "lang" / "tokens.txt") == expected
    assert isinstance(json.loads((tmp_path / "lang" / "tokens.json").read_text(encoding="utf-8")), list)
    assert (
        make_tokens.main(["--text", str(tmp_path / "text"), "--out_dir", str(tmp_path / "l2"), "--min_count", "2"]) == 0
    )
    assert read_token_list(tmp_path / "l2" / "tokens.json") == ["<blank>", "<s>", "</s>", "hello", "你", "好", "<unk>"]


def test_dump_fbank_run_pl(prepared: Path, tmp_path: Path) -> None:
    wav_scp = prepared / "data" / "dev" / "wav.scp"
    out = tmp_path / "dump"
    cmd = (
        f"utils/run.pl JOB=1:2 {out}/log/dump.JOB.log {sys.executable} -m funasr_lite.bin.dump_fbank "
        f"--wav_scp {wav_scp} --out_dir {out} --frontend_conf {CONF} --nj 2 --job JOB && "
        f"{sys.executable} -m funasr_lite.bin.dump_fbank --wav_scp {wav_scp} --out_dir {out} "
        f"--frontend_conf {CONF} --nj 2"
    )
    proc = subprocess.run(["bash", "-c", cmd], cwd=REPO, capture_output=True, text=True, timeout=120, check=False)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert "already done" in proc.stderr  # the merge run resumed: both jobs were finished
    feats = dict(kaldiio.load_scp(str(out / "feats.scp")))
    wavs = read_scp(wav_scp)
    assert list(read_scp(out / "feats.scp")) == sorted(wavs)
    frames = read_scp(out / "utt2num_frames")
    from funasr_lite.frontend.wav_frontend import WavFrontend

    frontend = WavFrontend(dither=0.0)
    for key, path in wavs.items():
        ref, n = frontend.compute_fbank(torch.from_numpy(load_audio(path).waveform)[None])
        got = feats[key]
        assert got.shape == (int(n[0]), 80) and int(frames[key]) == got.shape[0]
        np.testing.assert_array_equal(got, ref[0].numpy())
    # a rerun keeps finished jobs; deleting one job's scp redoes only that job
    (out / "feats.2.scp").unlink()
    assert (
        dump_fbank.main(["--wav_scp", str(wav_scp), "--out_dir", str(out), "--frontend_conf", str(CONF), "--nj", "2"])
        == 0
    )
    assert dict(kaldiio.load_scp(str(out / "feats.scp"))).keys() == feats.keys()
    assert not list(out.glob(".*tmp*"))
