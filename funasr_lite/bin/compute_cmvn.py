"""Global CMVN statistics over a wav.scp with FunASR's frontend (``egs/TEMPLATE/asr/asr.sh`` stage 1).

    python -m funasr_lite.bin.compute_cmvn --wav_scp data/train/wav.scp \\
        --frontend_conf conf/frontend_paraformer.yaml --out_dir exp/cmvn

With ``--feats_scp dump/train/feats.scp`` (``bin/dump_fbank``'s output earlier in stage 1, the same fbank) the statistics are
read from the dumped features instead of recomputed from audio; ``--wav_scp`` is then optional.

Accumulates 80-dim fbank statistics (before LFR, dither 0) as FunASR's
``compute_audio_cmvn`` does, then writes ``am.mvn`` (tiled ``lfr_m`` times, Kaldi nnet1
text) and ``cmvn.json`` (``mean_stats``/``var_stats``/``total_frames``). Bad audio items
are reported and skipped; the exit code is then 1, but the statistics are still written.
"""

from __future__ import annotations

import argparse
import logging
import sys
from pathlib import Path

import numpy as np
import torch
from tqdm import tqdm

from funasr_lite.data.kaldi_lists import read_scp
from funasr_lite.errors import InputError, ModelError
from funasr_lite.frontend.audio import load_wav_scp
from funasr_lite.frontend.cmvn import CmvnStats, save_stats_json, write_am_mvn_from_stats
from funasr_lite.frontend.wav_frontend import WavFrontend
from funasr_lite.yamlio import read_yaml

log = logging.getLogger("compute_cmvn")


def compute_stats(wav_scp: str, frontend: WavFrontend, segments: str | None = None) -> tuple[CmvnStats, list[str]]:
    """Accumulate fbank statistics over every readable item; return them and the bad items."""
    stats, bad = CmvnStats(), []
    total = len(read_scp(segments or wav_scp))
    for key, result in tqdm(load_wav_scp(wav_scp, segments=segments), total=total, desc="cmvn"):
        if isinstance(result, InputError):
            log.error("skipping %s", result)
            bad.append(key)
            continue
        wave = torch.from_numpy(result.waveform)[None]
        feats, counts = frontend.compute_fbank(wave)
        if int(counts[0]) == 0:
            log.error("skipping %s: too short for one frame", key)
            bad.append(key)
            continue
        stats.accumulate(feats[0, : int(counts[0])])
    return stats, bad


def compute_stats_feats(feats_scp: str) -> tuple[CmvnStats, list[str]]:
    """Statistics from dumped fbank (kaldiio ``feats.scp``); unreadable or empty items are reported."""
    import kaldiio  # noqa: PLC0415

    stats, bad = CmvnStats(), []
    entries = read_scp(feats_scp)
    for key, source in tqdm(entries.items(), total=len(entries), desc="cmvn"):
        try:
            mat = kaldiio.load_mat(source)
        except Exception as e:  # noqa: BLE001  (kaldiio raises many kinds)
            log.error("skipping %s: cannot read %s: %s", key, source, e)
            bad.append(key)
            continue
        if mat.ndim != 2 or mat.shape[0] == 0:
            log.error("skipping %s: no frames", key)
            bad.append(key)
            continue
        stats.accumulate(torch.from_numpy(np.array(mat)))
    return stats, bad


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--wav_scp", default=None, help="audio list to compute fbank from (or --feats_scp)")
    p.add_argument("--feats_scp", default=None, help="dumped fbank (stage 1) to read instead of computing from audio")
    p.add_argument("--segments", default=None, help="Kaldi segments file: statistics over the segments of --wav_scp")
    p.add_argument(
        "--frontend_conf", required=True, help="YAML with FunASR frontend_conf keys (fs, window, n_mels, lfr_m, ...)"
    )
    p.add_argument("--out_dir", required=True, help="writes am.mvn (FunASR's format) and cmvn.json here")
    args = p.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(name)s %(levelname)s %(message)s")
    try:
        conf = read_yaml(args.frontend_conf)
    except ModelError as e:
        print(f"error: {e}", file=sys.stderr)
        return 1
    conf = dict(conf, dither=0.0)  # statistics are taken without dither noise
    frontend = WavFrontend.from_config(conf)
    if not args.wav_scp and not args.feats_scp:
        p.error("give --wav_scp or --feats_scp")
    try:
        if args.feats_scp:
            stats, bad = compute_stats_feats(args.feats_scp)
        else:
            stats, bad = compute_stats(args.wav_scp, frontend, args.segments)
    except InputError as e:
        print(f"error: {e}", file=sys.stderr)
        return 1
    if stats.total_frames == 0:
        print(f"error: {args.feats_scp or args.wav_scp}: no usable audio, no statistics written", file=sys.stderr)
        return 1
    out = Path(args.out_dir)
    out.mkdir(parents=True, exist_ok=True)
    lfr_m = int(conf.get("lfr_m", 1))
    write_am_mvn_from_stats(stats, out / "am.mvn", lfr_m=lfr_m)
    save_stats_json(stats, out / "cmvn.json")
    log.info(
        "%d frames -> %s (dim %d x lfr_m %d) and %s",
        stats.total_frames,
        out / "am.mvn",
        len(stats.mean_stats),
        lfr_m,
        out / "cmvn.json",
    )
    if bad:
        log.error("%d items were skipped (listed above)", len(bad))
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
