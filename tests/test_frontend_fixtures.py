"""funasr_lite's frontend against golden fixtures written by FunASR 1.4.16 itself.

The fixtures come from ``tools/make_fixtures/make_frontend.py`` (run in ``tools/funasr_venv``):
``<case>.npz`` holds ``waveform`` (float32, 16 kHz, [-1, 1]), ``fbank`` (before LFR), ``lfr`` and
``feats`` (final ``WavFrontend`` output) plus a JSON ``config``; ``campplus_<case>.npz`` holds
``waveform`` and ``feat`` (CAM++'s ``extract_feature``).

Tolerance: FunASR computes fbank with ``torchaudio.compliance.kaldi.fbank`` and funasr_lite follows
it op for op, so on the machine that made the fixtures every case is bit-identical (max |diff| 0).
The asserts allow ``atol=1e-4`` (log-mel values are O(10), a few float32 ulps) so a different
CPU/BLAS kernel does not fail the suite; feats get ``atol=1e-4, rtol=1e-5``.
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
ATOL = 1e-4
RTOL = 1e-5


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
    assert torch.allclose(actual, expected_t, atol=ATOL, rtol=RTOL), f"{what}: max |diff| {diff:.3g}"


def test_fixtures_present() -> None:
    """The golden files must exist: a missing set is a failure, not a skip."""
    assert ASR_CASES and CAMPPLUS_CASES, (
        f"no frontend fixtures in {FIXTURE_DIR}; run "
        "tools/funasr_venv/bin/python tools/make_fixtures/make_frontend.py"
    )


@pytest.mark.parametrize("path", ASR_CASES, ids=lambda p: p.stem)
def test_wav_frontend_matches_funasr(path: Path) -> None:
    case = dict(np.load(path))
    frontend = _frontend(case)
    wave = torch.from_numpy(case["waveform"])[None]
    fb, n_fb = frontend.compute_fbank(wave)
    _close(fb[0, : int(n_fb[0])], case["fbank"], f"{path.stem} fbank")
    lfr = apply_lfr(torch.from_numpy(case["fbank"]), frontend.lfr_m, frontend.lfr_n)
    _close(lfr, case["lfr"], f"{path.stem} lfr")
    feats, n = frontend(wave, [wave.shape[1]])
    _close(feats[0, : int(n[0])], case["feats"], f"{path.stem} feats")


@pytest.mark.parametrize("path", CAMPPLUS_CASES, ids=lambda p: p.stem)
def test_campplus_fbank_matches_funasr(path: Path) -> None:
    case = dict(np.load(path))
    _close(campplus_fbank(torch.from_numpy(case["waveform"])), case["feat"], path.stem)


def test_batched_fixtures_equal_single() -> None:
    """All ASR fixtures sharing a config, run as one padded batch, still match FunASR per item."""
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
            _close(feats[b, : int(n[b])], case["feats"], f"batched item {b}")
            assert not feats[b, int(n[b]) :].any(), "padding frames must be zero"
