"""Speaker-embedding training path (funasr_lite.train.spk + bin/{train_spk,diarize} and
egs/synth/local/{synth_spk_data,make_meetings}) on a tiny espeak-ng set: 6 speakers x 8 utterances, a few CPU steps."""

from __future__ import annotations

import json
import math
import random
from pathlib import Path

import make_meetings  # egs/synth/local, on sys.path through conftest
import numpy as np
import pytest
import synth_spk_data
import torch
from espeak_speakers import MEETING_VARIANTS, TRAIN_VARIANTS, meeting_speakers, train_speakers, trim_silence

from funasr_lite.bin import compute_der, diarize, train_spk
from funasr_lite.data.kaldi_lists import read_scp
from funasr_lite.diar.rttm import read_rttm
from funasr_lite.frontend.fbank import campplus_fbank
from funasr_lite.modelio import open_model_dir
from funasr_lite.models.campplus import CAMPPlus
from funasr_lite.train.core import checkpoint as checkpoint_mod
from funasr_lite.train.spk import AAMSoftmax, SpeakerCrops
from funasr_lite.train.spk.trainer import TrainConfig, list_checkpoints, train

# the smallest CAM++ the FunASR constructor allows (as tests/fixtures/models/campplus_tiny)
MICRO = '{"init_channels": 8, "growth_rate": 4, "bn_size": 2, "embedding_size": 16}'


def _conf(**kw):
    conf = {
        "feat_dim": 80,
        "embedding_size": 16,
        "growth_rate": 4,
        "bn_size": 2,
        "init_channels": 8,
        "config_str": "batchnorm-relu",
        "memory_efficient": True,
        "output_level": "segment",
    }
    conf.update(kw)
    return conf


@pytest.fixture(scope="module")
def spk_data(tmp_path_factory) -> Path:
    d = tmp_path_factory.mktemp("spk") / "train"
    assert (
        synth_spk_data.main(
            [
                "--out_dir",
                str(d),
                "--audio_dir",
                str(d / "audio"),
                "--num_variants",
                "3",
                "--pitches",
                "35,70",
                "--utts_per_spk",
                "8",
                "--nj",
                "2",
                "--seed",
                "5",
            ]
        )
        == 0
    )
    return d


def test_speaker_sets():
    assert not set(TRAIN_VARIANTS) & set(MEETING_VARIANTS)
    spks = train_speakers()
    assert len(spks) >= 60 and len({s.spk_id for s in spks}) == len(spks)
    rng = random.Random(0)
    m = meeting_speakers(4, rng)
    assert len({s.variant for s in m}) == 4 and all(s.variant in MEETING_VARIANTS for s in m)
    x = np.concatenate([np.zeros(1000), np.ones(500) * 0.5, np.zeros(2000)]).astype(np.float32)
    y = trim_silence(x, margin_s=0.0)
    assert len(y) == 500


def test_synth_spk_data_outputs(spk_data):
    wavs, utt2spk = read_scp(spk_data / "wav.scp"), read_scp(spk_data / "utt2spk")
    assert len(wavs) == 48 and set(wavs) == set(utt2spk)
    assert len(set(utt2spk.values())) == 6
    assert all(Path(p).suffix == ".flac" and Path(p).is_file() for p in wavs.values())
    assert all(u.startswith(s + "-") for u, s in utt2spk.items())  # Kaldi: speaker-prefixed ids
    meta = json.loads((spk_data / "speakers.json").read_text())
    assert meta["num_speakers"] == 6 and not meta["failed"]


def test_dataset_crops_and_features(spk_data):
    ds = SpeakerCrops(spk_data, 1.5, 2.0, seed=0)
    assert ds.num_speakers == 6 and sorted(ds.spk2id.values()) == list(range(6))
    rng = np.random.default_rng(0)
    waves, labels = ds.sample(8, rng)
    assert waves.shape[0] == 8 and waves.shape[1] in (24000, 28000, 32000)
    assert waves.dtype == torch.float32 and float(waves.abs().max()) <= 1.0
    assert labels.dtype == torch.int64 and int(labels.max()) < 6
    from funasr_lite.train.spk.dataset import crop_features

    feats = crop_features(waves[:2])
    torch.testing.assert_close(feats[1], campplus_fbank(waves[1]), rtol=0, atol=0)


