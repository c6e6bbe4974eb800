"""FunASR's resampler and models at other rates, against FunASR 1.4.16 (fixtures: tests/fixtures/resample,
made by tools/make_fixtures/make_resample.py).

* ``frontend/resample.py`` against ``torchaudio.transforms.Resample`` as FunASR's
  ``load_audio_text_image_video(path, fs=...)`` runs it: the same kernel (sha256 of its float32
  bytes) and the same output length; samples within ``TORCHAUDIO_ATOL``. Our sums are exact-product
  float64 sums in a fixed order, so our bits are the same on every CPU (checked with numpy's and
  torch's SIMD kernels capped to AVX2 and to none) and the measured gap holds everywhere.
* The real FSMN-VAD on 44.1 kHz and 48 kHz espeak-ng wav files through ``AutoModel.generate`` and
  ``bin/inference``: FunASR's segments exactly; ``resampler="soxr"`` / ``--resampler soxr`` gives the
  segments FunASR gives on the soxr-resampled array (funasr_lite's behaviour before).
* An 8 kHz FSMN-VAD folder (``frontend_conf.fs: 8000``, random weights) on 16 kHz and 8 kHz files:
  FunASR's segments exactly and its frame probabilities.

The speech files are regenerated with espeak-ng and sox (sha256-checked; the tests that need them
skip when the tools are missing or make other audio).
"""

from __future__ import annotations

import hashlib
import importlib.util
import json
import os
import shutil
import subprocess
import sys
from functools import cache
from pathlib import Path

import numpy as np
import pytest
import torch
import yaml

from funasr_lite import AutoModel
from funasr_lite.errors import ModelError
from funasr_lite.frontend import resample as rs
from funasr_lite.frontend.audio import load_audio
from funasr_lite.models.fsmn_vad import FsmnVAD, load_fsmn_vad

REPO = Path(__file__).resolve().parents[1]
FIX = REPO / "tests" / "fixtures" / "resample"
RECIPE = json.loads((FIX / "recipe.json").read_text(encoding="utf-8"))
VAD_REF = json.loads((FIX / "vad.json").read_text(encoding="utf-8"))
ASR_DIR = REPO / "tests" / "fixtures" / "models" / "paraformer_tiny"
VAD_8K_DIR = REPO / "tests" / "fixtures" / "models" / "fsmn_vad_8k_tiny"
PAIRS = [tuple(p) for p in RECIPE["rate_pairs"]]
MODES = VAD_REF["meta"]["modes"]
# max |ours - torchaudio| over every fixture sample: 5.96e-8 = 2**-24, one float32 ulp in [0.5, 1)
# (python -m pytest tests/test_resample.py -k torchaudio_output -s prints it per pair)
TORCHAUDIO_ATOL = 2.0**-24


def _make_resample():
    spec = importlib.util.spec_from_file_location(
        "make_resample", REPO / "tools" / "make_fixtures" / "make_resample.py"
    )
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    return mod


MR = _make_resample()


def full_kernel(k: rs.SincKernel) -> torch.Tensor:
    """Our compact kernel in torchaudio's layout ``(new, 1, 2 * width + orig)``."""
    full = torch.zeros(k.new, 2 * k.width + k.orig + 1)
    for j in range(k.new):
        off = int(k.offsets[j])
        full[j, off : off + k.weights.shape[1]] = torch.from_numpy(k.weights[j])
    assert not full[:, -1].any()
    return full[:, None, :-1].contiguous()


def _signal(src: int, dst: int, n: int) -> np.ndarray:
    return MR.test_signal(n, MR.signal_seed(src, dst, n))


# ------------------------------------------------------------------------ the resampler itself


@pytest.mark.parametrize("src, dst", PAIRS, ids=[f"{a}-{b}" for a, b in PAIRS])
def test_kernel_is_torchaudios(src: int, dst: int) -> None:
    ref = RECIPE["torchaudio_kernels"][f"{src}_{dst}"]
    full = full_kernel(rs.sinc_kernel(src, dst))
    assert rs.sinc_kernel(src, dst).width == ref["width"] and list(full.shape) == ref["shape"]
    assert hashlib.sha256((full + 0.0).numpy().tobytes()).hexdigest() == ref["sha256"]  # -0.0 as 0.0


