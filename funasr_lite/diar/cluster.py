"""Speaker clustering of chunk embeddings: FunASR 1.4.16's ``ClusterBackend`` (default config).

FunASR (``funasr/models/campplus/cluster_backend.py``), with N chunks:

- N < 20: every chunk is speaker 0 (also when a speaker count is given);
- N < 2048: ``SpectralCluster`` — cosine similarity, p-pruning (``pval`` 0.022, or 6/N when
  N·0.022 < 6), symmetrise, zero diagonal, unnormalised Laplacian, ``scipy.linalg.eigh``,
  eigengap over ``λ[min-1 : max+1]`` (or the oracle count), ``sklearn.cluster.k_means`` on the
  first k eigenvectors;
- N ≥ 2048 with an oracle count: ``k_means`` on L2-normalised embeddings (``random_state=0,
  n_init=10``);
- N ≥ 2048 without: UMAP (umap-learn, 20 neighbours, ``min_dist`` 0, min(60, N−2) components,
  cosine) + scikit-learn ``HDBSCAN`` (min_samples 10, min_cluster_size 10, allow_single_cluster);
- without an oracle count: ``merge_by_cos`` (merge the two closest centroids while cosine ≥ 0.78).

Everything is computed in float32 as in FunASR (it gets the CAM++ output as a float32 tensor).

RNG: FunASR calls ``k_means`` without ``random_state``, i.e. it draws from numpy's *global* RNG.
Here ``seed`` picks the generator: an ``int`` → ``np.random.RandomState(seed)`` (default 0, which
is the state FunASR's global RNG is in right after ``AutoModel(...)`` — ``set_all_random_seed(0)``
— so the first file of a FunASR session gets the same labels); a ``RandomState`` → used (and
advanced) as is; ``None`` → the global RNG, exactly FunASR's behaviour.

Differences (documented in ``docs/compatibility.md``): noise points of HDBSCAN (label −1) are by
default given the nearest cluster (``noise="nearest"``; FunASR keeps −1, which later becomes a
speaker of its own); ``min_speakers``/``max_speakers`` also bound the merge and the HDBSCAN
count; large-N spectral clustering (forced, or ``method="spectral"``) uses a sparse eigensolver.
"""

from __future__ import annotations

import warnings
from typing import Literal

import numpy as np
import scipy.linalg
import scipy.sparse
import scipy.sparse.linalg
import torch

Method = Literal["auto", "spectral", "umap_hdbscan", "kmeans"]

MIN_CHUNKS = 20  # below this FunASR returns one speaker
LARGE_N = 2048  # from here FunASR switches to UMAP+HDBSCAN / k-means
PVAL = 0.022


# ------------------------------------------------------------------ helpers
def _random_state(seed: int | np.random.RandomState | None) -> np.random.RandomState | None:
    """``seed`` as sklearn's ``random_state``: None keeps numpy's global RNG (FunASR)."""
    if seed is None or isinstance(seed, np.random.RandomState):
        return seed
    return np.random.RandomState(int(seed))


def _fixed_seed(seed: int | np.random.RandomState | None) -> int:
    """Seed of the large-N k-means: FunASR fixes ``random_state=0`` there (an int seed overrides)."""
    return int(seed) if isinstance(seed, (int, np.integer)) else 0


def _normalize_rows(x: np.ndarray) -> np.ndarray:
    """L2-normalise rows as ``sklearn.preprocessing.normalize`` does."""
    from sklearn.preprocessing import normalize

    return normalize(x, copy=True)


def _effective_pval(n: int, pval: float = PVAL) -> float:
    """FunASR's p-pruning fraction: 6/N when N·pval < 6."""
    return 6.0 / n if n * pval < 6 else pval


def _kmeans(x: np.ndarray, k: int, random_state, n_init="auto") -> np.ndarray:
    """``sklearn.cluster.k_means`` labels (same call as FunASR)."""
    from sklearn.cluster import k_means

    _, labels, _ = k_means(x, k, random_state=random_state, n_init=n_init)
    return labels


