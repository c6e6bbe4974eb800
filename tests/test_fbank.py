"""Kaldi fbank (funasr_lite.frontend.fbank) against kaldi-native-fbank, plus batching/dither/device.

Tolerance vs kaldi-native-fbank (dither 0, float32): max |diff| of log-mel < 5e-3 and mean |diff|
< 2e-5 per case; the log-energy column max |diff| < 1e-4. Measured over a 6144-case option sweep:
worst log-mel 3.6e-3, typical mean 3e-6..9e-6, energy 1.9e-6. The worst diffs sit in mel bins whose
energy is ~1e-7 of the frame's peak, where float32 FFT round-off dominates; funasr_lite in float64
differs from knf by 2.5e-3 there too, i.e. that part is knf's own round-off. (funasr_lite is
bit-identical to torchaudio.compliance.kaldi.fbank, FunASR's reference; see test_frontend_fixtures.)
"""

from __future__ import annotations

import dataclasses

import numpy as np
import pytest
import torch

from funasr_lite.frontend.fbank import FbankOptions, campplus_fbank, fbank, fbank_single, num_frames

try:
    import kaldi_native_fbank as knf
except ImportError:  # the knf comparisons skip; everything else still runs
    knf = None
needs_knf = pytest.mark.skipif(knf is None, reason="needs kaldi-native-fbank (pip install -e .[test])")

LENGTHS = (400, 401, 16000, 48123)
LOG_MEL_MAX = 5e-3
LOG_MEL_MEAN = 2e-5
ENERGY_MAX = 1e-4


def make_wave(n: int, seed: int) -> np.ndarray:
    """Seeded noise plus two sines, float32 in [-1, 1]."""
    rng = np.random.RandomState(seed)
    t = np.arange(n) / 16000.0
    x = 0.05 * rng.randn(n) + 0.3 * np.sin(2 * np.pi * 440 * t) + 0.1 * np.sin(2 * np.pi * 3001.7 * t)
    return x.astype(np.float32)


def knf_fbank(wave: np.ndarray, o: FbankOptions) -> np.ndarray:
    """kaldi-native-fbank with the same options; whole waveform, then input_finished."""
    k = knf.FbankOptions()
    f = k.frame_opts
    f.samp_freq = o.samp_freq
    f.frame_length_ms = o.frame_length_ms
    f.frame_shift_ms = o.frame_shift_ms
    f.dither = 0.0
    f.preemph_coeff = o.preemph_coeff
    f.remove_dc_offset = o.remove_dc_offset
    f.window_type = o.window_type
    f.round_to_power_of_two = o.round_to_power_of_two
    f.blackman_coeff = o.blackman_coeff
    f.snip_edges = o.snip_edges
    k.mel_opts.num_bins = o.num_mel_bins
    k.mel_opts.low_freq = o.low_freq
    k.mel_opts.high_freq = o.high_freq
    k.energy_floor = o.energy_floor
    k.use_energy = o.use_energy
    k.raw_energy = o.raw_energy
    k.use_log_fbank = o.use_log_fbank
    k.use_power = o.use_power
    online = knf.OnlineFbank(k)
    online.accept_waveform(o.samp_freq, wave.tolist())
    online.input_finished()
    n = online.num_frames_ready
    if n == 0:
        return np.zeros((0, o.feature_dim), np.float32)
    return np.stack([np.asarray(online.get_frame(i), dtype=np.float32) for i in range(n)])


OPTION_SETS = {
    "funasr_asr": dict(window_type="hamming", num_mel_bins=80, energy_floor=0.0),
    "campplus": dict(num_mel_bins=80),
    "povey_40": dict(num_mel_bins=40),
    "hanning_no_snip": dict(window_type="hanning", snip_edges=False, num_mel_bins=80),
    "rect_no_preemph": dict(window_type="rectangular", preemph_coeff=0.0, num_mel_bins=40),
    "hamming_no_dc": dict(window_type="hamming", remove_dc_offset=False, num_mel_bins=80),
    "no_pow2_fft": dict(window_type="hamming", round_to_power_of_two=False, num_mel_bins=80),
    "band_limited": dict(window_type="povey", low_freq=100.0, high_freq=-400.0, num_mel_bins=40),
    "band_abs_high": dict(window_type="hamming", low_freq=0.0, high_freq=7000.0, num_mel_bins=80),
    "energy_floor": dict(window_type="povey", energy_floor=1.0, num_mel_bins=80),
    "no_snip_no_preemph": dict(window_type="hamming", snip_edges=False, preemph_coeff=0.0, num_mel_bins=40),
    "windowed_energy": dict(window_type="hamming", raw_energy=False, energy_floor=0.5, num_mel_bins=40),
}