@pytest.mark.parametrize("src, dst", PAIRS, ids=[f"{a}-{b}" for a, b in PAIRS])
def test_torchaudio_output(src: int, dst: int, tmp_path: Path) -> None:
    """FunASR's resampled samples, through the loader (a 16-bit WAV at ``src`` loaded at ``dst``)."""
    ref = np.load(FIX / "torchaudio.npz")
    worst = 0.0
    for n in RECIPE["short_lengths"] + [MR.signal_length(src)]:
        x = _signal(src, dst, n)
        path = tmp_path / f"{n}.wav"
        MR.write_wav(str(path), x, src)
        got = load_audio(path, sample_rate=dst).waveform
        want = ref[f"{src}_{dst}_{n}"]
        assert got.shape == want.shape == (rs.output_length(n, src, dst),)
        np.testing.assert_allclose(got, want, rtol=0, atol=TORCHAUDIO_ATOL, err_msg=f"{src}->{dst} n={n}")
        np.testing.assert_array_equal(got, rs.resample(x.astype(np.float32) / np.float32(32768), src, dst))
        worst = max(worst, float(np.abs(got.astype(np.float64) - want).max()))
    print(f"{src} -> {dst}: max |ours - torchaudio| = {worst:.3g}")


def test_one_sample_and_equal_rates() -> None:
    """FunASR crashes on a 1-sample file (``squeeze`` makes it 0-d); the formula gives ceil(new / orig)."""
    assert rs.resample(np.array([0.5], np.float32), 8000, 16000).shape == (2,)
    assert rs.resample(np.array([0.5], np.float32), 48000, 16000).shape == (1,)
    x = np.arange(5, dtype=np.float32)
    np.testing.assert_array_equal(rs.resample(x, 16000, 16000), x)


def test_each_output_is_a_float64_sum_in_tap_order() -> None:
    """The definition our bits follow: products of float32 values (exact in float64) summed tap by tap."""
    x = _signal(44100, 16000, 3000).astype(np.float32) / np.float32(32768)
    k = rs.sinc_kernel(44100, 16000)
    got = rs.resample(x, 44100, 16000)
    w = k.weights.astype(np.float64)
    xp = np.concatenate([np.zeros(k.width), x.astype(np.float64), np.zeros(k.orig + w.shape[1])])
    for i in (0, 1, 159, 160, 555, len(got) - 1):
        frame, j = divmod(i, k.new)
        acc = 0.0
        for s in range(w.shape[1]):
            acc += w[j, s] * xp[frame * k.orig + int(k.offsets[j]) + s]
        assert np.float32(acc) == got[i], i


def test_block_size_does_not_change_bits(monkeypatch: pytest.MonkeyPatch) -> None:
    x = _signal(48000, 16000, 48000).astype(np.float32) / np.float32(32768)
    for src in (48000, 44100, 12345):
        whole = rs.resample(x, src, 16000)
        monkeypatch.setattr(rs, "_BLOCK_SAMPLES", 7)
        np.testing.assert_array_equal(rs.resample(x, src, 16000), whole)
        monkeypatch.undo()


_DIGEST = """
import hashlib, sys
import numpy as np
sys.path.insert(0, {repo!r})
from funasr_lite.frontend import resample as rs
x = (np.random.RandomState(3).randn(30000) * 0.3).astype(np.float32)
h = hashlib.sha256()
for src, dst in {pairs!r}:
    h.update(rs.sinc_kernel(src, dst).weights.tobytes())
    h.update(rs.resample(x, src, dst).tobytes())
print(h.hexdigest())
"""


def _numpy_features(*names: str) -> list[str]:
    """Those of ``names`` that this numpy dispatches on and this CPU has (numpy 2.4 says X86_V4, older AVX512F)."""
    try:
        from numpy._core._multiarray_umath import __cpu_features__ as have
    except ImportError:  # numpy 1.x
        from numpy.core._multiarray_umath import __cpu_features__ as have
    return [n for n in names if have.get(n)]


def test_same_bits_under_other_instruction_sets() -> None:
    """Kernel and output bytes do not depend on numpy's or torch's SIMD kernels."""
    code = _DIGEST.format(repo=str(REPO), pairs=PAIRS)
    digests = set()
    no_avx512 = _numpy_features(
        "X86_V4", "AVX512F", "AVX512CD", "AVX512_SKX", "AVX512_CLX", "AVX512_CNL", "AVX512_ICL", "AVX512_SPR"
    )
    no_avx2 = no_avx512 + _numpy_features("X86_V3", "AVX2", "FMA3")
    for caps in (
        {},
        {"ATEN_CPU_CAPABILITY": "default", "NPY_DISABLE_CPU_FEATURES": " ".join(no_avx2)},
        {"ATEN_CPU_CAPABILITY": "avx2", "NPY_DISABLE_CPU_FEATURES": " ".join(no_avx512)},
    ):
        env = dict(os.environ, **caps)
        out = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True, check=True)
        digests.add(out.stdout.strip())
    assert len(digests) == 1, digests


