"""Golden fixtures for speaker clustering, turn post-processing and sentence speaker labels.

Runs FunASR 1.4.16's own ``ClusterBackend`` (default ``merge_thr`` 0.78), ``postprocess`` and
``distribute_spk`` (``funasr/models/campplus/``) on synthetic chunk embeddings, called exactly as
``AutoModel.inference_with_vad`` does: ``cb_model(torch float32 (N, D), oracle_num=...)``,
``postprocess(all_segments, None, labels, emb_np)``, ``distribute_spk(sentences, turns)``.

Usage: tools/funasr_venv/bin/python tools/make_fixtures/make_cluster.py
Writes tests/fixtures/cluster/<case>.npz (see tests/fixtures/cluster/README.md).
"""

import os
import sys

import numpy as np
import torch

sys.path.insert(0, os.path.dirname(__file__))
from common import FIXTURES, save_npz
from funasr.models.campplus.cluster_backend import ClusterBackend
from funasr.models.campplus.utils import distribute_spk, postprocess, sv_chunk

OUT = os.path.join(FIXTURES, "cluster")
Q = 64.0  # embeddings are quantised to multiples of 1/64 (float32-exact) so the npz compresses

# name: (speakers, target chunks, dim, noise std, centre cosine of speakers 0/1 (None: random), seed)
# The oracle run uses the true speaker count unless ORACLE names another one.
ORACLE = {"k3_oracle7_n200": 7, "k5_hard_n250": 5}
CASES = {
    "tiny_n10": (2, 10, 32, 0.5, None, 1),
    "k2_n60": (2, 60, 32, 0.6, None, 2),
    "k3_n120": (3, 120, 32, 0.7, None, 3),
    "k4_n200": (4, 200, 32, 0.8, None, 4),
    "k5_n300": (5, 300, 24, 0.7, None, 5),
    "k6_n160_d64": (6, 160, 64, 0.6, None, 6),
    "k3_close_n150": (3, 150, 32, 0.35, 0.9, 7),  # speakers 0 and 1 merge (cos ≥ 0.78)
    "k4_noisy_n180": (4, 180, 32, 1.3, None, 8),
    "k3_oracle7_n200": (3, 200, 32, 0.9, None, 10),  # oracle 7 > 3 speakers: seed-dependent split
    "k5_hard_n250": (5, 250, 32, 2.2, None, 11),  # heavily overlapping speakers
    "k3_n2100_d16": (3, 2100, 16, 0.5, None, 9),  # N ≥ 2048: k-means (oracle) / UMAP+HDBSCAN
}


def centres(k, dim, close, rs):
    c = rs.randn(k, dim)
    c /= np.linalg.norm(c, axis=1, keepdims=True)
    if close is not None:
        o = c[1] - (c[1] @ c[0]) * c[0]
        o /= np.linalg.norm(o)
        c[1] = close * c[0] + np.sqrt(1 - close**2) * o
    return c


def timeline(k, n_target, rs):
    """VAD segments (ms) with a speaker per segment (sometimes changing mid-segment) and their
    1.5 s / 0.75 s chunks from FunASR's ``sv_chunk``; chunk speaker = speaker at its midpoint."""
    segs, chunks, spk_turns = [], [], []
    t = int(rs.randint(0, 2000))
    spk = int(rs.randint(k))
    while len(chunks) < n_target:
        dur = int(rs.choice([rs.randint(300, 1400), rs.randint(1500, 12000)], p=[0.25, 0.75]))
        st, ed = t, t + dur
        if rs.rand() < 0.7:
            spk = int((spk + rs.randint(1, k)) % k) if k > 1 else 0
        change = ed if rs.rand() > 0.2 or k == 1 else st + dur // 2
        spk_turns.append((st, change, spk))
        if change < ed:
            spk = int((spk + rs.randint(1, k)) % k)
            spk_turns.append((change, ed, spk))
        seg = [st / 1000.0, ed / 1000.0, np.zeros(int((ed - st) * 16), dtype=np.float32)]
        chunks.extend(sv_chunk([seg]))
        segs.append((st, ed))
        t = ed + int(rs.randint(100, 3000))
    chunks = chunks[:n_target]
    chunk_spk = []
    for c in chunks:
        mid = (c[0] + c[1]) / 2 * 1000
        chunk_spk.append(next((s for a, b, s in spk_turns if a <= mid < b), spk_turns[-1][2]))
    return segs, chunks, np.array(chunk_spk)


