"""The data side of a Paraformer run: featurizer, training batches (bucketed, per rank) and the dev set."""

from __future__ import annotations

import logging
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import torch
from torch.utils.data import DataLoader

from funasr_lite.frontend.cmvn import load_cmvn
from funasr_lite.frontend.wav_frontend import WavFrontend
from funasr_lite.train.asr.data import AsrDataset, Featurizer, PreloadedDataset, load_utterances, make_loader
from funasr_lite.train.asr.sampler import BucketBatchSampler
from funasr_lite.train.asr.specaug import SpecAugLFR
from funasr_lite.train.core.distributed import DistInfo

if TYPE_CHECKING:
    from funasr_lite.train.asr.trainer import TrainInputs

log = logging.getLogger("train")


@dataclass
class Loaders:
    """What the trainer iterates: ``loader`` over ``sampler``'s batches, ``dev`` (rank 0 only, else None)."""

    featurizer: Featurizer
    sampler: BucketBatchSampler
    loader: DataLoader
    dev: DataLoader | None


def make_dataset(
    data: str,
    feats: str | None,
    tokens: list[str],
    frontend: WavFrontend,
    conf: dict[str, Any],
    device: torch.device,
    progress: bool,
    dither: float,
    seed: int,
) -> tuple[Any, list[int]]:
    """The dataset of a Kaldi data dir (fbank cached on ``device`` when ``conf['preload']`` says so)
    and its utterance lengths; skipped utterances are logged, none usable is a ``ValueError``."""
    utts, problems = load_utterances(data, tokens, feats, frontend)
    for p in problems:
        log.warning("skipped: %s", p)
    if problems:
        log.warning("%s: %d utterance(s) skipped (listed above)", data, len(problems))
    if not utts:
        raise ValueError(f"{data}: no usable utterances")
    ds: Any = AsrDataset(utts, frontend, dither=dither, seed=seed)
    preload = conf["preload"]
    if preload == "device" or (preload == "auto" and device.type == "cuda"):
        ds = PreloadedDataset(ds, device, progress=progress)
    return ds, [u.num_frames for u in utts]


def build_loaders(conf: dict[str, Any], inputs: TrainInputs, info: DistInfo, seed: int) -> Loaders:
    """Features (frontend, CMVN, SpecAug), the bucketed training batches of this rank and rank 0's dev set."""
    dc = conf["dataset_conf"]
    fe_conf = {k: v for k, v in (conf.get("frontend_conf") or {}).items() if k != "cmvn_file"}
    frontend = WavFrontend.from_config(dict(fe_conf, dither=0.0))
    specaug = SpecAugLFR(**conf["specaug_conf"]) if conf.get("specaug") else None
    featurizer = Featurizer(frontend.lfr_m, frontend.lfr_n, load_cmvn(inputs.cmvn_file), specaug)
    train_ds, lengths = make_dataset(
        inputs.train_data,
        inputs.train_feats,
        inputs.token_list,
        frontend,
        dc,
        info.device,
        info.is_main,
        float(dc["dither"]),
        seed,
    )
    try:
        sampler = BucketBatchSampler(
            lengths,
            dc["batch_size"],
            dc["max_token_length"],
            dc["shuffle"],
            seed,
            info.rank,
            info.world_size,
            **({"bucket_size": dc["bucket_size"]} if dc["bucket_size"] else {}),
            max_batch_size=dc["max_batch_size"] or None,
        )
    except ValueError as e:  # e.g. every utterance longer than the batch budget: name the data
        raise ValueError(f"{inputs.train_data}: {e}") from None
    if sampler.num_dropped:
        log.warning("%d training utterances exceed max_token_length/batch_size and are not used", sampler.num_dropped)
    loader = make_loader(train_ds, sampler, dc["num_workers"], info.device.type == "cuda")
    dev = None
    if inputs.dev_data and info.is_main:
        dev_ds, dev_len = make_dataset(
            inputs.dev_data, inputs.dev_feats, inputs.token_list, frontend, dc, info.device, info.is_main, 0.0, seed
        )
        dev_sampler = BucketBatchSampler(dev_len, dc["batch_size"], None, False, seed)
        dev = make_loader(dev_ds, dev_sampler, 0 if isinstance(dev_ds, PreloadedDataset) else 1, False)
    return Loaders(featurizer, sampler, loader, dev)
