"""LFR stacking and CMVN files: FunASR's rules, checked against loop references and hand numbers."""

from __future__ import annotations

import json
import math
from pathlib import Path

import numpy as np
import pytest
import torch

from funasr_lite.errors import ModelError
from funasr_lite.frontend.cmvn import (
    CmvnStats,
    apply_cmvn,
    load_cmvn,
    load_stats_json,
    save_stats_json,
    write_am_mvn,
    write_am_mvn_from_stats,
)
from funasr_lite.frontend.lfr import apply_lfr, apply_lfr_batch
from funasr_lite.frontend.wav_frontend import WavFrontend


def lfr_loop_reference(feats: torch.Tensor, lfr_m: int, lfr_n: int) -> torch.Tensor:
    """FunASR's original explicit-loop apply_lfr (before the as_strided rewrite)."""
    T = feats.shape[0]
    T_lfr = int(np.ceil(T / lfr_n))
    left = feats[0].repeat((lfr_m - 1) // 2, 1)
    padded = torch.vstack((left, feats))
    T = T + (lfr_m - 1) // 2
    out = []
    for i in range(T_lfr):
        if lfr_m <= T - i * lfr_n:
            out.append(padded[i * lfr_n : i * lfr_n + lfr_m].reshape(1, -1))
        else:
            frame = padded[i * lfr_n :].reshape(-1)
            for _ in range(lfr_m - (T - i * lfr_n)):
                frame = torch.hstack((frame, padded[-1]))
            out.append(frame.reshape(1, -1))
    return torch.vstack(out)


@pytest.mark.parametrize("m_n", [(7, 6), (5, 1), (1, 1), (3, 2)])
def test_lfr_matches_loop(m_n: tuple[int, int]) -> None:
    lfr_m, lfr_n = m_n
    gen = torch.Generator().manual_seed(0)
    for T in range(1, 41):
        feats = torch.randn(T, 4, generator=gen)
        ours = apply_lfr(feats, lfr_m, lfr_n)
        assert ours.shape == (math.ceil(T / lfr_n), 4 * lfr_m)
        assert torch.equal(ours, lfr_loop_reference(feats, lfr_m, lfr_n)), T


def test_lfr_hand_example() -> None:
    """T=3 frames [0], [1], [2] with m=7, n=6: pad 3 copies of frame 0, fill with the last frame."""
    feats = torch.tensor([[0.0], [1.0], [2.0]])
    out = apply_lfr(feats, 7, 6)
    assert out.tolist() == [[0.0, 0.0, 0.0, 0.0, 1.0, 2.0, 2.0]]
    out = apply_lfr(torch.arange(4.0).unsqueeze(1), 5, 1)
    assert out.tolist() == [[0, 0, 0, 1, 2], [0, 0, 1, 2, 3], [0, 1, 2, 3, 3], [1, 2, 3, 3, 3]]


def test_lfr_batch_uses_own_last_frame() -> None:
    gen = torch.Generator().manual_seed(1)
    lengths = [13, 1, 40, 7, 0]
    items = [torch.randn(n, 3, generator=gen) for n in lengths]
    batch = torch.full((len(items), 40, 3), 99.0)  # padding must never appear in outputs
    for b, x in enumerate(items):
        batch[b, : len(x)] = x
    out, out_len = apply_lfr_batch(batch, torch.tensor(lengths), 7, 6)
    assert out_len.tolist() == [math.ceil(n / 6) for n in lengths]
    for b, x in enumerate(items):
        n = int(out_len[b])
        if n:
            assert torch.equal(out[b, :n], lfr_loop_reference(x, 7, 6))
        assert not out[b, n:].any()


AM_MVN = """<Nnet>
<Splice> 6 6
[ 0 ]
<AddShift> 6 6
<LearnRateCoef> 0 [ -1.5 -2.25 0.5 -1.5 -2.25 0.5 ]
<Rescale> 6 6
<LearnRateCoef> 0 [ 0.5 0.25 2 0.5 0.25 2 ]
</Nnet>
"""


def test_load_am_mvn(tmp_path: Path) -> None:
    path = tmp_path / "am.mvn"
    path.write_text(AM_MVN)
    cmvn = load_cmvn(path)
    assert cmvn.shift.dtype == torch.float32 and cmvn.dim == 6
    assert cmvn.shift.tolist() == [-1.5, -2.25, 0.5] * 2
    assert cmvn.scale.tolist() == [0.5, 0.25, 2.0] * 2
    x = torch.tensor([[1.5, 2.25, 1.0], [3.5, 6.25, 0.0]])
    y = apply_cmvn(x, cmvn.shift, cmvn.scale)  # first 3 columns only
    assert y.tolist() == [[0.0, 0.0, 3.0], [1.0, 1.0, 1.0]]


@pytest.mark.parametrize(
    "text, problem",
    [
        (AM_MVN.replace("<AddShift> 6 6\n", ""), "<AddShift>"),
        (AM_MVN.replace("<Rescale>", "<Scale>"), "<Rescale>"),
        (AM_MVN.replace("0.25 2 0.5", "0.25 x 0.5"), "non-numeric"),
        (AM_MVN.replace("[ 0.5 0.25 2 0.5 0.25 2 ]", "[ 0.5 0.25 ]"), "values"),
        (AM_MVN.replace("<LearnRateCoef> 0 [ -1.5", "[ -1.5"), "<LearnRateCoef>"),
        ("", "<AddShift>"),
    ],
)
def test_bad_am_mvn_raises_model_error(tmp_path: Path, text: str, problem: str) -> None:
    path = tmp_path / "am.mvn"
    path.write_text(text)
    with pytest.raises(ModelError) as err:
        load_cmvn(path)
    assert str(path) in str(err.value) and problem in str(err.value)


def test_missing_am_mvn_raises_model_error(tmp_path: Path) -> None:
    with pytest.raises(ModelError, match="not found"):
        load_cmvn(tmp_path / "nope.mvn")
    with pytest.raises(ModelError):
        WavFrontend(cmvn_file=tmp_path / "nope.mvn")


def test_stats_json_round_trip(tmp_path: Path) -> None:
    stats = CmvnStats()
    stats.accumulate(torch.tensor([[1.0, 2.0], [3.0, 6.0]]))
    stats.accumulate(np.array([[5.0, 4.0]]))
    path = tmp_path / "cmvn.json"
    save_stats_json(stats, path)
    raw = json.loads(path.read_text())
    assert raw == {"mean_stats": [9.0, 12.0], "var_stats": [35.0, 56.0], "total_frames": 3}
    back = load_stats_json(path)
    assert back.mean_stats.tolist() == [9.0, 12.0] and back.var_stats.tolist() == [35.0, 56.0]
    assert back.total_frames == 3
    path.write_text('{"mean_stats": [1.0]}')
    with pytest.raises(ModelError, match="total_frames"):
        load_stats_json(path)
    path.write_text("not json")
    with pytest.raises(ModelError):
        load_stats_json(path)


def test_stats_to_am_mvn_hand_computed(tmp_path: Path) -> None:
    """mean = -sum/N, scale = 1/sqrt(sumsq/N - mean^2), tiled lfr_m times."""
    stats = CmvnStats()
    stats.accumulate(torch.tensor([[1.0, 2.0], [3.0, 6.0], [5.0, 4.0]]))
    # dim 0: mean 3, E[x^2] = 35/3, var = 35/3 - 9 = 8/3; dim 1: mean 4, E[x^2] = 56/3, var = 8/3
    shift, scale = stats.shift_scale()
    assert shift.tolist() == [-3.0, -4.0]
    np.testing.assert_allclose(scale, [1 / math.sqrt(8 / 3)] * 2, rtol=1e-12)
    path = tmp_path / "am.mvn"
    write_am_mvn_from_stats(stats, path, lfr_m=3)
    lines = path.read_text().splitlines()
    assert lines[0] == "<Nnet>" and lines[1] == "<Splice> 6 6" and lines[3] == "<AddShift> 6 6"
    assert lines[-1] == "</Nnet>"
    cmvn = load_cmvn(path)
    assert cmvn.shift.tolist() == [-3.0, -4.0] * 3
    assert torch.equal(cmvn.scale, torch.full((6,), 1 / math.sqrt(8 / 3), dtype=torch.float32))
    assert torch.equal(stats.to_cmvn().scale, cmvn.scale[:2])
    write_am_mvn(cmvn.shift[:2], cmvn.scale[:2], tmp_path / "b.mvn", lfr_m=2)
    assert load_cmvn(tmp_path / "b.mvn").dim == 4


def test_wav_frontend_batched_equals_single(tmp_path: Path) -> None:
    """Padded batch == per-item calls, including the <25 ms rule, 0/1-sample items and CMVN."""
    path = tmp_path / "am.mvn"
    gen = torch.Generator().manual_seed(0)
    write_am_mvn(-torch.rand(80, generator=gen) * 10, torch.rand(80, generator=gen) + 0.1, path, lfr_m=7)
    frontend = WavFrontend.from_config(
        dict(
            fs=16000,
            window="hamming",
            n_mels=80,
            frame_length=25,
            frame_shift=10,
            lfr_m=7,
            lfr_n=6,
            dither=0.0,
            filter_length_min=-1,
        ),
        cmvn_file=path,
    )
    lengths = [16000, 320, 4800, 1, 12345, 399, 400, 0]
    waves = [0.1 * torch.randn(n, generator=gen) for n in lengths]
    batch = torch.full((len(waves), max(lengths)), 0.5)
    for b, w in enumerate(waves):
        batch[b, : len(w)] = w
    feats, out_len = frontend(batch, torch.tensor(lengths))
    assert feats.shape[2] == frontend.output_size() == 560
    for b, w in enumerate(waves):
        single, n = frontend(w.unsqueeze(0))
        assert int(out_len[b]) == int(n[0])
        assert torch.equal(feats[b, : int(n[0])], single[0, : int(n[0])])
        assert not feats[b, int(n[0]) :].any()
    # short-segment rule: 2..399 samples still give one fbank frame, 0 or 1 samples give none
    assert out_len.tolist() == [17, 1, 5, 0, 13, 1, 1, 0]


def test_num_output_frames_matches_the_frontend() -> None:
    """The frame count used for batching equals what WavFrontend actually produces."""
    from funasr_lite.frontend.wav_frontend import WavFrontend

    torch.manual_seed(0)
    for lfr in ((7, 6), (5, 1)):
        fe = WavFrontend(lfr_m=lfr[0], lfr_n=lfr[1], dither=0.0)
        for n in (0, 1, 2, 100, 399, 400, 401, 559, 560, 16000, 48123):
            _, lens = fe(torch.rand(1, n) * 0.2 - 0.1, torch.tensor([n]))
            assert int(lens[0]) == fe.num_output_frames(n), (lfr, n)
