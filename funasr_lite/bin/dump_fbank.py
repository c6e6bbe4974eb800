"""Dump 80-dim fbank (FunASR ``WavFrontend.compute_fbank``: x32768, before LFR/CMVN, dither 0).

    python -m funasr_lite.bin.dump_fbank --wav_scp data/train/wav.scp --out_dir dump/train \\
        --frontend_conf conf/frontend_paraformer.yaml [--nj N] [--job J]

With ``--job J`` only job J of N runs: ``wav.scp`` is cut as ``utils/split_scp.py`` does into
``out_dir/split<N>/wav.J.scp`` and the features go to ``feats.J.ark``/``feats.J.scp`` (kaldiio
``WriteHelper``) plus ``utt2num_frames.J``. Without ``--job`` every unfinished job runs here,
one after the other, and then the per-job lists are merged into sorted ``feats.scp`` and
``utt2num_frames``. A job is finished when its ``feats.J.scp`` exists: it is written under a
temporary name and renamed last, so a rerun skips finished jobs (resume). In parallel::

    utils/run.pl JOB=1:4 dump/train/log/dump.JOB.log python -m funasr_lite.bin.dump_fbank \\
        --wav_scp data/train/wav.scp --out_dir dump/train --frontend_conf conf/f.yaml --nj 4 --job JOB
    python -m funasr_lite.bin.dump_fbank --wav_scp data/train/wav.scp --out_dir dump/train \\
        --frontend_conf conf/f.yaml --nj 4      # merges (nothing left to compute)

Bad or too-short audio items are reported and skipped; the exit code is then 1.
"""

from __future__ import annotations

import argparse
import logging
import os
import sys
from pathlib import Path

import kaldiio
import torch

from funasr_lite.data.kaldi_lists import read_scp, write_scp
from funasr_lite.errors import InputError, ModelError
from funasr_lite.frontend.audio import load_wav_scp
from funasr_lite.frontend.wav_frontend import WavFrontend
from funasr_lite.jobs import SplitError, split_list, write_chunk
from funasr_lite.yamlio import read_yaml

log = logging.getLogger("dump_fbank")


def load_frontend(conf_path: str) -> WavFrontend:
    """``WavFrontend`` from a frontend_conf YAML, dither forced to 0."""
    return WavFrontend.from_config(dict(read_yaml(conf_path), dither=0.0))


def split_job(wav_scp: str, out_dir: Path, nj: int, job: int) -> Path:
    """``out_dir/split<nj>/wav.<job>.scp``: chunk ``job`` (1-based) of ``wav_scp``."""
    if nj == 1:
        return Path(wav_scp)
    part = out_dir / f"split{nj}" / f"wav.{job}.scp"
    part.parent.mkdir(parents=True, exist_ok=True)
    tmp = part.with_name(part.name + f".tmp{os.getpid()}")
    try:
        write_chunk(str(tmp), split_list(wav_scp, nj)[job - 1])
    except SplitError as e:
        tmp.unlink(missing_ok=True)
        raise InputError(wav_scp, f"cannot split into {nj} jobs: {e}") from None
    os.replace(tmp, part)
    return part


def run_job(wav_scp: str, out_dir: Path, frontend: WavFrontend, nj: int, job: int) -> int:
    """Compute one job's features unless ``feats.<job>.scp`` exists; return the number of bad items."""
    scp = out_dir / f"feats.{job}.scp"
    if scp.exists():
        log.info("job %d/%d already done (%s), skipping", job, nj, scp)
        return 0
    part = split_job(wav_scp, out_dir, nj, job)
    ark = (out_dir / f"feats.{job}.ark").resolve()
    scp_tmp = out_dir / f".feats.{job}.scp.tmp"
    frames: list[tuple[str, str]] = []
    bad = 0
    with kaldiio.WriteHelper(f"ark,scp:{ark},{scp_tmp}") as writer:
        for key, result in load_wav_scp(part):
            if isinstance(result, InputError):
                log.error("skipping %s", result)
                bad += 1
                continue
            feats, counts = frontend.compute_fbank(torch.from_numpy(result.waveform)[None])
            n = int(counts[0])
            if n == 0:
                log.error("skipping %s: too short for one frame", key)
                bad += 1
                continue
            writer(key, feats[0, :n].numpy())
            frames.append((key, str(n)))
    write_scp(out_dir / f"utt2num_frames.{job}", frames)
    os.replace(scp_tmp, scp)  # last: marks the job finished
    log.info("job %d/%d: %d utterances -> %s (%d skipped)", job, nj, len(frames), scp, bad)
    return bad


def merge(out_dir: Path, nj: int) -> int:
    """Merge ``feats.J.scp``/``utt2num_frames.J`` into sorted ``feats.scp``/``utt2num_frames``."""
    feats: dict[str, str] = {}
    frames: dict[str, str] = {}
    for job in range(1, nj + 1):
        scp = out_dir / f"feats.{job}.scp"
        if not scp.exists():
            raise InputError(scp, f"missing: job {job} of {nj} has not finished")
        feats.update(read_scp(scp))
        frames.update(read_scp(out_dir / f"utt2num_frames.{job}"))
    write_scp(out_dir / "feats.scp", sorted(feats.items()))
    write_scp(out_dir / "utt2num_frames", sorted(frames.items()))
    return len(feats)


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--wav_scp", required=True, help="the audio list (Kaldi wav.scp)")
    p.add_argument("--out_dir", required=True, help="writes feats.scp and the ark files here")
    p.add_argument("--frontend_conf", required=True, help="YAML with FunASR frontend_conf keys")
    p.add_argument("--nj", type=int, default=1, help="number of jobs the list is split into")
    p.add_argument("--job", type=int, default=None, help="run only this job (1..nj); no merge")
    args = p.parse_args(argv)
    if args.nj < 1 or (args.job is not None and not 1 <= args.job <= args.nj):
        p.error(f"need --nj >= 1 and 1 <= --job <= --nj, got --nj {args.nj} --job {args.job}")
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(name)s %(levelname)s %(message)s")
    out = Path(args.out_dir)
    out.mkdir(parents=True, exist_ok=True)
    try:
        frontend = load_frontend(args.frontend_conf)
        jobs = [args.job] if args.job is not None else range(1, args.nj + 1)
        bad = sum(run_job(args.wav_scp, out, frontend, args.nj, j) for j in jobs)
        if args.job is None:
            n = merge(out, args.nj)
            log.info("%d utterances -> %s", n, out / "feats.scp")
    except (InputError, ModelError, OSError) as e:
        print(f"dump_fbank: error: {e}", file=sys.stderr)
        return 1
    if bad:
        log.error("%d items were skipped (listed above)", bad)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