def test_aamsoftmax():
    torch.manual_seed(0)
    head = AAMSoftmax(8, 5, margin=0.0, scale=10.0)
    emb = torch.randn(4, 8)
    labels = torch.tensor([0, 1, 2, 3])
    _, logits = head(emb, labels)
    torch.testing.assert_close(logits, 10.0 * head.cosine(emb))
    head.set_margin(0.3)
    _, logits_m = head(emb, labels)
    cos = head.cosine(emb)
    for i, y in enumerate(labels.tolist()):
        theta = math.acos(float(cos[i, y].detach()))
        want = 10.0 * (
            math.cos(theta + 0.3) if theta + 0.3 < math.pi else math.cos(theta) - math.sin(math.pi - 0.3) * 0.3
        )
        assert float(logits_m[i, y].detach()) == pytest.approx(want, abs=1e-4)
        others = [j for j in range(5) if j != y]
        torch.testing.assert_close(logits_m[i, others], logits[i, others])
    with pytest.raises(ValueError):
        head.set_margin(2.0)


def _cfg(data: Path, out: Path, epochs: int) -> TrainConfig:
    return TrainConfig(
        data=str(data),
        out=str(out),
        model_conf=_conf(),
        epochs=epochs,
        batch_size=8,
        steps_per_epoch=3,
        min_crop=1.5,
        max_crop=1.5,
        lr=1e-2,
        seed=11,
        num_threads=2,
        margin=0.0,
        margin_warmup_frac=0.0,
        warmup_frac=0.0,
    )


def test_train_resume_export(spk_data, tmp_path):
    out = tmp_path / "exp"
    ref = train(_cfg(spk_data, out, 3), progress=False)
    assert [h["epoch"] for h in ref["history"]] == [1, 2, 3]
    assert [e for e, _ in list_checkpoints(out)] == [1, 2, 3]
    losses = [h["loss"] for h in ref["history"]]
    assert losses[-1] < losses[0], losses
    final = torch.load(out / "checkpoints" / "epoch_3.pt", map_location="cpu", weights_only=False)
    # interrupted after epoch 2: the rerun resumes from epoch_2.pt and reproduces epoch 3 exactly
    (out / "checkpoints" / "epoch_3.pt").unlink()
    resumed = train(_cfg(spk_data, out, 3), progress=False)
    assert [h["epoch"] for h in resumed["history"]] == [1, 2, 3]
    assert resumed["history"][-1]["loss"] == pytest.approx(losses[-1], rel=1e-5)
    again = torch.load(out / "checkpoints" / "epoch_3.pt", map_location="cpu", weights_only=False)
    for k, v in final["model"].items():
        torch.testing.assert_close(again["model"][k], v, rtol=1e-4, atol=1e-5)
    # nothing half-written is left behind; seeds and config are recorded
    assert not [p for p in (out / "checkpoints").iterdir() if p.name.endswith(".tmp")]
    info = json.loads((out / "train_config.json").read_text())
    assert info["config"]["seed"] == 11 and info["num_speakers"] == 6

    # export: a FunASR CAM++ folder with only the CAMPPlus weights under 3D-Speaker key names
    md = open_model_dir(out / "model")
    assert md.model_class == "CAMPPlus"
    state = md.state_dict()
    model = CAMPPlus(**_conf())
    assert set(state) == set(model.state_dict())
    assert not any(k.startswith("head.weight") or "aam" in k for k in state)
    ckpt = torch.load(list_checkpoints(out)[-1][1], map_location="cpu", weights_only=False)
    for k, v in ckpt["model"].items():
        torch.testing.assert_close(state[k], v)
    from funasr_lite.models.campplus import load_campplus

    loaded = load_campplus(out / "model")
    model.load_state_dict(ckpt["model"])
    model.eval()
    x = torch.randn(2, 150, 80)
    with torch.no_grad():
        torch.testing.assert_close(loaded(x), model(x))