@needs_knf
@pytest.mark.parametrize("scale", [1.0, 32768.0], ids=["unit", "x32768"])
@pytest.mark.parametrize("name", list(OPTION_SETS))
def test_matches_kaldi_native_fbank(name: str, scale: float) -> None:
    opts = FbankOptions(use_energy=True, **OPTION_SETS[name])
    for n in LENGTHS:
        wave = make_wave(n, seed=n) * np.float32(scale)
        ref = knf_fbank(wave, opts)
        ours = fbank_single(torch.from_numpy(wave), opts).numpy()
        assert ours.shape == ref.shape, (n, ours.shape, ref.shape)
        mel_diff = np.abs(ours[:, 1:] - ref[:, 1:])
        assert mel_diff.max() < LOG_MEL_MAX, (n, float(mel_diff.max()))
        assert mel_diff.mean() < LOG_MEL_MEAN, (n, float(mel_diff.mean()))
        assert np.abs(ours[:, 0] - ref[:, 0]).max() < ENERGY_MAX, n


@needs_knf
@pytest.mark.parametrize("n", [1, 50, 100, 250, 399])
def test_short_audio_reflection_matches_knf(n: int) -> None:
    """snip_edges=False on audio shorter than a frame: Kaldi's repeated reflection and frame count."""
    opts = FbankOptions(window_type="hamming", snip_edges=False, num_mel_bins=40)
    wave = make_wave(n, seed=n) * 32768
    ref = knf_fbank(wave, opts)
    ours = fbank_single(torch.from_numpy(wave), opts).numpy()
    assert ours.shape == ref.shape
    if ref.size:
        assert np.abs(ours - ref).max() < LOG_MEL_MAX