def _resample_in_child() -> None:
    rs._cached_kernel.cache_clear()
    assert rs.sinc_kernel(44101, 16000).weights.shape == (16000, 36)  # 576,000 values
    assert load_audio(np.zeros(44100, np.float32), fs=44100).waveform.shape == (16000,)


def test_works_in_a_forked_worker() -> None:
    """A forked DataLoader worker must not start an OpenMP team after its parent used one (libgomp
    deadlocks there): a worker of bin/train hung building a 576,000-value kernel with whole-tensor ops."""
    import multiprocessing

    torch.set_num_threads(2)
    assert float(torch.ones(1 << 22).sum()) == 1 << 22  # the parent's OpenMP team exists now
    child = multiprocessing.get_context("fork").Process(target=_resample_in_child)
    child.start()
    child.join(120)
    if child.is_alive():
        child.kill()
        pytest.fail("resampling hung in a forked process")
    assert child.exitcode == 0


# ----------------------------------------------------------------- VAD on files at other rates


@pytest.fixture(scope="module")
def speech(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    """The recipe's espeak-ng speech as 16-bit WAV files at 44.1, 48, 16 and 8 kHz."""
    if shutil.which("espeak-ng") is None or shutil.which("sox") is None:
        pytest.skip("espeak-ng and sox are needed to regenerate the test audio")
    tmp = tmp_path_factory.mktemp("speech")
    paths = {}
    for name, rate in RECIPE["speech_rates"].items():
        paths[name] = tmp / f"{name}.wav"
        samples = MR.speech_wav(str(paths[name]), rate, RECIPE["speech"])
        if MR.sha256(samples) != RECIPE["speech_sha256"][name]:
            pytest.skip(f"regenerated {name} differs from the recipe's sha256 (other espeak-ng or sox build)")
    return paths


@cache
def _auto_model(vad_model: str, resampler: str = "funasr") -> AutoModel:
    return AutoModel(model=str(ASR_DIR), vad_model=vad_model, device="cpu", resampler=resampler)


def _generate_segments(m: AutoModel, source: object, call: dict, monkeypatch: pytest.MonkeyPatch) -> list:
    """``m.generate(input=source, **call)``, returning the segments its VAD computed inside."""
    seen: list = []
    inner = m.pipeline.vad.segments

    def spy(*a, **k):
        seen.append(inner(*a, **k))
        return seen[-1]

    monkeypatch.setattr(m.pipeline.vad, "segments", spy)
    m.generate(input=source, **call)
    monkeypatch.undo()
    assert len(seen) == 1
    return seen[0]


REAL_CASES = [(mode, clip) for mode in MODES for clip in ("speech_44k", "speech_48k")]


@pytest.mark.parametrize("mode, clip", REAL_CASES, ids=[f"{m}-{c}" for m, c in REAL_CASES])
def test_real_vad_on_44k_48k_files_equals_funasr(
    mode: str, clip: str, speech: dict, vad_dir: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    want = VAD_REF["real"][mode][clip]
    m = _auto_model(str(vad_dir))
    assert _generate_segments(m, str(speech[clip]), MODES[mode], monkeypatch) == want
    vad = load_fsmn_vad(vad_dir)
    assert vad.segments(load_audio(speech[clip]).waveform, **MODES[mode]) == want


@pytest.mark.parametrize("mode, clip", REAL_CASES, ids=[f"{m}-{c}" for m, c in REAL_CASES])
def test_soxr_resampler_gives_the_old_segments(
    mode: str, clip: str, speech: dict, vad_dir: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """``resampler="soxr"``: FunASR's segments on the soxr-resampled array (what funasr_lite gave before),
    which on these files start 10 ms later than with FunASR's own resampler."""
    old = VAD_REF["real"][mode][f"{clip}_soxr_array"]
    m = _auto_model(str(vad_dir), "soxr")
    assert _generate_segments(m, str(speech[clip]), MODES[mode], monkeypatch) == old
    new = VAD_REF["real"][mode][clip]
    assert old != new and len(old) == len(new)
    moved = [abs(a - b) for s, t in zip(old, new) for a, b in zip(s, t) if a != b]
    print(f"{mode} {clip}: soxr moves {len(moved)} of {2 * len(new)} boundaries, by {sorted(set(moved))} ms")


def test_inference_cli_resampler_option(
    speech: dict, vad_dir: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from funasr_lite.bin import inference

    scp = tmp_path / "wav.scp"
    scp.write_text("".join(f"{c} {speech[c]}\n" for c in ("speech_44k", "speech_48k")), encoding="utf-8")
    seen: list = []
    inner = FsmnVAD.segments

    def spy(self, *a, **k):
        seen.append(inner(self, *a, **k))
        return seen[-1]

    monkeypatch.setattr(FsmnVAD, "segments", spy)
    for extra, suffix in (([], ""), (["--resampler", "soxr"], "_soxr_array")):
        seen.clear()
        argv = [
            "--model",
            str(ASR_DIR),
            "--vad_model",
            str(vad_dir),
            "--wav_scp",
            str(scp),
            "--output_dir",
            str(tmp_path / f"out{suffix}"),
            "--output_format",
            "none",
            "--max_end_silence_time",
            "800",
            *extra,
        ]
        assert inference.main(argv) == 0
        assert seen == [VAD_REF["real"]["classic800"][c + suffix] for c in ("speech_44k", "speech_48k")]


# --------------------------------------------------------------------------- an 8 kHz VAD folder


CASES_8K = [(mode, clip) for mode in MODES for clip in ("speech_16k", "speech_8k")]


@pytest.mark.parametrize("mode, clip", CASES_8K, ids=[f"{m}-{c}" for m, c in CASES_8K])
def test_8k_vad_folder_equals_funasr(mode: str, clip: str, speech: dict, monkeypatch: pytest.MonkeyPatch) -> None:
    """FunASR reads the input at the VAD's ``frontend_conf.fs`` (8 kHz): the 16 kHz file is resampled
    to 8 kHz for the VAD (and stays 16 kHz for the ASR model), the 8 kHz file is used as it is."""
    m = _auto_model(str(VAD_8K_DIR))
    assert m.pipeline.audio_options()["also_at"] == (8000,)
    assert _generate_segments(m, str(speech[clip]), MODES[mode], monkeypatch) == VAD_REF["vad_8k"][mode][clip]


def test_8k_vad_frame_probabilities(speech: dict) -> None:
    """FunASR's silence posteriors: identical on the 8 kHz file; within 1e-9 on the resampled 16 kHz
    file (the resampler's float32 rounding); 1e-5 is the VAD tests' cross-CPU tolerance."""
    vad = load_fsmn_vad(VAD_8K_DIR)
    probs = np.load(FIX / "probs_8k.npz")
    for clip in ("speech_16k", "speech_8k"):
        got = vad.frame_scores(load_audio(speech[clip], sample_rate=8000).waveform).sil_probs[:, 0]
        np.testing.assert_allclose(got, probs[f"p_sil_{clip}"], rtol=0, atol=1e-5, err_msg=clip)
        print(f"{clip}: max |p_sil - FunASR's| = {np.abs(got - probs[f'p_sil_{clip}']).max():.3g}")


def test_8k_vad_on_a_16k_array(speech: dict, monkeypatch: pytest.MonkeyPatch) -> None:
    """An array is taken at ``fs`` (16 kHz): resampled to 8 kHz for the VAD, as FunASR's generate(input=array)."""
    wave = load_audio(speech["speech_16k"]).waveform
    m = _auto_model(str(VAD_8K_DIR))
    want = VAD_REF["vad_8k"]["classic800"]["speech_16k"]
    assert _generate_segments(m, wave, {"max_end_silence_time": 800}, monkeypatch) == want
    assert m.pipeline.segments(wave, max_end_silence_time=800) == want


def test_8k_folder_frames_and_rate_check(tmp_path: Path) -> None:
    vad = load_fsmn_vad(VAD_8K_DIR)
    assert (vad.sample_rate, vad.frame_len, vad.shift) == (8000, 200, 80)
    bad = tmp_path / "vad"
    shutil.copytree(VAD_8K_DIR, bad)
    conf = yaml.safe_load((bad / "config.yaml").read_text())
    conf["model_conf"]["sample_rate"] = 16000  # FunASR: "VAD score frames and waveform samples are not aligned"
    (bad / "config.yaml").write_text(yaml.safe_dump(conf))
    with pytest.raises(ModelError, match="model_conf.sample_rate 16000 differs from frontend_conf.fs 8000"):
        load_fsmn_vad(bad)
