"""The built-in egs/synth recipe, stages 0-2, on a tiny corpus, and compute_cmvn against FunASR features."""

from __future__ import annotations

import json
import re
import subprocess
from pathlib import Path

import numpy as np
import soundfile as sf

from funasr_lite.bin import compute_cmvn
from funasr_lite.data.kaldi_lists import read_scp, read_text
from funasr_lite.frontend.cmvn import load_cmvn

ROOT = Path(__file__).resolve().parents[1]
FRONTEND = ROOT / "tests" / "fixtures" / "frontend"


def test_compute_cmvn_matches_stats_of_funasr_fbank(tmp_path: Path) -> None:
    """am.mvn from our pipeline equals mean/std (numpy) of the fbank FunASR computed for the same audio."""
    cases = sorted(FRONTEND.glob("paraformer_*.npz"))
    assert cases, "run tools/make_fixtures (see tests/fixtures/README.md)"
    lines, fbanks = [], []
    for case in cases:
        data = np.load(case)
        wav = tmp_path / f"{case.stem}.wav"
        sf.write(wav, data["waveform"], 16000, subtype="FLOAT")
        lines.append(f"{case.stem} {wav}\n")
        fbanks.append(data["fbank"].astype(np.float64))
    (tmp_path / "wav.scp").write_text("".join(lines))
    conf = tmp_path / "frontend.yaml"
    conf.write_text("fs: 16000\nwindow: hamming\nn_mels: 80\nframe_length: 25\nframe_shift: 10\nlfr_m: 7\nlfr_n: 6\n")
    assert compute_cmvn.main(["--wav_scp", str(tmp_path / "wav.scp"), "--frontend_conf", str(conf),
                              "--out_dir", str(tmp_path / "out")]) == 0
    allf = np.concatenate(fbanks)
    mean, std = allf.mean(0), allf.std(0)
    cmvn = load_cmvn(tmp_path / "out" / "am.mvn")
    assert cmvn.shift.shape == (560,)
    np.testing.assert_allclose(cmvn.shift.numpy(), np.tile(-mean, 7), rtol=1e-5, atol=1e-5)
    np.testing.assert_allclose(cmvn.scale.numpy(), np.tile(1 / std, 7), rtol=1e-4)
    stats = json.loads((tmp_path / "out" / "cmvn.json").read_text())
    assert stats["total_frames"] == allf.shape[0]


def test_compute_cmvn_skips_bad_items_and_exits_1(tmp_path: Path) -> None:
    data = np.load(FRONTEND / "paraformer_1s.npz")
    sf.write(tmp_path / "good.wav", data["waveform"], 16000)
    (tmp_path / "empty.wav").write_bytes(b"")
    (tmp_path / "wav.scp").write_text(f"a {tmp_path / 'empty.wav'}\nb {tmp_path / 'good.wav'}\n")
    conf = tmp_path / "f.yaml"
    conf.write_text("lfr_m: 7\nlfr_n: 6\n")
    rc = compute_cmvn.main(["--wav_scp", str(tmp_path / "wav.scp"), "--frontend_conf", str(conf), "--out_dir", str(tmp_path / "o")])
    assert rc == 1
    assert (tmp_path / "o" / "am.mvn").is_file()  # the good item's statistics are still written


def test_synth_recipe_stages_0_to_2(tmp_path: Path) -> None:
    data, exp, dump = tmp_path / "data", tmp_path / "exp", tmp_path / "dump"
    cmd = ["bash", str(ROOT / "egs/synth/asr/run.sh"), "--stage", "0", "--stop-stage", "5",
           "--num-train", "6", "--num-dev", "2", "--num-test", "2", "--data", str(data), "--exp", str(exp),
           "--dump", str(dump)]
    proc = subprocess.run(cmd, capture_output=True, text=True, timeout=300)
    assert proc.returncode == 0, proc.stderr[-2000:]
    assert "not implemented yet" in proc.stdout and "no transcript is produced" in proc.stdout
    for name, n in (("train", 6), ("dev", 2), ("test", 2)):
        wavs, text = read_scp(data / name / "wav.scp"), read_text(data / name / "text")
        assert len(wavs) == n and sorted(wavs) == sorted(text)
        for key, sentence in text.items():
            assert re.fullmatch(r"[\u4e00-\u9fff]{4,14}", sentence), sentence
            info = sf.info(wavs[key])
            assert info.samplerate == 16000 and info.channels == 1 and info.duration > 0.3
    # dev/test voices and sentences are held out from train
    train_spk = set(read_text(data / "train" / "utt2spk").values())
    held_spk = set(read_text(data / "dev" / "utt2spk").values()) | set(read_text(data / "test" / "utt2spk").values())
    assert not {s.split("_")[1] for s in train_spk} & {s.split("_")[1] for s in held_spk}
    assert not set(read_text(data / "train" / "text").values()) & set(read_text(data / "test" / "text").values())
    assert load_cmvn(exp / "cmvn" / "am.mvn").shift.shape == (560,)
    for name, n in (("train", 6), ("dev", 2), ("test", 2)):  # stage 1: fbank ark/scp per set
        assert len(read_scp(dump / name / "feats.scp")) == n
    tokens = json.loads((data / "lang" / "tokens.json").read_text(encoding="utf-8"))  # stage 2
    assert tokens[:3] == ["<blank>", "<s>", "</s>"] and tokens[-1] == "<unk>"
    assert set("".join(read_text(data / "train" / "text").values())) <= set(tokens)
    assert json.loads((data / "synth_meta.json").read_text())["seed"] == 777