def test_frame_counts() -> None:
    snip, nosnip = FbankOptions(), FbankOptions(snip_edges=False)
    n = torch.tensor([0, 1, 399, 400, 401, 559, 560, 16000, 48123])
    assert num_frames(n, snip).tolist() == [0, 0, 0, 1, 1, 1, 2, 98, 299]
    assert num_frames(n, nosnip).tolist() == [(int(k) + 80) // 160 for k in n]
    feats, counts = fbank(torch.zeros(2, 300), torch.tensor([300, 10]), snip)
    assert feats.shape == (2, 0, 23) and counts.tolist() == [0, 0]


@pytest.mark.parametrize("snip_edges", [True, False])
def test_batched_equals_single_exactly(snip_edges: bool) -> None:
    opts = FbankOptions(window_type="hamming", num_mel_bins=80, energy_floor=0.0, snip_edges=snip_edges)
    lengths = [16000, 401, 48123, 100, 400, 12345]
    waves = [torch.from_numpy(make_wave(n, seed=i) * 32768) for i, n in enumerate(lengths)]
    batch = torch.full((len(waves), max(lengths)), 123.0)  # non-zero padding must not leak
    for b, w in enumerate(waves):
        batch[b, : len(w)] = w
    feats, counts = fbank(batch, torch.tensor(lengths), opts)
    for b, w in enumerate(waves):
        single = fbank_single(w, opts)
        assert int(counts[b]) == single.shape[0]
        assert torch.equal(feats[b, : single.shape[0]], single)
        assert not feats[b, single.shape[0] :].any()


def test_dither_is_small_and_reproducible() -> None:
    wave = torch.from_numpy(make_wave(16000, seed=3) * 32768)
    base = FbankOptions(window_type="hamming", num_mel_bins=80, energy_floor=0.0)
    dithered = dataclasses.replace(base, dither=1.0)
    clean = fbank_single(wave, base)
    a = fbank_single(wave, dithered, torch.Generator().manual_seed(7))
    b = fbank_single(wave, dithered, torch.Generator().manual_seed(7))
    c = fbank_single(wave, dithered, torch.Generator().manual_seed(8))
    assert torch.equal(a, b)
    assert not torch.equal(a, c)
    diff = (a - clean).abs()
    assert 0 < float(diff.max()) < 0.05 and float(diff.mean()) < 1e-3


def test_dither_batch_consumes_rng_like_a_per_item_loop() -> None:
    """Noise is drawn per item in batch order, so a batch equals sequential single calls."""
    opts = FbankOptions(window_type="hamming", num_mel_bins=80, energy_floor=0.0, dither=1.0)
    lengths = [8000, 16000, 4000]
    waves = [torch.from_numpy(make_wave(n, seed=n) * 32768) for n in lengths]
    batch = torch.nn.utils.rnn.pad_sequence(waves, batch_first=True)
    feats, counts = fbank(batch, torch.tensor(lengths), opts, torch.Generator().manual_seed(1))
    gen = torch.Generator().manual_seed(1)
    for b, w in enumerate(waves):
        assert torch.equal(feats[b, : int(counts[b])], fbank_single(w, opts, gen))


def test_dtype_float64_and_int_input() -> None:
    wave = make_wave(4000, seed=1) * 32768
    opts = FbankOptions(num_mel_bins=40)
    f32 = fbank_single(torch.from_numpy(wave), opts)
    f64 = fbank_single(torch.from_numpy(wave).double(), opts)
    assert f64.dtype == torch.float64 and f32.dtype == torch.float32
    assert (f64 - f32.double()).abs().max() < 1e-3
    ints = fbank_single(torch.from_numpy(wave.astype(np.int16)), opts)
    assert ints.dtype == torch.float32 and ints.shape == f32.shape


def test_campplus_fbank_is_mean_normalised() -> None:
    feat = campplus_fbank(torch.from_numpy(make_wave(24000, seed=2)))
    assert feat.shape == (148, 80)
    assert float(feat.mean(0).abs().max()) < 1e-4


@pytest.mark.parametrize(
    "bad",
    [
        dict(dither=-1.0),
        dict(window_type="hann"),
        dict(low_freq=4000.0, high_freq=3000.0),
        dict(high_freq=9000.0),
        dict(low_freq=-1.0),
        dict(preemph_coeff=1.5),
        dict(num_mel_bins=3),
        dict(frame_length_ms=0.05),
        dict(frame_shift_ms=0.0),
        dict(samp_freq=0.0),
        dict(energy_floor=-1.0),
        dict(round_to_power_of_two=False, frame_length_ms=25.0625),  # 401-point FFT
    ],
)
def test_bad_options_raise(bad: dict) -> None:
    with pytest.raises(ValueError):
        FbankOptions(**bad)


def test_bad_inputs_raise() -> None:
    with pytest.raises(ValueError):
        fbank(torch.zeros(16000))  # 1-D: use fbank_single
    with pytest.raises(ValueError):
        fbank(torch.zeros(2, 100), torch.tensor([101, 5]))


@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs CUDA")
def test_cuda_matches_cpu() -> None:
    opts = FbankOptions(window_type="hamming", num_mel_bins=80, energy_floor=0.0)
    lengths = [48123, 16000, 401]
    waves = [torch.from_numpy(make_wave(n, seed=n) * 32768) for n in lengths]
    batch = torch.nn.utils.rnn.pad_sequence(waves, batch_first=True)
    cpu, cpu_counts = fbank(batch, torch.tensor(lengths), opts)
    gpu, gpu_counts = fbank(batch.cuda(), torch.tensor(lengths).cuda(), opts)
    assert gpu.device.type == "cuda" and gpu.dtype == torch.float32
    assert torch.equal(cpu_counts, gpu_counts.cpu())
    diff = (gpu.cpu() - cpu).abs()
    assert float(diff.max()) < LOG_MEL_MAX and float(diff.mean()) < LOG_MEL_MEAN
