"""The speed paths give the reference answers: batched CIF, host-side fire recurrences, packed BLSTM,
decode/VAD in DataLoader workers with cross-recording batches, and the --dtype/--quantize options.

References: FunASR's loop CIF and ``cif_wo_hidden`` (kept as ``cif_loop`` / ``cif_peaks_reference``),
the per-item timestamp head (``raw_upsampled_alphas``), and funasr_lite's own in-process,
one-recording-at-a-time results (which the golden tests tie to FunASR 1.4.16).
"""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import torch
from conftest import REPO, espeak_wav

from funasr_lite import AutoModel
from funasr_lite.models.paraformer import load_paraformer
from funasr_lite.models.paraformer.cif import cif_batched, cif_loop
from funasr_lite.models.precision import parse_dtype, set_precision
from funasr_lite.postprocess.timestamps import cif_peaks, cif_peaks_reference

FIX = REPO / "tests" / "fixtures" / "models"


@pytest.mark.parametrize("seed", range(6))
def test_cif_batched_equals_loop(seed):
    g = torch.Generator().manual_seed(seed)
    b, t = 4, 20 + 37 * seed
    hidden = torch.randn(b, t, 8, generator=g)
    alphas = torch.rand(b, t, generator=g) * (0.3 + 0.2 * seed)
    alphas[1, t // 3 :] = 0  # an item that ends early
    alphas[2, 5] = 1.0 - 1e-7  # near the threshold
    h1, a1 = hidden.clone().requires_grad_(), alphas.clone().requires_grad_()
    h2, a2 = hidden.clone().requires_grad_(), alphas.clone().requires_grad_()
    ref, ref_fires = cif_loop(h1, a1, 1.0)
    got, got_fires = cif_batched(h2, a2, 1.0)
    assert torch.equal(got_fires, ref_fires)  # same float32 running sums: same fires
    assert got.shape == ref.shape and ref.shape[1] > 0
    torch.testing.assert_close(got, ref, atol=1e-5, rtol=1e-5)
    w = torch.randn(ref.shape, generator=g)
    (ref * w).sum().backward()
    (got * w).sum().backward()
    torch.testing.assert_close(h2.grad, h1.grad, atol=1e-5, rtol=1e-5)
    torch.testing.assert_close(a2.grad, a1.grad, atol=1e-4, rtol=1e-4)


@pytest.mark.parametrize("threshold", [1.0, 1.0 - 1e-4])
def test_cif_peaks_equal_reference(threshold):
    g = torch.Generator().manual_seed(3)
    for t in (1, 7, 150, 601):
        alphas = torch.rand(3, t, generator=g) * 0.8
        assert torch.equal(cif_peaks(alphas, threshold), cif_peaks_reference(alphas, threshold))
    assert cif_peaks(torch.zeros(2, 0), threshold).shape == (2, 0)


CUDA = pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA device")


@pytest.mark.parametrize("device", ["cpu", pytest.param("cuda", marks=CUDA)])
def test_batched_timestamp_head_equals_per_item(device):
    """Batched convolutions + (on CUDA) the packed BLSTM equal the per-item head FunASR runs at batch 1."""
    model, _, _ = load_paraformer(FIX / "bicif_paraformer_tiny", device=device)
    pred = model.predictor
    g = torch.Generator().manual_seed(0)
    lens = [7, 30, 0, 18]
    hidden = torch.zeros(len(lens), max(lens), pred.cif_conv1d.in_channels)
    for i, n in enumerate(lens):
        hidden[i, :n] = torch.randn(n, hidden.shape[-1], generator=g)
    hidden = hidden.to(device)
    token_num = torch.tensor([2.0, 9.0, 0.0, 5.0], device=device)
    got = pred.upsampled_alphas(hidden, torch.tensor(lens), token_num)
    up = pred.upsample_times
    for i, n in enumerate(lens):
        if n == 0:
            assert not got[i].any()
            continue
        a = pred.raw_upsampled_alphas(hidden[i : i + 1, :n], torch.float32)[0]
        torch.testing.assert_close(got[i, : n * up], a * (token_num[i] / a.sum()), atol=1e-6, rtol=1e-5)
        assert not got[i, n * up :].any()


def test_precision_options():
    assert parse_dtype("bf16") is torch.bfloat16 and parse_dtype("float16") is torch.float16
    with pytest.raises(ValueError, match="unknown dtype"):
        parse_dtype("fp8")
    with pytest.raises(ValueError, match="CPU feature"):
        set_precision([torch.nn.Linear(2, 2)], "fp32", "int8", "cuda")
    with pytest.raises(ValueError, match="unknown quantize"):
        set_precision([torch.nn.Linear(2, 2)], "fp32", "int4")


@pytest.mark.parametrize("dtype,quantize", [("bf16", None), ("fp32", "int8")])
def test_low_precision_asr_runs_and_mostly_agrees(dtype, quantize, tmp_path):
    """bf16 and int8 change numbers, not the plumbing: same keys, token counts within one of fp32."""
    wavs = []
    for i, text in enumerate(["今天天气很好", "我们一起吃午饭", "明天还要上班"]):
        espeak_wav(tmp_path / f"{i}.wav", text, voice=f"m{i + 1}")
        wavs.append(str(tmp_path / f"{i}.wav"))
    ref = AutoModel(model=str(FIX / "bicif_paraformer_tiny")).generate(wavs)
    m = AutoModel(model=str(FIX / "bicif_paraformer_tiny"), dtype=dtype, quantize=quantize)
    low = m.generate(wavs)
    model = m.recognizer.model
    if quantize:
        assert isinstance(model.encoder.encoders[0].feed_forward.w_1, torch.ao.nn.quantized.dynamic.Linear)
    else:
        assert model.encoder.encoders[0].feed_forward.w_1.weight.dtype is torch.bfloat16
        assert model.encoder.after_norm.weight.dtype is torch.float32  # LayerNorms stay float32 under autocast
    assert model.predictor.cif_output.weight.dtype is torch.float32
    assert [r["key"] for r in low] == [r["key"] for r in ref]
    for a, b in zip(low, ref):
        assert abs(len(a["text"].split()) - len(b["text"].split())) <= 1
        assert len(a["timestamp"]) == len(a["text"].split())


def _cli(corpus: Path, out: Path, vad_dir: Path, *extra: str) -> subprocess.CompletedProcess:
    cmd = [
        sys.executable,
        "-m",
        "funasr_lite.bin.inference",
        "--model",
        str(FIX / "bicif_paraformer_tiny"),
        "--vad_model",
        str(vad_dir),
        "--punc_model",
        str(FIX / "ct_transformer_tiny"),
        "--wav_scp",
        str(corpus / "wav.scp"),
        "--output_dir",
        str(out),
        "--output_format",
        "json",
        *extra,
    ]
    return subprocess.run(cmd, capture_output=True, text=True, timeout=600)


def test_workers_and_windows_give_the_same_files(tmp_path, vad_dir):
    """Decoding in 3 workers with cross-recording batches equals one recording at a time, bad file included."""
    lines = []
    for i in range(5):
        espeak_wav(tmp_path / f"r{i}.wav", "今天天气很好我们去公园散步" * (1 + i % 2), voice=f"f{1 + i % 3}", pad_s=0.7)
        lines.append(f"r{i} {tmp_path / f'r{i}.wav'}\n")
    (tmp_path / "bad.wav").write_bytes(b"RIFF1234")
    lines.insert(3, f"bad {tmp_path / 'bad.wav'}\n")
    (tmp_path / "wav.scp").write_text("".join(lines))
    one = _cli(tmp_path, tmp_path / "one", vad_dir, "--window_s", "0")
    many = _cli(tmp_path, tmp_path / "many", vad_dir, "--num_workers", "3", "--window_s", "1000")
    assert one.returncode == many.returncode == 1, many.stderr[-2000:]
    for name in ("text", "token", "time_stamp", "text_with_punc"):
        a = (tmp_path / "one" / "1best_recog" / name).read_text(encoding="utf-8")
        assert a == (tmp_path / "many" / "1best_recog" / name).read_text(encoding="utf-8"), name
        assert [line.split(" ", 1)[0] for line in a.splitlines()] == [f"r{i}" for i in range(5)]
    for d in ("one", "many"):
        assert "bad" in (tmp_path / d / "errors.txt").read_text()
    for i in range(5):
        assert (tmp_path / "one" / "json" / f"r{i}.json").read_text() == (
            tmp_path / "many" / "json" / f"r{i}.json"
        ).read_text()


def test_generate_batches_across_inputs_like_one_by_one(tmp_path, vad_dir):
    waves = []
    for i in range(3):
        espeak_wav(tmp_path / f"{i}.wav", "然后我们一起吃午饭下午回家休息", voice=f"m{i + 1}", pad_s=0.5)
        waves.append(str(tmp_path / f"{i}.wav"))
    m = AutoModel(
        model=str(FIX / "bicif_paraformer_tiny"), vad_model=str(vad_dir), punc_model=str(FIX / "ct_transformer_tiny")
    )
    together = m.generate(waves, sentence_timestamp=True)
    alone = [m.generate(w, sentence_timestamp=True)[0] for w in waves]
    assert together == alone
    assert np.mean([len(r["timestamp"]) for r in together]) > 0


@pytest.mark.parametrize("cls", ["PositionwiseFeedForward", "PositionwiseFeedForwardDecoderSANM"])
def test_ffn_in_place_relu_same_values_and_gradients(cls):
    """Inference takes the ReLU in place; the values equal the out-of-place ReLU's, and training
    (gradients recorded) still gets the gradient of ``w_2(relu(w_1(x)))``."""
    from funasr_lite.models.paraformer import layers  # noqa: PLC0415

    torch.manual_seed(0)
    ffn = getattr(layers, cls)(8, 16).eval()
    x = torch.randn(3, 5, 8)
    hidden = ffn.w_1(x).relu()
    expected = ffn.w_2(ffn.norm(hidden) if hasattr(ffn, "norm") else hidden)
    with torch.no_grad():
        assert torch.equal(ffn(x), expected)
    x.requires_grad_()
    ffn(x).sum().backward()
    grad = x.grad.clone()
    x.grad = None
    expected_again = ffn.w_2(ffn.norm(ffn.w_1(x).relu()) if hasattr(ffn, "norm") else ffn.w_1(x).relu())
    expected_again.sum().backward()
    assert torch.equal(grad, x.grad)


def test_keep_freed_memory_sets_glibc_options_once_and_can_be_turned_off():
    """glibc: mallopt succeeds; FUNASR_LITE_MALLOC=system leaves the defaults (fresh processes,
    since the setting is per process)."""
    code = "from funasr_lite.memory import keep_freed_memory as k; print(k(), k())"
    env = {"PATH": "/usr/bin:/bin", "PYTHONPATH": str(REPO)}
    kept = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, env=env, check=True)
    off = subprocess.run(
        [sys.executable, "-c", code],
        capture_output=True,
        text=True,
        check=True,
        env={**env, "FUNASR_LITE_MALLOC": "system"},
    )
    assert kept.stdout.split() == ["True", "True"] and off.stdout.split() == ["False", "False"]
