"""CAM++ network, sv_chunk chunking and batched embeddings vs FunASR 1.4.16.

Fixtures: tests/fixtures/campplus (tools/make_fixtures/make_campplus.py), the FunASR-made
random-weight folder models/campplus_tiny and the official layout models/keys_campplus.json.
"""

from __future__ import annotations

import hashlib
import json
from pathlib import Path

import numpy as np
import pytest
import torch

from funasr_lite.diar.chunks import Chunk, chunk_vad_segments, slice_segment, sv_chunk
from funasr_lite.diar.embed import extract_embeddings
from funasr_lite.errors import ModelError
from funasr_lite.frontend.fbank import campplus_fbank
from funasr_lite.models.campplus import CAMPPlus, load_campplus

REPO = Path(__file__).resolve().parents[1]
FIX = REPO / "tests" / "fixtures"
TINY = FIX / "models" / "campplus_tiny"
REF = json.loads((FIX / "campplus" / "chunks.json").read_text())
NPZ = np.load(FIX / "campplus" / "embeddings.npz")
WAVE = (NPZ["waveform_int16"].astype(np.float32) / 32768.0).astype(np.float32)

COS_MIN = 0.99999
MAX_ABS = 1e-5  # embeddings of the tiny model are O(1); observed: bit-identical (0.0)


def _sha(a: np.ndarray) -> str:
    return hashlib.sha256(np.ascontiguousarray(a, dtype="<f4").tobytes()).hexdigest()


def _describe(chunks: list[Chunk]) -> list[dict]:
    return [
        {
            "start": repr(c.start),
            "end": repr(c.end),
            "n_samples": int(c.audio.shape[0]),
            "dtype": str(c.audio.dtype),
            "sha256": _sha(c.audio),
        }
        for c in chunks
    ]


def _flat(segments_ms: list) -> list[Chunk]:
    return [c for seg in chunk_vad_segments(segments_ms, WAVE) for c in seg]


@pytest.fixture(scope="module")
def tiny() -> CAMPPlus:
    return load_campplus(TINY)


def _assert_close(ours: np.ndarray, ref: np.ndarray) -> None:
    assert ours.shape == ref.shape and ours.dtype == np.float32
    cos = (ours * ref).sum(1) / (np.linalg.norm(ours, axis=1) * np.linalg.norm(ref, axis=1))
    assert cos.min() >= COS_MIN, cos
    assert np.abs(ours - ref).max() <= MAX_ABS


# ---------------------------------------------------------------------------------- network
def test_official_names_and_shapes_on_meta() -> None:
    ref = json.loads((FIX / "models" / "keys_campplus.json").read_text())
    with torch.device("meta"):
        model = CAMPPlus()
    sd = model.state_dict()
    assert list(sd) == list(ref)
    assert {k: list(v.shape) for k, v in sd.items()} == ref
    assert sum(p.numel() for p in model.parameters()) == 6_848_544


def test_strict_load_tiny(tiny: CAMPPlus) -> None:
    saved = torch.load(TINY / "campplus_cn_common.bin", weights_only=True)
    sd = tiny.state_dict()
    assert sd.keys() == saved.keys() and all(torch.equal(sd[k], saved[k]) for k in saved)
    assert not tiny.training and tiny.embedding_size == 16


def test_bad_folders_raise_model_error(tmp_path: Path) -> None:
    with pytest.raises(ModelError, match="CAM\\+\\+"):
        load_campplus(FIX / "models" / "fsmn_vad_tiny")
    with pytest.raises(ModelError):
        load_campplus(tmp_path)  # no config, no checkpoint
    bad = tmp_path / "bad"
    bad.mkdir()
    (bad / "config.yaml").write_text(
        (TINY / "config.yaml").read_text().replace("embedding_size: 16", "embedding_size: 8")
    )
    (bad / "campplus_cn_common.bin").write_bytes((TINY / "campplus_cn_common.bin").read_bytes())
    with pytest.raises(ModelError, match="wrong shape"):
        load_campplus(bad)