# ------------------------------------------------------------------ spectral: dense (exact)
def _dense_laplacian(x: np.ndarray) -> np.ndarray:
    """Pruned, symmetrised, zero-diagonal affinity → unnormalised Laplacian (FunASR, in place)."""
    from sklearn.metrics.pairwise import cosine_similarity

    a = cosine_similarity(x, x)
    n = a.shape[0]
    n_elems = int((1 - _effective_pval(n)) * n)
    low = np.argsort(a, axis=1)[:, :n_elems]
    np.put_along_axis(a, low, 0, axis=1)
    a = 0.5 * (a + a.T)
    a[np.diag_indices(n)] = 0
    return np.diag(np.sum(np.abs(a), axis=1)) - a


def _dense_eig(lap: np.ndarray, n_vec: int) -> tuple[np.ndarray, np.ndarray]:
    """All eigenvalues (ascending) and the first ``n_vec`` eigenvectors, via ``scipy.linalg.eigh``."""
    lambdas, vecs = scipy.linalg.eigh(lap)
    return lambdas, vecs[:, :n_vec]


# ------------------------------------------------------------------ spectral: sparse (large N)
def _sparse_laplacian(x: np.ndarray, block: int = 512) -> scipy.sparse.csr_matrix:
    """The same pruned Laplacian built block-wise as a sparse matrix (never N×N dense).

    Keeps the ``N - int((1-pval)·N)`` largest similarities per row (``argpartition``; exact
    ties at the cut may be resolved differently from FunASR's ``argsort``)."""
    xn = _normalize_rows(x).astype(np.float32)
    n = xn.shape[0]
    keep = n - int((1 - _effective_pval(n)) * n)
    rows, cols, vals = [], [], []
    for b0 in range(0, n, block):
        sim = xn[b0 : b0 + block] @ xn.T
        idx = np.argpartition(sim, n - keep, axis=1)[:, n - keep :]
        rows.append(np.repeat(np.arange(b0, b0 + sim.shape[0]), keep))
        cols.append(idx.ravel())
        vals.append(np.take_along_axis(sim, idx, axis=1).ravel())
    a = scipy.sparse.csr_matrix(
        (np.concatenate(vals).astype(np.float64), (np.concatenate(rows), np.concatenate(cols))), shape=(n, n)
    )
    a = 0.5 * (a + a.T)
    a.setdiag(0)
    a.eliminate_zeros()
    deg = np.asarray(abs(a).sum(axis=1)).ravel()
    return (scipy.sparse.diags(deg) - a).tocsr()


def _eig_connected(lap: scipy.sparse.csr_matrix, k: int, seed: int) -> tuple[np.ndarray, np.ndarray]:
    """``k`` smallest eigenpairs of the Laplacian of one connected component.

    Small blocks: dense ``eigh``. Large ones: ARPACK ``eigsh`` on ``c·I − L`` (largest
    algebraic; ``c = 2·max(deg)`` bounds the spectrum), so the singular L is never factorised."""
    m = lap.shape[0]
    if m <= 1024 or k >= m - 1:
        lam, vecs = scipy.linalg.eigh(lap.toarray())
        return lam[:k], vecs[:, :k]
    c = 2.0 * lap.diagonal().max() + 1e-6
    shifted = scipy.sparse.identity(m, format="csr") * c - lap
    v0 = np.random.RandomState(seed).uniform(-1, 1, m)
    mu, vecs = scipy.sparse.linalg.eigsh(shifted, k=k, which="LA", v0=v0, tol=1e-8, ncv=max(2 * k + 1, 40))
    order = np.argsort(-mu)
    return c - mu[order], vecs[:, order]


