"""funasr_lite's frontend against golden fixtures written by FunASR 1.4.16 itself.

The fixtures come from ``tools/make_fixtures/make_frontend.py`` (run in ``tools/funasr_venv``):
``<case>.npz`` holds ``waveform`` (float32, 16 kHz, [-1, 1]), ``fbank`` (before LFR), ``lfr`` and
``feats`` (final ``WavFrontend`` output) plus a JSON ``config``; ``campplus_<case>.npz`` holds
``waveform`` and ``feat`` (CAM++'s ``extract_feature``).

Tolerance: FunASR computes fbank with ``torchaudio.compliance.kaldi.fbank`` and funasr_lite follows
it op for op, so on the machine that made the fixtures (an AVX-512 Xeon) every case is
bit-identical (max |diff| 0). On another instruction set FunASR's *own* output moves: torch, MKL
and oneDNN pick other FFT, GEMM and vector-log kernels. ``tools/make_fixtures/isa_spread.py``
recomputes the fixtures with FunASR itself under the ``avx2`` and ``default`` settings of
tools/run_isa_matrix.sh and measured at most 7.31e-4 in the log domain (quiet bins: float32
rounding is relative to the frame's energy) and 5.72e-6 in mel power relative to the frame's
loudest bin (docs/compatibility.md). The bounds below are those measurements with headroom
(1.4x log, 3.5x power); funasr_lite's output under the same settings equals FunASR's to the bit.
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
import torch

from funasr_lite.frontend.fbank import campplus_fbank
from funasr_lite.frontend.lfr import apply_lfr
from funasr_lite.frontend.wav_frontend import WavFrontend

FIXTURE_DIR = Path(__file__).parent / "fixtures" / "frontend"
ATOL = 1e-3  # log-mel domain; FunASR's own cross-ISA spread: 7.31e-4
POWER_RTOL = 2e-5  # mel power relative to the frame's loudest bin; FunASR's own spread: 5.72e-6


def _cases(prefix_campplus: bool) -> list[Path]:
    files = sorted(FIXTURE_DIR.glob("*.npz"))
    return [f for f in files if f.name.startswith("campplus_") == prefix_campplus]


ASR_CASES = _cases(False)
CAMPPLUS_CASES = _cases(True)


def _frontend(case: dict) -> WavFrontend:
    conf = json.loads(str(case["config"]))
    cmvn = conf.pop("cmvn_file", None)
    for key in ("frontend", "call"):  # fixture metadata, not frontend options
        conf.pop(key, None)
    return WavFrontend.from_config(conf, cmvn_file=None if cmvn is None else FIXTURE_DIR / cmvn)


def _close(actual: torch.Tensor, expected: np.ndarray, what: str) -> None:
    expected_t = torch.from_numpy(expected)
    assert actual.shape == expected_t.shape, f"{what}: shape {tuple(actual.shape)} != {expected.shape}"
    diff = float((actual - expected_t).abs().max()) if actual.numel() else 0.0
    assert diff <= ATOL, f"{what}: max |diff| {diff:.3g} > {ATOL:g}"


def _close_power(actual: torch.Tensor, expected: np.ndarray, what: str) -> None:
    """Log-mel frames compared as mel power, relative to each frame's loudest bin."""
    _close(actual, expected, what)
    a, e = actual.double(), torch.from_numpy(expected).double()
    if a.numel():
        rel = float(((a.exp() - e.exp()).abs() / e.exp().amax(dim=1, keepdim=True)).max())
        assert rel <= POWER_RTOL, f"{what}: mel power differs by {rel:.3g} of the frame peak > {POWER_RTOL:g}"


def test_fixtures_present() -> None:
    """The golden files must exist: a missing set is a failure, not a skip."""
    assert ASR_CASES and CAMPPLUS_CASES, (
        f"no frontend fixtures in {FIXTURE_DIR}; run tools/funasr_venv/bin/python tools/make_fixtures/make_frontend.py"
    )


@pytest.mark.parametrize("path", ASR_CASES, ids=lambda p: p.stem)
def test_wav_frontend_matches_funasr(path: Path) -> None:
    case = dict(np.load(path))
    frontend = _frontend(case)
    wave = torch.from_numpy(case["waveform"])[None]
    fb, n_fb = frontend.compute_fbank(wave)
    _close_power(fb[0, : int(n_fb[0])], case["fbank"], f"{path.stem} fbank")
    lfr = apply_lfr(torch.from_numpy(case["fbank"]), frontend.lfr_m, frontend.lfr_n)
    _close(lfr, case["lfr"], f"{path.stem} lfr")
    feats, n = frontend(wave, [wave.shape[1]])
    _close(feats[0, : int(n[0])], case["feats"], f"{path.stem} feats")


@pytest.mark.parametrize("path", CAMPPLUS_CASES, ids=lambda p: p.stem)
def test_campplus_fbank_matches_funasr(path: Path) -> None:
    case = dict(np.load(path))
    _close(campplus_fbank(torch.from_numpy(case["waveform"])), case["feat"], path.stem)


def test_batched_fixtures_equal_single() -> None:
    """All ASR fixtures sharing a config, run as one padded batch, give each item its batch-of-one
    output to the bit (on any CPU), and that output matches FunASR."""
    groups: dict[str, list[dict]] = {}
    for path in ASR_CASES:
        case = dict(np.load(path))
        groups.setdefault(str(case["config"]), []).append(case)
    if not groups:
        pytest.fail(f"no frontend fixtures in {FIXTURE_DIR}; run tools/make_fixtures/make_frontend.py")
    for cases in groups.values():
        frontend = _frontend(cases[0])
        waves = [torch.from_numpy(c["waveform"]) for c in cases]
        lengths = [len(w) for w in waves]
        batch = torch.nn.utils.rnn.pad_sequence(waves, batch_first=True)
        feats, n = frontend(batch, lengths)
        for b, case in enumerate(cases):
            single, n_single = frontend(waves[b][None], [lengths[b]])
            assert int(n[b]) == int(n_single[0])
            assert torch.equal(feats[b, : int(n[b])], single[0, : int(n[b])]), f"batched item {b} != single"
            _close(feats[b, : int(n[b])], case["feats"], f"batched item {b}")
            assert not feats[b, int(n[b]) :].any(), "padding frames must be zero"
