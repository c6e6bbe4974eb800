"""Speed of the speaker-clustering paths on synthetic 192-d embeddings.

Usage: python bench/cluster_speed.py [--sizes 500 2000 5000 10000] [--speakers 6]
                                     [--dense-max 5000] [--threads N] [--json out.json]

For each N, K Gaussian speaker clusters (centres ~ N(0, I), per-chunk noise std 1.5 per dim) are
clustered with every path of ``funasr_lite.diar.cluster.cluster_embeddings``:

- ``spectral_dense``: FunASR's SpectralCluster (``scipy.linalg.eigh`` of the N×N Laplacian;
  FunASR's path below 2048 chunks), only up to ``--dense-max``;
- ``spectral_sparse``: the same affinity built block-wise as a sparse matrix + ARPACK ``eigsh``
  (funasr_lite's path for forced spectral clustering at large N);
- ``kmeans``: k-means on L2-normalised embeddings (FunASR 1.4.16 with a speaker count, N ≥ 2048);
- ``umap_hdbscan``: UMAP + HDBSCAN, seeded (FunASR's default path for N ≥ 2048). The first call
  includes numba's JIT compilation, reported separately as ``umap_warmup``.

Reports seconds, the speaker count found and the adjusted Rand index against the truth.
A 2-hour recording gives about 9,600 chunks (1.5 s windows, 0.75 s shift).
"""

from __future__ import annotations

import argparse
import json
import time
from contextlib import nullcontext

import numpy as np
from sklearn.metrics import adjusted_rand_score
from threadpoolctl import threadpool_limits

from funasr_lite.diar.cluster import cluster_embeddings


def synth(n: int, k: int, dim: int = 192, noise: float = 1.5, seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    """``n`` embeddings of ``k`` Gaussian speakers (float32) and the true labels."""
    rs = np.random.RandomState(seed)
    centres = rs.randn(k, dim)
    truth = rs.randint(0, k, n)
    return (centres[truth] + noise * rs.randn(n, dim)).astype(np.float32), truth


def timed(fn) -> tuple[float, np.ndarray]:
    t0 = time.perf_counter()
    out = fn()
    return time.perf_counter() - t0, out


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--sizes", type=int, nargs="+", default=[500, 2000, 5000, 10000])
    ap.add_argument("--speakers", type=int, default=6)
    ap.add_argument("--dense-max", type=int, default=5000, help="largest N for the dense eigensolver")
    ap.add_argument("--threads", type=int, default=None, help="BLAS/OpenMP threads (default: library default)")
    ap.add_argument(
        "--paths",
        nargs="+",
        default=None,
        help="subset of: spectral_dense spectral_sparse spectral_sparse_k kmeans_k umap_hdbscan",
    )
    ap.add_argument("--json", default=None)
    args = ap.parse_args()

    rows = []
    with threadpool_limits(args.threads) if args.threads else nullcontext():
        if args.paths is None or "umap_hdbscan" in args.paths:
            warm, _ = synth(300, 3, seed=99)
            t, _ = timed(lambda: cluster_embeddings(warm, method="umap_hdbscan", seed=0))
            rows.append({"n": 300, "path": "umap_warmup", "seconds": round(t, 2)})
            print(f"umap warm-up (numba JIT) on N=300: {t:.1f} s")
        print(f"{'N':>6} {'path':16s} {'seconds':>8} {'speakers':>8} {'ARI':>6}")
        for n in args.sizes:
            x, truth = synth(n, args.speakers, seed=n)
            paths = {
                "spectral_dense": lambda x=x: cluster_embeddings(x, method="spectral", eigensolver="dense"),
                "spectral_sparse": lambda x=x: cluster_embeddings(x, method="spectral", eigensolver="sparse"),
                "spectral_sparse_k": lambda x=x: cluster_embeddings(
                    x, args.speakers, method="spectral", eigensolver="sparse"
                ),
                "kmeans_k": lambda x=x: cluster_embeddings(x, args.speakers, method="kmeans"),
                "umap_hdbscan": lambda x=x: cluster_embeddings(x, method="umap_hdbscan", seed=0),
            }
            results = {}
            for name, fn in paths.items():
                if (name == "spectral_dense" and n > args.dense_max) or (args.paths and name not in args.paths):
                    continue
                t, labels = timed(fn)
                results[name] = labels
                row = {
                    "n": n,
                    "path": name,
                    "seconds": round(t, 3),
                    "speakers": len(np.unique(labels)),
                    "ari": round(float(adjusted_rand_score(truth, labels)), 4),
                }
                rows.append(row)
                print(f"{n:>6} {name:16s} {t:>8.2f} {row['speakers']:>8} {row['ari']:>6.3f}", flush=True)
            if "spectral_dense" in results and "spectral_sparse" in results:
                same = bool(np.array_equal(results["spectral_dense"], results["spectral_sparse"]))
                rows.append({"n": n, "path": "dense==sparse", "identical": same})
                print(f"{n:>6} dense and sparse labels identical: {same}")
    if args.json:
        with open(args.json, "w", encoding="utf-8") as f:
            json.dump(rows, f, indent=1)


if __name__ == "__main__":
    main()