def _sparse_eig(lap: scipy.sparse.csr_matrix, n_eig: int, seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    """The ``n_eig`` smallest eigenpairs (ascending, float32) of a sparse Laplacian.

    The graph is split into connected components first: the Laplacian is block-diagonal, each
    component contributes its own eigenpairs, and a k-fold zero eigenvalue (k disconnected
    speakers) — which a single-vector Krylov method cannot resolve — becomes k simple ones."""
    from scipy.sparse.csgraph import connected_components

    n_comp, comp = connected_components(lap, directed=False)
    parts = []
    for c in range(n_comp):
        idx = np.flatnonzero(comp == c)
        sub = lap[idx][:, idx].tocsr()
        lam, vecs = _eig_connected(sub, min(n_eig, len(idx)), seed)
        parts.append((idx, lam, vecs))
    cand = sorted((float(lam[j]), c, j) for c, (_, lam, _) in enumerate(parts) for j in range(len(lam)))
    cand = cand[:n_eig]
    out = np.zeros((lap.shape[0], len(cand)), dtype=np.float64)
    for col, (_, c, j) in enumerate(cand):
        idx, _, vecs = parts[c]
        out[idx, col] = vecs[:, j]
    return np.array([v for v, _, _ in cand], dtype=np.float32), out.astype(np.float32)


# ------------------------------------------------------------------ spectral clustering
def eigengap_count(lambdas: np.ndarray, min_speakers: int = 1, max_speakers: int = 15) -> int:
    """FunASR's ``getEigenGaps``: ``argmax(λ[i+1]-λ[i])`` over ``λ[min-1 : max+1]``, plus ``min``."""
    window = lambdas[min_speakers - 1 : max_speakers + 1]
    gaps = [float(window[i + 1]) - float(window[i]) for i in range(len(window) - 1)]
    if not gaps:
        return min_speakers
    return int(np.argmax(gaps)) + min_speakers


def spectral_cluster(
    x: np.ndarray,
    num_speakers: int | None = None,
    min_speakers: int = 1,
    max_speakers: int = 15,
    random_state=None,
    eigensolver: Literal["auto", "dense", "sparse"] = "auto",
) -> np.ndarray:
    """FunASR's ``SpectralCluster`` (dense, bit-exact path) or its sparse large-N variant."""
    n = x.shape[0]
    n_vec = num_speakers if num_speakers is not None else max_speakers + 1
    n_vec = min(n_vec, n - 1)
    sparse = eigensolver == "sparse" or (eigensolver == "auto" and n >= LARGE_N)
    if sparse:
        seed = random_state if isinstance(random_state, int) else 0
        lambdas, vecs = _sparse_eig(_sparse_laplacian(x), max(n_vec, 1), seed)
    else:
        lambdas, vecs = _dense_eig(_dense_laplacian(x), n)
    k = num_speakers if num_speakers is not None else eigengap_count(lambdas, min_speakers, max_speakers)
    return _kmeans(vecs[:, :k], k, random_state)


# ------------------------------------------------------------------ UMAP + HDBSCAN
def umap_hdbscan(x: np.ndarray, random_state=None) -> np.ndarray:
    """FunASR's ``UmapHdbscan`` (labels may contain −1 = noise). A seed makes UMAP single-threaded."""
    import umap.umap_ as umap
    from sklearn.cluster import HDBSCAN

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        reduced = umap.UMAP(
            n_neighbors=20,
            min_dist=0.0,
            n_components=min(60, x.shape[0] - 2),
            metric="cosine",
            random_state=random_state,
        ).fit_transform(x)
    return HDBSCAN(min_samples=10, min_cluster_size=10, allow_single_cluster=True, copy=False).fit_predict(reduced)


def assign_noise(labels: np.ndarray, emb: np.ndarray) -> np.ndarray:
    """Give each noise point (−1) the cluster with the most cosine-similar centroid; all noise → 0."""
    labels = labels.copy()
    noise = labels < 0
    if not noise.any():
        return labels
    if noise.all():
        return np.zeros_like(labels)
    centers = _centroids(emb, labels)
    centers /= np.linalg.norm(centers, axis=1, keepdims=True)
    xn = emb[noise] / np.linalg.norm(emb[noise], axis=1, keepdims=True)
    labels[noise] = np.argmax(xn @ centers.T, axis=1)
    return labels


# ------------------------------------------------------------------ merging
def _centroids(emb: np.ndarray, labels: np.ndarray) -> np.ndarray:
    """Mean embedding of speakers ``0..max`` (torch ``mean`` as FunASR, which gets a tensor)."""
    t = torch.from_numpy(np.ascontiguousarray(emb))
    return np.stack([t[torch.from_numpy(labels == i)].mean(0).numpy() for i in range(int(labels.max()) + 1)])


def _merge_once(labels: np.ndarray, emb: np.ndarray, thr: float | None) -> bool:
    """Merge the two most similar speakers if their centroid cosine ≥ ``thr`` (None: always)."""
    centers = _centroids(emb, labels)
    norm = centers / np.linalg.norm(centers, axis=1, keepdims=True)
    affinity = np.triu(np.matmul(norm, norm.T), 1)
    s0, s1 = np.unravel_index(np.argmax(affinity), affinity.shape)
    if thr is not None and affinity[s0, s1] < thr:
        return False
    if thr is None and s0 == s1:  # all cosines ≤ 0: take the best upper-triangle pair
        iu = np.triu_indices(len(centers), 1)
        best = int(np.argmax(np.matmul(norm, norm.T)[iu]))
        s0, s1 = iu[0][best], iu[1][best]
    gone, above = labels == s1, labels > s1
    labels[gone] = s0
    labels[above] -= 1
    return True


def merge_by_cos(
    labels: np.ndarray, emb: np.ndarray, cos_thr: float = 0.78, min_speakers: int = 1, max_speakers: int | None = None
) -> np.ndarray:
    """FunASR's ``merge_by_cos`` (in place on a copy); −1 labels are ignored and kept.

    With the defaults (min 1, no max) it is exactly FunASR's loop. ``min_speakers`` stops merging
    at that count; ``max_speakers`` keeps merging the closest pair (ignoring the threshold)
    until the count is ≤ max."""
    assert 0 < cos_thr <= 1
    labels = labels.copy()
    while labels.max() + 1 > max(1, min_speakers):
        if not _merge_once(labels, emb, cos_thr):
            break
    while max_speakers is not None and labels.max() + 1 > max(max_speakers, 1):
        _merge_once(labels, emb, None)
    return labels


# ------------------------------------------------------------------ entry point
def cluster_embeddings(
    emb: np.ndarray,
    num_speakers: int | None = None,
    min_speakers: int = 1,
    max_speakers: int = 15,
    merge_thr: float = 0.78,
    seed: int | np.random.RandomState | None = 0,
    method: Method = "auto",
    noise: Literal["nearest", "keep"] = "nearest",
    eigensolver: Literal["auto", "dense", "sparse"] = "auto",
    min_chunks: int = MIN_CHUNKS,
) -> np.ndarray:
    """Speaker label (int64, 0-based) per row of ``emb`` (N, D), as FunASR's ``ClusterBackend``.

    ``num_speakers`` = FunASR's ``preset_spk_num`` (exact count, no merge). ``method="auto"``
    follows FunASR (spectral below 2048 chunks, else k-means with a count / UMAP+HDBSCAN
    without). ``eigensolver="auto"`` is dense (bit-exact) below 2048 chunks, sparse above.
    ``noise`` is what happens to HDBSCAN's −1 labels (see the module docstring)."""
    x = np.ascontiguousarray(np.asarray(emb, dtype=np.float32))
    if x.ndim != 2:
        raise ValueError(f"embeddings must be (N, D), got shape {x.shape}")
    n = x.shape[0]
    if not 1 <= min_speakers <= max_speakers:
        raise ValueError(f"need 1 <= min_speakers <= max_speakers, got {min_speakers}, {max_speakers}")
    if num_speakers is not None and not 1 <= num_speakers <= n:
        raise ValueError(f"num_speakers must be in 1..{n}, got {num_speakers}")
    if n < min_chunks:
        return np.zeros(n, dtype=np.int64)
    rs = _random_state(seed)
    if method == "auto":
        method = "spectral" if n < LARGE_N else ("kmeans" if num_speakers is not None else "umap_hdbscan")
    if method == "spectral":
        labels = spectral_cluster(x, num_speakers, min_speakers, min(max_speakers, n - 2), rs, eigensolver)
    elif method in ("kmeans", "umap_hdbscan") and num_speakers is not None:  # FunASR's KMeansCluster
        labels = _kmeans(_normalize_rows(x), num_speakers, _fixed_seed(seed), n_init=10)
    elif method == "umap_hdbscan":
        labels = umap_hdbscan(x, rs)
        if noise == "nearest":
            labels = assign_noise(labels, x)
        if labels.max() + 1 < min_speakers:
            labels = _kmeans(_normalize_rows(x), min_speakers, _fixed_seed(seed), n_init=10)
    elif method == "kmeans":
        raise ValueError('method="kmeans" needs num_speakers')
    else:
        raise ValueError(f"unknown method {method!r}")
    labels = np.asarray(labels, dtype=np.int64)
    if num_speakers is None and labels.max() >= 0:
        labels = merge_by_cos(labels, x, merge_thr, min_speakers, max_speakers)
    return labels