def test_resumes_a_run_dir_of_a_version_without_the_checkpoint_index(spk_data, tmp_path):
    """Older versions wrote epoch_<N>.pt without checkpoints.json, RNG states {numpy_batch, torch,
    python: random.getstate()}: such a dir resumes and continues as the current version does."""
    out = tmp_path / "exp"
    train(_cfg(spk_data, out, 2), progress=False)
    final = torch.load(out / "checkpoints" / "epoch_2.pt", map_location="cpu", weights_only=True)
    (out / "checkpoints" / "epoch_2.pt").unlink()
    (out / "checkpoints" / "checkpoints.json").unlink()
    state = torch.load(out / "checkpoints" / "epoch_1.pt", map_location="cpu", weights_only=True)
    py = state["rng"]["python"]
    state["rng"] = {
        "numpy_batch": state["rng"]["numpy_batch"],
        "torch": state["rng"]["torch"],
        "python": (py[0], tuple(py[1]), py[2]),
    }
    torch.save(state, out / "checkpoints" / "epoch_1.pt")
    resumed = train(_cfg(spk_data, out, 2), progress=False)
    assert [h["epoch"] for h in resumed["history"]] == [1, 2]
    assert len((out / "train_log.jsonl").read_text().splitlines()) == 3  # epoch 1 was not trained again
    assert [e for e, _ in list_checkpoints(out)] == [1, 2]
    again = torch.load(out / "checkpoints" / "epoch_2.pt", map_location="cpu", weights_only=True)
    for k, v in final["model"].items():
        torch.testing.assert_close(again["model"][k], v, rtol=1e-4, atol=1e-5)


def test_checkpoint_write_is_atomic(tmp_path, monkeypatch):
    path = tmp_path / "checkpoints" / "epoch_1.pt"
    checkpoint_mod.save_atomic({"a": torch.ones(3)}, path)

    def broken_save(obj, f):
        f.write(b"partial")
        raise OSError("disk full")

    monkeypatch.setattr(checkpoint_mod.torch, "save", broken_save)
    with pytest.raises(OSError):
        checkpoint_mod.save_atomic({"a": torch.zeros(3)}, path)
    monkeypatch.undo()
    torch.testing.assert_close(torch.load(path)["a"], torch.ones(3))
    assert sorted(p.name for p in path.parent.iterdir()) == ["epoch_1.pt"]


def test_cli_tiny_then_diarize_and_score(spk_data, tmp_path):
    out = tmp_path / "exp"
    assert (
        train_spk.main(
            [
                "--data",
                str(spk_data),
                "--out",
                str(out),
                "--epochs",
                "1",
                "--batch_size",
                "6",
                "--steps_per_epoch",
                "2",
                "--model_conf",
                MICRO,
                "--no_progress",
                "--num_threads",
                "2",
                "--min_crop",
                "1.5",
                "--max_crop",
                "1.5",
            ]
        )
        == 0
    )
    assert (out / "model" / "campplus_cn_common.bin").is_file()
    with pytest.raises(SystemExit):
        train_spk.main(["--data", str(spk_data), "--out", str(out), "--model_conf", '{"bogus": 1}'])

    m = tmp_path / "meet"
    assert (
        make_meetings.main(
            [
                "--out_dir",
                str(m),
                "--audio_dir",
                str(m / "audio"),
                "--num_meetings",
                "1",
                "--min_speakers",
                "2",
                "--max_speakers",
                "2",
                "--min_dur",
                "18",
                "--max_dur",
                "18",
                "--nj",
                "1",
            ]
        )
        == 0
    )
    ref = read_rttm(m / "ref.rttm")
    ((rec, turns),) = ref.items()
    assert rec == "meeting000_2spk" and len({t[2] for t in turns}) == 2
    assert all(t[2] != u[2] for t, u in zip(turns, turns[1:]))  # alternating
    assert all(0.3 - 1e-3 <= u[0] - t[1] <= 1.5 + 1e-3 for t, u in zip(turns, turns[1:]))  # pauses, no overlap
    assert not any(t[2] in {v for v in TRAIN_VARIANTS} for t in turns)
    d = tmp_path / "diar"
    assert (
        diarize.main(
            [
                "--wav_scp",
                str(m / "wav.scp"),
                "--spk_model",
                str(out / "model"),
                "--out_dir",
                str(d),
                "--oracle_vad",
                str(m / "ref.rttm"),
                "--num_speakers_file",
                str(m / "reco2num_spk"),
            ]
        )
        == 0
    )
    hyp = read_rttm(d / "hyp.rttm")
    assert list(hyp) == [rec]
    assert compute_der.main([str(m / "ref.rttm"), str(d / "hyp.rttm"), str(d / "der.txt")]) == 0
    assert "%DER" in (d / "der.txt").read_text()
