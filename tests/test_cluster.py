"""Speaker clustering, turns and sentence/char speaker labels against FunASR 1.4.16 goldens
(tests/fixtures/cluster/, made by tools/make_fixtures/make_cluster.py) and hand-computed cases."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from threadpoolctl import threadpool_limits

from funasr_lite.diar import cluster as cl
from funasr_lite.diar.assign import char_speakers, distribute_spk, split_sentences_at_speaker_change, text_units
from funasr_lite.diar.cluster import cluster_embeddings, merge_by_cos, spectral_cluster
from funasr_lite.diar.postprocess import correct_labels, labels_to_turns
from funasr_lite.diar.rttm import rttm_text, write_rttm

FIX = Path(__file__).parent / "fixtures" / "cluster"
CASES = sorted(p.stem for p in FIX.glob("*.npz"))
SMALL = [c for c in CASES if int(np.load(FIX / f"{c}.npz")["emb"].shape[0]) < 2048]


@pytest.fixture(autouse=True)
def _one_blas_thread():
    """One BLAS thread: much faster on a loaded 2-core box; labels were checked identical with 2."""
    with threadpool_limits(1):
        yield


def load(case: str) -> dict[str, np.ndarray]:
    with np.load(FIX / f"{case}.npz") as z:
        return {k: z[k] for k in z.files}


def funasr_rng(z: dict, tag: str) -> np.random.RandomState:
    """A RandomState in the exact state numpy's global RNG had when FunASR clustered."""
    rs = np.random.RandomState()
    rs.set_state(
        (
            "MT19937",
            z[f"{tag}_rng_keys"],
            int(z[f"{tag}_rng_pos"]),
            int(z[f"{tag}_rng_has_gauss"]),
            float(z[f"{tag}_rng_cached_gaussian"]),
        )
    )
    return rs


def oracle_of(z: dict) -> int | None:
    return int(z["oracle_labels"].max()) + 1 if len(z["emb"]) >= 20 else None