def test_lengths_make_padding_safe(tiny: CAMPPlus) -> None:
    g = torch.Generator().manual_seed(0)
    a, b = torch.randn(1, 148, 80, generator=g), torch.randn(1, 120, 80, generator=g)
    with torch.no_grad():
        ref_a, ref_b = tiny(a), tiny(b)
        padded = torch.cat([a, torch.nn.functional.pad(b, (0, 0, 0, 28))])
        out = tiny(padded, torch.tensor([148, 120]))
        funasr_like = tiny(padded)  # FunASR: no lengths, zero frames run through the network
    assert torch.equal(out[0], ref_a[0]) and torch.equal(out[1], ref_b[0])
    assert (funasr_like[1] - ref_b[0]).abs().max() > 1e-3


# ---------------------------------------------------------------------------------- chunks
@pytest.mark.parametrize("name", sorted(REF["cases"]))
def test_sv_chunk_cases_match_funasr(name: str) -> None:
    case = REF["cases"][name]
    assert _describe(_flat(case["segments_ms"])) == case["chunks"]


def test_sv_chunk_low_level_form() -> None:
    segs = REF["cases"]["multi"]["segments_ms"]
    chunks = sv_chunk([[s / 1000.0, e / 1000.0, slice_segment(WAVE, s, e)] for s, e in segs])
    assert _describe(chunks) == REF["cases"]["multi"]["chunks"]


def test_pipeline_chunks_match_funasr() -> None:
    pipe = REF["pipeline"]
    per_segment = chunk_vad_segments(pipe["vad_segments"], WAVE)
    assert _describe([c for seg in per_segment for c in seg]) == pipe["all_segments"]


# ---------------------------------------------------------------------------------- embeddings
def test_embeddings_match_funasr(tiny: CAMPPlus) -> None:
    chunks = _flat(REF["cases"]["multi"]["segments_ms"])
    assert len(chunks) == 5 and int(np.count_nonzero(chunks[0].audio[12800:])) == 0  # padded chunk
    _assert_close(extract_embeddings(tiny, chunks, batch_size=1), NPZ["multi_embeddings"])
    # FunASR with the 5 chunks in one batch (equal lengths, so no padding)
    _assert_close(extract_embeddings(tiny, chunks, batch_size=5), NPZ["multi_embeddings_batched"])


def test_pipeline_embeddings_match_funasr(tiny: CAMPPlus) -> None:
    chunks = _flat(REF["pipeline"]["vad_segments"])
    _assert_close(extract_embeddings(tiny, chunks), NPZ["pipeline_embeddings"])


def test_batched_equals_unbatched(tiny: CAMPPlus) -> None:
    chunks = _flat(REF["pipeline"]["vad_segments"])[:3] + [np.asarray(WAVE[:20000]), torch.from_numpy(WAVE[100:30000])]
    one = extract_embeddings(tiny, chunks, batch_size=1)
    np.testing.assert_allclose(extract_embeddings(tiny, chunks, batch_size=4), one, rtol=0, atol=1e-5)
    # the odd-length items equal a plain per-item forward of campplus_fbank features
    with torch.no_grad():
        for i in (-2, -1):
            wave = torch.as_tensor(np.asarray(chunks[i]))
            ref = tiny(campplus_fbank(wave)[None])[0].numpy()
            np.testing.assert_array_equal(one[i], ref)


def test_features_equal_campplus_fbank() -> None:
    from funasr_lite.diar.embed import chunk_features

    waves = [torch.from_numpy(WAVE[:24000]), torch.from_numpy(WAVE[5000:25000])]
    feats, counts = chunk_features(waves, torch.device("cpu"))
    assert counts.tolist() == [148, 123]
    for b, w in enumerate(waves):
        assert torch.equal(feats[b, : counts[b]], campplus_fbank(w))