def sentences(segs, rs):
    """Synthetic sentences (ms) covering the VAD segments, plus a few outside any speech."""
    out = []
    for st, ed in segs:
        t = st
        while t < ed:
            e = min(ed, t + int(rs.randint(400, 6000)))
            out.append((t, e))
            t = e + int(rs.randint(0, 200))
    last = segs[-1][1]
    out.append((last + 500, last + 900))  # after the last turn: overlap 0 → spk 0
    return np.array(out, dtype=np.int64)


def run(emb, chunks, sents, oracle, seed):
    np.random.seed(seed)
    state = np.random.get_state()
    x = torch.from_numpy(emb)
    cb = ClusterBackend()
    labels = cb(x, oracle_num=oracle)
    # the same call split in its two parts, from the same RNG state (pre-merge labels)
    np.random.set_state(state)
    if emb.shape[0] < 20:
        pre = np.zeros(emb.shape[0], dtype=int)
    elif emb.shape[0] < 2048:
        pre = cb.spectral_cluster(x, oracle)
    elif oracle is not None:
        pre = cb.kmeans_cluster(x, oracle)
    else:
        pre = None  # UMAP is unseeded in FunASR: a second run need not agree
    segs = sorted([[c[0], c[1], c[2]] for c in chunks], key=lambda z: z[0])
    turns = postprocess(segs, None, np.array(labels), emb)
    sl = [{"start": int(s), "end": int(e), "text": "x"} for s, e in sents]
    distribute_spk(sl, turns)
    if pre is None:
        # unseeded UMAP numbers the clusters differently from run to run: store them renumbered by
        # first appearance (FunASR's own correct_labels, which postprocess applies anyway)
        from funasr.models.campplus.utils import correct_labels

        labels = correct_labels(labels)
    keys, pos, has_gauss, cached = state[1:]
    rec = {
        "labels": np.asarray(labels, dtype=np.int64),
        "turns_start": np.array([t[0] for t in turns], dtype=np.float64),
        "turns_end": np.array([t[1] for t in turns], dtype=np.float64),
        "turns_spk": np.array([int(t[2]) for t in turns], dtype=np.int64),
        "sent_spk": np.array([d["spk"] for d in sl], dtype=np.int64),
        "rng_seed": np.int64(seed),
        "rng_keys": np.asarray(keys, dtype=np.uint32),
        "rng_pos": np.int64(pos),
        "rng_has_gauss": np.int64(has_gauss),
        "rng_cached_gaussian": np.float64(cached),
    }
    if pre is not None:
        rec["labels_pre_merge"] = np.asarray(pre, dtype=np.int64)
    return rec


def main():
    os.makedirs(OUT, exist_ok=True)
    for name, (k, n, dim, noise, close, seed) in CASES.items():
        rs = np.random.RandomState(1000 + seed)
        c = centres(k, dim, close, rs)
        segs, chunks, true_spk = timeline(k, n, rs)
        emb = c[true_spk] + noise / np.sqrt(dim) * rs.randn(len(true_spk), dim)
        emb = (np.round(emb * 4 * Q) / Q).astype(np.float32)
        sents = sentences(segs, rs)
        arrays = {
            "emb": emb,
            "chunk_times": np.array([[ch[0], ch[1]] for ch in chunks], dtype=np.float64),
            "true_spk": true_spk.astype(np.int64),
            "sent_times": sents,
        }
        for tag, oracle in (("none", None), ("oracle", ORACLE.get(name, k))):
            rec = run(emb, chunks, sents, oracle, seed=seed * 10 + (oracle is not None))
            arrays.update({f"{tag}_{key}": v for key, v in rec.items()})
            print(
                f"{name:16s} {tag:6s} N={len(emb)} speakers={len(set(rec['labels'].tolist()))} "
                f"noise={int((rec['labels'] < 0).sum())} turns={len(rec['turns_spk'])}"
            )
        save_npz(os.path.join(OUT, f"{name}.npz"), **arrays)


if __name__ == "__main__":
    main()