def synth(k: int, n: int, dim: int = 32, noise: float = 0.6, seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    rs = np.random.RandomState(seed)
    c = rs.randn(k, dim)
    truth = rs.randint(0, k, n)
    return (c[truth] + noise * rs.randn(n, dim)).astype(np.float32), truth


# ------------------------------------------------------------------ FunASR parity
# Large cases without a count go through FunASR's unseeded UMAP, so their labels are not
# reproducible there; they are covered by the turns test and test_umap_*.
@pytest.mark.parametrize("case,tag", [(c, t) for c in CASES for t in ("none", "oracle") if c in SMALL or t == "oracle"])
def test_labels_identical_to_funasr(case: str, tag: str) -> None:
    z = load(case)
    num = None if tag == "none" else oracle_of(z)
    labels = cluster_embeddings(z["emb"], num, seed=funasr_rng(z, tag))
    np.testing.assert_array_equal(labels, z[f"{tag}_labels"])


@pytest.mark.parametrize("case", [c for c in SMALL if c != "tiny_n10"])
def test_spectral_and_merge_by_cos_separately(case: str) -> None:
    z = load(case)
    pre = spectral_cluster(z["emb"], None, random_state=funasr_rng(z, "none"))
    np.testing.assert_array_equal(pre, z["none_labels_pre_merge"])
    np.testing.assert_array_equal(merge_by_cos(pre.astype(np.int64), z["emb"]), z["none_labels"])


def test_merge_by_cos_merges_close_speakers() -> None:
    z = load("k3_close_n150")  # speakers 0 and 1 have centre cosine 0.9
    assert len(set(z["none_labels_pre_merge"])) == 3 and len(set(z["none_labels"])) == 2


def test_global_rng_like_funasr() -> None:
    """seed=None draws from numpy's global RNG exactly as FunASR's k_means call does."""
    z = load("k5_hard_n250")
    np.random.set_state(funasr_rng(z, "oracle").get_state())
    labels = cluster_embeddings(z["emb"], 5, seed=None)
    np.testing.assert_array_equal(labels, z["oracle_labels"])
    after = np.random.get_state()[1]
    assert not np.array_equal(after, z["oracle_rng_keys"]) or np.random.get_state()[2] != z["oracle_rng_pos"]
    # the default seed=0 is the state AutoModel leaves (set_all_random_seed(0))
    np.random.seed(0)
    np.testing.assert_array_equal(cluster_embeddings(z["emb"], 5, seed=None), cluster_embeddings(z["emb"], 5))
    # and the RNG matters: another seed gives other labels here
    assert not np.array_equal(cluster_embeddings(z["emb"], 5, seed=12345), z["oracle_labels"])


@pytest.mark.parametrize("case", CASES)
@pytest.mark.parametrize("tag", ["none", "oracle"])
def test_turns_and_sentence_speakers_identical_to_funasr(case: str, tag: str) -> None:
    z = load(case)
    turns = labels_to_turns(z["chunk_times"], z[f"{tag}_labels"])
    assert [t[0] for t in turns] == z[f"{tag}_turns_start"].tolist()
    assert [t[1] for t in turns] == z[f"{tag}_turns_end"].tolist()
    assert [t[2] for t in turns] == z[f"{tag}_turns_spk"].tolist()
    sents = distribute_spk([{"start": int(s), "end": int(e)} for s, e in z["sent_times"]], turns)
    assert [d["spk"] for d in sents] == z[f"{tag}_sent_spk"].tolist()


# ------------------------------------------------------------------ speaker-count control
def test_fewer_than_20_chunks_is_one_speaker() -> None:
    emb, _ = synth(3, 19)
    assert cluster_embeddings(emb).tolist() == [0] * 19
    assert cluster_embeddings(emb, num_speakers=3).tolist() == [0] * 19


@pytest.mark.parametrize("k", [2, 3, 7])
def test_num_speakers_exact(k: int) -> None:
    emb = load("k5_n300")["emb"]
    assert len(np.unique(cluster_embeddings(emb, num_speakers=k))) == k


def test_num_speakers_exact_large_n_kmeans() -> None:
    emb, _ = synth(4, 2100, dim=16, seed=3)
    labels = cluster_embeddings(emb, num_speakers=6)
    assert len(np.unique(labels)) == 6


def test_min_max_speakers_bound_eigengap_and_merge() -> None:
    close = load("k3_close_n150")["emb"]
    assert len(np.unique(cluster_embeddings(close))) == 2
    assert len(np.unique(cluster_embeddings(close, min_speakers=3))) == 3
    six = load("k6_n160_d64")["emb"]
    assert len(np.unique(cluster_embeddings(six))) == 6
    assert len(np.unique(cluster_embeddings(six, max_speakers=3))) <= 3
    assert len(np.unique(cluster_embeddings(six, min_speakers=4, max_speakers=4))) == 4


def test_bad_counts_rejected() -> None:
    emb, _ = synth(2, 40)
    with pytest.raises(ValueError):
        cluster_embeddings(emb, num_speakers=41)
    with pytest.raises(ValueError):
        cluster_embeddings(emb, min_speakers=3, max_speakers=2)


# ------------------------------------------------------------------ sparse eigensolver
@pytest.mark.parametrize("k,noise,n", [(4, 0.8, 1100), (6, 0.15, 700)])  # one component (ARPACK) / 6
def test_sparse_eigensolver_matches_dense(k: int, noise: float, n: int) -> None:
    emb, _ = synth(k, n, noise=noise, seed=5)
    for num in (None, k):
        dense = cluster_embeddings(emb, num, eigensolver="dense")
        sparse = cluster_embeddings(emb, num, eigensolver="sparse")
        np.testing.assert_array_equal(dense, sparse)
    if noise < 0.5:
        from scipy.sparse.csgraph import connected_components

        assert connected_components(cl._sparse_laplacian(emb), directed=False)[0] == k
    lam_dense = np.linalg.eigvalsh(cl._dense_laplacian(emb).astype(np.float64))[:16]
    lam_sparse, _ = cl._sparse_eig(cl._sparse_laplacian(emb), 16)
    np.testing.assert_allclose(lam_sparse, lam_dense, rtol=1e-4, atol=1e-3)


# ------------------------------------------------------------------ UMAP + HDBSCAN and noise
def test_noise_points_nearest_or_kept(monkeypatch: pytest.MonkeyPatch) -> None:
    emb, truth = synth(3, 2100, dim=16, noise=0.3, seed=7)
    fake = truth.copy()
    fake[::50] = -1  # HDBSCAN noise
    monkeypatch.setattr(cl, "umap_hdbscan", lambda x, rs=None: fake.copy())
    nearest = cluster_embeddings(emb)
    np.testing.assert_array_equal(nearest, truth)  # each noise point joins its own speaker
    kept = cluster_embeddings(emb, noise="keep")  # FunASR: −1 stays, merge_by_cos ignores it
    np.testing.assert_array_equal(kept, fake)
    assert correct_labels(kept).max() == 3  # ... and postprocess makes it a 4th speaker
    monkeypatch.setattr(cl, "umap_hdbscan", lambda x, rs=None: np.full(len(x), -1))
    assert cluster_embeddings(emb).tolist() == [0] * len(emb)


def test_umap_branch_count_bounds(monkeypatch: pytest.MonkeyPatch) -> None:
    emb, truth = synth(5, 2100, dim=16, noise=0.3, seed=8)
    monkeypatch.setattr(cl, "umap_hdbscan", lambda x, rs=None: truth.copy())
    assert len(np.unique(cluster_embeddings(emb))) == 5
    assert len(np.unique(cluster_embeddings(emb, max_speakers=2))) == 2
    monkeypatch.setattr(cl, "umap_hdbscan", lambda x, rs=None: np.zeros(len(x), dtype=np.int64))
    assert len(np.unique(cluster_embeddings(emb, min_speakers=3))) == 3


def test_umap_hdbscan_runs_seeded() -> None:
    z = load("k3_n120")
    raw = cl.umap_hdbscan(z["emb"], 0)  # the real UMAP + HDBSCAN (seeded)
    np.testing.assert_array_equal(cl.umap_hdbscan(z["emb"], 0), raw)  # seeded → reproducible
    labels = cluster_embeddings(z["emb"], method="umap_hdbscan", seed=0)
    assert labels.min() >= 0 and len(labels) == len(z["emb"])
    assert len(np.unique(labels)) <= len(np.unique(raw[raw >= 0])) or raw.max() < 0


# ------------------------------------------------------------------ postprocess (hand-computed)
def test_postprocess_midpoint_and_rounding() -> None:
    chunks = [(0.0, 1.5), (0.75, 2.25), (1.5, 3.0), (2.25, 3.75), (3.0, 4.5)]
    assert labels_to_turns(chunks, [5, 5, 2, 2, 2]) == [(0.0, 1.88, 0), (1.88, 4.5, 1)]


def test_postprocess_short_turn_takes_nearer_neighbour() -> None:
    chunks = [(0.0, 2.0), (2.05, 2.5), (2.6, 5.0)]
    # 0.45 s turn: previous turn is 0.05 s away, next 0.1 s → previous speaker; gaps are kept
    assert labels_to_turns(chunks, [7, 3, 7]) == [(0.0, 2.0, 0), (2.05, 2.5, 0), (2.6, 5.0, 0)]
    assert labels_to_turns([(0.123, 0.456)], [4]) == [(0.123, 0.456, 0)]  # one turn: not rounded


def test_rttm_exact(tmp_path: Path) -> None:
    turns = [(0.0, 1.5, 0), (1.5, 3.25, 1), (10.0, 12.345, 0)]
    expected = (
        "SPEAKER rec1 1 0.000 1.500 <NA> <NA> spk0 <NA> <NA>\n"
        "SPEAKER rec1 1 1.500 1.750 <NA> <NA> spk1 <NA> <NA>\n"
        "SPEAKER rec1 1 10.000 2.345 <NA> <NA> spk0 <NA> <NA>\n"
    )
    assert rttm_text("rec1", turns, speaker_prefix="spk") == expected
    write_rttm(tmp_path / "hyp.rttm", "rec1", turns, speaker_prefix="spk")
    assert (tmp_path / "hyp.rttm").read_text() == expected
    assert [p.name for p in tmp_path.iterdir()] == ["hyp.rttm"]
    with pytest.raises(ValueError, match="whitespace"):
        write_rttm(tmp_path / "x.rttm", "rec 1", turns)
    assert [p.name for p in tmp_path.iterdir()] == ["hyp.rttm"]


# ------------------------------------------------------------------ sentence / char labels
def test_distribute_spk_quirk_and_ties() -> None:
    turns = [(0.0, 1.0, 0), (1.0, 2.5, 1)]
    # overlap 1000 ms with spk 0 counts twice (2000) so spk 1's 1500 ms loses
    assert distribute_spk([{"start": 0, "end": 2500}], turns)[0]["spk"] == 0
    assert distribute_spk([{"start": 0, "end": 2000}], [(0.0, 1.0, 0), (1.0, 2.0, 1)])[0]["spk"] == 0
    later = [(0.0, 1.0, 1), (1.0, 1.2, 0), (1.2, 3.0, 1)]
    assert distribute_spk([{"start": 500, "end": 2000}], later)[0]["spk"] == 1
    assert distribute_spk([{"start": 5000, "end": 6000}], turns)[0]["spk"] == 0
    assert distribute_spk([{"start": 0, "end": 100}], [])[0]["spk"] == 0


def test_char_speakers() -> None:
    turns = [(0.0, 1.0, 0), (1.0, 2.0, 1), (3.0, 4.0, 2)]
    ts = [[0, 400], [900, 1300], [1400, 1500], [2100, 2200], [2800, 2900], None, [5000, 5100]]
    # [900,1300]: 100 ms with spk 0, 300 with spk 1; [2100,2200] nearest is spk 1 (100 ms away);
    # None copies the previous char
    assert char_speakers(ts, turns) == [0, 1, 1, 1, 2, 2, 2]
    assert char_speakers([[0, 10]], []) == [0]


def test_text_units() -> None:
    assert [u[2] for u in text_units(" hello 世界 ok。")] == ["hello", "世", "界", "ok"]
    assert text_units("你<unk>好？")[-1] == (6, 8, "好")


def test_split_sentences_at_speaker_change() -> None:
    turns = [(0.0, 1.0, 0), (1.0, 2.5, 1)]
    s = {"text": "你好世界。", "start": 0, "end": 2000, "timestamp": [[0, 400], [400, 800], [1200, 1600], [1600, 2000]]}
    out = split_sentences_at_speaker_change([s], turns)
    assert out == [
        {"text": "你好", "start": 0, "end": 800, "timestamp": [[0, 400], [400, 800]], "spk": 0},
        {"text": "世界。", "start": 1200, "end": 2000, "timestamp": [[1200, 1600], [1600, 2000]], "spk": 1},
    ]
    assert "spk" not in s  # input untouched
    mixed = {
        "text": " hello 世界 ok。",
        "raw_text": "hello世界ok",
        "start": 0,
        "end": 2000,
        "timestamp": [[0, 500], [500, 900], [1100, 1500], [1500, 2000]],
    }
    out = split_sentences_at_speaker_change([mixed], turns)
    assert [(p["text"], p["raw_text"], p["spk"]) for p in out] == [("hello 世", "hello世", 0), ("界 ok。", "界ok", 1)]
    one = {"text": "你好。", "start": 0, "end": 900, "timestamp": [[0, 400], [400, 900]]}
    assert split_sentences_at_speaker_change([one], turns) == [dict(one, spk=0)]
    bad = dict(s, text="你好世")  # 3 words, 4 timestamps
    assert split_sentences_at_speaker_change([bad], turns) == [dict(bad, spk=0)]
    # min_chars: a 1-char run joins its neighbour
    flip = {
        "text": "一二三四",
        "start": 0,
        "end": 2000,
        "timestamp": [[0, 400], [400, 900], [1100, 1400], [1500, 1900]],
    }
    assert len(split_sentences_at_speaker_change([flip], turns, min_chars=3)) == 1
