"""ASR training data side: utterance lists, datasets, batches, Featurizer, bucket sampler, SpecAugLFR.

SpecAugLFR is checked bit for bit against FunASR 1.4.16 (tests/fixtures/specaug, made by
tools/make_fixtures/make_specaug.py); the Featurizer against ``WavFrontend`` and FunASR's frontend
fixtures; the rest against hand-computed expectations.
"""

from __future__ import annotations

import hashlib
import json
from pathlib import Path

import kaldiio
import numpy as np
import pytest
import soundfile as sf
import torch
from conftest import espeak_wav

from funasr_lite.errors import InputError
from funasr_lite.frontend.cmvn import load_cmvn
from funasr_lite.frontend.wav_frontend import WavFrontend
from funasr_lite.train.asr.data import (
    AsrDataset,
    Featurizer,
    PreloadedDataset,
    collate,
    load_utterances,
    make_loader,
    tokenize,
)
from funasr_lite.train.asr.sampler import BucketBatchSampler
from funasr_lite.train.asr.specaug import SpecAugLFR

FIX = Path(__file__).parent / "fixtures"
TOKENS = ["<blank>", "<s>", "</s>", "<unk>", "你", "好", "世", "界", "hello", "一", "二", "三"]
TEXTS = {"a": "你好", "b": "你好世界", "c": "一二三 hello", "d": "三二一", "e": "世界", "f": "好"}
N_SAMPLES = {"b": 12345, "c": 8000, "d": 16000 * 2 + 7, "e": 401, "f": 3 * 16000}  # "a": espeak, 8 kHz "g"


def _wave(n: int, seed: int) -> np.ndarray:
    rng = np.random.default_rng(seed)
    t = np.arange(n) / 16000
    x = 0.2 * np.sin(2 * np.pi * rng.uniform(100, 3000) * t) + 0.02 * rng.standard_normal(n)
    return (np.round(x * 32768) / 32768).astype(np.float32)


def _write_dir(d: Path, wav: dict[str, str], text: dict[str, str]) -> Path:
    d.mkdir(parents=True, exist_ok=True)
    (d / "wav.scp").write_text("".join(f"{k} {v}\n" for k, v in wav.items()), encoding="utf-8")
    (d / "text").write_text("".join(f"{k} {v}\n" for k, v in text.items()), encoding="utf-8")
    return d


@pytest.fixture(scope="module")
def data(tmp_path_factory) -> tuple[Path, dict[str, int]]:
    """A data dir of 7 good utterances (one espeak, one 8 kHz) and their 16 kHz sample counts."""
    root = tmp_path_factory.mktemp("asr_data")
    wav, n16 = {}, {}
    n16["a"] = len(espeak_wav(root / "a.wav", "你好"))
    wav["a"] = str(root / "a.wav")
    for i, (k, n) in enumerate(N_SAMPLES.items()):
        sf.write(root / f"{k}.wav", _wave(n, i), 16000, subtype="PCM_16")
        wav[k], n16[k] = str(root / f"{k}.wav"), n
    sf.write(root / "g.wav", _wave(4000, 9), 8000, subtype="PCM_16")  # resampled to 8000 samples
    wav["g"], n16["g"] = str(root / "g.wav"), 8000
    return _write_dir(root / "train", wav, dict(TEXTS, g="你好一")), n16


def _frontend() -> WavFrontend:
    return WavFrontend(cmvn_file=FIX / "frontend" / "am_560.mvn", lfr_m=7, lfr_n=6, dither=0.0)


# ------------------------------------------------------------------------------------ lists


def test_tokenize() -> None:
    t2i = {t: i for i, t in enumerate(TOKENS)}
    assert tokenize("你好 Hello一", t2i, "k") == [4, 5, 8, 9]
    with pytest.raises(InputError) as e:
        tokenize("你x好y你x", t2i, "k1")
    assert str(e.value) == "k1: character(s) 'x','y' not in the token list"
    with pytest.raises(InputError, match="k2: empty transcript"):
        tokenize("  ", t2i, "k2")


def test_load_utterances_frames_and_problems(data, tmp_path) -> None:
    d, n16 = data
    utts, problems = load_utterances(d, TOKENS)
    assert problems == []
    assert [u.key for u in utts] == sorted(n16)
    for u in utts:  # snip_edges: 1 + (n - 400) // 160, n at 16 kHz
        assert u.num_frames == 1 + (n16[u.key] - 400) // 160, u.key
        assert u.source == str(d.parent / f"{u.key}.wav") and u.kind == "wav"
    assert utts[1].token_ids == [4, 5, 6, 7] and utts[2].token_ids == [9, 10, 11, 8]
    # bad items: missing audio, key only in text, only in wav.scp, unknown char, empty text, too short
    sf.write(tmp_path / "short.wav", _wave(1, 0), 16000)
    sf.write(tmp_path / "tiny.wav", _wave(399, 0), 16000)  # FunASR's short-item rule: a 399-sample frame
    good = d.parent / "b.wav"
    bad = _write_dir(
        tmp_path / "bad",
        {
            "ok": good,
            "miss": tmp_path / "nope.wav",
            "wavonly": good,
            "oov": good,
            "empty": good,
            "short": tmp_path / "short.wav",
            "tiny": tmp_path / "tiny.wav",
        },
        {"ok": "你好", "miss": "你", "textonly": "好", "oov": "你坏", "empty": "", "short": "你", "tiny": "好"},
    )
    utts, problems = load_utterances(bad, TOKENS)
    assert [(u.key, u.num_frames) for u in utts] == [("ok", 1 + (12345 - 400) // 160), ("tiny", 1)]
    w, t = bad / "wav.scp", bad / "text"
    assert sorted(problems) == sorted(
        [
            f"{w}:3: utt wavonly: in wav.scp but not in text",
            f"{w}:2: utt miss: audio file not found: {tmp_path / 'nope.wav'}",
            f"{t}:3: utt textonly: in text but not in wav.scp",
            f"{t}:4: utt oov: character(s) '坏' not in the token list",
            f"{t}:5: utt empty: empty transcript",
            f"{w}:6: utt short: too short for one fbank frame",
        ]
    )


def test_feats_scp_source(data, tmp_path) -> None:
    d = data[0]
    utts, _ = load_utterances(d, TOKENS)
    ds = AsrDataset(utts, _frontend())
    ark, scp = tmp_path / "feats.ark", tmp_path / "feats.scp"
    with kaldiio.WriteHelper(f"ark,scp:{ark},{scp}") as writer:  # as bin/dump_fbank
        for i, u in enumerate(utts):
            writer(u.key, ds[i][1].numpy())
    for with_n2f in (False, True):
        if with_n2f:  # a deliberately different count proves utt2num_frames is the source
            (tmp_path / "utt2num_frames").write_text("".join(f"{u.key} {u.num_frames + 1}\n" for u in utts))
        futts, problems = load_utterances(d, TOKENS, feats_scp=scp)
        assert problems == [] and [u.key for u in futts] == [u.key for u in utts]
        assert [u.num_frames for u in futts] == [u.num_frames + with_n2f for u in utts]
        assert all(u.kind == "feats" and u.source.startswith(f"{ark}:") for u in futts)
    fds = AsrDataset(futts, _frontend(), dither=1.0)  # dither ignored for feats
    pre = PreloadedDataset(fds, "cpu", dtype=torch.float32, batch_seconds=2.0, progress=False)
    for i in range(len(utts)):
        assert torch.equal(fds[i][1], ds[i][1]) and torch.equal(fds[i][2], ds[i][2])
        assert torch.equal(pre[i][1], ds[i][1]) and torch.equal(pre[i][2], ds[i][2])


# ---------------------------------------------------------------------------- features


def test_featurizer_equals_wav_frontend(data) -> None:
    d = data[0]
    utts, _ = load_utterances(d, TOKENS)
    fe = _frontend()
    ds = AsrDataset(utts, fe)
    batch = collate([ds[i] for i in range(len(ds))])
    assert batch.keys == [u.key for u in utts] and batch.fbank.dtype == torch.float32
    assert batch.fbank_lens.tolist() == [u.num_frames for u in utts]
    assert batch.ys[1].tolist() == [4, 5, 6, 7] and batch.ys[0, 2:].tolist() == [-1] * (batch.ys.shape[1] - 2)
    assert batch.ys_lens.tolist() == [len(u.token_ids) for u in utts]
    feats, lens = Featurizer(7, 6, fe.cmvn)(batch.fbank, batch.fbank_lens, train=False)
    from funasr_lite.frontend.audio import load_audio

    waves = [torch.from_numpy(load_audio(u.source).waveform) for u in utts]
    padded = torch.nn.utils.rnn.pad_sequence(waves, batch_first=True)
    ref, ref_lens = fe(padded, [len(w) for w in waves])
    assert torch.equal(lens, ref_lens) and torch.equal(feats, ref)
    # train=True with SpecAug: same features up to the masks (zeros)
    aug, _ = Featurizer(
        7,
        6,
        fe.cmvn,
        SpecAugLFR(
            apply_time_warp=False,
            freq_mask_width_range=[5, 6],
            lfr_rate=6,
            num_freq_mask=1,
            time_mask_width_range=[0, 1],
        ),
    )(batch.fbank, batch.fbank_lens, train=True, generator=torch.Generator().manual_seed(0))
    masked = aug != feats
    assert bool((aug[masked] == 0).all()) and int(masked.any(1).sum(1).max()) == 5 * 7


def test_featurizer_matches_funasr_fixtures() -> None:
    cases = [np.load(FIX / "frontend" / f"paraformer_{c}.npz") for c in ("3s", "1s", "espeak_cmn", "0p3s")]
    fb = [torch.from_numpy(c["fbank"]) for c in cases]
    padded = torch.nn.utils.rnn.pad_sequence(fb, batch_first=True)
    feats, lens = Featurizer(7, 6, load_cmvn(FIX / "frontend" / "am_560.mvn"))(
        padded, torch.tensor([len(f) for f in fb]), train=False
    )
    for i, c in enumerate(cases):
        assert int(lens[i]) == c["feats"].shape[0]
        np.testing.assert_allclose(feats[i, : lens[i]].numpy(), c["feats"], atol=1e-4, rtol=1e-5)
        assert not feats[i, int(lens[i]) :].any()


def test_dither_deterministic_per_epoch(data) -> None:
    utts, _ = load_utterances(data[0], TOKENS)
    plain, dith = AsrDataset(utts, _frontend()), AsrDataset(utts, _frontend(), dither=1.0, seed=3)
    a0 = dith[2][1]
    assert torch.equal(AsrDataset(utts, _frontend(), dither=1.0, seed=3)[2][1], a0)
    assert not torch.equal(a0, plain[2][1]) and torch.allclose(a0, plain[2][1], atol=2.0)
    dith.set_epoch(1)
    assert not torch.equal(dith[2][1], a0)
    assert not torch.equal(AsrDataset(utts, _frontend(), dither=1.0, seed=4)[2][1], a0)


def test_loader_workers_same_batches(data) -> None:
    utts, _ = load_utterances(data[0], TOKENS)
    runs = []
    for workers in (0, 2):
        ds = AsrDataset(utts, _frontend(), dither=1.0, seed=1)
        sampler = BucketBatchSampler([u.num_frames for u in utts], batch_bins=300, seed=5)
        sampler.set_epoch(2)  # the loader passes the epoch on to the dataset (dither)
        runs.append([(b.keys, b.fbank, b.ys) for b in make_loader(ds, sampler, workers, False)])
        if workers:  # position counts consumed batches although workers prefetch ahead
            it = iter(make_loader(ds, sampler, workers, False))
            next(it), next(it)
            assert sampler.state_dict()["position"] == 2
            del it
    assert len(runs[0]) == len(runs[1]) == 4
    for (k0, f0, y0), (k1, f1, y1) in zip(*runs):
        assert k0 == k1 and torch.equal(f0, f1) and torch.equal(y0, y1)
    ref = AsrDataset(utts, _frontend(), dither=1.0, seed=1)
    ref.set_epoch(2)
    i = [u.key for u in utts].index(runs[0][0][0][0])
    assert torch.equal(runs[0][0][1][0, : utts[i].num_frames], ref[i][1])


def test_preloaded_equals_dataset(data) -> None:
    utts, _ = load_utterances(data[0], TOKENS)
    ds = AsrDataset(utts, _frontend())
    pre = PreloadedDataset(ds, "cpu", dtype=torch.float32, batch_seconds=1.0, progress=False)
    assert len(pre.chunks) > 2 and len(pre) == len(ds)
    half = PreloadedDataset(ds, "cpu", progress=False)
    for i in range(len(ds)):
        key, f, y = ds[i]
        pk, pf, py = pre[i]
        assert pk == key and torch.equal(pf, f) and torch.equal(py, y) and py.dtype == torch.long
        assert half[i][1].dtype == torch.float16 and torch.equal(half[i][1], f.half())
    loader = make_loader(pre, BucketBatchSampler(ds.lengths(), 2000, shuffle=False), num_workers=2, pin_memory=True)
    assert loader.num_workers == 0 and len(list(loader)) == len(loader)


# ------------------------------------------------------------------------------- sampler


def test_sampler_sorted_hand_computed() -> None:
    s = BucketBatchSampler([5, 3, 8, 1, 4, 30, 11], batch_bins=10, shuffle=False)
    assert list(s) == [[3, 1], [4, 0], [2]] and len(s) == 3 and s.num_dropped == 2
    s = BucketBatchSampler([5, 3, 8, 1, 4], batch_bins=10, max_length=4, shuffle=False, max_batch_size=1)
    assert list(s) == [[3], [1], [4]] and s.num_dropped == 2
    assert BucketBatchSampler([5, 3, 8], batch_bins=10, max_length=0, shuffle=False).num_dropped == 0  # 0: no limit
    with pytest.raises(ValueError, match="batch_bins=10.*max_length=2|max_length=2.*batch_bins=10"):
        BucketBatchSampler([5, 3], batch_bins=10, max_length=2)


LENS = [int(v) for v in np.random.default_rng(0).integers(50, 1500, size=500)] + [2000, 5000]


def test_sampler_budget_and_coverage() -> None:
    s = BucketBatchSampler(LENS, batch_bins=4000, max_length=1800, seed=1, bucket_size=100, max_batch_size=6)
    assert s.num_dropped == 2
    for epoch in range(3):
        s.set_epoch(epoch)
        batches = list(s)
        assert len(batches) == len(s)
        assert all(max(LENS[i] for i in b) * len(b) <= 4000 and len(b) <= 6 for b in batches)
        flat = sorted(i for b in batches for i in b)
        assert flat == list(range(500))  # every kept index exactly once


def test_sampler_determinism() -> None:
    def run(seed: int, epoch: int, **kw) -> list[list[int]]:
        s = BucketBatchSampler(LENS, batch_bins=4000, seed=seed, **kw)
        s.set_epoch(epoch)
        return list(s)

    assert run(1, 0) == run(1, 0) and run(1, 3) == run(1, 3)
    assert run(1, 0) != run(1, 1) and run(1, 0) != run(2, 0)
    assert run(1, 0, shuffle=False) == run(2, 5, shuffle=False)

    # one global bucket: the sorted batches of shuffle=False, in another order (ties aside)
    def profile(batches: list[list[int]]) -> list[tuple[int, ...]]:
        return sorted(tuple(sorted(LENS[i] for i in b)) for b in batches)

    assert profile(run(1, 0, bucket_size=0)) == profile(run(1, 0, shuffle=False))
    assert run(1, 0, bucket_size=0) != run(1, 0, shuffle=False)


def test_sampler_ddp_ranks() -> None:
    full = BucketBatchSampler(LENS, batch_bins=3000, seed=7)
    full.set_epoch(4)
    all_batches = list(full)
    world = 4
    usable = len(all_batches) // world * world
    ranks = []
    for r in range(world):
        s = BucketBatchSampler(LENS, batch_bins=3000, seed=7, rank=r, world_size=world)
        s.set_epoch(4)
        ranks.append(list(s))
        assert len(s) == usable // world == len(ranks[-1])
        assert ranks[-1] == all_batches[r:usable:world]
    flat = [i for batches in ranks for b in batches for i in b]
    assert len(flat) == len(set(flat))
    assert set(flat) == {i for b in all_batches[:usable] for i in b}
    assert full.num_dropped == 1 and usable < len(all_batches)  # 5000 > batch_bins; a truncated tail
    assert set(range(502)) - set(flat) == {501} | {i for b in all_batches[usable:] for i in b}


def test_sampler_resume_mid_epoch() -> None:
    s = BucketBatchSampler(LENS, batch_bins=4000, seed=2, rank=1, world_size=2)
    s.set_epoch(3)
    expected = list(s)
    it = iter(s)
    done = [next(it) for _ in range(5)]
    state = s.state_dict()
    assert state == {"epoch": 3, "position": 5, "seed": 2} and done == expected[:5]
    t = BucketBatchSampler(LENS, batch_bins=4000, seed=99, rank=1, world_size=2)
    t.load_state_dict(state)
    t.set_epoch(3)  # the same epoch keeps the pending position
    assert t.start_position == 5 and len(t) == len(expected)
    assert list(t) == expected[5:] and t.state_dict()["position"] == len(expected)
    t.set_epoch(4)
    s.set_epoch(4)
    assert list(t) == list(s) and t.state_dict()["position"] == len(s)


# ------------------------------------------------------------------------------- SpecAug

SPEC = json.loads((FIX / "specaug" / "cases.json").read_text())["cases"]
SPEC_IN = np.load(FIX / "specaug" / "inputs.npz")


@pytest.mark.parametrize("case", SPEC, ids=lambda c: f"{c['case']}-seed{c['seed']}")
def test_specaug_matches_funasr(case) -> None:
    x = torch.from_numpy(SPEC_IN[f"{case['input']}_int8"].astype(np.float32) / 32.0)
    lens = torch.from_numpy(SPEC_IN[f"{case['input']}_lens"])
    x_before = x.clone()
    torch.manual_seed(case["seed"])  # generator=None: the global RNG, as FunASR
    out, out_lens = SpecAugLFR(**case["conf"])(x, lens)
    assert torch.equal(x, x_before) and torch.equal(out_lens, lens)
    assert list(out.shape) == case["shape"]
    assert hashlib.sha256(out.contiguous().numpy().tobytes()).hexdigest() == case["sha256"]
    key = f"{case['case']}_seed{case['seed']}_zero"
    if key in SPEC_IN.files:
        zero = np.unpackbits(SPEC_IN[key])[: out.numel()].reshape(out.shape).astype(bool)
        assert np.array_equal(out.numpy() == 0, zero)
    gen_out, _ = SpecAugLFR(**case["conf"])(x, lens, generator=torch.Generator().manual_seed(case["seed"]))
    assert torch.equal(gen_out, out)


def test_specaug_conf_errors() -> None:
    with pytest.raises(TypeError, match="time_mask_width"):
        SpecAugLFR(time_mask_width=[0, 12])
    with pytest.raises(ValueError, match="time_mask_width_range"):
        SpecAugLFR(apply_time_warp=False)
    with pytest.raises(ValueError, match="freq_mask_width_range"):
        SpecAugLFR(freq_mask_width_range=[5, 5], time_mask_width_range=[0, 3])
